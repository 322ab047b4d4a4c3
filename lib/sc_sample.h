/* sc_sample: counter-based RNG, permutations, alias tables, sample weights. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_SAMPLE_H
#define SC_SAMPLE_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * Counter-based random numbers: value number CTR of the stream KEY is a pure
 * function of (KEY, CTR) (a splitmix64 finaliser applied to a Weyl sequence
 * started at KEY), so any rank or thread derives any draw without drawing
 * the ones before it. KEY comes from (seed, epoch, stream) through
 * sc_rng_key(). An sc_rng is a small caller-owned struct (no allocation);
 * one thread per struct, any number of structs at once.
 */
typedef struct sc_rng {
    uint64_t key;
    uint64_t ctr;
} sc_rng;

/* The key of stream STREAM of epoch EPOCH under SEED (all 64 bits count). */
uint64_t sc_rng_key(uint64_t seed, uint64_t epoch, uint64_t stream);

/* Value number CTR of stream KEY: 64 uniformly distributed bits. */
uint64_t sc_rng_at(uint64_t key, uint64_t ctr);

/* Start R at counter 0 of sc_rng_key(SEED, EPOCH, STREAM). */
void sc_rng_init(sc_rng *r, uint64_t seed, uint64_t epoch, uint64_t stream);

/* The next 64 bits, a double in [0, 1), and an integer in [0, N) without
 * modulo bias (N > 0; Lemire's multiply-and-reject). */
uint64_t sc_rng_next(sc_rng *r);
double sc_rng_double(sc_rng *r);
uint64_t sc_rng_below(sc_rng *r, uint64_t n);

/* Shuffle A[0..N) in place (Fisher-Yates) with draws from R. */
void sc_shuffle_u32(uint32_t *a, size_t n, sc_rng *r);
void sc_shuffle_u64(uint64_t *a, size_t n, sc_rng *r);

/* A random permutation of 0..N-1 derived from (SEED, EPOCH, STREAM) only:
 * every process that asks gets the same one. *OUT is malloc'd (caller
 * frees). Returns 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_perm_new(uint64_t n, uint64_t seed, uint64_t epoch,
                              uint64_t stream, uint64_t **out);

/*
 * Alias tables (Vose's method): after O(N) set-up each draw of an index with
 * probability W[i] / sum(W) costs O(1), with no limit on N (indices are
 * size_t; probabilities are kept as doubles). Read-only after
 * sc_alias_new(), so several threads may draw from one table at once.
 */
typedef struct sc_alias sc_alias;

/* Build a table over the N weights W (each finite and >= 0, not all 0).
 * *OUT owns it: release with sc_alias_free(). Returns 0, SC_EINVAL for bad
 * weights ("weight 3 is negative", "all weights are zero") or SC_ENOMEM. */
SC_MUST_CHECK int sc_alias_new(const double *w, size_t n, sc_alias **out);

/* Draw an index with the two uniform 64-bit values U1 and U2 (column from
 * U1, coin from U2), or with R. */
size_t sc_alias_draw2(const sc_alias *a, uint64_t u1, uint64_t u2);
size_t sc_alias_draw(const sc_alias *a, sc_rng *r);

/* Number of entries, and the sum of the weights it was built from. */
size_t sc_alias_size(const sc_alias *a);
double sc_alias_total(const sc_alias *a);

void sc_alias_free(sc_alias *a);

/*
 * Weights of sampling schemes (notes-loaders.md):
 *   SC_WEIGHT_INV     per-cell weight 1/n for a class of n cells, so each
 *                     class is drawn equally often (MappedCollection);
 *   SC_WEIGHT_SCALER  per-cell weight s/(n+s): a class's total s*n/(n+s)
 *                     grows like n for small classes and saturates at s for
 *                     large ones (scDataLoader's LabelWeightedSampler, and
 *                     MappedCollection's scaler variant).
 */
enum { SC_WEIGHT_NONE = 0, SC_WEIGHT_INV, SC_WEIGHT_SCALER };

/* The per-cell weight of a cell in a class of COUNT cells (> 0). */
double sc_weight_class(int scheme, double count, double scaler);

/* scDataLoader's per-cell weight by number of expressed genes:
 * 1 + 999 * sigmoid(0.003 * (nnz - 2000)). */
double sc_weight_nnz(double nnz);

/* Expected number of distinct groups among M independent draws when group
 * i has probability P[i] (N groups): sum_i 1 - (1 - p_i)^M. The baseline of
 * the mixing statistic (distinct datasets per batch). */
double sc_expected_distinct(const double *p, size_t n, double m);

#endif
