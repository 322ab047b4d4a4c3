/* sc-register report: a static HTML report of the registry's datasets: the
 * overview, a page per dataset and a page per collection version. */
/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sc-register.h"
#include "sc_adata.h"
#include "sc_log.h"
#include "sc_provenance.h"
#include "sc_report.h"

/* What the report collects from the query's artifacts. */
struct collect {
    json_t *rows;     /* the datasets table */
    json_t *sizes;    /* [{"n_obs", "n_vars"}] for the histograms */
    json_t *organism; /* name -> cells */
    json_t *assay;
    json_t *ids; /* "id" -> true: the datasets with a page */
    int64_t n, cells;
    int rc;
};

static void add_to(json_t *by, const char *key, int64_t n)
{
    json_t *v = json_object_get(by, key && *key ? key : "(none)");

    json_object_set_new(by, key && *key ? key : "(none)",
                        json_integer(json_integer_value(v) + n));
}

/* The page of dataset ID, relative to the report, and its key in ids. */
static void page_of(int64_t id, char href[32], char key[24])
{
    snprintf(href, 32, "d/%" PRId64 ".html", id);
    snprintf(key, 24, "%" PRId64, id);
}

static int collect_artifact(const sc_reg_artifact *x, void *ud)
{
    struct collect *c = ud;
    char href[32], key[24];
    json_t *row;

    page_of(x->id, href, key);
    row = json_pack("[I, o, s, I, I, s, s, I]", (json_int_t)x->id,
                    sc_report_link(x->path, href), x->format,
                    (json_int_t)x->n_obs, (json_int_t)x->n_vars,
                    x->organism ? x->organism : "", x->assay ? x->assay : "",
                    (json_int_t)x->version);
    if (!row || json_array_append_new(c->rows, row) < 0 ||
        json_array_append_new(
            c->sizes, json_pack("{s:I, s:I}", "n_obs", (json_int_t)x->n_obs,
                                "n_vars", (json_int_t)x->n_vars)) < 0 ||
        json_object_set_new(c->ids, key, json_true()) < 0)
        return c->rc = sc_fail(SC_ENOMEM, "out of memory");
    add_to(c->organism, x->organism, x->n_obs);
    add_to(c->assay, x->assay, x->n_obs);
    c->n++;
    c->cells += x->n_obs;
    return 0;
}

/* BY (name -> number) as an array of {"name", NUM}. */
static json_t *values_of(json_t *by, const char *num)
{
    json_t *out = json_array(), *v;
    const char *k;

    json_object_foreach(by, k, v)
        json_array_append_new(out, json_pack("{s:s, s:O}", "name", k, num, v));
    return out;
}

struct terms {
    json_t *values;
    size_t n, max;
};

static int collect_term(const char *term, const char *label, int64_t n_cells,
                        int64_t n_datasets, void *ud)
{
    struct terms *t = ud;
    char name[512];

    (void)n_datasets;
    if (t->n++ >= t->max) /* most cells first: keep the top ones */
        return 0;
    snprintf(name, sizeof name, "%s (%s)", label && *label ? label : term,
             term);
    json_array_append_new(t->values, json_pack("{s:s, s:I}", "name", name,
                                               "cells", (json_int_t)n_cells));
    return 0;
}

/* The overview section's charts of cells per term of each field. */
static int term_charts(sc_registry *reg, json_t *charts)
{
    static const char *const fields[] = {"cell_type", "tissue", "disease"};
    char title[128];
    int rc;

    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        struct terms t = {json_array(), 0, 30};

        rc = sc_registry_counts(reg, 0, fields[i], collect_term, &t);
        if (rc < 0) {
            json_decref(t.values);
            return rc;
        }
        if (t.n > t.max)
            snprintf(title, sizeof title, "Cells per %s (top %zu of %zu)",
                     fields[i], t.max, t.n);
        else
            snprintf(title, sizeof title, "Cells per %s", fields[i]);
        json_array_append_new(charts,
                              sc_report_bars(title, t.values, "name", "cells"));
    }
    return 0;
}

/* ---- a dataset's page ---- */

