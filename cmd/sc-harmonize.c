/* sc-harmonize: canonical genes, raw counts, QC and schema layout. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_cli.h"
#include "sc_genes.h"
#include "sc_harmonize.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_onto.h"
#include "sc_share.h"
#include "sc_version.h"

enum {
    OPT_COUNTS_ORDER = SC_OPT_USER,
    OPT_KEEP_NORMALIZED,
    OPT_MIN_MAPPED,
    OPT_MIN_MAPPED_TARGETED,
    OPT_TARGETED_ASSAYS,
    OPT_MIN_CELLS,
    OPT_MIN_GENES,
    OPT_MIN_COUNTS,
    OPT_NMADS,
    OPT_NMADS_MT,
    OPT_MAX_PCT_MT,
    OPT_REMOVE_OUTLIERS,
    OPT_NORMALIZE,
    OPT_TARGET_SUM,
    OPT_GENE_SPACE,
    OPT_ORTHOLOGS,
    OPT_LENIENT,
    OPT_ORGANISM,
    OPT_SHARE,
    OPT_KEEP_RETIRED,
    OPT_GENE_MAP,
    OPT_LAST
};

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {'d', "outdir", SC_ARG_REQUIRED, "DIR",
     "write harmonized files and reports into DIR [.]"},
    {'k', "keep-going", SC_ARG_NONE, NULL,
     "record a failed dataset and go on with the others"},
    {'l', "compress-level", SC_ARG_REQUIRED, "N",
     "gzip level of the written h5ad, 0 for none [1]"},
    {OPT_SHARE, "share", SC_ARG_REQUIRED, "DIR",
     "reference data directory [$SC_SHARE, else the installed share/sc]"},
    {0, NULL, 0, NULL, "Counts and genes:"},
    {OPT_COUNTS_ORDER, "counts-order", SC_ARG_REQUIRED, "LIST",
     "where to look for raw counts, first match wins: raw (raw.X), X, or a "
     "layer name [raw,counts,X]"},
    {OPT_KEEP_NORMALIZED, "keep-normalized", SC_ARG_NONE, NULL,
     "keep a dataset without raw counts, marked normalized, instead of "
     "refusing it"},
    {OPT_ORGANISM, "organism", SC_ARG_REQUIRED, "ID",
     "the organism (NCBITaxon id or name) [from the gene ids, uns or obs]"},
    {OPT_MIN_MAPPED, "min-mapped-genes", SC_ARG_REQUIRED, "N",
     "refuse datasets of a full-transcriptome assay with fewer mapped genes "
     "[10000]"},
    {OPT_MIN_MAPPED_TARGETED, "min-mapped-genes-targeted", SC_ARG_REQUIRED, "N",
     "the same for targeted assays (most cells of one) [1]"},
    {OPT_TARGETED_ASSAYS, "targeted-assays", SC_ARG_REQUIRED, "LIST",
     "EFO ids of targeted assays, their descendants too [imaging-based "
     "spatial, smFISH, Xenium, CosMx, STARmap, BD Rhapsody Targeted, "
     "targeted ExSeq, NanoString DSP]"},
    {OPT_GENE_SPACE, "gene-space", SC_ARG_REQUIRED, "FILE|all",
     "pad and order genes to the ids in FILE, or to all genes of the "
     "organism [the dataset's genes]"},
    {OPT_ORTHOLOGS, "orthologs", SC_ARG_NONE, NULL,
     "project mouse genes onto their one-to-one human orthologs"},
    {OPT_GENE_MAP, "gene-map", SC_ARG_REQUIRED, "FILE",
     "map var entries by FILE first: lines 'input<TAB>Ensembl id' or "
     "'input<TAB>-' to drop (a DIR/<name>.genes.tsv, edited)"},
    {OPT_KEEP_RETIRED, "keep-retired", SC_ARG_NONE, NULL,
     "keep gene ids retired from the current reference [map them to their "
     "unique successor, else drop them]"},
    {OPT_LENIENT, "lenient", SC_ARG_NONE, NULL,
     "keep obsolete terms that have no replacement [set them to unknown]"},
    {0, NULL, 0, NULL, "Quality control:"},
    {OPT_MIN_CELLS, "min-cells", SC_ARG_REQUIRED, "N",
     "refuse datasets with fewer cells [100]"},
    {OPT_MIN_GENES, "min-genes", SC_ARG_REQUIRED, "N",
     "drop cells with fewer detected genes [200]"},
    {OPT_MIN_COUNTS, "min-counts", SC_ARG_REQUIRED, "N",
     "drop cells with fewer counts [0]"},
    {OPT_NMADS, "nmads", SC_ARG_REQUIRED, "X",
     "flag cells this many MADs from the median log counts or log genes "
     "[5]"},
    {OPT_NMADS_MT, "nmads-mt", SC_ARG_REQUIRED, "X",
     "flag cells this many MADs above the median percent mitochondrial [3]"},
    {OPT_MAX_PCT_MT, "max-pct-mt", SC_ARG_REQUIRED, "X",
     "also flag cells above this percent mitochondrial, 0 for none [0]"},
    {OPT_REMOVE_OUTLIERS, "remove-outliers", SC_ARG_NONE, NULL,
     "drop flagged cells instead of keeping them flagged"},
    {OPT_NORMALIZE, "normalize", SC_ARG_NONE, NULL,
     "add layers['log1p_norm']: normalize_total then log1p"},
    {OPT_TARGET_SUM, "target-sum", SC_ARG_REQUIRED, "X",
     "counts per cell after normalize_total [10000]"},
    SC_OPT_VERSION_EXTRA,
    SC_OPT_END};

static const char usage[] =
    "[options] [<file>...]\n"
    "Harmonize single-cell datasets (h5ad of any generation, 10x HDF5 or MTX,\n"
    "loom): Ensembl gene ids per species with duplicates summed, raw counts\n"
    "in X, QC columns and filters, CELLxGENE schema-7 metadata layout. Writes\n"
    "DIR/<name>.h5ad, DIR/<name>.report.json and DIR/<name>.genes.tsv (how\n"
    "each var entry was mapped, or why not) per dataset and prints one\n"
    "manifest line each. With no file, reads a manifest on stdin.";

struct args {
    sc_hz_opts o;
    const char *outdir;
    int keep_going;
};

/* --version: the reference data versions, read from the data. */
static int print_versions(void)
{
    char version[64];

    printf("reference data: %s\n", sc_share_dir());
    for (int i = 0; i < sc_genes_n_species(); i++) {
        sc_genes_reference_version(i, version, sizeof version);
        printf("  genes %s %s\n", sc_genes_species(i)->latin, version);
    }
    return sc_onto_print_versions(stdout, sc_onto_run_set(0));
}

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;
    int64_t v;
    double d;
    int rc = 0;

    switch (key) {
    case 'd': a->outdir = arg; break;
    case 'k': a->keep_going = 1; break;
    case 'l':
        if ((rc = sc_parse_int(arg, 0, 9, &v)) == 0)
            a->o.compress_level = (int)v;
        break;
    case OPT_SHARE: rc = sc_share_set_dir(arg); break;
    case OPT_COUNTS_ORDER:
        if ((rc = sc_hz_check_counts_order(arg)) == 0)
            a->o.counts_order = arg;
        break;
    case OPT_KEEP_NORMALIZED: a->o.keep_normalized = 1; break;
    case OPT_ORGANISM: a->o.organism = arg; break;
    case OPT_MIN_MAPPED:
        if ((rc = sc_parse_int(arg, 0, INT32_MAX, &v)) == 0)
            a->o.min_mapped_genes = v;
        break;
    case OPT_MIN_MAPPED_TARGETED:
        if ((rc = sc_parse_int(arg, 0, INT32_MAX, &v)) == 0)
            a->o.min_mapped_targeted = v;
        break;
    case OPT_TARGETED_ASSAYS:
        if ((rc = sc_hz_check_assay_list(arg)) == 0)
            a->o.targeted_assays = arg;
        break;
    case OPT_GENE_SPACE: a->o.gene_space = arg; break;
    case OPT_ORTHOLOGS: a->o.orthologs = 1; break;
    case OPT_KEEP_RETIRED: a->o.keep_retired = 1; break;
    case OPT_GENE_MAP: a->o.gene_map = arg; break;
    case OPT_LENIENT: a->o.lenient = 1; break;
    case OPT_MIN_CELLS:
        if ((rc = sc_parse_int(arg, 0, INT64_MAX, &v)) == 0)
            a->o.min_cells = v;
        break;
    case OPT_MIN_GENES:
        if ((rc = sc_parse_int(arg, 0, INT32_MAX, &v)) == 0)
            a->o.min_genes = v;
        break;
    case OPT_MIN_COUNTS:
        if ((rc = sc_parse_double(arg, 0, 1e15, &d)) == 0)
            a->o.min_counts = d;
        break;
    case OPT_NMADS:
        if ((rc = sc_parse_double(arg, 0, 1e6, &d)) == 0)
            a->o.nmads = d;
        break;
    case OPT_NMADS_MT:
        if ((rc = sc_parse_double(arg, 0, 1e6, &d)) == 0)
            a->o.nmads_mt = d;
        break;
    case OPT_MAX_PCT_MT:
        if ((rc = sc_parse_double(arg, 0, 100, &d)) == 0)
            a->o.max_pct_mt = d;
        break;
    case OPT_REMOVE_OUTLIERS: a->o.remove_outliers = 1; break;
    case OPT_NORMALIZE: a->o.normalize = 1; break;
    case SC_OPT_VERSION_HOOK: return print_versions();
    case OPT_TARGET_SUM:
        if ((rc = sc_parse_double(arg, 1e-6, 1e15, &d)) == 0)
            a->o.target_sum = d;
        break;
    default: return sc_fail(SC_EINVAL, "unhandled option");
    }
    return rc;
}

