/* sc_stream_fill: buffers of the plan filled with rows read from the
 * datasets (open-file cache, runs of nearby rows, parallel parts, prefetch)
 * and remapped to the output genes. */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "sc_stream_int.h"

/* Rows further apart than this are read separately, not as one range. */
#define READ_GAP      16
#define READ_MAX_ROWS 8192

void ss_sbuf_release(sbuf *u)
{
    for (int w = 0; w < u->n_part; w++) {
        sbuf *h = &u->part[w]; /* its per-position arrays are U's */
        h->cell = NULL;
        h->coff = NULL;
        h->cpool = NULL;
        h->clen = NULL;
        h->cdepth = NULL;
        h->order = NULL;
        ss_sbuf_release(h);
    }
    free(u->part);
    free(u->cell);
    free(u->coff);
    free(u->cpool);
    free(u->clen);
    free(u->cdepth);
    free(u->order);
    free(u->pool);
    sc_block_release(&u->blk);
    ss_rows_release(&u->rows);
    sc_pack_buf_release(&u->pbuf);
    free(u->scratch);
}

/* ------------------------------------------------------------------------ */
/* Reading buffers                                                          */

/* D's skeleton from its index (made at index time or read from the
 * cache entry) when it has none yet; not when every matrix is to be read
 * through HDF5 (SC_STREAM_NO_RAW) or files keep their HDF5 handle
 * (SC_STREAM_KEEP_H5, for comparison). */
static void skel_from_meta(sc_stream *s, ss_ds *d)
{
    const char *keep;
    if (d->skel || !d->meta || !d->meta->skel || getenv("SC_STREAM_NO_RAW") ||
        ((keep = getenv("SC_STREAM_KEEP_H5")) && *keep))
        return;
    d->skel = ss_meta_take_skel(d->meta);
    s->skel_bytes += ss_raw_table_bytes(d->skel);
}

/* Open dataset D as a source: from its skeleton without HDF5 when it has
 * one (and the file did not change), else through HDF5, then keep the
 * skeleton of its raw reader (while the skeletons held, those of the
 * indexes included, stay under SS_SKEL_BYTES). */
static int open_src(sc_stream *s, ss_ds *d, ss_src **out)
{
    int rc;

    skel_from_meta(s, d);
    if (d->skel) {
        if ((rc = ss_src_reopen(d->skel, d->path, out)) != SC_EUNSUP) {
            s->n_reopens += rc == 0;
            return rc;
        }
        /* the file changed: its layout is read again */
        s->skel_bytes -= ss_raw_table_bytes(d->skel);
        ss_raw_close(d->skel);
        d->skel = NULL;
    }
    if ((rc = ss_src_open(d->path, s->matrix, out)) < 0)
        return rc;
    s->n_h5_opens++;
    ss_raw *r = ss_src_raw(*out);
    if (r && (*out)->file < 0 &&
        s->skel_bytes + ss_meta_skel_bytes() < SS_SKEL_BYTES &&
        ss_raw_skeleton(r, &d->skel) == 0)
        s->skel_bytes += ss_raw_table_bytes(d->skel);
    sc_err_clear();
    return 0;
}

static int get_src(sc_stream *s, int64_t di, ss_src **m)
{
    ss_ds *d = &s->ds[di];
    int rc, victim = 0;

    s->tick++;
    if (d->slot < 0) {
        for (int i = 0; i < s->n_slots; i++) {
            if (s->slots[i].ds < 0) {
                victim = i;
                break;
            }
            if (s->slots[i].used < s->slots[victim].used)
                victim = i;
        }
        slot *v = &s->slots[victim];
        if (v->ds >= 0) {
            ss_src_close(v->src);
            s->ds[v->ds].slot = -1;
            v->ds = -1;
            v->src = NULL;
        }
        if ((rc = open_src(s, d, &v->src)) < 0)
            return rc;
        v->ds = di;
        d->slot = victim;
    }
    s->slots[d->slot].used = s->tick;
    *m = s->slots[d->slot].src;
    return 0;
}

/* Resize the array at *(void **)PP to N elements of SIZE bytes. */
static int resize(void *pp, size_t n, size_t size)
{
    void **p = pp, *q = realloc(*p, (n ? n : 1) * size);
    if (!q)
        return ss_oom();
    *p = q;
    return 0;
}

