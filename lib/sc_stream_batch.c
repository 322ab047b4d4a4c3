/* sc_stream_batch: batches cut from the filled buffers: transforms, gene
 * selection, labels, mixing counts, and direct copies from packs. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_stream_int.h"

/* ------------------------------------------------------------------------ */
/* Batches                                                                  */

static int cmp_pair_val_desc(const void *a, const void *b)
{
    const pair *x = a, *y = b;
    if (x->val != y->val)
        return x->val < y->val ? 1 : -1;
    return (x->col > y->col) - (x->col < y->col);
}

static int batch_grow(sc_stream *s, sc_batch *b, size_t nnz)
{
    if (nnz <= s->bcap_nnz && b->indices)
        return 0;
    size_t cap = s->bcap_nnz ? s->bcap_nnz : 65536;
    while (cap < nnz)
        cap *= 2;
    int rc = sc_batch_reserve(b, (size_t)s->o.batch_size, cap, s->n_labels);
    if (rc == 0)
        s->bcap_nnz = cap;
    return rc;
}

/* The header dataset of row ROW of D. */
static int32_t cell_dataset(const ss_ds *d, uint32_t row)
{
    return (int32_t)d->dbase + (d->pa ? d->pa->dataset[row] : 0);
}

/* Cell I of B is row ROW of D: its dataset, row and labels. Returns the
 * dataset. */
static int32_t cell_meta(const sc_stream *s, const ss_ds *d, uint32_t row,
                         sc_batch *b, uint32_t i)
{
    b->dataset[i] = cell_dataset(d, row);
    b->row[i] = d->pa ? d->pa->row[row] : row;
    for (size_t k = 0; k < s->n_labels; k++) {
        const ss_col *c = d->vcol[k];
        int32_t code = c ? c->codes[row] : -1;
        b->labels[k * b->n_cells + i] = code >= 0 ? d->vmap[k][code] : -1;
    }
    return b->dataset[i];
}

/* Transform the entries of one cell (in s->tmp, N of them) and append them
 * to B as cell I. */
int ss_emit_cell(sc_stream *s, sc_batch *b, uint32_t i, pair *t, size_t n,
                 double depth, uint64_t g)
{
    const sc_stream_opts *o = &s->o;
    int rc;

    if (o->normalize > 0 && depth > 0)
        for (size_t k = 0; k < n; k++)
            t[k].val = (float)(t[k].val * (o->normalize / depth));
    if (o->log1p)
        for (size_t k = 0; k < n; k++)
            t[k].val = (float)log1p(t[k].val);
    if (b->layout == SC_BATCH_DENSE) {
        size_t G = s->n_out_genes, off = (size_t)i * G;
        if ((rc = batch_grow(s, b, off + G)) < 0)
            return rc;
        memset(b->values + off, 0, G * sizeof *b->values);
        for (size_t k = 0; k < n; k++)
            b->values[off + (size_t)t[k].col] = t[k].val;
        b->nnz = off + G;
        return 0;
    }
    if (b->layout == SC_BATCH_PADDED) {
        size_t L = (size_t)o->max_len, off = (size_t)i * L;
        if ((rc = batch_grow(s, b, off + L)) < 0)
            return rc;
        size_t take = n < L ? n : L;
        if (o->select == SC_STREAM_SEL_TOP && n > 1) {
            qsort(t, n, sizeof *t, cmp_pair_val_desc);
        } else if (n > L) {
            /* the first L of a partial Fisher-Yates shuffle */
            sc_rng r;
            sc_rng_init(&r, o->seed, o->epoch, RNG_GENES + (g << 8));
            for (size_t k = 0; k < L; k++) {
                size_t j = k + (size_t)sc_rng_below(&r, n - k);
                pair x = t[k];
                t[k] = t[j];
                t[j] = x;
            }
        }
        for (size_t k = 0; k < L; k++) {
            b->indices[off + k] = k < take ? t[k].col : -1;
            b->values[off + k] = k < take ? t[k].val : 0;
        }
        b->nnz = off + L;
        return 0;
    }
    if ((rc = batch_grow(s, b, b->nnz + n)) < 0)
        return rc;
    for (size_t k = 0; k < n; k++) {
        b->indices[b->nnz + k] = t[k].col;
        b->values[b->nnz + k] = t[k].val;
    }
    b->nnz += n;
    b->indptr[i + 1] = (int64_t)b->nnz;
    return 0;
}

/* Mixing: the rank's Q-th cell, in the batch being cut, is from header
 * dataset DOUT (padding cells do not count). */
static void mix_cell(sc_stream *s, uint64_t q, int32_t dout, uint32_t *distinct)
{
    if (q < s->n_r && s->stamp[dout] != s->next_batch + 1) {
        s->stamp[dout] = s->next_batch + 1;
        (*distinct)++;
    }
}

