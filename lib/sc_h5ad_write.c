/* sc_h5ad_write: write an sc_adata as an h5ad that anndata 0.8 reads. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_adata.h"
#include "sc_h5ad_write_int.h"
#include "sc_h5.h"
#include "sc_io.h"
#include "sc_log.h"
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

/* ------------------------------------------------------------------------ */
/* Messages and element paths                                               */

size_t h5w_ep_push(wctx *w, const char *name)
{
    size_t mark = w->ep_len;
    int n = snprintf(w->ep + mark, sizeof w->ep - mark, "%s%s",
                     mark == 1 ? "" : "/", name);

    if (n > 0)
        w->ep_len = mark + (size_t)n < sizeof w->ep ? mark + (size_t)n
                                                    : sizeof w->ep - 1;
    return mark;
}

void h5w_ep_pop(wctx *w, size_t mark)
{
    w->ep_len = mark;
    w->ep[mark] = '\0';
}

int h5w_h5err(wctx *w, const char *what)
{
    return sc_h5_fail(SC_EHDF5, "cannot write '%s': %s: %s", w->path, w->ep,
                      what);
}

/* A problem with the data itself (shape, type, ...). */
int h5w_bad(wctx *w, int code, const char *fmt, ...)
{
    char what[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    return sc_fail(code, "cannot write '%s': %s: %s", w->path, w->ep, what);
}

int h5w_ctx(wctx *w, int rc)
{
    return rc < 0 ? sc_fail_ctx(rc, "cannot write '%s': %s", w->path, w->ep)
                  : rc;
}

int h5w_set_encoding(wctx *w, hid_t obj, const char *type, const char *version)
{
    int rc = sc_h5_write_attr_str(obj, "encoding-type", type);

    if (rc == 0)
        rc = sc_h5_write_attr_str(obj, "encoding-version", version);
    return h5w_ctx(w, rc);
}

/* ------------------------------------------------------------------------ */
/* Types and datasets                                                       */

hid_t h5w_file_type(const wctx *w, sc_dtype t)
{
    return t == SC_DT_STR    ? w->str_t
           : t == SC_DT_BOOL ? w->bool_t
                             : sc_h5_file_type(t);
}

hid_t h5w_mem_type(const wctx *w, sc_dtype t)
{
    return t == SC_DT_STR    ? w->str_t
           : t == SC_DT_BOOL ? w->bool_t
                             : sc_h5_mem_type(t);
}

size_t h5w_file_itemsize(sc_dtype t)
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

int h5w_create_ds(wctx *w, hid_t loc, const char *name, hid_t ftype,
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
        rc = h5w_h5err(w, "cannot set up a dataset");
        goto out;
    }
    if (extendible || (w->level > 0 && rank > 0 && n > 0)) {
        chunk_shape(rank, final, itemsize, chunk);
        if (H5Pset_chunk(dcpl, rank, chunk) < 0 ||
            (w->level > 0 && H5Pset_deflate(dcpl, (unsigned)w->level) < 0)) {
            rc = h5w_h5err(w, "cannot set chunking or compression");
            goto out;
        }
    }
    *out = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    if (*out < 0)
        rc = h5w_h5err(w, "cannot create dataset");
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
    if (space >= 0)
        H5Sclose(space);
    return rc;
}

int h5w_write_1d_at(wctx *w, hid_t ds, hsize_t *len, hsize_t n, int extend,
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
        rc = h5w_h5err(w, "cannot write values");
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    *len = end;
    return rc;
}

int h5w_close_ds(wctx *w, hid_t ds, int rc)
{
    if (ds >= 0 && H5Dclose(ds) < 0 && rc == 0)
        rc = h5w_h5err(w, "cannot close dataset");
    return rc;
}

int h5w_close_group(wctx *w, hid_t g, int rc)
{
    if (g >= 0 && H5Gclose(g) < 0 && rc == 0)
        rc = h5w_h5err(w, "cannot close group");
    return rc;
}

int h5w_utf8_valid(const char *s)
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

int h5w_write_data(wctx *w, hid_t loc, const char *name, sc_dtype dt, int rank,
                   const int64_t *shape, const void *data)
{
    size_t mark = h5w_ep_push(w, name);
    hsize_t dims[SC_MAX_RANK], n = 1;
    const char **strs = NULL;
    hid_t ds = H5I_INVALID_HID;
    int rc;

    if (dt == SC_DT_NONE || h5w_file_type(w, dt) < 0) {
        rc = h5w_bad(w, SC_EINVAL, "unsupported data type %s",
                     sc_dtype_name(dt));
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
            if (!h5w_utf8_valid(strs[i])) {
                rc = h5w_bad(w, SC_EFORMAT,
                             "string %llu is not valid UTF-8 (anndata cannot "
                             "read it)",
                             (unsigned long long)i);
                goto out;
            }
        }
        data = strs;
    }
    if ((rc = h5w_create_ds(w, loc, name, h5w_file_type(w, dt),
                            h5w_file_itemsize(dt), rank, dims, 0, &ds)) < 0)
        goto out;
    if (n > 0 && H5Dwrite(ds, h5w_mem_type(w, dt), H5S_ALL, H5S_ALL,
                          H5P_DEFAULT, data) < 0)
        rc = h5w_h5err(w, "cannot write values");
    if (rc == 0)
        rc = h5w_set_encoding(w, ds,
                              dt == SC_DT_STR
                                  ? (rank ? "string-array" : "string")
                              : rank ? "array"
                                     : "numeric-scalar",
                              "0.2.0");
