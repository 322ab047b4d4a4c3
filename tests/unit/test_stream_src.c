/* ss_src: a file the raw reader handles is read through its fd alone (the
 * HDF5 handle closed at open), and gives the rows of a read through HDF5. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(void)
{
    RUN(test_gzip);
    RUN(test_plain);
    return UNIT_DONE();
}
