/* sc-fetch: find and download datasets (CELLxGENE, URLs, files), safely. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <jansson.h>

#include "sc_adata.h"
#include "sc_cli.h"
#include "sc_cxg.h"
#include "sc_hash.h"
#include "sc_http.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_objstore.h"
#include "sc_pool.h"
#include "sc_progress.h"
#include "sc_share.h"

#include "sc-fetch.h"

enum {
    OPT_API_URL = SC_OPT_USER,
    OPT_ORGANISM,
    OPT_ASSAY,
    OPT_TISSUE,
    OPT_DISEASE,
    OPT_CELL_TYPE,
    OPT_SUSPENSION,
    OPT_SCHEMA,
    OPT_COLLECTION,
    OPT_MIN_CELLS,
    OPT_MAX_CELLS,
    OPT_RETRIES,
    OPT_RETRY_WAIT,
    OPT_TIMEOUT,
    OPT_CONNECT_TIMEOUT,
    OPT_LIMIT_RATE,
    OPT_MAX_REDIRS,
    OPT_MAX_SIZE,
    OPT_MIN_RATE,
    OPT_MAX_ANSWER,
    OPT_SHA256,
    OPT_VERIFY,
    OPT_CHECK,
    OPT_FORCE,
    OPT_MIRROR,
    OPT_SHARE,
};

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {'d', "dir", SC_ARG_REQUIRED, "DIR",
     "download into DIR (get [.], refs [~/.local/share/sc/refs]); get: "
     "s3://BUCKET/PREFIX/ uploads there"},
    {'o', "output", SC_ARG_REQUIRED, "FILE",
     "write the table or manifest to FILE [-]"},
    {'O', "output-fmt", SC_ARG_REQUIRED, "FMT",
     "list output: tsv (a table) or manifest [tsv]"},
    {'k', "keep-going", SC_ARG_NONE, NULL,
     "report a failed download and go on with the others"},
    {'n', "dry-run", SC_ARG_NONE, NULL,
     "print what would be downloaded, download nothing"},
    {OPT_API_URL, "api-url", SC_ARG_REQUIRED, "URL",
     "CELLxGENE curation API [$SC_CXG_API_URL or " SC_CXG_DEFAULT_URL "]"},
    {0, NULL, 0, NULL, "Dataset filters (a term id or label; repeat = or):"},
    {OPT_ORGANISM, "organism", SC_ARG_REQUIRED, "TERM",
     "organism (also 'human', 'mouse')"},
    {OPT_ASSAY, "assay", SC_ARG_REQUIRED, "TERM", "assay"},
    {OPT_TISSUE, "tissue", SC_ARG_REQUIRED, "TERM", "tissue"},
    {OPT_DISEASE, "disease", SC_ARG_REQUIRED, "TERM", "disease"},
    {OPT_CELL_TYPE, "cell-type", SC_ARG_REQUIRED, "TERM", "cell type"},
    {OPT_SUSPENSION, "suspension-type", SC_ARG_REQUIRED, "S",
     "cell, nucleus or na"},
    {OPT_SCHEMA, "schema-version", SC_ARG_REQUIRED, "V",
     "schema version or prefix ('5', '5.2'); refs: that version's ontologies"},
    {OPT_COLLECTION, "collection", SC_ARG_REQUIRED, "ID",
     "collection id, version id or name"},
    {OPT_MIN_CELLS, "min-cells", SC_ARG_REQUIRED, "N", "at least N cells"},
    {OPT_MAX_CELLS, "max-cells", SC_ARG_REQUIRED, "N", "at most N cells"},
    {'f', "filter", SC_ARG_REQUIRED, "FIELD=VALUE",
     "any field: development_stage, sex, self_reported_ethnicity, dataset..."},
    {0, NULL, 0, NULL, "Download options:"},
    {OPT_RETRIES, "retries", SC_ARG_REQUIRED, "N",
     "retries after a network error or HTTP 5xx [5]"},
    {OPT_RETRY_WAIT, "retry-wait", SC_ARG_REQUIRED, "SEC",
     "first wait before a retry, doubled each time, up to 60 [1]"},
    {OPT_TIMEOUT, "timeout", SC_ARG_REQUIRED, "SEC",
     "cut a transfer stalled for SEC seconds, then retry [60]"},
    {OPT_CONNECT_TIMEOUT, "connect-timeout", SC_ARG_REQUIRED, "SEC",
     "give up connecting after SEC seconds [30]"},
    {OPT_LIMIT_RATE, "limit-rate", SC_ARG_REQUIRED, "RATE",
     "total bandwidth cap in bytes/s, with K, M, G [none]"},
    {OPT_MAX_REDIRS, "max-redirs", SC_ARG_REQUIRED, "N",
     "follow at most N redirects [10]"},
    {OPT_MAX_SIZE, "max-size", SC_ARG_REQUIRED, "SIZE",
     "refuse a download larger than SIZE bytes, with K, M, G, T [1T]"},
    {OPT_MIN_RATE, "min-rate", SC_ARG_REQUIRED, "RATE",
     "cut a transfer slower than RATE bytes/s over --timeout, then retry "
     "[1K]"},
    {OPT_MAX_ANSWER, "max-answer", SC_ARG_REQUIRED, "SIZE",
     "refuse an API answer larger than SIZE bytes [256M]"},
    {OPT_SHA256, "sha256", SC_ARG_REQUIRED, "HEX",
     "expected SHA-256 of the one source given"},
    {OPT_VERIFY, "verify", SC_ARG_NONE, NULL,
     "check that each downloaded .h5ad opens as a dataset"},
    {OPT_CHECK, "check", SC_ARG_NONE, NULL,
     "re-hash files already present instead of trusting their size"},
    {OPT_FORCE, "force", SC_ARG_NONE, NULL,
     "download again even what is present and complete"},
    {0, NULL, 0, NULL, "Reference data (refs):"},
    {OPT_SHARE, "share", SC_ARG_REQUIRED, "DIR",
     "read the index files from DIR [$SC_SHARE or the installed share/sc]"},
    {OPT_MIRROR, "mirror", SC_ARG_REQUIRED, "URL",
     "fetch http://HOST/PATH as URL/HOST/PATH [$SC_FETCH_MIRROR]"},
    SC_OPT_END};

static int add_filter(struct args *a, const char *field, const char *value)
{
    return sc_cxg_filter_add(&a->filter, field, value);
}

static int parse_seconds(const char *arg, double max, double *out)
{
    return sc_parse_double(arg, 0, max, out);
}

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;
    int64_t v;
    uint64_t u;
    double d;
    int rc;
    const char *eq;

    switch (key) {
    case 'd': a->dir = arg; break;
    case 'o': a->output = arg; break;
    case 'O':
        if (!strcmp(arg, "tsv"))
            a->manifest_fmt = 0;
        else if (!strcmp(arg, "manifest"))
            a->manifest_fmt = 1;
        else
            return sc_fail(SC_EINVAL, "unknown format '%s' (tsv, manifest)",
                           arg);
        break;
    case 'k': a->keep_going = 1; break;
    case 'n': a->dry_run = 1; break;
    case OPT_API_URL: a->api_url = arg; break;
    case OPT_ORGANISM: return add_filter(a, "organism", arg);
    case OPT_ASSAY: return add_filter(a, "assay", arg);
    case OPT_TISSUE: return add_filter(a, "tissue", arg);
    case OPT_DISEASE: return add_filter(a, "disease", arg);
    case OPT_CELL_TYPE: return add_filter(a, "cell_type", arg);
    case OPT_SUSPENSION: return add_filter(a, "suspension_type", arg);
    case OPT_SCHEMA:
        a->schema_version = arg;
        a->n_schema++;
        return add_filter(a, "schema_version", arg);
    case OPT_COLLECTION: return add_filter(a, "collection", arg);
    case OPT_MIN_CELLS:
    case OPT_MAX_CELLS:
        if ((rc = sc_parse_int(arg, 0, INT64_MAX, &v)) < 0)
            return rc;
        *(key == OPT_MIN_CELLS ? &a->filter.min_cells : &a->filter.max_cells) =
            v;
        break;
    case 'f': {
        char field[64];
        if (!(eq = strchr(arg, '=')) || eq == arg ||
            (size_t)(eq - arg) >= sizeof field)
            return sc_fail(SC_EINVAL, "expected FIELD=VALUE, not '%s'", arg);
        snprintf(field, sizeof field, "%.*s", (int)(eq - arg), arg);
        return add_filter(a, field, eq + 1);
    }
    case OPT_RETRIES:
        if ((rc = sc_parse_int(arg, 0, 100, &v)) < 0)
            return rc;
        a->http.retries = (int)v;
        break;
    case OPT_RETRY_WAIT:
        if ((rc = parse_seconds(arg, 3600, &d)) < 0)
            return rc;
        a->http.retry_wait = d;
        break;
    case OPT_TIMEOUT:
    case OPT_CONNECT_TIMEOUT:
        if ((rc = sc_parse_int(arg, 1, 86400, &v)) < 0)
            return rc;
        *(key == OPT_TIMEOUT ? &a->http.stall_time : &a->http.connect_timeout) =
            (long)v;
        break;
    case OPT_LIMIT_RATE:
        return sc_parse_size(arg, 1, UINT64_MAX, &a->limit_rate);
    case OPT_MAX_REDIRS:
        if ((rc = sc_parse_int(arg, 0, 100, &v)) < 0)
            return rc;
        a->http.max_redirs = (long)v;
        break;
    case OPT_MAX_SIZE:
        return sc_parse_size(arg, 1, UINT64_MAX, &a->http.max_size);
    case OPT_MIN_RATE:
        if ((rc = sc_parse_size(arg, 0, LONG_MAX, &u)) < 0)
            return rc;
        a->http.stall_speed = (long)u;
        break;
    case OPT_MAX_ANSWER:
        if ((rc = sc_parse_size(arg, 1, SIZE_MAX, &u)) < 0)
            return rc;
        a->http.max_answer = (size_t)u;
        break;
    case OPT_SHA256:
        if (strlen(arg) != 64 || strspn(arg, "0123456789abcdefABCDEF") != 64)
            return sc_fail(SC_EINVAL, "expected 64 hex digits");
        a->sha256 = arg;
        break;
    case OPT_VERIFY: a->verify = 1; break;
    case OPT_CHECK: a->check = 1; break;
    case OPT_FORCE: a->force = 1; break;
    case OPT_MIRROR: a->mirror = arg; break;
    case OPT_SHARE: return sc_share_set_dir(arg);
    default: return sc_fail(SC_EINVAL, "unhandled option");
    }
    return 0;
}

/* ---- output ---- */

