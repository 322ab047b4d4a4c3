/* sc_adata: the in-memory AnnData model shared by every reader and writer. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_ADATA_H
#define SC_ADATA_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * Model
 * -----
 * A dataset (sc_adata) is a tree of elements (sc_elem), as in the AnnData
 * on-disk spec: obs and var are dataframes, obsm/varm/obsp/varp/layers/uns are
 * dicts, raw is a dict with X, var and varm.  Everything is loaded into memory
 * except large 2-D matrices (X, layers, raw/X, and every sparse matrix), which
 * are SC_K_MATRIX elements backed by an sc_mat: a reader of row blocks that
 * never loads the whole matrix.  Readers of every input format (h5ad of any
 * generation, 10x HDF5 and MTX, loom) produce this model; one writer writes it
 * as an h5ad that anndata 0.8 reads.
 *
 * Threading: an sc_adata and its sc_mat handles are used by one thread at a
 * time (HDF5 in Debian serialises calls through a global lock anyway).
 */

/* Element data types. Strings are UTF-8, NUL-terminated, stored as char*. */
typedef enum sc_dtype {
    SC_DT_NONE = 0,
    SC_DT_BOOL, /* uint8_t 0/1 */
    SC_DT_I8,
    SC_DT_I16,
    SC_DT_I32,
    SC_DT_I64,
    SC_DT_U8,
    SC_DT_U16,
    SC_DT_U32,
    SC_DT_U64,
    SC_DT_F32,
    SC_DT_F64,
    SC_DT_STR, /* char *: array of pointers, each owned by the element */
} sc_dtype;

/* Size in bytes of one value (SC_DT_STR: sizeof(char *)). */
size_t sc_dtype_size(sc_dtype t);
/* numpy-style name: "bool", "int8", ..., "float64", "str". */
const char *sc_dtype_name(sc_dtype t);
/* 1 for integer types (not bool), 0 otherwise. */
int sc_dtype_is_int(sc_dtype t);
int sc_dtype_is_float(sc_dtype t);

typedef enum sc_kind {
    SC_K_DICT,        /* children */
    SC_K_DATAFRAME,   /* children = columns in order; index; n_rows */
    SC_K_ARRAY,       /* dense array, rank 0 (scalar) .. SC_MAX_RANK */
    SC_K_CATEGORICAL, /* codes (I32 array, -1 = missing) + categories */
    SC_K_NULLABLE,    /* values array + mask (1 = missing) */
    SC_K_MATRIX,      /* 2-D matrix read in row blocks through mat */
    SC_K_RECARRAY,    /* compound records: children = one array per field */
    SC_K_NULL,        /* None (anndata >= 0.12 `null`) */
} sc_kind;

#define SC_MAX_RANK 8

typedef struct sc_mat sc_mat;
typedef struct sc_elem sc_elem;

/* An element. Fields not used by its kind are zero/NULL. The tree owns all
 * children, strings and buffers; free it with sc_elem_free(). */
struct sc_elem {
    char *name; /* key in the parent (NULL for a root) */
    sc_kind kind;

    /* SC_K_DICT, SC_K_DATAFRAME, SC_K_RECARRAY: ordered children. */
    size_t n_child;
    sc_elem **child;

    /* SC_K_DATAFRAME */
    char *index_name; /* the `_index` attribute ("_index" by default) */
    sc_elem *index;   /* SC_K_ARRAY of SC_DT_STR, n_rows long */
    int64_t n_rows;

    /* SC_K_ARRAY: data is row-major; rank 0 = scalar (one value). */
    sc_dtype dtype;
    int rank;
    int64_t shape[SC_MAX_RANK];
    void *data;

    /* SC_K_CATEGORICAL: codes are I32 (n = shape[0]), categories an array
     * element (strings or numbers); ordered flag. */
    sc_elem *codes;
    sc_elem *categories;
    int ordered;

    /* SC_K_NULLABLE: values (an SC_K_ARRAY of ints, bools or strings) and a
     * mask of the same length (1 = missing). */
    sc_elem *values;
    uint8_t *mask;

    /* SC_K_MATRIX */
    sc_mat *mat;
};

/* Number of values in an SC_K_ARRAY (product of the shape, 1 for scalars). */
int64_t sc_elem_count(const sc_elem *e);

/* Constructors. Each returns a new element owned by the caller (or NULL when
 * out of memory; sc_errmsg() is set). NAME is copied (may be NULL). */
