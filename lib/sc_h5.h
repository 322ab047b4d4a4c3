/* sc_h5: small HDF5 helpers shared by the h5ad, 10x and loom modules. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_H5_H
#define SC_H5_H

#include <hdf5.h>
#include <stdint.h>

#include "sc_adata.h"

/* Types as h5py writes them: vlen UTF-8 strings (NULLTERM) and the bool enum
 * (int8, FALSE=0/TRUE=1). The caller closes the returned type. */
hid_t sc_h5_str_type(void);
hid_t sc_h5_bool_type(void);

/* Little-endian file type and native memory type for DTYPE (not STR/BOOL
 * for the file type: use the functions above). Do not close these: they
 * are predefined, except for SC_DT_BOOL and SC_DT_STR, which return new
 * types the caller closes (check with sc_h5_type_is_owned). */
hid_t sc_h5_file_type(sc_dtype t);
hid_t sc_h5_mem_type(sc_dtype t);
int sc_h5_type_is_owned(sc_dtype t);

/* The model dtype for an HDF5 type: integer/float/bool-enum/string;
 * SC_DT_NONE for anything else (compound, reference, other enums). Float16
 * maps to SC_DT_F32. */
sc_dtype sc_h5_dtype_of(hid_t type);

/* A file HDF5 could not close (a write failed inside H5Fclose, which
 * HDF5 1.10 leaves half destroyed): skip HDF5's shutdown at exit, which
 * would crash on it. The library's shutdown runs at exit otherwise (the
 * atexit hook is ours, registered before HDF5 initialises). Thread-safe. */
void sc_h5_abandon_file(void);

/* Fail with CODE and "WHAT: <innermost HDF5 message>" (on one line). */
int sc_h5_fail(int code, const char *fmt, ...) SC_PRINTF(2, 3);

/* 1 if OBJ has an attribute NAME. */
int sc_h5_has_attr(hid_t obj, const char *name);

/* Read string attribute NAME of OBJ (any string type, scalar or first
 * element of a 1-element array). *OUT is malloc'd. SC_ENOTFOUND if absent. */
SC_MUST_CHECK int sc_h5_attr_str(hid_t obj, const char *name, char **out);

/* Read a 1-D string attribute (or scalar string, giving one element) into a
 * malloc'd array of malloc'd strings. Numeric empty arrays (h5py's float64[0]
 * column-order) give n = 0. SC_ENOTFOUND if absent. */
SC_MUST_CHECK int sc_h5_attr_strs(hid_t obj, const char *name, char ***out,
                                  int64_t *n);

/* Read a numeric attribute (scalar or array) as int64 values; up to MAX
 * values, count in *n. SC_ENOTFOUND if absent. */
SC_MUST_CHECK int sc_h5_attr_i64(hid_t obj, const char *name, int64_t *vals,
                                 int max, int *n);

/* Read a bool-ish attribute (enum FALSE/TRUE, or any integer). */
SC_MUST_CHECK int sc_h5_attr_bool(hid_t obj, const char *name, int *out);

/* Write attributes as h5py does: scalar vlen UTF-8 string; 1-D vlen string
 * array (n may be 0); int64 array; bool enum scalar. */
SC_MUST_CHECK int sc_h5_write_attr_str(hid_t obj, const char *name,
                                       const char *val);
SC_MUST_CHECK int sc_h5_write_attr_strs(hid_t obj, const char *name,
                                        const char *const *vals, int64_t n);
SC_MUST_CHECK int sc_h5_write_attr_i64(hid_t obj, const char *name,
                                       const int64_t *vals, int n);
SC_MUST_CHECK int sc_h5_write_attr_bool(hid_t obj, const char *name, int v);

/* Read all of dataset DS (numeric, bool or string, any rank up to
 * SC_MAX_RANK) into a new SC_K_ARRAY element called NAME. Strings of any
 * HDF5 string type (vlen/fixed, ASCII/UTF-8, any padding) become UTF-8
 * char*. LABEL names the dataset in error messages. Refuses sizes that do
 * not fit in memory with SC_EFORMAT rather than crashing. */
