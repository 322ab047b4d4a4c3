/* sc_summary: describe a dataset (anndata-like repr and JSON). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_SUMMARY_H
#define SC_SUMMARY_H

#include <jansson.h>
#include <stdio.h>

#include "sc_adata.h"

enum {
    SC_SUMMARY_NO_SUMS = 1u << 0, /* skip the value sums (no matrix reads) */
};

/* Describe AD as a JSON object: format, generation, n_obs, n_vars, X (type,
 * dtype, shape, nnz, sum), obs/var column kinds, the first index names,
 * obsm/varm/obsp/varp/layers entries, raw and the uns keys (sorted).
 * Matrices are streamed in row blocks to compute sums. *OUT is a new
 * reference owned by the caller (json_decref). */
SC_MUST_CHECK int sc_summary_json(sc_adata *ad, unsigned flags, json_t **out);

/* Describe one element (a column or a mapping entry) as a JSON object, as
 * used inside sc_summary_json ("kind"/"type", "dtype", "shape", ...). */
SC_MUST_CHECK int sc_summary_elem(const sc_elem *e, unsigned flags,
                                  json_t **out);

/* Print an anndata-style repr of AD to FP (plus format, X type and raw). */
SC_MUST_CHECK int sc_summary_print(sc_adata *ad, FILE *fp);

#endif
