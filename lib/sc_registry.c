/* sc_registry: the dataset registry; the SQL common to its backends is here,
 * what differs is in sc_registry_sqlite.c and sc_registry_pg.c. */
/* SPDX-License-Identifier: MIT */
#include "sc_registry.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_hash.h"
#include "sc_registry_int.h"

/* ---- errors and statements ---- */

static int db_fail(sc_registry *reg, const char *what)
{
    if (reg->readonly)
        return sc_fail(SC_EREGISTRY,
                       "registry '%s' is read-only here (no right to write: "
                       "a read-only role?): %s",
                       reg->path, reg->err);
    return sc_fail(SC_EREGISTRY, "registry '%s': %s: %s", reg->path, what,
                   reg->err);
}

static int prepare(sc_registry *reg, const char *sql, sc_rst **st)
{
    if (reg->ops->prepare(reg, sql, st) < 0) {
        *st = NULL;
        return db_fail(reg, "prepare");
    }
    return 0;
}

static int exec(sc_registry *reg, const char *sql)
{
    if (reg->ops->exec(reg, sql) < 0)
        return db_fail(reg, "exec");
    return 0;
}

/* The statement calls of REG's backend; every statement of a function
 * belongs to the REG in scope. */
#define st_int(st, i, v) reg->ops->bind_int(st, i, v)
#define st_double(st, i, v) reg->ops->bind_double(st, i, v)
#define st_text(st, i, s) reg->ops->bind_text(st, i, s)
#define st_step(st) reg->ops->step(st)
#define st_reset(st) reg->ops->reset(st)
#define st_free(st) ((st) ? reg->ops->finalize(st) : (void)0)
#define st_col_int(st, i) reg->ops->col_int(st, i)
#define st_col_double(st, i) reg->ops->col_double(st, i)
#define st_col_text(st, i) reg->ops->col_text(st, i)

/* Step ST to its end (a write); 0 or the error. */
static int step_done(sc_registry *reg, sc_rst *st, const char *what)
{
    int rc = st_step(st);

    if (rc != ST_DONE && rc != ST_ROW)
        return db_fail(reg, what);
    return 0;
}

/* One int64 from the first row of ST: 1 with *V, 0 without a row. */
static int step_int(sc_registry *reg, sc_rst *st, int64_t *v)
{
    int rc = st_step(st);

    if (rc == ST_ROW) {
        *v = st_col_int(st, 0);
        return 1;
    }
    if (rc == ST_DONE)
        return 0;
    return db_fail(reg, "query");
}

/* Finish a loop of callbacks over ST: RC is the callback's non-zero
 * return (kept), else the last step's result S (an error unless done).
 * Finalizes ST. */
static int step_end(sc_registry *reg, sc_rst *st, int rc, int s)
{
    if (rc == 0 && s != ST_DONE && s != ST_ROW)
        rc = db_fail(reg, "query");
    st_free(st);
    return rc;
}

/* ---- transactions ---- */

static void backoff(int attempt)
{
    /* 5..~80 ms with jitter, so that waiting writers do not march in step
     * (seeded per process: forked workers must not share a sequence) */
    static unsigned seed;
    if (!seed)
        seed = (unsigned)getpid() ^ (unsigned)time(NULL);
    struct timespec ts = {0, (long)(5 + (rand_r(&seed) % 16) * (attempt + 1)) *
                                 1000000L};
    if (ts.tv_nsec > 900000000L)
        ts.tv_nsec = 900000000L;
    nanosleep(&ts, NULL);
}

/* Run SQL, retrying while the database is busy past the busy timeout
 * (SQLite's file lock; PostgreSQL waits on its locks and never is). */
static int exec_retry(sc_registry *reg, const char *sql)
{
    for (int i = 0;; i++) {
        reg->busy = 0;
        int rc = exec(reg, sql);
        if (rc == 0 || !reg->busy || i >= 50)
            return rc;
        backoff(i);
    }
}

/* A write transaction: SQLite's BEGIN IMMEDIATE takes the write lock up
 * front, so that two writers never both read and then deadlock upgrading;
 * PostgreSQL's locks rows and keys as the statements reach them. */
static int begin(sc_registry *reg)
{
    int rc = exec_retry(reg, reg->ops->begin_write);
    reg->in_tx = rc == 0;
    return rc;
}

static int commit(sc_registry *reg)
{
    int rc = exec_retry(reg, "COMMIT");
    if (rc == 0)
        reg->in_tx = 0;
    return rc;
}

static void rollback(sc_registry *reg)
{
    if (reg->in_tx) {
        reg->ops->exec(reg, "ROLLBACK");
        reg->in_tx = 0;
    }
}

/* ---- open, schema, migrations ---- */