SC_MUST_CHECK int sc_h5_read_array(hid_t ds, const char *name,
                                   const char *label, sc_elem **out);

/* Open dataset PATH under LOC, read it with sc_h5_read_array and close it.
 * SC_EFORMAT naming LABEL when PATH is not a dataset. */
SC_MUST_CHECK int sc_h5_read_path(hid_t loc, const char *path, const char *name,
                                  const char *label, sc_elem **out);

/* An sc_adata priv_free for readers whose priv is a malloc'd hid_t of an
 * open file: closes the file and frees it. */
void sc_h5_file_priv_free(void *priv);

/* Read elements [off, off + n) of a 1-D dataset into BUF as memory type of
 * DTYPE (numeric only), with HDF5 converting. */
SC_MUST_CHECK int sc_h5_read_1d(hid_t ds, int64_t off, int64_t n,
                                sc_dtype dtype, void *buf, const char *label);

/* Length of a 1-D dataset (or the first dimension), and its rank. */
SC_MUST_CHECK int sc_h5_shape(hid_t ds, int *rank, int64_t *dims,
                              const char *label);

/* Link / object queries that never print. */
int sc_h5_exists(hid_t loc, const char *path);   /* link exists */
int sc_h5_is_group(hid_t loc, const char *path); /* 1 group, 0 not */
int sc_h5_is_dataset(hid_t loc, const char *path);

/* Names of the children of group G in creation order if tracked, else name
 * order. *OUT malloc'd array of malloc'd strings. */
SC_MUST_CHECK int sc_h5_list(hid_t g, char ***out, int64_t *n);

/* Free an array of N malloc'd strings and the array. */
void sc_strv_free(char **v, int64_t n);

/* Check the filters of dataset DS are all available (deflate, shuffle,
 * fletcher32, LZF, ...). Fails with SC_EUNSUP naming the filter id and the
 * dataset otherwise. */
SC_MUST_CHECK int sc_h5_check_filters(hid_t ds, const char *label);

/*
 * Declared sizes (issue 15): a corrupt or hostile header may declare any
 * shape. Before allocating for it, a reader checks that
 * - the declared bytes (values x value size) are at most SC_MAX_INFLATE
 *   times the file size: deflate (HDF5's gzip filter, .gz files) cannot
 *   expand more than 1032:1, and no other filter we read does better, so a
 *   larger dataset would have to consist of unwritten chunks (a fill value);
 * - what is loaded into memory fits the memory budget (sc_mem_budget): the
 *   available memory when the process starts reading (MemAvailable of
 *   /proc/meminfo, else the physical memory), or RLIMIT_AS / RLIMIT_DATA
 *   when they are lower.
 * Both fail with SC_EFORMAT naming LABEL.
 */
#define SC_MAX_INFLATE 1032
int64_t sc_mem_budget(void);
/* N values of SIZE bytes to be allocated for LABEL fit the memory budget
 * (negative N: never). */
SC_MUST_CHECK int sc_check_mem(const char *label, int64_t n, int64_t size);
/* Dataset DS's declared size fits its file (and the memory when LOAD). */
SC_MUST_CHECK int sc_h5_check_declared(hid_t ds, const char *label, int load);

/* Open PATH read-only with the error policy installed. SC_EFORMAT with a
 * clear message when it is not HDF5 or truncated. */
SC_MUST_CHECK int sc_h5_open_ro(const char *path, hid_t *out);

/* The address, stored size and filter mask of every chunk of the 1-D
 * chunked dataset DSET (CHUNK elements per chunk, N_CHUNKS of them) in one
 * walk of its chunk index, read through FD (the file, opened for reading).
 * Addresses are file offsets (the user block included). Chunks never
 * written get size 0. Returns 0, or SC_EUNSUP when the index
 * is not a version-1 B-tree it reads (ask HDF5 per chunk then), or
 * SC_ENOMEM. */
int sc_h5_chunk_table(hid_t dset, int fd, int64_t chunk, int64_t n_chunks,
                      uint64_t *addr, uint32_t *size, uint32_t *mask);

#endif
