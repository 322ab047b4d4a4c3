/* sc-annotate: ontology terms for single-cell metadata; term queries. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc-annotate.h"
#include "sc_cli.h"
#include "sc_io.h"
#include "sc_match.h"
#include "sc_log.h"
#include "sc_onto.h"
#include "sc_share.h"

static const char prog[] = "sc-annotate";

enum {
    OPT_JSON = SC_OPT_USER,
    OPT_SHARE,
    OPT_CACHE,
    OPT_NO_CACHE,
    OPT_LATEST,
    OPT_ONTOLOGY,
    OPT_CURATED,
    OPT_NO_CURATED,
    OPT_COLUMN,
    OPT_ORGANISM,
    OPT_DRY_RUN,
    OPT_SUBMISSION,
    OPT_FIELDS,
    OPT_COARSE,
    OPT_SUGGESTIONS,
    OPT_CROSSWALK,
    OPT_NO_CROSSWALK,
    OPT_FIELD,
    OPT_IN_COLUMN,
    OPT_SET,
    OPT_SET_FILE,
    OPT_NO_FILL,
    OPT_PCA,
    OPT_DEFAULT,
    OPT_MAX,
    OPT_MAPPING,
};

/* ---- options ---- */

/* clang-format off */
/* Where the ontologies come from: every command that reads them. */
#define OPTS_DATA                                                             \
    {0, NULL, 0, NULL, "Reference data options:"},                            \
    {OPT_SHARE, "share", SC_ARG_REQUIRED, "DIR",                              \
     "reference data directory [$SC_SHARE, else the one installed with the "  \
     "program]"},                                                             \
    {OPT_LATEST, "latest", SC_ARG_NONE, NULL,                                 \
     "use the newest ontology versions shipped instead of those the "         \
     "CELLxGENE schema pins"},                                                \
    {OPT_CACHE, "cache", SC_ARG_REQUIRED, "DIR",                              \
     "ontology cache directory [$XDG_CACHE_HOME/sc, else ~/.cache/sc]"},      \
    {OPT_NO_CACHE, "no-cache", SC_ARG_NONE, NULL,                             \
     "parse the ontology files, neither reading nor writing the cache"},      \
    SC_OPT_VERSION_EXTRA

/* The output of the query commands. */
#define OPTS_OUTPUT                                                           \
    {0, NULL, 0, NULL, "Output options:"},                                    \
    {'o', "output", SC_ARG_REQUIRED, "FILE",                                  \
     "write to FILE, - for stdout [-]"},                                      \
    {'O', "output-fmt", SC_ARG_REQUIRED, "FMT", "text or json [text]"},       \
    {OPT_JSON, "json", SC_ARG_NONE, NULL, "same as -O json"}

/* The options of search. */
#define OPTS_SEARCH                                                           \
    {0, NULL, 0, NULL, "Search options:"},                                    \
    {OPT_MAX, "max", SC_ARG_REQUIRED, "N", "at most N suggestions [10]"},     \
    SC_OPT_ALIAS('n', "max", SC_ARG_REQUIRED), /* -n: until 0.2 */            \
    {OPT_ONTOLOGY, "ontology", SC_ARG_REQUIRED, "NAME",                       \
     "only terms of this ontology (CL, UBERON, ...) [all]"}
/* The rules of mapping: annotate, map, inspect. */
#define OPTS_RULES                                                            \
    {OPT_MAPPING, "mapping", SC_ARG_REQUIRED, "FILE",                         \
     "user mapping, TSV or YAML (label -> term id), over every other rule; "  \
     "repeatable"},                                                           \
    SC_OPT_ALIAS('m', "mapping", SC_ARG_REQUIRED), /* -m: until 0.2 */        \
    {OPT_CURATED, "curated", SC_ARG_REQUIRED, "FILE",                         \
     "curated shorthand rules [share/annotate/curated.tsv]"},                 \
    {OPT_NO_CURATED, "no-curated", SC_ARG_NONE, NULL,                         \
     "use no curated rules"},                                                 \
    {OPT_CROSSWALK, "crosswalk", SC_ARG_REQUIRED, "FILE",                     \
     "author vocabulary crosswalk (field, label, term_id, source) "           \
     "[share/annotate/crosswalk.tsv.gz]"},                                    \
    {OPT_NO_CROSSWALK, "no-crosswalk", SC_ARG_NONE, NULL,                     \
     "use no crosswalk"},                                                     \
    {OPT_ORGANISM, "organism", SC_ARG_REQUIRED, "ID",                         \
     "organism when the dataset does not say (NCBITaxon:9606)"},              \
    {OPT_SUGGESTIONS, "suggestions", SC_ARG_REQUIRED, "N",                    \
     "fuzzy suggestions per unmapped label in the report, 0 to 3 [3]"}