/* A section {"title", "text"?, "charts", "table"?} appended to SECS. */
static void section(json_t *secs, const char *title, const char *text,
                    json_t *charts, json_t *columns, json_t *rows)
{
    json_t *s, *c;
    size_t i;

    /* a chart of no data is no chart (and Vega warns of its extent) */
    json_array_foreach(charts, i, c) if (!json_array_size(json_object_get(
                                             json_object_get(c, "data"),
                                             "values")))
    {
        json_array_remove(charts, i);
        i--;
    }
    s = json_pack("{s:s, s:o}", "title", title, "charts",
                  charts ? charts : json_array());

    if (text)
        json_object_set_new(s, "text", json_string(text));
    if (columns)
        json_object_set_new(
            s, "table",
            json_pack("{s:o, s:o}", "columns", columns, "rows", rows));
    json_array_append_new(secs, s);
}

/* The artifact's record, copied out of the callback. */
static int get_artifact(const sc_reg_artifact *x, void *ud)
{
    char t[32];

    sc_time_iso(x->created, t);
    *(json_t **)ud = json_pack(
        "[[s, I], [s, s], [s, s], [s, s], [s, I], [s, I], [s, I], [s, s], "
        "[s, s], [s, s], [s, s], [s, I], [s, I], [s, s]]",
        "id", (json_int_t)x->id, "path", x->path, "sha256",
        x->sha256 ? x->sha256 : "", "format", x->format, "size",
        (json_int_t)x->size, "cells", (json_int_t)x->n_obs, "genes",
        (json_int_t)x->n_vars, "organism", x->organism ? x->organism : "",
        "assay", x->assay ? x->assay : "", "schema version",
        x->schema_version ? x->schema_version : "", "registered", t, "version",
        (json_int_t)x->version, "previous version", (json_int_t)x->previous,
        "latest", x->latest ? "yes" : "no");
    return 0;
}

struct dterms {
    json_t *rows, *cell_types;
};

static int dataset_term(const char *field, const char *term, const char *label,
                        int64_t n_cells, void *ud)
{
    struct dterms *t = ud;

    json_array_append_new(t->rows,
                          json_pack("[s, s, s, I]", field, term,
                                    label ? label : "", (json_int_t)n_cells));
    if (!strcmp(field, "cell_type") && json_array_size(t->cell_types) < 30) {
        char name[512];

        snprintf(name, sizeof name, "%s (%s)", label && *label ? label : term,
                 term);
        json_array_append_new(t->cell_types,
                              json_pack("{s:s, s:I}", "name", name, "cells",
                                        (json_int_t)n_cells));
    }
    return 0;
}

static const char *const node_kinds[] = {"artifact", "run", "collection",
                                         "source", "missing"};

/* At most this many nodes in a dataset page's lineage graph. */
#define GRAPH_MAX 300

struct lineage {
    json_t *rows;
    json_t *ups;   /* the upstream artifacts' ids, nearest first */
    json_t *nodes; /* the graph's nodes {"key", "label", "kind", ...} */
    json_t *edges; /* [[from key, to key]...] */
    json_t *seen;  /* node key -> true */
    int down;
    struct collect *c;
};

/* Node N of the lineage graph L and the edge that reached it. */
static void graph_node(struct lineage *l, const sc_reg_node *n,
                       const char *href)
{
    char me[600], parent[600], label[600];
    json_t *o;

    lineage_key(n, me, sizeof me, label, sizeof label);
    if (!json_object_get(l->seen, me)) {
        if (json_array_size(l->nodes) >= GRAPH_MAX)
            return;
        json_object_set_new(l->seen, me, json_true());
        o = json_pack("{s:s, s:s, s:s}", "key", me, "label", label, "kind",
                      n->kind >= 0 && n->kind < 5 ? node_kinds[n->kind] : "?");
        if (href)
            json_object_set_new(o, "href", json_string(href));
        if (n->depth == 0)
            json_object_set_new(o, "start", json_true());
        json_array_append_new(l->nodes, o);
    }
    if (n->depth > 0) {
        dot_name(parent, sizeof parent, (int)n->parent_kind, n->parent_id,
                 n->parent_ref ? n->parent_ref : "");
        json_array_append_new(
            l->edges,
            json_pack("[s, s]", l->down ? parent : me, l->down ? me : parent));
    }
}