static int migrate(sc_registry *reg, int from)
{
    sc_rst *st = NULL;
    char v[16];
    int rc;

    for (int i = from; i < SC_REGISTRY_SCHEMA; i++)
        if ((rc = exec(reg, reg->ops->migrations[i])) < 0)
            return sc_fail_ctx(rc, "migrating to schema %d", i + 1);
    if (reg->ops->set_schema(reg, SC_REGISTRY_SCHEMA) < 0)
        return db_fail(reg, "record the schema version");
    if ((rc = prepare(reg,
                      "INSERT INTO meta VALUES"
                      " ('schema_version', ?), ('created_by', ?)"
                      " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                      &st)) < 0)
        return rc;
    snprintf(v, sizeof v, "%d", SC_REGISTRY_SCHEMA);
    st_text(st, 1, v);
    st_text(st, 2, "sc_registry");
    rc = step_done(reg, st, "record the schema version");
    st_free(st);
    return rc;
}

static int check_schema(sc_registry *reg, unsigned flags)
{
    int v, rc;

    if (reg->ops->get_schema(reg, &v) < 0)
        return db_fail(reg, "schema version");
    if (v > SC_REGISTRY_SCHEMA)
        return sc_fail(SC_EUNSUP,
                       "registry '%s' has schema %d, newer than this "
                       "program's %d",
                       reg->path, v, SC_REGISTRY_SCHEMA);
    if (v < SC_REGISTRY_SCHEMA) {
        if (v == 0 && !(flags & SC_REGISTRY_CREATE))
            return reg->ops == &sc_rdb_pg
                       ? sc_fail(SC_ENOTFOUND,
                                 "no registry at '%s' (sc-register init "
                                 "makes one)",
                                 reg->path)
                       : sc_fail(SC_ENOTFOUND, "'%s' is not a registry",
                                 reg->path);
        if (flags & SC_REGISTRY_READONLY)
            return sc_fail(SC_EUNSUP,
                           "registry '%s' has schema %d and needs a "
                           "migration to %d (open it for writing)",
                           reg->path, v, SC_REGISTRY_SCHEMA);
        /* one migrator at a time; whoever comes second sees it done */
        if ((rc = begin(reg)) < 0)
            return rc;
        if ((rc = reg->ops->get_schema(reg, &v)) < 0)
            rc = db_fail(reg, "schema version");
        else if (v < SC_REGISTRY_SCHEMA)
            rc = migrate(reg, v);
        if (rc == 0)
            rc = commit(reg);
        if (rc < 0) {
            rollback(reg);
            return rc;
        }
    }
    reg->schema = SC_REGISTRY_SCHEMA;
    return 0;
}

int sc_registry_is_pg(const char *uri)
{
    return !strncmp(uri, "postgresql://", 13) ||
           !strncmp(uri, "postgres://", 11);
}

/* URI for messages: a password in it ("user:PASSWORD@host",
 * "password=PASSWORD") as "***". Caller frees. */
static char *hide_password(const char *uri)
{
    const char *auth = strstr(uri, "://"), *at = NULL, *colon = NULL, *p;
    char *out = malloc(strlen(uri) + 4), *o = out;

    if (!out)
        return NULL;
    if (auth) { /* user:password@host, before the path or the query */
        auth += 3;
        size_t n = strcspn(auth, "/?");
        for (p = auth; p < auth + n; p++)
            if (*p == '@')
                at = p;
        if (at)
            colon = memchr(auth, ':', (size_t)(at - auth));
    }
    for (p = uri; *p;) {
        if (p == colon) {
            o += sprintf(o, ":***");
            p = at;
        } else if (!strncmp(p, "password=", 9) &&
                   (p[-1] == '?' || p[-1] == '&')) {
            o += sprintf(o, "password=***");
            p += 9 + strcspn(p + 9, "&");
        } else
            *o++ = *p++;
    }
    *o = '\0';
    return out;
}

int sc_registry_open(const char *path, unsigned flags, sc_registry **out)
{
    sc_registry *reg;
    int rc;

    *out = NULL;
    if (!strncmp(path, "sqlite:", 7))
        path += 7;
    if (!(reg = calloc(1, sizeof *reg)) || !(reg->conninfo = strdup(path)) ||
        !(reg->path = sc_registry_is_pg(path) ? hide_password(path)
                                              : strdup(path))) {
        if (reg)
            free(reg->conninfo);
        free(reg);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    reg->ops = sc_registry_is_pg(path) ? &sc_rdb_pg : &sc_rdb_sqlite;
    if (reg->ops == &sc_rdb_sqlite && strstr(path, "://")) {
        rc = sc_fail(SC_EUNSUP,
                     "registry '%s': only SQLite files and postgresql:// "
                     "URIs are supported",
                     path);
        goto fail;
    }
    if ((rc = reg->ops->open(reg, flags)) < 0 ||
        (rc = check_schema(reg, flags)) < 0)
        goto fail;
    *out = reg;
    return 0;
fail:
    sc_registry_close(reg);
    return rc;
}

int sc_registry_close(sc_registry *reg)
{
    if (!reg)
        return 0;
    rollback(reg);
    if (reg->conn)
        reg->ops->close(reg);
    free(reg->path);
    free(reg->conninfo);
    free(reg);
    return 0;
}

int sc_registry_schema(const sc_registry *reg)
{
    return reg->schema;
}

const char *sc_registry_backend_of(const sc_registry *reg)
{
    return reg->ops->name;
}

/* ---- paths and storage roots ---- */

/* PATH made absolute: its directory resolved, its last component kept (a
 * symlink at the end stays what it is). Caller frees. */
static int abs_path(const char *path, char **out)
{
    char *copy = strdup(path), *slash, *dir;
    const char *base;
    char real[PATH_MAX];

    *out = NULL;
    if (!copy)
        return sc_fail(SC_ENOMEM, "out of memory");
    while (strlen(copy) > 1 && copy[strlen(copy) - 1] == '/')
        copy[strlen(copy) - 1] = '\0';
    slash = strrchr(copy, '/');
    if (slash == copy) {
        dir = "/";
        base = copy + 1;
    } else if (slash) {
        *slash = '\0';
        dir = copy;
        base = slash + 1;
    } else {
        dir = ".";
        base = copy;
    }
    if (!realpath(dir, real)) {
        int e = errno;
        free(copy);
        return sc_fail(SC_EIO, "cannot resolve '%s': %s", path, strerror(e));
    }
    if (!strcmp(base, ".") || !strcmp(base, "..") || !*base) {
        char full[PATH_MAX];
        snprintf(full, sizeof full, "%s/%s", real, base);
        if (!realpath(full, real)) {
            int e = errno;
            free(copy);
            return sc_fail(SC_EIO, "cannot resolve '%s': %s", path,
                           strerror(e));
        }
        *out = strdup(real);
    } else {
        size_t n = strlen(real) + strlen(base) + 2;
        if ((*out = malloc(n)))
            snprintf(*out, n, "%s%s%s", real, strcmp(real, "/") ? "/" : "",
                     base);
    }
    free(copy);
    return *out ? 0 : sc_fail(SC_ENOMEM, "out of memory");
}

/* The storage root holding ABS (longest match): *ROOT its id (0 for none)
 * and *REL the path below it (borrowed from ABS). */
static int split_root(sc_registry *reg, const char *abs, int64_t *root,
                      const char **rel)
{
    sc_rst *st;
    size_t best = 0;
    int rc;

    *root = 0;
    *rel = abs;
    if ((rc = prepare(reg, "SELECT id, dir FROM storage", &st)) < 0)
        return rc;
    while ((rc = st_step(st)) == ST_ROW) {
        const char *d = st_col_text(st, 1);
        size_t n = strlen(d);
        if (n > best && !strncmp(abs, d, n) &&
            (abs[n] == '/' || !strcmp(d, "/"))) {
            best = n;
            *root = st_col_int(st, 0);
            *rel = abs + n + (abs[n] == '/');
        }
    }
    rc = rc == ST_DONE ? 0 : db_fail(reg, "storage roots");
    st_free(st);
    return rc;
}

static int root_write(sc_registry *reg, int64_t id, const char *dir)
{
    sc_rst *st = NULL;
    char *abs = NULL;
    char real[PATH_MAX];
    int rc;

    if (!realpath(dir, real))
        return sc_fail(SC_EIO, "cannot resolve '%s': %s", dir, strerror(errno));
    if (!(abs = strdup(real)))
        return sc_fail(SC_ENOMEM, "out of memory");
    rc = prepare(reg,
                 id ? "UPDATE storage SET dir = ?1 WHERE id = ?2"
                    : "INSERT INTO storage(dir) VALUES (?1) ON CONFLICT DO NOTHING",
                 &st);
    if (rc == 0) {
        st_text(st, 1, abs);
        if (id)
            st_int(st, 2, id);
        rc = step_done(reg, st, "storage root");
        if (rc == 0 && id && reg->changes == 0)
            rc = sc_fail(SC_ENOTFOUND, "no storage root %" PRId64, id);
    }
    st_free(st);
    free(abs);
    return rc;
}

int sc_registry_add_root(sc_registry *reg, const char *dir)
{
    return root_write(reg, 0, dir);
}

int sc_registry_set_root(sc_registry *reg, int64_t id, const char *dir)
{
    return root_write(reg, id, dir);
}

int sc_registry_roots(sc_registry *reg,
                      int (*fn)(int64_t id, const char *dir, void *ud),
                      void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg, "SELECT id, dir FROM storage ORDER BY id", &st)) < 0)
        return rc;
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_int(st, 0), st_col_text(st, 1), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

/* ---- registering ---- */

static int is_sha256(const char *s)
{
    if (!s || strlen(s) != 64)
        return 0;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

static int cmp_strp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorting thousands of gene names for every dataset took a tenth of a
 * registration, so a set is found by an order-free key instead: the number
 * of distinct genes and two sums of 64-bit hashes of each distinct name
 * (duplicates dropped through a small hash table). Only a new set is
 * sorted, to be stored. */
static uint64_t fnv1a(const char *s, uint64_t h)
{
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return x;
}

static int geneset_key(const char *const *genes, size_t n, char key[64])
{
    size_t cap = 16, k = 0;
    uint64_t *tab, s1 = 0, s2 = 0;

    while (cap < 2 * n)
        cap <<= 1;
    if (!(tab = calloc(cap, sizeof *tab)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        uint64_t h1 = fnv1a(genes[i], 14695981039346656037ULL) | 1;
        size_t j = (size_t)(mix64(h1) & (cap - 1));
        while (tab[j] && tab[j] != h1)
            j = (j + 1) & (cap - 1);
        if (tab[j] == h1)
            continue;
        tab[j] = h1;
        s1 += h1;
        s2 += mix64(fnv1a(genes[i], 0x9e3779b97f4a7c15ULL));
        k++;
    }
    free(tab);
    snprintf(key, 64, "%016" PRIx64 "%016" PRIx64 "-%zu", s1, s2, k);
    return 0;
}

/* GENES sorted and without duplicates, in a new array *OUT of *ND. */
static int sorted_distinct(const char *const *genes, size_t n,
                           const char ***out, size_t *nd)
{
    const char **s;
    size_t k = 0;

    if (!(s = malloc((n ? n : 1) * sizeof *s)))
        return sc_fail(SC_ENOMEM, "out of memory");
    memcpy(s, genes, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_strp);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || strcmp(s[k - 1], s[i]))
            s[k++] = s[i];
    *out = s;
    *nd = k;
    return 0;
}

static int add_geneset(sc_registry *reg, const sc_reg_dataset *d, int64_t *gid)
{
    char hex[SC_HASH_HEX_SIZE];
    const char **genes = NULL;
    sc_rst *st = NULL;
    size_t n = 0;
    int rc;

    *gid = 0;
    if (!d->n_genes)
        return 0;
    if ((rc = geneset_key(d->genes, d->n_genes, hex)) < 0)
        return rc;
    if ((rc = prepare(reg, "SELECT id FROM geneset WHERE key = ?", &st)) < 0)
        goto out;
    st_text(st, 1, hex);
    if ((rc = step_int(reg, st, gid)) != 0)
        goto out; /* known (1), or an error */
    st_free(st);
    st = NULL;
    if ((rc = sorted_distinct(d->genes, d->n_genes, &genes, &n)) < 0)
        goto out;
    /* a writer that made the same set meanwhile (PostgreSQL) is waited
     * for, and its set used */
    if ((rc = prepare(reg,
                      "INSERT INTO geneset(key, n_genes) VALUES (?, ?)"
                      " ON CONFLICT(key) DO NOTHING RETURNING id",
                      &st)) < 0)
        goto out;
    st_text(st, 1, hex);
    st_int(st, 2, (int64_t)n);
    if ((rc = step_int(reg, st, gid)) < 0)
        goto out;
    st_free(st);
    st = NULL;
    if (rc == 0) {
        if ((rc = prepare(reg, "SELECT id FROM geneset WHERE key = ?", &st)) <
            0)
            goto out;
        st_text(st, 1, hex);
        rc = step_int(reg, st, gid);
        rc = rc == 0 ? sc_fail(SC_EREGISTRY, "gene set %s vanished", hex) : rc;
        goto out;
    }
    if ((rc = prepare(reg, "INSERT INTO geneset_gene VALUES (?, ?)", &st)) < 0)
        goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        st_int(st, 1, *gid);
        st_text(st, 2, genes[i]);
        rc = step_done(reg, st, "gene set genes");
        st_reset(st);
    }
out:
    if (rc > 0)
        rc = 0;
    st_free(st);
    free(genes);
    return rc;
}

static int add_terms(sc_registry *reg, int64_t id, const sc_reg_dataset *d)
{
    sc_rst *st;
    int rc;

    if (!d->n_terms)
        return 0;
    if ((rc = prepare(reg,
                      "INSERT INTO artifact_term VALUES (?, ?, ?, ?, ?)"
                      " ON CONFLICT(artifact_id, field, term) DO UPDATE SET"
                      " n_cells = artifact_term.n_cells + excluded.n_cells",
                      &st)) < 0)
        return rc;
    for (size_t i = 0; i < d->n_terms && rc == 0; i++) {
        const sc_reg_term *t = &d->terms[i];
        st_int(st, 1, id);
        st_text(st, 2, t->field);
        st_text(st, 3, t->term);
        st_text(st, 4, t->label && *t->label ? t->label : NULL);
        st_int(st, 5, t->n_cells);
        rc = step_done(reg, st, "terms");
        st_reset(st);
    }
    st_free(st);
    return rc;
}

static int transform_id(sc_registry *reg, const char *tool, const char *version,
                        int64_t *id)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg,
                      "INSERT INTO transform(name, version) VALUES (?1, ?2)"
                      " ON CONFLICT(name, version) DO UPDATE"
                      " SET name = excluded.name RETURNING id",
                      &st)) < 0)
        return rc;
    st_text(st, 1, tool);
    st_text(st, 2, version && *version ? version : "unknown");
    rc = step_int(reg, st, id);
    st_free(st);
    return rc < 0 ? rc : 0;
}

