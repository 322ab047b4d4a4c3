/* Unit tests for the h5ad reader and HDF5-backed row blocks (sc_h5ad_read,
 * sc_mat, sc_h5, sc_open, sc_summary). Expected values were read from the
 * same files with Debian's anndata 0.8.0. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_summary.h"
#include "unit.h"

static sc_adata *open_sample(const char *name)
{
    char path[1024];
    sc_adata *ad = NULL;

    snprintf(path, sizeof path, "%s/h5ad/%s", unit_data_dir(), name);
    if (sc_adata_open(path, 0, &ad) < 0)
        printf("# %s: %s\n", name, sc_errmsg());
    return ad;
}

/* Sum of the values of rows [r0, r1) and their stored entries. */
static double rows_sum(sc_mat *m, int64_t r0, int64_t r1, int64_t *nnz)
{
    sc_block b = SC_BLOCK_INIT;
    double s = 0;

    *nnz = -1;
    if (sc_mat_read_rows(m, r0, r1, &b) < 0) {
        printf("# %s\n", sc_errmsg());
        return NAN;
    }
    *nnz = sc_block_nnz(&b);
    for (int64_t i = 0; i < *nnz; i++)
        s += b.vals[i];
    sc_block_release(&b);
    return s;
}

/* A CSC layer read by rows, with the whole matrix in one band and with a
 * budget so small that every block needs its own band. */
static void test_csc_rows(void)
{
    sc_adata *ad = open_sample("anndataR_example.h5ad");
    const sc_elem *e;
    sc_block b = SC_BLOCK_INIT;
    sc_mat_info in;
    int64_t nnz;
    double s;

    if (!ad) {
        CHECK(0);
        return;
    }
    e = sc_elem_get(ad->layers, "csc_counts");
    CHECK(e && e->kind == SC_K_MATRIX);
    if (!e)
        goto out;
    sc_mat_get_info(e->mat, &in);
    CHECK(in.fmt == SC_MAT_CSC);
    CHECK_INTEQ(in.nnz, 4317);
    s = rows_sum(e->mat, 10, 20, &nnz);
    CHECK(s == 1917.0);
    CHECK_INTEQ(nnz, 866);
    CHECK_INTEQ(sc_mat_read_rows(e->mat, 3, 4, &b), 0);
    CHECK(b.n_rows == 1 && b.indptr[0] == 0);
    CHECK(b.indices[0] == 0 && b.indices[4] == 4);
    CHECK(b.vals[0] == 2 && b.vals[1] == 4 && b.vals[2] == 3);
    for (int64_t k = 1; k < sc_block_nnz(&b); k++)
        CHECK(b.indices[k] > b.indices[k - 1]); /* sorted within a row */
    sc_block_release(&b);
out:
    sc_adata_close(ad);

    /* Small bands: the same answers. */
    setenv("SC_CSC_BUDGET", "4096", 1);
    ad = open_sample("anndataR_example.h5ad");
    e = ad ? sc_elem_get(ad->layers, "csc_counts") : NULL;
    CHECK(e != NULL);
    if (e) {
        double total = 0;
        int64_t n, all = 0;
        for (int64_t r = 0; r < 50; r += 7) {
            total += rows_sum(e->mat, r, r + 7 < 50 ? r + 7 : 50, &n);
            all += n;
        }
        CHECK(total == 9805.0);
        CHECK_INTEQ(all, 4317);
        CHECK(rows_sum(e->mat, 10, 20, &n) == 1917.0);
    }
    unsetenv("SC_CSC_BUDGET");
    sc_adata_close(ad);
}

/* Dense X with 2-D gzip chunks (44 x 96), read by row blocks. */
static void test_dense_rows(void)
{
    sc_adata *ad = open_sample("scanpy_pbmc68k_reduced_2025.h5ad");
    sc_block b = SC_BLOCK_INIT;
    static const double want[3][3] = {{-0.531, -0.451, 4.477},
                                      {-0.531, -0.451, -0.486},
                                      {-0.531, -0.451, 6.561}};

    if (!ad) {
        CHECK(0);
        return;
    }
    CHECK_INTEQ(sc_mat_read_rows(ad->X->mat, 100, 103, &b), 0);
    CHECK(b.dense && b.n_cols == 765);
    for (int i = 0; i < 3; i++)
        for (int j = 0; j < 3; j++)
            CHECK(fabs(b.vals[i * 765 + 5 + j] - want[i][j]) < 1e-6);
    /* Out of range rows are a clear error, not a crash. */
    CHECK_INTEQ(sc_mat_read_rows(ad->X->mat, 699, 701, &b), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "out of range") != NULL);
    sc_block_release(&b);
    sc_adata_close(ad);
}

