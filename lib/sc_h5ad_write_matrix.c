/* sc_h5ad_write_matrix: the matrices of an h5ad (dense and CSR/CSC), streamed
 * in row blocks. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* fallocate */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "sc_h5.h"
#include "sc_h5ad_write_int.h"
#include "sc_h5chunk.h"
#include "sc_progress.h"

/* Values (as doubles in an sc_block) per streamed row block: ~64 MiB. */
#define BLOCK_VALUES ((int64_t)8 << 20)

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

int64_t h5w_block_rows(const wctx *w, const sc_mat_info *in)
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
    int64_t step = h5w_block_rows(w, in);
    sc_block b = SC_BLOCK_INIT;
    hid_t ds = H5I_INVALID_HID, fs = H5I_INVALID_HID, ms = H5I_INVALID_HID;
    int rc;

    if ((rc = h5w_create_ds(w, loc, name, h5w_file_type(w, in->dtype),
                            h5w_file_itemsize(in->dtype), 2, dims, 0, &ds)) < 0)
        goto out;
    if ((fs = H5Dget_space(ds)) < 0) {
        rc = h5w_h5err(w, "cannot get dataspace");
        goto out;
    }
    for (int64_t r = 0; in->n_cols > 0 && r < in->n_rows; r += step) {
        int64_t e = r + step < in->n_rows ? r + step : in->n_rows;
        hsize_t start[2] = {(hsize_t)r, 0},
                count[2] = {(hsize_t)(e - r), dims[1]};
        const void *buf;

        if ((rc = sc_mat_read_rows(m, r, e, &b)) < 0) {
            rc = h5w_ctx(w, rc);
            goto out;
        }
        sc_progress_add(w->progress, (uint64_t)(e - r));
        if ((rc = convert_block(w, b.vals, (size_t)(count[0] * count[1]),
                                in->dtype, &buf)) < 0)
            goto out;
        if (H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) <
                0 ||
            (ms = H5Screate_simple(2, count, NULL)) < 0 ||
            H5Dwrite(ds, h5w_mem_type(w, in->dtype), ms, fs, H5P_DEFAULT, buf) <
                0) {
            rc = h5w_h5err(w, "cannot write a row block");
            goto out;
        }
        H5Sclose(ms);
        ms = H5I_INVALID_HID;
    }
    rc = h5w_set_encoding(w, ds, "array", "0.2.0");
out:
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    sc_block_release(&b);
    return h5w_close_ds(w, ds, rc);
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
        return h5w_bad(w, SC_EFORMAT,
                       "more stored values than announced (%lld)",
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
    return h5w_write_1d_at(w, o->indptr, &o->n_indptr, (hsize_t)k, 1,
                           h5w_mem_type(w, o->ptr_dt), o->ptr);
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
    int64_t shape[2] = {in->n_rows, in->n_cols}, step = h5w_block_rows(w, in);
    sc_block b = SC_BLOCK_INIT;
    sc_h5chunk *cd = NULL, *ci = NULL;
    hid_t g;
    int rc;

    if ((rc = h5w_create_group(w, loc, name, "csr_matrix", "0.1.0", 0, &g)) <
            0 ||
        (rc = h5w_ctx(w, sc_h5_write_attr_i64(g, "shape", shape, 2))) < 0 ||
        (rc = h5w_create_ds(w, g, "data", h5w_file_type(w, in->dtype),
                            h5w_file_itemsize(in->dtype), 1, &nnz, 1,
                            &o.data)) < 0 ||
        (rc = h5w_create_ds(w, g, "indices", H5T_STD_I32LE, 4, 1, &nnz, 1,
                            &o.indices)) < 0 ||
        (rc = h5w_create_ds(w, g, "indptr", h5w_file_type(w, o.ptr_dt),
                            sc_dtype_size(o.ptr_dt), 1, &nptr, 1, &o.indptr)) <
            0)
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
            rc = h5w_ctx(w, rc);
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
                rc = h5w_ctx(w, rc);
                goto out;
            }
        } else if ((rc = h5w_write_1d_at(w, o.data, &o.n_data, (hsize_t)k, 1,
                                         h5w_mem_type(w, in->dtype), buf)) <
                       0 ||
                   (rc = h5w_write_1d_at(w, o.indices, &o.n_indices, (hsize_t)k,
                                         1, H5T_NATIVE_INT32, b.indices)) < 0) {
            goto out;
        }
        o.nnz += k;
    }
    if (in->n_rows == 0) {
        int64_t zero = 0;

        rc = h5w_write_1d_at(w, o.indptr, &o.n_indptr, 1, 1, H5T_NATIVE_INT64,
                             &zero);
    }
    if (rc == 0 && o.nnz != in->nnz)
        rc = h5w_bad(w, SC_EFORMAT, "%lld stored values, %lld announced",
                     (long long)o.nnz, (long long)in->nnz);
