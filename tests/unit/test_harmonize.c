/* test_harmonize: the pure parts of the harmonizer's passes (settings,
 * finding the counts, remapping rows, the spill format, QC numbers and
 * filters, the output matrix). */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "sc_harmonize_int.h"
#include "unit.h"

/* An in-memory CSR matrix of N_ROWS x N_COLS from dense rows V (zeros not
 * stored), values stored as DTYPE. */
static sc_mat *csr_from(const double *v, int64_t n_rows, int64_t n_cols,
                        sc_dtype dtype)
{
    int64_t *indptr = malloc((size_t)(n_rows + 1) * sizeof *indptr), k = 0;
    int32_t *ind = malloc((size_t)(n_rows * n_cols + 1) * sizeof *ind);
    double *vals = malloc((size_t)(n_rows * n_cols + 1) * sizeof *vals);

    if (!indptr || !ind || !vals)
        abort();
    indptr[0] = 0;
    for (int64_t i = 0; i < n_rows; i++) {
        for (int64_t j = 0; j < n_cols; j++)
            if (v[i * n_cols + j] != 0) {
                ind[k] = (int32_t)j;
                vals[k++] = v[i * n_cols + j];
            }
        indptr[i + 1] = k;
    }
    return sc_mat_new_csr_take(n_rows, n_cols, indptr, ind, vals, dtype);
}

static void test_settings(void)
{
    sc_hz_opts o = SC_HZ_OPTS_INIT;
    sc_hz *h = NULL;

    CHECK_INTEQ(sc_hz_check_counts_order("raw,counts,X"), 0);
    CHECK_INTEQ(sc_hz_check_counts_order("X"), 0);
    CHECK(sc_hz_check_counts_order("") < 0);
    CHECK(sc_hz_check_counts_order(NULL) < 0);
    CHECK(sc_hz_check_counts_order("raw,,X") < 0);
    CHECK(sc_hz_check_counts_order(",X") < 0);
    CHECK_INTEQ(sc_hz_check_assay_list("EFO:0009922,EFO:0030000"), 0);
    CHECK(sc_hz_check_assay_list(NULL) < 0);
    CHECK(sc_hz_check_assay_list("EFO:0009922,,EFO:0030000") < 0);
    CHECK(sc_hz_check_assay_list("10x 3' v3") < 0);
    CHECK(strstr(sc_errmsg(), "is not a term id") != NULL);
    /* sc_hz_new refuses what the checks refuse, and unknown organisms */
    o.counts_order = "raw,,X";
    CHECK_INTEQ(sc_hz_new(&o, &h), SC_EINVAL);
    CHECK(h == NULL);
    o.counts_order = "raw,X";
    o.organism = "NCBITaxon:0";
    CHECK_INTEQ(sc_hz_new(&o, &h), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "unknown organism") != NULL);
    o.organism = NULL;
    CHECK_INTEQ(sc_hz_new(&o, &h), 0);
    CHECK(h != NULL);
    sc_hz_free(h);
}

static void test_looks_like_counts(void)
{
    static const double counts[] = {0, 3, 0, 1, 0, 0, 7, 0, 2};
    static const double norm[] = {0, 3, 0, 1, 0, 0, 0.5, 0, 2};
    static const double neg[] = {0, 3, 0, -1, 0, 0, 7, 0, 2};
    static const double zero[] = {0, 0, 0, 0, 0, 0};
    sc_mat *m;
    int yes = -1;
    int64_t nz = -1;

    m = csr_from(counts, 3, 3, SC_DT_F32);
    CHECK_INTEQ(hz_looks_like_counts(m, &yes, &nz), 0);
    CHECK_INTEQ(yes, 1);
    CHECK_INTEQ(nz, 4);
    sc_mat_free(m);
    m = csr_from(norm, 3, 3, SC_DT_F32);
    CHECK_INTEQ(hz_looks_like_counts(m, &yes, &nz), 0);
    CHECK_INTEQ(yes, 0);
    sc_mat_free(m);
    m = csr_from(neg, 3, 3, SC_DT_F32);
    CHECK_INTEQ(hz_looks_like_counts(m, &yes, &nz), 0);
    CHECK_INTEQ(yes, 0);
    sc_mat_free(m);
    /* no non-zero value: nothing says counts */
    m = csr_from(zero, 2, 3, SC_DT_F32);
    CHECK_INTEQ(hz_looks_like_counts(m, &yes, &nz), 0);
    CHECK_INTEQ(yes, 0);
    CHECK_INTEQ(nz, 0);
    sc_mat_free(m);
}

