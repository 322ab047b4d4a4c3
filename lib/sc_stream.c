/* sc_stream: many datasets as one shuffled, weighted, sharded stream of cell
 * batches (the engine of sc-stream). */
/* SPDX-License-Identifier: MIT */
#include "sc_stream.h"
#include "sc_split.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "sc_log.h"
#include "sc_pack.h"
#include "sc_pool.h"
#include "sc_sample.h"
#include "sc_stream_int.h"

/*
 * How it works, in four stages that share nothing but read-only state:
 *
 *   plan    positions 0..N-1 of the epoch -> (dataset, row): a pure function
 *           of (seed, epoch) through the block permutation (ss_plan_epoch) or
 *           the draws of blocks by weight and of cells inside them
 *           (ss_plan_weighted, ss_weighted_cell); a rank owns a range;
 *   fill    buffer j (positions buffer_range(j)): list its cells, sort them
 *           by (dataset, row), read runs of nearby rows through the
 *           open-file cache, remap genes (load_buffer, ss_take_row);
 *   cut     batches take positions in order from the filled buffer and
 *           apply the transforms (sc_stream_next, ss_emit_cell);
 *   write   sc_batch_writer (binary frames or text) in the tool.
 *
 * This file opens a stream (options, datasets, header) and closes it; the
 * stages have a file each, and sc_stream_int.h declares what they share:
 *
 *   sc_stream_select.c  filters, the selected rows, label vocabularies
 *   sc_stream_genes.c   the output gene space and each dataset's gene map
 *   sc_stream_plan.c    plan: blocks, their permutation, weighted draws
 *   sc_stream_fill.c    fill: buffers read, remapped, prefetched
 *   sc_stream_batch.c   cut: batches and their transforms, direct copies
 *   sc_stream_index.c   the per-dataset index and its cache; sources
 *   sc_stream_vtab.c    the interned var lists, the cache entries' buffers
 *   sc_stream_raw.c     row blocks by pread + libdeflate
 *
 * Fills of different buffers are independent, so the pipeline can keep a
 * ring of filled buffers (today: one prefetched on the pool with -@ 2),
 * and the read in ss_take_row's caller is the one place that knows about
 * files: raw chunk reads with libdeflate or pread of contiguous datasets
 * replace sc_mat_read_rows there, and a shared-memory ring is another
 * sc_batch writer.
 */

void sc_stream_opts_init(sc_stream_opts *o)
{
    memset(o, 0, sizeof *o);
    o->matrix = "X";
    o->weight_scheme = SC_WEIGHT_SCALER;
    o->weight_scaler = 10;
    o->shuffle = 1;
    o->block = 16;
    o->buffer = 256;
    o->batch_size = 256;
    o->world_size = 1;
    o->max_len = 1000;
}

int sc_stream_default_cache(char *buf, size_t size)
{
    const char *e;
    int n;
    if ((e = getenv("SC_STREAM_CACHE")) && *e)
        n = snprintf(buf, size, "%s", e);
    else if ((e = getenv("XDG_CACHE_HOME")) && *e)
        n = snprintf(buf, size, "%s/sc/stream", e);
    else if ((e = getenv("HOME")) && *e)
        n = snprintf(buf, size, "%s/.cache/sc/stream", e);
    else
        return SC_ENOTFOUND;
    return n > 0 && (size_t)n < size ? 0 : SC_ENOTFOUND;
}

