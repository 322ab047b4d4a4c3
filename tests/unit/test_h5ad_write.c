/* test_h5ad_write: write an in-memory sc_adata and inspect the h5ad. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <hdf5.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_adata.h"
#include "sc_h5.h"
#include "sc_progress.h"
#include "unit.h"

/* The values below are shared with tests/interop/write_check.py, which
 * recomputes them: keep both in step. */
enum { N_OBS = 6, N_VARS = 5, N_RAW_VARS = 7, N_PCS = 3 };

static double x_val(int i, int j) /* X, CSR float32 */
{
    return (i + 2 * j) % 3 == 0 ? i * 10 + j + 0.5 : 0;
}

static double raw_val(int i, int j) /* raw/X, CSR int32 */
{
    return (i + j) % 2 == 0 ? i + j + 1 : 0;
}

static double layer_val(int i, int j) /* layers/dense, dense float32 */
{
    return i * 0.25 - j;
}

static double conn_val(int i, int k) /* obsp/connectivities, CSR float64 */
{
    return i != k && (i + k) % 3 == 0 ? 1.0 / (1 + i + k) : 0;
}

static char tmpdir[256];

static void path_in_tmp(char *buf, size_t n, const char *name)
{
    snprintf(buf, n, "%s/%s", tmpdir, name);
}

/* An in-memory CSR matrix of F over rows x cols. */
static sc_mat *csr_of(double (*f)(int, int), int rows, int cols, sc_dtype dt)
{
    int64_t *indptr = malloc((size_t)(rows + 1) * sizeof *indptr);
    int32_t *indices = malloc((size_t)(rows * cols) * sizeof *indices);
    double *vals = malloc((size_t)(rows * cols) * sizeof *vals);
    int64_t k = 0;

    if (!indptr || !indices || !vals) {
        free(indptr);
        free(indices);
        free(vals);
        return NULL;
    }
    indptr[0] = 0;
    for (int i = 0; i < rows; i++) {
        for (int j = 0; j < cols; j++) {
            if (f(i, j) != 0) {
                indices[k] = j;
                vals[k++] = f(i, j);
            }
        }
        indptr[i + 1] = k;
    }
    return sc_mat_new_csr_take(rows, cols, indptr, indices, vals, dt);
}

static sc_mat *dense_of(double (*f)(int, int), int rows, int cols, sc_dtype dt)
{
    double *vals = malloc((size_t)(rows * cols) * sizeof *vals);

    if (!vals)
        return NULL;
    for (int i = 0; i < rows; i++)
        for (int j = 0; j < cols; j++)
            vals[i * cols + j] = f(i, j);
    return sc_mat_new_dense_take(rows, cols, vals, dt);
}

/* A 1-D array of N values of DT, value i = f(i). */
static sc_elem *array_of(const char *name, sc_dtype dt, int64_t n,
                         double (*f)(int64_t))
{
    sc_elem *e = sc_elem_new_array(name, dt, 1, &n);

    for (int64_t i = 0; e && i < n; i++) {
        double v = f(i);

        switch (dt) {
        case SC_DT_BOOL: ((uint8_t *)e->data)[i] = v != 0; break;
        case SC_DT_I32: ((int32_t *)e->data)[i] = (int32_t)v; break;
        case SC_DT_I64: ((int64_t *)e->data)[i] = (int64_t)v; break;
        case SC_DT_F32: ((float *)e->data)[i] = (float)v; break;
        case SC_DT_F64: ((double *)e->data)[i] = v; break;
        default: break;
        }
    }
    return e;
}

static double f_ngenes(int64_t i)
{
    return 100 + 7 * i;
}
static double f_score(int64_t i)
{
    return i * 0.5 - 1;
}
static double f_doublet(int64_t i)
{
    return i % 3 == 1;
}
static double f_batch(int64_t i)
{
    return i * 2;
}
static double f_flag(int64_t i)
{
    return i % 2;
}
static double f_hv(int64_t i)
{
    return i % 2 == 0;
}

static sc_elem *nullable_of(const char *name, sc_dtype dt, int64_t n,
                            double (*f)(int64_t), int64_t missing)
{
    sc_elem *e = sc_elem_new(SC_K_NULLABLE, name);

    if (!e)
        return NULL;
    e->values = array_of("values", dt, n, f);
    e->mask = calloc((size_t)n, 1);
    if (!e->values || !e->mask) {
        sc_elem_free(e);
        return NULL;
    }
    e->mask[missing] = 1;
    return e;
}

static sc_elem *dense_array(const char *name, sc_dtype dt, int64_t rows,
                            int64_t cols, double scale)
{
    int64_t shape[2] = {rows, cols};
    sc_elem *e = sc_elem_new_array(name, dt, 2, shape);

    for (int64_t i = 0; e && i < rows * cols; i++) {
        if (dt == SC_DT_F32)
            ((float *)e->data)[i] = (float)(i * scale);
        else if (dt == SC_DT_I32)
            ((int32_t *)e->data)[i] = (int32_t)i;
        else
            ((double *)e->data)[i] = i * scale;
    }
    return e;
}

static int add(sc_elem *parent, sc_elem *child)
{
    int rc = child ? sc_elem_add_take(parent, child) : SC_ENOMEM;

    CHECK_INTEQ(rc, 0);
    return rc;
}

/* Labels PREFIX0, PREFIX1, ...; NAME the index name unless NULL. */
static int set_index(sc_elem *df, const char *name, const char *prefix)
{
    for (int64_t i = 0; i < df->n_rows; i++) {
        char **v = df->index->data;
        char buf[32];

        snprintf(buf, sizeof buf, "%s%d", prefix, (int)i);
        free(v[i]);
        if (!(v[i] = strdup(buf)))
            return SC_ENOMEM;
    }
    if (name) {
        free(df->index_name);
        if (!(df->index_name = strdup(name)))
            return SC_ENOMEM;
    }
    return 0;
}

static sc_elem *recarray(void)
{
    const char *names[] = {"CD3E", "MS4A1", NULL, "GNLY"};
    sc_elem *r = sc_elem_new(SC_K_RECARRAY, "rank_genes");
    int64_t n = 4;

    if (!r)
        return NULL;
    if (add(r, sc_elem_new_strings("names", names, n)) < 0 ||
        add(r, array_of("scores", SC_DT_F32, n, f_score)) < 0 ||
        add(r, array_of("pvals", SC_DT_F64, n, f_batch)) < 0 ||
        add(r, array_of("up", SC_DT_BOOL, n, f_flag)) < 0) {
        sc_elem_free(r);
        return NULL;
    }
    return r;
}

