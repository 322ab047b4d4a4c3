/* sc_stream_plan: the sampling plan of an epoch: blocks, their permutation
 * and buffers, or weighted draws of blocks and cells. */
/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_stream_int.h"

/* ------------------------------------------------------------------------ */
/* Sampling plan                                                            */

/* The class key of a cell: its codes in the weight columns, mixed radix. */
static uint64_t class_key(const sc_stream *s, const ss_ds *d, uint32_t row)
{
    uint64_t key = 0;
    for (size_t w = 0; w < s->n_wcol; w++) {
        size_t k = s->wcol[w];
        const ss_col *c = d->vcol[k];
        int32_t code = c ? c->codes[row] : -1;
        int64_t g = code >= 0 ? d->vmap[k][code] : -1;
        key = key * (s->vc[k].n + 1) + (uint64_t)(g + 1);
    }
    return key;
}

/* Cut the selected cells of D into blocks of at least B consecutive cells.
 * When its values are in compressed chunks, a block ends only where a
 * chunk does: it holds the rows that start in the fewest whole chunks with
 * B cells, so that each chunk is inflated once per epoch, not once for
 * each block that touches it (the last row of a block may reach into the
 * next chunk: only that beginning of it is inflated). */
int ss_plan_blocks(ss_ds *d, uint64_t B)
{
    int64_t chunk = d->meta->chunk;
    uint64_t n = (uint64_t)d->n_sel;

    d->n_blk = (n + B - 1) / B;
    if (chunk <= 0 || n == 0)
        return 0;
    if (!(d->bstart = malloc((d->n_blk + 1) * sizeof *d->bstart)))
        return ss_oom();
    uint64_t off = 0, nb = 0, row = 0;
    int64_t last = -1;
    for (uint64_t k = 0; k < n; k++) {
        /* the first entry of the selected row */
        for (; row < d->sel[k]; row++)
            off += d->meta->nnz[row];
        int64_t c = (int64_t)(off / (uint64_t)chunk);
        if (k == 0 || (k - d->bstart[nb - 1] >= B && c != last))
            d->bstart[nb++] = (uint32_t)k;
        last = c;
    }
    d->bstart[nb] = (uint32_t)n;
    d->n_blk = nb;
    return 0;
}

/* Selected cells [*K0, *K1) of block K of dataset D. */
void ss_block_cells(const sc_stream *s, const ss_ds *d, uint64_t k,
                    uint64_t *k0, uint64_t *k1)
{
    uint64_t B = (uint64_t)s->o.block, n = (uint64_t)d->n_sel;
    if (d->bstart) {
        *k0 = d->bstart[k];
        *k1 = d->bstart[k + 1];
    } else {
        *k0 = k * B;
        *k1 = *k0 + B < n ? *k0 + B : n;
    }
}

/* The last I in [0, N) with PREFIX[I] <= X (PREFIX ascending from
 * PREFIX[0] <= X): which run of a prefix-summed sequence holds X. */