static void test_find_counts(void)
{
    static const double counts[] = {1, 0, 2, 0, 4, 1};
    static const double norm[] = {0.5, 0, 1.5, 0, 2.25, 0.5};
    sc_hz_opts o = SC_HZ_OPTS_INIT;
    sc_hz *h = NULL;
    sc_adata *ad = sc_adata_new(2, 3);
    hz_counts_src cs;

    CHECK_INTEQ(sc_hz_new(&o, &h), 0); /* "raw,counts,X" */
    if (!h || !ad)
        return;
    ad->X = sc_elem_new_matrix_take("X", csr_from(norm, 2, 3, SC_DT_F32));
    /* only a normalized X: it is what a --keep-normalized run keeps */
    CHECK_INTEQ(hz_find_counts(h, ad, &cs), 0);
    CHECK(cs.mat_elem == ad->X);
    CHECK(cs.var == ad->var);
    CHECK_INTEQ(cs.is_counts, 0);
    CHECK_STREQ(cs.where, "X");
    /* a counts layer comes before X */
    CHECK_INTEQ(
        sc_elem_add_take(ad->layers,
                         sc_elem_new_matrix_take(
                             "counts", csr_from(counts, 2, 3, SC_DT_I32))),
        0);
    CHECK_INTEQ(hz_find_counts(h, ad, &cs), 0);
    CHECK(cs.mat_elem == sc_elem_get(ad->layers, "counts"));
    CHECK_INTEQ(cs.is_counts, 1);
    CHECK_STREQ(cs.where, "layers/counts");
    sc_hz_free(h);
    /* an order without the layer: X again */
    o.counts_order = "raw,X";
    CHECK_INTEQ(sc_hz_new(&o, &h), 0);
    CHECK_INTEQ(hz_find_counts(h, ad, &cs), 0);
    CHECK_STREQ(cs.where, "X");
    CHECK_INTEQ(cs.is_counts, 0);
    sc_hz_free(h);
    sc_adata_close(ad);
}

/* Input columns 0..4 to output columns: 1 and 3 are one gene (2), 2 is
 * dropped. */
static const int32_t COL5[5] = {2, 0, -1, 2, 1};

static void test_remap_sparse(void)
{
    static const double v[] = {1, 2, 5, 3, 0, /* */ 0, 0, 0, 0, 7};
    sc_mat *m = csr_from(v, 2, 5, SC_DT_F32);
    sc_block b = SC_BLOCK_INIT;
    hz_remap r;
    double dropped = 0;

    CHECK_INTEQ(sc_mat_read_rows(m, 0, 2, &b), 0);
    CHECK_INTEQ(hz_remap_init(&r, COL5, 3), 0);
    hz_remap_row(&r, &b, 0, &dropped);
    CHECK_INTEQ(r.n_touched, 2);
    CHECK_INTEQ(r.touched[0], 0);
    CHECK_INTEQ(r.touched[1], 2);
    CHECK(r.acc[0] == 2);
    CHECK(r.acc[2] == 4);
    CHECK(dropped == 5);
    hz_remap_row(&r, &b, 1, &dropped);
    CHECK_INTEQ(r.n_touched, 1);
    CHECK_INTEQ(r.touched[0], 1);
    CHECK(r.acc[1] == 7);
    CHECK(dropped == 5);
    hz_remap_release(&r);
    sc_block_release(&b);
    sc_mat_free(m);
}