static int build_obs(sc_elem *obs)
{
    const char *types[] = {"T", "B", NULL, "T", "NK", "B"};
    const char *stages[] = {"early", "late", "mid", "early", "late", "mid"};
    const char *bc[] = {"AAAC", "AAAG", "\xc3\xa9t\xc3\xa9",
                        "AACT", "",     "ACGT"};
    sc_elem *stage, *lab;
    int64_t n = N_OBS;

    if (set_index(obs, "cell_id", "cell") < 0)
        return SC_ENOMEM;
    if (add(obs, sc_elem_new_categorical_from_strings("cell_type", types, n,
                                                      0)) < 0 ||
        add(obs, array_of("n_genes", SC_DT_I64, n, f_ngenes)) < 0 ||
        add(obs, array_of("score", SC_DT_F32, n, f_score)) < 0 ||
        add(obs, array_of("is_doublet", SC_DT_BOOL, n, f_doublet)) < 0 ||
        add(obs, sc_elem_new_strings("barcode", bc, n)) < 0 ||
        add(obs, nullable_of("batch", SC_DT_I64, n, f_batch, 3)) < 0 ||
        add(obs, nullable_of("flag", SC_DT_BOOL, n, f_flag, 0)) < 0 ||
        add(obs, sc_elem_new(SC_K_NULL, "nothing")) < 0)
        return SC_EINVAL;
    /* A nullable string column: written as a categorical. */
    if (!(lab = sc_elem_new(SC_K_NULLABLE, "label")))
        return SC_ENOMEM;
    lab->values = sc_elem_new_strings("values", stages, n);
    lab->mask = calloc(N_OBS, 1);
    if (!lab->values || !lab->mask) {
        sc_elem_free(lab);
        return SC_ENOMEM;
    }
    lab->mask[1] = 1;
    if (add(obs, lab) < 0)
        return SC_EINVAL;
    stage = sc_elem_new_categorical_from_strings("stage", stages, n, 0);
    if (!stage)
        return SC_ENOMEM;
    stage->ordered = 1;
    return add(obs, stage);
}

static int build_var(sc_elem *var)
{
    const char *ids[] = {"ENSG1", "ENSG2", "ENSG3", "ENSG4", "ENSG5"};
    int64_t n = N_VARS, n_cat = 2;
    sc_elem *chrom;
    int32_t *codes;

    if (set_index(var, NULL, "gene") < 0)
        return SC_ENOMEM;
    if (add(var, sc_elem_new_strings("gene_ids", ids, n)) < 0 ||
        add(var, array_of("highly_variable", SC_DT_BOOL, n, f_hv)) < 0)
        return SC_EINVAL;
    /* Numeric categories. */
    if (!(chrom = sc_elem_new(SC_K_CATEGORICAL, "chrom")))
        return SC_ENOMEM;
    chrom->codes = sc_elem_new_array("codes", SC_DT_I32, 1, &n);
    chrom->categories = sc_elem_new_array("categories", SC_DT_I64, 1, &n_cat);
    if (!chrom->codes || !chrom->categories) {
        sc_elem_free(chrom);
        return SC_ENOMEM;
    }
    ((int64_t *)chrom->categories->data)[0] = 1;
    ((int64_t *)chrom->categories->data)[1] = 21;
    codes = chrom->codes->data;
    for (int i = 0; i < N_VARS; i++)
        codes[i] = i == 4 ? -1 : i % 2;
    return add(var, chrom);
}

static int build_uns(sc_elem *uns)
{
    const char *colors[] = {"#1f77b4", "#ff7f0e", "#2ca02c"};
    sc_elem *nb = sc_elem_new(SC_K_DICT, "neighbors");
    sc_elem *params = sc_elem_new(SC_K_DICT, "params");

    if (!nb || !params) {
        sc_elem_free(nb);
        sc_elem_free(params);
        return SC_ENOMEM;
    }
    if (add(params, sc_elem_new_i64("n_neighbors", 15)) < 0 ||
        add(params, sc_elem_new_string("method", "umap")) < 0 ||
        add(nb, params) < 0 || add(uns, nb) < 0 ||
        add(uns, sc_elem_new_string("title", "t\xc3\xaftle")) < 0 ||
        add(uns, sc_elem_new_i64("version", 3)) < 0 ||
        add(uns, sc_elem_new_f64("pi", 3.25)) < 0 ||
        add(uns, sc_elem_new_bool("flag", 1)) < 0 ||
        add(uns, sc_elem_new_strings("colors", colors, 3)) < 0 ||
        add(uns, dense_array("matrix2d", SC_DT_I32, 2, 3, 1)) < 0 ||
        add(uns, recarray()) < 0 ||
        add(uns, sc_elem_new(SC_K_NULL, "none")) < 0)
        return SC_EINVAL;
    return 0;
}

static int build_raw(sc_adata *ad)
{
    sc_elem *raw = sc_elem_new(SC_K_DICT, "raw");
    sc_elem *var = sc_elem_new(SC_K_DATAFRAME, "var");
    int64_t n = N_RAW_VARS;

    if (!raw || !var) {
        sc_elem_free(raw);
        sc_elem_free(var);
        return SC_ENOMEM;
    }
    ad->raw = raw;
    var->n_rows = n;
    if (!(var->index = sc_elem_new_array("_index", SC_DT_STR, 1, &n)) ||
        set_index(var, NULL, "rawgene") < 0) {
        sc_elem_free(var);
        return SC_ENOMEM;
    }
    if (add(raw, sc_elem_new_matrix_take(
                     "X", csr_of(raw_val, N_OBS, N_RAW_VARS, SC_DT_I32))) < 0 ||
        add(raw, var) < 0)
        return SC_EINVAL;
    return 0;
}

/* The dataset every test writes. */
static sc_adata *build(void)
{
    sc_adata *ad = sc_adata_new(N_OBS, N_VARS);

    if (!ad)
        return NULL;
    ad->X =
        sc_elem_new_matrix_take("X", csr_of(x_val, N_OBS, N_VARS, SC_DT_F32));
    if (!ad->X || build_obs(ad->obs) < 0 || build_var(ad->var) < 0 ||
        build_uns(ad->uns) < 0 || build_raw(ad) < 0 ||
        add(ad->layers,
            sc_elem_new_matrix_take(
                "dense", dense_of(layer_val, N_OBS, N_VARS, SC_DT_F32))) < 0 ||
        add(ad->obsm, dense_array("X_pca", SC_DT_F32, N_OBS, N_PCS, 0.5)) < 0 ||
        add(ad->obsm, dense_array("X_umap", SC_DT_F64, N_OBS, 2, 0.25)) < 0 ||
        add(ad->varm, dense_array("PCs", SC_DT_F64, N_VARS, N_PCS, 0.125)) <
            0 ||
        add(ad->obsp, sc_elem_new_matrix_take(
                          "connectivities",
                          csr_of(conn_val, N_OBS, N_OBS, SC_DT_F64))) < 0) {
        sc_adata_close(ad);
        return NULL;
    }
    return ad;
}

