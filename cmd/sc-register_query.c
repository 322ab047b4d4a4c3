/* sc-register queries: query, show, counts, lineage; term expansion. */
/* SPDX-License-Identifier: MIT */
#define _XOPEN_SOURCE 700 /* strptime */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_match.h"
#include "sc_onto.h"
#include "sc_provenance.h"

#include "sc-register.h"

/* ---- output rows ---- */

static const char *const row_cols[] = {SC_MCOL_ID,      SC_MCOL_SHA256,
                                       SC_MCOL_FORMAT,  SC_MCOL_N_OBS,
                                       SC_MCOL_N_VARS,  SC_MCOL_ORGANISM,
                                       SC_MCOL_ASSAY,   SC_MCOL_VERSION,
                                       SC_MCOL_CREATED, NULL};

int rows_begin(struct out_rows *o, FILE *fp, int manifest, const char *extra)
{
    sc_manifest *m = NULL;
    int rc = 0;

    memset(o, 0, sizeof *o);
    o->fp = fp;
    o->manifest = manifest;
    o->extra = extra;
    if (!manifest) {
        fprintf(fp, "id\tpath");
        for (const char *const *c = row_cols + 1; *c; c++)
            fprintf(fp, "\t%s", *c);
        if (extra)
            fprintf(fp, "\t%s", extra);
        fputc('\n', fp);
        return 0;
    }
    if ((rc = sc_manifest_new(&m)) < 0)
        return rc;
    for (const char *const *c = row_cols; *c && rc == 0; c++)
        rc = sc_manifest_add_col(m, *c);
    if (rc == 0 && extra)
        rc = sc_manifest_add_col(m, extra);
    if (rc == 0)
        rc = sc_manifest_write_header(m, fp);
    if (rc < 0) {
        sc_manifest_free(m);
        return rc;
    }
    o->m = m;
    return 0;
}

static void extra_value(const struct out_rows *o, const sc_reg_artifact *x,
                        char *buf, size_t size)
{
    if (!strcmp(o->extra, SC_MCOL_WEIGHT))
        snprintf(buf, size, "%.10g", x->weight);
    else
        snprintf(buf, size, "%" PRId64, x->n_match);
}

int rows_artifact(const sc_reg_artifact *x, void *ud)
{
    struct out_rows *o = ud;
    char created[32], extra[64] = "";
    sc_mrow *r = NULL;
    int rc;

    sc_time_iso(x->created, created);
    if (o->extra)
        extra_value(o, x, extra, sizeof extra);
    o->n++;
    if (!o->manifest) {
        fprintf(o->fp,
                "%" PRId64 "\t%s\t%s\t%s\t%" PRId64 "\t%" PRId64
                "\t%s\t%s\t%" PRId64 "\t%s",
                x->id, x->path, x->sha256, x->format, x->n_obs, x->n_vars,
                x->organism, x->assay, x->version, created);
        if (o->extra)
            fprintf(o->fp, "\t%s", extra);
        fputc('\n', o->fp);
        return ferror(o->fp) ? sc_fail(SC_EIO, "cannot write the output") : 0;
    }
    if ((rc = sc_mrow_new(o->m, x->path, &r)) < 0)
        return rc;
    if ((rc = sc_mrow_setf(r, SC_MCOL_ID, "%" PRId64, x->id)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_SHA256, x->sha256)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_FORMAT, x->format)) < 0 ||
        (rc = sc_mrow_setf(r, SC_MCOL_N_OBS, "%" PRId64, x->n_obs)) < 0 ||
        (rc = sc_mrow_setf(r, SC_MCOL_N_VARS, "%" PRId64, x->n_vars)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_ORGANISM, x->organism)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_ASSAY, x->assay)) < 0 ||
        (rc = sc_mrow_setf(r, SC_MCOL_VERSION, "%" PRId64, x->version)) < 0 ||
        (rc = sc_mrow_set(r, SC_MCOL_CREATED, created)) < 0 ||
        (o->extra && (rc = sc_mrow_set(r, o->extra, extra)) < 0))
        goto out;
    rc = sc_manifest_write_row(o->m, r, o->fp);
out:
    sc_mrow_free(r);
    return rc;
}

