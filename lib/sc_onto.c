/* sc_onto: ontologies (CELLxGENE guide JSON, OBO 1.2): terms, graph, labels. */
/* SPDX-License-Identifier: MIT */
#include "sc_onto.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "sc_io.h"
#include "sc_log.h"
#include "sc_onto_int.h"
#include "sc_pool.h"
#include "sc_share.h"

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* The CELLxGENE schema whose pinned ontology versions the SCHEMA set
 * loads (ontology_info.json names the versions, the file names carry
 * them). */
#define SCHEMA_DIR "ontology/cxg-guide/schema-7.0.0"
#define LATEST_DIR "ontology/cxg-guide/latest"
#define OBO_DIR    "ontology/obo"

#define ID_MAX 256

/* ---- term ids ---- */

/* Canonical spellings of the prefixes the CELLxGENE schema and its
 * ontologies use (ontology_term_id_schema.json, and replaced_by targets). */
static const char *const known_prefixes[] = {
    "AfPO",     "BFO",    "CHEBI", "CL",        "CLO",       "CVCL",
    "EFO",      "FBbt",   "FBdv",  "GO",        "HANCESTRO", "HP",
    "HsapDv",   "MmusDv", "MONDO", "NCBITaxon", "NCIT",      "OBI",
    "Orphanet", "PATO",   "PO",    "PR",        "RO",        "UBERON",
    "uniprot",  "UO",     "WBbt",  "WBls",      "ZFA",       "ZFS",
};

static const char *canonical_prefix(const char *p, size_t n)
{
    for (size_t i = 0; i < sizeof known_prefixes / sizeof *known_prefixes; i++)
        if (strlen(known_prefixes[i]) == n &&
            !strncasecmp(known_prefixes[i], p, n))
            return known_prefixes[i];
    return NULL;
}

static int is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* sc_onto_normalize_id() without the error text: 0, -1 (not an id) or
 * -2 (too long). */
static int normalize_id(const char *id, char *buf, size_t size)
{
    static const char *const iri[] = {
        "http://purl.obolibrary.org/obo/", "https://purl.obolibrary.org/obo/",
        "http://www.ebi.ac.uk/efo/", "https://www.ebi.ac.uk/efo/"};
    const char *s = id, *e, *sep, *canon;
    size_t n, np, nl;

    while (is_space(*s))
        s++;
    for (e = s + strlen(s); e > s && is_space(e[-1]); e--)
        ;
    for (size_t i = 0; i < sizeof iri / sizeof *iri; i++)
        if ((size_t)(e - s) > strlen(iri[i]) &&
            !strncasecmp(s, iri[i], strlen(iri[i]))) {
            s += strlen(iri[i]);
            break;
        }
    n = (size_t)(e - s);
    if (!(sep = memchr(s, ':', n)))
        sep = memchr(s, '_', n);
    if (!sep || sep == s || sep + 1 == e)
        return -1;
    for (const char *c = s; c < e; c++)
        if (is_space(*c) || *c == '/' || *c == '#' || (c != sep && *c == ':'))
            return -1;
    np = (size_t)(sep - s);
    nl = (size_t)(e - sep - 1);
    canon = canonical_prefix(s, np);
    /* "PREFIX:LOCAL" ("CVCL_LOCAL"), by hand: on every label's path */
    if (np + 1 + nl >= size)
        return -2;
    memcpy(buf, canon ? canon : s, np);
    buf[np] = canon && !strcmp(canon, "CVCL") ? '_' : ':';
    memcpy(buf + np + 1, sep + 1, nl);
    buf[np + 1 + nl] = '\0';
    return 0;
}

int sc_onto_try_normalize_id(const char *id, char *buf, size_t size)
{
    return normalize_id(id, buf, size) < 0 ? -1 : 0;
}

int sc_onto_normalize_id(const char *id, char *buf, size_t size)
{
    int rc = normalize_id(id, buf, size);

    if (rc == -1)
        return sc_fail(SC_EINVAL, "not an ontology term id: '%s'", id);
    if (rc == -2)
        return sc_fail(SC_ERANGE, "term id too long: '%s'", id);
    return 0;
}

/* ---- handle ---- */

int sc_onto_new(unsigned flags, sc_onto **out)
{
    if (!(*out = calloc(1, sizeof **out)))
        return sc_fail(SC_ENOMEM, "out of memory");
    (*out)->flags = flags;
    return 0;
}

