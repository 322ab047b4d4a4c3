/* test_adata: unit tests of the element tree and the sc_adata lifecycle. */
/* SPDX-License-Identifier: MIT */
#include "sc_adata.h"

#include <math.h>

#include "unit.h"

static void test_dtypes(void)
{
    CHECK_INTEQ(sc_dtype_size(SC_DT_BOOL), 1);
    CHECK_INTEQ(sc_dtype_size(SC_DT_I16), 2);
    CHECK_INTEQ(sc_dtype_size(SC_DT_U32), 4);
    CHECK_INTEQ(sc_dtype_size(SC_DT_F32), 4);
    CHECK_INTEQ(sc_dtype_size(SC_DT_I64), 8);
    CHECK_INTEQ(sc_dtype_size(SC_DT_F64), 8);
    CHECK_INTEQ(sc_dtype_size(SC_DT_STR), sizeof(char *));
    CHECK_INTEQ(sc_dtype_size(SC_DT_NONE), 0);
    CHECK_STREQ(sc_dtype_name(SC_DT_BOOL), "bool");
    CHECK_STREQ(sc_dtype_name(SC_DT_I8), "int8");
    CHECK_STREQ(sc_dtype_name(SC_DT_U64), "uint64");
    CHECK_STREQ(sc_dtype_name(SC_DT_F32), "float32");
    CHECK_STREQ(sc_dtype_name(SC_DT_STR), "str");
    CHECK(sc_dtype_is_int(SC_DT_I8) && sc_dtype_is_int(SC_DT_U64));
    CHECK(!sc_dtype_is_int(SC_DT_BOOL) && !sc_dtype_is_int(SC_DT_F32));
    CHECK(!sc_dtype_is_int(SC_DT_STR));
    CHECK(sc_dtype_is_float(SC_DT_F32) && sc_dtype_is_float(SC_DT_F64));
    CHECK(!sc_dtype_is_float(SC_DT_I32) && !sc_dtype_is_float(SC_DT_BOOL));
    CHECK_STREQ(sc_format_name(SC_FMT_H5AD), "h5ad");
    CHECK_STREQ(sc_format_name(SC_FMT_10X_H5_V3), "10x-h5-v3");
    CHECK_STREQ(sc_format_name(SC_FMT_10X_MTX), "10x-mtx");
    CHECK_STREQ(sc_format_name(SC_FMT_LOOM), "loom");
    CHECK_STREQ(sc_format_name(SC_FMT_UNKNOWN), "unknown");
}

static void test_arrays(void)
{
    int64_t shape[3] = {2, 3, 4}, zero = 0, bad = -1;
    sc_elem *a = sc_elem_new_array("a", SC_DT_I16, 3, shape);
    sc_elem *e = sc_elem_new_array("e", SC_DT_F64, 1, &zero);
    int16_t *v;

    CHECK(a != NULL);
    if (!a)
        return;
    CHECK_STREQ(a->name, "a");
    CHECK_INTEQ(a->kind, SC_K_ARRAY);
    CHECK_INTEQ(a->rank, 3);
    CHECK_INTEQ(sc_elem_count(a), 24);
    v = a->data;
    for (int i = 0; i < 24; i++)
        CHECK_INTEQ(v[i], 0);
    v[23] = -7;
    CHECK(sc_elem_num(a, 23) == -7);
    CHECK(isnan(sc_elem_num(a, 24)));
    CHECK(isnan(sc_elem_num(a, -1)));
    CHECK(sc_elem_str(a, 0) == NULL);

    CHECK(e && e->data && sc_elem_count(e) == 0);
    CHECK(sc_elem_new_array("x", SC_DT_I8, SC_MAX_RANK + 1, shape) == NULL);
    CHECK(sc_elem_new_array("x", SC_DT_NONE, 1, shape) == NULL);
    CHECK(sc_elem_new_array("x", SC_DT_I8, 1, &bad) == NULL);
    CHECK(strstr(sc_errmsg(), "negative") != NULL);
    sc_elem_free(a);
    sc_elem_free(e);
    sc_elem_free(NULL);
}

