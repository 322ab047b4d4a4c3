/* sc_h5ad_write_elem: the elements of an h5ad other than matrices: dicts,
 * arrays, categoricals, nullable arrays, record arrays and dataframes. */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_h5.h"
#include "sc_h5ad_write_int.h"
#include "sc_log.h"
#include "sc_map.h"

/* Above this many bytes of `column-order` the attribute no longer fits an
 * object header (64 KiB) and needs dense attribute storage (spec §2.4). */
#define COLUMN_ORDER_DENSE_BYTES ((size_t)32 << 10)

/* ------------------------------------------------------------------------ */
/* Elements                                                                 */

/* HDF5 link names: no '/', not empty, not "." (anndata >= 0.13 refuses
 * '/', older versions made nested groups of it). */
static int check_key(wctx *w, const char *name)
{
    if (!name || !name[0] || !strcmp(name, ".") || strchr(name, '/'))
        return h5w_bad(w, SC_EINVAL, "invalid key '%s'",
                       name ? name : "(null)");
    if (!h5w_utf8_valid(name))
        return h5w_bad(w, SC_EFORMAT, "a key is not valid UTF-8");
    return 0;
}

int h5w_write_dict(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    size_t mark = h5w_ep_push(w, name);
    hid_t g;
    int rc = h5w_create_group(w, loc, name, "dict", "0.1.0", 0, &g);

    for (size_t i = 0; e && rc == 0 && i < e->n_child; i++)
        rc = h5w_write_elem(w, g, e->child[i], e->child[i]->name);
    rc = h5w_close_group(w, g, rc);
    h5w_ep_pop(w, mark);
    return rc;
}

static int write_array(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    return h5w_write_data(w, loc, name, e->dtype, e->rank, e->shape, e->data);
}

/* pandas' code width: int8 below 127 categories, int16 below 32767. */
static sc_dtype codes_dtype(int64_t n_cat)
{
    return n_cat < INT8_MAX    ? SC_DT_I8
           : n_cat < INT16_MAX ? SC_DT_I16
                               : SC_DT_I32;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Categories anndata can read back: pandas refuses duplicate and missing
 * (NaN) categories. SC_EFORMAT naming the first one. */
static int check_categories(wctx *w, const sc_elem *cat)
{
    int64_t n = sc_elem_count(cat);
    int rc = 0;

    if (cat->dtype == SC_DT_STR) {
        sc_strmap seen = {0};
        for (int64_t i = 0; i < n && rc == 0; i++) {
            const char *s = sc_elem_str(cat, i);
            int64_t *slot;
            int added;
            if ((rc = sc_strmap_slot(&seen, s ? s : "", i, &slot, &added)) ==
                    0 &&
                !added)
                rc = h5w_bad(w, SC_EFORMAT,
                             "category '%s' appears twice (anndata cannot read "
                             "duplicate categories)",
                             s ? s : "");
        }
        sc_strmap_release(&seen);
        return rc;
    }
    double *v = malloc((size_t)(n ? n : 1) * sizeof *v);
    if (!v)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n && rc == 0; i++)
        if (isnan(v[i] = sc_elem_num(cat, i)))
            rc = h5w_bad(w, SC_EFORMAT,
                         "category %lld is NaN (anndata cannot read missing "
                         "categories)",
                         (long long)i);
    if (rc == 0) {
        qsort(v, (size_t)n, sizeof *v, cmp_double);
        for (int64_t i = 1; i < n && rc == 0; i++)
            if (v[i] == v[i - 1])
                rc = h5w_bad(w, SC_EFORMAT,
                             "category %g appears twice (anndata cannot read "
                             "duplicate categories)",
                             v[i]);
    }
    free(v);
    return rc;
}