int ss_oom(void)
{
    return sc_fail(SC_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Opening                                                                  */

/* Add NAME to the list unless there; returns its index or SC_ENOMEM. */
static int add_name(const char ***v, size_t *n, const char *name)
{
    for (size_t i = 0; i < *n; i++)
        if (!strcmp((*v)[i], name))
            return (int)i;
    const char **p = realloc(*v, (*n + 1) * sizeof *p);
    if (!p)
        return ss_oom();
    p[*n] = name;
    *v = p;
    return (int)(*n)++;
}

static int max_open_files(int want)
{
    struct rlimit rl;
    if (want > 0)
        return want;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY)
        return 64;
    /* HDF5 holds one descriptor per file; leave room for the rest */
    long n = ((long)rl.rlim_cur - 32) / 2;
    return n < 4 ? 4 : n > 128 ? 128 : (int)n;
}

static int check_opts(const sc_stream_opts *o)
{
    if (o->n_inputs == 0)
        return sc_fail(SC_EINVAL, "no datasets");
    if (o->block < 1 || o->buffer < 1 || o->batch_size < 1)
        return sc_fail(SC_EINVAL, "block, buffer and batch size must be "
                                  "positive");
    if (o->world_size < 1 || o->rank < 0 || o->rank >= o->world_size)
        return sc_fail(SC_EINVAL, "rank %" PRId64 " is not in [0, %" PRId64 ")",
                       o->rank, o->world_size);
    if (o->start_batch < 0)
        return sc_fail(SC_EINVAL, "negative start batch");
    if (o->select != SC_STREAM_SEL_ALL && o->max_len < 1)
        return sc_fail(SC_EINVAL, "gene selection needs a positive length");
    if (o->select != SC_STREAM_SEL_ALL && o->dense)
        return sc_fail(SC_EINVAL, "dense output and gene selection exclude "
                                  "each other");
    return 0;
}

static int make_header(sc_stream *s)
{
    sc_batch_header *h = &s->h;
    const sc_stream_opts *o = &s->o;
    char buf[64];
    int rc = 0;

    h->layout = o->dense                         ? SC_BATCH_DENSE
                : o->select != SC_STREAM_SEL_ALL ? SC_BATCH_PADDED
                                                 : SC_BATCH_CSR;
    h->row_len = o->dense                       ? (uint32_t)s->n_out_genes
                 : h->layout == SC_BATCH_PADDED ? (uint32_t)o->max_len
                                                : 0;
    h->batch_size = (uint32_t)o->batch_size;
    h->epoch = (uint32_t)o->epoch;
    h->rank = (uint32_t)o->rank;
    h->world_size = (uint32_t)o->world_size;
    h->seed = o->seed;
    h->n_batches = s->nb;
    h->n_cells = s->N;
    if (!(h->labels =
              calloc(s->n_labels ? s->n_labels : 1, sizeof *h->labels)) ||
        !(h->datasets = calloc(s->n_dout ? s->n_dout : 1, sizeof *h->datasets)))
        return ss_oom();
    for (size_t k = 0; k < s->n_labels; k++) {
        sc_batch_vocab *v = &h->labels[k];
        h->n_labels = k + 1;
        if (!(v->name = strdup(s->vc[k].name)) ||
            !(v->terms = calloc(s->vc[k].n ? s->vc[k].n : 1, sizeof *v->terms)))
            return ss_oom();
        for (size_t j = 0; j < s->vc[k].n; j++) {
            if (!(v->terms[j] = strdup(s->vc[k].terms[j])))
                return ss_oom();
            v->n = j + 1;
        }
    }
    for (size_t i = 0; i < s->n_ds; i++) {
        const ss_ds *d = &s->ds[i];
        const sc_batch_header *ph = d->pack ? sc_pack_header(d->pack) : NULL;
        size_t n = ph ? ph->n_datasets : 1;
        for (size_t k = 0; k < n; k++) {
            if (!(h->datasets[d->dbase + k] =
                      strdup(ph ? ph->datasets[k] : d->path)))
                return ss_oom();
            h->n_datasets = d->dbase + k + 1;
        }
    }
    rc = sc_batch_header_info(h, "matrix", s->matrix);
    if (rc == 0)
        rc = sc_batch_header_info(h, "sampling",
                                  s->weighted ? "weighted" : "epoch");
    snprintf(buf, sizeof buf, "%" PRId64, o->block);
    if (rc == 0)
        rc = sc_batch_header_info(h, "block", o->shuffle ? buf : "sequential");
    snprintf(buf, sizeof buf, "%" PRId64, o->buffer);
    if (rc == 0)
        rc = sc_batch_header_info(h, "buffer", buf);
    snprintf(buf, sizeof buf, "%" PRIu64, s->group);
    if (rc == 0 && s->weighted)
        rc = sc_batch_header_info(h, "block_draws", buf);
    snprintf(buf, sizeof buf, "%g", o->normalize);
    if (rc == 0 && o->normalize > 0)
        rc = sc_batch_header_info(h, "normalize", buf);
    if (rc == 0 && o->log1p)
        rc = sc_batch_header_info(h, "log1p", "natural");
    if (rc == 0 && o->select != SC_STREAM_SEL_ALL)
        rc = sc_batch_header_info(
            h, "select", o->select == SC_STREAM_SEL_TOP ? "top" : "random");
    if (rc == 0 && s->split) {
        const sc_split_opts *so = sc_split_get_opts(s->split);
        rc = sc_batch_header_info(h, "split", sc_split_part_name(o->split));
        if (rc == 0)
            rc = sc_batch_header_info(h, "split_by",
                                      so->by == SC_SPLIT_BY_DATASET ? "dataset"
                                                                    : "cell");
        snprintf(buf, sizeof buf, "%" PRIu64, so->seed);
        if (rc == 0)
            rc = sc_batch_header_info(h, "split_seed", buf);
        snprintf(buf, sizeof buf, "%g,%g,%g", so->frac[0], so->frac[1],
                 so->frac[2]);
        if (rc == 0)
            rc = sc_batch_header_info(h, "split_fractions", buf);
        if (rc == 0 && o->split_file)
            rc = sc_batch_header_info(h, "split_file", o->split_file);
    }
    snprintf(buf, sizeof buf, "%" PRIu64, s->n_r);
    if (rc == 0)
        rc = sc_batch_header_info(h, "rank_cells", buf);
    return rc;
}

static int open_datasets(sc_stream *s, const char *const *cols, size_t n_cols)
{
    const sc_stream_opts *o = &s->o;
    size_t hits = 0;
    int rc = 0;

    if (!(s->ds = calloc(o->n_inputs, sizeof *s->ds)))
        return ss_oom();
    for (size_t i = 0; i < o->n_inputs; i++) {
        const sc_stream_input *in = &o->inputs[i];
        ss_ds *d = &s->ds[s->n_ds];
        int hit = 0;
        if (sc_pack_probe(in->path)) {
            if ((rc = sc_pack_open(in->path, &d->pack)) == 0 &&
                strcmp(s->matrix, "X"))
                rc = sc_fail(SC_EINVAL,
                             "'%s' is a pack: the matrix was chosen "
                             "when it was packed",
                             in->path);
            if (rc == 0)
                rc = ss_meta_from_pack(d->pack, cols, n_cols, &d->meta);
            if (rc == 0) {
                /* pages of the mapping read, at most about two buffers */
                const sc_pack_arrays *a = sc_pack_data(d->pack);
                uint64_t per_cell =
                    a->n_cells ? sc_pack_entry_bytes(d->pack) / a->n_cells : 0;
                sc_pack_set_window(d->pack, 2 * per_cell * (uint64_t)o->block *
                                                (uint64_t)o->buffer);
                d->pa = a;
            }
            /* an h5ad may lack a column; a pack lacks what was not packed */
            for (size_t k = 0; rc == 0 && k < n_cols; k++)
                if (!ss_meta_col(d->meta, cols[k]))
                    sc_log_warn("'%s': no column '%s' in this pack (a pack "
                                "holds the label columns packed with -l)",
                                in->path, cols[k]);
        } else {
            rc = ss_meta_load(in->path, s->matrix, o->cache_dir, cols, n_cols,
                              &d->meta, &hit);
        }
        if (rc == 0 && d->meta->n_obs > (int64_t)UINT32_MAX)
            rc = sc_fail(SC_EUNSUP, "'%s': more than 2^32 rows", in->path);
        if (rc < 0) {
            /* d is not counted in s->n_ds: sc_stream_close would not
             * free what it holds */
            if (o->keep_going)
                sc_log_warn("%s", sc_errmsg());
            ss_meta_free(d->meta);
            d->meta = NULL;
            sc_pack_close(d->pack);
            d->pack = NULL;
            d->pa = NULL;
            if (!o->keep_going)
                return rc;
            s->n_failed++;
            continue;
        }
        hits += hit;
        d->slot = -1;
        d->weight = in->weight;
        if (!(d->path = strdup(in->path)))
            return ss_oom();
        d->dbase = s->n_dout;
        s->n_dout += d->pack ? sc_pack_header(d->pack)->n_datasets : 1;
        const char *org =
            in->organism && *in->organism ? in->organism : d->meta->organism;
        if (org && !(d->organism = strdup(org)))
            return ss_oom();
        s->n_ds++;
    }
    sc_log_info("index: %zu datasets, %zu from the cache", s->n_ds, hits);
    if (s->n_ds == 0)
        return sc_fail(SC_EINVAL, "no dataset could be opened");
    return 0;
}

/* The split of the header datasets (keys: their file names; cells: an
 * h5ad's rows, a pack's cells from that source) and their handles. */
static int split_open(sc_stream *s)
{
    const char **keys = calloc(s->n_dout + 1, sizeof *keys);
    uint64_t *cells = calloc(s->n_dout + 1, sizeof *cells);
    int rc = 0;

    if (!keys || !cells ||
        !(s->split_h = calloc(s->n_dout + 1, sizeof *s->split_h))) {
        rc = ss_oom();
        goto out;
    }
    for (size_t i = 0; i < s->n_ds; i++) {
        const ss_ds *d = &s->ds[i];
        const sc_batch_header *ph = d->pack ? sc_pack_header(d->pack) : NULL;
        if (!ph) {
            keys[d->dbase] = sc_split_key(d->path);
            cells[d->dbase] = (uint64_t)d->meta->n_obs;
            continue;
        }
        for (size_t k = 0; k < ph->n_datasets; k++)
            keys[d->dbase + k] = sc_split_key(ph->datasets[k]);
        for (uint64_t c = 0; c < d->pa->n_cells; c++)
            cells[d->dbase + (size_t)d->pa->dataset[c]]++;
    }
    rc = s->o.split_file ? sc_split_read(s->o.split_file, &s->split)
                         : sc_split_plan(s->o.split_opts, keys, cells,
                                         s->n_dout, &s->split);
    for (size_t i = 0; i < s->n_dout && rc == 0; i++)
        if ((rc = sc_split_find(s->split, keys[i], &s->split_h[i])) < 0)
            rc = sc_fail(SC_ENOTFOUND,
                         "'%s': dataset '%s' is not in the split file",
                         s->o.split_file, keys[i]);
out:
    free(keys);
    free(cells);
    return rc;
}

int sc_stream_split_write(const sc_stream *s, FILE *fp, uint64_t counts[3])
{
    int rc = sc_split_write_head(s->split, fp);
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        const ss_ds *d = &s->ds[i];
        if (d->pack)
            return sc_fail(SC_EUNSUP,
                           "'%s': split of a pack: give its "
                           "source datasets",
                           d->path);
        rc = sc_split_write_dataset(s->split, fp, sc_split_key(d->path), NULL,
                                    (uint64_t)d->meta->n_obs, counts);
    }
    return rc;
}