static void test_strings_and_scalars(void)
{
    const char *in[] = {"alpha", NULL, "\xc3\xa9t\xc3\xa9", ""};
    sc_elem *s = sc_elem_new_strings("s", in, 4);
    sc_elem *str = sc_elem_new_string("title", "hello");
    sc_elem *nul = sc_elem_new_string(NULL, NULL);
    sc_elem *f = sc_elem_new_f64("pi", 3.25);
    sc_elem *i = sc_elem_new_i64("big", INT64_C(1) << 52);
    sc_elem *b = sc_elem_new_bool("flag", 42);

    CHECK(s && str && nul && f && i && b);
    if (!(s && str && nul && f && i && b))
        goto out;
    CHECK_INTEQ(s->dtype, SC_DT_STR);
    CHECK_INTEQ(sc_elem_count(s), 4);
    CHECK_STREQ(sc_elem_str(s, 0), "alpha");
    CHECK_STREQ(sc_elem_str(s, 1), "");
    CHECK_STREQ(sc_elem_str(s, 2), "\xc3\xa9t\xc3\xa9");
    CHECK(sc_elem_str(s, 4) == NULL);
    CHECK(isnan(sc_elem_num(s, 0)));
    CHECK(in[0] != sc_elem_str(s, 0)); /* copied */

    CHECK_INTEQ(str->rank, 0);
    CHECK_INTEQ(sc_elem_count(str), 1);
    CHECK_STREQ(sc_elem_str(str, 0), "hello");
    CHECK(sc_elem_str(str, 1) == NULL);
    CHECK(nul->name == NULL);
    CHECK_STREQ(sc_elem_str(nul, 0), "");
    CHECK(f->dtype == SC_DT_F64 && f->rank == 0 && sc_elem_num(f, 0) == 3.25);
    CHECK(i->dtype == SC_DT_I64 && *(int64_t *)i->data == INT64_C(1) << 52);
    CHECK(b->dtype == SC_DT_BOOL && *(uint8_t *)b->data == 1);
    CHECK(sc_elem_num(b, 0) == 1);
out:
    sc_elem_free(s);
    sc_elem_free(str);
    sc_elem_free(nul);
    sc_elem_free(f);
    sc_elem_free(i);
    sc_elem_free(b);
}

static void test_children(void)
{
    sc_elem *d = sc_elem_new(SC_K_DICT, "uns");
    sc_elem *arr = sc_elem_new_f64("x", 1);
    sc_elem *c;

    CHECK(d && d->index_name == NULL);
    CHECK(sc_elem_add_take(d, sc_elem_new_i64("a", 1)) == 0);
    CHECK(sc_elem_add_take(d, sc_elem_new_i64("b", 2)) == 0);
    CHECK(sc_elem_add_take(d, sc_elem_new_i64("c", 3)) == 0);
    CHECK_INTEQ(d->n_child, 3);
    /* Same name: replaced in place, order kept. */
    CHECK(sc_elem_add_take(d, sc_elem_new_string("b", "two")) == 0);
    CHECK_INTEQ(d->n_child, 3);
    CHECK_STREQ(d->child[1]->name, "b");
    CHECK_STREQ(sc_elem_str(sc_elem_get(d, "b"), 0), "two");
    CHECK(sc_elem_get(d, "zz") == NULL);
    CHECK(sc_elem_get(d, NULL) == NULL);
    CHECK(sc_elem_get(NULL, "a") == NULL);

    c = sc_elem_detach(d, "a");
    CHECK(c && !strcmp(c->name, "a") && sc_elem_num(c, 0) == 1);
    sc_elem_free(c);
    CHECK_INTEQ(d->n_child, 2);
    CHECK_STREQ(d->child[0]->name, "b");
    CHECK(sc_elem_detach(d, "a") == NULL);
    CHECK_INTEQ(sc_elem_remove(d, "c"), 1);
    CHECK_INTEQ(sc_elem_remove(d, "c"), 0);
    CHECK_INTEQ(d->n_child, 1);

    /* Failures free the child (the sanitizer build checks for leaks). */
    CHECK(sc_elem_add_take(arr, sc_elem_new_i64("y", 1)) == SC_EINVAL);
    CHECK(sc_elem_add_take(d, sc_elem_new_i64(NULL, 1)) == SC_EINVAL);
    CHECK(sc_elem_add_take(d, NULL) == SC_EINVAL);
    CHECK(sc_elem_add_take(NULL, sc_elem_new_i64("y", 1)) == SC_EINVAL);
    CHECK_INTEQ(d->n_child, 1);

    /* Many children. */
    for (int i = 0; i < 100; i++) {
        char name[16];

        snprintf(name, sizeof name, "k%d", i);
        CHECK(sc_elem_add_take(d, sc_elem_new_i64(name, i)) == 0);
    }
    CHECK_INTEQ(d->n_child, 101);
    CHECK(sc_elem_num(sc_elem_get(d, "k77"), 0) == 77);
    sc_elem_free(d);
    sc_elem_free(arr);
}

