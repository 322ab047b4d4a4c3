/* sc_registry_pg: the registry's PostgreSQL backend (libpq). */
/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "sc_registry_int.h"

/* Migrations: the same schema as SQLite's, in PostgreSQL's types (BIGINT
 * ids and counts, DOUBLE PRECISION weights), text compared byte-wise
 * (COLLATE "C") so that every ORDER BY sorts as SQLite does, and the
 * immutability of frozen collection versions as triggers: a version's
 * members are written only by the transaction that made it. Append only. */
#define T " TEXT COLLATE \"C\""
static const char *const pg_migrations[] = {
    /* 0 -> 1 */
    "CREATE TABLE meta(key" T " PRIMARY KEY, value" T " NOT NULL);"
    "CREATE TABLE storage(id BIGSERIAL PRIMARY KEY, dir" T " NOT NULL UNIQUE);"
    "CREATE TABLE geneset(id BIGSERIAL PRIMARY KEY,"
    " key" T " NOT NULL UNIQUE, n_genes BIGINT NOT NULL);"
    "CREATE TABLE geneset_gene(geneset_id BIGINT NOT NULL"
    " REFERENCES geneset(id), gene" T " NOT NULL,"
    " PRIMARY KEY(geneset_id, gene));"
    "CREATE INDEX geneset_gene_gene ON geneset_gene(gene, geneset_id);"
    "CREATE TABLE artifact(id BIGSERIAL PRIMARY KEY,"
    " sha256" T " NOT NULL UNIQUE CHECK(length(sha256) = 64),"
    " size BIGINT NOT NULL, mtime BIGINT NOT NULL DEFAULT 0,"
    " format" T " NOT NULL, n_obs BIGINT, n_vars BIGINT,"
    " organism" T ", assay" T ", schema_version" T ","
    " storage_id BIGINT REFERENCES storage(id), path" T " NOT NULL,"
    " geneset_id BIGINT REFERENCES geneset(id),"
    " created BIGINT NOT NULL, version BIGINT NOT NULL,"
    " previous_id BIGINT UNIQUE REFERENCES artifact(id));"
    "CREATE INDEX artifact_path ON artifact(path, storage_id);"
    "CREATE INDEX artifact_created ON artifact(created);"
    "CREATE TABLE artifact_term(artifact_id BIGINT NOT NULL"
    " REFERENCES artifact(id), field" T " NOT NULL, term" T " NOT NULL,"
    " label" T ", n_cells BIGINT NOT NULL,"
    " PRIMARY KEY(artifact_id, field, term));"
    "CREATE INDEX artifact_term_term ON artifact_term(field, term)"
    " INCLUDE (n_cells, artifact_id);"
    "CREATE TABLE transform(id BIGSERIAL PRIMARY KEY, name" T " NOT NULL,"
    " version" T " NOT NULL, UNIQUE(name, version));"
    "CREATE TABLE run(id BIGSERIAL PRIMARY KEY, transform_id BIGINT NOT NULL"
    " REFERENCES transform(id), key" T " UNIQUE, arguments" T ", host" T ","
    " started" T ", finished" T ", status" T " NOT NULL);"
    "CREATE TABLE collection(id BIGSERIAL PRIMARY KEY, name" T " NOT NULL"
    " UNIQUE, description" T ", created BIGINT NOT NULL);"
    "CREATE TABLE collection_version(id BIGSERIAL PRIMARY KEY,"
    " collection_id BIGINT NOT NULL REFERENCES collection(id),"
    " version BIGINT NOT NULL, created BIGINT NOT NULL,"
    " UNIQUE(collection_id, version));"
    /* kind: 0 an artifact by sha256, 1 a URI, 2 a collection version */
    "CREATE TABLE run_io(run_id BIGINT NOT NULL REFERENCES run(id),"
    " output INTEGER NOT NULL, kind INTEGER NOT NULL, ref" T " NOT NULL,"
    " version_id BIGINT REFERENCES collection_version(id),"
    " PRIMARY KEY(run_id, output, ref));"
    "CREATE INDEX run_io_ref ON run_io(ref, output);"
    "CREATE TABLE collection_member(collection_id BIGINT NOT NULL"
    " REFERENCES collection(id), artifact_id BIGINT NOT NULL"
    " REFERENCES artifact(id), weight DOUBLE PRECISION NOT NULL DEFAULT 1,"
    " PRIMARY KEY(collection_id, artifact_id));"
    "CREATE TABLE collection_version_member(version_id BIGINT NOT NULL"
    " REFERENCES collection_version(id), artifact_id BIGINT NOT NULL"
    " REFERENCES artifact(id), n_obs BIGINT, weight DOUBLE PRECISION NOT NULL,"
    " PRIMARY KEY(version_id, artifact_id));"
    "CREATE INDEX cvm_artifact ON collection_version_member(artifact_id);"
    "CREATE FUNCTION sc_frozen() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN RAISE EXCEPTION 'collection versions are immutable'; END$$;"
    "CREATE FUNCTION sc_frozen_i() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN IF NOT (SELECT xmin FROM collection_version"
    "  WHERE id = NEW.version_id) = pg_current_xact_id()::xid THEN"
    "  RAISE EXCEPTION 'collection versions are immutable'; END IF;"
    " RETURN NEW; END$$;"
    "CREATE TRIGGER cv_frozen BEFORE UPDATE OR DELETE ON collection_version"
    " FOR EACH ROW EXECUTE FUNCTION sc_frozen();"
    "CREATE TRIGGER cvm_frozen BEFORE UPDATE OR DELETE ON"
    " collection_version_member FOR EACH ROW EXECUTE FUNCTION sc_frozen();"
    "CREATE TRIGGER cvm_frozen_i BEFORE INSERT ON collection_version_member"
    " FOR EACH ROW EXECUTE FUNCTION sc_frozen_i();",
    /* 1 -> 2: a collection version's split file, as immutable as it */
    "CREATE TABLE collection_version_split(version_id BIGINT PRIMARY KEY"
    " REFERENCES collection_version(id),"
    " sha256" T " NOT NULL CHECK(length(sha256) = 64),"
    " size BIGINT NOT NULL, content" T " NOT NULL, created BIGINT NOT NULL);"
    "CREATE TRIGGER cvs_frozen BEFORE UPDATE OR DELETE ON"
    " collection_version_split FOR EACH ROW EXECUTE FUNCTION sc_frozen();",
};
#undef T

