/* sc_mat: matrices read in row blocks (HDF5-backed or in memory). */
/* SPDX-License-Identifier: MIT */
#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_h5.h"
#include "sc_h5chunk.h"
#include "sc_log.h"

/* Entries read from HDF5 per call when scanning a whole CSC matrix. */
#define SCAN_STEP ((int64_t)1 << 20)
/* Default memory for a CSC->CSR band (bytes); SC_CSC_BUDGET overrides. */
#define CSC_BUDGET_DEFAULT ((int64_t)512 << 20)
/* Chunk cache for dense datasets read in row blocks (bytes). */
#define DENSE_CHUNK_CACHE ((size_t)64 << 20)

struct sc_mat {
    sc_mat_info info;
    char *label;
    /* in memory (CSR or dense) */
    int64_t *m_indptr;
    int32_t *m_indices;
    double *m_vals;
    /* HDF5 */
    hid_t d_data, d_indices, d_indptr, d_dense;
    int64_t *indptr; /* whole compressed-axis indptr (CSR: rows; CSC: cols) */
    /* CSC band cache: rows [band_r0, band_r1) as CSR */
    int64_t band_r0, band_r1;
    int64_t *band_indptr;
    int32_t *band_indices;
    double *band_vals;
    unsigned char *dense_seen; /* dense chunks checked (sc_h5chunk) */
    /* fast reads of deflate chunks (sc_h5chunk): workers, staging buffer */
    int threads;
    void *stage;
    size_t stage_cap;
    /* callback source (sc_mat_new_callback) */
    sc_mat_read_fn cb_read;
    void (*cb_free)(void *ud);
    void *cb_ud;
};

void sc_block_release(sc_block *b)
{
    if (!b)
        return;
    free(b->indptr);
    free(b->indices);
    free(b->vals);
    memset(b, 0, sizeof *b);
}

int64_t sc_block_nnz(const sc_block *b)
{
    if (b->dense)
        return b->n_rows * b->n_cols;
    return b->indptr ? b->indptr[b->n_rows] : 0;
}

void sc_mat_get_info(const sc_mat *m, sc_mat_info *info)
{
    *info = m->info;
}

static void close_id(hid_t *id)
{
    if (*id > 0)
        H5Dclose(*id);
    *id = H5I_INVALID_HID;
}

void sc_mat_free(sc_mat *m)
{
    if (!m)
        return;
    free(m->label);
    free(m->m_indptr);
    free(m->m_indices);
    free(m->m_vals);
    close_id(&m->d_data);
    close_id(&m->d_indices);
    close_id(&m->d_indptr);
    close_id(&m->d_dense);
    free(m->indptr);
    free(m->band_indptr);
    free(m->band_indices);
    free(m->band_vals);
    free(m->stage);
    free(m->dense_seen);
    if (m->cb_free)
        m->cb_free(m->cb_ud);
    free(m);
}

static sc_mat *mat_new(const char *label)
{
    sc_mat *m = calloc(1, sizeof *m);

    if (!m)
        return NULL;
    m->d_data = m->d_indices = m->d_indptr = m->d_dense = H5I_INVALID_HID;
    m->band_r0 = m->band_r1 = -1;
    if (!(m->label = strdup(label ? label : "matrix"))) {
        free(m);
        return NULL;
    }
    return m;
}

/* Make room for N_ROWS rows and NNZ values (sparse) or values (dense). */
static int block_reserve(sc_block *b, int64_t n_rows, int64_t nnz, int dense)
{
    if (!dense && (size_t)(n_rows + 1) > b->cap_rows) {
        int64_t *p = realloc(b->indptr, (size_t)(n_rows + 1) * sizeof *p);
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory for a row block");
        b->indptr = p;
        b->cap_rows = (size_t)(n_rows + 1);
    }
    if (!dense && (size_t)nnz > b->cap_nnz) {
        int32_t *p = realloc(b->indices, (size_t)nnz * sizeof *p);
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory for a row block");
        b->indices = p;
        b->cap_nnz = (size_t)nnz;
    }
    if ((size_t)nnz > b->cap_vals) {
        double *p = realloc(b->vals, (size_t)nnz * sizeof *p);
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory for a row block");
        b->vals = p;
        b->cap_vals = (size_t)nnz;
    }
    return 0;
}

