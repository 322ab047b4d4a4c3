/* sc_tenx: readers for 10x Genomics HDF5 (Cell Ranger 2 and 3+) and MEX. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <hdf5.h>

#include "sc_adata.h"
#include "sc_h5.h"
#include "sc_io.h"
#include "sc_log.h"

/*
 * Both readers produce what scanpy's read_10x_h5 / read_10x_mtx do
 * (h5ad-format.md section 10.4), with two deliberate differences:
 *
 * - var names are always made unique the anndata way (A, A, A becomes
 *   A, A-1, A-2), and the original names stay in the column gene_symbols;
 * - X keeps the stored value type (int32 counts in Cell Ranger files) rather
 *   than float32; writers convert.
 *
 * var columns, in order: gene_ids, gene_symbols, feature_types, then (HDF5)
 * every other 1-D dataset of features/ except _all_tag_keys, or (CR <= 2
 * HDF5) genome. Probe-based files: gene_ids = features/gene_id and
 * probe_ids = features/id.
 */

#define GEX        "Gene Expression"
#define BLOCK_ROWS 4096

/* ------------------------------------------------------------------------ */
/* What every 10x reader collects; finish() turns it into an sc_adata.      */

typedef struct tenx {
    const char *path;
    sc_format format;
    const char *generation;
    sc_elem *barcodes; /* strings, n_obs */
    sc_elem *obs_cols; /* dataframe of obs columns (NULL: none) */
    sc_elem *cols;     /* dataframe of var columns, one row per feature */
    sc_mat *X;         /* n_obs x n_features */
    hid_t file;        /* HDF5 readers: the open file X reads from */
} tenx;

static void tenx_release(tenx *t)
{
    sc_elem_free(t->barcodes);
    sc_elem_free(t->obs_cols);
    sc_elem_free(t->cols);
    sc_mat_free(t->X); /* before the file it reads from */
    if (t->file > 0)
        H5Fclose(t->file);
}

