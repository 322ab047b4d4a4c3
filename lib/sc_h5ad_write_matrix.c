/* sc_h5ad_write_matrix: the matrices of an h5ad (dense and CSR/CSC), streamed
 * in row blocks. */
/* SPDX-License-Identifier: MIT */
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
    else if (in.fmt == SC_MAT_CSR || in.fmt == SC_MAT_CSC)
        rc = write_sparse_matrix(w, loc, name, e->mat, &in);
    else
        rc = write_dense_matrix(w, loc, name, e->mat, &in);
    h5w_ep_pop(w, mark);
    return rc;
}
