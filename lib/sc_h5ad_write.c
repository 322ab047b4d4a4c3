/* sc_h5ad_write: write an sc_adata as an h5ad that anndata 0.8 reads. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_adata.h"
#include "sc_h5.h"
#include "sc_h5chunk.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_map.h"
#include "sc_progress.h"

/*
 * Storage choices (docs/h5ad-format.md §7).
 *
 * Chunks are kept at or under 1 MiB: libhdf5's default chunk cache is 1 MiB
 * per dataset, so a chunk that fits is inflated once even when a reader
 * walks it in several partial reads; a bigger one would be inflated again on
 * every partial read unless the reader enlarges the cache.
 *
 * 1-D arrays (columns, sparse data/indices/indptr) get 64K..256K elements per
 * chunk (1 MiB / itemsize within that range, never more than the array):
 * large enough that a row block of a CSR matrix, a hyperslab of
 * data/indices, touches few chunks, small enough for the cache.
 *
 * Dense 2-D (and higher) arrays get whole-row chunks of max(1, 1 MiB / row
 * bytes) rows: a row block then covers whole chunks and inflates each one
 * once, where h5py's square-ish auto-chunks (e.g. 44 x 96) make every row
 * block touch a whole row of chunks.
 *
 * Without compression, datasets are contiguous (as anndata writes them),
 * except the three sparse datasets, which are chunked and extendible
 * (maxshape unlimited, as anndata creates them) because we append one row
 * block at a time. Scalars and empty datasets are always contiguous: HDF5
 * cannot chunk them.
 */
#define CHUNK_BYTES  ((size_t)1 << 20)
#define CHUNK_MIN_1D ((hsize_t)64 << 10)
#define CHUNK_MAX_1D ((hsize_t)256 << 10)
/* Values (as doubles in an sc_block) per streamed row block: ~64 MiB. */
#define BLOCK_VALUES ((int64_t)8 << 20)
/* A vlen string is stored as a 16-byte global heap reference. */
#define VLEN_FILE_SIZE 16
/* Above this many bytes of `column-order` the attribute no longer fits an
 * object header (64 KiB) and needs dense attribute storage (spec §2.4). */
#define COLUMN_ORDER_DENSE_BYTES ((size_t)32 << 10)

typedef struct wctx {
    const char *path; /* the target, for messages */
    int level;        /* deflate level, 0 = none */
    int64_t block_rows;
    hid_t str_t, bool_t; /* vlen UTF-8 string and bool enum types */
    char ep[1024];       /* path of the element being written */
    size_t ep_len;
    void *conv; /* conversion buffer for matrix blocks */
    size_t conv_cap;
    struct sc_progress *progress; /* advanced by matrix rows written */
    int threads;                  /* chunk compression workers */
} wctx;

/* ------------------------------------------------------------------------ */
/* Messages and element paths                                               */

/* Append "/NAME" to the element path; returns the mark for ep_pop. The path
 * only serves messages, so an overlong one is cut, not an error. */
static size_t ep_push(wctx *w, const char *name)
{
    size_t mark = w->ep_len;
    int n = snprintf(w->ep + mark, sizeof w->ep - mark, "%s%s",
                     mark == 1 ? "" : "/", name);

    if (n > 0)
        w->ep_len = mark + (size_t)n < sizeof w->ep ? mark + (size_t)n
                                                    : sizeof w->ep - 1;
    return mark;
}

static void ep_pop(wctx *w, size_t mark)
{
    w->ep_len = mark;
    w->ep[mark] = '\0';
}

/* An HDF5 call failed doing WHAT: the message names file, element, action
 * and HDF5's innermost reason. */
static int h5err(wctx *w, const char *what)
{
    return sc_h5_fail(SC_EHDF5, "cannot write '%s': %s: %s", w->path, w->ep,
                      what);
}

/* A problem with the data itself (shape, type, ...). */
static int bad(wctx *w, int code, const char *fmt, ...) SC_PRINTF(3, 4);
static int bad(wctx *w, int code, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sc_fail(code, "cannot write '%s': %s: %s", w->path, w->ep, what);
}

/* Context in front of a message set by an sc_h5 helper. */
static int ctx(wctx *w, int rc)
{
    return rc < 0 ? sc_fail_ctx(rc, "cannot write '%s': %s", w->path, w->ep)
                  : rc;
}

static int set_encoding(wctx *w, hid_t obj, const char *type,
                        const char *version)
{
    int rc = sc_h5_write_attr_str(obj, "encoding-type", type);

    if (rc == 0)
        rc = sc_h5_write_attr_str(obj, "encoding-version", version);
    return ctx(w, rc);
}

/* ------------------------------------------------------------------------ */
/* Types and datasets                                                       */

static hid_t file_type(const wctx *w, sc_dtype t)
{
    return t == SC_DT_STR    ? w->str_t
           : t == SC_DT_BOOL ? w->bool_t
                             : sc_h5_file_type(t);
}

static hid_t mem_type(const wctx *w, sc_dtype t)
{
    return t == SC_DT_STR    ? w->str_t
           : t == SC_DT_BOOL ? w->bool_t
                             : sc_h5_mem_type(t);
}

static size_t file_itemsize(sc_dtype t)
{
    return t == SC_DT_STR ? VLEN_FILE_SIZE : sc_dtype_size(t);
}

/* Chunk shape for final dimensions DIMS (see the comment at the top). */
static void chunk_shape(int rank, const hsize_t *dims, size_t itemsize,
                        hsize_t *chunk)
{
    if (rank == 1) {
        hsize_t n = CHUNK_BYTES / itemsize;

        n = n < CHUNK_MIN_1D   ? CHUNK_MIN_1D
            : n > CHUNK_MAX_1D ? CHUNK_MAX_1D
                               : n;
        chunk[0] = n < dims[0] ? n : dims[0];
        return;
    }
    size_t row = itemsize;
    for (int i = 1; i < rank; i++) {
        chunk[i] = dims[i];
        row *= dims[i];
    }
    chunk[0] = row >= CHUNK_BYTES ? 1 : CHUNK_BYTES / row;
    if (chunk[0] > dims[0])
        chunk[0] = dims[0];
}

/* Create dataset NAME in LOC. FINAL gives the final dimensions; with
 * EXTENDIBLE (rank 1 only) the dataset starts empty with an unlimited
 * maximum and grows by append_1d(). */
