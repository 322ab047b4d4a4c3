/* sc-annotate: declarations shared by the parts of the tool. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_ANNOTATE_TOOL_H
#define SC_ANNOTATE_TOOL_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>

#include "sc_cli.h"
#include "sc_onto.h"

/* The settings of every command (each uses some). */
struct args {
    const char *output;
    int json;
    int latest;
    int no_cache;
    const char *cache;
    int64_t max;
    const char *ontology;
    /* annotate */
    const char *outdir;
    const char *mapping[16];
    int n_mapping;
    const char *curated;   /* NULL: the shipped file; "" none */
    const char *crosswalk; /* NULL: the shipped file; "" none */
    const char *field;     /* map, inspect: the field [cell_type] */
    const char *in_column; /* map, inspect: the TSV column of the labels */
    const char *columns;   /* FIELD=COL,... */
    const char *organism;
    int dry_run;
    int keep_going;
    int compress_level;
    const char *set[32]; /* --set KEY=VALUE */
    int n_set;
    const char *defaults[32]; /* --default KEY=VALUE */
    int n_default;
    const char *set_file;
    int no_fill;
    int pca; /* --pca N: components of an X_pca to add, 0 for none */
    int64_t suggestions;
    /* validate */
    int submission;
    int max_messages;
    /* export */
    const char *fields;
    int coarse;
    const sc_cli *cli;
};

struct sc_match;
/* The matcher of the settings: shipped curated rules and crosswalk (or
 * the files given, or none), user mappings. 0 or a negative SC_E* code. */
int ann_open_matcher(const struct args *a, const sc_onto *o,
                     struct sc_match **out);
/* {"id", "label"} of T. */
json_t *ann_term_ref(const sc_onto *o, sc_onto_term t);

struct sc_schema;
struct sc_adata;
struct sc_mrow;
/* --set: 0 when ARG is KEY=VALUE (is_primary_data a boolean), else
 * SC_EINVAL with the message set. */
int ann_check_set(const char *arg);
/* The obs fields the user sets (manifest columns donor_id,
 * suspension_type, tissue_type, is_primary_data of ROW; --set-file for
 * DATASET; --set) and those filled by rule (tissue_type, suspension_type
 * from the assay, unknown/na where the schema allows only that), into
 * AD; what was done goes to REP (field -> {value, by}). 0 or SC_E*. */
int ann_fill(const struct args *a, const struct sc_schema *s, const sc_onto *o,
             struct sc_adata *ad, const char *dataset,
             const struct sc_mrow *row, const char *org, json_t *rep);

/* One JSON value on a line of FP; VALUE is released. 0 or SC_EIO. */
int ann_put_json(FILE *fp, json_t *value);

/* The commands, in cmd/sc-annotate_<name>.c. Each returns 0, a negative
 * SC_E* code with the message set, or SC_EXIT_PARTIAL under -k. */
int ann_cmd_annotate(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                     char **argv);
int ann_cmd_validate(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                     char **argv);
int ann_cmd_map(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                char **argv);
int ann_cmd_inspect(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                    char **argv);
int ann_cmd_export(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                   char **argv);

#endif
