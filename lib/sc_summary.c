/* sc_summary: describe a dataset (anndata-like repr and JSON). */
/* SPDX-License-Identifier: MIT */
#include "sc_summary.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* pandas name of a nullable integer dtype. */
static const char *nullable_int_name(sc_dtype t)
{
    switch (t) {
    case SC_DT_I8: return "Int8";
    case SC_DT_I16: return "Int16";
    case SC_DT_I32: return "Int32";
    case SC_DT_I64: return "Int64";
    case SC_DT_U8: return "UInt8";
    case SC_DT_U16: return "UInt16";
    case SC_DT_U32: return "UInt32";
    case SC_DT_U64: return "UInt64";
    default: return sc_dtype_name(t);
    }
}

/* JSON has no NaN: a sum over missing values is null. */
static json_t *real_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static const char *mat_type(sc_mat_fmt f)
{
    return f == SC_MAT_CSR ? "csr" : f == SC_MAT_CSC ? "csc" : "dense";
}

static json_t *shape_json(int rank, const int64_t *shape)
{
    json_t *a = json_array();

    for (int i = 0; i < rank; i++)
        json_array_append_new(a, json_integer(shape[i]));
    return a;
}

static int matrix_json(const sc_elem *e, unsigned flags, json_t *o)
{
    sc_mat_info in;
    int64_t shape[2];

    sc_mat_get_info(e->mat, &in);
    shape[0] = in.n_rows;
    shape[1] = in.n_cols;
    json_object_set_new(o, "type", json_string(mat_type(in.fmt)));
    json_object_set_new(o, "dtype", json_string(sc_dtype_name(in.dtype)));
    json_object_set_new(o, "shape", shape_json(2, shape));
    if (in.fmt == SC_MAT_CSR || in.fmt == SC_MAT_CSC)
        json_object_set_new(o, "nnz", json_integer(in.nnz));
    if (!(flags & SC_SUMMARY_NO_SUMS)) {
        double sum;
        int64_t nnz;
        int rc = sc_mat_sum(e->mat, &sum, &nnz);
        if (rc < 0)
            return rc;
        json_object_set_new(o, "sum", real_or_null(sum));
    }
    return 0;
}

static int64_t count_missing_codes(const sc_elem *cat)
{
    int64_t n = sc_elem_count(cat->codes), miss = 0;
    const int32_t *c = cat->codes->data;

    for (int64_t i = 0; i < n; i++)
        miss += c[i] < 0;
    return miss;
}

