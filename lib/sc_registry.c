/* sc_registry: the dataset registry on SQLite; all of its SQL is here. */
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

#include <sqlite3.h>

#include "sc_hash.h"

struct sc_registry {
    sqlite3 *db;
    char *path;
    int schema;
    int busy; /* the last failure was SQLITE_BUSY/LOCKED: retry */
};

/* Migrations: MIGRATIONS[v] takes a registry from schema v to v + 1; the
 * first creates it. Append only: never edit a released step. */
static const char *const migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE storage(id INTEGER PRIMARY KEY, dir TEXT NOT NULL UNIQUE);"
    "CREATE TABLE geneset(id INTEGER PRIMARY KEY,"
    " key TEXT NOT NULL UNIQUE, n_genes INTEGER NOT NULL);"
    "CREATE TABLE geneset_gene(geneset_id INTEGER NOT NULL"
    " REFERENCES geneset(id), gene TEXT NOT NULL,"
    " PRIMARY KEY(geneset_id, gene)) WITHOUT ROWID;"
    "CREATE INDEX geneset_gene_gene ON geneset_gene(gene, geneset_id);"
    "CREATE TABLE artifact(id INTEGER PRIMARY KEY,"
    " sha256 TEXT NOT NULL UNIQUE CHECK(length(sha256) = 64),"
    " size INTEGER NOT NULL, mtime INTEGER NOT NULL DEFAULT 0,"
    " format TEXT NOT NULL, n_obs INTEGER, n_vars INTEGER,"
    " organism TEXT, assay TEXT, schema_version TEXT,"
    " storage_id INTEGER REFERENCES storage(id), path TEXT NOT NULL,"
    " geneset_id INTEGER REFERENCES geneset(id),"
    " created INTEGER NOT NULL, version INTEGER NOT NULL,"
    " previous_id INTEGER UNIQUE REFERENCES artifact(id));"
    "CREATE INDEX artifact_path ON artifact(path, storage_id);"
    "CREATE INDEX artifact_created ON artifact(created);"
    "CREATE TABLE artifact_term(artifact_id INTEGER NOT NULL"
    " REFERENCES artifact(id), field TEXT NOT NULL, term TEXT NOT NULL,"
    " label TEXT, n_cells INTEGER NOT NULL,"
    " PRIMARY KEY(artifact_id, field, term)) WITHOUT ROWID;"
    /* covering: a term query never visits the table */
    "CREATE INDEX artifact_term_term ON artifact_term(field, term, n_cells);"
    "CREATE TABLE transform(id INTEGER PRIMARY KEY, name TEXT NOT NULL,"
    " version TEXT NOT NULL, UNIQUE(name, version));"
    "CREATE TABLE run(id INTEGER PRIMARY KEY, transform_id INTEGER NOT NULL"
    " REFERENCES transform(id), key TEXT UNIQUE, arguments TEXT, host TEXT,"
    " started TEXT, finished TEXT, status TEXT NOT NULL);"
    /* kind: 0 an artifact by sha256, 1 a URI, 2 a collection version */
    "CREATE TABLE run_io(run_id INTEGER NOT NULL REFERENCES run(id),"
    " output INTEGER NOT NULL, kind INTEGER NOT NULL, ref TEXT NOT NULL,"
    " version_id INTEGER REFERENCES collection_version(id),"
    " PRIMARY KEY(run_id, output, ref)) WITHOUT ROWID;"
    "CREATE INDEX run_io_ref ON run_io(ref, output);"
    "CREATE TABLE collection(id INTEGER PRIMARY KEY, name TEXT NOT NULL"
    " UNIQUE, description TEXT, created INTEGER NOT NULL);"
    "CREATE TABLE collection_member(collection_id INTEGER NOT NULL"
    " REFERENCES collection(id), artifact_id INTEGER NOT NULL"
    " REFERENCES artifact(id), weight REAL NOT NULL DEFAULT 1,"
    " PRIMARY KEY(collection_id, artifact_id)) WITHOUT ROWID;"
    "CREATE TABLE collection_version(id INTEGER PRIMARY KEY,"
    " collection_id INTEGER NOT NULL REFERENCES collection(id),"
    " version INTEGER NOT NULL, created INTEGER NOT NULL,"
    " UNIQUE(collection_id, version));"
    "CREATE TABLE collection_version_member(version_id INTEGER NOT NULL"
    " REFERENCES collection_version(id), artifact_id INTEGER NOT NULL"
    " REFERENCES artifact(id), n_obs INTEGER, weight REAL NOT NULL,"
    " PRIMARY KEY(version_id, artifact_id)) WITHOUT ROWID;"
    "CREATE INDEX cvm_artifact ON collection_version_member(artifact_id);"
    "CREATE TRIGGER cv_frozen_u BEFORE UPDATE ON collection_version"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;"
    "CREATE TRIGGER cv_frozen_d BEFORE DELETE ON collection_version"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;"
    "CREATE TRIGGER cvm_frozen_u BEFORE UPDATE ON collection_version_member"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;"
    "CREATE TRIGGER cvm_frozen_d BEFORE DELETE ON collection_version_member"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;"
    "CREATE TRIGGER cvm_frozen_i BEFORE INSERT ON collection_version_member"
    " WHEN EXISTS(SELECT 1 FROM collection_version_member"
    "  WHERE version_id = NEW.version_id)"
    " AND NEW.version_id <> (SELECT MAX(id) FROM collection_version)"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;",
};