static void test_remap_order(void)
{
    /* 40 entries onto 40 columns in reverse: sorted by qsort; a few out
     * of place: by insertion */
    enum { N = 40 };
    int32_t rev[N], few[N];
    double v[N];
    sc_mat *m;
    sc_block b = SC_BLOCK_INIT;
    hz_remap r;
    double dropped = 0;

    for (int j = 0; j < N; j++) {
        rev[j] = N - 1 - j;
        few[j] = j;
        v[j] = j + 1;
    }
    few[3] = 30;
    few[30] = 3;
    m = csr_from(v, 1, N, SC_DT_F64);
    CHECK_INTEQ(sc_mat_read_rows(m, 0, 1, &b), 0);
    CHECK_INTEQ(hz_remap_init(&r, rev, N), 0);
    hz_remap_row(&r, &b, 0, &dropped);
    CHECK_INTEQ(r.n_touched, N);
    for (int k = 0; k < N; k++) {
        CHECK_INTEQ(r.touched[k], k);
        CHECK(r.acc[k] == N - k);
    }
    hz_remap_release(&r);
    CHECK_INTEQ(hz_remap_init(&r, few, N), 0);
    hz_remap_row(&r, &b, 0, &dropped);
    CHECK_INTEQ(r.n_touched, N);
    for (int k = 0; k < N; k++)
        CHECK_INTEQ(r.touched[k], k);
    CHECK(r.acc[3] == 31);
    CHECK(r.acc[30] == 4);
    CHECK(dropped == 0);
    hz_remap_release(&r);
    sc_block_release(&b);
    sc_mat_free(m);
}

static void test_remap_dense(void)
{
    double *v = malloc(5 * sizeof *v);
    sc_mat *m;
    sc_block b = SC_BLOCK_INIT;
    hz_remap r;
    double dropped = 0;

    v[0] = 1;
    v[1] = 0;
    v[2] = 2.5;
    v[3] = 4;
    v[4] = 6;
    m = sc_mat_new_dense_take(1, 5, v, SC_DT_F64);
    CHECK_INTEQ(sc_mat_read_rows(m, 0, 1, &b), 0);
    CHECK_INTEQ(b.dense, 1);
    CHECK_INTEQ(hz_remap_init(&r, COL5, 3), 0);
    hz_remap_row(&r, &b, 0, &dropped);
    CHECK_INTEQ(r.n_touched, 2); /* the zero of column 1 is skipped */
    CHECK_INTEQ(r.touched[0], 1);
    CHECK_INTEQ(r.touched[1], 2);
    CHECK(r.acc[1] == 6);
    CHECK(r.acc[2] == 5);
    CHECK(dropped == 2.5);
    hz_remap_release(&r);
    sc_block_release(&b);
    sc_mat_free(m);
}

