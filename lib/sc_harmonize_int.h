/* sc_harmonize_int: declarations shared by the sc_harmonize*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HARMONIZE_INT_H
#define SC_HARMONIZE_INT_H

#include <jansson.h>
#include <stddef.h>

#include "sc_adata.h"
#include "sc_genes.h"
#include "sc_harmonize.h"
#include "sc_hash.h"
#include "sc_map.h"
#include "sc_onto.h"
#include "sc_pool.h"
#include "sc_schema.h"

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

/* The categorical form of a string column: distinct values and a code per
 * row (-1 missing). CAT strings are borrowed from the column (or TMP). */
typedef struct hz_catview {
    const char **cat;
    int64_t n_cat;
    int32_t *codes; /* n rows (owned: the column may be replaced) */
    int64_t *count; /* cells per category */
    sc_elem *tmp;   /* a categorical made for a non-categorical column */
} hz_catview;

/* Fill *V from the string column COL of N rows. 0 or SC_ENOMEM. */
int hz_catview_make(const sc_elem *col, int64_t n, hz_catview *v);
void hz_catview_release(hz_catview *v);

/* Free the N strings of S and S; NULL is a no-op. */
void hz_free_strs(char **s, int64_t n);

/* Append {column, rule, from, to, n_cells} to the array RW. 0 or
 * SC_ENOMEM. */
int hz_add_rewrite(json_t *rw, const char *col, const char *rule,
                   const char *from, const char *to, int64_t n);

/* Replace column NAME of OBS by the categorical of NEWV[V->codes[i]] per
 * row i (NULL for code -1), keeping the input column as NAME__original
 * unless one exists. 0 or an SC_E* code. */
int hz_replace_column(sc_elem *obs, const char *name, const hz_catview *v,
                      char **newv, int64_t n);

/*
 * CELLxGENE's schema-7 HANCESTRO migration (the validator's
 * schema7_hancestro_mapping.json, vendored gzip-compressed in
 * share/ontology/cxg-schema/): curated per-dataset rewrites of
 * self_reported_ethnicity_ontology_term_id values, keyed by the CELLxGENE
 * dataset id. IDS (NULL-terminated, may be NULL) are the dataset's ids
 * (dataset_id, dataset_version_id); the first one that is a key of the
 * mapping selects its rewrites, applied to whole values of OBS (N rows)
 * after hz_meta_rewrite, each reported in RW with rule
 * "schema7_hancestro_mapping". *MAP caches the loaded file (json_decref
 * it). *MATCHED gets the id used, or NULL. Returns 0 or an SC_E* code (the
 * file cannot be read or is not a JSON object of objects).
 */
int hz_hancestro_apply(sc_elem *obs, int64_t n, const char *const *ids,
                       json_t **map, json_t *rw, const char **matched);

/*
 * Check every value of the schema's term columns in OBS (N rows) with
 * sc_schema_check_value(S, ONTO), in the context of each cell (ORGANISM,
 * its tissue_type and assay). A value the schema rejects becomes
 * "unknown" where "unknown" is valid for that cell, else "na" where "na"
 * is, with rule "schema_invalid" in RW (the input kept in
 * <column>__original); otherwise it is kept and counted as an error.
 * Adds the object "schema" to REP: the rules' title, n_values_checked,
 * n_values_invalid, n_cells_replaced, n_cells_invalid_kept, "valid"
 * (no invalid value kept) and "errors" (one message per invalid value,
 * at most 100). Returns 0 or an SC_E* code.
 */
int hz_schema_check(sc_elem *obs, int64_t n, const char *organism,
                    const sc_schema *s, const sc_onto *onto, json_t *rw,
                    json_t *rep);

/* Count the cells of OBS (N rows) whose assay_ontology_term_id is a term
 * id: *N_KNOWN, and among them those of a targeted assay (a term of the
 * comma-separated TARGETED list or, with O, a descendant of one):
 * *N_TARGETED. Returns 0 or SC_ENOMEM. */
