/* sc_harmonize: canonical genes, raw counts, QC and schema-7 layout. */
/* SPDX-License-Identifier: MIT */
#include "sc_harmonize.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "sc_genes.h"
#include "sc_harmonize_int.h"
#include "sc_hash.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_onto.h"
#include "sc_progress.h"
#include "sc_varint.h"

/* Values looked at per window when checking for integer counts. */
#define SAMPLE_VALUES 200000
/* Values per row block read in the QC pass. */
#define BLOCK_VALUES (1 << 20)

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */

int sc_hz_check_counts_order(const char *s)
{
    if (!s || !*s)
        return sc_fail(SC_EINVAL, "empty list of count locations");
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");

        if (n == 0)
            return sc_fail(SC_EINVAL, "empty entry in '%s'", s);
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int sc_hz_check_assay_list(const char *s)
{
    if (!s)
        return sc_fail(SC_EINVAL, "empty list of assays");
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        char tok[64], norm[64];

        if (n == 0 || n >= sizeof tok)
            return sc_fail(SC_EINVAL, "bad entry in '%s'", s);
        snprintf(tok, sizeof tok, "%.*s", (int)n, p);
        if (sc_onto_normalize_id(tok, norm, sizeof norm) < 0)
            return sc_fail(SC_EINVAL, "'%s' in '%s' is not a term id", tok, s);
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static char *dup_or_null(const char *s, int *fail)
{
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        *fail = 1;
    return d;
}

void sc_hz_free(sc_hz *h)
{
    if (!h)
        return;
    for (int i = 0; i < 16; i++)
        sc_genes_free(h->genes[i]);
    sc_onto_free(h->onto);
    sc_schema_free(h->schema);
    json_decref(h->hancestro);
    free(h->ortho);
    for (int64_t i = 0; i < h->n_space; i++)
        free(h->space[i]);
    free(h->space);
    free(h->counts_order);
    free(h->gene_space);
    free(h->organism);
    free(h->targeted_assays);
    free(h->tool);
    free(h->version);
    free(h->cmdline);
    free(h->gene_map);
    hz_gmap_free(h->gmap);
    free(h);
}

int sc_hz_new(const sc_hz_opts *o, sc_hz **out)
{
    sc_hz *h;
    int fail = 0, rc;

    *out = NULL;
    if ((rc = sc_hz_check_counts_order(o->counts_order)) < 0 ||
        (o->targeted_assays &&
         (rc = sc_hz_check_assay_list(o->targeted_assays)) < 0))
        return rc;
    if (o->organism && sc_genes_find_species(o->organism) < 0)
        return sc_fail(SC_EINVAL, "unknown organism '%s'", o->organism);
    if (!(h = calloc(1, sizeof *h)))
        return sc_fail(SC_ENOMEM, "out of memory");
    h->o = *o;
    h->counts_order = dup_or_null(o->counts_order, &fail);
    h->gene_space = dup_or_null(o->gene_space, &fail);
    h->organism = dup_or_null(o->organism, &fail);
    h->targeted_assays =
        dup_or_null(o->targeted_assays ? o->targeted_assays : "", &fail);
    h->tool = dup_or_null(o->tool ? o->tool : "sc-harmonize", &fail);
    h->version = dup_or_null(o->version ? o->version : "0", &fail);
    h->cmdline = dup_or_null(o->cmdline ? o->cmdline : "", &fail);
    h->gene_map = dup_or_null(o->gene_map, &fail);
    if (fail) {
        sc_hz_free(h);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    h->o.counts_order = h->counts_order;
    h->o.gene_space = h->gene_space;
    h->o.organism = h->organism;
    h->o.targeted_assays = h->targeted_assays;
    h->o.gene_map = h->gene_map;
    if ((rc = hz_gmap_load(h)) < 0) {
        sc_hz_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void sc_hz_result_release(sc_hz_result *res)
{
    if (res->report)
        json_decref(res->report);
    free(res->genes_tsv);
    memset(res, 0, sizeof *res);
}

int hz_get_genes(sc_hz *h, int sp, sc_genes **g)
{
    int rc;

    if (!h->genes[sp] &&
        (rc = sc_genes_load(sp, h->o.keep_retired ? SC_GENES_KEEP_RETIRED : 0,
                            &h->genes[sp])) < 0)
        return rc;
    *g = h->genes[sp];
    return 0;
}

static const sc_onto *get_onto(sc_hz *h)
{
    h->used_onto = 1;
    if (!h->onto_tried) {
        h->onto_tried = 1;
        if (sc_onto_new(0, &h->onto) < 0 ||
            sc_onto_load_set(h->onto, SC_ONTO_SET_LATEST,
                             h->o.threads > 0 ? h->o.threads : 1) < 0) {
            sc_log_warn("ontologies not loaded (%s): obsolete terms are "
                        "kept",
                        sc_errmsg());
            sc_onto_free(h->onto);
            h->onto = NULL;
        }
    }
    return h->onto;
}

static const sc_schema *get_schema(sc_hz *h)
{
    if (!h->schema_tried) {
        h->schema_tried = 1;
        if (sc_schema_load(NULL, &h->schema) < 0)
            sc_log_warn("schema rules not loaded (%s): terms are not "
                        "checked against them",
                        sc_errmsg());
    }
    return h->schema;
}

json_t *sc_hz_versions(const sc_hz *h)
{
    json_t *v = json_object();

    if (!v)
        return NULL;
    for (int i = 0; i < 16; i++)
        if (h->genes[i] && (h->used_species & (1u << i))) {
            char k[64];

            snprintf(k, sizeof k, "genes_%s", sc_genes_species(i)->latin);
            json_object_set_new(v, k,
                                json_string(sc_genes_version(h->genes[i])));
        }
    if (h->onto && h->used_onto)
        for (int i = 0; i < sc_onto_count(h->onto); i++)
            json_object_set_new(v, sc_onto_name(h->onto, i),
                                json_string(sc_onto_version(h->onto, i)));
    return v;
}

/* ------------------------------------------------------------------------ */
/* Input hashing in the background                                          */

typedef struct hash_job {
    pthread_t th;
    int started, rc;
    const char *path;
    char hex[SC_HASH_HEX_SIZE];
    char err[256];
} hash_job;

static void *hash_main(void *arg)
{
    hash_job *j = arg;
    struct stat st;

    if (stat(j->path, &st) == 0 && S_ISDIR(st.st_mode)) {
        j->rc = 0; /* a 10x MTX folder: no single file to hash */
        return NULL;
    }
    j->rc = sc_hash_file(j->path, j->hex);
    if (j->rc < 0)
        snprintf(j->err, sizeof j->err, "%s", sc_errmsg());
    return NULL;
}

static void hash_start(hash_job *j, const char *path)
{
    memset(j, 0, sizeof *j);
    j->path = path;
    if (pthread_create(&j->th, NULL, hash_main, j) == 0)
        j->started = 1;
    else
        hash_main(j);
}

static int hash_join(hash_job *j)
{
    if (j->started) {
        pthread_join(j->th, NULL);
        j->started = 0;
    }
    if (j->rc < 0)
        return sc_fail(j->rc, "%s", j->err);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Raw counts                                                               */

/* Whether M holds non-negative integers, from up to three windows of rows
 * (start, middle, end) of about SAMPLE_VALUES values each. *N_NZ counts
 * the non-zero values seen. */
static int looks_like_counts(sc_mat *m, int *yes, int64_t *n_nz)
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

typedef struct counts_src {
    sc_elem *mat_elem; /* borrowed from the input */
    sc_elem *var;      /* the var table of its genes (borrowed) */
    char where[64];    /* "raw/X", "layers/counts", "X" */
    int is_counts;
} counts_src;

static int find_counts(sc_hz *h, sc_adata *ad, counts_src *cs)
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
        if ((rc = looks_like_counts(m->mat, &yes, &nz)) < 0)
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

/* ------------------------------------------------------------------------ */
/* Row remapping                                                            */

/* Per-thread scratch for remapping rows: accumulators over output
 * columns. */
typedef struct remap {
    const int32_t *col; /* input column -> output column, -1 dropped */
    int64_t n_out;
    double *acc;
    int64_t *stamp; /* row stamp per output column */
    int32_t *touched;
    int64_t n_touched, row_id;
} remap;

static int remap_init(remap *r, const int32_t *col, int64_t n_out)
{
    size_t n = (size_t)(n_out ? n_out : 1);

    memset(r, 0, sizeof *r);
    r->col = col;
    r->n_out = n_out;
    r->acc = malloc(n * sizeof *r->acc);
    r->stamp = malloc(n * sizeof *r->stamp);
    r->touched = malloc(n * sizeof *r->touched);
    if (!r->acc || !r->stamp || !r->touched)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++)
        r->stamp[i] = -1;
    return 0;
}

static void remap_release(remap *r)
{
    free(r->acc);
    free(r->stamp);
    free(r->touched);
    memset(r, 0, sizeof *r);
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;

    return (x > y) - (x < y);
}

/* Sum row I of block B into output columns; R->touched lists them in
 * increasing order afterwards. *DROPPED gets the counts of dropped genes. */
static void remap_row(remap *r, const sc_block *b, int64_t i, double *dropped)
{
    const int32_t *col = r->col;
    int64_t id = ++r->row_id, descents = 0;
    int32_t prev = -1;
    double drop = 0;

    r->n_touched = 0;
    if (b->dense) {
        const double *v = b->vals + i * b->n_cols;

        for (int64_t j = 0; j < b->n_cols; j++) {
            if (v[j] == 0)
                continue;
            int32_t o = col[j];

            if (o < 0) {
                drop += v[j];
                continue;
            }
            if (r->stamp[o] != id) {
                r->stamp[o] = id;
                r->acc[o] = v[j];
                r->touched[r->n_touched++] = o;
                descents += o < prev;
                prev = o;
            } else {
                r->acc[o] += v[j];
            }
        }
    } else {
        for (int64_t k = b->indptr[i]; k < b->indptr[i + 1]; k++) {
            int32_t o = col[b->indices[k]];
            double v = b->vals[k];

            if (o < 0) {
                drop += v;
                continue;
            }
            if (v == 0)
                continue;
            if (r->stamp[o] != id) {
                r->stamp[o] = id;
                r->acc[o] = v;
                r->touched[r->n_touched++] = o;
                descents += o < prev;
                prev = o;
            } else {
                r->acc[o] += v;
            }
        }
    }
    if (descents > 0 && descents <= 16) {
        /* nearly sorted (a few duplicates out of place): insertion sort */
        for (int64_t a = 1; a < r->n_touched; a++) {
            int32_t x = r->touched[a];
            int64_t c = a;

            while (c > 0 && r->touched[c - 1] > x) {
                r->touched[c] = r->touched[c - 1];
                c--;
            }
            r->touched[c] = x;
        }
    } else if (descents > 16) {
        qsort(r->touched, (size_t)r->n_touched, sizeof *r->touched, cmp_i32);
    }
    *dropped += drop;
}

/* ------------------------------------------------------------------------ */
/* QC pass                                                                  */

typedef struct qc {
    int64_t n; /* cells */
    int32_t *n_genes;
    float *total, *pct_mt, *pct_ribo, *pct_hb;
    int32_t *nnz; /* output values per cell */
    uint8_t *keep, *outlier;
    double sum_in, sum_dropped, sum_out; /* counts over all cells */
    int64_t n_keep, n_outlier, n_low;
    int64_t *rows; /* kept input rows */
    int64_t nnz_out;
    int spill_fd;        /* the remapped rows of the QC pass, or -1 */
    uint32_t *spill_len; /* bytes of each input row there */
} qc;

static void qc_release(qc *q)
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

/* ---- the spill: the QC pass's remapped rows, for the writing pass ----
 *
 * Reading and inflating the input a second time costs a quarter of a run;
 * instead the QC pass writes each row as it will be written (output
 * columns in order, duplicates summed) to an unlinked file beside the
 * output, compactly: the number of values, then per value the column's
 * distance to the previous one and the value, as LEB128 varints (a count
 * v as 2v, anything else as 1 and the 8 bytes of the double). Counts take
 * about two bytes a value. */

/* Encode the row in R (touched columns in order, sums in acc) into *BUF
 * (grown as needed); returns its size, or 0 when out of memory. */
static size_t spill_encode(const remap *r, uint8_t **buf, size_t *cap)
{
    size_t need = 10 + (size_t)r->n_touched * 20, k = 0;
    int64_t n = 0, prev = -1;

    if (need > *cap) {
        uint8_t *p = realloc(*buf, need);

        if (!p)
            return 0;
        *buf = p;
        *cap = need;
    }
    for (int64_t t = 0; t < r->n_touched; t++)
        n += r->acc[r->touched[t]] != 0;
    k += sc_varint_put(*buf + k, (uint64_t)n);
    for (int64_t t = 0; t < r->n_touched; t++) {
        int32_t o = r->touched[t];
        double v = r->acc[o];

        if (v == 0)
            continue;
        k += sc_varint_put(*buf + k, (uint64_t)(o - prev));
        prev = o;
        if (v > 0 && v < 4e15 && v == floor(v)) {
            k += sc_varint_put(*buf + k, (uint64_t)v << 1);
        } else {
            (*buf)[k++] = 1;
            memcpy(*buf + k, &v, sizeof v);
            k += sizeof v;
        }
    }
    return k;
}

/* Decode the row at P (of LEN bytes) into R as remap_row leaves it. */
static int spill_decode(remap *r, const uint8_t *p, size_t len)
{
    const uint8_t *end = p + len;
    uint64_t n, d, tag;
    int64_t prev = -1;

    if (!(p = sc_varint_get(p, end, &n)) || (int64_t)n > r->n_out)
        return -1;
    for (uint64_t i = 0; i < n; i++) {
        double v;

        if (!(p = sc_varint_get(p, end, &d)) || prev + (int64_t)d >= r->n_out ||
            !(p = sc_varint_get(p, end, &tag)))
            return -1;
        prev += (int64_t)d;
        if (tag & 1) {
            if (end - p < (ptrdiff_t)sizeof v)
                return -1;
            memcpy(&v, p, sizeof v);
            p += sizeof v;
        } else {
            v = (double)(tag >> 1);
        }
        r->acc[prev] = v;
        r->touched[i] = (int32_t)prev;
    }
    r->n_touched = (int64_t)n;
    return 0;
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

static int64_t block_rows(sc_mat *m)
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

/* While the caller works on one block, a helper thread reads the next one
 * into the other buffer. The matrix is only touched by the helper between
 * prefetch_start and prefetch_get (an sc_mat is used by one thread at a
 * time). */
typedef struct prefetch {
    sc_mat *m;
    pthread_t th;
    int running, cur, rc;
    int64_t r0, r1; /* the rows being read, or -1 */
    sc_block b[2];
    char err[512];
} prefetch;

static void prefetch_init(prefetch *p, sc_mat *m)
{
    memset(p, 0, sizeof *p);
    p->m = m;
    p->r0 = p->r1 = -1;
    p->b[0] = (sc_block)SC_BLOCK_INIT;
    p->b[1] = (sc_block)SC_BLOCK_INIT;
}

static void *prefetch_main(void *arg)
{
    prefetch *p = arg;

    p->rc = sc_mat_read_rows(p->m, p->r0, p->r1, &p->b[p->cur ^ 1]);
    if (p->rc < 0)
        snprintf(p->err, sizeof p->err, "%s", sc_errmsg());
    return NULL;
}

/* Start reading rows [R0, R1) (a thread, or now if none can start). */
static void prefetch_start(prefetch *p, int64_t r0, int64_t r1)
{
    p->r0 = r0;
    p->r1 = r1;
    p->running = pthread_create(&p->th, NULL, prefetch_main, p) == 0;
    if (!p->running)
        prefetch_main(p);
}

/* Wait for the rows started, then *B is their block (valid until the next
 * prefetch_get). */
static int prefetch_get(prefetch *p, sc_block **b)
{
    if (p->running) {
        pthread_join(p->th, NULL);
        p->running = 0;
    }
    if (p->rc < 0)
        return sc_fail(p->rc, "%s", p->err);
    p->cur ^= 1;
    *b = &p->b[p->cur];
    return 0;
}

/* Wait for the rows started and forget them. */
static void prefetch_cancel(prefetch *p)
{
    if (p->running) {
        pthread_join(p->th, NULL);
        p->running = 0;
    }
    p->rc = 0;
    p->r0 = p->r1 = -1;
}

static void prefetch_release(prefetch *p)
{
    if (p->running) {
        pthread_join(p->th, NULL);
        p->running = 0;
    }
    sc_block_release(&p->b[0]);
    sc_block_release(&p->b[1]);
}

/* Per input column, for the QC pass without remapping: the QC group of
 * its output column (0 mt, 1 ribo, 2 hb, 3 none) and whether that column
 * has other entries too (then n_genes counts it once per row). */
typedef struct qc_cols {
    uint8_t *code, *dup;
    int64_t *stamp; /* per output column */
} qc_cols;

static void qc_cols_release(qc_cols *t)
{
    free(t->code);
    free(t->dup);
    free(t->stamp);
}

static int qc_cols_init(qc_cols *t, const gene_map *gm, const unsigned *grp)
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
static int qc_row_direct(qc_cols *t, const int32_t *col, const sc_block *b,
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
static int qc_pass(sc_mat *m, const gene_map *gm, qc *q, int mode,
                   const char *spill_path)
{
    FILE *fp = NULL;
    uint8_t *eb = NULL;
    size_t ecap = 0;
    int spill = 0, spill_bad = 0;
    sc_progress *prog;
    sc_mat_info in;
    prefetch pf;
    sc_block *b = NULL;
    remap r;
    qc_cols t;
    unsigned *grp = NULL;
    int64_t step = block_rows(m), id = 0;
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
    if ((rc = remap_init(&r, gm->col, gm->n_out)) < 0 ||
        (rc = qc_cols_init(&t, gm, grp)) < 0) {
        remap_release(&r);
        qc_cols_release(&t);
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
    prefetch_init(&pf, m);
    prog = sc_progress_new("QC", (uint64_t)in.n_rows, 0, mode);
    sc_progress_set_unit(prog, "cells");
    if (in.n_rows > 0)
        prefetch_start(&pf, 0, step < in.n_rows ? step : in.n_rows);
    for (int64_t r0 = 0; r0 < in.n_rows; r0 += step) {
        int64_t r2 = r0 + 2 * step < in.n_rows ? r0 + 2 * step : in.n_rows;

        if ((rc = prefetch_get(&pf, &b)) < 0)
            break;
        if (r0 + step < in.n_rows)
            prefetch_start(&pf, r0 + step, r2);
        for (int64_t i = 0; i < b->n_rows; i++) {
            double tot = 0, g[4] = {0, 0, 0, 0};
            int32_t ng = 0;

            if (spill || qc_row_direct(&t, gm->col, b, i, ++id, &tot, g, &ng,
                                       &q->sum_dropped)) {
                /* the spill needs the remapped row; and with negative
                 * values, sums of duplicates may cancel out */
                tot = 0;
                ng = 0;
                g[0] = g[1] = g[2] = 0;
                remap_row(&r, b, i, &q->sum_dropped);
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
                size_t k = spill_encode(&r, &eb, &ecap);

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
    prefetch_release(&pf);
    remap_release(&r);
    qc_cols_release(&t);
    free(grp);
    return rc;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;

    return (x > y) - (x < y);
}

/* Median and MAD of X[0..N). */
static void median_mad(double *x, int64_t n, double *med, double *mad)
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
static int qc_filter(const sc_hz_opts *o, qc *q, json_t *rep)
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
        median_mad(x, m, &med[k], &mad[k]);
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

/* ------------------------------------------------------------------------ */
/* The output matrix: a callback source over the kept rows                  */

typedef struct outmat {
    sc_mat *in;          /* borrowed input matrix */
    const int64_t *rows; /* output row -> input row, -1 for an empty row */
    int64_t n_rows;
    int32_t *nnz; /* values per input row (owned when OWN_NNZ) */
    int own_nnz;
    const float *total; /* per input row: normalize_total, when set */
    double target;
    remap r;
    sc_block b;
    double dropped;
    sc_block *blk; /* outmat_read: the block being filled, from row */
    int64_t blk_r0, k;
    int monotone; /* ROWS all >= 0 and increasing: whole spans are read */
    prefetch pf;  /* the next span, read ahead */
    int fd;       /* the spill file to read instead of IN, or -1 */
    const uint32_t *len; /* its bytes per input row */
    int64_t next, off;   /* the input row at offset OFF */
    uint8_t *sbuf;       /* bytes [sbuf_off, sbuf_off + sbuf_n) of it */
    int64_t sbuf_off, sbuf_n, sbuf_cap;
} outmat;

static void outmat_free(void *ud)
{
    outmat *om = ud;

    prefetch_release(&om->pf);
    free(om->sbuf);
    remap_release(&om->r);
    sc_block_release(&om->b);
    if (om->own_nnz)
        free(om->nnz);
    free(om);
}

/* Call FN(OM, x) for each output row x of [R0, R1) once OM->r holds its
 * remapped values, reading runs of nearby input rows at once. */
static int outmat_each(outmat *om, int64_t r0, int64_t r1,
                       int (*fn)(outmat *, int64_t))
{
    const int64_t *rows = om->rows;
    int rc;

    for (int64_t r = r0; r < r1;) {
        int64_t a = rows[r], e = r + 1;

        if (a < 0) {
            om->r.n_touched = 0;
            if ((rc = fn(om, r)) < 0)
                return rc;
            r++;
            continue;
        }
        /* a run of increasing rows, at most ~4 skipped per row kept */
        while (e < r1 && rows[e] > rows[e - 1] &&
               rows[e] - a < (int64_t)(e - r) * 4 + 64 && e - r < 65536)
            e++;
        if ((rc = sc_mat_read_rows(om->in, a, rows[e - 1] + 1, &om->b)) < 0)
            return rc;
        for (int64_t x = r; x < e; x++) {
            remap_row(&om->r, &om->b, rows[x] - a, &om->dropped);
            if ((rc = fn(om, x)) < 0)
                return rc;
        }
        r = e;
    }
    return 0;
}

static int count_row(outmat *om, int64_t x)
{
    int32_t n = 0;

    for (int64_t t = 0; t < om->r.n_touched; t++)
        n += om->r.acc[om->r.touched[t]] != 0;
    if (om->rows[x] >= 0)
        om->nnz[om->rows[x]] = n;
    return 0;
}

static int put_row(outmat *om, int64_t x)
{
    sc_block *blk = om->blk;
    int64_t in = om->rows[x];
    double tot = om->total && in >= 0 ? om->total[in] : 0;

    for (int64_t t = 0; t < om->r.n_touched; t++) {
        int32_t o = om->r.touched[t];
        double v = om->r.acc[o];

        if (v == 0)
            continue;
        blk->indices[om->k] = o;
        blk->vals[om->k++] =
            om->total && tot > 0 ? log1p(v / tot * om->target) : v;
    }
    blk->indptr[x - om->blk_r0 + 1] = om->k;
    return 0;
}

/* Whether the input rows of output rows [R0, R1) are worth reading as one
 * span (few dropped rows in between). */
static int span_ok(const outmat *om, int64_t r0, int64_t r1)
{
    return om->monotone && r1 > r0 &&
           om->rows[r1 - 1] + 1 - om->rows[r0] <= 4 * (r1 - r0) + 64;
}

/* Output rows [R0, R1) from one read of their input span, the span of the
 * next call (of the same size, as writers ask) read ahead meanwhile. */
static int outmat_span(outmat *om, int64_t r0, int64_t r1)
{
    int64_t a = om->rows[r0], e = om->rows[r1 - 1] + 1;
    int64_t n2 = r1 + (r1 - r0) < om->n_rows ? r1 + (r1 - r0) : om->n_rows;
    sc_block *b = NULL;
    int rc;

    if (om->pf.r0 != a || om->pf.r1 != e) {
        prefetch_cancel(&om->pf);
        prefetch_start(&om->pf, a, e);
    }
    if ((rc = prefetch_get(&om->pf, &b)) < 0)
        return rc;
    om->pf.r0 = om->pf.r1 = -1;
    if (r1 < om->n_rows && span_ok(om, r1, n2))
        prefetch_start(&om->pf, om->rows[r1], om->rows[n2 - 1] + 1);
    for (int64_t x = r0; x < r1; x++) {
        remap_row(&om->r, b, om->rows[x] - a, &om->dropped);
        if ((rc = put_row(om, x)) < 0)
            return rc;
    }
    return 0;
}

/* Output rows [R0, R1) from the spill file (rows in increasing order). */
static int outmat_spill(outmat *om, int64_t r0, int64_t r1)
{
    int rc;

    for (int64_t x = r0; x < r1; x++) {
        int64_t t = om->rows[x], l;

        if (t < om->next) { /* asked again: start over */
            om->next = 0;
            om->off = 0;
        }
        while (om->next < t)
            om->off += om->len[om->next++];
        l = om->len[t];
        if (om->off < om->sbuf_off || om->off + l > om->sbuf_off + om->sbuf_n) {
            int64_t want = l > ((int64_t)1 << 22) ? l : (int64_t)1 << 22;

            if (want > om->sbuf_cap) {
                uint8_t *p = realloc(om->sbuf, (size_t)want);

                if (!p)
                    return sc_fail(SC_ENOMEM, "out of memory");
                om->sbuf = p;
                om->sbuf_cap = want;
            }
            om->sbuf_off = om->off;
            om->sbuf_n = 0;
            while (om->sbuf_n < want) {
                ssize_t got = pread(om->fd, om->sbuf + om->sbuf_n,
                                    (size_t)(want - om->sbuf_n),
                                    (off_t)(om->off + om->sbuf_n));

                if (got < 0 && errno == EINTR)
                    continue;
                if (got < 0)
                    return sc_fail(SC_EIO, "cannot read the spill file: %s",
                                   strerror(errno));
                if (got == 0)
                    break;
                om->sbuf_n += got;
            }
            if (om->sbuf_n < l)
                return sc_fail(SC_EIO, "the spill file is short");
        }
        if (spill_decode(&om->r, om->sbuf + (om->off - om->sbuf_off),
                         (size_t)l) < 0)
            return sc_fail(SC_ECORRUPT,
                           "row %lld of the spill file is "
                           "damaged",
                           (long long)t);
        if ((rc = put_row(om, x)) < 0)
            return rc;
    }
    return 0;
}

static int outmat_read(void *ud, int64_t r0, int64_t r1, sc_block *blk)
{
    outmat *om = ud;
    int64_t need = 0;
    int rc;

    for (int64_t r = r0; r < r1; r++)
        need += om->rows[r] >= 0 ? om->nnz[om->rows[r]] : 0;
    if ((rc = sc_block_reserve(blk, r1 - r0, need)) < 0)
        return rc;
    blk->indptr[0] = 0;
    om->blk = blk;
    om->blk_r0 = r0;
    om->k = 0;
    if (om->fd >= 0)
        rc = outmat_spill(om, r0, r1);
    else if (span_ok(om, r0, r1))
        rc = outmat_span(om, r0, r1);
    else {
        prefetch_cancel(&om->pf); /* the input is ours again */
        rc = outmat_each(om, r0, r1, put_row);
    }
    if (rc < 0)
        return rc;
    if (om->k != need)
        return sc_fail(SC_EFORMAT,
                       "rows %lld..%lld: %lld values, %lld in the "
                       "first pass (the input changed?)",
                       (long long)r0, (long long)r1, (long long)om->k,
                       (long long)need);
    return 0;
}

/*
 * A matrix of the rows ROWS[0..N_ROWS) of IN (-1: an empty row), its
 * columns through COL to N_OUT output columns (duplicates summed), as a
 * callback source of DTYPE. NNZ: the values of each input row once
 * remapped (borrowed), or NULL to count them now (a pass over the rows).
 * TOTAL (per input row): write log1p(v / total * TARGET) instead of v.
 */
static sc_mat *outmat_new(sc_mat *in, const int64_t *rows, int64_t n_rows,
                          const int32_t *col, int64_t n_out, int32_t *nnz,
                          sc_dtype dtype, const float *total, double target,
                          const qc *spill)
{
    outmat *om = calloc(1, sizeof *om);
    sc_mat_info mi;
    int64_t sum = 0;

    if (!om) {
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    sc_mat_get_info(in, &mi);
    prefetch_init(&om->pf, in);
    om->fd = spill && nnz ? spill->spill_fd : -1;
    om->len = spill ? spill->spill_len : NULL;
    om->monotone = 1;
    for (int64_t r = 0; r < n_rows && om->monotone; r++)
        om->monotone = rows[r] >= 0 && (r == 0 || rows[r] > rows[r - 1]);
    om->in = in;
    om->rows = rows;
    om->n_rows = n_rows;
    om->nnz = nnz;
    om->total = total;
    om->target = target;
    if (remap_init(&om->r, col, n_out) < 0)
        goto fail;
    if (!nnz) {
        int64_t step = block_rows(in);

        om->own_nnz = 1;
        if (!(om->nnz = calloc((size_t)(mi.n_rows ? mi.n_rows : 1),
                               sizeof *om->nnz))) {
            sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        for (int64_t r = 0; r < n_rows; r += step)
            if (outmat_each(om, r, r + step < n_rows ? r + step : n_rows,
                            count_row) < 0)
                goto fail;
    }
    for (int64_t r = 0; r < n_rows; r++)
        sum += rows[r] >= 0 ? om->nnz[rows[r]] : 0;
    return sc_mat_new_callback(n_rows, n_out, dtype, sum, outmat_read, om,
                               outmat_free);
fail:
    outmat_free(om);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Output tables                                                            */

static sc_elem *str_column(const char *name, const char *const *s, int64_t n)
{
    return sc_elem_new_categorical_from_strings(name, s, n, 0);
}

static int add_take(sc_elem *parent, sc_elem *child)
{
    if (!child)
        return *sc_errmsg() ? SC_ENOMEM : sc_fail(SC_ENOMEM, "out of memory");
    return sc_elem_add_take(parent, child);
}

static sc_elem *f32_column(const char *name, const float *v,
                           const int64_t *rows, int64_t n)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_F32, 1, &n);

    if (e)
        for (int64_t i = 0; i < n; i++)
            ((float *)e->data)[i] = v[rows[i]];
    return e;
}

static sc_elem *var_table(const gene_map *gm, int species_out)
{
    sc_elem *var = sc_elem_new(SC_K_DATAFRAME, "var");
    int64_t n = gm->n_out;
    const char **ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    const char **nm = malloc((size_t)(n ? n : 1) * sizeof *nm);
    const char **ty = malloc((size_t)(n ? n : 1) * sizeof *ty);
    const char **ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
    const char **bio = malloc((size_t)(n ? n : 1) * sizeof *bio);
    sc_elem *len = NULL, *filt = NULL;
    int ok = 0;

    if (!var || !ids || !nm || !ty || !ref || !bio)
        goto out;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = gm->out_gene[i];

        ids[i] = sc_genes_id(gm->ref, g);
        nm[i] = sc_genes_name(gm->ref, g);
        ty[i] = sc_genes_type(gm->ref, g);
        ref[i] = sc_genes_is_spike(gm->ref, g)
                     ? "NCBITaxon:32630" /* synthetic construct */
                     : sc_genes_species(species_out)->taxon;
        bio[i] = sc_genes_is_spike(gm->ref, g) ? "spike-in" : "gene";
    }
    var->n_rows = n;
    if (!(var->index = sc_elem_new_strings("_index", ids, n)) ||
        !(len = sc_elem_new_array("feature_length", SC_DT_I64, 1, &n)) ||
        !(filt = sc_elem_new_array("feature_is_filtered", SC_DT_BOOL, 1, &n)))
        goto out;
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)len->data)[i] = sc_genes_length(gm->ref, gm->out_gene[i]);
    if (add_take(var, str_column("feature_name", nm, n)) < 0 ||
        add_take(var, str_column("feature_reference", ref, n)) < 0 ||
        add_take(var, str_column("feature_biotype", bio, n)) < 0 ||
        add_take(var, str_column("feature_type", ty, n)) < 0)
        goto out;
    ok = add_take(var, len) == 0;
    len = NULL;
    ok = ok && add_take(var, filt) == 0;
    filt = NULL;
out:
    sc_elem_free(len);
    sc_elem_free(filt);
    free(ids);
    free(nm);
    free(ty);
    free(ref);
    free(bio);
    if (!ok) {
        sc_elem_free(var);
        if (!*sc_errmsg())
            sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    return var;
}

/* The provenance time: $SOURCE_DATE_EPOCH when set, else now (UTC). */
static void iso_time(char *buf, size_t size)
{
    const char *e = getenv("SOURCE_DATE_EPOCH");
    time_t t = time(NULL);
    struct tm tm;
    char *end;

    if (e && *e) {
        long long v = strtoll(e, &end, 10);

        if (!*end && v >= 0)
            t = (time_t)v;
    }
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* Append this run as the next step of uns['provenance'], the format of
 * sc-register(1) PROVENANCE: a dict of steps '0', '1', ... (oldest first),
 * each a dict of strings tool, version, arguments, time, input_sha256,
 * input_path, and references, a dict of names to versions. The steps of
 * the input are kept. */
static int add_provenance(sc_elem *uns, const char *const *vals, json_t *refs)
{
    static const char *const keys[6] = {"tool", "version",      "arguments",
                                        "time", "input_sha256", "input_path"};
    sc_elem *prov = sc_elem_get(uns, "provenance"), *step, *r;
    const char *k;
    json_t *x;
    char name[24];
    int rc = 0;

    if (prov && prov->kind != SC_K_DICT) {
        sc_log_warn("uns['provenance'] is not a dict of steps: replaced");
        sc_elem_remove(uns, "provenance");
        prov = NULL;
    }
    if (!prov) {
        if (!(prov = sc_elem_new(SC_K_DICT, "provenance")))
            return SC_ENOMEM;
        if ((rc = sc_elem_add_take(uns, prov)) < 0)
            return rc;
    }
    snprintf(name, sizeof name, "%zu", prov->n_child);
    if (!(step = sc_elem_new(SC_K_DICT, name)))
        return SC_ENOMEM;
    for (int i = 0; i < 6 && rc == 0; i++)
        rc = add_take(step, sc_elem_new_string(keys[i], vals[i]));
    if (rc == 0 && !(r = sc_elem_new(SC_K_DICT, "references")))
        rc = SC_ENOMEM;
    if (rc == 0) {
        json_object_foreach(refs, k, x)
        {
            if (rc == 0)
                rc = add_take(r, sc_elem_new_string(k, json_string_value(x)));
        }
        if (rc == 0)
            rc = sc_elem_add_take(step, r);
        else
            sc_elem_free(r);
    }
    if (rc < 0) {
        sc_elem_free(step);
        return rc;
    }
    return sc_elem_add_take(prov, step);
}

static int set_uns_str(sc_elem *uns, const char *key, const char *v)
{
    return add_take(uns, sc_elem_new_string(key, v));
}

/* uns['harmonize']: what this run did and with which references. */
static int harmonize_uns(sc_hz *h, sc_elem *uns, const char *where,
                         const gene_map *gm, int normalized)
{
    sc_elem *d = sc_elem_new(SC_K_DICT, "harmonize");
    json_t *v = sc_hz_versions(h);
    const char *column = gm->column;
    const char *k;
    json_t *x;
    int rc = 0;

    if (!d || !v) {
        sc_elem_free(d);
        json_decref(v);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_object_foreach(v, k, x)
    {
        if (rc == 0)
            rc = set_uns_str(d, k, json_string_value(x));
    }
    json_decref(v);
    if (rc == 0)
        rc = set_uns_str(d, "tool_version", h->version);
    /* an input harmonized before: X and _index are ours, keep where the
     * counts and genes first came from */
    {
        sc_elem *prev = sc_elem_get(uns, "harmonize");
        sc_elem *pc = prev ? sc_elem_get(prev, "counts_source") : NULL;
        sc_elem *pg = prev ? sc_elem_get(prev, "gene_column") : NULL;

        if (pc && pg && pc->kind == SC_K_ARRAY && pc->dtype == SC_DT_STR &&
            pg->kind == SC_K_ARRAY && pg->dtype == SC_DT_STR &&
            !strcmp(where, "X") && !strcmp(gm->column, "_index")) {
            where = sc_elem_str(pc, 0);
            column = sc_elem_str(pg, 0);
        }
    }
    if (rc == 0)
        rc = set_uns_str(d, "counts_source", where);
    if (rc == 0)
        rc = set_uns_str(d, "gene_column", column);
    if (rc == 0)
        rc = set_uns_str(d, "X", normalized ? "normalized" : "raw counts");
    if (rc == 0)
        rc = add_take(d, sc_elem_new_i64("min_genes_per_cell", h->o.min_genes));
    if (rc == 0 && h->o.orthologs && gm->species == 1)
        rc = set_uns_str(d, "ortholog_projection", "mouse->human one2one");
    if (rc == 0 && h->o.gene_space)
        rc = set_uns_str(d, "gene_space", h->o.gene_space);
    if (rc == 0 && h->o.gene_map)
        rc = set_uns_str(d, "gene_map", h->o.gene_map);
    if (rc < 0) {
        sc_elem_free(d);
        return rc;
    }
    return sc_elem_add_take(uns, d);
}

/* Detach the dict called NAME of the input, or a new empty one. */
static sc_elem *take_dict(sc_elem **src, const char *name)
{
    sc_elem *e = *src;

    if (e) {
        *src = NULL;
        return e;
    }
    return sc_elem_new(SC_K_DICT, name);
}

/* obsm: keep the arrays of one row per cell, subset. */
static int subset_obsm(sc_elem *dst, const sc_elem *src, const qc *q,
                       int64_t n_obs)
{
    if (!src)
        return 0;
    for (size_t i = 0; i < src->n_child; i++) {
        const sc_elem *e = src->child[i];

        if ((e->kind == SC_K_ARRAY && e->rank >= 1 && e->shape[0] == n_obs) ||
            e->kind == SC_K_DATAFRAME) {
            int rc = add_take(dst, hz_subset_rows(e, q->rows, q->n_keep));

            if (rc < 0)
                return rc;
        } else {
            sc_log_warn("obsm['%s'] not kept (sparse or of another shape)",
                        e->name);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* layers, obsp, varm, varp                                                 */

/* The index arrays the kept elements' callback sources borrow until the
 * output is written. */
typedef struct extras {
    int32_t *cell_col;  /* input cell -> output cell, -1 dropped */
    int64_t *first_in;  /* output gene -> its first input entry, -1 none */
    int32_t *first_col; /* input entry -> output gene if first, else -1 */
    int32_t *ident;     /* 0, 1, 2, ... */
    json_t *kept, *dropped;
} extras;

static void extras_release(extras *x)
{
    free(x->cell_col);
    free(x->first_in);
    free(x->first_col);
    free(x->ident);
    memset(x, 0, sizeof *x);
}

static int drop_elem(extras *x, const char *slot, const char *name,
                     const char *why)
{
    sc_log_warn("%s['%s'] not kept: %s", slot, name, why);
    if (json_array_append_new(x->dropped,
                              json_pack("{s:s, s:s, s:s}", "slot", slot, "name",
                                        name, "reason", why)) < 0)
        return sc_fail(SC_ENOMEM, "out of memory");
    return 0;
}

static int kept_elem(extras *x, sc_elem *dst, const char *slot, sc_elem *child)
{
    json_t *a = json_object_get(x->kept, slot);
    int rc;

    if (!child)
        return *sc_errmsg() ? SC_ENOMEM : sc_fail(SC_ENOMEM, "out of memory");
    if (!a) {
        a = json_array();
        json_object_set_new(x->kept, slot, a);
    }
    json_array_append_new(a, json_string(child->name));
    rc = sc_elem_add_take(dst, child);
    return rc;
}

/* A callback matrix NAME of ROWS x COL (see outmat_new), of the input's
 * float type (float32 unless float64). */
static sc_elem *sub_matrix(const char *name, sc_mat *in, const int64_t *rows,
                           int64_t n_rows, const int32_t *col, int64_t n_out,
                           int threads)
{
    sc_mat_info mi;
    sc_mat *m;

    sc_mat_get_info(in, &mi);
    sc_mat_set_threads(in, threads);
    m = outmat_new(in, rows, n_rows, col, n_out, NULL,
                   mi.dtype == SC_DT_F64 ? SC_DT_F64 : SC_DT_F32, NULL, 0,
                   NULL);
    return m ? sc_elem_new_matrix_take(name, m) : NULL;
}

/*
 * Carry the input's layers, obsp, varm and varp over to O where they can
 * follow the output's cells and genes:
 *   - layers of raw counts: the cells kept, genes mapped and duplicates
 *     summed like X; other layers are dropped (summing duplicate genes is
 *     only defined for counts), and so is the layer X came from;
 *   - obsp: the kept cells' rows and columns;
 *   - varm and varp: the row (and column) of the first input entry of each
 *     output gene (values of duplicates are not summed: loadings and gene
 *     graphs have no sum), NaN (varm) or empty (varp) for genes the input
 *     lacks (--gene-space);
 *   - layers, varm and varp belong to var: they are dropped when the
 *     counts came with another var table (raw.var).
 * Each kept or dropped element is listed in REP ("kept", "dropped").
 */
static int keep_extras(sc_hz *h, sc_adata *ad, const counts_src *cs,
                       const gene_map *gm, const qc *q, sc_adata *o, extras *x,
                       json_t *rep)
{
    const int same_var = cs->var == ad->var;
    const char *not_var = "its genes are var's, the counts' are raw.var's";
    int64_t max_cols = gm->n_in > ad->n_obs ? gm->n_in : ad->n_obs;
    int rc = 0;

    memset(x, 0, sizeof *x);
    x->kept = json_object();
    x->dropped = json_array();
    x->cell_col =
        malloc((size_t)(ad->n_obs ? ad->n_obs : 1) * sizeof *x->cell_col);
    x->first_in =
        malloc((size_t)(gm->n_out ? gm->n_out : 1) * sizeof *x->first_in);
    x->first_col =
        malloc((size_t)(gm->n_in ? gm->n_in : 1) * sizeof *x->first_col);
    if (!x->kept || !x->dropped || !x->cell_col || !x->first_in ||
        !x->first_col) {
        json_decref(x->kept);
        json_decref(x->dropped);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_object_set_new(rep, "kept", x->kept);
    json_object_set_new(rep, "dropped", x->dropped);
    for (int64_t i = 0; i < ad->n_obs; i++)
        x->cell_col[i] = -1;
    for (int64_t i = 0; i < q->n_keep; i++)
        x->cell_col[q->rows[i]] = (int32_t)i;
    for (int64_t g = 0; g < gm->n_out; g++)
        x->first_in[g] = -1;
    for (int64_t e = 0; e < gm->n_in; e++) {
        int32_t c = gm->col[e];

        x->first_col[e] = c >= 0 && x->first_in[c] < 0 ? c : -1;
        if (c >= 0 && x->first_in[c] < 0)
            x->first_in[c] = e;
    }
    for (size_t i = 0; rc == 0 && ad->layers && i < ad->layers->n_child; i++) {
        sc_elem *l = ad->layers->child[i];
        int yes;
        int64_t nz;

        if (l == cs->mat_elem)
            continue;
        if (!same_var)
            rc = drop_elem(x, "layers", l->name, not_var);
        else if (l->kind != SC_K_MATRIX || !l->mat)
            rc = drop_elem(x, "layers", l->name, "not a matrix");
        else if ((rc = looks_like_counts(l->mat, &yes, &nz)) < 0)
            rc = sc_fail_ctx(rc, "layers/%s", l->name);
        else if (!yes)
            rc = drop_elem(x, "layers", l->name,
                           "not raw counts (duplicate genes can only be "
                           "summed for counts)");
        else
            rc = kept_elem(x, o->layers, "layers",
                           sub_matrix(l->name, l->mat, q->rows, q->n_keep,
                                      gm->col, gm->n_out, h->o.threads));
    }
    for (size_t i = 0; rc == 0 && ad->obsp && i < ad->obsp->n_child; i++) {
        sc_elem *p = ad->obsp->child[i];

        if (p->kind != SC_K_MATRIX || !p->mat)
            rc = drop_elem(x, "obsp", p->name, "not a matrix");
        else
            rc = kept_elem(x, o->obsp, "obsp",
                           sub_matrix(p->name, p->mat, q->rows, q->n_keep,
                                      x->cell_col, q->n_keep, h->o.threads));
    }
    for (size_t i = 0; rc == 0 && ad->varm && i < ad->varm->n_child; i++) {
        sc_elem *v = ad->varm->child[i];

        if (!same_var) {
            rc = drop_elem(x, "varm", v->name, not_var);
        } else if (v->kind == SC_K_ARRAY && v->rank >= 1 &&
                   v->dtype != SC_DT_STR && v->shape[0] == gm->n_in) {
            rc = kept_elem(x, o->varm, "varm",
                           hz_subset_rows(v, x->first_in, gm->n_out));
        } else if (v->kind == SC_K_MATRIX && v->mat) {
            sc_mat_info mi;

            sc_mat_get_info(v->mat, &mi);
            if (!x->ident) {
                int64_t n = mi.n_cols > max_cols ? mi.n_cols : max_cols;

                if (!(x->ident =
                          malloc((size_t)(n ? n : 1) * sizeof *x->ident))) {
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                    break;
                }
                for (int64_t c = 0; c < n; c++)
                    x->ident[c] = (int32_t)c;
                max_cols = n;
            }
            if (mi.n_cols > max_cols)
                rc = drop_elem(x, "varm", v->name, "too many columns");
            else
                rc = kept_elem(x, o->varm, "varm",
                               sub_matrix(v->name, v->mat, x->first_in,
                                          gm->n_out, x->ident, mi.n_cols,
                                          h->o.threads));
        } else {
            rc = drop_elem(x, "varm", v->name,
                           "not a numeric array or matrix of genes");
        }
    }
    for (size_t i = 0; rc == 0 && ad->varp && i < ad->varp->n_child; i++) {
        sc_elem *v = ad->varp->child[i];

        if (!same_var)
            rc = drop_elem(x, "varp", v->name, not_var);
        else if (v->kind != SC_K_MATRIX || !v->mat)
            rc = drop_elem(x, "varp", v->name, "not a matrix");
        else
            rc = kept_elem(x, o->varp, "varp",
                           sub_matrix(v->name, v->mat, x->first_in, gm->n_out,
                                      x->first_col, gm->n_out, h->o.threads));
    }
    return rc;
}

static void add_reason(sc_hz_result *res, const char *why)
{
    size_t n = strlen(res->reasons);

    snprintf(res->reasons + n, sizeof res->reasons - n, "%s%s", n ? "," : "",
             why);
    res->refused = 1;
}

static int write_output(sc_hz *h, sc_adata *ad, const counts_src *cs,
                        const gene_map *gm, qc *q, const char *out,
                        hash_job *hj, const char *in, int normalized,
                        json_t *rep)
{
    extras ex;
    sc_adata *o = sc_adata_new(q->n_keep, gm->n_out);
    sc_write_opts wo = SC_WRITE_OPTS_INIT;
    sc_elem *obs = NULL, *uns, *x;
    int rc = 0;
    int species_out = sc_genes_species_index(gm->ref);

    memset(&ex, 0, sizeof ex);
    if (!o)
        return SC_ENOMEM;
    wo.compress_level = h->o.compress_level;
    wo.threads = h->o.threads;
    /* blocks of about a million values keep the buffers small */
    wo.block_rows =
        q->nnz_out > 0
            ? (int64_t)(1e6 * (double)q->n_keep / (double)q->nnz_out) + 1
            : 0;
    /* obs: the kept rows, then the QC columns */
    if (!(obs = hz_subset_rows(ad->obs, q->rows, q->n_keep))) {
        rc = SC_ENOMEM;
        goto out;
    }
    free(obs->name);
    obs->name = strdup("obs");
    {
        sc_elem *ng = sc_elem_new_array("n_genes", SC_DT_I32, 1, &q->n_keep);
        sc_elem *ol =
            sc_elem_new_array("qc_outlier", SC_DT_BOOL, 1, &q->n_keep);

        if (ng)
            for (int64_t i = 0; i < q->n_keep; i++)
                ((int32_t *)ng->data)[i] = q->n_genes[q->rows[i]];
        if (ol)
            for (int64_t i = 0; i < q->n_keep; i++)
                ((uint8_t *)ol->data)[i] = q->outlier[q->rows[i]];
        if ((rc = add_take(obs, ng)) < 0 ||
            (rc = add_take(obs, f32_column("total_counts", q->total, q->rows,
                                           q->n_keep))) < 0 ||
            (rc = add_take(obs, f32_column("pct_counts_mt", q->pct_mt, q->rows,
                                           q->n_keep))) < 0 ||
            (rc = add_take(obs, f32_column("pct_counts_ribo", q->pct_ribo,
                                           q->rows, q->n_keep))) < 0 ||
            (rc = add_take(obs, f32_column("pct_counts_hb", q->pct_hb, q->rows,
                                           q->n_keep))) < 0 ||
            (rc = add_take(obs, ol)) < 0) {
            sc_elem_free(obs);
            goto out;
        }
    }
    sc_elem_free(o->obs);
    o->obs = obs;
    sc_elem_free(o->var);
    if (!(o->var = var_table(gm, species_out))) {
        rc = SC_ENOMEM;
        goto out;
    }
    if ((rc = subset_obsm(o->obsm, ad->obsm, q, ad->n_obs)) < 0)
        goto out;
    if ((rc = keep_extras(h, ad, cs, gm, q, o, &ex, rep)) < 0)
        goto out;
    /* uns: the input's, plus organism, harmonize and provenance */
    sc_elem_free(o->uns);
    o->uns = uns = take_dict(&ad->uns, "uns");
    if (!uns) {
        rc = SC_ENOMEM;
        goto out;
    }
    if ((rc = set_uns_str(uns, "organism_ontology_term_id",
                          sc_genes_species(gm->species)->taxon)) < 0 ||
        (rc = harmonize_uns(h, uns, cs->where, gm, normalized)) < 0)
        goto out;
    if (h->o.provenance) {
        char when[32];
        json_t *v = sc_hz_versions(h);
        const char *vals[6];

        if ((rc = hash_join(hj)) < 0 || !v) {
            json_decref(v);
            rc = rc < 0 ? rc : sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        iso_time(when, sizeof when);
        vals[0] = h->tool;
        vals[1] = h->version;
        vals[2] = h->cmdline;
        vals[3] = when;
        vals[4] = hj->hex;
        vals[5] = in;
        rc = add_provenance(uns, vals, v);
        json_decref(v);
        if (rc < 0)
            goto out;
    }
    /* X and the optional normalized layer */
    if (!(x = sc_elem_new_matrix_take(
              "X", outmat_new(cs->mat_elem->mat, q->rows, q->n_keep, gm->col,
                              gm->n_out, q->nnz, SC_DT_F32, NULL, 0, q)))) {
        rc = SC_ENOMEM;
        goto out;
    }
    o->X = x;
    if (h->o.normalize && !normalized &&
        (rc = add_take(
             o->layers,
             sc_elem_new_matrix_take(
                 "log1p_norm", outmat_new(cs->mat_elem->mat, q->rows, q->n_keep,
                                          gm->col, gm->n_out, q->nnz, SC_DT_F32,
                                          q->total, h->o.target_sum, q)))) < 0)
        goto out;
    wo.progress = sc_progress_new("writing", 0, 0, h->o.progress);
    sc_progress_set_unit(wo.progress, "cells");
    rc = sc_h5ad_write(o, out, &wo);
    sc_progress_done(wo.progress);
out:
    sc_adata_close(o);
    extras_release(&ex);
    return rc;
}

int sc_hz_run(sc_hz *h, const char *in, const char *const *ids, const char *out,
              sc_hz_result *res)
{
    sc_adata *ad = NULL;
    counts_src cs;
    gene_map gm;
    qc q;
    hash_job hj;
    hz_meta meta;
    const char *matched;
    const sc_onto *onto = NULL;
    json_t *rep = json_object(), *rw = json_array();
    sc_mat_info mi;
    int rc, normalized = 0;

    memset(res, 0, sizeof *res);
    memset(&gm, 0, sizeof gm);
    h->used_species = 0;
    h->used_onto = 0;
    memset(&q, 0, sizeof q);
    q.spill_fd = -1;
    if (!rep || !rw) {
        json_decref(rep);
        json_decref(rw);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    res->report = rep;
    json_object_set_new(rep, "input", json_string(in));
    json_object_set_new(rep, "tool", json_string(h->tool));
    if (h->o.gene_map)
        json_object_set_new(rep, "gene_map", json_string(h->o.gene_map));
    json_object_set_new(rep, "version", json_string(h->version));
    json_object_set_new(rep, "rewrites", rw);
    if (h->o.provenance)
        hash_start(&hj, in);
    else
        memset(&hj, 0, sizeof hj);
    if ((rc = sc_adata_probe(in, SC_OPEN_GEX_ONLY | SC_OPEN_VAR_IDS)) < 0 ||
        (rc = sc_adata_open(in, SC_OPEN_GEX_ONLY | SC_OPEN_VAR_IDS, &ad)) < 0)
        goto out;
    json_object_set_new(rep, "format", json_string(sc_format_name(ad->format)));
    json_object_set_new(rep, "n_obs_in", json_integer(ad->n_obs));
    json_object_set_new(rep, "n_vars_in", json_integer(ad->n_vars));
    /* metadata first: it may tell the organism */
    if (hz_meta_needs_onto(ad->obs))
        onto = get_onto(h);
    if ((rc = hz_meta_rewrite(ad->obs, ad->uns, ad->n_obs, onto, h->o.lenient,
                              rw, &meta)) < 0 ||
        (rc = hz_hancestro_apply(ad->obs, ad->n_obs, ids, &h->hancestro, rw,
                                 &matched)) < 0)
        goto out;
    json_object_set_new(rep, "hancestro_mapping",
                        matched ? json_string(matched) : json_null());
    /* raw counts */
    if ((rc = find_counts(h, ad, &cs)) < 0)
        goto out;
    if (!cs.mat_elem) {
        /* nothing to harmonize: a refusal, not an error */
        json_object_set_new(rep, "counts", json_pack("{s:n}", "location"));
        add_reason(res, "no_raw_counts");
        goto verdict;
    }
    sc_mat_get_info(cs.mat_elem->mat, &mi);
    sc_mat_set_threads(cs.mat_elem->mat, h->o.threads);
    json_object_set_new(rep, "counts",
                        json_pack("{s:s, s:b, s:s, s:I}", "location", cs.where,
                                  "is_counts", cs.is_counts, "dtype",
                                  sc_dtype_name(mi.dtype), "nnz",
                                  (json_int_t)mi.nnz));
    if (!cs.is_counts) {
        if (h->o.keep_normalized)
            normalized = 1;
        else
            add_reason(res, "no_raw_counts");
    }
    if (!cs.var || cs.var->n_rows != mi.n_cols) {
        rc = sc_fail(SC_EFORMAT, "%s has %lld genes but its var table %lld",
                     cs.where, (long long)mi.n_cols,
                     (long long)(cs.var ? cs.var->n_rows : -1));
        goto out;
    }
    /* genes */
    if ((rc = hz_map_genes(h, cs.var, mi.n_cols,
                           meta.organism[0] ? meta.organism : NULL, &gm, rep)) <
        0)
        goto out;
    if ((rc = hz_genes_report(
             &gm, cs.var, strcmp(cs.where, "raw/X") == 0 ? "raw/var" : "var",
             rep, 1)) < 0 ||
        (rc = hz_genes_tsv(&gm, cs.var, in, &res->genes_tsv,
                           &res->genes_tsv_len)) < 0)
        goto out;
    if (gm.mixed || meta.obs_organisms > 1) {
        snprintf(res->organism, sizeof res->organism, "mixed");
        add_reason(res, "mixed_species");
    } else {
        snprintf(res->organism, sizeof res->organism, "%s",
                 sc_genes_species(gm.species)->taxon);
    }
    json_object_set_new(rep, "organism", json_string(res->organism));
    /* every term against the schema, in the organism's context */
    if (onto && get_schema(h) &&
        (rc = hz_schema_check(ad->obs, ad->n_obs,
                              strcmp(res->organism, "mixed") ? res->organism
                                                             : NULL,
                              h->schema, onto, rw, rep)) < 0)
        goto out;
    if (ad->n_obs < h->o.min_cells)
        add_reason(res, "too_few_cells");
    {
        /* the threshold of the assay most cells have */
        int64_t n_tg, n_known, min;
        int targeted;

        if ((rc = hz_assay_class(ad->obs, ad->n_obs, onto, h->o.targeted_assays,
                                 &n_tg, &n_known)) < 0)
            goto out;
        targeted = n_tg * 2 > n_known;
        min = targeted ? h->o.min_mapped_targeted : h->o.min_mapped_genes;
        json_object_set_new(
            rep, "mapped_genes_threshold",
            json_pack("{s:s, s:I, s:I, s:I}", "assay_class",
                      targeted ? "targeted" : "full_transcriptome",
                      "n_cells_targeted_assay", (json_int_t)n_tg,
                      "n_cells_with_assay", (json_int_t)n_known,
                      "min_mapped_genes", (json_int_t)min));
        if (gm.n_out + gm.n_alt < min)
            add_reason(res, "too_few_genes");
    }
    if (!res->refused) {
        if ((rc = qc_pass(cs.mat_elem->mat, &gm, &q, h->o.progress, out)) < 0 ||
            (rc = qc_filter(&h->o, &q, rep)) < 0)
            goto out;
        json_object_set_new(rep, "total_counts_in", json_real(q.sum_in));
        json_object_set_new(rep, "total_counts_mapped", json_real(q.sum_out));
        json_object_set_new(rep, "total_counts_dropped",
                            json_real(q.sum_dropped));
        if (q.n_keep == 0)
            add_reason(res, "no_cells_pass_qc");
    }
verdict:
    json_object_set_new(rep, "status",
                        json_string(res->refused ? "refused" : "ok"));
    json_object_set_new(rep, "refusal_reasons", json_array());
    for (const char *p = res->reasons; *p;) {
        size_t n = strcspn(p, ",");

        json_array_append_new(json_object_get(rep, "refusal_reasons"),
                              json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    if (res->refused)
        goto out;
    if ((rc = write_output(h, ad, &cs, &gm, &q, out, &hj, in, normalized,
                           rep)) < 0)
        goto out;
    res->n_obs = q.n_keep;
    res->n_vars = gm.n_out;
    json_object_set_new(rep, "output", json_string(out));
    json_object_set_new(rep, "n_obs", json_integer(q.n_keep));
    json_object_set_new(rep, "n_vars", json_integer(gm.n_out));
    json_object_set_new(rep, "total_counts_out", json_real(0));
    {
        double sum = 0;

        for (int64_t i = 0; i < q.n_keep; i++)
            sum += q.total[q.rows[i]];
        json_object_set_new(rep, "total_counts_out", json_real(sum));
    }
    json_object_set_new(rep, "references", sc_hz_versions(h));
out:
    if (hash_join(&hj) < 0 && rc == 0)
        rc = SC_EIO;
    if (h->o.provenance && hj.hex[0])
        json_object_set_new(rep, "input_sha256", json_string(hj.hex));
    qc_release(&q);
    hz_gene_map_release(&gm);
    sc_adata_close(ad);
    if (rc < 0) /* the readers' messages mostly name the file already */
        return strstr(sc_errmsg(), in) ? rc : sc_fail_ctx(rc, "'%s'", in);
    return 0;
}
