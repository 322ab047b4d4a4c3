/* sc_harmonize_schema: schema-7 checks of obs terms, HANCESTRO migration. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_harmonize_int.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_share.h"
#include "sc_map.h"

#define HANCESTRO_MAP "ontology/cxg-schema/schema7_hancestro_mapping.json.gz"
#define MAX_ERRORS    100
#define SUFFIX        "_ontology_term_id"

static const char eth_col[] = "self_reported_ethnicity" SUFFIX;

/* ------------------------------------------------------------------------ */
/* HANCESTRO migration                                                      */

/* The mapping: {dataset id: {old value: new value}}. */
static int load_map(json_t **out)
{
    char path[4096], *text;
    size_t len;
    json_error_t err;
    json_t *root, *m, *v;
    const char *k, *k2;
    int rc;

    if ((rc = sc_share_path(HANCESTRO_MAP, path, sizeof path)) < 0 ||
        (rc = sc_io_read_file_gz(path, &text, &len)) < 0)
        return rc;
    root = len ? json_loadb(text, len, JSON_REJECT_DUPLICATES, &err) : NULL;
    free(text);
    if (!root)
        return sc_fail(SC_EFORMAT, "'%s' line %d: %s", path, len ? err.line : 0,
                       len ? err.text : "empty file");
    if (!json_is_object(root))
        goto bad;
    json_object_foreach(root, k, m)
    {
        if (!json_is_object(m))
            goto bad;
        json_object_foreach(m, k2, v)
        {
            if (!json_is_string(v))
                goto bad;
        }
    }
    *out = root;
    return 0;
bad:
    json_decref(root);
    return sc_fail(SC_EFORMAT,
                   "'%s': not an object of dataset ids to objects of "
                   "strings",
                   path);
}

