/* sc_split: train / validation / test splits of a collection's cells, by
 * dataset or by cell, and the split file (sc-stream split) that keeps one. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_SPLIT_H
#define SC_SPLIT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sc_err.h"

/*
 * A cell is named by its dataset's key (the file name without directories:
 * the same whether the dataset is read where it was fetched, from a copy, or
 * as a source of a pack) and its row in that dataset. Its part is a pure
 * function of that name, the seed and the fractions: not of the filters,
 * the other options, the rank or the world size.
 *
 *   by cell     each cell on its own: a 53-bit draw keyed by (seed, dataset
 *               key, row) against the cumulative fractions (train, val,
 *               test); the parts hold their fractions up to sampling
 *               error, and a dataset added later changes no other cell.
 *   by dataset  whole datasets: in the order of a draw keyed by (seed,
 *               dataset key), test then val take each dataset that brings
 *               their share of the cells closer to its fraction; the rest
 *               is train. Depends on the set of datasets: keep it in a
 *               split file.
 *
 * A split file (text, sc-stream(1)) names every dataset's part or, by
 * cell, the rows of val and test; reading it gives the same parts without
 * the rule, so a model's validation cells stay known when the rule or the
 * collection changes.
 */

enum { SC_SPLIT_NONE = 0, SC_SPLIT_TRAIN, SC_SPLIT_VAL, SC_SPLIT_TEST };
enum { SC_SPLIT_BY_CELL = 0, SC_SPLIT_BY_DATASET };

typedef struct sc_split_opts {
    int by;         /* SC_SPLIT_BY_* */
    double frac[3]; /* train, val, test: non-negative, summing to 1 */
    uint64_t seed;
} sc_split_opts;

/* Defaults: by cell, 0.8 / 0.1 / 0.1, seed 0. */
void sc_split_opts_init(sc_split_opts *o);

/* "train", "val" (or "validation"), "test": SC_SPLIT_*, else SC_EINVAL. */
SC_MUST_CHECK int sc_split_parse_part(const char *s);
const char *sc_split_part_name(int part);

/* "T,V,E" (or "T,V": test is the rest) into FRAC; SC_EINVAL unless they
 * are non-negative and sum to 1 (within 1e-6). */
SC_MUST_CHECK int sc_split_parse_fractions(const char *s, double frac[3]);

/* The key of a dataset named PATH: its file name (borrowed from PATH). */
const char *sc_split_key(const char *path);

typedef struct sc_split sc_split;

/* A split by O's rule over N datasets with these KEYS and cell counts
 * (CELLS; by cell only the keys' uniqueness matters). Returns 0 or
 * SC_ENOMEM / SC_EINVAL (two datasets with one key). */
SC_MUST_CHECK int sc_split_plan(const sc_split_opts *o, const char *const *keys,
                                const uint64_t *cells, size_t n,
                                sc_split **out);

/* The split of a split file. Returns 0, SC_EIO or SC_EFORMAT ("'F' line
 * N: ..."). */
SC_MUST_CHECK int sc_split_read(const char *path, sc_split **out);

/* The options of SP (from a file: those it was written with). */
const sc_split_opts *sc_split_get_opts(const sc_split *sp);

/* The handle of dataset KEY in *H, for sc_split_part. Returns 0, or
 * SC_ENOTFOUND when SP comes from a file that does not name it. */
SC_MUST_CHECK int sc_split_find(const sc_split *sp, const char *key,
                                uint64_t *h);

/* The part (SC_SPLIT_TRAIN, VAL or TEST) of row ROW of the dataset of H. */
int sc_split_part(const sc_split *sp, uint64_t h, uint64_t row);

/* Write the file's head (format line and options), then per dataset its
 * lines: KEY's rows are ROWS[0..N) (ascending), or 0..N-1 when ROWS is
 * NULL. Returns 0 or SC_EIO. */
SC_MUST_CHECK int sc_split_write_head(const sc_split *sp, FILE *fp);
SC_MUST_CHECK int sc_split_write_dataset(const sc_split *sp, FILE *fp,
                                         const char *key, const int64_t *rows,
                                         uint64_t n, uint64_t counts[3]);

void sc_split_free(sc_split *sp);

#endif