static int link_io(sc_registry *reg, int64_t run, int output, int kind,
                   const char *ref, int64_t version)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg, "INSERT INTO run_io VALUES (?,?,?,?,?)"
                      " ON CONFLICT DO NOTHING",
                      &st)) < 0)
        return rc;
    st_int(st, 1, run);
    st_int(st, 2, output);
    st_int(st, 3, kind);
    st_text(st, 4, ref);
    if (version)
        st_int(st, 5, version);
    else
        st_text(st, 5, NULL);
    rc = step_done(reg, st, "run inputs and outputs");
    st_free(st);
    return rc;
}

/* A run is recorded once however many files carry its step: its key is
 * the hash of what identifies it. */
static int add_step(sc_registry *reg, const sc_reg_step *s, const char *out)
{
    char key[SC_HASH_HEX_SIZE];
    sc_hash *h = NULL;
    sc_rst *st = NULL;
    int64_t tid, run = 0;
    const char *parts[5] = {s->tool, s->version, s->arguments, s->time, out};
    int rc;

    if ((rc = sc_hash_new(&h)) < 0)
        return rc;
    for (int i = 0; i < 5 && rc == 0; i++) {
        const char *p = parts[i] ? parts[i] : "";
        rc = sc_hash_update(h, p, strlen(p) + 1);
    }
    for (size_t i = 0; i < s->n_inputs && rc == 0; i++)
        rc = sc_hash_update(h, s->inputs[i], strlen(s->inputs[i]) + 1);
    if (rc == 0)
        rc = sc_hash_final(h, key);
    sc_hash_free(h);
    if (rc < 0 || (rc = transform_id(reg, s->tool, s->version, &tid)) < 0)
        return rc;
    if ((rc = prepare(reg,
                      "INSERT INTO run(transform_id, key, arguments,"
                      " host, started, finished, status)"
                      " VALUES (?, ?, ?, ?, ?, ?, 'ok') ON CONFLICT DO NOTHING"
                      " RETURNING id",
                      &st)) < 0)
        return rc;
    st_int(st, 1, tid);
    st_text(st, 2, key);
    st_text(st, 3, s->arguments);
    st_text(st, 4, s->host);
    st_text(st, 5, s->time);
    st_text(st, 6, s->time);
    rc = step_int(reg, st, &run);
    st_free(st);
    if (rc <= 0)
        return rc; /* known already (0), or an error */
    for (size_t i = 0; i < s->n_inputs && rc >= 0; i++)
        rc = link_io(reg, run, 0, is_sha256(s->inputs[i]) ? 0 : 1, s->inputs[i],
                     0);
    if (rc >= 0)
        rc = link_io(reg, run, 1, 0, out, 0);
    return rc < 0 ? rc : 0;
}

/* The latest artifact at (ROOT, REL): *PREV and *VERSION, or 0. */
static int find_latest_at(sc_registry *reg, int64_t root, const char *rel,
                          int64_t *prev, int64_t *version)
{
    sc_rst *st;
    int rc;

    *prev = *version = 0;
    if ((rc = prepare(reg,
                      "SELECT id, version FROM artifact a WHERE path = ?1"
                      " AND storage_id IS NOT DISTINCT FROM ?2 AND NOT EXISTS (SELECT 1 FROM"
                      " artifact b WHERE b.previous_id = a.id)"
                      " ORDER BY id DESC LIMIT 1",
                      &st)) < 0)
        return rc;
    st_text(st, 1, rel);
    if (root)
        st_int(st, 2, root);
    else
        st_text(st, 2, NULL);
    rc = st_step(st);
    if (rc == ST_ROW) {
        *prev = st_col_int(st, 0);
        *version = st_col_int(st, 1);
        rc = 0;
    } else {
        rc = rc == ST_DONE ? 0 : db_fail(reg, "version chain");
    }
    st_free(st);
    return rc;
}

/* Writers of new versions at one path take turns: the next version's
 * number and its previous one are read and written under this lock (a
 * PostgreSQL transaction-scoped advisory lock; SQLite's BEGIN IMMEDIATE
 * has locked the file already). */
static int lock_path(sc_registry *reg, int64_t root, const char *rel)
{
    sc_rst *st;
    char *key;
    size_t n;
    int rc;

    if (!reg->ops->lock_path)
        return 0;
    n = strlen(rel) + 32;
    if (!(key = malloc(n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(key, n, "%" PRId64 ":%s", root, rel);
    if ((rc = prepare(reg, reg->ops->lock_path, &st)) == 0) {
        st_text(st, 1, key);
        rc = step_done(reg, st, "lock the path");
        st_free(st);
    }
    free(key);
    return rc;
}

static int add_once(sc_registry *reg, const sc_reg_dataset *d, const char *abs,
                    int64_t *id, int *status)
{
    sc_rst *st = NULL;
    int64_t root, prev, version, gid;
    const char *rel;
    int rc;

    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = prepare(reg, "SELECT id FROM artifact WHERE sha256 = ?", &st)) <
        0)
        goto fail;
    st_text(st, 1, d->sha256);
    rc = step_int(reg, st, id);
    st_free(st);
    st = NULL;
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        *status = SC_REG_KNOWN;
        rollback(reg);
        return 0;
    }
    if ((rc = split_root(reg, abs, &root, &rel)) < 0 ||
        (rc = lock_path(reg, root, rel)) < 0 ||
        (rc = find_latest_at(reg, root, rel, &prev, &version)) < 0 ||
        (rc = add_geneset(reg, d, &gid)) < 0)
        goto fail;
    if ((rc = prepare(reg,
                      "INSERT INTO artifact(sha256, size, mtime, format,"
                      " n_obs, n_vars, organism, assay, schema_version,"
                      " storage_id, path, geneset_id, created, version,"
                      " previous_id) VALUES"
                      " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                      " ON CONFLICT(sha256) DO NOTHING RETURNING id",
                      &st)) < 0)
        goto fail;
    st_text(st, 1, d->sha256);
    st_int(st, 2, d->size);
    st_int(st, 3, d->mtime);
    st_text(st, 4, d->format ? d->format : "file");
    if (d->n_obs || d->n_vars) {
        st_int(st, 5, d->n_obs);
        st_int(st, 6, d->n_vars);
    }
    st_text(st, 7, d->organism);
    st_text(st, 8, d->assay);
    st_text(st, 9, d->schema_version);
    if (root)
        st_int(st, 10, root);
    st_text(st, 11, rel);
    if (gid)
        st_int(st, 12, gid);
    st_int(st, 13, (int64_t)time(NULL));
    st_int(st, 14, version + 1);
    if (prev)
        st_int(st, 15, prev);
    rc = step_int(reg, st, id);
    st_free(st);
    st = NULL;
    if (rc == 0) {
        /* another writer registered that content meanwhile (PostgreSQL
         * waited for it to commit): it is known */
        rollback(reg);
        if ((rc = prepare(reg, "SELECT id FROM artifact WHERE sha256 = ?",
                          &st)) < 0)
            return rc;
        st_text(st, 1, d->sha256);
        rc = step_int(reg, st, id);
        st_free(st);
        if (rc < 0)
            return rc;
        *status = SC_REG_KNOWN;
        return 0;
    }
    if (rc < 0)
        goto fail;
    if ((rc = add_terms(reg, *id, d)) < 0)
        goto fail;
    for (size_t i = 0; i < d->n_steps; i++) {
        const sc_reg_step *s = &d->steps[i];
        const char *out = s->output_sha256 ? s->output_sha256 : d->sha256;
        if (is_sha256(out) && (rc = add_step(reg, s, out)) < 0)
            goto fail;
    }
    if ((rc = commit(reg)) < 0)
        goto fail;
    *status = prev ? SC_REG_VERSION : SC_REG_NEW;
    return 0;
fail:
    st_free(st);
    rollback(reg);
    return rc;
}

int sc_registry_add(sc_registry *reg, const sc_reg_dataset *d, int64_t *id,
                    int *status)
{
    char *abs = NULL;
    int rc;

    *id = 0;
    *status = SC_REG_NEW;
    if (!is_sha256(d->sha256))
        return sc_fail(SC_EINVAL, "'%s': bad sha256 '%s'", d->path,
                       d->sha256 ? d->sha256 : "");
    if ((rc = abs_path(d->path, &abs)) < 0)
        return rc;
    for (int i = 0;; i++) {
        reg->busy = 0;
        rc = add_once(reg, d, abs, id, status);
        if (rc == 0 || !reg->busy || i >= 20)
            break;
        backoff(i);
    }
    free(abs);
    return rc < 0 ? sc_fail_ctx(rc, "'%s'", d->path) : 0;
}

/* ---- artifacts ---- */

#define ARTIFACT_COLS                                                          \
    "a.id, a.sha256, CASE WHEN s.dir IS NULL THEN a.path"                      \
    " WHEN s.dir = '/' THEN '/' || a.path ELSE s.dir || '/' || a.path END,"    \
    " a.format, a.size, a.mtime, a.n_obs, a.n_vars, a.organism, a.assay,"      \
    " a.schema_version, a.created, a.version, a.previous_id,"                  \
    " NOT EXISTS (SELECT 1 FROM artifact b WHERE b.previous_id = a.id)"

#define ARTIFACT_FROM                                                          \
    " FROM artifact a LEFT JOIN storage s ON s.id = a.storage_id"

static void read_artifact(sc_registry *reg, sc_rst *st, sc_reg_artifact *a)
{
    memset(a, 0, sizeof *a);
    a->id = st_col_int(st, 0);
    a->sha256 = st_col_text(st, 1);
    a->path = st_col_text(st, 2);
    a->format = st_col_text(st, 3);
    a->size = st_col_int(st, 4);
    a->mtime = st_col_int(st, 5);
    a->n_obs = st_col_int(st, 6);
    a->n_vars = st_col_int(st, 7);
    a->organism = st_col_text(st, 8);
    a->assay = st_col_text(st, 9);
    a->schema_version = st_col_text(st, 10);
    a->created = st_col_int(st, 11);
    a->version = st_col_int(st, 12);
    a->previous = st_col_int(st, 13);
    a->latest = (int)st_col_int(st, 14);
    a->n_match = a->n_obs;
    a->weight = 1;
}

