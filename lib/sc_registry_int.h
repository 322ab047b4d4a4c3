/* sc_registry_int: the statement layer under sc_registry, one backend per
 * file (sc_registry_sqlite.c, sc_registry_pg.c). Internal to lib/. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_REGISTRY_INT_H
#define SC_REGISTRY_INT_H

#include <stdint.h>

#include "sc_registry.h"

/* A prepared statement of some backend. Placeholders are "?" or "?N"
 * (SQLite's spelling; the PostgreSQL backend renumbers them). */
typedef struct sc_rst sc_rst;

/* What step() returns besides a negative error. */
enum { ST_DONE = 0, ST_ROW = 1 };

typedef struct sc_rdb_ops {
    const char *name; /* "sqlite", "postgresql" */
    /* Connect REG (its uri set) with sc_registry_open's FLAGS: sets
     * reg->conn. Returns 0 or an SC_E* code with the message set. */
    int (*open)(sc_registry *reg, unsigned flags);
    void (*close)(sc_registry *reg);
    /* Prepare SQL: 0 with *ST, or -1 with reg->err set. */
    int (*prepare)(sc_registry *reg, const char *sql, sc_rst **st);
    void (*bind_int)(sc_rst *st, int i, int64_t v);
    void (*bind_double)(sc_rst *st, int i, double v);
    void (*bind_text)(sc_rst *st, int i, const char *s); /* NULL: null */
    /* ST_ROW, ST_DONE, or -1 with reg->err, reg->busy, reg->constraint
     * set; a write's reg->changes */
    int (*step)(sc_rst *st);
    void (*reset)(sc_rst *st); /* for new bindings; keeps the SQL */
    void (*finalize)(sc_rst *st);
    int64_t (*col_int)(sc_rst *st, int i); /* booleans read as 0/1 */
    double (*col_double)(sc_rst *st, int i);
    const char *(*col_text)(sc_rst *st, int i); /* "" for NULL */
    int (*col_null)(sc_rst *st, int i);
    /* Run SQL without results (several statements allowed). */
    int (*exec)(sc_registry *reg, const char *sql);
    /* The schema version recorded (0 for an empty database). */
    int (*get_schema)(sc_registry *reg, int *v);
    int (*set_schema)(sc_registry *reg, int v);
    /* The database's own consistency check. */
    int (*check)(sc_registry *reg, int *ok);
    /* Dialect: the migrations (index v: schema v -> v + 1), the statement
     * that begins a write, one that locks a path's version chain for the
     * transaction (bound: the path; NULL when BEGIN already serialises),
     * the suffix that locks a selected row,
     * "term IN the JSON array ?", and epoch seconds as
     * "YYYY-MM-DD HH:MM:SS" (a printf format of one %s). */
    const char *const *migrations;
    const char *begin_write;
    const char *lock_path;
    const char *for_update;
    const char *in_json;
    const char *epoch_text;
    /* A read transaction that sees one snapshot; after a copy, the
     * statement that makes the next id of a table (bound: its name) the
     * value bound second (NULL when ids need nothing). */
    const char *begin_snapshot;
    const char *reset_ids;
} sc_rdb_ops;

struct sc_registry {
    const sc_rdb_ops *ops;
    void *conn;
    char *path;     /* the URI (its password hidden) or file name */
    char *conninfo; /* the URI as given */
    int schema;
    int busy;       /* the last failure may pass if tried again */
    int constraint; /* the last failure broke a constraint */
    int readonly;   /* refused a write: no rights */
    int in_tx;
    int64_t changes; /* rows changed by the last write */
    char err[512];   /* the backend's last message */
};

extern const sc_rdb_ops sc_rdb_sqlite, sc_rdb_pg;

/* ------------------------------------------------------------------------ */
/* Shared by the sc_registry*.c files of the common SQL                     */

/* The statement calls of REG's backend; every statement of a function
 * belongs to the REG in scope. */
#define st_int(st, i, v)     reg->ops->bind_int(st, i, v)
#define st_double(st, i, v)  reg->ops->bind_double(st, i, v)
#define st_text(st, i, s)    reg->ops->bind_text(st, i, s)
#define st_step(st)          reg->ops->step(st)
#define st_reset(st)         reg->ops->reset(st)
#define st_free(st)          ((st) ? reg->ops->finalize(st) : (void)0)
#define st_col_int(st, i)    reg->ops->col_int(st, i)
#define st_col_double(st, i) reg->ops->col_double(st, i)
#define st_col_text(st, i)   reg->ops->col_text(st, i)

/* Artifact rows as sc_reg_artifact reads them (read_artifact). */
#define ARTIFACT_COLS                                                          \
    "a.id, a.sha256, CASE WHEN s.dir IS NULL THEN a.path"                      \
    " WHEN s.dir = '/' THEN '/' || a.path ELSE s.dir || '/' || a.path END,"    \
    " a.format, a.size, a.mtime, a.n_obs, a.n_vars, a.organism, a.assay,"      \
    " a.schema_version, a.created, a.version, a.previous_id,"                  \
    " NOT EXISTS (SELECT 1 FROM artifact b WHERE b.previous_id = a.id)"

#define ARTIFACT_FROM                                                          \
    " FROM artifact a LEFT JOIN storage s ON s.id = a.storage_id"

/* The error of REG's last call, as SC_EREGISTRY with WHAT. */
int rg_db_fail(sc_registry *reg, const char *what);
/* Prepare / run SQL on REG's backend; 0 or the error. */
int rg_prepare(sc_registry *reg, const char *sql, sc_rst **st);
int rg_exec(sc_registry *reg, const char *sql);
/* Step ST to its end (a write); 0 or the error. */
int rg_step_done(sc_registry *reg, sc_rst *st, const char *what);
/* One int64 from the first row of ST: 1 with *V, 0 without a row. */
int rg_step_int(sc_registry *reg, sc_rst *st, int64_t *v);
/* Finish a loop of callbacks over ST (finalizes ST). */
int rg_step_end(sc_registry *reg, sc_rst *st, int rc, int s);
/* Sleep before retry ATTEMPT of a busy database. */
void rg_backoff(int attempt);
/* Write transactions. */
int rg_begin(sc_registry *reg);
int rg_commit(sc_registry *reg);
void rg_rollback(sc_registry *reg);
/* Bring the schema from version FROM to the current one. */
int rg_migrate(sc_registry *reg, int from);
/* PATH made absolute (its directory resolved). */
int rg_abs_path(const char *path, char **out);
/* ABS as a storage root and the path below it. */
int rg_split_root(sc_registry *reg, const char *abs, int64_t *root,
                  const char **rel);
/* The id of the transform (TOOL, VERSION), made when new. */
int rg_transform_id(sc_registry *reg, const char *tool, const char *version,
                    int64_t *id);
/* Link the artifact REF (of KIND, at VERSION) to RUN as an input or
 * OUTPUT. */
int rg_link_io(sc_registry *reg, int64_t run, int output, int kind,
               const char *ref, int64_t version);
/* Call FN for each artifact row of ST (EXTRA: columns after them),
 * counting them in *COUNT. */
int rg_each_artifact(sc_registry *reg, sc_rst *st, int extra,
                     sc_reg_artifact_fn fn, void *ud, int64_t *count);
/* The id of collection NAME (LOCK: its row locked). */
int rg_collection_id(sc_registry *reg, const char *name, int lock, int64_t *id);

#endif
