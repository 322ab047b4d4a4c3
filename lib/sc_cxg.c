/* sc_cxg: the CELLxGENE Discover curation API (datasets, collections). */
/* SPDX-License-Identifier: MIT */
#include "sc_cxg.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sc_cxg_int.h"
#include "sc_match.h"

/* The index of every public dataset is a few MB today; leave room. */
#define MAX_JSON ((size_t)1 << 30)

/* The portal's JSON keys are the field names of sc_match's one table; this
 * is only the order the portal's fields are kept, parsed and checked in. */
static const int term_field[SC_CXG_N_TERMS] = {
    SC_FIELD_ORGANISM, SC_FIELD_ASSAY,     SC_FIELD_TISSUE,
    SC_FIELD_DISEASE,  SC_FIELD_CELL_TYPE, SC_FIELD_DEV_STAGE,
    SC_FIELD_SEX,      SC_FIELD_ETHNICITY};

const char *sc_cxg_term_key(int k)
{
    return k >= 0 && k < SC_CXG_N_TERMS ? sc_match_field_name(term_field[k])
                                        : NULL;
}

/* ---- JSON to structs ---- */

/* A string member as a new string: "" when absent, null or not a string
 * (numbers are printed, so an id given as a number still works). */
static char *str_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    char buf[64];

    if (json_is_string(v))
        return strdup(json_string_value(v));
    if (json_is_integer(v)) {
        snprintf(buf, sizeof buf, "%" JSON_INTEGER_FORMAT,
                 json_integer_value(v));
        return strdup(buf);
    }
    if (json_is_real(v)) {
        snprintf(buf, sizeof buf, "%.17g", json_real_value(v));
        return strdup(buf);
    }
    return strdup("");
}

static int64_t int_of(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);

    if (json_is_integer(v))
        return (int64_t)json_integer_value(v);
    if (json_is_real(v) && json_real_value(v) >= 0 &&
        json_real_value(v) < 9.2e18)
        return (int64_t)json_real_value(v);
    if (json_is_string(v)) {
        char *end;
        long long x = strtoll(json_string_value(v), &end, 10);
        if (end != json_string_value(v) && !*end)
            return x;
    }
    return -1;
}

/* The string members of a struct, read by name and freed in one loop. */
struct str_field {
    const char *key;
    size_t off;
};

#define DS(f)                                                                  \
    {                                                                          \
#f, offsetof(sc_cxg_dataset, f)                                        \
    }
static const struct str_field dataset_strs[] = {DS(dataset_id),
                                                DS(dataset_version_id),
                                                DS(collection_id),
                                                DS(collection_version_id),
                                                DS(collection_name),
                                                DS(collection_doi),
                                                DS(title),
                                                DS(schema_version),
                                                DS(published_at),
                                                DS(revised_at),
                                                {NULL, 0}};
#undef DS

#define CS(f, k)                                                               \
    {                                                                          \
        k, offsetof(sc_cxg_collection, f)                                      \
    }
static const struct str_field collection_strs[] = {
    CS(collection_id, "collection_id"),
    CS(collection_version_id, "collection_version_id"),
    CS(name, "name"),
    CS(doi, "doi"),
    CS(visibility, "visibility"),
    CS(published_at, "published_at"),
    CS(revised_at, "revised_at"),
    {NULL, 0}};
#undef CS

static char **field_at(void *obj, const struct str_field *f)
{
    return (char **)((char *)obj + f->off);
}

/* Read the string members F of OBJ from O; -1 when out of memory. */
static int strs_of(json_t *o, void *obj, const struct str_field *f)
{
    for (; f->key; f++)
        if (!(*field_at(obj, f) = str_of(o, f->key)))
            return -1;
    return 0;
}

static void strs_free(void *obj, const struct str_field *f)
{
    for (; f->key; f++)
        free(*field_at(obj, f));
}

static void terms_free(sc_cxg_terms *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->v[i].label);
        free(t->v[i].id);
    }
    free(t->v);
    t->v = NULL;
    t->n = 0;
}

