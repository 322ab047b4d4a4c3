/* sc_stream: many datasets as one shuffled, weighted, sharded stream of cell
 * batches (the engine of sc-stream). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_STREAM_H
#define SC_STREAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sc_batch.h"
#include "sc_err.h"

/*
 * A stream is opened over a list of datasets (any file sc_adata_open reads).
 * Opening builds the index: per dataset its shape, the number of stored
 * entries of every row and the obs columns the options name, taken from a
 * cache file when one is valid (same path, size and modification time) and
 * written there otherwise. Then the selection (filters, minimum genes), the
 * joint gene space, the label vocabularies and the sampling plan of the
 * epoch are fixed; batches follow from sc_stream_next().
 *
 * The epoch is a sequence of N cell draws that depends only on (seed,
 * epoch) and the selection: without replacement, blocks of `block`
 * consecutive selected cells of a dataset are permuted and `buffer` blocks
 * at a time are gathered and shuffled; with weights, N independent draws.
 * Rank r of W takes positions [N*r/W, N*(r+1)/W) and cuts them into
 * batches; every rank has the same number of batches (padding repeats the
 * rank's first cells, or the rest is dropped).
 *
 * A pack (sc_pack.h, written by sc-stream pack from such a stream) is a
 * dataset like the others whose cells carry their source dataset and row:
 * the header lists the pack's sources, and batches name them. When every
 * input is a pack in the output gene order and no transform applies, the
 * cells are copied from the packs' mappings straight into the batch
 * (sc_stream_write_next: into the writer's place for it).
 *
 * Threading: one thread calls a stream; with opts.threads > 1 the stream
 * reads its next buffer on a thread of its own meanwhile. Memory: the index (a
 * few bytes per cell and label column), the block permutation, and one buffer
 * of block*buffer cells (for packs: no entries, which stay in the mapping).
 */

enum { SC_STREAM_JOIN_NONE = 0, SC_STREAM_JOIN_INNER, SC_STREAM_JOIN_OUTER };
enum { SC_STREAM_PAD = 0, SC_STREAM_DROP };
enum { SC_STREAM_SEL_ALL = 0, SC_STREAM_SEL_TOP, SC_STREAM_SEL_RANDOM };

/* One input dataset. WEIGHT is its per-dataset sampling weight (1 when 0 or
 * negative is not meant: use 1 for "no weight"); ORGANISM (may be NULL)
 * chooses its reference gene list (else it is read from the file: uns or
 * obs organism_ontology_term_id / organism). */
typedef struct sc_stream_input {
    const char *path;
    double weight;
    const char *organism;
} sc_stream_input;

/* A reference gene list: ORGANISM (NULL: every dataset) and the file (one
 * gene id per line, first tab-separated field; '#' lines skipped). */
typedef struct sc_stream_genes {
    const char *organism;
    const char *path;
} sc_stream_genes;

/* A vocabulary file for label column COLUMN (sc-batch(5)). */
typedef struct sc_stream_vocab {
    const char *column;
    const char *path;
} sc_stream_vocab;