sc_elem *sc_elem_new(sc_kind kind, const char *name);
/* Dense array of DTYPE with the given shape; data zeroed (strings NULL). */
sc_elem *sc_elem_new_array(const char *name, sc_dtype dtype, int rank,
                           const int64_t *shape);
/* 1-D string array, strings copied (NULL entries become ""). */
sc_elem *sc_elem_new_strings(const char *name, const char *const *s, int64_t n);
/* Scalars. */
sc_elem *sc_elem_new_string(const char *name, const char *s);
sc_elem *sc_elem_new_f64(const char *name, double v);
sc_elem *sc_elem_new_i64(const char *name, int64_t v);
sc_elem *sc_elem_new_bool(const char *name, int v);
/* A matrix element taking ownership of MAT. */
sc_elem *sc_elem_new_matrix_take(const char *name, sc_mat *mat);

/* Free an element and everything below it. NULL is a no-op. */
void sc_elem_free(sc_elem *e);

/* Append CHILD to a dict/dataframe/recarray, taking ownership (on failure the
 * child is freed). A child of the same name is replaced. */
SC_MUST_CHECK int sc_elem_add_take(sc_elem *parent, sc_elem *child);
/* The child called NAME, or NULL. */
sc_elem *sc_elem_get(const sc_elem *parent, const char *name);
/* Remove and free the child called NAME; returns 1 if found. */
int sc_elem_remove(sc_elem *parent, const char *name);
/* Detach the child called NAME and return it (caller owns), or NULL. */
sc_elem *sc_elem_detach(sc_elem *parent, const char *name);

/* Value I of a column or array as a string: a string array / string scalar,
 * a categorical of strings (through its code) or nullable strings; NULL when
 * out of range, missing (code -1, masked) or not strings. The one reader of
 * a column's string value: callers do not switch on the kind themselves. */
const char *sc_elem_str(const sc_elem *e, int64_t i);
/* 1 if E is a column sc_elem_str reads as text: a 1-D string array, a
 * categorical of strings or nullable strings; 0 otherwise (and for NULL). */
int sc_elem_is_strcol(const sc_elem *e);
/* The string of the one-value string entry NAME of dict D (a scalar of
 * uns, say), or NULL when absent, not a string or not one value. */
const char *sc_elem_get_str(const sc_elem *d, const char *name);
/* The value most rows of string column COL have (sc_elem_str; missing
 * values do not count; a tie goes to the value that comes first), or NULL
 * when none has one or COL is not a string column. Empty strings are
 * missing values too. Borrowed from COL. */
const char *sc_elem_mode_str(const sc_elem *col);
/* The organism of a dataset as its uns and obs say it, the one rule of
 * every tool: uns 'organism_ontology_term_id' (one string), else the value
 * most cells have in obs 'organism_ontology_term_id' (an NCBITaxon id);
 * with NAMES non-zero, for callers that resolve names
 * (sc_genes_find_species), else the same two for 'organism' (the label of
 * older layouts). NULL when none; borrowed from UNS / OBS. */
const char *sc_elem_organism(const sc_elem *uns, const sc_elem *obs, int names);
/* Value I of a numeric/bool array as double (NaN if out of range). */
double sc_elem_num(const sc_elem *e, int64_t i);

/* Categorical column from strings: categories are the distinct values in
 * first-seen order (sorted if SORT), NULL values become code -1. */
sc_elem *sc_elem_new_categorical_from_strings(const char *name,
                                              const char *const *s, int64_t n,
                                              int sort);

/* Deep copy (matrix elements: SC_K_MATRIX children are not copied, the copy
 * gets mat == NULL). */
sc_elem *sc_elem_copy(const sc_elem *e);

/* ------------------------------------------------------------------------ */
/* Matrices read in row blocks                                              */

typedef enum sc_mat_fmt {
    SC_MAT_CSR,     /* sparse, rows compressed */
    SC_MAT_CSC,     /* sparse, columns compressed */
    SC_MAT_DENSE,   /* row-major dense */
    SC_MAT_DENSE_T, /* stored transposed (loom: genes x cells) */
} sc_mat_fmt;

/* A block of rows [row0, row0 + n_rows) of a matrix, always in CSR form for
 * sparse matrices, or dense row-major when `dense` is set. Caller-owned and
 * reusable: initialise with SC_BLOCK_INIT, release with sc_block_release().
 * Values are converted to double (exact for every integer up to 2^53 and for
 * float32). Column indices are int32 (n_cols < 2^31 is checked). */
