/* sc_split: parts by cell and by dataset, fractions, split files. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_split.h"
#include "unit.h"

/* A new temporary file named from the template PATH, open for writing. */
static FILE *tmp_file(char *path)
{
    int fd = mkstemp(path);
    FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
    CHECK(fp != NULL);
    return fp;
}

static void test_parse(void)
{
    double f[3];
    CHECK_INTEQ(sc_split_parse_part("val"), SC_SPLIT_VAL);
    CHECK_INTEQ(sc_split_parse_part("validation"), SC_SPLIT_VAL);
    CHECK_INTEQ(sc_split_parse_part("nope"), SC_EINVAL);
    CHECK_INTEQ(sc_split_parse_fractions("0.7,0.2,0.1", f), 0);
    CHECK(f[0] == 0.7 && f[1] == 0.2 && f[2] == 0.1);
    CHECK_INTEQ(sc_split_parse_fractions("0.5,0.25", f), 0);
    CHECK(f[2] == 0.25);
    CHECK_INTEQ(sc_split_parse_fractions("0.9,0.9", f), SC_EINVAL);
    CHECK_INTEQ(sc_split_parse_fractions("0.5,0.2,0.2", f), SC_EINVAL);
    CHECK_INTEQ(sc_split_parse_fractions("0.5,,0.5", f), SC_EINVAL);
    CHECK_INTEQ(sc_split_parse_fractions("x,0.5", f), SC_EINVAL);
    CHECK_STREQ(sc_split_key("/a/b/c.h5ad"), "c.h5ad");
    CHECK_STREQ(sc_split_key("c.h5ad"), "c.h5ad");
}

/* By cell: the fractions hold, and the part is a function of (seed, key,
 * row) only. */
static void test_by_cell(void)
{
    sc_split_opts o;
    sc_split *a = NULL, *b = NULL;
    const char *k1[] = {"x.h5ad"}, *k2[] = {"y.h5ad", "x.h5ad"};
    uint64_t c1[] = {100000}, c2[] = {5, 100000}, h1, h2;
    long n[4] = {0};
    sc_split_opts_init(&o);
    o.seed = 3;
    CHECK_INTEQ(sc_split_plan(&o, k1, c1, 1, &a), 0);
    CHECK_INTEQ(sc_split_plan(&o, k2, c2, 2, &b), 0);
    CHECK_INTEQ(sc_split_find(a, "x.h5ad", &h1), 0);
    CHECK_INTEQ(sc_split_find(b, "x.h5ad", &h2), 0);
    int same = 1;
    for (uint64_t r = 0; r < 100000; r++) {
        int p = sc_split_part(a, h1, r);
        n[p]++;
        same &= p == sc_split_part(b, h2, r);
    }
    CHECK(same);
    CHECK(n[1] > 79000 && n[1] < 81000);
    CHECK(n[2] > 9500 && n[2] < 10500 && n[3] > 9500 && n[3] < 10500);
    sc_split_free(a);
    sc_split_free(b);
}

/* By dataset: whole datasets, test and val near their fractions; a file
 * written and read back gives the same parts. */
static void test_by_dataset_file(void)
{
    sc_split_opts o;
    sc_split *a = NULL, *f = NULL;
    const char *keys[20];
    char names[20][16];
    uint64_t cells[20], counts[3] = {0, 0, 0}, h, g;
    char path[] = "/tmp/test_stream_split.XXXXXX";
    FILE *fp = tmp_file(path);
    if (!fp)
        return;
    sc_split_opts_init(&o);
    o.by = SC_SPLIT_BY_DATASET;
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof names[i], "d%02d.h5ad", i);
        keys[i] = names[i];
        cells[i] = 100;
    }
    CHECK_INTEQ(sc_split_plan(&o, keys, cells, 20, &a), 0);
    CHECK_INTEQ(sc_split_write_head(a, fp), 0);
    for (int i = 0; i < 20; i++)
        CHECK_INTEQ(sc_split_write_dataset(a, fp, keys[i], NULL, 100, counts),
                    0);
    fclose(fp);
    CHECK(counts[0] == 1600 && counts[1] == 200 && counts[2] == 200);
    CHECK_INTEQ(sc_split_read(path, &f), 0);
    for (int i = 0; f && i < 20; i++) {
        CHECK_INTEQ(sc_split_find(a, keys[i], &h), 0);
        CHECK_INTEQ(sc_split_find(f, keys[i], &g), 0);
        CHECK_INTEQ(sc_split_part(a, h, 7), sc_split_part(f, g, 99));
    }
    CHECK(f && sc_split_find(f, "other.h5ad", &g) == SC_ENOTFOUND);
    CHECK(sc_split_get_opts(f)->by == SC_SPLIT_BY_DATASET);
    const char *dup[] = {"a/x.h5ad", "x.h5ad"};
    sc_split *d = NULL;
    const char *dk[] = {sc_split_key(dup[0]), sc_split_key(dup[1])};
    CHECK_INTEQ(sc_split_plan(&o, dk, cells, 2, &d), SC_EINVAL);
    sc_split_free(a);
    sc_split_free(f);
    unlink(path);
}

/* By cell, through a file: the listed rows come back. */
static void test_cell_file(void)
{
    sc_split_opts o;
    sc_split *a = NULL, *f = NULL;
    const char *k[] = {"x.h5ad"};
    uint64_t c[] = {5000}, counts[3] = {0, 0, 0}, h, g;
    int64_t rows[2500];
    char path[] = "/tmp/test_stream_split.XXXXXX";
    FILE *fp = tmp_file(path);
    if (!fp)
        return;
    for (int i = 0; i < 2500; i++)
        rows[i] = 2 * i; /* a pack's rows: some of the dataset's */
    sc_split_opts_init(&o);
    o.seed = 11;
    CHECK_INTEQ(sc_split_plan(&o, k, c, 1, &a), 0);
    CHECK_INTEQ(sc_split_write_head(a, fp), 0);
    CHECK_INTEQ(sc_split_write_dataset(a, fp, "x.h5ad", rows, 2500, counts), 0);
    fclose(fp);
    CHECK(counts[0] + counts[1] + counts[2] == 2500);
    CHECK_INTEQ(sc_split_read(path, &f), 0);
    CHECK_INTEQ(sc_split_find(a, "x.h5ad", &h), 0);
    CHECK(f && sc_split_find(f, "x.h5ad", &g) == 0);
    int same = 1;
    for (int i = 0; f && i < 2500; i++)
        same &= sc_split_part(a, h, (uint64_t)rows[i]) ==
                sc_split_part(f, g, (uint64_t)rows[i]);
    CHECK(same);
    sc_split_free(a);
    sc_split_free(f);
    /* damaged files: one line naming the file and line */
    fp = fopen(path, "w");
    fputs("#sc-split\t1\nx.h5ad\tval\t5-3\n", fp);
    fclose(fp);
    CHECK_INTEQ(sc_split_read(path, &f), SC_EFORMAT);
    fp = fopen(path, "w");
    fputs("#sc-split\t1\nx.h5ad\tval\t3\n", fp);
    fclose(fp);
    CHECK_INTEQ(sc_split_read(path, &f), SC_EFORMAT); /* no '*' line */
    fp = fopen(path, "w");
    fputs("hello\n", fp);
    fclose(fp);
    CHECK_INTEQ(sc_split_read(path, &f), SC_EFORMAT);
    CHECK(f == NULL);
    unlink(path);
}

int main(void)
{
    RUN(test_parse);
    RUN(test_by_cell);
    RUN(test_by_dataset_file);
    RUN(test_cell_file);
    return UNIT_DONE();
}