static int reserve_cells(sbuf *u, size_t n)
{
    int rc;
    if (n <= u->cap_cells)
        return 0;
    if ((rc = resize(&u->cell, n, sizeof *u->cell)) < 0 ||
        (rc = resize(&u->coff, n, sizeof *u->coff)) < 0 ||
        (rc = resize(&u->cpool, n, sizeof *u->cpool)) < 0 ||
        (rc = resize(&u->clen, n, sizeof *u->clen)) < 0 ||
        (rc = resize(&u->cdepth, n, sizeof *u->cdepth)) < 0 ||
        (rc = resize(&u->order, n, sizeof *u->order)) < 0)
        return rc;
    u->cap_cells = n;
    return 0;
}

static int pool_reserve(sbuf *u, size_t more)
{
    if (u->pool_n + more <= u->pool_cap)
        return 0;
    size_t cap = u->pool_cap ? u->pool_cap : 65536;
    while (cap < u->pool_n + more)
        cap *= 2;
    pair *p = realloc(u->pool, cap * sizeof *p);
    if (!p)
        return ss_oom();
    u->pool = p;
    u->pool_cap = cap;
    return 0;
}

/* Sort N pairs by column: insertion sort for short runs, else an LSD radix
 * sort in 8-bit digits through TMP (a gene space of 60,000 needs two
 * passes). Rows need this once per cell (the genes out of their dataset's
 * order, or a file's unsorted row), so qsort's calls cost. */
void ss_sort_pairs(pair *a, pair *tmp, size_t n, uint32_t max_col)
{
    if (n < 48) {
        for (size_t i = 1; i < n; i++) {
            pair x = a[i];
            size_t j = i;
            for (; j > 0 && a[j - 1].col > x.col; j--)
                a[j] = a[j - 1];
            a[j] = x;
        }
        return;
    }
    pair *src = a, *dst = tmp;
    for (unsigned shift = 0; shift < 32 && (max_col >> shift); shift += 8) {
        uint32_t count[256] = {0};
        for (size_t i = 0; i < n; i++)
            count[((uint32_t)src[i].col >> shift) & 255]++;
        for (uint32_t k = 0, sum = 0; k < 256; k++) {
            uint32_t c = count[k];
            count[k] = sum;
            sum += c;
        }
        for (size_t i = 0; i < n; i++)
            dst[count[((uint32_t)src[i].col >> shift) & 255]++] = src[i];
        pair *t = src;
        src = dst;
        dst = t;
    }
    if (src != a)
        memcpy(a, src, n * sizeof *a);
}

/* Copy row I of block BLK of dataset D into the pool for position POS. */
int ss_take_row(const sc_stream *s, sbuf *u, const ss_ds *d, const ss_rows *blk,
                int64_t i, size_t pos)
{
    int64_t lo, hi;
    double depth = 0;
    int rc;

    if (blk->dense) {
        lo = i * blk->n_cols;
        hi = lo + blk->n_cols;
    } else {
        lo = blk->indptr[i];
        hi = blk->indptr[i + 1];
    }
    size_t m = (size_t)(hi - lo);
    if ((rc = pool_reserve(u, m)) < 0)
        return rc;
    if (2 * m > u->scratch_cap) {
        pair *t = realloc(u->scratch, 2 * m * sizeof *t);
        if (!t)
            return ss_oom();
        u->scratch = t;
        u->scratch_cap = 2 * m;
    }
    size_t start = u->pool_n;
    pair *out = u->pool + start, *late = u->scratch, *late_end = late;
    int32_t last = -1;
    size_t descents = 0;
    uint32_t nv = (uint32_t)d->meta->n_vars;
    const float *vals = blk->vals;
    const int32_t *idx = blk->dense ? NULL : blk->indices;
    for (int64_t k = lo; k < hi; k++) {
        float v = vals[k];
        uint32_t c = idx ? (uint32_t)idx[k] : (uint32_t)(k - lo);
        depth += v;
        if (c >= nv)
            return sc_fail(SC_EFORMAT,
                           "%s: column index %d out of range "
                           "[0, %u)",
                           d->path, (int32_t)c, nv);
        int32_t g = d->gmap[c];
        if (g < 0 || (!idx && v == 0))
            continue;
        if (g & GM_LATE) {
            /* a gene out of the dataset's order: merged in below */
            late_end->col = g & ~GM_LATE;
            late_end->val = v;
            late_end++;
            continue;
        }
        /* out of order when the file's row is (files with descending or
         * unsorted indices exist) */
        descents += g < last;
        last = g;
        out->col = g;
        out->val = v;
        out++;
    }
    size_t n_in = (size_t)(out - (u->pool + start));
    size_t n_late = (size_t)(late_end - late);
    pair *tmp = u->scratch + m;
    if (descents) {
        /* an unsorted row: everything sorted at once */
        memcpy(out, late, n_late * sizeof *late);
        ss_sort_pairs(u->pool + start, tmp, n_in + n_late,
                      (uint32_t)s->n_out_genes);
    } else if (n_late) {
        /* sort the few late entries, then merge from the back */
        ss_sort_pairs(late, tmp, n_late, (uint32_t)s->n_out_genes);
        pair *a = u->pool + start;
        size_t x = n_in, y = n_late, w = n_in + n_late;
        while (y > 0) {
            if (x > 0 && a[x - 1].col > late[y - 1].col)
                a[--w] = a[--x];
            else
                a[--w] = late[--y];
        }
    }
    u->pool_n = start + n_in + n_late;
    u->coff[pos] = start;
    u->clen[pos] = (uint32_t)(u->pool_n - start);
    u->cdepth[pos] = depth;
    return 0;
}