static int write_categorical(wctx *w, hid_t loc, const sc_elem *e,
                             const char *name)
{
    size_t mark = h5w_ep_push(w, name);
    const sc_elem *cat = e->categories;
    int64_t n = sc_elem_count(e->codes), n_cat = sc_elem_count(cat);
    sc_dtype cdt = codes_dtype(n_cat);
    size_t isz = sc_dtype_size(cdt);
    unsigned char *codes = NULL;
    hid_t g = H5I_INVALID_HID;
    int rc = 0;

    if (!e->codes || e->codes->kind != SC_K_ARRAY || e->codes->rank != 1 ||
        !sc_dtype_is_int(e->codes->dtype) ||
        (cat && (cat->kind != SC_K_ARRAY || cat->rank != 1)) ||
        n_cat > INT32_MAX) {
        rc = h5w_bad(w, SC_EINVAL, "malformed categorical");
        goto out;
    }
    if (cat && (rc = check_categories(w, cat)) < 0)
        goto out;
    if (!(codes = malloc(n ? (size_t)n * isz : 1))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < n; i++) {
        double c = sc_elem_num(e->codes, i);
        int32_t v = (int32_t)c;

        if (c != -1 && !(c >= 0 && c < (double)n_cat)) {
            rc = h5w_bad(w, SC_EFORMAT, "code %g at %lld outside [-1, %lld)", c,
                         (long long)i, (long long)n_cat);
            goto out;
        }
        if (cdt == SC_DT_I8)
            ((int8_t *)codes)[i] = (int8_t)v;
        else if (cdt == SC_DT_I16)
            ((int16_t *)codes)[i] = (int16_t)v;
        else
            ((int32_t *)codes)[i] = v;
    }
    if ((rc = h5w_create_group(w, loc, name, "categorical", "0.2.0", 0, &g)) <
            0 ||
        (rc = h5w_ctx(w, sc_h5_write_attr_bool(g, "ordered", e->ordered))) <
            0 ||
        (rc = h5w_write_data(w, g, "codes", cdt, 1, &n, codes)) < 0)
        goto out;
    if (cat)
        rc = h5w_write_data(w, g, "categories", cat->dtype, 1, cat->shape,
                            cat->data);
    else
        rc = h5w_write_data(w, g, "categories", SC_DT_STR, 1, &n_cat, NULL);
out:
    free(codes);
    rc = h5w_close_group(w, g, rc);
    h5w_ep_pop(w, mark);
    return rc;
}

/* anndata 0.8 has no nullable strings: write them as a categorical with
 * sorted categories (what pandas makes of them) and -1 for missing. */
static int write_nullable_strings(wctx *w, hid_t loc, const sc_elem *e,
                                  const char *name)
{
    int64_t n = sc_elem_count(e);
    const char **s = malloc((n ? (size_t)n : 1) * sizeof *s);
    sc_elem *cat = NULL;
    int rc;

    if (!s)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < n; i++)
        s[i] = sc_elem_str(e, i);
    cat = sc_elem_new_categorical_from_strings(name, s, n, 1);
    free(s);
    if (!cat)
        return sc_fail_ctx(SC_ENOMEM, "cannot write '%s': %s/%s", w->path,
                           w->ep, name);
    rc = write_categorical(w, loc, cat, name);
    sc_elem_free(cat);
    return rc;
}

