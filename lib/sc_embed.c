/* sc_embed: a low-dimensional embedding of the cells (principal components). */
/* SPDX-License-Identifier: MIT */
#include "sc_embed.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_ROWS 4096
#define ROUNDS     16
#define EXTRA      10
#define TARGET_SUM 1e4

/* Normalise the row of a block in place: scale to TARGET_SUM, log1p. */
static void normalise(double *v, int64_t n)
{
    double sum = 0;

    for (int64_t k = 0; k < n; k++)
        sum += v[k];
    for (int64_t k = 0; k < n; k++)
        v[k] = sum > 0 ? log1p(v[k] * (TARGET_SUM / sum)) : 0;
}

/* One pass over M calling ROW(UD, i, cols, vals, nnz) with the normalised
 * non-zero values of each row (dense blocks are made sparse). */
typedef void (*row_fn)(void *ud, int64_t i, const int32_t *cols,
                       const double *vals, int64_t nnz);

static int each_row(sc_mat *m, row_fn fn, void *ud)
{
    sc_mat_info info;
    sc_block b = SC_BLOCK_INIT;
    int32_t *cols = NULL;
    double *vals = NULL;
    int rc = 0;

    sc_mat_get_info(m, &info);
    if (!(cols = malloc(((size_t)info.n_cols + 1) * sizeof *cols)) ||
        !(vals = malloc(((size_t)info.n_cols + 1) * sizeof *vals))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t r0 = 0; r0 < info.n_rows; r0 += BLOCK_ROWS) {
        int64_t r1 =
            r0 + BLOCK_ROWS < info.n_rows ? r0 + BLOCK_ROWS : info.n_rows;

        if ((rc = sc_mat_read_rows(m, r0, r1, &b)) < 0)
            goto out;
        for (int64_t i = 0; i < b.n_rows; i++) {
            int64_t n = 0;

            if (b.dense) {
                for (int64_t j = 0; j < b.n_cols; j++)
                    if (b.vals[i * b.n_cols + j] != 0) {
                        cols[n] = (int32_t)j;
                        vals[n++] = b.vals[i * b.n_cols + j];
                    }
            } else {
                for (int64_t k = b.indptr[i]; k < b.indptr[i + 1]; k++) {
                    cols[n] = b.indices[k];
                    vals[n++] = b.vals[k];
                }
            }
            normalise(vals, n);
            fn(ud, r0 + i, cols, vals, n);
        }
    }
out:
    sc_block_release(&b);
    free(cols);
    free(vals);
    return rc;
}

struct state {
    int64_t n, g;
    int p, k;
    int pass;    /* PASS_* of row_pass */
    double *mu;  /* g: gene means */
    double *q;   /* g x p: the basis */
    double *z;   /* g x p: the next basis */
    double *muq; /* p: mu^T q */
    double *s;   /* p: column sums of y */
    double *c;   /* p x p: y^T y */
    double *v;   /* p x p: eigenvectors of c */
    double *out; /* n x k */
    int *top;    /* k: the columns of v by eigenvalue */
};

static void row_mean(void *ud, int64_t i, const int32_t *cols,
                     const double *vals, int64_t nnz)
{
    struct state *st = ud;

    (void)i;
    for (int64_t k = 0; k < nnz; k++)
        st->mu[cols[k]] += vals[k];
}

/* y = x q - mu^T q for one row. */
static void project(const struct state *st, const int32_t *cols,
                    const double *vals, int64_t nnz, double *y)
{
    for (int a = 0; a < st->p; a++)
        y[a] = -st->muq[a];
    for (int64_t k = 0; k < nnz; k++) {
        const double *qr = st->q + (size_t)cols[k] * (size_t)st->p;

        for (int a = 0; a < st->p; a++)
            y[a] += vals[k] * qr[a];
    }
}

/* What a pass over the projected rows y does. */
enum { PASS_ROUND, PASS_GRAM, PASS_SCORES };

/* One row of a pass: the round (z += x^T y, s += y), the Gram matrix
 * (c += y y^T), or the scores (out_i = y V_top). */