/* Step ST, calling FN for each artifact row; extra columns: N_MATCH at
 * column 15 and WEIGHT at 16 when EXTRA says so. */
static int each_artifact(sc_registry *reg, sc_rst *st, int extra,
                         sc_reg_artifact_fn fn, void *ud, int64_t *count)
{
    sc_reg_artifact a;
    int rc;

    while ((rc = st_step(st)) == ST_ROW) {
        read_artifact(reg, st, &a);
        if (extra & 1)
            a.n_match = st_col_int(st, 15);
        if (extra & 2)
            a.weight = st_col_double(st, 16);
        if (count)
            ++*count;
        if ((rc = fn(&a, ud)) != 0)
            return rc;
    }
    return rc == ST_DONE ? 0 : db_fail(reg, "query");
}

int sc_registry_get(sc_registry *reg, int64_t id, sc_reg_artifact_fn fn,
                    void *ud)
{
    sc_rst *st;
    int64_t n = 0;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT " ARTIFACT_COLS ARTIFACT_FROM " WHERE a.id = ?",
                      &st)) < 0)
        return rc;
    st_int(st, 1, id);
    rc = each_artifact(reg, st, 0, fn, ud, &n);
    st_free(st);
    if (rc == 0 && n == 0)
        rc = sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, id);
    return rc;
}

static int is_hex(const char *s)
{
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
            return 0;
    return 1;
}

int sc_registry_resolve(sc_registry *reg, const char *ref, int64_t *id)
{
    sc_rst *st = NULL;
    char *abs = NULL, *like = NULL;
    const char *rel;
    int64_t root, v;
    int rc, n = 0;

    *id = 0;
    if (!*ref)
        return sc_fail(SC_EINVAL, "empty artifact reference");
    if (strspn(ref, "0123456789") == strlen(ref) && strlen(ref) < 6) {
        if ((rc = prepare(reg, "SELECT id FROM artifact WHERE id = ?", &st)) <
            0)
            return rc;
        st_int(st, 1, strtoll(ref, NULL, 10));
        rc = step_int(reg, st, id);
        st_free(st);
        if (rc < 0)
            return rc;
        return rc ? 0 : sc_fail(SC_ENOTFOUND, "no artifact %s", ref);
    }
    if (strlen(ref) >= 6 && strlen(ref) <= 64 && is_hex(ref)) {
        if (!(like = malloc(strlen(ref) + 2)))
            return sc_fail(SC_ENOMEM, "out of memory");
        /* [prefix, prefix with its last digit raised): the index's range */
        strcpy(like, ref);
        like[strlen(like) - 1]++;
        if ((rc = prepare(reg,
                          "SELECT id FROM artifact WHERE sha256 >= ?"
                          " AND sha256 < ? LIMIT 2",
                          &st)) < 0) {
            free(like);
            return rc;
        }
        st_text(st, 1, ref);
        st_text(st, 2, like);
        while ((rc = step_int(reg, st, &v)) == 1)
            if (n++ == 0)
                *id = v;
        st_free(st);
        free(like);
        if (rc < 0)
            return rc;
        if (n > 1)
            return sc_fail(SC_EINVAL,
                           "'%s' is ambiguous: several artifacts'"
                           " sha256 start with it",
                           ref);
        if (n == 1)
            return 0;
    }
    if (abs_path(ref, &abs) < 0)
        return sc_fail(SC_ENOTFOUND, "no artifact '%s'", ref);
    if ((rc = split_root(reg, abs, &root, &rel)) == 0 &&
        (rc = find_latest_at(reg, root, rel, id, &v)) == 0 && !*id)
        rc = sc_fail(SC_ENOTFOUND, "no artifact '%s'", ref);
    free(abs);
    return rc;
}

int sc_registry_terms(sc_registry *reg, int64_t id,
                      int (*fn)(const char *field, const char *term,
                                const char *label, int64_t n_cells, void *ud),
                      void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT field, term, label, n_cells FROM artifact_term"
                      " WHERE artifact_id = ? ORDER BY field, n_cells DESC,"
                      " term",
                      &st)) < 0)
        return rc;
    st_int(st, 1, id);
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_text(st, 0), st_col_text(st, 1), st_col_text(st, 2),
                st_col_int(st, 3), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

int sc_registry_geneset(sc_registry *reg, int64_t id, int64_t *geneset,
                        int64_t *n_genes)
{
    sc_rst *st;
    int rc;

    *geneset = *n_genes = 0;
    if ((rc = prepare(reg,
                      "SELECT g.id, g.n_genes FROM artifact a JOIN geneset g"
                      " ON g.id = a.geneset_id WHERE a.id = ?",
                      &st)) < 0)
        return rc;
    st_int(st, 1, id);
    if ((rc = st_step(st)) == ST_ROW) {
        *geneset = st_col_int(st, 0);
        *n_genes = st_col_int(st, 1);
        rc = 0;
    } else {
        rc = rc == ST_DONE ? 0 : db_fail(reg, "gene set");
    }
    st_free(st);
    return rc;
}

/* ---- queries ---- */

/* A growing SQL text and the values to bind to its placeholders, in
 * order. Values are always bound, never pasted into the text. */
typedef struct qbuf {
    char *sql;
    size_t len, cap;
    struct qval {
        int is_int;
        int64_t i;
        char *s;
    } * v;
    size_t nv, capv;
    int oom;
} qbuf;

static void q_sql(qbuf *q, const char *s)
{
    size_t n = strlen(s);
    if (q->oom)
        return;
    if (q->len + n + 1 > q->cap) {
        size_t cap = (q->len + n + 1) * 2;
        char *p = realloc(q->sql, cap);
        if (!p) {
            q->oom = 1;
            return;
        }
        q->sql = p;
        q->cap = cap;
    }
    memcpy(q->sql + q->len, s, n + 1);
    q->len += n;
}

static struct qval *q_val(qbuf *q)
{
    if (q->oom)
        return NULL;
    if (q->nv == q->capv) {
        size_t cap = q->capv ? q->capv * 2 : 16;
        struct qval *p = realloc(q->v, cap * sizeof *p);
        if (!p) {
            q->oom = 1;
            return NULL;
        }
        q->v = p;
        q->capv = cap;
    }
    memset(&q->v[q->nv], 0, sizeof *q->v);
    return &q->v[q->nv++];
}

static void q_int(qbuf *q, const char *sql, int64_t i)
{
    struct qval *v;
    q_sql(q, sql);
    if ((v = q_val(q))) {
        v->is_int = 1;
        v->i = i;
    }
}

static void q_text(qbuf *q, const char *sql, const char *s)
{
    struct qval *v;
    q_sql(q, sql);
    if ((v = q_val(q)) && !(v->s = strdup(s)))
        q->oom = 1;
}

/* TERMS as a JSON array of strings, for the backend's in_json. */
static char *json_array(const char *const *terms, size_t n)
{
    size_t cap = 3, len = 0;
    char *s;

    for (size_t i = 0; i < n; i++)
        cap += 2 * strlen(terms[i]) + 3;
    if (!(s = malloc(cap)))
        return NULL;
    s[len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (i)
            s[len++] = ',';
        s[len++] = '"';
        for (const char *p = terms[i]; *p; p++) {
            if (*p == '"' || *p == '\\')
                s[len++] = '\\';
            s[len++] = (unsigned char)*p < 0x20 ? ' ' : *p;
        }
        s[len++] = '"';
    }
    s[len++] = ']';
    s[len] = '\0';
    return s;
}

static void q_release(qbuf *q)
{
    for (size_t i = 0; i < q->nv; i++)
        free(q->v[i].s);
    free(q->v);
    free(q->sql);
}

static int q_prepare(sc_registry *reg, qbuf *q, sc_rst **st)
{
    int rc;

    if (q->oom)
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = prepare(reg, q->sql, st)) < 0)
        return rc;
    for (size_t i = 0; i < q->nv; i++) {
        if (q->v[i].is_int)
            st_int(*st, (int)i + 1, q->v[i].i);
        else
            st_text(*st, (int)i + 1, q->v[i].s);
    }
    return 0;
}

int sc_registry_query(sc_registry *reg, const sc_reg_query *q,
                      sc_reg_artifact_fn fn, void *ud)
{
    qbuf b = {0};
    sc_rst *st = NULL;
    char name[80];
    int rc;

    q_sql(&b, "SELECT " ARTIFACT_COLS ", ");
    q_sql(&b, q->n_conds ? "m0.n" : "a.n_obs");
    q_sql(&b, ARTIFACT_FROM);
    /* each term condition drives from the (field, term) index */
    for (size_t i = 0; i < q->n_conds; i++) {
        char *json = json_array(q->conds[i].terms, q->conds[i].n_terms);
        if (!json) {
            b.oom = 1;
            break;
        }
        q_text(&b,
               " JOIN (SELECT artifact_id, SUM(n_cells) AS n FROM"
               " artifact_term WHERE field = ?",
               q->conds[i].field);
        q_text(&b, reg->ops->in_json, json);
        q_int(&b, " GROUP BY artifact_id HAVING SUM(n_cells) >= ?",
              q->min_cells > 0 ? q->min_cells : 1);
        snprintf(name, sizeof name, ") m%zu ON m%zu.artifact_id = a.id", i, i);
        q_sql(&b, name);
        free(json);
    }
    q_sql(&b, " WHERE TRUE");
    if (!q->all_versions)
        q_sql(&b, " AND NOT EXISTS (SELECT 1 FROM artifact b"
                  " WHERE b.previous_id = a.id)");
    if (!q->n_conds && q->min_cells > 0)
        q_int(&b, " AND a.n_obs >= ?", q->min_cells);
    for (size_t i = 0; i < q->n_genes; i++)
        q_text(&b,
               " AND EXISTS (SELECT 1 FROM geneset_gene g WHERE"
               " g.geneset_id = a.geneset_id AND g.gene = ?)",
               q->genes[i]);
    if (q->created_after)
        q_int(&b, " AND a.created >= ?", q->created_after);
    if (q->created_before)
        q_int(&b, " AND a.created < ?", q->created_before);
    if (q->format)
        q_text(&b, " AND a.format = ?", q->format);
    if (q->transform) {
        /* made by the transform at any depth: its runs' outputs, then the
         * outputs of the runs that used those, and so on */
        q_text(&b,
               " AND a.sha256 IN (WITH RECURSIVE down(sha) AS ("
               "SELECT o.ref FROM run_io o JOIN run r ON r.id = o.run_id"
               " JOIN transform t ON t.id = r.transform_id"
               " WHERE o.output = 1 AND o.kind = 0 AND t.name = ?",
               q->transform);
        if (q->transform_version)
            q_text(&b, " AND t.version = ?", q->transform_version);
        q_sql(&b, " UNION SELECT o.ref FROM down d JOIN run_io i"
                  " ON i.ref = d.sha AND i.output = 0 JOIN run_io o"
                  " ON o.run_id = i.run_id AND o.output = 1 AND o.kind = 0)"
                  " SELECT sha FROM down)");
    }
    q_sql(&b, " ORDER BY a.id");
    if (q->limit > 0)
        q_int(&b, " LIMIT ?", q->limit);
    if ((rc = q_prepare(reg, &b, &st)) == 0)
        rc = each_artifact(reg, st, 1, fn, ud, NULL);
    st_free(st);
    q_release(&b);
    return rc;
}

