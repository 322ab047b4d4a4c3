/* The stream index's var lists (issue 22): datasets with the same gene list
 * share one interned list, loaded from the cache once per distinct list;
 * lists that differ in a gene or its place never share, and a cache entry
 * whose stored list is not what its digest says is rebuilt. */
/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_io.h"
#include "sc_stream_int.h"
#include "unit.h"

/* An index of no rows with the N genes NAMES, interned. */
static ss_meta *meta_of(const char *const *names, int64_t n)
{
    ss_meta *m = calloc(1, sizeof *m);
    CHECK(m != NULL);
    if (!m)
        return NULL;
    m->var = calloc((size_t)n + 1, sizeof *m->var);
    CHECK(m->var != NULL);
    for (int64_t i = 0; m->var && i < n; i++) {
        m->var[i] = strdup(names[i]);
        m->n_vars = i + 1;
    }
    CHECK_INTEQ(ss_meta_intern(m), 0);
    return m;
}

static void test_intern(void)
{
    static const char *const a[] = {"ACTB", "GAPDH", "CD3E"};
    static const char *const one[] = {"ACTB", "GAPDH", "CD4"};
    static const char *const order[] = {"GAPDH", "ACTB", "CD3E"};
    static const char *const prefix[] = {"ACTB", "GAPDH"};
    static const char *const cut1[] = {"ab", "c"};
    static const char *const cut2[] = {"a", "bc"};
    ss_meta *m1 = meta_of(a, 3), *m2 = meta_of(a, 3), *m3 = meta_of(one, 3),
            *m4 = meta_of(order, 3), *m5 = meta_of(prefix, 2),
            *m6 = meta_of(cut1, 2), *m7 = meta_of(cut2, 2);
    if (!m1 || !m2 || !m3 || !m4 || !m5 || !m6 || !m7)
        goto out;
    /* the same list: one array */
    CHECK(m1->var == m2->var);
    CHECK(m1->vl == m2->vl);
    /* one gene, the order, the length, the cut between names differ */
    CHECK(m3->var != m1->var);
    CHECK(m4->var != m1->var);
    CHECK(m5->var != m1->var);
    CHECK(m6->var != m7->var);
    CHECK(!strcmp(m3->var[2], "CD4") && !strcmp(m1->var[2], "CD3E"));
    CHECK(!strcmp(m4->var[0], "GAPDH") && !strcmp(m1->var[0], "ACTB"));
    CHECK(!strcmp(m6->var[0], "ab") && !strcmp(m7->var[0], "a"));
    /* a name is kept once across lists */
    CHECK(m3->var[0] == m1->var[0]);
    CHECK(m4->var[1] == m1->var[0]);
out:
    ss_meta_free(m1);
    ss_meta_free(m2);
    ss_meta_free(m3);
    ss_meta_free(m4);
    ss_meta_free(m5);
    ss_meta_free(m6);
    ss_meta_free(m7);
}

/* Many distinct lists (found by their digest, issue 22): each list is
 * shared by its equals only, also when the lists differ only in the order
 * of their names, and lists released in any order leave the others
 * intact and findable. */
static void test_intern_many(void)
{
    enum { N = 3000 };
    static ss_meta *fw[N], *bw[N], *again[N];
    char a[32], b[32];
    for (int i = 0; i < N; i++) {
        snprintf(a, sizeof a, "G%d", i);
        snprintf(b, sizeof b, "G%d", (i + 1) % N);
        const char *const f[] = {a, b}, *const r[] = {b, a};
        fw[i] = meta_of(f, 2);
        bw[i] = meta_of(r, 2);
        again[i] = meta_of(f, 2);
    }
    for (int i = 0; i < N; i++) {
        if (!fw[i] || !bw[i] || !again[i])
            continue;
        CHECK(fw[i]->vl == again[i]->vl);
        CHECK(fw[i]->vl != bw[i]->vl);
        /* bw[i] is {G(i+1), Gi}: not the list {G(i+1), G(i+2)} */
        CHECK(bw[i]->vl != fw[(i + 1) % N]->vl);
    }
    for (int i = 0; i < N; i += 2) { /* release every other list */
        ss_meta_free(fw[i]);
        ss_meta_free(again[i]);
        fw[i] = again[i] = NULL;
    }
    for (int i = 0; i < N; i++) {
        snprintf(a, sizeof a, "G%d", i);
        snprintf(b, sizeof b, "G%d", (i + 1) % N);
        const char *const f[] = {a, b};
        ss_meta *m = meta_of(f, 2);
        if (m && i % 2)
            CHECK(m->vl == fw[i]->vl);
        if (m && i % 2 == 0)
            CHECK(m->vl != bw[i]->vl && !strcmp(m->var[0], a) &&
                  !strcmp(m->var[1], b));
        ss_meta_free(m);
    }
    for (int i = 0; i < N; i++) {
        ss_meta_free(fw[i]);
        ss_meta_free(bw[i]);
        ss_meta_free(again[i]);
    }
}