/* The options of map and inspect. */
#define OPTS_MAP                                                              \
    {0, NULL, 0, NULL, "Mapping options:"},                                   \
    {OPT_FIELD, "field", SC_ARG_REQUIRED, "FIELD",                            \
     "the field of the labels: cell_type, tissue, disease, assay, sex, "      \
     "development_stage, self_reported_ethnicity, organism [cell_type]"},     \
    {OPT_IN_COLUMN, "in-column", SC_ARG_REQUIRED, "COL",                      \
     "read the labels from column COL of TSV input with a header [one label " \
     "a line]"},                                                              \
    OPTS_RULES

/* The options of annotate. */
#define OPTS_ANNOTATE                                                         \
    {0, NULL, 0, NULL, "Annotation options:"},                                \
    {'d', "outdir", SC_ARG_REQUIRED, "DIR",                                   \
     "write the annotated h5ad files and reports into DIR (required)"},       \
    OPTS_RULES,                                                               \
    {OPT_COLUMN, "column", SC_ARG_REQUIRED, "FIELD=COL",                      \
     "look for FIELD's labels in obs column COL first (comma-separated "      \
     "list; FIELD= skips the field)"},                                        \
    {OPT_SET, "set", SC_ARG_REQUIRED, "KEY=VALUE",                            \
     "set obs field KEY (donor_id, is_primary_data, ...; uns title) to "      \
     "VALUE in every dataset; repeatable"},                                   \
    {OPT_DEFAULT, "default", SC_ARG_REQUIRED, "KEY=VALUE",                    \
     "like --set, but only in the datasets that lack KEY; repeatable"},       \
    {OPT_SET_FILE, "set-file", SC_ARG_REQUIRED, "FILE",                       \
     "per-dataset values: YAML (dataset -> {KEY: VALUE}, * for all) or TSV "  \
     "(a dataset column, then KEY columns)"},                                 \
    {OPT_NO_FILL, "no-fill", SC_ARG_NONE, NULL,                               \
     "fill no field by rule (tissue_type, suspension_type, unknown/na)"},     \
    {OPT_PCA, "pca", SC_ARG_REQUIRED, "N",                                    \
     "add obsm X_pca, the first N principal components of the "               \
     "log-normalised counts, to a dataset without an X_ embedding (2 to 50; " \
     "0: none) [0]"},                                                         \
    {OPT_SUBMISSION, "submission", SC_ARG_NONE, NULL,                         \
     "write the form a CELLxGENE submission takes: without the label "        \
     "columns and keys the portal adds (cell_type, feature_name, organism, "  \
     "schema_version, ...)"},                                                 \
    {OPT_DRY_RUN, "dry-run", SC_ARG_NONE, NULL,                               \
     "map and write the reports, but no h5ad"},                               \
    {'l', "compress-level", SC_ARG_REQUIRED, "N",                             \
     "gzip level of the h5ad written, 0 for none [4]"},                       \
    {'k', "keep-going", SC_ARG_NONE, NULL,                                    \
     "record a failed dataset in the manifest and go on (exit status 3)"}

/* The options of validate. */
#define OPTS_VALIDATE                                                         \
    {0, NULL, 0, NULL, "Validation options:"},                                \
    {OPT_SUBMISSION, "submission", SC_ARG_NONE, NULL,                         \
     "check as for a submission to CELLxGENE: the label columns and uns "     \
     "keys the portal adds (obs, var, raw.var, uns) are errors"}

/* The options of export. */
#define OPTS_EXPORT                                                           \
    {0, NULL, 0, NULL, "Export options:"},                                    \
    {OPT_FIELDS, "fields", SC_ARG_REQUIRED, "LIST",                           \
     "fields to export [cell_type,tissue,disease,assay,sex,"                  \
     "development_stage,self_reported_ethnicity,organism]"},                  \
    {OPT_COARSE, "coarse", SC_ARG_NONE, NULL,                                 \
     "add the CELLxGENE coarse groups (cell class, organ, system, "           \
     "tissue_general) to the vocabularies"}
/* clang-format on */

/* Every option: the tool's own --help, and the search command. */
static const sc_opt opts_all[] = {
    SC_OPT_COMMON,
    OPTS_OUTPUT,
    OPTS_SEARCH,
    OPTS_ANNOTATE,
    {OPT_FIELD, "field", SC_ARG_REQUIRED, "FIELD",
     "map, inspect: the field of the labels [cell_type]"},
    {OPT_IN_COLUMN, "in-column", SC_ARG_REQUIRED, "COL",
     "map, inspect: the TSV column of the labels"},
    OPTS_VALIDATE,
    OPTS_EXPORT,
    OPTS_DATA,
    SC_OPT_END};

static const sc_opt opts_annotate[] = {SC_OPT_COMMON, OPTS_OUTPUT,
                                       OPTS_ANNOTATE, OPTS_DATA, SC_OPT_END};
static const sc_opt opts_map[] = {SC_OPT_COMMON, OPTS_OUTPUT, OPTS_MAP,
                                  OPTS_DATA, SC_OPT_END};
static const sc_opt opts_validate[] = {SC_OPT_COMMON, OPTS_OUTPUT,
                                       OPTS_VALIDATE, OPTS_DATA, SC_OPT_END};