/* Rows [R0, R1) of dataset DI into U->rows: raw reads when the source has
 * them, else through sc_mat (values narrowed to float32 here). */
static int read_rows(sc_stream *s, sbuf *u, int64_t di, int64_t r0, int64_t r1)
{
    ss_src *src;
    int rc;

    if (s->ds[di].pack) {
        /* a pack is mapped: its rows are where they are */
        const sc_pack_arrays *a = s->ds[di].pa;
        int64_t e0 = a->indptr[r0], n = a->indptr[r1] - e0;
        ss_rows *o = &u->rows;
        if ((rc = ss_rows_reserve(o, r1 - r0, n)) < 0)
            return rc;
        o->dense = 0;
        o->n_rows = r1 - r0;
        o->n_cols = s->ds[di].meta->n_vars;
        for (int64_t i = 0; i <= r1 - r0; i++)
            o->indptr[i] = a->indptr[r0 + i] - e0;
        return sc_pack_cells(s->ds[di].pack, (uint64_t)r0, (uint64_t)r1,
                             s->o.pack_pread, &u->pbuf, o->indices, o->vals);
    }
    if ((rc = get_src(s, di, &src)) < 0)
        return rc;
    if (ss_src_raw(src))
        return ss_raw_read(ss_src_raw(src), r0, r1, &u->rows);
    sc_block *b = &u->blk;
    if ((rc = sc_mat_read_rows(ss_src_mat(src), r0, r1, b)) < 0)
        return rc;
    int64_t nv = sc_block_nnz(b);
    ss_rows *o = &u->rows;
    if ((rc = ss_rows_reserve(o, b->n_rows, b->dense ? 0 : nv)) < 0)
        return rc;
    if (b->dense && nv > (int64_t)o->cap_vals) {
        float *f = realloc(o->vals, (size_t)nv * sizeof *f);
        if (!f)
            return ss_oom();
        o->vals = f;
        o->cap_vals = (size_t)nv;
    }
    o->dense = b->dense;
    o->n_rows = b->n_rows;
    o->n_cols = b->n_cols;
    for (int64_t k = 0; k < nv; k++)
        o->vals[k] = (float)b->vals[k];
    if (!b->dense) {
        memcpy(o->indptr, b->indptr,
               (size_t)(b->n_rows + 1) * sizeof *o->indptr);
        memcpy(o->indices, b->indices, (size_t)nv * sizeof *o->indices);
    }
    return 0;
}

static int cmp_order(const void *a, const void *b)
{
    const struct ord *x = a, *y = b;
    if (x->cell != y->cell)
        return x->cell < y->cell ? -1 : 1;
    return (x->pos > y->pos) - (x->pos < y->pos);
}