static void row_pass(void *ud, int64_t i, const int32_t *cols,
                     const double *vals, int64_t nnz)
{
    struct state *st = ud;
    double y[64];

    project(st, cols, vals, nnz, y);
    if (st->pass == PASS_ROUND) {
        for (int64_t k = 0; k < nnz; k++) {
            double *zr = st->z + (size_t)cols[k] * (size_t)st->p;

            for (int a = 0; a < st->p; a++)
                zr[a] += vals[k] * y[a];
        }
        for (int a = 0; a < st->p; a++)
            st->s[a] += y[a];
    } else if (st->pass == PASS_GRAM) {
        for (int a = 0; a < st->p; a++)
            for (int b = 0; b < st->p; b++)
                st->c[a * st->p + b] += y[a] * y[b];
    } else {
        for (int t = 0; t < st->k; t++) {
            double sum = 0;

            for (int a = 0; a < st->p; a++)
                sum += y[a] * st->v[a * st->p + st->top[t]];
            st->out[i * st->k + t] = sum;
        }
    }
}

/* mu^T q */
static void update_muq(struct state *st)
{
    for (int a = 0; a < st->p; a++) {
        double sum = 0;

        for (int64_t j = 0; j < st->g; j++)
            sum += st->mu[j] * st->q[j * st->p + a];
        st->muq[a] = sum;
    }
}

/* Orthonormalise the columns of the g x p matrix A (modified Gram-Schmidt,
 * twice); a column that vanishes is replaced by a unit vector. */
static void orthonormalise(double *a, int64_t g, int p)
{
    for (int pass = 0; pass < 2; pass++)
        for (int c = 0; c < p; c++) {
            double norm = 0;

            for (int d = 0; d < c; d++) {
                double dot = 0;

                for (int64_t j = 0; j < g; j++)
                    dot += a[j * p + c] * a[j * p + d];
                for (int64_t j = 0; j < g; j++)
                    a[j * p + c] -= dot * a[j * p + d];
            }
            for (int64_t j = 0; j < g; j++)
                norm += a[j * p + c] * a[j * p + c];
            norm = sqrt(norm);
            if (norm < 1e-300) {
                for (int64_t j = 0; j < g; j++)
                    a[j * p + c] = j == c % g;
                continue;
            }
            for (int64_t j = 0; j < g; j++)
                a[j * p + c] /= norm;
        }
}

/* Eigenvectors of the symmetric p x p matrix C (cyclic Jacobi): C becomes
 * diagonal (the eigenvalues), V the eigenvectors as columns. */
static void jacobi(double *c, double *v, int p)
{
    for (int i = 0; i < p; i++)
        for (int j = 0; j < p; j++)
            v[i * p + j] = i == j;
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0;

        for (int i = 0; i < p; i++)
            for (int j = i + 1; j < p; j++)
                off += c[i * p + j] * c[i * p + j];
        if (off < 1e-30)
            break;
        for (int i = 0; i < p; i++)
            for (int j = i + 1; j < p; j++) {
                double aij = c[i * p + j], th, t, cs, sn;

                if (fabs(aij) < 1e-300)
                    continue;
                th = (c[j * p + j] - c[i * p + i]) / (2 * aij);
                t = (th >= 0 ? 1 : -1) / (fabs(th) + sqrt(th * th + 1));
                cs = 1 / sqrt(t * t + 1);
                sn = t * cs;
                for (int r = 0; r < p; r++) { /* columns i, j */
                    double x = c[r * p + i], y = c[r * p + j];

                    c[r * p + i] = cs * x - sn * y;
                    c[r * p + j] = sn * x + cs * y;
                }
                for (int r = 0; r < p; r++) { /* rows i, j */
                    double x = c[i * p + r], y = c[j * p + r];

                    c[i * p + r] = cs * x - sn * y;
                    c[j * p + r] = sn * x + cs * y;
                }
                for (int r = 0; r < p; r++) {
                    double x = v[r * p + i], y = v[r * p + j];

                    v[r * p + i] = cs * x - sn * y;
                    v[r * p + j] = sn * x + cs * y;
                }
            }
    }
}

/* A fixed pseudo-random sequence in [-1, 1) (splitmix64). */
static double next_uniform(uint64_t *s)
{
    uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);

    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (double)(z >> 11) / 4503599627370496.0 - 1.0;
}

