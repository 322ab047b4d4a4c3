/* sc_registry_sqlite: the registry's SQLite backend (one file, WAL). */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>

#include <sqlite3.h>

#include "sc_registry_int.h"

/* Migrations: MIGRATIONS[v] takes a registry from schema v to v + 1; the
 * first creates it. Append only: never edit a released step. */
static const char *const sqlite_migrations[] = {
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
    /* 1 -> 2: a collection version's split file, as immutable as it */
    "CREATE TABLE collection_version_split(version_id INTEGER PRIMARY KEY"
    " REFERENCES collection_version(id),"
    " sha256 TEXT NOT NULL CHECK(length(sha256) = 64),"
    " size INTEGER NOT NULL, content TEXT NOT NULL, created INTEGER NOT NULL);"
    "CREATE TRIGGER cvs_frozen_u BEFORE UPDATE ON collection_version_split"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;"
    "CREATE TRIGGER cvs_frozen_d BEFORE DELETE ON collection_version_split"
    " BEGIN SELECT RAISE(ABORT, 'collection versions are immutable'); END;",
};

/* ---- network filesystems ---- */

/* File systems whose locking SQLite cannot trust (statfs f_type). */
static const struct {
    unsigned long magic;
    const char *name;
} netfs[] = {
    {0x6969, "nfs"},        {0xFF534D42, "cifs"},   {0xFE534D42, "smb2"},
    {0x517B, "smb"},        {0x0BD00BD0, "lustre"}, {0x47504653, "gpfs"},
    {0x00C36400, "ceph"},   {0x5346414F, "afs"},    {0x6B414653, "afs"},
    {0x01021997, "9p"},     {0x01161970, "gfs2"},   {0x7461636F, "ocfs2"},
    {0x19830326, "beegfs"}, {0xAAD7AAEA, "panfs"},  {0x73757245, "coda"},
    {0x564C, "ncp"},
};

/* The name of a network file system type, or NULL. */
static const char *netfs_name(unsigned long magic)
{
    for (size_t i = 0; i < sizeof netfs / sizeof *netfs; i++)
        if (netfs[i].magic == magic)
            return netfs[i].name;
    return NULL;
}

int sc_registry_fs_check(const char *path)
{
    const char *force = getenv("SC_REGISTRY_FORCE_NETWORK_FS");
    const char *fake = getenv("SC_REGISTRY_TEST_FSTYPE");
    const char *name = NULL;
    struct statfs sf;
    char *dir;

    if (force && *force && strcmp(force, "0"))
        return 0;
    if (fake && *fake) {
        /* tests: pretend the file system is FAKE (a name of the list) */
        for (size_t i = 0; i < sizeof netfs / sizeof *netfs && !name; i++)
            if (!strcmp(netfs[i].name, fake))
                name = netfs[i].name;
    } else {
        /* the file, or the directory it will be made in */
        const char *slash = strrchr(path, '/');
        if (!(dir = slash ? strndup(path, (size_t)(slash - path) + 1)
                          : strdup(".")))
            return sc_fail(SC_ENOMEM, "out of memory");
        if (statfs(path, &sf) == 0 || statfs(dir, &sf) == 0)
            name = netfs_name((unsigned long)sf.f_type);
        free(dir);
    }
    if (!name)
        return 0;
    return sc_fail(SC_EUNSUP,
                   "registry '%s' is on a network file system (%s), where "
                   "SQLite's locking is unsafe: use a PostgreSQL registry "
                   "(--db postgresql://...), or --force-network-fs",
                   path, name);
}

/* ---- statements ---- */

struct sc_rst {
    sc_registry *reg;
    sqlite3_stmt *st;
};

#define DB(reg) ((sqlite3 *)(reg)->conn)

static int fail(sc_registry *reg)
{
    int code = sqlite3_errcode(DB(reg)) & 0xff;

    reg->busy = code == SQLITE_BUSY || code == SQLITE_LOCKED;
    reg->constraint = code == SQLITE_CONSTRAINT;
    reg->readonly = code == SQLITE_READONLY;
    snprintf(reg->err, sizeof reg->err, "%s", sqlite3_errmsg(DB(reg)));
    return -1;
}

static int sq_exec(sc_registry *reg, const char *sql)
{
    return sqlite3_exec(DB(reg), sql, NULL, NULL, NULL) == SQLITE_OK
               ? 0
               : fail(reg);
}

