/* sc_embed: a low-dimensional embedding of the cells (principal components). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_EMBED_H
#define SC_EMBED_H

#include <stdint.h>

#include "sc_adata.h"
#include "sc_err.h"

/*
 * The first K principal components of the cells of M (cells x genes,
 * counts): each row scaled to 10,000 in total, log1p, genes centred, then
 * a truncated decomposition by subspace iteration (K + 10 vectors, 16
 * rounds, starting from a fixed pseudo-random basis, so the result is the
 * same on every run). The matrix is read in row blocks, once per round;
 * only the K + 5 vectors per gene and per cell are held. *OUT is a new
 * n_rows x K row-major array (free() it); a component's sign is fixed by
 * its largest gene loading being positive. K must be 1 .. 50 and below
 * the number of genes and of cells. Returns 0, SC_EINVAL, SC_ENOMEM, or an
 * error reading M.
 */
SC_MUST_CHECK int sc_embed_pca(sc_mat *m, int k, double **out);

#endif