static int lineage_node(const sc_reg_node *n, void *ud)
{
    struct lineage *l = ud;
    char href[32], key[24];
    json_t *name;

    page_of(n->id, href, key);
    if (!l->down && n->kind == SC_REG_NODE_ARTIFACT)
        json_array_append_new(l->ups, json_integer(n->id));
    int linked =
        n->kind == SC_REG_NODE_ARTIFACT && json_object_get(l->c->ids, key);
    graph_node(l, n, linked ? href + 2 : NULL);
    name = linked ? sc_report_link(n->label ? n->label : "", href + 2)
                  : json_string(n->label ? n->label : "");
    json_array_append_new(
        l->rows,
        json_pack(
            "[s, i, s, o, s, s]", l->down ? "downstream" : "upstream", n->depth,
            n->kind >= 0 && n->kind < 5 ? node_kinds[n->kind] : "?", name,
            n->detail ? n->detail : "", n->parent_ref ? n->parent_ref : ""));
    return 0;
}

/* A tool's JSON report beside dataset PATH ("x.h5ad" -> "x.SUFFIX"), when
 * it is a regular file of that dataset (its "output" names the same file);
 * NULL otherwise. A damaged one is a warning and the page says so in
 * *PROBLEM. */
static json_t *sidecar(const char *path, const char *suffix, char *problem,
                       size_t size)
{
    char side[4096];
    const char *dot = strrchr(path, '.'), *slash = strrchr(path, '/');
    const char *base = slash ? slash + 1 : path, *out;
    struct stat st;
    json_error_t err;
    json_t *j;
    size_t n = dot && dot > base ? (size_t)(dot - path) : strlen(path);

    if ((size_t)snprintf(side, sizeof side, "%.*s%s", (int)n, path, suffix) >=
            sizeof side ||
        stat(side, &st) < 0 || !S_ISREG(st.st_mode))
        return NULL;
    if (st.st_size > 256 << 20) {
        snprintf(problem, size, "'%s': too large for a report", side);
        sc_log_warn("%s", problem);
        return NULL;
    }
    if (!(j = json_load_file(side, 0, &err)) || !json_is_object(j)) {
        snprintf(problem, size, "'%s': not a JSON report: %s", side,
                 j ? "not an object" : err.text);
        sc_log_warn("%s", problem);
        json_decref(j);
        return NULL;
    }
    out = json_string_value(json_object_get(j, "output"));
    slash = out ? strrchr(out, '/') : NULL;
    if (!out || strcmp(slash ? slash + 1 : out, base)) {
        json_decref(j);
        return NULL;
    }
    return j;
}

static int get_path(const sc_reg_artifact *x, void *ud)
{
    snprintf(ud, 4096, "%s", x->path);
    return 0;
}

/* The report SUFFIX beside dataset PATH, else beside the nearest upstream
 * artifact of UPS that has one (sc-annotate's output: the harmonize report
 * is beside its input). */
static json_t *find_sidecar(sc_registry *reg, const char *path,
                            const json_t *ups, const char *suffix,
                            char *problem, size_t size)
{
    json_t *j = sidecar(path, suffix, problem, size), *v;
    char up[4096];
    size_t i;

    json_array_foreach(ups, i, v)
    {
        if (j)
            break;
        *up = '\0';
        if (sc_registry_get(reg, json_integer_value(v), get_path, up) == 0 &&
            *up)
            j = sidecar(up, suffix, problem, size);
    }
    return j;
}

static int64_t num(const json_t *o, const char *k)
{
    return (int64_t)json_number_value(json_object_get(o, k));
}

/* Up to MAX values of the numeric obs column NAME of AD, evenly spaced. */
static json_t *qc_values(const sc_adata *ad, const char *name, int64_t max)
{
    const sc_elem *e = sc_elem_get(ad->obs, name);
    int64_t n = e ? sc_elem_count(e) : 0, step;
    json_t *v;

    if (n <= 0)
        return NULL;
    step = n > max ? (n + max - 1) / max : 1;
    v = json_array();
    for (int64_t i = 0; i < n; i += step)
        json_array_append_new(v, json_pack("{s:f}", name, sc_elem_num(e, i)));
    return v;
}