out:
    if (cd || ci) {
        int c1 = sc_h5chunk_close(cd, rc), c2 = sc_h5chunk_close(ci, rc);

        if (rc == 0 && (c1 < 0 || c2 < 0))
            rc = h5w_ctx(w, c1 < 0 ? c1 : c2);
    }
    rc = h5w_close_ds(w, o.data, rc);
    rc = h5w_close_ds(w, o.indices, rc);
    rc = h5w_close_ds(w, o.indptr, rc);
    free(o.ptr);
    sc_block_release(&b);
    return h5w_close_group(w, g, rc);
}

/* ------------------------------------------------------------------------ */
/* Matrices copied as stored                                                */

/* Whether dataset DS can be copied as it is: rank 1 with N values (rank 2
 * when N < 0), its data in the file itself (no external files, not a
 * virtual dataset) and only filters this library reads. */
static int copyable_ds(hid_t ds, int64_t n)
{
    hid_t pl = H5Dget_create_plist(ds), sp = H5Dget_space(ds);
    hsize_t dims[2];
    int ok = pl >= 0 && sp >= 0,
        rank = ok ? H5Sget_simple_extent_ndims(sp) : -1;

    if (ok) {
        H5D_layout_t lay = H5Pget_layout(pl);

        ok = (lay == H5D_CHUNKED || lay == H5D_CONTIGUOUS ||
              lay == H5D_COMPACT) &&
             H5Pget_external_count(pl) == 0 && rank == (n < 0 ? 2 : 1) &&
             H5Sget_simple_extent_dims(sp, dims, NULL) == rank &&
             (n < 0 || dims[0] == (hsize_t)n);
    }
    if (ok && sc_h5_check_filters(ds, "matrix") < 0) {
        sc_err_clear();
        ok = 0;
    }
    if (pl >= 0)
        H5Pclose(pl);
    if (sp >= 0)
        H5Sclose(sp);
    return ok;
}

/* Reserve the room the copy of the N datasets IDS needs past the end of
 * the allocated space of LOC's file: a copy that fails for want of room
 * crashes HDF5 1.10 (in H5Ocopy's error path), so a full disk, a quota or
 * a file size limit must be an error before it. 1 when reserved, 0 when the
 * file system cannot say (then the matrix is written, not copied), or
 * SC_EIO. HDF5 cuts the file back to its end of allocated space at close. */
static int reserve_copy(wctx *w, hid_t loc, const int64_t *ids, int n)
{
    hid_t f = H5Iget_file_id(loc);
    haddr_t eoa = 0;
    hsize_t need = 0;
    int ok = f >= 0 && H5Fget_eoa(f, &eoa) >= 0;

    if (f >= 0)
        H5Fclose(f);
    /* the stored bytes, an index entry per chunk (a v1 B-tree entry is
     * under 64 bytes) and the object headers */
    for (int k = 0; k < n; k++) {
        hsize_t nch = 0;

        need += H5Dget_storage_size((hid_t)ids[k]) + 4096;
        if (H5Dget_num_chunks((hid_t)ids[k], H5S_ALL, &nch) >= 0)
            need += 64 * nch;
    }
    H5Eclear2(H5E_DEFAULT);
    if (!ok || w->vfd < 0 || eoa > (haddr_t)INT64_MAX - need)
        return 0;
    /* Test hook (test_h5ad_write): with SC_TEST_NO_FALLOCATE set, act as on
     * a file system without fallocate (tmpfs and ext4 both have it). */
    if (getenv("SC_TEST_NO_FALLOCATE"))
        return 0;
    if (fallocate(w->vfd, 0, 0, (off_t)(eoa + need)) == 0)
        return 1;
    if (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)
        return sc_fail(SC_EIO, "cannot write '%s': %s", w->path,
                       strerror(errno));
    return 0;
}

/* Copy dataset SRC as NAME in LOC, raw chunks and all, without its
 * attributes. */
static int copy_ds(wctx *w, hid_t src, hid_t loc, const char *name)
{
    hid_t cp = H5Pcreate(H5P_OBJECT_COPY);
    int rc = 0;

    if (cp < 0 || H5Pset_copy_object(cp, H5O_COPY_WITHOUT_ATTR_FLAG) < 0 ||
        H5Ocopy(src, ".", loc, name, cp, H5P_DEFAULT) < 0)
        rc = h5w_h5err(w, "cannot copy the stored matrix");
    if (cp >= 0)
        H5Pclose(cp);
    return rc;
}

/* Read every row of M once, as the writer would, so that a copy is only
 * made of a matrix that decodes: chunks that inflate, indices in range, the
 * announced number of values (the copy itself reads nothing). Inflating is
 * checked, deflating again is what the copy saves. 0 or an error. */
