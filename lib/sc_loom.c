/* sc_loom: reader for loom files (spec 2.0.1 and 3.0.0) as an sc_adata. */
/* SPDX-License-Identifier: MIT */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "sc_adata.h"
#include "sc_h5.h"
#include "sc_log.h"

/*
 * Mapping, as anndata 0.8's read_loom (h5ad-format.md section 11):
 *
 * - X is /layers/spliced if present (then /matrix becomes layers["matrix"]),
 *   else /matrix; the other layers become layers. Every matrix stays in the
 *   file and is read in row blocks as the transpose of the stored genes x
 *   cells dataset (SC_MAT_DENSE_T), in its stored value type.
 * - col_attrs -> obs columns (1-D) or obsm arrays (N x k, kept as stored);
 *   row_attrs -> var / varm the same way. obs names come from
 *   col_attrs/CellID, var names from row_attrs/Gene (numbers are printed);
 *   without them the names are "0".."n-1". The attribute used as the index
 *   is not kept as a column.
 * - Global attributes (spec 3.0: the datasets of /attrs; older files: the
 *   HDF5 attributes of /) -> uns. ad->generation is LOOM_SPEC_VERSION, or
 *   "unknown" when the file does not say.
 * - Graphs are ignored. Fixed-length strings (spec 2.0.1) are decoded from
 *   the XML character references loompy writes for non-ASCII text.
 */

/* Memory for one obs/var name (pointer, string and malloc overhead). */
#define INDEX_BYTES 48

typedef struct loom {
    const char *path;
    hid_t file;
    int64_t n_genes, n_cells;
    sc_adata *ad;
} loom;

/* ------------------------------------------------------------------------ */
/* XML character references in fixed-length strings                        */

