/* sc-inspect: summarise any supported single-cell file, or convert it. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_cli.h"
#include "sc_log.h"
#include "sc_progress.h"
#include "sc_summary.h"

enum {
    OPT_JSON = SC_OPT_USER,
    OPT_NO_SUMS,
    OPT_GEX_ONLY,
    OPT_VAR_IDS,
    OPT_COMPRESS,
};

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {'o', "output", SC_ARG_REQUIRED, "FILE",
     "convert the input to this .h5ad file (one input only)"},
    {'O', "output-fmt", SC_ARG_REQUIRED, "FMT",
     "summary format on stdout: text or json [text]"},
    {OPT_JSON, "json", SC_ARG_NONE, NULL,
     "same as -O json: one JSON object per input, one per line"},
    {OPT_NO_SUMS, "no-sums", SC_ARG_NONE, NULL,
     "do not read matrices (no sums, X's indices and chunks not checked; "
     "faster)"},
    {'l', "compress-level", SC_ARG_REQUIRED, "N",
     "gzip level of the written h5ad, 0 for none [4]"},
    {'k', "keep-going", SC_ARG_NONE, NULL,
     "report a failed input and go on with the others"},
    {0, NULL, 0, NULL, "10x input options:"},
    {OPT_GEX_ONLY, "gex-only", SC_ARG_NONE, NULL,
     "keep only 'Gene Expression' features"},
    {OPT_VAR_IDS, "var-ids", SC_ARG_NONE, NULL,
     "index genes by feature id instead of name"},
    SC_OPT_END};

static const char usage[] =
    "[options] <file>...\n"
    "Summarise h5ad (any AnnData generation), 10x HDF5, 10x MTX folders and\n"
    "loom files like anndata's repr, as JSON, or convert one to h5ad.";

struct args {
    const char *output;
    int json;
    int keep_going;
    unsigned summary_flags;
    unsigned open_flags;
    int level;
    int progress; /* SC_PROGRESS_* mode from the common options */
};

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;
    int64_t v;
    int rc;

    switch (key) {
    case 'o': a->output = arg; break;
    case 'O':
        if (!strcmp(arg, "json"))
            a->json = 1;
        else if (!strcmp(arg, "text"))
            a->json = 0;
        else
            return sc_fail(SC_EINVAL, "unknown format '%s' (text, json)", arg);
        break;
    case OPT_JSON: a->json = 1; break;
    case OPT_NO_SUMS: a->summary_flags |= SC_SUMMARY_NO_SUMS; break;
    case OPT_GEX_ONLY: a->open_flags |= SC_OPEN_GEX_ONLY; break;
    case OPT_VAR_IDS: a->open_flags |= SC_OPEN_VAR_IDS; break;
    case 'k': a->keep_going = 1; break;
    case 'l':
        if ((rc = sc_parse_int(arg, 0, 9, &v)) < 0)
            return rc;
        a->level = (int)v;
        break;
    default: return sc_fail(SC_EINVAL, "unhandled option");
    }
    return 0;
}

static int inspect_one(const struct args *a, const char *path)
{
    sc_adata *ad = NULL;
    int rc;

    if ((rc = sc_adata_probe(path, a->open_flags)) < 0 ||
        (rc = sc_adata_open(path, a->open_flags, &ad)) < 0)
        return rc;
    if (a->output) {
        sc_write_opts wo = SC_WRITE_OPTS_INIT;
        wo.compress_level = a->level;
        wo.progress = sc_progress_new("writing rows", 0, 0, a->progress);
        rc = sc_h5ad_write(ad, a->output, &wo);
        sc_progress_done(wo.progress);
        if (rc == 0)
            sc_log_info("wrote '%s' (%lld x %lld)", a->output,
                        (long long)ad->n_obs, (long long)ad->n_vars);
    } else if (a->json) {
        json_t *j;
        if ((rc = sc_summary_json(ad, a->summary_flags, &j)) == 0) {
            char *s = json_dumps(j, JSON_COMPACT | JSON_REAL_PRECISION(17));
            if (!s || puts(s) == EOF)
                rc = sc_fail(SC_EIO, "cannot write to stdout");
            free(s);
            json_decref(j);
        }
    } else if (a->summary_flags & SC_SUMMARY_NO_SUMS ||
               (rc = sc_adata_check_x(ad)) >= 0) {
        /* X is read once (as --json does for its sums) before anything
         * is printed: bad indices or chunks fail without partial output */
        rc = sc_summary_print(ad, stdout);
    }
    sc_adata_close(ad);
    /* Matrices are read only now (sums, conversion), and their messages
     * name the element ("X: column index ..."): say which input it was. */
    if (rc < 0 && !strstr(sc_errmsg(), path))
        rc = sc_fail_ctx(rc, "'%s'", path);
    return rc;
}

static int run(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    struct args *a = ud;
    int rc = 0, failed = 0;

    (void)cmd;
    a->progress = cli->progress;
    if (cli->argc < 1)
        return sc_cli_usage_fail("no input file");
    if (a->output && cli->argc != 1)
        return sc_cli_usage_fail("-o takes exactly one input");
    if (a->output && !strcmp(a->output, "-"))
        return sc_cli_usage_fail("-o needs a file name: HDF5 cannot "
                                 "be written to standard output");
    for (int i = 0; i < cli->argc; i++) {
        if (!strcmp(cli->argv[i], "-"))
            return sc_cli_usage_fail("HDF5 input needs a seekable "
                                     "file, not '-'");
    }
    for (int i = 0; i < cli->argc; i++) {
        int r = inspect_one(a, cli->argv[i]);
        if (r < 0) {
            failed++;
            if (!a->keep_going) {
                rc = r;
                break;
            }
            sc_log_error("%s", sc_errmsg());
        }
    }
    if (rc == 0 && failed) {
        sc_log_warn("%d of %d inputs failed", failed, cli->argc);
        rc = SC_EXIT_PARTIAL;
    }
    return rc;
}

/* No threads, and no provenance: a converted file is the input's data. */
static const sc_cmd commands[] = {
    {NULL, NULL, NULL, NULL, SC_CLI_CONFIG, 0, -1, NULL}};

static const sc_tool tool =
    SC_TOOL("sc-inspect", usage, opts, on_option, commands, NULL, run);

int main(int argc, char **argv)
{
    struct args a = {.level = 4};

    return sc_cli_dispatch(&tool, argc, argv, &a);
}