/* Output names: DIR/<stem>.h5ad and DIR/<stem>.report.json, where stem is
 * the input's base name without its extensions; with GT, also
 * DIR/<stem>.genes.tsv. */
static void out_names(const char *dir, const char *in, char *h5, char *rep,
                      char *gt, size_t size)
{
    char stem[1024];
    const char *b;
    size_t n;

    n = strlen(in);
    while (n > 1 && in[n - 1] == '/')
        n--;
    snprintf(stem, sizeof stem, "%.*s", (int)n, in);
    b = strrchr(stem, '/') ? strrchr(stem, '/') + 1 : stem;
    memmove(stem, b, strlen(b) + 1);
    {
        static const char *const exts[] = {".gz", ".h5ad", ".h5", ".loom",
                                           ".mtx"};

        for (size_t e = 0; e < sizeof exts / sizeof *exts; e++) {
            size_t l = strlen(stem), k = strlen(exts[e]);

            if (l > k && strcmp(stem + l - k, exts[e]) == 0)
                stem[l - k] = '\0';
        }
    }
    snprintf(h5, size, "%s/%s.h5ad", dir, stem);
    snprintf(rep, size, "%s/%s.report.json", dir, stem);
    if (gt)
        snprintf(gt, size, "%s/%s.genes.tsv", dir, stem);
}