uint64_t ss_last_at_most(const uint64_t *prefix, uint64_t n, uint64_t x)
{
    uint64_t lo = 0, hi = n;
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (prefix[mid] <= x)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

/* The dataset holding block BLK of the epoch, and BLK's number in it. */
size_t ss_block_dataset(const sc_stream *s, uint64_t blk, uint64_t *k)
{
    size_t di = (size_t)ss_last_at_most(s->blk_prefix, s->n_ds, blk);
    *k = blk - s->blk_prefix[di];
    return di;
}

/* The blocks of every dataset, numbered through the epoch's blocks. */
static int plan_block_prefix(sc_stream *s)
{
    int rc;

    if (!(s->blk_prefix = malloc((s->n_ds + 1) * sizeof *s->blk_prefix)))
        return ss_oom();
    s->blk_prefix[0] = 0;
    for (size_t i = 0; i < s->n_ds; i++) {
        if ((rc = ss_plan_blocks(&s->ds[i], (uint64_t)s->o.block)) < 0)
            return rc;
        s->blk_prefix[i + 1] = s->blk_prefix[i] + s->ds[i].n_blk;
    }
    s->n_blocks = s->blk_prefix[s->n_ds];
    return 0;
}

int ss_plan_epoch(sc_stream *s)
{
    uint64_t K = (uint64_t)s->o.buffer;
    int rc;

    if ((rc = plan_block_prefix(s)) < 0)
        return rc;
    if (s->o.shuffle && (rc = sc_perm_new(s->n_blocks, s->o.seed, s->o.epoch,
                                          RNG_BLOCKS, &s->perm)) < 0)
        return rc;
    s->n_buffers = (s->n_blocks + K - 1) / K;
    if (!(s->buf_start = malloc((s->n_buffers + 1) * sizeof *s->buf_start)))
        return ss_oom();
    s->buf_start[0] = 0;
    for (uint64_t j = 0; j < s->n_buffers; j++) {
        uint64_t c = 0;
        for (uint64_t b = j * K; b < (j + 1) * K && b < s->n_blocks; b++) {
            uint64_t k, k0, k1;
            size_t di = ss_block_dataset(s, s->perm ? s->perm[b] : b, &k);
            ss_block_cells(s, &s->ds[di], k, &k0, &k1);
            c += k1 - k0;
        }
        s->buf_start[j + 1] = s->buf_start[j] + c;
    }
    return 0;
}

/* The sampling weights of the selected cells of D into W (n_sel). */
static int cell_weights(const sc_stream *s, const ss_ds *d, const sc_u64map *cm,
                        double *w)
{
    const sc_stream_opts *o = &s->o;
    const ss_col *cw = NULL;
    double *cwv = NULL;

    if (o->cell_weight && strcmp(o->cell_weight, "nnz")) {
        if (!(cw = ss_meta_col(d->meta, o->cell_weight)))
            return sc_fail(SC_EINVAL,
                           "'%s': no obs column '%s' for cell weights", d->path,
                           o->cell_weight);
        if (!(cwv = malloc((cw->n_cats + 1) * sizeof *cwv)))
            return ss_oom();
        for (int64_t k = 0; k < cw->n_cats; k++) {
            char *end;
            double v = strtod(cw->cats[k], &end);
            cwv[k] =
                end != cw->cats[k] && !*end && v > 0 && isfinite(v) ? v : 0;
        }
    }
    for (int64_t j = 0; j < d->n_sel; j++) {
        uint32_t row = d->sel[j];
        double x = o->dataset_weights ? d->weight : 1.0;
        if (s->n_wcol) {
            const int64_t *c = sc_u64map_find(cm, class_key(s, d, row));
            x *= sc_weight_class(o->weight_scheme, c ? (double)*c : 1,
                                 o->weight_scaler);
        }
        if (cw) {
            int32_t code = cw->codes[row];
            x *= code >= 0 ? cwv[code] : 0;
        } else if (o->cell_weight) {
            x *= sc_weight_nnz(d->meta->nnz[row]);
        }
        w[j] = x;
    }
    free(cwv);
    return 0;
}

/*
 * Weighted sampling draws a block by its mass (the sum of its cells'
 * weights), then cells inside it by their weights: a draw is cell i with
 * probability (mass_b / W) (w_i / mass_b) = w_i / W, exactly as a draw
 * over all cells. Positions come in groups of s->group; the draws of a
 * group share one drawn block when it is in a dataset stored in compressed
 * chunks (its chunks are inflated once for the group, not once per draw),
 * and are drawn independently when the block is in a dataset read row by
 * row (uncompressed, a pack): then each draws a block among those
 * datasets' blocks by mass (probability (W_loose / W) (mass_b / W_loose)
 * (w_i / mass_b) = w_i / W again). Every position has the distribution
 * w / W whatever the group; only draws of one group are not independent.
 */
int ss_plan_weighted(sc_stream *s)
{
    const sc_stream_opts *o = &s->o;
    sc_u64map cm = {0};
    double *w = NULL, *mass = NULL, gsum = 0, gmass = 0;
    uint64_t n_loose = 0;
    int rc = 0;
    double radix = 1;

    for (size_t k = 0; k < s->n_wcol; k++)
        radix *= (double)(s->vc[s->wcol[k]].n + 1);
    if (radix > 1.8e19)
        return sc_fail(SC_EINVAL, "too many class combinations in the "
                                  "weight columns");
    if ((rc = plan_block_prefix(s)) < 0)
        return rc;
    if (s->n_wcol)
        for (size_t i = 0; i < s->n_ds; i++)
            for (int64_t j = 0; j < s->ds[i].n_sel; j++) {
                int64_t *c;
                int added;
                if ((rc = sc_u64map_slot(
                         &cm, class_key(s, &s->ds[i], s->ds[i].sel[j]), 0, &c,
                         &added)) < 0)
                    goto out;
                (*c)++;
            }
    if (!(mass = calloc(s->n_blocks ? s->n_blocks : 1, sizeof *mass))) {
        rc = ss_oom();
        goto out;
    }
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ss_ds *d = &s->ds[i];
        if (!d->n_sel)
            continue;
        free(w);
        if (!(w = malloc((size_t)d->n_sel * sizeof *w)) ||
            !(d->cum = malloc((size_t)d->n_sel * sizeof *d->cum))) {
            rc = ss_oom();
            break;
        }
        if ((rc = cell_weights(s, d, &cm, w)) < 0)
            break;
        d->mass = 0;
        for (uint64_t k = 0; k < d->n_blk; k++) {
            uint64_t k0, k1;
            double m = 0;
            ss_block_cells(s, d, k, &k0, &k1);
            for (uint64_t j = k0; j < k1; j++) {
                if (!(w[j] >= 0) || !isfinite(w[j])) {
                    rc = sc_fail(SC_EINVAL,
                                 "'%s': row %" PRIu32
                                 ": weight is not a finite number >= 0",
                                 d->path, d->sel[j]);
                    goto out;
                }
                d->cum[j] = m += w[j];
            }
            mass[s->blk_prefix[i] + k] = m;
            d->mass += m;
            if (d->bstart) {
                gsum += m * (double)(k1 - k0);
                gmass += m;
            } else if (m > 0) {
                n_loose++;
            }
        }
    }
    if (rc < 0)
        goto out;
    double total = 0;
    for (size_t i = 0; i < s->n_ds; i++)
        total += s->ds[i].mass;
    if (!(total > 0)) {
        rc = sc_fail(SC_EINVAL, "all sampling weights are zero");
        goto out;
    }
    if ((rc = sc_alias_new(mass, s->n_blocks, &s->top)) < 0)
        goto out;
    if (n_loose) { /* the blocks of unchunked datasets, by mass */
        uint64_t n = 0;
        if (!(s->loose_blk = malloc(n_loose * sizeof *s->loose_blk))) {
            rc = ss_oom();
            goto out;
        }
        for (size_t i = 0; i < s->n_ds; i++)
            for (uint64_t k = 0; !s->ds[i].bstart && k < s->ds[i].n_blk; k++)
                if (mass[s->blk_prefix[i] + k] > 0) {
                    s->loose_blk[n] = s->blk_prefix[i] + k;
                    mass[n++] = mass[s->blk_prefix[i] + k];
                }
        if ((rc = sc_alias_new(mass, n, &s->loose)) < 0)
            goto out;
    }
    /* draws per block: the cells of a drawn chunked block, on average */
    s->group = o->block_draws > 0 ? (uint64_t)o->block_draws
               : gmass > 0        ? (uint64_t)llround(gsum / gmass)
                                  : 1;
    if (s->group < 1)
        s->group = 1;
out:
    free(w);
    free(mass);
    sc_u64map_release(&cm);
    return rc;
}