/* -o FILE: written to a temporary name and renamed (sc_io). */
struct out {
    sc_atomic a;
    FILE *fp;
};

static int out_open(struct out *o, const char *path)
{
    return sc_io_atomic_open(path, &o->a, &o->fp);
}

/* Close O after a run that returned RC: commit when RC is 0, else drop. */
static int out_finish(struct out *o, int rc)
{
    if (!o->fp)
        return rc;
    o->fp = NULL;
    return sc_io_atomic_finish(&o->a, rc);
}

/* One line of a table: the fields (up to a NULL) separated by tabs and
 * escaped like manifest values, so that a tab or line break a server put
 * in a field never breaks the row. */
static void put_row(FILE *fp, const char *first, ...)
{
    va_list ap;
    const char *f = first;

    va_start(ap, first);
    for (int i = 0; f; i++, f = va_arg(ap, const char *)) {
        if (i)
            fputc('\t', fp);
        sc_manifest_put_escaped(f, 0, fp);
    }
    va_end(ap);
    fputc('\n', fp);
}

int write_manifest(const struct args *a, sc_manifest *m)
{
    struct out o;
    int rc;

    if ((rc = out_open(&o, a->output)) < 0)
        return rc;
    if ((rc = sc_manifest_write(m, o.fp)) < 0)
        sc_fail_ctx(rc, "'%s'", a->output);
    return out_finish(&o, rc);
}