/* The 0.7 generation with LZF chunks and object-reference categories. */
static void test_lzf_07(void)
{
    sc_adata *ad = open_sample("anndata_archive_v0.7.0_lzf.h5ad");
    sc_block b = SC_BLOCK_INIT;
    static const int32_t idx[] = {2, 3, 4, 10, 16, 19};
    static const double val[] = {1, 2, 1, 1, 1, 1};
    const sc_elem *cat;

    if (!ad) {
        CHECK(0);
        return;
    }
    CHECK_STREQ(ad->generation, "0.7");
    CHECK_INTEQ(sc_mat_read_rows(ad->X->mat, 2, 3, &b), 0);
    CHECK_INTEQ(sc_block_nnz(&b), 6);
    for (int k = 0; k < 6 && k < sc_block_nnz(&b); k++)
        CHECK(b.indices[k] == idx[k] && b.vals[k] == val[k]);
    cat = sc_elem_get(ad->obs, "obs_cat");
    CHECK(cat && cat->kind == SC_K_CATEGORICAL);
    if (cat) {
        CHECK_STREQ(sc_elem_str(cat->categories, 0), "B");
        CHECK_STREQ(sc_elem_str(cat->categories, 2), "E");
        CHECK_STREQ(sc_elem_str(cat, 0), "S");
        CHECK_STREQ(sc_elem_str(cat, 2), "E");
    }
    CHECK(ad->raw != NULL);
    sc_block_release(&b);
    sc_adata_close(ad);
}

/* Pre-0.7: compound obs, uns/<col>_categories folded into categoricals,
 * graphs moved from uns/neighbors to obsp, raw.X. */
static void test_legacy(void)
{
    sc_adata *ad = open_sample("scanpy_pbmc68k_reduced_legacy_v0.6.h5ad");
    const sc_elem *c;

    if (!ad) {
        CHECK(0);
        return;
    }
    CHECK_STREQ(ad->generation, "pre-0.7");
    CHECK_INTEQ(ad->n_obs, 700);
    c = sc_elem_get(ad->obs, "louvain");
    CHECK(c && c->kind == SC_K_CATEGORICAL &&
          sc_elem_count(c->categories) == 11);
    CHECK(sc_elem_get(ad->uns, "louvain_categories") == NULL);
    CHECK(sc_elem_get(ad->obsp, "distances") != NULL);
    CHECK(sc_elem_get(ad->obsp, "connectivities") != NULL);
    CHECK(ad->raw && sc_elem_get(ad->raw, "X"));
    CHECK_STREQ(sc_elem_str(ad->obs->index, 0), "AAAGCCTGGCTAAC-1");
    sc_adata_close(ad);
}

/* Format detection and the JSON summary of a file without X. */
static void test_detect_summary(void)
{
    char path[1024];
    sc_adata *ad;
    json_t *j = NULL;

    snprintf(path, sizeof path, "%s/h5ad/anndata_archive_v0.11.4_noX.h5ad",
             unit_data_dir());
    CHECK(sc_adata_detect(path) == SC_FMT_H5AD);
    ad = open_sample("anndata_archive_v0.11.4_noX.h5ad");
    CHECK(ad && ad->X == NULL && ad->n_obs == 10 && ad->n_vars == 20);
    if (ad && sc_summary_json(ad, 0, &j) == 0) {
        CHECK(json_is_null(json_object_get(j, "X")));
        CHECK_INTEQ(json_integer_value(json_object_get(j, "n_vars")), 20);
        json_decref(j);
    }
    sc_adata_close(ad);
    snprintf(path, sizeof path, "%s/h5ad/no-such-file.h5ad", unit_data_dir());
    CHECK_INTEQ(sc_adata_open(path, 0, &ad), SC_EIO);
    CHECK(ad == NULL);
    CHECK(strstr(sc_errmsg(), "no-such-file.h5ad") != NULL);
}

int main(void)
{
    RUN(test_csc_rows);
    RUN(test_dense_rows);
    RUN(test_lzf_07);
    RUN(test_legacy);
    RUN(test_detect_summary);
    return UNIT_DONE();
}