int rows_end(struct out_rows *o)
{
    sc_manifest_free(o->m);
    o->m = NULL;
    return 0;
}

/* ---- term filters and the ontology ---- */

/* The ontologies a field's terms come from (CELLxGENE schema); only the
 * field's own name, not sc_match_field_find's other names. */
static const char *onts_of(const char *field)
{
    int f = sc_match_field_find(field);

    return f >= 0 && !strcmp(sc_match_field_name(f), field)
               ? sc_match_field_ontologies(f)
               : NULL;
}

static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p && (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
            return 1;
    return 0;
}

/* Load the ontologies the term filters of A need, from the share
 * directory's schema set. */
static int load_onto(const struct args *a, sc_onto **out)
{
    char **paths = NULL, name[64], version[64];
    const char *sel[32];
    size_t n = 0;
    sc_onto *o = NULL;
    int rc;

    *out = NULL;
    if ((rc = sc_onto_set_paths(sc_onto_run_set(0), &paths)) < 0)
        return rc;
    for (size_t i = 0; paths[i] && n < 32; i++) {
        if (sc_onto_probe(paths[i], name, version, sizeof name) < 0)
            continue;
        for (size_t k = 0; k < a->n_terms; k++)
            if (in_list(onts_of(a->terms[k].field), name)) {
                sel[n++] = paths[i];
                break;
            }
    }
    if ((rc = sc_onto_new(0, &o)) == 0 && n)
        rc = sc_onto_load_files(o, sel, n, a->cli->threads);
    sc_onto_paths_free(paths);
    if (rc < 0) {
        sc_onto_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* The term of ontology list ONTS that TEXT names: an id, else a label,
 * else an exact synonym. */
static int find_term(const sc_onto *o, const char *field, const char *text,
                     sc_onto_term *out)
{
    static const int idx[] = {SC_ONTO_BY_LABEL, SC_ONTO_BY_LABEL_CI,
                              SC_ONTO_BY_SYNONYM, SC_ONTO_BY_SYNONYM_CI};
    const char *onts = onts_of(field);
    char id[128];
    int rc;

    *out = SC_ONTO_NONE;
    if (sc_onto_normalize_id(text, id, sizeof id) == 0) {
        *out = sc_onto_find(o, id);
        return 0;
    }
    for (size_t k = 0; k < sizeof idx / sizeof *idx; k++) {
        sc_onto_term *v = NULL, pick = SC_ONTO_NONE;
        size_t n = 0, m = 0;
        if ((rc = sc_onto_lookup(o, idx[k], text, -1, &v, &n)) < 0)
            return rc;
        for (size_t i = 0; i < n; i++) {
            const char *ont = sc_onto_name(o, sc_onto_ontology(o, v[i]));
            if ((!onts || in_list(onts, ont)) &&
                !sc_onto_is_deprecated(o, v[i]) && m++ == 0)
                pick = v[i];
        }
        free(v);
        if (m > 1)
            return sc_fail(SC_EINVAL, "'%s' names %zu %s terms: give the id",
                           text, m, field);
        if (m == 1) {
            *out = pick;
            return 0;
        }
    }
    return sc_fail(SC_ENOTFOUND, "no %s term is called '%s'", field, text);
}

static int push_str(char ***v, size_t *n, const char *s)
{
    char **p = realloc(*v, (*n + 2) * sizeof *p);
    if (!p)
        return sc_fail(SC_ENOMEM, "out of memory");
    *v = p;
    if (!(p[*n] = strdup(s)))
        return sc_fail(SC_ENOMEM, "out of memory");
    p[++*n] = NULL;
    return 0;
}

/* The terms condition K stands for: the term and its descendants. */
static int expand(const struct args *a, const sc_onto *o, size_t k,
                  char ***terms, size_t *n)
{
    const struct term_arg *t = &a->terms[k];
    sc_onto_term term = SC_ONTO_NONE;
    const char *text = t->text;
    char id[128];
    int rc;

    if (!strcmp(t->field, "organism") && !strcmp(text, "human"))
        text = "NCBITaxon:9606";
    else if (!strcmp(t->field, "organism") && !strcmp(text, "mouse"))
        text = "NCBITaxon:10090";
    if (!o) {
        /* --no-expand with an id: no ontology needed */
        if (sc_onto_normalize_id(text, id, sizeof id) < 0)
            snprintf(id, sizeof id, "%s", text);
        return push_str(terms, n, id);
    }
    if ((rc = find_term(o, t->field, text, &term)) < 0) {
        /* CELLxGENE's own values ("na", "unknown") are not terms */
        if (rc != SC_ENOTFOUND || strchr(text, ' '))
            return rc;
        sc_err_clear();
        return push_str(terms, n, text);
    }
    if (term == SC_ONTO_NONE) {
        if (sc_onto_normalize_id(text, id, sizeof id) < 0)
            snprintf(id, sizeof id, "%s", text);
        sc_log_warn("'%s' is not in the loaded ontologies: matching it alone",
                    id);
        return push_str(terms, n, id);
    }
    if ((rc = push_str(terms, n, sc_onto_id(o, term))) < 0)
        return rc;
    sc_log_info("%s '%s' is %s '%s'", t->field, t->text, sc_onto_id(o, term),
                sc_onto_label(o, term));
    if (!a->no_expand) {
        sc_onto_link *d = NULL;
        size_t nd = 0;
        if ((rc = sc_onto_descendants(o, term, &d, &nd)) < 0)
            return rc;
        for (size_t i = 0; i < nd && rc == 0; i++)
            rc = push_str(terms, n, sc_onto_id(o, d[i].term));
        free(d);
        sc_log_info("with %zu descendants", nd);
    }
    return rc;
}

int parse_time(const char *s, int64_t *out)
{
    struct tm tm = {0};
    const char *end;

    if (s[0] == '@')
        return sc_parse_int(s + 1, 0, INT64_MAX, out);
    if (!(end = strptime(s, "%Y-%m-%d", &tm)))
        return sc_fail(SC_EINVAL, "bad time '%s' (YYYY-MM-DD[THH:MM:SS])", s);
    if (*end == 'T' || *end == ' ')
        end = strptime(end + 1, "%H:%M:%S", &tm);
    if (end && *end == 'Z')
        end++;
    if (!end || *end)
        return sc_fail(SC_EINVAL, "bad time '%s' (YYYY-MM-DD[THH:MM:SS])", s);
    *out = (int64_t)timegm(&tm);
    return 0;
}

int query_build(const struct args *a, struct query *q)
{
    sc_onto *o = NULL;
    int rc = 0, need = 0;

    memset(q, 0, sizeof *q);
    for (size_t k = 0; k < a->n_terms; k++) {
        char id[128];
        if (!a->no_expand ||
            sc_onto_normalize_id(a->terms[k].text, id, sizeof id) < 0)
            need = 1;
    }
    if (a->n_terms) {
        if (!(q->conds = calloc(a->n_terms, sizeof *q->conds)) ||
            !(q->terms = calloc(a->n_terms, sizeof *q->terms)))
            return sc_fail(SC_ENOMEM, "out of memory");
        if (need && (rc = load_onto(a, &o)) < 0)
            return rc;
    }
    for (size_t k = 0; k < a->n_terms && rc == 0; k++) {
        size_t n = 0;
        rc = expand(a, o, k, &q->terms[k], &n);
        q->conds[k].field = a->terms[k].field;
        q->conds[k].terms = (const char *const *)q->terms[k];
        q->conds[k].n_terms = n;
    }
    sc_onto_free(o);
    q->q.conds = q->conds;
    q->q.n_conds = a->n_terms;
    q->q.min_cells = a->min_cells;
    q->q.genes = a->genes;
    q->q.n_genes = a->n_genes;
    q->q.format = a->format;
    q->q.all_versions = a->all_versions;
    q->q.limit = a->limit;
    q->q.created_after = a->since;
    q->q.created_before = a->until;
    if (rc == 0 && a->transform) {
        const char *at = strchr(a->transform, '@');
        if (!(q->q.transform =
                  at ? strndup(a->transform, (size_t)(at - a->transform))
                     : strdup(a->transform)))
            return sc_fail(SC_ENOMEM, "out of memory");
        q->q.transform_version = at ? at + 1 : NULL;
    }
    return rc;
}

void query_release(struct query *q)
{
    for (size_t k = 0; q->terms && k < q->q.n_conds; k++) {
        for (size_t i = 0; q->terms[k] && q->terms[k][i]; i++)
            free(q->terms[k][i]);
        free(q->terms[k]);
    }
    free(q->terms);
    free(q->conds);
    free((char *)q->q.transform);
}

/* ---- query ---- */

int cmd_query(struct args *a, int argc, char **argv)
{
    struct query q;
    struct out_rows o;
    sc_registry *reg = NULL;
    sc_atomic at = {0};
    FILE *fp;
    int rc;

    (void)argv;
    if (argc > 0)
        return usage_fail("query takes options, not operands");
    if ((rc = query_build(a, &q)) < 0)
        goto out;
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &reg)) < 0 ||
        (rc = out_open(a, &at, &fp)) < 0)
        goto out;
    if ((rc = rows_begin(&o, fp, a->manifest, "n_match")) == 0) {
        rc = sc_registry_query(reg, &q.q, rows_artifact, &o);
        rows_end(&o);
        sc_log_info("%" PRId64 " artifacts", o.n);
    }
    rc = out_close(&at, rc);
