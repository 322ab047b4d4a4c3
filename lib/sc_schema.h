/* sc_schema: CELLxGENE schema rules (schema_definition.yaml) and checks. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_SCHEMA_H
#define SC_SCHEMA_H

#include <stddef.h>

#include "sc_adata.h"
#include "sc_err.h"
#include "sc_onto.h"

/*
 * The rules of the CELLxGENE validator's schema_definition.yaml (vendored
 * in share/ontology/cxg-schema/, read with libyaml), applied to a dataset
 * in memory as `cellxgene-schema validate` applies them:
 *
 *   - uns: required keys (title, organism_ontology_term_id and its allowed
 *     terms), deprecated keys, portal-reserved keys, enums, batch_condition
 *     and default_embedding pointing at obs columns and obsm keys, no empty
 *     values;
 *   - obs: every column of the definition present; curie columns
 *     categorical with no missing values; per value: the exceptions
 *     ("unknown", "na"), forbidden terms, the allowed ontologies, terms
 *     that exist and are not deprecated, forbidden ancestors, allowed terms
 *     and ancestors (descendants, not the ancestor itself), multi-term
 *     values joined by " || " in ascending order without duplicates;
 *     dependencies on uns['organism_ontology_term_id'] and on other obs
 *     columns (tissue_type, assay) chosen per cell, as the validator does:
 *     each dependency whose rule matches a cell checks it, and the column's
 *     own constraints check the cells no dependency matches; enums of
 *     categorical columns (suspension_type by assay, tissue_type), bool
 *     columns, deprecated and reserved columns;
 *   - var: a unique index, feature_is_filtered; obsm: an embedding X_<name>
 *     with at least 2 columns; X: CSR when sparse enough (a warning).
 *
 *   - column types of obs, var and raw.var as pandas sees them: a nullable
 *     column with missing values (mixed types), bool categories;
 *   - feature ids of var and raw.var: each an id of one of the gene
 *     references (share/genes/cxg-gencode/schema-7: the species of
 *     sc_genes; ERCC spike-ins and SARS-CoV-2 genes with any organism),
 *     of the dataset's organism or an ancestor of it; the portal's label
 * columns (feature_name, ...) are reserved in submission mode;
 *   - the raw matrix (raw.X, else X): no duplicated rows (rows of obs
 *     'in_tissue' 0 aside); then, only when nothing else is wrong and the
 *     assays ask for raw data (the schema's 'raw' section), the shape and
 *     index of raw against X and var, float32 values that are positive
 *     integers, a non-zero value in every row.
 *
 * Not checked (yet): spatial rules.
 *
 * Label columns the portal adds (cell_type, assay, ...) are errors only in
 * submission mode; otherwise they must agree with their term ids (a
 * warning each).
 */
typedef struct sc_schema sc_schema;

/* Load the rules from PATH, or from the vendored file when PATH is NULL.
 * *OUT owns them (sc_schema_free). Returns 0, SC_EIO, SC_EFORMAT (YAML or
 * an unexpected shape, with the line), SC_ENOMEM. Read-only afterwards:
 * one sc_schema may serve several threads. */
SC_MUST_CHECK int sc_schema_load(const char *path, sc_schema **out);
void sc_schema_free(sc_schema *s);
/* "Corpora schema version 7.0.0"; borrowed. */
const char *sc_schema_title(const sc_schema *s);

enum { SC_SCHEMA_ERROR = 1, SC_SCHEMA_WARNING = 2 };

/* The messages of a validation, in the order found, without duplicates. */
typedef struct sc_schema_report {
    size_t n, n_errors, n_warnings;
    int *level;  /* SC_SCHEMA_ERROR or SC_SCHEMA_WARNING */
    char **text; /* "'CL:0000003' in 'cell_type_ontology_term_id' is ..." */
} sc_schema_report;
#define SC_SCHEMA_REPORT_INIT                                                  \
    {                                                                          \
        0, 0, 0, NULL, NULL                                                    \
    }
void sc_schema_report_release(sc_schema_report *r);

/* The class of message TEXT, one word: "feature_id" (an id in no gene
 * reference), "feature_organism", "raw_dtype", "raw_values",
 * "raw_zero_row", "raw_duplicate", "raw_missing", "raw_shape", "reserved",
 * "mixed_type", "deprecated", "missing", "index_unique", "nan",
 * "column_type", "feature_is_filtered", "enum", "term", "empty",
 * "uns_reference", "embedding", "sparsity", or "other". It is read from the
 * words of the message, which follow the real validator's, so that the
 * validator's own messages get the same classes. Static string. */
const char *sc_schema_class(const char *text);

/* Flags of sc_schema_validate(). */
enum { SC_SCHEMA_SUBMISSION = 1 }; /* portal-added columns/keys are errors */

/*
 * Check AD against the rules, with the terms of O, adding the messages to
 * *REP (initialised with SC_SCHEMA_REPORT_INIT). The dataset is valid when
 * REP->n_errors is 0. Returns 0, or SC_ENOMEM / an error reading a matrix
 * (the validation could not be done).
 */
SC_MUST_CHECK int sc_schema_validate(const sc_schema *s, const sc_onto *o,
                                     const sc_adata *ad, unsigned flags,
                                     sc_schema_report *rep);

/*
 * Make AD the form a submission takes: remove what the portal adds and
 * the validator refuses in an upload (the schema's add_labels columns of
 * obs, var and raw.var and keys of uns: cell_type, feature_name, organism,
 * ...; its reserved columns of obs and uns: observation_joinid,
 * schema_version, ...). Each removal is added to *REP as a warning
 * ("removed obs['cell_type'] (the portal adds it)"). Returns 0 or
 * SC_ENOMEM.
 */
SC_MUST_CHECK int sc_schema_strip_portal(const sc_schema *s, sc_adata *ad,
                                         sc_schema_report *rep);

/*
 * Check one VALUE of obs column COLUMN ("cell_type_ontology_term_id") in
 * the context of a cell: the dataset's ORGANISM (uns), and the cell's
 * TISSUE_TYPE and ASSAY (NULL when the dataset has no such column). Adds
 * the messages to *REP like sc_schema_validate (for sc-harmonize, which
 * checks each value it rewrites). Returns 0, SC_ENOTFOUND (the schema has
 * no curie column COLUMN), or SC_ENOMEM.
 */
SC_MUST_CHECK int sc_schema_check_value(const sc_schema *s, const sc_onto *o,
                                        const char *column, const char *value,
                                        const char *organism,
                                        const char *tissue_type,
                                        const char *assay,
                                        sc_schema_report *rep);

#endif