/* Positions of buffer J: [*LO, *LO + *N). */
static void buffer_range(const sc_stream *s, uint64_t j, uint64_t *lo,
                         uint64_t *n)
{
    if (s->weighted) {
        *lo = j * s->fetch;
        *n = s->N - *lo < s->fetch ? s->N - *lo : s->fetch;
    } else {
        *lo = s->buf_start[j];
        *n = s->buf_start[j + 1] - *lo;
    }
}

static uint64_t buffer_of(const sc_stream *s, uint64_t g)
{
    if (s->weighted)
        return g / s->fetch;
    return ss_last_at_most(s->buf_start, s->n_buffers, g);
}

/* The end of the run of nearby rows of one dataset starting at order[A]. */
static uint64_t run_end(const sbuf *u, uint64_t a, uint64_t n, uint32_t *last)
{
    uint64_t c0 = u->order[a].cell, b = a + 1;
    uint32_t r0 = (uint32_t)c0;
    *last = r0;
    while (b < n) {
        uint64_t c = u->order[b].cell;
        if ((c >> 32) != (c0 >> 32) || (uint32_t)c > *last + READ_GAP ||
            (uint32_t)c - r0 >= READ_MAX_ROWS)
            break;
        *last = (uint32_t)c;
        b++;
    }
    return b;
}

/* Take the cells order[A, B) of dataset DI from U->rows (rows from R0). */
static int take_run(const sc_stream *s, sbuf *u, int64_t di, uint32_t r0,
                    uint64_t a, uint64_t b)
{
    int rc;
    for (uint64_t k = a; k < b; k++) {
        size_t pos = (size_t)u->order[k].pos;
        uint32_t row = (uint32_t)u->order[k].cell;
        if ((rc = ss_take_row(s, u, &s->ds[di], &u->rows, row - r0, pos)) < 0)
            return rc;
    }
    return 0;
}

static int fill_serial(sc_stream *s, sbuf *u, uint64_t n)
{
    int rc;
    u->pool_n = 0;
    memset(u->cpool, 0, (size_t)n); /* every cell in U's own pool */
    for (uint64_t a = 0; a < n;) {
        uint32_t last, r0 = (uint32_t)u->order[a].cell;
        int64_t di = (int64_t)(u->order[a].cell >> 32);
        uint64_t b = run_end(u, a, n, &last);
        if ((rc = read_rows(s, u, di, r0, (int64_t)last + 1)) < 0 ||
            (rc = take_run(s, u, di, r0, a, b)) < 0)
            return rc;
        a = b;
    }
    return 0;
}

/* One worker of a parallel fill: the runs of order[A, B), read with the
 * worker's own raw readers (RAW: per dataset) into part P; RAW NULL: the
 * worker opens each of its files from the dataset's skeleton, reads all
 * its runs and closes it (its part holds whole files). */
struct fill_job {
    const sc_stream *s;
    sbuf *p;
    ss_raw **raw;
    uint64_t a, b, n;
    uint64_t opens; /* files opened from skeletons */
    int rc;
};

static void fill_run(void *arg)
{
    struct fill_job *J = arg;
    sbuf *u = J->p;
    ss_raw *own = NULL;
    int64_t own_di = -1;
    u->pool_n = 0;
    J->rc = 0;
    J->opens = 0;
    for (uint64_t a = J->a; a < J->b && J->rc == 0;) {
        uint32_t last, r0 = (uint32_t)u->order[a].cell;
        int64_t di = (int64_t)(u->order[a].cell >> 32);
        uint64_t b = run_end(u, a, J->n, &last);
        ss_raw *r;
        if (J->raw) {
            r = J->raw[di];
        } else {
            if (di != own_di) {
                ss_raw_close(own);
                own = NULL;
                own_di = di;
                const ss_ds *d = &J->s->ds[di];
                if ((J->rc = ss_raw_reopen(d->skel, d->path, &own)) < 0)
                    break;
                J->opens++;
            }
            r = own;
        }
        if ((J->rc = ss_raw_read(r, r0, (int64_t)last + 1, &u->rows)) == 0)
            J->rc = take_run(J->s, u, di, r0, a, b);
        a = b;
    }
    ss_raw_close(own);
}

/* The end of part NJ of W of the buffer's N cells in read order, from A:
 * about equal cells per part, cut between runs, or between files when
 * FILES (then no file is read by two workers). */
