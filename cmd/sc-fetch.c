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

#include "sc_config.h"
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

static const char usage[] =
    "<command> [options] [ID|URL|FILE|-]...\n"
    "Find and download single-cell datasets, safely and resumably.\n"
    "\n"
    "Commands:\n"
    "  list         list CELLxGENE datasets that pass the filters\n"
    "  collections  list CELLxGENE collections\n"
    "  versions     list the versions of the given dataset ids\n"
    "  get          download datasets (filters, ids), URLs, files, or the\n"
    "               sources of a manifest on stdin into -d DIR; print the\n"
    "               manifest of the files\n"
    "  refs         download the reference data named by the vendored index\n"
    "               files into -d DIR, verified";

struct args {
    const char *dir;
    const char *output;
    const char *api_url;
    const char *sha256;
    const char *mirror;
    const char *schema_version; /* the last --schema-version */
    int n_schema;
    int manifest_fmt;
    int keep_going, dry_run, verify, check, force;
    uint64_t limit_rate;
    sc_cxg_filter filter;
    sc_http_opts http;
};

static volatile sig_atomic_t cancel_flag, cancel_signal;

static void on_signal(int sig)
{
    cancel_flag = 1;
    cancel_signal = sig;
}

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

/* Write manifest M to a->output. */
static int write_manifest(const struct args *a, sc_manifest *m)
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

/* Dataset arrays from API calls, freed at the end. */
struct pool_of_datasets {
    struct {
        sc_cxg_dataset *v;
        size_t n;
    } * sets;
    size_t n;
};

static int keep_datasets(struct pool_of_datasets *p, sc_cxg_dataset *v,
                         size_t n)
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

static void datasets_release(struct pool_of_datasets *p)
{
    for (size_t i = 0; i < p->n; i++)
        sc_cxg_datasets_free(p->sets[i].v, p->sets[i].n);
    free(p->sets);
}

static int api_client(const struct args *a, sc_cxg **c)
{
    const char *url = a->api_url;

    if (!url && !(url = getenv("SC_CXG_API_URL")))
        url = SC_CXG_DEFAULT_URL;
    return sc_cxg_new(url, &a->http, c);
}

/* The index, filtered: schema_version goes to the server when it is the
 * only one asked for (the API filters on it too). */
static int fetch_index(const struct args *a, sc_cxg *c,
                       struct pool_of_datasets *p)
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

