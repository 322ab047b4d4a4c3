/* sc_stream_index: per-dataset index (shape, entries per row, obs columns)
 * with an on-disk cache (sources are in sc_stream_src.c, the interned var
 * lists and the entry buffers in sc_stream_vtab.c). */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

#include "sc_h5.h"
#include "sc_hash.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_pack.h"
#include "sc_stream_int.h"

int ss_strv_push(char ***v, size_t *n, size_t *cap, const char *s)
{
    char *copy;
    if (*n == *cap) {
        size_t c = *cap ? 2 * *cap : 64;
        char **p = realloc(*v, c * sizeof *p);
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        *v = p;
        *cap = c;
    }
    if (!(copy = strdup(s)))
        return sc_fail(SC_ENOMEM, "out of memory");
    (*v)[(*n)++] = copy;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Index                                                                    */

static void col_release(ss_col *c)
{
    free(c->name);
    for (int64_t i = 0; i < c->n_cats; i++)
        free(c->cats[i]);
    free(c->cats);
    free(c->codes);
}

/* Bytes of the skeletons the indexes hold (they count toward
 * SS_SKEL_BYTES with those the streams hold). */
static size_t skel_held;

size_t ss_meta_skel_bytes(void)
{
    return __atomic_load_n(&skel_held, __ATOMIC_RELAXED);
}

ss_raw *ss_meta_take_skel(ss_meta *m)
{
    ss_raw *k = m->skel;
    if (k)
        __atomic_sub_fetch(&skel_held, ss_raw_table_bytes(k), __ATOMIC_RELAXED);
    m->skel = NULL;
    return k;
}

/* Give M the skeleton K (taken over) when the skeletons held stay within
 * SS_SKEL_BYTES, else close it. */
static void skel_keep(ss_meta *m, ss_raw *k)
{
    size_t n = ss_raw_table_bytes(k);
    if (__atomic_add_fetch(&skel_held, n, __ATOMIC_RELAXED) > SS_SKEL_BYTES) {
        __atomic_sub_fetch(&skel_held, n, __ATOMIC_RELAXED);
        ss_raw_close(k);
        return;
    }
    ss_raw_close(ss_meta_take_skel(m));
    m->skel = k;
}

void ss_meta_free(ss_meta *m)
{
    if (!m)
        return;
    ss_var_release(m);
    ss_raw_close(ss_meta_take_skel(m));
    free(m->nnz);
    free(m->organism);
    for (size_t i = 0; i < m->n_cols; i++)
        col_release(&m->cols[i]);
    free(m->cols);
    free(m);
}

const ss_col *ss_meta_col(const ss_meta *m, const char *name)
{
    for (size_t i = 0; i < m->n_cols; i++)
        if (!strcmp(m->cols[i].name, name))
            return &m->cols[i];
    return NULL;
}

int ss_meta_from_pack(const sc_pack *p, const char *const *cols, size_t n_cols,
                      ss_meta **out)
{
    const sc_batch_header *h = sc_pack_header(p);
    const sc_pack_arrays *a = sc_pack_data(p);
    ss_meta *m;

    *out = NULL;
    if (!(m = calloc(1, sizeof *m)) ||
        !(m->var = calloc(h->n_genes ? h->n_genes : 1, sizeof *m->var)) ||
        !(m->nnz = malloc((a->n_cells ? a->n_cells : 1) * sizeof *m->nnz)) ||
        !(m->cols = calloc(n_cols ? n_cols : 1, sizeof *m->cols)))
        goto nomem;
    m->n_obs = (int64_t)a->n_cells;
    for (size_t j = 0; j < h->n_genes; j++) {
        if (!(m->var[j] = strdup(h->genes[j])))
            goto nomem;
        m->n_vars = (int64_t)j + 1;
    }
    for (uint64_t i = 0; i < a->n_cells; i++)
        m->nnz[i] = (uint32_t)(a->indptr[i + 1] - a->indptr[i]);
    for (size_t c = 0; c < n_cols; c++) {
        size_t k;
        for (k = 0; k < h->n_labels; k++)
            if (!strcmp(h->labels[k].name, cols[c]))
                break;
        if (k == h->n_labels || ss_meta_col(m, cols[c]))
            continue;
        ss_col *o = &m->cols[m->n_cols++];
        const sc_batch_vocab *v = &h->labels[k];
        if (!(o->name = strdup(cols[c])) ||
            !(o->cats = calloc(v->n ? v->n : 1, sizeof *o->cats)) ||
            !(o->codes =
                  malloc((a->n_cells ? a->n_cells : 1) * sizeof *o->codes)))
            goto nomem;
        for (size_t j = 0; j < v->n; j++) {
            if (!(o->cats[j] = strdup(v->terms[j])))
                goto nomem;
            o->n_cats = (int64_t)j + 1;
        }
        memcpy(o->codes, a->labels + k * a->n_cells,
               a->n_cells * sizeof *o->codes);
    }
    if (ss_meta_intern(m) < 0) {
        ss_meta_free(m);
        return SC_ENOMEM;
    }
    *out = m;
    return 0;
nomem:
    ss_meta_free(m);
    return sc_fail(SC_ENOMEM, "out of memory");
}

int ss_pick_matrix(sc_adata *ad, const char *matrix, sc_mat **out)
{
    sc_elem *e = NULL;

    *out = NULL;
    if (!matrix || !strcmp(matrix, "X"))
        e = ad->X;
    else if (!strcmp(matrix, "raw") || !strcmp(matrix, "raw/X"))
        e = ad->raw ? sc_elem_get(ad->raw, "X") : NULL;
    else
        e = ad->layers ? sc_elem_get(ad->layers, matrix) : NULL;
    if (!e || e->kind != SC_K_MATRIX || !e->mat)
        return sc_fail(SC_ENOTFOUND, "'%s': no matrix '%s'", ad->path,
                       matrix ? matrix : "X");
    *out = e->mat;
    return 0;
}

/* A value of a numeric array element as the text used for categories. */
static void num_text(const sc_elem *e, int64_t i, char *buf, size_t size)
{
    double v = sc_elem_num(e, i);
    if (e->dtype == SC_DT_BOOL)
        snprintf(buf, size, "%s", v != 0 ? "True" : "False");
    else
        snprintf(buf, size, "%.17g", v);
}

/* Turn obs column E (n rows) into categories and codes. */
static int col_from_elem(const sc_elem *e, int64_t n, ss_col *c)
{
    sc_strmap map = {0};
    char tmp[64];
    int rc = 0;
    size_t cap = 0;

    if (!(c->codes = malloc((n ? n : 1) * sizeof *c->codes)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (e->kind == SC_K_CATEGORICAL) {
        const sc_elem *cats = e->categories;
        int64_t nc = sc_elem_count(cats);
        if (!(c->cats = calloc(nc ? nc : 1, sizeof *c->cats)))
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; i < nc; i++) {
            const char *s = tmp;
            if (cats->dtype == SC_DT_STR)
                s = sc_elem_str(cats, i);
            else
                num_text(cats, i, tmp, sizeof tmp);
            if (!(c->cats[i] = strdup(s ? s : "")))
                return sc_fail(SC_ENOMEM, "out of memory");
            c->n_cats = i + 1;
        }
        const int32_t *codes = e->codes->data;
        for (int64_t i = 0; i < n; i++)
            c->codes[i] = codes[i] >= 0 && codes[i] < nc ? codes[i] : -1;
        return 0;
    }
    const sc_elem *v = e->kind == SC_K_NULLABLE ? e->values : e;
    if (!v || v->kind != SC_K_ARRAY || v->rank > 1)
        return sc_fail(SC_EUNSUP, "obs column '%s' is not 1-D", c->name);
    for (int64_t i = 0; i < n && rc == 0; i++) {
        const char *s = tmp;
        if (e->kind == SC_K_NULLABLE && e->mask && e->mask[i]) {
            c->codes[i] = -1;
            continue;
        }
        if (v->dtype == SC_DT_STR) {
            s = sc_elem_str(v, i);
        } else {
            double d = sc_elem_num(v, i);
            if (isnan(d)) {
                c->codes[i] = -1;
                continue;
            }
            num_text(v, i, tmp, sizeof tmp);
        }
        if (!s) {
            c->codes[i] = -1;
            continue;
        }
        int64_t k = sc_strmap_get(&map, s);
        if (k < 0) {
            size_t nc = (size_t)c->n_cats;
            if ((rc = ss_strv_push(&c->cats, &nc, &cap, s)) < 0)
                break;
            k = c->n_cats++;
            rc = sc_strmap_put(&map, c->cats[k], k);
        }
        c->codes[i] = (int32_t)k;
    }
    sc_strmap_release(&map);
    return rc;
}

static char *organism_of(const sc_adata *ad)
{
    const char *s = sc_elem_organism(ad->uns, ad->obs, 1);
    return s ? strdup(s) : NULL;
}

/* Stored entries per row: one pass over the matrix in row blocks. */
static int count_rows(sc_mat *m, int64_t n, uint32_t *nnz)
{
    sc_block b = SC_BLOCK_INIT;
    int rc = 0;
    for (int64_t r0 = 0; r0 < n && rc == 0; r0 += 4096) {
        int64_t r1 = r0 + 4096 < n ? r0 + 4096 : n;
        if ((rc = sc_mat_read_rows(m, r0, r1, &b)) < 0)
            break;
        for (int64_t i = 0; i < r1 - r0; i++) {
            int64_t k = 0;
            if (b.dense) {
                for (int64_t j = 0; j < b.n_cols; j++)
                    k += b.vals[i * b.n_cols + j] != 0;
            } else {
                k = b.indptr[i + 1] - b.indptr[i];
            }
            nnz[r0 + i] = k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
        }
    }
    sc_block_release(&b);
    return rc;
}

/* The HDF5 group of MATRIX ("X", "raw", a layer) in an h5ad file. */
static void matrix_group(const char *matrix, char *buf, size_t size)
{
    if (!matrix || !strcmp(matrix, "X"))
        snprintf(buf, size, "X");
    else if (!strcmp(matrix, "raw") || !strcmp(matrix, "raw/X"))
        snprintf(buf, size, "raw/X");
    else
        snprintf(buf, size, "layers/%s", matrix);
}

/* Entries per row of CSR matrix M of the h5ad FILE, from its indptr alone
 * (the values are not read). SC_EUNSUP when M is not such a matrix. */
static int count_rows_indptr(hid_t file, const char *matrix, sc_mat *m,
                             int64_t n, uint32_t *nnz)
{
    sc_mat_info info;
    sc_elem *e = NULL;
    char path[512];
    int rc;

    sc_mat_get_info(m, &info);
    if (info.fmt != SC_MAT_CSR)
        return SC_EUNSUP;
    matrix_group(matrix, path, sizeof path - 8);
    strcat(path, "/indptr");
    if (sc_h5_is_dataset(file, path) != 1)
        return SC_EUNSUP;
    if ((rc = sc_h5_read_path(file, path, "indptr", path, &e)) < 0)
        return rc;
    if (e->rank != 1 || sc_elem_count(e) != n + 1) {
        sc_elem_free(e);
        return SC_EUNSUP;
    }
    for (int64_t i = 0; i < n; i++) {
        double k = sc_elem_num(e, i + 1) - sc_elem_num(e, i);
        nnz[i] = k < 0 ? 0 : k > UINT32_MAX ? UINT32_MAX : (uint32_t)k;
    }
    sc_elem_free(e);
    return 0;
}

/* Entries per chunk of the values of matrix MATRIX of the h5ad FILE when
 * they are stored in compressed chunks (the stream cuts blocks at chunk
 * boundaries then), else 0. */
static int64_t values_chunk(hid_t file, const char *matrix)
{
    char path[512];
    hsize_t dims[2];
    int64_t chunk = 0;

    if (file < 0)
        return 0;
    matrix_group(matrix, path, sizeof path - 8);
    strcat(path, "/data");
    if (sc_h5_is_dataset(file, path) != 1)
        return 0;
    hid_t ds = H5Dopen2(file, path, H5P_DEFAULT);
    hid_t dcpl = ds >= 0 ? H5Dget_create_plist(ds) : H5I_INVALID_HID;
    if (dcpl >= 0 && H5Pget_layout(dcpl) == H5D_CHUNKED &&
        H5Pget_nfilters(dcpl) > 0 && H5Pget_chunk(dcpl, 2, dims) == 1)
        chunk = (int64_t)dims[0];
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (ds >= 0)
        H5Dclose(ds);
    H5Eclear2(H5E_DEFAULT);
    return chunk;
}

/* Entries per row, from indptr when it can: reading every value of a
 * large gzip dataset to count its rows is what made a first run slow. */
static int entries_per_row(hid_t file, const char *matrix, sc_mat *m, int64_t n,
                           uint32_t *nnz)
{
    int rc = file >= 0 ? count_rows_indptr(file, matrix, m, n, nnz) : SC_EUNSUP;
    return rc == SC_EUNSUP ? count_rows(m, n, nnz) : rc;
}

static int has_name(const char *const *v, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(v[i], s))
            return 1;
    return 0;
}

static int meta_from_file(const char *path, const char *matrix,
                          const char *const *cols, size_t n_cols, ss_meta **out)
{
    sc_adata *ad = NULL;
    ss_meta *m;
    sc_mat *mat;
    sc_mat_info info;
    int rc;

    *out = NULL;
    if (!(m = calloc(1, sizeof *m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = sc_adata_open(path, 0, &ad)) < 0 ||
        (rc = ss_pick_matrix(ad, matrix, &mat)) < 0)
        goto fail;
    sc_mat_get_info(mat, &info);
    m->n_obs = info.n_rows;
    m->n_vars = info.n_cols;
    const sc_elem *var = ad->var;
    if (matrix && (!strcmp(matrix, "raw") || !strcmp(matrix, "raw/X")))
        var = sc_elem_get(ad->raw, "var");
    if (!var || !var->index || sc_elem_count(var->index) != m->n_vars) {
        rc = sc_fail(SC_EFORMAT, "'%s': var does not match the matrix", path);
        goto fail;
    }
    if (!(m->var = calloc(m->n_vars ? m->n_vars : 1, sizeof *m->var)) ||
        !(m->nnz = malloc((m->n_obs ? m->n_obs : 1) * sizeof *m->nnz))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    for (int64_t i = 0; i < m->n_vars; i++) {
        const char *s = sc_elem_str(var->index, i);
        if (!(m->var[i] = strdup(s ? s : ""))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
    }
    hid_t file = H5I_INVALID_HID;
    if (ad->format == SC_FMT_H5AD && ad->priv &&
        ad->priv_free == sc_h5_file_priv_free)
        file = *(hid_t *)ad->priv;
    if ((rc = entries_per_row(file, matrix, mat, m->n_obs, m->nnz)) < 0)
        goto fail;
    m->chunk = values_chunk(file, matrix);
    m->organism = organism_of(ad);
    if (!(m->cols = calloc(n_cols ? n_cols : 1, sizeof *m->cols))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < n_cols; i++) {
        const sc_elem *e = sc_elem_get(ad->obs, cols[i]);
        if (!e || has_name(cols, i, cols[i]))
            continue;
        ss_col *c = &m->cols[m->n_cols++];
        if (!(c->name = strdup(cols[i]))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        if ((rc = col_from_elem(e, m->n_obs, c)) < 0) {
            sc_fail_ctx(rc, "'%s'", path);
            goto fail;
        }
    }
    sc_adata_close(ad);
    *out = m;
    return 0;
fail:
    sc_adata_close(ad);
    ss_meta_free(m);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Cache files                                                              */

/*
 * An entry: magic, the file's stamp, path, matrix, shape, organism, entries
 * per row, chunk, obs columns, the SHA-256 (hex) of the var list and its
 * length in bytes, a CRC-32 of all that; then the var list (per name its
 * length and bytes). The list is checked by its bytes against an interned
 * list with that digest, or else by its digest (ss_var_attach).
 *
 * Since version 4, after the obs columns: the layout of the matrix's raw
 * reader (its length, then ss_raw_layout_save's bytes), so that a warm
 * run opens the file with open(2) and pread alone; length 0: the matrix
 * has no raw reader, -1: its layout was not known when the entry was
 * written (the entry is then rebuilt). A layout is checked field by field
 * and against the file's device, inode, size and mtime, and an entry
 * whose layout does not pass is rebuilt.
 */
#define CACHE_MAGIC    "SCIDX\004\n"
#define LAYOUT_UNKNOWN (-1)

static void cache_name(const char *cache_dir, const char *path,
                       const char *matrix, char *buf, size_t size)
{
    char *abs;
    uint64_t h;
    if (!*cache_dir) { /* beside the dataset */
        if (!matrix || !strcmp(matrix, "X"))
            snprintf(buf, size, "%s.scidx", path);
        else
            snprintf(buf, size, "%s.%s.scidx", path, matrix);
        return;
    }
    abs = realpath(path, NULL);
    h = sc_strhash(abs ? abs : path, 0);
    h = sc_strhash("\t", h);
    h = sc_strhash(matrix ? matrix : "X", h);
    free(abs);
    snprintf(buf, size, "%s/%016" PRIx64 ".scidx", cache_dir, h);
}

static void stamp_of(const struct stat *st, int64_t v[3])
{
    v[0] = (int64_t)st->st_size;
    v[1] = (int64_t)st->st_mtim.tv_sec;
    v[2] = (int64_t)st->st_mtim.tv_nsec;
}

/* Read a cache entry; 1 when valid for PATH (same stamp), 0 otherwise, or
 * an error (out of memory). */
static int cache_read(const char *file, const char *path, const char *matrix,
                      const struct stat *st, ss_meta **out)
{
    FILE *fp = fopen(file, "rb");
    unsigned char *data = NULL;
    long len;
    ss_meta *m = NULL;
    int64_t stamp[3];
    char *p1 = NULL, *p2 = NULL;
    int ok = 0, rc = 0;

    *out = NULL;
    if (!fp)
        return 0;
    if (fseek(fp, 0, SEEK_END) != 0 || (len = ftell(fp)) < 12 ||
        fseek(fp, 0, SEEK_SET) != 0 || !(data = malloc((size_t)len)) ||
        fread(data, 1, (size_t)len, fp) != (size_t)len)
        goto out;
    ss_rbuf b = {data, (size_t)len, 0, 0};
    const void *mg = ss_rget(&b, 8);
    if (!mg || memcmp(mg, CACHE_MAGIC, 8) != 0)
        goto out;
    stamp_of(st, stamp);
    for (int i = 0; i < 3; i++)
        if (ss_rget_i64(&b) != stamp[i])
            goto out;
    p1 = ss_rget_str(&b);
    p2 = ss_rget_str(&b);
    if (b.bad || strcmp(p1, path) || strcmp(p2, matrix ? matrix : "X"))
        goto out;
    if (!(m = calloc(1, sizeof *m)))
        goto out;
    m->n_obs = ss_rget_i64(&b);
    m->n_vars = ss_rget_i64(&b);
    m->organism = ss_rget_str(&b);
    if (b.bad || m->n_obs < 0 || m->n_vars < 0 || (uint64_t)m->n_vars > b.n ||
        (uint64_t)m->n_obs > b.n)
        goto out;
    if (m->organism && !*m->organism) {
        free(m->organism);
        m->organism = NULL;
    }
    const void *nz = ss_rget(&b, (size_t)m->n_obs * 4);
    if (!nz || !(m->nnz = malloc(m->n_obs ? m->n_obs * 4 : 4)))
        goto out;
    memcpy(m->nnz, nz, (size_t)m->n_obs * 4);
    m->chunk = ss_rget_i64(&b);
    int64_t nc = ss_rget_i64(&b);
    if (b.bad || m->chunk < 0 || nc < 0 || nc > 100000 ||
        !(m->cols = calloc(nc ? nc : 1, sizeof *m->cols)))
        goto out;
    for (int64_t i = 0; i < nc && !b.bad; i++) {
        ss_col *c = &m->cols[i];
        m->n_cols = i + 1;
        c->name = ss_rget_str(&b);
        c->n_cats = ss_rget_i64(&b);
        if (b.bad || c->n_cats < 0 || (uint64_t)c->n_cats > b.n ||
            !(c->cats = calloc(c->n_cats ? c->n_cats : 1, sizeof *c->cats))) {
            c->n_cats = 0;
            b.bad = 1;
            break;
        }
        for (int64_t k = 0; k < c->n_cats && !b.bad; k++)
            c->cats[k] = ss_rget_str(&b);
        const void *cd = ss_rget(&b, (size_t)m->n_obs * 4);
        if (!cd || !(c->codes = malloc(m->n_obs ? m->n_obs * 4 : 4))) {
            b.bad = 1;
            break;
        }
        memcpy(c->codes, cd, (size_t)m->n_obs * 4);
    }
    int64_t lay_n = ss_rget_i64(&b);
    const void *lay = NULL;
    if (b.bad || lay_n < LAYOUT_UNKNOWN ||
        !(lay = ss_rget(&b, lay_n > 0 ? (size_t)lay_n : 0)))
        goto out;
    const char *dg = ss_rget(&b, SC_HASH_HEX_SIZE - 1);
    int64_t blob_n = ss_rget_i64(&b);
    const void *cp = ss_rget(&b, 4);
    uint32_t crc = 0;
    if (b.bad || blob_n < 0 || (uint64_t)blob_n != b.n - b.off)
        goto out;
    memcpy(&crc, cp, 4);
    if (crc != (uint32_t)crc32(0L, data, (uInt)(b.off - 4)))
        goto out;
    char digest[SC_HASH_HEX_SIZE];
    memcpy(digest, dg, SC_HASH_HEX_SIZE - 1);
    digest[SC_HASH_HEX_SIZE - 1] = '\0';
    if ((ok = ss_var_attach(m, digest, data + b.off, (size_t)blob_n)) < 0) {
        rc = ok;
        ok = 0;
    }
    if (ok && lay_n == LAYOUT_UNKNOWN && !getenv("SC_STREAM_NO_RAW"))
        ok = 0; /* the layout can be known now: rebuilt */
    if (ok && lay_n > 0 && ss_meta_skel_bytes() < SS_SKEL_BYTES &&
        !getenv("SC_STREAM_NO_RAW")) {
        ss_raw *k = NULL;
        int lr = ss_raw_layout_load(lay, (size_t)lay_n, path, &k);
        if (lr == SC_ENOMEM) {
            rc = lr;
            ok = 0;
        } else if (lr < 0 || !ss_raw_fits(k, st, m->n_obs, m->n_vars, m->nnz)) {
            /* damaged, or not this file's: rebuilt */
            sc_log_debug("'%s': the cached layout is not valid", path);
            ok = 0;
        } else {
            skel_keep(m, k);
            k = NULL;
        }
        ss_raw_close(k);
    }
out:
    free(p1);
    free(p2);
    free(data);
    fclose(fp);
    if (!ok) {
        ss_meta_free(m);
        return rc;
    }
    *out = m;
    return 1;
}

/* Write a cache entry of M, whose var is interned (best effort: a failure
 * is only a slower next run). */
static void cache_write(const char *file, const char *path, const char *matrix,
                        const struct stat *st, const ss_meta *m,
                        const ss_raw *skel, int64_t lay_state)
{
    ss_wbuf b = {0};
    int64_t stamp[3];
    sc_atomic at;
    FILE *fp;

    ss_wput(&b, CACHE_MAGIC, 8);
    stamp_of(st, stamp);
    for (int i = 0; i < 3; i++)
        ss_wput_i64(&b, stamp[i]);
    ss_wput_str(&b, path);
    ss_wput_str(&b, matrix ? matrix : "X");
    ss_wput_i64(&b, m->n_obs);
    ss_wput_i64(&b, m->n_vars);
    ss_wput_str(&b, m->organism);
    ss_wput(&b, m->nnz, (size_t)m->n_obs * 4);
    ss_wput_i64(&b, m->chunk);
    ss_wput_i64(&b, (int64_t)m->n_cols);
    for (size_t i = 0; i < m->n_cols; i++) {
        const ss_col *c = &m->cols[i];
        ss_wput_str(&b, c->name);
        ss_wput_i64(&b, c->n_cats);
        for (int64_t k = 0; k < c->n_cats; k++)
            ss_wput_str(&b, c->cats[k]);
        ss_wput(&b, c->codes, (size_t)m->n_obs * 4);
    }
    unsigned char *lay = NULL;
    size_t lay_n = 0;
    /* a layout that is not this file's is left out (0: none) */
    if (skel && ss_raw_fits(skel, st, m->n_obs, m->n_vars, m->nnz) &&
        ss_raw_layout_save(skel, &lay, &lay_n) < 0) {
        sc_err_clear();
        lay_state = LAYOUT_UNKNOWN;
    }
    ss_wput_i64(&b, lay ? (int64_t)lay_n : lay_state);
    ss_wput(&b, lay, lay_n);
    free(lay);
    char digest[SC_HASH_HEX_SIZE] = {0};
    memcpy(digest, ss_vlist_digest(m->vl), sizeof digest);
    ss_wput(&b, digest, SC_HASH_HEX_SIZE - 1);
    size_t len_at = b.n;
    ss_wput_i64(&b, 0);
    uint32_t crc = 0;
    ss_wput(&b, &crc, 4);
    size_t start = b.n;
    ss_var_put(&b, m->var, m->n_vars);
    if (!b.bad) { /* the list's length, then the CRC of all before it */
        int64_t blob_n = (int64_t)(b.n - start);
        memcpy(b.p + len_at, &blob_n, 8);
        crc = (uint32_t)crc32(0L, b.p, (uInt)(len_at + 8));
        memcpy(b.p + len_at + 8, &crc, 4);
    }
    if (b.bad || sc_io_atomic_open(file, &at, &fp) < 0)
        goto out;
    if (sc_io_atomic_finish(&at, fwrite(b.p, 1, b.n, fp) == b.n ? 0 : -1) < 0)
        sc_log_debug("cannot write the cache entry '%s'", file);
out:
    free(b.p);
}

static int meta_from_h5ad(const char *path, const char *matrix,
                          const char *const *cols, size_t n_cols, ss_meta **out,
                          ss_raw **skel, int64_t *lay_state);

int ss_meta_load(const char *path, const char *matrix, const char *cache_dir,
                 const char *const *cols, size_t n_cols, ss_meta **out,
                 int *hit)
{
    struct stat st;
    char file[4096];
    ss_meta *m = NULL;
    const char **want = NULL;
    size_t n_want = 0;
    int rc;

    *out = NULL;
    *hit = 0;
    if (stat(path, &st) != 0)
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (cache_dir) {
        cache_name(cache_dir, path, matrix, file, sizeof file);
        if ((rc = cache_read(file, path, matrix, &st, &m)) < 0)
            return rc;
        if (rc == 1) {
            size_t i;
            for (i = 0; i < n_cols; i++)
                if (!ss_meta_col(m, cols[i]))
                    break;
            if (i == n_cols) {
                *hit = 1;
                *out = m;
                return 0;
            }
        }
    }
    /* Ask the file for the columns wanted now and those cached before, so
     * that the entry keeps growing instead of flip-flopping. (Columns the
     * file lacks are asked again each time; that costs only this open.) */
    if (!(want = malloc((n_cols + (m ? m->n_cols : 0) + 1) * sizeof *want))) {
        ss_meta_free(m);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_cols; i++)
        want[n_want++] = cols[i];
    for (size_t i = 0; m && i < m->n_cols; i++)
        want[n_want++] = m->cols[i].name;
    ss_meta *fresh = NULL;
    ss_raw *skel = NULL;
    int64_t lay_state = 0;
    /* the first open of an untrusted file: a libhdf5 crash is its error */
    rc = sc_adata_probe(path, 0);
    if (rc >= 0)
        rc = meta_from_h5ad(path, matrix, want, n_want, &fresh, &skel,
                            &lay_state);
    if (rc == SC_EUNSUP)
        rc = meta_from_file(path, matrix, want, n_want, &fresh);
    free(want);
    ss_meta_free(m);
    if (rc < 0 || (rc = ss_meta_intern(fresh)) < 0) {
        ss_meta_free(fresh);
        ss_raw_close(skel);
        return rc;
    }
    if (cache_dir && (!*cache_dir || sc_io_mkdir_p(cache_dir) == 0))
        cache_write(file, path, matrix, &st, fresh, skel, lay_state);
    /* the stream opens the file from its layout, without HDF5 */
    if (skel && ss_raw_fits(skel, &st, fresh->n_obs, fresh->n_vars, fresh->nnz))
        skel_keep(fresh, skel);
    else
        ss_raw_close(skel);
    *out = fresh;
    return 0;
}

/* The organism of an h5ad FILE by sc_elem_organism, reading only the four
 * elements the rule looks at; NULL when none says it. */
static char *organism_in_file(hid_t file)
{
    static const char *const where[2] = {"uns", "obs"};
    static const char *const keys[2] = {"organism_ontology_term_id",
                                        "organism"};
    sc_elem *d[2] = {sc_elem_new(SC_K_DICT, "uns"),
                     sc_elem_new(SC_K_DICT, "obs")},
            *e;
    const char *s;
    char *out = NULL, path[64];

    for (int i = 0; i < 4 && d[0] && d[1]; i++) {
        snprintf(path, sizeof path, "%s/%s", where[i % 2], keys[i / 2]);
        e = NULL;
        if (sc_h5_exists(file, path) == 1 &&
            sc_h5ad_read_element(file, path, &e) == 0 && e) {
            free(e->name);
            if (!(e->name = strdup(keys[i / 2]))) {
                sc_elem_free(e);
                break;
            }
            if (sc_elem_add_take(d[i % 2], e) < 0)
                break;
        } else
            sc_elem_free(e);
    }
    if (d[0] && d[1] && (s = sc_elem_organism(d[0], d[1], 1)))
        out = strdup(s);
    sc_elem_free(d[0]);
    sc_elem_free(d[1]);
    sc_err_clear();
    return out;
}

/* The index of a modern h5ad, reading only what it keeps: the matrix's
 * shape and indptr, var's index, the columns asked for and the organism.
 * Loading the whole of obs, var and uns as sc_adata_open does costs most
 * of the time of a first run over thousands of small files, and much
 * memory on large ones. SC_EUNSUP sends other files to meta_from_file. */
static int meta_from_h5ad(const char *path, const char *matrix,
                          const char *const *cols, size_t n_cols, ss_meta **out,
                          ss_raw **skel, int64_t *lay_state)
{
    ss_src *src = NULL;
    ss_meta *m = NULL;
    sc_elem *e = NULL;
    sc_mat_info info;
    char *enc = NULL, *iname = NULL, buf[600];
    const char *vg;
    hid_t f, g;
    int rc;

    *out = NULL;
    *skel = NULL;
    *lay_state = LAYOUT_UNKNOWN;
    if ((rc = ss_src_open_h5(path, matrix, &src)) < 0)
        return rc == SC_ENOTFOUND ? SC_EUNSUP : rc;
    f = src->file;
    if (src->ad || f < 0 || sc_h5_attr_str(f, "encoding-type", &enc) < 0 ||
        strcmp(enc, "anndata") != 0) {
        rc = SC_EUNSUP;
        goto out;
    }
    if (!(m = calloc(1, sizeof *m))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    sc_mat_get_info(src->mat, &info);
    m->n_obs = info.n_rows;
    m->n_vars = info.n_cols;
    /* var's index: the dataset named by the _index attribute */
    vg = matrix && (!strcmp(matrix, "raw") || !strcmp(matrix, "raw/X"))
             ? "raw/var"
             : "var";
    if ((g = H5Gopen2(f, vg, H5P_DEFAULT)) < 0) {
        rc = SC_EUNSUP;
        goto out;
    }
    rc = sc_h5_attr_str(g, "_index", &iname);
    H5Gclose(g);
    if (rc < 0) {
        rc = SC_EUNSUP;
        goto out;
    }
    snprintf(buf, sizeof buf, "%s/%s", vg, iname);
    if ((rc = sc_h5ad_read_element(f, buf, &e)) < 0)
        goto out;
    if (!e || e->kind != SC_K_ARRAY || e->dtype != SC_DT_STR ||
        sc_elem_count(e) != m->n_vars) {
        rc = SC_EUNSUP;
        goto out;
    }
    if (!(m->var = calloc(m->n_vars ? m->n_vars : 1, sizeof *m->var)) ||
        !(m->nnz = malloc((m->n_obs ? m->n_obs : 1) * sizeof *m->nnz)) ||
        !(m->cols = calloc(n_cols ? n_cols : 1, sizeof *m->cols))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    /* take the strings over instead of copying them */
    for (int64_t i = 0; i < m->n_vars; i++) {
        char **sv = e->data;
        m->var[i] = sv[i] ? sv[i] : strdup("");
        sv[i] = NULL;
        if (!m->var[i]) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
    }
    sc_elem_free(e);
    e = NULL;
    if ((rc = entries_per_row(f, matrix, src->mat, m->n_obs, m->nnz)) < 0)
        goto out;
    m->chunk = values_chunk(f, matrix);
    for (size_t i = 0; i < n_cols; i++) {
        snprintf(buf, sizeof buf, "obs/%s", cols[i]);
        if (has_name(cols, i, cols[i]) || sc_h5_exists(f, buf) != 1)
            continue;
        if ((rc = sc_h5ad_read_element(f, buf, &e)) < 0)
            goto out;
        if (!e)
            continue;
        ss_col *c = &m->cols[m->n_cols++];
        if (!(c->name = strdup(cols[i]))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = col_from_elem(e, m->n_obs, c)) < 0) {
            sc_fail_ctx(rc, "'%s'", path);
            goto out;
        }
        sc_elem_free(e);
        e = NULL;
    }
    m->organism = organism_in_file(f);
    /* the raw reader's layout (its skeleton, made without HDF5 once its
     * datasets are let go): 0 when the matrix has none */
    *lay_state = getenv("SC_STREAM_NO_RAW") ? LAYOUT_UNKNOWN : 0;
    if (src->raw && ss_raw_detach(src->raw) == 0 &&
        ss_raw_skeleton(src->raw, skel) == SC_ENOMEM)
        *lay_state = LAYOUT_UNKNOWN; /* known next time */
    sc_err_clear();
    rc = 0;
out:
    sc_elem_free(e);
    free(enc);
    free(iname);
    ss_src_close(src);
    if (rc < 0) {
        ss_meta_free(m);
        return rc;
    }
    *out = m;
    return 0;
}