static const sc_opt opts_export[] = {
    SC_OPT_COMMON,
    {'d', "outdir", SC_ARG_REQUIRED, "DIR",
     "write the vocabularies, hierarchies and distances into DIR (required)"},
    {'o', "output", SC_ARG_REQUIRED, "FILE",
     "write the summary to FILE, - for stdout [-]"},
    {'k', "keep-going", SC_ARG_NONE, NULL,
     "skip a dataset that cannot be read (exit status 3)"},
    OPTS_EXPORT,
    OPTS_DATA,
    SC_OPT_END};

static const sc_opt opts_query[] = {SC_OPT_COMMON, OPTS_OUTPUT, OPTS_DATA,
                                    SC_OPT_END};

static int print_versions(void);

/* --column: FIELD=COL[,FIELD=COL...], added to the earlier ones. */
static int add_columns(struct args *a, const char *arg)
{
    static char buf[4096];
    size_t used = a->columns ? strlen(a->columns) : 0;

    for (const char *p = arg; *p;) {
        size_t n = strcspn(p, ",");
        const char *eq = memchr(p, '=', n);
        char f[64];

        if (!eq || eq == p || (size_t)(eq - p) >= sizeof f)
            return sc_fail(SC_EINVAL, "expected FIELD=COLUMN, not '%.*s'",
                           (int)n, p);
        snprintf(f, sizeof f, "%.*s", (int)(eq - p), p);
        if (sc_match_field_find(f) < 0)
            return sc_fail(SC_EINVAL, "unknown field '%s'", f);
        p += n;
        if (*p)
            p++;
    }
    if (a->columns != buf)
        buf[0] = '\0';
    if (used + strlen(arg) + 2 > sizeof buf)
        return sc_fail(SC_EINVAL, "too many columns");
    snprintf(buf + used, sizeof buf - used, "%s%s", used ? "," : "", arg);
    a->columns = buf;
    return 0;
}

/* --fields: a comma-separated list of known fields. */
static int check_fields(struct args *a, const char *arg)
{
    char f[64];

    for (const char *p = arg; *p;) {
        size_t n = strcspn(p, ",");

        snprintf(f, sizeof f, "%.*s", (int)n, p);
        if (sc_match_field_find(f) < 0)
            return sc_fail(SC_EINVAL, "unknown field '%s'", f);
        p += n;
        if (*p)
            p++;
    }
    a->fields = arg;
    return 0;
}

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;

    switch (key) {
    case 'o': a->output = arg; break;
    case 'O':
        if (strcmp(arg, "text") && strcmp(arg, "json"))
            return sc_fail(SC_EINVAL, "unknown format '%s' (text, json)", arg);
        a->json = !strcmp(arg, "json");
        break;
    case OPT_JSON: a->json = 1; break;
    case OPT_SHARE: return sc_share_set_dir(arg);
    case OPT_CACHE: a->cache = arg; break;
    case OPT_NO_CACHE: a->no_cache = 1; break;
    case OPT_LATEST: a->latest = 1; break;
    case OPT_ONTOLOGY: a->ontology = arg; break;
    case OPT_MAX: return sc_parse_int(arg, 1, 1000000, &a->max);
    case 'd': a->outdir = arg; break;
    case OPT_MAPPING:
        if (a->n_mapping >= 16)
            return sc_fail(SC_EINVAL, "at most 16 mapping files");
        a->mapping[a->n_mapping++] = arg;
        break;
    case OPT_CURATED: a->curated = arg; break;
    case OPT_NO_CURATED: a->curated = ""; break;
    case OPT_CROSSWALK: a->crosswalk = arg; break;
    case OPT_NO_CROSSWALK: a->crosswalk = ""; break;
    case OPT_FIELD:
        if (sc_match_field_find(arg) < 0)
            return sc_fail(SC_EINVAL, "unknown field '%s'", arg);
        a->field = arg;
        break;
    case OPT_IN_COLUMN: a->in_column = arg; break;
    case OPT_SET:
        if (a->n_set >= 32)
            return sc_fail(SC_EINVAL, "at most 32 --set");
        a->set[a->n_set++] = arg;
        return ann_check_set(arg);
    case OPT_DEFAULT:
        if (a->n_default >= 32)
            return sc_fail(SC_EINVAL, "at most 32 --default");
        a->defaults[a->n_default++] = arg;
        return ann_check_set(arg);
    case OPT_SET_FILE: a->set_file = arg; break;
    case OPT_NO_FILL: a->no_fill = 1; break;
    case OPT_PCA: {
        int64_t v;
        int rc = sc_parse_int(arg, 0, 50, &v);

        if (rc == 0 && v == 1)
            rc = sc_fail(SC_EINVAL, "--pca: an embedding needs at least 2 "
                                    "components");
        a->pca = (int)v;
        return rc;
    }
    case OPT_COLUMN: return add_columns(a, arg);
    case OPT_ORGANISM: a->organism = arg; break;
    case OPT_DRY_RUN: a->dry_run = 1; break;
    case OPT_SUGGESTIONS: return sc_parse_int(arg, 0, 3, &a->suggestions);
    case 'l': {
        int64_t v;
        int rc = sc_parse_int(arg, 0, 9, &v);

        a->compress_level = (int)v;
        return rc;
    }
    case 'k': a->keep_going = 1; break;
    case OPT_SUBMISSION: a->submission = 1; break;
    case OPT_FIELDS: return check_fields(a, arg);
    case OPT_COARSE: a->coarse = 1; break;
    case SC_OPT_VERSION_HOOK: return print_versions();
    default: return sc_fail(SC_EINVAL, "unhandled option");
    }
    return 0;
}