static int write_text(const char *path, const char *text, size_t len)
{
    sc_atomic at;
    FILE *fp;
    int rc;

    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    if (fwrite(text, 1, len, fp) != len) {
        sc_io_atomic_abort(&at);
        return sc_fail(SC_EIO, "cannot write '%s'", path);
    }
    return sc_io_atomic_commit(&at);
}

static int write_report(const char *path, json_t *rep)
{
    sc_atomic at;
    FILE *fp;
    int rc;

    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    if (json_dumpf(rep, fp, JSON_INDENT(1) | JSON_SORT_KEYS) < 0 ||
        fputc('\n', fp) == EOF) {
        sc_io_atomic_abort(&at);
        return sc_fail(SC_EIO, "cannot write '%s'", path);
    }
    return sc_io_atomic_commit(&at);
}

/* One dataset: run, write the report, fill in the manifest row. */
static int one(sc_hz *h, const struct args *a, const char *in, sc_mrow *row)
{
    char h5[4096], rp[4096], gt[4096];
    sc_hz_result res;
    int rc, wrc = 0;

    out_names(a->outdir, in, h5, rp, gt, sizeof h5);
    if (!strcmp(h5, in))
        return sc_fail(SC_EINVAL, "'%s': the output would replace the input",
                       in);
    sc_log_info("harmonizing '%s'", in);
    {
        const char *ids[3] = {sc_mrow_get(row, SC_MCOL_DATASET_ID),
                              sc_mrow_get(row, SC_MCOL_DATASET_VERSION_ID),
                              NULL};

        if (!ids[0]) {
            ids[0] = ids[1];
            ids[1] = NULL;
        }
        char sha[SC_HASH_HEX_SIZE];

        /* the manifest's digest of the input when the file is as it
         * describes: not hashed again */
        if (sc_mrow_trusted_sha256(row, in, sha))
            sc_hz_set_input_sha256(h, sha);
        rc = sc_hz_run(h, in, ids, h5, &res);
    }
    if (res.report) {
        json_object_set_new(res.report, "status",
                            json_string(rc < 0        ? "failed"
                                        : res.refused ? "refused"
                                                      : "ok"));
        if (rc < 0)
            json_object_set_new(res.report, "message",
                                json_string(sc_errmsg()));
        {
            char msg[1024];

            snprintf(msg, sizeof msg, "%s", sc_errmsg());
            if (res.genes_tsv) {
                json_object_set_new(res.report, "gene_report", json_string(gt));
                wrc = write_text(gt, res.genes_tsv, res.genes_tsv_len);
            }
            if (wrc == 0)
                wrc = write_report(rp, res.report);
            if (rc < 0)
                sc_fail(rc, "%s", msg); /* the run's error comes first */
        }
    }
    if (rc == 0 && wrc < 0)
        rc = wrc;
    if (rc == 0) {
        if ((rc = sc_mrow_set(row, SC_MCOL_STATUS,
                              res.refused ? "refused" : "ok")) < 0 ||
            (rc = sc_mrow_set(row, SC_MCOL_REASON, res.reasons)) < 0 ||
            (rc = sc_mrow_set(row, SC_MCOL_ORGANISM, res.organism)) < 0 ||
            (rc = sc_mrow_set(row, SC_MCOL_REPORT, rp)) < 0 ||
            (rc = sc_mrow_set(row, SC_MCOL_SOURCE, in)) < 0)
            goto out;
        if (!res.refused && ((rc = sc_mrow_set_output(row, h5)) < 0 ||
                             (rc = sc_mrow_setf(row, SC_MCOL_N_OBS, "%lld",
                                                (long long)res.n_obs)) < 0 ||
                             (rc = sc_mrow_setf(row, SC_MCOL_N_VARS, "%lld",
                                                (long long)res.n_vars)) < 0))
            goto out;
        if (res.refused)
            sc_log_warn("'%s': refused: %s", in, res.reasons);
    }
out:
    sc_hz_result_release(&res);
    return rc;
}