static int create_ds(wctx *w, hid_t loc, const char *name, hid_t ftype,
                     size_t itemsize, int rank, const hsize_t *final,
                     int extendible, hid_t *out)
{
    hsize_t dims[SC_MAX_RANK], maxdims[SC_MAX_RANK], chunk[SC_MAX_RANK];
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID;
    hsize_t n = 1;
    int rc = 0;

    *out = H5I_INVALID_HID;
    for (int i = 0; i < rank; i++) {
        dims[i] = maxdims[i] = final[i];
        n *= final[i];
    }
    extendible = extendible && rank == 1 && n > 0;
    if (extendible) {
        dims[0] = 0;
        maxdims[0] = H5S_UNLIMITED;
    }
    space = rank == 0 ? H5Screate(H5S_SCALAR)
                      : H5Screate_simple(rank, dims, maxdims);
    if (space < 0 || (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0) {
        rc = h5err(w, "cannot set up a dataset");
        goto out;
    }
    if (extendible || (w->level > 0 && rank > 0 && n > 0)) {
        chunk_shape(rank, final, itemsize, chunk);
        if (H5Pset_chunk(dcpl, rank, chunk) < 0 ||
            (w->level > 0 && H5Pset_deflate(dcpl, (unsigned)w->level) < 0)) {
            rc = h5err(w, "cannot set chunking or compression");
            goto out;
        }
    }
    *out = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (*out < 0)
        rc = h5err(w, "cannot create dataset");
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

/* Write N values at [*LEN, *LEN + N) of a 1-D dataset, growing it first
 * when EXTEND. *LEN is advanced. */
static int write_1d_at(wctx *w, hid_t ds, hsize_t *len, hsize_t n, int extend,
                       hid_t mtype, const void *buf)
{
    hid_t fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    hsize_t end = *len + n;
    int rc = 0;

    if (n == 0)
        return 0;
    if ((extend && H5Dset_extent(ds, &end) < 0) ||
        (fs = H5Dget_space(ds)) < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, len, NULL, &n, NULL) < 0 ||
        (ms = H5Screate_simple(1, &n, NULL)) < 0 ||
        H5Dwrite(ds, mtype, ms, fs, H5P_DEFAULT, buf) < 0)
        rc = h5err(w, "cannot write values");
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    *len = end;
    return rc;
}

static int close_ds(wctx *w, hid_t ds, int rc)
{
    if (ds >= 0 && H5Dclose(ds) < 0 && rc == 0)
        rc = h5err(w, "cannot close dataset");
    return rc;
}

static int close_group(wctx *w, hid_t g, int rc)
{
    if (g >= 0 && H5Gclose(g) < 0 && rc == 0)
        rc = h5err(w, "cannot close group");
    return rc;
}

/* Whether S is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF): h5py decodes every string as UTF-8, and anndata cannot
 * read a file where that fails. */
static int utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;

    while (*p) {
        unsigned c = *p++;
        int more = c < 0x80                ? 0
                   : c >= 0xC2 && c < 0xE0 ? 1
                   : c >= 0xE0 && c < 0xF0 ? 2
                   : c >= 0xF0 && c < 0xF5 ? 3
                                           : -1;
        unsigned lo = 0x80, hi = 0xBF;

        if (more < 0)
            return 0;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
        else if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
        for (int k = 0; k < more; k++, p++) {
            if (*p < (k ? 0x80 : lo) || *p > (k ? 0xBF : hi))
                return 0;
        }
    }
    return 1;
}

/* Write a whole in-memory array (any rank, rank 0 = scalar) as dataset NAME
 * with the matching encoding. Strings may be NULL (written as ""). */