int sc_summary_elem(const sc_elem *e, unsigned flags, json_t **out)
{
    json_t *o = json_object();
    int rc = 0;

    *out = NULL;
    if (!o)
        return sc_fail(SC_ENOMEM, "out of memory");
    switch (e->kind) {
    case SC_K_ARRAY:
        if (e->dtype == SC_DT_STR) {
            json_object_set_new(o, "kind", json_string("string"));
            json_object_set_new(o, "type", json_string("string-array"));
        } else {
            json_object_set_new(o, "kind", json_string("numeric"));
            json_object_set_new(o, "type", json_string("dense"));
            json_object_set_new(o, "dtype",
                                json_string(sc_dtype_name(e->dtype)));
            if (!(flags & SC_SUMMARY_NO_SUMS)) {
                double s = 0;
                int64_t n = sc_elem_count(e);
                /* NaN is a missing value: skip it, as pandas and
                 * numpy.nansum (the EXPECTED.json oracle) do. */
                for (int64_t i = 0; i < n; i++)
                    if (!isnan(sc_elem_num(e, i)))
                        s += sc_elem_num(e, i);
                json_object_set_new(o, "sum", real_or_null(s));
            }
        }
        json_object_set_new(o, "shape", shape_json(e->rank, e->shape));
        break;
    case SC_K_CATEGORICAL:
        json_object_set_new(o, "kind", json_string("categorical"));
        json_object_set_new(o, "n_categories",
                            json_integer(sc_elem_count(e->categories)));
        json_object_set_new(o, "ordered", json_boolean(e->ordered));
        json_object_set_new(
            o, "categories_dtype",
            json_string(e->categories->dtype == SC_DT_STR
                            ? "object"
                            : sc_dtype_name(e->categories->dtype)));
        json_object_set_new(o, "n_missing",
                            json_integer(count_missing_codes(e)));
        break;
    case SC_K_NULLABLE: {
        int64_t n = sc_elem_count(e->values), miss = 0;
        for (int64_t i = 0; i < n; i++)
            miss += e->mask[i] != 0;
        if (e->values->dtype == SC_DT_BOOL) {
            json_object_set_new(o, "kind", json_string("nullable-boolean"));
        } else if (e->values->dtype == SC_DT_STR) {
            json_object_set_new(o, "kind", json_string("nullable-string"));
        } else {
            json_object_set_new(o, "kind", json_string("nullable-integer"));
            json_object_set_new(
                o, "dtype", json_string(nullable_int_name(e->values->dtype)));
        }
        json_object_set_new(o, "n_missing", json_integer(miss));
        break;
    }
    case SC_K_MATRIX: rc = matrix_json(e, flags, o); break;
    case SC_K_DATAFRAME: {
        int64_t shape[2] = {e->n_rows, (int64_t)e->n_child};
        json_object_set_new(o, "type", json_string("dataframe"));
        json_object_set_new(o, "shape", shape_json(2, shape));
        break;
    }
    case SC_K_DICT:
        json_object_set_new(o, "type", json_string("dict"));
        json_object_set_new(o, "n_keys", json_integer((int64_t)e->n_child));
        break;
    case SC_K_RECARRAY:
        json_object_set_new(o, "type", json_string("rec-array"));
        json_object_set_new(o, "n_fields", json_integer((int64_t)e->n_child));
        break;
    case SC_K_NULL: json_object_set_new(o, "type", json_string("null")); break;
    }
    if (rc < 0) {
        json_decref(o);
        return rc;
    }
    *out = o;
    return 0;
}

static int children_json(const sc_elem *d, unsigned flags, json_t **out)
{
    json_t *o = json_object();

    *out = NULL;
    for (size_t i = 0; d && i < d->n_child; i++) {
        json_t *c;
        int rc = sc_summary_elem(d->child[i], flags, &c);
        if (rc < 0) {
            json_decref(o);
            return sc_fail_ctx(rc, "%s", d->child[i]->name);
        }
        json_object_set_new(o, d->child[i]->name, c);
    }
    *out = o;
    return 0;
}

static json_t *head_json(const sc_elem *df, int n)
{
    json_t *a = json_array();

    for (int64_t i = 0; df->index && i < df->n_rows && i < n; i++)
        json_array_append_new(a, json_string(sc_elem_str(df->index, i)));
    return a;
}