int sc_registry_counts(sc_registry *reg, int64_t version, const char *field,
                       int (*fn)(const char *term, const char *label,
                                 int64_t n_cells, int64_t n_datasets, void *ud),
                       void *ud)
{
    sc_rst *st;
    int rc;

    rc = prepare(reg,
                 version
                     ? "SELECT t.term, MAX(t.label), SUM(t.n_cells),"
                       " COUNT(*) FROM collection_version_member m"
                       " JOIN artifact_term t ON t.artifact_id = m.artifact_id"
                       " WHERE m.version_id = ?2 AND t.field = ?1"
                       " GROUP BY t.term ORDER BY 3 DESC, 1"
                     : "SELECT t.term, MAX(t.label), SUM(t.n_cells),"
                       " COUNT(*) FROM artifact_term t WHERE t.field = ?1"
                       " AND NOT EXISTS (SELECT 1 FROM artifact b"
                       " WHERE b.previous_id = t.artifact_id)"
                       " GROUP BY t.term ORDER BY 3 DESC, 1",
                 &st);
    if (rc < 0)
        return rc;
    st_text(st, 1, field);
    if (version)
        st_int(st, 2, version);
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_text(st, 0), st_col_text(st, 1), st_col_int(st, 2),
                st_col_int(st, 3), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

/* ---- runs ---- */

int sc_registry_run_start(sc_registry *reg, const char *tool,
                          const char *version, const char *arguments,
                          const char *host, int64_t *run)
{
    sc_rst *st = NULL;
    char now[32];
    time_t t = time(NULL);
    struct tm tm;
    int64_t tid;
    int rc;

    *run = 0;
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = transform_id(reg, tool, version, &tid)) < 0 ||
        (rc = prepare(reg,
                      "INSERT INTO run(transform_id, arguments, host,"
                      " started, status) VALUES (?, ?, ?, ?, 'running')"
                      " RETURNING id",
                      &st)) < 0)
        goto fail;
    st_int(st, 1, tid);
    st_text(st, 2, arguments);
    st_text(st, 3, host);
    st_text(st, 4, now);
    if ((rc = step_int(reg, st, run)) <= 0) {
        rc = rc ? rc : db_fail(reg, "run");
        goto fail;
    }
    st_free(st);
    return commit(reg) < 0 ? (rollback(reg), SC_EREGISTRY) : 0;
fail:
    st_free(st);
    rollback(reg);
    return rc;
}

static int run_status(sc_registry *reg, int64_t run, char *buf, size_t size)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg, "SELECT status FROM run WHERE id = ?", &st)) < 0)
        return rc;
    st_int(st, 1, run);
    if ((rc = st_step(st)) == ST_ROW) {
        snprintf(buf, size, "%s", st_col_text(st, 0));
        rc = 0;
    } else {
        rc = rc == ST_DONE ? sc_fail(SC_ENOTFOUND, "no run %" PRId64, run)
                               : db_fail(reg, "run");
    }
    st_free(st);
    return rc;
}

int sc_registry_run_link(sc_registry *reg, int64_t run, int output,
                         int64_t artifact, int64_t version, const char *uri)
{
    sc_rst *st;
    char status[32], ref[40];
    int rc;

    if ((rc = run_status(reg, run, status, sizeof status)) < 0)
        return rc;
    if (artifact > 0) {
        if ((rc = prepare(reg, "SELECT sha256 FROM artifact WHERE id = ?",
                          &st)) < 0)
            return rc;
        st_int(st, 1, artifact);
        if ((rc = st_step(st)) == ST_ROW)
            rc = link_io(reg, run, output, 0, st_col_text(st, 0), 0);
        else
            rc = rc == ST_DONE
                     ? sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, artifact)
                     : db_fail(reg, "artifact");
        st_free(st);
        return rc;
    }
    if (version > 0) {
        snprintf(ref, sizeof ref, "version:%" PRId64, version);
        return link_io(reg, run, output, 2, ref, version);
    }
    return link_io(reg, run, output, 1, uri, 0);
}

int sc_registry_run_finish(sc_registry *reg, int64_t run, const char *status)
{
    sc_rst *st;
    char cur[32], now[32];
    time_t t = time(NULL);
    struct tm tm;
    int rc;

    if ((rc = run_status(reg, run, cur, sizeof cur)) < 0)
        return rc;
    if (strcmp(cur, "running"))
        return sc_fail(SC_EINVAL, "run %" PRId64 " is not running (%s)", run,
                       cur);
    gmtime_r(&t, &tm);
    strftime(now, sizeof now, "%Y-%m-%dT%H:%M:%SZ", &tm);
    if ((rc = prepare(reg,
                      "UPDATE run SET status = ?, finished = ?"
                      " WHERE id = ?",
                      &st)) < 0)
        return rc;
    st_text(st, 1, status);
    st_text(st, 2, now);
    st_int(st, 3, run);
    rc = step_done(reg, st, "run");
    st_free(st);
    return rc;
}

/* ---- lineage ---- */

/* A node found while walking, with its strings owned. */
typedef struct lnode {
    int kind;
    int64_t id;
    char *label, *detail, *ref; /* REF: sha256 or version id text to follow */
} lnode;

typedef struct lwalk {
    sc_registry *reg;
    int down, max_depth;
    int (*fn)(const sc_reg_node *, void *);
    void *ud;
    struct seen {
        int kind;
        int64_t id;
    } * seen;
    size_t n_seen, cap_seen;
} lwalk;

static void lnodes_free(lnode *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        free(v[i].label);
        free(v[i].detail);
        free(v[i].ref);
    }
    free(v);
}

/* Collect the rows of ST (kind, id, label, detail, ref) into *V. */
static int collect(sc_registry *reg, sc_rst *st, lnode **v, size_t *n)
{
    size_t cap = 0;
    int rc;

    *v = NULL;
    *n = 0;
    while ((rc = st_step(st)) == ST_ROW) {
        if (*n == cap) {
            lnode *p = realloc(*v, (cap = cap ? cap * 2 : 8) * sizeof *p);
            if (!p)
                return sc_fail(SC_ENOMEM, "out of memory");
            *v = p;
        }
        lnode *x = &(*v)[(*n)++];
        x->kind = (int)st_col_int(st, 0);
        x->id = st_col_int(st, 1);
        x->label = strdup(st_col_text(st, 2));
        x->detail = strdup(st_col_text(st, 3));
        x->ref = strdup(st_col_text(st, 4));
        if (!x->label || !x->detail || !x->ref)
            return sc_fail(SC_ENOMEM, "out of memory");
    }
    return rc == ST_DONE ? 0 : db_fail(reg, "lineage");
}

/* The neighbours of a node: from an artifact (by sha256), the runs that
 * made it (up) or used it and the collection versions holding it (down);
 * from a run, its inputs (up) or outputs (down); from a collection
 * version, its members (up) or the runs that used it (down). An artifact
 * not registered shows as a missing sha256. */
#define RUN_NODE                                                               \
    "SELECT 1, r.id, t.name || ' ' || t.version || ' (' || r.status || ')',"   \
    " COALESCE(r.started, '') || CASE WHEN r.arguments IS NULL THEN ''"        \
    " ELSE '  ' || r.arguments END, CAST(r.id AS TEXT) FROM run_io io"         \
    " JOIN run r ON r.id = io.run_id"                                          \
    " JOIN transform t ON t.id = r.transform_id"
#define IO_NODE                                                                \
    "SELECT CASE io.kind WHEN 1 THEN 3 WHEN 2 THEN 2 ELSE"                     \
    " CASE WHEN a.id IS NULL THEN 4 ELSE 0 END END,"                           \
    " COALESCE(a.id, io.version_id, 0),"                                       \
    " CASE io.kind WHEN 1 THEN io.ref WHEN 2 THEN c.name || '@' || cv.version" \
    " ELSE COALESCE(CASE WHEN s.dir IS NULL THEN a.path ELSE s.dir || '/' ||"  \
    " a.path END, 'not registered') END,"                                      \
    " CASE io.kind WHEN 0 THEN io.ref ELSE '' END,"                            \
    " COALESCE(a.sha256, CAST(io.version_id AS TEXT), io.ref)"                               \
    " FROM run_io io LEFT JOIN artifact a ON io.kind = 0 AND a.sha256 = "      \
    "io.ref"                                                                   \
    " LEFT JOIN storage s ON s.id = a.storage_id"                              \
    " LEFT JOIN collection_version cv ON cv.id = io.version_id"                \
    " LEFT JOIN collection c ON c.id = cv.collection_id"
