/* sc_harmonize_int: declarations shared by the sc_harmonize*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HARMONIZE_INT_H
#define SC_HARMONIZE_INT_H

#include <jansson.h>
#include <stddef.h>

#include "sc_adata.h"
#include "sc_genes.h"
#include "sc_harmonize.h"
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

/* The harmonizer's state (sc_hz is opaque outside these files). */
struct sc_hz {
    sc_hz_opts o;
    char *counts_order, *gene_space, *organism, *tool, *version, *cmdline;
    sc_genes *genes[16];
    sc_onto *onto;
    int onto_tried;
    unsigned used_species; /* of the current dataset: for its versions */
    int used_onto;
    int64_t *ortho; /* mouse gene -> human gene (1:1), when loaded */
    char **space;   /* --gene-space FILE ids */
    int64_t n_space;
};

/* The gene reference of species SP, loaded on first use. */
int hz_get_genes(sc_hz *h, int sp, sc_genes **g);

/* How the var entries of a dataset map to output columns. */
typedef struct gene_map {
    int species;         /* of the ids */
    const sc_genes *ref; /* reference of the output genes */
    const char *column;  /* "_index" or a var column (borrowed) */
    int64_t n_in;        /* var entries */
    int64_t *in_gene;    /* entry -> reference gene, -1 dropped */
    sc_gene_kind *kind;  /* entry -> why */
    int32_t *col;        /* entry -> output column, -1 dropped */
    uint8_t *first;      /* entry is the first one of its output column */
    int64_t n_out;
    int64_t *out_gene; /* output column -> gene of REF */
    int64_t n_dup_entries, n_retired, kinds[SC_GENE_N_KINDS];
    int monotone;        /* first entries reach columns in increasing order */
    int mixed;           /* ids of several species */
    const char **alt_id; /* mixed: entry -> id in its own species' list */
    int64_t n_alt;       /* mixed: distinct ids of the other species */
    int64_t species_count[16];
} gene_map;

void hz_gene_map_release(gene_map *g);

/* Decide the organism (ids, then DECLARED, then symbols), pick the var
 * column of VAR (N entries) that maps best, map every entry and lay out
 * the output columns (first-seen order, or --gene-space). Notes about the
 * organism go to REP. Returns 0 or an SC_E* code. */
int hz_map_genes(sc_hz *h, const sc_elem *var, int64_t n, const char *declared,
                 gene_map *gm, json_t *rep);

/* Add the "genes" object to REP: counts, and with FULL every entry's
 * input name, mapped id (or null) and kind. */
int hz_genes_report(const gene_map *gm, const sc_elem *var, const char *table,
                    json_t *rep, int full);

#endif