static void test_categorical(void)
{
    const char *v[] = {"T", "B", NULL, "T", "NK", "B"};
    sc_elem *c = sc_elem_new_categorical_from_strings("cell", v, 6, 0);
    sc_elem *s = sc_elem_new_categorical_from_strings("cell", v, 6, 1);
    sc_elem *none = sc_elem_new_categorical_from_strings("e", v, 0, 1);
    const int32_t *codes;

    CHECK(c && s && none);
    if (!(c && s && none))
        goto out;
    CHECK_INTEQ(c->kind, SC_K_CATEGORICAL);
    CHECK_INTEQ(sc_elem_count(c), 6);
    CHECK_INTEQ(c->codes->dtype, SC_DT_I32);
    CHECK_INTEQ(sc_elem_count(c->categories), 3);
    CHECK_STREQ(sc_elem_str(c->categories, 0), "T");
    CHECK_STREQ(sc_elem_str(c->categories, 1), "B");
    CHECK_STREQ(sc_elem_str(c->categories, 2), "NK");
    codes = c->codes->data;
    CHECK(codes[0] == 0 && codes[1] == 1 && codes[2] == -1 && codes[3] == 0 &&
          codes[4] == 2 && codes[5] == 1);
    CHECK(!c->ordered);
    for (int i = 0; i < 6; i++) {
        if (v[i])
            CHECK_STREQ(sc_elem_str(c, i), v[i]);
        else
            CHECK(sc_elem_str(c, i) == NULL);
    }

    CHECK_STREQ(sc_elem_str(s->categories, 0), "B");
    CHECK_STREQ(sc_elem_str(s->categories, 1), "NK");
    CHECK_STREQ(sc_elem_str(s->categories, 2), "T");
    for (int i = 0; i < 6; i++)
        CHECK(v[i] ? !strcmp(sc_elem_str(s, i), v[i])
                   : sc_elem_str(s, i) == NULL);
    CHECK(isnan(sc_elem_num(s, 0)));

    CHECK_INTEQ(sc_elem_count(none), 0);
    CHECK_INTEQ(sc_elem_count(none->categories), 0);
out:
    sc_elem_free(c);
    sc_elem_free(s);
    sc_elem_free(none);
}

/* Enough distinct values to make the category table grow several times. */
static void test_categorical_many(void)
{
    enum { N = 20000, K = 3000 };
    char **buf = malloc(N * sizeof *buf);
    sc_elem *c = NULL;
    int ok = 1;

    if (!buf)
        return;
    for (int i = 0; i < N; i++) {
        buf[i] = malloc(16);
        snprintf(buf[i], 16, "v%05d", (i * 7919) % K);
    }
    c = sc_elem_new_categorical_from_strings("c", (const char *const *)buf, N,
                                             1);
    CHECK(c != NULL);
    if (c) {
        CHECK_INTEQ(sc_elem_count(c->categories), K);
        for (int i = 0; i < N; i++)
            ok &= !strcmp(sc_elem_str(c, i), buf[i]);
        CHECK(ok);
        CHECK_STREQ(sc_elem_str(c->categories, 0), "v00000");
        CHECK_STREQ(sc_elem_str(c->categories, K - 1), "v02999");
    }
    for (int i = 0; i < N; i++)
        free(buf[i]);
    free(buf);
    sc_elem_free(c);
}

