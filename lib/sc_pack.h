/* sc_pack: the packed, pre-shuffled cell file of sc-stream pack
 * (sc-pack(5)). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_PACK_H
#define SC_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "sc_batch.h"
#include "sc_err.h"
#include "sc_objstore.h"

/*
 * A pack holds the cells of a stream, written once, in the order the
 * stream gave them (shuffled): uncompressed CSR arrays (i64 indptr, i32
 * gene indices into the pack's gene list, f32 values) and per cell its
 * label codes, its source dataset and its row there. A fixed header names
 * where each array starts (multiples of 4096, so that the file is mapped
 * and used in place); the genes, label vocabularies and source datasets
 * are an sc-batch(5) header frame. Little-endian, like sc-batch.
 */

/*
 * Version 2 (sc_pack_writer_open with SC_PACK_VARINT) stores each cell's
 * entries as one compressed record instead of the indices and values
 * arrays: a mode byte, then the gene indices as varints of the gaps
 * between ascending indices (zigzag deltas when a cell's indices do not
 * ascend) and the values as varints when they are all small non-negative
 * integers (UMI counts), else as raw f32; an array of u64 byte offsets
 * (one per cell, and the end) locates the records, so a cell is read on
 * its own. Version 1 packs are still read.
 */
#define SC_PACK_VERSION 2

/* How a pack stores its entries (sc_pack_writer_open). */
enum { SC_PACK_RAW = 1, SC_PACK_VARINT = 2 };

typedef struct sc_pack sc_pack;

/* 1 when PATH starts like a pack, 0 when not (or cannot be read). */
int sc_pack_probe(const char *path);

/* Open and map PATH, checking the fixed header (magic, version, checksum,
 * the file's size against the recorded one, array bounds), indptr (from 0,
 * ascending, ending at nnz), dataset indices and label codes. Gene indices
 * are not checked here (that would read the whole file): a reader that
 * copies them unchecked relies on the writer. Returns 0, SC_EFORMAT (not a
 * pack, newer version), SC_ECORRUPT (damaged or cut short) or SC_EIO, with
 * the file named in the message. */
SC_MUST_CHECK int sc_pack_open(const char *path, sc_pack **out);

/* What the pack holds (borrowed until sc_pack_close): genes, label
 * vocabularies, source datasets and settings (info "pack_*"). */
const sc_batch_header *sc_pack_header(const sc_pack *p);

/* The arrays, in the mapping (borrowed until sc_pack_close): indptr has
 * n_cells + 1 entries; labels(k) is label column k's code per cell (-1:
 * missing); dataset indexes the header's datasets. indices and values are
 * NULL in a compressed pack (read the entries with sc_pack_cells). */
typedef struct sc_pack_arrays {
    uint64_t n_cells, nnz;
    const int64_t *indptr;
    const int32_t *indices;
    const float *values;
    const int32_t *dataset;
    const int64_t *row;
    size_t n_labels;
    const int32_t *labels; /* column-major: labels[k * n_cells + i] */
} sc_pack_arrays;
const sc_pack_arrays *sc_pack_data(const sc_pack *p);

/* The pack's version (1: raw arrays, 2: compressed records) and the
 * bytes its entries take in the file (indices and values, or records and
 * their offsets). */
int sc_pack_version(const sc_pack *p);
uint64_t sc_pack_entry_bytes(const sc_pack *p);

/* Scratch memory of one thread for sc_pack_cells (zero it first; free
 * it with sc_pack_buf_release). */
typedef struct sc_pack_buf {
    unsigned char *p;
    size_t cap;
} sc_pack_buf;
void sc_pack_buf_release(sc_pack_buf *b);

/* Copy the entries of cells [R0, R1) (indptr[R0] to indptr[R1]) into IDX
 * and VAL, decoding a compressed pack and checking each decoded gene index
 * against the genes. From the mapping, or with PREAD with pread(2) (no
 * page of the pack enters the process's resident set). Pages of the
 * mapping that were read are dropped from the resident set once more than
 * the window (sc_pack_set_window) was read since the last drop, so that
 * RSS stays bounded either way. Thread-safe with one BUF per thread.
 * 0, SC_ECORRUPT (with the cell named) or SC_EIO. */
SC_MUST_CHECK int sc_pack_cells(sc_pack *p, uint64_t r0, uint64_t r1, int pread,
                                sc_pack_buf *buf, int32_t *idx, float *val);
/* The bytes of mapped entries read between drops [64 MiB, at least 1 MiB]. */
void sc_pack_set_window(sc_pack *p, uint64_t bytes);

/* Check the N gene indices IDX, read from P (sc_pack_cells checks its own;
 * a copy from sc_pack_data's mapping is checked with this): each must be a
 * column of the header's genes, so that a damaged pack never hands an
 * out-of-range index on. Linear in N. Thread-safe. 0 or SC_ECORRUPT naming
 * the pack. */
SC_MUST_CHECK int sc_pack_check_indices(const sc_pack *p, const int32_t *idx,
                                        size_t n);

void sc_pack_close(sc_pack *p);

/*
 * A pack at an s3:// or http(s):// location (sc_objstore) is opened like a
 * file: its fixed header, header frame and per-cell arrays are fetched
 * into memory and checked as a file's are; its entries are read on demand
 * (sc_pack_cells always reads them as with PREAD) through a block cache on
 * disk with several ranged GETs in flight. How: O (retries, timeouts) and
 * CO (cache directory, size, block size, requests at once; CO->dir NULL:
 * sc_obj_default_cache), for every remote pack opened afterwards. Call
 * before other threads open packs.
 */
void sc_pack_set_remote(const sc_http_opts *o, const sc_obj_cache_opts *co);

/*
 * The record of one cell of M entries in a version 2 pack (sc-pack(5)):
 * sc_pack_record_encode writes at most sc_pack_record_bound(M) bytes to
 * OUT (gene indices >= 0) and returns how many; sc_pack_record_decode
 * reads the record REC of LEN bytes back, checking that it is whole and
 * not longer, and that every gene index is below N_GENES: NULL, or what is
 * wrong with it.
 */
size_t sc_pack_record_bound(uint64_t m);
size_t sc_pack_record_encode(const int32_t *idx, const float *val, uint64_t m,
                             unsigned char *out);
const char *sc_pack_record_decode(const unsigned char *rec, size_t len,
                                  uint64_t m, uint64_t n_genes, int32_t *idx,
                                  float *val);

/*
 * Writer: sc_pack_writer_open(PATH, H, CODEC) takes the header (genes,
 * labels, datasets, info as the pack's) and how entries are stored
 * (SC_PACK_RAW: version 1; SC_PACK_VARINT: version 2), sc_pack_writer_add
 * appends the cells of
 * a CSR batch (its padding cells left out), sc_pack_writer_finish writes
 * the arrays and renames the file into place (nothing under PATH until
 * then: a failed or abandoned writer leaves no file). The cell records (and
 * with SC_PACK_RAW the values) go to scratch files beside PATH until the
 * end (the file system of PATH needs room for about 1.5 times the pack).
 * One thread.
 */
typedef struct sc_pack_writer sc_pack_writer;
SC_MUST_CHECK int sc_pack_writer_open(const char *path,
                                      const sc_batch_header *h, int codec,
                                      sc_pack_writer **out);
SC_MUST_CHECK int sc_pack_writer_add(sc_pack_writer *w, const sc_batch *b);
SC_MUST_CHECK int sc_pack_writer_finish(sc_pack_writer *w);
/* Free W; the file is discarded unless sc_pack_writer_finish succeeded. */
void sc_pack_writer_free(sc_pack_writer *w);

#endif
