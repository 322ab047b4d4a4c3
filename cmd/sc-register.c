/* sc-register: a registry of datasets, their terms, collections and lineage. */
/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_cli.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_onto.h"
#include "sc_progress.h"
#include "sc_registry.h"
#include "sc_share.h"

#include "sc-register.h"

enum {
    OPT_DB = SC_OPT_USER,
    OPT_TRUST,
    OPT_ROOT,
    OPT_FIELD,
    OPT_CELL_TYPE,
    OPT_TISSUE,
    OPT_DISEASE,
    OPT_ASSAY,
    OPT_ORGANISM,
    OPT_SEX,
    OPT_STAGE,
    OPT_NO_EXPAND,
    OPT_MIN_CELLS,
    OPT_GENE,
    OPT_SINCE,
    OPT_UNTIL,
    OPT_TRANSFORM,
    OPT_FORMAT,
    OPT_ALL_VERSIONS,
    OPT_LIMIT,
    OPT_WEIGHT,
    OPT_ALLOW_DERIVED,
    OPT_DESCRIPTION,
    OPT_COUNT_FIELD,
    OPT_UP,
    OPT_DOWN,
    OPT_DOT,
    OPT_DEPTH,
    OPT_TOOL,
    OPT_TOOL_VERSION,
    OPT_INPUT,
    OPT_OUTPUT_FILE,
    OPT_STATUS,
    OPT_QUICK,
    OPT_SHARE,
    OPT_NETWORK_FS,
    OPT_TO,
    OPT_SPLIT_FILE,
    OPT_MAX_SIZE,
};

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {OPT_DB, "db", SC_ARG_REQUIRED, "DB",
     "the registry: a file or postgresql:// URI [$SC_REGISTRY or "
     "sc-registry.db]"},
    {OPT_NETWORK_FS, "force-network-fs", SC_ARG_NONE, NULL,
     "use a SQLite registry on a network file system anyway (unsafe "
     "locking) [$SC_REGISTRY_FORCE_NETWORK_FS]"},
    {'o', "output", SC_ARG_REQUIRED, "FILE",
     "write the output to FILE [-] (report: the new directory [sc-report])"},
    {'O', "output-fmt", SC_ARG_REQUIRED, "FMT",
     "query, collection: table or manifest [table]"},
    {'k', "keep-going", SC_ARG_NONE, NULL,
     "add: report a dataset that fails and go on with the others"},
    {OPT_TRUST, "trust-sha256", SC_ARG_NONE, NULL,
     "add: take the manifest's sha256 column instead of hashing"},
    {OPT_ROOT, "root", SC_ARG_REQUIRED, "DIR",
     "init, add: store paths below DIR relative to it"},
    {0, NULL, 0, NULL, "Query filters (query, collection add):"},
    {OPT_CELL_TYPE, "cell-type", SC_ARG_REQUIRED, "TERM",
     "cells of this type or a subtype (id or label)"},
    {OPT_TISSUE, "tissue", SC_ARG_REQUIRED, "TERM", "tissue or a part of it"},
    {OPT_DISEASE, "disease", SC_ARG_REQUIRED, "TERM", "disease"},
    {OPT_ASSAY, "assay", SC_ARG_REQUIRED, "TERM", "assay"},
    {OPT_ORGANISM, "organism", SC_ARG_REQUIRED, "TERM",
     "organism (also 'human', 'mouse')"},
    {OPT_SEX, "sex", SC_ARG_REQUIRED, "TERM", "sex"},
    {OPT_STAGE, "development-stage", SC_ARG_REQUIRED, "TERM",
     "development stage"},
    {OPT_FIELD, "field", SC_ARG_REQUIRED, "FIELD=TERM",
     "any field (the obs column without _ontology_term_id)"},
    {OPT_NO_EXPAND, "no-expand", SC_ARG_NONE, NULL,
     "match the terms only, not their descendants"},
    {OPT_MIN_CELLS, "min-cells", SC_ARG_REQUIRED, "N",
     "at least N matching cells (of every term filter, else in all) [1]"},
    {OPT_GENE, "gene", SC_ARG_REQUIRED, "ID",
     "the gene is measured (repeat: all of them)"},
    {OPT_SINCE, "since", SC_ARG_REQUIRED, "TIME",
     "registered at or after TIME (YYYY-MM-DD[THH:MM:SS] UTC or @SECONDS)"},
    {OPT_UNTIL, "until", SC_ARG_REQUIRED, "TIME", "registered before TIME"},
    {OPT_TRANSFORM, "transform", SC_ARG_REQUIRED, "TOOL[@VERSION]",
     "made by a run of this tool (at any depth)"},
    {OPT_FORMAT, "format", SC_ARG_REQUIRED, "FMT", "h5ad, loom, file..."},
    {OPT_ALL_VERSIONS, "all-versions", SC_ARG_NONE, NULL,
     "older versions too, not only the latest at each path"},
    {OPT_LIMIT, "limit", SC_ARG_REQUIRED, "N", "at most N artifacts"},
    {0, NULL, 0, NULL, "Collections, counts, lineage, runs, verify:"},
    {OPT_WEIGHT, "weight", SC_ARG_REQUIRED, "W",
     "collection add: sampling weight of the members [1]"},
    {OPT_ALLOW_DERIVED, "allow-derived", SC_ARG_NONE, NULL,
     "collection add: allow an artifact and one it derives from (the "
     "same cells twice)"},
    {OPT_DESCRIPTION, "description", SC_ARG_REQUIRED, "TEXT",
     "collection create: a description"},
    {OPT_SPLIT_FILE, "split-file", SC_ARG_REQUIRED, "FILE",
     "collection export: also write the version's split file to FILE"},
    {OPT_COUNT_FIELD, "count-field", SC_ARG_REQUIRED, "FIELD",
     "counts: the field to count [cell_type]"},
    {OPT_UP, "up", SC_ARG_NONE, NULL, "lineage: upstream only"},
    {OPT_DOWN, "down", SC_ARG_NONE, NULL, "lineage: downstream only"},
    {OPT_DOT, "dot", SC_ARG_NONE, NULL, "lineage: Graphviz DOT output"},
    {OPT_DEPTH, "depth", SC_ARG_REQUIRED, "N", "lineage: at most N steps [64]"},
    {OPT_TOOL, "tool", SC_ARG_REQUIRED, "NAME", "run start: the program"},
    {OPT_TOOL_VERSION, "tool-version", SC_ARG_REQUIRED, "V",
     "run start: its version [unknown]"},
    {OPT_INPUT, "input", SC_ARG_REQUIRED, "REF",
     "run start: an input (artifact, NAME@N, URI); repeatable"},
    {OPT_OUTPUT_FILE, "output-file", SC_ARG_REQUIRED, "FILE",
     "run finish: register FILE as an output; repeatable"},
    {OPT_STATUS, "status", SC_ARG_REQUIRED, "S", "run finish: status [ok]"},
    {OPT_TO, "to", SC_ARG_REQUIRED, "DB",
     "migrate: the new registry (a postgresql:// URI or a file)"},
    {OPT_QUICK, "quick", SC_ARG_NONE, NULL,
     "verify: compare size and mtime, hash only files that changed"},
    {OPT_MAX_SIZE, "max-size", SC_ARG_REQUIRED, "SIZE",
     "add: refuse an s3:// or http(s) object larger than SIZE bytes, with "
     "K, M, G, T [1T]"},
    {OPT_SHARE, "share", SC_ARG_REQUIRED, "DIR",
     "reference data (ontologies) [$SC_SHARE or the installed share/sc]"},
    SC_OPT_VERSION_EXTRA,
    SC_OPT_END};