/* --version: the reference data versions, read from the files. */
static int print_versions(void)
{
    printf("reference data: %s\n", sc_share_dir());
    return sc_onto_print_versions(stdout, sc_onto_run_set(0));
}

/* ---- output ---- */

/* One JSON value on a line; VALUE is released. */
int ann_put_json(FILE *fp, json_t *value)
{
    int rc = 0;

    if (!value)
        return sc_fail(SC_ENOMEM, "out of memory");
    if (json_dumpf(value, fp, JSON_COMPACT) != 0 || fputc('\n', fp) == EOF)
        rc = sc_fail(SC_EIO, "cannot write the output");
    json_decref(value);
    return rc;
}

/* ---- loading the ontologies ---- */

static int load(const struct args *a, const sc_cli *cli, sc_onto **out)
{
    sc_onto *o = NULL;
    int rc, cached = 0;

    if ((rc = sc_onto_new(a->no_cache ? SC_ONTO_NO_CACHE : 0, &o)) < 0)
        return rc;
    if (a->cache && (rc = sc_onto_set_cache_dir(o, a->cache)) < 0)
        goto fail;
    rc = sc_onto_load_set(o, sc_onto_run_set(a->latest), cli->threads);
    if (rc < 0)
        goto fail;
    for (int i = 0; i < sc_onto_count(o); i++) {
        cached += sc_onto_from_cache(o, i);
        sc_log_debug("%s %s: %lld terms from '%s'%s", sc_onto_name(o, i),
                     sc_onto_version(o, i), (long long)sc_onto_size(o, i),
                     sc_onto_source(o, i),
                     sc_onto_from_cache(o, i) ? " (cache)" : "");
    }
    sc_log_info("%d ontologies, %lld terms, in %.3f s (%d from the cache)",
                sc_onto_count(o), (long long)sc_onto_n_terms(o),
                sc_cli_elapsed(cli), cached);
    *out = o;
    return 0;
fail:
    sc_onto_free(o);
    return rc;
}

/* The term with id ID, or an error naming it. */
static int need_term(const sc_onto *o, const char *id, sc_onto_term *t)
{
    char buf[256];
    int rc;

    if ((rc = sc_onto_normalize_id(id, buf, sizeof buf)) < 0)
        return rc;
    if ((*t = sc_onto_find(o, buf)) == SC_ONTO_NONE)
        return sc_fail(SC_ENOTFOUND, "unknown term '%s'", id);
    return 0;
}

/* ---- term ---- */

json_t *ann_term_ref(const sc_onto *o, sc_onto_term t)
{
    return json_pack("{s:s, s:s}", "id", sc_onto_id(o, t), "label",
                     sc_onto_label(o, t));
}

static json_t *links_json(const sc_onto *o, const sc_onto_link *l, size_t n,
                          int with_dist)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++) {
        json_t *r = ann_term_ref(o, l[i].term);

        if (r && with_dist)
            json_object_set_new(r, "distance", json_integer(l[i].dist));
        json_array_append_new(a, r);
    }
    return a;
}

static json_t *strings_json(const sc_onto *o, sc_onto_term t,
                            size_t (*count)(const sc_onto *, sc_onto_term),
                            const char *(*get)(const sc_onto *, sc_onto_term,
                                               size_t))
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < count(o, t); i++)
        json_array_append_new(a, json_string(get(o, t, i)));
    return a;
}

/* Everything about one term, for both formats. */
struct term_info {
    sc_onto_link *anc, *par;
    size_t n_anc, n_par, n_child, n_desc;
    sc_onto_term resolved;
    int steps;
    char why[256]; /* why a deprecated term does not resolve */
};

static int term_info(const sc_onto *o, sc_onto_term t, struct term_info *ti)
{
    sc_onto_link *l = NULL;
    int rc;

    memset(ti, 0, sizeof *ti);
    if ((rc = sc_onto_ancestors(o, t, &ti->anc, &ti->n_anc)) < 0 ||
        (rc = sc_onto_parents(o, t, &ti->par, &ti->n_par)) < 0 ||
        (rc = sc_onto_children(o, t, &l, &ti->n_child)) < 0)
        return rc;
    free(l);
    if ((rc = sc_onto_descendants(o, t, &l, &ti->n_desc)) < 0)
        return rc;
    free(l);
    if (sc_onto_resolve(o, t, &ti->resolved, &ti->steps) < 0) {
        snprintf(ti->why, sizeof ti->why, "%s", sc_errmsg());
        sc_err_clear();
    }
    return 0;
}