out:
    query_release(&q);
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}

/* ---- show ---- */

static int show_artifact(const sc_reg_artifact *x, void *ud)
{
    FILE *fp = ud;
    char created[32];

    sc_time_iso(x->created, created);
    fprintf(fp,
            "id\t%" PRId64 "\npath\t%s\nsha256\t%s\nsize\t%" PRId64
            "\nformat\t%s\nn_obs\t%" PRId64 "\nn_vars\t%" PRId64
            "\norganism\t%s\nassay\t%s\nschema_version\t%s\ncreated\t%s\n"
            "version\t%" PRId64 "\n",
            x->id, x->path, x->sha256, x->size, x->format, x->n_obs, x->n_vars,
            x->organism, x->assay, x->schema_version, created, x->version);
    if (x->previous)
        fprintf(fp, "previous\t%" PRId64 "\n", x->previous);
    fprintf(fp, "latest\t%s\n", x->latest ? "yes" : "no");
    return 0;
}

static int show_term(const char *field, const char *term, const char *label,
                     int64_t n, void *ud)
{
    fprintf(ud, "term\t%s\t%s\t%s\t%" PRId64 "\n", field, term, label, n);
    return 0;
}

int cmd_show(struct args *a, int argc, char **argv)
{
    sc_registry *reg = NULL;
    sc_atomic at = {0};
    int64_t id, gs, ng;
    FILE *fp;
    int rc;

    if (argc != 1)
        return usage_fail("show takes one artifact");
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &reg)) < 0)
        return rc;
    if ((rc = sc_registry_resolve(reg, argv[0], &id)) < 0 ||
        (rc = out_open(a, &at, &fp)) < 0)
        goto out;
    if ((rc = sc_registry_get(reg, id, show_artifact, fp)) == 0 &&
        (rc = sc_registry_geneset(reg, id, &gs, &ng)) == 0) {
        if (gs)
            fprintf(fp, "genes\t%" PRId64 "\t(gene set %" PRId64 ")\n", ng, gs);
        rc = sc_registry_terms(reg, id, show_term, fp);
    }
    rc = out_close(&at, rc);