/* ---- errors and statements ---- */

static int db_fail(sc_registry *reg, const char *what)
{
    int code = sqlite3_errcode(reg->db);

    reg->busy = (code & 0xff) == SQLITE_BUSY || (code & 0xff) == SQLITE_LOCKED;
    return sc_fail(SC_EREGISTRY, "registry '%s': %s: %s", reg->path, what,
                   sqlite3_errmsg(reg->db));
}

static int prepare(sc_registry *reg, const char *sql, sqlite3_stmt **st)
{
    if (sqlite3_prepare_v2(reg->db, sql, -1, st, NULL) != SQLITE_OK) {
        *st = NULL;
        return db_fail(reg, "prepare");
    }
    return 0;
}

static int exec(sc_registry *reg, const char *sql)
{
    if (sqlite3_exec(reg->db, sql, NULL, NULL, NULL) != SQLITE_OK)
        return db_fail(reg, "exec");
    return 0;
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

static const char *col_text(sqlite3_stmt *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st, i);
    return s ? s : "";
}

/* Step ST to its end (a write); 0 or the error. */
static int step_done(sc_registry *reg, sqlite3_stmt *st, const char *what)
{
    int rc = sqlite3_step(st);

    if (rc != SQLITE_DONE && rc != SQLITE_ROW)
        return db_fail(reg, what);
    return 0;
}

/* One int64 from the first row of ST: 1 with *V, 0 without a row. */
static int step_int(sc_registry *reg, sqlite3_stmt *st, int64_t *v)
{
    int rc = sqlite3_step(st);

    if (rc == SQLITE_ROW) {
        *v = sqlite3_column_int64(st, 0);
        return 1;
    }
    if (rc == SQLITE_DONE)
        return 0;
    return db_fail(reg, "query");
}

/* Finish a loop of callbacks over ST: RC is the callback's non-zero
 * return (kept), else the last step's result S (an error unless done).
 * Finalizes ST. */