/* The selected cell of block K of D that the uniform 64 bits U pick by
 * weight: the first whose running sum exceeds U's share of the mass. */
static uint64_t draw_in_block(const sc_stream *s, const ss_ds *d, uint64_t k,
                              uint64_t u)
{
    uint64_t k0, k1;
    ss_block_cells(s, d, k, &k0, &k1);
    double m = d->cum[k1 - 1];
    double x = (double)(u >> 11) * 0x1p-53 * m;
    if (!(x < m))
        x = nextafter(m, 0);
    uint64_t lo = k0, hi = k1 - 1; /* cum[hi] > x */
    while (lo < hi) {
        uint64_t mid = lo + (hi - lo) / 2;
        if (d->cum[mid] > x)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* The cell (dataset << 32 | row) of weighted position P. */
uint64_t ss_weighted_cell(const sc_stream *s, uint64_t p)
{
    uint64_t kb = sc_rng_key(s->o.seed, s->o.epoch, RNG_DRAWS);
    uint64_t kc = sc_rng_key(s->o.seed, s->o.epoch, RNG_CELLS);
    uint64_t g = p / s->group, k;
    uint64_t b =
        sc_alias_draw2(s->top, sc_rng_at(kb, 2 * g), sc_rng_at(kb, 2 * g + 1));
    size_t di = ss_block_dataset(s, b, &k);
    if (!s->ds[di].bstart && s->group > 1) {
        b = s->loose_blk[sc_alias_draw2(s->loose, sc_rng_at(kc, 3 * p),
                                        sc_rng_at(kc, 3 * p + 1))];
        di = ss_block_dataset(s, b, &k);
    }
    const ss_ds *d = &s->ds[di];
    uint64_t c = draw_in_block(s, d, k, sc_rng_at(kc, 3 * p + 2));
    return (uint64_t)di << 32 | d->sel[c];
}