out:
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}

/* ---- counts ---- */

static int count_row(const char *term, const char *label, int64_t n_cells,
                     int64_t n_datasets, void *ud)
{
    fprintf(ud, "%s\t%s\t%" PRId64 "\t%" PRId64 "\n", term, label, n_cells,
            n_datasets);
    return 0;
}

int cmd_counts(struct args *a, int argc, char **argv)
{
    sc_registry *reg = NULL;
    sc_atomic at = {0};
    int64_t vid = 0;
    FILE *fp;
    int rc;

    if (argc > 1)
        return usage_fail("counts takes at most one NAME@N");
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &reg)) < 0)
        return rc;
    if (argc == 1 &&
        (rc = sc_registry_collection_version(reg, argv[0], &vid)) < 0)
        goto out;
    if ((rc = out_open(a, &at, &fp)) < 0)
        goto out;
    fprintf(fp, "term\tlabel\tn_cells\tn_datasets\n");
    rc = sc_registry_counts(reg, vid, a->field ? a->field : "cell_type",
                            count_row, fp);
    rc = out_close(&at, rc);
out:
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}

/* ---- lineage ---- */

static const char *const kind_names[] = {"artifact", "run", "collection",
                                         "source", "missing"};

struct lin {
    FILE *fp;
    int dot, down;
};

