/* sc_harmonize_qc: the QC pass (per-cell numbers, the spill) and the filters.
 */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_genes.h"
#include "sc_harmonize_int.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_progress.h"

/* ------------------------------------------------------------------------ */
/* QC pass                                                                  */

void hz_qc_release(hz_qc *q)
{
    free(q->n_genes);
    free(q->total);
    free(q->pct_mt);
    free(q->pct_ribo);
    free(q->pct_hb);
    free(q->nnz);
    free(q->keep);
    free(q->outlier);
    free(q->rows);
    free(q->spill_len);
    if (q->spill_fd >= 0)
        close(q->spill_fd);
    memset(q, 0, sizeof *q);
    q->spill_fd = -1;
}

/* An unlinked temporary file beside PATH, open for reading and writing,
 * or -1 (with a warning: the writing pass then reads the input again). */
static int spill_open(const char *path)
{
    int fd = sc_io_scratch(path, "spill");
    if (fd < 0) {
        sc_log_warn("%s (the input is read twice)", sc_errmsg());
        sc_err_clear();
        return -1;
    }
    return fd;
}

void hz_qc_cols_release(hz_qc_cols *t)
{
    free(t->code);
    free(t->dup);
    free(t->stamp);
}

int hz_qc_cols_init(hz_qc_cols *t, const gene_map *gm, const unsigned *grp)
{
    int32_t *n_in = calloc((size_t)(gm->n_out ? gm->n_out : 1), sizeof *n_in);

    t->code = malloc((size_t)(gm->n_in ? gm->n_in : 1));
    t->dup = malloc((size_t)(gm->n_in ? gm->n_in : 1));
    t->stamp = malloc((size_t)(gm->n_out ? gm->n_out : 1) * sizeof *t->stamp);
    if (!n_in || !t->code || !t->dup || !t->stamp) {
        free(n_in);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (int64_t j = 0; j < gm->n_in; j++)
        if (gm->col[j] >= 0)
            n_in[gm->col[j]]++;
    for (int64_t c = 0; c < gm->n_out; c++)
        t->stamp[c] = -1;
    for (int64_t j = 0; j < gm->n_in; j++) {
        int32_t o = gm->col[j];

        t->code[j] = o < 0                   ? 3
                     : grp[o] & SC_GENE_MT   ? 0
                     : grp[o] & SC_GENE_RIBO ? 1
                     : grp[o] & SC_GENE_HB   ? 2
                                             : 3;
        t->dup[j] = o >= 0 && n_in[o] > 1;
    }
    free(n_in);
    return 0;
}

/* The QC numbers of row I of B straight from the input entries: the sums
 * need no remapping, and n_genes only a stamp on duplicated columns.
 * Valid for non-negative values (a duplicate's sum is then 0 only if all
 * its entries are): returns 1, without touching *DROP, when the row has a
 * negative value. */
int hz_qc_row_direct(hz_qc_cols *t, const int32_t *col, const sc_block *b,
                     int64_t i, int64_t id, double *tot, double g[4],
                     int32_t *ng, double *drop)
{
    double d = 0, sum = 0;
    int32_t n = 0;
    int neg = 0;

    if (b->dense) {
        const double *v = b->vals + i * b->n_cols;

        for (int64_t j = 0; j < b->n_cols; j++) {
            int32_t o = col[j];

            if (v[j] == 0)
                continue;
            if (o < 0) {
                d += v[j];
                continue;
            }
            neg |= v[j] < 0;
            sum += v[j];
            g[t->code[j]] += v[j];
            if (!t->dup[j])
                n++;
            else if (t->stamp[o] != id) {
                t->stamp[o] = id;
                n++;
            }
        }
    } else {
        for (int64_t k = b->indptr[i]; k < b->indptr[i + 1]; k++) {
            int32_t j = b->indices[k], o = col[j];
            double v = b->vals[k];

            if (o < 0) {
                d += v;
                continue;
            }
            if (v == 0)
                continue;
            neg |= v < 0;
            sum += v;
            g[t->code[j]] += v;
            if (!t->dup[j])
                n++;
            else if (t->stamp[o] != id) {
                t->stamp[o] = id;
                n++;
            }
        }
    }
    if (neg)
        return 1;
    *tot = sum;
    *ng = n;
    *drop += d;
    return 0;
}

/* The QC pass: per-cell numbers into Q; with SPILL_PATH, also the
 * remapped rows into a spill file beside it (see above). */
int hz_qc_pass(sc_mat *m, const gene_map *gm, hz_qc *q, int mode,
               const char *spill_path)
{
    FILE *fp = NULL;
    uint8_t *eb = NULL;
    size_t ecap = 0;
    int spill = 0, spill_bad = 0;
    sc_progress *prog;
    sc_mat_info in;
    hz_prefetch pf;
    sc_block *b = NULL;
    hz_remap r;
    hz_qc_cols t;
    unsigned *grp = NULL;
    int64_t step = hz_block_rows(m), id = 0;
    int rc;

    memset(&t, 0, sizeof t);
    sc_mat_get_info(m, &in);
    q->n = in.n_rows;
    size_t n = (size_t)(q->n ? q->n : 1);

    q->n_genes = malloc(n * sizeof *q->n_genes);
    q->total = malloc(n * sizeof *q->total);
    q->pct_mt = malloc(n * sizeof *q->pct_mt);
    q->pct_ribo = malloc(n * sizeof *q->pct_ribo);
    q->pct_hb = malloc(n * sizeof *q->pct_hb);
    q->nnz = malloc(n * sizeof *q->nnz);
    q->keep = calloc(n, 1);
    q->outlier = calloc(n, 1);
    grp = malloc((size_t)(gm->n_out ? gm->n_out : 1) * sizeof *grp);
    if (!q->n_genes || !q->total || !q->pct_mt || !q->pct_ribo || !q->pct_hb ||
        !q->nnz || !q->keep || !q->outlier || !grp) {
        free(grp);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (int64_t c = 0; c < gm->n_out; c++)
        grp[c] = sc_genes_qc_group(gm->ref, gm->out_gene[c]);
    if ((rc = hz_remap_init(&r, gm->col, gm->n_out)) < 0 ||
        (rc = hz_qc_cols_init(&t, gm, grp)) < 0) {
        hz_remap_release(&r);
        hz_qc_cols_release(&t);
        free(grp);
        return rc;
    }
    if (spill_path && (q->spill_fd = spill_open(spill_path)) >= 0) {
        int fd2 = dup(q->spill_fd);

        q->spill_len = malloc(n * sizeof *q->spill_len);
        fp = fd2 >= 0 ? fdopen(fd2, "wb") : NULL;
        if (!fp && fd2 >= 0)
            close(fd2);
        if (!q->spill_len || !fp ||
            setvbuf(fp, NULL, _IOFBF, (size_t)1 << 22) != 0) {
            sc_log_warn("cannot set up the spill file (the input is read "
                        "twice)");
            if (fp)
                fclose(fp);
            fp = NULL;
            close(q->spill_fd);
            q->spill_fd = -1;
        } else {
            spill = 1;
        }
    }
    hz_prefetch_init(&pf, m);
    prog = sc_progress_new("QC", (uint64_t)in.n_rows, 0, mode);
    sc_progress_set_unit(prog, "cells");
    if (in.n_rows > 0)
        hz_prefetch_start(&pf, 0, step < in.n_rows ? step : in.n_rows);
    for (int64_t r0 = 0; r0 < in.n_rows; r0 += step) {
        int64_t r2 = r0 + 2 * step < in.n_rows ? r0 + 2 * step : in.n_rows;

        if ((rc = hz_prefetch_get(&pf, &b)) < 0)
            break;
        if (r0 + step < in.n_rows)
            hz_prefetch_start(&pf, r0 + step, r2);
        for (int64_t i = 0; i < b->n_rows; i++) {
            double tot = 0, g[4] = {0, 0, 0, 0};
            int32_t ng = 0;

            if (spill || hz_qc_row_direct(&t, gm->col, b, i, ++id, &tot, g, &ng,
                                          &q->sum_dropped)) {
                /* the spill needs the remapped row; and with negative
                 * values, sums of duplicates may cancel out */
                tot = 0;
                ng = 0;
                g[0] = g[1] = g[2] = 0;
                hz_remap_row(&r, b, i, &q->sum_dropped);
                for (int64_t k = 0; k < r.n_touched; k++) {
                    int32_t o = r.touched[k];
                    double v = r.acc[o];

                    tot += v;
                    ng += v != 0;
                    if (grp[o] & SC_GENE_MT)
                        g[0] += v;
                    else if (grp[o] & SC_GENE_RIBO)
                        g[1] += v;
                    else if (grp[o] & SC_GENE_HB)
                        g[2] += v;
                }
            }
            int64_t c = r0 + i;

            if (spill) {
                size_t k = hz_spill_encode(&r, &eb, &ecap);

                if (k == 0) {
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                    break;
                }
                if (k > UINT32_MAX || fwrite(eb, 1, k, fp) != k)
                    spill_bad = 1;
                q->spill_len[c] = (uint32_t)k;
            }
            q->n_genes[c] = ng;
            q->nnz[c] = ng;
            q->total[c] = (float)tot;
            q->pct_mt[c] = tot > 0 ? (float)(100 * g[0] / tot) : 0;
            q->pct_ribo[c] = tot > 0 ? (float)(100 * g[1] / tot) : 0;
            q->pct_hb[c] = tot > 0 ? (float)(100 * g[2] / tot) : 0;
            q->sum_out += tot;
        }
        if (rc < 0)
            break;
        sc_progress_add(prog, (uint64_t)b->n_rows);
    }
    sc_progress_done(prog);
    q->sum_in = q->sum_out + q->sum_dropped;
    if (fp && (fclose(fp) != 0 || spill_bad || rc < 0)) {
        if (rc == 0)
            sc_log_warn("cannot write the spill file: %s (the input is read "
                        "twice)",
                        strerror(errno));
        close(q->spill_fd);
        q->spill_fd = -1;
    }
    free(eb);
    hz_prefetch_release(&pf);
    hz_remap_release(&r);
    hz_qc_cols_release(&t);
    free(grp);
    return rc;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median and MAD of X[0..N). */
void hz_median_mad(double *x, int64_t n, double *med, double *mad)
{
    *med = *mad = 0;
    if (n == 0)
        return;
    qsort(x, (size_t)n, sizeof *x, cmp_dbl);
    *med = n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
    for (int64_t i = 0; i < n; i++)
        x[i] = fabs(x[i] - *med);
    qsort(x, (size_t)n, sizeof *x, cmp_dbl);
    *mad = n % 2 ? x[n / 2] : (x[n / 2 - 1] + x[n / 2]) / 2;
}

/* Filters and MAD outlier flags; fills keep/outlier/rows. */
int hz_qc_filter(const sc_hz_opts *o, hz_qc *q, json_t *rep)
{
    double *x = malloc((size_t)(q->n ? q->n : 1) * sizeof *x);
    double med[3], mad[3];
    int64_t m = 0;

    if (!x)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t c = 0; c < q->n; c++) {
        q->keep[c] = q->n_genes[c] >= o->min_genes &&
                     q->total[c] >= o->min_counts && q->n_genes[c] > 0;
        q->n_low += !q->keep[c];
    }
    for (int k = 0; k < 3; k++) {
        m = 0;
        for (int64_t c = 0; c < q->n; c++)
            if (q->keep[c])
                x[m++] = k == 0   ? log1p(q->total[c])
                         : k == 1 ? log1p(q->n_genes[c])
                                  : q->pct_mt[c];
        hz_median_mad(x, m, &med[k], &mad[k]);
    }
    free(x);
    for (int64_t c = 0; c < q->n; c++) {
        if (!q->keep[c])
            continue;
        double lt = log1p(q->total[c]), lg = log1p(q->n_genes[c]);
        int out = fabs(lt - med[0]) > o->nmads * mad[0] ||
                  fabs(lg - med[1]) > o->nmads * mad[1] ||
                  q->pct_mt[c] - med[2] > o->nmads_mt * mad[2] ||
                  (o->max_pct_mt > 0 && q->pct_mt[c] > o->max_pct_mt);

        /* a MAD of 0 (identical values) flags nothing by itself */
        if (out && mad[0] == 0 && mad[1] == 0 && mad[2] == 0)
            out = o->max_pct_mt > 0 && q->pct_mt[c] > o->max_pct_mt;
        q->outlier[c] = (uint8_t)out;
        q->n_outlier += out;
        if (out && o->remove_outliers)
            q->keep[c] = 0;
    }
    if (!(q->rows = malloc((size_t)(q->n ? q->n : 1) * sizeof *q->rows)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t c = 0; c < q->n; c++)
        if (q->keep[c]) {
            q->rows[q->n_keep++] = c;
            q->nnz_out += q->nnz[c];
        }
    json_t *j = json_object();

    json_object_set_new(j, "n_cells_in", json_integer(q->n));
    json_object_set_new(j, "min_genes_per_cell", json_integer(o->min_genes));
    json_object_set_new(j, "min_counts_per_cell", json_real(o->min_counts));
    json_object_set_new(j, "n_cells_pass", json_integer(q->n - q->n_low));
    json_object_set_new(j, "n_cells_low_quality", json_integer(q->n_low));
    json_object_set_new(j, "n_outliers", json_integer(q->n_outlier));
    json_object_set_new(j, "outliers_removed",
                        json_boolean(o->remove_outliers));
    json_object_set_new(j, "n_cells_out", json_integer(q->n_keep));
    json_object_set_new(j, "median_log1p_total_counts", json_real(med[0]));
    json_object_set_new(j, "mad_log1p_total_counts", json_real(mad[0]));
    json_object_set_new(j, "median_log1p_n_genes", json_real(med[1]));
    json_object_set_new(j, "mad_log1p_n_genes", json_real(mad[1]));
    json_object_set_new(j, "median_pct_counts_mt", json_real(med[2]));
    json_object_set_new(j, "mad_pct_counts_mt", json_real(mad[2]));
    json_object_set_new(rep, "qc", j);
    return 0;
}
