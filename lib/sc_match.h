/* sc_match: free-text metadata labels to ontology terms, in tiers. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_MATCH_H
#define SC_MATCH_H

#include <stddef.h>

#include "sc_err.h"
#include "sc_onto.h"

/*
 * A matcher maps the distinct labels of a metadata field ("CD14+ Mono" in a
 * cell type column) to terms of the field's ontologies, trying in order:
 *
 *   user        a user mapping file (label -> term id or "unknown")
 *   label       the term's label, exactly
 *   label_ci    the label, ignoring ASCII case
 *   synonym     an exact synonym, exactly
 *   synonym_ci  an exact synonym, ignoring case
 *   normalized  the normalised key (sc_match_normalize) of a label or
 *               synonym
 *   curated     a curated rule for author shorthands (share/annotate/
 *               curated.tsv: "Mono", "NK", "Treg"), compared by key, a
 *               trailing "cell" ignored ("MAIT cells" meets "MAIT")
 *
 * Candidates are the terms of the field's ontologies that the CELLxGENE
 * schema allows for it (descendants of the field's roots); an obsolete term
 * stands for its replaced_by term, and is only used when no live term
 * matches. The first tier with any candidate decides: one candidate is the
 * mapping, several make the label ambiguous (reported with them, never
 * mapped), unless a curated rule for the label names one of them (the
 * project's decision, recorded as tier "curated": "mouse" is a synonym of
 * both Mus and Mus musculus). Development stages need the organism. Values such
 * as "unknown", "NA" or "unassigned" map to "unknown". After the curated
 * rules come:
 *
 *   crosswalk   a published author vocabulary (share/annotate/
 *               crosswalk.tsv.gz: reference atlas annotation levels with
 *               their label -> CL maps), compared by key like curated
 *   structured  the label taken apart: context in parentheses ("Club
 *               cells (lung)", "Mesangial cells (kidney)": a descendant of
 *               the head's term naming the context, else the head's term),
 *               cluster suffixes ("Microglia_2", "Astrocytes 1"), Latin and
 *               irregular plurals ("nuclei", "epithelia", "cortices"),
 *               state qualifiers ("Proliferating T cells"); the parts go
 *               through the tiers above; for tissues and diseases also the
 *               free-text variants (sc_match_free.c): the same words as a
 *               label or synonym in another order, British spellings,
 *               qualifiers left out ("tissue", "sample", ", NOS"; never
 *               "cancer", "normal" in diseases, "adjacent", "non"), a
 *               phrase by another name of its term ("renal" = "kidney"),
 *               and two names "X/Y" (the wider, when one lies within the
 *               other)
 *
 * Refusals, whatever the ontologies say: in the disease field a healthy or
 * control shorthand ("HC", "control", "ctrl", "healthy", "healthy
 * control") is PATO:0000461 normal (tier "control"), never a disease; in
 * the cell type, tissue and disease fields a short all-capital label
 * ("HC", "AML", "PBMC") that matches only an exact synonym is not enough
 * evidence: tier "weak", the term a suggestion, unless a curated rule or
 * the crosswalk names it. A label whose head noun matches once its other
 * modifiers are dropped ("Inflammatory monocytes") is "weak" as well. A
 * label nothing matches gets up to three fuzzy suggestions
 * (sc_onto_search), which are never mappings. EVIDENCE says, for every
 * result, what matched ("exact synonym 'B lymphocyte'", "head 'club cell'
 * + context 'lung'").
 *
 * Threads: loading needs the matcher to itself; sc_match_label() then only
 * reads it and may run from several threads at once.
 */
typedef struct sc_match sc_match;

/* The metadata fields, in the CELLxGENE obs order. */
enum {
    SC_FIELD_CELL_TYPE = 0,
    SC_FIELD_TISSUE,
    SC_FIELD_DISEASE,
    SC_FIELD_ASSAY,
    SC_FIELD_SEX,
    SC_FIELD_DEV_STAGE,
    SC_FIELD_ETHNICITY,
    SC_FIELD_ORGANISM,
    SC_FIELD_N
};