static void test_spill_roundtrip(void)
{
    hz_remap r, d;
    uint8_t *buf = NULL;
    size_t cap = 0, n;

    CHECK_INTEQ(hz_remap_init(&r, COL5, 8), 0);
    CHECK_INTEQ(hz_remap_init(&d, COL5, 8), 0);
    /* counts: two bytes a value after the count */
    r.n_touched = 2;
    r.touched[0] = 0;
    r.touched[1] = 2;
    r.acc[0] = 2;
    r.acc[2] = 4;
    n = hz_spill_encode(&r, &buf, &cap);
    CHECK_INTEQ(n, 5);
    CHECK_INTEQ(buf[0], 2);
    CHECK_INTEQ(buf[1], 1); /* column 0 - (-1) */
    CHECK_INTEQ(buf[2], 4); /* 2 << 1 */
    CHECK_INTEQ(buf[3], 2); /* column 2 - 0 */
    CHECK_INTEQ(buf[4], 8);
    CHECK_INTEQ(hz_spill_decode(&d, buf, n), 0);
    CHECK_INTEQ(d.n_touched, 2);
    CHECK_INTEQ(d.touched[1], 2);
    CHECK(d.acc[0] == 2 && d.acc[2] == 4);
    /* fractions, negatives and huge values as doubles; zero sums left out */
    r.n_touched = 5;
    r.touched[0] = 1;
    r.touched[1] = 3;
    r.touched[2] = 4;
    r.touched[3] = 6;
    r.touched[4] = 7;
    r.acc[1] = 2.5;
    r.acc[3] = 0;
    r.acc[4] = -1;
    r.acc[6] = 5e15;
    r.acc[7] = 300;
    n = hz_spill_encode(&r, &buf, &cap);
    CHECK_INTEQ(n, 1 + 3 * (1 + 1 + 8) + 1 + 2);
    CHECK_INTEQ(hz_spill_decode(&d, buf, n), 0);
    CHECK_INTEQ(d.n_touched, 4);
    CHECK_INTEQ(d.touched[0], 1);
    CHECK_INTEQ(d.touched[1], 4);
    CHECK_INTEQ(d.touched[2], 6);
    CHECK_INTEQ(d.touched[3], 7);
    CHECK(d.acc[1] == 2.5 && d.acc[4] == -1 && d.acc[6] == 5e15 &&
          d.acc[7] == 300);
    /* damaged rows */
    CHECK_INTEQ(hz_spill_decode(&d, buf, n - 1), -1);
    CHECK_INTEQ(hz_spill_decode(&d, buf, 0), -1);
    {
        static const uint8_t too_many[] = {9, 1, 2};
        static const uint8_t past_end[] = {1, 9, 2};

        CHECK_INTEQ(hz_spill_decode(&d, too_many, sizeof too_many), -1);
        CHECK_INTEQ(hz_spill_decode(&d, past_end, sizeof past_end), -1);
    }
    free(buf);
    hz_remap_release(&r);
    hz_remap_release(&d);
}

static void test_median_mad(void)
{
    double odd[] = {100, 2, 3, 1, 4}, even[] = {4, 1, 3, 2}, med, mad;

    hz_median_mad(odd, 5, &med, &mad);
    CHECK(med == 3);
    CHECK(mad == 1);
    hz_median_mad(even, 4, &med, &mad);
    CHECK(med == 2.5);
    CHECK(mad == 1);
    med = mad = -1;
    hz_median_mad(odd, 0, &med, &mad);
    CHECK(med == 0 && mad == 0);
}

static void test_qc_row_direct(void)
{
    /* output 0 mitochondrial, 2 ribosomal (input 0 and 3) */
    static const unsigned grp[3] = {SC_GENE_MT, 0, SC_GENE_RIBO};
    static const double v[] = {1, 2, 5, 3, 0, /* */ 1, 2, 0, -1, 0};
    gene_map gm;
    hz_qc_cols t;
    sc_mat *m = csr_from(v, 2, 5, SC_DT_F32);
    sc_block b = SC_BLOCK_INIT;
    double tot = -1, g[4] = {0, 0, 0, 0}, drop = 0;
    int32_t ng = -1;

    memset(&gm, 0, sizeof gm);
    gm.n_in = 5;
    gm.n_out = 3;
    gm.col = (int32_t *)COL5;
    CHECK_INTEQ(hz_qc_cols_init(&t, &gm, grp), 0);
    CHECK_INTEQ(t.code[0], 1); /* ribo */
    CHECK_INTEQ(t.code[1], 0); /* mt */
    CHECK_INTEQ(t.code[2], 3); /* dropped */
    CHECK_INTEQ(t.code[4], 3); /* none */
    CHECK_INTEQ(t.dup[0], 1);
    CHECK_INTEQ(t.dup[1], 0);
    CHECK_INTEQ(t.dup[3], 1);
    CHECK_INTEQ(sc_mat_read_rows(m, 0, 2, &b), 0);
    CHECK_INTEQ(hz_qc_row_direct(&t, gm.col, &b, 0, 1, &tot, g, &ng, &drop), 0);
    CHECK(tot == 6);
    CHECK_INTEQ(ng, 2); /* the two entries of gene 2 count once */
    CHECK(g[0] == 2 && g[1] == 4 && g[2] == 0 && g[3] == 0);
    CHECK(drop == 5);
    /* a negative value: left to the remapping path */
    tot = -1;
    CHECK_INTEQ(hz_qc_row_direct(&t, gm.col, &b, 1, 2, &tot, g, &ng, &drop), 1);
    CHECK(tot == -1 && drop == 5);
    hz_qc_cols_release(&t);
    sc_block_release(&b);
    sc_mat_free(m);
}