int hz_assay_class(const sc_elem *obs, int64_t n, const sc_onto *o,
                   const char *targeted, int64_t *n_targeted, int64_t *n_known);

/* 1 if OBS has a column whose terms need the ontologies. */
int hz_meta_needs_onto(const sc_elem *obs);

/* A copy of the rows KEEP[0..N_KEEP) of E (a column, dataframe, or an
 * array whose first axis is the rows), named like E. In an array, a KEEP
 * of -1 gives a row of NaN (floats), 0 (other numbers) or "" (strings). NULL
 * when out of memory or when E's kind has no rows (sc_errmsg says which). */
sc_elem *hz_subset_rows(const sc_elem *e, const int64_t *keep, int64_t n_keep);

/* A curator's gene map (--gene-map FILE): input name -> Ensembl id of the
 * organism's current list, or "-" (ID NULL) to drop the entry. */
typedef struct hz_gmap {
    char *path;
    char **key, **id;
    long *line;   /* of each entry in the file */
    int *species; /* of each id; -1 for "-" and ERCC spike-ins */
    int64_t n;
    sc_strmap idx; /* key -> entry */
} hz_gmap;

/* The harmonizer's state (sc_hz is opaque outside these files). */
struct sc_hz {
    sc_hz_opts o;
    char input_sha256[SC_HASH_HEX_SIZE]; /* sc_hz_set_input_sha256 */
    char *counts_order, *gene_space, *organism, *tool, *version, *cmdline;
    char *targeted_assays;
    sc_genes *genes[16];
    sc_onto *onto;
    int onto_tried;
    sc_schema *schema; /* the validator's rules, loaded on first use */
    int schema_tried;
    json_t *hancestro;     /* the schema-7 HANCESTRO mapping, when loaded */
    unsigned used_species; /* of the current dataset: for its versions */
    int used_onto;
    int64_t *ortho; /* mouse gene -> human gene (1:1), when loaded */
    char **space;   /* --gene-space FILE ids */
    int64_t n_space;
    char *gene_map; /* --gene-map FILE */
    hz_gmap *gmap;  /* its entries, read and checked by sc_hz_new */
};

/* Read and check the file O.gene_map into H->gmap: lines "input<TAB>id"
 * (more fields ignored; '#' comments, a header line "input<TAB>gene_id"
 * and blank lines skipped; "\t", "\n", "\r", "\\" unescaped). An id
 * must be in the current gene list of its organism; an input given twice
 * with two different ids is refused. Errors name the file and the line.
 * Returns 0 or an SC_E* code. */
int hz_gmap_load(sc_hz *h);
void hz_gmap_free(hz_gmap *m);

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
    int64_t *winner;     /* collision: entry -> the entry kept, or NULL */
    const sc_genes *own; /* reference of the dataset's organism */
    int64_t *own_gene;   /* orthologs: entry -> gene of OWN, or NULL */
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

/* The gene report of a dataset as TSV text (one line per var entry: input,
 * gene_id, feature_name, tier, candidates, note; see sc-harmonize(1)) in a
 * new string *OUT of *LEN bytes. Returns 0 or SC_ENOMEM. */
int hz_genes_tsv(const gene_map *gm, const sc_elem *var, const char *input,
                 char **out, size_t *len);

/* ---- the engine's passes (sc_harmonize_counts, _remap, _qc, _write) ---- */

/* The input's SHA-256, computed on a background pool while the run works
 * (sc_harmonize.c). */
typedef struct hz_hash_job {
    sc_pool *pool; /* NULL: not started, or hashed already */
    int rc;
    const char *path;
    char hex[SC_HASH_HEX_SIZE];
    char err[256];
} hz_hash_job;

