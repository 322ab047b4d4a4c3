/* sc-annotate annotate: obs fields set by the user (--set, --set-file, a
 * manifest column) or filled by rule from the others, so that the output
 * can be schema-valid. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc-annotate.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_schema.h"
#include "sc_ytree.h"

/* Fields a manifest column of the same name sets. */
static const char *const manifest_fields[] = {"donor_id", "suspension_type",
                                              "tissue_type", "is_primary_data"};

/* The uns keys --set may set (the rest are obs columns). */
static const char *const uns_keys[] = {"title"};

static int is_uns_key(const char *k)
{
    for (size_t i = 0; i < sizeof uns_keys / sizeof *uns_keys; i++)
        if (!strcmp(k, uns_keys[i]))
            return 1;
    return 0;
}

/* Parse "true"/"false" (and 1/0, yes/no). -1 otherwise. */
static int parse_bool(const char *v)
{
    if (!strcasecmp(v, "true") || !strcmp(v, "1") || !strcasecmp(v, "yes"))
        return 1;
    if (!strcasecmp(v, "false") || !strcmp(v, "0") || !strcasecmp(v, "no"))
        return 0;
    return -1;
}

int ann_check_set(const char *arg)
{
    const char *eq = strchr(arg, '=');

    if (!eq || eq == arg)
        return sc_fail(SC_EINVAL, "expected KEY=VALUE, not '%s'", arg);
    if (!strncmp(arg, "is_primary_data=", 16) && parse_bool(eq + 1) < 0)
        return sc_fail(SC_EINVAL,
                       "is_primary_data: expected true or false, "
                       "not '%s'",
                       eq + 1);
    return 0;
}

/* Set KEY to VALUE in AD: an uns string, a bool column, or a constant
 * categorical obs column (replacing one of the same name). */
static int set_value(sc_adata *ad, const char *key, const char *value,
                     const char *how, json_t *rep)
{
    sc_elem *e;
    int rc;

    if (is_uns_key(key)) {
        if (!(e = sc_elem_new_string(key, value)))
            return SC_ENOMEM;
        if ((rc = sc_elem_add_take(ad->uns, e)) < 0)
            return rc;
    } else if (!strcmp(key, "is_primary_data")) {
        int64_t n = ad->n_obs;
        int b = parse_bool(value);

        if (b < 0)
            return sc_fail(SC_EINVAL,
                           "is_primary_data: expected true or "
                           "false, not '%s'",
                           value);
        if (!(e = sc_elem_new_array(key, SC_DT_BOOL, 1, &n)))
            return SC_ENOMEM;
        memset(e->data, b, (size_t)n);
        if ((rc = sc_elem_add_take(ad->obs, e)) < 0)
            return rc;
    } else {
        const char **v = malloc(((size_t)ad->n_obs + 1) * sizeof *v);

        if (!v)
            return sc_fail(SC_ENOMEM, "out of memory");
        for (int64_t i = 0; i < ad->n_obs; i++)
            v[i] = value;
        e = sc_elem_new_categorical_from_strings(key, v, ad->n_obs, 1);
        free(v);
        if (!e)
            return SC_ENOMEM;
        if ((rc = sc_elem_add_take(ad->obs, e)) < 0)
            return rc;
    }
    json_object_set_new(rep, key,
                        json_pack("{s:s, s:s}", "value", value, "by", how));
    return 0;
}

/* The per-dataset values of --set-file for DATASET: YAML (dataset ->
 * {key: value}, "*" for every dataset) or TSV (a "dataset" column, the
 * others keys). */