typedef struct sc_block {
    int64_t row0, n_rows, n_cols;
    int dense;
    int64_t *indptr;  /* sparse: n_rows + 1 entries, indptr[0] == 0 */
    int32_t *indices; /* sparse: indptr[n_rows] entries */
    double *vals;     /* sparse: nnz entries; dense: n_rows * n_cols */
    size_t cap_rows, cap_nnz, cap_vals;
} sc_block;
#define SC_BLOCK_INIT                                                          \
    {                                                                          \
        0                                                                      \
    }
void sc_block_release(sc_block *b);
/* Number of stored values of the block (dense: n_rows * n_cols). */
int64_t sc_block_nnz(const sc_block *b);

/* Properties of a matrix. */
typedef struct sc_mat_info {
    sc_mat_fmt fmt;
    sc_dtype dtype; /* stored value type */
    int64_t n_rows, n_cols;
    int64_t nnz;           /* stored entries (dense: n_rows * n_cols) */
    sc_dtype index_dtype;  /* sparse: stored indices type */
    sc_dtype indptr_dtype; /* sparse: stored indptr type */
} sc_mat_info;

void sc_mat_get_info(const sc_mat *m, sc_mat_info *info);

/* Read rows [r0, r1) into BLK (resized as needed). Checks the stored
 * structure of the part read (indptr monotone and within nnz, column indices
 * < n_cols) and fails with SC_EFORMAT naming the matrix otherwise. */
SC_MUST_CHECK int sc_mat_read_rows(sc_mat *m, int64_t r0, int64_t r1,
                                   sc_block *blk);

/* Sum of all values and the number of entries, streaming in row blocks:
 * for sparse matrices the stored entries, for dense ones the non-zeros. */
SC_MUST_CHECK int sc_mat_sum(sc_mat *m, double *sum, int64_t *nnz);

void sc_mat_free(sc_mat *m);

/* Inflate the gzip chunks of an HDF5-backed sparse matrix on THREADS
 * workers (libdeflate) when reading rows; 1 (the default) inflates in the
 * calling thread, still with libdeflate. Other matrices ignore it. */
void sc_mat_set_threads(sc_mat *m, int threads);

/* The HDF5 datasets M reads its stored values from, for a writer that
 * copies them as they are stored (chunks and filters kept) instead of
 * decoding and encoding them again: a CSR matrix whose indptr starts at 0
 * gives data, indices and indptr in IDS[0..2] and returns 3; a row-major dense
 * matrix gives its dataset in IDS[0] and returns 1. Any other matrix (in
 * memory, from a callback, CSC, transposed) returns 0. IDS are hid_t values as
 * int64_t; they stay M's. */
int sc_mat_h5_datasets(const sc_mat *m, int64_t ids[3]);

/* In-memory CSR matrix taking ownership of the three arrays (malloc'd);
 * values are stored as DTYPE on output (conversion happens on write). */
sc_mat *sc_mat_new_csr_take(int64_t n_rows, int64_t n_cols, int64_t *indptr,
                            int32_t *indices, double *vals, sc_dtype dtype);
/* In-memory dense matrix (row-major doubles), taking ownership. */
sc_mat *sc_mat_new_dense_take(int64_t n_rows, int64_t n_cols, double *vals,
                              sc_dtype dtype);

/* Make room in B for N_ROWS rows and NNZ stored values in CSR form
 * (indptr, indices, vals). For sources that fill blocks themselves.
 * Returns 0, SC_EINVAL or SC_ENOMEM. */
SC_MUST_CHECK int sc_block_reserve(sc_block *b, int64_t n_rows, int64_t nnz);

/*
 * A CSR matrix whose row blocks come from a function: READ(UD, R0, R1, BLK)
 * fills BLK with rows [R0, R1) in CSR form (make room with
 * sc_block_reserve(); BLK's indptr has room for R1 - R0 + 1 entries and
 * indptr[0] is 0 when it is called) and returns 0 or a negative SC_E* code
 * with the message set. Rows are asked for in any order, but a writer asks
 * in increasing order. NNZ is the exact number of stored values over all
 * rows (writers size their output with it and check it at the end).
 * FREE_FN(UD), if not NULL, is called by sc_mat_free() (and at once when
 * this fails). The block is checked (indptr monotone, columns in range), so
 * a faulty source fails with SC_EFORMAT. Returns the matrix or NULL
 * (sc_errmsg() set). Used by one thread at a time, like every sc_mat.
 */
