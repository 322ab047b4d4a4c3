/* test_embed: principal components of a small matrix with known groups. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_embed.h"
#include "unit.h"

#define N 60
#define G 40

/* Two groups of cells: the first expresses genes 0..19 more, the second
 * genes 20..39; a deterministic wobble on top. */
static sc_mat *groups(void)
{
    double *v = malloc(sizeof(double) * N * G);

    if (!v)
        return NULL;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < G; j++) {
            int high = (i < N / 2) == (j < G / 2);

            v[i * G + j] = (high ? 8 : 1) + (double)((i * 7 + j * 3) % 5);
        }
    return sc_mat_new_dense_take(N, G, v, SC_DT_F32);
}

static void test_groups(void)
{
    sc_mat *m = groups();
    double *a = NULL, *b = NULL, lo = INFINITY, hi = -INFINITY;

    CHECK(m != NULL);
    CHECK_INTEQ(sc_embed_pca(m, 3, &a), 0);
    CHECK_INTEQ(sc_embed_pca(m, 3, &b), 0);
    /* the same on every run */
    CHECK(a && b && memcmp(a, b, sizeof(double) * N * 3) == 0);
    /* the first component splits the groups: every cell of one group on
     * one side of every cell of the other */
    for (int i = 0; a && i < N / 2; i++)
        hi = a[i * 3] > hi ? a[i * 3] : hi;
    for (int i = N / 2; a && i < N; i++)
        lo = a[i * 3] < lo ? a[i * 3] : lo;
    if (a && hi >= lo) { /* the other sign */
        hi = -INFINITY;
        lo = INFINITY;
        for (int i = 0; i < N / 2; i++)
            lo = a[i * 3] < lo ? a[i * 3] : lo;
        for (int i = N / 2; i < N; i++)
            hi = a[i * 3] > hi ? a[i * 3] : hi;
    }
    CHECK(hi < lo);
    /* centred: each component sums to about 0 */
    for (int t = 0; a && t < 3; t++) {
        double s = 0;

        for (int i = 0; i < N; i++)
            s += a[i * 3 + t];
        CHECK(fabs(s) < 1e-6);
    }
    free(a);
    free(b);
    sc_mat_free(m);
}

static void test_bad_k(void)
{
    sc_mat *m = groups();
    double *a = NULL;

    CHECK_INTEQ(sc_embed_pca(m, 0, &a), SC_EINVAL);
    CHECK_INTEQ(sc_embed_pca(m, 51, &a), SC_EINVAL);
    CHECK_INTEQ(sc_embed_pca(m, G, &a), SC_EINVAL);
    CHECK(a == NULL);
    sc_err_clear();
    sc_mat_free(m);
}

int main(void)
{
    RUN(test_groups);
    RUN(test_bad_k);
    return UNIT_DONE();
}