static void qc_fill(hz_qc *q, const int32_t *ng, const float *tot,
                    const float *mt, int64_t n)
{
    memset(q, 0, sizeof *q);
    q->spill_fd = -1;
    q->n = n;
    q->n_genes = malloc((size_t)n * sizeof *q->n_genes);
    q->nnz = malloc((size_t)n * sizeof *q->nnz);
    q->total = malloc((size_t)n * sizeof *q->total);
    q->pct_mt = malloc((size_t)n * sizeof *q->pct_mt);
    q->keep = calloc((size_t)n, 1);
    q->outlier = calloc((size_t)n, 1);
    for (int64_t i = 0; i < n; i++) {
        q->n_genes[i] = q->nnz[i] = ng[i];
        q->total[i] = tot[i];
        q->pct_mt[i] = mt[i];
    }
}

static void test_qc_filter(void)
{
    static const int32_t ng[6] = {0, 1, 50, 52, 48, 51};
    static const float tot[6] = {0, 5, 1000, 1100, 900, 1e6};
    static const float mt[6] = {0, 0, 1, 2, 3, 4};
    sc_hz_opts o = SC_HZ_OPTS_INIT;
    json_t *rep = json_object(), *j;
    hz_qc q;

    o.min_genes = 2;
    o.min_counts = 0;
    o.nmads = 5;
    o.nmads_mt = 3;
    o.max_pct_mt = 0;
    o.remove_outliers = 1;
    qc_fill(&q, ng, tot, mt, 6);
    CHECK_INTEQ(hz_qc_filter(&o, &q, rep), 0);
    CHECK_INTEQ(q.n_low, 2);
    CHECK_INTEQ(q.n_outlier, 1);
    CHECK_INTEQ(q.outlier[5], 1);
    CHECK_INTEQ(q.n_keep, 3);
    CHECK_INTEQ(q.rows[0], 2);
    CHECK_INTEQ(q.rows[1], 3);
    CHECK_INTEQ(q.rows[2], 4);
    CHECK_INTEQ(q.nnz_out, 50 + 52 + 48);
    j = json_object_get(rep, "qc");
    CHECK_INTEQ(json_integer_value(json_object_get(j, "n_cells_out")), 3);
    CHECK_INTEQ(json_integer_value(json_object_get(j, "n_cells_pass")), 4);
    CHECK(json_real_value(json_object_get(j, "median_pct_counts_mt")) == 2.5);
    CHECK(json_real_value(json_object_get(j, "mad_pct_counts_mt")) == 1);
    hz_qc_release(&q);
    CHECK_INTEQ(q.spill_fd, -1);
    /* flagged only; then a percent ceiling flags cell 4 too */
    o.remove_outliers = 0;
    o.max_pct_mt = 2.5;
    qc_fill(&q, ng, tot, mt, 6);
    CHECK_INTEQ(hz_qc_filter(&o, &q, rep), 0);
    CHECK_INTEQ(q.n_outlier, 2);
    CHECK_INTEQ(q.outlier[4], 1);
    CHECK_INTEQ(q.n_keep, 4);
    hz_qc_release(&q);
    /* a MAD of 0 everywhere (the total of cell 2 is off the median, yet
     * all but one are identical) flags nothing */
    {
        static const int32_t ng2[3] = {10, 10, 10};
        static const float tot2[3] = {20, 20, 30}, mt2[3] = {1, 1, 1};

        o.max_pct_mt = 0;
        qc_fill(&q, ng2, tot2, mt2, 3);
        CHECK_INTEQ(hz_qc_filter(&o, &q, rep), 0);
        CHECK_INTEQ(q.n_outlier, 0);
        CHECK_INTEQ(q.n_keep, 3);
        hz_qc_release(&q);
    }
    json_decref(rep);
}

