/* sc_schema_features: the column types of obs, var and raw.var and the
 * feature ids of the var and raw.var index. */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "sc_io.h"
#include "sc_schema_int.h"
#include "sc_share.h"

/* ---- column types (obs, var, raw.var) ---- */

int sch_check_types(const sc_elem *df, const char *df_name, sc_schema_report *r)
{
    int rc = 0;

    for (size_t i = 0; rc == 0 && df && i < df->n_child; i++) {
        const sc_elem *e = df->child[i];

        if (e->kind == SC_K_NULLABLE && e->values) {
            int64_t n = sc_elem_count(e->values), m = 0;

            for (int64_t k = 0; e->mask && k < n; k++)
                m += e->mask[k] != 0;
            if (m && m < n)
                rc = sch_msg(
                    r, SC_SCHEMA_ERROR,
                    "Column '%s' in dataframe '%s' cannot contain mixed "
                    "types (%s and missing values).",
                    e->name, df_name, sc_dtype_name(e->values->dtype));
        } else if (e->kind == SC_K_CATEGORICAL && e->categories) {
            int64_t nc = sc_elem_count(e->categories);
            const int32_t *c = e->codes->data;
            unsigned char *used;

            if (strcmp(df_name, "obs") || nc <= 0)
                continue;
            if (!(used = calloc((size_t)nc, 1)))
                return sc_fail(SC_ENOMEM, "out of memory");
            for (int64_t k = 0; k < sc_elem_count(e->codes); k++)
                if (c[k] >= 0 && c[k] < nc)
                    used[c[k]] = 1;
            for (int64_t k = 0; rc == 0 && k < nc; k++)
                if (!used[k]) {
                    const char *v = sc_elem_str(e->categories, k);
                    char num[64];

                    if (!v) {
                        snprintf(num, sizeof num, "%g",
                                 sc_elem_num(e->categories, k));
                        v = num;
                    }
                    rc = sch_msg(r, SC_SCHEMA_WARNING,
                                 "Column '%s' in dataframe 'obs' contains a "
                                 "category '%s' with zero observations.",
                                 e->name, v);
                }
            free(used);
        }
    }
    return rc;
}

/* ---- feature ids (var and raw.var index) ---- */

/* The references of the validator that sc_genes has no species for: ids
 * only (file stem, organism; EXEMPT: its genes go with any organism, as
 * the validator's exempt organisms do). */
static const struct {
    const char *stem, *taxon;
    int exempt;
} other_refs[] = {
    {"sars_cov_2", "NCBITaxon:2697049", 1},
};
#define N_OTHER_REFS (sizeof other_refs / sizeof *other_refs)

void sch_genes_cache_free(struct genes_cache *gc)
{
    for (int i = 0; gc->g && i < gc->n; i++)
        sc_genes_free(gc->g[i]);
    free(gc->g);
    sc_strmap_release(&gc->other);
    for (size_t i = 0; i < gc->n_other; i++)
        free(gc->other_ids[i]);
    free(gc->other_ids);
}

/* Read the ids (first CSV field) of the other references. */
static int load_other_refs(struct genes_cache *gc)
{
    size_t cap = 0;
    int rc = 0;

    gc->other_loaded = 1;
    for (size_t r = 0; rc >= 0 && r < N_OTHER_REFS; r++) {
        char rel[256], path[4096], *line;
        sc_lines *l = NULL;
        size_t len;

        snprintf(rel, sizeof rel, "genes/cxg-gencode/schema-7/genes_%s.csv.gz",
                 other_refs[r].stem);
        if ((rc = sc_share_path(rel, path, sizeof path)) < 0 ||
            (rc = sc_lines_open(path, &l)) < 0)
            return rc;
        while ((rc = sc_lines_next(l, &line, &len)) == 1) {
            char **v;

            line[strcspn(line, ",")] = '\0';
            if (!*line)
                continue;
            if (gc->n_other == cap) {
                cap = cap ? 2 * cap : 4096;
                if (!(v = realloc(gc->other_ids, cap * sizeof *v))) {
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                    break;
                }
                gc->other_ids = v;
            }
            if (!(gc->other_ids[gc->n_other] = strdup(line))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                break;
            }
            if ((rc = sc_strmap_put(&gc->other, gc->other_ids[gc->n_other++],
                                    (int64_t)r)) < 0)
                break;
        }
        sc_lines_close(l);
    }
    return rc < 0 ? rc : 0;
}