static void term_info_release(struct term_info *ti)
{
    free(ti->anc);
    free(ti->par);
}

static int term_json(FILE *fp, const sc_onto *o, sc_onto_term t,
                     const struct term_info *ti)
{
    int i = sc_onto_ontology(o, t);
    const char *rb = sc_onto_replaced_by(o, t);
    json_t *j = json_pack(
        "{s:s, s:s, s:s, s:s, s:b, s:i, s:o, s:o, s:o, s:o, s:o, s:I, s:I}",
        "id", sc_onto_id(o, t), "label", sc_onto_label(o, t), "ontology",
        sc_onto_name(o, i), "version", sc_onto_version(o, i), "deprecated",
        sc_onto_is_deprecated(o, t), "depth", sc_onto_depth(o, t), "synonyms",
        strings_json(o, t, sc_onto_n_synonyms, sc_onto_synonym), "consider",
        strings_json(o, t, sc_onto_n_consider, sc_onto_consider), "replaced_by",
        rb ? json_string(rb) : json_null(), "parents",
        links_json(o, ti->par, ti->n_par, 0), "ancestors",
        links_json(o, ti->anc, ti->n_anc, 1), "n_children",
        (json_int_t)ti->n_child, "n_descendants", (json_int_t)ti->n_desc);

    if (j && sc_onto_is_deprecated(o, t)) {
        json_object_set_new(j, "resolves_to",
                            ti->resolved != SC_ONTO_NONE
                                ? ann_term_ref(o, ti->resolved)
                                : json_null());
        if (ti->resolved == SC_ONTO_NONE)
            json_object_set_new(j, "unresolved", json_string(ti->why));
    }
    return ann_put_json(fp, j);
}

static void term_text(FILE *fp, const sc_onto *o, sc_onto_term t,
                      const struct term_info *ti)
{
    int i = sc_onto_ontology(o, t);
    const char *rb = sc_onto_replaced_by(o, t);
    sc_onto_term r;

    fprintf(fp, "id\t%s\nlabel\t%s\nontology\t%s\t%s\n", sc_onto_id(o, t),
            sc_onto_label(o, t), sc_onto_name(o, i), sc_onto_version(o, i));
    fprintf(fp, "deprecated\t%s\n",
            sc_onto_is_deprecated(o, t) ? "true" : "false");
    if (rb) {
        r = sc_onto_find(o, rb);
        fprintf(fp, "replaced_by\t%s\t%s\n", rb,
                r != SC_ONTO_NONE ? sc_onto_label(o, r) : "");
    }
    if (sc_onto_is_deprecated(o, t)) {
        if (ti->resolved != SC_ONTO_NONE)
            fprintf(fp, "resolves_to\t%s\t%s\n", sc_onto_id(o, ti->resolved),
                    sc_onto_label(o, ti->resolved));
        else
            fprintf(fp, "unresolved\t%s\n", ti->why);
    }
    for (size_t k = 0; k < sc_onto_n_consider(o, t); k++) {
        const char *c = sc_onto_consider(o, t, k);

        r = sc_onto_find(o, c);
        fprintf(fp, "consider\t%s\t%s\n", c,
                r != SC_ONTO_NONE ? sc_onto_label(o, r) : "");
    }
    fprintf(fp, "depth\t%d\n", sc_onto_depth(o, t));
    for (size_t k = 0; k < sc_onto_n_synonyms(o, t); k++)
        fprintf(fp, "synonym\t%s\n", sc_onto_synonym(o, t, k));
    for (size_t k = 0; k < ti->n_par; k++)
        fprintf(fp, "parent\t%s\t%s\n", sc_onto_id(o, ti->par[k].term),
                sc_onto_label(o, ti->par[k].term));
    for (size_t k = 0; k < ti->n_anc; k++)
        fprintf(fp, "ancestor\t%s\t%d\t%s\n", sc_onto_id(o, ti->anc[k].term),
                ti->anc[k].dist, sc_onto_label(o, ti->anc[k].term));
    fprintf(fp, "children\t%zu\ndescendants\t%zu\n", ti->n_child, ti->n_desc);
}

/* The ids to show: the operands, where "-" reads one id a line from stdin
 * (blank lines and "#" comments skipped). */
static int for_each_id(int argc, char **argv,
                       int (*fn)(const char *id, void *ud), void *ud)
{
    int rc = 0;

    for (int i = 0; i < argc && rc == 0; i++) {
        sc_lines *in = NULL;
        char *line;
        size_t len;

        if (strcmp(argv[i], "-")) {
            rc = fn(argv[i], ud);
            continue;
        }
        if ((rc = sc_lines_open("-", &in)) < 0)
            break;
        while (rc == 0 && (rc = sc_lines_next(in, &line, &len)) > 0) {
            line[strcspn(line, "\t")] = '\0';
            rc = *line && *line != '#' ? fn(line, ud) : 0;
        }
        sc_lines_close(in);
    }
    return rc;
}