static sc_elem *nullable_ints(void)
{
    int64_t n = 4;
    sc_elem *e = sc_elem_new(SC_K_NULLABLE, "n");

    if (!e)
        return NULL;
    e->values = sc_elem_new_array("values", SC_DT_I64, 1, &n);
    e->mask = calloc(4, 1);
    if (!e->values || !e->mask) {
        sc_elem_free(e);
        return NULL;
    }
    for (int i = 0; i < 4; i++)
        ((int64_t *)e->values->data)[i] = 10 * i;
    e->mask[2] = 1;
    return e;
}

static void test_nullable(void)
{
    sc_elem *e = nullable_ints();

    CHECK(e != NULL);
    if (!e)
        return;
    CHECK_INTEQ(sc_elem_count(e), 4);
    CHECK(sc_elem_num(e, 1) == 10);
    CHECK(isnan(sc_elem_num(e, 2)));
    CHECK(sc_elem_num(e, 3) == 30);
    CHECK(isnan(sc_elem_num(e, 4)));
    CHECK(sc_elem_str(e, 0) == NULL);
    sc_elem_free(e);
}

/* One reader of a column's string value, whatever the kind of column;
 * which columns are text; a one-value string of a dict. */
static void test_column_strings(void)
{
    const char *v[] = {"b", NULL, "a"}, *w[] = {"x", "y"};
    sc_elem *cat = sc_elem_new_categorical_from_strings("c", v, 3, 1);
    sc_elem *arr = sc_elem_new_strings("s", w, 2);
    sc_elem *nul = sc_elem_new(SC_K_NULLABLE, "n");
    sc_elem *ints = nullable_ints(), *uns = sc_elem_new(SC_K_DICT, "uns");

    CHECK(cat && arr && nul && ints && uns);
    if (!(cat && arr && nul && ints && uns))
        goto out;
    nul->values = sc_elem_new_strings("values", w, 2);
    nul->mask = calloc(2, 1);
    CHECK(nul->values && nul->mask);
    if (!nul->values || !nul->mask)
        goto out;
    nul->mask[0] = 1;
    CHECK_STREQ(sc_elem_str(cat, 0), "b");
    CHECK(sc_elem_str(cat, 1) == NULL); /* code -1 */
    CHECK_STREQ(sc_elem_str(cat, 2), "a");
    CHECK(sc_elem_str(cat, 3) == NULL);
    CHECK(sc_elem_str(nul, 0) == NULL); /* masked */
    CHECK_STREQ(sc_elem_str(nul, 1), "y");
    CHECK(sc_elem_str(NULL, 0) == NULL);
    CHECK(sc_elem_is_strcol(cat) && sc_elem_is_strcol(arr) &&
          sc_elem_is_strcol(nul));
    CHECK(!sc_elem_is_strcol(ints) && !sc_elem_is_strcol(uns) &&
          !sc_elem_is_strcol(NULL));
    CHECK(sc_elem_add_take(uns, sc_elem_new_string("title", "T")) == 0);
    CHECK(sc_elem_add_take(uns, sc_elem_new_f64("pi", 3.0)) == 0);
    CHECK(sc_elem_add_take(uns, sc_elem_copy(arr)) == 0);
    CHECK_STREQ(sc_elem_get_str(uns, "title"), "T");
    CHECK(sc_elem_get_str(uns, "pi") == NULL); /* not a string */
    CHECK(sc_elem_get_str(uns, "s") == NULL);  /* two values */
    CHECK(sc_elem_get_str(uns, "none") == NULL);
    CHECK(sc_elem_get_str(NULL, "title") == NULL);
out:
    sc_elem_free(cat);
    sc_elem_free(arr);
    sc_elem_free(nul);
    sc_elem_free(ints);
    sc_elem_free(uns);
}

