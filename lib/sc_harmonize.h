/* sc_harmonize: canonical genes, raw counts, QC and schema-7 layout. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HARMONIZE_H
#define SC_HARMONIZE_H

#include <jansson.h>
#include <stdint.h>

#include "sc_adata.h"
#include "sc_err.h"

/*
 * The harmonizer turns one dataset (any format sc_adata_open reads) into an
 * h5ad laid out like a CELLxGENE schema-7 dataset:
 *   - X = the raw counts (from raw.X, layers['counts'] or X, the first that
 *     holds non-negative integers on a sample of its values), float32 CSR,
 *     genes remapped to the species' Ensembl ids, duplicates summed,
 *     unmatched genes dropped (sc_genes rules);
 *   - var = the reference's ids with feature_name, feature_reference,
 *     feature_biotype, feature_type, feature_length, feature_is_filtered;
 *   - obs = the input's columns, with old layouts rewritten (organism to
 *     uns, ethnicity renamed and its separator, tissue suffixes to
 *     tissue_type, CL:0000003 to unknown, CURIE spelling, obsolete terms
 *     through replaced_by, the schema-7 HANCESTRO mapping of the dataset),
 *     then every term checked against the schema's rules for its column
 *     and cell (organism, tissue_type, assay): an invalid one becomes
 *     "unknown" (or "na") where the schema allows it, else is kept and
 *     reported; each changed column keeps its input in
 *     <column>__original; plus the QC columns n_genes, total_counts,
 *     pct_counts_mt, pct_counts_ribo, pct_counts_hb and qc_outlier;
 *   - uns = the input's, plus organism_ontology_term_id, 'harmonize'
 *     (settings and reference versions) and a 'provenance' row;
 *   - layers of raw counts mapped and summed like X (others dropped), obsp
 *     on the kept cells, varm / varp on the first input entry of each
 *     output gene (see sc-harmonize(1)).
 * Cells under the QC thresholds are dropped; a dataset that cannot be used
 * (no raw counts, too few cells or mapped genes, several species) is
 * refused: the result says why and nothing is written.
 *
 * Memory: X is read once in row blocks (the next block read ahead in a
 * helper thread); the QC pass writes the remapped rows compactly (about
 * two bytes a count) to an unlinked temporary file beside the output,
 * which the writing pass reads back (if that file cannot be written, X
 * is read again instead). Only per-cell numbers and the obs table are
 * held, never the matrix.
 */

/* Settings. Initialise with SC_HZ_OPTS_INIT. Strings are borrowed. */
typedef struct sc_hz_opts {
    const char *counts_order; /* "raw,counts,X": where to look for counts */
    int keep_normalized;      /* no raw counts: keep X, marked normalized */
    int64_t min_mapped_genes; /* refuse under this many mapped genes
                               * (full-transcriptome assays) */
    int64_t min_cells;        /* refuse datasets with fewer cells */
    int64_t min_genes;        /* drop cells with fewer genes */
    double min_counts;        /* drop cells with fewer counts */
    double nmads;             /* MAD outliers: counts and genes */
    double nmads_mt;          /* MAD outliers: percent mitochondrial (above) */
    double max_pct_mt;        /* also an outlier above this percent (0: off) */
    int remove_outliers;      /* drop flagged cells instead of flagging */
    int normalize;            /* add layers['log1p_norm'] */
    double target_sum;        /* normalize_total target */
    const char *gene_space;   /* NULL, "all", or a file of ids (one a line) */
    int orthologs;            /* mouse: project onto human 1:1 orthologs */
    int lenient;              /* obsolete terms without replacement: keep */
    const char *organism;     /* force the organism (NCBITaxon id or name) */
    int compress_level;       /* gzip level of the output, 0..9 (libdeflate's
                               * 1 makes files the size of zlib's 4) */
    int threads;              /* workers for per-block work */
    int provenance;           /* add a provenance row */
    const char *tool, *version, *cmdline; /* for the provenance step */
    int progress;                /* SC_PROGRESS_* mode of the progress lines */
    int64_t min_mapped_targeted; /* the same for targeted assays */
    const char *targeted_assays; /* EFO ids: these and their descendants
                                  * are targeted (comma-separated) */
    int keep_retired;     /* keep retired gene ids (not mapped forward) */
    const char *gene_map; /* a curator's mapping file (see sc_hz_run), or
                           * NULL */
} sc_hz_opts;

