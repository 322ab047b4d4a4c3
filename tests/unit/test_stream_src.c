/* ss_src: a file the raw reader handles is read through its fd alone (the
 * HDF5 handle closed at open), and gives the rows of a read through HDF5. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <dirent.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_stream_int.h"
#include "unit.h"

/* Rows [R0, R1) of R as a copy in B (indptr, indices, values). */
static void read_rows(ss_raw *r, int64_t r0, int64_t r1, ss_rows *b)
{
    CHECK(r != NULL);
    if (r)
        CHECK_INTEQ(ss_raw_read(r, r0, r1, b), 0);
}

static int same_rows(const ss_rows *a, const ss_rows *b)
{
    int64_t n = a->indptr[a->n_rows];
    return a->n_rows == b->n_rows && a->n_cols == b->n_cols &&
           !memcmp(a->indptr, b->indptr, (size_t)(a->n_rows + 1) * 8) &&
           n == b->indptr[b->n_rows] &&
           !memcmp(a->indices, b->indices, (size_t)n * 4) &&
           !memcmp(a->vals, b->vals, (size_t)n * 4);
}

/* FILE (under tests/data/h5ad) of N rows: detached and kept readers agree,
 * whole and in two pieces read by the reader and a second reader. */
static void check_file(const char *file, int64_t n)
{
    char path[1024];
    ss_src *kept = NULL, *det = NULL;
    ss_rows a = {0}, b = {0}, c = {0};

    snprintf(path, sizeof path, "%s/h5ad/%s", unit_data_dir(), file);
    setenv("SC_STREAM_KEEP_H5", "1", 1);
    CHECK_INTEQ(ss_src_open(path, "X", &kept), 0);
    unsetenv("SC_STREAM_KEEP_H5");
    CHECK_INTEQ(ss_src_open(path, "X", &det), 0);
    if (!kept || !det)
        goto out;
    /* the kept source still has its HDF5 matrix, the detached one not */
    CHECK(ss_src_mat(kept) != NULL);
    CHECK(ss_src_mat(det) == NULL);
    CHECK(ss_raw_threadsafe(ss_src_raw(det)));
    read_rows(ss_src_raw(kept), 0, n, &a);
    read_rows(ss_src_raw(det), 0, n, &b);
    CHECK(same_rows(&a, &b));
    CHECK_INTEQ(a.n_rows, n);
    /* a second reader made without HDF5, from the middle of the file */
    read_rows(ss_src_raw_part(kept, 1), n / 2, n, &a);
    read_rows(ss_src_raw_part(det, 1), n / 2, n, &b);
    read_rows(ss_src_raw_part(det, 2), n / 2, n, &c);
    CHECK(same_rows(&a, &b));
    CHECK(same_rows(&a, &c));
    /* the first reader again, after the others read */
    read_rows(ss_src_raw(kept), 1, 2, &a);
    read_rows(ss_src_raw(det), 1, 2, &b);
    CHECK(same_rows(&a, &b));
out:
    ss_rows_release(&a);
    ss_rows_release(&b);
    ss_rows_release(&c);
    ss_src_close(kept);
    ss_src_close(det);
}

/* gzip chunks (the chunk table is copied to the second reader) */
static void test_gzip(void)
{
    check_file("anndataR_example.h5ad", 50);
}

/* chunks without a filter, 64-bit indices */
static void test_plain(void)
{
    check_file("cellxgene_schema_example_valid.h5ad", 2);
}

/* Copy the file FROM to TO. */
static int copy_file(const char *from, const char *to)
{
    FILE *a = fopen(from, "rb"), *b = fopen(to, "wb");
    char buf[65536];
    size_t k;
    int ok = a && b;
    while (ok && (k = fread(buf, 1, sizeof buf, a)) > 0)
        ok = fwrite(buf, 1, k, b) == k;
    if (a)
        fclose(a);
    if (b && fclose(b) != 0)
        ok = 0;
    return ok ? 0 : -1;
}

/* A skeleton (the tables of a detached reader, no descriptor) opens the
 * file again without HDF5: the rows are those of the first reader, from a
 * reopened reader, its clone and a reopened source, after the first
 * source is closed; once the file's modification time changed it is
 * refused (SC_EUNSUP), and a missing file is an error. */