/* Start hashing PATH (a folder: nothing to hash, HEX stays empty). */
void hz_hash_start(hz_hash_job *j, const char *path);
/* Wait for it: 0, or its error (HEX then holds the digest). */
int hz_hash_join(hz_hash_job *j);

/* Where the matrix to harmonize is (sc_harmonize_counts.c). */
typedef struct hz_counts_src {
    sc_elem *mat_elem; /* borrowed from the input */
    sc_elem *var;      /* the var table of its genes (borrowed) */
    char where[64];    /* "raw/X", "layers/counts", "X" */
    int is_counts;
} hz_counts_src;

/* *YES: whether M holds non-negative integers, from up to three windows of
 * rows (start, middle, end); *N_NZ: the non-zero values seen (none: not
 * counts). Returns 0 or the read's SC_E* code. */
int hz_looks_like_counts(sc_mat *m, int *yes, int64_t *n_nz);

/* The first location of H's counts order holding counts, else the first
 * matrix found, else X (for --keep-normalized). CS->mat_elem stays NULL
 * when there is no matrix at all. Returns 0 or an SC_E* code. */
int hz_find_counts(sc_hz *h, sc_adata *ad, hz_counts_src *cs);

/* Rows per block for reading M in blocks of about a million values. */
int64_t hz_block_rows(sc_mat *m);

/* Row blocks of a matrix read one ahead in a helper thread: while the
 * caller works on one block, the helper reads the next one into the other
 * buffer. The matrix is only touched by the helper between
 * hz_prefetch_start and hz_prefetch_get (an sc_mat is used by one thread
 * at a time). */
typedef struct hz_prefetch {
    sc_mat *m;
    sc_pool *pool; /* one background worker, made at the first start */
    int cur, rc;
    int64_t r0, r1; /* the rows being read, or -1 */
    sc_block b[2];
    char err[512];
} hz_prefetch;

void hz_prefetch_init(hz_prefetch *p, sc_mat *m);
/* Start reading rows [R0, R1) (on the background pool, or now when it
 * cannot be made). */
void hz_prefetch_start(hz_prefetch *p, int64_t r0, int64_t r1);
/* Wait for the rows started; *B is their block until the next get. */
int hz_prefetch_get(hz_prefetch *p, sc_block **b);
/* Wait for the rows started and forget them. */
void hz_prefetch_cancel(hz_prefetch *p);
void hz_prefetch_release(hz_prefetch *p);

/* Scratch for remapping rows onto output columns (sc_harmonize_remap.c):
 * accumulators over output columns, one per thread. */
typedef struct hz_remap {
    const int32_t *col; /* input column -> output column, -1 dropped */
    int64_t n_out;
    double *acc;
    int64_t *stamp; /* row stamp per output column */
    int32_t *touched;
    int64_t n_touched, row_id;
} hz_remap;

/* COL (borrowed) maps input columns to N_OUT output columns. 0 or
 * SC_ENOMEM (release R either way). */
int hz_remap_init(hz_remap *r, const int32_t *col, int64_t n_out);
void hz_remap_release(hz_remap *r);

/* Sum row I of block B into output columns: R->touched lists them in
 * increasing order, R->acc[c] their sums (zeros of dense rows skipped).
 * *DROPPED gets the counts of dropped columns added. */
void hz_remap_row(hz_remap *r, const sc_block *b, int64_t i, double *dropped);

/* The spill row format (see sc_harmonize_remap.c): encode the row in R
 * into *BUF (grown as needed), returning its size or 0 when out of
 * memory; decode LEN bytes at P into R as hz_remap_row leaves it (zero
 * sums are not kept), 0 or -1 when damaged. */
size_t hz_spill_encode(const hz_remap *r, uint8_t **buf, size_t *cap);
int hz_spill_decode(hz_remap *r, const uint8_t *p, size_t len);

/* The QC numbers of every cell and what the filters keep
 * (sc_harmonize_qc.c). */