typedef int (*sc_mat_read_fn)(void *ud, int64_t r0, int64_t r1, sc_block *blk);
sc_mat *sc_mat_new_callback(int64_t n_rows, int64_t n_cols, sc_dtype dtype,
                            int64_t nnz, sc_mat_read_fn read, void *ud,
                            void (*free_fn)(void *ud));

/* HDF5-backed matrices (for importers). FILE is an open hid_t of the file
 * (passed as int64_t to keep hdf5.h out of this header); the matrix does not
 * own it. For sparse matrices the three dataset paths are given; for CSR the
 * logical shape is n_rows x n_cols and indptr has n_rows + 1 entries; for CSC
 * indptr has n_cols + 1 entries. PATH names the matrix in error messages. */
SC_MUST_CHECK int sc_mat_open_h5_sparse(int64_t file, const char *label,
                                        const char *data_path,
                                        const char *indices_path,
                                        const char *indptr_path, sc_mat_fmt fmt,
                                        int64_t n_rows, int64_t n_cols,
                                        sc_mat **out);
/* A 2-D HDF5 dataset; fmt SC_MAT_DENSE (rows = first axis) or
 * SC_MAT_DENSE_T (rows = second axis, as loom stores cells). */
SC_MUST_CHECK int sc_mat_open_h5_dense(int64_t file, const char *label,
                                       const char *path, sc_mat_fmt fmt,
                                       sc_mat **out);

/* ------------------------------------------------------------------------ */
/* Datasets                                                                 */

typedef enum sc_format {
    SC_FMT_UNKNOWN = 0,
    SC_FMT_H5AD,
    SC_FMT_10X_H5_V2, /* Cell Ranger <= 2, one group per genome */
    SC_FMT_10X_H5_V3, /* Cell Ranger >= 3, /matrix with features/ */
    SC_FMT_10X_MTX,   /* MEX folder */
    SC_FMT_LOOM,
} sc_format;

const char *sc_format_name(sc_format f); /* "h5ad", "10x-h5-v3", ... */

typedef struct sc_adata {
    char *path;
    sc_format format;
    char *generation; /* h5ad: "0.8+", "0.7", "pre-0.7"; others: a version */
    int64_t n_obs, n_vars;
    sc_elem *X;   /* SC_K_MATRIX, or NULL when the file has no X */
    sc_elem *obs; /* SC_K_DATAFRAME, n_obs rows */
    sc_elem *var; /* SC_K_DATAFRAME, n_vars rows */
    sc_elem *obsm, *varm, *obsp, *varp, *layers, *uns; /* SC_K_DICT */
    sc_elem *raw; /* NULL, or SC_K_DICT with X, var, varm */
    void *priv;   /* the reader's state (open HDF5 file, ...) */
    void (*priv_free)(void *priv);
} sc_adata;

/* A new empty dataset of n_obs x n_vars: empty dataframes with indices
 * "0".."n-1", empty dicts, no X. */
sc_adata *sc_adata_new(int64_t n_obs, int64_t n_vars);

/* Open any supported input: h5ad (any generation), 10x HDF5 (v2, v3), a 10x
 * MTX folder (or its matrix.mtx[.gz]), loom. The format is detected from the
 * content. On success *OUT owns the dataset; close with sc_adata_close().
 * Errors name PATH and the problem. */
enum {
    SC_OPEN_GEX_ONLY = 1u << 0, /* 10x: keep only "Gene Expression" */
    SC_OPEN_VAR_IDS = 1u << 1,  /* 10x: var index = feature ids */
};
SC_MUST_CHECK int sc_adata_open(const char *path, unsigned flags,
                                sc_adata **out);

/* Per-format openers (used by sc_adata_open; exposed for tests). */
SC_MUST_CHECK int sc_h5ad_open(const char *path, unsigned flags,
                               sc_adata **out);
/* Read the one element at PATH ("obs/cell_type", "var/_index", "uns/x")
 * of an h5ad FILE (an open hid_t, as int64_t) written with the modern
 * encodings (anndata >= 0.8; the root's encoding-type is "anndata"), as
 * sc_h5ad_open would: categoricals, nullables, arrays, strings, dicts.
 * For loaders that need a few columns of many files (sc-stream's index)
 * without reading the whole of obs, var and uns. *OUT is the caller's
 * (NULL for an object that is neither group nor dataset). */
SC_MUST_CHECK int sc_h5ad_read_element(int64_t file, const char *path,
                                       sc_elem **out);
SC_MUST_CHECK int sc_tenx_h5_open(const char *path, unsigned flags,
                                  sc_adata **out);
