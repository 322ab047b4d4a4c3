/* test_loom: unit tests of the loom reader. */
/* SPDX-License-Identifier: MIT */
#include "sc_adata.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "sc_log.h"
#include "unit.h"

static const char *str_at(const sc_elem *e, int64_t i)
{
    return sc_elem_str(e, i);
}

/* loompy's test file (spec 3.0.0); expected values: tests/data/EXPECTED.json
 * and h5dump. */
static void test_loompy(void)
{
    char path[1024];
    sc_adata *ad = NULL;
    sc_mat_info info;
    sc_block b = SC_BLOCK_INIT;
    double sum = -1;
    int64_t nnz = -1;
    const sc_elem *cell;

    snprintf(path, sizeof path, "%s/loom/loompy_test.loom", unit_data_dir());
    CHECK(sc_adata_open(path, 0, &ad) == 0);
    if (!ad) {
        printf("# %s\n", sc_errmsg());
        return;
    }
    CHECK_INTEQ(ad->format, SC_FMT_LOOM);
    CHECK_STREQ(ad->generation, "3.0.0");
    CHECK_INTEQ(ad->n_obs, 200);
    CHECK_INTEQ(ad->n_vars, 20);
    CHECK_STREQ(str_at(ad->obs->index, 0), "0");
    CHECK_STREQ(str_at(ad->obs->index, 199), "199");
    CHECK_STREQ(str_at(ad->var->index, 0), "A");
    CHECK_STREQ(str_at(ad->var->index, 12), "L");
    CHECK_STREQ(str_at(ad->var->index, 19), "S");
    CHECK_INTEQ(ad->var->n_child, 0);
    CHECK_INTEQ(ad->obs->n_child, 1);
    cell = sc_elem_get(ad->obs, "Cell");
    CHECK(cell && cell->dtype == SC_DT_I64 && cell->shape[0] == 200);
    CHECK(cell && sc_elem_num(cell, 199) == 99); /* 0..99 twice */
    CHECK_INTEQ(ad->layers->n_child, 0);
    CHECK_STREQ(str_at(sc_elem_get(ad->uns, "LOOM_SPEC_VERSION"), 0), "3.0.0");
    CHECK_STREQ(str_at(sc_elem_get(ad->uns, "CreationDate"), 0),
                "20190918T054530.815648Z");
    CHECK(ad->X && ad->X->kind == SC_K_MATRIX);
    if (ad->X) {
        sc_mat_get_info(ad->X->mat, &info);
        CHECK_INTEQ(info.fmt, SC_MAT_DENSE_T);
        CHECK_INTEQ(info.dtype, SC_DT_F64);
        CHECK_INTEQ(info.n_rows, 200);
        CHECK_INTEQ(info.n_cols, 20);
        CHECK(sc_mat_sum(ad->X->mat, &sum, &nnz) == 0);
        CHECK(sum == 0.0);
        CHECK(sc_mat_read_rows(ad->X->mat, 150, 200, &b) == 0);
        CHECK(b.dense && b.n_rows == 50 && b.n_cols == 20);
        sc_block_release(&b);
    }
    sc_adata_close(ad);
}

/* ------------------------------------------------------------------------ */
/* A hand-made loom in the style of spec 2.0.1                              */