#define MEMBER_NODE                                                            \
    "SELECT 0, a.id, CASE WHEN s.dir IS NULL THEN a.path ELSE"                 \
    " s.dir || '/' || a.path END, a.sha256, a.sha256"                          \
    " FROM collection_version_member m JOIN artifact a ON a.id = "             \
    "m.artifact_id"                                                            \
    " LEFT JOIN storage s ON s.id = a.storage_id"

static int neighbours(sc_registry *reg, const lnode *x, int down, lnode **v,
                      size_t *n)
{
    static const char *const sql[2][3] = {
        {/* up */
         RUN_NODE " WHERE io.ref = ?1 AND io.output = 1 ORDER BY r.id",
         IO_NODE " WHERE io.run_id = ?2 AND io.output = 0 ORDER BY io.ref",
         MEMBER_NODE " WHERE m.version_id = ?2 ORDER BY a.id"},
        {/* down */
         RUN_NODE " WHERE io.ref = ?1 AND io.output = 0 UNION ALL"
                  " SELECT 2, cv.id, c.name || '@' || cv.version,"
                  " %s, CAST(cv.id AS TEXT)"
                  " FROM collection_version_member m"
                  " JOIN collection_version cv ON cv.id = m.version_id"
                  " JOIN collection c ON c.id = cv.collection_id"
                  " JOIN artifact a ON a.id = m.artifact_id"
                  " WHERE a.sha256 = ?1 ORDER BY 1, 2",
         IO_NODE " WHERE io.run_id = ?2 AND io.output = 1 ORDER BY io.ref",
         RUN_NODE " WHERE io.kind = 2 AND io.version_id = ?2"
                  " AND io.output = 0 ORDER BY r.id"},
    };
    char epoch[128], buf[2048];
    const char *q;
    sc_rst *st;
    int rc;

    *v = NULL;
    *n = 0;
    switch (x->kind) {
    case SC_REG_NODE_ARTIFACT: q = sql[down][0]; break;
    case SC_REG_NODE_RUN: q = sql[down][1]; break;
    case SC_REG_NODE_VERSION: q = sql[down][2]; break;
    default: return 0;
    }
    if (down && x->kind == SC_REG_NODE_ARTIFACT) {
        /* the backend's spelling of a time */
        const char *at = strstr(q, "%s"), *e = strstr(reg->ops->epoch_text,
                                                       "%s");
        snprintf(epoch, sizeof epoch, "%.*scv.created%s",
                 (int)(e - reg->ops->epoch_text), reg->ops->epoch_text, e + 2);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - q), q, epoch, at + 2);
        q = buf;
    }
    if ((rc = prepare(reg, q, &st)) < 0)
        return rc;
    if (strstr(q, "?1"))
        st_text(st, 1, x->ref);
    if (strstr(q, "?2"))
        st_int(st, 2, x->id);
    rc = collect(reg, st, v, n);
    st_free(st);
    return rc;
}

static int seen_add(lwalk *w, int kind, int64_t id)
{
    for (size_t i = 0; i < w->n_seen; i++)
        if (w->seen[i].kind == kind && w->seen[i].id == id)
            return 1;
    if (w->n_seen == w->cap_seen) {
        size_t cap = w->cap_seen ? w->cap_seen * 2 : 32;
        struct seen *p = realloc(w->seen, cap * sizeof *p);
        if (!p)
            return sc_fail(SC_ENOMEM, "out of memory");
        w->seen = p;
        w->cap_seen = cap;
    }
    w->seen[w->n_seen].kind = kind;
    w->seen[w->n_seen++].id = id;
    return 0;
}

static int walk(lwalk *w, const lnode *x, int depth)
{
    lnode *v;
    size_t n;
    int rc;

    if (depth >= w->max_depth)
        return 0;
    if ((rc = neighbours(w->reg, x, w->down, &v, &n)) < 0) {
        lnodes_free(v, n);
        return rc;
    }
    for (size_t i = 0; i < n && rc == 0; i++) {
        sc_reg_node node = {v[i].kind, v[i].id, v[i].label, v[i].detail,
                            depth + 1, x->kind, x->id,      x->label};
        int seen = v[i].kind <= SC_REG_NODE_VERSION
                       ? seen_add(w, v[i].kind, v[i].id)
                       : 1;
        if (seen < 0) {
            rc = seen;
            break;
        }
        if ((rc = w->fn(&node, w->ud)) == 0 && !seen)
            rc = walk(w, &v[i], depth + 1);
    }
    lnodes_free(v, n);
    return rc;
}

int sc_registry_lineage(sc_registry *reg, int64_t id, int down, int max_depth,
                        int (*fn)(const sc_reg_node *n, void *ud), void *ud)
{
    sc_rst *st;
    lwalk w = {
        reg, down ? 1 : 0, max_depth > 0 ? max_depth : 64, fn, ud, NULL, 0, 0};
    lnode *start = NULL;
    size_t n = 0;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT 0, a.id, CASE WHEN s.dir IS NULL THEN a.path"
                      " ELSE s.dir || '/' || a.path END, a.sha256, "
                      "a.sha256" ARTIFACT_FROM " WHERE a.id = ?",
                      &st)) < 0)
        return rc;
    st_int(st, 1, id);
    rc = collect(reg, st, &start, &n);
    st_free(st);
    if (rc == 0 && n == 0)
        rc = sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, id);
    if (rc == 0) {
        sc_reg_node node = {0, id, start->label, start->detail, 0, -1, 0, NULL};
        if ((rc = seen_add(&w, 0, id)) == 0 && (rc = fn(&node, ud)) == 0)
            rc = walk(&w, start, 0);
    }
    lnodes_free(start, n);
    free(w.seen);
    return rc;
}

/* ---- collections ---- */

/* The id of collection NAME; LOCK: its row locked until the transaction
 * ends (PostgreSQL; SQLite's write transaction holds the whole file), so
 * that two writers freeze versions or edit members one after the other. */
static int collection_id(sc_registry *reg, const char *name, int lock,
                         int64_t *id)
{
    char sql[128];
    sc_rst *st;
    int rc;

    snprintf(sql, sizeof sql, "SELECT id FROM collection WHERE name = ?%s",
             lock ? reg->ops->for_update : "");
    if ((rc = prepare(reg, sql, &st)) < 0)
        return rc;
    st_text(st, 1, name);
    rc = step_int(reg, st, id);
    st_free(st);
    if (rc == 0)
        return sc_fail(SC_ENOTFOUND, "no collection '%s'", name);
    return rc < 0 ? rc : 0;
}

int sc_registry_collection_create(sc_registry *reg, const char *name,
                                  const char *description)
{
    sc_rst *st;
    int rc;

    if (!*name || strchr(name, '@') || strchr(name, '\t') || strchr(name, '\n'))
        return sc_fail(SC_EINVAL,
                       "bad collection name '%s' (no '@', tab or newline)",
                       name);
    if ((rc = prepare(reg,
                      "INSERT INTO collection(name, description, created)"
                      " VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                      &st)) < 0)
        return rc;
    st_text(st, 1, name);
    st_text(st, 2, description);
    st_int(st, 3, (int64_t)time(NULL));
    rc = step_done(reg, st, "collection");
    st_free(st);
    if (rc == 0 && reg->changes == 0)
        rc = sc_fail(SC_EEXIST, "collection '%s' exists", name);
    return rc;
}

int sc_registry_collection_edit(sc_registry *reg, const char *name, int remove,
                                const int64_t *ids, const double *weights,
                                size_t n, int64_t *changed)
{
    sc_rst *st = NULL;
    int64_t cid, ch = 0;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = collection_id(reg, name, 1, &cid)) < 0)
        goto out;
    rc = prepare(reg,
                 remove ? "DELETE FROM collection_member WHERE"
                          " collection_id = ?1 AND artifact_id = ?2"
                        : "INSERT INTO collection_member VALUES (?1, ?2, ?3)"
                          " ON CONFLICT(collection_id, artifact_id) DO UPDATE"
                          " SET weight = excluded.weight",
                 &st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        st_int(st, 1, cid);
        st_int(st, 2, ids[i]);
        if (!remove)
            st_double(st, 3, weights ? weights[i] : 1.0);
        if (st_step(st) != ST_DONE) {
            rc = reg->constraint
                     ? sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, ids[i])
                     : db_fail(reg, "collection members");
            break;
        }
        ch += reg->changes;
        st_reset(st);
    }
    st_free(st);
    st = NULL;
    if (rc == 0)
        rc = commit(reg);
out:
    if (rc < 0)
        rollback(reg);
    else if (changed)
        *changed = ch;
    return rc;
}

int sc_registry_collection_freeze(sc_registry *reg, const char *name,
                                  int64_t *version, int64_t *vid)
{
    sc_rst *st = NULL;
    int64_t cid, n = 0;
    int rc;

    *version = *vid = 0;
    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = collection_id(reg, name, 1, &cid)) < 0 ||
        (rc = prepare(reg,
                      "SELECT COUNT(*) FROM collection_member"
                      " WHERE collection_id = ?",
                      &st)) < 0)
        goto out;
    st_int(st, 1, cid);
    if ((rc = step_int(reg, st, &n)) < 0)
        goto out;
    st_free(st);
    st = NULL;
    if (n == 0) {
        rc = sc_fail(SC_EINVAL, "collection '%s' has no members to freeze",
                     name);
        goto out;
    }
    if ((rc = prepare(reg,
                      "INSERT INTO collection_version(collection_id, version,"
                      " created) SELECT ?1, COALESCE(MAX(version), 0) + 1, ?2"
                      " FROM collection_version WHERE collection_id = ?1"
                      " RETURNING id, version",
                      &st)) < 0)
        goto out;
    st_int(st, 1, cid);
    st_int(st, 2, (int64_t)time(NULL));
    if (st_step(st) != ST_ROW) {
        rc = db_fail(reg, "freeze");
        goto out;
    }
    *vid = st_col_int(st, 0);
    *version = st_col_int(st, 1);
    st_free(st);
    st = NULL;
    if ((rc = prepare(reg,
                      "INSERT INTO collection_version_member SELECT ?1,"
                      " m.artifact_id, a.n_obs, m.weight FROM"
                      " collection_member m JOIN artifact a"
                      " ON a.id = m.artifact_id WHERE m.collection_id = ?2"
                      " ORDER BY m.artifact_id",
                      &st)) < 0)
        goto out;
    st_int(st, 1, *vid);
    st_int(st, 2, cid);
    if ((rc = step_done(reg, st, "freeze")) < 0)
        goto out;
    st_free(st);
    st = NULL;
    rc = commit(reg);