int sc_stream_open(const sc_stream_opts *o, sc_stream **out)
{
    sc_stream *s = NULL;
    const char **cols = NULL;
    size_t n_cols = 0;
    ss_filter *f = NULL;
    int rc;

    *out = NULL;
    if ((rc = check_opts(o)) < 0)
        return rc;
    if (!(s = calloc(1, sizeof *s)) ||
        !(f = calloc(o->n_filters + 1, sizeof *f)))
        goto nomem;
    s->o = *o;
    s->buf[0].j = s->buf[1].j = -1;
    if (!(s->matrix = strdup(o->matrix ? o->matrix : "X")))
        goto nomem;
    for (size_t i = 0; i < o->n_filters; i++)
        if ((rc = ss_filter_parse(o->filters[i], &f[i])) < 0)
            goto fail;
    /* the obs columns the index must hold */
    for (size_t i = 0; i < o->n_labels; i++)
        if ((rc = add_name(&cols, &n_cols, o->labels[i])) < 0)
            goto fail;
    s->n_labels = n_cols;
    if (o->n_weight_cols &&
        !(s->wcol = malloc(o->n_weight_cols * sizeof *s->wcol)))
        goto nomem;
    for (size_t i = 0; i < o->n_weight_cols; i++) {
        if ((rc = add_name(&cols, &n_cols, o->weight_cols[i])) < 0)
            goto fail;
        s->wcol[s->n_wcol++] = (size_t)rc;
    }
    s->n_vcols = n_cols;
    for (size_t i = 0; i < o->n_filters; i++)
        if ((rc = add_name(&cols, &n_cols, f[i].col)) < 0)
            goto fail;
    if (o->cell_weight && strcmp(o->cell_weight, "nnz") &&
        (rc = add_name(&cols, &n_cols, o->cell_weight)) < 0)
        goto fail;
    if ((rc = open_datasets(s, cols, n_cols)) < 0)
        goto fail;

    if (o->split && (rc = split_open(s)) < 0)
        goto fail;
    /* selection */
    for (size_t i = 0; i < s->n_ds; i++) {
        if ((rc = ss_select_rows(s, &s->ds[i], f, o->n_filters)) < 0)
            goto fail;
        s->N += (uint64_t)s->ds[i].n_sel;
    }
    if (s->N == 0) {
        rc = sc_fail(SC_EINVAL, "no cell passes the selection");
        goto fail;
    }
    /* vocabularies: labels first, then the class-weight columns */
    if (!(s->vc = calloc(s->n_vcols ? s->n_vcols : 1, sizeof *s->vc)))
        goto nomem;
    for (size_t i = 0; i < s->n_ds; i++) {
        ss_ds *d = &s->ds[i];
        if (!(d->vmap = calloc(s->n_vcols + 1, sizeof *d->vmap)) ||
            !(d->vcol = calloc(s->n_vcols + 1, sizeof *d->vcol)))
            goto nomem;
        for (size_t k = 0; k < s->n_vcols; k++)
            d->vcol[k] = ss_meta_col(d->meta, cols[k]);
    }
    for (size_t k = 0; k < s->n_vcols; k++) {
        const char *file = NULL;
        if (!(s->vc[k].name = strdup(cols[k])))
            goto nomem;
        for (size_t v = 0; v < o->n_vocabs; v++)
            if (!strcmp(o->vocabs[v].column, cols[k]))
                file = o->vocabs[v].path;
        rc = file ? ss_vocab_load(&s->vc[k], file) : ss_vocab_build(s, k);
        if (rc < 0 || (rc = ss_vocab_maps(s, k)) < 0)
            goto fail;
    }
    for (size_t v = 0; v < o->n_vocabs; v++) {
        size_t k;
        for (k = 0; k < s->n_vcols; k++)
            if (!strcmp(o->vocabs[v].column, cols[k]))
                break;
        if (k == s->n_vcols) {
            rc = sc_fail(SC_EINVAL,
                         "vocabulary for '%s', which is not a "
                         "label column",
                         o->vocabs[v].column);
            goto fail;
        }
    }
    /* genes */
    rc = o->n_genes ? ss_genes_ref(s) : ss_genes_join(s);
    for (size_t i = 0; i < s->n_ds && rc == 0; i++)
        if (!s->ds[i].gmap_shared)
            rc = ss_mark_late(&s->ds[i]);
    if (rc < 0)
        goto fail;
    s->direct = o->normalize <= 0 && !o->log1p &&
                o->select == SC_STREAM_SEL_ALL && !o->dense;
    for (size_t i = 0; i < s->n_ds && s->direct; i++) {
        const ss_ds *d = &s->ds[i];
        s->direct = d->pa && (size_t)d->meta->n_vars == s->n_out_genes;
        for (int64_t c = 0; c < d->meta->n_vars && s->direct; c++)
            s->direct = d->gmap[c] == (int32_t)c;
    }
    if (s->direct && !(s->dbuf = calloc(SS_RAW_PARTS, sizeof *s->dbuf)))
        goto nomem;
    /* plan */
    s->weighted = o->n_samples > 0;
    double *p = NULL;
    if (!(p = calloc(s->n_dout + s->n_ds, sizeof *p)))
        goto nomem;
    if (s->weighted) {
        if ((rc = ss_plan_weighted(s)) < 0) {
            free(p);
            goto fail;
        }
        /* whole groups, as many blocks as a buffer holds, at least
         * block x buffer draws */
        s->fetch = s->group * (uint64_t)o->buffer *
                   (((uint64_t)o->block + s->group - 1) / s->group);
        for (size_t i = 0; i < s->n_ds; i++)
            p[s->n_dout + i] = s->ds[i].mass / sc_alias_total(s->top);
        s->N = (uint64_t)o->n_samples;
    } else {
        if ((rc = ss_plan_epoch(s)) < 0) {
            free(p);
            goto fail;
        }
        for (size_t i = 0; i < s->n_ds; i++)
            p[s->n_dout + i] = (double)s->ds[i].n_sel / (double)s->N;
    }
    /* per header dataset: a pack's share split by its cells' sources */
    for (size_t i = 0; i < s->n_ds; i++) {
        const ss_ds *d = &s->ds[i];
        double share = p[s->n_dout + i];
        if (!d->pa) {
            p[d->dbase] += share;
            continue;
        }
        for (int64_t k = 0; k < d->n_sel; k++)
            p[d->dbase + (size_t)d->pa->dataset[d->sel[k]]] +=
                share / (double)d->n_sel;
    }
    s->expected = sc_expected_distinct(p, s->n_dout, (double)o->batch_size);
    free(p);
    /* this rank's share and batch count */
    {
        unsigned __int128 W = (unsigned __int128)o->world_size;
        uint64_t lo = (uint64_t)((unsigned __int128)s->N * o->rank / W);
        uint64_t hi = (uint64_t)((unsigned __int128)s->N * (o->rank + 1) / W);
        uint64_t bs = (uint64_t)o->batch_size;
        uint64_t most =
            (s->N + (uint64_t)o->world_size - 1) / (uint64_t)o->world_size;
        uint64_t least = s->N / (uint64_t)o->world_size;
        s->lo = lo;
        s->n_r = hi - lo;
        s->nb = o->uneven == SC_STREAM_DROP ? least / bs : (most + bs - 1) / bs;
        s->next_batch = (uint64_t)o->start_batch;
    }
    s->n_slots = max_open_files(o->max_open);
    if (!(s->slots = calloc((size_t)s->n_slots, sizeof *s->slots)) ||
        !(s->stamp = calloc(s->n_dout, sizeof *s->stamp)))
        goto nomem;
    for (int i = 0; i < s->n_slots; i++)
        s->slots[i].ds = -1;
    /* -@ N: one thread fills the next buffer while batches are cut, with
     * N - 1 more reading parts of it */
    if (o->threads > 1 &&
        ((rc = sc_pool_background(&s->pool)) < 0 ||
         (rc = sc_pool_new(o->threads > 2 ? o->threads - 1 : 2, &s->rpool)) <
             0))
        goto fail;
    if ((rc = make_header(s)) < 0)
        goto fail;
    for (size_t i = 0; i < o->n_filters; i++)
        ss_filter_release(&f[i]);
    free(f);
    free(cols);
    *out = s;
    return 0;
nomem:
    rc = ss_oom();
fail:
    for (size_t i = 0; f && i < o->n_filters; i++)
        ss_filter_release(&f[i]);
    free(f);
    free(cols);
    sc_stream_close(s);
    return rc;
}