/* FROM copied to TO: 0 or -1. */
static int copy_file(const char *from, const char *to)
{
    char *data = NULL;
    size_t n = 0;
    FILE *fp = NULL;
    int ok = sc_io_read_file(from, &data, &n) == 0 && (fp = fopen(to, "wb")) &&
             fwrite(data, 1, n, fp) == n;
    if (fp && fclose(fp) != 0)
        ok = 0;
    free(data);
    return ok ? 0 : -1;
}

/* Flip the byte AT bytes from the end (AT > 0) or from the start of FILE. */
static int flip_byte(const char *file, long at)
{
    FILE *fp = fopen(file, "r+b");
    int c, ok = fp && fseek(fp, at, at < 0 ? SEEK_END : SEEK_SET) == 0 &&
                (c = fgetc(fp)) != EOF &&
                fseek(fp, at, at < 0 ? SEEK_END : SEEK_SET) == 0 &&
                fputc(c ^ 0x20, fp) != EOF;
    if (fp && fclose(fp) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

static ss_meta *load(const char *path, const char *cache, int want_hit)
{
    ss_meta *m = NULL;
    int hit = -1;
    CHECK_INTEQ(ss_meta_load(path, "X", cache, NULL, 0, &m, &hit), 0);
    CHECK_INTEQ(hit, want_hit);
    CHECK(m != NULL);
    return m;
}

/* Same names in the same order. */
static int same_var(const ss_meta *a, const ss_meta *b)
{
    if (a->n_vars != b->n_vars)
        return 0;
    for (int64_t i = 0; i < a->n_vars; i++)
        if (strcmp(a->var[i], b->var[i]))
            return 0;
    return 1;
}

/* Two copies of a file share their list, from the file and from the cache
 * (entries beside the datasets); another file's list is its own; a file
 * whose stamp changed is indexed again; an entry whose stored list was
 * altered is rebuilt, not matched to the list its digest names. */
static void test_cache(void)
{
    char dir[] = "/tmp/sc-unit-index-XXXXXX", src[1024], other[1024];
    char a[64], b[64], c[64], eb[80];
    ss_meta *ma = NULL, *mb = NULL, *mc = NULL, *ref = NULL;

    snprintf(src, sizeof src, "%s/h5ad/anndataR_example.h5ad", unit_data_dir());
    snprintf(other, sizeof other, "%s/h5ad/scanpy_pbmc68k_reduced_2025.h5ad",
             unit_data_dir());
    CHECK(mkdtemp(dir) != NULL);
    snprintf(a, sizeof a, "%s/a.h5ad", dir);
    snprintf(b, sizeof b, "%s/b.h5ad", dir);
    snprintf(c, sizeof c, "%s/c.h5ad", dir);
    snprintf(eb, sizeof eb, "%s.scidx", b);
    CHECK_INTEQ(copy_file(src, a), 0);
    CHECK_INTEQ(copy_file(src, b), 0);
    CHECK_INTEQ(copy_file(other, c), 0);
    /* from the files: entries written */
    ma = load(a, "", 0);
    mb = load(b, "", 0);
    mc = load(c, "", 0);
    ref = load(a, NULL, 0);
    if (!ma || !mb || !mc || !ref)
        goto out;
    CHECK(ma->n_vars > 10);
    CHECK(ma->var == mb->var);
    CHECK(mc->var != ma->var);
    CHECK(ref->var == ma->var);
    ss_meta_free(ma);
    ss_meta_free(mb);
    ss_meta_free(mc);
    ma = mb = mc = NULL;
    /* from the cache, the list of a again with its names */
    ma = load(a, "", 1);
    mb = load(b, "", 1);
    mc = load(c, "", 1);
    if (!ma || !mb || !mc)
        goto out;
    CHECK(ma->var == mb->var);
    CHECK(ma->var == ref->var);
    CHECK(mc->var != ma->var);
    CHECK(!same_var(mc, ma));
    ss_meta_free(ref);
    ref = NULL;
    /* the first list read from the cache with no list interned */
    ss_meta_free(ma);
    ss_meta_free(mb);
    ss_meta_free(mc);
    ma = mb = mc = NULL;
    mb = load(b, "", 1);
    ref = load(b, NULL, 0);
    if (!mb || !ref)
        goto out;
    CHECK(mb->var == ref->var);
    ss_meta_free(ref);
    ref = NULL;
    /* a changed stamp: indexed again, then from the cache */
    struct timespec t[2] = {{0, UTIME_OMIT}, {12345, 0}};
    CHECK_INTEQ(utimensat(AT_FDCWD, a, t, 0), 0);
    ma = load(a, "", 0);
    ss_meta_free(ma);
    ma = load(a, "", 1);
    if (!ma)
        goto out;
    CHECK(ma->var == mb->var);
    ss_meta_free(mb);
    mb = NULL;
    /* b's stored list altered (a letter of its last name): its digest is
     * that of a's list, interned, but the bytes differ: rebuilt */
    CHECK_INTEQ(flip_byte(eb, -1), 0);
    mb = load(b, "", 0);
    if (!mb)
        goto out;
    CHECK(mb->var == ma->var);
    ss_meta_free(mb);
    mb = load(b, "", 1);
    ss_meta_free(mb);
    mb = NULL;
    /* the same with no list interned: the digest does not match */
    ss_meta_free(ma);
    ma = NULL;
    CHECK_INTEQ(flip_byte(eb, -1), 0);
    mb = load(b, "", 0);
    ref = load(b, NULL, 0);
    if (mb && ref)
        CHECK(mb->var == ref->var);
    ss_meta_free(mb);
    mb = NULL;
    /* the digest altered: the CRC of the head fails, rebuilt */
    ss_meta_free(ref);
    ref = NULL;
    struct stat st;
    CHECK_INTEQ(stat(eb, &st), 0);
    ref = load(b, "", 1);
    if (ref) {
        long blob = 0;
        for (int64_t i = 0; i < ref->n_vars; i++)
            blob += 4 + (long)strlen(ref->var[i]);
        /* the digest's last hex digit: before the length and the CRC */
        CHECK_INTEQ(flip_byte(eb, -(blob + 8 + 4 + 1)), 0);
        mb = load(b, "", 0);
        CHECK(mb && mb->var == ref->var);
    }
out:
    ss_meta_free(ma);
    ss_meta_free(mb);
    ss_meta_free(mc);
    ss_meta_free(ref);
    for (const char *f = "abc"; *f; f++) { /* the entries, the files */
        snprintf(eb, sizeof eb, "%s/%c.h5ad.scidx", dir, *f);
        remove(eb);
        eb[strlen(eb) - strlen(".scidx")] = '\0';
        remove(eb);
    }
    rmdir(dir);
}

/* A reader layout (skeleton) saved in an index cache entry: it reads the
 * rows the file holds; cut short anywhere it is refused; with any byte
 * changed it is refused or, when the change is still a valid layout,
 * reads without going out of its buffers (run under ASan). */
static void test_layout(void)
{
    char path[1024];
    ss_meta *m = NULL;
    ss_raw *k = NULL, *r = NULL;
    unsigned char *lay = NULL, *lay2 = NULL, *bad = NULL;
    size_t n = 0, n2 = 0;
    ss_rows rows = {0}, ref = {0};

    snprintf(path, sizeof path, "%s/h5ad/anndataR_example.h5ad",
             unit_data_dir());
    m = load(path, NULL, 0);
    if (!m)
        return;
    CHECK(m->skel != NULL); /* made at index time */
    if (!m->skel)
        goto out;
    CHECK_INTEQ(ss_raw_layout_save(m->skel, &lay, &n), 0);
    CHECK_INTEQ(ss_raw_layout_load(lay, n, path, &k), 0);
    if (!k)
        goto out;
    CHECK_INTEQ(ss_raw_layout_save(k, &lay2, &n2), 0);
    CHECK(n2 == n && lay2 && !memcmp(lay, lay2, n));
    CHECK_INTEQ(ss_raw_reopen(k, path, &r), 0);
    CHECK_INTEQ(ss_raw_read(r, 0, m->n_obs, &ref), 0);
    ss_raw_close(r);
    r = NULL;
    ss_raw_close(k);
    k = NULL;
    for (size_t cut = 0; cut < n; cut++) {
        CHECK(ss_raw_layout_load(lay, cut, path, &k) < 0);
        CHECK(k == NULL);
    }
    CHECK((bad = malloc(n)) != NULL);
    size_t step = n > 4096 ? n / 4096 : 1, n_ok = 0;
    for (size_t i = 0; bad && i < n; i += step) {
        for (int f = 0; f < 2; f++) {
            memcpy(bad, lay, n);
            bad[i] ^= f ? 0x80 : 0x01;
            if (ss_raw_layout_load(bad, n, path, &k) < 0) {
                CHECK(k == NULL);
                sc_err_clear();
                continue;
            }
            n_ok++;
            if (ss_raw_reopen(k, path, &r) == 0)
                (void)!ss_raw_read(r, 0, m->n_obs, &rows);
            sc_err_clear();
            ss_raw_close(r);
            ss_raw_close(k);
            r = k = NULL;
        }
    }
    CHECK(n_ok < 2 * n); /* some changes are refused */
out:
    ss_rows_release(&rows);
    ss_rows_release(&ref);
    free(lay);
    free(lay2);
    free(bad);
    ss_raw_close(k);
    ss_meta_free(m);
}

int main(void)
{
    RUN(test_intern);
    RUN(test_intern_many);
    RUN(test_cache);
    RUN(test_layout);
    return UNIT_DONE();
}