struct each {
    sc_hz *h;
    const struct args *a;
    char **ins, **outs; /* inputs so far and their output names */
    size_t n;
};

static int one_row(void *ud, const char *in, sc_mrow *row)
{
    struct each *e = ud;
    char h5[4096], rp[4096], **v;

    /* Two inputs of one name (a/x.h5ad, b/x.h5ad) would write one output:
     * the second is refused, never reported ok over the first. */
    out_names(e->a->outdir, in, h5, rp, NULL, sizeof h5);
    for (size_t i = 0; i < e->n; i++)
        if (!strcmp(e->outs[i], h5))
            return sc_fail(SC_EEXIST,
                           "'%s': its output '%s' is also that of '%s'", in, h5,
                           e->ins[i]);
    if (!(v = realloc(e->ins, (e->n + 1) * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    e->ins = v;
    if (!(v = realloc(e->outs, (e->n + 1) * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    e->outs = v;
    if (!(e->ins[e->n] = strdup(in)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!(e->outs[e->n] = strdup(h5))) {
        free(e->ins[e->n]);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    e->n++;
    return one(e->h, e->a, in, row);
}

static int run(struct args *a, sc_cli *cli)
{
    sc_manifest *m = NULL;
    sc_hz *h = NULL;
    int rc, n_fail = 0, n_done = 0, from_stdin;
    static const char *const cols[] = {
        SC_MCOL_STATUS, SC_MCOL_REASON, SC_MCOL_ORGANISM, SC_MCOL_N_OBS,
        SC_MCOL_N_VARS, SC_MCOL_REPORT, SC_MCOL_SOURCE};

    a->o.threads = cli->threads;
    a->o.progress = cli->progress;
    a->o.provenance = cli->provenance;
    a->o.cmdline = cli->cmdline;
    a->o.version = SC_VERSION;
    from_stdin =
        cli->argc == 0 || (cli->argc == 1 && !strcmp(cli->argv[0], "-"));
    if ((rc = sc_hz_new(&a->o, &h)) < 0) /* a bad --gene-map: nothing made */
        return rc;
    if ((rc = sc_io_mkdir_p(a->outdir)) < 0) {
        sc_hz_free(h);
        return rc;
    }
    if (from_stdin)
        rc = sc_manifest_open("-", &m);
    else
        rc = sc_manifest_new(&m);
    for (size_t i = 0; rc == 0 && i < sizeof cols / sizeof *cols; i++)
        rc = sc_manifest_add_col(m, cols[i]);
    if (rc == 0)
        rc = sc_manifest_write_header(m, stdout);
    if (rc == 0) {
        struct each e = {h, a, NULL, NULL, 0};
        rc = sc_manifest_each(m, from_stdin, cli->argc, cli->argv, stdout,
                              a->keep_going, one_row, &e, &n_done, &n_fail);
        for (size_t i = 0; i < e.n; i++) {
            free(e.ins[i]);
            free(e.outs[i]);
        }
        free(e.ins);
        free(e.outs);
    }
    sc_manifest_free(m);
    sc_hz_free(h);
    if (rc < 0)
        return rc;
    if (n_fail) {
        fprintf(stderr, "%s: %d dataset%s failed\n", cli->prog, n_fail,
                n_fail == 1 ? "" : "s");
        return SC_EXIT_PARTIAL;
    }
    return 0;
}

static int run_tool(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    (void)cmd;
    if (cli->argc == 0 && isatty(STDIN_FILENO))
        return sc_cli_usage_fail("no input (give files, or a manifest "
                                 "on stdin)");
    return run(ud, cli);
}

static const sc_cmd commands[] = {
    {NULL, NULL, NULL, NULL, SC_CLI_ALL, 0, -1, NULL}};

static const sc_tool tool =
    SC_TOOL("sc-harmonize", usage, opts, on_option, commands, NULL, run_tool);

int main(int argc, char **argv)
{
    struct args a;
    sc_hz_opts def = SC_HZ_OPTS_INIT;

    memset(&a, 0, sizeof a);
    a.o = def;
    a.outdir = ".";
    return sc_cli_dispatch(&tool, argc, argv, &a);
}