/* A 1-D string array of N copies of VALUE. */
static sc_elem *const_strings(const char *name, const char *value, int64_t n)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_STR, 1, &n);
    char **s;

    if (!e)
        return NULL;
    s = e->data;
    for (int64_t i = 0; i < n; i++) {
        if (!(s[i] = strdup(value))) {
            sc_elem_free(e);
            sc_fail(SC_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return e;
}

/* Rows of the 1-D array E for which KEEP is set (N_KEEP of them). */
static sc_elem *subset_array(const sc_elem *e, const uint8_t *keep,
                             int64_t n_keep)
{
    sc_elem *r = sc_elem_new_array(e->name, e->dtype, 1, &n_keep);
    size_t sz = sc_dtype_size(e->dtype);
    int64_t k = 0;

    if (!r)
        return NULL;
    for (int64_t i = 0; i < e->shape[0]; i++) {
        if (!keep[i])
            continue;
        if (e->dtype == SC_DT_STR) {
            const char *s = ((char **)e->data)[i];
            if (!(((char **)r->data)[k] = strdup(s ? s : ""))) {
                sc_elem_free(r);
                sc_fail(SC_ENOMEM, "out of memory");
                return NULL;
            }
        } else {
            memcpy((char *)r->data + k * sz, (char *)e->data + i * sz, sz);
        }
        k++;
    }
    return r;
}

/* ------------------------------------------------------------------------ */
/* Unique names as anndata's make_index_unique: later duplicates of v get    */
/* v-1, v-2, ..., skipping names already present.                            */

typedef struct slot {
    const char *key;
    int64_t count;
} slot;

typedef struct strset {
    slot *s;
    size_t mask;
} strset;

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603u;

    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211u;
    return h;
}

/* The slot of KEY, inserting it if absent (*added = 1). The table never
 * fills: it is sized for every key that can be inserted. */
static slot *strset_get(strset *t, const char *key, int *added)
{
    size_t i = str_hash(key) & t->mask;

    *added = 0;
    while (t->s[i].key && strcmp(t->s[i].key, key) != 0)
        i = (i + 1) & t->mask;
    if (!t->s[i].key) {
        t->s[i].key = key;
        *added = 1;
    }
    return &t->s[i];
}

/* A new string array NAME with the values of SRC made unique. */
static int make_unique(const sc_elem *src, const char *name, sc_elem **out)
{
    int64_t n = src->shape[0], n_dup = 0;
    strset t = {NULL, 0};
    size_t cap = 4;
    uint8_t *dup = NULL;
    char **v;
    sc_elem *r;
    int rc = 0, added;

    *out = NULL;
    if (src->kind != SC_K_ARRAY || src->dtype != SC_DT_STR || src->rank != 1)
        return sc_fail(SC_EFORMAT, "%s: feature names are not strings",
                       src->name ? src->name : "var");
    if (!(r = sc_elem_new_strings(name, (const char *const *)src->data, n)))
        return SC_ENOMEM;
    v = r->data;
    while (cap < 2 * (size_t)n + 2)
        cap *= 2;
    t.mask = cap - 1;
    if (!(t.s = calloc(cap, sizeof *t.s)) || !(dup = calloc(n + 1, 1))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        strset_get(&t, v[i], &added);
        dup[i] = !added;
        n_dup += dup[i];
    }
    for (int64_t i = 0; i < n && n_dup; i++) {
        slot *base;
        char *cand = NULL;

        if (!dup[i])
            continue;
        base = strset_get(&t, v[i], &added);
        for (;;) {
            int len =
                snprintf(NULL, 0, "%s-%lld", v[i], (long long)++base->count);
            free(cand);
            if (!(cand = malloc(len + 1))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto out;
            }
            snprintf(cand, len + 1, "%s-%lld", v[i], (long long)base->count);
            strset_get(&t, cand, &added);
            if (added)
                break;
        }
        free(v[i]);
        v[i] = cand; /* the set now borrows it from R */
    }
    if (n_dup)
        sc_log_debug("%s: %lld duplicate names made unique", name,
                     (long long)n_dup);
out:
    free(t.s);
    free(dup);
    if (rc < 0)
        sc_elem_free(r);
    else
        *out = r;
    return rc;
}

/* ------------------------------------------------------------------------ */
/* X restricted to some features                                            */

/* Replace sparse *M by an in-memory CSR holding only the columns j with
 * MAP[j] >= 0, renumbered to MAP[j] (N_KEEP columns). Reads every row once
 * in blocks. Memory: 12 bytes per kept entry plus 8 per row, i.e. about the
 * size of the kept part of the matrix; 10x matrices are CSC by barcode, so a
 * bounded-memory column filter would need a second pass per block anyway. */
static int filter_cols(sc_mat **m, const int32_t *map, int64_t n_keep,
                       const char *path)
{
    sc_mat_info info;
    sc_block b = SC_BLOCK_INIT;
    int64_t *indptr = NULL, nnz = 0, cap = 0;
    int32_t *indices = NULL;
    double *vals = NULL;
    sc_mat *r;
    int rc = 0;

    sc_mat_get_info(*m, &info);
    cap = info.nnz < 1024 ? 1024 : info.nnz / 2;
    indptr = malloc((info.n_rows + 1) * sizeof *indptr);
    indices = malloc(cap * sizeof *indices);
    vals = malloc(cap * sizeof *vals);
    if (!indptr || !indices || !vals) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    indptr[0] = 0;
    for (int64_t r0 = 0; r0 < info.n_rows; r0 += BLOCK_ROWS) {
        int64_t r1 =
            r0 + BLOCK_ROWS < info.n_rows ? r0 + BLOCK_ROWS : info.n_rows;
        if ((rc = sc_mat_read_rows(*m, r0, r1, &b)) < 0)
            goto fail;
        if (b.dense) {
            rc = sc_fail(SC_EINVAL, "'%s': cannot filter a dense matrix", path);
            goto fail;
        }
        if (nnz + b.indptr[b.n_rows] > cap) {
            int64_t want = nnz + b.indptr[b.n_rows], nc = cap;
            void *p1, *p2;
            while (nc < want)
                nc *= 2;
            p1 = realloc(indices, nc * sizeof *indices);
            if (p1)
                indices = p1;
            p2 = realloc(vals, nc * sizeof *vals);
            if (p2)
                vals = p2;
            if (!p1 || !p2) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto fail;
            }
            cap = nc;
        }
        for (int64_t i = 0; i < b.n_rows; i++) {
            for (int64_t k = b.indptr[i]; k < b.indptr[i + 1]; k++) {
                int32_t j = map[b.indices[k]];
                if (j < 0)
                    continue;
                indices[nnz] = j;
                vals[nnz++] = b.vals[k];
            }
            indptr[r0 + i + 1] = nnz;
        }
    }
    sc_block_release(&b);
    r = sc_mat_new_csr_take(info.n_rows, n_keep, indptr, indices, vals,
                            info.dtype);
    if (!r)
        return SC_ENOMEM; /* the arrays were freed with the failed matrix */
    sc_mat_free(*m);
    *m = r;
    return 0;
fail:
    sc_block_release(&b);
    free(indptr);
    free(indices);
    free(vals);
    return rc;
}

/* Apply SC_OPEN_GEX_ONLY to X and the var columns. */
static int keep_gex(tenx *t)
{
    const sc_elem *types = sc_elem_get(t->cols, "feature_types");
    int64_t n = t->cols->n_rows, n_keep = 0;
    int32_t *map = malloc((n + 1) * sizeof *map);
    uint8_t *keep = malloc(n + 1);
    int rc = 0;

    if (!map || !keep) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t j = 0; j < n; j++) {
        const char *s = sc_elem_str(types, j);
        keep[j] = s && strcmp(s, GEX) == 0;
        map[j] = keep[j] ? (int32_t)n_keep++ : -1;
    }
    if (n_keep == n)
        goto out;
    sc_log_debug("'%s': keeping %lld of %lld features (Gene Expression)",
                 t->path, (long long)n_keep, (long long)n);
    if ((rc = filter_cols(&t->X, map, n_keep, t->path)) < 0)
        goto out;
    for (size_t c = 0; c < t->cols->n_child; c++) {
        sc_elem *e = subset_array(t->cols->child[c], keep, n_keep);
        if (!e) {
            rc = SC_ENOMEM;
            goto out;
        }
        sc_elem_free(t->cols->child[c]);
        t->cols->child[c] = e;
    }
    t->cols->n_rows = n_keep;
out:
    free(map);
    free(keep);
    return rc;
}

/* Replace the index of dataframe DF by IDX (taken). */
static void set_index(sc_elem *df, sc_elem *idx)
{
    sc_elem_free(df->index);
    df->index = idx;
}