/* ---- options ---- */

static int push(void *vp, size_t *n, size_t size, const void *x)
{
    void **v = vp;
    void *p = realloc(*v, (*n + 1) * size);
    if (!p)
        return sc_fail(SC_ENOMEM, "out of memory");
    memcpy((char *)p + *n * size, x, size);
    *v = p;
    ++*n;
    return 0;
}

static int add_term_arg(struct args *a, const char *field, const char *text)
{
    struct term_arg t = {field, text, NULL};
    return push(&a->terms, &a->n_terms, sizeof t, &t);
}

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;
    int64_t v;
    int rc;

    switch (key) {
    case SC_OPT_VERSION_HOOK: /* ontologies used to expand term queries */
        printf("reference data: %s\n", sc_share_dir());
        return sc_onto_print_versions(stdout, sc_onto_run_set(0));
    case OPT_DB: a->db = arg; break;
    case OPT_NETWORK_FS: a->network_fs = 1; break;
    case 'o': a->output = arg; break;
    case 'O':
        if (!strcmp(arg, "table") || !strcmp(arg, "tsv"))
            a->manifest = 0;
        else if (!strcmp(arg, "manifest"))
            a->manifest = 1;
        else
            return sc_fail(SC_EINVAL, "unknown format '%s' (table, manifest)",
                           arg);
        break;
    case 'k': a->keep_going = 1; break;
    case OPT_TRUST: a->trust = 1; break;
    case OPT_ROOT: a->root = arg; break;
    case OPT_CELL_TYPE: return add_term_arg(a, "cell_type", arg);
    case OPT_TISSUE: return add_term_arg(a, "tissue", arg);
    case OPT_DISEASE: return add_term_arg(a, "disease", arg);
    case OPT_ASSAY: return add_term_arg(a, "assay", arg);
    case OPT_ORGANISM: return add_term_arg(a, "organism", arg);
    case OPT_SEX: return add_term_arg(a, "sex", arg);
    case OPT_STAGE: return add_term_arg(a, "development_stage", arg);
    case OPT_FIELD: {
        const char *eq = strchr(arg, '=');
        char *f;
        if (!eq || eq == arg || !eq[1])
            return sc_fail(SC_EINVAL, "expected FIELD=TERM, not '%s'", arg);
        /* the field name lives as long as argv: keep one copy per option */
        if (!(f = strndup(arg, (size_t)(eq - arg))))
            return sc_fail(SC_ENOMEM, "out of memory");
        if (strlen(f) > 17 && !strcmp(f + strlen(f) - 17, "_ontology_term_id"))
            f[strlen(f) - 17] = '\0';
        if ((rc = add_term_arg(a, f, eq + 1)) < 0) {
            free(f);
            return rc;
        }
        a->terms[a->n_terms - 1].own = f;
        return 0;
    }
    case OPT_NO_EXPAND: a->no_expand = 1; break;
    case OPT_MIN_CELLS: return sc_parse_int(arg, 0, INT64_MAX, &a->min_cells);
    case OPT_GENE: return push(&a->genes, &a->n_genes, sizeof arg, &arg);
    case OPT_SINCE: return parse_time(arg, &a->since);
    case OPT_UNTIL: return parse_time(arg, &a->until);
    case OPT_TRANSFORM: a->transform = arg; break;
    case OPT_FORMAT: a->format = arg; break;
    case OPT_ALL_VERSIONS: a->all_versions = 1; break;
    case OPT_LIMIT: return sc_parse_int(arg, 1, INT64_MAX, &a->limit);
    case OPT_WEIGHT:
        a->has_weight = 1;
        return sc_parse_double(arg, 0, 1e300, &a->weight);
    case OPT_ALLOW_DERIVED: a->allow_derived = 1; break;
    case OPT_DESCRIPTION: a->description = arg; break;
    case OPT_COUNT_FIELD: a->field = arg; break;
    case OPT_UP: a->up = 1; break;
    case OPT_DOWN: a->down = 1; break;
    case OPT_DOT: a->dot = 1; break;
    case OPT_DEPTH:
        if ((rc = sc_parse_int(arg, 1, 1000, &v)) < 0)
            return rc;
        a->depth = v;
        break;
    case OPT_TOOL: a->tool = arg; break;
    case OPT_TOOL_VERSION: a->tool_version = arg; break;
    case OPT_INPUT: return push(&a->inputs, &a->n_inputs, sizeof arg, &arg);
    case OPT_OUTPUT_FILE:
        return push(&a->outputs, &a->n_outputs, sizeof arg, &arg);
    case OPT_STATUS: a->status = arg; break;
    case OPT_QUICK: a->quick = 1; break;
    case OPT_TO: a->to = arg; break;
    case OPT_SPLIT_FILE: a->split_file = arg; break;
    case OPT_SHARE: a->share = arg; break;
    case OPT_MAX_SIZE: return sc_parse_size(arg, 1, UINT64_MAX, &a->max_size);
    default: return sc_fail(SC_EINVAL, "unhandled option");
    }
    return 0;
}