static int check_matrix(wctx *w, sc_mat *m, const sc_mat_info *in)
{
    int64_t step = h5w_block_rows(w, in), nnz = 0;
    sc_block b = SC_BLOCK_INIT;
    int rc = 0;

    for (int64_t r = 0; r < in->n_rows && rc == 0; r += step) {
        int64_t e = r + step < in->n_rows ? r + step : in->n_rows;

        if ((rc = sc_mat_read_rows(m, r, e, &b)) < 0) {
            rc = h5w_ctx(w, rc);
        } else {
            nnz += sc_block_nnz(&b);
            sc_progress_add(w->progress, (uint64_t)(e - r));
        }
    }
    if (rc == 0 && in->fmt == SC_MAT_CSR && nnz != in->nnz)
        rc = h5w_bad(w, SC_EFORMAT, "%lld stored values, %lld announced",
                     (long long)nnz, (long long)in->nnz);
    sc_block_release(&b);
    return rc;
}

/* Matrix M as NAME in LOC copied as stored (sc_write_opts.copy_stored).
 * Returns 1 when copied, 0 when M does not qualify (nothing written), or an
 * error. */
static int copy_matrix(wctx *w, hid_t loc, const char *name, sc_mat *m,
                       const sc_mat_info *in)
{
    static const char *const parts[3] = {"data", "indices", "indptr"};
    int64_t ids[3], shape[2] = {in->n_rows, in->n_cols};
    int n = w->copy_stored ? sc_mat_h5_datasets(m, ids) : 0, rc = 0;
    hid_t g, ds;

    if (n == 1 && !copyable_ds((hid_t)ids[0], -1))
        return 0;
    if (n == 3 && (!copyable_ds((hid_t)ids[0], in->nnz) ||
                   !copyable_ds((hid_t)ids[1], in->nnz) ||
                   !copyable_ds((hid_t)ids[2], in->n_rows + 1)))
        return 0;
    /* room first: where it cannot be reserved the matrix is written
     * instead, and must then be read (and counted in progress) only once */
    if (n && (rc = reserve_copy(w, loc, ids, n)) <= 0)
        return rc;
    if (n && (rc = check_matrix(w, m, in)) < 0)
        return rc;
    /* HDF5 copies a chunk it still holds decoded (from the check) by
     * encoding it again: drop the datasets' chunk caches first */
    for (int k = 0; k < n; k++)
        if (H5Drefresh((hid_t)ids[k]) < 0)
            return h5w_h5err(w, "cannot read the stored matrix again");
    if (n == 1) {
        if ((rc = copy_ds(w, (hid_t)ids[0], loc, name)) < 0)
            return rc;
        if ((ds = H5Dopen2(loc, name, H5P_DEFAULT)) < 0)
            return h5w_h5err(w, "cannot open the copied matrix");
        rc = h5w_set_encoding(w, ds, "array", "0.2.0");
        rc = h5w_close_ds(w, ds, rc);
    } else if (n == 3) {
        if ((rc = h5w_create_group(w, loc, name, "csr_matrix", "0.1.0", 0,
                                   &g)) < 0)
            return rc;
        rc = h5w_ctx(w, sc_h5_write_attr_i64(g, "shape", shape, 2));
        for (int k = 0; k < 3 && rc == 0; k++)
            rc = copy_ds(w, (hid_t)ids[k], g, parts[k]);
        rc = h5w_close_group(w, g, rc);
    } else {
        return 0;
    }
    return rc < 0 ? rc : 1;
}

int h5w_write_matrix(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    sc_mat_info in;
    size_t mark;
    int rc = 0;

    if (e->mat)
        sc_mat_get_info(e->mat, &in);
    mark = h5w_ep_push(w, name);
    if (!e->mat)
        rc = h5w_bad(w, SC_EINVAL, "matrix without data");
    else if (in.dtype == SC_DT_NONE || in.dtype == SC_DT_STR)
        rc = h5w_bad(w, SC_EUNSUP, "matrix of %s values",
                     sc_dtype_name(in.dtype));
    else if (in.n_cols > INT32_MAX)
        rc = h5w_bad(w, SC_EUNSUP, "%lld columns (at most 2^31-1)",
                     (long long)in.n_cols);
    else if ((rc = copy_matrix(w, loc, name, e->mat, &in)) != 0)
        rc = rc < 0 ? rc : 0;
    else if (in.fmt == SC_MAT_CSR || in.fmt == SC_MAT_CSC)
        rc = write_sparse_matrix(w, loc, name, e->mat, &in);
    else
        rc = write_dense_matrix(w, loc, name, e->mat, &in);
    h5w_ep_pop(w, mark);
    return rc;
}