static size_t put_utf8(char *o, unsigned long c)
{
    if (c < 0x80) {
        o[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        o[0] = (char)(0xC0 | c >> 6);
        o[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        o[0] = (char)(0xE0 | c >> 12);
        o[1] = (char)(0x80 | (c >> 6 & 0x3F));
        o[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    o[0] = (char)(0xF0 | c >> 18);
    o[1] = (char)(0x80 | (c >> 12 & 0x3F));
    o[2] = (char)(0x80 | (c >> 6 & 0x3F));
    o[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Decode &#N; &#xH; &amp; &lt; &gt; &quot; &apos; in place (the result is
 * never longer). Anything else is kept as written. */
static void xml_unescape(char *s)
{
    static const struct {
        const char *ref;
        char c;
    } named[] = {{"&amp;", '&'},
                 {"&lt;", '<'},
                 {"&gt;", '>'},
                 {"&quot;", '"'},
                 {"&apos;", '\''}};
    char *o = s;

    while (*s) {
        unsigned long c = 0;
        char *end = NULL;
        size_t k;

        if (*s != '&') {
            *o++ = *s++;
            continue;
        }
        if (s[1] == '#') {
            int hex = s[2] == 'x' || s[2] == 'X';
            c = strtoul(s + 2 + hex, &end, hex ? 16 : 10);
            if (end > s + 2 + hex && *end == ';' && c > 0 && c <= 0x10FFFF &&
                (c < 0xD800 || c > 0xDFFF) && s[2 + hex] != '-' &&
                s[2 + hex] != '+') {
                o += put_utf8(o, c);
                s = end + 1;
                continue;
            }
        }
        for (k = 0; k < sizeof named / sizeof *named; k++)
            if (!strncmp(s, named[k].ref, strlen(named[k].ref)))
                break;
        if (k < sizeof named / sizeof *named) {
            *o++ = named[k].c;
            s += strlen(named[k].ref);
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
}

/* Decode the strings of E if TYPE is a fixed-length string type. */
static void unescape_fixed(sc_elem *e, hid_t type)
{
    if (e->kind != SC_K_ARRAY || e->dtype != SC_DT_STR ||
        H5Tget_class(type) != H5T_STRING || H5Tis_variable_str(type) > 0)
        return;
    for (int64_t i = 0; i < sc_elem_count(e); i++)
        xml_unescape(((char **)e->data)[i]);
}

/* ------------------------------------------------------------------------ */
/* Reading                                                                  */

/* Dataset DSPATH as an array element NAME. */
static int read_ds(loom *l, const char *dspath, const char *name, sc_elem **out)
{
    char label[1024];
    hid_t ds, type;
    int rc;

    snprintf(label, sizeof label, "'%s' %s", l->path, dspath);
    if ((ds = H5Dopen2(l->file, dspath, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "%s: cannot open dataset", label);
    if ((rc = sc_h5_read_array(ds, name, label, out)) >= 0 &&
        (type = H5Dget_type(ds)) >= 0) {
        unescape_fixed(*out, type);
        H5Tclose(type);
    }
    H5Dclose(ds);
    return rc;
}

/* Attribute NAME of OBJ as an array element (a scalar when the attribute
 * is scalar or holds one value). */
static int read_attr(loom *l, hid_t obj, const char *name, sc_elem **out)
{
    hid_t a = -1, type = -1, space = -1;
    hsize_t d[SC_MAX_RANK];
    int64_t dims[SC_MAX_RANK];
    int rank, rc = 0;
    sc_dtype dt;

    *out = NULL;
    if ((a = H5Aopen(obj, name, H5P_DEFAULT)) < 0 ||
        (type = H5Aget_type(a)) < 0 || (space = H5Aget_space(a)) < 0 ||
        (rank = H5Sget_simple_extent_ndims(space)) < 0 || rank > SC_MAX_RANK) {
        rc = sc_h5_fail(SC_EFORMAT, "'%s': cannot read attribute '%s'", l->path,
                        name);
        goto out;
    }
    H5Sget_simple_extent_dims(space, d, NULL);
    for (int i = 0; i < rank; i++)
        dims[i] = (int64_t)d[i];
    if (rank == 1 && dims[0] == 1)
        rank = 0;
    if ((dt = sc_h5_dtype_of(type)) == SC_DT_STR) {
        char **v = NULL;
        int64_t n = 0;
        if ((rc = sc_h5_attr_strs(obj, name, &v, &n)) < 0)
            goto out;
        *out = rank == 0 && n == 1
                   ? sc_elem_new_string(name, v[0])
                   : sc_elem_new_strings(name, (const char *const *)v, n);
        sc_strv_free(v, n);
    } else if (dt != SC_DT_NONE) {
        hid_t mt = sc_h5_mem_type(dt);
        if ((*out = sc_elem_new_array(name, dt, rank, dims)) &&
            sc_elem_count(*out) > 0 && H5Aread(a, mt, (*out)->data) < 0)
            rc = sc_h5_fail(SC_EFORMAT, "'%s': cannot read attribute '%s'",
                            l->path, name);
        if (sc_h5_type_is_owned(dt))
            H5Tclose(mt);
    } else {
        sc_log_debug("'%s': attribute '%s' of unsupported type ignored",
                     l->path, name);
        goto out;
    }
    if (rc >= 0 && !*out)
        rc = SC_ENOMEM;
    if (rc >= 0)
        unescape_fixed(*out, type);
out:
    if (space >= 0)
        H5Sclose(space);
    if (type >= 0)
        H5Tclose(type);
    if (a >= 0)
        H5Aclose(a);
    if (rc < 0) {
        sc_elem_free(*out);
        *out = NULL;
    }
    return rc;
}

/* The matrix at DSPATH, checked to be genes x cells, as layer NAME (or X
 * when NAME is NULL). */
static int add_matrix(loom *l, const char *dspath, const char *name)
{
    char label[1024];
    sc_mat_info info;
    sc_mat *m;
    sc_elem *e;
    int rc;

    snprintf(label, sizeof label, "'%s' %s", l->path, dspath);
    if ((rc = sc_mat_open_h5_dense(l->file, label, dspath, SC_MAT_DENSE_T,
                                   &m)) < 0)
        return rc;
    sc_mat_get_info(m, &info);
    if (info.n_rows != l->n_cells || info.n_cols != l->n_genes) {
        sc_mat_free(m);
        return sc_fail(SC_EFORMAT,
                       "%s: shape (%lld, %lld), expected (%lld, %lld) as "
                       "/matrix",
                       label, (long long)info.n_cols, (long long)info.n_rows,
                       (long long)l->n_genes, (long long)l->n_cells);
    }
    if (!(e = sc_elem_new_matrix_take(name ? name : "X", m)))
        return SC_ENOMEM;
    if (!name) {
        l->ad->X = e;
        return 0;
    }
    return sc_elem_add_take(l->ad->layers, e);
}

static int add_layers(loom *l)
{
    char **names = NULL, p[512];
    int64_t n = 0;
    int rc = 0, spliced = sc_h5_is_dataset(l->file, "/layers/spliced");
    hid_t g;

    if ((rc = add_matrix(l, spliced ? "/layers/spliced" : "/matrix", NULL)) <
            0 ||
        (spliced && (rc = add_matrix(l, "/matrix", "matrix")) < 0))
        return rc;
    if (!sc_h5_is_group(l->file, "/layers"))
        return 0;
    if ((g = H5Gopen2(l->file, "/layers", H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "'%s' /layers: cannot open", l->path);
    rc = sc_h5_list(g, &names, &n);
    H5Gclose(g);
    for (int64_t i = 0; rc >= 0 && i < n; i++) {
        if (spliced && !strcmp(names[i], "spliced"))
            continue;
        snprintf(p, sizeof p, "/layers/%s", names[i]);
        rc = add_matrix(l, p, names[i]);
    }
    sc_strv_free(names, n);
    return rc;
}

/* Index strings from a 1-D attribute of any type (numbers printed). */
static int to_index(sc_elem *e, sc_elem **out)
{
    int64_t n = e->shape[0];
    char **v;

    if (e->dtype == SC_DT_STR) {
        free(e->name);
        e->name = strdup("_index"); /* only a label: NULL is harmless */
        *out = e;
        return 0;
    }
    if (!(*out = sc_elem_new_array("_index", SC_DT_STR, 1, &n))) {
        sc_elem_free(e);
        return SC_ENOMEM;
    }
    v = (*out)->data;
    for (int64_t i = 0; i < n; i++) {
        char buf[32];
        double x = sc_elem_num(e, i);

        if (e->dtype == SC_DT_I64)
            snprintf(buf, sizeof buf, "%lld",
                     (long long)((int64_t *)e->data)[i]);
        else if (e->dtype == SC_DT_U64)
            snprintf(buf, sizeof buf, "%llu",
                     (unsigned long long)((uint64_t *)e->data)[i]);
        else if (!sc_dtype_is_float(e->dtype))
            snprintf(buf, sizeof buf, "%lld", (long long)x);
        else /* the shortest text that reads back as x, as Python prints */
            for (int prec = 1; prec <= 17; prec++)
                if (snprintf(buf, sizeof buf, "%.*g", prec, x) > 0 &&
                    strtod(buf, NULL) == x)
                    break;
        if (!(v[i] = strdup(buf))) {
            sc_elem_free(e);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
    }
    sc_elem_free(e);
    return 0;
}

/* col_attrs or row_attrs (GROUP, N entries each) into the dataframe DF and
 * the dict M; attribute INDEX_KEY becomes the index of DF. */
static int add_attrs(loom *l, const char *group, int64_t n,
                     const char *index_key, sc_elem *df, sc_elem *m)
{
    char **names = NULL, p[512];
    int64_t n_names = 0;
    sc_elem *e, *idx;
    int rc;
    hid_t g;

    if (!sc_h5_is_group(l->file, group))
        return 0;
    if ((g = H5Gopen2(l->file, group, H5P_DEFAULT)) < 0)
        return sc_h5_fail(SC_EFORMAT, "'%s' %s: cannot open", l->path, group);
    rc = sc_h5_list(g, &names, &n_names);
    H5Gclose(g);
    for (int64_t i = 0; rc >= 0 && i < n_names; i++) {
        snprintf(p, sizeof p, "%s/%s", group, names[i]);
        if (!sc_h5_is_dataset(l->file, p)) {
            sc_log_debug("'%s' %s: not a dataset, ignored", l->path, p);
            continue;
        }
        if ((rc = read_ds(l, p, names[i], &e)) < 0)
            break;
        if (e->kind != SC_K_ARRAY || e->rank < 1 || e->shape[0] != n) {
            /* loompy refuses such files; ignoring the attribute would
             * silently replace names by 0..n-1. */
            rc = sc_fail(SC_EFORMAT,
                         "'%s' %s: has %lld entries, the matrix "
                         "has %lld",
                         l->path, p,
                         (long long)(e->kind == SC_K_ARRAY && e->rank >= 1
                                         ? e->shape[0]
                                         : -1),
                         (long long)n);
            sc_elem_free(e);
            break;
        } else if (e->rank == 1 && !strcmp(names[i], index_key)) {
            if ((rc = to_index(e, &idx)) >= 0) {
                sc_elem_free(df->index);
                df->index = idx;
            }
        } else {
            rc = sc_elem_add_take(e->rank == 1 ? df : m, e);
        }
    }
    sc_strv_free(names, n_names);
    return rc;
}

/* Global attributes into uns. */
static int add_globals(loom *l)
{
    char **names = NULL, p[512];
    int64_t n = 0;
    H5O_info_t info;
    sc_elem *e;
    int rc = 0;
    hid_t g;

    if (sc_h5_is_group(l->file, "/attrs")) {
        if ((g = H5Gopen2(l->file, "/attrs", H5P_DEFAULT)) < 0)
            return sc_h5_fail(SC_EFORMAT, "'%s' /attrs: cannot open", l->path);
        rc = sc_h5_list(g, &names, &n);
        H5Gclose(g);
        for (int64_t i = 0; rc >= 0 && i < n; i++) {
            snprintf(p, sizeof p, "/attrs/%s", names[i]);
            if (sc_h5_is_dataset(l->file, p) &&
                (rc = read_ds(l, p, names[i], &e)) >= 0)
                rc = sc_elem_add_take(l->ad->uns, e);
        }
        sc_strv_free(names, n);
        return rc;
    }
    if (H5Oget_info2(l->file, &info, H5O_INFO_NUM_ATTRS) < 0)
        return sc_h5_fail(SC_EFORMAT, "'%s': cannot list attributes", l->path);
    for (hsize_t i = 0; rc >= 0 && i < info.num_attrs; i++) {
        char name[256];
        if (H5Aget_name_by_idx(l->file, "/", H5_INDEX_NAME, H5_ITER_INC, i,
                               name, sizeof name, H5P_DEFAULT) < 0)
            return sc_h5_fail(SC_EFORMAT, "'%s': cannot list attributes",
                              l->path);
        if ((rc = read_attr(l, l->file, name, &e)) >= 0 && e)
            rc = sc_elem_add_take(l->ad->uns, e);
    }
    return rc;
}

int sc_loom_open(const char *path, unsigned flags, sc_adata **out)
{
    loom l = {.path = path};
    char label[1024];
    int64_t dims[SC_MAX_RANK];
    const char *ver;
    hid_t *priv = NULL;
    hid_t ds;
    int rank, rc;

    (void)flags;
    *out = NULL;
    sc_h5_init();
    if ((rc = sc_h5_open_ro(path, &l.file)) < 0)
        return rc;
    if (!sc_h5_is_dataset(l.file, "/matrix")) {
        H5Fclose(l.file);
        return sc_fail(SC_EFORMAT, "'%s': not a loom file (no /matrix)", path);
    }
    if ((ds = H5Dopen2(l.file, "/matrix", H5P_DEFAULT)) < 0) {
        H5Fclose(l.file);
        return sc_h5_fail(SC_EFORMAT, "'%s' /matrix: cannot open", path);
    }
    snprintf(label, sizeof label, "'%s' /matrix", path);
    if ((rc = sc_h5_shape(ds, &rank, dims, label)) >= 0)
        rc = sc_h5_check_declared(ds, label, 0);
    H5Dclose(ds);
    if (rc >= 0 && rank != 2)
        rc = sc_fail(SC_EFORMAT, "%s: %d-D, expected 2-D", label, rank);
    /* obs and var names, "0".."n-1" when the file has none: an empty
     * matrix may declare any shape without holding a value. */
    if (rc >= 0)
        rc = sc_check_mem(label,
                          dims[0] < 0 || dims[1] > INT64_MAX - dims[0]
                              ? -1
                              : dims[0] + dims[1],
                          INDEX_BYTES);
    if (rc >= 0 && !(priv = malloc(sizeof *priv)))
        rc = sc_fail(SC_ENOMEM, "out of memory");
    if (rc < 0) {
        H5Fclose(l.file);
        return rc;
    }
    *priv = l.file;
    if (!(l.ad = sc_adata_new(dims[1], dims[0]))) {
        sc_h5_file_priv_free(priv);
        return SC_ENOMEM;
    }
    l.n_genes = dims[0];
    l.n_cells = dims[1];
    l.ad->priv = priv;
    l.ad->priv_free = sc_h5_file_priv_free;
    if ((rc = add_layers(&l)) < 0 ||
        (rc = add_attrs(&l, "/col_attrs", l.n_cells, "CellID", l.ad->obs,
                        l.ad->obsm)) < 0 ||
        (rc = add_attrs(&l, "/row_attrs", l.n_genes, "Gene", l.ad->var,
                        l.ad->varm)) < 0 ||
        (rc = add_globals(&l)) < 0)
        goto fail;
    if (sc_h5_exists(l.file, "/row_graphs") ||
        sc_h5_exists(l.file, "/col_graphs"))
        sc_log_debug("'%s': row_graphs and col_graphs ignored", path);
    ver = sc_elem_str(sc_elem_get(l.ad->uns, "LOOM_SPEC_VERSION"), 0);
    l.ad->format = SC_FMT_LOOM;
    if (!(l.ad->path = strdup(path)) ||
        !(l.ad->generation = strdup(ver ? ver : "unknown"))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    *out = l.ad;
    return 0;
fail:
    sc_adata_close(l.ad);
    return rc;
}