/* ---- shared helpers ---- */

int reg_open(const struct args *a, unsigned flags, sc_registry **out)
{
    return sc_registry_open(
        a->db, flags | (a->network_fs ? SC_REGISTRY_NETWORK_FS : 0), out);
}

int out_open(const struct args *a, sc_atomic *at, FILE **fp)
{
    return sc_io_atomic_open(a->output, at, fp);
}

int out_close(sc_atomic *at, int rc)
{
    if (rc < 0) {
        sc_io_atomic_abort(at);
        return rc;
    }
    return sc_io_atomic_commit(at);
}

/* ---- init ---- */

/* Remove registry file PATH that init or migrate created, and SQLite's
 * files beside it. */
static void init_remove(const char *path)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char buf[4096];

    for (size_t i = 0; i < sizeof ext / sizeof *ext; i++)
        if (snprintf(buf, sizeof buf, "%s%s", path, ext[i]) < (int)sizeof buf)
            unlink(buf);
}

/* Registry DB, when it is a file that does not exist: create it here,
 * exclusively, and set *FILE to its path (NULL otherwise), so that a
 * failed command removes what it made (init_remove) and never a file it
 * found. Returns 0 or the error of the creation. */
static int reg_file_create(const char *db, const char **file)
{
    struct stat sb;
    int fd;

    *file = NULL;
    if (!strncmp(db, "sqlite:", 7))
        db += 7;
    /* a URI (PostgreSQL, or refused by the open) is no file to make */
    if (strstr(db, "://") || lstat(db, &sb) == 0)
        return 0;
    if ((fd = sc_io_open_regular(db, O_RDWR | O_CREAT | O_EXCL, 0666)) < 0)
        return fd;
    close(fd);
    *file = db;
    return 0;
}