static uint64_t part_end(const sbuf *u, uint64_t a, uint64_t n, int nj, int W,
                         int files)
{
    uint64_t b = a, target = (uint64_t)(nj + 1) * n / (uint64_t)W;
    uint32_t last;
    while (b < n && (b < target || nj == W - 1))
        b = run_end(u, b, n, &last);
    while (files && b < n &&
           (u->order[b].cell >> 32) == (u->order[b - 1].cell >> 32))
        b = run_end(u, b, n, &last);
    return b;
}

/* Fill U on the read pool: the buffer's runs split into W contiguous
 * parts of about equal cells, each read by one worker with its own
 * readers of the files into its own part, then the parts' entries appended
 * to U's pool. When the buffer's files fit in the open-file slots, the
 * workers read through the slots' readers; else each worker opens its
 * files itself from their skeletons, one at a time (a file seen for the
 * first time is opened here through HDF5 to make its skeleton). SC_EUNSUP
 * when a source has no thread-safe raw reader or skeleton (then
 * fill_serial does it). */
static int fill_parallel(sc_stream *s, sbuf *u, uint64_t n, size_t n_ds)
{
    int W = s->o.threads, rc = 0; /* this thread and W - 1 of the pool */
    struct fill_job job[SS_RAW_PARTS];
    ss_raw **raw = NULL;

    if (W < 2 || n == 0)
        return SC_EUNSUP;
    if (W > SS_RAW_PARTS)
        W = SS_RAW_PARTS;
    int own = n_ds > (size_t)s->n_slots;
    if (!u->part) {
        if (!(u->part = calloc(SS_RAW_PARTS, sizeof *u->part)))
            return ss_oom();
        u->n_part = SS_RAW_PARTS;
    }
    if (!own && !(raw = calloc((size_t)W * s->n_ds, sizeof *raw)))
        return ss_oom();
    /* open the sources here (the open-file cache is this thread's) */
    for (uint64_t a = 0; a < n && rc == 0; a++) {
        int64_t di = (int64_t)(u->order[a].cell >> 32);
        ss_src *src;
        if (a > 0 && (u->order[a - 1].cell >> 32) == (uint64_t)di)
            continue;
        if (own) {
            /* a file not seen yet: its layout read once through HDF5 */
            ss_ds *d = &s->ds[di];
            skel_from_meta(s, d);
            if (!d->skel && d->slot < 0 && (rc = open_src(s, d, &src)) == 0) {
                ss_src_close(src);
                s->n_h5_opens--;
                s->n_probes++;
            }
            if (rc == 0 && !d->skel)
                rc = SC_EUNSUP;
            continue;
        }
        if ((rc = get_src(s, di, &src)) < 0)
            break;
        for (int w = 0; w < W && rc == 0; w++) {
            ss_raw *r = ss_src_raw_part(src, w);
            raw[(size_t)w * s->n_ds + (size_t)di] = r;
            if (!ss_raw_threadsafe(r))
                rc = SC_EUNSUP;
        }
    }
    int nj = 0;
    for (uint64_t a = 0; a < n && rc == 0; nj++) {
        uint64_t b = part_end(u, a, n, nj, W, own);
        sbuf *p = &u->part[nj];
        p->cell = u->cell;
        p->coff = u->coff;
        p->cpool = u->cpool;
        p->clen = u->clen;
        p->cdepth = u->cdepth;
        p->order = u->order;
        job[nj] = (struct fill_job){
            s, p, raw ? raw + (size_t)nj * s->n_ds : NULL, a, b, n, 0, 0};
        a = b;
    }
    /* parts 1.. on the pool, part 0 here */
    for (int w = 1; w < nj && rc == 0; w++)
        sc_pool_submit(s->rpool, fill_run, &job[w]);
    if (rc == 0 && nj > 0) {
        fill_run(&job[0]);
        sc_pool_wait(s->rpool);
    }
    /* the cells stay in their part's pool */
    for (int w = 0; w < nj && rc == 0; w++) {
        s->n_reopens += job[w].opens;
        if ((rc = job[w].rc) < 0)
            break;
        for (uint64_t k = job[w].a; k < job[w].b; k++)
            u->cpool[u->order[k].pos] = (uint8_t)(w + 1);
    }
    free(raw);
    return rc;
}