static int write_nullable(wctx *w, hid_t loc, const sc_elem *e,
                          const char *name)
{
    const sc_elem *v = e->values;
    int64_t n = sc_elem_count(v);
    uint8_t *mask = NULL;
    hid_t g = H5I_INVALID_HID;
    size_t mark;
    int rc = 0;

    if (v && v->dtype == SC_DT_STR)
        return write_nullable_strings(w, loc, e, name);
    mark = h5w_ep_push(w, name);
    if (!v || v->kind != SC_K_ARRAY || v->rank != 1 ||
        !(sc_dtype_is_int(v->dtype) || v->dtype == SC_DT_BOOL ||
          sc_dtype_is_float(v->dtype))) {
        rc = h5w_bad(w, SC_EINVAL, "malformed nullable array");
        h5w_ep_pop(w, mark);
        return rc;
    }
    if (sc_dtype_is_float(v->dtype)) {
        /* No nullable float in anndata 0.8: missing values become NaN. */
        sc_elem *f = sc_elem_copy(v);

        h5w_ep_pop(w, mark);
        if (!f)
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; e->mask && i < n; i++)
            if (e->mask[i]) {
                if (f->dtype == SC_DT_F32)
                    ((float *)f->data)[i] = NAN;
                else
                    ((double *)f->data)[i] = NAN;
            }
        rc = write_array(w, loc, f, name);
        sc_elem_free(f);
        return rc;
    }
    if (!e->mask && !(mask = calloc(n ? (size_t)n : 1, 1))) {
        h5w_ep_pop(w, mark);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    rc = h5w_create_group(w, loc, name,
                          v->dtype == SC_DT_BOOL ? "nullable-boolean"
                                                 : "nullable-integer",
                          "0.1.0", 0, &g);
    if (rc == 0)
        rc = h5w_write_data(w, g, "values", v->dtype, 1, &n, v->data);
    if (rc == 0)
        rc = h5w_write_data(w, g, "mask", SC_DT_BOOL, 1, &n,
                            e->mask ? e->mask : mask);
    free(mask);
    rc = h5w_close_group(w, g, rc);
    h5w_ep_pop(w, mark);
    return rc;
}

/* A compound dataset, one field per child array (numbers, bools or vlen
 * strings), as scanpy's rank_genes_groups results are stored. */