static int step_end(sc_registry *reg, sqlite3_stmt *st, int rc, int s)
{
    if (rc == 0 && s != SQLITE_DONE && s != SQLITE_ROW)
        rc = db_fail(reg, "query");
    sqlite3_finalize(st);
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

/* Run SQL, retrying while the database is busy past the busy timeout. */
static int exec_retry(sc_registry *reg, const char *sql)
{
    for (int i = 0;; i++) {
        int rc = exec(reg, sql);
        if (rc == 0 || !reg->busy || i >= 50)
            return rc;
        backoff(i);
    }
}

/* BEGIN IMMEDIATE takes the write lock up front, so that two writers never
 * both read and then deadlock upgrading. */
static int begin(sc_registry *reg)
{
    return exec_retry(reg, "BEGIN IMMEDIATE");
}

static int commit(sc_registry *reg)
{
    return exec_retry(reg, "COMMIT");
}

static void rollback(sc_registry *reg)
{
    if (!sqlite3_get_autocommit(reg->db))
        sqlite3_exec(reg->db, "ROLLBACK", NULL, NULL, NULL);
}

/* ---- open, schema, migrations ---- */

static int get_user_version(sc_registry *reg, int *v)
{
    sqlite3_stmt *st;
    int64_t x = 0;
    int rc;

    if ((rc = prepare(reg, "PRAGMA user_version", &st)) < 0)
        return rc;
    rc = step_int(reg, st, &x);
    sqlite3_finalize(st);
    *v = (int)x;
    return rc < 0 ? rc : 0;
}

static int migrate(sc_registry *reg, int from)
{
    char sql[64];
    sqlite3_stmt *st = NULL;
    int rc;

    for (int v = from; v < SC_REGISTRY_SCHEMA; v++)
        if ((rc = exec(reg, migrations[v])) < 0)
            return sc_fail_ctx(rc, "migrating to schema %d", v + 1);
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", SC_REGISTRY_SCHEMA);
    if ((rc = exec(reg, sql)) < 0)
        return rc;
    if ((rc = prepare(reg,
                      "INSERT OR REPLACE INTO meta VALUES"
                      " ('schema_version', ?), ('created_by', ?)",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int(st, 1, SC_REGISTRY_SCHEMA);
    sqlite3_bind_text(st, 2, "sc_registry", -1, SQLITE_STATIC);
    rc = step_done(reg, st, "record the schema version");
    sqlite3_finalize(st);
    return rc;
}

static int check_schema(sc_registry *reg, unsigned flags)
{
    int v, rc;

    if ((rc = get_user_version(reg, &v)) < 0)
        return rc;
    if (v > SC_REGISTRY_SCHEMA)
        return sc_fail(SC_EUNSUP,
                       "registry '%s' has schema %d, newer than this "
                       "program's %d",
                       reg->path, v, SC_REGISTRY_SCHEMA);
    if (v < SC_REGISTRY_SCHEMA) {
        if (flags & SC_REGISTRY_READONLY)
            return sc_fail(SC_EUNSUP,
                           "registry '%s' has schema %d and needs a "
                           "migration to %d (open it for writing)",
                           reg->path, v, SC_REGISTRY_SCHEMA);
        if (v == 0 && !(flags & SC_REGISTRY_CREATE))
            return sc_fail(SC_ENOTFOUND, "'%s' is not a registry", reg->path);
        /* one migrator at a time; whoever comes second sees it done */
        if ((rc = begin(reg)) < 0)
            return rc;
        if ((rc = get_user_version(reg, &v)) == 0 && v < SC_REGISTRY_SCHEMA)
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

int sc_registry_open(const char *path, unsigned flags, sc_registry **out)
{
    sc_registry *reg;
    struct stat sb;
    int rc, oflags;

    *out = NULL;
    if (!strncmp(path, "sqlite:", 7))
        path += 7;
    if (strstr(path, "://"))
        return sc_fail(SC_EUNSUP,
                       "registry '%s': only SQLite files are "
                       "supported so far",
                       path);
    if (!(flags & SC_REGISTRY_CREATE) && stat(path, &sb) != 0)
        return sc_fail(SC_ENOTFOUND,
                       "no registry at '%s' (sc-register init makes one)",
                       path);
    if (!(reg = calloc(1, sizeof *reg)) || !(reg->path = strdup(path))) {
        free(reg);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    oflags = (flags & SC_REGISTRY_READONLY)
                 ? SQLITE_OPEN_READONLY
                 : SQLITE_OPEN_READWRITE |
                       (flags & SC_REGISTRY_CREATE ? SQLITE_OPEN_CREATE : 0);
    rc = sqlite3_open_v2(path, &reg->db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = sc_fail(SC_EREGISTRY, "cannot open registry '%s': %s", path,
                     reg->db ? sqlite3_errmsg(reg->db) : sqlite3_errstr(rc));
        goto fail;
    }
    sqlite3_busy_timeout(reg->db, 10000);
    sqlite3_extended_result_codes(reg->db, 1);
    /* reads map the file instead of copying pages */
    if ((rc = exec(reg, "PRAGMA foreign_keys = ON")) < 0 ||
        (rc = exec(reg, "PRAGMA mmap_size = 1073741824")) < 0)
        goto fail;
    if (!(flags & SC_REGISTRY_READONLY)) {
        /* WAL: readers never block the writer; NORMAL sync is durable
         * against a killed process (only power loss can undo a commit) */
        if ((rc = exec_retry(reg, "PRAGMA journal_mode = WAL")) < 0 ||
            (rc = exec(reg, "PRAGMA synchronous = NORMAL")) < 0)
            goto fail;
    }
    if ((rc = check_schema(reg, flags)) < 0)
        goto fail;
    *out = reg;
    return 0;
fail:
    sc_registry_close(reg);
    return rc;
}

int sc_registry_close(sc_registry *reg)
{
    int rc = 0;

    if (!reg)
        return 0;
    if (reg->db && sqlite3_close(reg->db) != SQLITE_OK)
        rc = sc_fail(SC_EREGISTRY, "cannot close registry '%s': %s", reg->path,
                     sqlite3_errmsg(reg->db));
    free(reg->path);
    free(reg);
    return rc;
}

int sc_registry_schema(const sc_registry *reg)
{
    return reg->schema;
}

const char *sc_registry_backend(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "sqlite %s", sqlite3_libversion());
    return buf;
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
    sqlite3_stmt *st;
    size_t best = 0;
    int rc;

    *root = 0;
    *rel = abs;
    if ((rc = prepare(reg, "SELECT id, dir FROM storage", &st)) < 0)
        return rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *d = col_text(st, 1);
        size_t n = strlen(d);
        if (n > best && !strncmp(abs, d, n) &&
            (abs[n] == '/' || !strcmp(d, "/"))) {
            best = n;
            *root = sqlite3_column_int64(st, 0);
            *rel = abs + n + (abs[n] == '/');
        }
    }
    rc = rc == SQLITE_DONE ? 0 : db_fail(reg, "storage roots");
    sqlite3_finalize(st);
    return rc;
}

static int root_write(sc_registry *reg, int64_t id, const char *dir)
{
    sqlite3_stmt *st = NULL;
    char *abs = NULL;
    char real[PATH_MAX];
    int rc;

    if (!realpath(dir, real))
        return sc_fail(SC_EIO, "cannot resolve '%s': %s", dir, strerror(errno));
    if (!(abs = strdup(real)))
        return sc_fail(SC_ENOMEM, "out of memory");
    rc = prepare(reg,
                 id ? "UPDATE storage SET dir = ?1 WHERE id = ?2"
                    : "INSERT OR IGNORE INTO storage(dir) VALUES (?1)",
                 &st);
    if (rc == 0) {
        bind_text(st, 1, abs);
        if (id)
            sqlite3_bind_int64(st, 2, id);
        rc = step_done(reg, st, "storage root");
        if (rc == 0 && id && sqlite3_changes(reg->db) == 0)
            rc = sc_fail(SC_ENOTFOUND, "no storage root %" PRId64, id);
    }
    sqlite3_finalize(st);
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
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg, "SELECT id, dir FROM storage ORDER BY id", &st)) < 0)
        return rc;
    int s = SQLITE_ROW;
    rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(sqlite3_column_int64(st, 0), col_text(st, 1), ud);
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
    sqlite3_stmt *st = NULL;
    size_t n = 0;
    int rc;

    *gid = 0;
    if (!d->n_genes)
        return 0;
    if ((rc = geneset_key(d->genes, d->n_genes, hex)) < 0)
        return rc;
    if ((rc = prepare(reg, "SELECT id FROM geneset WHERE key = ?", &st)) < 0)
        goto out;
    bind_text(st, 1, hex);
    if ((rc = step_int(reg, st, gid)) != 0)
        goto out; /* known (1), or an error */
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = sorted_distinct(d->genes, d->n_genes, &genes, &n)) < 0)
        goto out;
    if ((rc = prepare(reg, "INSERT INTO geneset(key, n_genes) VALUES (?, ?)",
                      &st)) < 0)
        goto out;
    bind_text(st, 1, hex);
    sqlite3_bind_int64(st, 2, (int64_t)n);
    if ((rc = step_done(reg, st, "gene set")) < 0)
        goto out;
    *gid = sqlite3_last_insert_rowid(reg->db);
    sqlite3_finalize(st);
    if ((rc = prepare(reg, "INSERT INTO geneset_gene VALUES (?, ?)", &st)) < 0)
        goto out;
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, *gid);
        bind_text(st, 2, genes[i]);
        rc = step_done(reg, st, "gene set genes");
        sqlite3_reset(st);
    }