/* ------------------------------------------------------------------------ */
/* Inspection with plain HDF5                                               */

static char *attr_str(hid_t f, const char *obj, const char *name)
{
    hid_t o = H5Oopen(f, obj, H5P_DEFAULT);
    char *s = NULL;

    if (o < 0)
        return NULL;
    if (sc_h5_attr_str(o, name, &s) < 0)
        s = NULL;
    H5Oclose(o);
    return s;
}

static void check_encoding(hid_t f, const char *obj, const char *type,
                           const char *version)
{
    char *t = attr_str(f, obj, "encoding-type");
    char *v = attr_str(f, obj, "encoding-version");

    if (!t || strcmp(t, type) || !v || strcmp(v, version))
        printf("#   %s: encoding %s %s, expected %s %s\n", obj,
               t ? t : "(none)", v ? v : "(none)", type, version);
    CHECK(t && !strcmp(t, type));
    CHECK(v && !strcmp(v, version));
    free(t);
    free(v);
}

/* Storage facts of a dataset: file type class and size, layout, deflate. */
typedef struct ds_facts {
    H5T_class_t cls;
    size_t size;
    int sign; /* H5T_SGN_* for integers */
    H5D_layout_t layout;
    int deflate;
    int rank;
    hsize_t dims[4], chunk[4], maxdims[4];
} ds_facts;

static int facts(hid_t f, const char *path, ds_facts *df)
{
    hid_t ds = H5Dopen2(f, path, H5P_DEFAULT), t, pl, sp;

    memset(df, 0, sizeof *df);
    if (ds < 0) {
        printf("#   no dataset %s\n", path);
        return -1;
    }
    t = H5Dget_type(ds);
    df->cls = H5Tget_class(t);
    df->size = H5Tget_size(t);
    df->sign = df->cls == H5T_INTEGER ? (int)H5Tget_sign(t) : -1;
    H5Tclose(t);
    sp = H5Dget_space(ds);
    df->rank = H5Sget_simple_extent_dims(sp, df->dims, df->maxdims);
    H5Sclose(sp);
    pl = H5Dget_create_plist(ds);
    df->layout = H5Pget_layout(pl);
    if (df->layout == H5D_CHUNKED)
        H5Pget_chunk(pl, 4, df->chunk);
    for (int i = 0; i < H5Pget_nfilters(pl); i++) {
        unsigned flags, cd[4];
        size_t ncd = 4;

        if (H5Pget_filter2(pl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL) ==
            H5Z_FILTER_DEFLATE)
            df->deflate = (int)cd[0];
    }
    H5Pclose(pl);
    H5Dclose(ds);
    return 0;
}

static int count_tmp_files(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    int n = 0;

    while (d && (de = readdir(d)))
        n += strstr(de->d_name, ".tmp.") != NULL;
    if (d)
        closedir(d);
    return n;
}