static json_t *index_name_json(const sc_elem *df)
{
    /* anndata: an index stored under "_index" had no name. */
    if (!df->index_name || !strcmp(df->index_name, "_index"))
        return json_null();
    return json_string(df->index_name);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sc_summary_json(sc_adata *ad, unsigned flags, json_t **out)
{
    json_t *o = json_object(), *x = NULL;
    struct {
        const char *key;
        const sc_elem *e;
    } maps[] = {{"obs", ad->obs},      {"var", ad->var},   {"obsm", ad->obsm},
                {"varm", ad->varm},    {"obsp", ad->obsp}, {"varp", ad->varp},
                {"layers", ad->layers}};
    int rc;

    *out = NULL;
    json_object_set_new(o, "path", json_string(ad->path ? ad->path : ""));
    json_object_set_new(o, "format", json_string(sc_format_name(ad->format)));
    json_object_set_new(o, "generation",
                        ad->generation ? json_string(ad->generation)
                                       : json_null());
    json_object_set_new(o, "n_obs", json_integer(ad->n_obs));
    json_object_set_new(o, "n_vars", json_integer(ad->n_vars));
    if (ad->X) {
        if ((rc = sc_summary_elem(ad->X, flags, &x)) < 0)
            goto fail;
        json_object_set_new(o, "X", x);
    } else {
        json_object_set_new(o, "X", json_null());
    }
    json_object_set_new(o, "obs_names_head", head_json(ad->obs, 3));
    json_object_set_new(o, "var_names_head", head_json(ad->var, 3));
    json_object_set_new(o, "obs_index_name", index_name_json(ad->obs));
    json_object_set_new(o, "var_index_name", index_name_json(ad->var));
    for (size_t i = 0; i < sizeof maps / sizeof *maps; i++) {
        json_t *c;
        if ((rc = children_json(maps[i].e, flags, &c)) < 0) {
            rc = sc_fail_ctx(rc, "%s", maps[i].key);
            goto fail;
        }
        json_object_set_new(o, maps[i].key, c);
    }
    if (ad->raw) {
        json_t *r = json_object(), *rx = NULL, *cols = json_array();
        const sc_elem *rv = sc_elem_get(ad->raw, "var");
        const sc_elem *rX = sc_elem_get(ad->raw, "X");
        if (rX && (rc = sc_summary_elem(rX, flags, &rx)) < 0) {
            json_decref(r);
            json_decref(cols);
            goto fail;
        }
        json_object_set_new(r, "X", rx ? rx : json_null());
        json_object_set_new(r, "n_vars", json_integer(rv ? rv->n_rows : 0));
        for (size_t i = 0; rv && i < rv->n_child; i++)
            json_array_append_new(cols, json_string(rv->child[i]->name));
        json_object_set_new(r, "var_columns", cols);
        json_object_set_new(o, "raw", r);
    } else {
        json_object_set_new(o, "raw", json_null());
    }
    {
        json_t *keys = json_array();
        const char **v = malloc((ad->uns->n_child + 1) * sizeof *v);
        if (!v) {
            json_decref(keys);
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < ad->uns->n_child; i++)
            v[i] = ad->uns->child[i]->name;
        qsort(v, ad->uns->n_child, sizeof *v, cmp_str);
        for (size_t i = 0; i < ad->uns->n_child; i++)
            json_array_append_new(keys, json_string(v[i]));
        free(v);
        json_object_set_new(o, "uns_keys", keys);
    }
    *out = o;
    return 0;
fail:
    json_decref(o);
    return rc;
}

static void print_keys(FILE *fp, const char *what, const sc_elem *d)
{
    if (!d || !d->n_child)
        return;
    fprintf(fp, "    %s:", what);
    for (size_t i = 0; i < d->n_child; i++)
        fprintf(fp, "%s '%s'", i ? "," : "", d->child[i]->name);
    fputc('\n', fp);
}

int sc_summary_print(sc_adata *ad, FILE *fp)
{
    fprintf(fp, "%s (%s%s%s)\n", ad->path ? ad->path : "",
            sc_format_name(ad->format), ad->generation ? ", " : "",
            ad->generation ? ad->generation : "");
    fprintf(fp, "AnnData object with n_obs \u00d7 n_vars = %lld \u00d7 %lld\n",
            (long long)ad->n_obs, (long long)ad->n_vars);
    if (ad->X) {
        sc_mat_info in;
        sc_mat_get_info(ad->X->mat, &in);
        fprintf(fp, "    X: %s %s", mat_type(in.fmt), sc_dtype_name(in.dtype));
        if (in.fmt == SC_MAT_CSR || in.fmt == SC_MAT_CSC)
            fprintf(fp, ", nnz %lld", (long long)in.nnz);
        fputc('\n', fp);
    } else {
        fprintf(fp, "    X: none\n");
    }
    print_keys(fp, "obs", ad->obs);
    print_keys(fp, "var", ad->var);
    print_keys(fp, "uns", ad->uns);
    print_keys(fp, "obsm", ad->obsm);
    print_keys(fp, "varm", ad->varm);
    print_keys(fp, "layers", ad->layers);
    print_keys(fp, "obsp", ad->obsp);
    print_keys(fp, "varp", ad->varp);
    if (ad->raw) {
        const sc_elem *rv = sc_elem_get(ad->raw, "var");
        fprintf(fp, "    raw: n_vars = %lld\n",
                (long long)(rv ? rv->n_rows : 0));
    }
    return ferror(fp) ? sc_fail(SC_EIO, "write error") : 0;
}