void sc_onto_free(sc_onto *o)
{
    if (!o)
        return;
    for (int i = 0; i < o->n_seg; i++)
        sc_onto_seg_free(o->seg[i]);
    free(o->seg);
    free(o->base);
    free(o->cache_dir);
    free(o);
}

int sc_onto_set_cache_dir(sc_onto *o, const char *dir)
{
    char *d = NULL;

    if (dir && !(d = strdup(dir)))
        return sc_fail(SC_ENOMEM, "out of memory");
    free(o->cache_dir);
    o->cache_dir = d;
    o->cache_set = 1;
    return 0;
}

/* The cache directory, or NULL when there is none. */
static const char *cache_dir(sc_onto *o)
{
    const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
    char buf[PATH_MAX];
    int n;

    if (o->flags & SC_ONTO_NO_CACHE)
        return NULL;
    if (o->cache_set)
        return o->cache_dir;
    /* XDG: a relative $XDG_CACHE_HOME is invalid and ignored. */
    if (xdg && xdg[0] == '/')
        n = snprintf(buf, sizeof buf, "%s/sc", xdg);
    else if (home && home[0] == '/')
        n = snprintf(buf, sizeof buf, "%s/.cache/sc", home);
    else
        n = -1;
    o->cache_set = 1;
    if (n > 0 && (size_t)n < sizeof buf)
        o->cache_dir = strdup(buf);
    return o->cache_dir;
}

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);

    return n >= m && !strcmp(s + n - m, suffix);
}

static int is_json(const char *path)
{
    return ends_with(path, ".json") || ends_with(path, ".json.gz");
}

static int is_obo(const char *path)
{
    return ends_with(path, ".obo") || ends_with(path, ".obo.gz");
}

/* NAME and VERSION from "NAME-ontology-VERSION.json[.gz]"; 0 if the name
 * is not of that form. */
static int guide_name(const char *path, char *name, char *version, size_t size)
{
    const char *base = strrchr(path, '/'), *mid, *end;

    base = base ? base + 1 : path;
    if (!(mid = strstr(base, "-ontology-")) || mid == base)
        return 0;
    end = base + strlen(base) - (ends_with(base, ".gz") ? 8 : 5);
    if (end <= mid + 10 || (size_t)(mid - base) >= size ||
        (size_t)(end - mid - 10) >= size)
        return 0;
    snprintf(name, size, "%.*s", (int)(mid - base), base);
    snprintf(version, size, "%.*s", (int)(end - mid - 10), mid + 10);
    return 1;
}

static int has_prefix(const struct onto_seg *s, const char *p, size_t n,
                      int ignore_case)
{
    const char *l = onto_str(s, s->h->prefixes);

    while (*l) {
        size_t k = strcspn(l, " ");

        if (k == n && (ignore_case ? !strncasecmp(l, p, n) : !strncmp(l, p, n)))
            return 1;
        l += k + (l[k] == ' ');
    }
    return 0;
}

static int add_seg(sc_onto *o, struct onto_seg *seg)
{
    const char *l = onto_str(seg, seg->h->prefixes);

    for (int i = 0; i < o->n_seg; i++)
        for (const char *p = l; *p;) {
            size_t k = strcspn(p, " ");

            if (has_prefix(o->seg[i], p, k, 0))
                return sc_fail(SC_EEXIST,
                               "'%s': terms with prefix '%.*s' are loaded "
                               "already, from '%s'",
                               onto_str(seg, seg->h->src_path), (int)k, p,
                               onto_str(o->seg[i], o->seg[i]->h->src_path));
            p += k + (p[k] == ' ');
        }
    if (o->n_terms + seg->h->n_terms >= INT32_MAX)
        return sc_fail(SC_EUNSUP, "too many terms in one handle");
    if (o->n_seg == o->cap_seg) {
        int cap = o->cap_seg ? 2 * o->cap_seg : 8;
        struct onto_seg **s = realloc(o->seg, cap * sizeof *s);
        sc_onto_term *b;

        if (!s)
            return sc_fail(SC_ENOMEM, "out of memory");
        o->seg = s;
        if (!(b = realloc(o->base, cap * sizeof *b)))
            return sc_fail(SC_ENOMEM, "out of memory");
        o->base = b;
        o->cap_seg = cap;
    }
    o->seg[o->n_seg] = seg;
    o->base[o->n_seg++] = (sc_onto_term)o->n_terms;
    o->n_terms += seg->h->n_terms;
    return 0;
}

