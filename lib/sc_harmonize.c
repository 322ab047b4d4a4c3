/* sc_harmonize: canonical genes, raw counts, QC and schema-7 layout. */
/* SPDX-License-Identifier: MIT */
#include "sc_harmonize.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sc_genes.h"
#include "sc_harmonize_int.h"
#include "sc_hash.h"
#include "sc_log.h"
#include "sc_onto.h"

/* ------------------------------------------------------------------------ */
/* Settings                                                                 */

int sc_hz_check_counts_order(const char *s)
{
    if (!s || !*s)
        return sc_fail(SC_EINVAL, "empty list of count locations");
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");

        if (n == 0)
            return sc_fail(SC_EINVAL, "empty entry in '%s'", s);
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

int sc_hz_check_assay_list(const char *s)
{
    if (!s)
        return sc_fail(SC_EINVAL, "empty list of assays");
    for (const char *p = s; *p;) {
        size_t n = strcspn(p, ",");
        char tok[64], norm[64];

        if (n == 0 || n >= sizeof tok)
            return sc_fail(SC_EINVAL, "bad entry in '%s'", s);
        snprintf(tok, sizeof tok, "%.*s", (int)n, p);
        if (sc_onto_normalize_id(tok, norm, sizeof norm) < 0)
            return sc_fail(SC_EINVAL, "'%s' in '%s' is not a term id", tok, s);
        p += n;
        if (*p == ',')
            p++;
    }
    return 0;
}

static char *dup_or_null(const char *s, int *fail)
{
    char *d;

    if (!s)
        return NULL;
    if (!(d = strdup(s)))
        *fail = 1;
    return d;
}

void sc_hz_free(sc_hz *h)
{
    if (!h)
        return;
    for (int i = 0; i < 16; i++)
        sc_genes_free(h->genes[i]);
    sc_onto_free(h->onto);
    sc_schema_free(h->schema);
    json_decref(h->hancestro);
    free(h->ortho);
    for (int64_t i = 0; i < h->n_space; i++)
        free(h->space[i]);
    free(h->space);
    free(h->counts_order);
    free(h->gene_space);
    free(h->organism);
    free(h->targeted_assays);
    free(h->tool);
    free(h->version);
    free(h->cmdline);
    free(h->gene_map);
    hz_gmap_free(h->gmap);
    free(h);
}

int sc_hz_new(const sc_hz_opts *o, sc_hz **out)
{
    sc_hz *h;
    int fail = 0, rc;

    *out = NULL;
    if ((rc = sc_hz_check_counts_order(o->counts_order)) < 0 ||
        (o->targeted_assays &&
         (rc = sc_hz_check_assay_list(o->targeted_assays)) < 0))
        return rc;
    if (o->organism && sc_genes_find_species(o->organism) < 0)
        return sc_fail(SC_EINVAL, "unknown organism '%s'", o->organism);
    if (!(h = calloc(1, sizeof *h)))
        return sc_fail(SC_ENOMEM, "out of memory");
    h->o = *o;
    h->counts_order = dup_or_null(o->counts_order, &fail);
    h->gene_space = dup_or_null(o->gene_space, &fail);
    h->organism = dup_or_null(o->organism, &fail);
    h->targeted_assays =
        dup_or_null(o->targeted_assays ? o->targeted_assays : "", &fail);
    h->tool = dup_or_null(o->tool ? o->tool : "sc-harmonize", &fail);
    h->version = dup_or_null(o->version ? o->version : "0", &fail);
    h->cmdline = dup_or_null(o->cmdline ? o->cmdline : "", &fail);
    h->gene_map = dup_or_null(o->gene_map, &fail);
    if (fail) {
        sc_hz_free(h);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    h->o.counts_order = h->counts_order;
    h->o.gene_space = h->gene_space;
    h->o.organism = h->organism;
    h->o.targeted_assays = h->targeted_assays;
    h->o.gene_map = h->gene_map;
    if ((rc = hz_gmap_load(h)) < 0) {
        sc_hz_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

void sc_hz_result_release(sc_hz_result *res)
{
    if (res->report)
        json_decref(res->report);
    free(res->genes_tsv);
    memset(res, 0, sizeof *res);
}

int hz_get_genes(sc_hz *h, int sp, sc_genes **g)
{
    int rc;

    if (!h->genes[sp] &&
        (rc = sc_genes_load(sp, h->o.keep_retired ? SC_GENES_KEEP_RETIRED : 0,
                            &h->genes[sp])) < 0)
        return rc;
    *g = h->genes[sp];
    return 0;
}

static const sc_onto *get_onto(sc_hz *h)
{
    h->used_onto = 1;
    if (!h->onto_tried) {
        h->onto_tried = 1;
        if (sc_onto_new(0, &h->onto) < 0 ||
            sc_onto_load_set(h->onto, sc_onto_run_set(0),
                             h->o.threads > 0 ? h->o.threads : 1) < 0) {
            sc_log_warn("ontologies not loaded (%s): obsolete terms are "
                        "kept",
                        sc_errmsg());
            sc_onto_free(h->onto);
            h->onto = NULL;
        }
    }
    return h->onto;
}

static const sc_schema *get_schema(sc_hz *h)
{
    if (!h->schema_tried) {
        h->schema_tried = 1;
        if (sc_schema_load(NULL, &h->schema) < 0)
            sc_log_warn("schema rules not loaded (%s): terms are not "
                        "checked against them",
                        sc_errmsg());
    }
    return h->schema;
}

json_t *sc_hz_versions(const sc_hz *h)
{
    json_t *v = json_object();

    if (!v)
        return NULL;
    for (int i = 0; i < 16; i++)
        if (h->genes[i] && (h->used_species & (1u << i))) {
            char k[64];

            snprintf(k, sizeof k, "genes_%s", sc_genes_species(i)->latin);
            json_object_set_new(v, k,
                                json_string(sc_genes_version(h->genes[i])));
        }
    if (h->onto && h->used_onto)
        for (int i = 0; i < sc_onto_count(h->onto); i++)
            json_object_set_new(v, sc_onto_name(h->onto, i),
                                json_string(sc_onto_version(h->onto, i)));
    return v;
}

/* ------------------------------------------------------------------------ */
/* Input hashing in the background                                          */

static void hash_task(void *arg)
{
    hz_hash_job *j = arg;
    struct stat st;

    if (stat(j->path, &st) == 0 && S_ISDIR(st.st_mode)) {
        j->rc = 0; /* a 10x MTX folder: no single file to hash */
        return;
    }
    j->rc = sc_hash_file(j->path, j->hex);
    if (j->rc < 0)
        snprintf(j->err, sizeof j->err, "%s", sc_errmsg());
}

void hz_hash_start(hz_hash_job *j, const char *path)
{
    memset(j, 0, sizeof *j);
    j->path = path;
    if (sc_pool_background(&j->pool) < 0) {
        sc_err_clear();
        hash_task(j);
        return;
    }
    sc_pool_submit(j->pool, hash_task, j);
}

int hz_hash_join(hz_hash_job *j)
{
    sc_pool_free(j->pool); /* waits for the task */
    j->pool = NULL;
    if (j->rc < 0)
        return sc_fail(j->rc, "%s", j->err);
    return 0;
}

static void add_reason(sc_hz_result *res, const char *why)
{
    size_t n = strlen(res->reasons);

    snprintf(res->reasons + n, sizeof res->reasons - n, "%s%s", n ? "," : "",
             why);
    res->refused = 1;
}

void sc_hz_set_input_sha256(sc_hz *h, const char *hex)
{
    snprintf(h->input_sha256, sizeof h->input_sha256, "%s", hex ? hex : "");
}

int sc_hz_run(sc_hz *h, const char *in, const char *const *ids, const char *out,
              sc_hz_result *res)
{
    sc_adata *ad = NULL;
    hz_counts_src cs;
    gene_map gm;
    hz_qc q;
    hz_hash_job hj;
    hz_meta meta;
    const char *matched;
    const sc_onto *onto = NULL;
    json_t *rep = json_object(), *rw = json_array();
    sc_mat_info mi;
    int rc, normalized = 0;
    char known[SC_HASH_HEX_SIZE];

    memcpy(known, h->input_sha256, sizeof known);
    h->input_sha256[0] = '\0';
    memset(res, 0, sizeof *res);
    memset(&gm, 0, sizeof gm);
    h->used_species = 0;
    h->used_onto = 0;
    memset(&q, 0, sizeof q);
    q.spill_fd = -1;
    if (!rep || !rw) {
        json_decref(rep);
        json_decref(rw);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    res->report = rep;
    json_object_set_new(rep, "input", json_string(in));
    json_object_set_new(rep, "tool", json_string(h->tool));
    if (h->o.gene_map)
        json_object_set_new(rep, "gene_map", json_string(h->o.gene_map));
    json_object_set_new(rep, "version", json_string(h->version));
    json_object_set_new(rep, "rewrites", rw);
    if (h->o.provenance && !known[0]) {
        hz_hash_start(&hj, in);
    } else {
        memset(&hj, 0, sizeof hj);
        if (h->o.provenance)
            memcpy(hj.hex, known, sizeof hj.hex);
    }
    if ((rc = sc_adata_probe(in, SC_OPEN_GEX_ONLY | SC_OPEN_VAR_IDS)) < 0 ||
        (rc = sc_adata_open(in, SC_OPEN_GEX_ONLY | SC_OPEN_VAR_IDS, &ad)) < 0)
        goto out;
    json_object_set_new(rep, "format", json_string(sc_format_name(ad->format)));
    json_object_set_new(rep, "n_obs_in", json_integer(ad->n_obs));
    json_object_set_new(rep, "n_vars_in", json_integer(ad->n_vars));
    /* metadata first: it may tell the organism */
    if (hz_meta_needs_onto(ad->obs))
        onto = get_onto(h);
    if ((rc = hz_meta_rewrite(ad->obs, ad->uns, ad->n_obs, onto, h->o.lenient,
                              rw, &meta)) < 0 ||
        (rc = hz_hancestro_apply(ad->obs, ad->n_obs, ids, &h->hancestro, rw,
                                 &matched)) < 0)
        goto out;
    json_object_set_new(rep, "hancestro_mapping",
                        matched ? json_string(matched) : json_null());
    /* raw counts */
    if ((rc = hz_find_counts(h, ad, &cs)) < 0)
        goto out;
    if (!cs.mat_elem) {
        /* nothing to harmonize: a refusal, not an error */
        json_object_set_new(rep, "counts", json_pack("{s:n}", "location"));
        add_reason(res, "no_raw_counts");
        goto verdict;
    }
    sc_mat_get_info(cs.mat_elem->mat, &mi);
    sc_mat_set_threads(cs.mat_elem->mat, h->o.threads);
    json_object_set_new(rep, "counts",
                        json_pack("{s:s, s:b, s:s, s:I}", "location", cs.where,
                                  "is_counts", cs.is_counts, "dtype",
                                  sc_dtype_name(mi.dtype), "nnz",
                                  (json_int_t)mi.nnz));
    if (!cs.is_counts) {
        if (h->o.keep_normalized)
            normalized = 1;
        else
            add_reason(res, "no_raw_counts");
    }
    if (!cs.var || cs.var->n_rows != mi.n_cols) {
        rc = sc_fail(SC_EFORMAT, "%s has %lld genes but its var table %lld",
                     cs.where, (long long)mi.n_cols,
                     (long long)(cs.var ? cs.var->n_rows : -1));
        goto out;
    }
    /* genes */
    if ((rc = hz_map_genes(h, cs.var, mi.n_cols,
                           meta.organism[0] ? meta.organism : NULL, &gm, rep)) <
        0)
        goto out;
    if ((rc = hz_genes_report(
             &gm, cs.var, strcmp(cs.where, "raw/X") == 0 ? "raw/var" : "var",
             rep, 1)) < 0 ||
        (rc = hz_genes_tsv(&gm, cs.var, in, &res->genes_tsv,
                           &res->genes_tsv_len)) < 0)
        goto out;
    if (gm.mixed || meta.obs_organisms > 1) {
        snprintf(res->organism, sizeof res->organism, "mixed");
        add_reason(res, "mixed_species");
    } else {
        snprintf(res->organism, sizeof res->organism, "%s",
                 sc_genes_species(gm.species)->taxon);
    }
    json_object_set_new(rep, "organism", json_string(res->organism));
    /* every term against the schema, in the organism's context */
    if (onto && get_schema(h) &&
        (rc = hz_schema_check(ad->obs, ad->n_obs,
                              strcmp(res->organism, "mixed") ? res->organism
                                                             : NULL,
                              h->schema, onto, rw, rep)) < 0)
        goto out;
    if (ad->n_obs < h->o.min_cells)
        add_reason(res, "too_few_cells");
    {
        /* the threshold of the assay most cells have */
        int64_t n_tg, n_known, min;
        int targeted;

        if ((rc = hz_assay_class(ad->obs, ad->n_obs, onto, h->o.targeted_assays,
                                 &n_tg, &n_known)) < 0)
            goto out;
        targeted = n_tg * 2 > n_known;
        min = targeted ? h->o.min_mapped_targeted : h->o.min_mapped_genes;
        json_object_set_new(
            rep, "mapped_genes_threshold",
            json_pack("{s:s, s:I, s:I, s:I}", "assay_class",
                      targeted ? "targeted" : "full_transcriptome",
                      "n_cells_targeted_assay", (json_int_t)n_tg,
                      "n_cells_with_assay", (json_int_t)n_known,
                      "min_mapped_genes", (json_int_t)min));
        if (gm.n_out + gm.n_alt < min)
            add_reason(res, "too_few_genes");
    }
    if (!res->refused) {
        if ((rc = hz_qc_pass(cs.mat_elem->mat, &gm, &q, h->o.progress, out)) <
                0 ||
            (rc = hz_qc_filter(&h->o, &q, rep)) < 0)
            goto out;
        json_object_set_new(rep, "total_counts_in", json_real(q.sum_in));
        json_object_set_new(rep, "total_counts_mapped", json_real(q.sum_out));
        json_object_set_new(rep, "total_counts_dropped",
                            json_real(q.sum_dropped));
        if (q.n_keep == 0)
            add_reason(res, "no_cells_pass_qc");
    }
verdict:
    json_object_set_new(rep, "status",
                        json_string(res->refused ? "refused" : "ok"));
    json_object_set_new(rep, "refusal_reasons", json_array());
    for (const char *p = res->reasons; *p;) {
        size_t n = strcspn(p, ",");

        json_array_append_new(json_object_get(rep, "refusal_reasons"),
                              json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    if (res->refused)
        goto out;
    if ((rc = hz_write_output(h, ad, &cs, &gm, &q, out, &hj, in, normalized,
                              rep)) < 0)
        goto out;
    res->n_obs = q.n_keep;
    res->n_vars = gm.n_out;
    json_object_set_new(rep, "output", json_string(out));
    json_object_set_new(rep, "n_obs", json_integer(q.n_keep));
    json_object_set_new(rep, "n_vars", json_integer(gm.n_out));
    json_object_set_new(rep, "total_counts_out", json_real(0));
    {
        double sum = 0;

        for (int64_t i = 0; i < q.n_keep; i++)
            sum += q.total[q.rows[i]];
        json_object_set_new(rep, "total_counts_out", json_real(sum));
    }
    json_object_set_new(rep, "references", sc_hz_versions(h));
out:
    if (hz_hash_join(&hj) < 0 && rc == 0)
        rc = SC_EIO;
    if (h->o.provenance && hj.hex[0])
        json_object_set_new(rep, "input_sha256", json_string(hj.hex));
    hz_qc_release(&q);
    hz_gene_map_release(&gm);
    sc_adata_close(ad);
    if (rc < 0) /* the readers' messages mostly name the file already */
        return strstr(sc_errmsg(), in) ? rc : sc_fail_ctx(rc, "'%s'", in);
    return 0;
}
