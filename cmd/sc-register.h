/* sc-register.h: declarations shared by the parts of sc-register. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_REGISTER_H
#define SC_REGISTER_H

#include <stdint.h>
#include <stdio.h>

#include "sc_cli.h"
#include "sc_io.h"
#include "sc_registry.h"

/* A field filter given on the command line (--cell-type "T cell"). */
struct term_arg {
    const char *field;
    const char *text;
    char *own; /* FIELD when it was allocated */
};

struct args {
    const char *db;
    const char *output;
    int manifest; /* -O manifest */
    int keep_going, trust, quick, no_expand, all_versions, dot;
    int network_fs; /* --force-network-fs */
    int up, down;
    int allow_derived; /* collection add */
    int64_t min_cells, limit, depth;
    double weight;
    int has_weight;
    const char *description, *field, *transform, *tool, *tool_version;
    const char *status, *format, *root, *share, *to;
    const char *split_file; /* collection export --split-file */
    int64_t since, until;   /* seconds; 0 for none */
    uint64_t max_size;      /* add: largest object copied; 0: 1 TiB */
    struct term_arg *terms;
    size_t n_terms;
    const char **genes;
    size_t n_genes;
    const char **inputs, **outputs;
    size_t n_inputs, n_outputs;
    sc_cli *cli;
};

/* A usage error found by a subcommand: sets the message and returns
 * USAGE_ERROR, which sc_cli_dispatch turns into "Try --help" and exit
 * status 2. */
#define USAGE_ERROR SC_CLI_EUSAGE
#define usage_fail  sc_cli_usage_fail

/* Open the registry of A (flags as for sc_registry_open). */
int reg_open(const struct args *a, unsigned flags, sc_registry **out);

/* Open -o for writing: *FP, committed by out_close(). */
int out_open(const struct args *a, sc_atomic *at, FILE **fp);

/* Commit the -o output (RC 0) or abort it; returns RC or the commit's
 * error. */
int out_close(sc_atomic *at, int rc);

/* The subcommands, each given the operands after its name. */
int cmd_add(struct args *a, int argc, char **argv);
int cmd_query(struct args *a, int argc, char **argv);
int cmd_show(struct args *a, int argc, char **argv);
int cmd_counts(struct args *a, int argc, char **argv);
int cmd_report(struct args *a, int argc, char **argv);
/* The name of lineage node K ID LABEL in a graph: "a12", "r3", "v2" for an
 * artifact, run or collection version, "u_URL" or "m_SHA256" otherwise. */
void dot_name(char *buf, size_t size, int k, int64_t id, const char *label);
/* The graph key of lineage node N in KEY (as dot_name) and its label in
 * LABEL: a missing input is known by its sha256, since every one is
 * "not registered", and its label shows the sha256's first 12 digits. */
void lineage_key(const sc_reg_node *n, char *key, size_t ksize, char *label,
                 size_t lsize);
int cmd_lineage(struct args *a, int argc, char **argv);
int cmd_collection(struct args *a, int argc, char **argv);
int cmd_run(struct args *a, int argc, char **argv);
int cmd_verify(struct args *a, int argc, char **argv);

/* Write artifact rows as a table (header once) or a manifest. */
struct out_rows {
    FILE *fp;
    int manifest;
    int header_done;
    int64_t n;
    const char *extra; /* name of an extra column (n_match, weight), or NULL */
    void *m;           /* sc_manifest for -O manifest */
};
int rows_begin(struct out_rows *o, FILE *fp, int manifest, const char *extra);
int rows_artifact(const sc_reg_artifact *x, void *ud);
int rows_end(struct out_rows *o);

/* The query of A's filters; resolves and expands term filters with the
 * ontology. Release with query_release(). */
struct query {
    sc_reg_query q;
    sc_reg_cond *conds;
    char ***terms; /* per condition, owned */
};
int query_build(const struct args *a, struct query *q);
void query_release(struct query *q);

/* Parse TIME: YYYY-MM-DD, YYYY-MM-DDTHH:MM:SS[Z] (UTC) or @SECONDS. */
int parse_time(const char *s, int64_t *out);

#endif