static int apply_set_file(const char *path, const char *dataset, sc_adata *ad,
                          json_t *rep)
{
    size_t plen = strlen(path);
    int rc = 0;

    if ((plen > 5 && !strcmp(path + plen - 5, ".yaml")) ||
        (plen > 4 && !strcmp(path + plen - 4, ".yml"))) {
        sc_ynode *root = NULL;

        if ((rc = sc_ytree_load(path, &root)) < 0)
            return rc;
        if (root->kind != SC_Y_MAP) {
            sc_ytree_free(root);
            return sc_fail(SC_EFORMAT, "'%s': expected a mapping of datasets",
                           path);
        }
        for (int pass = 0; pass < 2 && rc == 0; pass++)
            for (size_t i = 0; rc == 0 && i < root->n; i++) {
                const sc_ynode *v = root->items[i];

                if (strcmp(root->keys[i], pass ? dataset : "*"))
                    continue;
                if (v->kind != SC_Y_MAP) {
                    rc = sc_fail(SC_EFORMAT,
                                 "'%s' line %d: expected a mapping "
                                 "of fields",
                                 path, v->line);
                    break;
                }
                for (size_t k = 0; rc == 0 && k < v->n; k++)
                    rc = v->items[k]->kind == SC_Y_SCALAR
                             ? set_value(ad, v->keys[k], v->items[k]->str,
                                         "set-file", rep)
                             : sc_fail(SC_EFORMAT,
                                       "'%s' line %d: expected a value", path,
                                       v->items[k]->line);
            }
        sc_ytree_free(root);
        return rc;
    }
    {
        sc_lines *in = NULL;
        char *line, *hdr = NULL, *f[64], *h[64];
        size_t len;
        int nh = 0, cd = -1;

        if ((rc = sc_lines_open(path, &in)) < 0)
            return rc;
        while (rc == 0 && (rc = sc_lines_next(in, &line, &len)) > 0) {
            int nf = 0;

            if (!*line || *line == '#')
                continue;
            if (!hdr) {
                if (!(hdr = strdup(line))) {
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                    break;
                }
                for (char *p = hdr; p && nh < 64; nh++) {
                    h[nh] = p;
                    if ((p = strchr(p, '\t')))
                        *p++ = '\0';
                }
                for (int k = 0; k < nh; k++)
                    if (!strcmp(h[k], "dataset"))
                        cd = k;
                if (cd < 0)
                    rc = sc_fail(SC_EFORMAT,
                                 "'%s' line %ld: no column 'dataset'", path,
                                 sc_lines_lineno(in));
                continue;
            }
            for (char *p = line; p && nf < 64; nf++) {
                f[nf] = p;
                if ((p = strchr(p, '\t')))
                    *p++ = '\0';
            }
            if (nf <= cd || strcmp(f[cd], dataset))
                continue;
            for (int k = 0; rc == 0 && k < nf && k < nh; k++)
                if (k != cd && *f[k])
                    rc = set_value(ad, h[k], f[k], "set-file", rep);
            if (rc < 0)
                rc =
                    sc_fail_ctx(rc, "'%s' line %ld", path, sc_lines_lineno(in));
        }
        free(hdr);
        sc_lines_close(in);
        return rc < 0 ? rc : 0;
    }
}

/* The one value of VALUES that passes the schema for column COL in this
 * context, or NULL when none or several do. */
static const char *only_valid(const sc_schema *s, const sc_onto *o,
                              const char *col, const char *const *values,
                              size_t n, const char *org, const char *tt,
                              const char *assay)
{
    const char *one = NULL;

    for (size_t k = 0; k < n; k++) {
        sc_schema_report r = SC_SCHEMA_REPORT_INIT;
        int ok = sc_schema_check_value(s, o, col, values[k], org, tt, assay,
                                       &r) == 0 &&
                 r.n_errors == 0 && r.n_warnings == 0;

        sc_err_clear();
        sc_schema_report_release(&r);
        if (ok) {
            if (one)
                return NULL;
            one = values[k];
        }
    }
    return one;
}

/* suspension_type from the assay, per cell, when the schema allows one
 * value: filled when the dataset has none (0 with nothing done when a
 * cell's assay allows several), and a value the schema refuses for the
 * cell's assay replaced by the one it allows ('cell' for a 10x multiome
 * cell, which must be 'nucleus'). */