/* The QC section from the harmonize report REP, with the distributions of
 * the QC columns sc-harmonize wrote into the file at PATH (read when the
 * file is still the one registered: SIZE and MTIME). */
static void qc_section(json_t *secs, const json_t *rep, const char *path,
                       int64_t size, int64_t mtime)
{
    static const char *const cols[] = {"n_genes", "total_counts",
                                       "pct_counts_mt"};
    const json_t *q = json_object_get(rep, "qc");
    json_t *charts = json_array(), *rows = json_array(), *fate;
    char text[512] = "";
    struct stat st;
    sc_adata *ad = NULL;

    if (!q)
        return;
    fate = json_pack("[{s:s, s:I}, {s:s, s:I}, {s:s, s:I}, {s:s, s:I}]", "name",
                     "cells in", "cells", (json_int_t)num(q, "n_cells_in"),
                     "name", "low quality (refused)", "cells",
                     (json_int_t)num(q, "n_cells_low_quality"), "name",
                     "MAD outliers", "cells", (json_int_t)num(q, "n_outliers"),
                     "name", "cells kept", "cells",
                     (json_int_t)num(q, "n_cells_out"));
    json_array_append_new(charts, sc_report_bars("Cells kept and refused", fate,
                                                 "name", "cells"));
    const char *k;
    json_t *v;
    json_object_foreach((json_t *)q, k, v) if (json_is_number(v))
        json_array_append_new(rows,
                              json_pack("[s, f]", k, json_number_value(v)));
    if (stat(path, &st) == 0 && st.st_size == size &&
        (int64_t)st.st_mtime == mtime && sc_adata_open(path, 0, &ad) == 0) {
        for (size_t i = 0; i < sizeof cols / sizeof *cols; i++) {
            json_t *vals = qc_values(ad, cols[i], 5000);

            if (vals)
                json_array_append_new(
                    charts,
                    sc_report_histogram(cols[i], vals, cols[i], i == 1));
        }
        sc_adata_close(ad);
    } else
        snprintf(text, sizeof text,
                 "the file is not the one registered any "
                 "more: no distributions");
    section(secs, "Quality control", *text ? text : NULL, charts,
            json_pack("[s, s]", "measure", "value"), rows);
}

/* The gene mapping section from the harmonize report REP. */
static void genes_section(json_t *secs, const json_t *rep)
{
    const json_t *g = json_object_get(rep, "genes");
    json_t *kinds, *rows = json_array(), *v;
    const char *k;

    if (!g)
        return;
    kinds = json_object_get(g, "kinds");
    json_object_foreach((json_t *)g, k,
                        v) if (json_is_number(v) || json_is_string(v))
        json_array_append_new(rows, json_pack("[s, O]", k, v));
    section(secs, "Gene mapping",
            "how the dataset's genes mapped to the reference, by tier",
            json_pack("[o]", sc_report_bars("Genes per mapping tier",
                                            values_of(kinds, "genes"), "name",
                                            "genes")),
            json_pack("[s, s]", "measure", "value"), rows);
}

/* 1 if S holds a tab or a line break (it cannot be a TSV field). */
static int tsv_unsafe(const char *s)
{
    return s[strcspn(s, "\t\r\n")] != '\0';
}

/* The label mapping sections from the sc-annotate report ANN: cells per
 * tier and the to-do list of labels not mapped with confidence. The
 * to-do list is also written to TSV (when not NULL) as a mapping file for
 * sc-annotate -m: field, label, an empty term_id for the curator, cells,
 * tier, suggestions; a label holding a tab or a line break is left out
 * of it (it could not be matched back), and counted in *N_SKIPPED. */
