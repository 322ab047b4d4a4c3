/* sc_pack: the packed, pre-shuffled cell file of sc-stream pack
 * (sc-pack(5)). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_PACK_H
#define SC_PACK_H

#include <stddef.h>
#include <stdint.h>

#include "sc_batch.h"
#include "sc_err.h"

/*
 * A pack holds the cells of a stream, written once, in the order the
 * stream gave them (shuffled): uncompressed CSR arrays (i64 indptr, i32
 * gene indices into the pack's gene list, f32 values) and per cell its
 * label codes, its source dataset and its row there. A fixed header names
 * where each array starts (multiples of 4096, so that the file is mapped
 * and used in place); the genes, label vocabularies and source datasets
 * are an sc-batch(5) header frame. Little-endian, like sc-batch.
 */

#define SC_PACK_VERSION 1

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
 * missing); dataset indexes the header's datasets. */
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

/* Copy entries [E0, E1) of the pack into IDX and VAL with pread (no
 * page of the pack enters the process's resident set: its RSS stays
 * bounded by its buffers). Thread-safe. 0 or SC_EIO. */
SC_MUST_CHECK int sc_pack_read(const sc_pack *p, uint64_t e0, uint64_t e1,
                               int32_t *idx, float *val);

/* Check the N gene indices IDX, read from P (sc_pack_read checks its own;
 * a copy from sc_pack_data's mapping is checked with this): each must be a
 * column of the header's genes, so that a damaged pack never hands an
 * out-of-range index on. Linear in N. Thread-safe. 0 or SC_ECORRUPT naming
 * the pack. */
SC_MUST_CHECK int sc_pack_check_indices(const sc_pack *p, const int32_t *idx,
                                        size_t n);

void sc_pack_close(sc_pack *p);

/*
 * Writer: sc_pack_writer_open(PATH, H) takes the header (genes, labels,
 * datasets, info as the pack's), sc_pack_writer_add appends the cells of
 * a CSR batch (its padding cells left out), sc_pack_writer_finish writes
 * the arrays and renames the file into place (nothing under PATH until
 * then: a failed or abandoned writer leaves no file). The values go to a
 * scratch file beside PATH until the end (the file system of PATH needs
 * room for about twice the values). One thread.
 */
typedef struct sc_pack_writer sc_pack_writer;
SC_MUST_CHECK int sc_pack_writer_open(const char *path,
                                      const sc_batch_header *h,
                                      sc_pack_writer **out);
SC_MUST_CHECK int sc_pack_writer_add(sc_pack_writer *w, const sc_batch *b);
SC_MUST_CHECK int sc_pack_writer_finish(sc_pack_writer *w);
/* Free W; the file is discarded unless sc_pack_writer_finish succeeded. */
void sc_pack_writer_free(sc_pack_writer *w);

#endif
