/* sc_h5ad_read: read h5ad files of every AnnData generation into sc_adata. */
/* SPDX-License-Identifier: MIT */
#include <hdf5.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_h5.h"
#include "sc_h5ad_read_int.h"
#include "sc_log.h"

/*
 * Generations (docs/h5ad-format.md §5-6):
 *   "0.8+"    root encoding-type "anndata"; every element carries encodings.
 *   "0.7"     no root attributes; dataframes 0.1.0 whose categorical columns
 *             are code datasets with a `categories` object reference.
 *   "pre-0.7" obs/var are compound datasets; categories in
 * uns/<col>_categories; raw as raw.X / raw.var / raw.varm; h5sparse groups.
 * Everything is loaded except matrices (X, layers, raw/X, sparse elements,
 * dense obsp/varp), which stay in the file behind sc_mat handles.
 */

/* Deeper nesting than this is a hard or soft link cycle (or an attack):
 * refused before the stack runs out. */
#define MAX_DEPTH 64

void h5r_join(char *buf, size_t size, const char *a, const char *b)
{
    if (a && *a)
        snprintf(buf, size, "%s/%s", a, b);
    else
        snprintf(buf, size, "%s", b);
}

static char *enc_type(hid_t obj)
{
    char *s = NULL;

    if (sc_h5_attr_str(obj, "encoding-type", &s) < 0) {
        sc_err_clear();
        return NULL;
    }
    return s;
}

int64_t h5r_first_dim(const sc_elem *e)
{
    switch (e->kind) {
    case SC_K_ARRAY: return e->rank > 0 ? e->shape[0] : 1;
    case SC_K_CATEGORICAL: return e->codes ? e->codes->shape[0] : 0;
    case SC_K_NULLABLE: return e->values ? e->values->shape[0] : 0;
    case SC_K_DATAFRAME: return e->n_rows;
    case SC_K_MATRIX: {
        sc_mat_info in;
        sc_mat_get_info(e->mat, &in);
        return in.n_rows;
    }
    case SC_K_RECARRAY: return e->n_child ? h5r_first_dim(e->child[0]) : 0;
    default: return -1;
    }
}