/* ---- the catalogue ---- */

int keep_datasets(struct pool_of_datasets *p, sc_cxg_dataset *v, size_t n)
{
    void *nv = realloc(p->sets, (p->n + 1) * sizeof *p->sets);

    if (!nv) {
        sc_cxg_datasets_free(v, n);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    p->sets = nv;
    p->sets[p->n].v = v;
    p->sets[p->n].n = n;
    p->n++;
    return 0;
}

void datasets_release(struct pool_of_datasets *p)
{
    for (size_t i = 0; i < p->n; i++)
        sc_cxg_datasets_free(p->sets[i].v, p->sets[i].n);
    free(p->sets);
}

int api_client(const struct args *a, sc_cxg **c)
{
    const char *url = a->api_url;

    if (!url && !(url = getenv("SC_CXG_API_URL")))
        url = SC_CXG_DEFAULT_URL;
    return sc_cxg_new(url, &a->http, c);
}

int fetch_index(const struct args *a, sc_cxg *c, struct pool_of_datasets *p)
{
    sc_cxg_dataset *v;
    size_t n;
    int rc;

    rc =
        sc_cxg_datasets(c, a->n_schema == 1 ? a->schema_version : NULL, &v, &n);
    if (rc < 0)
        return rc;
    return keep_datasets(p, v, n);
}

int set_dataset_cols(sc_mrow *r, const sc_cxg_dataset *d)
{
    static const int cols[] = {SC_CXG_ORGANISM, SC_CXG_ASSAY, SC_CXG_TISSUE,
                               SC_CXG_DISEASE};
    char name[64];
    int rc;

    if ((rc = sc_mrow_set(r, SC_MCOL_DATASET_ID, d->dataset_id)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_DATASET_VERSION_ID,
                          d->dataset_version_id)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_COLLECTION_ID, d->collection_id)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_COLLECTION_VERSION_ID,
                          d->collection_version_id)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_COLLECTION_NAME, d->collection_name)) <
            0 ||
        (rc = sc_mrow_set(r, SC_MCOL_TITLE, d->title)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_SCHEMA_VERSION, d->schema_version)) < 0)
        return rc;
    if (d->cell_count >= 0 &&
        (rc = sc_mrow_setf(r, SC_MCOL_CELL_COUNT, "%" PRId64, d->cell_count)) <
            0)
        return rc;
    for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
        for (int ids = 0; ids < 2; ids++) {
            char *v = sc_cxg_terms_join(d, cols[i], ids);
            snprintf(name, sizeof name, "%s%s", sc_cxg_term_key(cols[i]),
                     ids ? "_ontology_term_id" : "");
            rc = v ? sc_mrow_set(r, name, v)
                   : sc_fail(SC_ENOMEM, "out of "
                                        "memory");
            free(v);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

const char *const get_cols[] = {SC_MCOL_STATUS,
                                SC_MCOL_DATASET_ID,
                                SC_MCOL_DATASET_VERSION_ID,
                                SC_MCOL_PREVIOUS_VERSION_ID,
                                SC_MCOL_COLLECTION_ID,
                                SC_MCOL_COLLECTION_VERSION_ID,
                                SC_MCOL_COLLECTION_NAME,
                                SC_MCOL_TITLE,
                                SC_MCOL_ORGANISM,
                                "organism_ontology_term_id",
                                SC_MCOL_ASSAY,
                                "assay_ontology_term_id",
                                "tissue",
                                "tissue_ontology_term_id",
                                "disease",
                                "disease_ontology_term_id",
                                SC_MCOL_SCHEMA_VERSION,
                                SC_MCOL_CELL_COUNT,
                                FILE_COLS,
                                NULL};

static int add_cols(sc_manifest *m, int skip_get_only)
{
    int rc;

    for (int i = 0; get_cols[i]; i++) {
        const char *c = get_cols[i];
        if (skip_get_only &&
            (!strcmp(c, SC_MCOL_STATUS) ||
             !strcmp(c, SC_MCOL_PREVIOUS_VERSION_ID) ||
             !strcmp(c, SC_MCOL_SHA256) || !strcmp(c, SC_MCOL_MTIME_NS) ||
             !strcmp(c, SC_MCOL_FETCHED_AT) ||
             !strcmp(c, SC_MCOL_FETCH_VERSION) || !strcmp(c, SC_MCOL_MESSAGE)))
            continue;
        if ((rc = sc_manifest_add_col(m, c)) < 0)
            return rc;
    }
    return 0;
}

static int cmd_list(struct args *a, sc_cli *cli)
{
    struct pool_of_datasets p = {0};
    sc_manifest *m = NULL;
    sc_cxg *c = NULL;
    struct out o = {0};
    int rc;

    (void)cli; /* no operands (the command table) */
    if ((rc = api_client(a, &c)) < 0 || (rc = fetch_index(a, c, &p)) < 0)
        goto out;
    if (a->manifest_fmt) {
        if ((rc = sc_manifest_new(&m)) < 0 || (rc = add_cols(m, 1)) < 0)
            goto out;
        for (size_t i = 0; i < p.sets[0].n; i++) {
            const sc_cxg_dataset *d = &p.sets[0].v[i];
            const sc_cxg_asset *h = sc_cxg_h5ad(d);
            sc_mrow *r;
            if (!h || !sc_cxg_filter_match(&a->filter, d))
                continue;
            if ((rc = sc_manifest_add_row(m, h->url, &r)) < 0 ||
                (rc = set_dataset_cols(r, d)) < 0 ||
                (rc = sc_mrow_set(r, SC_MCOL_SOURCE, h->url)) < 0 ||
                (h->filesize >= 0 &&
                 (rc = sc_mrow_setf(r, SC_MCOL_SIZE, "%" PRId64, h->filesize)) <
                     0))
                goto out;
        }
        rc = write_manifest(a, m);
        goto out;
    }
    if ((rc = out_open(&o, a->output)) < 0)
        goto out;
    fputs("dataset_id\tdataset_version_id\tcollection_id\tcell_count\t"
          "schema_version\tsize\torganism\tassay\ttissue\ttitle\n",
          o.fp);
    for (size_t i = 0; i < p.sets[0].n; i++) {
        const sc_cxg_dataset *d = &p.sets[0].v[i];
        const sc_cxg_asset *h = sc_cxg_h5ad(d);
        char *org, *assay, *tis;
        if (!sc_cxg_filter_match(&a->filter, d))
            continue;
        org = sc_cxg_terms_join(d, SC_CXG_ORGANISM, 0);
        assay = sc_cxg_terms_join(d, SC_CXG_ASSAY, 0);
        tis = sc_cxg_terms_join(d, SC_CXG_TISSUE, 0);
        if (org && assay && tis) {
            char cells[24], size[24];
            snprintf(cells, sizeof cells, "%" PRId64, d->cell_count);
            snprintf(size, sizeof size, "%" PRId64, h ? h->filesize : -1);
            put_row(o.fp, d->dataset_id, d->dataset_version_id,
                    d->collection_id, cells, d->schema_version, size, org,
                    assay, tis, d->title, (char *)NULL);
        }
        free(org);
        free(assay);
        free(tis);
    }
out:
    rc = out_finish(&o, rc);
    sc_manifest_free(m);
    datasets_release(&p);
    sc_cxg_free(c);
    return rc;
}

static int cmd_collections(struct args *a, sc_cli *cli)
{
    sc_cxg_collection *v = NULL;
    sc_cxg *c = NULL;
    struct out o = {0};
    size_t n = 0;
    int rc;

    (void)cli; /* no operands (the command table) */
    if ((rc = api_client(a, &c)) < 0 ||
        (rc = sc_cxg_collections(c, &v, &n)) < 0 ||
        (rc = out_open(&o, a->output)) < 0)
        goto out;
    fputs("collection_id\tcollection_version_id\tdatasets\tvisibility\t"
          "doi\tname\n",
          o.fp);
    for (size_t i = 0; i < n; i++) {
        char count[24];
        snprintf(count, sizeof count, "%zu", v[i].n_datasets);
        put_row(o.fp, v[i].collection_id, v[i].collection_version_id, count,
                v[i].visibility, v[i].doi, v[i].name, (char *)NULL);
    }
out:
    rc = out_finish(&o, rc);
    sc_cxg_collections_free(v, n);
    sc_cxg_free(c);
    return rc;
}

static int cmd_versions(struct args *a, sc_cli *cli)
{
    sc_cxg *c = NULL;
    struct out o = {0};
    int rc;

    if ((rc = api_client(a, &c)) < 0 || (rc = out_open(&o, a->output)) < 0)
        goto out;
    fputs("dataset_id\tdataset_version_id\tcollection_version_id\t"
          "published_at\tschema_version\tsize\tsource\n",
          o.fp);
    for (int i = 0; i < cli->argc; i++) {
        sc_cxg_dataset *v;
        size_t n;
        if ((rc = sc_cxg_dataset_versions(c, cli->argv[i], &v, &n)) < 0)
            break;
        for (size_t j = 0; j < n; j++) {
            const sc_cxg_asset *h = sc_cxg_h5ad(&v[j]);
            char size[24];
            snprintf(size, sizeof size, "%" PRId64, h ? h->filesize : -1);
            put_row(o.fp, v[j].dataset_id, v[j].dataset_version_id,
                    v[j].collection_version_id, v[j].published_at,
                    v[j].schema_version, size, h ? h->url : "", (char *)NULL);
        }
        sc_cxg_datasets_free(v, n);
    }
out:
    rc = out_finish(&o, rc);
    sc_cxg_free(c);
    return rc;
}

/* ---- main ---- */

/* A command: CLI->argv holds the operands after its name. */
typedef int fetch_fn(struct args *a, sc_cli *cli);

/* Commands that download use -@ threads. */
#define THREADS (SC_CLI_CONFIG | SC_CLI_THREADS)

/* clang-format off: one line of --help per line */
static const sc_cmd commands[] = {
    {"list",
     "list [options]\nList the CELLxGENE datasets that pass the filters.",
     "list CELLxGENE datasets that pass the filters", NULL, SC_CLI_CONFIG, 0, 0,
     SC_CMD_FN(cmd_list)},
    {"collections", "collections [options]\nList the CELLxGENE collections.",
     "list CELLxGENE collections", NULL, SC_CLI_CONFIG, 0, 0,
     SC_CMD_FN(cmd_collections)},
    {"versions",
     "versions [options] <id>...\nList the versions of the given dataset ids.",
     "list the versions of the given dataset ids", NULL, SC_CLI_CONFIG, 1, -1,
     SC_CMD_FN(cmd_versions)},
    {"get",
     "get [options] [ID|URL|FILE|-]...\nDownload datasets (filters, ids), "
     "URLs, files, or the sources of a manifest\non stdin into -d DIR; print "
     "the manifest of the files.",
     "download datasets (filters, ids), URLs, files, or the\n"
     "sources of a manifest on stdin into -d DIR; print the\n"
     "manifest of the files",
     NULL, THREADS, 0, -1, SC_CMD_FN(cmd_get)},
    {"refs",
     "refs [options]\nDownload the reference data named by the vendored index "
     "files into -d DIR,\nverified.",
     "download the reference data named by the vendored index\n"
     "files into -d DIR, verified",
     NULL, THREADS, 0, 0, SC_CMD_FN(cmd_refs)},
};
/* clang-format on */

static int run(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    int rc;

    if ((rc = sc_http_global_init()) == 0) {
        rc = ((fetch_fn *)cmd->fn)(ud, cli);
        sc_http_global_cleanup();
    }
    return rc;
}

static const sc_tool tool =
    SC_TOOL("sc-fetch",
            "<command> [options] [ID|URL|FILE|-]...\n"
            "Find and download single-cell datasets, safely and resumably.",
            opts, on_option, commands, NULL, run);

int main(int argc, char **argv)
{
    struct args a = {
        .output = "-", .http = SC_HTTP_OPTS_INIT, .filter = SC_CXG_FILTER_INIT};
    int rc;

    a.http.user_agent = "sc-fetch";
    a.http.max_size = (uint64_t)1 << 40;
    a.http.max_answer = (size_t)256 << 20;
    a.http.stall_speed = 1024;
    rc = sc_cli_dispatch(&tool, argc, argv, &a);
    sc_cxg_filter_release(&a.filter);
    return rc;
}