/* The assays whose gene panels are targeted, not the whole transcriptome:
 * imaging-based spatial transcriptomics, smFISH (MERFISH, seqFISH,
 * RNAscope, ...), 10x Xenium, CosMx SMI, STARmap, BD Rhapsody Targeted
 * mRNA, targeted ExSeq, NanoString digital spatial profiling. */
#define SC_HZ_TARGETED_ASSAYS                                                  \
    "EFO:0022955,EFO:0009918,EFO:0022615,EFO:0920059,EFO:0030000,"             \
    "EFO:0700004,EFO:0700007,EFO:0030029"

#define SC_HZ_OPTS_INIT                                                        \
    {                                                                          \
        "raw,counts,X", 0, 10000, 100, 200, 0, 5, 3, 0, 0, 0, 1e4, NULL, 0, 0, \
            NULL, 1, 1, 1, "sc-harmonize", "0", "", 0, 1,                      \
            SC_HZ_TARGETED_ASSAYS, 0, NULL                                     \
    }

/* Parse and check a "--counts-order" list ("raw,counts,X"). 0 or
 * SC_EINVAL with a message. */
SC_MUST_CHECK int sc_hz_check_counts_order(const char *s);

/* Check a "--targeted-assays" list: comma-separated ontology term ids
 * ("EFO:0009918,EFO_0022615"). 0 or SC_EINVAL with a message. */
SC_MUST_CHECK int sc_hz_check_assay_list(const char *s);

typedef struct sc_hz sc_hz;

/* A harmonizer with settings O (copied, strings included). Reference data
 * is loaded when a dataset first needs it and kept for the next ones.
 * *OUT owns it: sc_hz_free(). Returns 0, SC_EINVAL (bad settings),
 * SC_ENOMEM. One thread at a time. */
SC_MUST_CHECK int sc_hz_new(const sc_hz_opts *o, sc_hz **out);
void sc_hz_free(sc_hz *h);

/* The outcome of one dataset. */
typedef struct sc_hz_result {
    int refused;           /* 1: refused (nothing written) */
    char reasons[256];     /* refusal reasons, comma-separated */
    char organism[32];     /* NCBITaxon id, "mixed" or "" */
    int64_t n_obs, n_vars; /* of the output */
    json_t *report;        /* the report (owned: json_decref) */
    char *genes_tsv;       /* the gene report (owned), NULL when the genes
                            * were not mapped: see sc_hz_run */
    size_t genes_tsv_len;
} sc_hz_result;

/*
 * Harmonize the dataset at IN into the h5ad OUT (written atomically).
 * IDS (NULL-terminated, or NULL) are the dataset's CELLxGENE ids
 * (dataset_id, dataset_version_id) when known: they select the dataset's
 * entry of the schema-7 HANCESTRO mapping.
 * *RES is filled in (release with sc_hz_result_release) whenever 0 is
 * returned, refused or not; its report is also set, when it could be
 * built, after a failure, and so is the gene report (hz_genes_tsv: one
 * line per var entry, its id or "-", tier, candidates and note) once the
 * genes were mapped. With O.gene_map, the entries that file names are
 * mapped as it says before the rules (checked by sc_hz_new: SC_EFORMAT
 * naming the file and line); an id of another organism than the
 * dataset's fails the dataset. Returns 0, or a negative SC_E* code (the input
 * cannot be read, the output cannot be written, ...).
 */
SC_MUST_CHECK int sc_hz_run(sc_hz *h, const char *in, const char *const *ids,
                            const char *out, sc_hz_result *res);
void sc_hz_result_release(sc_hz_result *res);

/* The sha256 of the input of the next sc_hz_run, known already (a
 * manifest's, sc_mrow_trusted_sha256): that run records it in provenance
 * instead of hashing the input. NULL or "" forgets it; every run forgets
 * it. */
void sc_hz_set_input_sha256(sc_hz *h, const char *hex);

/* The versions of the reference data the last dataset used
 * ("genes_homo_sapiens": ..., "CL": ...), as a new JSON object. */
json_t *sc_hz_versions(const sc_hz *h);

#endif