static void check_layout(const char *path, int level)
{
    hid_t f;
    ds_facts d;
    char *s;

    CHECK(sc_h5_open_ro(path, &f) == 0);
    if (f < 0)
        return;
    check_encoding(f, "/", "anndata", "0.1.0");
    check_encoding(f, "/X", "csr_matrix", "0.1.0");
    check_encoding(f, "/obs", "dataframe", "0.2.0");
    check_encoding(f, "/var", "dataframe", "0.2.0");
    check_encoding(f, "/obs/cell_type", "categorical", "0.2.0");
    check_encoding(f, "/obs/cell_type/codes", "array", "0.2.0");
    check_encoding(f, "/obs/cell_type/categories", "string-array", "0.2.0");
    check_encoding(f, "/obs/label", "categorical", "0.2.0");
    check_encoding(f, "/obs/batch", "nullable-integer", "0.1.0");
    check_encoding(f, "/obs/flag", "nullable-boolean", "0.1.0");
    check_encoding(f, "/obs/barcode", "string-array", "0.2.0");
    check_encoding(f, "/obs/n_genes", "array", "0.2.0");
    check_encoding(f, "/layers/dense", "array", "0.2.0");
    check_encoding(f, "/layers", "dict", "0.1.0");
    check_encoding(f, "/varp", "dict", "0.1.0");
    check_encoding(f, "/uns/neighbors/params", "dict", "0.1.0");
    check_encoding(f, "/uns/title", "string", "0.2.0");
    check_encoding(f, "/uns/pi", "numeric-scalar", "0.2.0");
    check_encoding(f, "/uns/rank_genes", "rec-array", "0.2.0");
    check_encoding(f, "/raw", "raw", "0.1.0");
    check_encoding(f, "/raw/varm", "dict", "0.1.0");
    CHECK(!sc_h5_exists(f, "/obs/nothing") && !sc_h5_exists(f, "/uns/none"));
    {
        hid_t ds = H5Dopen2(f, "/X/data", H5P_DEFAULT);

        CHECK(ds >= 0 && !sc_h5_has_attr(ds, "encoding-type"));
        H5Dclose(ds);
    }

    s = attr_str(f, "/obs", "_index");
    CHECK_STREQ(s, "cell_id");
    free(s);
    s = attr_str(f, "/var", "_index");
    CHECK_STREQ(s, "_index");
    free(s);
    {
        hid_t g = H5Gopen2(f, "/raw/var", H5P_DEFAULT);
        char **co = NULL;
        int64_t n = -1;
        int64_t shape[2];
        int ns, ordered = -1;

        CHECK(sc_h5_attr_strs(g, "column-order", &co, &n) == 0 && n == 0);
        sc_strv_free(co, n);
        H5Gclose(g);
        g = H5Gopen2(f, "/obs", H5P_DEFAULT);
        CHECK(sc_h5_attr_strs(g, "column-order", &co, &n) == 0 && n == 9);
        if (n == 9) {
            CHECK_STREQ(co[0], "cell_type");
            CHECK_STREQ(co[7], "label");
            CHECK_STREQ(co[8], "stage");
        }
        sc_strv_free(co, n);
        H5Gclose(g);
        g = H5Gopen2(f, "/X", H5P_DEFAULT);
        CHECK(sc_h5_attr_i64(g, "shape", shape, 2, &ns) == 0 && ns == 2 &&
              shape[0] == N_OBS && shape[1] == N_VARS);
        H5Gclose(g);
        g = H5Gopen2(f, "/obs/stage", H5P_DEFAULT);
        CHECK(sc_h5_attr_bool(g, "ordered", &ordered) == 0 && ordered == 1);
        H5Gclose(g);
    }

    /* Sparse: data keeps float32, int32 indices and indptr, extendible. */
    if (facts(f, "/X/data", &d) == 0) {
        CHECK(d.cls == H5T_FLOAT && d.size == 4);
        CHECK(d.layout == H5D_CHUNKED && d.maxdims[0] == H5S_UNLIMITED);
        CHECK_INTEQ(d.deflate, level);
        CHECK(d.chunk[0] <= d.dims[0]);
    }
    if (facts(f, "/X/indices", &d) == 0)
        CHECK(d.cls == H5T_INTEGER && d.size == 4 && d.sign == H5T_SGN_2);
    if (facts(f, "/X/indptr", &d) == 0)
        CHECK(d.cls == H5T_INTEGER && d.size == 4 && d.dims[0] == N_OBS + 1);
    if (facts(f, "/raw/X/data", &d) == 0)
        CHECK(d.cls == H5T_INTEGER && d.size == 4);
    if (facts(f, "/obsp/connectivities/data", &d) == 0)
        CHECK(d.cls == H5T_FLOAT && d.size == 8);
    /* Dense layer: float32, whole-row chunks when compressed. */
    if (facts(f, "/layers/dense", &d) == 0) {
        CHECK(d.cls == H5T_FLOAT && d.size == 4 && d.rank == 2);
        CHECK(d.dims[0] == N_OBS && d.dims[1] == N_VARS);
        if (level) {
            CHECK(d.layout == H5D_CHUNKED && d.chunk[0] == N_OBS &&
                  d.chunk[1] == N_VARS);
        } else {
            CHECK(d.layout == H5D_CONTIGUOUS);
        }
        CHECK_INTEQ(d.deflate, level);
    }
    /* Codes: int8; bools: 1-byte enum; strings: vlen. */
    if (facts(f, "/obs/cell_type/codes", &d) == 0)
        CHECK(d.cls == H5T_INTEGER && d.size == 1 && d.sign == H5T_SGN_2);
    if (facts(f, "/obs/is_doublet", &d) == 0)
        CHECK(d.cls == H5T_ENUM && d.size == 1);
    if (facts(f, "/obs/batch/mask", &d) == 0)
        CHECK(d.cls == H5T_ENUM && d.size == 1);
    if (facts(f, "/obs/batch/values", &d) == 0)
        CHECK(d.cls == H5T_INTEGER && d.size == 8);
    if (facts(f, "/obs/cell_id", &d) == 0)
        CHECK(d.cls == H5T_STRING && d.dims[0] == N_OBS);
    if (facts(f, "/var/chrom/categories", &d) == 0)
        CHECK(d.cls == H5T_INTEGER && d.size == 8);
    if (facts(f, "/obs/n_genes", &d) == 0)
        CHECK(d.layout == (level ? H5D_CHUNKED : H5D_CONTIGUOUS) &&
              (!level || d.chunk[0] == N_OBS));
    /* Scalars are never chunked. */
    if (facts(f, "/uns/pi", &d) == 0)
        CHECK(d.rank == 0 && d.layout != H5D_CHUNKED && d.deflate == 0);
    if (facts(f, "/uns/rank_genes", &d) == 0)
        CHECK(d.cls == H5T_COMPOUND && d.dims[0] == 4);
    H5Fclose(f);
}

/* Run the anndata 0.8 check when asked to (needs Debian's python3-anndata):
 * SC_PYTHON_INTEROP=1 tests/run-tests.sh unit */
static void interop(const char *path, const char *what)
{
    char cmd[4096];
    int st;

    if (!getenv("SC_PYTHON_INTEROP"))
        return;
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 %s/../interop/write_check.py '%s' '%s'",
             unit_data_dir(), path, what);
    st = system(cmd);
    if (st != 0)
        printf("#   %s failed (status %d)\n", cmd, st);
    CHECK(st == 0);
}

static void test_write(void)
{
    struct {
        int level;
        int64_t block_rows;
        const char *name;
    } runs[] = {{4, 0, "gz4.h5ad"},
                {0, 0, "plain.h5ad"},
                {1, 1, "rows1.h5ad"},
                {9, 4, "rows4.h5ad"}};
    sc_adata *ad = build();

    CHECK(ad != NULL);
    if (!ad)
        return;
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        sc_write_opts o = SC_WRITE_OPTS_INIT;
        char path[512];
        int rc;

        o.compress_level = runs[i].level;
        o.block_rows = runs[i].block_rows;
        path_in_tmp(path, sizeof path, runs[i].name);
        rc = sc_h5ad_write(ad, path, &o);
        if (rc)
            printf("#   %s\n", sc_errmsg());
        CHECK_INTEQ(rc, 0);
        check_layout(path, runs[i].level);
        interop(path, "full");
    }
    CHECK_INTEQ(count_tmp_files(), 0);
    sc_adata_close(ad);
}

/* A ROWS x COLS dataset whose sparse X stores nothing, written as NAME.h5ad
 * and read back by write_check.py in mode NAME. */
static void write_empty_x(int64_t rows, int64_t cols, const char *name)
{
    sc_adata *ad = sc_adata_new(rows, cols);
    int64_t *ip = calloc((size_t)rows + 1, sizeof *ip);
    char path[512], file[64];
    ds_facts d;
    hid_t f;

    snprintf(file, sizeof file, "%s.h5ad", name);
    path_in_tmp(path, sizeof path, file);
    if (ad)
        ad->X = sc_elem_new_matrix_take(
            "X", sc_mat_new_csr_take(rows, cols, ip, NULL, NULL, SC_DT_F32));
    else
        free(ip);
    CHECK(ad && ad->X && sc_h5ad_write(ad, path, NULL) == 0);
    if (sc_h5_open_ro(path, &f) == 0) {
        if (facts(f, "/X/data", &d) == 0)
            CHECK(d.dims[0] == 0 && d.layout == H5D_CONTIGUOUS);
        if (facts(f, "/X/indptr", &d) == 0)
            CHECK(d.dims[0] == (hsize_t)rows + 1);
        H5Fclose(f);
    }
    interop(path, name);
    sc_adata_close(ad);
}