const sc_batch_header *sc_stream_header(const sc_stream *s)
{
    return &s->h;
}

void sc_stream_get_stats(const sc_stream *s, sc_stream_stats *st)
{
    uint64_t n = 0;
    for (size_t i = 0; i < s->n_ds; i++)
        n += (uint64_t)s->ds[i].n_sel;
    st->n_failed = s->n_failed;
    st->n_selected = n;
    st->n_batches = s->mix_batches;
    st->mean_distinct =
        s->mix_batches ? (double)s->mix_sum / (double)s->mix_batches : 0;
    st->expected_distinct = s->expected;
    st->n_h5_opens = s->n_h5_opens;
    st->n_layout_opens = s->n_reopens;
    ss_raw_stats(&st->z_in, &st->z_out, &st->z_used, &st->z_secs);
}

void sc_stream_close(sc_stream *s)
{
    if (!s)
        return;
    sc_pool_free(s->pool); /* waits for a prefetch in flight */
    sc_split_free(s->split);
    free(s->split_h);
    sc_pool_free(s->rpool);
    for (int i = 0; s->slots && i < s->n_slots; i++)
        ss_src_close(s->slots[i].src);
    free(s->slots);
    for (size_t i = 0; i < s->n_ds; i++) {
        ss_ds *d = &s->ds[i];
        free(d->path);
        free(d->organism);
        ss_meta_free(d->meta);
        sc_pack_close(d->pack);
        free(d->sel);
        free(d->bstart);
        if (!d->gmap_shared)
            free(d->gmap);
        for (size_t k = 0; d->vmap && k < s->n_vcols; k++)
            free(d->vmap[k]);
        free(d->vmap);
        free(d->vcol);
        free(d->cum);
        ss_raw_close(d->skel); /* after the slots: their readers use it */
    }
    free(s->ds);
    for (size_t k = 0; s->vc && k < s->n_vcols; k++) {
        vcol *v = &s->vc[k];
        free(v->name);
        for (size_t j = 0; j < v->n; j++)
            free(v->terms[j]);
        free(v->terms);
        for (size_t j = 0; j < v->n_alias; j++)
            free(v->alias_store[j]);
        free(v->alias_store);
        sc_strmap_release(&v->index);
    }
    free(s->vc);
    free(s->wcol);
    sc_batch_header_release(&s->h);
    free(s->blk_prefix);
    free(s->perm);
    free(s->buf_start);
    sc_alias_free(s->top);
    sc_alias_free(s->loose);
    free(s->loose_blk);
    ss_sbuf_release(&s->buf[0]);
    ss_sbuf_release(&s->buf[1]);
    free(s->tmp);
    free(s->stamp);
    free(s->dcell);
    for (int w = 0; s->dbuf && w < SS_RAW_PARTS; w++)
        sc_pack_buf_release(&s->dbuf[w]);
    free(s->dbuf);
    free(s->matrix);
    free(s);
}