out:
    st_free(st);
    if (rc < 0) {
        rollback(reg);
        *version = *vid = 0;
    }
    return rc;
}

int sc_registry_collection_version(sc_registry *reg, const char *ref,
                                   int64_t *vid)
{
    sc_rst *st;
    const char *at = strrchr(ref, '@');
    char *name;
    int64_t v = 0, cid;
    int rc, latest = !at || !strcmp(at + 1, "latest");

    *vid = 0;
    if (!(name = at ? strndup(ref, (size_t)(at - ref)) : strdup(ref)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!latest && (!at[1] || strspn(at + 1, "0123456789") != strlen(at + 1))) {
        free(name);
        return sc_fail(SC_EINVAL, "bad collection version '%s' (NAME@N)", ref);
    }
    if (!latest)
        v = strtoll(at + 1, NULL, 10);
    if ((rc = collection_id(reg, name, 0, &cid)) < 0) {
        free(name);
        return rc;
    }
    free(name);
    if ((rc = prepare(reg,
                      latest ? "SELECT id FROM collection_version WHERE"
                               " collection_id = ?1 ORDER BY version DESC"
                               " LIMIT 1"
                             : "SELECT id FROM collection_version WHERE"
                               " collection_id = ?1 AND version = ?2",
                      &st)) < 0)
        return rc;
    st_int(st, 1, cid);
    if (!latest)
        st_int(st, 2, v);
    rc = step_int(reg, st, vid);
    st_free(st);
    if (rc == 0)
        return sc_fail(SC_ENOTFOUND, "no version %s%s", ref,
                       latest ? " (not frozen yet)" : "");
    return rc < 0 ? rc : 0;
}

/* The sha256 of the LEN bytes at P into HEX. */
static int hash_bytes(const char *p, size_t len, char hex[65])
{
    sc_hash *h = NULL;
    int rc;

    if ((rc = sc_hash_new(&h)) == 0 && (rc = sc_hash_update(h, p, len)) == 0)
        rc = sc_hash_final(h, hex);
    sc_hash_free(h);
    return rc;
}

int sc_registry_split_set(sc_registry *reg, int64_t vid, const char *content,
                          size_t len, char sha256[65])
{
    char *had = NULL, had_sha[65];
    size_t had_len;
    sc_rst *st = NULL;
    int rc;

    if (memchr(content, '\0', len))
        return sc_fail(SC_EINVAL, "a split file is text: it has a NUL byte");
    if ((rc = hash_bytes(content, len, sha256)) < 0 || (rc = begin(reg)) < 0)
        return rc;
    if ((rc = sc_registry_split_get(reg, vid, &had, &had_len, had_sha)) < 0)
        goto out;
    if (had) {
        if (strcmp(had_sha, sha256))
            rc = sc_fail(SC_EEXIST,
                         "the collection version has a split already (sha256 "
                         "%.12s...), and versions do not change",
                         had_sha);
        goto out;
    }
    if ((rc = prepare(reg,
                      "INSERT INTO collection_version_split(version_id,"
                      " sha256, size, content, created) VALUES (?, ?, ?, ?, ?)",
                      &st)) < 0)
        goto out;
    st_int(st, 1, vid);
    st_text(st, 2, sha256);
    st_int(st, 3, (int64_t)len);
    st_text(st, 4, content);
    st_int(st, 5, (int64_t)time(NULL));
    if ((rc = step_done(reg, st, "store the split")) == 0)
        rc = commit(reg);
out:
    st_free(st);
    free(had);
    if (rc < 0)
        rollback(reg);
    else if (reg->in_tx)
        rc = commit(reg);
    return rc;
}

int sc_registry_split_get(sc_registry *reg, int64_t vid, char **content,
                          size_t *len, char sha256[65])
{
    char got[65];
    sc_rst *st;
    int rc, s;

    *content = NULL;
    *len = 0;
    sha256[0] = '\0';
    if ((rc = prepare(reg,
                      "SELECT sha256, content FROM collection_version_split"
                      " WHERE version_id = ?",
                      &st)) < 0)
        return rc;
    st_int(st, 1, vid);
    if ((s = st_step(st)) == ST_ROW) {
        snprintf(sha256, 65, "%s", st_col_text(st, 0));
        if (!(*content = strdup(st_col_text(st, 1))))
            rc = sc_fail(SC_ENOMEM, "out of memory");
    }
    rc = step_end(reg, st, rc, s);
    if (rc == 0 && *content) {
        *len = strlen(*content);
        if ((rc = hash_bytes(*content, *len, got)) == 0 && strcmp(got, sha256))
            rc = sc_fail(SC_EREGISTRY,
                         "registry '%s': the stored split file does not match "
                         "its sha256",
                         reg->path);
    }
    if (rc < 0) {
        free(*content);
        *content = NULL;
        *len = 0;
    }
    return rc;
}

int sc_registry_collection_members(sc_registry *reg, int64_t vid,
                                   sc_reg_artifact_fn fn, void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT " ARTIFACT_COLS ", m.n_obs, m.weight"
                      " FROM collection_version_member m"
                      " JOIN artifact a ON a.id = m.artifact_id"
                      " LEFT JOIN storage s ON s.id = a.storage_id"
                      " WHERE m.version_id = ? ORDER BY a.id",
                      &st)) < 0)
        return rc;
    st_int(st, 1, vid);
    rc = each_artifact(reg, st, 3, fn, ud, NULL);
    st_free(st);
    return rc;
}

int sc_registry_collection_draft(sc_registry *reg, const char *name,
                                 sc_reg_artifact_fn fn, void *ud)
{
    sc_rst *st;
    int64_t cid;
    int rc;

    if ((rc = collection_id(reg, name, 0, &cid)) < 0 ||
        (rc = prepare(reg,
                      "SELECT " ARTIFACT_COLS ", a.n_obs, m.weight"
                      " FROM collection_member m"
                      " JOIN artifact a ON a.id = m.artifact_id"
                      " LEFT JOIN storage s ON s.id = a.storage_id"
                      " WHERE m.collection_id = ? ORDER BY a.id",
                      &st)) < 0)
        return rc;
    st_int(st, 1, cid);
    rc = each_artifact(reg, st, 3, fn, ud, NULL);
    st_free(st);
    return rc;
}

int sc_registry_collections(sc_registry *reg,
                            int (*fn)(const char *name, int64_t versions,
                                      int64_t members, const char *description,
                                      void *ud),
                            void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT c.name, (SELECT COUNT(*) FROM"
                      " collection_version v WHERE v.collection_id = c.id),"
                      " (SELECT COUNT(*) FROM collection_member m WHERE"
                      " m.collection_id = c.id), c.description"
                      " FROM collection c ORDER BY c.name",
                      &st)) < 0)
        return rc;
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_text(st, 0), st_col_int(st, 1),
                st_col_int(st, 2), st_col_text(st, 3), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

/* ---- verify ---- */

int sc_registry_files(sc_registry *reg,
                      int (*fn)(int64_t id, const char *path,
                                const char *sha256, int64_t size, int64_t mtime,
                                void *ud),
                      void *ud)
{
    sc_rst *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT a.id, CASE WHEN s.dir IS NULL THEN a.path"
                      " ELSE s.dir || '/' || a.path END AS p, a.sha256,"
                      " a.size, a.mtime" ARTIFACT_FROM
                      " WHERE NOT EXISTS (SELECT 1 FROM artifact b"
                      " WHERE b.previous_id = a.id) ORDER BY p",
                      &st)) < 0)
        return rc;
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_int(st, 0), st_col_text(st, 1), st_col_text(st, 2),
                st_col_int(st, 3), st_col_int(st, 4), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

int sc_registry_has_path(sc_registry *reg, const char *path, int *found)
{
    int64_t id = 0;
    int rc = sc_registry_resolve(reg, path, &id);

    *found = rc == 0;
    if (rc == SC_ENOTFOUND) {
        sc_err_clear();
        return 0;
    }
    return rc;
}

int sc_registry_check(sc_registry *reg, int *ok)
{
    *ok = 0;
    return reg->ops->check(reg, ok) < 0 ? db_fail(reg, "consistency check")
                                        : 0;
}

/* ---- copying a registry (migrate) ---- */

/* The tables in an order that respects their references, with their
 * columns, each's type ('i' integer, 'd' double, 't' text), the order of
 * the rows (the primary key) and whether ids come from a sequence. The
 * members of a frozen collection version are copied right after their
 * version (SQLite's trigger lets only the newest version gain members). */
static const struct copy_table {
    const char *name, *cols, *types, *order;
    int has_id;
} copy_tables[] = {
    {"meta", "key, value", "tt", "key", 0},
    {"storage", "id, dir", "it", "id", 1},
    {"geneset", "id, key, n_genes", "iti", "id", 1},
    {"geneset_gene", "geneset_id, gene", "it", "geneset_id, gene", 0},
    {"artifact",
     "id, sha256, size, mtime, format, n_obs, n_vars, organism, assay,"
     " schema_version, storage_id, path, geneset_id, created, version,"
     " previous_id",
     "itiitiitttititii", "id", 1},
    {"artifact_term", "artifact_id, field, term, label, n_cells", "ittti",
     "artifact_id, field, term", 0},
    {"transform", "id, name, version", "itt", "id", 1},
    {"run", "id, transform_id, key, arguments, host, started, finished, status",
     "iitttttt", "id", 1},
    {"collection", "id, name, description, created", "itti", "id", 1},
    {"collection_member", "collection_id, artifact_id, weight", "iid",
     "collection_id, artifact_id", 0},
    {"collection_version", "id, collection_id, version, created", "iiii", "id",
     1},
    {"collection_version_member", "version_id, artifact_id, n_obs, weight",
     "iiid", "version_id, artifact_id", 0},
    {"run_io", "run_id, output, kind, ref, version_id", "iiiti",
     "run_id, output, ref", 0},
    {"collection_version_split", "version_id, sha256, size, content, created",
     "ititi", "version_id", 0},
};
enum { N_COPY_TABLES = sizeof copy_tables / sizeof *copy_tables };
#define CVM_TABLE 11 /* collection_version_member: copied with its version */

