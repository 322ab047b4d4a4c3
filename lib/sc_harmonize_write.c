/* sc_harmonize_write: the output dataset (obs, var, uns, layers, obsp, varm,
 * varp) and its writing. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_genes.h"
#include "sc_harmonize_int.h"
#include "sc_log.h"
#include "sc_progress.h"
#include "sc_provenance.h"

/* ------------------------------------------------------------------------ */
/* Output tables                                                            */

static sc_elem *str_column(const char *name, const char *const *s, int64_t n)
{
    return sc_elem_new_categorical_from_strings(name, s, n, 0);
}

static int add_take(sc_elem *parent, sc_elem *child)
{
    if (!child)
        return *sc_errmsg() ? SC_ENOMEM : sc_fail(SC_ENOMEM, "out of memory");
    return sc_elem_add_take(parent, child);
}

static sc_elem *f32_column(const char *name, const float *v,
                           const int64_t *rows, int64_t n)
{
    sc_elem *e = sc_elem_new_array(name, SC_DT_F32, 1, &n);

    if (e)
        for (int64_t i = 0; i < n; i++)
            ((float *)e->data)[i] = v[rows[i]];
    return e;
}

static sc_elem *var_table(const gene_map *gm, int species_out)
{
    sc_elem *var = sc_elem_new(SC_K_DATAFRAME, "var");
    int64_t n = gm->n_out;
    const char **ids = malloc((size_t)(n ? n : 1) * sizeof *ids);
    const char **nm = malloc((size_t)(n ? n : 1) * sizeof *nm);
    const char **ty = malloc((size_t)(n ? n : 1) * sizeof *ty);
    const char **ref = malloc((size_t)(n ? n : 1) * sizeof *ref);
    const char **bio = malloc((size_t)(n ? n : 1) * sizeof *bio);
    sc_elem *len = NULL, *filt = NULL;
    int ok = 0;

    if (!var || !ids || !nm || !ty || !ref || !bio)
        goto out;
    for (int64_t i = 0; i < n; i++) {
        int64_t g = gm->out_gene[i];

        ids[i] = sc_genes_id(gm->ref, g);
        nm[i] = sc_genes_name(gm->ref, g);
        ty[i] = sc_genes_type(gm->ref, g);
        ref[i] = sc_genes_is_spike(gm->ref, g)
                     ? "NCBITaxon:32630" /* synthetic construct */
                     : sc_genes_species(species_out)->taxon;
        bio[i] = sc_genes_is_spike(gm->ref, g) ? "spike-in" : "gene";
    }
    var->n_rows = n;
    if (!(var->index = sc_elem_new_strings("_index", ids, n)) ||
        !(len = sc_elem_new_array("feature_length", SC_DT_I64, 1, &n)) ||
        !(filt = sc_elem_new_array("feature_is_filtered", SC_DT_BOOL, 1, &n)))
        goto out;
    for (int64_t i = 0; i < n; i++)
        ((int64_t *)len->data)[i] = sc_genes_length(gm->ref, gm->out_gene[i]);
    if (add_take(var, str_column("feature_name", nm, n)) < 0 ||
        add_take(var, str_column("feature_reference", ref, n)) < 0 ||
        add_take(var, str_column("feature_biotype", bio, n)) < 0 ||
        add_take(var, str_column("feature_type", ty, n)) < 0)
        goto out;
    ok = add_take(var, len) == 0;
    len = NULL;
    ok = ok && add_take(var, filt) == 0;
    filt = NULL;
out:
    sc_elem_free(len);
    sc_elem_free(filt);
    free(ids);
    free(nm);
    free(ty);
    free(ref);
    free(bio);
    if (!ok) {
        sc_elem_free(var);
        if (!*sc_errmsg())
            sc_fail(SC_ENOMEM, "out of memory");
        return NULL;
    }
    return var;
}

/* Append this run as the next step of uns['provenance'] (sc_provenance:
 * the format of sc-register(1) PROVENANCE, with the host) and the
 * reference versions REFS (a JSON object of names to versions). The steps
 * of the input are kept. */