static int load_buffer(sc_stream *s, sbuf *u, uint64_t j)
{
    uint64_t lo, n, K = (uint64_t)s->o.buffer;
    int rc;

    u->j = -1; /* until it is whole */
    buffer_range(s, j, &lo, &n);
    if ((rc = reserve_cells(u, (size_t)n)) < 0)
        return rc;
    if (s->weighted) {
        for (uint64_t i = 0; i < n; i++)
            u->cell[i] = ss_weighted_cell(s, lo + i);
        if (s->group > 1 && s->o.shuffle) { /* the groups' cells mixed */
            sc_rng r;
            sc_rng_init(&r, s->o.seed, s->o.epoch, RNG_BUFFER + (j << 8));
            sc_shuffle_u64(u->cell, (size_t)n, &r);
        }
    } else {
        size_t w = 0;
        for (uint64_t b = j * K; b < (j + 1) * K && b < s->n_blocks; b++) {
            uint64_t k, k0, k1;
            size_t di = ss_block_dataset(s, s->perm ? s->perm[b] : b, &k);
            const ss_ds *d = &s->ds[di];
            ss_block_cells(s, d, k, &k0, &k1);
            for (uint64_t q = k0; q < k1; q++)
                u->cell[w++] = (uint64_t)di << 32 | d->sel[q];
        }
        if (s->o.shuffle) {
            sc_rng r;
            sc_rng_init(&r, s->o.seed, s->o.epoch, RNG_BUFFER + (j << 8));
            sc_shuffle_u64(u->cell, (size_t)n, &r);
        }
    }
    if (s->direct) /* the cells are in the packs' mappings already */
        goto whole;
    /* read in file order: runs of nearby rows of one dataset */
    for (uint64_t i = 0; i < n; i++) {
        u->order[i].cell = u->cell[i];
        u->order[i].pos = i;
    }
    qsort(u->order, (size_t)n, sizeof *u->order, cmp_order);
    size_t n_ds = 0;
    for (uint64_t a = 0; a < n; a++)
        n_ds +=
            a == 0 || (u->order[a].cell >> 32) != (u->order[a - 1].cell >> 32);
    uint64_t opens = s->n_reopens + s->n_h5_opens;
    u->pool_n = 0;
    if (s->rpool && (rc = fill_parallel(s, u, n, n_ds)) != SC_EUNSUP) {
        if (rc < 0) /* again here, for this thread's error message */
            rc = fill_serial(s, u, n);
    } else {
        rc = fill_serial(s, u, n);
    }
    if (rc < 0)
        return rc;
    opens = s->n_reopens + s->n_h5_opens - opens;
    if (opens > n_ds && opens - n_ds > s->fill_excess)
        s->fill_excess = opens - n_ds;
whole:
    u->j = (int64_t)j;
    u->lo = lo;
    u->n = n;
    return 0;
}

static void prefetch_run(void *arg)
{
    struct prefetch *p = arg;
    p->rc = load_buffer(p->s, &p->s->buf[p->slot], p->j);
}

/* Make buf[cur] the buffer holding epoch position G: the prefetched one,
 * or one read now. Then start reading the rank's next buffer on the pool,
 * if there is one. Only one load_buffer runs at a time (the open-file
 * cache and HDF5 are used by one thread), and a failed prefetch is read
 * again here, so that its error message is this thread's. */
int ss_ensure_buffer(sc_stream *s, uint64_t g)
{
    sbuf *u = &s->buf[s->cur];
    int rc;

    if (u->j >= 0 && g >= u->lo && g < u->lo + u->n)
        return 0;
    uint64_t j = buffer_of(s, g);
    if (s->pf.busy) {
        sc_pool_wait(s->pool);
        s->pf.busy = 0;
    }
    if (s->buf[1 - s->cur].j == (int64_t)j) {
        s->cur = 1 - s->cur;
    } else if ((rc = load_buffer(s, u, j)) < 0) {
        return rc;
    }
    u = &s->buf[s->cur];
    if (s->pool && u->lo + u->n < s->lo + s->n_r) {
        s->pf =
            (struct prefetch){s, 1 - s->cur, 1, 0, buffer_of(s, u->lo + u->n)};
        s->buf[1 - s->cur].j = -1;
        sc_pool_submit(s->pool, prefetch_run, &s->pf);
    }
    return 0;
}