struct term_ctx {
    const sc_onto *o;
    const struct args *a;
    FILE *fp;
    int n;
};

static int show_term(const char *id, void *ud)
{
    struct term_ctx *c = ud;
    struct term_info ti;
    sc_onto_term t;
    int rc;

    if ((rc = need_term(c->o, id, &t)) < 0)
        return rc;
    if ((rc = term_info(c->o, t, &ti)) == 0) {
        if (c->a->json) {
            rc = term_json(c->fp, c->o, t, &ti);
        } else {
            if (c->n)
                fputc('\n', c->fp);
            term_text(c->fp, c->o, t, &ti);
        }
    }
    term_info_release(&ti);
    c->n++;
    return rc;
}

static int cmd_term(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                    char **argv)
{
    struct term_ctx c = {o, a, fp, 0};

    return for_each_id(argc, argv, show_term, &c);
}

/* ---- children, descendants ---- */

struct below_ctx {
    const sc_onto *o;
    int32_t *dist; /* per term: 0 absent, else the distance + 1 */
    int all;       /* descendants, not only children */
};

static int collect_below(const char *id, void *ud)
{
    struct below_ctx *c = ud;
    sc_onto_link *l = NULL;
    size_t n = 0;
    sc_onto_term t;
    int rc;

    if ((rc = need_term(c->o, id, &t)) < 0)
        return rc;
    rc = c->all ? sc_onto_descendants(c->o, t, &l, &n)
                : sc_onto_children(c->o, t, &l, &n);
    if (rc < 0)
        return rc;
    for (size_t k = 0; k < n; k++) {
        int32_t *d = &c->dist[l[k].term];

        if (!*d || *d > l[k].dist + 1)
            *d = l[k].dist + 1;
    }
    free(l);
    return 0;
}

/* The children (or descendants) of the operands, together, in id order. */
static int cmd_below(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                     char **argv, int all)
{
    int64_t nt = sc_onto_n_terms(o);
    struct below_ctx c = {o, calloc((size_t)nt + 1, sizeof(int32_t)), all};
    json_t *arr = NULL;
    int rc;

    if (!c.dist)
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = for_each_id(argc, argv, collect_below, &c)) < 0)
        goto out;
    if (a->json && !(arr = json_array())) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t k = 0; k < nt; k++) {
        sc_onto_term t = (sc_onto_term)k;

        if (!c.dist[k])
            continue;
        if (arr) {
            json_t *r = ann_term_ref(o, t);

            if (r && all)
                json_object_set_new(r, "distance", json_integer(c.dist[k] - 1));
            json_array_append_new(arr, r);
        } else if (all) {
            fprintf(fp, "%s\t%d\t%s\n", sc_onto_id(o, t), c.dist[k] - 1,
                    sc_onto_label(o, t));
        } else {
            fprintf(fp, "%s\t%s\n", sc_onto_id(o, t), sc_onto_label(o, t));
        }
    }
    if (arr) {
        rc = ann_put_json(fp, arr);
        arr = NULL;
    }
out:
    json_decref(arr);
    free(c.dist);
    return rc;
}

static int cmd_children(const struct args *a, const sc_onto *o, FILE *fp,
                        int argc, char **argv)
{
    return cmd_below(a, o, fp, argc, argv, 0);
}

static int cmd_descendants(const struct args *a, const sc_onto *o, FILE *fp,
                           int argc, char **argv)
{
    return cmd_below(a, o, fp, argc, argv, 1);
}

/* ---- lca, distance ---- */

static int cmd_pair(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                    char **argv, int lca_rows)
{
    sc_onto_term x, y, *lca = NULL;
    size_t n = 0;
    json_t *j, *arr;
    int rc, d;

    (void)argc;
    if ((rc = need_term(o, argv[0], &x)) < 0 ||
        (rc = need_term(o, argv[1], &y)) < 0 ||
        (rc = sc_onto_lca(o, x, y, &lca, &n, &d)) < 0)
        return rc;
    for (int k = 0; k < 2; k++)
        if (sc_onto_is_deprecated(o, k ? y : x))
            sc_log_warn("'%s' is obsolete: it has no ancestors",
                        sc_onto_id(o, k ? y : x));
    if (!n)
        sc_log_warn("'%s' and '%s' have no common ancestor", sc_onto_id(o, x),
                    sc_onto_id(o, y));
    if (a->json) {
        arr = json_array();
        for (size_t k = 0; arr && k < n; k++) {
            json_t *r = ann_term_ref(o, lca[k]);

            json_object_set_new(
                r, "distance_a",
                json_integer(sc_onto_ancestor_dist(o, x, lca[k])));
            json_object_set_new(
                r, "distance_b",
                json_integer(sc_onto_ancestor_dist(o, y, lca[k])));
            json_array_append_new(arr, r);
        }
        j = json_pack("{s:s, s:s, s:i, s:o}", "a", sc_onto_id(o, x), "b",
                      sc_onto_id(o, y), "distance", d, "lca",
                      arr ? arr : json_null());
        rc = ann_put_json(fp, j);
    } else if (lca_rows) {
        for (size_t k = 0; k < n; k++)
            fprintf(fp, "%s\t%s\t%d\t%d\n", sc_onto_id(o, lca[k]),
                    sc_onto_label(o, lca[k]),
                    sc_onto_ancestor_dist(o, x, lca[k]),
                    sc_onto_ancestor_dist(o, y, lca[k]));
    } else {
        fprintf(fp, "%d\n", d);
    }
    free(lca);
    return rc;
}