int sc_embed_pca(sc_mat *m, int k, double **out)
{
    struct state st = {0};
    sc_mat_info info;
    uint64_t seed = 20240601;
    int rc = 0;

    *out = NULL;
    sc_mat_get_info(m, &info);
    if (k < 1 || k > 50 || k >= info.n_cols || k >= info.n_rows)
        return sc_fail(SC_EINVAL,
                       "principal components: %d asked of a %lld x %lld "
                       "matrix (1 .. 50, fewer than cells and genes)",
                       k, (long long)info.n_rows, (long long)info.n_cols);
    st.n = info.n_rows;
    st.g = info.n_cols;
    st.k = k;
    st.p = k + EXTRA;
    if (st.p > st.g)
        st.p = (int)st.g;
    if (st.p > st.n)
        st.p = (int)st.n;
    if (!(st.mu = calloc((size_t)st.g, sizeof *st.mu)) ||
        !(st.q = malloc((size_t)st.g * (size_t)st.p * sizeof *st.q)) ||
        !(st.z = malloc((size_t)st.g * (size_t)st.p * sizeof *st.z)) ||
        !(st.muq = calloc((size_t)st.p, sizeof *st.muq)) ||
        !(st.s = calloc((size_t)st.p, sizeof *st.s)) ||
        !(st.c = calloc((size_t)st.p * (size_t)st.p, sizeof *st.c)) ||
        !(st.v = calloc((size_t)st.p * (size_t)st.p, sizeof *st.v)) ||
        !(st.top = calloc((size_t)k, sizeof *st.top)) ||
        !(st.out = calloc((size_t)st.n * (size_t)k, sizeof *st.out))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if ((rc = each_row(m, row_mean, &st)) < 0)
        goto out;
    for (int64_t j = 0; j < st.g; j++)
        st.mu[j] /= (double)st.n;
    for (size_t i = 0; i < (size_t)st.g * (size_t)st.p; i++)
        st.q[i] = next_uniform(&seed);
    orthonormalise(st.q, st.g, st.p);
    for (int round = 0; round < ROUNDS; round++) {
        update_muq(&st);
        memset(st.z, 0, (size_t)st.g * (size_t)st.p * sizeof *st.z);
        memset(st.s, 0, (size_t)st.p * sizeof *st.s);
        st.pass = PASS_ROUND;
        if ((rc = each_row(m, row_pass, &st)) < 0)
            goto out;
        for (int64_t j = 0; j < st.g; j++) /* z -= mu s^T */
            for (int a = 0; a < st.p; a++)
                st.z[j * st.p + a] -= st.mu[j] * st.s[a];
        memcpy(st.q, st.z, (size_t)st.g * (size_t)st.p * sizeof *st.q);
        orthonormalise(st.q, st.g, st.p);
    }
    update_muq(&st);
    st.pass = PASS_GRAM;
    if ((rc = each_row(m, row_pass, &st)) < 0)
        goto out;
    jacobi(st.c, st.v, st.p);
    for (int t = 0; t < k; t++) { /* the K largest eigenvalues */
        int best = -1;

        for (int a = 0; a < st.p; a++) {
            int used = 0;

            for (int u = 0; u < t; u++)
                used |= st.top[u] == a;
            if (!used &&
                (best < 0 || st.c[a * st.p + a] > st.c[best * st.p + best]))
                best = a;
        }
        st.top[t] = best;
    }
    for (int t = 0; t < k; t++) { /* sign: largest loading positive */
        double big = 0;

        for (int64_t j = 0; j < st.g; j++) {
            double l = 0;

            for (int a = 0; a < st.p; a++)
                l += st.q[j * st.p + a] * st.v[a * st.p + st.top[t]];
            if (fabs(l) > fabs(big))
                big = l;
        }
        if (big < 0)
            for (int a = 0; a < st.p; a++)
                st.v[a * st.p + st.top[t]] = -st.v[a * st.p + st.top[t]];
    }
    st.pass = PASS_SCORES;
    if ((rc = each_row(m, row_pass, &st)) < 0)
        goto out;
    *out = st.out;
    st.out = NULL;
out:
    free(st.mu);
    free(st.q);
    free(st.z);
    free(st.muq);
    free(st.s);
    free(st.c);
    free(st.v);
    free(st.top);
    free(st.out);
    return rc;
}