static void labels_section(json_t *secs, const json_t *ann, FILE *tsv,
                           size_t *n_skipped)
{
    const json_t *fields = json_object_get(ann, "fields"), *f;
    json_t *tiers = json_object(), *todo = json_array();
    const char *name;

    if (!fields)
        return;
    json_object_foreach((json_t *)fields, name, f)
    {
        const json_t *l;
        size_t i;

        json_array_foreach(json_object_get(f, "labels"), i, l)
        {
            const char *tier = json_string_value(json_object_get(l, "tier"));
            char key[256], sugg[1024] = "";
            const json_t *s;
            size_t j, u = 0;

            snprintf(key, sizeof key, "%s: %s", name, tier ? tier : "?");
            add_to(tiers, key, num(l, "n_cells"));
            if (json_is_true(json_object_get(l, "confident")))
                continue;
            json_array_foreach(json_object_get(l, "suggestions"), j, s)
            {
                const char *id = json_string_value(json_object_get(s, "id"));
                const char *lb = json_string_value(json_object_get(s, "label"));

                if (u < sizeof sugg)
                    u += (size_t)snprintf(sugg + u, sizeof sugg - u, "%s%s %s",
                                          j ? "; " : "", id ? id : "",
                                          lb ? lb : "");
            }
            const char *lab = json_string_value(json_object_get(l, "label"));
            json_array_append_new(todo, json_pack("[s, s, I, s, s]", name,
                                                  lab ? lab : "",
                                                  (json_int_t)num(l, "n_cells"),
                                                  tier ? tier : "", sugg));
            if (!tsv)
                continue;
            if (!lab || tsv_unsafe(lab) || tsv_unsafe(name)) {
                (*n_skipped)++;
                continue;
            }
            for (char *q = sugg; *q; q++)
                if (*q == '\t' || *q == '\r' || *q == '\n')
                    *q = ' ';
            fprintf(tsv, "%s\t%s\t\t%" PRId64 "\t%s\t%s\n", name, lab,
                    (int64_t)num(l, "n_cells"), tier ? tier : "", sugg);
        }
    }
    section(secs, "Label mapping", "cells per field and mapping tier",
            json_pack("[o]", sc_report_bars("Cells per label tier",
                                            values_of(tiers, "cells"), "name",
                                            "cells")),
            NULL, NULL);
    json_decref(tiers);
    section(secs, "Unmapped labels",
            "labels not mapped with confidence: the curator's to-do list", NULL,
            json_pack("[s, s, s, s, s]", "field", "label", "cells", "tier",
                      "suggestions"),
            todo);
}