static int cmd_init(struct args *a, int argc, char **argv)
{
    sc_registry *reg = NULL;
    const char *created;
    int rc;

    (void)argv;
    if (argc > 0)
        return usage_fail("init takes no operands (--db DB)");
    if ((rc = reg_file_create(a->db, &created)) < 0)
        return rc;
    if ((rc = reg_open(a, SC_REGISTRY_CREATE, &reg)) == 0 && a->root)
        rc = sc_registry_add_root(reg, a->root);
    if (rc == 0)
        sc_log_info("registry '%s': schema %d", a->db, sc_registry_schema(reg));
    if (reg && sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    if (rc < 0 && created)
        init_remove(created);
    return rc;
}

/* ---- storage roots ---- */

static int print_root(int64_t id, const char *dir, void *ud)
{
    fprintf(ud, "%" PRId64 "\t%s\n", id, dir);
    return 0;
}

/* "roots": list them; "roots set ID DIR": the tree moved to DIR. */
static int cmd_roots(struct args *a, int argc, char **argv)
{
    sc_registry *reg = NULL;
    sc_atomic at = {0};
    int64_t id;
    FILE *fp;
    int rc, set = argc > 0;

    if (set && (strcmp(argv[0], "set") || argc != 3))
        return usage_fail("roots: expected 'roots' or 'roots set ID "
                          "DIR': missing operand");
    if (set && (rc = sc_parse_int(argv[1], 1, INT64_MAX, &id)) < 0)
        return rc;
    if ((rc = reg_open(a, set ? 0 : SC_REGISTRY_READONLY, &reg)) < 0)
        return rc;
    if (set)
        rc = sc_registry_set_root(reg, id, argv[2]);
    else if ((rc = out_open(a, &at, &fp)) == 0)
        rc = out_close(&at, sc_registry_roots(reg, print_root, fp));
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}

/* ---- migrate ---- */

/* Copy the registry into the new one --to names, then print the check:
 * per table its rows and their sha256, "same" when the copy has them. */
static int cmd_migrate(struct args *a, int argc, char **argv)
{
    sc_reg_table_sum sums[SC_REG_N_TABLES] = {{0}};
    sc_registry *src = NULL, *dst = NULL;
    sc_atomic at = {0};
    const char *created = NULL;
    FILE *fp;
    int rc, out_rc;

    (void)argv;
    if (argc > 0)
        return usage_fail("migrate takes no operands (--to DB)");
    if (!a->to || !*a->to)
        return usage_fail("migrate: --to DB is required");
    if (!strcmp(a->to, a->db))
        return usage_fail("migrate: --to names the registry itself");
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &src)) < 0)
        return rc;
    /* a new file is made here, and removed when the copy fails */
    if ((rc = reg_file_create(a->to, &created)) == 0 &&
        (rc = sc_registry_open(a->to,
                               SC_REGISTRY_CREATE |
                                   (a->network_fs ? SC_REGISTRY_NETWORK_FS : 0),
                               &dst)) == 0)
        rc = sc_registry_copy(src, dst, sums);
    if (sums[SC_REG_N_TABLES - 1].table &&
        (out_rc = out_open(a, &at, &fp)) == 0) {
        fprintf(fp, "table\trows\tsha256\tcheck\n");
        for (int i = 0; i < SC_REG_N_TABLES; i++)
            fprintf(fp, "%s\t%" PRId64 "\t%s\t%s\n", sums[i].table,
                    sums[i].rows, sums[i].sha256,
                    sums[i].same ? "same" : "differs");
        out_rc = out_close(&at, ferror(fp) ? SC_EIO : 0);
        if (rc == 0)
            rc = out_rc;
    }
    if (rc == 0)
        sc_log_info("copied '%s' into '%s': every table the same", a->db,
                    a->to);
    if (sc_registry_close(dst) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    sc_registry_close(src);
    if (rc < 0 && created)
        init_remove(created);
    return rc;
}