typedef struct hz_qc {
    int64_t n; /* cells */
    int32_t *n_genes;
    float *total, *pct_mt, *pct_ribo, *pct_hb;
    int32_t *nnz; /* output values per cell */
    uint8_t *keep, *outlier;
    double sum_in, sum_dropped, sum_out; /* counts over all cells */
    int64_t n_keep, n_outlier, n_low;
    int64_t *rows; /* kept input rows */
    int64_t nnz_out;
    int spill_fd;        /* the remapped rows of the QC pass, or -1 */
    uint32_t *spill_len; /* bytes of each input row there */
} hz_qc;

/* Free Q's arrays and close its spill; Q is then empty (spill_fd -1). */
void hz_qc_release(hz_qc *q);

/* Per input column, for the QC pass without remapping: the QC group of
 * its output column (0 mt, 1 ribo, 2 hb, 3 none) and whether that column
 * has other entries too (then n_genes counts it once per row). */
typedef struct hz_qc_cols {
    uint8_t *code, *dup;
    int64_t *stamp; /* per output column */
} hz_qc_cols;

/* From GM's columns and GRP, the sc_genes_qc_group of each output column.
 * 0 or SC_ENOMEM (release T either way). */
int hz_qc_cols_init(hz_qc_cols *t, const gene_map *gm, const unsigned *grp);
void hz_qc_cols_release(hz_qc_cols *t);

/* The QC numbers of row I of B straight from the input entries (COL maps
 * them to output columns; ID a new stamp per row): *TOT, G[4] per QC group,
 * *NG genes, *DROP += dropped counts. Returns 1, touching nothing, when
 * the row has a negative value (then use hz_remap_row), else 0. */
int hz_qc_row_direct(hz_qc_cols *t, const int32_t *col, const sc_block *b,
                     int64_t i, int64_t id, double *tot, double g[4],
                     int32_t *ng, double *drop);

/* The QC pass over M: per-cell numbers into Q; with SPILL_PATH, also the
 * remapped rows into an unlinked spill file beside it. MODE: progress. */
int hz_qc_pass(sc_mat *m, const gene_map *gm, hz_qc *q, int mode,
               const char *spill_path);

/* Median and MAD of X[0..N) (0 and 0 for none); X is reordered. */
void hz_median_mad(double *x, int64_t n, double *med, double *mad);

/* The filters of O (min genes and counts) and the MAD outlier flags over
 * Q's numbers: fills Q's keep, outlier, rows, n_keep, nnz_out, and REP's
 * object "qc". 0 or SC_ENOMEM. */
int hz_qc_filter(const sc_hz_opts *o, hz_qc *q, json_t *rep);

/* A matrix of the rows ROWS[0..N_ROWS) of IN (-1: an empty row), its
 * columns through COL to N_OUT output columns (duplicates summed), as a
 * callback source of DTYPE; NNZ: values per input row once remapped
 * (borrowed), or NULL to count them now; TOTAL: write log1p(v / total *
 * TARGET) instead; SPILL: read Q's spill rows instead of IN when it has
 * one (sc_harmonize_remap.c). */
sc_mat *hz_outmat_new(sc_mat *in, const int64_t *rows, int64_t n_rows,
                      const int32_t *col, int64_t n_out, int32_t *nnz,
                      sc_dtype dtype, const float *total, double target,
                      const hz_qc *spill);

/* Write the harmonized dataset of AD to OUT (sc_harmonize_write.c): Q's
 * kept cells, GM's genes, obs with QC columns, the layers, obsp, varm,
 * varp that can follow, uns with harmonize and (waiting for HJ) the
 * provenance step. Returns 0 or an SC_E* code. */
int hz_write_output(sc_hz *h, sc_adata *ad, const hz_counts_src *cs,
                    const gene_map *gm, hz_qc *q, const char *out,
                    hz_hash_job *hj, const char *in, int normalized,
                    json_t *rep);

#endif