/* Defaults (NULL opts), an empty dataset and datasets with an empty X. */
static void test_small(void)
{
    sc_adata *ad = sc_adata_new(0, 0);
    char path[512];
    hid_t f;
    ds_facts d;

    path_in_tmp(path, sizeof path, "empty.h5ad");
    CHECK(ad && sc_h5ad_write(ad, path, NULL) == 0);
    CHECK(sc_h5_open_ro(path, &f) == 0);
    if (f >= 0) {
        check_encoding(f, "/obs", "dataframe", "0.2.0");
        check_encoding(f, "/uns", "dict", "0.1.0");
        CHECK(!sc_h5_exists(f, "/X") && !sc_h5_exists(f, "/raw"));
        if (facts(f, "/obs/_index", &d) == 0)
            CHECK(d.layout == H5D_CONTIGUOUS && d.dims[0] == 0);
        H5Fclose(f);
    }
    interop(path, "empty");
    sc_adata_close(ad);

    write_empty_x(0, 2, "norows"); /* indptr is just [0] */
    write_empty_x(3, 2, "zeros");  /* nnz 0: data/indices contiguous */
}

/* Thousands of columns: column-order exceeds 64 KiB of attribute. */
static void test_wide(void)
{
    enum { COLS = 5000 };
    sc_adata *ad = sc_adata_new(2, 1);
    char path[512];
    int rc;

    CHECK(ad != NULL);
    for (int i = 0; ad && i < COLS; i++) {
        char name[32];
        int64_t two = 2;
        sc_elem *col;

        snprintf(name, sizeof name, "column_number_%05d", i);
        if (!(col = sc_elem_new_array(name, SC_DT_F64, 1, &two)))
            break;
        ((double *)col->data)[1] = i;
        if (add(ad->obs, col) < 0)
            break;
    }
    path_in_tmp(path, sizeof path, "wide.h5ad");
    rc = ad ? sc_h5ad_write(ad, path, NULL) : -1;
    if (rc)
        printf("#   %s\n", sc_errmsg());
    CHECK_INTEQ(rc, 0);
    interop(path, "wide");
    sc_adata_close(ad);
}

/* ------------------------------------------------------------------------ */
/* Round trips through the reader                                           */

/* All values of a matrix element or a 2-D array, row-major (caller frees). */
static double *dense_values(const sc_elem *e, int64_t *nr, int64_t *nc)
{
    sc_block b = SC_BLOCK_INIT;
    sc_mat_info in;
    double *v;

    if (e->kind == SC_K_ARRAY) {
        *nr = e->shape[0];
        *nc = e->rank == 2 ? e->shape[1] : -1;
        v = calloc((size_t)(*nr * (*nc > 0 ? *nc : 1)) + 1, sizeof *v);
        for (int64_t i = 0; v && i < *nr * *nc; i++)
            v[i] = sc_elem_num(e, i);
        return v;
    }
    sc_mat_get_info(e->mat, &in);
    *nr = in.n_rows;
    *nc = in.n_cols;
    if (!(v = calloc((size_t)(in.n_rows * in.n_cols) + 1, sizeof *v)) ||
        sc_mat_read_rows(e->mat, 0, in.n_rows, &b) < 0) {
        free(v);
        return NULL;
    }
    for (int64_t i = 0; i < in.n_rows; i++) {
        if (b.dense) {
            memcpy(v + i * in.n_cols, b.vals + i * in.n_cols,
                   (size_t)in.n_cols * sizeof *v);
            continue;
        }
        for (int64_t k = b.indptr[i]; k < b.indptr[i + 1]; k++)
            v[i * in.n_cols + b.indices[k]] = b.vals[k];
    }
    sc_block_release(&b);
    return v;
}

static int differ(const char *path, const char *what)
{
    printf("#   %s: %s differs\n", path, what);
    return 0;
}

static int is_matrix_like(const sc_elem *e)
{
    return e->kind == SC_K_MATRIX || (e->kind == SC_K_ARRAY && e->rank == 2);
}

static sc_dtype value_dtype(const sc_elem *e)
{
    sc_mat_info in;

    if (e->kind != SC_K_MATRIX)
        return e->dtype;
    sc_mat_get_info(e->mat, &in);
    return in.dtype;
}

static int same_matrix(const sc_elem *a, const sc_elem *b, const char *path)
{
    int64_t ar, ac, br, bc;
    double *va = dense_values(a, &ar, &ac), *vb = dense_values(b, &br, &bc);
    int ok = va && vb && ar == br && ac == bc;

    for (int64_t i = 0; ok && i < ar * ac; i++)
        ok = va[i] == vb[i] || (isnan(va[i]) && isnan(vb[i]));
    free(va);
    free(vb);
    if (value_dtype(a) != value_dtype(b))
        return differ(path, "matrix dtype");
    return ok ? 1 : differ(path, "matrix values");
}

/* Value by value, through sc_elem_str/num, so that a nullable string column
 * compares equal to the categorical it is written as. */
static int same_values(const sc_elem *a, const sc_elem *b, const char *path)
{
    int64_t n = sc_elem_count(a);

    if (n != sc_elem_count(b))
        return differ(path, "length");
    for (int64_t i = 0; i < n; i++) {
        const char *sa = sc_elem_str(a, i), *sb = sc_elem_str(b, i);
        double na = sc_elem_num(a, i), nb = sc_elem_num(b, i);

        if ((sa || sb) && (!sa || !sb || strcmp(sa, sb)))
            return differ(path, "string value");
        if (!(na == nb || (isnan(na) && isnan(nb))))
            return differ(path, "numeric value");
    }
    return 1;
}

static int same(const sc_elem *a, const sc_elem *b, const char *path);

/* Children of A that are not None, compared with B's by name; dataframe
 * columns and record fields also in order. */
static int same_children(const sc_elem *a, const sc_elem *b, const char *path)
{
    size_t k = 0;

    for (size_t i = 0; i < a->n_child; i++) {
        const sc_elem *ca = a->child[i], *cb = sc_elem_get(b, ca->name);
        char sub[512];

        if (ca->kind == SC_K_NULL) {
            if (cb)
                return differ(path, ca->name);
            continue;
        }
        snprintf(sub, sizeof sub, "%s/%s", path, ca->name);
        if (!cb)
            return differ(sub, "presence");
        if (a->kind != SC_K_DICT &&
            (k >= b->n_child || strcmp(b->child[k]->name, ca->name)))
            return differ(sub, "position");
        k++;
        if (!same(ca, cb, sub))
            return 0;
    }
    return k == b->n_child ? 1 : differ(path, "number of children");
}