/* The batch is cut, with cells of DISTINCT datasets. */
static void batch_done(sc_stream *s, uint32_t distinct)
{
    s->mix_sum += distinct;
    s->mix_batches++;
    s->next_batch++;
}

/* The epoch position of the rank's Q-th cell: past its share (padding),
 * the rank's cells again from its start. */
uint64_t ss_position(const sc_stream *s, uint64_t q)
{
    if (q < s->n_r)
        return s->lo + q;
    /* a rank with no cell of its own (more ranks than cells) pads from the
     * start of the epoch */
    return s->n_r ? s->lo + (q - s->n_r) % s->n_r : q % s->N;
}

/* B's fields for the next batch, no cell in it yet. */
static void batch_start(const sc_stream *s, sc_batch *b)
{
    b->index = s->next_batch;
    b->n_cells = (uint32_t)s->o.batch_size;
    b->n_pad = 0;
    b->nnz = 0;
    b->n_labels = (uint32_t)s->n_labels;
    b->layout = s->h.layout;
    b->row_len = s->h.row_len;
}

/* Cell I of the batch being cut into B is the rank's *Q-th: make the
 * buffer holding it current, its place there into *POS (padding counted
 * in B). */
static int batch_cell(sc_stream *s, sc_batch *b, uint32_t i, uint64_t *q,
                      size_t *pos)
{
    int rc;
    *q = s->next_batch * b->n_cells + i;
    uint64_t g = ss_position(s, *q);
    b->n_pad += *q >= s->n_r;
    if ((rc = ss_ensure_buffer(s, g)) < 0)
        return rc;
    *pos = (size_t)(g - s->buf[s->cur].lo);
    return 0;
}

/* Direct batches (s->direct): the cells of the next batch into s->dcell,
 * and the batch's sizes into B. */
static int direct_plan(sc_stream *s, sc_batch *b)
{
    uint64_t bs = (uint64_t)s->o.batch_size;
    uint32_t distinct = 0;
    int rc;

    if (s->dcap < bs) {
        free(s->dcell);
        if (!(s->dcell = malloc(bs * sizeof *s->dcell)))
            return ss_oom();
        s->dcap = bs;
    }
    batch_start(s, b);
    for (uint32_t i = 0; i < bs; i++) {
        uint64_t q;
        size_t pos;
        if ((rc = batch_cell(s, b, i, &q, &pos)) < 0)
            return rc;
        uint64_t cell = s->buf[s->cur].cell[pos];
        const ss_ds *d = &s->ds[cell >> 32];
        uint32_t row = (uint32_t)cell;
        s->dcell[i] = cell;
        b->nnz += (uint64_t)(d->pa->indptr[row + 1] - d->pa->indptr[row]);
        mix_cell(s, q, cell_dataset(d, row), &distinct);
    }
    batch_done(s, distinct);
    return 0;
}

/* Cells [A, E) of a direct batch copied from their packs into B (whose
 * indptr is filled). */
struct dfill {
    const sc_stream *s;
    sc_batch *b;
    uint32_t a, e;
    sc_pack_buf *pbuf;
    int rc;
};

static void direct_copy(void *arg)
{
    struct dfill *J = arg;
    const sc_stream *s = J->s;
    sc_batch *b = J->b;
    for (uint32_t i = J->a; i < J->e; i++) {
        const ss_ds *d = &s->ds[s->dcell[i] >> 32];
        uint32_t row = (uint32_t)s->dcell[i];
        int64_t at = b->indptr[i];
        if ((J->rc =
                 sc_pack_cells(d->pack, row, (uint64_t)row + 1, s->o.pack_pread,
                               J->pbuf, b->indices + at, b->values + at)) < 0)
            return;
        cell_meta(s, d, row, b, i);
    }
}

/* Copy the cells s->dcell of a planned batch from their packs into B:
 * with -@ N, N parts of about equal entries copied at once. */