out:
    if (rc > 0)
        rc = 0;
    sqlite3_finalize(st);
    free(genes);
    return rc;
}

static int add_terms(sc_registry *reg, int64_t id, const sc_reg_dataset *d)
{
    sqlite3_stmt *st;
    int rc;

    if (!d->n_terms)
        return 0;
    if ((rc = prepare(reg,
                      "INSERT INTO artifact_term VALUES (?, ?, ?, ?, ?)"
                      " ON CONFLICT DO UPDATE SET"
                      " n_cells = n_cells + excluded.n_cells",
                      &st)) < 0)
        return rc;
    for (size_t i = 0; i < d->n_terms && rc == 0; i++) {
        const sc_reg_term *t = &d->terms[i];
        sqlite3_bind_int64(st, 1, id);
        bind_text(st, 2, t->field);
        bind_text(st, 3, t->term);
        bind_text(st, 4, t->label && *t->label ? t->label : NULL);
        sqlite3_bind_int64(st, 5, t->n_cells);
        rc = step_done(reg, st, "terms");
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
    return rc;
}

static int transform_id(sc_registry *reg, const char *tool, const char *version,
                        int64_t *id)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg,
                      "INSERT INTO transform(name, version) VALUES (?1, ?2)"
                      " ON CONFLICT DO UPDATE SET name = name RETURNING id",
                      &st)) < 0)
        return rc;
    bind_text(st, 1, tool);
    bind_text(st, 2, version && *version ? version : "unknown");
    rc = step_int(reg, st, id);
    sqlite3_finalize(st);
    return rc < 0 ? rc : 0;
}

static int link_io(sc_registry *reg, int64_t run, int output, int kind,
                   const char *ref, int64_t version)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg, "INSERT OR IGNORE INTO run_io VALUES (?,?,?,?,?)",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, run);
    sqlite3_bind_int(st, 2, output);
    sqlite3_bind_int(st, 3, kind);
    bind_text(st, 4, ref);
    if (version)
        sqlite3_bind_int64(st, 5, version);
    else
        sqlite3_bind_null(st, 5);
    rc = step_done(reg, st, "run inputs and outputs");
    sqlite3_finalize(st);
    return rc;
}

/* A run is recorded once however many files carry its step: its key is
 * the hash of what identifies it. */
static int add_step(sc_registry *reg, const sc_reg_step *s, const char *out)
{
    char key[SC_HASH_HEX_SIZE];
    sc_hash *h = NULL;
    sqlite3_stmt *st = NULL;
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
                      "INSERT OR IGNORE INTO run(transform_id, key, arguments,"
                      " host, started, finished, status)"
                      " VALUES (?, ?, ?, ?, ?, ?, 'ok') RETURNING id",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, tid);
    bind_text(st, 2, key);
    bind_text(st, 3, s->arguments);
    bind_text(st, 4, s->host);
    bind_text(st, 5, s->time);
    bind_text(st, 6, s->time);
    rc = step_int(reg, st, &run);
    sqlite3_finalize(st);
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
    sqlite3_stmt *st;
    int rc;

    *prev = *version = 0;
    if ((rc = prepare(reg,
                      "SELECT id, version FROM artifact a WHERE path = ?1"
                      " AND storage_id IS ?2 AND NOT EXISTS (SELECT 1 FROM"
                      " artifact b WHERE b.previous_id = a.id)"
                      " ORDER BY id DESC LIMIT 1",
                      &st)) < 0)
        return rc;
    bind_text(st, 1, rel);
    if (root)
        sqlite3_bind_int64(st, 2, root);
    else
        sqlite3_bind_null(st, 2);
    rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *prev = sqlite3_column_int64(st, 0);
        *version = sqlite3_column_int64(st, 1);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : db_fail(reg, "version chain");
    }
    sqlite3_finalize(st);
    return rc;
}