typedef struct sc_stream_opts {
    const sc_stream_input *inputs;
    size_t n_inputs;
    const char *matrix;    /* "X" [default], "raw" (raw/X) or a layer name */
    const char *cache_dir; /* index cache; NULL: none; "": beside each file */
    int max_open;          /* open files at most; 0: from RLIMIT_NOFILE */
    int keep_going;        /* skip datasets that fail to open */

    int join;                     /* SC_STREAM_JOIN_*, without ref genes */
    const sc_stream_genes *genes; /* reference gene lists */
    size_t n_genes;
    int orthologs; /* mouse datasets onto the human list (organism human,
                    * else unlabelled) through one-to-one orthologs */

    const char *const *labels; /* obs columns emitted as codes */
    size_t n_labels;
    const sc_stream_vocab *vocabs;
    size_t n_vocabs;

    const char *const *filters; /* "col==v", "col in a,b", "col>=3", ... */
    size_t n_filters;
    int64_t min_genes; /* rows with fewer stored entries are left out */
    /* split (sc_split.h): only the cells of part SPLIT (SC_SPLIT_*; 0: all),
     * by SPLIT_OPTS's rule, or as the split file SPLIT_FILE says */
    int split;
    const struct sc_split_opts *split_opts;
    const char *split_file;

    int64_t n_samples;              /* > 0: weighted, with replacement */
    const char *const *weight_cols; /* class weights from these columns */
    size_t n_weight_cols;
    int weight_scheme; /* SC_WEIGHT_INV or SC_WEIGHT_SCALER */
    double weight_scaler;
    const char *cell_weight; /* NULL, "nnz", or a numeric obs column */
    int dataset_weights;     /* use sc_stream_input.weight */
    /* weighted: draws that share one drawn block of a dataset stored in
     * compressed chunks (0: the mean cells of such a block; 1: every draw
     * independent) */
    int64_t block_draws;

    int shuffle;    /* 0: sequential order (no permutation) */
    int64_t block;  /* cells per block [16] */
    int64_t buffer; /* blocks per buffer [256] */
    int64_t batch_size;
    uint64_t seed, epoch;
    int64_t rank, world_size;
    int uneven;          /* SC_STREAM_PAD or SC_STREAM_DROP */
    int64_t start_batch; /* skip this many batches of the rank */

    double normalize; /* > 0: scale every cell to this total */
    int log1p;
    int select;      /* SC_STREAM_SEL_* */
    int64_t max_len; /* genes per cell with SC_STREAM_SEL_TOP/RANDOM */
    int dense;       /* dense rows over the output genes */

    int threads;    /* > 1: read the next buffer while batches are cut */
    int pack_pread; /* copy a pack's entries with pread, not from a mapping */
} sc_stream_opts;

/* Defaults: X, block 16, buffer 256, batch 256, shuffle on, world 1, the
 * scaler scheme with scaler 10 for weights. */
void sc_stream_opts_init(sc_stream_opts *o);

typedef struct sc_stream sc_stream;

/* Build the index and the plan. On success *OUT owns the stream: release it
 * with sc_stream_close(). Returns 0 or a negative SC_E* code (a bad filter,
 * an unreadable dataset unless keep_going, gene lists that differ without a
 * join, an empty selection, ...). */
SC_MUST_CHECK int sc_stream_open(const sc_stream_opts *o, sc_stream **out);

/* The header of the stream (borrowed until sc_stream_close). */
const sc_batch_header *sc_stream_header(const sc_stream *s);

/* Fill B with the next batch of this rank. Returns 1, 0 when the rank's
 * share of the epoch is done, or a negative code. */
SC_MUST_CHECK int sc_stream_next(sc_stream *s, sc_batch *b);

/* Write the next batch of this rank to W: sc_stream_next and
 * sc_batch_write, except that cells of packs read without transforms are
 * copied from the pack straight to the batch's place in the output
 * (sc_batch_writer_claim). B is scratch space. Returns 1, 0 when the
 * rank's share is done, or a negative code. */
SC_MUST_CHECK int sc_stream_write_next(sc_stream *s, sc_batch *b,
                                       sc_batch_writer *w);

/* Statistics: datasets that failed under keep_going, the cells selected,
 * the mean number of distinct datasets per emitted batch and its
 * expectation under fully random sampling of the same batch size. */
typedef struct sc_stream_stats {
    size_t n_failed;
    uint64_t n_selected;
    uint64_t n_batches;
    double mean_distinct, expected_distinct;
    /* deflate chunks read raw: compressed bytes, inflated bytes, inflated
     * bytes used, seconds inflating (summed over threads) */
    uint64_t z_in, z_out, z_used;
    double z_secs;
    /* files opened to read rows: through HDF5, and from their layout
     * (kept in memory or in the index cache) with open(2) alone */
    uint64_t n_h5_opens, n_layout_opens;
} sc_stream_stats;
void sc_stream_get_stats(const sc_stream *s, sc_stream_stats *st);

/* Write the split of the stream's datasets (opts.split set) as a split
 * file (sc_split.h) to FP, adding the cells of each part to COUNTS. 0, or
 * SC_EIO / SC_EUNSUP (a pack among the inputs). */
SC_MUST_CHECK int sc_stream_split_write(const sc_stream *s, FILE *fp,
                                        uint64_t counts[3]);

void sc_stream_close(sc_stream *s);

/* Where the index cache lives by default: $SC_STREAM_CACHE, else
 * $XDG_CACHE_HOME/sc/stream, else $HOME/.cache/sc/stream, into BUF of SIZE
 * bytes. Returns 0 or SC_ENOTFOUND when none is set. */
SC_MUST_CHECK int sc_stream_default_cache(char *buf, size_t size);

#endif