static int write_recarray(wctx *w, hid_t loc, const sc_elem *e,
                          const char *name)
{
    size_t mark = h5w_ep_push(w, name), msize = 0, fsize = 0;
    size_t *off = calloc(e->n_child ? e->n_child : 1, sizeof *off);
    int64_t n = e->n_child ? sc_elem_count(e->child[0]) : 0;
    hid_t mt = H5I_INVALID_HID, ft = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    unsigned char *buf = NULL;
    hsize_t dim;
    int rc = 0;

    if (!off) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (size_t f = 0; f < e->n_child; f++) {
        const sc_elem *c = e->child[f];
        size_t sz = sc_dtype_size(c->dtype);

        if (c->kind != SC_K_ARRAY || c->rank != 1 || c->shape[0] != n ||
            sz == 0 || !c->name) {
            rc = h5w_bad(w, SC_EINVAL,
                         "record field %zu is not a 1-D array of "
                         "%lld values",
                         f, (long long)n);
            goto out;
        }
        off[f] = (msize + sz - 1) / sz * sz; /* natural alignment */
        msize = off[f] + sz;
        fsize += H5Tget_size(h5w_file_type(w, c->dtype));
    }
    msize = (msize + 7) / 8 * 8;
    if (!e->n_child) {
        rc = h5w_bad(w, SC_EINVAL, "record array without fields");
        goto out;
    }
    if (!(buf = calloc(n ? (size_t)n : 1, msize))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if ((mt = H5Tcreate(H5T_COMPOUND, msize)) < 0 ||
        (ft = H5Tcreate(H5T_COMPOUND, fsize)) < 0) {
        rc = h5w_h5err(w, "cannot create compound type");
        goto out;
    }
    fsize = 0;
    for (size_t f = 0; f < e->n_child; f++) {
        const sc_elem *c = e->child[f];
        size_t sz = sc_dtype_size(c->dtype);
        hid_t ftf = h5w_file_type(w, c->dtype);

        if (H5Tinsert(mt, c->name, off[f], h5w_mem_type(w, c->dtype)) < 0 ||
            H5Tinsert(ft, c->name, fsize, ftf) < 0) {
            rc = h5w_h5err(w, "cannot build compound type");
            goto out;
        }
        fsize += H5Tget_size(ftf);
        for (int64_t i = 0; i < n; i++) {
            const unsigned char *src = (const unsigned char *)c->data + i * sz;

            if (c->dtype == SC_DT_STR && !*(char *const *)src)
                src = (const unsigned char *)&(const char *){""};
            memcpy(buf + (size_t)i * msize + off[f], src, sz);
        }
    }
    dim = (hsize_t)n;
    if ((rc = h5w_create_ds(w, loc, name, ft, fsize, 1, &dim, 0, &ds)) < 0)
        goto out;
    if (n > 0 && H5Dwrite(ds, mt, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        rc = h5w_h5err(w, "cannot write records");
    if (rc == 0)
        rc = h5w_set_encoding(w, ds, "rec-array", "0.2.0");
out:
    rc = h5w_close_ds(w, ds, rc);
    if (mt >= 0)
        H5Tclose(mt);
    if (ft >= 0)
        H5Tclose(ft);
    free(buf);
    free(off);
    h5w_ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */
/* Dataframes                                                               */

int64_t h5w_elem_rows(const sc_elem *e)
{
    switch (e->kind) {
    case SC_K_ARRAY: return e->rank ? e->shape[0] : -1;
    case SC_K_CATEGORICAL:
    case SC_K_NULLABLE: return sc_elem_count(e);
    case SC_K_DATAFRAME: return e->n_rows;
    case SC_K_RECARRAY: return e->n_child ? h5w_elem_rows(e->child[0]) : -1;
    case SC_K_MATRIX: {
        sc_mat_info in;

        if (!e->mat)
            return -1;
        sc_mat_get_info(e->mat, &in);
        return in.n_rows;
    }
    default: return -1;
    }
}

/* The row labels as strings: string (or categorical/nullable string)
 * indices as they are, numeric ones formatted as anndata does. *KEEP holds
 * the formatted strings to free. */
static int index_labels(const sc_elem *ix, int64_t n, const char ***out,
                        char **keep)
{
    const char **s = malloc((n ? (size_t)n : 1) * sizeof *s);
    char *buf = NULL;

    *out = NULL;
    *keep = NULL;
    if (!s)
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!ix || (ix->kind == SC_K_ARRAY && ix->dtype != SC_DT_STR)) {
        /* At most 24 bytes per number ("-9223372036854775808" + NUL). */
        if (!(buf = malloc((n ? (size_t)n : 1) * 24))) {
            free(s);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        for (int64_t i = 0; i < n; i++) {
            double v = ix ? sc_elem_num(ix, i) : (double)i;

            s[i] = buf + i * 24;
            if (ix && sc_dtype_is_float(ix->dtype))
                snprintf(buf + i * 24, 24, "%.17g", v);
            else
                snprintf(buf + i * 24, 24, "%lld", (long long)v);
        }
    } else {
        for (int64_t i = 0; i < n; i++)
            s[i] = sc_elem_str(ix, i);
    }
    *out = s;
    *keep = buf;
    return 0;
}

/* A column may share the index's name only when it holds the same labels
 * (anndata's rule); it is then represented by the index dataset itself. */
static int same_as_index(const sc_elem *col, const char *const *labels,
                         int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        const char *s = sc_elem_str(col, i);

        if (!s || strcmp(s, labels[i] ? labels[i] : ""))
            return 0;
    }
    return 1;
}

static int write_dataframe(wctx *w, hid_t loc, const sc_elem *df,
                           const char *name)
{
    const char *ixname = df->index_name ? df->index_name : "_index";
    const char **order = calloc(df->n_child ? df->n_child : 1, sizeof *order);
    const char **labels = NULL;
    char *keep = NULL;
    size_t n_cols = 0, mark = h5w_ep_push(w, name);
    int64_t n = df->n_rows;
    hid_t g = H5I_INVALID_HID;
    int rc = 0;

    if (!order) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if (df->index && sc_elem_count(df->index) != n) {
        rc = h5w_bad(w, SC_EINVAL, "index has %lld labels for %lld rows",
                     (long long)sc_elem_count(df->index), (long long)n);
        goto out;
    }
    if ((rc = check_key(w, ixname)) < 0 ||
        (rc = index_labels(df->index, n, &labels, &keep)) < 0)
        goto out;
    for (size_t i = 0; i < df->n_child; i++) {
        const sc_elem *c = df->child[i];
        int64_t rows;

        if (c->kind == SC_K_NULL)
            continue;
        rows = h5w_elem_rows(c);
        if (c->kind == SC_K_ARRAY && c->rank > 1) {
            rc =
                h5w_bad(w, SC_EFORMAT,
                        "column '%s' is %d-D (anndata reads only 1-D dataframe "
                        "columns)",
                        c->name ? c->name : "", c->rank);
            goto out;
        }
        if (rows != n) {
            rc = h5w_bad(w, SC_EINVAL,
                         "column '%s' has %lld rows, expected %lld",
                         c->name ? c->name : "", (long long)rows, (long long)n);
            goto out;
        }
        if (c->name && !strcmp(c->name, ixname) &&
            !same_as_index(c, labels, n)) {
            rc = h5w_bad(w, SC_EINVAL,
                         "column '%s' has the index's name but "
                         "other values",
                         ixname);
            goto out;
        }
        order[n_cols++] = c->name;
    }
    rc = h5w_create_group(w, loc, name, "dataframe", "0.2.0",
                          n_cols * VLEN_FILE_SIZE > COLUMN_ORDER_DENSE_BYTES,
                          &g);
    if (rc < 0 ||
        (rc = h5w_ctx(w, sc_h5_write_attr_str(g, "_index", ixname))) < 0 ||
        (rc = h5w_ctx(w, sc_h5_write_attr_strs(g, "column-order", order,
                                               (int64_t)n_cols))) < 0 ||
        (rc = h5w_write_data(w, g, ixname, SC_DT_STR, 1, &n, labels)) < 0)
        goto out;
    for (size_t i = 0; rc == 0 && i < df->n_child; i++) {
        const sc_elem *c = df->child[i];

        if (c->kind != SC_K_NULL && c->name && !strcmp(c->name, ixname))
            continue; /* identical to the index, already written */
        rc = h5w_write_elem(w, g, c, c->name);
    }
out:
    free(order);
    free(labels);
    free(keep);
    rc = h5w_close_group(w, g, rc);
    h5w_ep_pop(w, mark);
    return rc;
}

/* ------------------------------------------------------------------------ */

int h5w_write_elem(wctx *w, hid_t loc, const sc_elem *e, const char *name)
{
    int rc;

    if (e->kind == SC_K_NULL) {
        size_t mark = h5w_ep_push(w, name ? name : "");

        sc_log_debug("'%s': not writing None element %s (anndata 0.8 has no "
                     "null encoding)",
                     w->path, w->ep);
        h5w_ep_pop(w, mark);
        return 0;
    }
    if ((rc = check_key(w, name)) < 0)
        return rc;
    switch (e->kind) {
    case SC_K_DICT: return h5w_write_dict(w, loc, e, name);
    case SC_K_DATAFRAME: return write_dataframe(w, loc, e, name);
    case SC_K_ARRAY: return write_array(w, loc, e, name);
    case SC_K_CATEGORICAL: return write_categorical(w, loc, e, name);
    case SC_K_NULLABLE: return write_nullable(w, loc, e, name);
    case SC_K_MATRIX: return h5w_write_matrix(w, loc, e, name);
    case SC_K_RECARRAY: return write_recarray(w, loc, e, name);
    case SC_K_NULL: break;
    }
    return h5w_bad(w, SC_EINVAL, "element '%s' of unknown kind %d", name,
                   (int)e->kind);
}
