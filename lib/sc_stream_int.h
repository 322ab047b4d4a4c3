/* sc_stream_int: declarations shared by the parts of the sc_stream module. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_STREAM_INT_H
#define SC_STREAM_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sc_adata.h"
#include "sc_err.h"
#include "sc_map.h"

/* An obs column as categories (strings) and int32 codes, -1 missing.
 * Numbers and bools are turned into strings ("%.17g", "True"/"False"), so
 * filters, labels and weights treat every column alike. */
typedef struct ss_col {
    char *name;
    int64_t n_cats;
    char **cats;
    int32_t *codes; /* n_obs */
} ss_col;

/* What the index keeps of one dataset (sc_stream_index.c). */
typedef struct ss_meta {
    int64_t n_obs, n_vars;
    char **var; /* n_vars gene ids: an interned list, shared by the
                 * datasets with the same var (read only) */
    struct ss_vlist *vl;
    uint32_t *nnz;  /* stored entries per row */
    int64_t chunk;  /* entries per compressed chunk of the values, 0: none */
    char *organism; /* or NULL */
    size_t n_cols;
    ss_col *cols;
} ss_meta;

/* Load the index of PATH for matrix MATRIX with at least the columns COLS
 * (missing obs columns are fine: they are absent from the result), from
 * CACHE_DIR when a valid entry holds them all, else from the file (then
 * the entry is written, with the union of the columns). CACHE_DIR NULL: no
 * cache; "": the entry is PATH.scidx beside the dataset. *HIT tells whether the
 * cache answered. */
SC_MUST_CHECK int ss_meta_load(const char *path, const char *matrix,
                               const char *cache_dir, const char *const *cols,
                               size_t n_cols, ss_meta **out, int *hit);
void ss_meta_free(ss_meta *m);
/* The index of a pack (sc_pack.h): its cells, genes and those of COLS
 * that are among its label columns. */
struct sc_pack;
SC_MUST_CHECK int ss_meta_from_pack(const struct sc_pack *p,
                                    const char *const *cols, size_t n_cols,
                                    ss_meta **out);
/* The column NAME, or NULL. */
const ss_col *ss_meta_col(const ss_meta *m, const char *name);

/* An open matrix of a dataset for reading rows (an h5ad opened directly,
 * other formats through sc_adata_open). */
typedef struct ss_src ss_src;
SC_MUST_CHECK int ss_src_open(const char *path, const char *matrix,
                              ss_src **out);
sc_mat *ss_src_mat(ss_src *s);

/* Rows as the stream uses them: CSR (or dense row-major) with float32
 * values and int32 column indices; indptr relative to the first row. */
typedef struct ss_rows {
    int64_t n_rows, n_cols;
    int dense;
    int64_t *indptr;
    int32_t *indices;
    float *vals;
    size_t cap_rows, cap_idx, cap_vals;
} ss_rows;
SC_MUST_CHECK int ss_rows_reserve(ss_rows *b, int64_t n_rows, int64_t nnz);
void ss_rows_release(ss_rows *b);

/* A CSR h5ad matrix read with pread and libdeflate (sc_stream_raw.c):
 * opened on FILE (an hid_t) for the group GPATH, or SC_EUNSUP when its
 * layout, filters or types are not handled (then sc_mat reads it). One
 * thread at a time. */
typedef struct ss_raw ss_raw;
SC_MUST_CHECK int ss_raw_open(const char *path, int64_t file, const char *gpath,
                              int64_t n_rows, int64_t n_cols, ss_raw **out);
/* Rows [R0, R1) into B. */
SC_MUST_CHECK int ss_raw_read(ss_raw *r, int64_t r0, int64_t r1, ss_rows *b);
void ss_raw_close(ss_raw *r);
/* Whether R reads without calling HDF5 (every chunk located at open), so
 * that readers of one file can run on several threads at once. */
int ss_raw_threadsafe(const ss_raw *r);
/* Let R go of its HDF5 datasets when it is thread-safe, so that the file's
 * HDF5 handle can be closed and R reads through its fd alone; SC_EUNSUP
 * (R unchanged) when it still needs HDF5. */
int ss_raw_detach(ss_raw *r);
/* A second reader of the same file as the detached R, with its own fd,
 * chunk cache and inflater, made without HDF5. */
SC_MUST_CHECK int ss_raw_clone(const ss_raw *r, ss_raw **out);
/* Totals over the process: compressed bytes inflated, their inflated
 * size, the inflated bytes used, seconds spent inflating (all threads). */
void ss_raw_stats(uint64_t *in, uint64_t *out, uint64_t *used, double *secs);
/* The raw reader of S, or NULL. */
ss_raw *ss_src_raw(ss_src *s);
/* Reader W (0 <= W < SS_RAW_PARTS) of S, opened on first use, so that W
 * threads read one file at once; NULL when S has no raw reader. */
#define SS_RAW_PARTS 8
ss_raw *ss_src_raw_part(ss_src *s, int w);
void ss_src_close(ss_src *s);

/* The matrix element of AD called MATRIX ("X", "raw", or a layer). */
SC_MUST_CHECK int ss_pick_matrix(sc_adata *ad, const char *matrix,
                                 sc_mat **out);

/* Append a copy of S to the growable array *V of *N strings (capacity
 * *CAP). 0 or SC_ENOMEM. */
SC_MUST_CHECK int ss_strv_push(char ***v, size_t *n, size_t *cap,
                               const char *s);

#endif
