/* sc_registry: the dataset registry; the SQL common to its backends is here
 * and in sc_registry_add.c (registering, artifacts), sc_registry_query.c
 * (queries, counts), sc_registry_lineage.c (runs, lineage),
 * sc_registry_coll.c (collections, splits) and sc_registry_copy.c
 * (migrate); what differs is in sc_registry_sqlite.c and sc_registry_pg.c.
 * This file: statements, transactions, opening and the schema, storage
 * roots, verify. */
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
#include "sc_objstore.h"
#include "sc_registry_int.h"

/* ---- errors and statements ---- */

int rg_db_fail(sc_registry *reg, const char *what)
{
    if (reg->readonly)
        return sc_fail(SC_EREGISTRY,
                       "registry '%s' is read-only here (no right to write: "
                       "a read-only role?): %s",
                       reg->path, reg->err);
    return sc_fail(SC_EREGISTRY, "registry '%s': %s: %s", reg->path, what,
                   reg->err);
}

int rg_prepare(sc_registry *reg, const char *sql, sc_rst **st)
{
    if (reg->ops->prepare(reg, sql, st) < 0) {
        *st = NULL;
        return rg_db_fail(reg, "prepare");
    }
    return 0;
}

int rg_exec(sc_registry *reg, const char *sql)
{
    if (reg->ops->exec(reg, sql) < 0)
        return rg_db_fail(reg, "exec");
    return 0;
}

/* Step ST to its end (a write); 0 or the error. */
int rg_step_done(sc_registry *reg, sc_rst *st, const char *what)
{
    int rc = st_step(st);

    if (rc != ST_DONE && rc != ST_ROW)
        return rg_db_fail(reg, what);
    return 0;
}

/* One int64 from the first row of ST: 1 with *V, 0 without a row. */
int rg_step_int(sc_registry *reg, sc_rst *st, int64_t *v)
{
    int rc = st_step(st);

    if (rc == ST_ROW) {
        *v = st_col_int(st, 0);
        return 1;
    }
    if (rc == ST_DONE)
        return 0;
    return rg_db_fail(reg, "query");
}

/* Finish a loop of callbacks over ST: RC is the callback's non-zero
 * return (kept), else the last step's result S (an error unless done).
 * Finalizes ST. */
int rg_step_end(sc_registry *reg, sc_rst *st, int rc, int s)
{
    if (rc == 0 && s != ST_DONE && s != ST_ROW)
        rc = rg_db_fail(reg, "query");
    st_free(st);
    return rc;
}

/* ---- transactions ---- */

void rg_backoff(int attempt)
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
        int rc = rg_exec(reg, sql);
        if (rc == 0 || !reg->busy || i >= 50)
            return rc;
        rg_backoff(i);
    }
}

/* A write transaction: SQLite's BEGIN IMMEDIATE takes the write lock up
 * front, so that two writers never both read and then deadlock upgrading;
 * PostgreSQL's locks rows and keys as the statements reach them. */
int rg_begin(sc_registry *reg)
{
    int rc = exec_retry(reg, reg->ops->begin_write);
    reg->in_tx = rc == 0;
    return rc;
}

int rg_commit(sc_registry *reg)
{
    int rc = exec_retry(reg, "COMMIT");
    if (rc == 0)
        reg->in_tx = 0;
    return rc;
}

void rg_rollback(sc_registry *reg)
{
    if (reg->in_tx) {
        reg->ops->exec(reg, "ROLLBACK");
        reg->in_tx = 0;
    }
}

/* ---- open, schema, migrations ---- */

int rg_migrate(sc_registry *reg, int from)
{
    sc_rst *st = NULL;
    char v[16];
    int rc;

    for (int i = from; i < SC_REGISTRY_SCHEMA; i++)
        if ((rc = rg_exec(reg, reg->ops->migrations[i])) < 0)
            return sc_fail_ctx(rc, "migrating to schema %d", i + 1);
    if (reg->ops->set_schema(reg, SC_REGISTRY_SCHEMA) < 0)
        return rg_db_fail(reg, "record the schema version");
    if ((rc = rg_prepare(
             reg,
             "INSERT INTO meta VALUES"
             " ('schema_version', ?), ('created_by', ?)"
             " ON CONFLICT(key) DO UPDATE SET value = excluded.value",
             &st)) < 0)
        return rc;
    snprintf(v, sizeof v, "%d", SC_REGISTRY_SCHEMA);
    st_text(st, 1, v);
    st_text(st, 2, "sc_registry");
    rc = rg_step_done(reg, st, "record the schema version");
    st_free(st);
    return rc;
}

static int check_schema(sc_registry *reg, unsigned flags)
{
    int v, rc;

    if (reg->ops->get_schema(reg, &v) < 0)
        return rg_db_fail(reg, "schema version");
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
        if ((rc = rg_begin(reg)) < 0)
            return rc;
        if ((rc = reg->ops->get_schema(reg, &v)) < 0)
            rc = rg_db_fail(reg, "schema version");
        else if (v < SC_REGISTRY_SCHEMA)
            rc = rg_migrate(reg, v);
        if (rc == 0)
            rc = rg_commit(reg);
        if (rc < 0) {
            rg_rollback(reg);
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
        !(reg->path =
              sc_registry_is_pg(path) ? hide_password(path) : strdup(path))) {
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
    rg_rollback(reg);
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
int rg_abs_path(const char *path, char **out)
{
    char *copy = strdup(path), *slash, *dir;
    const char *base;
    char real[PATH_MAX];

    *out = NULL;
    if (!copy)
        return sc_fail(SC_ENOMEM, "out of memory");
    if (sc_obj_is_remote(path)) { /* an object's location is kept as given */
        *out = copy;
        return 0;
    }
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
int rg_split_root(sc_registry *reg, const char *abs, int64_t *root,
                  const char **rel)
{
    sc_rst *st;
    size_t best = 0;
    int rc;

    *root = 0;
    *rel = abs;
    if (sc_obj_is_remote(abs)) /* storage roots are local directories */
        return 0;
    if ((rc = rg_prepare(reg, "SELECT id, dir FROM storage", &st)) < 0)
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
    rc = rc == ST_DONE ? 0 : rg_db_fail(reg, "storage roots");
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
    rc = rg_prepare(
        reg,
        id ? "UPDATE storage SET dir = ?1 WHERE id = ?2"
           : "INSERT INTO storage(dir) VALUES (?1) ON CONFLICT DO NOTHING",
        &st);
    if (rc == 0) {
        st_text(st, 1, abs);
        if (id)
            st_int(st, 2, id);
        rc = rg_step_done(reg, st, "storage root");
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

    if ((rc = rg_prepare(reg, "SELECT id, dir FROM storage ORDER BY id", &st)) <
        0)
        return rc;
    int s = ST_ROW;
    rc = 0;
    while (rc == 0 && (s = st_step(st)) == ST_ROW)
        rc = fn(st_col_int(st, 0), st_col_text(st, 1), ud);
    rc = rg_step_end(reg, st, rc, s);
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

    if ((rc = rg_prepare(reg,
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
    rc = rg_step_end(reg, st, rc, s);
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
    return reg->ops->check(reg, ok) < 0 ? rg_db_fail(reg, "consistency check")
                                        : 0;
}