/* A value read for a copy. */
typedef struct cval {
    int null;
    int64_t i;
    double d;
    char *s;
} cval;

/* Column I of the row of S (in REG) into V. */
static int read_value(sc_registry *reg, sc_rst *s, int i, char type, cval *v)
{
    free(v->s);
    memset(v, 0, sizeof *v);
    if ((v->null = reg->ops->col_null(s, i)))
        return 0;
    if (type == 'd')
        v->d = st_col_double(s, i);
    else if (type == 't') {
        if (!(v->s = strdup(st_col_text(s, i))))
            return sc_fail(SC_ENOMEM, "out of memory");
    } else
        v->i = st_col_int(s, i);
    return 0;
}

/* Insert N rows of values V into table T of REG with one statement (a
 * round trip per row would make a large copy to a server slow). */
static int insert_rows(sc_registry *reg, const struct copy_table *t,
                       const cval *v, int n)
{
    int nc = (int)strlen(t->types), rc;
    size_t cap = strlen(t->cols) + 128 + (size_t)n * (size_t)(nc * 3 + 4);
    char *sql = malloc(cap), *o;
    sc_rst *st;

    if (!sql)
        return sc_fail(SC_ENOMEM, "out of memory");
    o = sql + sprintf(sql, "INSERT INTO %s(%s) VALUES ", t->name, t->cols);
    for (int r = 0; r < n; r++)
        for (int i = 0; i < nc; i++)
            o += sprintf(o, "%s%s%s", i ? "" : r ? ", (" : "(", i ? ", ?" : "?",
                         i == nc - 1 ? ")" : "");
    /* meta: the destination's creation wrote the same keys */
    if (!strcmp(t->name, "meta"))
        strcpy(o, " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    rc = prepare(reg, sql, &st);
    free(sql);
    if (rc < 0)
        return rc;
    for (int k = 0; k < n * nc; k++) {
        char type = t->types[k % nc];
        if (v[k].null)
            st_text(st, k + 1, NULL);
        else if (type == 'd')
            st_double(st, k + 1, v[k].d);
        else if (type == 't')
            st_text(st, k + 1, v[k].s);
        else
            st_int(st, k + 1, v[k].i);
    }
    rc = step_done(reg, st, t->name);
    st_free(st);
    return rc;
}

/* One value of a row as the check's text: NULL as "\N", numbers in one
 * spelling on every backend, text with its length first. */
static int hash_value(sc_registry *reg, sc_rst *s, int i, char type,
                      sc_hash *h)
{
    char buf[64];
    const char *t = NULL;
    int n;

    if (reg->ops->col_null(s, i))
        n = snprintf(buf, sizeof buf, "\\N\t");
    else if (type == 'd')
        n = snprintf(buf, sizeof buf, "%.17g\t", st_col_double(s, i));
    else if (type == 't') {
        t = st_col_text(s, i);
        n = snprintf(buf, sizeof buf, "%zu:", strlen(t));
    } else
        n = snprintf(buf, sizeof buf, "%" PRId64 "\t", st_col_int(s, i));
    if (sc_hash_update(h, buf, (size_t)n) < 0 ||
        (t && (sc_hash_update(h, t, strlen(t)) < 0 ||
               sc_hash_update(h, "\t", 1) < 0)))
        return SC_EUNSUP;
    return 0;
}

/* The rows of table T in REG, in key order: their number and the sha256 of
 * their values (hash_value), into SUM. */
static int table_sum(sc_registry *reg, const struct copy_table *t,
                     sc_reg_table_sum *sum)
{
    char sql[512];
    sc_hash *h = NULL;
    sc_rst *st;
    int rc, s = ST_ROW, nc = (int)strlen(t->types);

    snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", t->cols,
             t->name, t->order);
    sum->table = t->name;
    sum->rows = 0;
    if ((rc = sc_hash_new(&h)) < 0)
        return rc;
    if ((rc = prepare(reg, sql, &st)) < 0) {
        sc_hash_free(h);
        return rc;
    }
    while (rc == 0 && (s = st_step(st)) == ST_ROW) {
        sum->rows++;
        for (int i = 0; rc == 0 && i < nc; i++)
            rc = hash_value(reg, st, i, t->types[i], h);
        if (rc == 0)
            rc = sc_hash_update(h, "\n", 1);
    }
    rc = step_end(reg, st, rc, s);
    if (rc == 0)
        rc = sc_hash_final(h, sum->sha256);
    sc_hash_free(h);
    return rc;
}

/* Copy the rows of table T from REG to DST, many per statement; WHERE
 * (may be NULL) selects some, bound to KEY. A collection version's members
 * follow it. */
static int copy_rows(sc_registry *reg, sc_registry *dst,
                     const struct copy_table *t, const char *where,
                     int64_t key, int64_t *n_rows)
{
    int nc = (int)strlen(t->types), is_cv = t == &copy_tables[CVM_TABLE - 1];
    int batch = is_cv ? 1 : 60 / nc, n = 0, rc = 0, step = ST_ROW;
    cval *v = calloc((size_t)(batch * nc), sizeof *v);
    char sql[768];
    sc_rst *s = NULL;

    if (!v)
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(sql, sizeof sql, "SELECT %s FROM %s%s ORDER BY %s", t->cols,
             t->name, where ? where : "", t->order);
    if ((rc = prepare(reg, sql, &s)) == 0) {
        if (where)
            st_int(s, 1, key);
        while (rc == 0 && (step = st_step(s)) == ST_ROW) {
            for (int i = 0; rc == 0 && i < nc; i++)
                rc = read_value(reg, s, i, t->types[i], &v[n * nc + i]);
            if (rc == 0 && ++n == batch) {
                rc = insert_rows(dst, t, v, n);
                *n_rows += n;
                n = 0;
            }
            if (rc == 0 && is_cv)
                rc = copy_rows(reg, dst, &copy_tables[CVM_TABLE],
                               " WHERE version_id = ?", st_col_int(s, 0),
                               n_rows);
        }
        if (rc == 0 && n > 0 && (step == ST_DONE || step == ST_ROW)) {
            rc = insert_rows(dst, t, v, n);
            *n_rows += n;
        }
        rc = step_end(reg, s, rc, step);
    }
    for (int k = 0; k < batch * nc; k++)
        free(v[k].s);
    free(v);
    return rc;
}

/* After a copy: the next id of TABLE follows its largest. */
static int reset_ids(sc_registry *reg, const char *table)
{
    char sql[128];
    int64_t max = 0;
    sc_rst *st;
    int rc;

    snprintf(sql, sizeof sql, "SELECT COALESCE(MAX(id), 0) FROM %s", table);
    if ((rc = prepare(reg, sql, &st)) < 0)
        return rc;
    rc = step_int(reg, st, &max);
    st_free(st);
    if (rc < 0 || (rc = prepare(reg, reg->ops->reset_ids, &st)) < 0)
        return rc;
    st_text(st, 1, table);
    st_int(st, 2, max + 1);
    rc = step_done(reg, st, "reset ids");
    st_free(st);
    return rc;
}

int sc_registry_copy(sc_registry *src, sc_registry *dst,
                     sc_reg_table_sum sums[SC_REG_N_TABLES])
{
    sc_reg_table_sum got;
    int rc;

    if (N_COPY_TABLES != SC_REG_N_TABLES)
        return sc_fail(SC_EINVAL, "copy: table list out of date");
    /* the destination is empty: only meta has rows */
    for (int i = 1; i < N_COPY_TABLES; i++) {
        if ((rc = table_sum(dst, &copy_tables[i], &got)) < 0)
            return rc;
        if (got.rows)
            return sc_fail(SC_EEXIST,
                           "registry '%s' is not empty (table %s): migrate "
                           "copies into a new registry",
                           dst->path, got.table);
    }
    /* one snapshot of the source, one transaction on the destination */
    if ((rc = exec(src, src->ops->begin_snapshot)) < 0)
        return rc;
    src->in_tx = 1;
    if ((rc = begin(dst)) < 0)
        goto done;
    for (int i = 0; rc == 0 && i < N_COPY_TABLES; i++) {
        int64_t n = 0;
        if (i != CVM_TABLE)
            rc = copy_rows(src, dst, &copy_tables[i], NULL, 0, &n);
        if (rc == 0)
            rc = table_sum(src, &copy_tables[i], &sums[i]);
        if (rc == 0 && copy_tables[i].has_id && dst->ops->reset_ids)
            rc = reset_ids(dst, copy_tables[i].name);
    }
    if (rc == 0)
        rc = commit(dst);
    if (rc < 0)
        rollback(dst);
done:
    rollback(src);
    if (rc < 0)
        return rc;
    /* the check: what the destination holds now, table by table */
    for (int i = 0; i < N_COPY_TABLES; i++) {
        if ((rc = table_sum(dst, &copy_tables[i], &got)) < 0)
            return rc;
        sums[i].same =
            got.rows == sums[i].rows && !strcmp(got.sha256, sums[i].sha256);
        if (!sums[i].same)
            rc = SC_EREGISTRY;
    }
    if (rc < 0)
        return sc_fail(rc, "registry '%s': the copy differs from '%s'",
                       dst->path, src->path);
    return 0;
}