static int add_once(sc_registry *reg, const sc_reg_dataset *d, const char *abs,
                    int64_t *id, int *status)
{
    sqlite3_stmt *st = NULL;
    int64_t root, prev, version, gid;
    const char *rel;
    int rc;

    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = prepare(reg, "SELECT id FROM artifact WHERE sha256 = ?", &st)) <
        0)
        goto fail;
    bind_text(st, 1, d->sha256);
    rc = step_int(reg, st, id);
    sqlite3_finalize(st);
    st = NULL;
    if (rc < 0)
        goto fail;
    if (rc == 1) {
        *status = SC_REG_KNOWN;
        rollback(reg);
        return 0;
    }
    if ((rc = split_root(reg, abs, &root, &rel)) < 0 ||
        (rc = find_latest_at(reg, root, rel, &prev, &version)) < 0 ||
        (rc = add_geneset(reg, d, &gid)) < 0)
        goto fail;
    if ((rc = prepare(reg,
                      "INSERT INTO artifact(sha256, size, mtime, format,"
                      " n_obs, n_vars, organism, assay, schema_version,"
                      " storage_id, path, geneset_id, created, version,"
                      " previous_id) VALUES"
                      " (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                      &st)) < 0)
        goto fail;
    bind_text(st, 1, d->sha256);
    sqlite3_bind_int64(st, 2, d->size);
    sqlite3_bind_int64(st, 3, d->mtime);
    bind_text(st, 4, d->format ? d->format : "file");
    if (d->n_obs || d->n_vars) {
        sqlite3_bind_int64(st, 5, d->n_obs);
        sqlite3_bind_int64(st, 6, d->n_vars);
    }
    bind_text(st, 7, d->organism);
    bind_text(st, 8, d->assay);
    bind_text(st, 9, d->schema_version);
    if (root)
        sqlite3_bind_int64(st, 10, root);
    bind_text(st, 11, rel);
    if (gid)
        sqlite3_bind_int64(st, 12, gid);
    sqlite3_bind_int64(st, 13, (int64_t)time(NULL));
    sqlite3_bind_int64(st, 14, version + 1);
    if (prev)
        sqlite3_bind_int64(st, 15, prev);
    if ((rc = step_done(reg, st, "artifact")) < 0)
        goto fail;
    *id = sqlite3_last_insert_rowid(reg->db);
    sqlite3_finalize(st);
    st = NULL;
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
    sqlite3_finalize(st);
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

static void read_artifact(sqlite3_stmt *st, sc_reg_artifact *a)
{
    memset(a, 0, sizeof *a);
    a->id = sqlite3_column_int64(st, 0);
    a->sha256 = col_text(st, 1);
    a->path = col_text(st, 2);
    a->format = col_text(st, 3);
    a->size = sqlite3_column_int64(st, 4);
    a->mtime = sqlite3_column_int64(st, 5);
    a->n_obs = sqlite3_column_int64(st, 6);
    a->n_vars = sqlite3_column_int64(st, 7);
    a->organism = col_text(st, 8);
    a->assay = col_text(st, 9);
    a->schema_version = col_text(st, 10);
    a->created = sqlite3_column_int64(st, 11);
    a->version = sqlite3_column_int64(st, 12);
    a->previous = sqlite3_column_int64(st, 13);
    a->latest = sqlite3_column_int(st, 14);
    a->n_match = a->n_obs;
    a->weight = 1;
}

/* Step ST, calling FN for each artifact row; extra columns: N_MATCH at
 * column 15 and WEIGHT at 16 when EXTRA says so. */
static int each_artifact(sc_registry *reg, sqlite3_stmt *st, int extra,
                         sc_reg_artifact_fn fn, void *ud, int64_t *count)
{
    sc_reg_artifact a;
    int rc;

    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        read_artifact(st, &a);
        if (extra & 1)
            a.n_match = sqlite3_column_int64(st, 15);
        if (extra & 2)
            a.weight = sqlite3_column_double(st, 16);
        if (count)
            ++*count;
        if ((rc = fn(&a, ud)) != 0)
            return rc;
    }
    return rc == SQLITE_DONE ? 0 : db_fail(reg, "query");
}

int sc_registry_get(sc_registry *reg, int64_t id, sc_reg_artifact_fn fn,
                    void *ud)
{
    sqlite3_stmt *st;
    int64_t n = 0;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT " ARTIFACT_COLS ARTIFACT_FROM " WHERE a.id = ?",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    rc = each_artifact(reg, st, 0, fn, ud, &n);
    sqlite3_finalize(st);
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
    sqlite3_stmt *st = NULL;
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
        sqlite3_bind_int64(st, 1, strtoll(ref, NULL, 10));
        rc = step_int(reg, st, id);
        sqlite3_finalize(st);
        if (rc < 0)
            return rc;
        return rc ? 0 : sc_fail(SC_ENOTFOUND, "no artifact %s", ref);
    }
    if (strlen(ref) >= 6 && strlen(ref) <= 64 && is_hex(ref)) {
        if (!(like = malloc(strlen(ref) + 2)))
            return sc_fail(SC_ENOMEM, "out of memory");
        sprintf(like, "%s*", ref);
        if ((rc = prepare(reg,
                          "SELECT id FROM artifact WHERE sha256 GLOB ? LIMIT 2",
                          &st)) < 0) {
            free(like);
            return rc;
        }
        bind_text(st, 1, like);
        while ((rc = step_int(reg, st, &v)) == 1)
            if (n++ == 0)
                *id = v;
        sqlite3_finalize(st);
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
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT field, term, label, n_cells FROM artifact_term"
                      " WHERE artifact_id = ? ORDER BY field, n_cells DESC,"
                      " term",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    int s = SQLITE_ROW;
    rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(col_text(st, 0), col_text(st, 1), col_text(st, 2),
                sqlite3_column_int64(st, 3), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

int sc_registry_geneset(sc_registry *reg, int64_t id, int64_t *geneset,
                        int64_t *n_genes)
{
    sqlite3_stmt *st;
    int rc;

    *geneset = *n_genes = 0;
    if ((rc = prepare(reg,
                      "SELECT g.id, g.n_genes FROM artifact a JOIN geneset g"
                      " ON g.id = a.geneset_id WHERE a.id = ?",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, id);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *geneset = sqlite3_column_int64(st, 0);
        *n_genes = sqlite3_column_int64(st, 1);
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? 0 : db_fail(reg, "gene set");
    }
    sqlite3_finalize(st);
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

/* TERMS as a JSON array of strings, for json_each(?). */
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

static int q_prepare(sc_registry *reg, qbuf *q, sqlite3_stmt **st)
{
    int rc;

    if (q->oom)
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = prepare(reg, q->sql, st)) < 0)
        return rc;
    for (size_t i = 0; i < q->nv; i++) {
        if (q->v[i].is_int)
            sqlite3_bind_int64(*st, (int)i + 1, q->v[i].i);
        else
            bind_text(*st, (int)i + 1, q->v[i].s);
    }
    return 0;
}

int sc_registry_query(sc_registry *reg, const sc_reg_query *q,
                      sc_reg_artifact_fn fn, void *ud)
{
    qbuf b = {0};
    sqlite3_stmt *st = NULL;
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
        q_text(&b, " AND term IN (SELECT value FROM json_each(?))", json);
        q_int(&b, " GROUP BY artifact_id HAVING SUM(n_cells) >= ?",
              q->min_cells > 0 ? q->min_cells : 1);
        snprintf(name, sizeof name, ") m%zu ON m%zu.artifact_id = a.id", i, i);
        q_sql(&b, name);
        free(json);
    }
    q_sql(&b, " WHERE 1");
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
    sqlite3_finalize(st);
    q_release(&b);
    return rc;
}

int sc_registry_counts(sc_registry *reg, int64_t version, const char *field,
                       int (*fn)(const char *term, const char *label,
                                 int64_t n_cells, int64_t n_datasets, void *ud),
                       void *ud)
{
    sqlite3_stmt *st;
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
    bind_text(st, 1, field);
    if (version)
        sqlite3_bind_int64(st, 2, version);
    int s = SQLITE_ROW;
    rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(col_text(st, 0), col_text(st, 1), sqlite3_column_int64(st, 2),
                sqlite3_column_int64(st, 3), ud);
    rc = step_end(reg, st, rc, s);
    return rc;
}

/* ---- runs ---- */

int sc_registry_run_start(sc_registry *reg, const char *tool,
                          const char *version, const char *arguments,
                          const char *host, int64_t *run)
{
    sqlite3_stmt *st = NULL;
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
                      " started, status) VALUES (?, ?, ?, ?, 'running')",
                      &st)) < 0)
        goto fail;
    sqlite3_bind_int64(st, 1, tid);
    bind_text(st, 2, arguments);
    bind_text(st, 3, host);
    bind_text(st, 4, now);
    if ((rc = step_done(reg, st, "run")) < 0)
        goto fail;
    *run = sqlite3_last_insert_rowid(reg->db);
    sqlite3_finalize(st);
    return commit(reg) < 0 ? (rollback(reg), SC_EREGISTRY) : 0;
fail:
    sqlite3_finalize(st);
    rollback(reg);
    return rc;
}