static int dataset_page(sc_report *r, sc_registry *reg, struct collect *c,
                        int64_t id, const char *path, int64_t size,
                        int64_t mtime)
{
    struct dterms t = {json_array(), json_array()};
    struct lineage up = {json_array(),
                         json_array(),
                         json_array(),
                         json_array(),
                         json_object(),
                         0,
                         c},
                   *l = &up;
    json_t *facts = NULL, *secs = json_array(), *page, *rep, *ann;
    json_t *links = json_pack("[[s, s]]", "Overview", "../index.html");
    char file[32], key[24], title[4200], problem[4400] = "", todo[48];
    int rc;

    page_of(id, file, key);
    if ((rc = sc_registry_get(reg, id, get_artifact, &facts)) < 0 ||
        (rc = sc_registry_terms(reg, id, dataset_term, &t)) < 0 ||
        (rc = sc_registry_lineage(reg, id, 0, 0, lineage_node, l)) < 0 ||
        (l->down = 1,
         (rc = sc_registry_lineage(reg, id, 1, 0, lineage_node, l)) < 0)) {
        json_decref(facts);
        json_decref(t.rows);
        json_decref(t.cell_types);
        json_decref(up.rows);
        json_decref(up.ups);
        json_decref(up.nodes);
        json_decref(up.edges);
        json_decref(up.seen);
        json_decref(secs);
        json_decref(links);
        return rc;
    }
    section(secs, "Dataset", NULL, NULL, json_pack("[s, s]", "field", "value"),
            facts ? facts : json_array());
    section(secs, "Cell annotations", NULL,
            json_pack("[o]", sc_report_bars("Cells per cell_type", t.cell_types,
                                            "name", "cells")),
            json_pack("[s, s, s, s]", "field", "term", "label", "cells"),
            t.rows);
    if ((rep = find_sidecar(reg, path, up.ups, ".report.json", problem,
                            sizeof problem))) {
        qc_section(secs, rep, path, size, mtime);
        genes_section(secs, rep);
        json_decref(rep);
    }
    if ((ann = find_sidecar(reg, path, up.ups, ".annotate.json", problem,
                            sizeof problem))) {
        char *buf = NULL;
        size_t len = 0, skipped = 0;
        FILE *tsv = open_memstream(&buf, &len);
        if (tsv)
            fputs("field\tlabel\tterm_id\tcells\ttier\tsuggestions\n", tsv);
        labels_section(secs, ann, tsv, &skipped);
        json_decref(ann);
        if (tsv && fclose(tsv) == 0 && strchr(buf, '\n') + 1 < buf + len) {
            snprintf(todo, sizeof todo, "d/%s.todo.tsv", key);
            if ((rc = sc_report_file(r, todo, buf, len)) < 0) {
                free(buf);
                json_decref(up.seen);
                json_decref(up.ups);
                json_decref(up.rows);
                json_decref(up.nodes);
                json_decref(up.edges);
                json_decref(secs);
                json_decref(links);
                return rc;
            }
            json_array_append_new(
                links, json_pack("[s, s]",
                                 skipped ? "Unmapped labels as a mapping file "
                                           "(TSV; labels with a tab or line "
                                           "break left out)"
                                         : "Unmapped labels as a mapping file "
                                           "(TSV)",
                                 todo + 2));
        } else if (!tsv) {
            sc_log_warn("%s: no memory for the to-do mapping file", path);
        }
        free(buf);
    }
    if (*problem)
        section(secs, "Reports", problem, NULL, NULL, NULL);
    section(secs, "Provenance",
            "the runs and artifacts it came from (upstream) and what was made "
            "of it (downstream); the graph shows at most 300 nodes",
            NULL,
            json_pack("[s, s, s, s, s, s]", "direction", "depth", "kind",
                      "node", "detail", "from"),
            up.rows);
    json_object_set_new(
        json_array_get(secs, json_array_size(secs) - 1), "graph",
        json_pack("{s:o, s:o}", "nodes", up.nodes, "edges", up.edges));
    json_decref(up.seen);
    json_decref(up.ups);
    page = json_pack("{s:o, s:o}", "links", links, "sections", secs);
    snprintf(title, sizeof title, "%s", path);
    rc = page ? sc_report_page(r, file, title, page)
              : sc_fail(SC_ENOMEM, "out of memory");
    json_decref(page);
    return rc;
}

/* The datasets with a page: id, path, size and mtime. */
struct ds {
    int64_t id, size, mtime;
    char *path;
};

struct dslist {
    struct ds *v;
    size_t n, cap;
    struct collect *c;
};

static int list_artifact(const sc_reg_artifact *x, void *ud)
{
    struct dslist *l = ud;

    if (l->n == l->cap) {
        size_t cap = l->cap ? 2 * l->cap : 256;
        struct ds *v = realloc(l->v, cap * sizeof *v);

        if (!v)
            return l->c->rc = sc_fail(SC_ENOMEM, "out of memory");
        l->v = v;
        l->cap = cap;
    }
    if (!(l->v[l->n].path = strdup(x->path)))
        return l->c->rc = sc_fail(SC_ENOMEM, "out of memory");
    l->v[l->n].id = x->id;
    l->v[l->n].size = x->size;
    l->v[l->n++].mtime = x->mtime;
    return collect_artifact(x, l->c);
}

/* ---- collections ---- */

struct members {
    json_t *rows;  /* the members table */
    json_t *cells; /* "id" -> [n_obs, n_vars, path] */
    int64_t n_obs;
    struct collect *c;
};

static int collect_member(const sc_reg_artifact *x, void *ud)
{
    struct members *m = ud;
    char href[32], key[24], up[40];

    page_of(x->id, href, key);
    snprintf(up, sizeof up, "../%s", href);
    json_array_append_new(
        m->rows,
        json_pack("[I, o, I, I, f]", (json_int_t)x->id,
                  json_object_get(m->c->ids, key) ? sc_report_link(x->path, up)
                                                  : json_string(x->path),
                  (json_int_t)x->n_obs, (json_int_t)x->n_vars, x->weight));
    json_object_set_new(m->cells, key,
                        json_pack("[I, I, s]", (json_int_t)x->n_obs,
                                  (json_int_t)x->n_vars, x->path));
    m->n_obs += x->n_obs;
    return 0;
}

