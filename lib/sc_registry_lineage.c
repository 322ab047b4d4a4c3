/* sc_registry_lineage: runs and the lineage walk over them. */
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
#include "sc_provenance.h"
#include "sc_registry_int.h"

/* ---- runs ---- */

int sc_registry_run_start(sc_registry *reg, const char *tool,
                          const char *version, const char *arguments,
                          const char *host, int64_t *run)
{
    sc_rst *st = NULL;
    char now[32];
    int64_t tid;
    int rc;

    *run = 0;
    sc_time_iso((int64_t)time(NULL), now);
    if ((rc = rg_begin(reg)) < 0)
        return rc;
    if ((rc = rg_transform_id(reg, tool, version, &tid)) < 0 ||
        (rc = rg_prepare(reg,
                         "INSERT INTO run(transform_id, arguments, host,"
                         " started, status) VALUES (?, ?, ?, ?, 'running')"
                         " RETURNING id",
                         &st)) < 0)
        goto fail;
    st_int(st, 1, tid);
    st_text(st, 2, arguments);
    st_text(st, 3, host);
    st_text(st, 4, now);
    if ((rc = rg_step_int(reg, st, run)) <= 0) {
        rc = rc ? rc : rg_db_fail(reg, "run");
        goto fail;
    }
    st_free(st);
    return rg_commit(reg) < 0 ? (rg_rollback(reg), SC_EREGISTRY) : 0;
fail:
    st_free(st);
    rg_rollback(reg);
    return rc;
}

static int run_status(sc_registry *reg, int64_t run, char *buf, size_t size)
{
    sc_rst *st;
    int rc;

    if ((rc = rg_prepare(reg, "SELECT status FROM run WHERE id = ?", &st)) < 0)
        return rc;
    st_int(st, 1, run);
    if ((rc = st_step(st)) == ST_ROW) {
        snprintf(buf, size, "%s", st_col_text(st, 0));
        rc = 0;
    } else {
        rc = rc == ST_DONE ? sc_fail(SC_ENOTFOUND, "no run %" PRId64, run)
                           : rg_db_fail(reg, "run");
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
        if ((rc = rg_prepare(reg, "SELECT sha256 FROM artifact WHERE id = ?",
                             &st)) < 0)
            return rc;
        st_int(st, 1, artifact);
        if ((rc = st_step(st)) == ST_ROW)
            rc = rg_link_io(reg, run, output, 0, st_col_text(st, 0), 0);
        else
            rc = rc == ST_DONE
                     ? sc_fail(SC_ENOTFOUND, "no artifact %" PRId64, artifact)
                     : rg_db_fail(reg, "artifact");
        st_free(st);
        return rc;
    }
    if (version > 0) {
        snprintf(ref, sizeof ref, "version:%" PRId64, version);
        return rg_link_io(reg, run, output, 2, ref, version);
    }
    return rg_link_io(reg, run, output, 1, uri, 0);
}

int sc_registry_run_finish(sc_registry *reg, int64_t run, const char *status)
{
    sc_rst *st;
    char cur[32], now[32];
    int rc;

    if ((rc = run_status(reg, run, cur, sizeof cur)) < 0)
        return rc;
    if (strcmp(cur, "running"))
        return sc_fail(SC_EINVAL, "run %" PRId64 " is not running (%s)", run,
                       cur);
    sc_time_iso((int64_t)time(NULL), now);
    if ((rc = rg_prepare(reg,
                         "UPDATE run SET status = ?, finished = ?"
                         " WHERE id = ?",
                         &st)) < 0)
        return rc;
    st_text(st, 1, status);
    st_text(st, 2, now);
    st_int(st, 3, run);
    rc = rg_step_done(reg, st, "run");
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
    return rc == ST_DONE ? 0 : rg_db_fail(reg, "lineage");
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
    " COALESCE(a.sha256, CAST(io.version_id AS TEXT), io.ref)"                 \
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
        const char *at = strstr(q, "%s"),
                   *e = strstr(reg->ops->epoch_text, "%s");
        snprintf(epoch, sizeof epoch, "%.*scv.created%s",
                 (int)(e - reg->ops->epoch_text), reg->ops->epoch_text, e + 2);
        snprintf(buf, sizeof buf, "%.*s%s%s", (int)(at - q), q, epoch, at + 2);
        q = buf;
    }
    if ((rc = rg_prepare(reg, q, &st)) < 0)
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

    if ((rc = rg_prepare(reg,
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