static int write_data(wctx *w, hid_t loc, const char *name, sc_dtype dt,
                      int rank, const int64_t *shape, const void *data)
{
    size_t mark = ep_push(w, name);
    hsize_t dims[SC_MAX_RANK], n = 1;
    const char **strs = NULL;
    hid_t ds = H5I_INVALID_HID;
    int rc;

    if (dt == SC_DT_NONE || file_type(w, dt) < 0) {
        rc = bad(w, SC_EINVAL, "unsupported data type %s", sc_dtype_name(dt));
        goto out;
    }
    for (int i = 0; i < rank; i++)
        n *= dims[i] = (hsize_t)shape[i];
    if (dt == SC_DT_STR && n > 0) {
        /* h5py cannot take NULL pointers: missing strings become "". */
        if (!(strs = malloc(n * sizeof *strs))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        for (hsize_t i = 0; i < n; i++) {
            const char *s = ((char *const *)data)[i];
            strs[i] = s ? s : "";
            if (!utf8_valid(strs[i])) {
                rc = bad(w, SC_EFORMAT,
                         "string %llu is not valid UTF-8 (anndata cannot "
                         "read it)",
                         (unsigned long long)i);
                goto out;
            }
        }
        data = strs;
    }
    if ((rc = create_ds(w, loc, name, file_type(w, dt), file_itemsize(dt), rank,
                        dims, 0, &ds)) < 0)
        goto out;
    if (n > 0 &&
        H5Dwrite(ds, mem_type(w, dt), H5S_ALL, H5S_ALL, H5P_DEFAULT, data) < 0)
        rc = h5err(w, "cannot write values");
    if (rc == 0)
        rc = set_encoding(w, ds,
                          dt == SC_DT_STR ? (rank ? "string-array" : "string")
                          : rank          ? "array"
                                          : "numeric-scalar",
                          "0.2.0");
out:
    free(strs);
    rc = close_ds(w, ds, rc);
    ep_pop(w, mark);
    return rc;
}

static int create_group(wctx *w, hid_t loc, const char *name, const char *enc,
                        const char *version, int dense_attrs, hid_t *out)
{
    hid_t gcpl = H5Pcreate(H5P_GROUP_CREATE);
    int rc = 0;

    *out = H5I_INVALID_HID;
    if (gcpl < 0 || H5Pset_obj_track_times(gcpl, 0) < 0 ||
        (dense_attrs &&
         H5Pset_attr_creation_order(gcpl, H5P_CRT_ORDER_TRACKED |
                                              H5P_CRT_ORDER_INDEXED) < 0) ||
        (*out = H5Gcreate2(loc, name, H5P_DEFAULT, gcpl, H5P_DEFAULT)) < 0)
        rc = h5err(w, "cannot create group");
    if (gcpl >= 0)
        H5Pclose(gcpl);
    if (rc == 0 && enc)
        rc = set_encoding(w, *out, enc, version);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Elements                                                                 */

static int write_elem(wctx *w, hid_t loc, const sc_elem *e, const char *name);

/* HDF5 link names: no '/', not empty, not "." (anndata >= 0.13 refuses
 * '/', older versions made nested groups of it). */
static int check_key(wctx *w, const char *name)
{
    if (!name || !name[0] || !strcmp(name, ".") || strchr(name, '/'))
        return bad(w, SC_EINVAL, "invalid key '%s'", name ? name : "(null)");
    if (!utf8_valid(name))
        return bad(w, SC_EFORMAT, "a key is not valid UTF-8");
    return 0;
}

static int write_dict(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    size_t mark = ep_push(w, name);
    hid_t g;
    int rc = create_group(w, loc, name, "dict", "0.1.0", 0, &g);

    for (size_t i = 0; e && rc == 0 && i < e->n_child; i++)
        rc = write_elem(w, g, e->child[i], e->child[i]->name);
    rc = close_group(w, g, rc);
    ep_pop(w, mark);
    return rc;
}

static int write_array(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    return write_data(w, loc, name, e->dtype, e->rank, e->shape, e->data);
}

/* pandas' code width: int8 below 127 categories, int16 below 32767. */
static sc_dtype codes_dtype(int64_t n_cat)
{
    return n_cat < INT8_MAX    ? SC_DT_I8
           : n_cat < INT16_MAX ? SC_DT_I16
                               : SC_DT_I32;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Categories anndata can read back: pandas refuses duplicate and missing
 * (NaN) categories. SC_EFORMAT naming the first one. */
static int check_categories(wctx *w, const sc_elem *cat)
{
    int64_t n = sc_elem_count(cat);
    int rc = 0;

    if (cat->dtype == SC_DT_STR) {
        sc_strmap seen = {0};
        for (int64_t i = 0; i < n && rc == 0; i++) {
            const char *s = sc_elem_str(cat, i);
            int64_t *slot;
            int added;
            if ((rc = sc_strmap_slot(&seen, s ? s : "", i, &slot, &added)) ==
                    0 &&
                !added)
                rc = bad(w, SC_EFORMAT,
                         "category '%s' appears twice (anndata cannot read "
                         "duplicate categories)",
                         s ? s : "");
        }
        sc_strmap_release(&seen);
        return rc;
    }
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n && rc == 0; i++)
        if (isnan(v[i] = sc_elem_num(cat, i)))
            rc = bad(w, SC_EFORMAT,
                     "category %lld is NaN (anndata cannot read missing "
                     "categories)",
                     (long long)i);
    if (rc == 0) {
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        for (int64_t i = 1; i < n && rc == 0; i++)
            if (v[i] == v[i - 1])
                rc = bad(w, SC_EFORMAT,
                         "category %g appears twice (anndata cannot read "
                         "duplicate categories)",
                         v[i]);
    }
    free(v);
    return rc;
}

static int write_categorical(wctx *w, hid_t loc, const sc_elem *e,
                             const char *name)
{
    size_t mark = ep_push(w, name);
    const sc_elem *cat = e->categories;
    int64_t n = sc_elem_count(e->codes), n_cat = sc_elem_count(cat);
    sc_dtype cdt = codes_dtype(n_cat);
    size_t isz = sc_dtype_size(cdt);
    unsigned char *codes = NULL;
    hid_t g = H5I_INVALID_HID;
    int rc = 0;

    if (!e->codes || e->codes->kind != SC_K_ARRAY || e->codes->rank != 1 ||
        !sc_dtype_is_int(e->codes->dtype) ||
        (cat && (cat->kind != SC_K_ARRAY || cat->rank != 1)) ||
        n_cat > INT32_MAX) {
        rc = bad(w, SC_EINVAL, "malformed categorical");
        goto out;
    }
    if (cat && (rc = check_categories(w, cat)) < 0)
        goto out;
    if (!(codes = malloc(n ? (size_t)n * isz : 1))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        double c = sc_elem_num(e->codes, i);
        int32_t v = (int32_t)c;

        if (c != -1 && !(c >= 0 && c < (double)n_cat)) {
            rc = bad(w, SC_EFORMAT, "code %g at %lld outside [-1, %lld)", c,
                     (long long)i, (long long)n_cat);
            goto out;
        }
        if (cdt == SC_DT_I8)
            ((int8_t *)codes)[i] = (int8_t)v;
        else if (cdt == SC_DT_I16)
            ((int16_t *)codes)[i] = (int16_t)v;
        else
            ((int32_t *)codes)[i] = v;
    }
    if ((rc = create_group(w, loc, name, "categorical", "0.2.0", 0, &g)) < 0 ||
        (rc = ctx(w, sc_h5_write_attr_bool(g, "ordered", e->ordered))) < 0 ||
        (rc = write_data(w, g, "codes", cdt, 1, &n, codes)) < 0)
        goto out;
    if (cat)
        rc = write_data(w, g, "categories", cat->dtype, 1, cat->shape,
                        cat->data);
    else
        rc = write_data(w, g, "categories", SC_DT_STR, 1, &n_cat, NULL);
out:
    free(codes);
    rc = close_group(w, g, rc);
    ep_pop(w, mark);
    return rc;
}

/* anndata 0.8 has no nullable strings: write them as a categorical with
 * sorted categories (what pandas makes of them) and -1 for missing. */
static int write_nullable_strings(wctx *w, hid_t loc, const sc_elem *e,
                                  const char *name)
{
    int64_t n = sc_elem_count(e);
    const char **s = malloc((n ? (size_t)n : 1) * sizeof *s);
    sc_elem *cat = NULL;
    int rc;

    if (!s)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        s[i] = sc_elem_str(e, i);
    cat = sc_elem_new_categorical_from_strings(name, s, n, 1);
    free(s);
    if (!cat)
        return sc_fail_ctx(SC_ENOMEM, "cannot write '%s': %s/%s", w->path,
                           w->ep, name);
    rc = write_categorical(w, loc, cat, name);
    sc_elem_free(cat);
    return rc;
}

static int write_nullable(wctx *w, hid_t loc, const sc_elem *e,
                          const char *name)
{
    const sc_elem *v = e->values;
    int64_t n = sc_elem_count(v);
    uint8_t *mask = NULL;
    hid_t g = H5I_INVALID_HID;
    size_t mark;
    int rc = 0;

    if (v && v->dtype == SC_DT_STR)
        return write_nullable_strings(w, loc, e, name);
    mark = ep_push(w, name);
    if (!v || v->kind != SC_K_ARRAY || v->rank != 1 ||
        !(sc_dtype_is_int(v->dtype) || v->dtype == SC_DT_BOOL ||
          sc_dtype_is_float(v->dtype))) {
        rc = bad(w, SC_EINVAL, "malformed nullable array");
        ep_pop(w, mark);
        return rc;
    }
    if (sc_dtype_is_float(v->dtype)) {
        /* No nullable float in anndata 0.8: missing values become NaN. */
        sc_elem *f = sc_elem_copy(v);

        ep_pop(w, mark);
        if (!f)
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; e->mask && i < n; i++)
            if (e->mask[i]) {
                if (f->dtype == SC_DT_F32)
                    ((float *)f->data)[i] = NAN;
                else
                    ((double *)f->data)[i] = NAN;
            }
        rc = write_array(w, loc, f, name);
        sc_elem_free(f);
        return rc;
    }
    if (!e->mask && !(mask = calloc(n ? (size_t)n : 1, 1))) {
        ep_pop(w, mark);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    rc = create_group(w, loc, name,
                      v->dtype == SC_DT_BOOL ? "nullable-boolean"
                                             : "nullable-integer",
                      "0.1.0", 0, &g);
    if (rc == 0)
        rc = write_data(w, g, "values", v->dtype, 1, &n, v->data);
    if (rc == 0)
        rc = write_data(w, g, "mask", SC_DT_BOOL, 1, &n,
                        e->mask ? e->mask : mask);
    free(mask);
    rc = close_group(w, g, rc);
    ep_pop(w, mark);
    return rc;
}

/* A compound dataset, one field per child array (numbers, bools or vlen
 * strings), as scanpy's rank_genes_groups results are stored. */
static int write_recarray(wctx *w, hid_t loc, const sc_elem *e,
                          const char *name)
{
    size_t mark = ep_push(w, name), msize = 0, fsize = 0;
    size_t *off = calloc(e->n_child ? e->n_child : 1, sizeof *off);
    int64_t n = e->n_child ? sc_elem_count(e->child[0]) : 0;
    hid_t mt = H5I_INVALID_HID, ft = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    unsigned char *buf = NULL;
    hsize_t dim;
    int rc = 0;

    if (!off) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t f = 0; f < e->n_child; f++) {
        const sc_elem *c = e->child[f];
        size_t sz = sc_dtype_size(c->dtype);

        if (c->kind != SC_K_ARRAY || c->rank != 1 || c->shape[0] != n ||
            sz == 0 || !c->name) {
            rc = bad(w, SC_EINVAL,
                     "record field %zu is not a 1-D array of "
                     "%lld values",
                     f, (long long)n);
            goto out;
        }
        off[f] = (msize + sz - 1) / sz * sz; /* natural alignment */
        msize = off[f] + sz;
        fsize += H5Tget_size(file_type(w, c->dtype));
    }
    msize = (msize + 7) / 8 * 8;
    if (!e->n_child) {
        rc = bad(w, SC_EINVAL, "record array without fields");
        goto out;
    }
    if (!(buf = calloc(n ? (size_t)n : 1, msize))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if ((mt = H5Tcreate(H5T_COMPOUND, msize)) < 0 ||
        (ft = H5Tcreate(H5T_COMPOUND, fsize)) < 0) {
        rc = h5err(w, "cannot create compound type");
        goto out;
    }
    fsize = 0;
    for (size_t f = 0; f < e->n_child; f++) {
        const sc_elem *c = e->child[f];
        size_t sz = sc_dtype_size(c->dtype);
        hid_t ftf = file_type(w, c->dtype);

        if (H5Tinsert(mt, c->name, off[f], mem_type(w, c->dtype)) < 0 ||
            H5Tinsert(ft, c->name, fsize, ftf) < 0) {
            rc = h5err(w, "cannot build compound type");
            goto out;
        }
        fsize += H5Tget_size(ftf);
        for (int64_t i = 0; i < n; i++) {
            const unsigned char *src = (const unsigned char *)c->data + i * sz;

            if (c->dtype == SC_DT_STR && !*(char *const *)src)
                src = (const unsigned char *)&(const char *){""};
            memcpy(buf + (size_t)i * msize + off[f], src, sz);
        }
    }
    dim = (hsize_t)n;
    if ((rc = create_ds(w, loc, name, ft, fsize, 1, &dim, 0, &ds)) < 0)
        goto out;
    if (n > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = h5err(w, "cannot write records");
    if (rc == 0)
        rc = set_encoding(w, ds, "rec-array", "0.2.0");
out:
    rc = close_ds(w, ds, rc);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    free(buf);
    free(off);
    ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Dataframes                                                               */

/* Number of rows of a column, or -1 when the kind has no row count. */
static int64_t elem_rows(const sc_elem *e)
{
    switch (e->kind) {
    case SC_K_ARRAY: return e->rank ? e->shape[0] : -1;
    case SC_K_CATEGORICAL:
    case SC_K_NULLABLE: return sc_elem_count(e);
    case SC_K_DATAFRAME: return e->n_rows;
    case SC_K_RECARRAY: return e->n_child ? elem_rows(e->child[0]) : -1;
    case SC_K_MATRIX: {
        sc_mat_info in;

        if (!e->mat)
            return -1;
        sc_mat_get_info(e->mat, &in);
        return in.n_rows;
    }
    default: return -1;
    }
}

/* The row labels as strings: string (or categorical/nullable string)
 * indices as they are, numeric ones formatted as anndata does. *KEEP holds
 * the formatted strings to free. */
static int index_labels(const sc_elem *ix, int64_t n, const char ***out,
                        char **keep)
{
    const char **s = malloc((n ? (size_t)n : 1) * sizeof *s);
    char *buf = NULL;

    *out = NULL;
    *keep = NULL;
    if (!s)
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!ix || (ix->kind == SC_K_ARRAY && ix->dtype != SC_DT_STR)) {
        /* At most 24 bytes per number ("-9223372036854775808" + NUL). */
        if (!(buf = malloc((n ? (size_t)n : 1) * 24))) {
            free(s);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        for (int64_t i = 0; i < n; i++) {
            double v = ix ? sc_elem_num(ix, i) : (double)i;

            s[i] = buf + i * 24;
            if (ix && sc_dtype_is_float(ix->dtype))
                snprintf(buf + i * 24, 24, "%.17g", v);
            else
                snprintf(buf + i * 24, 24, "%lld", (long long)v);
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            s[i] = sc_elem_str(ix, i);
    }
    *out = s;
    *keep = buf;
    return 0;
}

/* A column may share the index's name only when it holds the same labels
 * (anndata's rule); it is then represented by the index dataset itself. */
static int same_as_index(const sc_elem *col, const char *const *labels,
                         int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const char *s = sc_elem_str(col, i);

        if (!s || strcmp(s, labels[i] ? labels[i] : ""))
            return 0;
    }
    return 1;
}

static int write_dataframe(wctx *w, hid_t loc, const sc_elem *df,
                           const char *name)
{
    const char *ixname = df->index_name ? df->index_name : "_index";
    const char **order = calloc(df->n_child ? df->n_child : 1, sizeof *order);
    const char **labels = NULL;
    char *keep = NULL;
    size_t n_cols = 0, mark = ep_push(w, name);
    int64_t n = df->n_rows;
    hid_t g = H5I_INVALID_HID;
    int rc = 0;

    if (!order) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if (df->index && sc_elem_count(df->index) != n) {
        rc = bad(w, SC_EINVAL, "index has %lld labels for %lld rows",
                 (long long)sc_elem_count(df->index), (long long)n);
        goto out;
    }
    if ((rc = check_key(w, ixname)) < 0 ||
        (rc = index_labels(df->index, n, &labels, &keep)) < 0)
        goto out;
    for (size_t i = 0; i < df->n_child; i++) {
        const sc_elem *c = df->child[i];
        int64_t rows;

        if (c->kind == SC_K_NULL)
            continue;
        rows = elem_rows(c);
        if (c->kind == SC_K_ARRAY && c->rank > 1) {
            rc = bad(w, SC_EFORMAT,
                     "column '%s' is %d-D (anndata reads only 1-D dataframe "
                     "columns)",
                     c->name ? c->name : "", c->rank);
            goto out;
        }
        if (rows != n) {
            rc = bad(w, SC_EINVAL, "column '%s' has %lld rows, expected %lld",
                     c->name ? c->name : "", (long long)rows, (long long)n);
            goto out;
        }
        if (c->name && !strcmp(c->name, ixname) &&
            !same_as_index(c, labels, n)) {
            rc = bad(w, SC_EINVAL,
                     "column '%s' has the index's name but "
                     "other values",
                     ixname);
            goto out;
        }
        order[n_cols++] = c->name;
    }
    rc = create_group(w, loc, name, "dataframe", "0.2.0",
                      n_cols * VLEN_FILE_SIZE > COLUMN_ORDER_DENSE_BYTES, &g);
    if (rc < 0 ||
        (rc = ctx(w, sc_h5_write_attr_str(g, "_index", ixname))) < 0 ||
        (rc = ctx(w, sc_h5_write_attr_strs(g, "column-order", order,
                                           (int64_t)n_cols))) < 0 ||
        (rc = write_data(w, g, ixname, SC_DT_STR, 1, &n, labels)) < 0)
        goto out;
    for (size_t i = 0; rc == 0 && i < df->n_child; i++) {
        const sc_elem *c = df->child[i];

        if (c->kind != SC_K_NULL && c->name && !strcmp(c->name, ixname))
            continue; /* identical to the index, already written */
        rc = write_elem(w, g, c, c->name);
    }
out:
    free(order);
    free(labels);
    free(keep);
    rc = close_group(w, g, rc);
    ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Matrices                                                                 */

/* Convert N doubles of a block to DT into W's conversion buffer. */
static int convert_block(wctx *w, const double *v, size_t n, sc_dtype dt,
                         const void **out)
{
    size_t need = (n ? n : 1) * sc_dtype_size(dt);

    if (dt == SC_DT_F64) {
        *out = v;
        return 0;
    }
    if (need > w->conv_cap) {
        void *p = realloc(w->conv, need);

        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        w->conv = p;
        w->conv_cap = need;
    }
    for (size_t i = 0; i < n; i++) {
        switch (dt) {
        case SC_DT_BOOL: ((uint8_t *)w->conv)[i] = v[i] != 0; break;
        case SC_DT_I8: ((int8_t *)w->conv)[i] = (int8_t)v[i]; break;
        case SC_DT_I16: ((int16_t *)w->conv)[i] = (int16_t)v[i]; break;
        case SC_DT_I32: ((int32_t *)w->conv)[i] = (int32_t)v[i]; break;
        case SC_DT_I64: ((int64_t *)w->conv)[i] = (int64_t)v[i]; break;
        case SC_DT_U8: ((uint8_t *)w->conv)[i] = (uint8_t)v[i]; break;
        case SC_DT_U16: ((uint16_t *)w->conv)[i] = (uint16_t)v[i]; break;
        case SC_DT_U32: ((uint32_t *)w->conv)[i] = (uint32_t)v[i]; break;
        case SC_DT_U64: ((uint64_t *)w->conv)[i] = (uint64_t)v[i]; break;
        case SC_DT_F32: ((float *)w->conv)[i] = (float)v[i]; break;
        default: break;
        }
    }
    *out = w->conv;
    return 0;
}

/* Rows per streamed block: opts->block_rows, or ~64 MiB of values. */
static int64_t block_rows(const wctx *w, const sc_mat_info *in)
{
    int64_t rows;

    if (w->block_rows > 0)
        return w->block_rows;
    if (in->fmt == SC_MAT_CSR || in->fmt == SC_MAT_CSC)
        rows = in->nnz > 0 ? (int64_t)((double)BLOCK_VALUES *
                                       (double)in->n_rows / (double)in->nnz)
                           : in->n_rows;
    else
        rows = in->n_cols > 0 ? BLOCK_VALUES / in->n_cols : in->n_rows;
    return rows < 1 ? 1 : rows;
}

static int write_dense_matrix(wctx *w, hid_t loc, const char *name, sc_mat *m,
                              const sc_mat_info *in)
{
    hsize_t dims[2] = {(hsize_t)in->n_rows, (hsize_t)in->n_cols};
    int64_t step = block_rows(w, in);
    sc_block b = SC_BLOCK_INIT;
    hid_t ds = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    int rc;

    if ((rc = create_ds(w, loc, name, file_type(w, in->dtype),
                        file_itemsize(in->dtype), 2, dims, 0, &ds)) < 0)
        goto out;
    if ((fs = H5Dget_space(ds)) < 0) {
        rc = h5err(w, "cannot get dataspace");
        goto out;
    }
    for (int64_t r = 0; in->n_cols > 0 && r < in->n_rows; r += step) {
        int64_t e = r + step < in->n_rows ? r + step : in->n_rows;
        hsize_t start[2] = {(hsize_t)r, 0},
                count[2] = {(hsize_t)(e - r), dims[1]};
        const void *buf;

        if ((rc = sc_mat_read_rows(m, r, e, &b)) < 0) {
            rc = ctx(w, rc);
            goto out;
        }
        sc_progress_add(w->progress, (uint64_t)(e - r));
        if ((rc = convert_block(w, b.vals, (size_t)(count[0] * count[1]),
                                in->dtype, &buf)) < 0)
            goto out;
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) <
                0 ||
            (ms = H5Screate_simple(2, count, NULL)) < 0 ||
            H5Dwrite(ds, mem_type(w, in->dtype), ms, fs, H5P_DEFAULT, buf) <
                0) {
            rc = h5err(w, "cannot write a row block");
            goto out;
        }
        H5Sclose(ms);
        ms = H5I_INVALID_HID;
    }
    rc = set_encoding(w, ds, "array", "0.2.0");
out:
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    sc_block_release(&b);
    return close_ds(w, ds, rc);
}

/* The three datasets of a CSR group being appended to. */
typedef struct csr_out {
    hid_t data, indices, indptr;
    hsize_t n_data, n_indices, n_indptr;
    sc_dtype ptr_dt;
    int64_t nnz; /* written so far */
    void *ptr;   /* indptr conversion buffer */
    size_t ptr_cap;
} csr_out;

/* Append the indptr of block B (its first entry only for the first block)
 * shifted by the entries written before it. */
static int append_indptr(wctx *w, csr_out *o, const sc_block *b)
{
    int64_t first = o->n_indptr == 0 ? 0 : 1, k = b->n_rows + 1 - first;
    size_t need = (size_t)k * sc_dtype_size(o->ptr_dt);

    if (o->nnz + b->indptr[b->n_rows] >
        (o->ptr_dt == SC_DT_I32 ? INT32_MAX : INT64_MAX))
        return bad(w, SC_EFORMAT, "more stored values than announced (%lld)",
                   (long long)o->nnz);
    if (need > o->ptr_cap) {
        void *p = realloc(o->ptr, need);

        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        o->ptr = p;
        o->ptr_cap = need;
    }
    for (int64_t i = 0; i < k; i++) {
        int64_t v = o->nnz + b->indptr[first + i];

        if (o->ptr_dt == SC_DT_I32)
            ((int32_t *)o->ptr)[i] = (int32_t)v;
        else
            ((int64_t *)o->ptr)[i] = v;
    }
    return write_1d_at(w, o->indptr, &o->n_indptr, (hsize_t)k, 1,
                       mem_type(w, o->ptr_dt), o->ptr);
}

static int write_sparse_matrix(wctx *w, hid_t loc, const char *name, sc_mat *m,
                               const sc_mat_info *in)
{
    csr_out o = {H5I_INVALID_HID,
                 H5I_INVALID_HID,
                 H5I_INVALID_HID,
                 0,
                 0,
                 0,
                 in->nnz <= INT32_MAX ? SC_DT_I32 : SC_DT_I64,
                 0,
                 NULL,
                 0};
    hsize_t nnz = (hsize_t)in->nnz, nptr = (hsize_t)in->n_rows + 1;
    int64_t shape[2] = {in->n_rows, in->n_cols}, step = block_rows(w, in);
    sc_block b = SC_BLOCK_INIT;
    sc_h5chunk *cd = NULL, *ci = NULL;
    hid_t g;
    int rc;

    if ((rc = create_group(w, loc, name, "csr_matrix", "0.1.0", 0, &g)) < 0 ||
        (rc = ctx(w, sc_h5_write_attr_i64(g, "shape", shape, 2))) < 0 ||
        (rc = create_ds(w, g, "data", file_type(w, in->dtype),
                        file_itemsize(in->dtype), 1, &nnz, 1, &o.data)) < 0 ||
        (rc = create_ds(w, g, "indices", H5T_STD_I32LE, 4, 1, &nnz, 1,
                        &o.indices)) < 0 ||
        (rc = create_ds(w, g, "indptr", file_type(w, o.ptr_dt),
                        sc_dtype_size(o.ptr_dt), 1, &nptr, 1, &o.indptr)) < 0)
        goto out;
    /* gzip: compress whole chunks with libdeflate, in parallel; datasets
     * that do not qualify are written through libhdf5 as before */
    if (w->level > 0 && nnz > 0 && in->dtype != SC_DT_BOOL &&
        (sc_h5chunk_open(o.data, sc_dtype_size(in->dtype), w->level, w->threads,
                         &cd) < 0 ||
         sc_h5chunk_open(o.indices, 4, w->level, w->threads, &ci) < 0)) {
        (void)sc_h5chunk_close(cd, -1);
        (void)sc_h5chunk_close(ci, -1);
        cd = ci = NULL;
        sc_err_clear();
    }
    for (int64_t r = 0; r < in->n_rows; r += step) {
        int64_t e = r + step < in->n_rows ? r + step : in->n_rows, k;
        const void *buf;

        if ((rc = sc_mat_read_rows(m, r, e, &b)) < 0) {
            rc = ctx(w, rc);
            goto out;
        }
        sc_progress_add(w->progress, (uint64_t)(e - r));
        k = b.indptr[b.n_rows];
        if ((rc = append_indptr(w, &o, &b)) < 0 ||
            (rc = convert_block(w, b.vals, (size_t)k, in->dtype, &buf)) < 0)
            goto out;
        if (cd) {
            if ((rc = sc_h5chunk_append(cd, buf, (size_t)k)) < 0 ||
                (rc = sc_h5chunk_append(ci, b.indices, (size_t)k)) < 0) {
                rc = ctx(w, rc);
                goto out;
            }
        } else if ((rc = write_1d_at(w, o.data, &o.n_data, (hsize_t)k, 1,
                                     mem_type(w, in->dtype), buf)) < 0 ||
                   (rc = write_1d_at(w, o.indices, &o.n_indices, (hsize_t)k, 1,
                                     H5T_NATIVE_INT32, b.indices)) < 0) {
            goto out;
        }
        o.nnz += k;
    }
    if (in->n_rows == 0) {
        int64_t zero = 0;

        rc = write_1d_at(w, o.indptr, &o.n_indptr, 1, 1, H5T_NATIVE_INT64,
                         &zero);
    }
    if (rc == 0 && o.nnz != in->nnz)
        rc = bad(w, SC_EFORMAT, "%lld stored values, %lld announced",
                 (long long)o.nnz, (long long)in->nnz);
out:
    if (cd || ci) {
        int c1 = sc_h5chunk_close(cd, rc), c2 = sc_h5chunk_close(ci, rc);

        if (rc == 0 && (c1 < 0 || c2 < 0))
            rc = ctx(w, c1 < 0 ? c1 : c2);
    }
    rc = close_ds(w, o.data, rc);
    rc = close_ds(w, o.indices, rc);
    rc = close_ds(w, o.indptr, rc);
    free(o.ptr);
    sc_block_release(&b);
    return close_group(w, g, rc);
}

static int write_matrix(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    sc_mat_info in;
    size_t mark;
    int rc = 0;

    if (e->mat)
        sc_mat_get_info(e->mat, &in);
    mark = ep_push(w, name);
    if (!e->mat)
        rc = bad(w, SC_EINVAL, "matrix without data");
    else if (in.dtype == SC_DT_NONE || in.dtype == SC_DT_STR)
        rc = bad(w, SC_EUNSUP, "matrix of %s values", sc_dtype_name(in.dtype));
    else if (in.n_cols > INT32_MAX)
        rc = bad(w, SC_EUNSUP, "%lld columns (at most 2^31-1)",
                 (long long)in.n_cols);
    else if (in.fmt == SC_MAT_CSR || in.fmt == SC_MAT_CSC)
        rc = write_sparse_matrix(w, loc, name, e->mat, &in);
    else
        rc = write_dense_matrix(w, loc, name, e->mat, &in);
    ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */

static int write_elem(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    int rc;

    if (e->kind == SC_K_NULL) {
        size_t mark = ep_push(w, name ? name : "");

        sc_log_debug("'%s': not writing None element %s (anndata 0.8 has no "
                     "null encoding)",
                     w->path, w->ep);
        ep_pop(w, mark);
        return 0;
    }
    if ((rc = check_key(w, name)) < 0)
        return rc;
    switch (e->kind) {
    case SC_K_DICT: return write_dict(w, loc, e, name);
    case SC_K_DATAFRAME: return write_dataframe(w, loc, e, name);
    case SC_K_ARRAY: return write_array(w, loc, e, name);
    case SC_K_CATEGORICAL: return write_categorical(w, loc, e, name);
    case SC_K_NULLABLE: return write_nullable(w, loc, e, name);
    case SC_K_MATRIX: return write_matrix(w, loc, e, name);
    case SC_K_RECARRAY: return write_recarray(w, loc, e, name);
    case SC_K_NULL: break;
    }
    return bad(w, SC_EINVAL, "element '%s' of unknown kind %d", name,
               (int)e->kind);
}

/* ------------------------------------------------------------------------ */
/* Shape checks: anndata refuses files whose parts disagree in size.        */

/* Rows and columns of E (-1 when it has none), and whether it is 2-D. */
static int elem_dims(const sc_elem *e, int64_t *rows, int64_t *cols)
{
    *rows = elem_rows(e);
    *cols = -1;
    if (e->kind == SC_K_ARRAY && e->rank >= 2)
        *cols = e->shape[1];
    else if (e->kind == SC_K_MATRIX && e->mat) {
        sc_mat_info in;

        sc_mat_get_info(e->mat, &in);
        *cols = in.n_cols;
    }
    return e->kind == SC_K_MATRIX || (e->kind == SC_K_ARRAY && e->rank == 2);
}

/* Check E is ROWS x COLS (COLS < 0: only the rows; with MATRIX it must be
 * 2-D). */
static int check_dims(wctx *w, const sc_elem *e, const char *name, int64_t rows,
                      int64_t cols, int matrix)
{
    int64_t r, c;
    size_t mark;
    int rc, is2d;

    if (!e || e->kind == SC_K_NULL)
        return 0;
    is2d = elem_dims(e, &r, &c);
    if (r == rows && (cols < 0 || c == cols) && (!matrix || is2d))
        return 0;
    mark = ep_push(w, name ? name : "");
    if (matrix && !is2d)
        rc = bad(w, SC_EINVAL, "not a 2-D matrix");
    else if (cols < 0)
        rc = bad(w, SC_EINVAL, "%lld rows, expected %lld", (long long)r,
                 (long long)rows);
    else
        rc = bad(w, SC_EINVAL, "shape %lld x %lld, expected %lld x %lld",
                 (long long)r, (long long)c, (long long)rows, (long long)cols);
    ep_pop(w, mark);
    return rc;
}

/* Check dict D (called NAME), and that each child is ROWS x COLS unless
 * ROWS < 0. */
static int check_dict(wctx *w, const sc_elem *d, const char *name, int64_t rows,
                      int64_t cols, int matrix)
{
    size_t mark = ep_push(w, name);
    int rc = 0;

    if (d && d->kind != SC_K_DICT)
        rc = bad(w, SC_EINVAL, "not a dict");
    for (size_t i = 0; d && rows >= 0 && rc == 0 && i < d->n_child; i++)
        rc = check_dims(w, d->child[i], d->child[i]->name, rows, cols, matrix);
    ep_pop(w, mark);
    return rc;
}

static int check_shapes(wctx *w, const sc_adata *ad)
{
    int64_t no = ad->n_obs, nv = ad->n_vars;
    const sc_elem *rx, *rv;
    size_t mark;
    int rc;

    if (!ad->obs || ad->obs->kind != SC_K_DATAFRAME || !ad->var ||
        ad->var->kind != SC_K_DATAFRAME)
        return bad(w, SC_EINVAL, "obs and var must be dataframes");
    if ((rc = check_dims(w, ad->obs, "obs", no, -1, 0)) < 0 ||
        (rc = check_dims(w, ad->var, "var", nv, -1, 0)) < 0 ||
        (rc = check_dims(w, ad->X, "X", no, nv, 1)) < 0 ||
        (rc = check_dict(w, ad->layers, "layers", no, nv, 1)) < 0 ||
        (rc = check_dict(w, ad->obsm, "obsm", no, -1, 0)) < 0 ||
        (rc = check_dict(w, ad->varm, "varm", nv, -1, 0)) < 0 ||
        (rc = check_dict(w, ad->obsp, "obsp", no, no, 1)) < 0 ||
        (rc = check_dict(w, ad->varp, "varp", nv, nv, 1)) < 0 ||
        (rc = check_dict(w, ad->uns, "uns", -1, -1, 0)) < 0 || !ad->raw)
        return rc;
    mark = ep_push(w, "raw");
    rx = sc_elem_get(ad->raw, "X");
    rv = sc_elem_get(ad->raw, "var");
    if (ad->raw->kind != SC_K_DICT || !rx || !rv || rv->kind != SC_K_DATAFRAME)
        rc = bad(w, SC_EINVAL, "raw needs X and a var dataframe");
    else if ((rc = check_dims(w, rx, "X", no, rv->n_rows, 1)) == 0)
        rc = check_dict(w, sc_elem_get(ad->raw, "varm"), "varm", rv->n_rows, -1,
                        0);
    ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The file                                                                 */

/* A dict slot of the dataset, written empty when the model has none. */
static int write_slot(wctx *w, hid_t root, const sc_elem *e, const char *name)
{
    return e ? write_elem(w, root, e, name) : write_dict(w, root, NULL, name);
}

static int write_raw(wctx *w, hid_t root, const sc_elem *raw)
{
    size_t mark = ep_push(w, "raw");
    hid_t g;
    int rc = create_group(w, root, "raw", "raw", "0.1.0", 0, &g);

    if (rc == 0)
        rc = write_elem(w, g, sc_elem_get(raw, "X"), "X");
    if (rc == 0)
        rc = write_elem(w, g, sc_elem_get(raw, "var"), "var");
    if (rc == 0)
        rc = write_slot(w, g, sc_elem_get(raw, "varm"), "varm");
    for (size_t i = 0; rc == 0 && i < raw->n_child; i++) {
        const char *n = raw->child[i]->name;

        if (n && strcmp(n, "X") && strcmp(n, "var") && strcmp(n, "varm"))
            sc_log_debug("'%s': raw/%s is not part of raw, not written",
                         w->path, n);
    }
    rc = close_group(w, g, rc);
    ep_pop(w, mark);
    return rc;
}

static int write_root(wctx *w, hid_t file, const sc_adata *ad)
{
    const struct {
        const sc_elem *e;
        const char *name;
    } dicts[] = {{ad->obsm, "obsm"}, {ad->varm, "varm"},     {ad->obsp, "obsp"},
                 {ad->varp, "varp"}, {ad->layers, "layers"}, {ad->uns, "uns"}};
    hid_t root = H5Gopen2(file, "/", H5P_DEFAULT);
    int rc = 0;

    if (root < 0)
        return h5err(w, "cannot open the root group");
    rc = set_encoding(w, root, "anndata", "0.1.0");
    if (rc == 0 && ad->X)
        rc = write_elem(w, root, ad->X, "X");
    if (rc == 0)
        rc = write_elem(w, root, ad->obs, "obs");
    if (rc == 0)
        rc = write_elem(w, root, ad->var, "var");
    for (size_t i = 0; rc == 0 && i < sizeof dicts / sizeof *dicts; i++)
        rc = write_slot(w, root, dicts[i].e, dicts[i].name);
    if (rc == 0 && ad->raw)
        rc = write_raw(w, root, ad->raw);
    return close_group(w, root, rc);
}

/* Rows of every matrix element below E (for the progress total). */
static uint64_t elem_matrix_rows(const sc_elem *e)
{
    uint64_t n = 0;

    if (!e)
        return 0;
    if (e->kind == SC_K_MATRIX && e->mat) {
        sc_mat_info in;
        sc_mat_get_info(e->mat, &in);
        return (uint64_t)in.n_rows;
    }
    for (size_t i = 0; i < e->n_child; i++)
        n += elem_matrix_rows(e->child[i]);
    return n;
}

static uint64_t matrix_rows(const sc_adata *ad)
{
    const sc_elem *top[] = {ad->X,    ad->layers, ad->obsm, ad->varm,
                            ad->obsp, ad->varp,   ad->uns,  ad->raw};
    uint64_t n = 0;

    for (size_t i = 0; i < sizeof top / sizeof *top; i++)
        n += elem_matrix_rows(top[i]);
    return n;
}

/*
 * Close FILE, whose writes failed (a full disk, a file size limit): HDF5
 * 1.10 keeps a file whose close failed half destroyed and crashes on it at
 * exit. The file's descriptor VFD is first pointed at /dev/null, so that
 * what is still cached is flushed there and the close succeeds; when it
 * fails all the same (the file must grow, which /dev/null cannot), the
 * file is abandoned (sc_h5_abandon_file). The temporary file is removed by
 * the caller.
 */
static void close_failed(hid_t file, int vfd)
{
    int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

    if (null >= 0 && vfd >= 0 && dup2(null, vfd) >= 0)
        (void)fcntl(vfd, F_SETFD, FD_CLOEXEC);
    if (null >= 0)
        close(null);
    herr_t st;
    H5E_BEGIN_TRY
    {
        st = H5Fclose(file);
    }
    H5E_END_TRY;
    if (st < 0) /* still failed: HDF5's shutdown must not touch it */
        sc_h5_abandon_file();
}

/*
 * Make sure the flush of FILE (descriptor VFD) cannot fail for want of
 * room: the blocks up to its end of allocated space are reserved first, so
 * that a full disk, a quota or a file size limit is an error here, while
 * HDF5 is still clean (a metadata flush that fails in HDF5 1.10 leaves the
 * file impossible to close). 0, or SC_EIO naming PATH.
 */
static int reserve_space(hid_t file, int vfd, const char *path)
{
    haddr_t eoa;

    if (vfd < 0 || H5Fget_eoa(file, &eoa) < 0 || eoa == 0 ||
        eoa > (haddr_t)INT64_MAX)
        return 0;
    if (fallocate(vfd, 0, 0, (off_t)eoa) == 0)
        return 0;
    if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)
        return sc_fail(SC_EIO, "cannot write '%s': %s", path, strerror(errno));
    return 0; /* no fallocate here: the flush says what goes wrong */
}

int sc_h5ad_write(const sc_adata *ad, const char *path,
                  const sc_write_opts *opts)
{
    sc_write_opts def = SC_WRITE_OPTS_INIT;
    wctx w = {.path = path,
              .str_t = H5I_INVALID_HID,
              .bool_t = H5I_INVALID_HID,
              .ep = "/",
              .ep_len = 1};
    hid_t fapl = H5I_INVALID_HID, fcpl = H5I_INVALID_HID;
    hid_t file = H5I_INVALID_HID;
    sc_tmp t;
    int rc, vfd = -1;

    if (!ad || !path || !path[0])
        return sc_fail(SC_EINVAL, "cannot write h5ad: no %s",
                       path && path[0] ? "dataset" : "path");
    if (!opts)
        opts = &def;
    if (opts->compress_level < 0 || opts->compress_level > 9 ||
        opts->block_rows < 0)
        return sc_fail(SC_EINVAL,
                       "cannot write '%s': invalid options "
                       "(compression level %d, block rows %lld)",
                       path, opts->compress_level, (long long)opts->block_rows);
    w.level = opts->compress_level;
    w.block_rows = opts->block_rows;
    w.progress = opts->progress;
    w.threads = opts->threads;
    sc_progress_set_total(w.progress, matrix_rows(ad));
    if ((rc = check_shapes(&w, ad)) < 0)
        return rc;

    sc_h5_init();
    /* The name only: H5F_ACC_EXCL creates the file (refusing any file or
     * link already there), then sc_io_tmp_check makes sure the name in the
     * directory checked at first is the file HDF5 has open. */
    if ((rc = sc_io_tmp_open(path, NULL, SC_TMP_NAME, &t)) < 0)
        return rc;
    /* STRONG: on failure H5Fclose also closes whatever is still open, so
     * the temporary file is really closed before it is unlinked. */
    if ((w.str_t = sc_h5_str_type()) < 0 ||
        (w.bool_t = sc_h5_bool_type()) < 0 ||
        (fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        (fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 ||
        H5Pset_obj_track_times(fcpl, 0) < 0) {
        rc = h5err(&w, "cannot set up HDF5");
        goto out;
    }
    {
        struct stat st;
        /* Anything at the name is refused before HDF5 looks (it would open
         * what a link points to, to see whether it is open already). */
        if (fstatat(t.dirfd, t.tmpname, &st, AT_SYMLINK_NOFOLLOW) == 0) {
            rc = sc_fail(SC_EIO,
                         "cannot write '%s': '%s' exists (a file or link "
                         "planted there?)",
                         path, t.tmp);
            goto out;
        }
    }
    if ((file = H5Fcreate(t.tmp, H5F_ACC_EXCL, fcpl, fapl)) < 0) {
        /* HDF5's own message for a missing or read-only directory is
         * unreadable: say what the system says. */
        int fd =
            openat(t.dirfd, t.tmpname,
                   O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
            unlinkat(t.dirfd, t.tmpname, 0);
            rc = sc_h5_fail(SC_EIO, "cannot write '%s': cannot create '%s'",
                            path, t.tmp);
        } else {
            rc =
                sc_fail(SC_EIO, "cannot write '%s': %s", path, strerror(errno));
        }
        goto out;
    }
    {
        void *handle = NULL;
        if (H5Fget_vfd_handle(file, fapl, &handle) < 0 || !handle ||
            (rc = sc_io_tmp_check(&t, *(int *)handle)) < 0) {
            if (rc == 0)
                rc = sc_h5_fail(SC_EIO, "cannot write '%s': cannot check '%s'",
                                path, t.tmp);
            goto out;
        }
        vfd = *(int *)handle;
    }
    rc = write_root(&w, file, ad);
    /* room for the flush first, then the flush: a write that fails then
     * leaves a file that can still be closed cleanly (close_failed) */
    if (rc == 0)
        rc = reserve_space(file, vfd, path);
    if (rc == 0 && H5Fflush(file, H5F_SCOPE_GLOBAL) < 0)
        rc = sc_h5_fail(SC_EIO, "cannot write '%s': cannot write '%s'", path,
                        t.tmp);
    if (rc == 0 && H5Fclose(file) < 0)
        rc = sc_h5_fail(SC_EIO, "cannot write '%s': cannot close '%s'", path,
                        t.tmp);
    else if (rc < 0)
        close_failed(file, vfd);
    file = H5I_INVALID_HID;
    if (rc == 0)
        rc = sc_io_tmp_commit(&t);
out:
    if (file >= 0)
        close_failed(file, vfd);
    if (rc < 0)
        sc_io_tmp_discard(&t);
    if (fapl >= 0)
        H5Pclose(fapl);
    if (fcpl >= 0)
        H5Pclose(fcpl);
    if (w.str_t >= 0)
        H5Tclose(w.str_t);
    if (w.bool_t >= 0)
        H5Tclose(w.bool_t);
    free(w.conv);
    return rc;
}
