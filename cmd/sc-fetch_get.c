/* sc-fetch_get: the get and refs commands: what to fetch, what is already
 * there, the downloads and the manifest of the result. */
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
#include "sc_version.h"

#include "sc-fetch.h"

static volatile sig_atomic_t cancel_flag, cancel_signal;

static void on_signal(int sig)
{
    cancel_flag = 1;
    cancel_signal = sig;
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
    char fetch_version[64]; /* of the sc-fetch that fetched it (the state) */
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
    const char *dvid = in ? sc_mrow_get(in, SC_MCOL_DATASET_VERSION_ID) : NULL;
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
        if ((v = sc_mrow_get(in, SC_MCOL_DATASET_ID)) && *v && !it->d) {
            free(it->dataset_id);
            it->dataset_id = strdup(v);
        }
        if (dvid && *dvid && !it->d) {
            free(it->version_id);
            it->version_id = strdup(dvid);
        }
        if ((v = sc_mrow_get(in, SC_MCOL_SHA256)) && *v)
            it->sha256 = strdup(v);
        if ((v = sc_mrow_get(in, SC_MCOL_SIZE)) && *v && it->size < 0 &&
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
    int rc = 0, from_stdin = 0, n_ops = cli->argc;

    for (int i = 0; i < cli->argc; i++)
        if (!strcmp(cli->argv[i], "-"))
            from_stdin = 1;
    if (!n_ops && sc_cxg_filter_empty(&a->filter))
        from_stdin = 1;
    for (int i = 0; rc == 0 && i < cli->argc; i++)
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
                                     NULL,     SC_VERSION};
                if (rc == 1 && !strcmp(e.sha256, it->digest)) {
                    ne.fetched_at = e.fetched_at;
                    ne.fetch_version = e.fetch_version;
                }
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
    sc_state_entry e = {it->name,   it->dataset_id, it->version_id, it->url,
                        it->digest, it->got,        NULL,           SC_VERSION};
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
    if (it->ref &&
        ((rc = sc_mrow_set(r, SC_MCOL_KIND, it->ref->kind)) < 0 ||
         (rc = sc_mrow_set(r, SC_MCOL_NAME, it->ref->name)) < 0 ||
         (rc = sc_mrow_set(r, SC_MCOL_VERSION, it->ref->version)) < 0))
        return rc;
    if (!it->ref && it->dataset_id[0] &&
        ((rc = sc_mrow_set(r, SC_MCOL_DATASET_ID, it->dataset_id)) < 0 ||
         (rc = sc_mrow_set(r, SC_MCOL_DATASET_VERSION_ID, it->version_id)) < 0))
        return rc;
    if ((rc = sc_mrow_set(r, SC_MCOL_STATUS, status_names[it->status])) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_SOURCE, it->url ? it->url : it->source)) <
            0 ||
        (rc = sc_mrow_set(r, SC_MCOL_MESSAGE, it->message)) < 0)
        return rc;
    if (it->prev_version && (rc = sc_mrow_set(r, SC_MCOL_PREVIOUS_VERSION_ID,
                                              it->prev_version)) < 0)
        return rc;
    if (it->status == ST_PRESENT || it->status == ST_DOWNLOADED ||
        it->status == ST_UPDATED) {
        /* with the file's mtime_ns: later tools take the sha256 as long as
         * size and mtime stay the same (sc-manifest(5)) */
        if ((rc = sc_mrow_set_file(r, it->got, it->digest)) < 0)
            return rc;
    } else if (it->size >= 0 &&
               (rc = sc_mrow_setf(r, SC_MCOL_SIZE, "%" PRId64, it->size)) < 0) {
        return rc;
    }
    return 0;
}

/* The fetched_at and fetch_version of IT from the state (set when it was
 * recorded). */
static void item_time(struct ctx *c, struct item *it)
{
    sc_state_entry e;

    if (it->status != ST_PRESENT && it->status != ST_DOWNLOADED &&
        it->status != ST_UPDATED)
        return;
    if (sc_state_find(c->st, it->name, NULL, &e) == 1) {
        snprintf(it->fetched_at, sizeof it->fetched_at, "%s", e.fetched_at);
        snprintf(it->fetch_version, sizeof it->fetch_version, "%s",
                 e.fetch_version);
    }
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
        if (rc == 0 && (rc = set_item_cols(r, it)) == 0 &&
            (rc = sc_mrow_set(r, SC_MCOL_FETCHED_AT, it->fetched_at)) == 0)
            rc = sc_mrow_set(r, SC_MCOL_FETCH_VERSION, it->fetch_version);
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

int cmd_get(struct args *a, sc_cli *cli)
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

static const char *const ref_cols[] = {SC_MCOL_STATUS, SC_MCOL_KIND,
                                       SC_MCOL_NAME,   SC_MCOL_VERSION,
                                       FILE_COLS,      NULL};

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

int cmd_refs(struct args *a, sc_cli *cli)
{
    struct ctx c = {.a = a, .http = a->http, .refs = 1};
    const char *mirror = a->mirror ? a->mirror : getenv("SC_FETCH_MIRROR");
    const char *schema = a->n_schema ? a->schema_version : NULL;
    sc_cxg_ref *refs = NULL;
    struct items l = {0};
    char dir[4096];
    size_t n = 0;
    int rc;

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