/* ---- main ---- */

typedef int reg_fn(struct args *a, int argc, char **argv);

/* Commands that read ontologies or hash files use -@ threads. */
#define THREADS (SC_CLI_CONFIG | SC_CLI_THREADS)

/* clang-format off: one line of --help per line */
static const sc_cmd commands[] = {
    {"init",
     "init [options]\nCreate the registry (--db), with a storage root (--root "
     "DIR).",
     "create the registry (--root DIR...)", NULL, SC_CLI_CONFIG, 0, -1,
     SC_CMD_FN(cmd_init)},
    {"roots",
     "roots [options] [set <id> <dir>]\nList the storage roots, or say that "
     "root ID moved to DIR.",
     "list the storage roots; 'roots set ID DIR' moves one", NULL,
     SC_CLI_CONFIG, 0, -1, SC_CMD_FN(cmd_roots)},
    {"add",
     "add [options] [<file>...]\nRegister files, or the datasets of a manifest "
     "on stdin.",
     "register files, or a manifest on stdin", NULL, THREADS, 0, -1,
     SC_CMD_FN(cmd_add)},
    {"query", "query [options]\nList the artifacts that pass the filters.",
     "artifacts that pass the filters", NULL, THREADS, 0, -1,
     SC_CMD_FN(cmd_query)},
    {"show", "show [options] <id>\nShow one artifact, its terms and lineage.",
     "one artifact, its terms and lineage", NULL, SC_CLI_CONFIG, 1, -1,
     SC_CMD_FN(cmd_show)},
    {"counts",
     "counts [options] [<name>@<n>]\nCount the cells per term across a "
     "collection version.",
     "cells per term across a collection version", NULL, THREADS, 0, -1,
     SC_CMD_FN(cmd_counts)},
    {"lineage",
     "lineage [options] <id>\nShow the upstream and downstream runs and files "
     "of an artifact.",
     "upstream and downstream runs and files", NULL, SC_CLI_CONFIG, 1, -1,
     SC_CMD_FN(cmd_lineage)},
    {"report",
     "report [options] [filters]\nWrite a static HTML report (offline) of the "
     "matching datasets into\n-o DIR [sc-report].",
     "static HTML report (offline) of the matching datasets:\n"
     "overview charts, a page per dataset (QC, gene and label\n"
     "mapping, unmapped labels, lineage graph) and per collection\n"
     "version (members, diff)",
     NULL, THREADS, 0, -1, SC_CMD_FN(cmd_report)},
    {"run",
     "run [options] start|finish [<run>]\nRecord a run: 'run start' (--tool, "
     "--input) prints its id, 'run finish RUN'\n(--output-file, --status) "
     "finishes it.",
     "record a run: 'run start' (--tool, --input) prints its id,\n"
     "'run finish RUN' (--output-file, --status) finishes it",
     NULL, SC_CLI_CONFIG, 1, -1, SC_CMD_FN(cmd_run)},
    {"collection",
     "collection [options] <verb> [<operands>]\nManage collections: create, "
     "add, remove, freeze, diff, export, list, show,\nsplit NAME[@N] FILE.",
     "create|add|remove|freeze|diff|export|list|show ...;\n"
     "'collection split NAME[@N] FILE' keeps a split file\n"
     "(sc-stream split) with a frozen version",
     NULL, THREADS, 1, -1, SC_CMD_FN(cmd_collection)},
    {"verify",
     "verify [options] [<dir>...]\nHash the registered files again; report "
     "missing, modified and unregistered\nones.",
     "re-hash files; report missing, modified, unregistered ones", NULL,
     SC_CLI_CONFIG, 0, -1, SC_CMD_FN(cmd_verify)},
    {"migrate",
     "migrate [options] --to DB\nCopy the registry into a new one (SQLite to "
     "PostgreSQL); print the check\nper table.",
     "copy the registry into a new one (SQLite to PostgreSQL);\n"
     "print the check per table",
     NULL, SC_CLI_CONFIG, 0, -1, SC_CMD_FN(cmd_migrate)},
};
/* clang-format on */

static int run(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    struct args *a = ud;
    int rc;

    a->cli = cli;
    if (!a->db)
        a->db = getenv("SC_REGISTRY") && *getenv("SC_REGISTRY")
                    ? getenv("SC_REGISTRY")
                    : "sc-registry.db";
    if (a->share && (rc = sc_share_set_dir(a->share)) < 0)
        return rc;
    return ((reg_fn *)cmd->fn)(a, cli->argc, cli->argv);
}

static const sc_tool tool = SC_TOOL(
    "sc-register",
    "[options] <command> [operands]\n"
    "A registry of datasets: content hashes, ontology terms, versions,\n"
    "collections and lineage, in one SQLite file or a PostgreSQL database.",
    opts, on_option, commands, NULL, run);

int main(int argc, char **argv)
{
    struct args a = {.output = "-", .weight = 1};
    int rc = sc_cli_dispatch(&tool, argc, argv, &a);

    for (size_t i = 0; i < a.n_terms; i++)
        free(a.terms[i].own);
    free(a.terms);
    free(a.genes);
    free(a.inputs);
    free(a.outputs);
    return rc;
}