static int run_status(sc_registry *reg, int64_t run, char *buf, size_t size)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg, "SELECT status FROM run WHERE id = ?", &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, run);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        snprintf(buf, size, "%s", col_text(st, 0));
        rc = 0;
    } else {
        rc = rc == SQLITE_DONE ? sc_fail(SC_ENOTFOUND, "no run %" PRId64, run)
                               : db_fail(reg, "run");
    }
    sqlite3_finalize(st);
    return rc;
}

int sc_registry_run_link(sc_registry *reg, int64_t run, int output,
                         int64_t artifact, int64_t version, const char *uri)
{
    sqlite3_stmt *st;
    char status[32], ref[40];
    int rc;

    if ((rc = run_status(reg, run, status, sizeof status)) < 0)
        return rc;
    if (artifact > 0) {
        if ((rc = prepare(reg, "SELECT sha256 FROM artifact WHERE id = ?",
                          &st)) < 0)
            return rc;
        sqlite3_bind_int64(st, 1, artifact);
        if ((rc = sqlite3_step(st)) == SQLITE_ROW)
            rc = link_io(reg, run, output, 0, col_text(st, 0), 0);
        else
            rc = rc == SQLITE_DONE
                     ? sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, artifact)
                     : db_fail(reg, "artifact");
        sqlite3_finalize(st);
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
    sqlite3_stmt *st;
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
    bind_text(st, 1, status);
    bind_text(st, 2, now);
    sqlite3_bind_int64(st, 3, run);
    rc = step_done(reg, st, "run");
    sqlite3_finalize(st);
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
static int collect(sc_registry *reg, sqlite3_stmt *st, lnode **v, size_t *n)
{
    size_t cap = 0;
    int rc;

    *v = NULL;
    *n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            lnode *p = realloc(*v, (cap = cap ? cap * 2 : 8) * sizeof *p);
            if (!p)
                return sc_fail(SC_ENOMEM, "out of memory");
            *v = p;
        }
        lnode *x = &(*v)[(*n)++];
        x->kind = sqlite3_column_int(st, 0);
        x->id = sqlite3_column_int64(st, 1);
        x->label = strdup(col_text(st, 2));
        x->detail = strdup(col_text(st, 3));
        x->ref = strdup(col_text(st, 4));
        if (!x->label || !x->detail || !x->ref)
            return sc_fail(SC_ENOMEM, "out of memory");
    }
    return rc == SQLITE_DONE ? 0 : db_fail(reg, "lineage");
}