/* One file to load, possibly on a worker thread: the result or the error
 * (messages are per thread, so it is copied). */
struct job {
    const char *path;
    const char *cache_dir; /* NULL: no cache */
    off_t size;            /* to start the largest files first */
    struct onto_seg *seg;
    int rc;
    char msg[1024];
};

static void load_job(void *arg)
{
    struct job *j = arg;
    char real[PATH_MAX], cpath[PATH_MAX], name[64], version[64];
    const char *dir = j->cache_dir;
    struct onto_src src;
    struct stat st;
    int json = is_json(j->path);

    if (!json && !is_obo(j->path)) {
        j->rc = sc_fail(SC_EUNSUP,
                        "'%s': unknown ontology format (expected .json, "
                        ".json.gz, .obo or .obo.gz)",
                        j->path);
        goto out;
    }
    if (stat(j->path, &st) != 0 || !realpath(j->path, real)) {
        j->rc =
            sc_fail(SC_EIO, "cannot open '%s': %s", j->path, strerror(errno));
        goto out;
    }
    src = (struct onto_src){real, (uint64_t)st.st_size, (int64_t)st.st_mtime,
                            (int64_t)st.st_mtim.tv_nsec};
    if (dir && sc_onto_cache_name(dir, &src, cpath, sizeof cpath) == 0) {
        if (sc_onto_cache_read(cpath, &src, &j->seg) < 0)
            sc_log_debug("%s", sc_errmsg());
    } else {
        dir = NULL;
    }
    if (j->seg)
        goto out;
    if (!json)
        j->rc = sc_onto_seg_parse_obo(&src, &j->seg);
    else if (guide_name(real, name, version, sizeof name))
        j->rc = sc_onto_seg_parse_json(&src, name, version, &j->seg);
    else
        j->rc = sc_onto_seg_parse_json(&src, NULL, NULL, &j->seg);
    /* A cache that cannot be written costs time, not correctness. */
    if (j->rc == 0 && dir && sc_onto_cache_write(cpath, j->seg) < 0)
        sc_log_info("ontology cache not written: %s", sc_errmsg());
out:
    if (j->rc < 0)
        snprintf(j->msg, sizeof j->msg, "%s", sc_errmsg());
}

static int cmp_job_size(const void *a, const void *b)
{
    const struct job *x = *(struct job *const *)a, *y = *(struct job *const *)b;

    return (x->size < y->size) - (x->size > y->size);
}

int sc_onto_load_files(sc_onto *o, const char *const *paths, size_t n,
                       int threads)
{
    struct job **order = NULL;
    const char *dir = cache_dir(o);
    struct job *jobs;
    sc_pool *pool = NULL;
    int rc = 0, n_seg = o->n_seg;
    int64_t n_terms = o->n_terms;

    if (!n)
        return 0;
    if (!(jobs = calloc(n, sizeof *jobs)) ||
        !(order = malloc(n * sizeof *order))) {
        free(jobs);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        struct stat st;

        jobs[i].path = paths[i];
        jobs[i].cache_dir = dir;
        jobs[i].size = stat(paths[i], &st) == 0 ? st.st_size : 0;
        order[i] = &jobs[i];
    }
    if (threads > 1 && n > 1) {
        qsort(order, n, sizeof *order, cmp_job_size);
        if ((rc = sc_pool_new(threads < (int)n ? threads : (int)n, &pool)) < 0)
            goto out;
    }
    for (size_t i = 0; i < n; i++) {
        if (pool)
            sc_pool_submit(pool, load_job, order[i]);
        else
            load_job(order[i]);
    }
    sc_pool_free(pool);
    for (size_t i = 0; i < n && rc == 0; i++) {
        if ((rc = jobs[i].rc) < 0)
            sc_fail(rc, "%s", jobs[i].msg);
        else if ((rc = add_seg(o, jobs[i].seg)) == 0)
            jobs[i].seg = NULL;
    }
    if (rc < 0) { /* all or nothing: O as it was */
        for (int i = n_seg; i < o->n_seg; i++)
            sc_onto_seg_free(o->seg[i]);
        o->n_seg = n_seg;
        o->n_terms = n_terms;
    }
out:
    for (size_t i = 0; i < n; i++)
        sc_onto_seg_free(jobs[i].seg);
    free(jobs);
    free(order);
    return rc;
}

