/* sc_harmonize_counts: where the raw counts are, and reading them in row
 * blocks. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "sc_harmonize_int.h"
#include "sc_log.h"

/* Values looked at per window when checking for integer counts. */
#define SAMPLE_VALUES 200000
/* Values per row block read in the QC pass. */
#define BLOCK_VALUES (1 << 20)

/* ------------------------------------------------------------------------ */
/* Raw counts                                                               */

/* Whether M holds non-negative integers, from up to three windows of rows
 * (start, middle, end) of about SAMPLE_VALUES values each. *N_NZ counts
 * the non-zero values seen. */
int hz_looks_like_counts(sc_mat *m, int *yes, int64_t *n_nz)
{
    sc_mat_info in;
    sc_block b = SC_BLOCK_INIT;
    int64_t rows, starts[3];
    int rc = 0;

    sc_mat_get_info(m, &in);
    *yes = 1;
    *n_nz = 0;
    if (in.n_rows == 0 || in.n_cols == 0)
        return 0;
    rows = in.nnz > 0 ? (int64_t)((double)SAMPLE_VALUES * (double)in.n_rows /
                                  (double)in.nnz)
                      : in.n_rows;
    rows = rows < 1 ? 1 : rows > in.n_rows ? in.n_rows : rows;
    starts[0] = 0;
    starts[1] = (in.n_rows - rows) / 2;
    starts[2] = in.n_rows - rows;
    for (int w = 0; w < 3 && *yes; w++) {
        if (w && starts[w] <= starts[w - 1])
            continue;
        if ((rc = sc_mat_read_rows(m, starts[w], starts[w] + rows, &b)) < 0)
            break;
        int64_t k = sc_block_nnz(&b);

        for (int64_t i = 0; i < k; i++) {
            double v = b.vals[i];

            if (v == 0)
                continue;
            (*n_nz)++;
            if (!(v > 0) || v != floor(v)) {
                *yes = 0;
                break;
            }
        }
    }
    sc_block_release(&b);
    if (*n_nz == 0)
        *yes = 0;
    return rc;
}

int hz_find_counts(sc_hz *h, sc_adata *ad, hz_counts_src *cs)
{
    const char *p = h->o.counts_order;
    int rc;

    memset(cs, 0, sizeof *cs);
    while (*p) {
        size_t n = strcspn(p, ",");
        char tok[64];
        sc_elem *m = NULL, *var = ad->var;
        int yes;
        int64_t nz;

        snprintf(tok, sizeof tok, "%.*s", (int)n, p);
        p += n + (p[n] == ',');
        if (strcmp(tok, "raw") == 0 || strcmp(tok, "raw/X") == 0) {
            if (ad->raw && (m = sc_elem_get(ad->raw, "X"))) {
                sc_elem *rv = sc_elem_get(ad->raw, "var");

                var = rv ? rv : ad->var;
                snprintf(tok, sizeof tok, "raw/X");
            }
        } else if (strcmp(tok, "X") == 0) {
            m = ad->X;
        } else {
            char name[64];

            snprintf(name, sizeof name, "%s",
                     strncmp(tok, "layers/", 7) == 0 ? tok + 7 : tok);
            m = ad->layers ? sc_elem_get(ad->layers, name) : NULL;
            snprintf(tok, sizeof tok, "layers/%.50s", name);
        }
        if (!m || m->kind != SC_K_MATRIX || !m->mat)
            continue;
        if ((rc = hz_looks_like_counts(m->mat, &yes, &nz)) < 0)
            return sc_fail_ctx(rc, "%s", tok);
        sc_log_debug("%s: %s (%lld non-zeros sampled)", tok,
                     yes ? "counts" : "not counts", (long long)nz);
        if (!cs->mat_elem || (yes && !cs->is_counts)) {
            cs->mat_elem = m;
            cs->var = var;
            cs->is_counts = yes;
            snprintf(cs->where, sizeof cs->where, "%s", tok);
        }
        if (yes)
            break;
    }
    /* no counts anywhere: X is what a --keep-normalized run keeps */
    if (!cs->is_counts && ad->X && ad->X->mat) {
        cs->mat_elem = ad->X;
        cs->var = ad->var;
        snprintf(cs->where, sizeof cs->where, "X");
    }
    return 0;
}

int64_t hz_block_rows(sc_mat *m)
{
    sc_mat_info in;
    int64_t rows;

    sc_mat_get_info(m, &in);
    if (in.fmt == SC_MAT_CSR || in.fmt == SC_MAT_CSC)
        rows = in.nnz > 0 ? (int64_t)((double)BLOCK_VALUES * (double)in.n_rows /
                                      (double)in.nnz)
                          : in.n_rows;
    else
        rows = in.n_cols > 0 ? BLOCK_VALUES / in.n_cols : in.n_rows;
    return rows < 1 ? 1 : rows;
}

/* ---- reading row blocks one ahead, in a helper thread ---- */

void hz_prefetch_init(hz_prefetch *p, sc_mat *m)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->r0 = p->r1 = -1;
    p->b[0] = (sc_block)SC_BLOCK_INIT;
    p->b[1] = (sc_block)SC_BLOCK_INIT;
}

static void prefetch_task(void *arg)
{
    hz_prefetch *p = arg;

    p->rc = sc_mat_read_rows(p->m, p->r0, p->r1, &p->b[p->cur ^ 1]);
    if (p->rc < 0)
        snprintf(p->err, sizeof p->err, "%s", sc_errmsg());
}

/* Start reading rows [R0, R1) (on the background pool, or now when it
 * cannot be made). */
void hz_prefetch_start(hz_prefetch *p, int64_t r0, int64_t r1)
{
    p->r0 = r0;
    p->r1 = r1;
    if (!p->pool && sc_pool_background(&p->pool) < 0) {
        sc_err_clear();
        prefetch_task(p);
        return;
    }
    sc_pool_submit(p->pool, prefetch_task, p);
}

/* Wait for the rows started (none: a no-op). */
static void prefetch_wait(hz_prefetch *p)
{
    if (p->pool)
        sc_pool_wait(p->pool);
}

/* Wait for the rows started, then *B is their block (valid until the next
 * hz_prefetch_get). */
int hz_prefetch_get(hz_prefetch *p, sc_block **b)
{
    prefetch_wait(p);
    if (p->rc < 0)
        return sc_fail(p->rc, "%s", p->err);
    p->cur ^= 1;
    *b = &p->b[p->cur];
    return 0;
}

/* Wait for the rows started and forget them. */
void hz_prefetch_cancel(hz_prefetch *p)
{
    prefetch_wait(p);
    p->rc = 0;
    p->r0 = p->r1 = -1;
}

void hz_prefetch_release(hz_prefetch *p)
{
    sc_pool_free(p->pool); /* waits for the rows started */
    p->pool = NULL;
    sc_block_release(&p->b[0]);
    sc_block_release(&p->b[1]);
}