/* An array of {"label","ontology_term_id"} (a bare string counts as both). */
static int terms_of(json_t *o, const char *key, sc_cxg_terms *t)
{
    json_t *a = json_object_get(o, key), *e;
    size_t i;

    if (!json_is_array(a) || !json_array_size(a))
        return 0;
    if (!(t->v = calloc(json_array_size(a), sizeof *t->v)))
        return -1;
    json_array_foreach(a, i, e)
    {
        sc_cxg_term *x = &t->v[t->n];
        if (json_is_object(e)) {
            x->label = str_of(e, "label");
            x->id = str_of(e, "ontology_term_id");
        } else if (json_is_string(e)) {
            x->label = strdup(json_string_value(e));
            x->id = strdup(json_string_value(e));
        } else {
            continue;
        }
        t->n++;
        if (!x->label || !x->id)
            return -1;
    }
    return 0;
}

static void strv_free(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

/* An array of strings (others skipped). */
static int strv_of(json_t *o, const char *key, char ***out, size_t *n)
{
    json_t *a = json_object_get(o, key), *e;
    size_t i;

    *out = NULL;
    *n = 0;
    if (!json_is_array(a) || !json_array_size(a))
        return 0;
    if (!(*out = calloc(json_array_size(a), sizeof **out)))
        return -1;
    json_array_foreach(a, i, e)
    {
        if (!json_is_string(e))
            continue;
        if (!((*out)[(*n)++] = strdup(json_string_value(e))))
            return -1;
    }
    return 0;
}

static void dataset_release(sc_cxg_dataset *d)
{
    strs_free(d, dataset_strs);
    for (int k = 0; k < SC_CXG_N_TERMS; k++)
        terms_free(&d->terms[k]);
    strv_free(d->suspension_type, d->n_suspension_type);
    for (size_t i = 0; i < d->n_assets; i++) {
        free(d->assets[i].filetype);
        free(d->assets[i].url);
    }
    free(d->assets);
    memset(d, 0, sizeof *d);
}

void sc_cxg_datasets_free(sc_cxg_dataset *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        dataset_release(&v[i]);
    free(v);
}

static const char *json_kind(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER:
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

/* Item I (from 1) of the answer NAME has member KEY of the wrong type. */
static int bad_type(const char *name, size_t i, const char *key,
                    const json_t *v, const char *want)
{
    return sc_fail(SC_EFORMAT, "'%s': item %zu: '%s' is %s, not %s", name, i,
                   key, json_kind(v), want);
}

/* The members of dataset O (item I of NAME) that we use have the types we
 * use them as (absent or null is fine, but for dataset_id): a server that
 * sends something else is not believed. Returns 0 or SC_EFORMAT. */
static int dataset_check(json_t *o, const char *name, size_t i)
{
    json_t *v, *e;
    size_t k;

    v = json_object_get(o, "dataset_id");
    if (!json_is_string(v) || !json_string_length(v))
        return v ? bad_type(name, i, "dataset_id", v, "a non-empty string")
                 : sc_fail(SC_EFORMAT, "'%s': item %zu: no 'dataset_id'", name,
                           i);
    for (const struct str_field *f = dataset_strs; f->key; f++)
        if ((v = json_object_get(o, f->key)) && !json_is_string(v) &&
            !json_is_null(v))
            return bad_type(name, i, f->key, v, "a string");
    v = json_object_get(o, "cell_count");
    if (v && !json_is_null(v) && int_of(o, "cell_count") < 0)
        return bad_type(name, i, "cell_count", v, "a count");
    for (int t = 0; t < SC_CXG_N_TERMS; t++)
        if ((v = json_object_get(o, sc_cxg_term_key(t))) && !json_is_array(v) &&
            !json_is_null(v))
            return bad_type(name, i, sc_cxg_term_key(t), v, "an array");
    if ((v = json_object_get(o, "suspension_type")) && !json_is_array(v) &&
        !json_is_null(v))
        return bad_type(name, i, "suspension_type", v, "an array");
    if (!(v = json_object_get(o, "assets")) || json_is_null(v))
        return 0;
    if (!json_is_array(v))
        return bad_type(name, i, "assets", v, "an array");
    json_array_foreach(v, k, e)
    {
        json_t *u = json_object_get(e, "url"),
               *t = json_object_get(e, "filetype"),
               *z = json_object_get(e, "filesize");
        if (!json_is_object(e))
            return bad_type(name, i, "assets", e, "an array of objects");
        if (!json_is_string(u))
            return bad_type(name, i, "assets.url", u ? u : json_null(),
                            "a string");
        if (t && !json_is_string(t) && !json_is_null(t))
            return bad_type(name, i, "assets.filetype", t, "a string");
        if (z && !json_is_null(z) &&
            (!json_is_integer(z) || json_integer_value(z) < 0))
            return bad_type(name, i, "assets.filesize", z, "a size");
    }
    return 0;
}

/* Fill D from object O; PARENT (a collection, or NULL) gives missing
 * collection fields. Returns 0 or -1 (out of memory). */
static int dataset_of(json_t *o, json_t *parent, sc_cxg_dataset *d)
{
    json_t *a, *e;
    size_t i;

    d->cell_count = int_of(o, "cell_count");
    if (strs_of(o, d, dataset_strs) < 0)
        return -1;
    if (parent) {
        static const char *const from[4][2] = {
            {"collection_id", "collection_id"},
            {"collection_version_id", "collection_version_id"},
            {"collection_name", "name"},
            {"collection_doi", "doi"}};
        char **to[4] = {&d->collection_id, &d->collection_version_id,
                        &d->collection_name, &d->collection_doi};
        for (int k = 0; k < 4; k++) {
            if (**to[k])
                continue;
            free(*to[k]);
            if (!(*to[k] = str_of(parent, from[k][1])))
                return -1;
        }
    }
    for (int k = 0; k < SC_CXG_N_TERMS; k++)
        if (terms_of(o, sc_cxg_term_key(k), &d->terms[k]) < 0)
            return -1;
    if (strv_of(o, "suspension_type", &d->suspension_type,
                &d->n_suspension_type) < 0)
        return -1;
    a = json_object_get(o, "assets");
    if (json_is_array(a) && json_array_size(a)) {
        if (!(d->assets = calloc(json_array_size(a), sizeof *d->assets)))
            return -1;
        json_array_foreach(a, i, e)
        {
            sc_cxg_asset *x;
            if (!json_is_object(e))
                continue;
            x = &d->assets[d->n_assets++];
            x->filetype = str_of(e, "filetype");
            x->url = str_of(e, "url");
            x->filesize = int_of(e, "filesize");
            if (!x->filetype || !x->url)
                return -1;
        }
    }
    return 0;
}

int cxg_parse_json(const char *text, size_t len, const char *name, json_t **out)
{
    json_error_t err;

    *out = json_loadb(text, len, JSON_DECODE_ANY, &err);
    if (!*out)
        return sc_fail(SC_EFORMAT, "'%s': not JSON: %s at line %d column %d",
                       name, err.text, err.line, err.column);
    return 0;
}

/* What an endpoint answers: anything parse_datasets() knows, an array of
 * datasets, one dataset, or a collection with its datasets. */
enum { SHAPE_ANY, SHAPE_ARRAY, SHAPE_ONE, SHAPE_COLLECTION };

static int parse_datasets(const char *json, size_t len, const char *name,
                          int shape, sc_cxg_dataset **out, size_t *n)
{
    json_t *root, *list, *parent = NULL, *e;
    sc_cxg_dataset *v = NULL;
    size_t i, count = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if ((rc = cxg_parse_json(json, len, name, &root)) < 0)
        return rc;
    list = root;
    if (json_is_object(root)) {
        json_t *sub = json_object_get(root, "dataset_versions");
        if (!json_is_array(sub))
            sub = json_object_get(root, "datasets");
        if (json_is_array(sub)) {
            parent = root;
            list = sub;
        }
    }
    if ((shape == SHAPE_ARRAY && !json_is_array(root)) ||
        (shape == SHAPE_ONE && (!json_is_object(root) || parent)) ||
        (shape == SHAPE_COLLECTION && !parent)) {
        rc = sc_fail(SC_EFORMAT, "'%s': expected %s, got %s", name,
                     shape == SHAPE_ARRAY ? "an array of datasets"
                     : shape == SHAPE_ONE ? "one dataset object"
                                          : "a collection with its datasets",
                     parent ? "a collection" : json_kind(root));
        goto out;
    }
    if (json_is_object(list)) {
        count = 1;
    } else if (json_is_array(list)) {
        count = json_array_size(list);
    } else {
        rc = sc_fail(SC_EFORMAT, "'%s': expected a JSON array or object", name);
        goto out;
    }
    if (count && !(v = calloc(count, sizeof *v))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (i = 0; i < count; i++) {
        e = json_is_array(list) ? json_array_get(list, i) : list;
        if (!json_is_object(e)) {
            rc = sc_fail(SC_EFORMAT, "'%s': item %zu is not an object", name,
                         i + 1);
            break;
        }
        if ((rc = dataset_check(e, name, i + 1)) < 0)
            break;
        *n = i + 1;
        if (dataset_of(e, parent, &v[i]) < 0) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
    }
out:
    json_decref(root);
    if (rc < 0) {
        sc_cxg_datasets_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    *n = count;
    return 0;
}

int sc_cxg_parse_datasets(const char *json, size_t len, const char *name,
                          sc_cxg_dataset **out, size_t *n)
{
    return parse_datasets(json, len, name, SHAPE_ANY, out, n);
}

static void collection_release(sc_cxg_collection *c)
{
    strs_free(c, collection_strs);
    strv_free(c->dataset_ids, c->n_datasets);
    memset(c, 0, sizeof *c);
}

void sc_cxg_collections_free(sc_cxg_collection *v, size_t n)
{
    if (!v)
        return;
    for (size_t i = 0; i < n; i++)
        collection_release(&v[i]);
    free(v);
}

static int collection_of(json_t *o, sc_cxg_collection *c)
{
    json_t *a = json_object_get(o, "datasets"), *e;
    size_t i;

    if (strs_of(o, c, collection_strs) < 0)
        return -1;
    if (!json_is_array(a))
        a = json_object_get(o, "dataset_versions");
    if (json_is_array(a) && json_array_size(a)) {
        if (!(c->dataset_ids = calloc(json_array_size(a), sizeof(char *))))
            return -1;
        json_array_foreach(a, i, e)
        {
            if (!json_is_object(e))
                continue;
            if (!(c->dataset_ids[c->n_datasets++] = str_of(e, "dataset_id")))
                return -1;
        }
    }
    return 0;
}

int sc_cxg_parse_collections(const char *json, size_t len, const char *name,
                             sc_cxg_collection **out, size_t *n)
{
    json_t *root, *e;
    sc_cxg_collection *v = NULL;
    size_t count, i;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if ((rc = cxg_parse_json(json, len, name, &root)) < 0)
        return rc;
    if (!json_is_array(root) && !json_is_object(root)) {
        json_decref(root);
        return sc_fail(SC_EFORMAT, "'%s': expected a JSON array or object",
                       name);
    }
    count = json_is_array(root) ? json_array_size(root) : 1;
    if (count && !(v = calloc(count, sizeof *v))) {
        json_decref(root);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (i = 0; i < count; i++) {
        e = json_is_array(root) ? json_array_get(root, i) : root;
        if (!json_is_object(e)) {
            rc = sc_fail(SC_EFORMAT, "'%s': item %zu is not an object", name,
                         i + 1);
            break;
        }
        *n = i + 1;
        if (collection_of(e, &v[i]) < 0) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
    }
    json_decref(root);
    if (rc < 0) {
        sc_cxg_collections_free(v, *n);
        *n = 0;
        return rc;
    }
    *out = v;
    *n = count;
    return 0;
}

const sc_cxg_asset *sc_cxg_h5ad(const sc_cxg_dataset *d)
{
    for (size_t i = 0; i < d->n_assets; i++)
        if (!strcasecmp(d->assets[i].filetype, "H5AD") && d->assets[i].url[0])
            return &d->assets[i];
    return NULL;
}

char *sc_cxg_terms_join(const sc_cxg_dataset *d, int k, int ids)
{
    const sc_cxg_terms *t = &d->terms[k];
    size_t len = 1;
    char *s;

    for (size_t i = 0; i < t->n; i++)
        len += strlen(ids ? t->v[i].id : t->v[i].label) + 4;
    if (!(s = malloc(len)))
        return NULL;
    s[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        if (i)
            strcat(s, " || ");
        strcat(s, ids ? t->v[i].id : t->v[i].label);
    }
    return s;
}

int sc_cxg_is_id(const char *s)
{
    static const int groups[5] = {8, 4, 4, 4, 12};

    for (int g = 0; g < 5; g++) {
        for (int i = 0; i < groups[g]; i++, s++)
            if (!isxdigit((unsigned char)*s))
                return 0;
        if (*s != (g < 4 ? '-' : '\0'))
            return 0;
        s++;
    }
    return 1;
}

/* ---- the client ---- */

struct sc_cxg {
    char *base; /* ".../curation/v1", no trailing '/' */
    const sc_http_opts *o;
};

int sc_cxg_new(const char *base_url, const sc_http_opts *o, sc_cxg **out)
{
    static const char suffix[] = "/curation/v1";
    size_t len = strlen(base_url);
    sc_cxg *c;

    *out = NULL;
    while (len && base_url[len - 1] == '/')
        len--;
    if (!len)
        return sc_fail(SC_EINVAL, "empty API URL");
    if (len >= sizeof suffix - 1 &&
        !strncmp(base_url + len - (sizeof suffix - 1), suffix,
                 sizeof suffix - 1))
        len -= sizeof suffix - 1;
    if (!(c = calloc(1, sizeof *c)) ||
        !(c->base = malloc(len + sizeof suffix))) {
        free(c);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    memcpy(c->base, base_url, len);
    memcpy(c->base + len, suffix, sizeof suffix);
    c->o = o;
    *out = c;
    return 0;
}

void sc_cxg_free(sc_cxg *c)
{
    if (!c)
        return;
    free(c->base);
    free(c);
}

/* Ids go into URL paths: allow only what ids and versions are made of. */
static int check_id(const char *id)
{
    if (!*id)
        return sc_fail(SC_EINVAL, "empty id");
    for (const char *p = id; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.')
            return sc_fail(SC_EINVAL, "invalid id '%s'", id);
    return 0;
}

/* GET BASE + PATH1 [+ ID + PATH2] and return the body. */
static int api_get(sc_cxg *c, const char *p1, const char *id, const char *p2,
                   char **url, char **body, size_t *len)
{
    size_t n;
    int rc;

    *url = *body = NULL;
    if (id && (rc = check_id(id)) < 0)
        return rc;
    n = strlen(c->base) + strlen(p1) + (id ? strlen(id) : 0) +
        (p2 ? strlen(p2) : 0) + 1;
    if (!(*url = malloc(n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(*url, n, "%s%s%s%s", c->base, p1, id ? id : "", p2 ? p2 : "");
    rc = sc_http_get(c->o, *url, MAX_JSON, body, len);
    /* The API answers 403 for a private or unknown collection. */
    if (rc == SC_ENET && strstr(sc_errmsg(), "HTTP 403"))
        rc = SC_ENOTFOUND;
    return rc;
}

static int get_datasets(sc_cxg *c, const char *p1, const char *id,
                        const char *p2, int shape, sc_cxg_dataset **out,
                        size_t *n)
{
    char *url, *body;
    size_t len;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = api_get(c, p1, id, p2, &url, &body, &len)) == 0)
        rc = parse_datasets(body, len, url, shape, out, n);
    free(url);
    free(body);
    return rc;
}

int sc_cxg_datasets(sc_cxg *c, const char *schema_version, sc_cxg_dataset **out,
                    size_t *n)
{
    if (schema_version && *schema_version)
        return get_datasets(c, "/datasets?schema_version=", schema_version,
                            NULL, SHAPE_ARRAY, out, n);
    return get_datasets(c, "/datasets", NULL, NULL, SHAPE_ARRAY, out, n);
}

int sc_cxg_dataset_versions(sc_cxg *c, const char *dataset_id,
                            sc_cxg_dataset **out, size_t *n)
{
    return get_datasets(c, "/datasets/", dataset_id, "/versions", SHAPE_ARRAY,
                        out, n);
}

int sc_cxg_dataset_version(sc_cxg *c, const char *version_id,
                           sc_cxg_dataset **out, size_t *n)
{
    return get_datasets(c, "/dataset_versions/", version_id, NULL, SHAPE_ONE,
                        out, n);
}

int sc_cxg_collection_datasets(sc_cxg *c, const char *id, sc_cxg_dataset **out,
                               size_t *n)
{
    return get_datasets(c, "/collections/", id, NULL, SHAPE_COLLECTION, out, n);
}

int sc_cxg_collections(sc_cxg *c, sc_cxg_collection **out, size_t *n)
{
    char *url, *body;
    size_t len;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = api_get(c, "/collections", NULL, NULL, &url, &body, &len)) == 0 &&
        body[strspn(body, " \t\r\n")] != '[')
        rc = sc_fail(SC_EFORMAT, "'%s': expected an array of collections", url);
    else if (rc == 0)
        rc = sc_cxg_parse_collections(body, len, url, out, n);
    free(url);
    free(body);
    return rc;
}

/* ---- local filters ---- */

enum { F_SUSPENSION = SC_CXG_N_TERMS, F_SCHEMA, F_COLLECTION, F_DATASET, F_N };

struct sc_cxg_cond {
    int field;
    char *value;
};

static int field_of(const char *name)
{
    static const char *const extra[] = {"suspension_type", "schema_version",
                                        "collection", "dataset"};

    for (int k = 0; k < SC_CXG_N_TERMS; k++)
        if (!strcmp(name, sc_cxg_term_key(k)))
            return k;
    if (!strcmp(name, "ethnicity"))
        return SC_CXG_ETHNICITY;
    for (int k = 0; k < F_N - SC_CXG_N_TERMS; k++)
        if (!strcmp(name, extra[k]))
            return SC_CXG_N_TERMS + k;
    return -1;
}

int sc_cxg_filter_add(sc_cxg_filter *f, const char *field, const char *value)
{
    struct sc_cxg_cond *v;
    int k = field_of(field);

    if (k < 0)
        return sc_fail(SC_EINVAL, "unknown filter field '%s'", field);
    if (!(v = realloc(f->conds, (f->n + 1) * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    f->conds = v;
    if (!(v[f->n].value = strdup(value)))
        return sc_fail(SC_ENOMEM, "out of memory");
    v[f->n++].field = k;
    return 0;
}

int sc_cxg_filter_empty(const sc_cxg_filter *f)
{
    return f->n == 0 && f->min_cells < 0 && f->max_cells < 0;
}

void sc_cxg_filter_release(sc_cxg_filter *f)
{
    for (size_t i = 0; i < f->n; i++)
        free(f->conds[i].value);
    free(f->conds);
    f->conds = NULL;
    f->n = 0;
}

static int term_match(const sc_cxg_terms *t, int k, const char *want)
{
    if (k == SC_CXG_ORGANISM) {
        if (!strcasecmp(want, "human"))
            want = "NCBITaxon:9606";
        else if (!strcasecmp(want, "mouse"))
            want = "NCBITaxon:10090";
    }
    for (size_t i = 0; i < t->n; i++)
        if (!strcmp(t->v[i].id, want) || !strcasecmp(t->v[i].label, want))
            return 1;
    return 0;
}

/* "5" and "5.2" match "5.2.0", "5.2.0" matches itself, "5.2" not "5.20". */
static int version_match(const char *have, const char *want)
{
    size_t n = strlen(want);

    return !strncmp(have, want, n) && (have[n] == '\0' || have[n] == '.');
}

static int cond_match(const struct sc_cxg_cond *c, const sc_cxg_dataset *d)
{
    if (!c->value[0])
        return 0; /* "" would match every absent field */
    switch (c->field) {
    case F_SUSPENSION:
        for (size_t i = 0; i < d->n_suspension_type; i++)
            if (!strcasecmp(d->suspension_type[i], c->value))
                return 1;
        return 0;
    case F_SCHEMA: return version_match(d->schema_version, c->value);
    case F_COLLECTION:
        return !strcmp(d->collection_id, c->value) ||
               !strcmp(d->collection_version_id, c->value) ||
               (d->collection_name[0] &&
                !strcasecmp(d->collection_name, c->value));
    case F_DATASET:
        return !strcmp(d->dataset_id, c->value) ||
               !strcmp(d->dataset_version_id, c->value);
    default: return term_match(&d->terms[c->field], c->field, c->value);
    }
}

int sc_cxg_filter_match(const sc_cxg_filter *f, const sc_cxg_dataset *d)
{
    int seen[F_N] = {0}, ok[F_N] = {0};

    if (f->min_cells >= 0 &&
        (d->cell_count < 0 || d->cell_count < f->min_cells))
        return 0;
    if (f->max_cells >= 0 &&
        (d->cell_count < 0 || d->cell_count > f->max_cells))
        return 0;
    for (size_t i = 0; i < f->n; i++) {
        int k = f->conds[i].field;
        seen[k] = 1;
        if (!ok[k] && cond_match(&f->conds[i], d))
            ok[k] = 1;
    }
    for (int k = 0; k < F_N; k++)
        if (seen[k] && !ok[k])
            return 0;
    return 1;
}