SC_MUST_CHECK int sc_tenx_mtx_open(const char *path, unsigned flags,
                                   sc_adata **out);
SC_MUST_CHECK int sc_loom_open(const char *path, unsigned flags,
                               sc_adata **out);

/* Read X once, in row blocks: its indptr monotone, every column index in
 * range and every stored chunk inflates. sc_adata_open checks only what it
 * reads (shape, indptr); tools that vouch for a whole file (sc-inspect,
 * sc-register add) call this. 0 when there is no X, else SC_EFORMAT (or
 * SC_EHDF5) with a message naming the file. */
SC_MUST_CHECK int sc_adata_check_x(sc_adata *ad);

/*
 * Open PATH once in a child process (sc_adata_open with FLAGS: the HDF5
 * structure, obs, var, uns are read, X is opened) and wait for it, so that
 * a crash inside libhdf5 on a corrupt file (a SIGSEGV or SIGFPE in the C
 * library, which no check of ours can prevent) is that file's error and not
 * the end of a run: SC_EFORMAT "'F': libhdf5 crashed reading it (signal N)"
 * (or "(exit status N)": the child answers on a pipe, and one that ends
 * without answering, e.g. after a sanitizer's report, died in the open; its
 * stderr is discarded);
 * a child still busy after 120 s plus 1 s per 4 MiB of file (an endless
 * loop in libhdf5, which corrupt global heaps cause) is killed: "'F':
 * libhdf5 hung reading it (no answer in N s)".
 * Returns 0 otherwise, whatever the child's result (the caller's own open
 * then reports any error). MTX files and folders are not probed. Tools call
 * it before the first open of each untrusted input in their per-dataset
 * loops. The child is forked by a probe server: the tool's own binary
 * started again (fork + exec, so that no lock another thread holds is
 * copied into it) once per tool process, single-threaded, ending with the
 * tool. Costs one fork of that small process and one more open of the
 * file; a file probed
 * lately (same device, inode, size, mtime: a hard link, an input named
 * twice) is not probed again. Call it when no
 * other thread is inside HDF5. Test hooks: with $SC_PROBE_CRASH set, a probe
 * of a path containing it dies of SIGSEGV; $SC_PROBE_TIMEOUT sets the time
 * limit in seconds.
 */
SC_MUST_CHECK int sc_adata_probe(const char *path, unsigned flags);

/* Detect the format of PATH without fully opening it. */
sc_format sc_adata_detect(const char *path);

/* Release everything (closes files). NULL is a no-op. */
void sc_adata_close(sc_adata *ad);

/* ------------------------------------------------------------------------ */
/* Writing                                                                  */

struct sc_progress;

typedef struct sc_write_opts {
    int compress_level; /* 0 = none, 1..9 = gzip level; default 4 */
    int64_t block_rows; /* rows per block when streaming matrices; 0 = auto */
    /* Optional: advanced by the rows of every matrix written; its total is
     * set to the number of matrix rows in the dataset. */
    struct sc_progress *progress;
    /* Threads compressing the chunks of sparse matrices (libdeflate, then
     * H5Dwrite_chunk); <= 1: in the calling thread. */
    int threads;
    /* Copy every matrix read straight from an HDF5 file (CSR, or dense by
     * rows: see sc_mat_h5_datasets) as it is stored, chunks and filters
     * kept, without decoding it: for tools that change obs, var or uns
     * only. COMPRESS_LEVEL then applies to what is written anew. A copied
     * matrix is written as the input stored it (index types included);
     * its column indices are not checked (sc_adata_check_x does that). */
    int copy_stored;
} sc_write_opts;
#define SC_WRITE_OPTS_INIT                                                     \
    {                                                                          \
        4, 0, NULL, 1, 0                                                       \
    }

/* Write AD as an h5ad that anndata 0.8 reads (the "anndata-0.8-compatible"
 * profile of docs/h5ad-format.md): modern encodings only, matrices streamed
 * in row blocks (CSR stays CSR, CSC and dense X/layers are written as CSR or
 * dense row blocks), nullable strings re-encoded as categoricals and `null`
 * entries dropped. Written to PATH.tmp.<pid> and renamed; nothing is left at
 * PATH on failure. */
SC_MUST_CHECK int sc_h5ad_write(const sc_adata *ad, const char *path,
                                const sc_write_opts *opts);

/* Install the HDF5 error policy (no automatic printing) and register the LZF
 * filter (id 32000). Idempotent; called by every opener and writer. */
void sc_h5_init(void);

#endif
