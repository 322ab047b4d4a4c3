/* sc_stream: many datasets as one shuffled, weighted, sharded stream of cell
 * batches (the engine of sc-stream). */
/* SPDX-License-Identifier: MIT */
#include "sc_stream.h"
#include "sc_split.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>

#include "sc_genes.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_pack.h"
#include "sc_pool.h"
#include "sc_sample.h"
#include "sc_stream_int.h"

/*
 * How it works, in four stages that share nothing but read-only state:
 *
 *   plan    positions 0..N-1 of the epoch -> (dataset, row): a pure function
 *           of (seed, epoch) through the block permutation (plan_epoch) or
 *           the draws of blocks by weight and of cells inside them
 *           (plan_weighted, weighted_cell); a rank owns a range;
 *   fill    buffer j (positions buffer_range(j)): list its cells, sort them
 *           by (dataset, row), read runs of nearby rows through the
 *           open-file cache, remap genes (load_buffer, take_row);
 *   cut     batches take positions in order from the filled buffer and
 *           apply the transforms (sc_stream_next, emit_cell);
 *   write   sc_batch_writer (binary frames or text) in the tool.
 *
 * Fills of different buffers are independent, so the pipeline can keep a
 * ring of filled buffers (today: one prefetched on the pool with -@ 2),
 * and the read in take_row's caller is the one place that knows about
 * files: raw chunk reads with libdeflate or pread of contiguous datasets
 * replace sc_mat_read_rows there, and a shared-memory ring is another
 * sc_batch writer.
 */

/* Streams of the counter-based RNG (sc_rng_key's third argument). */
enum {
    RNG_BLOCKS = 1, /* the block permutation of an epoch */
    RNG_BUFFER = 2, /* + (buffer << 8): the shuffle inside a buffer */
    RNG_DRAWS = 3,  /* weighted draws, 4 values per position */
    RNG_GENES = 4,  /* + (position << 8): random gene selection */
    RNG_CELLS = 5,  /* weighted: a cell inside its block, 3 per position */
};

/* Rows further apart than this are read separately, not as one range. */
#define READ_GAP      16
#define READ_MAX_ROWS 8192

typedef struct ds {
    char *path;
    double weight;
    char *organism;
    ss_meta *meta;
    uint32_t *sel; /* selected rows, ascending */
    int64_t n_sel;
    /* blocks: selected cells [bstart[k], bstart[k + 1]) (NULL: block k
     * is [k * block, (k + 1) * block)); n_blk of them */
    uint32_t *bstart;
    uint64_t n_blk;
    int32_t *gmap;       /* var -> output column, -1 dropped; GM_LATE */
    int gmap_shared;     /* gmap is an earlier dataset's (the same var) */
    int32_t **vmap;      /* per vocabulary column: local code -> global */
    const ss_col **vcol; /* per vocabulary column, NULL when absent */
    int slot;            /* open-file slot, -1 */
    /* weighted: per selected cell, the sum of the weights of its block's
     * cells up to it (so a block's last entry is its mass) */
    double *cum;
    double mass;
    /* a pack (sc-stream pack): its cells carry their source dataset and
     * row; the header lists its datasets from dbase on (else the dataset
     * itself is header dataset dbase) */
    sc_pack *pack;
    const sc_pack_arrays *pa;
    size_t dbase;
} ds;

/* In ds.gmap: the gene is not in the longest run of the dataset's genes that
 * ascends in the output order (mark_late), so a row's entry for it is
 * sorted and merged in rather than appended. */
#define GM_LATE 0x40000000

/* A column with a global vocabulary (a label, or a class-weight column). */
typedef struct vcol {
    char *name;
    size_t n;
    char **terms;
    sc_strmap index; /* term -> code (keys: terms, or the file's aliases) */
    char **alias_store;
    size_t n_alias;
} vcol;

typedef struct slot {
    int64_t ds;
    ss_src *src;
    uint64_t used;
} slot;

struct ord {
    uint64_t cell;
    uint64_t pos;
};

typedef struct pair {
    int32_t col;
    float val;
} pair;

/*
 * A buffer: the cells of epoch positions [lo, lo + n) with their entries
 * already in the output gene space, read in file order. The epoch is cut
 * into buffers by a pure function of (seed, epoch, index), so a buffer can
 * be filled by any thread while batches are cut from another: everything a
 * fill writes lives here (the pipeline of issue 9 keeps several of these
 * in a ring).
 */
typedef struct sbuf {
    int64_t j; /* buffer index, -1: empty */
    uint64_t lo, n;
    uint64_t *cell; /* per position: dataset << 32 | row */
    uint64_t *coff; /* entries of the position in pool */
    uint8_t *cpool; /* which pool: 0 this one's, w + 1 part[w]'s */
    uint32_t *clen;
    double *cdepth;    /* sum of the row's stored values */
    struct ord *order; /* read order: cells sorted by (dataset, row) */
    size_t cap_cells;
    pair *pool;
    size_t pool_n, pool_cap;
    sc_block blk;     /* rows as read through sc_mat */
    ss_rows rows;     /* rows as the stream takes them */
    sc_pack_buf pbuf; /* a pack's records read with pread */
    pair *scratch; /* for sorting a row */
    size_t scratch_cap;
    struct sbuf *part; /* with -@ N: N - 1 helpers filling in parallel */
    int n_part;
} sbuf;