/* Metadata columns shared by `list -O manifest` and `get`. */
static int set_dataset_cols(sc_mrow *r, const sc_cxg_dataset *d)
{
    static const int cols[] = {SC_CXG_ORGANISM, SC_CXG_ASSAY, SC_CXG_TISSUE,
                               SC_CXG_DISEASE};
    char name[64];
    int rc;

    if ((rc = sc_mrow_set(r, "dataset_id", d->dataset_id)) < 0 ||
        (rc = sc_mrow_set(r, "dataset_version_id", d->dataset_version_id)) <
            0 ||
        (rc = sc_mrow_set(r, "collection_id", d->collection_id)) < 0 ||
        (rc = sc_mrow_set(r, "collection_version_id",
                          d->collection_version_id)) < 0 ||
        (rc = sc_mrow_set(r, "collection_name", d->collection_name)) < 0 ||
        (rc = sc_mrow_set(r, "title", d->title)) < 0 ||
        (rc = sc_mrow_set(r, "schema_version", d->schema_version)) < 0)
        return rc;
    if (d->cell_count >= 0 &&
        (rc = sc_mrow_setf(r, "cell_count", "%" PRId64, d->cell_count)) < 0)
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

/* Columns of our manifests, in this order after "path". */
static const char *const get_cols[] = {"status",
                                       "dataset_id",
                                       "dataset_version_id",
                                       "previous_version_id",
                                       "collection_id",
                                       "collection_version_id",
                                       "collection_name",
                                       "title",
                                       "organism",
                                       "organism_ontology_term_id",
                                       "assay",
                                       "assay_ontology_term_id",
                                       "tissue",
                                       "tissue_ontology_term_id",
                                       "disease",
                                       "disease_ontology_term_id",
                                       "schema_version",
                                       "cell_count",
                                       "source",
                                       "size",
                                       "sha256",
                                       "fetched_at",
                                       "message",
                                       NULL};

static int add_cols(sc_manifest *m, int skip_get_only)
{
    int rc;

    for (int i = 0; get_cols[i]; i++) {
        const char *c = get_cols[i];
        if (skip_get_only &&
            (!strcmp(c, "status") || !strcmp(c, "previous_version_id") ||
             !strcmp(c, "sha256") || !strcmp(c, "fetched_at") ||
             !strcmp(c, "message")))
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

    if (cli->argc > 1)
        return sc_fail(SC_EINVAL, "list takes no operands; use filters");
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
                (rc = sc_mrow_set(r, "source", h->url)) < 0 ||
                (h->filesize >= 0 &&
                 (rc = sc_mrow_setf(r, "size", "%" PRId64, h->filesize)) < 0))
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

    if (cli->argc > 1)
        return sc_fail(SC_EINVAL, "collections takes no operands");
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

    if (cli->argc < 2)
        return sc_fail(SC_EINVAL, "versions needs dataset ids");
    if ((rc = api_client(a, &c)) < 0 || (rc = out_open(&o, a->output)) < 0)
        goto out;
    fputs("dataset_id\tdataset_version_id\tcollection_version_id\t"
          "published_at\tschema_version\tsize\tsource\n",
          o.fp);
    for (int i = 1; i < cli->argc; i++) {
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

/* ---- get and refs: what to fetch ---- */

enum {
    ST_PENDING,
    ST_PRESENT,
    ST_DOWNLOADED,
    ST_UPDATED,
    ST_FAILED,
    ST_PLANNED,
    ST_SKIPPED
};
static const char *const status_names[] = {"pending", "present", "downloaded",
                                           "updated", "failed",  "planned",
                                           "skipped"};

struct ctx;

struct item {
    char *source;     /* as given */
    char *url;        /* what is requested */
    char *name;       /* path inside the directory */
    char *path;       /* DIR/name */
    int64_t size;     /* announced, -1 */
    char *sha256;     /* expected, or NULL */
    int hdf5;         /* must be HDF5 (declared H5AD, or by its name) */
    char *dataset_id; /* "" for plain sources */
    char *version_id;
    const sc_cxg_dataset *d; /* catalogue entry, or NULL */
    sc_mrow *in;             /* input manifest row, or NULL */
    const sc_cxg_ref *ref;   /* reference entry, or NULL */
    int status;
    char *message;
    char *prev_version;
    int64_t got;
    char digest[SC_HASH_HEX_SIZE];
    char fetched_at[32];
    struct ctx *ctx;
};

struct items {
    struct item *v;
    size_t n, cap;
};

struct ctx {
    const struct args *a;
    const char *dir;
    sc_state *st;
    sc_progress *prog;
    sc_http_opts http;
    _Atomic int64_t done;
    atomic_int stop;
    int refs;
    const char *upload; /* s3://BUCKET/PREFIX/ of get -d, or NULL */
};

static void item_release(struct item *it)
{
    free(it->source);
    free(it->url);
    free(it->name);
    free(it->path);
    free(it->sha256);
    free(it->dataset_id);
    free(it->version_id);
    free(it->message);
    free(it->prev_version);
}

static void items_release(struct items *l)
{
    for (size_t i = 0; i < l->n; i++)
        item_release(&l->v[i]);
    free(l->v);
}

/* Mark IT failed with the current error message. */
static void item_fail(struct item *it)
{
    free(it->message);
    it->message = strdup(sc_errmsg());
    it->status = ST_FAILED;
}

/* A new item for SOURCE; the caller fills in the rest. */
static struct item *item_new(struct items *l, const char *source, sc_mrow *in)
{
    struct item *it;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 16;
        void *v = realloc(l->v, cap * sizeof *l->v);
        if (!v)
            return NULL;
        l->v = v;
        l->cap = cap;
    }
    it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    it->size = -1;
    it->in = in;
    if (!(it->source = strdup(source)) || !(it->dataset_id = strdup("")) ||
        !(it->version_id = strdup(""))) {
        item_release(it);
        return NULL;
    }
    l->n++;
    return it;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && !strcmp(s + n - k, suffix);
}

/* A name that says HDF5 inside. */
static int has_hdf5_name(const char *name)
{
    return ends_with(name, ".h5ad") || ends_with(name, ".h5") ||
           ends_with(name, ".loom");
}

/* An asset URL from an API (or a manifest row of one) must be http(s):
 * never a local file or another scheme. */
static int check_remote_url(const char *url, const char *what)
{
    if (strncasecmp(url, "http://", 7) != 0 &&
        strncasecmp(url, "https://", 8) != 0)
        return sc_fail(SC_EREJECT, "%s: asset URL '%s' is not http(s)", what,
                       url);
    return 0;
}

/* Set URL, NAME and PATH of IT; NAME is checked (it comes from a server or
 * a manifest). Returns 0 or a negative code with the message. */
static int item_target(struct item *it, const char *dir, const char *url,
                       const char *name)
{
    size_t n;

    if (!(it->url = strdup(url)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!(it->name = strdup(name)))
        return sc_fail(SC_ENOMEM, "out of memory");
    it->hdf5 = has_hdf5_name(name);
    n = strlen(dir) + strlen(name) + 2;
    if (!(it->path = malloc(n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(it->path, n, "%s/%s", dir, name);
    return 0;
}

/* The item of a catalogue dataset: named <dataset_version_id>.h5ad. */
static int item_dataset(struct item *it, const char *dir,
                        const sc_cxg_dataset *d)
{
    const sc_cxg_asset *h = sc_cxg_h5ad(d);
    char *name, what[256];
    int rc;

    it->d = d;
    free(it->dataset_id);
    free(it->version_id);
    if (!(it->dataset_id = strdup(d->dataset_id)) ||
        !(it->version_id = strdup(d->dataset_version_id)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!h)
        return sc_fail(SC_ENOTFOUND, "dataset '%s' has no H5AD asset",
                       d->dataset_id);
    if ((rc = sc_http_name_check(d->dataset_version_id)) < 0)
        return sc_fail_ctx(rc, "dataset '%s'", d->dataset_id);
    snprintf(what, sizeof what, "dataset '%.200s'", d->dataset_id);
    if ((rc = check_remote_url(h->url, what)) < 0)
        return rc;
    if (!(name = malloc(strlen(d->dataset_version_id) + 6)))
        return sc_fail(SC_ENOMEM, "out of memory");
    sprintf(name, "%s.h5ad", d->dataset_version_id);
    it->size = h->filesize;
    rc = item_target(it, dir, h->url, name);
    it->hdf5 = 1; /* declared H5AD */
    free(name);
    return rc;
}

/* file:// URL of local PATH, percent-encoded. */
static int file_url(const char *path, char **out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *abs = realpath(path, NULL), *u, *w;

    *out = NULL;
    if (!abs)
        return sc_fail(errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                       "cannot open '%s': %s", path, strerror(errno));
    if (!(u = malloc(strlen(abs) * 3 + 8))) {
        free(abs);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    w = u + sprintf(u, "file://");
    for (const unsigned char *p = (const unsigned char *)abs; *p; p++) {
        if ((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
            (*p >= '0' && *p <= '9') || strchr("/-._~", *p)) {
            *w++ = (char)*p;
        } else {
            *w++ = '%';
            *w++ = hex[*p >> 4];
            *w++ = hex[*p & 15];
        }
    }
    *w = '\0';
    free(abs);
    *out = u;
    return 0;
}

/* Resolve one source (operand or manifest path) into an item. */
static int add_source(struct ctx *c, struct items *l, sc_cxg **api,
                      struct pool_of_datasets *p, const char *src, sc_mrow *in)
{
    struct item *it = item_new(l, src, in);
    const char *dvid = in ? sc_mrow_get(in, "dataset_version_id") : NULL;
    char *name = NULL, *url = NULL;
    int rc;

    if (!it)
        return sc_fail(SC_ENOMEM, "out of memory");
    if (sc_cxg_is_id(src)) {
        sc_cxg_dataset *v;
        size_t n;
        if (!*api && (rc = api_client(c->a, api)) < 0)
            return rc;
        rc = sc_cxg_dataset_versions(*api, src, &v, &n);
        if (rc == SC_ENOTFOUND)
            rc = sc_cxg_dataset_version(*api, src, &v, &n);
        if (rc == SC_ENOTFOUND)
            rc = sc_fail(SC_ENOTFOUND, "no dataset or dataset version '%s'",
                         src);
        if (rc == 0 && !n)
            rc = sc_fail(SC_ENOTFOUND, "dataset '%s' has no versions", src);
        if (rc == 0 && (rc = keep_datasets(p, v, n)) == 0) {
            if (!sc_cxg_filter_match(&c->a->filter, &v[0])) {
                sc_log_info("dataset '%s' does not pass the filters", src);
                item_release(it);
                l->n--;
                return 0;
            }
            rc = item_dataset(it, c->dir, &v[0]);
        }
    } else if (strstr(src, "://")) {
        if (dvid && *dvid) {
            /* A manifest row of a catalogue dataset: name it by version. */
            if ((rc = check_remote_url(src, "manifest row")) == 0 &&
                (rc = sc_http_name_check(dvid)) == 0 &&
                (name = malloc(strlen(dvid) + 6)))
                sprintf(name, "%s.h5ad", dvid);
            else if (rc == 0)
                rc = sc_fail(SC_ENOMEM, "out of memory");
        } else {
            rc = sc_http_name_from_url(src, &name);
        }
        if (rc == 0)
            rc = item_target(it, c->dir, src, name);
        if (rc == 0 && dvid && *dvid)
            it->hdf5 = 1; /* the catalogue's H5AD */
    } else if ((rc = file_url(src, &url)) == 0 &&
               (rc = sc_http_name_from_url(src, &name)) == 0) {
        rc = item_target(it, c->dir, url, name);
    }
    free(name);
    free(url);
    if (rc == 0 && in) {
        const char *v;
        if ((v = sc_mrow_get(in, "dataset_id")) && *v && !it->d) {
            free(it->dataset_id);
            it->dataset_id = strdup(v);
        }
        if (dvid && *dvid && !it->d) {
            free(it->version_id);
            it->version_id = strdup(dvid);
        }
        if ((v = sc_mrow_get(in, "sha256")) && *v)
            it->sha256 = strdup(v);
        if ((v = sc_mrow_get(in, "size")) && *v && it->size < 0 &&
            sc_parse_int(v, 0, INT64_MAX, &it->size) < 0)
            it->size = -1;
        if (!it->dataset_id || !it->version_id)
            return sc_fail(SC_ENOMEM, "out of memory");
    }
    if (rc < 0 && rc != SC_ENOMEM) {
        if (!it->path && !(it->path = strdup(src)))
            return sc_fail(SC_ENOMEM, "out of memory");
        item_fail(it);
        rc = 0;
    }
    return rc;
}

/* Everything `get` was asked for, in order: operands, then a manifest. */
static int collect_get(struct ctx *c, sc_cli *cli, struct items *l,
                       sc_manifest **in, struct pool_of_datasets *p)
{
    const struct args *a = c->a;
    sc_cxg *api = NULL;
    int rc = 0, from_stdin = 0, n_ops = cli->argc - 1;

    for (int i = 1; i < cli->argc; i++)
        if (!strcmp(cli->argv[i], "-"))
            from_stdin = 1;
    if (!n_ops && sc_cxg_filter_empty(&a->filter))
        from_stdin = 1;
    for (int i = 1; rc == 0 && i < cli->argc; i++)
        if (strcmp(cli->argv[i], "-") != 0)
            rc = add_source(c, l, &api, p, cli->argv[i], NULL);
    if (rc == 0 && from_stdin && (rc = sc_manifest_read("-", in)) == 0) {
        for (size_t i = 0; rc == 0 && i < sc_manifest_nrows(*in); i++) {
            sc_mrow *r = sc_manifest_row(*in, i);
            rc = add_source(c, l, &api, p, sc_mrow_path(r), r);
        }
    }
    if (rc == 0 && !n_ops && !from_stdin) {
        /* Filters alone: the whole index, filtered. */
        if ((rc = api_client(a, &api)) == 0 &&
            (rc = fetch_index(a, api, p)) == 0) {
            for (size_t i = 0; rc == 0 && i < p->sets[p->n - 1].n; i++) {
                const sc_cxg_dataset *d = &p->sets[p->n - 1].v[i];
                struct item *it;
                if (!sc_cxg_filter_match(&a->filter, d))
                    continue;
                if (!(it = item_new(l, d->dataset_id, NULL)))
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                else if (item_dataset(it, c->dir, d) < 0) {
                    if (!it->path)
                        it->path = strdup(d->dataset_id);
                    item_fail(it);
                }
            }
        }
    }
    if (rc == 0 && a->sha256) {
        if (l->n != 1)
            rc = sc_fail(SC_EINVAL, "--sha256 needs exactly one source");
        else if (!(l->v[0].sha256 = strdup(a->sha256)))
            rc = sc_fail(SC_ENOMEM, "out of memory");
    }
    sc_cxg_free(api);
    return rc;
}

/* ---- get and refs: what is already there ---- */

/* Decide for each item: present (skip), or to download; and whether a
 * dataset was revised since the last run. Main thread, before downloads. */
static int plan(struct ctx *c, struct items *l)
{
    const struct args *a = c->a;
    int rc = 0;

    for (size_t i = 0; rc >= 0 && i < l->n; i++) {
        struct item *it = &l->v[i];
        sc_state_entry e, old;
        struct stat sb;
        int have, ok = 0;

        if (it->status != ST_PENDING)
            continue;
        /* The same file twice: once is enough; two sources for one name
         * would overwrite each other. */
        for (size_t j = 0; j < i; j++) {
            struct item *o = &l->v[j];
            if (o->status == ST_FAILED || o->status == ST_SKIPPED ||
                strcmp(o->name, it->name) != 0)
                continue;
            if (strcmp(o->url, it->url) != 0) {
                sc_fail(SC_EEXIST,
                        "'%s': file name '%s' is also that of "
                        "'%s'",
                        it->source, it->name, o->source);
                item_fail(it);
            } else {
                it->status = ST_SKIPPED;
            }
            break;
        }
        if (it->status != ST_PENDING)
            continue;
        if (it->dataset_id[0] &&
            (rc = sc_state_find(c->st, NULL, it->dataset_id, &old)) == 1) {
            if (strcmp(old.version_id, it->version_id) != 0 &&
                !(it->prev_version = strdup(old.version_id)))
                rc = sc_fail(SC_ENOMEM, "out of memory");
            sc_state_entry_release(&old);
        }
        if (rc < 0 || (rc = sc_state_find(c->st, it->name, NULL, &e)) < 0)
            break;
        have = stat(it->path, &sb) == 0 && S_ISREG(sb.st_mode);
        if (have && !a->force) {
            int64_t size = (int64_t)sb.st_size;
            ok = (it->size < 0 || it->size == size) &&
                 (rc == 0 || e.size == size) &&
                 (rc == 0 || !strcmp(e.version_id, it->version_id)) &&
                 (rc == 0 || it->version_id[0] || !strcmp(e.url, it->url));
            if (ok && rc == 1 && !a->check && !it->sha256) {
                snprintf(it->digest, sizeof it->digest, "%s", e.sha256);
                snprintf(it->fetched_at, sizeof it->fetched_at, "%s",
                         e.fetched_at);
            } else if (ok && (rc == 1 || it->sha256 || it->size >= 0)) {
                /* Verify by content: what the state or the source says. */
                const char *want = it->sha256 ? it->sha256
                                   : rc == 1  ? e.sha256
                                              : NULL;
                if (sc_hash_file(it->path, it->digest) < 0)
                    ok = 0;
                else if (want && want[0] && strcasecmp(want, it->digest))
                    ok = 0;
            } else {
                ok = 0; /* unknown origin: fetch it again */
            }
            if (!ok)
                sc_log_info("'%s': present but not verified, downloading "
                            "again",
                            it->path);
        }
        if (ok) {
            it->status = ST_PRESENT;
            it->got = (int64_t)sb.st_size;
            if (rc == 0 || a->check) {
                sc_state_entry ne = {it->name, it->dataset_id, it->version_id,
                                     it->url,  it->digest,     it->got,
                                     NULL};
                if (rc == 1 && !strcmp(e.sha256, it->digest))
                    ne.fetched_at = e.fetched_at;
                if (sc_state_put(c->st, &ne) < 0) {
                    sc_state_entry_release(&e);
                    return SC_ENOMEM;
                }
            }
            /* Present under its version: not a revision of this run. */
            free(it->prev_version);
            it->prev_version = NULL;
        } else if (a->dry_run) {
            it->status = ST_PLANNED;
        }
        sc_state_entry_release(&e);
        rc = 0;
    }
    return rc < 0 ? rc : 0;
}

/* ---- get and refs: downloading ---- */

static void on_progress(void *ud, int64_t delta)
{
    struct ctx *c = ud;
    int64_t now = atomic_fetch_add(&c->done, delta) + delta;

    sc_progress_update(c->prog, now > 0 ? (uint64_t)now : 0);
}

/* A reference file must be whole: gzip to its end, JSON parsed. */
static int verify_ref(const char *path)
{
    size_t len = strlen(path);
    int rc = 0;

    if (len > 3 && !strcmp(path + len - 3, ".gz")) {
        sc_lines *in;
        char *line;
        size_t n;
        if ((rc = sc_lines_open(path, &in)) < 0)
            return rc;
        while ((rc = sc_lines_next(in, &line, &n)) == 1)
            ;
        if (rc == 0 && !sc_lines_is_gzip(in))
            rc = sc_fail(SC_ECORRUPT, "'%s': not gzip-compressed", path);
        sc_lines_close(in);
    } else if (len > 5 && !strcmp(path + len - 5, ".json")) {
        json_error_t err;
        json_t *j = json_load_file(path, JSON_DECODE_ANY, &err);
        if (!j)
            rc = sc_fail(SC_ECORRUPT, "'%s': not JSON: %s", path, err.text);
        json_decref(j);
    }
    return rc < 0 ? rc : 0;
}

static int verify_h5ad(const char *path)
{
    sc_adata *ad = NULL;
    size_t len = strlen(path);
    int rc;

    if (len < 5 || strcmp(path + len - 5, ".h5ad") != 0)
        return 0;
    if ((rc = sc_adata_open(path, 0, &ad)) < 0)
        return sc_fail_ctx(SC_ECORRUPT, "'%s' is not a readable dataset", path);
    sc_adata_close(ad);
    return 0;
}

/* Make the directories of IT->path below the download directory. */
static int make_parent(const struct item *it)
{
    char *dir = strdup(it->path), *slash;
    int rc = 0;

    if (!dir)
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((slash = strrchr(dir, '/')) && slash != dir) {
        *slash = '\0';
        rc = sc_io_mkdir_p(dir);
    }
    free(dir);
    return rc;
}

/* Download the s3:// object of IT into F (signed ranged GETs, hashed). */
static int object_download(struct ctx *c, struct item *it, sc_http_fetch *f)
{
    sc_obj *ob;
    int rc;

    if ((rc = sc_obj_open(it->url, &ob)) < 0)
        return rc;
    f->attempts = 1;
    rc = sc_obj_download(&c->http, ob, it->path, it->size, it->sha256, &f->got,
                         f->digest);
    if (rc == 0)
        on_progress(c, f->got);
    sc_obj_free(ob);
    return rc;
}

static void download_task(void *arg)
{
    struct item *it = arg;
    struct ctx *c = it->ctx;
    sc_http_fetch f = {0};
    int rc;

    if (atomic_load(&c->stop) || cancel_flag) {
        it->status = ST_SKIPPED;
        return;
    }
    f.url = it->url;
    f.path = it->path;
    f.size = it->size;
    f.sha256 = it->sha256;
    f.hdf5 = it->hdf5;
    if ((rc = make_parent(it)) == 0 && !strncmp(it->url, "s3://", 5))
        rc = object_download(c, it, &f);
    else if (rc == 0)
        rc = sc_http_download(&c->http, &f, on_progress, c);
    if (rc == 0 && (c->refs || c->a->verify) &&
        (rc = c->refs ? verify_ref(it->path) : verify_h5ad(it->path)) < 0)
        unlink(it->path); /* never leave what failed to verify */
    if (rc < 0) {
        item_fail(it);
        if (!c->a->keep_going) {
            atomic_store(&c->stop, 1);
            cancel_flag = 1; /* stop the transfers under way too */
        }
        return;
    }
    it->got = f.got;
    memcpy(it->digest, f.digest, sizeof it->digest);
    it->status = it->prev_version ? ST_UPDATED : ST_DOWNLOADED;
    if (f.attempts > 1 || f.kept || f.restarted)
        sc_log_info("'%s': %d requests, %" PRId64 " bytes kept from a part "
                    "(%" PRId64 " hashed again), %d resumed, %d restarted",
                    it->url, f.attempts, f.kept, f.rehashed, f.resumed,
                    f.restarted);
    sc_state_entry e = {it->name, it->dataset_id, it->version_id,
                        it->url,  it->digest,     it->got,
                        NULL};
    if ((rc = sc_state_put(c->st, &e)) < 0 ||
        (rc = sc_state_save_every(c->st, 2.0)) < 0)
        sc_log_warn("%s", sc_errmsg());
}

/* Download the pending items with the pool of -@ workers. */
static int run_downloads(struct ctx *c, struct items *l, sc_cli *cli)
{
    sc_pool *pool = NULL;
    uint64_t total = 0;
    int rc, n = 0;

    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].status != ST_PENDING)
            continue;
        l->v[i].ctx = c;
        total += l->v[i].size > 0 ? (uint64_t)l->v[i].size : 0;
        n++;
    }
    if (!n)
        return 0;
    /* The cap is on the total: each transfer gets its share. */
    if (c->a->limit_rate) {
        int par = cli->threads < n ? cli->threads : n;
        c->http.max_speed = c->a->limit_rate / (uint64_t)par;
        if (!c->http.max_speed)
            c->http.max_speed = 1;
        /* a capped transfer is slow by request, not stalled */
        if ((uint64_t)c->http.stall_speed > c->http.max_speed / 2)
            c->http.stall_speed = (long)(c->http.max_speed / 2);
    }
    if (c->a->limit_rate &&
        (rc = sc_http_limit_new(c->a->limit_rate, &c->http.limit)) < 0)
        return rc;
    if ((rc = sc_pool_new(cli->threads < n ? cli->threads : n, &pool)) < 0) {
        sc_http_limit_free(c->http.limit);
        return rc;
    }
    c->prog =
        sc_progress_new("download", total, SC_PROGRESS_BYTES, cli->progress);
    for (size_t i = 0; i < l->n; i++)
        if (l->v[i].status == ST_PENDING)
            sc_pool_submit(pool, download_task, &l->v[i]);
    sc_pool_wait(pool);
    sc_pool_free(pool);
    sc_http_limit_free(c->http.limit);
    c->http.limit = NULL;
    sc_progress_done(c->prog);
    c->prog = NULL;
    return 0;
}

/* ---- get and refs: the manifest ---- */

static int set_item_cols(sc_mrow *r, const struct item *it)
{
    int rc = 0;

    if (it->d && (rc = set_dataset_cols(r, it->d)) < 0)
        return rc;
    if (it->ref && ((rc = sc_mrow_set(r, "kind", it->ref->kind)) < 0 ||
                    (rc = sc_mrow_set(r, "name", it->ref->name)) < 0 ||
                    (rc = sc_mrow_set(r, "version", it->ref->version)) < 0))
        return rc;
    if (!it->ref && it->dataset_id[0] &&
        ((rc = sc_mrow_set(r, "dataset_id", it->dataset_id)) < 0 ||
         (rc = sc_mrow_set(r, "dataset_version_id", it->version_id)) < 0))
        return rc;
    if ((rc = sc_mrow_set(r, "status", status_names[it->status])) < 0 ||
        (rc = sc_mrow_set(r, "source", it->url ? it->url : it->source)) < 0 ||
        (rc = sc_mrow_set(r, "message", it->message)) < 0)
        return rc;
    if (it->prev_version &&
        (rc = sc_mrow_set(r, "previous_version_id", it->prev_version)) < 0)
        return rc;
    if (it->status == ST_PRESENT || it->status == ST_DOWNLOADED ||
        it->status == ST_UPDATED) {
        if ((rc = sc_mrow_setf(r, "size", "%" PRId64, it->got)) < 0 ||
            (rc = sc_mrow_set(r, "sha256", it->digest)) < 0)
            return rc;
    } else if (it->size >= 0 &&
               (rc = sc_mrow_setf(r, "size", "%" PRId64, it->size)) < 0) {
        return rc;
    }
    return 0;
}

/* The fetched_at of IT from the state (set when it was recorded). */
static void item_time(struct ctx *c, struct item *it)
{
    sc_state_entry e;

    if (it->status != ST_PRESENT && it->status != ST_DOWNLOADED &&
        it->status != ST_UPDATED)
        return;
    if (sc_state_find(c->st, it->name, NULL, &e) == 1)
        snprintf(it->fetched_at, sizeof it->fetched_at, "%s", e.fetched_at);
    sc_state_entry_release(&e);
}

static int report(struct ctx *c, struct items *l, sc_manifest *in,
                  const char *const *cols)
{
    sc_manifest *m = NULL;
    int rc, counts[ST_SKIPPED + 1] = {0};

    if ((rc = sc_manifest_new(&m)) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && in && i < sc_manifest_ncols(in); i++)
        rc = sc_manifest_add_col(m, sc_manifest_col(in, i));
    for (int i = 0; rc == 0 && cols[i]; i++)
        rc = sc_manifest_add_col(m, cols[i]);
    for (size_t i = 0; rc == 0 && i < l->n; i++) {
        struct item *it = &l->v[i];
        sc_mrow *r;
        counts[it->status]++;
        if (it->status == ST_SKIPPED)
            continue;
        item_time(c, it);
        if ((rc = sc_manifest_add_row(m, it->path, &r)) < 0)
            break;
        for (size_t k = 1; rc == 0 && it->in && k < sc_manifest_ncols(in); k++)
            rc = sc_mrow_set(r, sc_manifest_col(in, k),
                             sc_mrow_get(it->in, sc_manifest_col(in, k)));
        if (rc == 0 && (rc = set_item_cols(r, it)) == 0)
            rc = sc_mrow_set(r, "fetched_at", it->fetched_at);
        if (it->status == ST_UPDATED)
            sc_log_warn("dataset '%s' was revised: version '%s' replaces "
                        "'%s', now in '%s'",
                        it->dataset_id, it->version_id, it->prev_version,
                        it->path);
        else if (it->status == ST_FAILED && c->a->keep_going)
            sc_log_error("%s", it->message ? it->message : "failed");
    }
    if (rc == 0)
        rc = write_manifest(c->a, m);
    sc_manifest_free(m);
    sc_log_info("%d downloaded, %d updated, %d present, %d failed%s",
                counts[ST_DOWNLOADED], counts[ST_UPDATED], counts[ST_PRESENT],
                counts[ST_FAILED], c->a->dry_run ? " (dry run)" : "");
    return rc;
}

/* Exit status after downloads: the first failure without -k, else 3 for
 * any failure, 128+N after signal N. */
static int outcome(struct ctx *c, struct items *l, int rc)
{
    int failed = 0;

    if (cancel_signal) {
        sc_log_error("interrupted; parts are kept, run again to resume");
        return 128 + cancel_signal;
    }
    for (size_t i = 0; i < l->n; i++)
        failed += l->v[i].status == ST_FAILED;
    if (rc < 0 || !failed)
        return rc;
    if (!c->a->keep_going) {
        for (size_t i = 0; i < l->n; i++)
            if (l->v[i].status == ST_FAILED && l->v[i].message &&
                !strstr(l->v[i].message, "': interrupted"))
                return sc_fail(SC_ENET, "%s", l->v[i].message);
        return sc_fail(SC_ENET, "%s", "download failed");
    }
    sc_log_warn("%d of %zu downloads failed", failed, l->n);
    return SC_EXIT_PARTIAL;
}

/* get -d s3://...: put each file that is here under the prefix; the
 * manifest names the object. A failed upload fails its item. */
static void upload_all(struct ctx *c, struct items *l)
{
    for (size_t i = 0; i < l->n && !cancel_signal; i++) {
        struct item *it = &l->v[i];
        char etag[SC_OBJ_ETAG_MAX];
        sc_obj *ob = NULL;
        int rc;

        if (it->status != ST_PRESENT && it->status != ST_DOWNLOADED &&
            it->status != ST_UPDATED)
            continue;
        if ((rc = sc_obj_child(c->upload, it->name, &ob)) == 0)
            rc = sc_obj_put_file(&c->http, ob, it->path, etag);
        if (rc == 0) {
            char *uri = strdup(sc_obj_uri(ob));
            if (uri) {
                free(it->path);
                it->path = uri;
            }
            sc_log_info("'%s': uploaded, ETag %s", sc_obj_uri(ob), etag);
        } else {
            item_fail(it);
            if (!c->a->keep_going)
                atomic_store(&c->stop, 1);
        }
        sc_obj_free(ob);
        if (rc < 0 && !c->a->keep_going)
            break;
    }
}

static int fetch_all(struct ctx *c, struct items *l, sc_cli *cli,
                     sc_manifest *in, const char *const *cols)
{
    int rc, failed = 0;

    if ((rc = plan(c, l)) < 0)
        return rc;
    for (size_t i = 0; i < l->n; i++)
        failed += l->v[i].status == ST_FAILED;
    /* Without -k a bad source stops the run before any download. */
    if (failed && !c->a->keep_going)
        return outcome(c, l, 0);
    if (!c->a->dry_run && (rc = run_downloads(c, l, cli)) < 0)
        return rc;
    if (c->upload && !c->a->dry_run && !cancel_signal &&
        (c->a->keep_going || !atomic_load(&c->stop)))
        upload_all(c, l);
    if ((rc = sc_state_save_every(c->st, 0)) < 0)
        return rc;
    if (!cancel_signal &&
        (c->a->keep_going || !(failed = atomic_load(&c->stop))))
        rc = report(c, l, in, cols);
    return outcome(c, l, rc);
}

static void catch_signals(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

/* Remove the staging directory of get -d s3://... and the files in it
 * (one level: downloads are named without '/'). */
static void remove_stage(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;

    while (d && (e = readdir(d))) {
        if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0 &&
            unlinkat(dirfd(d), e->d_name, 0) != 0)
            sc_log_warn("cannot remove '%s/%s': %s", dir, e->d_name,
                        strerror(errno));
    }
    if (d)
        closedir(d);
    if (rmdir(dir) != 0)
        sc_log_warn("cannot remove '%s': %s", dir, strerror(errno));
}

static int cmd_get(struct args *a, sc_cli *cli)
{
    struct ctx c = {.a = a, .dir = a->dir ? a->dir : ".", .http = a->http};
    struct pool_of_datasets p = {0};
    struct items l = {0};
    sc_manifest *in = NULL;
    int rc;

    char stage[4096] = "";

    c.http.cancel = &cancel_flag;
    if (sc_obj_is_remote(c.dir)) {
        /* Downloads go to a staging directory, removed at the end. */
        const char *tmp = getenv("TMPDIR");
        sc_obj *ob;
        size_t n = strlen(c.dir);
        if (strncmp(c.dir, "s3://", 5) != 0 || c.dir[n - 1] != '/')
            return sc_fail(SC_EINVAL,
                           "-d '%s': an object store prefix is "
                           "s3://BUCKET/PREFIX/ (ending in '/')",
                           c.dir);
        if ((rc = sc_obj_child(c.dir, "x", &ob)) < 0)
            return rc;
        sc_obj_free(ob);
        snprintf(stage, sizeof stage, "%s/sc-fetch.XXXXXX",
                 tmp && *tmp ? tmp : "/tmp");
        if (!mkdtemp(stage))
            return sc_fail(SC_EIO, "cannot make a directory in '%s': %s",
                           tmp && *tmp ? tmp : "/tmp", strerror(errno));
        c.upload = c.dir;
        c.dir = stage;
    }
    if ((rc = sc_state_open(c.dir, &c.st)) < 0) {
        if (stage[0])
            remove_stage(stage);
        return rc;
    }
    catch_signals();
    if ((rc = collect_get(&c, cli, &l, &in, &p)) == 0)
        rc = fetch_all(&c, &l, cli, in, get_cols);
    items_release(&l);
    sc_manifest_free(in);
    datasets_release(&p);
    sc_state_close(c.st);
    if (stage[0])
        remove_stage(stage);
    return rc;
}

/* ---- refs ---- */

static const char *const ref_cols[] = {
    "status", "kind",   "name",       "version", "source",
    "size",   "sha256", "fetched_at", "message", NULL};

/* URL through the mirror: scheme://HOST/PATH becomes MIRROR/HOST/PATH. */
static char *mirrored(const char *mirror, const char *url)
{
    const char *rest = strstr(url, "://");
    size_t ml = strlen(mirror);
    char *out;

    if (!mirror[0] || !rest)
        return strdup(url);
    rest += 3;
    while (ml && mirror[ml - 1] == '/')
        ml--;
    if (!(out = malloc(ml + strlen(rest) + 2)))
        return NULL;
    sprintf(out, "%.*s/%s", (int)ml, mirror, rest);
    return out;
}

static int refs_dir(const struct args *a, char *buf, size_t size)
{
    const char *x = getenv("XDG_DATA_HOME"), *home = getenv("HOME");

    if (a->dir)
        snprintf(buf, size, "%s", a->dir);
    else if (x && *x)
        snprintf(buf, size, "%s/sc/refs", x);
    else if (home && *home)
        snprintf(buf, size, "%s/.local/share/sc/refs", home);
    else
        return sc_fail(SC_EINVAL, "no -d DIR and no $HOME");
    return 0;
}

static int cmd_refs(struct args *a, sc_cli *cli)
{
    struct ctx c = {.a = a, .http = a->http, .refs = 1};
    const char *mirror = a->mirror ? a->mirror : getenv("SC_FETCH_MIRROR");
    const char *schema = a->n_schema ? a->schema_version : NULL;
    sc_cxg_ref *refs = NULL;
    struct items l = {0};
    char dir[4096];
    size_t n = 0;
    int rc;

    if (cli->argc > 1)
        return sc_fail(SC_EINVAL, "refs takes no operands");
    c.http.cancel = &cancel_flag;
    if ((rc = refs_dir(a, dir, sizeof dir)) < 0)
        return rc;
    c.dir = dir;
    if ((rc = sc_cxg_refs(sc_share_dir(), schema, &refs, &n)) < 0)
        return rc;
    if ((rc = sc_state_open(dir, &c.st)) < 0)
        goto out;
    catch_signals();
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct item *it = item_new(&l, refs[i].url, NULL);
        char *url = it ? mirrored(mirror ? mirror : "", refs[i].url) : NULL;
        if (!url)
            rc = sc_fail(SC_ENOMEM, "out of memory");
        else
            rc = item_target(it, dir, url, refs[i].dest);
        if (it)
            it->ref = &refs[i];
        free(url);
    }
    if (rc == 0)
        rc = fetch_all(&c, &l, cli, NULL, ref_cols);
out:
    items_release(&l);
    sc_cxg_refs_free(refs, n);
    sc_state_close(c.st);
    return rc;
}

/* ---- main ---- */

static const struct subcmd {
    const char *name;
    int (*run)(struct args *, sc_cli *);
} subcmds[] = {
    {"list", cmd_list},         {"collections", cmd_collections},
    {"versions", cmd_versions}, {"get", cmd_get},
    {"refs", cmd_refs},
};

int main(int argc, char **argv)
{
    struct args a = {
        .output = "-", .http = SC_HTTP_OPTS_INIT, .filter = SC_CXG_FILTER_INIT};
    const struct subcmd *cmd = NULL;
    static sc_config *cfg; /* option values point into it until exit */
    sc_cli cli;
    int rc;

    a.http.user_agent = "sc-fetch";
    a.http.max_size = (uint64_t)1 << 40;
    a.http.max_answer = (size_t)256 << 20;
    a.http.stall_speed = 1024;
    rc = sc_cli_parse(&cli, "sc-fetch", usage, opts, argc, argv, on_option, &a);
    if (rc != SC_CLI_RUN) {
        sc_cxg_filter_release(&a.filter);
        return rc;
    }
    if (sc_config_load(&cli, "sc-fetch", opts, on_option, &a, &cfg) < 0) {
        sc_cxg_filter_release(&a.filter);
        return sc_cli_usage_error(&cli, "%s", sc_errmsg());
    }
    if (cli.argc < 1) {
        sc_cxg_filter_release(&a.filter);
        return sc_cli_usage_error(&cli, "no command (list, collections, "
                                        "versions, get, refs)");
    }
    for (size_t i = 0; i < sizeof subcmds / sizeof *subcmds; i++)
        if (!strcmp(cli.argv[0], subcmds[i].name))
            cmd = &subcmds[i];
    if (!cmd) {
        sc_cxg_filter_release(&a.filter);
        sc_config_free(cfg);
        return sc_cli_usage_error(&cli, "unknown command '%s'", cli.argv[0]);
    }
    if ((rc = sc_http_global_init()) == 0) {
        rc = cmd->run(&a, &cli);
        sc_http_global_cleanup();
    }
    sc_cxg_filter_release(&a.filter);
    rc = sc_cli_finish(&cli, rc);
    sc_config_free(cfg);
    return rc;
}