static int sq_open(sc_registry *reg, unsigned flags)
{
    struct stat sb;
    sqlite3 *db = NULL;
    int rc, oflags;

    if (!(flags & SC_REGISTRY_CREATE) && stat(reg->path, &sb) != 0)
        return sc_fail(SC_ENOTFOUND,
                       "no registry at '%s' (sc-register init makes one)",
                       reg->path);
    if (!(flags & SC_REGISTRY_NETWORK_FS) &&
        (rc = sc_registry_fs_check(reg->path)) < 0)
        return rc;
    oflags = (flags & SC_REGISTRY_READONLY)
                 ? SQLITE_OPEN_READONLY
                 : SQLITE_OPEN_READWRITE |
                       (flags & SC_REGISTRY_CREATE ? SQLITE_OPEN_CREATE : 0);
    rc = sqlite3_open_v2(reg->path, &db, oflags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        rc = sc_fail(SC_EREGISTRY, "cannot open registry '%s': %s", reg->path,
                     db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
        sqlite3_close(db);
        return rc;
    }
    reg->conn = db;
    sqlite3_busy_timeout(db, 10000);
    sqlite3_extended_result_codes(db, 1);
    /* reads map the file instead of copying pages */
    if (sq_exec(reg, "PRAGMA foreign_keys = ON") < 0 ||
        sq_exec(reg, "PRAGMA mmap_size = 1073741824") < 0)
        goto fail;
    if (!(flags & SC_REGISTRY_READONLY)) {
        /* WAL: readers never block the writer; NORMAL sync is durable
         * against a killed process (only power loss can undo a commit) */
        for (int i = 0; sq_exec(reg, "PRAGMA journal_mode = WAL") < 0; i++)
            if (!reg->busy || i >= 50)
                goto fail;
        if (sq_exec(reg, "PRAGMA synchronous = NORMAL") < 0)
            goto fail;
    }
    return 0;
fail:
    return sc_fail(SC_EREGISTRY, "registry '%s': %s", reg->path, reg->err);
}

static void sq_close(sc_registry *reg)
{
    sqlite3_close(DB(reg));
    reg->conn = NULL;
}

static int sq_prepare(sc_registry *reg, const char *sql, sc_rst **out)
{
    sc_rst *st = calloc(1, sizeof *st);

    *out = NULL;
    if (!st) {
        snprintf(reg->err, sizeof reg->err, "out of memory");
        return -1;
    }
    st->reg = reg;
    if (sqlite3_prepare_v2(DB(reg), sql, -1, &st->st, NULL) != SQLITE_OK) {
        free(st);
        return fail(reg);
    }
    *out = st;
    return 0;
}

static void sq_bind_int(sc_rst *st, int i, int64_t v)
{
    sqlite3_bind_int64(st->st, i, v);
}

static void sq_bind_double(sc_rst *st, int i, double v)
{
    sqlite3_bind_double(st->st, i, v);
}

static void sq_bind_text(sc_rst *st, int i, const char *s)
{
    if (s)
        sqlite3_bind_text(st->st, i, s, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st->st, i);
}

static int sq_step(sc_rst *st)
{
    int rc = sqlite3_step(st->st);

    if (rc == SQLITE_ROW)
        return ST_ROW;
    if (rc == SQLITE_DONE) {
        st->reg->changes = sqlite3_changes(DB(st->reg));
        return ST_DONE;
    }
    return fail(st->reg);
}

static void sq_reset(sc_rst *st)
{
    sqlite3_reset(st->st);
}

static void sq_finalize(sc_rst *st)
{
    sqlite3_finalize(st->st);
    free(st);
}

static int64_t sq_col_int(sc_rst *st, int i)
{
    return sqlite3_column_int64(st->st, i);
}

static double sq_col_double(sc_rst *st, int i)
{
    return sqlite3_column_double(st->st, i);
}

static const char *sq_col_text(sc_rst *st, int i)
{
    const char *s = (const char *)sqlite3_column_text(st->st, i);
    return s ? s : "";
}

static int sq_col_null(sc_rst *st, int i)
{
    return sqlite3_column_type(st->st, i) == SQLITE_NULL;
}

/* A pragma's one integer (or text "ok" as 1). */
static int pragma_int(sc_registry *reg, const char *sql, int64_t *v, int *done)
{
    sc_rst *st;
    int rc;

    if (sq_prepare(reg, sql, &st) < 0)
        return -1;
    rc = sq_step(st);
    *done = rc == ST_DONE;
    if (rc == ST_ROW)
        *v = sqlite3_column_type(st->st, 0) == SQLITE_TEXT
                 ? !strcmp(sq_col_text(st, 0), "ok")
                 : sq_col_int(st, 0);
    sq_finalize(st);
    return rc < 0 ? -1 : 0;
}

static int sq_get_schema(sc_registry *reg, int *v)
{
    int64_t x = 0;
    int done;

    if (pragma_int(reg, "PRAGMA user_version", &x, &done) < 0)
        return -1;
    *v = (int)x;
    return 0;
}

static int sq_set_schema(sc_registry *reg, int v)
{
    char sql[64];

    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    return sq_exec(reg, sql);
}

static int sq_check(sc_registry *reg, int *ok)
{
    int64_t x = 0;
    int done;

    if (pragma_int(reg, "PRAGMA integrity_check", &x, &done) < 0)
        return -1;
    if (!(*ok = x == 1))
        return 0;
    /* foreign_key_check: a row is a broken reference */
    if (pragma_int(reg, "PRAGMA foreign_key_check", &x, &done) < 0)
        return -1;
    *ok = done;
    return 0;
}

const char *sc_registry_backend(void)
{
    static char buf[64];
    snprintf(buf, sizeof buf, "sqlite %s", sqlite3_libversion());
    return buf;
}

const sc_rdb_ops sc_rdb_sqlite = {
    .name = "sqlite",
    .open = sq_open,
    .close = sq_close,
    .prepare = sq_prepare,
    .bind_int = sq_bind_int,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .step = sq_step,
    .reset = sq_reset,
    .finalize = sq_finalize,
    .col_int = sq_col_int,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .col_null = sq_col_null,
    .exec = sq_exec,
    .get_schema = sq_get_schema,
    .set_schema = sq_set_schema,
    .check = sq_check,
    .migrations = sqlite_migrations,
    .begin_write = "BEGIN IMMEDIATE",
    .lock_path = NULL,
    .for_update = "",
    .in_json = " AND term IN (SELECT value FROM json_each(?))",
    .epoch_text = "datetime(%s, 'unixepoch')",
    .begin_snapshot = "BEGIN", /* WAL: a reader sees one snapshot */
    .reset_ids = NULL,         /* a new row's id follows the largest */
};
