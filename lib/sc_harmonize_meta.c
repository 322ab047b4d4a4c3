/* sc_harmonize_meta: obs rewrites from older CELLxGENE layouts to schema 7. */
/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_harmonize_int.h"
#include "sc_log.h"

#define SUFFIX "_ontology_term_id"

int hz_meta_needs_onto(const sc_elem *obs)
{
    for (size_t i = 0; i < obs->n_child; i++) {
        const char *nm = obs->child[i]->name;
        size_t n = strlen(nm), k = strlen(SUFFIX);

        if (n > k && strcmp(nm + n - k, SUFFIX) == 0 &&
            strcmp(nm, "organism" SUFFIX) != 0)
            return 1;
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Rewriting one value                                                      */

/* Rule ranks: a value reports its most telling rule. */
enum {
    R_NONE = 0,
    R_SPELLING,
    R_SEPARATOR,
    R_TISSUE_TYPE,
    R_REPLACED,
    R_CONSIDER,
    R_NATIVE,
    R_MULTIETHNIC,
    R_SUFFIX
};
static const char *const rule_names[] = {"valid",
                                         "curie_spelling",
                                         "ethnicity_separator",
                                         "tissue_type_rename",
                                         "replaced_by",
                                         "obsolete_consider",
                                         "native_cell",
                                         "multiethnic",
                                         "tissue_suffix"};

typedef struct val_ctx {
    const sc_onto *onto;
    int lenient;
    int cell_type; /* the column is cell_type_ontology_term_id */
} val_ctx;

static void trim(char *s)
{
    size_t n = strlen(s), b = 0;

    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    while (isspace((unsigned char)s[b]))
        b++;
    if (b)
        memmove(s, s + b, n - b + 1);
}

/* Rewrite one term T (trimmed) into OUT; returns the rule rank. */
static int fix_one(const val_ctx *c, const char *t, char *out, size_t size)
{
    char norm[256];
    int rule = R_NONE;
    sc_onto_term term, fin;

    snprintf(out, size, "%s", t);
    if (!*t || strcmp(t, "unknown") == 0 || strcmp(t, "na") == 0)
        return R_NONE;
    if (sc_onto_normalize_id(t, norm, sizeof norm) < 0) {
        sc_err_clear();
        return R_NONE; /* free text: sc-annotate's job */
    }
    if (strcmp(norm, t) != 0)
        rule = R_SPELLING;
    snprintf(out, size, "%s", norm);
    if (c->cell_type && strcmp(norm, "CL:0000003") == 0) {
        snprintf(out, size, "unknown");
        return R_NATIVE;
    }
    if (!c->onto || (term = sc_onto_find(c->onto, norm)) == SC_ONTO_NONE ||
        !sc_onto_is_deprecated(c->onto, term))
        return rule;
    if (sc_onto_resolve(c->onto, term, &fin, NULL) == 0) {
        snprintf(out, size, "%s", sc_onto_id(c->onto, fin));
        return R_REPLACED;
    }
    sc_err_clear();
    if (c->lenient) {
        sc_log_warn("obsolete term '%s' has no replacement: kept", norm);
        return rule;
    }
    snprintf(out, size, "unknown");
    return R_CONSIDER;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Rewrite a value of a multi-term column (" || " or ","). */
static int fix_multi(const val_ctx *c, const char *v, int ethnicity, char *out,
                     size_t size)
{
    char buf[1024], *parts[64], fixed[64][256];
    int n = 0, rule = R_NONE, comma = 0;
    char *p = buf;

    snprintf(buf, sizeof buf, "%s", v);
    if (ethnicity && strcmp(buf, "multiethnic") == 0) {
        snprintf(out, size, "unknown");
        return R_MULTIETHNIC;
    }
    while (p && n < 64) {
        char *q = strstr(p, "||"), *cm = strchr(p, ',');

        if (cm && (!q || cm < q)) {
            q = cm;
            comma = 1;
        }
        if (q)
            *q = '\0';
        parts[n] = p;
        trim(parts[n]);
        n++;
        p = q ? q + (*(q + 1) == '|' ? 2 : 1) : NULL;
        if (q && q[0] == '\0' && q[1] == '|')
            p = q + 2;
    }
    for (int i = 0; i < n; i++) {
        int r = fix_one(c, parts[i], fixed[i], sizeof fixed[i]);

        rule = r > rule ? r : rule;
        parts[i] = fixed[i];
    }
    if (n > 1) {
        int m = 0;

        qsort(parts, (size_t)n, sizeof *parts, cmp_str);
        for (int i = 0; i < n; i++)
            if (!m || strcmp(parts[i], parts[m - 1]) != 0)
                parts[m++] = parts[i];
        n = m;
        /* "unknown" among real terms adds nothing */
    }
    out[0] = '\0';
    for (int i = 0; i < n; i++) {
        size_t len = strlen(out);

        snprintf(out + len, size - len, "%s%s", i ? " || " : "", parts[i]);
    }
    if (comma && rule < R_SEPARATOR)
        rule = R_SEPARATOR;
    if (rule == R_NONE && strcmp(out, v) != 0)
        rule = R_SPELLING;
    return rule;
}

/* ------------------------------------------------------------------------ */
/* Columns                                                                  */

void hz_catview_release(hz_catview *v)
{
    free(v->codes);
    free(v->cat);
    free(v->count);
    sc_elem_free(v->tmp);
    memset(v, 0, sizeof *v);
}

int hz_catview_make(const sc_elem *col, int64_t n, hz_catview *v)
{
    const sc_elem *cc = col;

    memset(v, 0, sizeof *v);
    if (col->kind != SC_K_CATEGORICAL) {
        const char **s = calloc((size_t)(n ? n : 1), sizeof *s);

        if (!s)
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; i < n; i++)
            s[i] = sc_elem_str(col, i);
        v->tmp = sc_elem_new_categorical_from_strings(col->name, s, n, 0);
        free(s);
        if (!v->tmp)
            return SC_ENOMEM;
        cc = v->tmp;
    }
    v->n_cat = sc_elem_count(cc->categories);
    v->codes = malloc((size_t)(n ? n : 1) * sizeof *v->codes);
    v->cat = malloc((size_t)(v->n_cat ? v->n_cat : 1) * sizeof *v->cat);
    v->count = calloc((size_t)(v->n_cat ? v->n_cat : 1), sizeof *v->count);
    if (!v->codes || !v->cat || !v->count) {
        hz_catview_release(v);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    memcpy(v->codes, cc->codes->data, (size_t)n * sizeof *v->codes);
    for (int64_t k = 0; k < v->n_cat; k++)
        v->cat[k] = sc_elem_str(cc->categories, k);
    for (int64_t i = 0; i < n; i++)
        if (v->codes[i] >= 0 && v->codes[i] < v->n_cat)
            v->count[v->codes[i]]++;
    return 0;
}

int hz_add_rewrite(json_t *rw, const char *col, const char *rule,
                   const char *from, const char *to, int64_t n)
{
    json_t *o =
        json_pack("{s:s, s:s, s:s, s:s, s:I}", "column", col, "rule", rule,
                  "from", from, "to", to, "n_cells", (json_int_t)n);

    if (!o || json_array_append_new(rw, o) < 0)
        return sc_fail(SC_ENOMEM, "out of memory");
    return 0;
}

/* Replace column NAME of OBS by the categorical of NEWV[code] per row,
 * keeping the input column as NAME__original (unless one exists). */
int hz_replace_column(sc_elem *obs, const char *name, const hz_catview *v,
                      char **newv, int64_t n)
{
    char orig[512];
    const char **s = calloc((size_t)(n ? n : 1), sizeof *s);
    sc_elem *col, *old;
    int rc;

    if (!s)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        s[i] = v->codes[i] >= 0 ? newv[v->codes[i]] : NULL;
    col = sc_elem_new_categorical_from_strings(name, s, n, 0);
    free(s);
    if (!col)
        return SC_ENOMEM;
    snprintf(orig, sizeof orig, "%s__original", name);
    if (!sc_elem_get(obs, orig) && (old = sc_elem_get(obs, name))) {
        sc_elem *cp = sc_elem_copy(old);

        if (!cp) {
            sc_elem_free(col);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        free(cp->name);
        if (!(cp->name = strdup(orig))) {
            sc_elem_free(cp);
            sc_elem_free(col);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        if ((rc = sc_elem_add_take(obs, cp)) < 0) {
            sc_elem_free(col);
            return rc;
        }
    }
    return sc_elem_add_take(obs, col);
}

void hz_free_strs(char **s, int64_t n)
{
    if (!s)
        return;
    for (int64_t i = 0; i < n; i++)
        free(s[i]);
    free(s);
}

/* Rewrite the term column COL (in OBS). TT: for the tissue column, the
 * tissue_type each category implies from a suffix ("" when none). */
static int rewrite_terms(sc_elem *obs, sc_elem *col, int64_t n,
                         const val_ctx *c, json_t *rw, char ***tt_out,
                         hz_catview *tv)
{
    const char *name = col->name;
    int multi = strstr(name, "disease") || strstr(name, "ethnicity");
    int tissue = strcmp(name, "tissue" SUFFIX) == 0, changed = 0, rc;
    char **newv = NULL, **tt = NULL;

    if ((rc = hz_catview_make(col, n, tv)) < 0)
        return rc;
    newv = calloc((size_t)(tv->n_cat ? tv->n_cat : 1), sizeof *newv);
    tt = calloc((size_t)(tv->n_cat ? tv->n_cat : 1), sizeof *tt);
    if (!newv || !tt) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t k = 0; k < tv->n_cat; k++) {
        char buf[1024], out[1024];
        const char *type = "";
        int rule;

        snprintf(buf, sizeof buf, "%s", tv->cat[k] ? tv->cat[k] : "");
        if (tissue) {
            static const char *const suf[2][2] = {
                {" (cell culture)", "primary cell culture"},
                {" (organoid)", "organoid"}};
            size_t len = strlen(buf);

            for (int s = 0; s < 2; s++) {
                size_t sl = strlen(suf[s][0]);

                if (len > sl && strcmp(buf + len - sl, suf[s][0]) == 0) {
                    buf[len - sl] = '\0';
                    type = suf[s][1];
                }
            }
        }
        trim(buf);
        rule = multi ? fix_multi(c, buf, strstr(name, "ethnicity") != NULL, out,
                                 sizeof out)
                     : fix_one(c, buf, out, sizeof out);
        if (*type)
            rule = R_SUFFIX;
        if (rule == R_NONE && strcmp(out, tv->cat[k] ? tv->cat[k] : "") != 0)
            rule = R_SPELLING; /* spaces trimmed */
        if (!(newv[k] = strdup(out)) || !(tt[k] = strdup(type))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        if (strcmp(out, tv->cat[k] ? tv->cat[k] : "") != 0) {
            changed = 1;
            if ((rc = hz_add_rewrite(rw, name, rule_names[rule], tv->cat[k],
                                     out, tv->count[k])) < 0)
                goto out;
        }
    }
    rc = changed ? hz_replace_column(obs, name, tv, newv, n) : 0;
out:
    hz_free_strs(newv, tv->n_cat);
    if (rc == 0 && tt_out)
        *tt_out = tt;
    else
        hz_free_strs(tt, tv->n_cat);
    return rc;
}

/* tissue_type: rename "cell culture", and fill in the types implied by
 * tissue suffixes (TT per category of the tissue column, view TV). */
static int rewrite_tissue_type(sc_elem *obs, int64_t n, char **tt,
                               const hz_catview *tv, json_t *rw)
{
    sc_elem *col = sc_elem_get(obs, "tissue_type");
    const char **s = NULL;
    int any_suffix = 0, changed = 0, rc = 0;
    int64_t n_suffix[3] = {0, 0, 0};

    if (tt)
        for (int64_t k = 0; k < tv->n_cat; k++)
            any_suffix |= tt[k][0] != '\0';
    if (!col && !any_suffix)
        return 0;
    if (col && !sc_elem_is_strcol(col))
        return 0;
    if (!(s = calloc((size_t)(n ? n : 1), sizeof *s)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        const char *v = col ? sc_elem_str(col, i) : "tissue";
        int32_t k = tv && tt ? tv->codes[i] : -1;

        if (k >= 0 && tt[k][0]) {
            s[i] = tt[k];
            n_suffix[0]++;
        } else if (v && strcmp(v, "cell culture") == 0) {
            s[i] = "primary cell culture";
            n_suffix[1]++;
        } else {
            s[i] = v;
        }
        if (col && (v == NULL) != (s[i] == NULL))
            changed = 1;
        else if (col && v && strcmp(v, s[i]) != 0)
            changed = 1;
    }
    if (n_suffix[1] &&
        (rc = hz_add_rewrite(rw, "tissue_type", "tissue_type_rename",
                             "cell culture", "primary cell culture",
                             n_suffix[1])) < 0)
        goto out;
    if (!col || changed) {
        sc_elem *nc =
            sc_elem_new_categorical_from_strings("tissue_type", s, n, 0);
        char orig[] = "tissue_type__original";

        if (!nc) {
            rc = SC_ENOMEM;
            goto out;
        }
        if (col && !sc_elem_get(obs, orig)) {
            sc_elem *cp = sc_elem_copy(col);

            if (!cp || (free(cp->name), !(cp->name = strdup(orig)))) {
                sc_elem_free(cp);
                sc_elem_free(nc);
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto out;
            }
            if ((rc = sc_elem_add_take(obs, cp)) < 0) {
                sc_elem_free(nc);
                goto out;
            }
        }
        rc = sc_elem_add_take(obs, nc);
    }
out:
    free(s);
    return rc;
}

/* Move a constant obs organism id to uns. */
static int move_organism(sc_elem *obs, sc_elem *uns, int64_t n, json_t *rw,
                         hz_meta *meta)
{
    static const char name[] = "organism" SUFFIX;
    sc_elem *col = sc_elem_get(obs, name), *u;
    hz_catview v;
    char norm[64];
    int rc, n_live = 0;
    int64_t last = -1;

    if ((u = sc_elem_get(uns, name)) && u->kind == SC_K_ARRAY &&
        u->dtype == SC_DT_STR && sc_elem_str(u, 0))
        snprintf(meta->organism, sizeof meta->organism, "%s",
                 sc_elem_str(u, 0));
    if (!col || !sc_elem_is_strcol(col))
        return 0;
    if ((rc = hz_catview_make(col, n, &v)) < 0)
        return rc;
    for (int64_t k = 0; k < v.n_cat; k++)
        if (v.count[k] > 0) {
            n_live++;
            last = k;
        }
    meta->obs_organisms = n_live;
    if (n_live != 1) {
        hz_catview_release(&v);
        return 0; /* several species: reported by the caller */
    }
    if (sc_onto_normalize_id(v.cat[last], norm, sizeof norm) < 0) {
        sc_err_clear();
        snprintf(norm, sizeof norm, "%s", v.cat[last]);
    }
    if (!meta->organism[0])
        snprintf(meta->organism, sizeof meta->organism, "%s", norm);
    rc = hz_add_rewrite(rw, name, "organism_to_uns", v.cat[last], norm,
                        v.count[last]);
    hz_catview_release(&v);
    if (rc < 0)
        return rc;
    if (!u || strcmp(sc_elem_str(u, 0) ? sc_elem_str(u, 0) : "", norm) != 0) {
        sc_elem *s = sc_elem_new_string(name, norm);

        if (!s || (rc = sc_elem_add_take(uns, s)) < 0)
            return s ? rc : SC_ENOMEM;
    }
    sc_elem_remove(obs, name);
    return 0;
}

int hz_meta_rewrite(sc_elem *obs, sc_elem *uns, int64_t n, const sc_onto *onto,
                    int lenient, json_t *rw, hz_meta *meta)
{
    static const char eth_old[] = "ethnicity" SUFFIX;
    static const char eth_new[] = "self_reported_ethnicity" SUFFIX;
    char **tt = NULL;
    hz_catview tv;
    sc_elem *col;
    int rc;

    memset(meta, 0, sizeof *meta);
    memset(&tv, 0, sizeof tv);
    if ((rc = move_organism(obs, uns, n, rw, meta)) < 0)
        return rc;
    if ((col = sc_elem_get(obs, eth_old)) && !sc_elem_get(obs, eth_new)) {
        char *nm = strdup(eth_new);

        if (!nm)
            return sc_fail(SC_ENOMEM, "out of memory");
        free(col->name);
        col->name = nm;
        if ((rc = hz_add_rewrite(rw, eth_old, "rename", eth_old, eth_new, n)) <
            0)
            return rc;
    }
    for (size_t i = 0; i < obs->n_child; i++) {
        sc_elem *c = obs->child[i];
        size_t len = strlen(c->name), k = strlen(SUFFIX);
        val_ctx vc = {onto, lenient, 0};
        hz_catview v;
        char **ttc = NULL;

        if (len <= k || strcmp(c->name + len - k, SUFFIX) != 0 ||
            strcmp(c->name, "organism" SUFFIX) == 0 || !sc_elem_is_strcol(c))
            continue;
        vc.cell_type = strcmp(c->name, "cell_type" SUFFIX) == 0;
        int tissue = strcmp(c->name, "tissue" SUFFIX) == 0;

        rc = rewrite_terms(obs, c, n, &vc, rw, tissue ? &ttc : NULL, &v);
        if (rc < 0) {
            hz_catview_release(&v);
            hz_free_strs(tt, tv.n_cat);
            hz_catview_release(&tv);
            return rc;
        }
        if (tissue) {
            tt = ttc;
            tv = v;
        } else {
            hz_catview_release(&v);
        }
    }
    rc = rewrite_tissue_type(obs, n, tt, tt ? &tv : NULL, rw);
    hz_free_strs(tt, tv.n_cat);
    hz_catview_release(&tv);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Row subsets                                                              */

static sc_elem *subset_array(const sc_elem *e, const int64_t *keep, int64_t nk)
{
    int64_t shape[SC_MAX_RANK], row = 1;
    size_t isz = sc_dtype_size(e->dtype);
    sc_elem *o;

    memcpy(shape, e->shape, sizeof shape);
    shape[0] = nk;
    for (int d = 1; d < e->rank; d++)
        row *= e->shape[d];
    if (!(o = sc_elem_new_array(e->name, e->dtype, e->rank, shape)))
        return NULL;
    for (int64_t i = 0; i < nk; i++) {
        char *dst = (char *)o->data + (size_t)(i * row) * isz;

        if (keep[i] < 0 && e->dtype != SC_DT_STR) {
            /* a row the input lacks: NaN, or 0 */
            for (int64_t j = 0; j < row; j++)
                if (e->dtype == SC_DT_F32)
                    ((float *)dst)[j] = NAN;
                else if (e->dtype == SC_DT_F64)
                    ((double *)dst)[j] = NAN;
                else
                    memset(dst + (size_t)j * isz, 0, isz);
        } else if (e->dtype == SC_DT_STR) {
            char **src = keep[i] < 0 ? NULL : (char **)e->data + keep[i] * row;
            char **sdst = (char **)o->data + i * row;

            for (int64_t j = 0; j < row; j++)
                if (!(sdst[j] = strdup(src && src[j] ? src[j] : ""))) {
                    sc_elem_free(o);
                    sc_fail(SC_ENOMEM, "out of memory");
                    return NULL;
                }
        } else {
            memcpy(dst, (const char *)e->data + (size_t)(keep[i] * row) * isz,
                   (size_t)row * isz);
        }
    }
    return o;
}

sc_elem *hz_subset_rows(const sc_elem *e, const int64_t *keep, int64_t nk)
{
    sc_elem *o = NULL;

    switch (e->kind) {
    case SC_K_ARRAY:
        if (e->rank < 1) {
            sc_fail(SC_EINVAL, "'%s' has no rows", e->name);
            return NULL;
        }
        return subset_array(e, keep, nk);
    case SC_K_CATEGORICAL:
        if (!(o = sc_elem_new(SC_K_CATEGORICAL, e->name)) ||
            !(o->codes = subset_array(e->codes, keep, nk)) ||
            !(o->categories = sc_elem_copy(e->categories)))
            goto fail;
        o->ordered = e->ordered;
        o->rank = 1;
        o->shape[0] = nk;
        return o;
    case SC_K_NULLABLE:
        if (!(o = sc_elem_new(SC_K_NULLABLE, e->name)) ||
            !(o->values = subset_array(e->values, keep, nk)))
            goto fail;
        if (e->mask) {
            if (!(o->mask = malloc((size_t)(nk ? nk : 1))))
                goto fail;
            for (int64_t i = 0; i < nk; i++)
                o->mask[i] = e->mask[keep[i]];
        }
        return o;
    case SC_K_DATAFRAME:
        if (!(o = sc_elem_new(SC_K_DATAFRAME, e->name)))
            goto fail;
        o->n_rows = nk;
        free(o->index_name);
        if (!(o->index_name =
                  strdup(e->index_name ? e->index_name : "_index")) ||
            (e->index && !(o->index = subset_array(e->index, keep, nk))))
            goto fail;
        for (size_t i = 0; i < e->n_child; i++) {
            sc_elem *c = hz_subset_rows(e->child[i], keep, nk);

            if (!c || sc_elem_add_take(o, c) < 0)
                goto fail;
        }
        return o;
    default:
        sc_fail(SC_EUNSUP, "cannot take rows of '%s'", e->name);
        return NULL;
    }
fail:
    sc_elem_free(o);
    if (!*sc_errmsg())
        sc_fail(SC_ENOMEM, "out of memory");
    return NULL;
}