static void test_skeleton(void)
{
    char src[1024], dir[] = "/tmp/sc-unit-skel-XXXXXX", path[64];
    ss_src *det = NULL, *re = NULL;
    ss_raw *skel = NULL, *r = NULL, *c = NULL, *x = NULL;
    ss_rows a = {0}, b = {0};

    snprintf(src, sizeof src, "%s/h5ad/anndataR_example.h5ad", unit_data_dir());
    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/f.h5ad", dir);
    CHECK_INTEQ(copy_file(src, path), 0);
    CHECK_INTEQ(ss_src_open(path, "X", &det), 0);
    if (!det)
        goto out;
    read_rows(ss_src_raw(det), 0, 50, &a);
    CHECK_INTEQ(ss_raw_skeleton(ss_src_raw(det), &skel), 0);
    ss_src_close(det);
    if (!skel)
        goto out;
    CHECK(ss_raw_table_bytes(skel) >= 51 * sizeof(int64_t));
    CHECK_INTEQ(ss_raw_reopen(skel, path, &r), 0);
    if (!r)
        goto out;
    read_rows(r, 0, 50, &b);
    CHECK(same_rows(&a, &b));
    /* no skeleton of a reader that borrows its tables */
    CHECK_INTEQ(ss_raw_skeleton(r, &x), SC_EUNSUP);
    CHECK_INTEQ(ss_raw_clone(r, &c), 0);
    read_rows(r, 10, 50, &a);
    read_rows(c, 10, 50, &b);
    CHECK(same_rows(&a, &b));
    CHECK_INTEQ(ss_src_reopen(skel, path, &re), 0);
    if (re)
        read_rows(ss_src_raw(re), 10, 50, &b);
    CHECK(same_rows(&a, &b));
    ss_src_close(re);
    re = NULL;
    /* the file changed since its tables were read */
    struct timespec t[2] = {{0, UTIME_OMIT}, {12345, 0}};
    CHECK_INTEQ(utimensat(AT_FDCWD, path, t, 0), 0);
    CHECK_INTEQ(ss_src_reopen(skel, path, &re), SC_EUNSUP);
    CHECK(re == NULL);
    remove(path);
    CHECK(ss_raw_reopen(skel, path, &x) < 0 && x == NULL);
    sc_err_clear();
out:
    ss_src_close(re);
    ss_raw_close(c);
    ss_raw_close(r);
    ss_raw_close(skel);
    ss_rows_release(&a);
    ss_rows_release(&b);
    remove(path);
    rmdir(dir);
}

/* Descriptors this process has open. */
static int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;
    if (!d)
        return -1;
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n - 1; /* the directory's own */
}

/* FNV-1a of the N bytes at P, continuing from H. */
static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *c = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ c[i]) * 1099511628211ULL;
    return h;
}

/* An epoch over more files than open-file slots (6 copies of a gzip h5ad,
 * --max-open 2, buffers of a few blocks that touch several files): each
 * file is read through HDF5 once in the stream, then opened again from
 * its skeleton without HDF5, at most once per buffer fill, with 1 thread
 * (serial fill, the slots thrash across fills) and 2 (the workers open
 * their own files, one at a time each). The batches are those of a stream
 * that keeps every file open, and the descriptors open while batches are
 * taken stay within the slots (a descriptor per thread each) and one file
 * per thread. */
static void test_open_plan(void)
{
    enum { NF = 6 };
    char dir[] = "/tmp/sc-unit-open-XXXXXX", paths[NF][64], src[1024];
    sc_stream_input in[NF];
    static const int cfg[][2] = {{NF, 1}, {2, 1}, {2, 2}, {1, 2}};
    uint64_t ref = 0;

    snprintf(src, sizeof src, "%s/h5ad/anndataR_example.h5ad", unit_data_dir());
    CHECK(mkdtemp(dir) != NULL);
    for (int i = 0; i < NF; i++) {
        snprintf(paths[i], sizeof paths[i], "%s/f%d.h5ad", dir, i);
        CHECK_INTEQ(copy_file(src, paths[i]), 0);
        in[i] = (sc_stream_input){paths[i], 1, NULL};
    }
    for (size_t c = 0; c < sizeof cfg / sizeof *cfg; c++) {
        int max_open = cfg[c][0], threads = cfg[c][1];
        sc_stream_opts o;
        sc_stream *s = NULL;
        sc_batch b = SC_BATCH_INIT;
        uint64_t cells = 0, h = 14695981039346656037ULL;
        int rc, fd0 = open_fds(), most = 0;
        sc_stream_opts_init(&o);
        o.inputs = in;
        o.n_inputs = NF;
        o.max_open = max_open;
        o.block = 4;
        o.buffer = 8;
        o.batch_size = 20;
        o.seed = 3;
        o.threads = threads;
        CHECK_INTEQ(sc_stream_open(&o, &s), 0);
        if (!s)
            continue;
        while ((rc = sc_stream_next(s, &b)) == 1) {
            int k = open_fds() - fd0;
            most = k > most ? k : most;
            cells += (uint64_t)b.n_cells;
            h = fnv(h, &b.n_cells, sizeof b.n_cells);
            h = fnv(h, b.dataset, b.n_cells * sizeof *b.dataset);
            h = fnv(h, b.row, b.n_cells * sizeof *b.row);
            h = fnv(h, b.indices, b.nnz * sizeof *b.indices);
            h = fnv(h, b.values, b.nnz * sizeof *b.values);
        }
        CHECK_INTEQ(rc, 0);
        CHECK_INTEQ(cells, NF * 50);
        if (c == 0)
            ref = h;
        CHECK_INTEQ(h, ref);
        /* slots, a descriptor per thread each, a worker's file each, and
         * a file being probed through HDF5 (two descriptors) */
        CHECK(fd0 > 0 && most <= max_open * threads + threads + 2);
        CHECK(s->n_h5_opens + s->n_probes <= NF);
        CHECK_INTEQ(s->fill_excess, 0);
        if (max_open < NF) /* the files were opened again */
            CHECK(s->n_reopens > 0);
        sc_batch_release(&b);
        sc_stream_close(s);
        /* none left open (but the socket the first stream keeps for the
         * process, to its probing child) */
        if (c > 0)
            CHECK_INTEQ(open_fds(), fd0);
    }
    for (int i = 0; i < NF; i++)
        remove(paths[i]);
    rmdir(dir);
}

int main(void)
{
    RUN(test_gzip);
    RUN(test_plain);
    RUN(test_skeleton);
    RUN(test_open_plan);
    return UNIT_DONE();
}