#define MAX_PARAMS 64

struct sc_rst {
    sc_registry *reg;
    char *sql;           /* with $1, $2... */
    int n_params;        /* $1..$n_params */
    int map[MAX_PARAMS]; /* $k+1 takes the value bound at index map[k] */
    int n_vals;          /* highest index bound or used */
    char *vals[MAX_PARAMS + 1];
    Oid types[MAX_PARAMS + 1];
    PGresult *res;
    int row, n_rows, done;
};

#define CONN(reg) ((PGconn *)(reg)->conn)

/* The first line of a libpq message into reg->err. */
static void set_err(sc_registry *reg, const char *msg)
{
    size_t n;

    if (!strncmp(msg, "ERROR:  ", 8))
        msg += 8;
    n = strcspn(msg, "\n");
    snprintf(reg->err, sizeof reg->err, "%.*s", (int)n, msg);
}

static int fail_res(sc_registry *reg, PGresult *res)
{
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;

    reg->busy = state && (!strcmp(state, "40001") || !strcmp(state, "40P01"));
    reg->constraint = state && !strncmp(state, "23", 2);
    reg->readonly =
        state && (!strcmp(state, "25006") || !strcmp(state, "42501"));
    set_err(reg, res && *PQresultErrorMessage(res) ? PQresultErrorMessage(res)
                                                   : PQerrorMessage(CONN(reg)));
    return -1;
}

