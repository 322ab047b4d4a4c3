/* sc_schema: CELLxGENE schema rules (schema_definition.yaml) and checks. */
/* SPDX-License-Identifier: MIT */
#include "sc_schema.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_genes.h"
#include "sc_io.h"
#include "sc_map.h"
#include "sc_schema_int.h"
#include "sc_share.h"
#include "sc_ytree.h"

int sc_schema_load(const char *path, sc_schema **out)
{
    char buf[4096];
    const sc_ynode *comp;
    sc_schema *s;
    int rc;

    *out = NULL;
    if (!path) {
        if ((rc = sc_share_path("ontology/cxg-schema/schema_definition.yaml",
                                buf, sizeof buf)) < 0)
            return rc;
        path = buf;
    }
    if (!(s = calloc(1, sizeof *s)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if ((rc = sc_ytree_load(path, &s->root)) < 0) {
        free(s);
        return rc;
    }
    comp = sc_ytree_get(s->root, "components");
    s->uns = sc_ytree_get(comp, "uns");
    s->obs = sc_ytree_get(comp, "obs");
    s->var = sc_ytree_get(comp, "var");
    s->raw_var = sc_ytree_get(comp, "raw.var");
    s->obsm = sc_ytree_get(comp, "obsm");
    s->title = sc_ytree_str(s->root, "title");
    s->sparsity = sc_ytree_str(s->root, "sparsity")
                      ? strtod(sc_ytree_str(s->root, "sparsity"), NULL)
                      : 0.5;
    if (!s->uns || !s->obs || !sc_ytree_get(s->obs, "columns") || !s->title) {
        sc_schema_free(s);
        return sc_fail(SC_EFORMAT,
                       "'%s': not a CELLxGENE schema definition (no title, "
                       "components.uns or components.obs.columns)",
                       path);
    }
    *out = s;
    return 0;
}

void sc_schema_free(sc_schema *s)
{
    if (!s)
        return;
    sc_ytree_free(s->root);
    free(s);
}

const char *sc_schema_title(const sc_schema *s)
{
    return s->title;
}

/* ---- messages ---- */

void sc_schema_report_release(sc_schema_report *r)
{
    for (size_t i = 0; i < r->n; i++)
        free(r->text[i]);
    free(r->text);
    free(r->level);
    memset(r, 0, sizeof *r);
}

#define MAX_MESSAGES 10000

int sch_msg(sc_schema_report *r, int level, const char *fmt, ...)
{
    char buf[2048];
    va_list ap;
    char **t;
    int *l;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    for (size_t i = 0; i < r->n; i++) /* once each */
        if (r->level[i] == level && !strcmp(r->text[i], buf))
            return 0;
    if (r->n >= MAX_MESSAGES)
        return 0;
    if (!(t = realloc(r->text, (r->n + 1) * sizeof *t)))
        return sc_fail(SC_ENOMEM, "out of memory");
    r->text = t;
    if (!(l = realloc(r->level, (r->n + 1) * sizeof *l)))
        return sc_fail(SC_ENOMEM, "out of memory");
    r->level = l;
    if (!(r->text[r->n] = strdup(buf)))
        return sc_fail(SC_ENOMEM, "out of memory");
    r->level[r->n++] = level;
    if (level == SC_SCHEMA_ERROR)
        r->n_errors++;
    else
        r->n_warnings++;
    return 0;
}

/* ---- message classes ---- */

/* The class of a message by what it says, first match wins; the same table
 * classifies the real validator's messages (scripts/cxg-mutations). */
static const struct {
    const char *pattern, *cls;
} classes[] = {
    {"Could not infer organism from feature ID", "feature_id"},
    {"is not a valid feature ID", "feature_id"},
    {"more feature IDs in", "feature_id"},
    {"but feature_ids are from", "feature_organism"},
    {"duplicated raw counts", "raw_duplicate"},
    {"Raw matrix values must have type", "raw_dtype"},
    {"must be positive integers", "raw_values"},
    {"at least one non-zero value in its row", "raw_zero_row"},
    {"Raw data may be missing", "raw_missing"},
    {"Raw data is missing", "raw_missing"},
    {"is different than raw.X", "raw_shape"},
    {"is not identical to index of", "raw_shape"},
    {"Cells in X and raw.X are different", "raw_shape"},
    {"Add labels error", "reserved"},
    {"is a reserved column name", "reserved"},
    {"reserved and should not be set", "reserved"},
    {"Fields that start with '__' are reserved", "reserved"},
    {"must not be present in", "reserved"},
    {"must not contain column", "reserved"},
    {"cannot contain mixed types", "mixed_type"},
    {"illegal_categorical_types", "mixed_type"},
    {"categorical types. Only one type", "mixed_type"},
    {"'feature_is_filtered' must be False", "feature_is_filtered"},
    {"but it is deprecated", "deprecated"},
    {"is missing column", "missing"},
    {"is not present", "missing"},
    {"is missing from adata", "missing"},
    {"is not unique", "index_unique"},
    {"must not contain NaN", "nan"},
    {"must be categorical", "column_type"},
    {"must be boolean", "column_type"},
    {"must be object or string", "column_type"},
    {"must only contain string categories", "column_type"},
    {"is not a string", "column_type"},
    {"is not a list of strings", "column_type"},
    {"contains invalid values", "enum"},
    {"is not valid", "enum"},
    {"is not a valid value of", "term"},
    {"is not a valid ontology term id", "term"},
    {"is a deprecated term id", "term"},
    {"is not allowed", "term"},
    {"is not an allowed term id", "term"},
    {"ascending lexical order", "term"},
    {"contains duplicates", "term"},
    {"cannot be an empty value", "empty"},
    {"must not contain empty values", "empty"},
    {"is not a column in 'adata.obs'", "uns_reference"},
    {"is not a valid obsm key", "uns_reference"},
    {"embedding", "embedding"},
    {"obsm", "embedding"},
    {"Sparsity of", "sparsity"},
    {"Unknown encoding for matrix", "sparsity"},
    {"Invalid sparse encoding", "sparsity"},
};

const char *sc_schema_class(const char *text)
{
    for (size_t i = 0; i < sizeof classes / sizeof *classes; i++)
        if (strstr(text, classes[i].pattern))
            return classes[i].cls;
    return "other";
}

/* ---- YAML helpers ---- */

/* Whether the mapping N has the key K. */
static int seq_has_key(const sc_ynode *n, const char *k)
{
    for (size_t i = 0; n && n->kind == SC_Y_MAP && i < n->n; i++)
        if (!strcmp(n->keys[i], k))
            return 1;
    return 0;
}

/* Whether the sequence N holds the scalar S (CI: ignoring case). */
static int seq_has(const sc_ynode *n, const char *s, int ci)
{
    if (!n || n->kind != SC_Y_SEQ)
        return 0;
    for (size_t i = 0; i < n->n; i++)
        if (n->items[i]->kind == SC_Y_SCALAR &&
            (ci ? !strcasecmp(n->items[i]->str, s)
                : !strcmp(n->items[i]->str, s)))
            return 1;
    return 0;
}

static void seq_join(const sc_ynode *n, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (size_t i = 0; n && n->kind == SC_Y_SEQ && i < n->n && used < size; i++)
        if (n->items[i]->kind == SC_Y_SCALAR)
            used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                     used ? ", " : "", n->items[i]->str);
}

static int is_true(const char *s)
{
    return s && (!strcasecmp(s, "true") || !strcasecmp(s, "yes"));
}

/* ---- one value ---- */

/* The context of a cell for dependency rules. */
struct cellctx {
    const char *organism, *tissue_type, *assay;
};

static int prefix_loaded(const sc_onto *o, const char *pfx)
{
    for (int i = 0; i < sc_onto_count(o); i++) {
        const char *p = sc_onto_prefixes(o, i);
        size_t n = strlen(pfx);

        for (const char *q = p; *q;) {
            size_t len = strcspn(q, " ");

            if (len == n && !strncasecmp(q, pfx, n))
                return 1;
            q += len;
            while (*q == ' ')
                q++;
        }
    }
    return 0;
}

int sch_below(const sc_onto *o, sc_onto_term t, const char *anc, int inclusive)
{
    sc_onto_term a = sc_onto_find(o, anc);

    if (a == SC_ONTO_NONE)
        return 0;
    if (a == t)
        return inclusive;
    return sc_onto_is_a(o, t, a);
}

/* Whether T is below one of the ancestors of the map M (prefix -> list). */
static int below_any(const sc_onto *o, sc_onto_term t, const sc_ynode *m,
                     const char *pfx)
{
    for (size_t i = 0; m && m->kind == SC_Y_MAP && i < m->n; i++) {
        const sc_ynode *l = m->items[i];

        if (strcasecmp(m->keys[i], pfx) || l->kind != SC_Y_SEQ)
            continue;
        for (size_t k = 0; k < l->n; k++)
            if (l->items[k]->kind == SC_Y_SCALAR &&
                sch_below(o, t, l->items[k]->str, 0))
                return 1;
    }
    return 0;
}

static int check_term(const sc_onto *o, const char *col, const char *term,
                      const sc_ynode *c, const char *suffix,
                      sc_schema_report *r)
{
    const sc_ynode *onts = sc_ytree_get(c, "ontologies");
    const sc_ynode *forb = sc_ytree_get(c, "forbidden");
    const sc_ynode *allow = sc_ytree_get(c, "allowed");
    char pfx[64], list[256];
    const char *colon = strchr(term, ':');
    sc_onto_term t;

    if (seq_has(sc_ytree_get(forb, "terms"), term, 0))
        return sch_msg(r, SC_SCHEMA_ERROR, "'%s' in '%s' is not allowed.%s%s",
                       term, col, *suffix ? " " : "", suffix);
    snprintf(pfx, sizeof pfx, "%.*s",
             colon ? (int)(colon - term) : (int)strlen(term), term);
    seq_join(onts, list, sizeof list);
    if (!colon || !seq_has(onts, pfx, 1))
        return sch_msg(
            r, SC_SCHEMA_ERROR,
            "'%s' in '%s' is not a valid ontology term id of '%s'.%s%s", term,
            col, list, *suffix ? " " : "", suffix);
    if (!prefix_loaded(o, pfx))
        return sch_msg(r, SC_SCHEMA_WARNING,
                       "'%s' in '%s' was not checked: no %s ontology is loaded",
                       term, col, pfx);
    t = sc_onto_find(o, term);
    if (t == SC_ONTO_NONE || strcmp(sc_onto_id(o, t), term))
        return sch_msg(
            r, SC_SCHEMA_ERROR,
            "'%s' in '%s' is not a valid ontology term id of '%s'.%s%s", term,
            col, list, *suffix ? " " : "", suffix);
    if (sc_onto_is_deprecated(o, t))
        return sch_msg(r, SC_SCHEMA_ERROR,
                       "'%s' in '%s' is a deprecated term id of '%s'.", term,
                       col, sc_onto_name(o, sc_onto_ontology(o, t)));
    if (below_any(o, t, sc_ytree_get(forb, "ancestors"), pfx))
        return sch_msg(r, SC_SCHEMA_ERROR, "'%s' in '%s' is not allowed.%s%s",
                       term, col, *suffix ? " " : "", suffix);
    if (allow) {
        const sc_ynode *terms = sc_ytree_get(allow, "terms");
        int ok = 0;

        for (size_t i = 0; terms && terms->kind == SC_Y_MAP && i < terms->n;
             i++)
            if (!strcasecmp(terms->keys[i], pfx) &&
                seq_has(terms->items[i], term, 0))
                ok = 1;
        if (!ok && !below_any(o, t, sc_ytree_get(allow, "ancestors"), pfx))
            return sch_msg(r, SC_SCHEMA_ERROR,
                           "'%s' in '%s' is not allowed.%s%s", term, col,
                           *suffix ? " " : "", suffix);
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A value of a curie column under constraints C. */
static int check_curie(const sc_onto *o, const char *col, const char *value,
                       const sc_ynode *c, const char *suffix,
                       sc_schema_report *r)
{
    const sc_ynode *multi = sc_ytree_get(c, "multi_term");
    const char *delim = multi ? sc_ytree_str(multi, "delimiter") : NULL;
    const sc_ynode *onts = sc_ytree_get(c, "ontologies");
    char *copy, *terms[64], list[256];
    size_t n = 0;
    int rc = 0;

    if (seq_has(sc_ytree_get(c, "exceptions"), value, 0))
        return 0;
    if (onts && onts->n == 1 && seq_has(onts, "NA", 0))
        return sch_msg(r, SC_SCHEMA_ERROR,
                       "'%s' in '%s' is not a valid value of '%s'.%s%s", value,
                       col, col, *suffix ? " " : "", suffix);
    if (!delim || !strstr(value, delim))
        return check_term(o, col, value, c, suffix, r);
    if (!(copy = strdup(value)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (char *p = copy; p && n < 64;) {
        char *q = strstr(p, delim);

        if (q)
            *q = '\0';
        terms[n++] = p;
        p = q ? q + strlen(delim) : NULL;
    }
    for (size_t i = 1; i < n; i++)
        if (strcmp(terms[i - 1], terms[i]) > 0 &&
            is_true(sc_ytree_str(multi, "sorted"))) {
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "'%s' in '%s' is not in ascending lexical order.",
                         value, col);
            break;
        }
    {
        char *sorted[64];

        memcpy(sorted, terms, n * sizeof *terms);
        qsort(sorted, n, sizeof *sorted, cmp_str);
        for (size_t i = 1; rc == 0 && i < n; i++)
            if (!strcmp(sorted[i - 1], sorted[i]))
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'%s' in '%s' contains duplicates.", value, col);
    }
    {
        const sc_ynode *mc = sc_ytree_get(multi, "multi_term_constraints");
        const sc_ynode *mo = sc_ytree_get(mc, "ontologies");

        seq_join(mo, list, sizeof list);
        for (size_t i = 0; rc == 0 && mo && i < n; i++) {
            char pfx[64];
            const char *colon = strchr(terms[i], ':');

            snprintf(pfx, sizeof pfx, "%.*s",
                     colon ? (int)(colon - terms[i]) : 0, terms[i]);
            if (!seq_has(mo, pfx, 1))
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'%s' in '%s' has several terms, which are only "
                             "allowed for ontologies '%s'.",
                             value, col, list);
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = check_term(o, col, terms[i], c, suffix, r);
    free(copy);
    return rc;
}

/* A value of a categorical column under definition D (enum, forbidden). */
static int check_enum(const char *col, const char *value, const sc_ynode *d,
                      const char *suffix, sc_schema_report *r)
{
    const sc_ynode *en = sc_ytree_get(d, "enum");
    char list[512];

    if (seq_has(sc_ytree_get(d, "forbidden"), value, 0))
        return sch_msg(r, SC_SCHEMA_ERROR,
                       "Column '%s' in dataframe 'obs' contains a value '%s' "
                       "that is forbidden.%s%s",
                       col, value, *suffix ? " " : "", suffix);
    if (en && !seq_has(en, value, 0)) {
        seq_join(en, list, sizeof list);
        return sch_msg(r, SC_SCHEMA_ERROR,
                       "Column '%s' in dataframe 'obs' contains invalid values "
                       "'%s'. Values must be one of [%s]%s%s",
                       col, value, list, *suffix ? " " : "", suffix);
    }
    return 0;
}

/* The value a rule looks at, or NULL when the cell has none. */
static const char *rule_value(const sc_ynode *rule, const struct cellctx *cc)
{
    const char *col = sc_ytree_str(rule, "column");
    const char *key = sc_ytree_str(rule, "uns_key");

    if (key)
        return !strcmp(key, "organism_ontology_term_id") ? cc->organism : NULL;
    if (col && !strcmp(col, "tissue_type"))
        return cc->tissue_type;
    if (col && !strcmp(col, "assay_ontology_term_id"))
        return cc->assay;
    return NULL;
}

int sch_in_ancestors(const sc_onto *o, const char *value, const sc_ynode *l)
{
    sc_onto_term t = sc_onto_find(o, value);

    for (size_t i = 0; l && l->kind == SC_Y_SEQ && i < l->n; i++) {
        if (!strcmp(l->items[i]->str ? l->items[i]->str : "", value))
            return 1;
        if (t != SC_ONTO_NONE && l->items[i]->str &&
            sch_below(o, t, l->items[i]->str, 1))
            return 1;
    }
    return 0;
}

/* 1 when RULE (a mapping, or a list of them that must all hold) matches
 * the cell, 0 when not, -1 when it does not apply (the column or uns key
 * is missing: the validator skips such a dependency). */
static int rule_matches(const sc_onto *o, const sc_ynode *rule,
                        const struct cellctx *cc)
{
    const char *v;
    int has_match = 0, any = 0;

    if (rule && rule->kind == SC_Y_SEQ) {
        int all = 1;

        for (size_t i = 0; i < rule->n; i++) {
            int m = rule_matches(o, rule->items[i], cc);

            if (m < 0)
                return -1;
            all &= m;
        }
        return all;
    }
    if (!(v = rule_value(rule, cc)))
        return -1;
    if (sc_ytree_get(rule, "match_exact")) {
        has_match = 1;
        any |= seq_has(sc_ytree_get(sc_ytree_get(rule, "match_exact"), "terms"),
                       v, 0);
    }
    if (sc_ytree_get(rule, "match_ancestors_inclusive")) {
        has_match = 1;
        any |= sch_in_ancestors(
            o, v,
            sc_ytree_get(sc_ytree_get(rule, "match_ancestors_inclusive"),
                         "ancestors"));
    }
    if (seq_has(sc_ytree_get(sc_ytree_get(rule, "exclude_exact"), "terms"), v,
                0))
        return 0;
    if (sch_in_ancestors(
            o, v,
            sc_ytree_get(sc_ytree_get(rule, "exclude_ancestors_inclusive"),
                         "ancestors")))
        return 0;
    return has_match ? any : 1;
}

/* A value of column COL (definition D) for one cell. */
static int check_value(const sc_onto *o, const char *col, const char *value,
                       const sc_ynode *d, const struct cellctx *cc,
                       sc_schema_report *r)
{
    const sc_ynode *deps = sc_ytree_get(d, "dependencies");
    const char *suffix = sc_ytree_str(d, "error_message_suffix");
    const char *type = sc_ytree_str(d, "type");
    int matched = 0, rc;

    for (size_t i = 0; deps && deps->kind == SC_Y_SEQ && i < deps->n; i++) {
        const sc_ynode *dep = deps->items[i];
        const char *ds = sc_ytree_str(dep, "error_message_suffix");
        const char *dt = sc_ytree_str(dep, "type");

        if (rule_matches(o, sc_ytree_get(dep, "rule"), cc) != 1)
            continue;
        matched = 1;
        if (!ds)
            ds = suffix ? suffix : "";
        if (dt && !strcmp(dt, "curie"))
            rc = check_curie(o, col, value,
                             sc_ytree_get(dep, "curie_constraints"), ds, r);
        else
            rc = check_enum(col, value, dep, ds, r);
        if (rc < 0)
            return rc;
    }
    if (matched)
        return 0;
    if (deps && sc_ytree_str(d, "warning_message") &&
        (rc = sch_msg(r, SC_SCHEMA_WARNING, "%s",
                      sc_ytree_str(d, "warning_message"))) < 0)
        return rc;
    if (type && !strcmp(type, "curie")) {
        if (sc_ytree_get(d, "curie_constraints"))
            return check_curie(o, col, value,
                               sc_ytree_get(d, "curie_constraints"),
                               suffix ? suffix : "", r);
        return 0;
    }
    return check_enum(col, value, d, suffix ? suffix : "", r);
}

int sc_schema_check_value(const sc_schema *s, const sc_onto *o,
                          const char *column, const char *value,
                          const char *organism, const char *tissue_type,
                          const char *assay, sc_schema_report *rep)
{
    const sc_ynode *d = sc_ytree_get(sc_ytree_get(s->obs, "columns"), column);
    struct cellctx cc = {organism, tissue_type, assay};

    if (!d && !strcmp(column, "organism_ontology_term_id"))
        d = sc_ytree_get(sc_ytree_get(s->uns, "keys"), column);
    if (!d)
        return sc_fail(SC_ENOTFOUND, "no column '%s' in the schema", column);
    return check_value(o, column, value, d, &cc, rep);
}

/* ---- a whole dataset ---- */

static const char *kind_name(const sc_elem *e)
{
    switch (e->kind) {
    case SC_K_CATEGORICAL: return "category";
    case SC_K_ARRAY:
        return e->dtype == SC_DT_STR ? "object" : sc_dtype_name(e->dtype);
    case SC_K_NULLABLE: return "nullable";
    default: return "unsupported";
    }
}

/* A categorical column's value I as a string ("" when not a string). */
static const char *cat_value(const sc_elem *e, int64_t code)
{
    const char *s = sc_elem_str(e->categories, code);

    return s ? s : "";
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

/* Check every (value, tissue_type, assay) combination of column COL. */
static int check_column(const sc_schema *s, const sc_onto *o,
                        const sc_adata *ad, const char *col, const sc_ynode *d,
                        const struct cellctx *base, sc_schema_report *r)
{
    const sc_elem *e = sc_elem_get(ad->obs, col);
    const sc_elem *tt = sc_elem_get(ad->obs, "tissue_type");
    const sc_elem *as = sc_elem_get(ad->obs, "assay_ontology_term_id");
    const char *type = sc_ytree_str(d, "type");
    const int32_t *c, *ct = NULL, *ca = NULL;
    uint64_t *keys;
    int64_t n = ad->n_obs, nk = 0;
    int rc = 0;

    (void)s;
    if (!type)
        return 0;
    if (!strcmp(type, "bool")) {
        if (e->kind != SC_K_ARRAY || e->dtype != SC_DT_BOOL)
            return sch_msg(
                r, SC_SCHEMA_ERROR,
                "Column '%s' in dataframe 'obs' must be boolean, not "
                "'%s'.",
                col, kind_name(e));
        return 0;
    }
    if (e->kind != SC_K_CATEGORICAL)
        return sch_msg(
            r, SC_SCHEMA_ERROR,
            "Column '%s' in dataframe 'obs' must be categorical, not "
            "%s.",
            col, kind_name(e));
    if (e->categories->dtype != SC_DT_STR)
        return sch_msg(
            r, SC_SCHEMA_ERROR,
            "Column '%s' in dataframe 'obs' must only contain string "
            "categories.",
            col);
    c = e->codes->data;
    if (tt && tt->kind == SC_K_CATEGORICAL &&
        tt->categories->dtype == SC_DT_STR)
        ct = tt->codes->data;
    if (as && as->kind == SC_K_CATEGORICAL &&
        as->categories->dtype == SC_DT_STR)
        ca = as->codes->data;
    if (!(keys = malloc(((size_t)n + 1) * sizeof *keys)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        if (c[i] < 0) {
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "Column '%s' in dataframe 'obs' must not contain NaN "
                         "values.",
                         col);
            continue;
        }
        keys[nk++] = (uint64_t)(uint32_t)c[i] << 40 |
                     (uint64_t)(uint32_t)(ct ? ct[i] + 1 : 0) << 20 |
                     (uint64_t)(uint32_t)(ca ? ca[i] + 1 : 0);
    }
    qsort(keys, (size_t)nk, sizeof *keys, cmp_u64);
    for (int64_t i = 0; rc == 0 && i < nk; i++) {
        struct cellctx cc = *base;
        int64_t v = (int64_t)(keys[i] >> 40);
        int64_t t = (int64_t)((keys[i] >> 20) & 0xfffff) - 1;
        int64_t a = (int64_t)(keys[i] & 0xfffff) - 1;

        if (i && keys[i] == keys[i - 1])
            continue;
        cc.tissue_type = ct ? (t >= 0 ? cat_value(tt, t) : NULL) : NULL;
        cc.assay = ca ? (a >= 0 ? cat_value(as, a) : NULL) : NULL;
        rc = check_value(o, col, cat_value(e, v), d, &cc, r);
    }
    free(keys);
    return rc;
}

/* Portal-added label columns: errors when submitting, else they must agree
 * with the term ids. */
static int check_labels(const sc_onto *o, const sc_adata *ad, const char *col,
                        const sc_ynode *d, unsigned flags, sc_schema_report *r)
{
    const sc_ynode *al = sc_ytree_get(d, "add_labels");
    const sc_elem *ids = sc_elem_get(ad->obs, col);
    int rc = 0;

    for (size_t i = 0; al && al->kind == SC_Y_SEQ && i < al->n; i++) {
        const char *to = sc_ytree_str(al->items[i], "to_column");
        const sc_elem *lab = to ? sc_elem_get(ad->obs, to) : NULL;
        const int32_t *ci, *cl;

        if (!lab)
            continue;
        if (flags & SC_SCHEMA_SUBMISSION) {
            rc = sch_msg(
                r, SC_SCHEMA_ERROR,
                "Add labels error: Column '%s' is a reserved column name "
                "of 'obs'. Remove it from h5ad and try again.",
                to);
            continue;
        }
        if (!ids || ids->kind != SC_K_CATEGORICAL ||
            lab->kind != SC_K_CATEGORICAL ||
            lab->categories->dtype != SC_DT_STR ||
            ids->categories->dtype != SC_DT_STR)
            continue;
        ci = ids->codes->data;
        cl = lab->codes->data;
        for (int64_t k = 0; rc == 0 && k < ad->n_obs; k++) {
            const char *id, *want, *got;
            sc_onto_term t;

            if (ci[k] < 0 || cl[k] < 0)
                continue;
            id = cat_value(ids, ci[k]);
            got = cat_value(lab, cl[k]);
            t = sc_onto_find(o, id);
            want = t != SC_ONTO_NONE ? sc_onto_label(o, t) : id;
            if (strchr(id, '|') || !strcmp(want, got))
                continue;
            rc = sch_msg(
                r, SC_SCHEMA_WARNING,
                "Column '%s' in dataframe 'obs' has '%s' for '%s', whose "
                "label is '%s'.",
                to, got, id, want);
        }
    }
    return rc;
}

static int cmp_cstr(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;

    return strcmp(x ? x : "", y ? y : "");
}

/* Whether the string index of a dataframe has duplicates. */
static int index_unique(const sc_elem *df, int *unique)
{
    const sc_elem *ix = df ? df->index : NULL;
    const char **v;
    int64_t n;

    *unique = 1;
    if (!ix || ix->kind != SC_K_ARRAY || ix->dtype != SC_DT_STR)
        return 0;
    n = sc_elem_count(ix);
    if (!(v = malloc(((size_t)n + 1) * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        v[i] = sc_elem_str(ix, i);
    qsort(v, (size_t)n, sizeof *v, cmp_cstr);
    for (int64_t i = 1; i < n && *unique; i++)
        if (!cmp_cstr(&v[i - 1], &v[i]))
            *unique = 0;
    free(v);
    return 0;
}

static int check_uns(const sc_schema *s, const sc_onto *o, const sc_adata *ad,
                     unsigned flags, sc_schema_report *r)
{
    const sc_ynode *keys = sc_ytree_get(s->uns, "keys");
    const sc_ynode *dep = sc_ytree_get(s->uns, "deprecated_columns");
    const sc_ynode *res = sc_ytree_get(s->uns, "reserved_columns");
    struct cellctx cc = {NULL, NULL, NULL};
    int rc = 0;

    for (size_t i = 0; rc == 0 && i < ad->uns->n_child; i++) {
        const sc_elem *e = ad->uns->child[i];

        if (seq_has(dep, e->name, 0))
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "The field '%s' is present in 'uns', but it is "
                         "deprecated.",
                         e->name);
        else if (seq_has(res, e->name, 0) && (flags & SC_SCHEMA_SUBMISSION))
            rc = sch_msg(
                r, SC_SCHEMA_ERROR,
                "The field '%s' is present in 'uns', but it is reserved "
                "and should not be set.",
                e->name);
        else if ((e->kind == SC_K_ARRAY && sc_elem_count(e) == 0) ||
                 ((e->kind == SC_K_DICT || e->kind == SC_K_DATAFRAME) &&
                  e->n_child == 0))
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "uns['%s'] cannot be an empty value.", e->name);
    }
    /* keys the portal adds from others ('organism') */
    for (size_t i = 0;
         rc == 0 && (flags & SC_SCHEMA_SUBMISSION) && keys && i < keys->n;
         i++) {
        const sc_ynode *al = sc_ytree_get(keys->items[i], "add_labels");

        for (size_t k = 0; rc == 0 && al && al->kind == SC_Y_SEQ && k < al->n;
             k++) {
            const char *to = sc_ytree_str(al->items[k], "to_key");

            if (to && sc_elem_get(ad->uns, to))
                rc = sch_msg(
                    r, SC_SCHEMA_ERROR,
                    "Add labels error: Column '%s' is a reserved column "
                    "name of 'uns'. Remove it from h5ad and try again.",
                    to);
        }
    }
    for (size_t i = 0; rc == 0 && keys && i < keys->n; i++) {
        const char *k = keys->keys[i], *type;
        const sc_ynode *d = keys->items[i];
        const sc_elem *e = sc_elem_get(ad->uns, k);
        const char *v = sc_elem_get_str(ad->uns, k);

        type = sc_ytree_str(d, "type");
        if (!e) {
            if (is_true(sc_ytree_str(d, "required")))
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'%s' in 'uns' is not present.", k);
            continue;
        }
        if (!type)
            continue;
        if (!strcmp(type, "curie") || !strcmp(type, "string")) {
            if (!v) {
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'%s' in 'uns' is not a string.", k);
                continue;
            }
            if (!strcmp(type, "curie"))
                rc = check_value(o, k, v, d, &cc, r);
            else if (sc_ytree_get(d, "enum"))
                rc = seq_has(sc_ytree_get(d, "enum"), v, 0)
                         ? 0
                         : sch_msg(r, SC_SCHEMA_ERROR,
                                   "'%s' in 'uns['%s']' is not valid.", v, k);
        } else if (!strcmp(type, "match_obsm_keys")) {
            if (!v || !sc_elem_get(ad->obsm, v))
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'%s' in 'uns['%s']' is not a valid obsm key.",
                             v ? v : "?", k);
        } else if (!strcmp(type, "list")) {
            if (e->kind != SC_K_ARRAY || e->dtype != SC_DT_STR) {
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'%s' in 'uns' is not a list of strings.", k);
                continue;
            }
            for (int64_t q = 0; rc == 0 && q < sc_elem_count(e); q++)
                if (!sc_elem_get(ad->obs, sc_elem_str(e, q)))
                    rc = sch_msg(r, SC_SCHEMA_ERROR,
                                 "Value '%s' of list '%s' is not a column in "
                                 "'adata.obs'.",
                                 sc_elem_str(e, q), k);
        }
    }
    return rc;
}

static int check_obs(const sc_schema *s, const sc_onto *o, const sc_adata *ad,
                     unsigned flags, sc_schema_report *r)
{
    const sc_ynode *cols = sc_ytree_get(s->obs, "columns");
    const sc_ynode *dep = sc_ytree_get(s->obs, "deprecated_columns");
    const sc_ynode *res = sc_ytree_get(s->obs, "reserved_columns");
    const sc_ynode *pre = sc_ytree_get(
        sc_ytree_get(sc_ytree_get(s->root, "pre_analysis"), "obs"), "keys");
    struct cellctx cc = {sc_elem_get_str(ad->uns, "organism_ontology_term_id"),
                         NULL, NULL};
    int rc = 0, unique;

    if ((rc = index_unique(ad->obs, &unique)) < 0)
        return rc;
    if (!unique &&
        (rc = sch_msg(r, SC_SCHEMA_ERROR, "Index of 'obs' is not unique.")) < 0)
        return rc;
    for (size_t i = 0; rc == 0 && i < ad->obs->n_child; i++) {
        const char *name = ad->obs->child[i]->name;

        if (seq_has(dep, name, 0))
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "The field '%s' is present in 'obs', but it is "
                         "deprecated.",
                         name);
        else if (seq_has(res, name, 0) && (flags & SC_SCHEMA_SUBMISSION))
            rc = sch_msg(
                r, SC_SCHEMA_ERROR,
                "Column '%s' is a reserved column name of 'obs'. Remove "
                "it from h5ad and try again.",
                name);
        else if (!strncmp(name, "__", 2))
            rc =
                sch_msg(r, SC_SCHEMA_ERROR,
                        "The field '%s' in 'obs' is invalid. Fields that start "
                        "with '__' are reserved.",
                        name);
    }
    for (size_t i = 0; rc == 0 && cols && i < cols->n; i++) {
        const char *col = cols->keys[i];

        if (!sc_elem_get(ad->obs, col)) {
            /* the validator skips the columns its pre-analysis section
             * names (cell_type_ontology_term_id) when they are absent */
            if (seq_has_key(pre, col))
                rc = sch_msg(
                    r, SC_SCHEMA_WARNING,
                    "Dataframe 'obs' has no column '%s' (allowed before "
                    "analysis).",
                    col);
            else if ((rc = sch_msg(r, SC_SCHEMA_ERROR,
                                   "Dataframe 'obs' is missing column "
                                   "'%s'.",
                                   col)) < 0)
                break;
            if (rc < 0 ||
                (rc = check_labels(o, ad, col, cols->items[i], flags, r)) < 0)
                break;
            continue;
        }
        if ((rc = check_column(s, o, ad, col, cols->items[i], &cc, r)) < 0 ||
            (rc = check_labels(o, ad, col, cols->items[i], flags, r)) < 0)
            break;
    }
    return rc;
}

static int check_var_obsm(const sc_schema *s, const sc_adata *ad,
                          sc_schema_report *r)
{
    const char *warn_rows = sc_ytree_str(s->var, "warn_if_less_than_rows");
    const sc_elem *fif = sc_elem_get(ad->var, "feature_is_filtered");
    int rc, unique, n_emb = 0;

    if ((rc = index_unique(ad->var, &unique)) < 0)
        return rc;
    if (!unique &&
        (rc = sch_msg(r, SC_SCHEMA_ERROR, "Index of 'var' is not unique.")) < 0)
        return rc;
    if (!fif)
        rc =
            sch_msg(r, SC_SCHEMA_ERROR,
                    "Dataframe 'var' is missing column 'feature_is_filtered'.");
    else if (fif->kind != SC_K_ARRAY || fif->dtype != SC_DT_BOOL)
        rc = sch_msg(r, SC_SCHEMA_ERROR,
                     "Column 'feature_is_filtered' in dataframe 'var' must be "
                     "boolean, not '%s'.",
                     kind_name(fif));
    if (rc == 0 && !ad->raw && fif && fif->kind == SC_K_ARRAY &&
        fif->dtype == SC_DT_BOOL) {
        const uint8_t *v = fif->data;

        for (int64_t i = 0; rc == 0 && i < sc_elem_count(fif); i++)
            if (v[i])
                rc = sch_msg(r, SC_SCHEMA_ERROR,
                             "'feature_is_filtered' must be False for all "
                             "features if 'adata.raw' is not present.");
    }
    if (rc == 0 && ad->raw &&
        sc_elem_get(sc_elem_get(ad->raw, "var"), "feature_is_filtered"))
        rc = sch_msg(r, SC_SCHEMA_ERROR,
                     "Dataframe 'raw.var' must not contain column "
                     "'feature_is_filtered'.");
    if (rc == 0 && warn_rows && ad->n_vars < strtoll(warn_rows, NULL, 10))
        rc = sch_msg(
            r, SC_SCHEMA_WARNING,
            "Dataframe 'var' only has %lld rows. Features SHOULD NOT be "
            "filtered from expression matrix.",
            (long long)ad->n_vars);
    for (size_t i = 0; rc == 0 && ad->obsm && i < ad->obsm->n_child; i++) {
        const sc_elem *e = ad->obsm->child[i];

        if (strncmp(e->name, "X_", 2))
            continue;
        n_emb++;
        if (e->kind == SC_K_ARRAY && (e->rank != 2 || e->shape[1] < 2))
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "All embeddings must have at least two dimensions. "
                         "'adata.obsm['%s']' has a shape length of '%d'.",
                         e->name, e->rank);
    }
    if (rc == 0 && !n_emb && is_true(sc_ytree_str(s->obsm, "required")))
        rc = sch_msg(
            r, SC_SCHEMA_ERROR,
            "At least one embedding in 'obsm' has to have a key with an "
            "'X_' prefix.");
    return rc;
}

/* One matrix NAME ("X", "raw.X", "layers['counts']"): CSR, or dense and
 * not too sparse; CSC is refused whatever its sparsity. */
static int check_sparsity_of(const sc_schema *s, const sc_elem *x,
                             const char *name, sc_schema_report *r)
{
    sc_mat_info info;
    double sum, cells;
    int64_t nnz;
    int rc;

    if (!x || x->kind != SC_K_MATRIX || !x->mat)
        return 0;
    sc_mat_get_info(x->mat, &info);
    if (info.fmt == SC_MAT_CSR)
        return 0;
    if (info.fmt == SC_MAT_CSC)
        return sch_msg(r, SC_SCHEMA_ERROR,
                       "Invalid sparse encoding for %s with encoding csc. Only "
                       "csr sparse encodings are supported.",
                       name);
    cells = (double)info.n_rows * (double)info.n_cols;
    if (cells <= 0 || cells > 2e8) /* too big to count here */
        return 0;
    if ((rc = sc_mat_sum(x->mat, &sum, &nnz)) < 0)
        return rc;
    if (1.0 - (double)nnz / cells > s->sparsity)
        return sch_msg(
            r, SC_SCHEMA_ERROR,
            "Sparsity of '%s' is %g which is greater than %g, and it "
            "is not a 'scipy.sparse.csr_matrix'. It is required to use "
            "this type of matrix for the given sparsity.",
            name, 1.0 - (double)nnz / cells, s->sparsity);
    return 0;
}

static int check_sparsity(const sc_schema *s, const sc_adata *ad,
                          sc_schema_report *r)
{
    char name[512];
    int rc;

    if ((rc = check_sparsity_of(s, ad->X, "X", r)) < 0 ||
        (ad->raw && (rc = check_sparsity_of(s, sc_elem_get(ad->raw, "X"),
                                            "raw.X", r)) < 0))
        return rc;
    for (size_t i = 0; ad->layers && i < ad->layers->n_child; i++) {
        snprintf(name, sizeof name, "layers['%s']", ad->layers->child[i]->name);
        if ((rc = check_sparsity_of(s, ad->layers->child[i], name, r)) < 0)
            return rc;
    }
    return 0;
}

/* ---- the submission form ---- */

/* Remove from DF (named WHERE) the label columns or keys named by the
 * add_labels list AL ("to_column" or "to_key"). */
static int strip_labels(sc_elem *df, const char *where, const sc_ynode *al,
                        sc_schema_report *r)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && df && al && al->kind == SC_Y_SEQ && i < al->n;
         i++) {
        const char *to = sc_ytree_str(al->items[i], "to_column");

        if (!to)
            to = sc_ytree_str(al->items[i], "to_key");
        if (to && sc_elem_remove(df, to))
            rc = sch_msg(r, SC_SCHEMA_WARNING,
                         "removed %s['%s'] (the portal adds it)", where, to);
    }
    return rc;
}

static int strip_reserved(sc_elem *df, const char *where, const sc_ynode *res,
                          sc_schema_report *r)
{
    int rc = 0;

    for (size_t i = 0;
         rc == 0 && df && res && res->kind == SC_Y_SEQ && i < res->n; i++)
        if (res->items[i]->kind == SC_Y_SCALAR &&
            sc_elem_remove(df, res->items[i]->str))
            rc = sch_msg(r, SC_SCHEMA_WARNING,
                         "removed %s['%s'] (reserved for the portal)", where,
                         res->items[i]->str);
    return rc;
}

int sc_schema_strip_portal(const sc_schema *s, sc_adata *ad,
                           sc_schema_report *rep)
{
    const sc_ynode *cols = sc_ytree_get(s->obs, "columns");
    const sc_ynode *keys = sc_ytree_get(s->uns, "keys");
    sc_elem *rvar = ad->raw ? sc_elem_get(ad->raw, "var") : NULL;
    int rc = 0;

    for (size_t i = 0; rc == 0 && cols && i < cols->n; i++)
        rc = strip_labels(ad->obs, "obs",
                          sc_ytree_get(cols->items[i], "add_labels"), rep);
    for (size_t i = 0; rc == 0 && keys && i < keys->n; i++)
        rc = strip_labels(ad->uns, "uns",
                          sc_ytree_get(keys->items[i], "add_labels"), rep);
    if (rc == 0)
        rc = strip_labels(
            ad->var, "var",
            sc_ytree_get(sc_ytree_get(s->var, "index"), "add_labels"), rep);
    if (rc == 0)
        rc = strip_labels(
            rvar, "raw.var",
            sc_ytree_get(sc_ytree_get(s->raw_var, "index"), "add_labels"), rep);
    if (rc == 0)
        rc = strip_reserved(ad->obs, "obs",
                            sc_ytree_get(s->obs, "reserved_columns"), rep);
    if (rc == 0)
        rc = strip_reserved(ad->uns, "uns",
                            sc_ytree_get(s->uns, "reserved_columns"), rep);
    return rc;
}

int sc_schema_validate(const sc_schema *s, const sc_onto *o, const sc_adata *ad,
                       unsigned flags, sc_schema_report *rep)
{
    const sc_elem *rvar = ad->raw ? sc_elem_get(ad->raw, "var") : NULL;
    const char *org = sc_elem_get_str(ad->uns, "organism_ontology_term_id");
    struct genes_cache gc = {0};
    int rc;

    if ((rc = sch_check_types(ad->obs, "obs", rep)) < 0 ||
        (rc = sch_check_types(ad->var, "var", rep)) < 0 ||
        (rc = sch_check_types(rvar, "raw.var", rep)) < 0 ||
        ((flags & SC_SCHEMA_SUBMISSION) &&
         ((rc = sch_check_var_labels(s->var, ad->var, "var", rep)) < 0 ||
          (rc = sch_check_var_labels(s->raw_var, rvar, "raw.var", rep)) < 0)) ||
        (rc = check_uns(s, o, ad, flags, rep)) < 0 ||
        (rc = check_obs(s, o, ad, flags, rep)) < 0 ||
        (rc = check_var_obsm(s, ad, rep)) < 0 ||
        (rc = sch_check_features(o, ad->var, "var", org, &gc, rep)) < 0 ||
        (rc = sch_check_features(o, rvar, "raw.var", org, &gc, rep)) < 0 ||
        (rc = check_sparsity(s, ad, rep)) < 0)
        goto out;
    rc = sch_check_raw(s, o, ad, rep);
out:
    sch_genes_cache_free(&gc);
    return rc;
}
