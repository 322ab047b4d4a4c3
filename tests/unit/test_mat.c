/* Unit tests for the row-block matrices of sc_mat (callback sources). */
/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_adata.h"
#include "unit.h"

/* Row i holds columns i % 7 and (i * 3) % 11 + 7 with values i+1 and 2. */
struct src {
    int freed;
    int bad;
};

static int fill(void *ud, int64_t r0, int64_t r1, sc_block *b)
{
    struct src *s = ud;
    int64_t k = 0;

    if (sc_block_reserve(b, r1 - r0, 2 * (r1 - r0)) < 0)
        return SC_ENOMEM;
    for (int64_t i = r0; i < r1; i++) {
        b->indices[k] = (int32_t)(i % 7);
        b->vals[k++] = (double)(i + 1);
        b->indices[k] = (int32_t)((i * 3) % 11 + 7);
        b->vals[k++] = s->bad ? 0 : 2;
        if (s->bad)
            b->indices[k - 1] = 99; /* out of range */
        b->indptr[i - r0 + 1] = k;
    }
    return 0;
}

static void done(void *ud)
{
    ((struct src *)ud)->freed++;
}

static void test_callback_read(void)
{
    struct src s = {0, 0};
    sc_mat *m = sc_mat_new_callback(100, 18, SC_DT_F32, 200, fill, &s, done);
    sc_block b = SC_BLOCK_INIT;
    sc_mat_info in;
    double sum;
    int64_t nnz;

    CHECK(m != NULL);
    sc_mat_get_info(m, &in);
    CHECK_INTEQ(in.n_rows, 100);
    CHECK_INTEQ(in.nnz, 200);
    CHECK(in.fmt == SC_MAT_CSR);
    CHECK_INTEQ(sc_mat_read_rows(m, 10, 20, &b), 0);
    CHECK_INTEQ(b.row0, 10);
    CHECK_INTEQ(b.n_rows, 10);
    CHECK_INTEQ(sc_block_nnz(&b), 20);
    CHECK_INTEQ(b.indices[0], 3);
    CHECK(b.vals[0] == 11.0);
    CHECK_INTEQ(sc_mat_sum(m, &sum, &nnz), 0);
    CHECK(sum == 5050.0 + 200.0);
    CHECK_INTEQ(nnz, 200);
    CHECK(sc_mat_read_rows(m, 90, 101, &b) < 0);
    sc_block_release(&b);
    sc_mat_free(m);
    CHECK_INTEQ(s.freed, 1);
}

static void test_callback_bad(void)
{
    struct src s = {0, 1};
    sc_mat *m = sc_mat_new_callback(5, 18, SC_DT_F32, 10, fill, &s, done);
    sc_block b = SC_BLOCK_INIT;

    CHECK(sc_mat_read_rows(m, 0, 5, &b) == SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "out of range") != NULL);
    sc_block_release(&b);
    sc_mat_free(m);
    CHECK_INTEQ(s.freed, 1);
    /* bad arguments: the user data is released at once */
    CHECK(sc_mat_new_callback(-1, 2, SC_DT_F32, 0, fill, &s, done) == NULL);
    CHECK_INTEQ(s.freed, 2);
}

/* The writer streams a callback matrix into an h5ad that reads back. */
static void test_callback_write(void)
{
    struct src s = {0, 0};
    char dir[64], path[128];
    sc_adata *ad = sc_adata_new(100, 18), *back = NULL;
    sc_write_opts wo = SC_WRITE_OPTS_INIT;
    double sum;
    int64_t nnz;

    CHECK_INTEQ(unit_mkdtemp(dir, sizeof dir, "mat"), 0);
    snprintf(path, sizeof path, "%s/cb.h5ad", dir);
    ad->X = sc_elem_new_matrix_take(
        "X", sc_mat_new_callback(100, 18, SC_DT_F32, 200, fill, &s, done));
    wo.block_rows = 7; /* several blocks */
    CHECK_INTEQ(sc_h5ad_write(ad, path, &wo), 0);
    CHECK_INTEQ(sc_adata_open(path, 0, &back), 0);
    if (back) {
        CHECK_INTEQ(back->n_obs, 100);
        CHECK_INTEQ(sc_mat_sum(back->X->mat, &sum, &nnz), 0);
        CHECK(sum == 5250.0);
        CHECK_INTEQ(nnz, 200);
    }
    sc_adata_close(back);
    sc_adata_close(ad);
    CHECK_INTEQ(s.freed, 1);
    unlink(path);
    rmdir(dir);
}

int main(void)
{
    RUN(test_callback_read);
    RUN(test_callback_bad);
    RUN(test_callback_write);
    return UNIT_DONE();
}