/* The neighbours of a node: from an artifact (by sha256), the runs that
 * made it (up) or used it and the collection versions holding it (down);
 * from a run, its inputs (up) or outputs (down); from a collection
 * version, its members (up) or the runs that used it (down). An artifact
 * not registered shows as a missing sha256. */
#define RUN_NODE                                                               \
    "SELECT 1, r.id, t.name || ' ' || t.version || ' (' || r.status || ')',"   \
    " COALESCE(r.started, '') || CASE WHEN r.arguments IS NULL THEN ''"        \
    " ELSE '  ' || r.arguments END, r.id FROM run_io io"                       \
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
    " COALESCE(a.sha256, io.version_id, io.ref)"                               \
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
                  " datetime(cv.created, 'unixepoch'), cv.id"
                  " FROM collection_version_member m"
                  " JOIN collection_version cv ON cv.id = m.version_id"
                  " JOIN collection c ON c.id = cv.collection_id"
                  " JOIN artifact a ON a.id = m.artifact_id"
                  " WHERE a.sha256 = ?1",
         IO_NODE " WHERE io.run_id = ?2 AND io.output = 1 ORDER BY io.ref",
         RUN_NODE " WHERE io.kind = 2 AND io.version_id = ?2"
                  " AND io.output = 0 ORDER BY r.id"},
    };
    const char *q;
    sqlite3_stmt *st;
    int rc;

    *v = NULL;
    *n = 0;
    switch (x->kind) {
    case SC_REG_NODE_ARTIFACT: q = sql[down][0]; break;
    case SC_REG_NODE_RUN: q = sql[down][1]; break;
    case SC_REG_NODE_VERSION: q = sql[down][2]; break;
    default: return 0;
    }
    if ((rc = prepare(reg, q, &st)) < 0)
        return rc;
    if (strstr(q, "?1"))
        bind_text(st, 1, x->ref);
    if (strstr(q, "?2"))
        sqlite3_bind_int64(st, 2, x->id);
    rc = collect(reg, st, v, n);
    sqlite3_finalize(st);
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
    sqlite3_stmt *st;
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
    sqlite3_bind_int64(st, 1, id);
    rc = collect(reg, st, &start, &n);
    sqlite3_finalize(st);
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

static int collection_id(sc_registry *reg, const char *name, int64_t *id)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg, "SELECT id FROM collection WHERE name = ?", &st)) <
        0)
        return rc;
    bind_text(st, 1, name);
    rc = step_int(reg, st, id);
    sqlite3_finalize(st);
    if (rc == 0)
        return sc_fail(SC_ENOTFOUND, "no collection '%s'", name);
    return rc < 0 ? rc : 0;
}

int sc_registry_collection_create(sc_registry *reg, const char *name,
                                  const char *description)
{
    sqlite3_stmt *st;
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
    bind_text(st, 1, name);
    bind_text(st, 2, description);
    sqlite3_bind_int64(st, 3, (int64_t)time(NULL));
    rc = step_done(reg, st, "collection");
    sqlite3_finalize(st);
    if (rc == 0 && sqlite3_changes(reg->db) == 0)
        rc = sc_fail(SC_EEXIST, "collection '%s' exists", name);
    return rc;
}

int sc_registry_collection_edit(sc_registry *reg, const char *name, int remove,
                                const int64_t *ids, const double *weights,
                                size_t n, int64_t *changed)
{
    sqlite3_stmt *st = NULL;
    int64_t cid, ch = 0;
    int rc;

    if (changed)
        *changed = 0;
    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = collection_id(reg, name, &cid)) < 0)
        goto out;
    rc = prepare(reg,
                 remove ? "DELETE FROM collection_member WHERE"
                          " collection_id = ?1 AND artifact_id = ?2"
                        : "INSERT INTO collection_member VALUES (?1, ?2, ?3)"
                          " ON CONFLICT DO UPDATE SET weight = excluded.weight",
                 &st);
    for (size_t i = 0; i < n && rc == 0; i++) {
        sqlite3_bind_int64(st, 1, cid);
        sqlite3_bind_int64(st, 2, ids[i]);
        if (!remove)
            sqlite3_bind_double(st, 3, weights ? weights[i] : 1.0);
        if (sqlite3_step(st) != SQLITE_DONE) {
            rc = (sqlite3_errcode(reg->db) & 0xff) == SQLITE_CONSTRAINT
                     ? sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, ids[i])
                     : db_fail(reg, "collection members");
            break;
        }
        ch += sqlite3_changes(reg->db);
        sqlite3_reset(st);
    }
    sqlite3_finalize(st);
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
    sqlite3_stmt *st = NULL;
    int64_t cid, n = 0;
    int rc;

    *version = *vid = 0;
    if ((rc = begin(reg)) < 0)
        return rc;
    if ((rc = collection_id(reg, name, &cid)) < 0 ||
        (rc = prepare(reg,
                      "SELECT COUNT(*) FROM collection_member"
                      " WHERE collection_id = ?",
                      &st)) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, cid);
    if ((rc = step_int(reg, st, &n)) < 0)
        goto out;
    sqlite3_finalize(st);
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
    sqlite3_bind_int64(st, 1, cid);
    sqlite3_bind_int64(st, 2, (int64_t)time(NULL));
    if (sqlite3_step(st) != SQLITE_ROW) {
        rc = db_fail(reg, "freeze");
        goto out;
    }
    *vid = sqlite3_column_int64(st, 0);
    *version = sqlite3_column_int64(st, 1);
    sqlite3_finalize(st);
    st = NULL;
    if ((rc = prepare(reg,
                      "INSERT INTO collection_version_member SELECT ?1,"
                      " m.artifact_id, a.n_obs, m.weight FROM"
                      " collection_member m JOIN artifact a"
                      " ON a.id = m.artifact_id WHERE m.collection_id = ?2"
                      " ORDER BY m.artifact_id",
                      &st)) < 0)
        goto out;
    sqlite3_bind_int64(st, 1, *vid);
    sqlite3_bind_int64(st, 2, cid);
    if ((rc = step_done(reg, st, "freeze")) < 0)
        goto out;
    sqlite3_finalize(st);
    st = NULL;
    rc = commit(reg);
