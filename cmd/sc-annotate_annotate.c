/* sc-annotate annotate: map the label columns of datasets to terms. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "sc-annotate.h"
#include "sc_adata.h"
#include "sc_embed.h"
#include "sc_hash.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_map.h"
#include "sc_match.h"
#include "sc_schema.h"
#include "sc_progress.h"
#include "sc_provenance.h"
#include "sc_share.h"
#include "sc_version.h"

/* Where each field's labels are looked for, first match wins (exact name,
 * then ignoring case). --column puts its names in front. */
static const char *const default_columns[SC_FIELD_N] = {
    "cell_type,CellType,cell_ontology_class,author_cell_type,celltype,"
    "cell_type_original,cell_types,celltypes,cell_label,annotation,"
    "predicted.celltype,cell.type,free_annotation",
    "tissue,Tissue,organ,tissue_original,tissue_type_original",
    "disease,Disease,condition,disease_state,diagnosis",
    "assay,technology,platform,protocol",
    "sex,Sex,gender",
    "development_stage,age_group,stage,dev_stage",
    "self_reported_ethnicity,ethnicity,race",
    "organism,species,Organism",
};

/* ---- a column's distinct labels ---- */

/* The distinct values of obs column E as strings with per-cell codes
 * (-1 for missing). */
struct labels {
    char **s;
    int64_t n;
    int32_t *codes; /* n_obs */
    int64_t *count; /* per label */
};

static void labels_release(struct labels *l)
{
    for (int64_t i = 0; i < l->n; i++)
        free(l->s[i]);
    free(l->s);
    free(l->codes);
    free(l->count);
    memset(l, 0, sizeof *l);
}

static char *value_str(const sc_elem *e, int64_t i)
{
    char buf[64];

    if (e->dtype == SC_DT_STR) {
        const char *s = sc_elem_str(e, i);
        return strdup(s ? s : "");
    }
    if (e->dtype == SC_DT_BOOL)
        return strdup(sc_elem_num(e, i) != 0 ? "True" : "False");
    snprintf(buf, sizeof buf, "%.15g", sc_elem_num(e, i));
    return strdup(buf);
}

static int get_labels(const sc_elem *col, int64_t n_obs, struct labels *l)
{
    const sc_elem *vals = col;
    sc_elem *tmp = NULL;
    const int32_t *codes;
    int rc = 0;

    memset(l, 0, sizeof *l);
    if (col->kind == SC_K_NULLABLE)
        vals = col->values;
    if (col->kind != SC_K_CATEGORICAL) {
        char **s;

        if (!vals || vals->kind != SC_K_ARRAY || sc_elem_count(vals) != n_obs)
            return sc_fail(SC_EFORMAT, "column '%s' is not a 1-D column",
                           col->name);
        if (!(s = calloc((size_t)n_obs + 1, sizeof *s)))
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; i < n_obs && rc == 0; i++) {
            if (col->kind == SC_K_NULLABLE && col->mask && col->mask[i])
                continue;
            if (vals->dtype == SC_DT_STR)
                s[i] = (char *)sc_elem_str(vals, i);
            else if (!(s[i] = value_str(vals, i)))
                rc = sc_fail(SC_ENOMEM, "out of memory");
        }
        if (rc == 0 && !(tmp = sc_elem_new_categorical_from_strings(
                             col->name, (const char *const *)s, n_obs, 0)))
            rc = SC_ENOMEM;
        if (vals->dtype != SC_DT_STR)
            for (int64_t i = 0; i < n_obs; i++)
                free(s[i]);
        free(s);
        if (rc < 0)
            return rc;
        col = tmp;
    }
    l->n = sc_elem_count(col->categories);
    l->s = calloc((size_t)l->n + 1, sizeof *l->s);
    l->count = calloc((size_t)l->n + 1, sizeof *l->count);
    l->codes = malloc((size_t)n_obs * sizeof *l->codes + 1);
    if (!l->s || !l->count || !l->codes) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t k = 0; k < l->n; k++)
        if (!(l->s[k] = value_str(col->categories, k))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
    codes = col->codes->data;
    for (int64_t i = 0; i < n_obs; i++) {
        int32_t c = codes[i];

        if (c >= l->n)
            c = -1;
        l->codes[i] = c;
        if (c >= 0)
            l->count[c]++;
    }
out:
    sc_elem_free(tmp);
    if (rc < 0)
        labels_release(l);
    return rc;
}