/* Whether the species TAXON is ORGANISM or one of its ancestors. */
static int taxon_covers(const sc_onto *o, const char *taxon,
                        const char *organism)
{
    sc_onto_term t, a;

    if (!strcmp(taxon, organism))
        return 1;
    t = sc_onto_find(o, organism);
    a = sc_onto_find(o, taxon);
    return t != SC_ONTO_NONE && a != SC_ONTO_NONE && sc_onto_is_a(o, t, a);
}

#define MAX_FEATURE_MESSAGES 20

int sch_check_features(const sc_onto *o, const sc_elem *df, const char *df_name,
                       const char *organism, struct genes_cache *gc,
                       sc_schema_report *r)
{
    const sc_elem *ix = df ? df->index : NULL;
    int64_t n, bad = 0;
    unsigned char foreign[64] = {0}, foreign_other[N_OTHER_REFS] = {0};
    int rc = 0;

    if (!ix || ix->kind != SC_K_ARRAY || ix->dtype != SC_DT_STR)
        return 0;
    if (!gc->g) {
        gc->n = sc_genes_n_species();
        if (!(gc->g = calloc((size_t)gc->n, sizeof *gc->g)))
            return sc_fail(SC_ENOMEM, "out of memory");
    }
    n = sc_elem_count(ix);
    for (int64_t i = 0; i < n; i++) {
        const char *id = sc_elem_str(ix, i);
        int sp = sc_genes_species_of_id(id);
        int64_t k = -1;

        if (sc_genes_is_spike_in(id))
            continue;
        if (sp < 0) { /* SARS-CoV-2 */
            int64_t ref;

            if (!gc->other_loaded && (rc = load_other_refs(gc)) < 0)
                return rc;
            if ((ref = sc_strmap_get(&gc->other, id)) >= 0) {
                if (organism && !other_refs[ref].exempt &&
                    !taxon_covers(o, other_refs[ref].taxon, organism))
                    foreign_other[ref] = 1;
                continue;
            }
        }
        if (sp >= 0 && !gc->g[sp] &&
            (rc = sc_genes_load(sp, SC_GENES_NO_RETIRED | SC_GENES_NO_HGNC,
                                &gc->g[sp])) < 0)
            return rc;
        if (sp >= 0)
            k = sc_genes_find_id(gc->g[sp], id);
        if (k < 0 || k >= sc_genes_n_current(gc->g[sp])) {
            if (bad++ < MAX_FEATURE_MESSAGES &&
                (rc =
                     sch_msg(r, SC_SCHEMA_ERROR,
                             "Could not infer organism from feature ID '%s' in "
                             "'%s', make sure it is a valid ID.",
                             id, df_name)) < 0)
                return rc;
            continue;
        }
        if (organism && sp < 64 &&
            !taxon_covers(o, sc_genes_species(sp)->taxon, organism))
            foreign[sp] = 1;
    }
    if (bad > MAX_FEATURE_MESSAGES &&
        (rc = sch_msg(r, SC_SCHEMA_ERROR,
                      "%lld more feature IDs in '%s' are not in any gene "
                      "reference.",
                      (long long)(bad - MAX_FEATURE_MESSAGES), df_name)) < 0)
        return rc;
    for (size_t k = 0; k < N_OTHER_REFS; k++)
        if (foreign_other[k] &&
            (rc = sch_msg(r, SC_SCHEMA_ERROR,
                          "uns['organism_ontology_term_id'] is '%s' but "
                          "feature_ids are from %s (%s).",
                          organism, other_refs[k].taxon, other_refs[k].stem)) <
                0)
            return rc;
    for (int sp = 0; sp < gc->n && sp < 64; sp++)
        if (foreign[sp] &&
            (rc = sch_msg(r, SC_SCHEMA_ERROR,
                          "uns['organism_ontology_term_id'] is '%s' but "
                          "feature_ids are from %s (%s).",
                          organism, sc_genes_species(sp)->taxon,
                          sc_genes_species(sp)->name)) < 0)
            return rc;
    return 0;
}

int sch_check_var_labels(const sc_ynode *comp, const sc_elem *df,
                         const char *df_name, sc_schema_report *r)
{
    const sc_ynode *al =
        sc_ytree_get(sc_ytree_get(comp, "index"), "add_labels");
    int rc = 0;

    for (size_t i = 0; rc == 0 && al && al->kind == SC_Y_SEQ && i < al->n;
         i++) {
        const char *to = sc_ytree_str(al->items[i], "to_column");

        if (to && df && sc_elem_get(df, to))
            rc = sch_msg(
                r, SC_SCHEMA_ERROR,
                "Add labels error: Column '%s' is a reserved column name "
                "of '%s'. Remove it from h5ad and try again.",
                to, df_name);
    }
    return rc;
}