/* Move every child of FROM (a dataframe of columns) to TO. */
static int move_columns(sc_elem *from, sc_elem *to)
{
    while (from && from->n_child) {
        sc_elem *c = from->child[0];
        int rc;

        memmove(from->child, from->child + 1,
                --from->n_child * sizeof *from->child);
        if ((rc = sc_elem_add_take(to, c)) < 0)
            return rc;
    }
    return 0;
}

static int finish(tenx *t, unsigned flags, sc_adata **out)
{
    const sc_elem *names;
    sc_elem *vidx = NULL;
    sc_adata *ad = NULL;
    sc_mat_info info;
    int rc;

    if ((flags & SC_OPEN_GEX_ONLY) && (rc = keep_gex(t)) < 0)
        return rc;
    names = sc_elem_get(t->cols,
                        flags & SC_OPEN_VAR_IDS ? "gene_ids" : "gene_symbols");
    if ((rc = make_unique(names, "_index", &vidx)) < 0)
        return rc;
    sc_mat_get_info(t->X, &info);
    if (!(ad = sc_adata_new(info.n_rows, info.n_cols))) {
        sc_elem_free(vidx);
        return SC_ENOMEM;
    }
    ad->X = sc_elem_new_matrix_take("X", t->X); /* frees X on failure */
    t->X = NULL;
    if (!ad->X) {
        rc = SC_ENOMEM;
        goto fail;
    }
    if (t->file > 0) {
        hid_t *f = malloc(sizeof *f);
        if (!f) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        *f = t->file;
        t->file = 0;
        ad->priv = f;
        ad->priv_free = sc_h5_file_priv_free;
    }
    set_index(ad->obs, t->barcodes);
    t->barcodes = NULL;
    set_index(ad->var, vidx);
    vidx = NULL;
    if ((rc = move_columns(t->obs_cols, ad->obs)) < 0 ||
        (rc = move_columns(t->cols, ad->var)) < 0)
        goto fail;
    ad->format = t->format;
    if (!(ad->path = strdup(t->path)) ||
        !(ad->generation = strdup(t->generation))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    *out = ad;
    return 0;
fail:
    sc_elem_free(vidx);
    sc_adata_close(ad);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* HDF5                                                                     */

/* Read dataset DSPATH under LOC as a 1-D array called NAME of N entries.
 * Another shape is an error, or if OPTIONAL a warning, with *OUT NULL. */
static int read_col_opt(hid_t loc, const char *file, const char *dspath,
                        const char *name, int64_t n, int optional,
                        sc_elem **out)
{
    char label[1024];
    int rc;

    *out = NULL;
    snprintf(label, sizeof label, "'%s' %s", file, dspath);
    rc = sc_h5_read_path(loc, dspath, name, label, out);
    if (rc < 0)
        return rc;
    if ((*out)->rank != 1 || (*out)->shape[0] != n) {
        if (optional)
            sc_log_warn("%s: not 1-D with %lld entries, ignored", label,
                        (long long)n);
        else
            rc = sc_fail(
                SC_EFORMAT, "%s: %d-D with %lld entries, expected %lld", label,
                (*out)->rank, (long long)(*out)->shape[0], (long long)n);
        sc_elem_free(*out);
        *out = NULL;
    }
    return rc;
}

static int read_col(hid_t loc, const char *file, const char *dspath,
                    const char *name, int64_t n, sc_elem **out)
{
    return read_col_opt(loc, file, dspath, name, n, 0, out);
}

/* Open the CSC matrix of group G (shape, data, indices, indptr) as the
 * n_barcodes x n_features CSR it also is; sc_mat checks the array lengths
 * against the shape. */
static int open_csc(tenx *t, const char *g)
{
    char p[3][512], label[1024];
    int64_t nf, nb;
    sc_elem *sh;
    int rc;

    snprintf(p[0], sizeof p[0], "%s/shape", g);
    if ((rc = read_col(t->file, t->path, p[0], "shape", 2, &sh)) < 0)
        return rc;
    nf = (int64_t)sc_elem_num(sh, 0);
    nb = (int64_t)sc_elem_num(sh, 1);
    sc_elem_free(sh);
    if (nf < 0 || nb < 0 || nf > INT32_MAX || nb > INT32_MAX)
        return sc_fail(SC_EFORMAT, "'%s' %s: bad shape [%lld, %lld]", t->path,
                       p[0], (long long)nf, (long long)nb);
    snprintf(p[0], sizeof p[0], "%s/data", g);
    snprintf(p[1], sizeof p[1], "%s/indices", g);
    snprintf(p[2], sizeof p[2], "%s/indptr", g);
    snprintf(label, sizeof label, "'%s' %s", t->path, g);
    return sc_mat_open_h5_sparse(t->file, label, p[0], p[1], p[2], SC_MAT_CSR,
                                 nb, nf, &t->X);
}

static int add_col(sc_elem *df, sc_elem *col)
{
    return col ? sc_elem_add_take(df, col) : SC_ENOMEM;
}

/* Cell Ranger >= 3: /matrix with features/. */
static int read_v3(tenx *t)
{
    sc_mat_info info;
    char **names = NULL, p[512];
    int64_t n = 0;
    sc_elem *e;
    hid_t g;
    int rc, probe = sc_h5_is_dataset(t->file, "/matrix/features/gene_id");

    if ((rc = open_csc(t, "/matrix")) < 0)
        return rc;
    sc_mat_get_info(t->X, &info);
    if ((rc = read_col(t->file, t->path, "/matrix/barcodes", "_index",
                       info.n_rows, &t->barcodes)) < 0)
        return rc;
    if (sc_h5_is_dataset(t->file, "/matrix/filtered_barcodes")) {
        if (!(t->obs_cols = sc_elem_new(SC_K_DATAFRAME, "obs")))
            return SC_ENOMEM;
        if ((rc = read_col_opt(t->file, t->path, "/matrix/filtered_barcodes",
                               "filtered_barcodes", info.n_rows, 1, &e)) < 0 ||
            (e && (rc = sc_elem_add_take(t->obs_cols, e)) < 0))
            return rc;
    }
    if (!(t->cols = sc_elem_new(SC_K_DATAFRAME, "var")))
        return SC_ENOMEM;
    t->cols->n_rows = info.n_cols;
    if ((rc = read_col(t->file, t->path,
                       probe ? "/matrix/features/gene_id"
                             : "/matrix/features/id",
                       "gene_ids", info.n_cols, &e)) < 0 ||
        (rc = sc_elem_add_take(t->cols, e)) < 0 ||
        (rc = read_col(t->file, t->path, "/matrix/features/name",
                       "gene_symbols", info.n_cols, &e)) < 0 ||
        (rc = sc_elem_add_take(t->cols, e)) < 0)
        return rc;
    if (sc_h5_is_dataset(t->file, "/matrix/features/feature_type")) {
        rc = read_col(t->file, t->path, "/matrix/features/feature_type",
                      "feature_types", info.n_cols, &e);
        if (rc < 0 || (rc = sc_elem_add_take(t->cols, e)) < 0)
            return rc;
    } else if ((rc = add_col(t->cols, const_strings("feature_types", GEX,
                                                    info.n_cols))) < 0) {
        return rc;
    }
    if ((g = H5Gopen2(t->file, "/matrix/features", H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "'%s' /matrix/features: cannot open",
                          t->path);
    rc = sc_h5_list(g, &names, &n);
    H5Gclose(g);
    for (int64_t i = 0; rc >= 0 && i < n; i++) {
        const char *c = names[i];
        if (!strcmp(c, "gene_id") || !strcmp(c, "name") ||
            !strcmp(c, "feature_type") || !strcmp(c, "_all_tag_keys") ||
            (!probe && !strcmp(c, "id")))
            continue;
        snprintf(p, sizeof p, "/matrix/features/%s", c);
        if (!sc_h5_is_dataset(t->file, p)) {
            sc_log_debug("'%s' %s: not a dataset, ignored", t->path, p);
            continue;
        }
        rc = read_col_opt(t->file, t->path, p,
                          !strcmp(c, "id") ? "probe_ids" : c, info.n_cols, 1,
                          &e);
        if (rc >= 0 && e)
            rc = sc_elem_add_take(t->cols, e);
    }
    sc_strv_free(names, n);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Cell Ranger <= 2: one group per genome; the first in name order is read. */
static int read_v2(tenx *t)
{
    char **names = NULL, *genome = NULL, p[512];
    int64_t n = 0, n_groups = 0;
    sc_mat_info info;
    sc_elem *e;
    int rc;

    if ((rc = sc_h5_list(t->file, &names, &n)) < 0)
        return rc;
    if (n > 1)
        qsort(names, n, sizeof *names, cmp_str);
    for (int64_t i = 0; i < n; i++) {
        snprintf(p, sizeof p, "/%s/indptr", names[i]);
        if (!sc_h5_is_group(t->file, names[i]) || !sc_h5_exists(t->file, p))
            continue;
        if (n_groups++ == 0)
            genome = names[i];
        else
            sc_log_warn("'%s': reading genome '%s' only, ignoring '%s'",
                        t->path, genome, names[i]);
    }
    if (!genome) {
        rc = sc_fail(SC_EFORMAT,
                     "'%s': not a 10x matrix (no /matrix, no genome group)",
                     t->path);
        goto out;
    }
    if ((rc = open_csc(t, genome)) < 0)
        goto out;
    sc_mat_get_info(t->X, &info);
    snprintf(p, sizeof p, "/%s/barcodes", genome);
    if ((rc = read_col(t->file, t->path, p, "_index", info.n_rows,
                       &t->barcodes)) < 0)
        goto out;
    if (!(t->cols = sc_elem_new(SC_K_DATAFRAME, "var"))) {
        rc = SC_ENOMEM;
        goto out;
    }
    t->cols->n_rows = info.n_cols;
    snprintf(p, sizeof p, "/%s/genes", genome);
    if ((rc = read_col(t->file, t->path, p, "gene_ids", info.n_cols, &e)) < 0 ||
        (rc = sc_elem_add_take(t->cols, e)) < 0)
        goto out;
    snprintf(p, sizeof p, "/%s/gene_names", genome);
    if ((rc = read_col(t->file, t->path, p, "gene_symbols", info.n_cols, &e)) <
            0 ||
        (rc = sc_elem_add_take(t->cols, e)) < 0 ||
        (rc = add_col(t->cols,
                      const_strings("feature_types", GEX, info.n_cols))) < 0 ||
        (rc = add_col(t->cols, const_strings("genome", genome, info.n_cols))) <
            0)
        goto out;
out:
    sc_strv_free(names, n);
    return rc;
}

int sc_tenx_h5_open(const char *path, unsigned flags, sc_adata **out)
{
    tenx t = {.path = path};
    int rc;

    *out = NULL;
    sc_h5_init();
    if ((rc = sc_h5_open_ro(path, &t.file)) < 0)
        return rc;
    if (sc_h5_is_group(t.file, "/matrix") &&
        sc_h5_is_group(t.file, "/matrix/features")) {
        t.format = SC_FMT_10X_H5_V3;
        t.generation = "cellranger>=3";
        rc = read_v3(&t);
    } else {
        t.format = SC_FMT_10X_H5_V2;
        t.generation = "cellranger<=2";
        rc = read_v2(&t);
    }
    if (rc >= 0)
        rc = finish(&t, flags, out);
    tenx_release(&t);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Text lines (sc_io reads plain and gzip files alike)                      */

/* The next line of L: 1, 0 at the end, or an error; NUL bytes inside a
 * line are an error. */
static int next_line(sc_lines *l, char **line)
{
    size_t len;
    int rc = sc_lines_next(l, line, &len);

    if (rc > 0 && strlen(*line) != len)
        return sc_fail(SC_EFORMAT, "'%s' line %ld: NUL byte", sc_lines_name(l),
                       sc_lines_lineno(l));
    return rc;
}

/* ------------------------------------------------------------------------ */
/* MEX folders                                                              */

/* A growing array of malloc'd strings. */
typedef struct strv {
    char **v;
    int64_t n, cap;
} strv;

static int strv_push(strv *s, const char *str)
{
    if (s->n == s->cap) {
        int64_t nc = s->cap ? 2 * s->cap : 1024;
        char **p = realloc(s->v, nc * sizeof *p);
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        s->v = p;
        s->cap = nc;
    }
    if (!(s->v[s->n] = strdup(str)))
        return sc_fail(SC_ENOMEM, "out of memory");
    s->n++;
    return 0;
}

/* A string array element NAME taking the strings of S (S is emptied). */
static int strv_elem(strv *s, const char *name, sc_elem **out)
{
    int64_t n = s->n;

    if (!(*out = sc_elem_new_array(name, SC_DT_STR, 1, &n)))
        return SC_ENOMEM;
    if (n)
        memcpy((*out)->data, s->v, n * sizeof *s->v);
    free(s->v);
    memset(s, 0, sizeof *s);
    return 0;
}

/* Memory of one field beyond its text (pointer, NUL, malloc overhead). */
#define TSV_FIELD_BYTES 32

/* Read a tab-separated file into columns (at most MAX_COLS of them, at least
 * MIN_COLS per line; lines with fewer fields than the first line are an
 * error). Blank lines are skipped, as pandas does. *N_COLS: columns kept. */
static int read_tsv(const char *path, int min_cols, int max_cols, strv *cols,
                    int *n_cols)
{
    sc_lines *l;
    char *line;
    int64_t held = 0;
    int rc;

    *n_cols = 0;
    if ((rc = sc_lines_open(path, &l)) < 0)
        return rc;
    while ((rc = next_line(l, &line)) > 0) {
        char *f = line;
        int k = 0;

        if (!line[0])
            continue;
        /* a gzip bomb of names stops at the memory budget */
        held += (int64_t)strlen(line) + TSV_FIELD_BYTES * max_cols;
        if (held > sc_mem_budget()) {
            rc = sc_fail(SC_EFORMAT,
                         "'%s' line %ld: too large to load (more than the "
                         "memory, %lld bytes)",
                         path, sc_lines_lineno(l), (long long)sc_mem_budget());
            goto out;
        }
        for (; k < max_cols && f; k++) {
            char *tab = strchr(f, '\t');
            if (tab)
                *tab = '\0';
            if ((rc = strv_push(&cols[k], f)) < 0)
                goto out;
            f = tab ? tab + 1 : NULL;
        }
        if (!*n_cols)
            *n_cols = k;
        if (k < min_cols || k < *n_cols) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: %d fields, expected %d",
                         path, sc_lines_lineno(l), k,
                         k < min_cols ? min_cols : *n_cols);
            goto out;
        }
    }
out:
    sc_lines_close(l);
    return rc;
}

/* A whitespace-separated token of *P (NUL-terminated in place), or NULL. */
static char *next_tok(char **p)
{
    char *s = *p, *e;

    s += strspn(s, " \t");
    if (!*s)
        return NULL;
    e = s + strcspn(s, " \t");
    *p = *e ? e + 1 : e;
    *e = '\0';
    return s;
}

static int parse_i64(const char *s, int64_t *v)
{
    char *end;

    if (!s)
        return -1;
    errno = 0;
    *v = strtoll(s, &end, 10);
    return end == s || *end || errno ? -1 : 0;
}

static int parse_f64(const char *s, double *v)
{
    char *end;

    if (!s)
        return -1;
    errno = 0;
    *v = strtod(s, &end);
    return end == s || *end || errno == ERANGE ? -1 : 0;
}

enum { FIELD_INT, FIELD_REAL, FIELD_PATTERN };

/* The MatrixMarket banner and size line. */
static int mtx_header(sc_lines *l, int *field, int64_t size[3])
{
    static const char *const fields[] = {"integer", "real", "pattern"};
    char *line, *p, *tok[5];
    int rc, k = 0;

    if ((rc = next_line(l, &line)) <= 0)
        return rc < 0
                   ? rc
                   : sc_fail(SC_EFORMAT, "'%s': empty file", sc_lines_name(l));
    for (p = line; k < 5 && (tok[k] = next_tok(&p)); k++)
        ;
    if (k != 5 || strcasecmp(tok[0], "%%MatrixMarket") != 0 ||
        strcasecmp(tok[1], "matrix") != 0)
        return sc_fail(SC_EFORMAT,
                       "'%s' line 1: not a MatrixMarket header (expected "
                       "'%%%%MatrixMarket matrix coordinate integer general')",
                       sc_lines_name(l));
    for (*field = 0; *field < 3; ++*field)
        if (!strcasecmp(tok[3], fields[*field]))
            break;
    if (strcasecmp(tok[2], "coordinate") || *field == 3 ||
        strcasecmp(tok[4], "general"))
        return sc_fail(SC_EUNSUP,
                       "'%s' line 1: unsupported MatrixMarket '%s %s %s' "
                       "(need coordinate integer|real|pattern general)",
                       sc_lines_name(l), tok[2], tok[3], tok[4]);
    while ((rc = next_line(l, &line)) > 0 && (line[0] == '%' || !line[0]))
        ;
    if (rc <= 0)
        return rc < 0 ? rc
                      : sc_fail(SC_EFORMAT, "'%s': no size line",
                                sc_lines_name(l));
    p = line;
    for (k = 0; k < 3; k++)
        if (parse_i64(next_tok(&p), &size[k]) < 0 || size[k] < 0)
            break;
    if (k < 3 || next_tok(&p))
        return sc_fail(SC_EFORMAT,
                       "'%s' line %ld: bad size line (expected 'features "
                       "barcodes entries')",
                       sc_lines_name(l), sc_lines_lineno(l));
    if (size[0] > INT32_MAX || size[1] > INT32_MAX)
        return sc_fail(SC_EUNSUP,
                       "'%s' line %ld: matrix too large (%lld x %lld)",
                       sc_lines_name(l), sc_lines_lineno(l), (long long)size[0],
                       (long long)size[1]);
    return 0;
}

/* The shortest entry line ("1 1\n"), and the memory one entry takes while
 * the matrix is built (triplets, then the permutation and the CSR arrays). */
#define MTX_MIN_LINE    4
#define MTX_ENTRY_BYTES 36
/* The largest compression ratio of a gzip'd MatrixMarket file we believe:
 * distinct coordinates compress 3-6:1 in practice; a file that needs more
 * (up to deflate's 1032:1) repeats one line, i.e. it is a gzip bomb. */
#define MTX_MAX_RATIO 100

/* NNZ entries, as the size line declares, fit the file (MTX_MAX_RATIO
 * times its size when gzip'd) and the memory: a small .mtx.gz cannot make
 * us allocate (or inflate for minutes) without bound. */
static int mtx_check_size(sc_lines *l, const char *path, int64_t nnz)
{
    struct stat st;
    int64_t most;
    char label[1100];

    if (stat(path, &st) < 0)
        return sc_fail(SC_EIO, "cannot stat '%s': %s", path, strerror(errno));
    most = (int64_t)st.st_size / MTX_MIN_LINE;
    if (sc_lines_is_gzip(l))
        most =
            most > INT64_MAX / MTX_MAX_RATIO ? INT64_MAX : most * MTX_MAX_RATIO;
    if (nnz > most)
        return sc_fail(SC_EFORMAT,
                       "'%s' line %ld: declares %lld entries, more than a "
                       "%lld-byte%s file can hold (%d:1 at most)",
                       path, sc_lines_lineno(l), (long long)nnz,
                       (long long)st.st_size,
                       sc_lines_is_gzip(l) ? " gzip" : "",
                       sc_lines_is_gzip(l) ? MTX_MAX_RATIO : 1);
    snprintf(label, sizeof label, "'%s' line %ld", path, sc_lines_lineno(l));
    return sc_check_mem(label, nnz, MTX_ENTRY_BYTES);
}

/* The coordinates and values of a MatrixMarket file, in file order. */
typedef struct triplets {
    int64_t n, cap;
    int32_t *row, *col; /* 0-based feature, barcode */
    double *val;
    int is_int, wide; /* integer field; some value beyond int32 */
} triplets;

static void triplets_free(triplets *t)
{
    free(t->row);
    free(t->col);
    free(t->val);
}

static int triplets_grow(triplets *t, int64_t max)
{
    int64_t nc = t->cap ? 2 * t->cap : 1 << 16;
    void *p;

    if (nc > max)
        nc = max;
    if ((p = realloc(t->row, nc * sizeof *t->row)))
        t->row = p;
    if (p && (p = realloc(t->col, nc * sizeof *t->col)))
        t->col = p;
    if (p && (p = realloc(t->val, nc * sizeof *t->val)))
        t->val = p;
    if (!p)
        return sc_fail(SC_ENOMEM, "out of memory");
    t->cap = nc;
    return 0;
}

/* Parse the NNZ entry lines following the header. */
static int mtx_entries(sc_lines *l, int field, const int64_t size[3],
                       triplets *t)
{
    char *line;
    int rc;

    t->is_int = field == FIELD_INT;
    while ((rc = next_line(l, &line)) > 0) {
        int64_t r, c, iv;
        double v = 1;
        char *p = line, *tok;

        if (!line[0] || line[0] == '%')
            continue;
        if (t->n == size[2])
            return sc_fail(SC_EFORMAT,
                           "'%s' line %ld: more than the %lld entries of "
                           "the size line",
                           sc_lines_name(l), sc_lines_lineno(l),
                           (long long)size[2]);
        if (parse_i64(next_tok(&p), &r) < 0 || parse_i64(next_tok(&p), &c) < 0)
            return sc_fail(SC_EFORMAT, "'%s' line %ld: bad coordinates",
                           sc_lines_name(l), sc_lines_lineno(l));
        if (r < 1 || r > size[0] || c < 1 || c > size[1])
            return sc_fail(
                SC_EFORMAT, "'%s' line %ld: %s %lld not in 1..%lld %s",
                sc_lines_name(l), sc_lines_lineno(l),
                r < 1 || r > size[0] ? "row" : "column",
                (long long)(r < 1 || r > size[0] ? r : c),
                (long long)(r < 1 || r > size[0] ? size[0] : size[1]),
                r < 1 || r > size[0] ? "(features)" : "(barcodes)");
        if (field != FIELD_PATTERN) {
            tok = next_tok(&p);
            if (field == FIELD_INT
                    ? parse_i64(tok, &iv) < 0 || iv > (INT64_C(1) << 53) ||
                          iv < -(INT64_C(1) << 53)
                    : parse_f64(tok, &v) < 0)
                return sc_fail(SC_EFORMAT, "'%s' line %ld: bad %s value '%s'",
                               sc_lines_name(l), sc_lines_lineno(l),
                               field == FIELD_INT ? "integer" : "real",
                               tok ? tok : "");
            if (field == FIELD_INT) {
                v = (double)iv;
                t->wide |= iv > INT32_MAX || iv < INT32_MIN;
            }
        }
        if (next_tok(&p))
            return sc_fail(SC_EFORMAT, "'%s' line %ld: extra fields",
                           sc_lines_name(l), sc_lines_lineno(l));
        if (t->n == t->cap && (rc = triplets_grow(t, size[2])) < 0)
            return rc;
        t->row[t->n] = (int32_t)(r - 1);
        t->col[t->n] = (int32_t)(c - 1);
        t->val[t->n++] = v;
    }
    if (rc < 0)
        return rc;
    if (t->n < size[2])
        return sc_fail(SC_EFORMAT,
                       "'%s': %lld entries, but the size line says %lld",
                       sc_lines_name(l), (long long)t->n, (long long)size[2]);
    return 0;
}

/* CSR (rows = barcodes) from triplets: a counting sort by feature, then a
 * stable one by barcode, leaves the indices of each row sorted. Repeated
 * coordinates are summed, as scipy does. */
static int triplets_csr(triplets *t, int64_t n_feat, int64_t n_bc,
                        const char *name, sc_mat **out)
{
    int64_t *cnt = calloc(n_feat + 1, sizeof *cnt);
    int64_t *perm = malloc((t->n + 1) * sizeof *perm);
    int64_t *indptr = calloc(n_bc + 1, sizeof *indptr);
    int32_t *indices = malloc((t->n + 1) * sizeof *indices);
    double *vals = malloc((t->n + 1) * sizeof *vals);
    int64_t k, w = 0, n_rep = 0;

    *out = NULL;
    if (!cnt || !perm || !indptr || !indices || !vals) {
        free(indptr);
        free(indices);
        free(vals);
        free(cnt);
        free(perm);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (k = 0; k < t->n; k++)
        cnt[t->row[k] + 1]++;
    for (k = 0; k < n_feat; k++)
        cnt[k + 1] += cnt[k];
    for (k = 0; k < t->n; k++)
        perm[cnt[t->row[k]]++] = k;
    free(cnt);
    /* indptr[c + 1] counts barcode c; then the next free slot of each row */
    for (k = 0; k < t->n; k++)
        indptr[t->col[k] + 1]++;
    for (k = 0; k < n_bc; k++)
        indptr[k + 1] += indptr[k];
    for (k = 0; k < t->n; k++) {
        int64_t e = perm[k], p = indptr[t->col[e]]++;
        indices[p] = t->row[e];
        vals[p] = t->val[e];
    }
    free(perm);
    /* now indptr[c] is the end of row c: shift back and merge repeats */
    for (int64_t c = 0, start = 0; c < n_bc; c++) {
        int64_t end = indptr[c];
        indptr[c] = w;
        for (k = start; k < end; k++) {
            if (w > indptr[c] && indices[w - 1] == indices[k]) {
                vals[w - 1] += vals[k];
                n_rep++;
                continue;
            }
            indices[w] = indices[k];
            vals[w++] = vals[k];
        }
        start = end;
    }
    indptr[n_bc] = w;
    if (n_rep)
        sc_log_warn("'%s': %lld repeated coordinates summed", name,
                    (long long)n_rep);
    *out = sc_mat_new_csr_take(n_bc, n_feat, indptr, indices, vals,
                               !t->is_int ? SC_DT_F32
                               : t->wide  ? SC_DT_I64
                                          : SC_DT_I32);
    return *out ? 0 : SC_ENOMEM;
}

/* The files of a MEX folder: DIR/PREFIX + name (first that exists). */
static char *find_file(const char *dir, const char *prefix,
                       const char *const *names)
{
    for (; *names; names++) {
        size_t len = strlen(dir) + strlen(prefix) + strlen(*names) + 2;
        char *p = malloc(len);
        struct stat st;

        if (!p)
            return NULL;
        snprintf(p, len, "%s/%s%s", dir, prefix, *names);
        if (stat(p, &st) == 0 && S_ISREG(st.st_mode))
            return p;
        free(p);
    }
    return NULL;
}

/* Split PATH (a folder, or its [PREFIX]matrix.mtx[.gz] file) into the
 * folder and the file name prefix, both malloc'd. */
static int mex_dir(const char *path, char **dir, char **prefix)
{
    static const char *const sfx[] = {"matrix.mtx.gz", "matrix.mtx"};
    struct stat st;
    const char *base, *slash;

    *dir = *prefix = NULL;
    if (stat(path, &st) < 0)
        return sc_fail(errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                       "cannot open '%s': %s", path, strerror(errno));
    if (S_ISDIR(st.st_mode)) {
        *dir = strdup(path);
        *prefix = strdup("");
        return *dir && *prefix ? 0 : sc_fail(SC_ENOMEM, "out of memory");
    }
    slash = strrchr(path, '/');
    base = slash ? slash + 1 : path;
    for (int i = 0; i < 2; i++) {
        size_t sl = strlen(sfx[i]), bl = strlen(base);
        if (bl < sl || strcmp(base + bl - sl, sfx[i]) != 0)
            continue;
        *dir = slash ? strndup(path, slash - path ? slash - path : 1)
                     : strdup(".");
        *prefix = strndup(base, bl - sl);
        return *dir && *prefix ? 0 : sc_fail(SC_ENOMEM, "out of memory");
    }
    return sc_fail(SC_EFORMAT,
                   "'%s': not a 10x MEX folder or matrix.mtx[.gz] file", path);
}

int sc_tenx_mtx_open(const char *path, unsigned flags, sc_adata **out)
{
    static const char *const mtx_names[] = {"matrix.mtx.gz", "matrix.mtx",
                                            NULL};
    static const char *const feat_names[] = {"features.tsv.gz", "features.tsv",
                                             "genes.tsv.gz", "genes.tsv", NULL};
    static const char *const bc_names[] = {"barcodes.tsv.gz", "barcodes.tsv",
                                           NULL};
    static const char *const col_names[] = {"gene_ids", "gene_symbols",
                                            "feature_types"};
    char *dir = NULL, *prefix = NULL, *fmtx = NULL, *ffeat = NULL, *fbc = NULL;
    strv fcols[3] = {{0}}, bc = {0};
    triplets tr = {0};
    tenx t = {.path = path, .format = SC_FMT_10X_MTX};
    int64_t size[3];
    int rc, field = 0, n_cols, n_bc_cols;
    sc_lines *l = NULL;
    sc_elem *e;

    *out = NULL;
    if ((rc = mex_dir(path, &dir, &prefix)) < 0)
        goto out;
    fmtx = find_file(dir, prefix, mtx_names);
    ffeat = find_file(dir, prefix, feat_names);
    fbc = find_file(dir, prefix, bc_names);
    if (!fmtx || !ffeat || !fbc) {
        rc = sc_fail(SC_ENOTFOUND, "'%s': no %s%s in the 10x MEX folder", dir,
                     prefix,
                     !fmtx    ? "matrix.mtx[.gz]"
                     : !ffeat ? "features.tsv[.gz] or genes.tsv[.gz]"
                              : "barcodes.tsv[.gz]");
        goto out;
    }
    t.generation = strstr(ffeat + strlen(dir), "genes.tsv") ? "cellranger<=2"
                                                            : "cellranger>=3";
    if ((rc = read_tsv(ffeat, 2, 3, fcols, &n_cols)) < 0 ||
        (rc = read_tsv(fbc, 1, 1, &bc, &n_bc_cols)) < 0 ||
        (rc = sc_lines_open(fmtx, &l)) < 0 ||
        (rc = mtx_header(l, &field, size)) < 0)
        goto out;
    if ((rc = mtx_check_size(l, fmtx, size[2])) < 0)
        goto out;
    if (size[0] != fcols[0].n || size[1] != bc.n) {
        rc = sc_fail(SC_EFORMAT,
                     "'%s' line %ld: %lld x %lld matrix, but '%s' has %lld "
                     "features and '%s' %lld barcodes",
                     fmtx, sc_lines_lineno(l), (long long)size[0],
                     (long long)size[1], ffeat, (long long)fcols[0].n, fbc,
                     (long long)bc.n);
        goto out;
    }
    if ((rc = mtx_entries(l, field, size, &tr)) < 0 ||
        (rc = triplets_csr(&tr, size[0], size[1], fmtx, &t.X)) < 0)
        goto out;
    triplets_free(&tr);
    memset(&tr, 0, sizeof tr);
    if (!(t.cols = sc_elem_new(SC_K_DATAFRAME, "var"))) {
        rc = SC_ENOMEM;
        goto out;
    }
    t.cols->n_rows = size[0];
    for (int k = 0; k < 3; k++) {
        if (k < n_cols)
            rc = strv_elem(&fcols[k], col_names[k], &e);
        else
            rc =
                (e = const_strings(col_names[k], GEX, size[0])) ? 0 : SC_ENOMEM;
        if (rc < 0 || (rc = sc_elem_add_take(t.cols, e)) < 0)
            goto out;
    }
    if ((rc = strv_elem(&bc, "_index", &t.barcodes)) < 0)
        goto out;
    rc = finish(&t, flags, out);
out:
    sc_lines_close(l);
    triplets_free(&tr);
    for (int k = 0; k < 3; k++)
        sc_strv_free(fcols[k].v, fcols[k].n);
    sc_strv_free(bc.v, bc.n);
    tenx_release(&t);
    free(dir);
    free(prefix);
    free(fmtx);
    free(ffeat);
    free(fbc);
    return rc;
}