static hid_t new_ds(hid_t loc, const char *name, hid_t type, int rank,
                    const hsize_t *dims)
{
    hid_t s = H5Screate_simple(rank, dims, NULL);
    hid_t ds =
        H5Dcreate2(loc, name, type, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

    H5Sclose(s);
    CHECK(ds >= 0);
    return ds;
}

static void put(hid_t loc, const char *name, hid_t ftype, hid_t mtype, int rank,
                const hsize_t *dims, const void *v)
{
    hid_t ds = new_ds(loc, name, ftype, rank, dims);

    CHECK(H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
}

/* Fixed-length ASCII strings, as loompy 2 writes them. */
static void put_fixed(hid_t loc, const char *name, const char (*v)[16],
                      hsize_t n)
{
    hid_t t = H5Tcopy(H5T_C_S1);

    H5Tset_size(t, 16);
    put(loc, name, t, t, 1, &n, v);
    H5Tclose(t);
}

static void put_root_attr_str(hid_t f, const char *name, const char *v)
{
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate(H5S_SCALAR), a;

    H5Tset_size(t, strlen(v) + 1);
    a = H5Acreate2(f, name, t, s, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, t, v) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Tclose(t);
}

/* 3 genes x 4 cells: matrix int32, layers spliced (float32) and unspliced. */
static void make_loom(const char *path, int with_short)
{
    static const int32_t m[3][4] = {{1, 0, 2, 0}, {0, 3, 0, 0}, {4, 0, 0, 5}};
    static const float sp[3][4] = {{0.5f, 0, 0, 1}, {0, 0, 2, 0}, {0, 0, 0, 3}};
    static const char cells[4][16] = {"c1", "caf&#233;", "c&amp;3", "c4"};
    static const char genes[3][16] = {"G1", "G2", "G3"};
    static const double pca[4][2] = {{1, 2}, {3, 4}, {5, 6}, {7, 8}};
    static const int64_t n_umi[3] = {7, 3, 9};
    hsize_t d2[2] = {3, 4}, dp[2] = {4, 2}, d1 = 3;
    hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), g;
    double pi = 3.25;
    hid_t s = H5Screate(H5S_SCALAR), a;

    put(f, "matrix", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d2, m);
    g = H5Gcreate2(f, "layers", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put(g, "spliced", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT, 2, d2, sp);
    put(g, "unspliced", H5T_STD_I32LE, H5T_NATIVE_INT32, 2, d2, m);
    H5Gclose(g);
    g = H5Gcreate2(f, "col_attrs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put_fixed(g, "CellID", cells, 4);
    put(g, "X_pca", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 2, dp, pca);
    if (with_short) /* an attribute of the wrong length */
        put(g, "short", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, 1, &d1, pca);
    H5Gclose(g);
    g = H5Gcreate2(f, "row_attrs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    put_fixed(g, "Gene", genes, 3);
    put(g, "n_umi", H5T_STD_I64LE, H5T_NATIVE_INT64, 1, &d1, n_umi);
    H5Gclose(g);
    g = H5Gcreate2(f, "col_graphs", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    H5Gclose(g);
    put_root_attr_str(f, "LOOM_SPEC_VERSION", "2.0.1");
    put_root_attr_str(f, "title", "caf&#xe9; &lt;test&gt;");
    a = H5Acreate2(f, "pi", H5T_IEEE_F64LE, s, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(a >= 0 && H5Awrite(a, H5T_NATIVE_DOUBLE, &pi) >= 0);
    H5Aclose(a);
    H5Sclose(s);
    H5Fclose(f);
}

/* Row-major dense copy (cells x genes) of matrix element E. */
static void dense(const sc_elem *e, double *out, int64_t n)
{
    sc_block b = SC_BLOCK_INIT;

    memset(out, 0xff, (size_t)n * sizeof *out);
    CHECK(e && e->kind == SC_K_MATRIX);
    if (!e)
        return;
    CHECK(sc_mat_read_rows(e->mat, 0, 4, &b) == 0);
    CHECK(b.dense && b.n_rows * b.n_cols == n);
    if (b.dense && b.n_rows * b.n_cols == n)
        memcpy(out, b.vals, (size_t)n * sizeof *out);
    sc_block_release(&b);
}

static void test_made(void)
{
    static const double want_x[12] = {0.5, 0, 0, 0, 0, 0, 0, 2, 0, 1, 0, 3};
    static const double want_m[12] = {1, 0, 4, 0, 3, 0, 2, 0, 0, 0, 0, 5};
    char path[512];
    const char *t = getenv("TMPDIR");
    sc_adata *ad = NULL;
    const sc_elem *e;
    double x[12];
    sc_mat_info info;

    snprintf(path, sizeof path, "%s/test_loom.%ld.loom", t ? t : "/tmp",
             (long)getpid());
    /* An attribute whose length differs from the matrix is an error. */
    make_loom(path, 1);
    CHECK(sc_loom_open(path, 0, &ad) == SC_EFORMAT);
    CHECK(ad == NULL);
    CHECK(strstr(sc_errmsg(), "/col_attrs/short: has 3 entries") != NULL);
    unlink(path);
    make_loom(path, 0);
    CHECK(sc_loom_open(path, 0, &ad) == 0);
    if (!ad) {
        printf("# %s\n", sc_errmsg());
        unlink(path);
        return;
    }
    CHECK_STREQ(ad->generation, "2.0.1");
    CHECK_INTEQ(ad->n_obs, 4);
    CHECK_INTEQ(ad->n_vars, 3);
    sc_mat_get_info(ad->X->mat, &info);
    CHECK_INTEQ(info.dtype, SC_DT_F32);
    dense(ad->X, x, 12);
    CHECK(memcmp(x, want_x, sizeof x) == 0);
    CHECK_INTEQ(ad->layers->n_child, 2);
    dense(sc_elem_get(ad->layers, "matrix"), x, 12);
    CHECK(memcmp(x, want_m, sizeof x) == 0);
    dense(sc_elem_get(ad->layers, "unspliced"), x, 12);
    CHECK(memcmp(x, want_m, sizeof x) == 0);
    CHECK(sc_elem_get(ad->layers, "spliced") == NULL);
    /* names, with XML character references decoded */
    CHECK_STREQ(str_at(ad->obs->index, 1), "caf\xc3\xa9");
    CHECK_STREQ(str_at(ad->obs->index, 2), "c&3");
    CHECK_STREQ(str_at(ad->var->index, 2), "G3");
    CHECK(sc_elem_get(ad->obs, "CellID") == NULL);
    CHECK_INTEQ(ad->obs->n_child, 0);
    e = sc_elem_get(ad->obsm, "X_pca");
    CHECK(e && e->rank == 2 && e->shape[0] == 4 && e->shape[1] == 2);
    CHECK(e && sc_elem_num(e, 7) == 8);
    e = sc_elem_get(ad->var, "n_umi");
    CHECK(e && e->dtype == SC_DT_I64 && sc_elem_num(e, 2) == 9);
    /* global attributes on / */
    CHECK_STREQ(str_at(sc_elem_get(ad->uns, "title"), 0), "caf\xc3\xa9 <test>");
    e = sc_elem_get(ad->uns, "pi");
    CHECK(e && e->rank == 0 && sc_elem_num(e, 0) == 3.25);
    sc_adata_close(ad);

    /* not a loom */
    {
        hid_t f = H5Fcreate(path, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
        H5Fclose(f);
    }
    CHECK_INTEQ(sc_loom_open(path, 0, &ad), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "not a loom file") != NULL);
    CHECK(ad == NULL);
    unlink(path);
}

int main(void)
{
    RUN(test_loompy);
    RUN(test_made);
    return UNIT_DONE();
}