int sc_block_reserve(sc_block *b, int64_t n_rows, int64_t nnz)
{
    if (n_rows < 0 || nnz < 0)
        return sc_fail(SC_EINVAL, "negative block size");
    return block_reserve(b, n_rows, nnz, 0);
}

/* ------------------------------------------------------------------------ */
/* In memory */

sc_mat *sc_mat_new_csr_take(int64_t n_rows, int64_t n_cols, int64_t *indptr,
                            int32_t *indices, double *vals, sc_dtype dtype)
{
    sc_mat *m = mat_new("matrix");

    if (!m) {
        free(indptr);
        free(indices);
        free(vals);
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    m->info.fmt = SC_MAT_CSR;
    m->info.dtype = dtype;
    m->info.n_rows = n_rows;
    m->info.n_cols = n_cols;
    m->info.nnz = indptr ? indptr[n_rows] - indptr[0] : 0;
    m->info.index_dtype = SC_DT_I32;
    m->info.indptr_dtype = SC_DT_I64;
    m->m_indptr = indptr;
    m->m_indices = indices;
    m->m_vals = vals;
    return m;
}

sc_mat *sc_mat_new_dense_take(int64_t n_rows, int64_t n_cols, double *vals,
                              sc_dtype dtype)
{
    sc_mat *m = mat_new("matrix");

    if (!m) {
        free(vals);
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    m->info.fmt = SC_MAT_DENSE;
    m->info.dtype = dtype;
    m->info.n_rows = n_rows;
    m->info.n_cols = n_cols;
    m->info.nnz = n_rows * n_cols;
    m->m_vals = vals;
    return m;
}

static int read_mem(sc_mat *m, int64_t r0, int64_t r1, sc_block *b)
{
    int64_t n = r1 - r0, nc = m->info.n_cols;

    if (m->info.fmt == SC_MAT_DENSE) {
        if (block_reserve(b, n, n * nc, 1) < 0)
            return SC_ENOMEM;
        if (n * nc > 0)
            memcpy(b->vals, m->m_vals + r0 * nc,
                   (size_t)(n * nc) * sizeof *b->vals);
        b->dense = 1;
        return 0;
    }
    int64_t s = m->m_indptr[r0], e = m->m_indptr[r1];
    if (block_reserve(b, n, e - s, 0) < 0)
        return SC_ENOMEM;
    for (int64_t i = 0; i <= n; i++)
        b->indptr[i] = m->m_indptr[r0 + i] - s;
    if (e > s) {
        memcpy(b->indices, m->m_indices + s, (size_t)(e - s) * sizeof(int32_t));
        memcpy(b->vals, m->m_vals + s, (size_t)(e - s) * sizeof(double));
    }
    b->dense = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HDF5 sparse */

static int open_ds(hid_t file, const char *path, const char *label, hid_t *out)
{
    int rc;

    if (!sc_h5_is_dataset(file, path))
        return sc_fail(SC_EFORMAT, "%s: missing dataset '%s'", label, path);
    *out = H5Dopen2(file, path, H5P_DEFAULT);
    if (*out < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open '%s'", label, path);
    if ((rc = sc_h5_check_filters(*out, path)) < 0)
        return rc;
    return 0;
}

static int ds_len(hid_t ds, const char *path, sc_dtype *dt, int64_t *len)
{
    int rank, rc;
    int64_t dims[SC_MAX_RANK];
    hid_t t;

    if ((rc = sc_h5_shape(ds, &rank, dims, path)) < 0)
        return rc;
    if (rank != 1)
        return sc_fail(SC_EFORMAT, "'%s' is not 1-dimensional", path);
    *len = dims[0];
    t = H5Dget_type(ds);
    *dt = sc_h5_dtype_of(t);
    H5Tclose(t);
    if (*dt == SC_DT_NONE || *dt == SC_DT_STR)
        return sc_fail(SC_EFORMAT, "'%s' is not numeric", path);
    return 0;
}

int sc_mat_open_h5_sparse(int64_t file, const char *label,
                          const char *data_path, const char *indices_path,
                          const char *indptr_path, sc_mat_fmt fmt,
                          int64_t n_rows, int64_t n_cols, sc_mat **out)
{
    sc_mat *m;
    int64_t n_data, n_idx, n_ptr, n_major;
    sc_dtype dt_data, dt_idx, dt_ptr;
    int rc;

    *out = NULL;
    sc_h5_init();
    if (!(m = mat_new(label)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (n_rows < 0 || n_cols < 0 || n_rows > ((int64_t)1 << 40) ||
        n_cols > ((int64_t)1 << 40)) {
        rc = sc_fail(SC_EFORMAT, "%s: invalid shape (%lld, %lld)", label,
                     (long long)n_rows, (long long)n_cols);
        goto fail;
    }
    if ((rc = open_ds(file, data_path, label, &m->d_data)) < 0 ||
        (rc = open_ds(file, indices_path, label, &m->d_indices)) < 0 ||
        (rc = open_ds(file, indptr_path, label, &m->d_indptr)) < 0)
        goto fail;
    if ((rc = ds_len(m->d_data, data_path, &dt_data, &n_data)) < 0 ||
        (rc = ds_len(m->d_indices, indices_path, &dt_idx, &n_idx)) < 0 ||
        (rc = ds_len(m->d_indptr, indptr_path, &dt_ptr, &n_ptr)) < 0)
        goto fail;
    if (dt_idx == SC_DT_BOOL || dt_ptr == SC_DT_BOOL ||
        sc_dtype_is_float(dt_idx) || sc_dtype_is_float(dt_ptr)) {
        rc = sc_fail(SC_EFORMAT, "%s: indices and indptr must be integers",
                     label);
        goto fail;
    }
    n_major = fmt == SC_MAT_CSC ? n_cols : n_rows;
    if (n_ptr != n_major + 1) {
        rc = sc_fail(SC_EFORMAT,
                     "%s: indptr has %lld entries, expected %lld "
                     "for shape (%lld, %lld)",
                     label, (long long)n_ptr, (long long)(n_major + 1),
                     (long long)n_rows, (long long)n_cols);
        goto fail;
    }
    if (n_data != n_idx) {
        rc = sc_fail(SC_EFORMAT, "%s: data has %lld entries but indices %lld",
                     label, (long long)n_data, (long long)n_idx);
        goto fail;
    }
    if ((rc = sc_h5_check_declared(m->d_data, label, 0)) < 0 ||
        (rc = sc_h5_check_declared(m->d_indices, label, 0)) < 0 ||
        (rc = sc_h5_check_declared(m->d_indptr, label, 0)) < 0 ||
        (rc = sc_check_mem(label, n_ptr, sizeof *m->indptr)) < 0)
        goto fail;
    if (!(m->indptr = malloc((size_t)n_ptr * sizeof *m->indptr))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = sc_h5_read_1d(m->d_indptr, 0, n_ptr, SC_DT_I64, m->indptr,
                            indptr_path)) < 0)
        goto fail;
    if (m->indptr[0] < 0) {
        rc = sc_fail(SC_EFORMAT, "%s: indptr starts at %lld", label,
                     (long long)m->indptr[0]);
        goto fail;
    }
    for (int64_t i = 0; i < n_major; i++) {
        if (m->indptr[i + 1] < m->indptr[i]) {
            rc = sc_fail(SC_EFORMAT,
                         "%s: indptr is not monotone at %lld "
                         "(%lld > %lld)",
                         label, (long long)i, (long long)m->indptr[i],
                         (long long)m->indptr[i + 1]);
            goto fail;
        }
    }
    if (m->indptr[n_major] > n_data) {
        rc = sc_fail(SC_EFORMAT,
                     "%s: indptr ends at %lld but data has %lld "
                     "entries",
                     label, (long long)m->indptr[n_major], (long long)n_data);
        goto fail;
    }
    if (fmt == SC_MAT_CSR && n_cols > INT32_MAX) {
        rc = sc_fail(SC_EUNSUP, "%s: %lld columns exceed 2^31", label,
                     (long long)n_cols);
        goto fail;
    }
    m->info.fmt = fmt;
    m->info.dtype = dt_data;
    m->info.n_rows = n_rows;
    m->info.n_cols = n_cols;
    m->info.nnz = m->indptr[n_major] - m->indptr[0];
    m->info.index_dtype = dt_idx;
    m->info.indptr_dtype = dt_ptr;
    *out = m;
    return 0;
fail:
    sc_mat_free(m);
    return rc;
}

int sc_mat_h5_datasets(const sc_mat *m, int64_t ids[3])
{
    if (m->info.fmt == SC_MAT_CSR && m->d_data > 0 && m->d_indices > 0 &&
        m->d_indptr > 0 && m->indptr && m->indptr[0] == 0) {
        ids[0] = m->d_data;
        ids[1] = m->d_indices;
        ids[2] = m->d_indptr;
        return 3;
    }
    if (m->info.fmt == SC_MAT_DENSE && m->d_dense > 0) {
        ids[0] = m->d_dense;
        return 1;
    }
    return 0;
}

void sc_mat_set_threads(sc_mat *m, int threads)
{
    m->threads = threads > 1 ? threads : 1;
}

/* Value K of a buffer of stored type DT as double. */
static double stored_num(const void *p, sc_dtype dt, int64_t k)
{
    switch (dt) {
    case SC_DT_I8: return ((const int8_t *)p)[k];
    case SC_DT_I16: return ((const int16_t *)p)[k];
    case SC_DT_I32: return ((const int32_t *)p)[k];
    case SC_DT_I64: return (double)((const int64_t *)p)[k];
    case SC_DT_U8:
    case SC_DT_BOOL: return ((const uint8_t *)p)[k];
    case SC_DT_U16: return ((const uint16_t *)p)[k];
    case SC_DT_U32: return ((const uint32_t *)p)[k];
    case SC_DT_U64: return (double)((const uint64_t *)p)[k];
    case SC_DT_F32: return ((const float *)p)[k];
    case SC_DT_F64: return ((const double *)p)[k];
    default: return 0;
    }
}

/* Read values [S, S + N) of DS, stored as STORED, into OUT as WANT (F64 or
 * I32): deflate chunks are inflated by libdeflate on m->threads workers,
 * anything else goes through libhdf5. */
static int read_vals(sc_mat *m, hid_t ds, sc_dtype stored, int64_t s, int64_t n,
                     sc_dtype want, void *out)
{
    size_t isz = sc_dtype_size(stored);
    int rc;

    if (n <= 0)
        return 0;
    if (stored == want) {
        rc = sc_h5chunk_read(ds, s, n, isz, out, m->threads, m->label);
    } else {
        if ((size_t)n * isz > m->stage_cap) {
            void *p = realloc(m->stage, (size_t)n * isz);

            if (!p)
                return sc_fail(SC_ENOMEM, "out of memory for a row block");
            m->stage = p;
            m->stage_cap = (size_t)n * isz;
        }
        rc = sc_h5chunk_read(ds, s, n, isz, m->stage, m->threads, m->label);
        if (rc == 0 && want == SC_DT_F64 && stored == SC_DT_F32) {
            const float *f = m->stage; /* the common case: one tight loop */

            for (int64_t k = 0; k < n; k++)
                ((double *)out)[k] = f[k];
        } else if (rc == 0 && want == SC_DT_F64)
            for (int64_t k = 0; k < n; k++)
                ((double *)out)[k] = stored_num(m->stage, stored, k);
        else if (rc == 0)
            for (int64_t k = 0; k < n; k++)
                ((int32_t *)out)[k] = (int32_t)stored_num(m->stage, stored, k);
    }
    if (rc == SC_EUNSUP) {
        sc_err_clear();
        rc = sc_h5_read_1d(ds, s, n, want, out, m->label);
    }
    return rc;
}

static int read_csr_h5(sc_mat *m, int64_t r0, int64_t r1, sc_block *b)
{
    int64_t n = r1 - r0, s = m->indptr[r0], e = m->indptr[r1], nc;
    int rc;

    if ((rc = block_reserve(b, n, e - s, 0)) < 0)
        return rc;
    for (int64_t i = 0; i <= n; i++)
        b->indptr[i] = m->indptr[r0 + i] - s;
    if ((rc = read_vals(m, m->d_indices, m->info.index_dtype, s, e - s,
                        SC_DT_I32, b->indices)) < 0 ||
        (rc = read_vals(m, m->d_data, m->info.dtype, s, e - s, SC_DT_F64,
                        b->vals)) < 0)
        return rc;
    nc = m->info.n_cols;
    for (int64_t k = 0; k < e - s; k++) {
        if (b->indices[k] < 0 || b->indices[k] >= nc) {
            int64_t row = r0;
            while (row < r1 && b->indptr[row - r0 + 1] <= k)
                row++;
            return sc_fail(SC_EFORMAT,
                           "%s: column index %d out of range "
                           "[0, %lld) in row %lld",
                           m->label, b->indices[k], (long long)nc,
                           (long long)row);
        }
    }
    b->dense = 0;
    return 0;
}

static int64_t csc_budget(void)
{
    const char *s = getenv("SC_CSC_BUDGET");
    char *end;
    long long v;

    if (!s || !*s)
        return CSC_BUDGET_DEFAULT;
    v = strtoll(s, &end, 10);
    return *end || v < 4096 ? CSC_BUDGET_DEFAULT : v;
}

/* Build rows [r0, r1) of a CSC matrix as CSR in the band cache: count pass
 * over the row indices, then a fill pass. Memory is bounded by the band
 * (the rows chosen so that their entries fit the budget) plus one scan
 * buffer, whatever the size of the matrix. */
static int build_band(sc_mat *m, int64_t r0, int64_t r1)
{
    int64_t nc = m->info.n_cols, nr = r1 - r0, total;
    int64_t s0 = m->indptr[0], s1 = m->indptr[nc];
    int64_t *cnt = NULL, *fill = NULL, *rows = NULL;
    double *vals = NULL;
    int rc = 0;

    free(m->band_indptr);
    free(m->band_indices);
    free(m->band_vals);
    m->band_indptr = NULL;
    m->band_indices = NULL;
    m->band_vals = NULL;
    m->band_r0 = m->band_r1 = -1;
    cnt = calloc((size_t)nr + 1, sizeof *cnt);
    rows = malloc((size_t)SCAN_STEP * sizeof *rows);
    vals = malloc((size_t)SCAN_STEP * sizeof *vals);
    if (!cnt || !rows || !vals) {
        rc = sc_fail(SC_ENOMEM, "out of memory converting %s", m->label);
        goto out;
    }
    for (int64_t off = s0; off < s1; off += SCAN_STEP) {
        int64_t n = s1 - off < SCAN_STEP ? s1 - off : SCAN_STEP;
        if ((rc = sc_h5_read_1d(m->d_indices, off, n, SC_DT_I64, rows,
                                m->label)) < 0)
            goto out;
        for (int64_t k = 0; k < n; k++) {
            if (rows[k] < 0 || rows[k] >= m->info.n_rows) {
                rc = sc_fail(SC_EFORMAT,
                             "%s: row index %lld out of range "
                             "[0, %lld)",
                             m->label, (long long)rows[k],
                             (long long)m->info.n_rows);
                goto out;
            }
            if (rows[k] >= r0 && rows[k] < r1)
                cnt[rows[k] - r0 + 1]++;
        }
    }
    for (int64_t i = 0; i < nr; i++)
        cnt[i + 1] += cnt[i];
    total = cnt[nr];
    m->band_indptr = cnt;
    cnt = NULL;
    m->band_indices = malloc((size_t)(total ? total : 1) * sizeof(int32_t));
    m->band_vals = malloc((size_t)(total ? total : 1) * sizeof(double));
    fill = malloc((size_t)(nr ? nr : 1) * sizeof *fill);
    if (!m->band_indices || !m->band_vals || !fill) {
        rc = sc_fail(SC_ENOMEM, "out of memory converting %s", m->label);
        goto out;
    }
    memcpy(fill, m->band_indptr, (size_t)nr * sizeof *fill);
    /* Fill in column order, so each row's indices come out sorted. */
    int64_t col = 0;
    for (int64_t off = s0; off < s1; off += SCAN_STEP) {
        int64_t n = s1 - off < SCAN_STEP ? s1 - off : SCAN_STEP;
        if ((rc = sc_h5_read_1d(m->d_indices, off, n, SC_DT_I64, rows,
                                m->label)) < 0 ||
            (rc = sc_h5_read_1d(m->d_data, off, n, SC_DT_F64, vals, m->label)) <
                0)
            goto out;
        for (int64_t k = 0; k < n; k++) {
            int64_t pos = off + k;
            while (col < nc && m->indptr[col + 1] <= pos)
                col++;
            if (rows[k] >= r0 && rows[k] < r1) {
                int64_t at = fill[rows[k] - r0]++;
                m->band_indices[at] = (int32_t)col;
                m->band_vals[at] = vals[k];
            }
        }
    }
    m->band_r0 = r0;
    m->band_r1 = r1;
out:
    free(cnt);
    free(fill);
    free(rows);
    free(vals);
    if (rc < 0) {
        free(m->band_indptr);
        free(m->band_indices);
        free(m->band_vals);
        m->band_indptr = NULL;
        m->band_indices = NULL;
        m->band_vals = NULL;
        m->band_r0 = m->band_r1 = -1;
    }
    return rc;
}

static int read_csc_h5(sc_mat *m, int64_t r0, int64_t r1, sc_block *b)
{
    int64_t n = r1 - r0, s, e;
    int rc;

    if (m->info.n_cols > INT32_MAX)
        return sc_fail(SC_EUNSUP, "%s: too many columns", m->label);
    if (r0 < m->band_r0 || r1 > m->band_r1) {
        /* Choose a band starting at r0 whose entries fit the budget,
         * assuming entries spread evenly over rows. */
        int64_t nr = m->info.n_rows, per = 12; /* bytes per entry */
        double avg = nr ? (double)m->info.nnz / (double)nr : 0;
        int64_t rows =
            avg > 0 ? (int64_t)((double)csc_budget() / (avg * (double)per))
                    : nr;
        if (rows < n)
            rows = n;
        if (r0 + rows > nr)
            rows = nr - r0;
        if ((rc = build_band(m, r0, r0 + rows)) < 0)
            return rc;
    }
    s = m->band_indptr[r0 - m->band_r0];
    e = m->band_indptr[r1 - m->band_r0];
    if ((rc = block_reserve(b, n, e - s, 0)) < 0)
        return rc;
    for (int64_t i = 0; i <= n; i++)
        b->indptr[i] = m->band_indptr[r0 - m->band_r0 + i] - s;
    if (e > s) {
        memcpy(b->indices, m->band_indices + s,
               (size_t)(e - s) * sizeof(int32_t));
        memcpy(b->vals, m->band_vals + s, (size_t)(e - s) * sizeof(double));
    }
    b->dense = 0;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* HDF5 dense */

int sc_mat_open_h5_dense(int64_t file, const char *label, const char *path,
                         sc_mat_fmt fmt, sc_mat **out)
{
    sc_mat *m;
    int64_t dims[SC_MAX_RANK];
    int rank, rc;
    hid_t t, dapl;

    *out = NULL;
    sc_h5_init();
    if (!(m = mat_new(label)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!sc_h5_is_dataset(file, path)) {
        rc = sc_fail(SC_EFORMAT, "%s: missing dataset '%s'", label, path);
        goto fail;
    }
    /* A chunk cache big enough for a row of chunks, so that consecutive row
     * blocks inflate every chunk once. */
    dapl = H5Pcreate(H5P_DATASET_ACCESS);
    H5Pset_chunk_cache(dapl, 12421, DENSE_CHUNK_CACHE, 1.0);
    m->d_dense = H5Dopen2(file, path, dapl);
    H5Pclose(dapl);
    if (m->d_dense < 0) {
        rc = sc_h5_fail(SC_EFORMAT, "%s: cannot open '%s'", label, path);
        goto fail;
    }
    if ((rc = sc_h5_check_filters(m->d_dense, label)) < 0 ||
        (rc = sc_h5_shape(m->d_dense, &rank, dims, label)) < 0 ||
        (rc = sc_h5_check_declared(m->d_dense, label, 0)) < 0)
        goto fail;
    if (rank != 2) {
        rc = sc_fail(SC_EFORMAT, "%s: expected a 2-D matrix, found rank %d",
                     label, rank);
        goto fail;
    }
    t = H5Dget_type(m->d_dense);
    m->info.dtype = sc_h5_dtype_of(t);
    H5Tclose(t);
    if (m->info.dtype == SC_DT_NONE || m->info.dtype == SC_DT_STR) {
        rc = sc_fail(SC_EFORMAT, "%s: matrix is not numeric", label);
        goto fail;
    }
    m->info.fmt = fmt;
    m->info.n_rows = fmt == SC_MAT_DENSE_T ? dims[1] : dims[0];
    m->info.n_cols = fmt == SC_MAT_DENSE_T ? dims[0] : dims[1];
    m->info.nnz = dims[0] * dims[1];
    *out = m;
    return 0;
fail:
    sc_mat_free(m);
    return rc;
}

static int read_dense_h5(sc_mat *m, int64_t r0, int64_t r1, sc_block *b)
{
    int64_t n = r1 - r0, nc = m->info.n_cols;
    int t = m->info.fmt == SC_MAT_DENSE_T;
    hsize_t start[2], count[2];
    hid_t fs = -1, ms = -1;
    double *tmp = NULL;
    int rc = 0;

    if ((rc = block_reserve(b, n, n * nc, 1)) < 0)
        return rc;
    b->dense = 1;
    if (n == 0 || nc == 0)
        return 0;
    start[0] = t ? 0 : (hsize_t)r0;
    start[1] = t ? (hsize_t)r0 : 0;
    count[0] = t ? (hsize_t)nc : (hsize_t)n;
    count[1] = t ? (hsize_t)n : (hsize_t)nc;
    if (t && !(tmp = malloc((size_t)(n * nc) * sizeof *tmp)))
        return sc_fail(SC_ENOMEM, "out of memory");
    /* libhdf5 would read a chunk that inflates short past its buffer */
    {
        int64_t s64[2] = {(int64_t)start[0], (int64_t)start[1]};
        int64_t c64[2] = {(int64_t)count[0], (int64_t)count[1]};

        if ((rc = sc_h5chunk_check_box(m->d_dense, 2, s64, c64, m->label,
                                       &m->dense_seen)) < 0) {
            free(tmp);
            return rc;
        }
    }
    if ((fs = H5Dget_space(m->d_dense)) < 0 ||
        H5Sselect_hyperslab(fs, H5S_SELECT_SET, start, NULL, count, NULL) < 0 ||
        (ms = H5Screate_simple(2, count, NULL)) < 0 ||
        H5Dread(m->d_dense, H5T_NATIVE_DOUBLE, ms, fs, H5P_DEFAULT,
                t ? tmp : b->vals) < 0)
        rc = sc_h5_fail(SC_EFORMAT, "%s: cannot read rows [%lld, %lld)",
                        m->label, (long long)r0, (long long)r1);
    if (rc == 0 && t)
        for (int64_t g = 0; g < nc; g++)
            for (int64_t c = 0; c < n; c++)
                b->vals[c * nc + g] = tmp[g * n + c];
    free(tmp);
    if (ms >= 0)
        H5Sclose(ms);
    if (fs >= 0)
        H5Sclose(fs);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Callback */

sc_mat *sc_mat_new_callback(int64_t n_rows, int64_t n_cols, sc_dtype dtype,
                            int64_t nnz, sc_mat_read_fn read, void *ud,
                            void (*free_fn)(void *ud))
{
    sc_mat *m;

    if (n_rows < 0 || n_cols < 0 || nnz < 0 || !read || n_cols > INT32_MAX) {
        sc_fail(SC_EINVAL, "bad callback matrix (%lld x %lld, %lld values)",
                (long long)n_rows, (long long)n_cols, (long long)nnz);
        if (free_fn)
            free_fn(ud);
        return NULL;
    }
    if (!(m = mat_new("matrix"))) {
        sc_fail(SC_ENOMEM, "out of memory");
        if (free_fn)
            free_fn(ud);
        return NULL;
    }
    m->info.fmt = SC_MAT_CSR;
    m->info.dtype = dtype;
    m->info.n_rows = n_rows;
    m->info.n_cols = n_cols;
    m->info.nnz = nnz;
    m->info.index_dtype = SC_DT_I32;
    m->info.indptr_dtype = SC_DT_I64;
    m->cb_read = read;
    m->cb_free = free_fn;
    m->cb_ud = ud;
    return m;
}

/* The callback fills B; check what it produced so that a buggy source
 * fails here instead of corrupting a written file. */
static int read_callback(sc_mat *m, int64_t r0, int64_t r1, sc_block *b)
{
    int64_t n = r1 - r0;
    int rc;

    if ((rc = block_reserve(b, n, 0, 0)) < 0)
        return rc;
    b->dense = 0;
    b->indptr[0] = 0;
    if ((rc = m->cb_read(m->cb_ud, r0, r1, b)) < 0)
        return rc;
    b->row0 = r0;
    b->n_rows = n;
    b->n_cols = m->info.n_cols;
    if (b->dense || b->indptr[0] != 0)
        return sc_fail(SC_EFORMAT, "%s: callback block is not CSR from 0",
                       m->label);
    for (int64_t i = 0; i < n; i++)
        if (b->indptr[i + 1] < b->indptr[i])
            return sc_fail(SC_EFORMAT, "%s: row %lld: indptr decreases",
                           m->label, (long long)(r0 + i));
    if ((size_t)b->indptr[n] > b->cap_nnz || (size_t)b->indptr[n] > b->cap_vals)
        return sc_fail(SC_EFORMAT, "%s: callback block overflows its buffers",
                       m->label);
    for (int64_t k = 0; k < b->indptr[n]; k++)
        if (b->indices[k] < 0 || b->indices[k] >= m->info.n_cols)
            return sc_fail(SC_EFORMAT,
                           "%s: row block at %lld: column %d out "
                           "of range",
                           m->label, (long long)r0, (int)b->indices[k]);
    return 0;
}

/* ------------------------------------------------------------------------ */

int sc_mat_read_rows(sc_mat *m, int64_t r0, int64_t r1, sc_block *b)
{
    int rc;

    if (r0 < 0 || r1 < r0 || r1 > m->info.n_rows)
        return sc_fail(SC_EINVAL,
                       "%s: rows [%lld, %lld) out of range "
                       "[0, %lld)",
                       m->label, (long long)r0, (long long)r1,
                       (long long)m->info.n_rows);
    b->row0 = r0;
    b->n_rows = r1 - r0;
    b->n_cols = m->info.n_cols;
    if (m->cb_read)
        rc = read_callback(m, r0, r1, b);
    else if (m->d_dense > 0)
        rc = read_dense_h5(m, r0, r1, b);
    else if (m->d_data > 0)
        rc = m->info.fmt == SC_MAT_CSC ? read_csc_h5(m, r0, r1, b)
                                       : read_csr_h5(m, r0, r1, b);
    else
        rc = read_mem(m, r0, r1, b);
    if (rc < 0) {
        b->n_rows = 0;
        b->dense = 0;
        if (b->indptr)
            b->indptr[0] = 0;
    }
    return rc;
}

int sc_mat_sum(sc_mat *m, double *sum, int64_t *nnz)
{
    sc_block b = SC_BLOCK_INIT;
    int64_t step, nr = m->info.n_rows, cnt = 0;
    double s = 0;
    int rc = 0;

    /* About 8M values per block. */
    step = m->info.nnz && nr ? (int64_t)((double)nr * 8e6 / (double)m->info.nnz)
                             : nr;
    if (step < 1)
        step = 1;
    for (int64_t r = 0; r < nr; r += step) {
        int64_t e = r + step < nr ? r + step : nr;
        if ((rc = sc_mat_read_rows(m, r, e, &b)) < 0)
            break;
        int64_t k = sc_block_nnz(&b);
        for (int64_t i = 0; i < k; i++) {
            s += b.vals[i];
            if (!b.dense || b.vals[i] != 0)
                cnt++;
        }
    }
    sc_block_release(&b);
    *sum = rc < 0 ? 0 : s;
    *nnz = rc < 0 ? 0 : cnt;
    return rc;
}