static int same(const sc_elem *a, const sc_elem *b, const char *path)
{
    if (is_matrix_like(a) && is_matrix_like(b))
        return same_matrix(a, b, path);
    if (a->kind == SC_K_NULLABLE && a->values->dtype == SC_DT_STR)
        return b->kind == SC_K_CATEGORICAL ? same_values(a, b, path)
                                           : differ(path, "kind");
    if (a->kind != b->kind)
        return differ(path, "kind");
    switch (a->kind) {
    case SC_K_DATAFRAME:
        if (strcmp(a->index_name ? a->index_name : "_index",
                   b->index_name ? b->index_name : "_index"))
            return differ(path, "index name");
        if (a->n_rows != b->n_rows)
            return differ(path, "rows");
        if (a->index && !same_values(a->index, b->index, path))
            return 0;
        return same_children(a, b, path);
    case SC_K_DICT:
    case SC_K_RECARRAY: return same_children(a, b, path);
    case SC_K_ARRAY:
        if (a->dtype != b->dtype || a->rank != b->rank ||
            memcmp(a->shape, b->shape, (size_t)a->rank * sizeof *a->shape))
            return differ(path, "dtype or shape");
        return same_values(a, b, path);
    case SC_K_CATEGORICAL:
        if (a->ordered != b->ordered)
            return differ(path, "ordered");
        if (!same(a->categories, b->categories, path))
            return 0;
        return same_values(a, b, path);
    case SC_K_NULLABLE:
        if (a->values->dtype != b->values->dtype)
            return differ(path, "values dtype");
        return same_values(a, b, path);
    default: return 1;
    }
}

/* Compare two datasets slot by slot. */
static int same_adata(const sc_adata *a, const sc_adata *b)
{
    const sc_elem *sa[] = {a->obs,  a->var,  a->obsm,   a->varm,
                           a->obsp, a->varp, a->layers, a->uns};
    const sc_elem *sb[] = {b->obs,  b->var,  b->obsm,   b->varm,
                           b->obsp, b->varp, b->layers, b->uns};
    int ok = a->n_obs == b->n_obs && a->n_vars == b->n_vars;

    if (!ok)
        printf("#   shape differs\n");
    for (size_t i = 0; ok && i < sizeof sa / sizeof *sa; i++) {
        if (!sa[i] || !sb[i]) {
            ok = (!sa[i] || !sa[i]->n_child) && (!sb[i] || !sb[i]->n_child);
            continue;
        }
        ok = same(sa[i], sb[i], sa[i]->name ? sa[i]->name : "?");
    }
    if (ok && (!a->X != !b->X))
        ok = differ("X", "presence");
    if (ok && a->X)
        ok = same(a->X, b->X, "X");
    if (ok && (!a->raw != !b->raw))
        ok = differ("raw", "presence");
    if (ok && a->raw) {
        ok =
            same(sc_elem_get(a->raw, "X"), sc_elem_get(b->raw, "X"), "raw/X") &&
            same(sc_elem_get(a->raw, "var"), sc_elem_get(b->raw, "var"),
                 "raw/var");
    }
    return ok;
}

/* Write AD to NAME, read it back and compare; *OUT keeps the read-back
 * dataset when OUT is not NULL. */
static void round_trip(const sc_adata *ad, const char *name,
                       const sc_write_opts *o, sc_adata **out)
{
    sc_adata *back = NULL;
    char path[512];
    int rc;

    path_in_tmp(path, sizeof path, name);
    rc = sc_h5ad_write(ad, path, o);
    if (rc == 0)
        rc = sc_h5ad_open(path, 0, &back);
    if (rc < 0)
        printf("#   %s: %s\n", name, sc_errmsg());
    CHECK_INTEQ(rc, 0);
    if (back) {
        int ok = same_adata(ad, back);

        if (!ok)
            printf("#   %s differs after a round trip\n", name);
        CHECK(ok);
    }
    if (out)
        *out = back;
    else
        sc_adata_close(back);
}

/* Ours -> file -> reader -> file again (now streaming HDF5-backed
 * matrices) -> reader: the same dataset every time. */
static void test_round_trip(void)
{
    sc_write_opts o = SC_WRITE_OPTS_INIT;
    sc_adata *ad = build(), *back = NULL;
    char path[512];

    o.block_rows = 2;
    CHECK(ad != NULL);
    if (!ad)
        return;
    round_trip(ad, "rt1.h5ad", &o, &back);
    if (back) {
        sc_adata *again = NULL;

        round_trip(back, "rt2.h5ad", NULL, &again);
        /* The original too: nothing was lost on the way. */
        CHECK(again && same_adata(ad, again));
        sc_adata_close(again);
        path_in_tmp(path, sizeof path, "rt2.h5ad");
        interop(path, "full");
    }
    sc_adata_close(back);
    sc_adata_close(ad);
}

/* Every bundled h5ad sample (all generations, CSC layers, legacy layouts,
 * LZF): read, write, read again, compare; with SC_PYTHON_INTEROP, anndata
 * 0.8 checks our file against its reading of the original. */
static void test_samples(void)
{
    char dir[512];
    struct dirent *de;
    DIR *d;
    int n = 0;

    snprintf(dir, sizeof dir, "%s/h5ad", unit_data_dir());
    if (!(d = opendir(dir))) {
        printf("#   no %s\n", dir);
        CHECK(0);
        return;
    }
    while ((de = readdir(d))) {
        char src[1024], dst[600], dst_path[1024], mode[1100];
        sc_adata *ad = NULL;
        size_t len = strlen(de->d_name);

        if (len < 5 || strcmp(de->d_name + len - 5, ".h5ad"))
            continue;
        snprintf(src, sizeof src, "%s/%s", dir, de->d_name);
        snprintf(dst, sizeof dst, "sample_%s", de->d_name);
        if (sc_h5ad_open(src, 0, &ad) < 0) {
            printf("#   %s: %s\n", src, sc_errmsg());
            CHECK(0);
            continue;
        }
        round_trip(ad, dst, NULL, NULL);
        sc_adata_close(ad);
        path_in_tmp(dst_path, sizeof dst_path, dst);
        snprintf(mode, sizeof mode, "same:%s", src);
        interop(dst_path, mode);
        n++;
    }
    closedir(d);
    CHECK(n >= 7);
}