/* The value most rows have, and the one organism rule of every tool. */
static void test_organism(void)
{
    const char *v[] = {"NCBITaxon:10090", "NCBITaxon:9606", NULL,
                       "NCBITaxon:9606", "NCBITaxon:10090"};
    const char *tie[] = {NULL, "b", "a", "a", "b"};
    sc_elem *obs = sc_elem_new(SC_K_DICT, "obs"),
            *uns = sc_elem_new(SC_K_DICT, "uns");
    sc_elem *c = sc_elem_new_categorical_from_strings("x", v, 5, 1);
    sc_elem *t = sc_elem_new_strings("t", tie, 5);

    CHECK(obs && uns && c && t);
    if (!(obs && uns && c && t))
        goto out;
    /* a categorical: a tie goes to the value of the earlier row, whatever
     * the order of the categories (sorted here) */
    CHECK_STREQ(sc_elem_mode_str(c), "NCBITaxon:10090");
    CHECK_STREQ(sc_elem_mode_str(t), "b"); /* a string array, the same */
    ((char **)t->data)[4][0] = '\0';       /* empty values do not count */
    CHECK_STREQ(sc_elem_mode_str(t), "a");
    CHECK(sc_elem_mode_str(NULL) == NULL);
    CHECK(sc_elem_organism(NULL, NULL, 1) == NULL);
    /* older layouts: obs 'organism', then obs 'organism_ontology_term_id'
     * over it, then uns over obs (sc-stream read uns 'organism' before obs
     * 'organism_ontology_term_id' and the first cell; sc-annotate only a
     * column of one category) */
    CHECK(sc_elem_add_take(obs, sc_elem_new_string("organism", "mouse")) == 0);
    CHECK(sc_elem_add_take(uns, sc_elem_new_string("organism", "human")) == 0);
    CHECK_STREQ(sc_elem_organism(uns, NULL, 1), "human");
    CHECK(sc_elem_organism(uns, obs, 0) == NULL); /* labels: only if asked */
    {
        const char *m[] = {"NCBITaxon:9606", "NCBITaxon:10090",
                           "NCBITaxon:10090"};
        CHECK(sc_elem_add_take(obs,
                               sc_elem_new_categorical_from_strings(
                                   "organism_ontology_term_id", m, 3, 0)) == 0);
    }
    CHECK_STREQ(sc_elem_organism(uns, obs, 1), "NCBITaxon:10090");
    CHECK_STREQ(sc_elem_organism(uns, obs, 0), "NCBITaxon:10090");
    CHECK(sc_elem_add_take(uns, sc_elem_new_string("organism_ontology_term_id",
                                                   "NCBITaxon:9606")) == 0);
    CHECK_STREQ(sc_elem_organism(uns, obs, 0), "NCBITaxon:9606");
out:
    sc_elem_free(obs);
    sc_elem_free(uns);
    sc_elem_free(c);
    sc_elem_free(t);
}