/* ---- one field ---- */

/* The obs column holding FIELD's labels, or NULL. */
static sc_elem *find_column(const struct args *a, const sc_elem *obs, int field,
                            char *name, size_t size)
{
    const char *fname = sc_match_field_name(field);
    char list[1024];
    size_t used = 0;

    list[0] = '\0';
    /* --column FIELD=COL entries first */
    for (const char *p = a->columns; p && *p;) {
        size_t n = strcspn(p, ","), fl = strlen(fname);

        if (n > fl && !strncmp(p, fname, fl) && p[fl] == '=')
            used += (size_t)snprintf(list + used, sizeof list - used, "%.*s,",
                                     (int)(n - fl - 1), p + fl + 1);
        if (used >= sizeof list)
            break;
        p += n;
        if (*p)
            p++;
    }
    if (used < sizeof list)
        snprintf(list + used, sizeof list - used, "%s", default_columns[field]);
    for (int ci = 0; ci < 2; ci++)
        for (const char *p = list; *p;) {
            size_t n = strcspn(p, ",");

            for (size_t k = 0; k < obs->n_child; k++) {
                const char *cn = obs->child[k]->name;

                if (strlen(cn) == n &&
                    (ci ? !strncasecmp(cn, p, n) : !strncmp(cn, p, n))) {
                    snprintf(name, size, "%s", cn);
                    return obs->child[k];
                }
            }
            p += n;
            if (*p)
                p++;
        }
    return NULL;
}

/* A field switched off with --column FIELD= (empty). */
static int field_off(const struct args *a, int field)
{
    const char *fname = sc_match_field_name(field);
    size_t fl = strlen(fname);

    for (const char *p = a->columns; p && *p;) {
        size_t n = strcspn(p, ",");

        if (n == fl + 1 && !strncmp(p, fname, fl) && p[fl] == '=')
            return 1;
        p += n;
        if (*p)
            p++;
    }
    return 0;
}

struct ctx {
    const struct args *a;
    const sc_onto *o;
    sc_schema *schema;
    sc_match *m;
    FILE *tsv; /* the labels TSV of the dataset */
    double t_map;
};

/* Human or mouse from the Ensembl ids of var (index or gene_ids), when
 * nearly all of the first 200 agree. */
static void organism_from_genes(const sc_adata *ad, char *org, size_t size)
{
    const sc_elem *cols[2] = {ad->var ? ad->var->index : NULL,
                              ad->var ? sc_elem_get(ad->var, "gene_ids")
                                      : NULL};

    for (int c = 0; c < 2; c++) {
        const sc_elem *e = cols[c];
        int64_t n, hs = 0, mm = 0;

        if (!e || e->kind != SC_K_ARRAY || e->dtype != SC_DT_STR)
            continue;
        n = sc_elem_count(e) < 200 ? sc_elem_count(e) : 200;
        for (int64_t i = 0; i < n; i++) {
            const char *s = sc_elem_str(e, i);

            if (s && !strncmp(s, "ENSMUSG", 7))
                mm++;
            else if (s && !strncmp(s, "ENSG", 4))
                hs++;
        }
        if (n >= 10 && hs >= n * 9 / 10) {
            snprintf(org, size, "NCBITaxon:9606");
            return;
        }
        if (n >= 10 && mm >= n * 9 / 10) {
            snprintf(org, size, "NCBITaxon:10090");
            return;
        }
    }
}

/* The organism of the dataset (sc_elem_organism: uns, else most cells of
 * obs), else from its genes. */
static void find_organism(const sc_adata *ad, char *org, size_t size)
{
    const char *s = sc_elem_organism(ad->uns, ad->obs, 0);

    snprintf(org, size, "%s", s ? s : "");
    if (!org[0])
        organism_from_genes(ad, org, size);
}

