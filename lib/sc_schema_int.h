/* sc_schema_int: declarations shared by the sc_schema*.c files. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_SCHEMA_INT_H
#define SC_SCHEMA_INT_H

#include <stddef.h>

#include "sc_adata.h"
#include "sc_err.h"
#include "sc_genes.h"
#include "sc_map.h"
#include "sc_onto.h"
#include "sc_schema.h"
#include "sc_ytree.h"

struct sc_schema {
    sc_ynode *root;
    const sc_ynode *uns, *obs, *var, *raw_var, *obsm;
    const char *title;
    double sparsity;
};

/* The gene references, loaded when an id of their species is first seen;
 * the other references at the first id no species claims. */
struct genes_cache {
    sc_genes **g;
    int n;
    int other_loaded;
    sc_strmap other;  /* id -> index into other_refs */
    char **other_ids; /* the keys */
    size_t n_other;
};

/* sc_schema.c: messages and values. */

/* Add a message of LEVEL to R (each text once, at most MAX_MESSAGES).
 * 0, or SC_ENOMEM. */
int sch_msg(sc_schema_report *r, int level, const char *fmt, ...)
    SC_PRINTF(3, 4);

/* Whether T is a strict descendant of the term ANC (any prefix list). */
int sch_below(const sc_onto *o, sc_onto_term t, const char *anc, int inclusive);

/* 1 when VALUE is one of the terms of the list L or below one of them. */
int sch_in_ancestors(const sc_onto *o, const char *value, const sc_ynode *l);

/* sc_schema_features.c: column types and feature ids. */

/* What the validator finds when pandas reads a column: a nullable column
 * with missing values holds two types (the value and NA); a category no
 * cell uses is a warning in obs. (Bool categories, which it refuses as
 * Python bools, come from an h5ad as numpy.bool_ and pass.) */
int sch_check_types(const sc_elem *df, const char *df_name,
                    sc_schema_report *r);

/* Free the references GC loaded (not GC itself). */
void sch_genes_cache_free(struct genes_cache *gc);

/* Every id of the index of DF (named DF_NAME) must be a gene of one of the
 * references (ERCC spike-ins of any), of the dataset's organism. */
int sch_check_features(const sc_onto *o, const sc_elem *df, const char *df_name,
                       const char *organism, struct genes_cache *gc,
                       sc_schema_report *r);

/* Label columns the portal adds to var and raw.var from the index. */
int sch_check_var_labels(const sc_ynode *comp, const sc_elem *df,
                         const char *df_name, sc_schema_report *r);

/* sc_schema_raw.c: the raw matrix. */

/* Duplicate rows of the raw matrix (always), then, when nothing else is
 * wrong and the assays ask for it, the raw values (the validator checks
 * them last, only on a dataset without other errors). */
int sch_check_raw(const sc_schema *s, const sc_onto *o, const sc_adata *ad,
                  sc_schema_report *r);

#endif