int h5r_to_i32_codes(sc_elem *codes, const char *label)
{
    int64_t n = sc_elem_count(codes);
    int32_t *v;

    if (codes->kind != SC_K_ARRAY || !sc_dtype_is_int(codes->dtype) ||
        codes->rank != 1)
        return sc_fail(SC_EFORMAT,
                       "%s: categorical codes must be a 1-D "
                       "integer array",
                       label);
    if (codes->dtype == SC_DT_I32)
        return 0;
    if (!(v = malloc((size_t)(n ? n : 1) * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++) {
        double d = sc_elem_num(codes, i);
        /* Clamped, not mapped to one value: the error names the code. */
        v[i] = d < INT32_MIN   ? INT32_MIN
               : d > INT32_MAX ? INT32_MAX
                               : (int32_t)d;
    }
    free(codes->data);
    codes->data = v;
    codes->dtype = SC_DT_I32;
    return 0;
}

int h5r_check_codes(const sc_elem *cat, const char *label)
{
    int64_t ncat = sc_elem_count(cat->categories);
    const int32_t *c = cat->codes->data;
    int64_t n = sc_elem_count(cat->codes);

    if (cat->categories->kind != SC_K_ARRAY || cat->categories->rank != 1)
        return sc_fail(SC_EFORMAT, "%s: categories must be a 1-D array", label);
    for (int64_t i = 0; i < n; i++)
        if (c[i] < -1 || c[i] >= ncat)
            return sc_fail(SC_EFORMAT,
                           "%s: categorical code %d at row %lld "
                           "out of range (%lld categories)",
                           label, c[i], (long long)i, (long long)ncat);
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Other elements */

static int read_categorical(hid_t loc, const char *name, const char *label,
                            sc_elem **out)
{
    hid_t g;
    sc_elem *cat;
    char lab[512];
    int rc;

    *out = NULL;
    if ((g = H5Gopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if (!(cat = sc_elem_new(SC_K_CATEGORICAL, name))) {
        H5Gclose(g);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    h5r_join(lab, sizeof lab, label, "codes");
    if ((rc = sc_h5_read_path(g, "codes", "codes", lab, &cat->codes)) < 0 ||
        (rc = h5r_to_i32_codes(cat->codes, lab)) < 0)
        goto out;
    h5r_join(lab, sizeof lab, label, "categories");
    if ((rc = sc_h5_read_path(g, "categories", "categories", lab,
                              &cat->categories)) < 0)
        goto out;
    if (sc_h5_has_attr(g, "ordered") &&
        (rc = sc_h5_attr_bool(g, "ordered", &cat->ordered)) < 0) {
        rc = sc_fail_ctx(rc, "%s", label);
        goto out;
    }
    rc = h5r_check_codes(cat, label);
out:
    H5Gclose(g);
    if (rc < 0) {
        sc_elem_free(cat);
        return rc;
    }
    *out = cat;
    return 0;
}

static int read_nullable(hid_t loc, const char *name, const char *label,
                         sc_elem **out)
{
    hid_t g;
    sc_elem *e, *mask = NULL;
    char lab[512];
    int rc;

    *out = NULL;
    if ((g = H5Gopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if (!(e = sc_elem_new(SC_K_NULLABLE, name))) {
        H5Gclose(g);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    h5r_join(lab, sizeof lab, label, "values");
    if ((rc = sc_h5_read_path(g, "values", "values", lab, &e->values)) < 0)
        goto out;
    h5r_join(lab, sizeof lab, label, "mask");
    if ((rc = sc_h5_read_path(g, "mask", "mask", lab, &mask)) < 0)
        goto out;
    if (e->values->rank != 1 || mask->rank != 1 ||
        mask->shape[0] != e->values->shape[0] ||
        (mask->dtype != SC_DT_BOOL && !sc_dtype_is_int(mask->dtype))) {
        rc = sc_fail(SC_EFORMAT, "%s: values and mask do not match", label);
        goto out;
    }
    if (!(e->mask = malloc((size_t)(mask->shape[0] ? mask->shape[0] : 1)))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < mask->shape[0]; i++)
        e->mask[i] = sc_elem_num(mask, i) != 0;
out:
    sc_elem_free(mask);
    H5Gclose(g);
    if (rc < 0) {
        sc_elem_free(e);
        return rc;
    }
    *out = e;
    return 0;
}

static int read_sparse(rd *r, hid_t loc, const char *name, const char *label,
                       const char *enc, sc_elem **out)
{
    hid_t g;
    int64_t shape[2];
    int n = 0, rc;
    char *fmt = NULL, p_data[600], p_idx[600], p_ptr[600], gpath[512];
    sc_mat *m = NULL;
    sc_mat_fmt mf;
    ssize_t len;

    *out = NULL;
    if ((g = H5Gopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if (enc) {
        mf = !strcmp(enc, "csc_matrix") ? SC_MAT_CSC : SC_MAT_CSR;
        rc = sc_h5_attr_i64(g, "shape", shape, 2, &n);
    } else {
        if ((rc = sc_h5_attr_str(g, "h5sparse_format", &fmt)) < 0)
            goto out;
        mf = !strcmp(fmt, "csc") ? SC_MAT_CSC : SC_MAT_CSR;
        if (strcmp(fmt, "csc") && strcmp(fmt, "csr")) {
            rc = sc_fail(SC_EFORMAT, "%s: unknown h5sparse_format '%s'", label,
                         fmt);
            goto out;
        }
        rc = sc_h5_attr_i64(g, "h5sparse_shape", shape, 2, &n);
    }
    if (rc < 0 || n != 2) {
        rc = sc_fail(SC_EFORMAT,
                     "%s: sparse matrix has no valid shape "
                     "attribute",
                     label);
        goto out;
    }
    if (shape[0] < 0 || shape[1] < 0) {
        rc = sc_fail(SC_EFORMAT, "%s: negative shape (%lld, %lld)", label,
                     (long long)shape[0], (long long)shape[1]);
        goto out;
    }
    len = H5Iget_name(g, gpath, sizeof gpath);
    if (len <= 0 || (size_t)len >= sizeof gpath) {
        rc = sc_h5_fail(SC_EFORMAT, "%s: cannot resolve the path", label);
        goto out;
    }
    snprintf(p_data, sizeof p_data, "%s/data", gpath);
    snprintf(p_idx, sizeof p_idx, "%s/indices", gpath);
    snprintf(p_ptr, sizeof p_ptr, "%s/indptr", gpath);
    if ((rc = sc_mat_open_h5_sparse(r->file, label, p_data, p_idx, p_ptr, mf,
                                    shape[0], shape[1], &m)) < 0)
        goto out;
    if (!(*out = sc_elem_new_matrix_take(name, m)))
        rc = sc_fail(SC_ENOMEM, "out of memory");
out:
    free(fmt);
    H5Gclose(g);
    return rc;
}

static int read_dict(rd *r, hid_t loc, const char *name, const char *label,
                     int dense_as_matrix, sc_elem **out)
{
    hid_t g;
    sc_elem *d;
    char **keys = NULL;
    int64_t n = 0;
    int rc;

    *out = NULL;
    if ((g = H5Gopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if (!(d = sc_elem_new(SC_K_DICT, name))) {
        H5Gclose(g);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    if ((rc = sc_h5_list(g, &keys, &n)) < 0)
        goto out;
    for (int64_t i = 0; i < n; i++) {
        char lab[512];
        sc_elem *c = NULL;
        h5r_join(lab, sizeof lab, label, keys[i]);
        if ((rc = h5r_read_element(r, g, keys[i], lab, dense_as_matrix, &c)) <
            0)
            goto out;
        if (c && (rc = sc_elem_add_take(d, c)) < 0)
            goto out;
    }
out:
    sc_strv_free(keys, n);
    H5Gclose(g);
    if (rc < 0) {
        sc_elem_free(d);
        return rc;
    }
    *out = d;
    return 0;
}

static int read_dataset_elem(rd *r, hid_t loc, const char *name,
                             const char *label, const char *enc,
                             int dense_as_matrix, sc_elem **out)
{
    hid_t ds, t;
    H5T_class_t cls;
    int rank, rc;
    int64_t dims[SC_MAX_RANK];

    *out = NULL;
    if ((ds = H5Dopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    t = H5Dget_type(ds);
    cls = H5Tget_class(t);
    H5Tclose(t);
    if ((rc = sc_h5_shape(ds, &rank, dims, label)) < 0) {
        H5Dclose(ds);
        return rc;
    }
    if (cls == H5T_COMPOUND) {
        H5Dclose(ds);
        return h5r_read_compound(loc, name, label, out);
    }
    if (dense_as_matrix && rank == 2 && cls != H5T_STRING) {
        char path[512];
        sc_mat *m;
        ssize_t len = H5Iget_name(ds, path, sizeof path);
        H5Dclose(ds);
        if (len <= 0 || (size_t)len >= sizeof path)
            return sc_fail(SC_EFORMAT, "%s: cannot resolve the path", label);
        if ((rc = sc_mat_open_h5_dense(r->file, label, path, SC_MAT_DENSE,
                                       &m)) < 0)
            return rc;
        *out = sc_elem_new_matrix_take(name, m);
        return *out ? 0 : sc_fail(SC_ENOMEM, "out of memory");
    }
    rc = sc_h5_read_array(ds, name, label, out);
    H5Dclose(ds);
    if (rc < 0)
        return rc;
    /* Old files store string "scalars" as shape-(1,) arrays; anndata reads
     * them back as scalars (numeric ones stay arrays). */
    if (!enc && (*out)->kind == SC_K_ARRAY && (*out)->dtype == SC_DT_STR &&
        (*out)->rank == 1 && (*out)->shape[0] == 1 && r->legacy)
        (*out)->rank = 0;
    return 0;
}

static int read_element_at(rd *r, hid_t loc, const char *name,
                           const char *label, int dense_as_matrix,
                           sc_elem **out);

int h5r_read_element(rd *r, hid_t loc, const char *name, const char *label,
                     int dense_as_matrix, sc_elem **out)
{
    H5L_info_t li;
    int rc;

    *out = NULL;
    if (H5Lget_info(loc, name, &li, H5P_DEFAULT) >= 0 &&
        li.type == H5L_TYPE_EXTERNAL)
        return sc_fail(SC_EFORMAT,
                       "%s: an external link to another file (refused)", label);
    H5Eclear2(H5E_DEFAULT);
    if (r->depth >= MAX_DEPTH)
        return sc_fail(SC_EFORMAT,
                       "%s: nested more than %d levels deep (a link cycle?)",
                       label, MAX_DEPTH);
    r->depth++;
    rc = read_element_at(r, loc, name, label, dense_as_matrix, out);
    r->depth--;
    return rc;
}

static int read_element_at(rd *r, hid_t loc, const char *name,
                           const char *label, int dense_as_matrix,
                           sc_elem **out)
{
    char *enc = NULL;
    int is_group = sc_h5_is_group(loc, name), rc = 0;
    hid_t obj;

    *out = NULL;
    if (!is_group && !sc_h5_is_dataset(loc, name)) {
        sc_log_debug("%s: skipping an object that is neither a group nor a "
                     "dataset",
                     label);
        return 0;
    }
    if ((obj = H5Oopen(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    enc = enc_type(obj);
    if (is_group && !enc && sc_h5_has_attr(obj, "h5sparse_format")) {
        H5Oclose(obj);
        return read_sparse(r, loc, name, label, NULL, out);
    }
    H5Oclose(obj);
    if (!enc || !strcmp(enc, "dict") || !strcmp(enc, "raw")) {
        rc = is_group ? read_dict(r, loc, name, label, dense_as_matrix, out)
                      : read_dataset_elem(r, loc, name, label, enc,
                                          dense_as_matrix, out);
    } else if (!strcmp(enc, "dataframe")) {
        rc = h5r_read_dataframe(r, loc, name, label, out);
    } else if (!strcmp(enc, "csr_matrix") || !strcmp(enc, "csc_matrix")) {
        rc = read_sparse(r, loc, name, label, enc, out);
    } else if (!strcmp(enc, "categorical")) {
        rc = read_categorical(loc, name, label, out);
    } else if (!strcmp(enc, "nullable-integer") ||
               !strcmp(enc, "nullable-boolean") ||
               !strcmp(enc, "nullable-string-array")) {
        rc = read_nullable(loc, name, label, out);
    } else if (!strcmp(enc, "array") || !strcmp(enc, "string-array") ||
               !strcmp(enc, "string") || !strcmp(enc, "numeric-scalar") ||
               !strcmp(enc, "rec-array") || !strcmp(enc, "null")) {
        if (is_group)
            rc =
                sc_fail(SC_EFORMAT, "%s: encoding '%s' on a group", label, enc);
        else
            rc = read_dataset_elem(r, loc, name, label, enc, dense_as_matrix,
                                   out);
    } else if (!strcmp(enc, "awkward-array")) {
        sc_log_warn("%s: skipping an awkward array (not supported)", label);
    } else {
        rc = sc_fail(SC_EUNSUP, "%s: unknown encoding-type '%s'", label, enc);
    }
    free(enc);
    if (rc < 0) {
        sc_elem_free(*out);
        *out = NULL;
    }
    return rc;
}

int sc_h5ad_read_element(int64_t file, const char *path, sc_elem **out)
{
    rd r = {(hid_t)file, path, 0, 0};
    return h5r_read_element(&r, (hid_t)file, path, path, 0, out);
}

/* ------------------------------------------------------------------------ */
/* Top level */

static int read_df_any(rd *r, const char *name, sc_elem **out)
{
    if (sc_h5_is_dataset(r->file, name)) {
        sc_elem *rec;
        int rc = h5r_read_compound(r->file, name, name, &rec);
        if (rc < 0)
            return rc;
        return h5r_compound_to_df(rec, name, name, out);
    }
    if (!sc_h5_is_group(r->file, name))
        return sc_fail(SC_EFORMAT, "missing '%s'", name);
    return h5r_read_dataframe(r, r->file, name, name, out);
}

/* A dict-like top-level member: group (any generation) or, pre-0.7, a
 * compound dataset whose fields are arrays (obsm/varm). Missing = empty. */
static int read_mapping(rd *r, const char *name, int dense_as_matrix,
                        sc_elem **out)
{
    int rc;

    if (!sc_h5_exists(r->file, name)) {
        *out = sc_elem_new(SC_K_DICT, name);
        return *out ? 0 : sc_fail(SC_ENOMEM, "out of memory");
    }
    if (sc_h5_is_dataset(r->file, name)) {
        sc_elem *rec;
        if ((rc = h5r_read_compound(r->file, name, name, &rec)) < 0)
            return rc;
        rec->kind = SC_K_DICT;
        *out = rec;
        return 0;
    }
    return read_dict(r, r->file, name, name, dense_as_matrix, out);
}

static int read_matrix(rd *r, const char *name, const char *label,
                       sc_elem **out)
{
    int rc = h5r_read_element(r, r->file, name, label, 1, out);

    if (rc < 0)
        return rc;
    if (*out && (*out)->kind != SC_K_MATRIX) {
        sc_elem_free(*out);
        *out = NULL;
        return sc_fail(SC_EFORMAT, "%s: not a 2-D matrix", label);
    }
    return 0;
}

static int check_mat_shape(const sc_elem *e, int64_t nr, int64_t nc,
                           const char *label)
{
    sc_mat_info in;

    if (!e)
        return 0;
    if (e->kind != SC_K_MATRIX)
        return sc_fail(SC_EFORMAT, "%s: not a matrix", label);
    sc_mat_get_info(e->mat, &in);
    if (in.n_rows != nr || (nc >= 0 && in.n_cols != nc))
        return sc_fail(SC_EFORMAT,
                       "%s: shape (%lld, %lld) does not match "
                       "(%lld, %lld)",
                       label, (long long)in.n_rows, (long long)in.n_cols,
                       (long long)nr, (long long)nc);
    return 0;
}

static int check_dim(const sc_elem *dict, int64_t n, int square,
                     const char *label)
{
    for (size_t i = 0; i < dict->n_child; i++) {
        const sc_elem *c = dict->child[i];
        int64_t d = h5r_first_dim(c);
        if (d != n)
            return sc_fail(SC_EFORMAT, "%s/%s: has %lld rows, expected %lld",
                           label, c->name, (long long)d, (long long)n);
        if (square) {
            int64_t nc = -1;
            if (c->kind == SC_K_MATRIX) {
                sc_mat_info in;
                sc_mat_get_info(c->mat, &in);
                nc = in.n_cols;
            } else if (c->kind == SC_K_ARRAY && c->rank == 2) {
                nc = c->shape[1];
            }
            if (nc != n)
                return sc_fail(SC_EFORMAT,
                               "%s/%s: not a square %lld x %lld "
                               "matrix",
                               label, c->name, (long long)n, (long long)n);
        }
    }
    return 0;
}

/* Pre-0.7: turn integer columns with uns/<col>_categories into categoricals
 * (anndata's fix-up), consuming the uns entries. CATS holds the categories
 * (uns for obs/var, raw.cat for raw.var). */
static int apply_legacy_categories(sc_elem *cats, sc_elem **dfs, int ndf)
{
    for (size_t i = 0; cats && i < cats->n_child;) {
        sc_elem *c = cats->child[i];
        size_t len = strlen(c->name), sl = strlen("_categories");
        int used = 0;
        if (len <= sl || strcmp(c->name + len - sl, "_categories") ||
            c->kind != SC_K_ARRAY || c->rank != 1) {
            i++;
            continue;
        }
        char col[512];
        snprintf(col, sizeof col, "%.*s", (int)(len - sl), c->name);
        for (int k = 0; k < ndf && !used; k++) {
            sc_elem *v = dfs[k] ? sc_elem_get(dfs[k], col) : NULL;
            int ok = v && v->kind == SC_K_ARRAY && v->rank == 1 &&
                     sc_dtype_is_int(v->dtype);
            for (int64_t j = 0; ok && j < v->shape[0]; j++) {
                double d = sc_elem_num(v, j);
                if (d < -1 || d >= (double)c->shape[0])
                    ok = 0;
            }
            if (!ok)
                continue;
            /* A copy: adding CAT under the same name then replaces the
             * codes column in place, keeping the column order. */
            sc_elem *codes = sc_elem_copy(v);
            sc_elem *cat = sc_elem_new(SC_K_CATEGORICAL, col);
            int rc;
            if (!cat || !codes) {
                sc_elem_free(cat);
                sc_elem_free(codes);
                return sc_fail(SC_ENOMEM, "out of memory");
            }
            free(codes->name);
            codes->name = strdup("codes");
            cat->codes = codes;
            if ((rc = h5r_to_i32_codes(codes, col)) < 0) {
                sc_elem_free(cat);
                return rc;
            }
            cat->categories = sc_elem_detach(cats, c->name);
            free(cat->categories->name);
            cat->categories->name = strdup("categories");
            if ((rc = sc_elem_add_take(dfs[k], cat)) < 0)
                return rc;
            used = 1;
        }
        if (!used)
            i++;
    }
    return 0;
}

/* Pre-0.7: 2-D graphs in uns/neighbors move to obsp (as anndata does). */
static int move_legacy_graphs(sc_adata *ad)
{
    sc_elem *nb = sc_elem_get(ad->uns, "neighbors");
    static const char *keys[] = {"distances", "connectivities"};

    if (!nb || nb->kind != SC_K_DICT)
        return 0;
    for (int i = 0; i < 2; i++) {
        sc_elem *g = sc_elem_get(nb, keys[i]);
        if (g && g->kind == SC_K_MATRIX &&
            check_mat_shape(g, ad->n_obs, ad->n_obs, keys[i]) == 0) {
            int rc = sc_elem_add_take(ad->obsp, sc_elem_detach(nb, keys[i]));
            if (rc < 0)
                return rc;
        }
    }
    sc_err_clear();
    return 0;
}

static int read_raw(rd *r, sc_adata *ad)
{
    int has_group = sc_h5_is_group(r->file, "raw");
    int has_legacy = sc_h5_exists(r->file, "raw.X");
    sc_elem *raw = NULL, *x = NULL, *var = NULL, *varm = NULL;
    int rc;

    if (!has_group && !has_legacy)
        return 0;
    if (has_group && has_legacy)
        return sc_fail(SC_EFORMAT, "both 'raw' and 'raw.X' are present");
    if (!(raw = sc_elem_new(SC_K_DICT, "raw")))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (has_group) {
        if (sc_h5_exists(r->file, "raw/X") &&
            (rc = read_matrix(r, "raw/X", "raw/X", &x)) < 0)
            goto fail;
        if ((rc = read_df_any(r, "raw/var", &var)) < 0)
            goto fail;
        if ((rc = read_mapping(r, "raw/varm", 0, &varm)) < 0)
            goto fail;
    } else {
        if ((rc = read_matrix(r, "raw.X", "raw.X", &x)) < 0)
            goto fail;
        if ((rc = read_df_any(r, "raw.var", &var)) < 0)
            goto fail;
        if ((rc = read_mapping(r, "raw.varm", 0, &varm)) < 0)
            goto fail;
        if (sc_h5_exists(r->file, "raw.cat")) {
            sc_elem *cats = NULL;
            if ((rc = read_mapping(r, "raw.cat", 0, &cats)) < 0)
                goto fail;
            rc = apply_legacy_categories(cats, &var, 1);
            sc_elem_free(cats);
            if (rc < 0)
                goto fail;
        }
    }
    if (!x) {
        rc = sc_fail(SC_EFORMAT, "raw has no X");
        goto fail;
    }
    {
        sc_mat_info in;
        sc_mat_get_info(x->mat, &in);
        if ((rc = check_mat_shape(x, ad->n_obs, -1, "raw/X")) < 0)
            goto fail;
        if (in.n_cols != var->n_rows) {
            rc = sc_fail(SC_EFORMAT,
                         "raw/X has %lld columns but raw/var "
                         "has %lld rows",
                         (long long)in.n_cols, (long long)var->n_rows);
            goto fail;
        }
    }
    free(x->name);
    x->name = strdup("X");
    free(var->name);
    var->name = strdup("var");
    free(varm->name);
    varm->name = strdup("varm");
    if ((rc = sc_elem_add_take(raw, x)) < 0 ||
        (x = NULL, rc = sc_elem_add_take(raw, var)) < 0 ||
        (var = NULL, rc = sc_elem_add_take(raw, varm)) < 0) {
        x = var = varm = NULL;
        goto fail;
    }
    ad->raw = raw;
    return 0;
fail:
    sc_elem_free(x);
    sc_elem_free(var);
    sc_elem_free(varm);
    sc_elem_free(raw);
    return rc;
}

static int read_all(rd *r, sc_adata *ad)
{
    static const char *maps[] = {"obsm", "varm",   "obsp",
                                 "varp", "layers", "uns"};
    sc_elem **slots[] = {&ad->obsm, &ad->varm,   &ad->obsp,
                         &ad->varp, &ad->layers, &ad->uns};
    int rc;

    sc_elem_free(ad->obs);
    sc_elem_free(ad->var);
    ad->obs = ad->var = NULL;
    if ((rc = read_df_any(r, "obs", &ad->obs)) < 0 ||
        (rc = read_df_any(r, "var", &ad->var)) < 0)
        return rc;
    ad->n_obs = ad->obs->n_rows;
    ad->n_vars = ad->var->n_rows;
    if (sc_h5_exists(r->file, "X")) {
        if ((rc = read_matrix(r, "X", "X", &ad->X)) < 0 ||
            (rc = check_mat_shape(ad->X, ad->n_obs, ad->n_vars, "X")) < 0)
            return rc;
    }
    for (int i = 0; i < 6; i++) {
        int dense_mat = !strcmp(maps[i], "layers") ||
                        !strcmp(maps[i], "obsp") || !strcmp(maps[i], "varp");
        sc_elem_free(*slots[i]);
        *slots[i] = NULL;
        if ((rc = read_mapping(r, maps[i], dense_mat, slots[i])) < 0)
            return rc;
    }
    for (size_t i = 0; i < ad->layers->n_child; i++) {
        char lab[512];
        h5r_join(lab, sizeof lab, "layers", ad->layers->child[i]->name);
        if ((rc = check_mat_shape(ad->layers->child[i], ad->n_obs, ad->n_vars,
                                  lab)) < 0)
            return rc;
    }
    if (r->legacy == 2) {
        sc_elem *dfs[2] = {ad->obs, ad->var};
        if ((rc = apply_legacy_categories(ad->uns, dfs, 2)) < 0 ||
            (rc = move_legacy_graphs(ad)) < 0)
            return rc;
    }
    if ((rc = check_dim(ad->obsm, ad->n_obs, 0, "obsm")) < 0 ||
        (rc = check_dim(ad->varm, ad->n_vars, 0, "varm")) < 0 ||
        (rc = check_dim(ad->obsp, ad->n_obs, 1, "obsp")) < 0 ||
        (rc = check_dim(ad->varp, ad->n_vars, 1, "varp")) < 0)
        return rc;
    return read_raw(r, ad);
}

int sc_h5ad_open(const char *path, unsigned flags, sc_adata **out)
{
    rd r = {0};
    sc_adata *ad = NULL;
    hid_t *pv = NULL;
    char *root_enc = NULL;
    int rc;

    (void)flags;
    *out = NULL;
    if ((rc = sc_h5_open_ro(path, &r.file)) < 0)
        return rc;
    r.path = path;
    if (!(ad = sc_adata_new(0, 0)) || !(pv = malloc(sizeof *pv))) {
        H5Fclose(r.file);
        sc_adata_close(ad);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    *pv = r.file;
    ad->priv = pv;
    ad->priv_free = sc_h5_file_priv_free;
    ad->format = SC_FMT_H5AD;
    ad->path = strdup(path);
    {
        hid_t root = H5Gopen2(r.file, "/", H5P_DEFAULT);
        root_enc = root >= 0 ? enc_type(root) : NULL;
        if (root >= 0)
            H5Gclose(root);
    }
    if (sc_h5_is_dataset(r.file, "obs"))
        r.legacy = 2;
    else if (!root_enc)
        r.legacy = 1;
    if (root_enc && strcmp(root_enc, "anndata")) {
        rc = sc_fail(SC_EFORMAT,
                     "'%s': root encoding-type is '%s', not "
                     "'anndata'",
                     path, root_enc);
        goto fail;
    }
    if (!sc_h5_exists(r.file, "obs") || !sc_h5_exists(r.file, "var")) {
        rc = sc_fail(SC_EFORMAT,
                     "'%s': no '%s' (an AnnData file needs obs "
                     "and var)",
                     path, sc_h5_exists(r.file, "obs") ? "var" : "obs");
        goto fail;
    }
    ad->generation = strdup(r.legacy == 2   ? "pre-0.7"
                            : r.legacy == 1 ? "0.7"
                                            : "0.8+");
    if ((rc = read_all(&r, ad)) < 0) {
        rc = sc_fail_ctx(rc, "'%s'", path);
        goto fail;
    }
    free(root_enc);
    *out = ad;
    return 0;
fail:
    free(root_enc);
    sc_adata_close(ad);
    return rc;
}