/* The field's name ("cell_type", "self_reported_ethnicity"), its term id
 * column ("cell_type_ontology_term_id"), and whether the schema allows
 * "unknown" in it (cell_type, sex, development_stage, ethnicity). */
const char *sc_match_field_name(int field);
const char *sc_match_field_column(int field);
int sc_match_field_unknown_ok(int field);
/* The ontologies the CELLxGENE schema takes the field's terms from, as
 * space-separated prefixes ("UBERON CL" for tissue: wider than what the
 * matcher proposes), or NULL when FIELD is out of range. */
const char *sc_match_field_ontologies(int field);
/* The field named NAME ("cell_type", also "ethnicity" and "age"), or -1. */
int sc_match_field_find(const char *name);

/* Tiers of a result. */
enum {
    SC_MATCH_NONE = 0,  /* nothing matched */
    SC_MATCH_AMBIGUOUS, /* several candidates in the first tier that hit */
    SC_MATCH_USER,
    SC_MATCH_LABEL,
    SC_MATCH_LABEL_CI,
    SC_MATCH_SYNONYM,
    SC_MATCH_SYNONYM_CI,
    SC_MATCH_NORMALIZED,
    SC_MATCH_CURATED,
    SC_MATCH_UNKNOWN,    /* a value meaning "unknown" ("NA", "unassigned") */
    SC_MATCH_TERM_ID,    /* the label is itself a term id of the field */
    SC_MATCH_CONTROL,    /* a healthy/control shorthand: PATO:0000461 normal */
    SC_MATCH_CROSSWALK,  /* a published author vocabulary's label -> term */
    SC_MATCH_STRUCTURED, /* head noun and context (sc_match_label) */
    SC_MATCH_WEAK,       /* too little evidence: a suggestion, never the term */
    SC_MATCH_FUZZY,      /* a misspelt word read as an ontology word */
};
/* "none", "ambiguous", "user", "label", "label_ci", "synonym",
 * "synonym_ci", "normalized", "curated", "unknown", "term_id", "control",
 * "crosswalk", "structured", "weak", "fuzzy". */
const char *sc_match_tier_name(int tier);
/* 1 for the tiers whose term is written (every tier that maps but
 * "weak"); 0 for none, ambiguous and weak, whose terms are only
 * candidates or suggestions in the report. */
int sc_match_tier_is_confident(int tier);
/* 1 for the tiers that only use the ontology's own strings (label,
 * label_ci, synonym, synonym_ci, term_id), where a wrong mapping is a bug. */
int sc_match_tier_is_exact(int tier);

#define SC_MATCH_MAX_CAND 8

/* The result of one label. TERM is the mapped term (SC_ONTO_NONE for
 * none, ambiguous and unknown, and for a user mapping to "unknown").
 * CAND holds the candidates of an ambiguous label (N_CAND may exceed
 * SC_MATCH_MAX_CAND: the first ones by id are kept), SUGG fuzzy
 * suggestions of an unmapped label. REPLACED is set when TERM was reached
 * through an obsolete term's replaced_by. REASON says why nothing was
 * mapped ("" otherwise). */
typedef struct sc_match_res {
    int tier;
    sc_onto_term term;
    int replaced;
    size_t n_cand;
    sc_onto_term cand[SC_MATCH_MAX_CAND];
    size_t n_sugg;
    sc_onto_term sugg[3];
    char reason[112];
    char evidence[112]; /* "" for the common tiers: sc_match_evidence() */
    char demoted[64];   /* a candidate left out for the others (the field's
                           demoted subtrees, e.g. non-human animal diseases),
                           "" when none: part of the evidence */
} sc_match_res;