out:
    free(strs);
    rc = h5w_close_ds(w, ds, rc);
    h5w_ep_pop(w, mark);
    return rc;
}

int h5w_create_group(wctx *w, hid_t loc, const char *name, const char *enc,
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
        rc = h5w_h5err(w, "cannot create group");
    if (gcpl >= 0)
        H5Pclose(gcpl);
    if (rc == 0 && enc)
        rc = h5w_set_encoding(w, *out, enc, version);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Shape checks: anndata refuses files whose parts disagree in size.        */

/* Rows and columns of E (-1 when it has none), and whether it is 2-D. */
static int elem_dims(const sc_elem *e, int64_t *rows, int64_t *cols)
{
    *rows = h5w_elem_rows(e);
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
    mark = h5w_ep_push(w, name ? name : "");
    if (matrix && !is2d)
        rc = h5w_bad(w, SC_EINVAL, "not a 2-D matrix");
    else if (cols < 0)
        rc = h5w_bad(w, SC_EINVAL, "%lld rows, expected %lld", (long long)r,
                     (long long)rows);
    else
        rc = h5w_bad(w, SC_EINVAL, "shape %lld x %lld, expected %lld x %lld",
                     (long long)r, (long long)c, (long long)rows,
                     (long long)cols);
    h5w_ep_pop(w, mark);
    return rc;
}

/* Check dict D (called NAME), and that each child is ROWS x COLS unless
 * ROWS < 0. */
static int check_dict(wctx *w, const sc_elem *d, const char *name, int64_t rows,
                      int64_t cols, int matrix)
{
    size_t mark = h5w_ep_push(w, name);
    int rc = 0;

    if (d && d->kind != SC_K_DICT)
        rc = h5w_bad(w, SC_EINVAL, "not a dict");
    for (size_t i = 0; d && rows >= 0 && rc == 0 && i < d->n_child; i++)
        rc = check_dims(w, d->child[i], d->child[i]->name, rows, cols, matrix);
    h5w_ep_pop(w, mark);
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
        return h5w_bad(w, SC_EINVAL, "obs and var must be dataframes");
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
    mark = h5w_ep_push(w, "raw");
    rx = sc_elem_get(ad->raw, "X");
    rv = sc_elem_get(ad->raw, "var");
    if (ad->raw->kind != SC_K_DICT || !rx || !rv || rv->kind != SC_K_DATAFRAME)
        rc = h5w_bad(w, SC_EINVAL, "raw needs X and a var dataframe");
    else if ((rc = check_dims(w, rx, "X", no, rv->n_rows, 1)) == 0)
        rc = check_dict(w, sc_elem_get(ad->raw, "varm"), "varm", rv->n_rows, -1,
                        0);
    h5w_ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* The file                                                                 */

/* A dict slot of the dataset, written empty when the model has none. */
static int write_slot(wctx *w, hid_t root, const sc_elem *e, const char *name)
{
    return e ? h5w_write_elem(w, root, e, name)
             : h5w_write_dict(w, root, NULL, name);
}

static int write_raw(wctx *w, hid_t root, const sc_elem *raw)
{
    size_t mark = h5w_ep_push(w, "raw");
    hid_t g;
    int rc = h5w_create_group(w, root, "raw", "raw", "0.1.0", 0, &g);

    if (rc == 0)
        rc = h5w_write_elem(w, g, sc_elem_get(raw, "X"), "X");
    if (rc == 0)
        rc = h5w_write_elem(w, g, sc_elem_get(raw, "var"), "var");
    if (rc == 0)
        rc = write_slot(w, g, sc_elem_get(raw, "varm"), "varm");
    for (size_t i = 0; rc == 0 && i < raw->n_child; i++) {
        const char *n = raw->child[i]->name;

        if (n && strcmp(n, "X") && strcmp(n, "var") && strcmp(n, "varm"))
            sc_log_debug("'%s': raw/%s is not part of raw, not written",
                         w->path, n);
    }
    rc = h5w_close_group(w, g, rc);
    h5w_ep_pop(w, mark);
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
        return h5w_h5err(w, "cannot open the root group");
    rc = h5w_set_encoding(w, root, "anndata", "0.1.0");
    if (rc == 0 && ad->X)
        rc = h5w_write_elem(w, root, ad->X, "X");
    if (rc == 0)
        rc = h5w_write_elem(w, root, ad->obs, "obs");
    if (rc == 0)
        rc = h5w_write_elem(w, root, ad->var, "var");
    for (size_t i = 0; rc == 0 && i < sizeof dicts / sizeof *dicts; i++)
        rc = write_slot(w, root, dicts[i].e, dicts[i].name);
    if (rc == 0 && ad->raw)
        rc = write_raw(w, root, ad->raw);
    return h5w_close_group(w, root, rc);
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
              .ep_len = 1,
              .vfd = -1};
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
    w.copy_stored = opts->copy_stored;
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
        rc = h5w_h5err(&w, "cannot set up HDF5");
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
        w.vfd = vfd;
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
