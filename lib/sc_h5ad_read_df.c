/* sc_h5ad_read_df: dataframes of every AnnData generation (0.2.0 and
 * 0.1.0 groups, pre-0.7 compound datasets) and rec-arrays. */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "sc_h5.h"
#include "sc_h5ad_read_int.h"
#include "sc_log.h"

/* ------------------------------------------------------------------------ */
/* Compound datasets (pre-0.7 dataframes, obsm, rec-arrays) */

static int read_field(hid_t ds, hid_t ftype, int idx, int64_t n,
                      const char *label, sc_elem **out)
{
    char *fname = H5Tget_member_name(ftype, (unsigned)idx);
    hid_t mtype = H5Tget_member_type(ftype, (unsigned)idx);
    hid_t base = -1, memt = -1, comp = -1, space = -1;
    sc_elem *e = NULL;
    int64_t shape[2] = {n, 1};
    int rank = 1, rc = 0;
    sc_dtype dt;
    void *buf = NULL;
    size_t esz;

    *out = NULL;
    if (!fname || mtype < 0) {
        rc = sc_h5_fail(SC_EFORMAT, "%s: bad compound type", label);
        goto out;
    }
    base =
        H5Tget_class(mtype) == H5T_ARRAY ? H5Tget_super(mtype) : H5Tcopy(mtype);
    if (H5Tget_class(mtype) == H5T_ARRAY) {
        hsize_t adims[4];
        int ar = H5Tget_array_ndims(mtype);
        if (ar != 1) {
            rc = sc_fail(SC_EUNSUP, "%s: field '%s' is a %d-D array", label,
                         fname, ar);
            goto out;
        }
        H5Tget_array_dims2(mtype, adims);
        shape[1] = (int64_t)adims[0];
        rank = 2;
    }
    dt = sc_h5_dtype_of(base);
    if (dt == SC_DT_NONE) {
        rc = sc_fail(SC_EUNSUP, "%s: field '%s' has an unsupported type", label,
                     fname);
        goto out;
    }
    if (dt == SC_DT_STR && rank != 1) {
        rc = sc_fail(SC_EUNSUP, "%s: field '%s' is an array of strings", label,
                     fname);
        goto out;
    }
    if (!(e = sc_elem_new_array(fname, dt, rank, shape))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if (dt == SC_DT_STR) {
        int vlen = H5Tis_variable_str(base) > 0;
        memt = vlen ? sc_h5_str_type() : H5Tcopy(base);
        if (vlen)
            H5Tset_cset(memt, H5Tget_cset(base));
    } else {
        hid_t nt = sc_h5_mem_type(dt);
        memt = rank == 2
                   ? H5Tarray_create2(nt, 1, (hsize_t[]){(hsize_t)shape[1]})
                   : H5Tcopy(nt);
        if (sc_h5_type_is_owned(dt))
            H5Tclose(nt);
    }
    esz = H5Tget_size(memt);
    comp = H5Tcreate(H5T_COMPOUND, esz);
    H5Tinsert(comp, fname, 0, memt);
    if (!(buf = calloc((size_t)(n ? n : 1), esz))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    if (n && H5Dread(ds, comp, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0) {
        rc = sc_h5_fail(SC_EFORMAT, "%s: cannot read field '%s'", label, fname);
        goto out;
    }
    if (dt == SC_DT_STR) {
        char **dst = e->data;
        for (int64_t i = 0; i < n && rc == 0; i++) {
            const char *s;
            size_t len;
            if (H5Tis_variable_str(memt) > 0) {
                s = ((char **)buf)[i];
                s = s ? s : "";
                len = strlen(s);
            } else {
                s = (const char *)buf + (size_t)i * esz;
                len = strnlen(s, esz);
                if (H5Tget_strpad(memt) == H5T_STR_SPACEPAD)
                    while (len && s[len - 1] == ' ')
                        len--;
            }
            if (!(dst[i] = strndup(s, len)))
                rc = sc_fail(SC_ENOMEM, "out of memory");
        }
        if (H5Tis_variable_str(memt) > 0) {
            space = H5Dget_space(ds);
            H5Dvlen_reclaim(comp, space, H5P_DEFAULT, buf);
        }
    } else {
        memcpy(e->data, buf, (size_t)(n * shape[1]) * sc_dtype_size(dt));
    }
out:
    if (rc == 0)
        *out = e;
    else
        sc_elem_free(e);
    free(buf);
    if (space >= 0)
        H5Sclose(space);
    if (comp >= 0)
        H5Tclose(comp);
    if (memt >= 0)
        H5Tclose(memt);
    if (base >= 0)
        H5Tclose(base);
    if (mtype >= 0)
        H5Tclose(mtype);
    H5free_memory(fname);
    return rc;
}

int h5r_read_compound(hid_t loc, const char *name, const char *label,
                      sc_elem **out)
{
    hid_t ds = -1, ft = -1;
    sc_elem *rec = NULL;
    int64_t dims[SC_MAX_RANK];
    int rank, nf, rc;

    *out = NULL;
    if ((ds = H5Dopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if ((rc = sc_h5_check_filters(ds, label)) < 0 ||
        (rc = sc_h5_shape(ds, &rank, dims, label)) < 0)
        goto out;
    if (rank != 1) {
        rc = sc_fail(SC_EFORMAT, "%s: compound dataset is not 1-D", label);
        goto out;
    }
    ft = H5Dget_type(ds);
    nf = H5Tget_nmembers(ft);
    if (!(rec = sc_elem_new(SC_K_RECARRAY, name))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int i = 0; i < nf; i++) {
        sc_elem *f;
        if ((rc = read_field(ds, ft, i, dims[0], label, &f)) < 0 ||
            (rc = sc_elem_add_take(rec, f)) < 0)
            goto out;
    }
out:
    if (ft >= 0)
        H5Tclose(ft);
    H5Dclose(ds);
    if (rc < 0) {
        sc_elem_free(rec);
        return rc;
    }
    *out = rec;
    return 0;
}

/* Make a string index element from any 1-D array (numbers stringified). */
static int index_from(sc_elem *src, const char *label, sc_elem **out)
{
    int64_t n;
    char **v;

    *out = NULL;
    if (src->kind == SC_K_NULLABLE && src->values) {
        sc_elem *vals = src->values;
        src->values = NULL;
        sc_elem_free(src);
        src = vals;
    }
    if (src->kind != SC_K_ARRAY || src->rank != 1) {
        sc_elem_free(src);
        return sc_fail(SC_EFORMAT, "%s: index is not a 1-D array", label);
    }
    if (src->dtype == SC_DT_STR) {
        *out = src;
        return 0;
    }
    n = src->shape[0];
    if (!(v = calloc((size_t)(n ? n : 1), sizeof *v))) {
        sc_elem_free(src);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (int64_t i = 0; i < n; i++) {
        char buf[64];
        double d = sc_elem_num(src, i);
        if (sc_dtype_is_int(src->dtype))
            snprintf(buf, sizeof buf, "%lld", (long long)d);
        else
            snprintf(buf, sizeof buf, "%.17g", d);
        v[i] = strdup(buf);
    }
    *out = sc_elem_new_strings(src->name, (const char *const *)v, n);
    sc_strv_free(v, n);
    sc_elem_free(src);
    return *out ? 0 : sc_fail(SC_ENOMEM, "out of memory");
}

int h5r_compound_to_df(sc_elem *rec, const char *name, const char *label,
                       sc_elem **out)
{
    sc_elem *df = sc_elem_new(SC_K_DATAFRAME, name), *idx;
    int rc;

    *out = NULL;
    if (!df) {
        sc_elem_free(rec);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    if (!(idx = sc_elem_detach(rec, "index"))) {
        sc_elem_free(rec);
        sc_elem_free(df);
        return sc_fail(SC_EFORMAT,
                       "%s: compound dataframe has no 'index' "
                       "field",
                       label);
    }
    if ((rc = index_from(idx, label, &df->index)) < 0) {
        sc_elem_free(rec);
        sc_elem_free(df);
        return rc;
    }
    free(df->index_name);
    df->index_name = strdup("index");
    df->n_rows = df->index->shape[0];
    while (rec->n_child) {
        sc_elem *c = sc_elem_detach(rec, rec->child[0]->name);
        if ((rc = sc_elem_add_take(df, c)) < 0) {
            sc_elem_free(rec);
            sc_elem_free(df);
            return rc;
        }
    }
    sc_elem_free(rec);
    *out = df;
    return 0;
}

/* ------------------------------------------------------------------------ */
/* Dataframes (0.2.0 and 0.1.0) */

/* 0.7: codes dataset whose `categories` attribute references (or inlines)
 * the categories. */
static int read_cat_07(hid_t g, const char *col, const char *label,
                       sc_elem **out)
{
    hid_t ds = -1, a = -1, at = -1, cds = -1;
    sc_elem *cat = NULL, *codes = NULL;
    int rc;

    *out = NULL;
    if ((ds = H5Dopen2(g, col, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if ((rc = sc_h5_read_array(ds, col, label, &codes)) < 0)
        goto out;
    if (!(cat = sc_elem_new(SC_K_CATEGORICAL, col))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    cat->codes = codes;
    codes = NULL;
    if ((rc = h5r_to_i32_codes(cat->codes, label)) < 0)
        goto out;
    a = H5Aopen(ds, "categories", H5P_DEFAULT);
    at = a >= 0 ? H5Aget_type(a) : -1;
    if (at >= 0 && H5Tget_class(at) == H5T_REFERENCE) {
        hobj_ref_t ref;
        if (H5Aread(a, H5T_STD_REF_OBJ, &ref) < 0 ||
            (cds = H5Rdereference2(ds, H5P_DEFAULT, H5R_OBJECT, &ref)) < 0) {
            rc = sc_h5_fail(SC_EFORMAT,
                            "%s: cannot follow the categories "
                            "reference",
                            label);
            goto out;
        }
        if ((rc = sc_h5_read_array(cds, "categories", label,
                                   &cat->categories)) < 0)
            goto out;
        if (sc_h5_has_attr(cds, "ordered") &&
            (rc = sc_h5_attr_bool(cds, "ordered", &cat->ordered)) < 0)
            goto out;
    } else if (at >= 0 && H5Tget_class(at) == H5T_STRING) {
        char **v;
        int64_t n;
        if ((rc = sc_h5_attr_strs(ds, "categories", &v, &n)) < 0)
            goto out;
        cat->categories =
            sc_elem_new_strings("categories", (const char *const *)v, n);
        sc_strv_free(v, n);
        if (!cat->categories) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
    } else {
        rc =
            sc_fail(SC_EFORMAT, "%s: unreadable 'categories' attribute", label);
        goto out;
    }
    rc = h5r_check_codes(cat, label);
out:
    if (cds >= 0)
        H5Oclose(cds);
    if (at >= 0)
        H5Tclose(at);
    if (a >= 0)
        H5Aclose(a);
    H5Dclose(ds);
    sc_elem_free(codes);
    if (rc < 0) {
        sc_elem_free(cat);
        return rc;
    }
    *out = cat;
    return 0;
}

int h5r_read_dataframe(rd *r, hid_t loc, const char *name, const char *label,
                       sc_elem **out)
{
    hid_t g = -1;
    sc_elem *df = NULL, *idx = NULL;
    char **cols = NULL, *iname = NULL;
    int64_t ncol = 0;
    int rc = 0;

    *out = NULL;
    if ((g = H5Gopen2(loc, name, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open", label);
    if (!(df = sc_elem_new(SC_K_DATAFRAME, name))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    rc = sc_h5_attr_str(g, "_index", &iname);
    if (rc == SC_ENOTFOUND) {
        if (!sc_h5_exists(g, "_index")) {
            rc = sc_fail(SC_EFORMAT,
                         "%s: dataframe has no '_index' "
                         "attribute",
                         label);
            goto out;
        }
        iname = strdup("_index");
        rc = 0;
    } else if (rc < 0) {
        rc = sc_fail_ctx(rc, "%s", label);
        goto out;
    }
    if (!sc_h5_exists(g, iname)) {
        rc = sc_fail(SC_EFORMAT, "%s: index '%s' is missing", label, iname);
        goto out;
    }
    {
        char lab[512];
        h5r_join(lab, sizeof lab, label, iname);
        if ((rc = h5r_read_element(r, g, iname, lab, 0, &idx)) < 0)
            goto out;
        if (!idx) {
            rc = sc_fail(SC_EFORMAT, "%s: index is not readable", lab);
            goto out;
        }
        if ((rc = index_from(idx, lab, &df->index)) < 0) {
            idx = NULL;
            goto out;
        }
        idx = NULL;
    }
    free(df->index_name);
    df->index_name = iname;
    iname = NULL;
    df->n_rows = df->index->shape[0];
    rc = sc_h5_attr_strs(g, "column-order", &cols, &ncol);
    if (rc == SC_ENOTFOUND) {
        /* Lenient: take the children other than the index. */
        sc_log_warn("%s: dataframe has no 'column-order' attribute", label);
        if ((rc = sc_h5_list(g, &cols, &ncol)) < 0)
            goto out;
        for (int64_t i = 0; i < ncol; i++)
            if (!strcmp(cols[i], df->index_name) ||
                !strcmp(cols[i], "__categories")) {
                free(cols[i]);
                cols[i] = NULL;
            }
    } else if (rc < 0) {
        rc = sc_fail_ctx(rc, "%s", label);
        goto out;
    }
    for (int64_t i = 0; i < ncol; i++) {
        char lab[512];
        sc_elem *c = NULL;
        if (!cols[i])
            continue;
        h5r_join(lab, sizeof lab, label, cols[i]);
        if (!sc_h5_exists(g, cols[i])) {
            rc = sc_fail(SC_EFORMAT,
                         "%s: column listed in column-order is "
                         "missing",
                         lab);
            goto out;
        }
        if (sc_h5_is_dataset(g, cols[i])) {
            hid_t ds = H5Dopen2(g, cols[i], H5P_DEFAULT);
            int has = ds >= 0 && sc_h5_has_attr(ds, "categories");
            if (ds >= 0)
                H5Dclose(ds);
            if (has)
                rc = read_cat_07(g, cols[i], lab, &c);
            else
                rc = h5r_read_element(r, g, cols[i], lab, 0, &c);
        } else {
            rc = h5r_read_element(r, g, cols[i], lab, 0, &c);
        }
        if (rc < 0)
            goto out;
        if (!c)
            continue;
        if (h5r_first_dim(c) != df->n_rows) {
            rc = sc_fail(SC_EFORMAT,
                         "%s: column has %lld rows, index has "
                         "%lld",
                         lab, (long long)h5r_first_dim(c),
                         (long long)df->n_rows);
            sc_elem_free(c);
            goto out;
        }
        if ((rc = sc_elem_add_take(df, c)) < 0)
            goto out;
    }
out:
    sc_strv_free(cols, ncol);
    free(iname);
    sc_elem_free(idx);
    H5Gclose(g);
    if (rc < 0) {
        sc_elem_free(df);
        return rc;
    }
    *out = df;
    return 0;
}