static int fill_suspension(const sc_schema *s, const sc_onto *o, sc_adata *ad,
                           const char *org, json_t *rep)
{
    static const char *const vals[] = {"cell", "nucleus", "na"};
    const sc_elem *assay = sc_elem_get(ad->obs, "assay_ontology_term_id");
    const sc_elem *old = sc_elem_get(ad->obs, "suspension_type");
    const char **v, *fixed = NULL;
    int64_t replaced = 0;
    sc_elem *e;
    int rc;

    if (!assay || !ad->n_obs)
        return 0;
    if (!(v = malloc((size_t)ad->n_obs * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < ad->n_obs; i++) {
        const char *a = sc_elem_str(assay, i), *cur = sc_elem_str(old, i);

        if (!i || !a || !sc_elem_str(assay, i - 1) ||
            strcmp(a, sc_elem_str(assay, i - 1)))
            fixed =
                a ? only_valid(s, o, "suspension_type", vals, 3, org, NULL, a)
                  : NULL;
        if (!fixed && !old) {
            free(v);
            json_object_set_new(
                rep, "suspension_type",
                json_pack("{s:s}", "by",
                          "not filled: the assay allows several values; "
                          "--set suspension_type=..."));
            return 0;
        }
        v[i] = fixed ? fixed : cur;
        if (old && fixed && (!cur || strcmp(cur, fixed)))
            replaced++;
    }
    if (old && !replaced) {
        free(v);
        return 0;
    }
    e = sc_elem_new_categorical_from_strings("suspension_type", v, ad->n_obs,
                                             1);
    free(v);
    if (!e || (rc = sc_elem_add_take(ad->obs, e)) < 0)
        return SC_ENOMEM;
    if (old)
        json_object_set_new(
            rep, "suspension_type",
            json_pack("{s:s, s:I}", "by",
                      "rule: the assay allows only this value; the "
                      "dataset's value replaced",
                      "n_cells", (json_int_t)replaced));
    else
        json_object_set_new(rep, "suspension_type",
                            json_pack("{s:s}", "by", "rule: the assay"));
    return 0;
}

/* tissue_type: "tissue", or what the tissue label says. */
static const char *tissue_type_of(const char *label)
{
    static const char *const words[][2] = {{"organoid", "organoid"},
                                           {"cell culture", "cell culture"},
                                           {"cell line", "cell culture"},
                                           {"culture", "cell culture"}};

    for (size_t k = 0; label && k < sizeof words / sizeof *words; k++)
        for (const char *p = label; *p; p++)
            if (!strncasecmp(p, words[k][0], strlen(words[k][0])))
                return words[k][1];
    return "tissue";
}

static int fill_tissue_type(sc_adata *ad, json_t *rep)
{
    const sc_elem *lab = sc_elem_get(ad->obs, "tissue");
    const sc_elem *ids = sc_elem_get(ad->obs, "tissue_ontology_term_id");
    const char **v;
    sc_elem *e;
    int rc;

    if (!ids)
        return 0;
    if (!(v = malloc(((size_t)ad->n_obs + 1) * sizeof *v)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < ad->n_obs; i++)
        v[i] = tissue_type_of(sc_elem_str(lab, i));
    e = sc_elem_new_categorical_from_strings("tissue_type", v, ad->n_obs, 1);
    free(v);
    if (!e || (rc = sc_elem_add_take(ad->obs, e)) < 0)
        return SC_ENOMEM;
    json_object_set_new(
        rep, "tissue_type",
        json_pack("{s:s}", "by",
                  "rule: tissue unless the tissue label says organoid or "
                  "cell culture"));
    return 0;
}

/* The value of obs column COL when every one of N cells has it, else
 * NULL. */
static const char *one_value(const sc_elem *col, int64_t n)
{
    const char *first = n ? sc_elem_str(col, 0) : NULL;

    for (int64_t i = 1; first && i < n; i++) {
        const char *v = sc_elem_str(col, i);

        if (!v || strcmp(v, first))
            return NULL;
    }
    return first;
}

int ann_fill(const struct args *a, const sc_schema *s, const sc_onto *o,
             sc_adata *ad, const char *dataset, const sc_mrow *row,
             const char *org, json_t *rep)
{
    static const char *const unknown_cols[] = {
        "self_reported_ethnicity_ontology_term_id",
        "development_stage_ontology_term_id", "sex_ontology_term_id"};
    static const char *const unk[] = {"unknown", "na"};
    const char *tt;
    int rc;

    /* the user's values: manifest columns, the file, then --set */
    for (size_t k = 0;
         row && k < sizeof manifest_fields / sizeof *manifest_fields; k++) {
        const char *v = sc_mrow_get(row, manifest_fields[k]);

        if (v && *v &&
            (rc = set_value(ad, manifest_fields[k], v, "manifest", rep)) < 0)
            return rc;
    }
    if (a->set_file && (rc = apply_set_file(a->set_file, dataset, ad, rep)) < 0)
        return rc;
    for (int k = 0; k < a->n_set; k++) {
        const char *eq = strchr(a->set[k], '=');
        char key[256];

        snprintf(key, sizeof key, "%.*s", (int)(eq - a->set[k]), a->set[k]);
        if ((rc = set_value(ad, key, eq + 1, "set", rep)) < 0)
            return rc;
    }
    for (int k = 0; k < a->n_default; k++) {
        const char *eq = strchr(a->defaults[k], '=');
        char key[256];

        snprintf(key, sizeof key, "%.*s", (int)(eq - a->defaults[k]),
                 a->defaults[k]);
        if (sc_elem_get(is_uns_key(key) ? ad->uns : ad->obs, key))
            continue;
        if ((rc = set_value(ad, key, eq + 1, "default", rep)) < 0)
            return rc;
    }
    if (a->no_fill)
        return 0;
    /* rules for the fields that follow from others */
    if (!sc_elem_get(ad->obs, "tissue_type") &&
        (rc = fill_tissue_type(ad, rep)) < 0)
        return rc;
    if ((rc = fill_suspension(s, o, ad, org, rep)) < 0)
        return rc;
    tt = one_value(sc_elem_get(ad->obs, "tissue_type"), ad->n_obs);
    for (size_t k = 0; *org && k < sizeof unknown_cols / sizeof *unknown_cols;
         k++) {
        const char *v;

        if (sc_elem_get(ad->obs, unknown_cols[k]))
            continue;
        if ((v = only_valid(s, o, unknown_cols[k], unk, 2, org, tt, NULL)) &&
            (rc = set_value(ad, unknown_cols[k], v,
                            "rule: the schema allows "
                            "only this when not known",
                            rep)) < 0)
            return rc;
    }
    return 0;
}