static int direct_fill(const sc_stream *s, sc_batch *b)
{
    struct dfill job[SS_RAW_PARTS];
    int W = s->rpool ? s->o.threads : 1;

    b->indptr[0] = 0;
    for (uint32_t i = 0; i < b->n_cells; i++) {
        const ss_ds *d = &s->ds[s->dcell[i] >> 32];
        uint32_t row = (uint32_t)s->dcell[i];
        b->indptr[i + 1] =
            b->indptr[i] + (d->pa->indptr[row + 1] - d->pa->indptr[row]);
    }
    if (W > SS_RAW_PARTS)
        W = SS_RAW_PARTS;
    uint32_t a = 0;
    for (int w = 0; w < W; w++) {
        int64_t target = (int64_t)((b->nnz * (uint64_t)(w + 1)) / (uint64_t)W);
        uint32_t e = a;
        while (e < b->n_cells && (b->indptr[e] < target || w == W - 1))
            e++;
        job[w] = (struct dfill){s, b, a, e, &s->dbuf[w], 0};
        a = e;
    }
    for (int w = 1; w < W; w++)
        sc_pool_submit(s->rpool, direct_copy, &job[w]);
    direct_copy(&job[0]);
    if (W > 1)
        sc_pool_wait(s->rpool);
    for (int w = 0; w < W; w++) {
        if (job[w].rc < 0 && w > 0) /* again here, for this thread's message */
            direct_copy(&job[w]);
        if (job[w].rc < 0)
            return job[w].rc;
    }
    return 0;
}

/* The planned batch V (sizes only) filled into B, the caller's own. */
static int direct_own(sc_stream *s, sc_batch *b, const sc_batch *v)
{
    int rc;
    if ((rc = batch_grow(s, b, (size_t)v->nnz)) < 0 ||
        (rc = sc_batch_reserve(b, v->n_cells, s->bcap_nnz, s->n_labels)) < 0)
        return rc;
    b->index = v->index;
    b->n_cells = v->n_cells;
    b->n_pad = v->n_pad;
    b->nnz = v->nnz;
    b->n_labels = v->n_labels;
    b->layout = v->layout;
    b->row_len = v->row_len;
    return direct_fill(s, b);
}

int sc_stream_write_next(sc_stream *s, sc_batch *b, sc_batch_writer *w)
{
    int rc;

    if (!s->direct) {
        if ((rc = sc_stream_next(s, b)) <= 0)
            return rc;
        return (rc = sc_batch_write(w, b)) < 0 ? rc : 1;
    }
    if (s->next_batch >= s->nb)
        return 0;
    sc_batch v = SC_BATCH_INIT;
    if ((rc = direct_plan(s, &v)) < 0)
        return rc;
    if ((rc = sc_batch_writer_claim(w, &v)) == SC_EUNSUP) {
        /* a text writer: through B */
        if ((rc = direct_own(s, b, &v)) < 0 || (rc = sc_batch_write(w, b)) < 0)
            return rc;
        return 1;
    }
    if (rc < 0)
        return rc;
    if ((rc = direct_fill(s, &v)) < 0 ||
        (rc = sc_batch_writer_commit(w, &v)) < 0)
        return rc;
    return 1;
}

int sc_stream_next(sc_stream *s, sc_batch *b)
{
    uint64_t bs = (uint64_t)s->o.batch_size;
    uint32_t distinct = 0;
    int rc;

    if (s->next_batch >= s->nb)
        return 0;
    if (s->direct) {
        sc_batch v = SC_BATCH_INIT;
        if ((rc = direct_plan(s, &v)) < 0 || (rc = direct_own(s, b, &v)) < 0)
            return rc;
        return 1;
    }
    if ((rc = batch_grow(s, b, 0)) < 0 ||
        (rc = sc_batch_reserve(b, (size_t)bs, s->bcap_nnz, s->n_labels)) < 0)
        return rc;
    batch_start(s, b);
    b->indptr[0] = 0;
    for (uint32_t i = 0; i < bs; i++) {
        uint64_t q;
        size_t pos;
        if ((rc = batch_cell(s, b, i, &q, &pos)) < 0)
            return rc;
        const sbuf *u = &s->buf[s->cur];
        uint64_t cell = u->cell[pos];
        int64_t di = (int64_t)(cell >> 32);
        uint32_t row = (uint32_t)cell;
        const ss_ds *d = &s->ds[di];
        size_t n = u->clen[pos];
        /* the transforms change entries in place: on a copy, since a
         * padding cell may use the same entries again */
        pair *t = (u->cpool[pos] ? u->part[u->cpool[pos] - 1].pool : u->pool) +
                  u->coff[pos];
        if (s->o.normalize > 0 || s->o.log1p ||
            s->o.select != SC_STREAM_SEL_ALL) {
            if (n > s->tmp_cap) {
                pair *p = realloc(s->tmp, n * sizeof *p);
                if (!p)
                    return ss_oom();
                s->tmp = p;
                s->tmp_cap = n;
            }
            if (n)
                memcpy(s->tmp, t, n * sizeof *s->tmp);
            t = s->tmp;
        }
        if ((rc = ss_emit_cell(s, b, i, t, n, u->cdepth[pos],
                               ss_position(s, q))) < 0)
            return rc;
        mix_cell(s, q, cell_meta(s, d, row, b, i), &distinct);
    }
    batch_done(s, distinct);
    return 1;
}