struct colls {
    json_t *names; /* [[name, versions, description]] */
};

static int collect_coll(const char *name, int64_t versions, int64_t members,
                        const char *description, void *ud)
{
    struct colls *c = ud;

    (void)members;
    json_array_append_new(c->names,
                          json_pack("[s, I, s]", name, (json_int_t)versions,
                                    description ? description : ""));
    return 0;
}

/* The rows of the members of A not in B: [change, id, path, cells, genes],
 * with their cells added to *CELLS. */
static void diff_rows(json_t *rows, const char *change, json_t *a, json_t *b,
                      int64_t *cells)
{
    const char *k;
    json_t *v;

    json_object_foreach(a, k, v) if (!json_object_get(b, k))
    {
        json_array_append_new(
            rows, json_pack("[s, s, O, O, O]", change, k, json_array_get(v, 2),
                            json_array_get(v, 0), json_array_get(v, 1)));
        *cells += json_integer_value(json_array_get(v, 0));
    }
}

/* A page per version of each collection (its members and the diff with the
 * version before), and the rows of the overview's collections table. */
static int collection_pages(sc_report *r, sc_registry *reg, struct collect *c,
                            json_t *table)
{
    struct colls cs = {json_array()};
    json_t *e;
    size_t i;
    int rc;

    if ((rc = sc_registry_collections(reg, collect_coll, &cs)) < 0)
        goto out;
    json_array_foreach(cs.names, i, e)
    {
        const char *name = json_string_value(json_array_get(e, 0));
        int64_t nv = json_integer_value(json_array_get(e, 1));
        json_t *prev = NULL;

        for (int64_t v = 1; v <= nv && rc == 0; v++) {
            struct members m = {json_array(), json_object(), 0, c};
            char ref[4200], file[48], title[4300], text[512];
            json_t *diff = json_array(), *page;
            int64_t vid, added = 0, removed = 0, n_add, n_rm;

            snprintf(ref, sizeof ref, "%s@%" PRId64, name, v);
            if ((rc = sc_registry_collection_version(reg, ref, &vid)) < 0 ||
                (rc = sc_registry_collection_members(reg, vid, collect_member,
                                                     &m)) < 0) {
                json_decref(m.rows);
                json_decref(m.cells);
                json_decref(diff);
                break;
            }
            if (prev) {
                diff_rows(diff, "added", m.cells, prev, &added);
                n_add = (int64_t)json_array_size(diff);
                diff_rows(diff, "removed", prev, m.cells, &removed);
                n_rm = (int64_t)json_array_size(diff) - n_add;
            } else {
                json_t *none = json_object();

                diff_rows(diff, "added", m.cells, none, &added);
                json_decref(none);
                n_add = (int64_t)json_array_size(diff);
                n_rm = 0;
            }
            snprintf(file, sizeof file, "c/%" PRId64 ".html", vid);
            snprintf(text, sizeof text,
                     "%zu datasets, %" PRId64 " cells; against version %" PRId64
                     ": %" PRId64 " datasets added (%" PRId64
                     " cells), %" PRId64 " removed (%" PRId64 " cells)",
                     json_array_size(m.rows), m.n_obs, v - 1, n_add, added,
                     n_rm, removed);
            json_array_append_new(
                table, json_pack("[o, I, s, I, I, I, I]",
                                 sc_report_link(ref, file), (json_int_t)v,
                                 json_string_value(json_array_get(e, 2)),
                                 (json_int_t)json_array_size(m.rows),
                                 (json_int_t)m.n_obs, (json_int_t)n_add,
                                 (json_int_t)n_rm));
            page = json_pack(
                "{s:[[s, s]], s:[{s:s, s:s, s:[], s:{s:[s, s, s, s, s], "
                "s:o}}, {s:s, s:[], s:{s:[s, s, s, s, s], s:o}}]}",
                "links", "Overview", "../index.html", "sections", "title", ref,
                "text", text, "charts", "table", "columns", "change", "id",
                "path", "cells", "genes", "rows", diff, "title", "Members",
                "charts", "table", "columns", "id", "path", "cells", "genes",
                "weight", "rows", m.rows);
            snprintf(title, sizeof title, "collection %s", ref);
            rc = page ? sc_report_page(r, file, title, page)
                      : sc_fail(SC_ENOMEM, "out of memory");
            json_decref(page);
            json_decref(prev);
            prev = m.cells;
        }
        json_decref(prev);
        if (rc < 0)
            break;
    }
out:
    json_decref(cs.names);
    return rc;
}