static int add_provenance(sc_elem *uns, const sc_prov_step *base, json_t *refs)
{
    size_t n = json_object_size(refs), i = 0;
    const char **names = calloc(n + 1, sizeof *names);
    const char **vers = calloc(n + 1, sizeof *vers);
    sc_prov_step s = *base;
    const char *k;
    json_t *x;
    int replaced = 0, rc;

    if (!names || !vers) {
        free(names);
        free(vers);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_object_foreach(refs, k, x)
    {
        names[i] = k;
        vers[i++] = json_string_value(x);
    }
    s.ref_names = names;
    s.ref_versions = vers;
    s.n_refs = i;
    rc = sc_provenance_add(uns, &s, &replaced);
    if (replaced)
        sc_log_warn("uns['provenance'] is not a dict of steps: replaced");
    free(names);
    free(vers);
    return rc;
}

static int set_uns_str(sc_elem *uns, const char *key, const char *v)
{
    return add_take(uns, sc_elem_new_string(key, v));
}

/* uns['harmonize']: what this run did and with which references. */
static int harmonize_uns(sc_hz *h, sc_elem *uns, const char *where,
                         const gene_map *gm, int normalized)
{
    sc_elem *d = sc_elem_new(SC_K_DICT, "harmonize");
    json_t *v = sc_hz_versions(h);
    const char *column = gm->column;
    const char *k;
    json_t *x;
    int rc = 0;

    if (!d || !v) {
        sc_elem_free(d);
        json_decref(v);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_object_foreach(v, k, x)
    {
        if (rc == 0)
            rc = set_uns_str(d, k, json_string_value(x));
    }
    json_decref(v);
    if (rc == 0)
        rc = set_uns_str(d, "tool_version", h->version);
    /* an input harmonized before: X and _index are ours, keep where the
     * counts and genes first came from */
    {
        sc_elem *prev = sc_elem_get(uns, "harmonize");
        sc_elem *pc = prev ? sc_elem_get(prev, "counts_source") : NULL;
        sc_elem *pg = prev ? sc_elem_get(prev, "gene_column") : NULL;

        if (pc && pg && pc->kind == SC_K_ARRAY && pc->dtype == SC_DT_STR &&
            pg->kind == SC_K_ARRAY && pg->dtype == SC_DT_STR &&
            !strcmp(where, "X") && !strcmp(gm->column, "_index")) {
            where = sc_elem_str(pc, 0);
            column = sc_elem_str(pg, 0);
        }
    }
    if (rc == 0)
        rc = set_uns_str(d, "counts_source", where);
    if (rc == 0)
        rc = set_uns_str(d, "gene_column", column);
    if (rc == 0)
        rc = set_uns_str(d, "X", normalized ? "normalized" : "raw counts");
    if (rc == 0)
        rc = add_take(d, sc_elem_new_i64("min_genes_per_cell", h->o.min_genes));
    if (rc == 0 && h->o.orthologs && gm->species == 1)
        rc = set_uns_str(d, "ortholog_projection", "mouse->human one2one");
    if (rc == 0 && h->o.gene_space)
        rc = set_uns_str(d, "gene_space", h->o.gene_space);
    if (rc == 0 && h->o.gene_map)
        rc = set_uns_str(d, "gene_map", h->o.gene_map);
    if (rc < 0) {
        sc_elem_free(d);
        return rc;
    }
    return sc_elem_add_take(uns, d);
}

/* Detach the dict called NAME of the input, or a new empty one. */
static sc_elem *take_dict(sc_elem **src, const char *name)
{
    sc_elem *e = *src;

    if (e) {
        *src = NULL;
        return e;
    }
    return sc_elem_new(SC_K_DICT, name);
}

/* obsm: keep the arrays of one row per cell, subset. */
static int subset_obsm(sc_elem *dst, const sc_elem *src, const hz_qc *q,
                       int64_t n_obs)
{
    if (!src)
        return 0;
    for (size_t i = 0; i < src->n_child; i++) {
        const sc_elem *e = src->child[i];

        if ((e->kind == SC_K_ARRAY && e->rank >= 1 && e->shape[0] == n_obs) ||
            e->kind == SC_K_DATAFRAME) {
            int rc = add_take(dst, hz_subset_rows(e, q->rows, q->n_keep));

            if (rc < 0)
                return rc;
        } else {
            sc_log_warn("obsm['%s'] not kept (sparse or of another shape)",
                        e->name);
        }
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* layers, obsp, varm, varp                                                 */

/* The index arrays the kept elements' callback sources borrow until the
 * output is written. */
typedef struct extras {
    int32_t *cell_col;  /* input cell -> output cell, -1 dropped */
    int64_t *first_in;  /* output gene -> its first input entry, -1 none */
    int32_t *first_col; /* input entry -> output gene if first, else -1 */
    int32_t *ident;     /* 0, 1, 2, ... */
    json_t *kept, *dropped;
} extras;

static void extras_release(extras *x)
{
    free(x->cell_col);
    free(x->first_in);
    free(x->first_col);
    free(x->ident);
    memset(x, 0, sizeof *x);
}

static int drop_elem(extras *x, const char *slot, const char *name,
                     const char *why)
{
    sc_log_warn("%s['%s'] not kept: %s", slot, name, why);
    if (json_array_append_new(x->dropped,
                              json_pack("{s:s, s:s, s:s}", "slot", slot, "name",
                                        name, "reason", why)) < 0)
        return sc_fail(SC_ENOMEM, "out of memory");
    return 0;
}

static int kept_elem(extras *x, sc_elem *dst, const char *slot, sc_elem *child)
{
    json_t *a = json_object_get(x->kept, slot);
    int rc;

    if (!child)
        return *sc_errmsg() ? SC_ENOMEM : sc_fail(SC_ENOMEM, "out of memory");
    if (!a) {
        a = json_array();
        json_object_set_new(x->kept, slot, a);
    }
    json_array_append_new(a, json_string(child->name));
    rc = sc_elem_add_take(dst, child);
    return rc;
}

/* A callback matrix NAME of ROWS x COL (see hz_outmat_new), of the input's
 * float type (float32 unless float64). */
static sc_elem *sub_matrix(const char *name, sc_mat *in, const int64_t *rows,
                           int64_t n_rows, const int32_t *col, int64_t n_out,
                           int threads)
{
    sc_mat_info mi;
    sc_mat *m;

    sc_mat_get_info(in, &mi);
    sc_mat_set_threads(in, threads);
    m = hz_outmat_new(in, rows, n_rows, col, n_out, NULL,
                      mi.dtype == SC_DT_F64 ? SC_DT_F64 : SC_DT_F32, NULL, 0,
                      NULL);
    return m ? sc_elem_new_matrix_take(name, m) : NULL;
}

/*
 * Carry the input's layers, obsp, varm and varp over to O where they can
 * follow the output's cells and genes:
 *   - layers of raw counts: the cells kept, genes mapped and duplicates
 *     summed like X; other layers are dropped (summing duplicate genes is
 *     only defined for counts), and so is the layer X came from;
 *   - obsp: the kept cells' rows and columns;
 *   - varm and varp: the row (and column) of the first input entry of each
 *     output gene (values of duplicates are not summed: loadings and gene
 *     graphs have no sum), NaN (varm) or empty (varp) for genes the input
 *     lacks (--gene-space);
 *   - layers, varm and varp belong to var: they are dropped when the
 *     counts came with another var table (raw.var).
 * Each kept or dropped element is listed in REP ("kept", "dropped").
 */
static int keep_extras(sc_hz *h, sc_adata *ad, const hz_counts_src *cs,
                       const gene_map *gm, const hz_qc *q, sc_adata *o,
                       extras *x, json_t *rep)
{
    const int same_var = cs->var == ad->var;
    const char *not_var = "its genes are var's, the counts' are raw.var's";
    int64_t max_cols = gm->n_in > ad->n_obs ? gm->n_in : ad->n_obs;
    int rc = 0;

    memset(x, 0, sizeof *x);
    x->kept = json_object();
    x->dropped = json_array();
    x->cell_col =
        malloc((size_t)(ad->n_obs ? ad->n_obs : 1) * sizeof *x->cell_col);
    x->first_in =
        malloc((size_t)(gm->n_out ? gm->n_out : 1) * sizeof *x->first_in);
    x->first_col =
        malloc((size_t)(gm->n_in ? gm->n_in : 1) * sizeof *x->first_col);
    if (!x->kept || !x->dropped || !x->cell_col || !x->first_in ||
        !x->first_col) {
        json_decref(x->kept);
        json_decref(x->dropped);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_object_set_new(rep, "kept", x->kept);
    json_object_set_new(rep, "dropped", x->dropped);
    for (int64_t i = 0; i < ad->n_obs; i++)
        x->cell_col[i] = -1;
    for (int64_t i = 0; i < q->n_keep; i++)
        x->cell_col[q->rows[i]] = (int32_t)i;
    for (int64_t g = 0; g < gm->n_out; g++)
        x->first_in[g] = -1;
    for (int64_t e = 0; e < gm->n_in; e++) {
        int32_t c = gm->col[e];

        x->first_col[e] = c >= 0 && x->first_in[c] < 0 ? c : -1;
        if (c >= 0 && x->first_in[c] < 0)
            x->first_in[c] = e;
    }
    for (size_t i = 0; rc == 0 && ad->layers && i < ad->layers->n_child; i++) {
        sc_elem *l = ad->layers->child[i];
        int yes;
        int64_t nz;

        if (l == cs->mat_elem)
            continue;
        if (!same_var)
            rc = drop_elem(x, "layers", l->name, not_var);
        else if (l->kind != SC_K_MATRIX || !l->mat)
            rc = drop_elem(x, "layers", l->name, "not a matrix");
        else if ((rc = hz_looks_like_counts(l->mat, &yes, &nz)) < 0)
            rc = sc_fail_ctx(rc, "layers/%s", l->name);
        else if (!yes)
            rc = drop_elem(x, "layers", l->name,
                           "not raw counts (duplicate genes can only be "
                           "summed for counts)");
        else
            rc = kept_elem(x, o->layers, "layers",
                           sub_matrix(l->name, l->mat, q->rows, q->n_keep,
                                      gm->col, gm->n_out, h->o.threads));
    }
    for (size_t i = 0; rc == 0 && ad->obsp && i < ad->obsp->n_child; i++) {
        sc_elem *p = ad->obsp->child[i];

        if (p->kind != SC_K_MATRIX || !p->mat)
            rc = drop_elem(x, "obsp", p->name, "not a matrix");
        else
            rc = kept_elem(x, o->obsp, "obsp",
                           sub_matrix(p->name, p->mat, q->rows, q->n_keep,
                                      x->cell_col, q->n_keep, h->o.threads));
    }
    for (size_t i = 0; rc == 0 && ad->varm && i < ad->varm->n_child; i++) {
        sc_elem *v = ad->varm->child[i];

        if (!same_var) {
            rc = drop_elem(x, "varm", v->name, not_var);
        } else if (v->kind == SC_K_ARRAY && v->rank >= 1 &&
                   v->dtype != SC_DT_STR && v->shape[0] == gm->n_in) {
            rc = kept_elem(x, o->varm, "varm",
                           hz_subset_rows(v, x->first_in, gm->n_out));
        } else if (v->kind == SC_K_MATRIX && v->mat) {
            sc_mat_info mi;

            sc_mat_get_info(v->mat, &mi);
            if (!x->ident) {
                int64_t n = mi.n_cols > max_cols ? mi.n_cols : max_cols;

                if (!(x->ident =
                          malloc((size_t)(n ? n : 1) * sizeof *x->ident))) {
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                    break;
                }
                for (int64_t c = 0; c < n; c++)
                    x->ident[c] = (int32_t)c;
                max_cols = n;
            }
            if (mi.n_cols > max_cols)
                rc = drop_elem(x, "varm", v->name, "too many columns");
            else
                rc = kept_elem(x, o->varm, "varm",
                               sub_matrix(v->name, v->mat, x->first_in,
                                          gm->n_out, x->ident, mi.n_cols,
                                          h->o.threads));
        } else {
            rc = drop_elem(x, "varm", v->name,
                           "not a numeric array or matrix of genes");
        }
    }
    for (size_t i = 0; rc == 0 && ad->varp && i < ad->varp->n_child; i++) {
        sc_elem *v = ad->varp->child[i];

        if (!same_var)
            rc = drop_elem(x, "varp", v->name, not_var);
        else if (v->kind != SC_K_MATRIX || !v->mat)
            rc = drop_elem(x, "varp", v->name, "not a matrix");
        else
            rc = kept_elem(x, o->varp, "varp",
                           sub_matrix(v->name, v->mat, x->first_in, gm->n_out,
                                      x->first_col, gm->n_out, h->o.threads));
    }
    return rc;
}

int hz_write_output(sc_hz *h, sc_adata *ad, const hz_counts_src *cs,
                    const gene_map *gm, hz_qc *q, const char *out,
                    hz_hash_job *hj, const char *in, int normalized,
                    json_t *rep)
{
    extras ex;
    sc_adata *o = sc_adata_new(q->n_keep, gm->n_out);
    sc_write_opts wo = SC_WRITE_OPTS_INIT;
    sc_elem *obs = NULL, *uns, *x;
    int rc = 0;
    int species_out = sc_genes_species_index(gm->ref);

    memset(&ex, 0, sizeof ex);
    if (!o)
        return SC_ENOMEM;
    wo.compress_level = h->o.compress_level;
    wo.threads = h->o.threads;
    /* blocks of about a million values keep the buffers small */
    wo.block_rows =
        q->nnz_out > 0
            ? (int64_t)(1e6 * (double)q->n_keep / (double)q->nnz_out) + 1
            : 0;
    /* obs: the kept rows, then the QC columns */
    if (!(obs = hz_subset_rows(ad->obs, q->rows, q->n_keep))) {
        rc = SC_ENOMEM;
        goto out;
    }
    free(obs->name);
    obs->name = strdup("obs");
    {
        sc_elem *ng = sc_elem_new_array("n_genes", SC_DT_I32, 1, &q->n_keep);
        sc_elem *ol =
            sc_elem_new_array("qc_outlier", SC_DT_BOOL, 1, &q->n_keep);

        if (ng)
            for (int64_t i = 0; i < q->n_keep; i++)
                ((int32_t *)ng->data)[i] = q->n_genes[q->rows[i]];
        if (ol)
            for (int64_t i = 0; i < q->n_keep; i++)
                ((uint8_t *)ol->data)[i] = q->outlier[q->rows[i]];
        if ((rc = add_take(obs, ng)) < 0 ||
            (rc = add_take(obs, f32_column("total_counts", q->total, q->rows,
                                           q->n_keep))) < 0 ||
            (rc = add_take(obs, f32_column("pct_counts_mt", q->pct_mt, q->rows,
                                           q->n_keep))) < 0 ||
            (rc = add_take(obs, f32_column("pct_counts_ribo", q->pct_ribo,
                                           q->rows, q->n_keep))) < 0 ||
            (rc = add_take(obs, f32_column("pct_counts_hb", q->pct_hb, q->rows,
                                           q->n_keep))) < 0 ||
            (rc = add_take(obs, ol)) < 0) {
            sc_elem_free(obs);
            goto out;
        }
    }
    sc_elem_free(o->obs);
    o->obs = obs;
    sc_elem_free(o->var);
    if (!(o->var = var_table(gm, species_out))) {
        rc = SC_ENOMEM;
        goto out;
    }
    if ((rc = subset_obsm(o->obsm, ad->obsm, q, ad->n_obs)) < 0)
        goto out;
    if ((rc = keep_extras(h, ad, cs, gm, q, o, &ex, rep)) < 0)
        goto out;
    /* uns: the input's, plus organism, harmonize and provenance */
    sc_elem_free(o->uns);
    o->uns = uns = take_dict(&ad->uns, "uns");
    if (!uns) {
        rc = SC_ENOMEM;
        goto out;
    }
    if ((rc = set_uns_str(uns, "organism_ontology_term_id",
                          sc_genes_species(gm->species)->taxon)) < 0 ||
        (rc = harmonize_uns(h, uns, cs->where, gm, normalized)) < 0)
        goto out;
    if (h->o.provenance) {
        json_t *v = sc_hz_versions(h);
        sc_prov_step st = {0};

        if ((rc = hz_hash_join(hj)) < 0 || !v) {
            json_decref(v);
            rc = rc < 0 ? rc : sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        st.tool = h->tool;
        st.version = h->version;
        st.arguments = h->cmdline;
        st.input_sha256 = hj->hex;
        st.input_path = in;
        rc = add_provenance(uns, &st, v);
        json_decref(v);
        if (rc < 0)
            goto out;
    }
    /* X and the optional normalized layer */
    if (!(x = sc_elem_new_matrix_take(
              "X", hz_outmat_new(cs->mat_elem->mat, q->rows, q->n_keep, gm->col,
                                 gm->n_out, q->nnz, SC_DT_F32, NULL, 0, q)))) {
        rc = SC_ENOMEM;
        goto out;
    }
    o->X = x;
    if (h->o.normalize && !normalized &&
        (rc = add_take(o->layers,
                       sc_elem_new_matrix_take(
                           "log1p_norm",
                           hz_outmat_new(cs->mat_elem->mat, q->rows, q->n_keep,
                                         gm->col, gm->n_out, q->nnz, SC_DT_F32,
                                         q->total, h->o.target_sum, q)))) < 0)
        goto out;
    wo.progress = sc_progress_new("writing", 0, 0, h->o.progress);
    sc_progress_set_unit(wo.progress, "cells");
    rc = sc_h5ad_write(o, out, &wo);
    sc_progress_done(wo.progress);
out:
    sc_adata_close(o);
    extras_release(&ex);
    return rc;
}