/* The result of one label, kept compact while the others are mapped (an
 * sc_match_res is some 400 bytes, mostly its strings, which few results
 * use): its strings, when one is not empty, are kept in a string arena as
 * "reason\0evidence\0demoted" at STR (NULL when all are empty). */
struct kept {
    sc_onto_term term; /* the term, for the columns */
    const char *str;
    /* the result up to its strings: tier, term, candidates, suggestions */
    unsigned char head[offsetof(sc_match_res, reason)];
};
/* HEAD holds every field but the strings only if the three strings end
 * sc_match_res, in this order, without a gap (but the struct's tail
 * padding). */
#define KEPT_END(f) (offsetof(sc_match_res, f) + sizeof(((sc_match_res *)0)->f))
_Static_assert(offsetof(sc_match_res, evidence) == KEPT_END(reason) &&
                   offsetof(sc_match_res, demoted) == KEPT_END(evidence) &&
                   sizeof(sc_match_res) - KEPT_END(demoted) <
                       _Alignof(sc_match_res),
               "struct kept: the strings must be the last fields of "
               "sc_match_res");

/* R into *K, its strings into A. 0 or SC_ENOMEM. */
static int keep(const sc_match_res *r, struct kept *k, sc_strarena *a)
{
    char buf[sizeof r->reason + sizeof r->evidence + sizeof r->demoted];
    const char *str[3] = {r->reason, r->evidence, r->demoted};
    size_t n = 0;

    k->term = r->term;
    memcpy(k->head, r, sizeof k->head);
    k->str = NULL;
    if (!*r->reason && !*r->evidence && !*r->demoted)
        return 0;
    for (int i = 0; i < 3; i++) {
        size_t m = strnlen(str[i], sizeof buf - n - 1);

        memcpy(buf + n, str[i], m);
        n += m;
        buf[n++] = '\0';
    }
    if (!(k->str = sc_strarena_dup(a, buf, n - 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    return 0;
}

/* The result K back into *R. */
static void unkeep(const struct kept *k, sc_match_res *r)
{
    memset(r, 0, sizeof *r);
    memcpy(r, k->head, sizeof k->head);
    if (k->str) {
        const char *p = k->str;

        snprintf(r->reason, sizeof r->reason, "%s", p);
        p += strlen(p) + 1;
        snprintf(r->evidence, sizeof r->evidence, "%s", p);
        p += strlen(p) + 1;
        snprintf(r->demoted, sizeof r->demoted, "%s", p);
    }
}

/* Map FIELD of AD (when it has a label column) into the obs columns and
 * the report J. ORG is the organism (may be updated by the organism
 * field). */
static int do_field(struct ctx *c, sc_adata *ad, int field, char *org,
                    size_t org_size, json_t *fields_j, int64_t *n_lab,
                    int64_t *n_map)
{
    const sc_onto *o = c->o;
    const char *fname = sc_match_field_name(field);
    const char *tcol = sc_match_field_column(field);
    char src[256], author[300];
    sc_elem *col, *e;
    struct labels l;
    struct kept *res = NULL;
    sc_strarena arena = {0};
    sc_match_res one_res;
    const char **ids = NULL, **labs = NULL;
    json_t *fj, *arr;
    int64_t mapped_cells = 0, n_mapped = 0;
    int rc, unknown_used = 0;
    double t0;

    if (field_off(c->a, field))
        return 0;
    if (sc_elem_get(ad->obs, tcol)) {
        json_object_set_new(
            fields_j, fname,
            json_pack("{s:s, s:s}", "status", "kept", "column", tcol));
        return 0;
    }
    if (!(col = find_column(c->a, ad->obs, field, src, sizeof src)))
        return 0;
    if ((rc = get_labels(col, ad->n_obs, &l)) < 0)
        return sc_fail_ctx(rc, "obs column '%s'", src);
    t0 = sc_mono_ns() * 1e-9;
    if (!(res = calloc((size_t)l.n + 1, sizeof *res))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t k = 0; k < l.n; k++) {
        if ((rc = sc_match_label(c->m, field, *org ? org : NULL, l.s[k],
                                 &one_res)) < 0 ||
            (rc = keep(&one_res, &res[k], &arena)) < 0)
            goto out;
        if (res[k].term != SC_ONTO_NONE) {
            n_mapped++;
            mapped_cells += l.count[k];
        }
    }
    c->t_map += sc_mono_ns() * 1e-9 - t0;
    *n_lab += l.n;
    *n_map += n_mapped;

    /* the report */
    arr = json_array();
    for (int64_t k = 0; arr && k < l.n; k++) {
        const sc_match_res *r = &one_res;
        char ev[160];
        json_t *lj;
        char cands[512] = "";
        size_t cu = 0;

        unkeep(&res[k], &one_res);
        lj = json_pack("{s:s, s:I, s:s, s:b, s:s}", "label", l.s[k], "n_cells",
                       (json_int_t)l.count[k], "tier",
                       sc_match_tier_name(r->tier), "confident",
                       sc_match_tier_is_confident(r->tier), "evidence",
                       sc_match_evidence(r, l.s[k], ev, sizeof ev));
        if (!lj)
            continue;
        if (r->term != SC_ONTO_NONE) {
            json_object_set_new(lj, "term_id",
                                json_string(sc_onto_id(o, r->term)));
            json_object_set_new(lj, "term_label",
                                json_string(sc_onto_label(o, r->term)));
            if (r->replaced)
                json_object_set_new(lj, "replaced_by", json_true());
        } else {
            json_object_set_new(lj, "term_id",
                                r->tier == SC_MATCH_UNKNOWN ||
                                        r->tier == SC_MATCH_USER
                                    ? json_string("unknown")
                                    : json_null());
            if (*r->reason)
                json_object_set_new(lj, "reason", json_string(r->reason));
        }
        if (r->n_cand) {
            json_t *ca = json_array();

            for (size_t q = 0; q < r->n_cand && q < SC_MATCH_MAX_CAND; q++) {
                json_array_append_new(ca, ann_term_ref(o, r->cand[q]));
                cu += (size_t)snprintf(
                    cands + cu, cu < sizeof cands ? sizeof cands - cu : 0,
                    "%s%s", q ? " " : "", sc_onto_id(o, r->cand[q]));
            }
            json_object_set_new(lj, "candidates", ca);
        }
        if (r->n_sugg) {
            json_t *sa = json_array();

            for (size_t q = 0; q < r->n_sugg; q++) {
                json_array_append_new(sa, ann_term_ref(o, r->sugg[q]));
                if (!r->n_cand)
                    cu += (size_t)snprintf(
                        cands + cu, cu < sizeof cands ? sizeof cands - cu : 0,
                        "%s%s", q ? " " : "", sc_onto_id(o, r->sugg[q]));
            }
            json_object_set_new(lj, "suggestions", sa);
        }
        json_array_append_new(arr, lj);
        if (c->tsv)
            fprintf(c->tsv, "%s\t%s\t%s\t%s\t%s\t%lld\t%s\t%s\n", fname, l.s[k],
                    r->term != SC_ONTO_NONE       ? sc_onto_id(o, r->term)
                    : r->tier == SC_MATCH_UNKNOWN ? "unknown"
                                                  : "",
                    r->term != SC_ONTO_NONE ? sc_onto_label(o, r->term) : "",
                    sc_match_tier_name(r->tier), (long long)l.count[k], cands,
                    sc_match_evidence(r, l.s[k], ev, sizeof ev));
    }
    fj = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:o}", "status", "mapped",
                   "column", src, "n_labels", (json_int_t)l.n, "n_mapped",
                   (json_int_t)n_mapped, "n_cells", (json_int_t)ad->n_obs,
                   "n_cells_mapped", (json_int_t)mapped_cells, "labels",
                   arr ? arr : json_array());
    json_object_set_new(fields_j, fname, fj);

    /* organism: into uns, not obs (schema 6+) */
    if (field == SC_FIELD_ORGANISM) {
        sc_onto_term one = SC_ONTO_NONE;
        int many = 0;

        for (int64_t k = 0; k < l.n; k++)
            if (l.count[k] && res[k].term != SC_ONTO_NONE) {
                if (one != SC_ONTO_NONE && one != res[k].term)
                    many = 1;
                one = res[k].term;
            }
        if (one != SC_ONTO_NONE && !many && !*org) {
            snprintf(org, org_size, "%s", sc_onto_id(o, one));
            if (!(e = sc_elem_new_string("organism_ontology_term_id", org)) ||
                (rc = sc_elem_add_take(ad->uns, e)) < 0) {
                rc = SC_ENOMEM;
                goto out;
            }
            json_object_set_new(fj, "uns", json_string(org));
        } else if (many) {
            json_object_set_new(fj, "warning",
                                json_string("several organisms: not set"));
        }
        rc = 0;
        goto out;
    }

    /* the columns: ids and labels per cell */
    ids = malloc(((size_t)ad->n_obs + 1) * sizeof *ids);
    labs = malloc(((size_t)ad->n_obs + 1) * sizeof *labs);
    if (!ids || !labs) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int64_t i = 0; i < ad->n_obs; i++) {
        int32_t k = l.codes[i];

        if (k >= 0 && res[k].term != SC_ONTO_NONE) {
            ids[i] = sc_onto_id(o, res[k].term);
            labs[i] = sc_onto_label(o, res[k].term);
        } else {
            ids[i] = labs[i] = "unknown";
            unknown_used = 1;
        }
    }
    if (unknown_used && !sc_match_field_unknown_ok(field))
        json_object_set_new(
            fj, "warning",
            json_string("'unknown' written where the schema does not allow "
                        "it: curate the unmapped labels"));
    /* keep the author column under another name when it has the label
     * column's name */
    if (!strcmp(src, fname)) {
        snprintf(author, sizeof author, "author_%s", fname);
        if (sc_elem_get(ad->obs, author))
            snprintf(author, sizeof author, "%s__author", fname);
        if (!(e = sc_elem_detach(ad->obs, src))) {
            rc = sc_fail(SC_EINVAL, "no column '%s'", src);
            goto out;
        }
        free(e->name);
        if (!(e->name = strdup(author))) {
            sc_elem_free(e);
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
        if ((rc = sc_elem_add_take(ad->obs, e)) < 0)
            goto out;
        json_object_set_new(fj, "author_column", json_string(author));
    }
    if (!(e = sc_elem_new_categorical_from_strings(tcol, ids, ad->n_obs, 1)) ||
        (rc = sc_elem_add_take(ad->obs, e)) < 0 ||
        !(e = sc_elem_new_categorical_from_strings(fname, labs, ad->n_obs,
                                                   1)) ||
        (rc = sc_elem_add_take(ad->obs, e)) < 0) {
        rc = rc < 0 ? rc : SC_ENOMEM;
        goto out;
    }
    rc = 0;
out:
    free(ids);
    free(labs);
    free(res);
    sc_strarena_release(&arena);
    labels_release(&l);
    return rc;
}

/* ---- provenance (sc-register(1), PROVENANCE) ---- */

static int add_provenance(const struct ctx *c, sc_adata *ad, const char *in,
                          const char *sha)
{
    int n = sc_onto_count(c->o), replaced, rc;
    const char **names = calloc((size_t)n + 1, sizeof *names);
    const char **versions = calloc((size_t)n + 1, sizeof *versions);
    sc_prov_step s = {"sc-annotate", SC_VERSION, c->a->cli->cmdline, sha, in,
                      names,         versions,   (size_t)n};

    if (!names || !versions) {
        free(names);
        free(versions);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (int i = 0; i < n; i++) {
        names[i] = sc_onto_name(c->o, i);
        versions[i] = sc_onto_version(c->o, i);
    }
    rc = sc_provenance_add(ad->uns, &s, &replaced);
    if (rc == 0 && replaced)
        sc_log_warn("'%s': uns['provenance'] was not a dict of steps: "
                    "replaced",
                    in);
    free(names);
    free(versions);
    return rc;
}

/* ---- one dataset ---- */

/* OUT = DIR/<base of IN without .h5ad/.h5/.loom><SUFFIX>. */
static void out_name(const char *dir, const char *in, const char *suffix,
                     char *out, size_t size)
{
    static const char *const exts[] = {".h5ad", ".h5", ".loom"};
    const char *b;
    size_t n = strlen(in);

    while (n > 1 && in[n - 1] == '/')
        n--;
    for (b = in + n; b > in && b[-1] != '/'; b--)
        ;
    n -= (size_t)(b - in);
    for (size_t k = 0; k < sizeof exts / sizeof *exts; k++) {
        size_t el = strlen(exts[k]);

        if (n > el && !strncmp(b + n - el, exts[k], el)) {
            n -= el;
            break;
        }
    }
    snprintf(out, size, "%s/%.*s%s", dir, (int)n, b, suffix);
}

static int write_json_file(const char *path, json_t *j)
{
    sc_atomic at;
    FILE *fp;
    int rc;

    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    if (json_dumpf(j, fp, JSON_INDENT(1) | JSON_PRESERVE_ORDER) != 0 ||
        fputc('\n', fp) == EOF)
        rc = sc_fail(SC_EIO, "cannot write '%s'", path);
    return sc_io_atomic_finish(&at, rc);
}

/* --pca: obsm X_pca from X when the dataset has no X_ embedding. */
static int add_embedding(const struct args *a, sc_adata *ad, json_t *rep)
{
    int64_t shape[2] = {ad->n_obs, a->pca};
    double *pcs;
    sc_elem *e;
    int rc;

    if (!a->pca || !ad->X || !ad->X->mat)
        return 0;
    for (size_t i = 0; ad->obsm && i < ad->obsm->n_child; i++)
        if (!strncmp(ad->obsm->child[i]->name, "X_", 2))
            return 0;
    if ((rc = sc_embed_pca(ad->X->mat, a->pca, &pcs)) < 0)
        return rc;
    if (!(e = sc_elem_new_array("X_pca", SC_DT_F32, 2, shape))) {
        free(pcs);
        return SC_ENOMEM;
    }
    for (int64_t i = 0; i < shape[0] * shape[1]; i++)
        ((float *)e->data)[i] = (float)pcs[i];
    free(pcs);
    if ((rc = sc_elem_add_take(ad->obsm, e)) < 0)
        return rc;
    json_object_set_new(
        rep, "embedding",
        json_pack("{s:s, s:i}", "obsm", "X_pca", "components", a->pca));
    return 0;
}

/* --submission: without what the portal adds, listed in the report. */
static int submission_form(const struct args *a, const sc_schema *s,
                           sc_adata *ad, json_t *rep)
{
    sc_schema_report r = SC_SCHEMA_REPORT_INIT;
    json_t *removed;
    int rc;

    if (!a->submission)
        return 0;
    if ((rc = sc_schema_strip_portal(s, ad, &r)) == 0 &&
        (removed = json_array())) {
        for (size_t i = 0; i < r.n; i++)
            json_array_append_new(removed, json_string(r.text[i]));
        json_object_set_new(rep, "submission", removed);
    }
    sc_schema_report_release(&r);
    return rc;
}

static int one(struct ctx *c, const char *in, sc_mrow *row)
{
    const struct args *a = c->a;
    char h5[4096], rp[4096], tp[4096], org[64], sha[SC_HASH_HEX_SIZE] = "";
    static const int order[SC_FIELD_N] = {
        SC_FIELD_ORGANISM,  SC_FIELD_CELL_TYPE, SC_FIELD_TISSUE,
        SC_FIELD_DISEASE,   SC_FIELD_ASSAY,     SC_FIELD_SEX,
        SC_FIELD_DEV_STAGE, SC_FIELD_ETHNICITY};
    sc_adata *ad = NULL;
    json_t *rep = NULL, *fj;
    sc_atomic at = {0};
    int64_t n_lab = 0, n_map = 0;
    double t0 = sc_mono_ns() * 1e-9, t_read, t_write = 0;
    sc_write_opts wo = SC_WRITE_OPTS_INIT;
    int rc;

    out_name(a->outdir, in, ".h5ad", h5, sizeof h5);
    out_name(a->outdir, in, ".annotate.json", rp, sizeof rp);
    out_name(a->outdir, in, ".labels.tsv", tp, sizeof tp);
    if (!strcmp(h5, in))
        return sc_fail(SC_EINVAL, "'%s': the output would replace the input",
                       in);
    if ((rc = sc_adata_probe(in, 0)) < 0 ||
        (rc = sc_adata_open(in, 0, &ad)) < 0)
        return rc;
    t_read = sc_mono_ns() * 1e-9 - t0;
    c->t_map = 0;
    find_organism(ad, org, sizeof org);
    if (!*org && a->organism)
        snprintf(org, sizeof org, "%s", a->organism);
    if ((rc = sc_io_atomic_open(tp, &at, &c->tsv)) < 0)
        goto out;
    fprintf(c->tsv, "field\tlabel\tterm_id\tterm_label\ttier\tn_cells\t"
                    "candidates\tevidence\n");
    fj = json_object();
    rep = json_pack("{s:s, s:s, s:s, s:I, s:I, s:o}", "input", in, "output",
                    a->dry_run ? "" : h5, "tool_version", SC_VERSION, "n_obs",
                    (json_int_t)ad->n_obs, "n_vars", (json_int_t)ad->n_vars,
                    "fields", fj);
    if (!rep) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    for (int k = 0; k < SC_FIELD_N; k++)
        if ((rc = do_field(c, ad, order[k], org, sizeof org, fj, &n_lab,
                           &n_map)) < 0) {
            rc = sc_fail_ctx(rc, "'%s'", in);
            goto out;
        }
    json_object_set_new(rep, "organism", json_string(org));
    {
        char ds[4096];
        json_t *filled = json_object();

        out_name(".", in, "", ds, sizeof ds);
        json_object_set_new(rep, "filled", filled);
        if ((rc = ann_fill(a, c->schema, c->o, ad, ds + 2, row, org, filled)) <
                0 ||
            (rc = add_embedding(a, ad, rep)) < 0 ||
            (rc = submission_form(a, c->schema, ad, rep)) < 0) {
            rc = sc_fail_ctx(rc, "'%s'", in);
            goto out;
        }
    }
    rc = sc_io_atomic_finish(&at, 0);
    c->tsv = NULL;
    if (rc < 0)
        goto out;
    if (!a->dry_run) {
        double t1 = sc_mono_ns() * 1e-9;

        if (a->cli->provenance) {
            /* the manifest's digest when the file is as it describes */
            if (sc_mrow_sha256(row, in, sha) < 0) {
                sc_log_warn("'%s': no input digest: %s", in, sc_errmsg());
                sc_err_clear();
                sha[0] = '\0';
            }
            if ((rc = add_provenance(c, ad, in, sha)) < 0)
                goto out;
        }
        wo.compress_level = a->compress_level;
        /* annotate changes obs, var and uns (and may add an embedding):
         * X, layers and raw are copied as the input stores them */
        wo.copy_stored = 1;
        if ((rc = sc_h5ad_write(ad, h5, &wo)) < 0)
            goto out;
        t_write = sc_mono_ns() * 1e-9 - t1;
    }
    json_object_set_new(rep, "seconds",
                        json_pack("{s:f, s:f, s:f}", "read", t_read, "map",
                                  c->t_map, "write", t_write));
    if ((rc = write_json_file(rp, rep)) < 0)
        goto out;
    sc_log_info("'%s': %lld labels, %lld mapped; read %.3f s, map %.3f s, "
                "write %.3f s",
                in, (long long)n_lab, (long long)n_map, t_read, c->t_map,
                t_write);
    if ((rc = sc_mrow_set(row, SC_MCOL_STATUS, "ok")) < 0 ||
        (rc = sc_mrow_set(row, SC_MCOL_SOURCE, in)) < 0 ||
        (rc = sc_mrow_set(row, SC_MCOL_REPORT, rp)) < 0 ||
        (rc = sc_mrow_set(row, SC_MCOL_LABELS, tp)) < 0 ||
        (rc = sc_mrow_set(row, SC_MCOL_ORGANISM, org)) < 0 ||
        (rc = sc_mrow_setf(row, SC_MCOL_N_OBS, "%lld", (long long)ad->n_obs)) <
            0 ||
        (rc = sc_mrow_setf(row, SC_MCOL_N_VARS, "%lld",
                           (long long)ad->n_vars)) < 0 ||
        (rc = sc_mrow_setf(row, SC_MCOL_N_LABELS, "%lld", (long long)n_lab)) <
            0 ||
        (rc = sc_mrow_setf(row, SC_MCOL_N_MAPPED, "%lld", (long long)n_map)) <
            0 ||
        (!a->dry_run && (rc = sc_mrow_set_output(row, h5)) < 0))
        goto out;
out:
    if (c->tsv)
        sc_io_atomic_abort(&at);
    c->tsv = NULL;
    json_decref(rep);
    sc_adata_close(ad);
    return rc;
}

static int one_row(void *ud, const char *in, sc_mrow *row)
{
    return one(ud, in, row);
}

int ann_open_matcher(const struct args *a, const sc_onto *o, sc_match **out)
{
    char path[4096];
    sc_match *m = NULL;
    int rc;

    if ((rc = sc_match_new(o, &m)) < 0)
        return rc;
    sc_match_set_suggestions(m, (int)a->suggestions);
    if (!a->curated) {
        if ((rc = sc_share_path("annotate/curated.tsv", path, sizeof path)) <
                0 ||
            (rc = sc_match_load_curated(m, path)) < 0)
            goto fail;
    } else if (*a->curated && (rc = sc_match_load_curated(m, a->curated)) < 0) {
        goto fail;
    }
    if (!a->crosswalk) {
        if ((rc = sc_share_path("annotate/crosswalk.tsv.gz", path,
                                sizeof path)) < 0 ||
            (rc = sc_match_load_crosswalk(m, path)) < 0)
            goto fail;
    } else if (*a->crosswalk &&
               (rc = sc_match_load_crosswalk(m, a->crosswalk)) < 0) {
        goto fail;
    }
    for (int i = 0; i < a->n_mapping; i++)
        if ((rc = sc_match_load_user(m, a->mapping[i])) < 0)
            goto fail;
    sc_log_info("%zu curated rules, %zu crosswalk rows, %zu user mappings",
                sc_match_n_curated(m), sc_match_n_crosswalk(m),
                sc_match_n_user(m));
    *out = m;
    return 0;
fail:
    sc_match_free(m);
    return rc;
}

int ann_cmd_annotate(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                     char **argv)
{
    static const char *const cols[] = {
        SC_MCOL_STATUS, SC_MCOL_REASON,   SC_MCOL_ORGANISM, SC_MCOL_N_OBS,
        SC_MCOL_N_VARS, SC_MCOL_N_LABELS, SC_MCOL_N_MAPPED, SC_MCOL_REPORT,
        SC_MCOL_LABELS, SC_MCOL_SOURCE};
    struct ctx c = {.a = a, .o = o};
    sc_manifest *mf = NULL;
    int rc, from_stdin, n_fail = 0, n_done = 0;

    from_stdin = argc == 0 || (argc == 1 && !strcmp(argv[0], "-"));
    if ((rc = sc_io_mkdir_p(a->outdir)) < 0)
        return rc;
    if ((rc = ann_open_matcher(a, o, &c.m)) < 0)
        return rc;
    if ((rc = sc_schema_load(NULL, &c.schema)) < 0) {
        sc_match_free(c.m);
        return rc;
    }
    rc = from_stdin ? sc_manifest_open("-", &mf) : sc_manifest_new(&mf);
    for (size_t i = 0; rc == 0 && i < sizeof cols / sizeof *cols; i++)
        rc = sc_manifest_add_col(mf, cols[i]);
    if (rc == 0)
        rc = sc_manifest_write_header(mf, fp);
    if (rc == 0)
        rc = sc_manifest_each(mf, from_stdin, argc, argv, fp, a->keep_going,
                              one_row, &c, &n_done, &n_fail);
    sc_manifest_free(mf);
    sc_match_free(c.m);
    sc_schema_free(c.schema);
    if (rc < 0)
        return rc;
    if (n_fail) {
        sc_log_warn("%d of %d datasets failed", n_fail, n_done);
        return SC_EXIT_PARTIAL;
    }
    return 0;
}