/* A DOT node name for kind K and id ID (or the label for sources). */
void dot_name(char *buf, size_t size, int k, int64_t id, const char *label)
{
    if (k == SC_REG_NODE_URI || k == SC_REG_NODE_MISSING)
        snprintf(buf, size, "%c_%s", k == SC_REG_NODE_URI ? 'u' : 'm', label);
    else
        snprintf(buf, size, "%c%" PRId64, "arv"[k], id);
}

void lineage_key(const sc_reg_node *n, char *key, size_t ksize, char *label,
                 size_t lsize)
{
    const char *lb = n->label ? n->label : "";

    if (n->kind == SC_REG_NODE_MISSING && n->detail && *n->detail) {
        dot_name(key, ksize, n->kind, n->id, n->detail);
        snprintf(label, lsize, "%s (sha256 %.12s)", lb, n->detail);
    } else {
        dot_name(key, ksize, n->kind, n->id, lb);
        snprintf(label, lsize, "%s", lb);
    }
}

static void dot_quote(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fputc('\\', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}

static int lin_node(const sc_reg_node *n, void *ud)
{
    struct lin *l = ud;
    char me[600], parent[600], label[600];

    if (!l->dot) {
        if (n->depth == 0) {
            fprintf(l->fp, "artifact %" PRId64 "  %s\n", n->id, n->label);
            return 0;
        }
        fprintf(l->fp, "%*s%s %s", 2 * n->depth, "", l->down ? "->" : "<-",
                kind_names[n->kind]);
        if (n->kind <= SC_REG_NODE_RUN)
            fprintf(l->fp, " %" PRId64, n->id);
        fprintf(l->fp, "  %s", n->label);
        if (*n->detail && n->kind != SC_REG_NODE_ARTIFACT)
            fprintf(l->fp, "  %s", n->detail);
        fputc('\n', l->fp);
        return 0;
    }
    lineage_key(n, me, sizeof me, label, sizeof label);
    fputs("  ", l->fp);
    dot_quote(l->fp, me);
    fprintf(l->fp, " [shape=%s, label=",
            n->kind == SC_REG_NODE_RUN       ? "box"
            : n->kind == SC_REG_NODE_VERSION ? "folder"
                                             : "ellipse");
    dot_quote(l->fp, label);
    fputs("];\n", l->fp);
    if (n->depth == 0)
        return 0;
    dot_name(parent, sizeof parent, (int)n->parent_kind, n->parent_id,
             n->parent_ref ? n->parent_ref : "");
    fputs("  ", l->fp);
    dot_quote(l->fp, l->down ? parent : me);
    fputs(" -> ", l->fp);
    dot_quote(l->fp, l->down ? me : parent);
    fputs(";\n", l->fp);
    return 0;
}

int cmd_lineage(struct args *a, int argc, char **argv)
{
    sc_registry *reg = NULL;
    sc_atomic at = {0};
    struct lin l = {NULL, a->dot, 0};
    int64_t id;
    int rc, up = a->up || !a->down, down = a->down || !a->up;

    if (argc != 1)
        return usage_fail("lineage takes one artifact");
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &reg)) < 0)
        return rc;
    if ((rc = sc_registry_resolve(reg, argv[0], &id)) < 0 ||
        (rc = out_open(a, &at, &l.fp)) < 0)
        goto out;
    if (l.dot)
        fputs("digraph lineage {\n  rankdir=LR;\n", l.fp);
    for (int dir = 0; dir < 2 && rc == 0; dir++) {
        if (!(dir ? down : up))
            continue;
        l.down = dir;
        if (!l.dot)
            fprintf(l.fp, "%s\n", dir ? "downstream:" : "upstream:");
        rc = sc_registry_lineage(reg, id, dir, (int)a->depth, lin_node, &l);
    }
    if (l.dot && rc == 0)
        fputs("}\n", l.fp);
    rc = out_close(&at, rc);
out:
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}