int sc_onto_load(sc_onto *o, const char *path)
{
    return sc_onto_load_files(o, &path, 1, 1);
}

/* ---- the vendored sets ---- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

struct paths {
    char **p;
    size_t n, cap;
};

static int paths_add(struct paths *ps, const char *dir, const char *name)
{
    size_t len = strlen(dir) + strlen(name) + 2;

    if (ps->n + 2 > ps->cap) {
        size_t cap = ps->cap ? 2 * ps->cap : 16;
        char **p = realloc(ps->p, cap * sizeof *p);

        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        ps->p = p;
        ps->cap = cap;
    }
    if (!(ps->p[ps->n] = malloc(len)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(ps->p[ps->n++], len, "%s/%s", dir, name);
    ps->p[ps->n] = NULL;
    return 0;
}

/* Append the ontology files of share/REL, sorted by name; with SKIP, not
 * the guide files of ontologies that PS has already. */
static int list_dir(struct paths *ps, const char *rel, int skip)
{
    char dir[PATH_MAX], name[64], version[64];
    size_t first = ps->n;
    struct dirent *e;
    DIR *d;
    int rc = 0;

    if ((rc = sc_share_path(rel, dir, sizeof dir)) < 0)
        return rc;
    if (!(d = opendir(dir)))
        return sc_fail(SC_EIO, "cannot read directory '%s': %s", dir,
                       strerror(errno));
    while ((e = readdir(d))) {
        int skipped = 0;

        if (e->d_name[0] == '.' || (!is_json(e->d_name) && !is_obo(e->d_name)))
            continue;
        if (skip && guide_name(e->d_name, name, version, sizeof name))
            for (size_t i = 0; i < first; i++) {
                char n2[64], v2[64];

                if (guide_name(ps->p[i], n2, v2, sizeof n2) &&
                    !strcmp(n2, name))
                    skipped = 1;
            }
        if (!skipped && (rc = paths_add(ps, dir, e->d_name)) < 0)
            break;
    }
    closedir(d);
    if (rc == 0 && ps->n - first > 1)
        qsort(ps->p + first, ps->n - first, sizeof *ps->p, cmp_str);
    return rc;
}