out:
    sqlite3_finalize(st);
    if (rc < 0) {
        rollback(reg);
        *version = *vid = 0;
    }
    return rc;
}

int sc_registry_collection_version(sc_registry *reg, const char *ref,
                                   int64_t *vid)
{
    sqlite3_stmt *st;
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
    if ((rc = collection_id(reg, name, &cid)) < 0) {
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
    sqlite3_bind_int64(st, 1, cid);
    if (!latest)
        sqlite3_bind_int64(st, 2, v);
    rc = step_int(reg, st, vid);
    sqlite3_finalize(st);
    if (rc == 0)
        return sc_fail(SC_ENOTFOUND, "no version %s%s", ref,
                       latest ? " (not frozen yet)" : "");
    return rc < 0 ? rc : 0;
}

int sc_registry_collection_members(sc_registry *reg, int64_t vid,
                                   sc_reg_artifact_fn fn, void *ud)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT " ARTIFACT_COLS ", m.n_obs, m.weight"
                      " FROM collection_version_member m"
                      " JOIN artifact a ON a.id = m.artifact_id"
                      " LEFT JOIN storage s ON s.id = a.storage_id"
                      " WHERE m.version_id = ? ORDER BY a.id",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, vid);
    rc = each_artifact(reg, st, 3, fn, ud, NULL);
    sqlite3_finalize(st);
    return rc;
}

int sc_registry_collection_draft(sc_registry *reg, const char *name,
                                 sc_reg_artifact_fn fn, void *ud)
{
    sqlite3_stmt *st;
    int64_t cid;
    int rc;

    if ((rc = collection_id(reg, name, &cid)) < 0 ||
        (rc = prepare(reg,
                      "SELECT " ARTIFACT_COLS ", a.n_obs, m.weight"
                      " FROM collection_member m"
                      " JOIN artifact a ON a.id = m.artifact_id"
                      " LEFT JOIN storage s ON s.id = a.storage_id"
                      " WHERE m.collection_id = ? ORDER BY a.id",
                      &st)) < 0)
        return rc;
    sqlite3_bind_int64(st, 1, cid);
    rc = each_artifact(reg, st, 3, fn, ud, NULL);
    sqlite3_finalize(st);
    return rc;
}

int sc_registry_collections(sc_registry *reg,
                            int (*fn)(const char *name, int64_t versions,
                                      int64_t members, const char *description,
                                      void *ud),
                            void *ud)
{
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT c.name, (SELECT COUNT(*) FROM"
                      " collection_version v WHERE v.collection_id = c.id),"
                      " (SELECT COUNT(*) FROM collection_member m WHERE"
                      " m.collection_id = c.id), c.description"
                      " FROM collection c ORDER BY c.name",
                      &st)) < 0)
        return rc;
    int s = SQLITE_ROW;
    rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(col_text(st, 0), sqlite3_column_int64(st, 1),
                sqlite3_column_int64(st, 2), col_text(st, 3), ud);
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
    sqlite3_stmt *st;
    int rc;

    if ((rc = prepare(reg,
                      "SELECT a.id, CASE WHEN s.dir IS NULL THEN a.path"
                      " ELSE s.dir || '/' || a.path END AS p, a.sha256,"
                      " a.size, a.mtime" ARTIFACT_FROM
                      " WHERE NOT EXISTS (SELECT 1 FROM artifact b"
                      " WHERE b.previous_id = a.id) ORDER BY p",
                      &st)) < 0)
        return rc;
    int s = SQLITE_ROW;
    rc = 0;
    while (rc == 0 && (s = sqlite3_step(st)) == SQLITE_ROW)
        rc = fn(sqlite3_column_int64(st, 0), col_text(st, 1), col_text(st, 2),
                sqlite3_column_int64(st, 3), sqlite3_column_int64(st, 4), ud);
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
    sqlite3_stmt *st;
    int rc;

    *ok = 0;
    if ((rc = prepare(reg, "PRAGMA integrity_check", &st)) < 0)
        return rc;
    if ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        *ok = !strcmp(col_text(st, 0), "ok");
        rc = 0;
    } else {
        rc = db_fail(reg, "integrity check");
    }
    sqlite3_finalize(st);
    if (rc == 0 && *ok) {
        if ((rc = prepare(reg, "PRAGMA foreign_key_check", &st)) < 0)
            return rc;
        rc = sqlite3_step(st);
        *ok = rc == SQLITE_DONE;
        rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? 0
                                                   : db_fail(reg, "fk check");
        sqlite3_finalize(st);
    }
    return rc;
}