static void test_outmat(void)
{
    static const double v[] = {1,       2, 5, 3, 0, /* */ 0, 0, 0, 0, 7,
                               /* */ 0, 4, 0, 4, 1};
    static const int64_t rows[3] = {2, -1, 0};
    static const float total[3] = {6, 7, 9};
    sc_mat *in = csr_from(v, 3, 5, SC_DT_F32), *m;
    sc_block b = SC_BLOCK_INIT;
    sc_mat_info mi;

    /* rows 2, empty, 0; columns mapped and summed; nnz counted */
    m = hz_outmat_new(in, rows, 3, COL5, 3, NULL, SC_DT_F32, NULL, 0, NULL);
    CHECK(m != NULL);
    if (!m)
        return;
    sc_mat_get_info(m, &mi);
    CHECK_INTEQ(mi.n_rows, 3);
    CHECK_INTEQ(mi.n_cols, 3);
    CHECK_INTEQ(mi.nnz, 3 + 0 + 2);
    CHECK_INTEQ(sc_mat_read_rows(m, 0, 3, &b), 0);
    CHECK_INTEQ(b.indptr[1], 3);
    CHECK_INTEQ(b.indptr[2], 3);
    CHECK_INTEQ(b.indptr[3], 5);
    /* row 2 of the input: 4 in column 0, 4 in column 2, 1 in column 1 */
    CHECK_INTEQ(b.indices[0], 0);
    CHECK_INTEQ(b.indices[1], 1);
    CHECK_INTEQ(b.indices[2], 2);
    CHECK(b.vals[0] == 4 && b.vals[1] == 1 && b.vals[2] == 4);
    CHECK_INTEQ(b.indices[3], 0);
    CHECK_INTEQ(b.indices[4], 2);
    CHECK(b.vals[3] == 2 && b.vals[4] == 4);
    sc_mat_free(m);
    /* normalized: log1p(v / total * target) */
    {
        int32_t nnz[3] = {2, 1, 3};

        m = hz_outmat_new(in, rows, 3, COL5, 3, nnz, SC_DT_F32, total, 10,
                          NULL);
        CHECK(m != NULL);
        CHECK_INTEQ(sc_mat_read_rows(m, 2, 3, &b), 0);
        CHECK_INTEQ(b.indptr[1], 2);
        CHECK(fabs(b.vals[0] - log1p(2.0 / 6 * 10)) < 1e-12);
        CHECK(fabs(b.vals[1] - log1p(4.0 / 6 * 10)) < 1e-12);
        sc_mat_free(m);
    }
    /* increasing rows: read as one span, ahead of time */
    {
        static const int64_t inc[2] = {0, 2};

        m = hz_outmat_new(in, inc, 2, COL5, 3, NULL, SC_DT_F32, NULL, 0, NULL);
        CHECK(m != NULL);
        CHECK_INTEQ(sc_mat_read_rows(m, 0, 1, &b), 0);
        CHECK_INTEQ(b.indptr[1], 2);
        CHECK(b.vals[0] == 2 && b.vals[1] == 4);
        CHECK_INTEQ(sc_mat_read_rows(m, 1, 2, &b), 0);
        CHECK_INTEQ(b.indptr[1], 3);
        CHECK(b.vals[0] == 4 && b.vals[1] == 1 && b.vals[2] == 4);
        sc_mat_free(m);
    }
    sc_block_release(&b);
    sc_mat_free(in);
}

int main(void)
{
    RUN(test_settings);
    RUN(test_looks_like_counts);
    RUN(test_find_counts);
    RUN(test_remap_sparse);
    RUN(test_remap_order);
    RUN(test_remap_dense);
    RUN(test_spill_roundtrip);
    RUN(test_median_mad);
    RUN(test_qc_row_direct);
    RUN(test_qc_filter);
    RUN(test_outmat);
    return UNIT_DONE();
}