int cmd_report(struct args *a, int argc, char **argv)
{
    struct query q;
    struct collect c = {0};
    struct dslist l = {NULL, 0, 0, &c};
    sc_registry *reg = NULL;
    sc_report *r = NULL;
    json_t *report = NULL, *charts, *sections, *colls;
    const char *dir = strcmp(a->output, "-") ? a->output : "sc-report";
    char text[256];
    int rc;

    (void)argv;
    if (argc > 0)
        return usage_fail("report takes options (query filters), not "
                          "operands");
    if ((rc = query_build(a, &q)) < 0)
        return rc;
    colls = json_array();
    c.rows = json_array();
    c.sizes = json_array();
    c.organism = json_object();
    c.assay = json_object();
    c.ids = json_object();
    if ((rc = reg_open(a, SC_REGISTRY_READONLY, &reg)) < 0)
        goto out;
    if ((rc = sc_registry_query(reg, &q.q, list_artifact, &l)) < 0 ||
        (rc = c.rc) < 0)
        goto out;
    if ((rc = sc_report_open(dir, &r)) < 0)
        goto out;
    for (size_t i = 0; i < l.n && rc == 0; i++)
        rc = dataset_page(r, reg, &c, l.v[i].id, l.v[i].path, l.v[i].size,
                          l.v[i].mtime);
    if (rc < 0 || (rc = collection_pages(r, reg, &c, colls)) < 0)
        goto out;
    charts = json_array();
    json_array_append_new(charts, sc_report_bars("Cells per organism",
                                                 values_of(c.organism, "cells"),
                                                 "name", "cells"));
    json_array_append_new(charts, sc_report_bars("Cells per assay",
                                                 values_of(c.assay, "cells"),
                                                 "name", "cells"));
    if ((rc = term_charts(reg, charts)) < 0) {
        json_decref(charts);
        goto out;
    }
    snprintf(text, sizeof text,
             "%" PRId64 " datasets, %" PRId64 " cells (cells per term: every "
             "latest dataset)",
             c.n, c.cells);
    sections = json_pack(
        "[{s:s, s:s, s:o}, {s:s, s:[o, o], s:{s:[s, s, s, s, s, s, s, s], "
        "s:O}}, {s:s, s:s, s:[], s:{s:[s, s, s, s, s, s, s], s:O}}]",
        "title", "Overview", "text", text, "charts", charts, "title",
        "Datasets", "charts",
        sc_report_histogram("Cells per dataset", json_copy(c.sizes), "n_obs",
                            1),
        sc_report_histogram("Genes per dataset", json_copy(c.sizes), "n_vars",
                            0),
        "table", "columns", "id", "path", "format", "cells", "genes",
        "organism", "assay", "version", "rows", c.rows, "title", "Collections",
        "text",
        "each frozen version: its members and the diff with the one "
        "before",
        "charts", "table", "columns", "version", "number", "description",
        "datasets", "cells", "added", "removed", "rows", colls);
    report = json_pack("{s:o}", "sections", sections);
    if (!report) {
        rc = sc_fail(SC_ENOMEM, "cannot build the report: out of memory");
        goto out;
    }
    rc = sc_report_page(r, "index.html", "sc-register report", report);
out:
    rc = sc_report_close(r, rc);
    if (rc == 0) {
        sc_log_info("%" PRId64 " datasets", c.n);
        printf("%s/index.html\n", dir);
    }
    for (size_t i = 0; i < l.n; i++)
        free(l.v[i].path);
    free(l.v);
    json_decref(report);
    json_decref(colls);
    json_decref(c.rows);
    json_decref(c.sizes);
    json_decref(c.organism);
    json_decref(c.assay);
    json_decref(c.ids);
    query_release(&q);
    if (sc_registry_close(reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    return rc;
}
