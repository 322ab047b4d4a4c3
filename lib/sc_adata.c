/* sc_adata: the in-memory element tree (sc_elem) and sc_adata lifecycle. */
/* SPDX-License-Identifier: MIT */
#include "sc_adata.h"
#include "sc_map.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------------ */
/* Data types                                                               */

size_t sc_dtype_size(sc_dtype t)
{
    switch (t) {
    case SC_DT_BOOL:
    case SC_DT_I8:
    case SC_DT_U8: return 1;
    case SC_DT_I16:
    case SC_DT_U16: return 2;
    case SC_DT_I32:
    case SC_DT_U32:
    case SC_DT_F32: return 4;
    case SC_DT_I64:
    case SC_DT_U64:
    case SC_DT_F64: return 8;
    case SC_DT_STR: return sizeof(char *);
    case SC_DT_NONE: break;
    }
    return 0;
}

const char *sc_dtype_name(sc_dtype t)
{
    switch (t) {
    case SC_DT_NONE: return "none";
    case SC_DT_BOOL: return "bool";
    case SC_DT_I8: return "int8";
    case SC_DT_I16: return "int16";
    case SC_DT_I32: return "int32";
    case SC_DT_I64: return "int64";
    case SC_DT_U8: return "uint8";
    case SC_DT_U16: return "uint16";
    case SC_DT_U32: return "uint32";
    case SC_DT_U64: return "uint64";
    case SC_DT_F32: return "float32";
    case SC_DT_F64: return "float64";
    case SC_DT_STR: return "str";
    }
    return "unknown";
}

int sc_dtype_is_int(sc_dtype t)
{
    return t >= SC_DT_I8 && t <= SC_DT_U64;
}

int sc_dtype_is_float(sc_dtype t)
{
    return t == SC_DT_F32 || t == SC_DT_F64;
}

/* Value I of a numeric/bool buffer as double. */
static double num_at(const void *data, sc_dtype t, int64_t i)
{
    switch (t) {
    case SC_DT_BOOL:
    case SC_DT_U8: return ((const uint8_t *)data)[i];
    case SC_DT_I8: return ((const int8_t *)data)[i];
    case SC_DT_I16: return ((const int16_t *)data)[i];
    case SC_DT_I32: return ((const int32_t *)data)[i];
    case SC_DT_I64: return (double)((const int64_t *)data)[i];
    case SC_DT_U16: return ((const uint16_t *)data)[i];
    case SC_DT_U32: return ((const uint32_t *)data)[i];
    case SC_DT_U64: return (double)((const uint64_t *)data)[i];
    case SC_DT_F32: return ((const float *)data)[i];
    case SC_DT_F64: return ((const double *)data)[i];
    case SC_DT_NONE:
    case SC_DT_STR: break;
    }
    return NAN;
}

/* ------------------------------------------------------------------------ */
/* Elements                                                                 */

static char *dup_str(const char *s)
{
    char *d;
    size_t n;

    if (!s)
        return NULL;
    n = strlen(s) + 1;
    if ((d = malloc(n)))
        memcpy(d, s, n);
    return d;
}

/* Columns of a dataframe are categoricals and nullables as often as plain
 * arrays, so the count also answers "how many rows" for those two kinds. */
int64_t sc_elem_count(const sc_elem *e)
{
    int64_t n = 1;

    if (!e)
        return 0;
    switch (e->kind) {
    case SC_K_ARRAY:
        for (int i = 0; i < e->rank; i++)
            n *= e->shape[i];
        return n;
    case SC_K_CATEGORICAL: return sc_elem_count(e->codes);
    case SC_K_NULLABLE: return sc_elem_count(e->values);
    default: return 0;
    }
}

sc_elem *sc_elem_new(sc_kind kind, const char *name)
{
    sc_elem *e = calloc(1, sizeof *e);

    if (!e)
        goto oom;
    e->kind = kind;
    if (name && !(e->name = dup_str(name)))
        goto oom;
    /* The header promises "_index" by default: a dataframe built without a
     * named index is written the way anndata writes an unnamed one. */
    if (kind == SC_K_DATAFRAME && !(e->index_name = dup_str("_index")))
        goto oom;
    return e;
oom:
    sc_elem_free(e);
    sc_fail(SC_ENOMEM, "out of memory");
    return NULL;
}

