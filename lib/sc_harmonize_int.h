/* sc_harmonize_int: declarations shared by the sc_harmonize*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HARMONIZE_INT_H
#define SC_HARMONIZE_INT_H

#include <jansson.h>
#include <stddef.h>

#include "sc_adata.h"
#include "sc_onto.h"

/* The string of row I of a string-like column (string array, categorical
 * of strings, nullable strings), or NULL when missing or not strings. */
const char *hz_col_str(const sc_elem *col, int64_t i);

/* 1 if COL is a column of strings hz_col_str can read. */
int hz_col_is_str(const sc_elem *col);

/* What hz_meta_rewrite found about the organism in obs. */
typedef struct hz_meta {
    char organism[64]; /* the single obs/uns organism id, or "" */
    int obs_organisms; /* distinct organism ids in obs */
} hz_meta;

/*
 * Rewrite the obs table OBS (of N rows) from older CELLxGENE layouts to
 * schema 7, in place: organism to UNS, ethnicity renamed and its separator,
 * tissue suffixes to tissue_type, "cell culture" tissue_type renamed,
 * CL:0000003 to unknown, CURIE spelling, obsolete terms through replaced_by
 * in ONTO (may be NULL: no obsolete-term rules), consider-only obsolete
 * terms to "unknown" unless LENIENT. A changed column keeps its input in
 * <column>__original. Each change is appended to REWRITES as {column,
 * rule, from, to, n_cells}. Returns 0 or SC_ENOMEM.
 */
int hz_meta_rewrite(sc_elem *obs, sc_elem *uns, int64_t n, const sc_onto *onto,
                    int lenient, json_t *rewrites, hz_meta *meta);

/* 1 if OBS has a column whose terms need the ontologies. */
int hz_meta_needs_onto(const sc_elem *obs);

/* A copy of the rows KEEP[0..N_KEEP) of E (a column, dataframe, or an
 * array whose first axis is the rows), named like E. NULL when out of
 * memory or when E's kind has no rows (sc_errmsg says which). */
sc_elem *hz_subset_rows(const sc_elem *e, const int64_t *keep, int64_t n_keep);

#endif
