/* sc_h5ad_write_int: declarations shared by the sc_h5ad_write*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_H5AD_WRITE_INT_H
#define SC_H5AD_WRITE_INT_H

#include <hdf5.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_adata.h"
#include "sc_err.h"

/* A vlen string is stored as a 16-byte global heap reference. */
#define VLEN_FILE_SIZE 16

/* The state of one sc_h5ad_write call. */
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
    int copy_stored;              /* sc_write_opts.copy_stored */
    int vfd;                      /* the file's descriptor, or -1 */
} wctx;

/* sc_h5ad_write.c: messages, element paths, datasets and groups. */

/* Append "/NAME" to the element path; returns the mark for h5w_ep_pop. The path
 * only serves messages, so an overlong one is cut, not an error. */
size_t h5w_ep_push(wctx *w, const char *name);

void h5w_ep_pop(wctx *w, size_t mark);

/* An HDF5 call failed doing WHAT: the message names file, element, action
 * and HDF5's innermost reason. */
int h5w_h5err(wctx *w, const char *what);

/* A problem with the data itself (shape, type, ...). */
int h5w_bad(wctx *w, int code, const char *fmt, ...) SC_PRINTF(3, 4);

/* Context in front of a message set by an sc_h5 helper. */
int h5w_ctx(wctx *w, int rc);

int h5w_set_encoding(wctx *w, hid_t obj, const char *type, const char *version);

hid_t h5w_file_type(const wctx *w, sc_dtype t);

hid_t h5w_mem_type(const wctx *w, sc_dtype t);

size_t h5w_file_itemsize(sc_dtype t);

/* Create dataset NAME in LOC. FINAL gives the final dimensions; with
 * EXTENDIBLE (rank 1 only) the dataset starts empty with an unlimited
 * maximum and grows by append_1d(). */
int h5w_create_ds(wctx *w, hid_t loc, const char *name, hid_t ftype,
                  size_t itemsize, int rank, const hsize_t *final,
                  int extendible, hid_t *out);

/* Write N values at [*LEN, *LEN + N) of a 1-D dataset, growing it first
 * when EXTEND. *LEN is advanced. */
int h5w_write_1d_at(wctx *w, hid_t ds, hsize_t *len, hsize_t n, int extend,
                    hid_t mtype, const void *buf);

int h5w_close_ds(wctx *w, hid_t ds, int rc);

int h5w_close_group(wctx *w, hid_t g, int rc);

int h5w_create_group(wctx *w, hid_t loc, const char *name, const char *enc,
                     const char *version, int dense_attrs, hid_t *out);

/* Whether S is valid UTF-8 (no overlong forms, surrogates or code points
 * past U+10FFFF): h5py decodes every string as UTF-8, and anndata cannot
 * read a file where that fails. */
int h5w_utf8_valid(const char *s);

/* Write a whole in-memory array (any rank, rank 0 = scalar) as dataset NAME
 * with the matching encoding. Strings may be NULL (written as ""). */
int h5w_write_data(wctx *w, hid_t loc, const char *name, sc_dtype dt, int rank,
                   const int64_t *shape, const void *data);

/* sc_h5ad_write_elem.c: elements other than matrices. */

/* Element E as NAME in LOC, by its kind (None elements are skipped). */
int h5w_write_elem(wctx *w, hid_t loc, const sc_elem *e, const char *name);

/* A dict element as a group of its children. */
int h5w_write_dict(wctx *w, hid_t loc, const sc_elem *e, const char *name);

/* Number of rows of a column, or -1 when the kind has no row count. */
int64_t h5w_elem_rows(const sc_elem *e);

/* sc_h5ad_write_matrix.c: matrices, streamed in row blocks. */

/* A dense or sparse (CSR/CSC) matrix element as NAME in LOC. */
int h5w_write_matrix(wctx *w, hid_t loc, const sc_elem *e, const char *name);

/* Rows per streamed block: opts->block_rows, or ~64 MiB of values. */
int64_t h5w_block_rows(const wctx *w, const sc_mat_info *in);

#endif