static void test_copy(void)
{
    const char *v[] = {"a", "b", "a"};
    sc_adata *ad = sc_adata_new(3, 2);
    sc_elem *df, *cp, *col;

    CHECK(ad != NULL);
    if (!ad)
        return;
    df = ad->obs;
    CHECK(sc_elem_add_take(
              df, sc_elem_new_categorical_from_strings("cat", v, 3, 0)) == 0);
    CHECK(sc_elem_add_take(df, sc_elem_new_strings("str", v, 3)) == 0);
    CHECK(sc_elem_add_take(df, nullable_ints()) == 0);
    CHECK(sc_elem_add_take(df, sc_elem_new_matrix_take(
                                   "m", sc_mat_new_dense_take(
                                            3, 1, calloc(3, sizeof(double)),
                                            SC_DT_F32))) == 0);
    sc_elem_get(df, "cat")->ordered = 1;
    free(df->index_name);
    df->index_name = strdup("cell_id");

    cp = sc_elem_copy(df);
    CHECK(cp != NULL);
    if (!cp)
        goto out;
    CHECK_STREQ(cp->name, "obs");
    CHECK_STREQ(cp->index_name, "cell_id");
    CHECK_INTEQ(cp->n_rows, 3);
    CHECK_INTEQ(cp->n_child, 4);
    CHECK(cp->index != df->index);
    CHECK_STREQ(sc_elem_str(cp->index, 2), "2");
    col = sc_elem_get(cp, "cat");
    CHECK(col && col->ordered && col->codes != sc_elem_get(df, "cat")->codes);
    CHECK_STREQ(sc_elem_str(col, 1), "b");
    col = sc_elem_get(cp, "str");
    CHECK(col && sc_elem_str(col, 0) != sc_elem_str(sc_elem_get(df, "str"), 0));
    CHECK_STREQ(sc_elem_str(col, 1), "b");
    col = sc_elem_get(cp, "n");
    CHECK(col && col->mask && col->mask[2] && isnan(sc_elem_num(col, 2)));
    CHECK(sc_elem_num(col, 3) == 30);
    col = sc_elem_get(cp, "m");
    CHECK(col && col->kind == SC_K_MATRIX && col->mat == NULL);

    /* Changing the original leaves the copy alone. */
    ((char **)sc_elem_get(df, "str")->data)[1][0] = 'z';
    CHECK_STREQ(sc_elem_str(sc_elem_get(cp, "str"), 1), "b");
    sc_elem_free(cp);
    CHECK(sc_elem_copy(NULL) == NULL);
out:
    sc_adata_close(ad);
}

static int priv_freed;

static void free_priv(void *p)
{
    priv_freed = *(int *)p;
    free(p);
}

static void test_adata_new(void)
{
    sc_adata *ad = sc_adata_new(5, 3);
    int *p = malloc(sizeof *p);

    CHECK(ad != NULL && p != NULL);
    if (!ad || !p) {
        free(p);
        sc_adata_close(ad);
        return;
    }
    CHECK_INTEQ(ad->n_obs, 5);
    CHECK_INTEQ(ad->n_vars, 3);
    CHECK(ad->X == NULL && ad->raw == NULL);
    CHECK(ad->obs->kind == SC_K_DATAFRAME && ad->var->kind == SC_K_DATAFRAME);
    CHECK_INTEQ(ad->obs->n_rows, 5);
    CHECK_INTEQ(ad->var->n_rows, 3);
    CHECK_STREQ(ad->obs->index_name, "_index");
    CHECK_INTEQ(sc_elem_count(ad->obs->index), 5);
    CHECK_STREQ(sc_elem_str(ad->obs->index, 0), "0");
    CHECK_STREQ(sc_elem_str(ad->obs->index, 4), "4");
    CHECK_STREQ(sc_elem_str(ad->var->index, 2), "2");
    CHECK_INTEQ(ad->obs->n_child, 0);
    CHECK(ad->obsm->kind == SC_K_DICT && ad->varm->kind == SC_K_DICT);
    CHECK(ad->obsp->kind == SC_K_DICT && ad->varp->kind == SC_K_DICT);
    CHECK(ad->layers->kind == SC_K_DICT && ad->uns->kind == SC_K_DICT);
    CHECK_STREQ(ad->uns->name, "uns");
    CHECK_STREQ(ad->layers->name, "layers");

    ad->path = strdup("x.h5ad");
    ad->generation = strdup("0.8+");
    *p = 17;
    ad->priv = p;
    ad->priv_free = free_priv;
    priv_freed = 0;
    sc_adata_close(ad);
    CHECK_INTEQ(priv_freed, 17);
    sc_adata_close(NULL);

    ad = sc_adata_new(0, 0);
    CHECK(ad && sc_elem_count(ad->obs->index) == 0);
    sc_adata_close(ad);
    CHECK(sc_adata_new(-1, 2) == NULL);
}

int main(void)
{
    RUN(test_dtypes);
    RUN(test_arrays);
    RUN(test_strings_and_scalars);
    RUN(test_children);
    RUN(test_categorical);
    RUN(test_categorical_many);
    RUN(test_nullable);
    RUN(test_column_strings);
    RUN(test_organism);
    RUN(test_copy);
    RUN(test_adata_new);
    return UNIT_DONE();
}