int hz_hancestro_apply(sc_elem *obs, int64_t n, const char *const *ids,
                       json_t **map, json_t *rw, const char **matched)
{
    sc_elem *col = sc_elem_get(obs, eth_col);
    json_t *m = NULL;
    hz_catview v;
    char **newv = NULL;
    int changed = 0, rc = 0;

    *matched = NULL;
    if (!ids || !col || !sc_elem_is_strcol(col))
        return 0;
    if (!*map && (rc = load_map(map)) < 0)
        return rc;
    for (size_t i = 0; ids[i] && !m; i++)
        if (ids[i][0] && (m = json_object_get(*map, ids[i])))
            *matched = ids[i];
    if (!m)
        return 0;
    if ((rc = hz_catview_make(col, n, &v)) < 0)
        return rc;
    if (!(newv = calloc((size_t)(v.n_cat ? v.n_cat : 1), sizeof *newv))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t k = 0; k < v.n_cat; k++) {
        const char *from = v.cat[k] ? v.cat[k] : "";
        const char *to = json_string_value(json_object_get(m, from));

        if (!(newv[k] = strdup(to ? to : from))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        if (to && strcmp(to, from) != 0 && v.count[k] > 0) {
            changed = 1;
            if ((rc = hz_add_rewrite(rw, eth_col, "schema7_hancestro_mapping",
                                     from, to, v.count[k])) < 0)
                goto out;
        }
    }
    if (changed)
        rc = hz_replace_column(obs, eth_col, &v, newv, n);
out:
    hz_free_strs(newv, v.n_cat);
    hz_catview_release(&v);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Per-term schema checks                                                   */

/* The distinct (value, tissue_type, assay) contexts of a column. */
typedef struct combo {
    int32_t code, tt, assay;
    int64_t n_cells;
} combo;

typedef struct combos {
    combo *c;
    int64_t n, cap;
    sc_u64map index; /* packed (code, tt, assay) -> index in c */
} combos;

static void combos_release(combos *s)
{
    free(s->c);
    sc_u64map_release(&s->index);
    memset(s, 0, sizeof *s);
}

/* The index of the combination (CODE, TT, ASSAY), added when new. */
static int64_t combos_get(combos *s, int32_t code, int32_t tt, int32_t assay)
{
    uint64_t key = ((uint64_t)(uint32_t)code << 42) |
                   ((uint64_t)(uint32_t)(tt + 1) << 21) |
                   (uint64_t)(uint32_t)(assay + 1);
    int64_t *v;
    int added;

    if (sc_u64map_slot(&s->index, key, s->n, &v, &added) < 0)
        return -1;
    if (!added)
        return *v;
    if (s->n == s->cap) {
        int64_t nc = s->cap ? s->cap * 2 : 64;
        combo *c = realloc(s->c, (size_t)nc * sizeof *c);

        if (!c) {
            sc_fail(SC_ENOMEM, "out of memory");
            return -1;
        }
        s->c = c;
        s->cap = nc;
    }
    s->c[s->n] = (combo){code, tt, assay, 0};
    return s->n++;
}

/* Whether VALUE is valid for COL in the context; the first error message
 * goes to WHY. Returns 1 valid, 0 not, or a negative SC_E* code. */
static int value_ok(const sc_schema *s, const sc_onto *o, const char *col,
                    const char *value, const char *organism, const char *tt,
                    const char *assay, char *why, size_t size)
{
    sc_schema_report r = SC_SCHEMA_REPORT_INIT;
    int rc = sc_schema_check_value(s, o, col, value, organism, tt, assay, &r);

    if (rc == 0 && why)
        for (size_t i = 0; i < r.n; i++)
            if (r.level[i] == SC_SCHEMA_ERROR) {
                snprintf(why, size, "%s", r.text[i]);
                break;
            }
    if (rc == 0)
        rc = r.n_errors == 0;
    sc_schema_report_release(&r);
    return rc;
}

/* The context views: tissue_type and assay of each cell (absent: -1). */
typedef struct ctx {
    hz_catview tt, assay;
    int has_tt, has_assay;
} ctx;

static const char *ctx_str(const hz_catview *v, int has, int32_t code,
                           const char *dflt)
{
    if (!has)
        return dflt;
    return code >= 0 && code < v->n_cat ? v->cat[code] : NULL;
}

/* Per category of the column: cells replaced by unknown / na, kept. */
typedef struct verdicts {
    int64_t *to_unknown, *to_na, *kept;
    char **why;
} verdicts;

static int check_column(sc_elem *obs, const char *name, int64_t n,
                        const char *organism, const sc_schema *s,
                        const sc_onto *o, const ctx *cx, json_t *rw, json_t *js,
                        json_t *errs)
{
    sc_elem *col = sc_elem_get(obs, name);
    hz_catview v, cv;
    combos cs;
    verdicts vd;
    char **newv = NULL;
    int rc = 0, any = 0;

    memset(&cs, 0, sizeof cs);
    memset(&cv, 0, sizeof cv);
    memset(&vd, 0, sizeof vd);
    if ((rc = hz_catview_make(col, n, &v)) < 0)
        return rc;
    size_t nc = (size_t)(v.n_cat ? v.n_cat : 1);

    vd.to_unknown = calloc(nc, sizeof *vd.to_unknown);
    vd.to_na = calloc(nc, sizeof *vd.to_na);
    vd.kept = calloc(nc, sizeof *vd.kept);
    vd.why = calloc(nc, sizeof *vd.why);
    cv.codes = malloc((size_t)(n ? n : 1) * sizeof *cv.codes);
    if (!vd.to_unknown || !vd.to_na || !vd.kept || !vd.why || !cv.codes) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        int32_t k = v.codes[i];
        int64_t c;

        if (k < 0) {
            cv.codes[i] = -1;
            continue;
        }
        c = combos_get(&cs, k, cx->has_tt ? cx->tt.codes[i] : -1,
                       cx->has_assay ? cx->assay.codes[i] : -1);
        if (c < 0) {
            rc = SC_ENOMEM;
            goto out;
        }
        cs.c[c].n_cells++;
        cv.codes[i] = (int32_t)c;
    }
    if (!(newv = calloc((size_t)(cs.n ? cs.n : 1), sizeof *newv))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t c = 0; c < cs.n; c++) {
        const combo *cb = &cs.c[c];
        const char *val = v.cat[cb->code];
        const char *tt = ctx_str(&cx->tt, cx->has_tt, cb->tt, "tissue");
        const char *as = ctx_str(&cx->assay, cx->has_assay, cb->assay, NULL);
        const char *to = val;
        char why[1024] = "";
        int ok = value_ok(s, o, name, val, organism, tt, as, why, sizeof why);

        json_object_set_new(js, "n_values_checked",
                            json_integer(json_integer_value(json_object_get(
                                             js, "n_values_checked")) +
                                         1));
        if (ok < 0) {
            rc = ok;
            goto out;
        }
        if (!ok) {
            if ((rc = value_ok(s, o, name, "unknown", organism, tt, as, NULL,
                               0)) < 0)
                goto out;
            if (rc == 1) {
                to = "unknown";
                vd.to_unknown[cb->code] += cb->n_cells;
            } else if ((rc = value_ok(s, o, name, "na", organism, tt, as, NULL,
                                      0)) == 1) {
                to = "na";
                vd.to_na[cb->code] += cb->n_cells;
            } else if (rc < 0) {
                goto out;
            } else {
                vd.kept[cb->code] += cb->n_cells;
            }
            rc = 0;
            any |= to != val;
            if (!vd.why[cb->code] && !(vd.why[cb->code] = strdup(why))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto out;
            }
        }
        if (!(newv[c] = strdup(to))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
    }
    for (int64_t k = 0; k < v.n_cat; k++) {
        static const char *const tos[2] = {"unknown", "na"};
        const int64_t cnt[2] = {vd.to_unknown[k], vd.to_na[k]};

        if (!vd.why[k])
            continue;
        for (int t = 0; t < 2; t++)
            if (cnt[t] && (rc = hz_add_rewrite(rw, name, "schema_invalid",
                                               v.cat[k], tos[t], cnt[t])) < 0)
                goto out;
        if (json_array_size(errs) < MAX_ERRORS)
            json_array_append_new(
                errs,
                json_pack("{s:s, s:s, s:s, s:I, s:I}", "column", name, "value",
                          v.cat[k], "message", vd.why[k], "n_cells_replaced",
                          (json_int_t)(cnt[0] + cnt[1]), "n_cells_kept",
                          (json_int_t)vd.kept[k]));
#define BUMP(key, by)                                                          \
    json_object_set_new(                                                       \
        js, key,                                                               \
        json_integer(json_integer_value(json_object_get(js, key)) + (by)))
        BUMP("n_values_invalid", 1);
        BUMP("n_cells_replaced", cnt[0] + cnt[1]);
        BUMP("n_cells_invalid_kept", vd.kept[k]);
#undef BUMP
    }
    if (any)
        rc = hz_replace_column(obs, name, &cv, newv, n);
out:
    hz_free_strs(newv, cs.n);
    free(vd.to_unknown);
    free(vd.to_na);
    free(vd.kept);
    hz_free_strs(vd.why, v.n_cat);
    free(cv.codes);
    combos_release(&cs);
    hz_catview_release(&v);
    return rc;
}

/* The schema's term columns present in OBS, assay last (the other columns'
 * checks read it). */
static int term_columns(const sc_elem *obs, const sc_schema *s,
                        const sc_onto *o, char ***out, size_t *n_out)
{
    char **names = calloc(obs->n_child + 1, sizeof *names);
    size_t n = 0;
    int has_assay = 0;

    *out = NULL;
    *n_out = 0;
    if (!names)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < obs->n_child; i++) {
        const char *nm = obs->child[i]->name;
        size_t len = strlen(nm), k = strlen(SUFFIX);
        sc_schema_report r = SC_SCHEMA_REPORT_INIT;
        int rc;

        if (len <= k || strcmp(nm + len - k, SUFFIX) != 0 ||
            !sc_elem_is_strcol(obs->child[i]))
            continue;
        /* a column of the schema's obs definition? */
        rc = sc_schema_check_value(s, o, nm, "unknown", NULL, NULL, NULL, &r);
        sc_schema_report_release(&r);
        if (rc == SC_ENOTFOUND) {
            sc_err_clear();
            continue;
        }
        if (rc < 0) {
            hz_free_strs(names, (int64_t)n);
            return rc;
        }
        if (!strcmp(nm, "assay" SUFFIX)) {
            has_assay = 1;
            continue;
        }
        if (!(names[n++] = strdup(nm))) {
            hz_free_strs(names, (int64_t)n);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
    }
    if (has_assay && !(names[n++] = strdup("assay" SUFFIX))) {
        hz_free_strs(names, (int64_t)n);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    *out = names;
    *n_out = n;
    return 0;
}

int hz_schema_check(sc_elem *obs, int64_t n, const char *organism,
                    const sc_schema *s, const sc_onto *onto, json_t *rw,
                    json_t *rep)
{
    json_t *js = json_object(), *errs = json_array();
    char **names = NULL;
    size_t n_names = 0;
    ctx cx;
    sc_elem *c;
    int rc;

    memset(&cx, 0, sizeof cx);
    if (!js || !errs) {
        json_decref(js);
        json_decref(errs);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_object_set_new(js, "rules", json_string(sc_schema_title(s)));
    json_object_set_new(js, "organism",
                        organism ? json_string(organism) : json_null());
    json_object_set_new(js, "n_values_checked", json_integer(0));
    json_object_set_new(js, "n_values_invalid", json_integer(0));
    json_object_set_new(js, "n_cells_replaced", json_integer(0));
    json_object_set_new(js, "n_cells_invalid_kept", json_integer(0));
    json_object_set_new(js, "errors", errs);
    json_object_set_new(rep, "schema", js);
    if ((rc = term_columns(obs, s, onto, &names, &n_names)) < 0)
        return rc;
    /* views of the context columns, taken before anything is replaced:
     * they own their codes, and their strings stay valid because the
     * context columns are checked last (assay) or never (tissue_type) */
    if ((c = sc_elem_get(obs, "tissue_type")) && sc_elem_is_strcol(c)) {
        if ((rc = hz_catview_make(c, n, &cx.tt)) < 0)
            goto out;
        cx.has_tt = 1;
    }
    if ((c = sc_elem_get(obs, "assay" SUFFIX)) && sc_elem_is_strcol(c)) {
        if ((rc = hz_catview_make(c, n, &cx.assay)) < 0)
            goto out;
        cx.has_assay = 1;
    }
    for (size_t i = 0; i < n_names; i++)
        if ((rc = check_column(obs, names[i], n, organism, s, onto, &cx, rw, js,
                               errs)) < 0)
            goto out;
    json_object_set_new(js, "valid",
                        json_boolean(json_integer_value(json_object_get(
                                         js, "n_cells_invalid_kept")) == 0));
out:
    hz_free_strs(names, (int64_t)n_names);
    hz_catview_release(&cx.tt);
    hz_catview_release(&cx.assay);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Assay class                                                              */

/* Whether the term ID is one of the comma-separated LIST or below one. */
static int in_assay_list(const sc_onto *o, const char *id, const char *list)
{
    sc_onto_term t = o ? sc_onto_find(o, id) : SC_ONTO_NONE;

    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        char tok[64], norm[64];

        snprintf(tok, sizeof tok, "%.*s", (int)len, p);
        p += len + (p[len] == ',');
        if (sc_onto_normalize_id(tok, norm, sizeof norm) < 0) {
            sc_err_clear();
            continue;
        }
        if (!strcmp(norm, id))
            return 1;
        if (t != SC_ONTO_NONE) {
            sc_onto_term a = sc_onto_find(o, norm);

            if (a != SC_ONTO_NONE && sc_onto_is_a(o, t, a))
                return 1;
        }
    }
    return 0;
}

int hz_assay_class(const sc_elem *obs, int64_t n, const sc_onto *o,
                   const char *targeted, int64_t *n_targeted, int64_t *n_known)
{
    const sc_elem *col = sc_elem_get(obs, "assay" SUFFIX);
    hz_catview v;
    int rc;

    *n_targeted = *n_known = 0;
    if (!col || !sc_elem_is_strcol(col))
        return 0;
    if ((rc = hz_catview_make(col, n, &v)) < 0)
        return rc;
    for (int64_t k = 0; k < v.n_cat; k++) {
        char norm[64];

        if (!v.count[k] || !v.cat[k] ||
            sc_onto_normalize_id(v.cat[k], norm, sizeof norm) < 0) {
            sc_err_clear();
            continue;
        }
        *n_known += v.count[k];
        if (in_assay_list(o, norm, targeted))
            *n_targeted += v.count[k];
    }
    hz_catview_release(&v);
    return 0;
}