sc_elem *sc_elem_new_array(const char *name, sc_dtype dtype, int rank,
                           const int64_t *shape)
{
    size_t size = sc_dtype_size(dtype), n = 1;
    sc_elem *e;

    if (size == 0 || rank < 0 || rank > SC_MAX_RANK || (rank && !shape)) {
        sc_fail(SC_EINVAL, "invalid array: dtype %s, rank %d",
                sc_dtype_name(dtype), rank);
        return NULL;
    }
    for (int i = 0; i < rank; i++) {
        if (shape[i] < 0) {
            sc_fail(SC_EINVAL, "invalid array: negative extent %lld",
                    (long long)shape[i]);
            return NULL;
        }
        if (shape[i] && (uint64_t)n > SIZE_MAX / size / (uint64_t)shape[i]) {
            sc_fail(SC_ENOMEM, "out of memory: array too large");
            return NULL;
        }
        n *= (size_t)shape[i];
    }
    if (!(e = sc_elem_new(SC_K_ARRAY, name)))
        return NULL;
    e->dtype = dtype;
    e->rank = rank;
    for (int i = 0; i < rank; i++)
        e->shape[i] = shape[i];
    /* Never a NULL buffer, even for 0 values: data == NULL is not an error. */
    if (!(e->data = calloc(n ? n : 1, size))) {
        sc_elem_free(e);
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    return e;
}

sc_elem *sc_elem_new_strings(const char *name, const char *const *s, int64_t n)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_STR, 1, &n);
    char **v;

    if (!e)
        return NULL;
    v = e->data;
    for (int64_t i = 0; i < n; i++) {
        if (!(v[i] = dup_str(s[i] ? s[i] : ""))) {
            sc_elem_free(e);
            sc_fail(SC_ENOMEM, "out of memory");
            return NULL;
        }
    }
    return e;
}

sc_elem *sc_elem_new_string(const char *name, const char *s)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_STR, 0, NULL);

    if (e && !(*(char **)e->data = dup_str(s ? s : ""))) {
        sc_elem_free(e);
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    return e;
}

sc_elem *sc_elem_new_f64(const char *name, double v)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_F64, 0, NULL);

    if (e)
        *(double *)e->data = v;
    return e;
}

sc_elem *sc_elem_new_i64(const char *name, int64_t v)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_I64, 0, NULL);

    if (e)
        *(int64_t *)e->data = v;
    return e;
}

sc_elem *sc_elem_new_bool(const char *name, int v)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_BOOL, 0, NULL);

    if (e)
        *(uint8_t *)e->data = v != 0;
    return e;
}

sc_elem *sc_elem_new_matrix_take(const char *name, sc_mat *mat)
{
    sc_elem *e = sc_elem_new(SC_K_MATRIX, name);

    if (!e) {
        sc_mat_free(mat);
        return NULL;
    }
    e->mat = mat;
    return e;
}

void sc_elem_free(sc_elem *e)
{
    if (!e)
        return;
    for (size_t i = 0; i < e->n_child; i++)
        sc_elem_free(e->child[i]);
    free(e->child);
    if (e->kind == SC_K_ARRAY && e->dtype == SC_DT_STR && e->data) {
        int64_t n = sc_elem_count(e);
        char **v = e->data;

        for (int64_t i = 0; i < n; i++)
            free(v[i]);
    }
    free(e->data);
    free(e->index_name);
    sc_elem_free(e->index);
    sc_elem_free(e->codes);
    sc_elem_free(e->categories);
    sc_elem_free(e->values);
    free(e->mask);
    sc_mat_free(e->mat);
    free(e->name);
    free(e);
}

static int has_children(const sc_elem *e)
{
    return e->kind == SC_K_DICT || e->kind == SC_K_DATAFRAME ||
           e->kind == SC_K_RECARRAY;
}

/* Position of the child called NAME, or -1. */
static int64_t child_pos(const sc_elem *parent, const char *name)
{
    if (!parent || !name)
        return -1;
    for (size_t i = 0; i < parent->n_child; i++)
        if (parent->child[i]->name && !strcmp(parent->child[i]->name, name))
            return (int64_t)i;
    return -1;
}