/* ------------------------------------------------------------------------ */
/* Matrices copied as stored (sc_write_opts.copy_stored)                    */

/* Write SRC (opened from a file) to NAME with copy_stored; 0 when it read
 * back the same as AD. *ROWS gets the rows counted in progress. */
static int write_copied(const sc_adata *ad, const sc_adata *src,
                        const char *name, uint64_t *rows)
{
    sc_write_opts o = SC_WRITE_OPTS_INIT;
    sc_progress *p = sc_progress_new("test", 0, 0, SC_PROGRESS_ON);
    sc_adata *back = NULL;
    char path[512];
    int rc;

    o.compress_level = 9;
    o.copy_stored = 1;
    o.progress = p;
    path_in_tmp(path, sizeof path, name);
    rc = sc_h5ad_write(src, path, &o);
    *rows = sc_progress_value(p);
    sc_progress_done(p);
    if (rc == 0)
        rc = sc_h5ad_open(path, 0, &back);
    if (rc < 0)
        printf("#   %s: %s\n", name, sc_errmsg());
    else if (!same_adata(ad, back))
        rc = -1, printf("#   %s differs from what was written\n", name);
    sc_adata_close(back);
    return rc;
}

/* The facts of dataset OBJ of file NAME (in the temporary directory). */
static int facts_of(const char *name, const char *obj, ds_facts *df)
{
    char path[512];
    hid_t f;
    int rc;

    path_in_tmp(path, sizeof path, name);
    if ((f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT)) < 0)
        return -1;
    rc = facts(f, obj, df);
    H5Fclose(f);
    return rc;
}

/* Store dataset OBJ of file NAME again, values unchanged, with its data in
 * an external file (EXTERNAL) or as a virtual dataset over another file. */
static int restore_elsewhere(const char *name, const char *obj, int external)
{
    char path[512], other[512];
    hid_t f = -1, ds = -1, t = -1, sp = -1, pl = -1, of = -1, ods = -1;
    double *v = NULL;
    hssize_t n;
    int rc = -1;

    path_in_tmp(path, sizeof path, name);
    path_in_tmp(other, sizeof other, external ? "ext.bin" : "vsrc.h5");
    if ((f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT)) < 0 ||
        (ds = H5Dopen2(f, obj, H5P_DEFAULT)) < 0 || (t = H5Dget_type(ds)) < 0 ||
        (sp = H5Dget_space(ds)) < 0 ||
        (n = H5Sget_simple_extent_npoints(sp)) <= 0 ||
        !(v = malloc((size_t)n * sizeof *v)) ||
        H5Dread(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0)
        goto out;
    H5Dclose(ds);
    ds = -1;
    /* fixed size: the written one may be extendible */
    H5Sclose(sp);
    if ((sp = H5Screate_simple(1, (hsize_t[]){(hsize_t)n}, NULL)) < 0)
        goto out;
    if (H5Ldelete(f, obj, H5P_DEFAULT) < 0 ||
        (pl = H5Pcreate(H5P_DATASET_CREATE)) < 0)
        goto out;
    if (external) {
        if (H5Pset_external(pl, other, 0,
                            (hsize_t)n * (hsize_t)H5Tget_size(t)) < 0)
            goto out;
    } else {
        if ((of = H5Fcreate(other, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT)) <
                0 ||
            (ods = H5Dcreate2(of, "d", t, sp, H5P_DEFAULT, H5P_DEFAULT,
                              H5P_DEFAULT)) < 0 ||
            H5Dwrite(ods, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) <
                0 ||
            H5Pset_virtual(pl, sp, other, "d", sp) < 0)
            goto out;
    }
    if ((ds = H5Dcreate2(f, obj, t, sp, H5P_DEFAULT, pl, H5P_DEFAULT)) < 0 ||
        (external &&
         H5Dwrite(ds, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, v) < 0))
        goto out;
    rc = 0;
out:
    if (ods >= 0)
        H5Dclose(ods);
    if (of >= 0)
        H5Fclose(of);
    if (pl >= 0)
        H5Pclose(pl);
    if (sp >= 0)
        H5Sclose(sp);
    if (t >= 0)
        H5Tclose(t);
    if (ds >= 0)
        H5Dclose(ds);
    if (f >= 0)
        H5Fclose(f);
    free(v);
    return rc;
}

/* Matrices copied as stored: the copy keeps the input's storage (here no
 * compression, although the output asks for level 9), reads every matrix
 * once and counts its rows once; where the file system cannot reserve the
 * room (no fallocate) the matrices are written instead, still read once. */