static int cmd_lca(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                   char **argv)
{
    return cmd_pair(a, o, fp, argc, argv, 1);
}

static int cmd_distance(const struct args *a, const sc_onto *o, FILE *fp,
                        int argc, char **argv)
{
    return cmd_pair(a, o, fp, argc, argv, 0);
}

/* ---- search ---- */

static int cmd_search(const struct args *a, const sc_onto *o, FILE *fp,
                      int argc, char **argv)
{
    int only = a->ontology ? sc_onto_find_ontology(o, a->ontology) : -1;
    size_t len = 0, n = 0;
    sc_onto_hit *hits = NULL;
    char *text;
    json_t *arr;
    int rc;

    for (int i = 0; i < argc; i++)
        len += strlen(argv[i]) + 1;
    if (!(text = malloc(len + 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    text[0] = '\0';
    for (int i = 0; i < argc; i++) /* the words of the operands */
        strcat(strcat(text, i ? " " : ""), argv[i]);
    rc = sc_onto_search(o, text, only, (size_t)a->max, &hits, &n);
    free(text);
    if (rc < 0)
        return rc;
    if (a->json) {
        arr = json_array();
        for (size_t k = 0; arr && k < n; k++)
            json_array_append_new(
                arr, json_pack("{s:s, s:s, s:s, s:f, s:s, s:b}", "id",
                               sc_onto_id(o, hits[k].term), "label",
                               sc_onto_label(o, hits[k].term), "tier",
                               sc_onto_tier_name(hits[k].tier), "score",
                               hits[k].score, "matched", hits[k].matched,
                               "deprecated",
                               sc_onto_is_deprecated(o, hits[k].term)));
        rc = ann_put_json(fp, arr);
    } else {
        for (size_t k = 0; k < n; k++)
            fprintf(fp, "%.3f\t%s\t%s\t%s\t%s\n", hits[k].score,
                    sc_onto_tier_name(hits[k].tier),
                    sc_onto_id(o, hits[k].term), sc_onto_label(o, hits[k].term),
                    hits[k].matched);
    }
    free(hits);
    return rc;
}

/* ---- the commands ---- */

/* What every command runs: its operands, the ontologies, the output. */
typedef int run_fn(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                   char **argv);

/* Query commands read ontologies with -@ threads; annotate also writes
 * provenance. */
#define QUERY (SC_CLI_CONFIG | SC_CLI_THREADS)

/* clang-format off: one line of --help per line */
static const sc_cmd commands[] = {
    {"term",
     "term [options] <id>...\n"
     "Show ontology terms: label, synonyms, obsolete status and replacement,\n"
     "parents, ancestors with distances. Ids may be spelled CL:0000236,\n"
     "CL_0000236, cl:0000236 or as OBO PURLs; '-' reads ids from stdin.",
     "show terms: label, synonyms, status, parents, ancestors", opts_query,
     QUERY, 0, -1, SC_CMD_FN(cmd_term)},
    {"children",
     "children [options] <id>...\n"
     "List the children of terms (is_a and part_of, one step), together and\n"
     "in id order: id and label a line. '-' reads ids from stdin.",
     "list the children of terms", opts_query, QUERY, 1, -1,
     SC_CMD_FN(cmd_children)},
    {"descendants",
     "descendants [options] <id>...\n"
     "List the descendants of terms, together and in id order: id, the\n"
     "shortest distance from a term given, label. '-' reads ids from stdin.",
     "list the descendants of terms", opts_query, QUERY, 1, -1,
     SC_CMD_FN(cmd_descendants)},
    {"lca",
     "lca [options] <id> <id>\n"
     "Print the lowest common ancestors of two terms (several when they "
     "tie):\n"
     "id, label, distance from the first term, distance from the second.",
     "lowest common ancestors of two terms", opts_query, QUERY, 2, 2,
     SC_CMD_FN(cmd_lca)},
    {"distance",
     "distance [options] <id> <id>\n"
     "Print the distance between two terms: the edges from each up to their\n"
     "lowest common ancestor, added; -1 when they have none.",
     "distance between two terms through their lowest common ancestor",
     opts_query, QUERY, 2, 2, SC_CMD_FN(cmd_distance)},
    {"search",
     "search [options] <text>...\n"
     "Suggest terms for free text, best first: exact label, label in any "
     "case,\n"
     "synonym, all words found, then close spellings. Prints score, tier, "
     "id,\nlabel and the string that matched. Suggestions only.",
     "ranked term suggestions for free text", opts_all, QUERY, 1, -1,
     SC_CMD_FN(cmd_search)},
    {"map",
     "map [options] [<labels.txt>|-]...\n"
     "Map free-text labels of one field (--field) to ontology terms: one\n"
     "label a line, or a column of a TSV (--in-column), from files or stdin.\n"
     "Prints label, term_id, term_label, tier, confident, evidence and the\n"
     "candidates (of an ambiguous label) or suggestions. Only confident\n"
     "tiers give a term; \"weak\" matches are suggestions.",
     "map free-text labels to terms, with tier and evidence", opts_map, QUERY,
     0, -1, SC_CMD_FN(ann_cmd_map)},
    {"inspect",
     "inspect [options] [<labels.txt>|-]...\n"
     "Say which labels validate (are a term's label or id), which map (a\n"
     "confident tier), which only have suggestions, which are ambiguous and\n"
     "which do not map: label, status, term_id, tier, candidates a line; the\n"
     "counts on stderr.",
     "which labels validate, map, or do not", opts_map, QUERY, 0, -1,
     SC_CMD_FN(ann_cmd_inspect)},
    {"annotate",
     "annotate [options] -d DIR [<in.h5ad>...]\n"
     "Map the label columns of datasets (files, or a manifest on stdin) to\n"
     "ontology terms: write DIR/<name>.h5ad with the *_ontology_term_id and\n"
     "label columns, DIR/<name>.annotate.json and DIR/<name>.labels.tsv\n"
     "(every label with its term and tier, or its candidates), and a\n"
     "manifest line per dataset on stdout.",
     "map label columns of datasets to ontology terms", opts_annotate,
     SC_CLI_ALL, 0, -1, SC_CMD_FN(ann_cmd_annotate)},
    {"validate",
     "validate [options] <in.h5ad>...\n"
     "Check datasets against the CELLxGENE schema rules (the vendored\n"
     "schema_definition.yaml): print ERROR and WARNING lines; exit status 1\n"
     "when a dataset has an error.",
     "check datasets against the CELLxGENE schema", opts_validate, QUERY, 1, -1,
     SC_CMD_FN(ann_cmd_validate)},
    {"export",
     "export [options] -d DIR [<in.h5ad>...]\n"
     "Write training label files for a set of datasets (files, or a manifest\n"
     "on stdin): per field a vocabulary, the hierarchy of parents over\n"
     "leaves, and the pairwise distances and lowest common ancestors of the\n"
     "terms used, as TSV and .npy.",
     "vocabularies, hierarchies and distances for training", opts_export, QUERY,
     0, -1, SC_CMD_FN(ann_cmd_export)},
};
/* clang-format on */

static int run(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    static char dash[] = "-", *stdin_only[] = {dash};
    struct args *a = ud;
    int document = cmd->fn == SC_CMD_FN(ann_cmd_annotate) ||
                   cmd->fn == SC_CMD_FN(ann_cmd_export);
    sc_onto *o = NULL;
    sc_atomic out;
    FILE *fp = NULL;
    int rc;

    if (!strcmp(cmd->name, "term") && cli->argc == 0) {
        if (isatty(STDIN_FILENO))
            return sc_cli_usage_fail("term: no term id given");
        cli->argc = 1; /* read the ids from stdin */
        cli->argv = stdin_only;
    }
    if (document && !a->outdir)
        return sc_cli_usage_fail("%s: no output directory (-d DIR)", cmd->name);
    if (document &&
        (cli->argc == 0 || (cli->argc == 1 && !strcmp(cli->argv[0], "-"))) &&
        isatty(STDIN_FILENO))
        return sc_cli_usage_fail("%s: no input", cmd->name);
    a->cli = cli;
    if ((rc = load(a, cli, &o)) < 0)
        return rc;
    if (a->ontology && sc_onto_find_ontology(o, a->ontology) < 0) {
        sc_onto_free(o);
        return sc_cli_usage_fail("unknown ontology '%s'", a->ontology);
    }
    if ((rc = sc_io_atomic_open(a->output, &out, &fp)) == 0) {
        int wrc;

        rc = ((run_fn *)cmd->fn)(a, o, fp, cli->argc, cli->argv);
        wrc = sc_io_atomic_finish(&out, rc > 0 ? 0 : rc);
        if (wrc < 0)
            rc = wrc;
    }
    sc_onto_free(o);
    return rc;
}

static const sc_tool tool = SC_TOOL(
    prog,
    "<command> [options] [arguments]\nMap single-cell metadata to ontology "
    "terms and query the ontologies.",
    opts_all, on_option, commands, NULL, run);

int main(int argc, char **argv)
{
    struct args a = {
        .output = "-", .max = 10, .compress_level = 4, .suggestions = 3};

    return sc_cli_dispatch(&tool, argc, argv, &a);
}