int sc_elem_add_take(sc_elem *parent, sc_elem *child)
{
    sc_elem **v;
    int64_t pos;

    if (!child)
        return sc_fail(SC_EINVAL, "cannot add a NULL element");
    if (!parent || !has_children(parent) || !child->name) {
        sc_elem_free(child);
        return sc_fail(SC_EINVAL, "cannot add an element: %s",
                       !parent || !has_children(parent)
                           ? "parent has no children"
                           : "child has no name");
    }
    if ((pos = child_pos(parent, child->name)) >= 0) {
        sc_elem_free(parent->child[pos]);
        parent->child[pos] = child;
        return 0;
    }
    if (!(v = realloc(parent->child, (parent->n_child + 1) * sizeof *v))) {
        sc_elem_free(child);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    v[parent->n_child++] = child;
    parent->child = v;
    return 0;
}

sc_elem *sc_elem_get(const sc_elem *parent, const char *name)
{
    int64_t pos = child_pos(parent, name);

    return pos < 0 ? NULL : parent->child[pos];
}

sc_elem *sc_elem_detach(sc_elem *parent, const char *name)
{
    int64_t pos = child_pos(parent, name);
    sc_elem *c;

    if (pos < 0)
        return NULL;
    c = parent->child[pos];
    memmove(parent->child + pos, parent->child + pos + 1,
            (parent->n_child - (size_t)pos - 1) * sizeof *parent->child);
    parent->n_child--;
    return c;
}

int sc_elem_remove(sc_elem *parent, const char *name)
{
    sc_elem *c = sc_elem_detach(parent, name);

    sc_elem_free(c);
    return c != NULL;
}

int sc_elem_is_strcol(const sc_elem *e)
{
    if (!e)
        return 0;
    switch (e->kind) {
    case SC_K_ARRAY: return e->dtype == SC_DT_STR && e->rank == 1;
    case SC_K_CATEGORICAL:
        return e->categories && e->categories->dtype == SC_DT_STR;
    case SC_K_NULLABLE: return e->values && e->values->dtype == SC_DT_STR;
    default: return 0;
    }
}

const char *sc_elem_get_str(const sc_elem *d, const char *name)
{
    const sc_elem *e = d ? sc_elem_get(d, name) : NULL;

    return e && e->kind == SC_K_ARRAY && e->dtype == SC_DT_STR &&
                   sc_elem_count(e) == 1
               ? sc_elem_str(e, 0)
               : NULL;
}

/* sc_elem_mode_str of a categorical: its codes counted, a tie to the
 * category whose first row comes first. */
static const char *cat_mode(const sc_elem *col, int64_t n)
{
    int64_t nc = sc_elem_count(col->categories), *cnt, *first, best = -1;
    const char *found = NULL;

    cnt = calloc((size_t)nc + 1, sizeof *cnt);
    first = calloc((size_t)nc + 1, sizeof *first);
    for (int64_t i = 0; cnt && first && i < n; i++) {
        double c = sc_elem_num(col->codes, i);

        if (c >= 0 && c < (double)nc && cnt[(int64_t)c]++ == 0)
            first[(int64_t)c] = i;
    }
    for (int64_t k = 0; cnt && first && k < nc; k++)
        if (cnt[k] > 0 && sc_elem_str(col->categories, k) &&
            *sc_elem_str(col->categories, k) &&
            (best < 0 || cnt[k] > cnt[best] ||
             (cnt[k] == cnt[best] && first[k] < first[best])))
            best = k;
    if (best >= 0)
        found = sc_elem_str(col->categories, best);
    free(cnt);
    free(first);
    return found;
}

const char *sc_elem_mode_str(const sc_elem *col)
{
    int64_t n = sc_elem_count(col), nd = 0, best = 0, *cnt = NULL;
    const char *v, *found = NULL;
    sc_strmap idx = {0};
    const char **keys = NULL;

    if (!sc_elem_is_strcol(col) || n <= 0)
        return NULL;
    if (col->kind == SC_K_CATEGORICAL)
        return cat_mode(col, n);
    /* distinct values in first-seen order, counted */
    if (!(cnt = calloc((size_t)n + 1, sizeof *cnt)) ||
        !(keys = calloc((size_t)n + 1, sizeof *keys)))
        goto out;
    for (int64_t i = 0; i < n; i++) {
        int64_t *slot;
        int added = 0;

        if (!(v = sc_elem_str(col, i)) || !*v)
            continue;
        if (sc_strmap_slot(&idx, v, nd, &slot, &added) < 0)
            goto out; /* out of memory: no answer rather than a wrong one */
        if (added)
            keys[nd++] = v;
        cnt[*slot]++;
    }
    for (int64_t k = 0; k < nd; k++)
        if (cnt[k] > best) {
            best = cnt[k];
            found = keys[k];
        }
out:
    sc_strmap_release(&idx);
    free(cnt);
    free(keys);
    return found;
}

const char *sc_elem_organism(const sc_elem *uns, const sc_elem *obs, int names)
{
    static const char *const keys[2] = {"organism_ontology_term_id",
                                        "organism"};
    const char *s;

    for (int k = 0; k < (names ? 2 : 1); k++) {
        if ((s = sc_elem_get_str(uns, keys[k])) && *s)
            return s;
        if (obs && (s = sc_elem_mode_str(sc_elem_get(obs, keys[k]))) && *s)
            return s;
    }
    return NULL;
}

/* Categoricals and nullables answer too, with NULL / NaN for missing values,
 * so that callers can treat every kind of column alike. */
const char *sc_elem_str(const sc_elem *e, int64_t i)
{
    if (!e || i < 0 || i >= sc_elem_count(e))
        return NULL;
    switch (e->kind) {
    case SC_K_ARRAY:
        return e->dtype == SC_DT_STR ? ((char *const *)e->data)[i] : NULL;
    case SC_K_CATEGORICAL: {
        double code = sc_elem_num(e->codes, i);

        return code >= 0 ? sc_elem_str(e->categories, (int64_t)code) : NULL;
    }
    case SC_K_NULLABLE:
        return e->mask && e->mask[i] ? NULL : sc_elem_str(e->values, i);
    default: return NULL;
    }
}

double sc_elem_num(const sc_elem *e, int64_t i)
{
    if (!e || i < 0 || i >= sc_elem_count(e))
        return NAN;
    switch (e->kind) {
    case SC_K_ARRAY: return num_at(e->data, e->dtype, i);
    case SC_K_CATEGORICAL: {
        double code = sc_elem_num(e->codes, i);

        return code >= 0 ? sc_elem_num(e->categories, (int64_t)code) : NAN;
    }
    case SC_K_NULLABLE:
        return e->mask && e->mask[i] ? NAN : sc_elem_num(e->values, i);
    default: return NAN;
    }
}

/* ------------------------------------------------------------------------ */
/* Categoricals from strings                                                */

/* Open-addressing set of category strings: slot -> category number or -1.
 * Columns have millions of rows but few distinct values, so the table grows
 * with the categories, not with the rows. */
typedef struct cat_set {
    int32_t *slot;
    size_t mask; /* table size - 1, a power of two minus one */
    const char **cat;
    int64_t n_cat;
} cat_set;

static int cat_grow(cat_set *cs)
{
    size_t size = cs->slot ? (cs->mask + 1) * 2 : 64;
    int32_t *slot = malloc(size * sizeof *slot);
    const char **cat = realloc(cs->cat, size / 2 * sizeof *cat);

    if (!slot || !cat) {
        free(slot);
        if (cat)
            cs->cat = cat;
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    cs->cat = cat;
    memset(slot, 0xff, size * sizeof *slot);
    for (int64_t c = 0; c < cs->n_cat; c++) {
        size_t h = sc_strhash(cat[c], 0) & (size - 1);

        while (slot[h] >= 0)
            h = (h + 1) & (size - 1);
        slot[h] = (int32_t)c;
    }
    free(cs->slot);
    cs->slot = slot;
    cs->mask = size - 1;
    return 0;
}

/* Category number of S, adding it when new; negative SC_E* on failure. */
static int64_t cat_lookup(cat_set *cs, const char *s)
{
    size_t h;
    int rc;

    if ((!cs->slot || (size_t)cs->n_cat >= (cs->mask + 1) / 2) &&
        (rc = cat_grow(cs)) < 0)
        return rc;
    if (cs->n_cat >= INT32_MAX)
        return sc_fail(SC_ERANGE, "too many categories");
    h = sc_strhash(s, 0) & cs->mask;
    while (cs->slot[h] >= 0) {
        if (!strcmp(cs->cat[cs->slot[h]], s))
            return cs->slot[h];
        h = (h + 1) & cs->mask;
    }
    cs->slot[h] = (int32_t)cs->n_cat;
    cs->cat[cs->n_cat] = s;
    return cs->n_cat++;
}

static int cmp_cat(const void *a, const void *b)
{
    return strcmp(**(const char *const *const *)a,
                  **(const char *const *const *)b);
}

/* Sort the categories of E and renumber its codes. */
static int sort_categories(sc_elem *e)
{
    int64_t n_cat = sc_elem_count(e->categories), n = sc_elem_count(e->codes);
    char **cat = e->categories->data;
    char ***order = malloc((n_cat ? n_cat : 1) * sizeof *order);
    int32_t *remap = malloc((n_cat ? n_cat : 1) * sizeof *remap);
    char **sorted = malloc((n_cat ? n_cat : 1) * sizeof *sorted);
    int32_t *codes = e->codes->data;

    if (!order || !remap || !sorted) {
        free(order);
        free(remap);
        free(sorted);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (int64_t c = 0; c < n_cat; c++)
        order[c] = &cat[c];
    qsort(order, (size_t)n_cat, sizeof *order, cmp_cat);
    for (int64_t c = 0; c < n_cat; c++) {
        remap[order[c] - cat] = (int32_t)c;
        sorted[c] = *order[c];
    }
    memcpy(cat, sorted, (size_t)n_cat * sizeof *cat);
    for (int64_t i = 0; i < n; i++)
        if (codes[i] >= 0)
            codes[i] = remap[codes[i]];
    free(order);
    free(remap);
    free(sorted);
    return 0;
}

sc_elem *sc_elem_new_categorical_from_strings(const char *name,
                                              const char *const *s, int64_t n,
                                              int sort)
{
    sc_elem *e = sc_elem_new(SC_K_CATEGORICAL, name);
    cat_set cs = {0};
    int32_t *codes;

    if (!e)
        return NULL;
    if (!(e->codes = sc_elem_new_array("codes", SC_DT_I32, 1, &n)))
        goto fail;
    codes = e->codes->data;
    for (int64_t i = 0; i < n; i++) {
        int64_t c = s[i] ? cat_lookup(&cs, s[i]) : -1;

        if (c < -1)
            goto fail;
        codes[i] = (int32_t)c;
    }
    if (!(e->categories = sc_elem_new_strings("categories", cs.cat, cs.n_cat)))
        goto fail;
    if (sort && sort_categories(e) < 0)
        goto fail;
    e->rank = 1;
    e->shape[0] = n;
    free(cs.slot);
    free(cs.cat);
    return e;
fail:
    free(cs.slot);
    free(cs.cat);
    sc_elem_free(e);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Deep copy                                                                */

static int copy_sub(sc_elem **dst, const sc_elem *src)
{
    if (src && !(*dst = sc_elem_copy(src)))
        return SC_ENOMEM;
    return 0;
}

sc_elem *sc_elem_copy(const sc_elem *e)
{
    sc_elem *c;
    int64_t n;

    if (!e) {
        sc_fail(SC_EINVAL, "cannot copy a NULL element");
        return NULL;
    }
    if (!(c = sc_elem_new(e->kind, e->name)))
        return NULL;
    free(c->index_name);
    c->index_name = NULL;
    c->n_rows = e->n_rows;
    c->dtype = e->dtype;
    c->rank = e->rank;
    memcpy(c->shape, e->shape, sizeof c->shape);
    c->ordered = e->ordered;
    if (e->index_name && !(c->index_name = dup_str(e->index_name)))
        goto oom;
    if (e->n_child) {
        if (!(c->child = calloc(e->n_child, sizeof *c->child)))
            goto oom;
        for (size_t i = 0; i < e->n_child; i++, c->n_child++)
            if (!(c->child[i] = sc_elem_copy(e->child[i])))
                goto fail;
    }
    if (copy_sub(&c->index, e->index) < 0 ||
        copy_sub(&c->codes, e->codes) < 0 ||
        copy_sub(&c->categories, e->categories) < 0 ||
        copy_sub(&c->values, e->values) < 0)
        goto fail;
    if (e->kind == SC_K_NULLABLE && e->mask) {
        n = sc_elem_count(e->values);
        if (!(c->mask = malloc(n ? (size_t)n : 1)))
            goto oom;
        memcpy(c->mask, e->mask, (size_t)n);
    }
    if (e->kind == SC_K_ARRAY && e->data) {
        size_t size = sc_dtype_size(e->dtype);

        n = sc_elem_count(e);
        if (!(c->data = calloc(n ? (size_t)n : 1, size ? size : 1)))
            goto oom;
        if (e->dtype != SC_DT_STR) {
            memcpy(c->data, e->data, (size_t)n * size);
        } else {
            char *const *src = e->data;
            char **dst = c->data;

            for (int64_t i = 0; i < n; i++)
                if (src[i] && !(dst[i] = dup_str(src[i])))
                    goto oom;
        }
    }
    return c;
oom:
    sc_fail(SC_ENOMEM, "out of memory");
fail:
    sc_elem_free(c);
    return NULL;
}

/* ------------------------------------------------------------------------ */
/* Datasets                                                                 */

const char *sc_format_name(sc_format f)
{
    switch (f) {
    case SC_FMT_UNKNOWN: return "unknown";
    case SC_FMT_H5AD: return "h5ad";
    case SC_FMT_10X_H5_V2: return "10x-h5-v2";
    case SC_FMT_10X_H5_V3: return "10x-h5-v3";
    case SC_FMT_10X_MTX: return "10x-mtx";
    case SC_FMT_LOOM: return "loom";
    }
    return "unknown";
}

/* An empty dataframe of N rows labelled "0".."N-1", as anndata does. */
static sc_elem *new_dataframe(const char *name, int64_t n)
{
    sc_elem *df = sc_elem_new(SC_K_DATAFRAME, name);
    char **v;

    if (!df)
        return NULL;
    df->n_rows = n;
    if (!(df->index = sc_elem_new_array("_index", SC_DT_STR, 1, &n)))
        goto fail;
    v = df->index->data;
    for (int64_t i = 0; i < n; i++) {
        char buf[24];
        int len = snprintf(buf, sizeof buf, "%lld", (long long)i);

        if (!(v[i] = malloc((size_t)len + 1))) {
            sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        memcpy(v[i], buf, (size_t)len + 1);
    }
    return df;
fail:
    sc_elem_free(df);
    return NULL;
}

sc_adata *sc_adata_new(int64_t n_obs, int64_t n_vars)
{
    sc_adata *ad;

    if (n_obs < 0 || n_vars < 0) {
        sc_fail(SC_EINVAL, "invalid shape %lld x %lld", (long long)n_obs,
                (long long)n_vars);
        return NULL;
    }
    if (!(ad = calloc(1, sizeof *ad))) {
        sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    ad->n_obs = n_obs;
    ad->n_vars = n_vars;
    if (!(ad->obs = new_dataframe("obs", n_obs)) ||
        !(ad->var = new_dataframe("var", n_vars)) ||
        !(ad->obsm = sc_elem_new(SC_K_DICT, "obsm")) ||
        !(ad->varm = sc_elem_new(SC_K_DICT, "varm")) ||
        !(ad->obsp = sc_elem_new(SC_K_DICT, "obsp")) ||
        !(ad->varp = sc_elem_new(SC_K_DICT, "varp")) ||
        !(ad->layers = sc_elem_new(SC_K_DICT, "layers")) ||
        !(ad->uns = sc_elem_new(SC_K_DICT, "uns"))) {
        sc_adata_close(ad);
        return NULL;
    }
    return ad;
}

void sc_adata_close(sc_adata *ad)
{
    if (!ad)
        return;
    /* Elements first: matrices may still read through the reader's file. */
    sc_elem_free(ad->X);
    sc_elem_free(ad->obs);
    sc_elem_free(ad->var);
    sc_elem_free(ad->obsm);
    sc_elem_free(ad->varm);
    sc_elem_free(ad->obsp);
    sc_elem_free(ad->varp);
    sc_elem_free(ad->layers);
    sc_elem_free(ad->uns);
    sc_elem_free(ad->raw);
    free(ad->path);
    free(ad->generation);
    if (ad->priv_free && ad->priv)
        ad->priv_free(ad->priv);
    free(ad);
}