static void test_copy_stored(void)
{
    sc_write_opts o = SC_WRITE_OPTS_INIT;
    sc_adata *ad = build(), *src = NULL;
    uint64_t want = 0, rows = 0;
    ds_facts df;
    char path[512];

    CHECK(ad != NULL);
    if (!ad)
        return;
    o.compress_level = 0;
    path_in_tmp(path, sizeof path, "cs_src.h5ad");
    CHECK_INTEQ(sc_h5ad_write(ad, path, &o), 0);
    CHECK_INTEQ(sc_h5ad_open(path, 0, &src), 0);
    if (!src) {
        sc_adata_close(ad);
        return;
    }
    {
        sc_progress *p = sc_progress_new("test", 0, 0, SC_PROGRESS_ON);
        o.progress = p;
        path_in_tmp(path, sizeof path, "cs_plain.h5ad");
        CHECK_INTEQ(sc_h5ad_write(src, path, &o), 0);
        want = sc_progress_value(p);
        sc_progress_done(p);
        CHECK(want >= 3 * N_OBS); /* X, raw/X, layers/dense at least */
    }

    CHECK_INTEQ(write_copied(ad, src, "cs_copy.h5ad", &rows), 0);
    CHECK_INTEQ((int)rows, (int)want);
    CHECK(facts_of("cs_copy.h5ad", "X/data", &df) == 0 && df.deflate == 0);
    CHECK(facts_of("cs_copy.h5ad", "layers/dense", &df) == 0 &&
          df.deflate == 0);

    setenv("SC_TEST_NO_FALLOCATE", "1", 1);
    CHECK_INTEQ(write_copied(ad, src, "cs_nofalloc.h5ad", &rows), 0);
    unsetenv("SC_TEST_NO_FALLOCATE");
    CHECK_INTEQ((int)rows, (int)want);
    CHECK(facts_of("cs_nofalloc.h5ad", "X/data", &df) == 0 && df.deflate == 9);
    sc_adata_close(src);
    src = NULL;

    /* data in an external file, or a virtual dataset: written anew, in the
     * output file itself */
    for (int external = 1; external >= 0; external--) {
        const char *in = external ? "cs_ext.h5ad" : "cs_vds.h5ad",
                   *out = external ? "cs_ext_out.h5ad" : "cs_vds_out.h5ad";
        char from[512];

        path_in_tmp(from, sizeof from, "cs_src.h5ad");
        path_in_tmp(path, sizeof path, in);
        {
            char cmd[1200];
            snprintf(cmd, sizeof cmd, "cp '%s' '%s'", from, path);
            CHECK_INTEQ(system(cmd), 0);
        }
        CHECK_INTEQ(restore_elsewhere(in, "X/data", external), 0);
        CHECK(facts_of(in, "X/data", &df) == 0 &&
              df.layout == (external ? H5D_CONTIGUOUS : H5D_VIRTUAL));
        CHECK_INTEQ(sc_h5ad_open(path, 0, &src), 0);
        if (!src)
            continue;
        CHECK_INTEQ(write_copied(ad, src, out, &rows), 0);
        CHECK_INTEQ((int)rows, (int)want);
        CHECK(facts_of(out, "X/data", &df) == 0 && df.layout == H5D_CHUNKED &&
              df.deflate == 9);
        /* the other matrices were still copied */
        CHECK(facts_of(out, "layers/dense", &df) == 0 && df.deflate == 0);
        {
            char opath[512];
            hid_t f, ds, pl;
            int next = -1;

            path_in_tmp(opath, sizeof opath, out);
            if ((f = H5Fopen(opath, H5F_ACC_RDONLY, H5P_DEFAULT)) >= 0) {
                if ((ds = H5Dopen2(f, "X/data", H5P_DEFAULT)) >= 0) {
                    pl = H5Dget_create_plist(ds);
                    next = H5Pget_external_count(pl);
                    H5Pclose(pl);
                    H5Dclose(ds);
                }
                H5Fclose(f);
            }
            CHECK_INTEQ(next, 0);
        }
        sc_adata_close(src);
        src = NULL;
    }
    sc_adata_close(ad);
}

/* Every failure leaves nothing at the path and no temporary file. */
static void expect_failure(sc_adata *ad, const char *name, int code,
                           const char *needle)
{
    char path[512];
    struct stat st;
    int rc;

    path_in_tmp(path, sizeof path, name);
    rc = sc_h5ad_write(ad, path, NULL);
    CHECK_INTEQ(rc, code);
    if (!strstr(sc_errmsg(), needle) || !strstr(sc_errmsg(), name))
        printf("#   message: %s\n", sc_errmsg());
    CHECK(strstr(sc_errmsg(), needle) != NULL);
    CHECK(strstr(sc_errmsg(), name) != NULL);
    CHECK(stat(path, &st) < 0);
    CHECK_INTEQ(count_tmp_files(), 0);
}

static void test_failures(void)
{
    sc_adata *ad = build();
    sc_elem *c;
    char path[512];
    sc_write_opts bad_level = SC_WRITE_OPTS_INIT;

    bad_level.compress_level = 12;
    CHECK(ad != NULL);
    if (!ad)
        return;
    /* Bad category code, discovered half-way through writing. */
    c = sc_elem_get(ad->obs, "cell_type");
    ((int32_t *)c->codes->data)[4] = 9;
    expect_failure(ad, "badcode.h5ad", SC_EFORMAT, "/obs/cell_type");
    ((int32_t *)c->codes->data)[4] = 2;

    /* A key with '/'. */
    CHECK(sc_elem_add_take(ad->uns, sc_elem_new_i64("a/b", 1)) == 0);
    expect_failure(ad, "slash.h5ad", SC_EINVAL, "a/b");
    CHECK(sc_elem_remove(ad->uns, "a/b") == 1);

    /* A layer of the wrong shape. */
    CHECK(sc_elem_add_take(ad->layers, dense_array("bad", SC_DT_F32, N_OBS,
                                                   N_VARS + 1, 1)) == 0);
    expect_failure(ad, "shape.h5ad", SC_EINVAL, "/layers/bad");
    CHECK(sc_elem_remove(ad->layers, "bad") == 1);

    /* A column of the wrong length. */
    CHECK(sc_elem_add_take(ad->var, array_of("short", SC_DT_F64, 2, f_score)) ==
          0);
    expect_failure(ad, "column.h5ad", SC_EINVAL, "short");
    CHECK(sc_elem_remove(ad->var, "short") == 1);

    /* A matrix without data (e.g. a copy). */
    CHECK(sc_elem_add_take(ad->obsp, sc_elem_new_matrix_take("m", NULL)) == 0);
    expect_failure(ad, "nomat.h5ad", SC_EINVAL, "/obsp/m");
    CHECK(sc_elem_remove(ad->obsp, "m") == 1);

    /* Unwritable target directory. */
    snprintf(path, sizeof path, "%s/no/such/dir/x.h5ad", tmpdir);
    CHECK_INTEQ(sc_h5ad_write(ad, path, NULL), SC_EIO);
    CHECK(strstr(sc_errmsg(), "x.h5ad") != NULL);
    CHECK_INTEQ(sc_h5ad_write(ad, path, &bad_level), SC_EINVAL);
    CHECK_INTEQ(sc_h5ad_write(ad, NULL, NULL), SC_EINVAL);

    /* And after all that, it still writes. */
    path_in_tmp(path, sizeof path, "after.h5ad");
    CHECK_INTEQ(sc_h5ad_write(ad, path, NULL), 0);
    CHECK_INTEQ(count_tmp_files(), 0);
    sc_adata_close(ad);
}

static void remove_tmpdir(void)
{
    DIR *d = opendir(tmpdir);
    struct dirent *de;
    char p[512];

    while (d && (de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue;
        snprintf(p, sizeof p, "%s/%s", tmpdir, de->d_name);
        unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(tmpdir);
}

int main(void)
{
    const char *t = getenv("TMPDIR");

    snprintf(tmpdir, sizeof tmpdir, "%s/test_h5ad_write.XXXXXX",
             t && t[0] ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    RUN(test_write);
    RUN(test_small);
    RUN(test_wide);
    RUN(test_round_trip);
    RUN(test_samples);
    RUN(test_failures);
    RUN(test_copy_stored);
    if (getenv("SC_TEST_KEEP"))
        printf("# files kept in %s\n", tmpdir);
    else
        remove_tmpdir();
    return UNIT_DONE();
}
