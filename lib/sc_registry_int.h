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

#endif