static void sbuf_release(sbuf *u)
{
    for (int w = 0; w < u->n_part; w++) {
        sbuf *h = &u->part[w]; /* its per-position arrays are U's */
        h->cell = NULL;
        h->coff = NULL;
        h->cpool = NULL;
        h->clen = NULL;
        h->cdepth = NULL;
        h->order = NULL;
        sbuf_release(h);
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

struct sc_stream {
    sc_stream_opts o;
    char *matrix;
    size_t n_ds;
    ds *ds;
    size_t n_failed;
    sc_split *split;   /* with o.split */
    uint64_t *split_h; /* per header dataset: its sc_split handle */
    sc_batch_header h;

    size_t n_vcols, n_labels; /* labels are vcols [0, n_labels) */
    size_t *wcol, n_wcol;     /* the class-weight columns among vcols */
    vcol *vc;
    size_t n_out_genes;
    size_t n_dout; /* datasets in the header (a pack's sources count) */
    /* every dataset is a pack in the output gene order and no transform
     * applies: batches are copied from the packs as they are (direct_*) */
    int direct;
    uint64_t *dcell; /* direct: the cells of the batch being cut */
    size_t dcap;
    sc_pack_buf *dbuf; /* direct: per part, records read with pread */

    uint64_t N;
    int weighted;
    uint64_t *blk_prefix; /* n_ds + 1 */
    uint64_t n_blocks;
    uint64_t *perm;
    uint64_t n_buffers;
    uint64_t *buf_start;
    /* weighted: the blocks by mass; the blocks of datasets without
     * compressed chunks (loose_blk: loose index -> block) by mass; draws
     * per drawn block of a chunked dataset */
    sc_alias *top, *loose;
    uint64_t *loose_blk;
    uint64_t group;
    uint64_t fetch;

    uint64_t lo, n_r, nb, next_batch;

    slot *slots;
    int n_slots;
    uint64_t tick;

    sbuf buf[2]; /* batches are cut from buf[cur]; the other is prefetched */
    int cur;
    sc_pool *pool;  /* with threads > 1: one reader fills the next buffer */
    sc_pool *rpool; /* with threads > 1: the reads of one fill in parallel */
    struct prefetch {
        sc_stream *s;
        int slot, busy, rc;
        uint64_t j;
    } pf;

    pair *tmp;
    size_t tmp_cap;
    size_t bcap_nnz;

    uint64_t *stamp;
    uint64_t mix_sum, mix_batches;
    double expected;
};

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

static int oom(void)
{
    return sc_fail(SC_ENOMEM, "out of memory");
}

/* ------------------------------------------------------------------------ */
/* Filters                                                                  */

enum { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_GE, OP_LE, OP_GT, OP_LT };

typedef struct filter {
    char *col;
    int op;
    char **vals;
    size_t n_vals;
    double num;
    char *text; /* copy of the whole expression for messages */
} filter;

static char *trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static void filter_release(filter *f)
{
    free(f->col);
    for (size_t i = 0; i < f->n_vals; i++)
        free(f->vals[i]);
    free(f->vals);
    free(f->text);
}

static int filter_parse(const char *expr, filter *f)
{
    static const struct {
        const char *s;
        int op;
    } ops[] = {{" not in ", OP_NOTIN}, {" in ", OP_IN}, {"==", OP_EQ},
               {"!=", OP_NE},          {">=", OP_GE},   {"<=", OP_LE},
               {">", OP_GT},           {"<", OP_LT},    {"=", OP_EQ}};
    char *s, *p = NULL, *rhs;
    size_t k;
    int rc = 0;

    memset(f, 0, sizeof *f);
    if (!(f->text = strdup(expr)) || !(s = strdup(expr)))
        return oom();
    for (k = 0; k < sizeof ops / sizeof *ops; k++)
        if ((p = strstr(s, ops[k].s)))
            break;
    if (!p) {
        free(s);
        return sc_fail(SC_EINVAL,
                       "filter '%s': no operator (==, !=, in, "
                       "not in, >=, <=, >, <)",
                       expr);
    }
    f->op = ops[k].op;
    *p = '\0';
    rhs = trim(p + strlen(ops[k].s));
    if (!*trim(s) || !*rhs) {
        free(s);
        return sc_fail(SC_EINVAL, "filter '%s': empty column or value", expr);
    }
    if (!(f->col = strdup(trim(s)))) {
        free(s);
        return oom();
    }
    if (f->op >= OP_GE) {
        char *end;
        errno = 0;
        f->num = strtod(rhs, &end);
        if (errno || *end || end == rhs)
            rc = sc_fail(SC_EINVAL, "filter '%s': '%s' is not a number", expr,
                         rhs);
    } else {
        /* a list for in/not in, one value for == and != */
        char *save = NULL, *tok;
        size_t cap = 0;
        for (tok = f->op == OP_IN || f->op == OP_NOTIN
                       ? strtok_r(rhs, ",", &save)
                       : rhs;
             tok && rc == 0; tok = f->op == OP_IN || f->op == OP_NOTIN
                                       ? strtok_r(NULL, ",", &save)
                                       : NULL) {
            rc = ss_strv_push(&f->vals, &f->n_vals, &cap, trim(tok));
        }
    }
    free(s);
    return rc;
}

static int same_value(const char *a, const char *b)
{
    char *ea, *eb;
    double x, y;
    if (!strcmp(a, b) || !strcasecmp(a, b))
        return !strcmp(a, b) || !strcasecmp(a, "true") ||
               !strcasecmp(a, "false");
    x = strtod(a, &ea);
    y = strtod(b, &eb);
    return ea != a && eb != b && !*ea && !*eb && x == y;
}

/* Does category value V pass filter F? */
static int filter_pass(const filter *f, const char *v)
{
    switch (f->op) {
    case OP_EQ: return same_value(v, f->vals[0]);
    case OP_NE: return !same_value(v, f->vals[0]);
    case OP_IN:
    case OP_NOTIN: {
        int in = 0;
        for (size_t i = 0; i < f->n_vals && !in; i++)
            in = same_value(v, f->vals[i]);
        return f->op == OP_IN ? in : !in;
    }
    default: {
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || isnan(x))
            return 0;
        return f->op == OP_GE   ? x >= f->num
               : f->op == OP_LE ? x <= f->num
               : f->op == OP_GT ? x > f->num
                                : x < f->num;
    }
    }
}

/* ------------------------------------------------------------------------ */
/* Index and selection                                                      */

static int is_unknown(const char *s)
{
    return !s || !*s || !strcasecmp(s, "unknown") || !strcasecmp(s, "nan") ||
           !strcasecmp(s, "na");
}

static int select_rows(sc_stream *s, ds *d, const filter *f, size_t n_f)
{
    const ss_meta *m = d->meta;
    uint8_t **pass = NULL;
    const ss_col **cols = NULL;
    int rc = 0;

    if (!(d->sel = malloc((m->n_obs ? m->n_obs : 1) * sizeof *d->sel)))
        return oom();
    if (n_f && (!(pass = calloc(n_f, sizeof *pass)) ||
                !(cols = calloc(n_f, sizeof *cols)))) {
        rc = oom();
        goto out;
    }
    for (size_t i = 0; i < n_f; i++) {
        if (!(cols[i] = ss_meta_col(m, f[i].col))) {
            sc_log_info("'%s': no obs column '%s': filter '%s' drops all "
                        "its cells",
                        d->path, f[i].col, f[i].text);
            continue;
        }
        if (!(pass[i] = malloc(cols[i]->n_cats + 1))) {
            rc = oom();
            goto out;
        }
        for (int64_t k = 0; k < cols[i]->n_cats; k++)
            pass[i][k] = (uint8_t)filter_pass(&f[i], cols[i]->cats[k]);
    }
    d->n_sel = 0;
    for (int64_t r = 0; r < m->n_obs; r++) {
        int ok = (int64_t)m->nnz[r] >= s->o.min_genes;
        for (size_t i = 0; i < n_f && ok; i++) {
            int32_t c = cols[i] ? cols[i]->codes[r] : -1;
            ok = c >= 0 && pass[i][c];
        }
        if (ok && s->split)
            ok = d->pa ? sc_split_part(
                             s->split,
                             s->split_h[d->dbase + (size_t)d->pa->dataset[r]],
                             (uint64_t)d->pa->row[r]) == s->o.split
                       : sc_split_part(s->split, s->split_h[d->dbase],
                                       (uint64_t)r) == s->o.split;
        if (ok)
            d->sel[d->n_sel++] = (uint32_t)r;
    }
out:
    for (size_t i = 0; i < n_f && pass; i++)
        free(pass[i]);
    free(pass);
    free(cols);
    return rc;
}

/* Read a vocabulary file: "code<TAB>term_id<TAB>label..." lines; a first
 * line whose first field is not a number is a header. Every field after
 * the code names the code. */
static int vocab_load(vcol *v, const char *path)
{
    sc_lines *l = NULL;
    char *line;
    size_t len, cap = 0;
    int rc;

    if ((rc = sc_lines_open(path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *save = NULL, *f0, *end, *tok;
        long code;
        if (!*line || *line == '#')
            continue;
        if (!(f0 = strtok_r(line, "\t", &save)))
            continue;
        errno = 0;
        code = strtol(f0, &end, 10);
        if (*end || end == f0 || errno || code < 0 || code > INT32_MAX) {
            if (v->n == 0 && v->n_alias == 0)
                continue; /* a header line */
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: '%s' is not a code", path,
                         sc_lines_lineno(l), f0);
            break;
        }
        if ((size_t)code >= v->n) {
            size_t n = (size_t)code + 1;
            char **t = realloc(v->terms, n * sizeof *t);
            if (!t) {
                rc = oom();
                break;
            }
            for (size_t i = v->n; i < n; i++)
                t[i] = NULL;
            v->terms = t;
            v->n = n;
        }
        for (int k = 0; (tok = strtok_r(NULL, "\t", &save)); k++) {
            if (v->n_alias == cap) {
                cap = cap ? 2 * cap : 64;
                char **a = realloc(v->alias_store, cap * sizeof *a);
                if (!a) {
                    rc = oom();
                    goto out;
                }
                v->alias_store = a;
            }
            if (!(v->alias_store[v->n_alias] = strdup(tok))) {
                rc = oom();
                goto out;
            }
            if (k == 0 && !v->terms[code] && !(v->terms[code] = strdup(tok))) {
                rc = oom();
                goto out;
            }
            if ((rc = sc_strmap_put(&v->index, v->alias_store[v->n_alias++],
                                    code)) < 0)
                goto out;
        }
    }
out:
    sc_lines_close(l);
    if (rc < 0)
        return sc_fail_ctx(rc, "vocabulary of '%s'", v->name);
    for (size_t i = 0; i < v->n; i++)
        if (!v->terms[i] && !(v->terms[i] = strdup("")))
            return oom();
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The vocabulary of column K over the selected cells, sorted. */
static int vocab_build(sc_stream *s, size_t k)
{
    vcol *v = &s->vc[k];
    sc_strmap seen = {0};
    size_t cap = 0;
    int rc = 0;

    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ds *d = &s->ds[i];
        const ss_col *c = d->vcol[k];
        uint8_t *used;
        if (!c)
            continue;
        if (!(used = calloc(c->n_cats + 1, 1)))
            return oom();
        for (int64_t j = 0; j < d->n_sel; j++) {
            int32_t code = c->codes[d->sel[j]];
            if (code >= 0)
                used[code] = 1;
        }
        for (int64_t j = 0; j < c->n_cats && rc == 0; j++) {
            if (!used[j] || is_unknown(c->cats[j]) ||
                sc_strmap_get(&seen, c->cats[j]) >= 0)
                continue;
            size_t n = v->n;
            if ((rc = ss_strv_push(&v->terms, &n, &cap, c->cats[j])) < 0)
                break;
            rc = sc_strmap_put(&seen, v->terms[v->n], (int64_t)v->n);
            v->n = n;
        }
        free(used);
    }
    sc_strmap_release(&seen);
    if (rc < 0)
        return rc;
    if (v->n)
        qsort(v->terms, v->n, sizeof *v->terms, cmp_str);
    for (size_t i = 0; i < v->n && rc == 0; i++)
        rc = sc_strmap_put(&v->index, v->terms[i], (int64_t)i);
    return rc;
}

/* Local codes of every dataset to global codes of column K. */
static int vocab_maps(sc_stream *s, size_t k)
{
    vcol *v = &s->vc[k];
    for (size_t i = 0; i < s->n_ds; i++) {
        ds *d = &s->ds[i];
        const ss_col *c = d->vcol[k];
        if (!c)
            continue;
        if (!(d->vmap[k] = malloc((c->n_cats + 1) * sizeof(int32_t))))
            return oom();
        for (int64_t j = 0; j < c->n_cats; j++)
            d->vmap[k][j] = is_unknown(c->cats[j])
                                ? -1
                                : (int32_t)sc_strmap_get(&v->index, c->cats[j]);
    }
    return 0;
}

/* Positions [0, N) of values V that form a longest strictly ascending
 * subsequence, marked in KEEP (patience sorting, N log N); TAIL and PRED
 * are scratch of N each. NaN values (unplaced) are never part of it. */
static void longest_run(const double *v, size_t n, uint8_t *keep, size_t *tail,
                        size_t *pred)
{
    size_t len = 0;
    for (size_t k = 0; k < n; k++) {
        keep[k] = 0;
        if (isnan(v[k]))
            continue;
        size_t lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (v[tail[mid]] < v[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        pred[k] = lo ? tail[lo - 1] : SIZE_MAX;
        tail[lo] = k;
        if (lo == len)
            len++;
    }
    for (size_t k = len ? tail[len - 1] : SIZE_MAX; k != SIZE_MAX; k = pred[k])
        keep[k] = 1;
}

struct gkey {
    double key;
    uint32_t g;
};

static int cmp_gkey(const void *a, const void *b)
{
    const struct gkey *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->g > y->g) - (x->g < y->g);
}

/* The N placed genes ORD sorted by KEY, through TMP. */
static void sort_by_key(uint32_t *ord, size_t n, const double *key,
                        struct gkey *tmp)
{
    for (size_t r = 0; r < n; r++)
        tmp[r] = (struct gkey){key[ord[r]], ord[r]};
    qsort(tmp, n, sizeof *tmp, cmp_gkey);
    for (size_t r = 0; r < n; r++)
        ord[r] = tmp[r].g;
}

/*
 * Order the N genes of the union so that every dataset's genes come in its
 * own order as far as the datasets agree. The datasets are merged in one by
 * one: each gene has a position (a real number); a dataset's genes already
 * placed that form its longest ascending run anchor it, and its new genes
 * are placed between the anchors around them, in its order. Its genes
 * placed out of that run (the datasets disagree there) stay where they
 * are. Datasets that agree with one order (gene lists of one reference,
 * in its order) map to ascending output columns, and a row needs no
 * sorting. SEQ holds the datasets' genes as union numbers (first-seen
 * order), dataset i in [SEQ_OFF[i], SEQ_OFF[i + 1]). On return RANK[g] is
 * the output position of gene g.
 */
static int join_order(const uint32_t *seq, const size_t *seq_off, size_t n_ds,
                      size_t n, uint32_t *rank)
{
    size_t longest = 0;
    for (size_t i = 0; i < n_ds; i++)
        if (seq_off[i + 1] - seq_off[i] > longest)
            longest = seq_off[i + 1] - seq_off[i];
    double *key = malloc((n ? n : 1) * sizeof *key);
    double *v = malloc((longest ? longest : 1) * sizeof *v);
    size_t *tail = malloc((longest ? longest : 1) * sizeof *tail);
    size_t *pred = malloc((longest ? longest : 1) * sizeof *pred);
    uint8_t *keep = malloc(longest ? longest : 1);
    uint32_t *ord = malloc((n ? n : 1) * sizeof *ord);
    struct gkey *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t n_placed = 0;
    double lo_key = 0, hi_key = 0;
    int rc = 0, tight = 0;

    if (!key || !v || !tail || !pred || !keep || !ord || !tmp) {
        rc = oom();
        goto out;
    }
    for (size_t g = 0; g < n; g++)
        key[g] = NAN;
    for (size_t i = 0; i < n_ds; i++) {
        const uint32_t *q = seq + seq_off[i];
        size_t L = seq_off[i + 1] - seq_off[i];
        if (tight) {
            /* positions as ranks again, before gaps get too narrow */
            sort_by_key(ord, n_placed, key, tmp);
            for (size_t r = 0; r < n_placed; r++)
                key[ord[r]] = (double)r;
            lo_key = 0;
            hi_key = n_placed ? (double)(n_placed - 1) : 0;
            tight = 0;
        }
        for (size_t k = 0; k < L; k++)
            v[k] = key[q[k]];
        longest_run(v, L, keep, tail, pred);
        /* new genes, run by run, between the anchors around them (or the
         * ends of the order) */
        int first = n_placed == 0;
        double left = first ? 0 : lo_key - 1;
        size_t run = 0;
        for (size_t k = 0; k <= L; k++) {
            if (k < L && isnan(v[k])) {
                run++;
                continue;
            }
            if (k < L && !keep[k])
                continue;
            double right = k < L ? v[k] : first ? 1 : hi_key + 1;
            if (run) {
                double step = (right - left) / (double)(run + 1);
                if (step < 1e-3)
                    tight = 1;
                size_t j = 0;
                for (size_t p = k - 1;; p--) {
                    /* the run's genes, back to front, skipping the placed */
                    if (isnan(v[p])) {
                        key[q[p]] = right - step * (double)(++j);
                        ord[n_placed++] = q[p];
                    }
                    if (j == run || p == 0)
                        break;
                }
                run = 0;
            }
            if (k < L)
                left = v[k];
        }
        for (size_t k = 0; k < L; k++) {
            double x = key[q[k]];
            if (first && k == 0)
                lo_key = hi_key = x;
            lo_key = x < lo_key ? x : lo_key;
            hi_key = x > hi_key ? x : hi_key;
        }
    }
    sort_by_key(ord, n_placed, key, tmp);
    for (size_t r = 0; r < n_placed; r++)
        rank[ord[r]] = (uint32_t)r;
out:
    free(tmp);
    free(key);
    free(v);
    free(tail);
    free(pred);
    free(keep);
    free(ord);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Gene space                                                               */

typedef struct glist {
    const char *organism;
    size_t off, n;
    char **genes;
    sc_strmap map;
} glist;

static int genes_read(const char *path, glist *g)
{
    sc_lines *l = NULL;
    char *line;
    size_t len, cap = 0;
    int rc;

    if ((rc = sc_lines_open(path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        char *tab = strchr(line, '\t');
        if (tab)
            *tab = '\0';
        line = trim(line);
        if (!*line || *line == '#')
            continue;
        if ((rc = ss_strv_push(&g->genes, &g->n, &cap, line)) < 0)
            break;
    }
    sc_lines_close(l);
    if (rc == 0 && g->n == 0)
        rc = sc_fail(SC_EFORMAT, "gene list '%s' is empty", path);
    for (size_t i = 0; i < g->n && rc == 0; i++)
        rc = sc_strmap_put(&g->map, g->genes[i], (int64_t)i);
    return rc;
}

/* Look NAME up in MAP, then without an Ensembl-style ".N" version. */
static int64_t gene_find(const sc_strmap *map, const char *name)
{
    int64_t k = sc_strmap_get(map, name);
    const char *dot;
    if (k >= 0 || !(dot = strrchr(name, '.')) || !dot[1])
        return k;
    for (const char *p = dot + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    char buf[256];
    size_t n = (size_t)(dot - name);
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return sc_strmap_get(map, buf);
}

static int set_out_genes(sc_stream *s, char **genes, size_t n)
{
    if (n >= GM_LATE)
        return sc_fail(SC_EINVAL, "%zu output genes: at most %d", n,
                       GM_LATE - 1);
    if (!(s->h.genes = calloc(n ? n : 1, sizeof *s->h.genes)))
        return oom();
    for (size_t i = 0; i < n; i++)
        if (!(s->h.genes[i] = strdup(genes[i])))
            return oom();
    s->h.n_genes = s->n_out_genes = n;
    return 0;
}

/* The earlier dataset whose gmap D can share (the same interned var list,
 * recorded in OWNERS), else record D as the owner of its list: -1. */
static int64_t map_owner(sc_u64map *owners, const sc_stream *s, const ds *d,
                         int *rc)
{
    int64_t *v;
    int added = 0;
    if ((*rc = sc_u64map_slot(owners, (uint64_t)(uintptr_t)d->meta->var,
                              (int64_t)(d - s->ds), &v, &added)) < 0) {
        *rc = oom();
        return -1;
    }
    return added ? -1 : *v;
}

static int map_alloc(ds *d)
{
    int64_t n = d->meta->n_vars;
    if (!(d->gmap = malloc((n ? n : 1) * sizeof *d->gmap)))
        return oom();
    return 0;
}

/* "human", "Homo sapiens" and "NCBITaxon:9606" name one organism. */
static int same_organism(const char *a, const char *b)
{
    int x, y;
    if (!a || !b)
        return 0;
    if (!strcasecmp(a, b))
        return 1;
    x = sc_genes_find_species(a);
    y = sc_genes_find_species(b);
    return x >= 0 && x == y;
}

/* Mark with GM_LATE the genes of D outside a longest subsequence of its
 * var order that ascends in the output order (longest_run): the others
 * come out of a row already sorted. */
static int mark_late(ds *d)
{
    size_t nv = (size_t)d->meta->n_vars, m = nv ? nv : 1;
    double *v = malloc(m * sizeof *v);
    size_t *tail = malloc(m * sizeof *tail), *pred = malloc(m * sizeof *pred);
    uint8_t *keep = malloc(m);
    int rc = 0;

    if (!v || !tail || !pred || !keep) {
        rc = oom();
    } else {
        /* dropped genes (NaN) are never part of the run */
        for (size_t k = 0; k < nv; k++)
            v[k] = d->gmap[k] >= 0 ? (double)d->gmap[k] : NAN;
        longest_run(v, nv, keep, tail, pred);
        for (size_t k = 0; k < nv; k++)
            if (d->gmap[k] >= 0 && !keep[k])
                d->gmap[k] |= GM_LATE;
    }
    free(v);
    free(tail);
    free(pred);
    free(keep);
    return rc;
}

/* The human and mouse references and the mouse -> human one-to-one
 * orthologs (sc_genes_orthologs, as sc-harmonize --orthologs), loaded for
 * the first mouse dataset. */
typedef struct ortho_ctx {
    sc_genes *hs, *mm;
    int64_t *to_hs;
} ortho_ctx;

static void ortho_release(ortho_ctx *c)
{
    sc_genes_free(c->hs);
    sc_genes_free(c->mm);
    free(c->to_hs);
}

/* Map the genes of the mouse dataset D onto the human list USE through
 * their orthologs, into d->gmap (a human gene twice: its first column), and
 * say what was dropped. */
static int ortho_map(ortho_ctx *c, ds *d, const glist *use)
{
    int64_t n_proj = 0, n_none = 0, n_unknown = 0, n_absent = 0;
    sc_strmap dup = {0};
    int rc = 0;

    if (!c->to_hs && ((rc = sc_genes_load(0, 0, &c->hs)) < 0 ||
                      (rc = sc_genes_load(1, 0, &c->mm)) < 0 ||
                      (rc = sc_genes_orthologs(c->mm, c->hs, &c->to_hs)) < 0))
        return rc;
    for (int64_t k = 0; k < d->meta->n_vars && rc == 0; k++) {
        int64_t x = sc_genes_map(c->mm, d->meta->var[k], NULL), y, j = -1;

        d->gmap[k] = -1;
        if (x < 0)
            n_unknown++;
        else if ((y = c->to_hs[x]) < 0)
            n_none++;
        else if ((j = gene_find(&use->map, sc_genes_id(c->hs, y))) < 0)
            n_absent++;
        if (j < 0)
            continue;
        n_proj++;
        if (sc_strmap_get(&dup, use->genes[j]) >= 0)
            continue;
        d->gmap[k] = (int32_t)(j + (int64_t)use->off);
        rc = sc_strmap_put(&dup, use->genes[j], k);
    }
    sc_strmap_release(&dup);
    if (rc == 0)
        sc_log_warn("'%s': %" PRId64 " mouse genes projected onto human "
                    "orthologs; dropped: %" PRId64 " without a one-to-one "
                    "ortholog, %" PRId64 " whose ortholog is not in the gene "
                    "list, %" PRId64 " not mouse genes",
                    d->path, n_proj, n_none, n_absent, n_unknown);
    return rc;
}

static int genes_ref(sc_stream *s)
{
    ortho_ctx oc = {NULL, NULL, NULL};
    const sc_stream_opts *o = &s->o;
    glist *g = calloc(o->n_genes, sizeof *g);
    const glist **uses = calloc(s->n_ds ? s->n_ds : 1, sizeof *uses);
    sc_u64map owners = {0};
    char **all = NULL;
    size_t total = 0;
    int rc = 0;

    if (!g || !uses) {
        free(g);
        free(uses);
        return oom();
    }
    for (size_t i = 0; i < o->n_genes && rc == 0; i++) {
        g[i].organism = o->genes[i].organism;
        g[i].off = total;
        rc = genes_read(o->genes[i].path, &g[i]);
        total += g[i].n;
    }
    if (rc == 0 && !(all = malloc((total ? total : 1) * sizeof *all)))
        rc = oom();
    for (size_t i = 0; i < o->n_genes && rc == 0; i++)
        memcpy(all + g[i].off, g[i].genes, g[i].n * sizeof *all);
    if (rc == 0)
        rc = set_out_genes(s, all, total);
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ds *d = &s->ds[i];
        const glist *use = NULL;
        int project = o->orthologs && d->organism &&
                      sc_genes_find_species(d->organism) == 1;
        for (size_t j = 0; j < o->n_genes && !use && project; j++)
            if (same_organism(g[j].organism, "human"))
                use = &g[j];
        for (size_t j = 0; j < o->n_genes && !use; j++)
            if (!g[j].organism ||
                (!project && same_organism(g[j].organism, d->organism)))
                use = &g[j];
        if (!use) {
            rc = sc_fail(SC_EINVAL,
                         "'%s': no reference gene list for "
                         "organism '%s'",
                         d->path, d->organism ? d->organism : "(unknown)");
            break;
        }
        if (!project) {
            /* the same var and gene list as an earlier dataset: its map */
            int64_t r = map_owner(&owners, s, d, &rc);
            if (rc < 0)
                break;
            if (r >= 0 && uses[r] == use && !s->ds[r].gmap_shared) {
                d->gmap = s->ds[r].gmap;
                d->gmap_shared = 1;
                continue;
            }
            uses[i] = use;
        }
        if ((rc = map_alloc(d)) < 0)
            break;
        if (project) {
            rc = ortho_map(&oc, d, use);
            continue;
        }
        sc_strmap dup = {0};
        for (int64_t k = 0; k < d->meta->n_vars && rc == 0; k++) {
            int64_t j = gene_find(&use->map, d->meta->var[k]);
            d->gmap[k] = j < 0 ? -1 : (int32_t)(j + (int64_t)use->off);
            /* a gene twice in one dataset: keep its first column */
            if (j >= 0 && sc_strmap_get(&dup, use->genes[j]) >= 0)
                d->gmap[k] = -1;
            else if (j >= 0)
                rc = sc_strmap_put(&dup, use->genes[j], k);
        }
        sc_strmap_release(&dup);
    }
    ortho_release(&oc);
    sc_u64map_release(&owners);
    free(uses);
    free(all);
    for (size_t i = 0; i < o->n_genes; i++) {
        for (size_t j = 0; j < g[i].n; j++)
            free(g[i].genes[j]);
        free(g[i].genes);
        sc_strmap_release(&g[i].map);
    }
    free(g);
    return rc;
}

static int genes_join(sc_stream *s)
{
    sc_strmap map = {0};
    char **out = NULL;
    uint32_t *count = NULL, *stamp = NULL, *seq = NULL, *rank = NULL;
    int32_t *pos = NULL;
    size_t n = 0, cap = 0, n_seq = 0, *seq_off = NULL;
    sc_u64map owners = {0};
    int rc = 0, same = 1;

    for (size_t i = 1; i < s->n_ds && same; i++) {
        const ss_meta *a = s->ds[0].meta, *b = s->ds[i].meta;
        same = a->n_vars == b->n_vars;
        for (int64_t k = 0; k < a->n_vars && same && a->var != b->var; k++)
            same = !strcmp(a->var[k], b->var[k]);
    }
    if (!same && s->o.join == SC_STREAM_JOIN_NONE)
        return sc_fail(SC_EINVAL,
                       "the datasets' genes differ ('%s' and "
                       "others): choose --join inner|outer or "
                       "--genes FILE",
                       s->ds[0].path);
    /* the union in first-seen order, with the number of datasets per gene;
     * each dataset's genes as union numbers, in d->gmap for now (-1: its
     * second column of a gene) and in SEQ without those (for join_order) */
    for (size_t i = 0; i < s->n_ds; i++)
        n_seq += (size_t)s->ds[i].meta->n_vars;
    if (!(seq_off = calloc(s->n_ds + 1, sizeof *seq_off)) ||
        !(seq = malloc((n_seq ? n_seq : 1) * sizeof *seq)))
        rc = oom();
    n_seq = 0;
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ds *d = &s->ds[i];
        const ss_meta *m = d->meta;
        /* the same var as an earlier dataset: its map, and no sequence
         * (join_order places nothing for a list it has seen) */
        int64_t r = map_owner(&owners, s, d, &rc);
        if (rc < 0)
            break;
        if (r >= 0) {
            d->gmap = s->ds[r].gmap;
            d->gmap_shared = 1;
            for (int64_t k = 0; k < m->n_vars; k++)
                if (d->gmap[k] >= 0)
                    count[d->gmap[k]]++;
            seq_off[i + 1] = n_seq;
            continue;
        }
        if ((rc = map_alloc(d)) < 0)
            break;
        for (int64_t k = 0; k < m->n_vars && rc == 0; k++) {
            int64_t j = sc_strmap_get(&map, m->var[k]);
            if (j < 0) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 4096;
                    char **o2 = realloc(out, cap * sizeof *o2);
                    uint32_t *c2 = realloc(count, cap * sizeof *c2);
                    uint32_t *s2 = realloc(stamp, cap * sizeof *s2);
                    if (o2)
                        out = o2;
                    if (c2)
                        count = c2;
                    if (s2)
                        stamp = s2;
                    if (!o2 || !c2 || !s2) {
                        rc = oom();
                        break;
                    }
                }
                out[n] = m->var[k];
                count[n] = 0;
                stamp[n] = 0;
                j = (int64_t)n++;
                if ((rc = sc_strmap_put(&map, out[j], j)) < 0)
                    break;
            }
            if (stamp[j] == i + 1) { /* twice in this dataset */
                d->gmap[k] = -1;
                continue;
            }
            stamp[j] = (uint32_t)(i + 1);
            count[j]++;
            d->gmap[k] = (int32_t)j;
            seq[n_seq++] = (uint32_t)j;
        }
        seq_off[i + 1] = n_seq;
    }
    sc_strmap_release(&map);
    sc_u64map_release(&owners);
    /* put the union in an order that agrees with the datasets' own, keep
     * the genes every dataset has for an inner join */
    if (rc == 0 && (!(rank = malloc((n ? n : 1) * sizeof *rank)) ||
                    !(pos = malloc((n ? n : 1) * sizeof *pos))))
        rc = oom();
    if (rc == 0)
        rc = join_order(seq, seq_off, s->n_ds, n, rank);
    char **names = NULL;
    if (rc == 0 && !(names = malloc((n ? n : 1) * sizeof *names)))
        rc = oom();
    size_t kept = 0;
    if (rc == 0) {
        int32_t *col = (int32_t *)stamp; /* reused: rank -> output column */
        for (size_t r = 0; r < n; r++)
            col[r] = -1;
        for (size_t j = 0; j < n; j++) {
            names[rank[j]] = out[j];
            if (s->o.join != SC_STREAM_JOIN_INNER || count[j] == s->n_ds)
                col[rank[j]] = 0;
        }
        for (size_t r = 0; r < n; r++)
            if (col[r] == 0) {
                names[kept] = names[r];
                col[r] = (int32_t)kept++;
            }
        for (size_t j = 0; j < n; j++)
            pos[j] = col[rank[j]];
        rc = set_out_genes(s, names, kept);
    }
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ds *d = &s->ds[i];
        for (int64_t k = 0; k < d->meta->n_vars && !d->gmap_shared; k++)
            if (d->gmap[k] >= 0)
                d->gmap[k] = pos[d->gmap[k]];
    }
    free(names);
    free(out);
    free(count);
    free(stamp);
    free(seq);
    free(seq_off);
    free(rank);
    free(pos);
    if (rc == 0 && s->n_out_genes == 0)
        rc = sc_fail(SC_EINVAL, "the datasets have no gene in common");
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Sampling plan                                                            */

/* The class key of a cell: its codes in the weight columns, mixed radix. */
static uint64_t class_key(const sc_stream *s, const ds *d, uint32_t row)
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
static int plan_blocks(ds *d, uint64_t B)
{
    int64_t chunk = d->meta->chunk;
    uint64_t n = (uint64_t)d->n_sel;

    d->n_blk = (n + B - 1) / B;
    if (chunk <= 0 || n == 0)
        return 0;
    if (!(d->bstart = malloc((d->n_blk + 1) * sizeof *d->bstart)))
        return oom();
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
static void block_cells(const sc_stream *s, const ds *d, uint64_t k,
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
static uint64_t last_at_most(const uint64_t *prefix, uint64_t n, uint64_t x)
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
static size_t block_dataset(const sc_stream *s, uint64_t blk, uint64_t *k)
{
    size_t di = (size_t)last_at_most(s->blk_prefix, s->n_ds, blk);
    *k = blk - s->blk_prefix[di];
    return di;
}

/* The blocks of every dataset, numbered through the epoch's blocks. */
static int plan_block_prefix(sc_stream *s)
{
    int rc;

    if (!(s->blk_prefix = malloc((s->n_ds + 1) * sizeof *s->blk_prefix)))
        return oom();
    s->blk_prefix[0] = 0;
    for (size_t i = 0; i < s->n_ds; i++) {
        if ((rc = plan_blocks(&s->ds[i], (uint64_t)s->o.block)) < 0)
            return rc;
        s->blk_prefix[i + 1] = s->blk_prefix[i] + s->ds[i].n_blk;
    }
    s->n_blocks = s->blk_prefix[s->n_ds];
    return 0;
}

static int plan_epoch(sc_stream *s)
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
        return oom();
    s->buf_start[0] = 0;
    for (uint64_t j = 0; j < s->n_buffers; j++) {
        uint64_t c = 0;
        for (uint64_t b = j * K; b < (j + 1) * K && b < s->n_blocks; b++) {
            uint64_t k, k0, k1;
            size_t di = block_dataset(s, s->perm ? s->perm[b] : b, &k);
            block_cells(s, &s->ds[di], k, &k0, &k1);
            c += k1 - k0;
        }
        s->buf_start[j + 1] = s->buf_start[j] + c;
    }
    return 0;
}

/* The sampling weights of the selected cells of D into W (n_sel). */
static int cell_weights(const sc_stream *s, const ds *d, const sc_u64map *cm,
                        double *w)
{
    const sc_stream_opts *o = &s->o;
    const ss_col *cw = NULL;
    double *cwv = NULL;

    if (o->cell_weight && strcmp(o->cell_weight, "nnz")) {
        if (!(cw = ss_meta_col(d->meta, o->cell_weight)))
            return sc_fail(SC_EINVAL,
                           "'%s': no obs column '%s' for cell weights",
                           d->path, o->cell_weight);
        if (!(cwv = malloc((cw->n_cats + 1) * sizeof *cwv)))
            return oom();
        for (int64_t k = 0; k < cw->n_cats; k++) {
            char *end;
            double v = strtod(cw->cats[k], &end);
            cwv[k] = end != cw->cats[k] && !*end && v > 0 && isfinite(v) ? v : 0;
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
static int plan_weighted(sc_stream *s)
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
        rc = oom();
        goto out;
    }
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ds *d = &s->ds[i];
        if (!d->n_sel)
            continue;
        free(w);
        if (!(w = malloc((size_t)d->n_sel * sizeof *w)) ||
            !(d->cum = malloc((size_t)d->n_sel * sizeof *d->cum))) {
            rc = oom();
            break;
        }
        if ((rc = cell_weights(s, d, &cm, w)) < 0)
            break;
        d->mass = 0;
        for (uint64_t k = 0; k < d->n_blk; k++) {
            uint64_t k0, k1;
            double m = 0;
            block_cells(s, d, k, &k0, &k1);
            for (uint64_t j = k0; j < k1; j++) {
                if (!(w[j] >= 0) || !isfinite(w[j])) {
                    rc = sc_fail(SC_EINVAL, "'%s': row %" PRIu32
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
            rc = oom();
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
               : gmass > 0       ? (uint64_t)llround(gsum / gmass)
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
static uint64_t draw_in_block(const sc_stream *s, const ds *d, uint64_t k,
                              uint64_t u)
{
    uint64_t k0, k1;
    block_cells(s, d, k, &k0, &k1);
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
static uint64_t weighted_cell(const sc_stream *s, uint64_t p)
{
    uint64_t kb = sc_rng_key(s->o.seed, s->o.epoch, RNG_DRAWS);
    uint64_t kc = sc_rng_key(s->o.seed, s->o.epoch, RNG_CELLS);
    uint64_t g = p / s->group, k;
    uint64_t b = sc_alias_draw2(s->top, sc_rng_at(kb, 2 * g),
                                sc_rng_at(kb, 2 * g + 1));
    size_t di = block_dataset(s, b, &k);
    if (!s->ds[di].bstart && s->group > 1) {
        b = s->loose_blk[sc_alias_draw2(s->loose, sc_rng_at(kc, 3 * p),
                                        sc_rng_at(kc, 3 * p + 1))];
        di = block_dataset(s, b, &k);
    }
    const ds *d = &s->ds[di];
    uint64_t c = draw_in_block(s, d, k, sc_rng_at(kc, 3 * p + 2));
    return (uint64_t)di << 32 | d->sel[c];
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
        return oom();
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
        return oom();
    for (size_t k = 0; k < s->n_labels; k++) {
        sc_batch_vocab *v = &h->labels[k];
        h->n_labels = k + 1;
        if (!(v->name = strdup(s->vc[k].name)) ||
            !(v->terms = calloc(s->vc[k].n ? s->vc[k].n : 1, sizeof *v->terms)))
            return oom();
        for (size_t j = 0; j < s->vc[k].n; j++) {
            if (!(v->terms[j] = strdup(s->vc[k].terms[j])))
                return oom();
            v->n = j + 1;
        }
    }
    for (size_t i = 0; i < s->n_ds; i++) {
        const ds *d = &s->ds[i];
        const sc_batch_header *ph = d->pack ? sc_pack_header(d->pack) : NULL;
        size_t n = ph ? ph->n_datasets : 1;
        for (size_t k = 0; k < n; k++) {
            if (!(h->datasets[d->dbase + k] =
                      strdup(ph ? ph->datasets[k] : d->path)))
                return oom();
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
        return oom();
    for (size_t i = 0; i < o->n_inputs; i++) {
        const sc_stream_input *in = &o->inputs[i];
        ds *d = &s->ds[s->n_ds];
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
            return oom();
        d->dbase = s->n_dout;
        s->n_dout += d->pack ? sc_pack_header(d->pack)->n_datasets : 1;
        const char *org =
            in->organism && *in->organism ? in->organism : d->meta->organism;
        if (org && !(d->organism = strdup(org)))
            return oom();
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
        rc = oom();
        goto out;
    }
    for (size_t i = 0; i < s->n_ds; i++) {
        const ds *d = &s->ds[i];
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
        const ds *d = &s->ds[i];
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
    filter *f = NULL;
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
        if ((rc = filter_parse(o->filters[i], &f[i])) < 0)
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
        if ((rc = select_rows(s, &s->ds[i], f, o->n_filters)) < 0)
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
        ds *d = &s->ds[i];
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
        rc = file ? vocab_load(&s->vc[k], file) : vocab_build(s, k);
        if (rc < 0 || (rc = vocab_maps(s, k)) < 0)
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
    rc = o->n_genes ? genes_ref(s) : genes_join(s);
    for (size_t i = 0; i < s->n_ds && rc == 0; i++)
        if (!s->ds[i].gmap_shared)
            rc = mark_late(&s->ds[i]);
    if (rc < 0)
        goto fail;
    s->direct = o->normalize <= 0 && !o->log1p &&
                o->select == SC_STREAM_SEL_ALL && !o->dense;
    for (size_t i = 0; i < s->n_ds && s->direct; i++) {
        const ds *d = &s->ds[i];
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
        if ((rc = plan_weighted(s)) < 0) {
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
        if ((rc = plan_epoch(s)) < 0) {
            free(p);
            goto fail;
        }
        for (size_t i = 0; i < s->n_ds; i++)
            p[s->n_dout + i] = (double)s->ds[i].n_sel / (double)s->N;
    }
    /* per header dataset: a pack's share split by its cells' sources */
    for (size_t i = 0; i < s->n_ds; i++) {
        const ds *d = &s->ds[i];
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
        ((rc = sc_pool_new(2, &s->pool)) < 0 ||
         (rc = sc_pool_new(o->threads > 2 ? o->threads - 1 : 2, &s->rpool)) <
             0))
        goto fail;
    if ((rc = make_header(s)) < 0)
        goto fail;
    for (size_t i = 0; i < o->n_filters; i++)
        filter_release(&f[i]);
    free(f);
    free(cols);
    *out = s;
    return 0;
nomem:
    rc = oom();
fail:
    for (size_t i = 0; f && i < o->n_filters; i++)
        filter_release(&f[i]);
    free(f);
    free(cols);
    sc_stream_close(s);
    return rc;
}

const sc_batch_header *sc_stream_header(const sc_stream *s)
{
    return &s->h;
}

/* ------------------------------------------------------------------------ */
/* Reading buffers                                                          */

static int get_src(sc_stream *s, int64_t di, ss_src **m)
{
    ds *d = &s->ds[di];
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
        if ((rc = ss_src_open(d->path, s->matrix, &v->src)) < 0)
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
        return oom();
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
        return oom();
    u->pool = p;
    u->pool_cap = cap;
    return 0;
}

/* Sort N pairs by column: insertion sort for short runs, else an LSD radix
 * sort in 8-bit digits through TMP (a gene space of 60,000 needs two
 * passes). Rows need this once per cell (the genes out of their dataset's
 * order, or a file's unsorted row), so qsort's calls cost. */
static void sort_pairs(pair *a, pair *tmp, size_t n, uint32_t max_col)
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
static int take_row(const sc_stream *s, sbuf *u, const ds *d,
                    const ss_rows *blk, int64_t i, size_t pos)
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
            return oom();
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
        sort_pairs(u->pool + start, tmp, n_in + n_late,
                   (uint32_t)s->n_out_genes);
    } else if (n_late) {
        /* sort the few late entries, then merge from the back */
        sort_pairs(late, tmp, n_late, (uint32_t)s->n_out_genes);
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
            return oom();
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
    return last_at_most(s->buf_start, s->n_buffers, g);
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
        if ((rc = take_row(s, u, &s->ds[di], &u->rows, row - r0, pos)) < 0)
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
 * worker's own raw readers (RAW: per dataset) into part P. */
struct fill_job {
    const sc_stream *s;
    sbuf *p;
    ss_raw **raw;
    uint64_t a, b, n;
    int rc;
};

static void fill_run(void *arg)
{
    struct fill_job *J = arg;
    sbuf *u = J->p;
    u->pool_n = 0;
    J->rc = 0;
    for (uint64_t a = J->a; a < J->b && J->rc == 0;) {
        uint32_t last, r0 = (uint32_t)u->order[a].cell;
        int64_t di = (int64_t)(u->order[a].cell >> 32);
        uint64_t b = run_end(u, a, J->n, &last);
        if ((J->rc =
                 ss_raw_read(J->raw[di], r0, (int64_t)last + 1, &u->rows)) == 0)
            J->rc = take_run(J->s, u, di, r0, a, b);
        a = b;
    }
}

/* Fill U on the read pool: the buffer's runs split into W contiguous
 * parts of about equal cells, each read by one worker with its own
 * readers of the files into its own part, then the parts' entries appended
 * to U's pool. SC_EUNSUP when a source has no raw reader or the buffer's
 * datasets exceed the open-file slots (then fill_serial does it). */
static int fill_parallel(sc_stream *s, sbuf *u, uint64_t n)
{
    int W = s->o.threads, rc = 0; /* this thread and W - 1 of the pool */
    struct fill_job job[SS_RAW_PARTS];
    size_t n_ds = 0;
    ss_raw **raw;

    if (W < 2 || n == 0)
        return SC_EUNSUP;
    if (W > SS_RAW_PARTS)
        W = SS_RAW_PARTS;
    for (uint64_t a = 0; a < n; a++)
        if (a == 0 || (u->order[a].cell >> 32) != (u->order[a - 1].cell >> 32))
            n_ds++;
    if (n_ds > (size_t)s->n_slots)
        return SC_EUNSUP;
    if (!u->part) {
        if (!(u->part = calloc(SS_RAW_PARTS, sizeof *u->part)))
            return oom();
        u->n_part = SS_RAW_PARTS;
    }
    if (!(raw = calloc((size_t)W * s->n_ds, sizeof *raw)))
        return oom();
    /* open the sources here (the open-file cache is this thread's) */
    for (uint64_t a = 0; a < n && rc == 0; a++) {
        int64_t di = (int64_t)(u->order[a].cell >> 32);
        ss_src *src;
        if (a > 0 && (u->order[a - 1].cell >> 32) == (uint64_t)di)
            continue;
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
        uint64_t b = a, target = (uint64_t)(nj + 1) * n / (uint64_t)W;
        uint32_t last;
        while (b < n && (b < target || nj == W - 1))
            b = run_end(u, b, n, &last);
        sbuf *p = &u->part[nj];
        p->cell = u->cell;
        p->coff = u->coff;
        p->cpool = u->cpool;
        p->clen = u->clen;
        p->cdepth = u->cdepth;
        p->order = u->order;
        job[nj] =
            (struct fill_job){s, p, raw + (size_t)nj * s->n_ds, a, b, n, 0};
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
            u->cell[i] = weighted_cell(s, lo + i);
        if (s->group > 1 && s->o.shuffle) { /* the groups' cells mixed */
            sc_rng r;
            sc_rng_init(&r, s->o.seed, s->o.epoch, RNG_BUFFER + (j << 8));
            sc_shuffle_u64(u->cell, (size_t)n, &r);
        }
    } else {
        size_t w = 0;
        for (uint64_t b = j * K; b < (j + 1) * K && b < s->n_blocks; b++) {
            uint64_t k, k0, k1;
            size_t di = block_dataset(s, s->perm ? s->perm[b] : b, &k);
            const ds *d = &s->ds[di];
            block_cells(s, d, k, &k0, &k1);
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
    u->pool_n = 0;
    if (s->rpool && (rc = fill_parallel(s, u, n)) != SC_EUNSUP) {
        if (rc < 0) /* again here, for this thread's error message */
            rc = fill_serial(s, u, n);
    } else {
        rc = fill_serial(s, u, n);
    }
    if (rc < 0)
        return rc;
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
static int ensure_buffer(sc_stream *s, uint64_t g)
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
static int32_t cell_dataset(const ds *d, uint32_t row)
{
    return (int32_t)d->dbase + (d->pa ? d->pa->dataset[row] : 0);
}

/* Cell I of B is row ROW of D: its dataset, row and labels. Returns the
 * dataset. */
static int32_t cell_meta(const sc_stream *s, const ds *d, uint32_t row,
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
static int emit_cell(sc_stream *s, sc_batch *b, uint32_t i, pair *t, size_t n,
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
static uint64_t position(const sc_stream *s, uint64_t q)
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
    uint64_t g = position(s, *q);
    b->n_pad += *q >= s->n_r;
    if ((rc = ensure_buffer(s, g)) < 0)
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
            return oom();
        s->dcap = bs;
    }
    batch_start(s, b);
    for (uint32_t i = 0; i < bs; i++) {
        uint64_t q;
        size_t pos;
        if ((rc = batch_cell(s, b, i, &q, &pos)) < 0)
            return rc;
        uint64_t cell = s->buf[s->cur].cell[pos];
        const ds *d = &s->ds[cell >> 32];
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
        const ds *d = &s->ds[s->dcell[i] >> 32];
        uint32_t row = (uint32_t)s->dcell[i];
        int64_t at = b->indptr[i];
        if ((J->rc = sc_pack_cells(d->pack, row, (uint64_t)row + 1,
                                   s->o.pack_pread, J->pbuf, b->indices + at,
                                   b->values + at)) < 0)
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
        const ds *d = &s->ds[s->dcell[i] >> 32];
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
        const ds *d = &s->ds[di];
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
                    return oom();
                s->tmp = p;
                s->tmp_cap = n;
            }
            if (n)
                memcpy(s->tmp, t, n * sizeof *s->tmp);
            t = s->tmp;
        }
        if ((rc = emit_cell(s, b, i, t, n, u->cdepth[pos], position(s, q))) < 0)
            return rc;
        mix_cell(s, q, cell_meta(s, d, row, b, i), &distinct);
    }
    batch_done(s, distinct);
    return 1;
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
        ds *d = &s->ds[i];
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
    sbuf_release(&s->buf[0]);
    sbuf_release(&s->buf[1]);
    free(s->tmp);
    free(s->stamp);
    free(s->dcell);
    for (int w = 0; s->dbuf && w < SS_RAW_PARTS; w++)
        sc_pack_buf_release(&s->dbuf[w]);
    free(s->dbuf);
    free(s->matrix);
    free(s);
}