int sc_onto_set_paths(int set, char ***out)
{
    struct paths ps = {0};
    int rc;

    *out = NULL;
    if (set != SC_ONTO_SET_SCHEMA && set != SC_ONTO_SET_LATEST)
        return sc_fail(SC_EINVAL, "unknown ontology set %d", set);
    if (set == SC_ONTO_SET_LATEST && (rc = list_dir(&ps, LATEST_DIR, 0)) < 0)
        goto fail;
    if ((rc = list_dir(&ps, SCHEMA_DIR, 1)) < 0 ||
        (rc = list_dir(&ps, OBO_DIR, 0)) < 0)
        goto fail;
    if (!ps.p && !(ps.p = calloc(1, sizeof *ps.p))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    *out = ps.p;
    return 0;
fail:
    sc_onto_paths_free(ps.p);
    return rc;
}

void sc_onto_paths_free(char **paths)
{
    if (!paths)
        return;
    for (char **p = paths; *p; p++)
        free(*p);
    free(paths);
}

int sc_onto_run_set(int latest)
{
    const char *e = getenv("SC_ONTOLOGIES");

    return latest || (e && !strcmp(e, "latest")) ? SC_ONTO_SET_LATEST
                                                 : SC_ONTO_SET_SCHEMA;
}

int sc_onto_load_set(sc_onto *o, int set, int threads)
{
    char **paths;
    size_t n = 0;
    int rc;

    if ((rc = sc_onto_set_paths(set, &paths)) < 0)
        return rc;
    while (paths[n])
        n++;
    rc = sc_onto_load_files(o, (const char *const *)paths, n, threads);
    sc_onto_paths_free(paths);
    return rc;
}

int sc_onto_probe(const char *path, char *name, char *version, size_t size)
{
    if (is_json(path)) {
        if (guide_name(path, name, version, size))
            return 0;
        return sc_fail(SC_EFORMAT,
                       "'%s': not named NAME-ontology-VERSION.json[.gz]", path);
    }
    if (!is_obo(path))
        return sc_fail(SC_EUNSUP, "'%s': unknown ontology format", path);
    return sc_onto_seg_probe_obo(path, name, version, size);
}

/* ---- the ontologies of a handle ---- */

int sc_onto_count(const sc_onto *o)
{
    return o->n_seg;
}

const char *sc_onto_name(const sc_onto *o, int i)
{
    return onto_str(o->seg[i], o->seg[i]->h->name);
}

const char *sc_onto_version(const sc_onto *o, int i)
{
    return onto_str(o->seg[i], o->seg[i]->h->version);
}

const char *sc_onto_source(const sc_onto *o, int i)
{
    return onto_str(o->seg[i], o->seg[i]->h->src_path);
}

const char *sc_onto_prefixes(const sc_onto *o, int i)
{
    return onto_str(o->seg[i], o->seg[i]->h->prefixes);
}

int sc_onto_from_cache(const sc_onto *o, int i)
{
    return o->seg[i]->from_cache;
}

int64_t sc_onto_size(const sc_onto *o, int i)
{
    return o->seg[i]->h->n_terms;
}

sc_onto_term sc_onto_first(const sc_onto *o, int i)
{
    return o->base[i];
}

int sc_onto_find_ontology(const sc_onto *o, const char *name)
{
    for (int i = 0; i < o->n_seg; i++)
        if (!strcmp(sc_onto_name(o, i), name))
            return i;
    for (int i = 0; i < o->n_seg; i++)
        if (!strcasecmp(sc_onto_name(o, i), name))
            return i;
    return -1;
}

/* ---- terms ---- */

int64_t sc_onto_n_terms(const sc_onto *o)
{
    return o->n_terms;
}

/* The segment of T, and T's index in it. */
static int seg_of(const sc_onto *o, sc_onto_term t, uint32_t *local)
{
    int lo = 0, hi = o->n_seg - 1;

    while (lo < hi) {
        int mid = (lo + hi + 1) / 2;

        if (o->base[mid] <= t)
            lo = mid;
        else
            hi = mid - 1;
    }
    *local = (uint32_t)(t - o->base[lo]);
    return lo;
}

static const struct onto_rec *rec(const sc_onto *o, sc_onto_term t,
                                  const struct onto_seg **seg)
{
    uint32_t l;
    int i = seg_of(o, t, &l);

    *seg = o->seg[i];
    return &o->seg[i]->terms[l];
}

/* Binary search of the key array K (N entries, sorted by string) for the
 * first entry whose string is S; N if none. */
static size_t key_lower(const struct onto_seg *s, const struct onto_key *k,
                        size_t n, const char *str)
{
    size_t lo = 0, hi = n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (strcmp(onto_str(s, k[mid].str), str) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < n && !strcmp(onto_str(s, k[lo].str), str) ? lo : n;
}

static sc_onto_term find_in(const sc_onto *o, int i, const char *id)
{
    const struct onto_seg *s = o->seg[i];
    size_t lo = 0, hi = s->h->n_terms, k;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(onto_str(s, s->terms[mid].id), id);

        if (c == 0)
            return o->base[i] + (sc_onto_term)mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    k = key_lower(s, s->alt, s->h->n_alt, id);
    return k < s->h->n_alt ? o->base[i] + (sc_onto_term)s->alt[k].term
                           : SC_ONTO_NONE;
}

sc_onto_term sc_onto_find(const sc_onto *o, const char *id)
{
    char buf[ID_MAX];
    size_t np;

    if (normalize_id(id, buf, sizeof buf) < 0) {
        sc_err_clear();
        return SC_ONTO_NONE;
    }
    np = strcspn(buf, ":_");
    for (int i = 0; i < o->n_seg; i++)
        if (has_prefix(o->seg[i], buf, np, 0))
            return find_in(o, i, buf);
    /* A prefix we do not know the spelling of, in another case. */
    for (int i = 0; i < o->n_seg; i++) {
        const char *l = onto_str(o->seg[i], o->seg[i]->h->prefixes);

        while (*l) {
            size_t k = strcspn(l, " ");

            if (k == np && !strncasecmp(l, buf, np)) {
                memcpy(buf, l, np);
                return find_in(o, i, buf);
            }
            l += k + (l[k] == ' ');
        }
    }
    return SC_ONTO_NONE;
}

const char *sc_onto_id(const sc_onto *o, sc_onto_term t)
{
    const struct onto_seg *s;
    const struct onto_rec *r = rec(o, t, &s);

    return onto_str(s, r->id);
}

const char *sc_onto_label(const sc_onto *o, sc_onto_term t)
{
    const struct onto_seg *s;
    const struct onto_rec *r = rec(o, t, &s);

    return onto_str(s, r->label);
}

int sc_onto_ontology(const sc_onto *o, sc_onto_term t)
{
    uint32_t l;

    return seg_of(o, t, &l);
}

int sc_onto_is_deprecated(const sc_onto *o, sc_onto_term t)
{
    const struct onto_seg *s;

    return (rec(o, t, &s)->flags & ONTO_DEPRECATED) != 0;
}

const char *sc_onto_replaced_by(const sc_onto *o, sc_onto_term t)
{
    const struct onto_seg *s;
    const struct onto_rec *r = rec(o, t, &s);

    return r->replaced_by ? onto_str(s, r->replaced_by) : NULL;
}

/* T's synonyms (CONS 0) or consider ids (1): their number, or the Kth
 * (K < the number) when STR is not NULL. */
static size_t strings(const sc_onto *o, sc_onto_term t, int cons, size_t k,
                      const char **str)
{
    const struct onto_seg *s;
    const struct onto_rec *r = rec(o, t, &s);

    if (str)
        *str = onto_str(s, s->strs[(cons ? r->cons : r->syn) + k]);
    return cons ? r->n_cons : r->n_syn;
}

size_t sc_onto_n_synonyms(const sc_onto *o, sc_onto_term t)
{
    return strings(o, t, 0, 0, NULL);
}

const char *sc_onto_synonym(const sc_onto *o, sc_onto_term t, size_t k)
{
    const char *str;

    return strings(o, t, 0, k, &str), str;
}

size_t sc_onto_n_consider(const sc_onto *o, sc_onto_term t)
{
    return strings(o, t, 1, 0, NULL);
}

const char *sc_onto_consider(const sc_onto *o, sc_onto_term t, size_t k)
{
    const char *str;

    return strings(o, t, 1, k, &str), str;
}

/* Longest chain followed before giving up; real chains have 1 to 3. */
#define CHAIN_MAX 64

int sc_onto_resolve(const sc_onto *o, sc_onto_term t, sc_onto_term *out,
                    int *steps)
{
    sc_onto_term seen[CHAIN_MAX + 1];
    int n = 0;

    *out = SC_ONTO_NONE;
    seen[n++] = t;
    while (sc_onto_is_deprecated(o, t)) {
        const char *rb = sc_onto_replaced_by(o, t);
        sc_onto_term next;
        char chain[512];
        size_t used = 0;

        if (!rb)
            return sc_fail(SC_ENOTFOUND,
                           "'%s' is obsolete and has no replacement",
                           sc_onto_id(o, t));
        if ((next = sc_onto_find(o, rb)) == SC_ONTO_NONE)
            return sc_fail(SC_ENOTFOUND,
                           "'%s' is replaced by '%s', which is not loaded",
                           sc_onto_id(o, t), rb);
        for (int i = 0; i < n; i++) {
            if (seen[i] != next)
                continue;
            for (int k = i; k < n && used < sizeof chain; k++)
                used += (size_t)snprintf(chain + used, sizeof chain - used,
                                         "%s -> ", sc_onto_id(o, seen[k]));
            return sc_fail(SC_EFORMAT, "replaced_by cycle: %s%s",
                           used < sizeof chain ? chain : "",
                           sc_onto_id(o, next));
        }
        if (n > CHAIN_MAX)
            return sc_fail(SC_EFORMAT,
                           "replaced_by chain from '%s' is longer than %d",
                           sc_onto_id(o, seen[0]), CHAIN_MAX);
        seen[n++] = t = next;
    }
    *out = t;
    if (steps)
        *steps = n - 1;
    return 0;
}

/* ---- graph ---- */

int sc_onto_depth(const sc_onto *o, sc_onto_term t)
{
    const struct onto_seg *s;

    return rec(o, t, &s)->depth;
}

/* Distance from local term L's record R to local ancestor A, or -1. */
static int link_dist(const struct onto_seg *s, const struct onto_rec *r,
                     uint32_t l, uint32_t a)
{
    const struct onto_link *v = s->anc + r->anc;
    size_t lo = 0, hi = r->n_anc;

    if (l == a)
        return 0;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;

        if (v[mid].term == a)
            return (int)v[mid].dist;
        if (v[mid].term < a)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

int sc_onto_ancestor_dist(const sc_onto *o, sc_onto_term t, sc_onto_term a)
{
    uint32_t lt, la;
    int st = seg_of(o, t, &lt), sa = seg_of(o, a, &la);

    if (st != sa)
        return -1;
    return link_dist(o->seg[st], &o->seg[st]->terms[lt], lt, la);
}

int sc_onto_is_a(const sc_onto *o, sc_onto_term a, sc_onto_term b)
{
    return sc_onto_ancestor_dist(o, a, b) >= 0;
}

static int cmp_dist_term(const void *a, const void *b)
{
    const sc_onto_link *x = a, *y = b;

    if (x->dist != y->dist)
        return x->dist < y->dist ? -1 : 1;
    return (x->term > y->term) - (x->term < y->term);
}

/* Links of T (DESC: descendants, else ancestors) with distance at most MAX
 * (0 for all), as a new sorted array. */
static int links(const sc_onto *o, sc_onto_term t, int desc, uint32_t max,
                 sc_onto_link **out, size_t *n)
{
    uint32_t l;
    int i = seg_of(o, t, &l);
    const struct onto_seg *s = o->seg[i];
    const struct onto_rec *r = &s->terms[l];
    const struct onto_link *v = desc ? s->desc + r->desc : s->anc + r->anc;
    size_t nv = desc ? r->n_desc : r->n_anc, k = 0;

    *out = NULL;
    *n = 0;
    if (!nv)
        return 0;
    if (!(*out = malloc(nv * sizeof **out)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t e = 0; e < nv; e++)
        if (!max || v[e].dist <= max) {
            (*out)[k].term = o->base[i] + (sc_onto_term)v[e].term;
            (*out)[k++].dist = (int32_t)v[e].dist;
        }
    qsort(*out, k, sizeof **out, cmp_dist_term);
    if (!k) {
        free(*out);
        *out = NULL;
    }
    *n = k;
    return 0;
}

int sc_onto_ancestors(const sc_onto *o, sc_onto_term t, sc_onto_link **out,
                      size_t *n)
{
    return links(o, t, 0, 0, out, n);
}

int sc_onto_parents(const sc_onto *o, sc_onto_term t, sc_onto_link **out,
                    size_t *n)
{
    return links(o, t, 0, 1, out, n);
}

int sc_onto_descendants(const sc_onto *o, sc_onto_term t, sc_onto_link **out,
                        size_t *n)
{
    return links(o, t, 1, 0, out, n);
}

int sc_onto_children(const sc_onto *o, sc_onto_term t, sc_onto_link **out,
                     size_t *n)
{
    return links(o, t, 1, 1, out, n);
}

/* The ancestors of a term with the term itself at distance 0, in term
 * order, read one at a time. */
struct upward {
    const struct onto_link *v;
    size_t n, i;
    uint32_t self;
    int self_done;
};

static void upward_init(struct upward *u, const struct onto_seg *s, uint32_t l)
{
    const struct onto_rec *r = &s->terms[l];

    *u = (struct upward){s->anc + r->anc, r->n_anc, 0, l, 0};
}

/* The next (term, dist), or 0 at the end. */
static int upward_next(struct upward *u, uint32_t *term, uint32_t *dist)
{
    if (!u->self_done && (u->i == u->n || u->self < u->v[u->i].term)) {
        u->self_done = 1;
        *term = u->self;
        *dist = 0;
        return 1;
    }
    if (u->i == u->n)
        return 0;
    *term = u->v[u->i].term;
    *dist = u->v[u->i++].dist;
    return 1;
}

/*
 * Walk the common ancestors of A and B (merging their sorted lists) and
 * return the smallest sum of distances, -1 when there is none. *FIRST (may
 * be NULL) gets the first term reaching it; with OUT, all of them are
 * collected in *OUT (*N; the caller frees *OUT), which may fail (*RC).
 */
static int common(const sc_onto *o, sc_onto_term a, sc_onto_term b,
                  sc_onto_term *first, sc_onto_term **out, size_t *n, int *rc)
{
    uint32_t la, lb, ta, tb, da, db;
    int i = seg_of(o, a, &la), j = seg_of(o, b, &lb), best = -1;
    struct upward ua, ub;
    size_t cap = 0;
    int ha, hb;

    *rc = 0;
    if (first)
        *first = SC_ONTO_NONE;
    if (i != j)
        return -1;
    upward_init(&ua, o->seg[i], la);
    upward_init(&ub, o->seg[i], lb);
    ha = upward_next(&ua, &ta, &da);
    hb = upward_next(&ub, &tb, &db);
    while (ha && hb) {
        if (ta == tb) {
            int d = (int)(da + db);

            if (best < 0 || d < best) {
                best = d;
                if (first)
                    *first = o->base[i] + (sc_onto_term)ta;
                if (out)
                    *n = 0;
            }
            if (d == best && out) {
                if (*n == cap) {
                    size_t c2 = cap ? 2 * cap : 4;
                    sc_onto_term *p = realloc(*out, c2 * sizeof *p);

                    if (!p) {
                        *rc = sc_fail(SC_ENOMEM, "out of memory");
                        return -1;
                    }
                    *out = p;
                    cap = c2;
                }
                (*out)[(*n)++] = o->base[i] + (sc_onto_term)ta;
            }
        }
        if (ta <= tb)
            ha = upward_next(&ua, &ta, &da);
        else
            hb = upward_next(&ub, &tb, &db);
    }
    return best;
}

int sc_onto_lca(const sc_onto *o, sc_onto_term a, sc_onto_term b,
                sc_onto_term **out, size_t *n, int *dist)
{
    int rc;

    *out = NULL;
    *n = 0;
    *dist = common(o, a, b, NULL, out, n, &rc);
    if (rc < 0 || *n == 0) {
        free(*out);
        *out = NULL;
        *n = 0;
        *dist = -1;
    }
    return rc;
}

int sc_onto_distance(const sc_onto *o, sc_onto_term a, sc_onto_term b,
                     sc_onto_term *lca)
{
    int rc;

    return common(o, a, b, lca, NULL, NULL, &rc);
}

/* ---- label index ---- */

int sc_onto_lookup(const sc_onto *o, int index, const char *text, int i,
                   sc_onto_term **out, size_t *n)
{
    char *key = NULL;
    size_t cap = 0;

    *out = NULL;
    *n = 0;
    if (index < 0 || index >= ONTO_N_INDEX)
        return sc_fail(SC_EINVAL, "unknown label index %d", index);
    if (index == SC_ONTO_BY_LABEL_CI || index == SC_ONTO_BY_SYNONYM_CI) {
        if (!(key = strdup(text)))
            return sc_fail(SC_ENOMEM, "out of memory");
        for (char *c = key; *c; c++)
            if (*c >= 'A' && *c <= 'Z')
                *c = (char)(*c - 'A' + 'a');
        text = key;
    }
    for (int k = 0; k < o->n_seg; k++) {
        size_t got;

        if (i >= 0 && k != i)
            continue;
        /* the index walk is sc_onto_lookup_key's: grown until it fits */
        while ((got = sc_onto_lookup_key(o, index, text, k, *out, cap, *n)) ==
               cap) {
            size_t c2 = cap ? 2 * cap : 4;
            sc_onto_term *p = realloc(*out, c2 * sizeof *p);

            if (!p) {
                free(key);
                free(*out);
                *out = NULL;
                *n = 0;
                return sc_fail(SC_ENOMEM, "out of memory");
            }
            *out = p;
            cap = c2;
        }
        *n = got;
    }
    free(key);
    if (!*n) {
        free(*out);
        *out = NULL;
    }
    return 0;
}

size_t sc_onto_lookup_key(const sc_onto *o, int index, const char *key, int i,
                          sc_onto_term *out, size_t cap, size_t n)
{
    const struct onto_seg *s;
    const struct onto_key *keys;
    size_t nk;

    if (index < 0 || index >= ONTO_N_INDEX || i < 0 || i >= o->n_seg)
        return n;
    s = o->seg[i];
    keys = s->keys[index];
    nk = s->h->n_keys[index];
    for (size_t e = key_lower(s, keys, nk, key);
         e < nk && n < cap && !strcmp(onto_str(s, keys[e].str), key); e++)
        out[n++] = o->base[i] + (sc_onto_term)keys[e].term;
    return n;
}

int sc_onto_print_versions(FILE *fp, int set)
{
    char **paths, name[64], version[64];

    if (sc_onto_set_paths(set, &paths) < 0) {
        fprintf(fp, "  no ontologies: %s\n", sc_errmsg());
        return 0;
    }
    for (char **p = paths; *p; p++)
        if (sc_onto_probe(*p, name, version, sizeof name) == 0)
            fprintf(fp, "  %s %s\n", name, version);
    sc_onto_paths_free(paths);
    return 0;
}