/* A matcher over the ontologies of O, which must stay loaded while it
 * lives; the normalised-key indexes of the field ontologies are built
 * here. *OUT owns it: sc_match_free(). Returns 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_match_new(const sc_onto *o, sc_match **out);
void sc_match_free(sc_match *m);

/*
 * Load curated rules from the TSV file PATH: a header line with the columns
 * field, label and term_id (others, such as note, are ignored), then one
 * rule a line ('#' lines and blank lines skipped). Every term must exist
 * and be live, and a key may not name two terms in one field. Returns 0,
 * or SC_EIO, SC_EFORMAT ("'curated.tsv' line 12: unknown term 'CL:1'"),
 * SC_ENOMEM.
 */
SC_MUST_CHECK int sc_match_load_curated(sc_match *m, const char *path);

/*
 * Load a user mapping from PATH, which overrides every other tier for
 * exactly the labels it names. TSV (any name but .yaml/.yml): a header
 * line naming at least the columns label and term_id, optionally field (a
 * row without a field applies to every field); a report TSV of
 * sc-annotate is such a file, and its rows with an empty term_id are
 * skipped. YAML: a mapping of label to term id, or of field name to such a
 * mapping. A term id must exist (obsolete ones resolve through
 * replaced_by) or be "unknown". Later files and lines win. Returns 0 or
 * SC_EIO / SC_EFORMAT / SC_ENOMEM with the file and line.
 */
SC_MUST_CHECK int sc_match_load_user(sc_match *m, const char *path);

/*
 * Load crosswalk rows from the TSV file PATH (gzip allowed): the columns
 * field, label, term_id and source (others ignored). Like curated rules,
 * but a key naming two terms in one field (two vocabularies disagree) is
 * kept out: such a label is left to the other tiers. Returns 0, or
 * SC_EIO, SC_EFORMAT, SC_ENOMEM.
 */
SC_MUST_CHECK int sc_match_load_crosswalk(sc_match *m, const char *path);
size_t sc_match_n_crosswalk(const sc_match *m);

/* Give at most N (0 to 3, default 3) fuzzy suggestions for a label that
 * nothing matches; they cost more than the mapping itself (a search over
 * every label and synonym of the field's ontologies). */
void sc_match_set_suggestions(sc_match *m, int n);

/* The number of curated rules and user mappings loaded. */
size_t sc_match_n_curated(const sc_match *m);
size_t sc_match_n_user(const sc_match *m);

/*
 * Map LABEL of FIELD into *RES. ORGANISM (an NCBITaxon id, or NULL when
 * not known) chooses the development stage ontology: HsapDv for human,
 * MmusDv for mouse and its subspecies, UBERON life stages otherwise; with
 * NULL, stages are not mapped (reason "organism not known"). Returns 0 or
 * SC_ENOMEM.
 */
SC_MUST_CHECK int sc_match_label(const sc_match *m, int field,
                                 const char *organism, const char *label,
                                 sc_match_res *res);

/*
 * What matched for R, the result of LABEL: R's own evidence when it has
 * one (curated rules, the crosswalk, structured, weak, control), else one
 * made from the tier and the label into BUF of SIZE bytes ("label 'B
 * cell'", "exact synonym 'B lymphocyte'", "normalised key 'bcell'"); ""
 * for none and ambiguous. Kept out of sc_match_label() so that mapping
 * stays cheap.
 */
const char *sc_match_evidence(const sc_match_res *r, const char *label,
                              char *buf, size_t size);

/*
 * The normalised key of S into BUF of SIZE bytes: ASCII lower case, Greek
 * letters spelled out ("γδ" -> "gammadelta"), words split at anything but
 * letters, digits, '+' and a '-' that ends a word ("CD4-"), each word's
 * plural dropped ("cells" -> "cell", "bodies" -> "body", "boxes" -> "box";
 * not "ss"), then the words joined with nothing. So "B-cells", "B cells"
 * and "b_cell" share the key "bcell", while "CD4+ T cell" and "CD4- T cell"
 * do not. Returns 0, or SC_ERANGE when BUF is too small. Thread-safe.
 */
SC_MUST_CHECK int sc_match_normalize(const char *s, char *buf, size_t size);

#endif
