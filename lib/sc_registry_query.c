/* sc_registry_query: artifacts by terms, organism and size; counts. */
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
    if ((rc = rg_prepare(reg, q->sql, st)) < 0)
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
        rc = rg_each_artifact(reg, st, 1, fn, ud, NULL);
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

    rc = rg_prepare(
        reg,
        version ? "SELECT t.term, MAX(t.label), SUM(t.n_cells),"
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
    rc = rg_step_end(reg, st, rc, s);
    return rc;
}
