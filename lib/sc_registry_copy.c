/* sc_registry_copy: copying a registry into another (sc-register migrate). */
/* SPDX-License-Identifier: MIT */

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
            o += sprintf(o, "%s%s%s",
                         i   ? ""
                         : r ? ", ("
                             : "(",
                         i ? ", ?" : "?", i == nc - 1 ? ")" : "");
    /* meta: the destination's creation wrote the same keys */
    if (!strcmp(t->name, "meta"))
        strcpy(o, " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    rc = rg_prepare(reg, sql, &st);
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
    rc = rg_step_done(reg, st, t->name);
    st_free(st);
    return rc;
}

/* One value of a row as the check's text: NULL as "\N", numbers in one
 * spelling on every backend, text with its length first. */
static int hash_value(sc_registry *reg, sc_rst *s, int i, char type, sc_hash *h)
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

    snprintf(sql, sizeof sql, "SELECT %s FROM %s ORDER BY %s", t->cols, t->name,
             t->order);
    sum->table = t->name;
    sum->rows = 0;
    if ((rc = sc_hash_new(&h)) < 0)
        return rc;
    if ((rc = rg_prepare(reg, sql, &st)) < 0) {
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
    rc = rg_step_end(reg, st, rc, s);
    if (rc == 0)
        rc = sc_hash_final(h, sum->sha256);
    sc_hash_free(h);
    return rc;
}

/* Copy the rows of table T from REG to DST, many per statement; WHERE
 * (may be NULL) selects some, bound to KEY. A collection version's members
 * follow it. */
static int copy_rows(sc_registry *reg, sc_registry *dst,
                     const struct copy_table *t, const char *where, int64_t key,
                     int64_t *n_rows)
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
    if ((rc = rg_prepare(reg, sql, &s)) == 0) {
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
        rc = rg_step_end(reg, s, rc, step);
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
    if ((rc = rg_prepare(reg, sql, &st)) < 0)
        return rc;
    rc = rg_step_int(reg, st, &max);
    st_free(st);
    if (rc < 0 || (rc = rg_prepare(reg, reg->ops->reset_ids, &st)) < 0)
        return rc;
    st_text(st, 1, table);
    st_int(st, 2, max + 1);
    rc = rg_step_done(reg, st, "reset ids");
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
    if ((rc = rg_exec(src, src->ops->begin_snapshot)) < 0)
        return rc;
    src->in_tx = 1;
    if ((rc = rg_begin(dst)) < 0)
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
        rc = rg_commit(dst);
    if (rc < 0)
        rg_rollback(dst);
done:
    rg_rollback(src);
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
