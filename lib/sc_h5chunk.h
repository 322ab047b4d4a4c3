/* sc_h5chunk: 1-D HDF5 datasets written and read chunk by chunk, with
 * the deflate work done by libdeflate in worker threads. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_H5CHUNK_H
#define SC_H5CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * libhdf5 compresses and inflates chunks with zlib, one at a time, while it
 * holds its global lock: on gzip h5ad files that is most of the time of a
 * read or a write. These helpers move that work out: the writer compresses
 * whole chunks with libdeflate (several at once on a pool of threads) and
 * stores them with H5Dwrite_chunk; the reader fetches the stored chunks
 * with H5Dread_chunk and inflates them the same way. The bytes on disk are
 * what libhdf5's deflate filter would write (zlib streams), so any HDF5
 * reader reads them.
 *
 * Only datasets whose filter pipeline is deflate alone qualify, holding
 * little-endian values whose memory layout is the file's; the functions say
 * so with SC_EUNSUP and the caller falls back to plain H5Dread/H5Dwrite.
 * Dataset ids are hid_t values passed as int64_t (hdf5.h stays out of this
 * header). A handle is used by one thread; its workers are its own.
 */

typedef struct sc_h5chunk sc_h5chunk;

/* Start appending to DS, an empty, extendible, chunked 1-D dataset with
 * only the deflate filter, of ITEMSIZE-byte values, compressing at LEVEL
 * (1..9, libdeflate's scale) with THREADS workers (<= 1: in this thread).
 * *OUT owns the writer: finish with sc_h5chunk_close(). Returns 0,
 * SC_EUNSUP (the dataset does not qualify), SC_EHDF5 or SC_ENOMEM. */
SC_MUST_CHECK int sc_h5chunk_open(int64_t ds, size_t itemsize, int level,
                                  int threads, sc_h5chunk **out);

/* Append N values from BUF (ITEMSIZE bytes each); full chunks are
 * compressed and written in batches. Returns 0, SC_EHDF5 or SC_ENOMEM. */
SC_MUST_CHECK int sc_h5chunk_append(sc_h5chunk *c, const void *buf, size_t n);

/* Write what is left (the last, partial chunk), and free C. With RC < 0
 * (the caller failed) nothing more is written. Returns RC, or the first
 * error of this call. NULL is fine (returns RC). */
int sc_h5chunk_close(sc_h5chunk *c, int rc);

/*
 * Read values [START, START + N) of the 1-D dataset DS into BUF (ITEMSIZE
 * bytes each, the file's layout) by inflating its stored chunks with
 * libdeflate, on THREADS workers. Returns 0, SC_EUNSUP when DS does not
 * qualify (not chunked, other filters, type of another size or byte
 * order), SC_ECORRUPT (a chunk does not inflate to its size), SC_EHDF5 or
 * SC_ENOMEM. LABEL names the data in messages.
 */
SC_MUST_CHECK int sc_h5chunk_read(int64_t ds, int64_t start, int64_t n,
                                  size_t itemsize, void *buf, int threads,
                                  const char *label);

/*
 * Check the stored chunks of DS that meet the box [START, START + COUNT)
 * (RANK dimensions, at most 8) before libhdf5 reads them: when DS is
 * chunked with deflate as its only filter, every such chunk must inflate
 * (libdeflate) to exactly its full size. libhdf5 1.10 does not check this:
 * it copies a whole chunk out of a shorter inflated buffer, a heap
 * over-read that gives garbage values. Returns 0 (the chunks are sound, or
 * DS is not such a dataset), SC_ECORRUPT naming LABEL and the chunk,
 * SC_EHDF5 or SC_ENOMEM. With SEEN (the caller's, NULL at first, free()
 * it), the chunks already checked are remembered there and not inflated
 * again by later calls on DS.
 */
SC_MUST_CHECK int sc_h5chunk_check_box(int64_t ds, int rank,
                                       const int64_t *start,
                                       const int64_t *count, const char *label,
                                       unsigned char **seen);

#endif