static int pg_exec(sc_registry *reg, const char *sql)
{
    PGresult *res = PQexec(CONN(reg), sql);
    int rc = 0;

    if (PQresultStatus(res) != PGRES_COMMAND_OK &&
        PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = fail_res(reg, res);
    PQclear(res);
    return rc;
}

static void no_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

static int pg_open(sc_registry *reg, unsigned flags)
{
    PGconn *c = PQconnectdb(reg->conninfo);

    if (!c)
        return sc_fail(SC_ENOMEM, "out of memory");
    if (PQstatus(c) != CONNECTION_OK) {
        set_err(reg, PQerrorMessage(c));
        PQfinish(c);
        return sc_fail(SC_EREGISTRY, "cannot connect to registry '%s': %s",
                       reg->path, reg->err);
    }
    reg->conn = c;
    PQsetNoticeProcessor(c, no_notice, NULL);
    /* JIT compiling costs more than the registry's short queries take */
    if (pg_exec(reg, "SET client_min_messages = warning; SET jit = off") < 0 ||
        ((flags & SC_REGISTRY_READONLY) &&
         pg_exec(reg, "SET SESSION CHARACTERISTICS AS TRANSACTION"
                      " READ ONLY") < 0))
        return sc_fail(SC_EREGISTRY, "registry '%s': %s", reg->path, reg->err);
    return 0;
}

static void pg_close(sc_registry *reg)
{
    PQfinish(CONN(reg));
    reg->conn = NULL;
}

/* SQL with SQLite's placeholders ("?", "?N") in PostgreSQL's ("$k"),
 * numbered in order of first use: a value bound but not used is not
 * sent (PostgreSQL could not tell its type). */
static int convert(sc_rst *st, const char *sql)
{
    size_t n = strlen(sql);
    char *out = malloc(n * 3 + 1), *o = out;
    int last = 0, quote = 0;

    if (!out)
        return -1;
    for (const char *p = sql; *p; p++) {
        if (*p == '\'')
            quote = !quote;
        if (quote || *p != '?') {
            *o++ = *p;
            continue;
        }
        int idx = 0, k;
        while (p[1] >= '0' && p[1] <= '9')
            idx = idx * 10 + (*++p - '0');
        if (!idx)
            idx = last + 1;
        if (idx > last)
            last = idx;
        if (idx > MAX_PARAMS) {
            free(out);
            return -1;
        }
        for (k = 0; k < st->n_params && st->map[k] != idx; k++)
            ;
        if (k == st->n_params)
            st->map[st->n_params++] = idx;
        o += sprintf(o, "$%d", k + 1);
    }
    *o = '\0';
    st->sql = out;
    return 0;
}

static int pg_prepare(sc_registry *reg, const char *sql, sc_rst **out)
{
    sc_rst *st = calloc(1, sizeof *st);

    *out = NULL;
    if (!st || convert(st, sql) < 0) {
        free(st);
        snprintf(reg->err, sizeof reg->err,
                 "out of memory, or more than %d parameters", MAX_PARAMS);
        return -1;
    }
    st->reg = reg;
    *out = st;
    return 0;
}

static void set_val(sc_rst *st, int i, char *v, Oid type)
{
    if (i < 1 || i > MAX_PARAMS) {
        free(v);
        return;
    }
    free(st->vals[i]);
    st->vals[i] = v;
    st->types[i] = type;
}

static void pg_bind_int(sc_rst *st, int i, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    set_val(st, i, strdup(buf), 20 /* int8 */);
}

static void pg_bind_double(sc_rst *st, int i, double v)
{
    char buf[40];
    snprintf(buf, sizeof buf, "%.17g", v);
    set_val(st, i, strdup(buf), 701 /* float8 */);
}

static void pg_bind_text(sc_rst *st, int i, const char *s)
{
    /* text goes untyped: the server takes the type its context needs */
    set_val(st, i, s ? strdup(s) : NULL, 0);
}

static int pg_step(sc_rst *st)
{
    sc_registry *reg = st->reg;

    if (!st->res && !st->done) {
        const char *vals[MAX_PARAMS];
        Oid types[MAX_PARAMS];
        for (int k = 0; k < st->n_params; k++) {
            vals[k] = st->vals[st->map[k]];
            types[k] = st->types[st->map[k]];
        }
        st->res = PQexecParams(CONN(reg), st->sql, st->n_params, types, vals,
                               NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(st->res);
        if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
            int rc = fail_res(reg, st->res);
            PQclear(st->res);
            st->res = NULL;
            return rc;
        }
        reg->changes = strtoll(PQcmdTuples(st->res), NULL, 10);
        st->n_rows = s == PGRES_TUPLES_OK ? PQntuples(st->res) : 0;
        st->row = -1;
    }
    if (st->res && st->row + 1 < st->n_rows) {
        st->row++;
        return ST_ROW;
    }
    st->done = 1;
    return ST_DONE;
}

static void pg_reset(sc_rst *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->done = 0;
}

static void pg_finalize(sc_rst *st)
{
    pg_reset(st);
    for (int i = 0; i <= MAX_PARAMS; i++)
        free(st->vals[i]);
    free(st->sql);
    free(st);
}

static const char *pg_col_text(sc_rst *st, int i)
{
    if (!st->res || st->row < 0 || st->row >= st->n_rows ||
        PQgetisnull(st->res, st->row, i))
        return "";
    return PQgetvalue(st->res, st->row, i);
}

static int pg_col_null(sc_rst *st, int i)
{
    return !st->res || st->row < 0 || st->row >= st->n_rows ||
           PQgetisnull(st->res, st->row, i);
}

static int64_t pg_col_int(sc_rst *st, int i)
{
    const char *s = pg_col_text(st, i);

    if (!strcmp(s, "t"))
        return 1;
    return strtoll(s, NULL, 10);
}

static double pg_col_double(sc_rst *st, int i)
{
    return strtod(pg_col_text(st, i), NULL);
}

/* One value of a query without parameters: 1 with *V, 0 without a row. */
static int query_int(sc_registry *reg, const char *sql, int64_t *v)
{
    sc_rst *st;
    int rc;

    if (pg_prepare(reg, sql, &st) < 0)
        return -1;
    if ((rc = pg_step(st)) == ST_ROW)
        *v = pg_col_int(st, 0);
    pg_finalize(st);
    return rc;
}

static int pg_get_schema(sc_registry *reg, int *v)
{
    int64_t x = 0;
    int rc;

    *v = 0;
    /* in a write transaction (a migration): one migrator at a time */
    if (reg->in_tx &&
        query_int(reg, "SELECT 1 FROM pg_advisory_xact_lock(5394531)", &x) < 0)
        return -1;
    if ((rc = query_int(reg,
                        "SELECT COUNT(*) FROM pg_catalog.pg_tables WHERE"
                        " schemaname = current_schema() AND tablename ="
                        " 'meta'",
                        &x)) < 0)
        return -1;
    if (rc == 0 || x == 0)
        return 0;
    if ((rc = query_int(reg,
                        "SELECT CAST(value AS BIGINT) FROM meta"
                        " WHERE key = 'schema_version'",
                        &x)) < 0)
        return -1;
    *v = rc ? (int)x : 0;
    return 0;
}

static int pg_set_schema(sc_registry *reg, int v)
{
    (void)reg;
    (void)v; /* recorded in meta by the migration */
    return 0;
}

static int pg_check(sc_registry *reg, int *ok)
{
    int64_t x = 0;

    /* every constraint of the registry's tables is in force */
    if (query_int(reg,
                  "SELECT COUNT(*) FROM pg_catalog.pg_constraint c JOIN"
                  " pg_catalog.pg_namespace n ON n.oid = c.connamespace"
                  " WHERE n.nspname = current_schema()"
                  " AND NOT c.convalidated",
                  &x) < 0)
        return -1;
    *ok = x == 0;
    return 0;
}

const sc_rdb_ops sc_rdb_pg = {
    .name = "postgresql",
    .open = pg_open,
    .close = pg_close,
    .prepare = pg_prepare,
    .bind_int = pg_bind_int,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .step = pg_step,
    .reset = pg_reset,
    .finalize = pg_finalize,
    .col_int = pg_col_int,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .col_null = pg_col_null,
    .exec = pg_exec,
    .get_schema = pg_get_schema,
    .set_schema = pg_set_schema,
    .check = pg_check,
    .migrations = pg_migrations,
    .begin_write = "BEGIN",
    .lock_path =
        "SELECT 1 FROM pg_advisory_xact_lock(hashtextextended(?::text, 0))",
    .for_update = " FOR UPDATE",
    .in_json = " AND term IN (SELECT json_array_elements_text(?::json))",
    .epoch_text = "to_char(to_timestamp(%s) AT TIME ZONE 'UTC',"
                  " 'YYYY-MM-DD HH24:MI:SS')",
    .begin_snapshot = "BEGIN ISOLATION LEVEL REPEATABLE READ",
    .reset_ids = "SELECT setval(pg_get_serial_sequence(?, 'id'), ?, false)",
};
