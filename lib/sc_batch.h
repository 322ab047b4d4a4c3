/* sc_batch: the framed binary stream of cell batches (sc-batch(5)). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_BATCH_H
#define SC_BATCH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sc_err.h"

/*
 * The stream (specified in sc-batch(5)) is a sequence of frames: one header
 * frame (genes, vocabularies, datasets, settings), any number of batch
 * frames, one end frame. Every frame carries its length and a CRC-32 (zlib)
 * of its bytes, so a torn or damaged stream is detected. Everything is
 * little-endian; arrays start at multiples of 8 bytes in the payload.
 */

#define SC_BATCH_VERSION 1

/* How a batch stores expression (sc_batch.layout). */
enum {
    SC_BATCH_CSR = 0,    /* indptr[n+1], indices[nnz], values[nnz] */
    SC_BATCH_PADDED = 1, /* indices and values, row_len per cell; -1 pads */
    SC_BATCH_DENSE = 2,  /* values only, row_len per cell */
};

/* A label column: its name and its vocabulary (code i is terms[i]). */
typedef struct sc_batch_vocab {
    char *name;
    size_t n;
    char **terms;
} sc_batch_vocab;

/* What the header frame says. Caller-owned: zero it (SC_BATCH_HEADER_INIT)
 * and release with sc_batch_header_release(), which frees every string. */
typedef struct sc_batch_header {
    uint32_t layout, row_len; /* as in sc_batch */
    uint32_t batch_size, epoch, rank, world_size;
    uint64_t seed;
    uint64_t n_batches; /* batches this stream will carry */
    uint64_t n_cells;   /* cells of the epoch over all ranks */
    size_t n_info;      /* free-form settings: key = value */
    char **info_key, **info_val;
    size_t n_genes; /* column j of every batch is genes[j] */
    char **genes;
    size_t n_labels;
    sc_batch_vocab *labels;
    size_t n_datasets; /* sc_batch.dataset indexes this list */
    char **datasets;
} sc_batch_header;
#define SC_BATCH_HEADER_INIT                                                   \
    {                                                                          \
        0                                                                      \
    }
void sc_batch_header_release(sc_batch_header *h);

/* Append KEY = VAL (copied) to the settings of H. 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_batch_header_info(sc_batch_header *h, const char *key,
                                       const char *val);

/*
 * One batch of N_CELLS cells. Arrays by layout (see above); labels are
 * column-major: labels[k * n_cells + i] is the code of cell i in label
 * column k (-1: missing). The last N_PAD cells repeat earlier cells to fill
 * the batch (equal batch counts on every rank). Caller-owned and reusable:
 * SC_BATCH_INIT, sc_batch_reserve() before filling, sc_batch_release().
 */
typedef struct sc_batch {
    uint64_t index; /* batch number in this stream's epoch, from 0 */
    uint32_t n_cells, n_pad;
    uint64_t nnz; /* entries in indices/values */
    uint32_t n_labels, layout, row_len;
    int64_t *indptr;
    int32_t *indices;
    float *values;
    int32_t *labels;
    int32_t *dataset;
    int64_t *row; /* row of the cell in its dataset */
    size_t cap_cells, cap_nnz, cap_labels;
} sc_batch;
#define SC_BATCH_INIT                                                          \
    {                                                                          \
        0                                                                      \
    }

/* Make room for N_CELLS cells, NNZ entries and N_LABELS label columns
 * (contents kept up to the old sizes). 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_batch_reserve(sc_batch *b, size_t n_cells, size_t nnz,
                                   size_t n_labels);
void sc_batch_release(sc_batch *b);

/*
 * Writer: frames to FP (binary) or, with SC_BATCH_TEXT, the text form (one
 * line per cell, for looking at a stream in a shell). The header is written
 * by sc_batch_writer_open, the end frame by sc_batch_writer_finish. FP is
 * not closed. Write errors return SC_EIO ("cannot write batches: ...").
 * One thread per writer.
 */
enum { SC_BATCH_TEXT = 1u << 0 };
typedef struct sc_batch_writer sc_batch_writer;

SC_MUST_CHECK int sc_batch_writer_open(FILE *fp, unsigned flags,
                                       const sc_batch_header *h,
                                       sc_batch_writer **out);
/* The same, with the batches written into the shared-memory file RING_FD
 * (sized here to a control page and RING_BYTES of data, a multiple of 64,
 * at least 1 MiB) and only their places to FP, which must be a pipe to the
 * reader that gave the file (sc-batch(5), "Shared-memory ring"). A batch
 * waits for room while the reader holds the ring; larger than half the
 * ring, it goes through FP as usual. RING_FD < 0: sc_batch_writer_open. */
SC_MUST_CHECK int sc_batch_writer_open_ring(FILE *fp, unsigned flags,
                                            int ring_fd, size_t ring_bytes,
                                            const sc_batch_header *h,
                                            sc_batch_writer **out);
SC_MUST_CHECK int sc_batch_write(sc_batch_writer *w, const sc_batch *b);
/* A batch written in place, without a copy: B gives the sizes (n_cells,
 * nnz, n_labels, layout, row_len); sc_batch_writer_claim points B's arrays
 * at the batch's place in the output (the ring, or the writer's frame
 * buffer; the padding between arrays zeroed), the caller fills them and
 * the fields, and sc_batch_writer_commit sends it. B owns nothing: do not
 * reserve or release it. SC_EUNSUP (no message) for a text writer. */
SC_MUST_CHECK int sc_batch_writer_claim(sc_batch_writer *w, sc_batch *b);
SC_MUST_CHECK int sc_batch_writer_commit(sc_batch_writer *w, sc_batch *b);
/* Write the end frame and flush. 0 or SC_EIO. */
SC_MUST_CHECK int sc_batch_writer_finish(sc_batch_writer *w);
/* Free W (no end frame if sc_batch_writer_finish was not called). */
void sc_batch_writer_free(sc_batch_writer *w);

/*
 * Reader of binary streams. sc_batch_reader_open reads the header frame;
 * sc_batch_read returns 1 with a batch, 0 at the end frame, or SC_ECORRUPT
 * ("'-': stream ends inside a frame", "'x': frame 3: checksum mismatch",
 * "stream ends without an end frame"), SC_EFORMAT (not a batch stream,
 * unknown version) or SC_EIO. NAME is used in messages. One thread.
 */
typedef struct sc_batch_reader sc_batch_reader;

SC_MUST_CHECK int sc_batch_reader_open(FILE *fp, const char *name,
                                       sc_batch_reader **out);
/* The header (borrowed until sc_batch_reader_free). */
const sc_batch_header *sc_batch_reader_header(const sc_batch_reader *r);
SC_MUST_CHECK int sc_batch_read(sc_batch_reader *r, sc_batch *b);
/* The counts of the end frame, valid after sc_batch_read returned 0. */
void sc_batch_reader_end(const sc_batch_reader *r, uint64_t *n_batches,
                         uint64_t *n_cells);
void sc_batch_reader_free(sc_batch_reader *r);

#endif
