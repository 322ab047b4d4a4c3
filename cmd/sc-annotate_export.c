/* sc-annotate export: vocabularies, hierarchies and distances for training. */
/* SPDX-License-Identifier: MIT */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc-annotate.h"
#include "sc_adata.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_match.h"
#include "sc_share.h"
#include "sc_vocab.h"

/* Per field: the cells of each term used, over all datasets. */
struct used {
    int64_t *cells;    /* per term of the handle (lazily allocated) */
    int64_t n_unknown; /* "unknown", "na", missing, or not a loaded term */
    int64_t n_cells;
    int seen; /* some dataset has the field */
};

static int count_value(const sc_onto *o, struct used *u, const char *v,
                       int64_t n, const char *path, const char *col)
{
    char buf[256];
    const char *p = v;

    u->n_cells += n;
    if (!strcmp(v, "unknown") || !strcmp(v, "na") || !*v) {
        u->n_unknown += n;
        return 0;
    }
    while (p) { /* " || " joins several terms: each counts */
        const char *q = strstr(p, " || ");
        size_t len = q ? (size_t)(q - p) : strlen(p);
        sc_onto_term t;

        snprintf(buf, sizeof buf, "%.*s", (int)len, p);
        t = sc_onto_find(o, buf);
        if (t != SC_ONTO_NONE && sc_onto_is_deprecated(o, t)) {
            sc_onto_term r;
            int steps;

            if (sc_onto_resolve(o, t, &r, &steps) < 0)
                t = SC_ONTO_NONE;
            else
                t = r;
            sc_err_clear();
        }
        if (t == SC_ONTO_NONE) {
            sc_log_warn("'%s': %s: '%s' is not a term of the loaded "
                        "ontologies: counted as unknown",
                        path, col, buf);
            u->n_unknown += n;
        } else {
            u->cells[t] += n;
        }
        p = q ? q + 4 : NULL;
    }
    return 0;
}

static int count_dataset(const sc_onto *o, struct used *used, int *fields,
                         int n_fields, const char *path)
{
    sc_adata *ad = NULL;
    int rc;

    if ((rc = sc_adata_probe(path, 0)) < 0 ||
        (rc = sc_adata_open(path, 0, &ad)) < 0)
        return rc;
    for (int k = 0; k < n_fields && rc == 0; k++) {
        const char *col = sc_match_field_column(fields[k]);
        const sc_elem *e = sc_elem_get(ad->obs, col);
        struct used *u = &used[k];

        if (!e && fields[k] == SC_FIELD_ORGANISM) {
            const sc_elem *s = sc_elem_get(ad->uns, col);

            if (s && s->kind == SC_K_ARRAY && s->dtype == SC_DT_STR) {
                u->seen = 1;
                rc = count_value(o, u, sc_elem_str(s, 0), ad->n_obs, path, col);
            }
            continue;
        }
        if (!e)
            continue;
        u->seen = 1;
        if (e->kind == SC_K_CATEGORICAL && e->categories->dtype == SC_DT_STR) {
            int64_t nc = sc_elem_count(e->categories), *cnt;
            const int32_t *codes = e->codes->data;

            if (!(cnt = calloc((size_t)nc + 1, sizeof *cnt)))
                return sc_fail(SC_ENOMEM, "out of memory");
            for (int64_t i = 0; i < ad->n_obs; i++)
                cnt[codes[i] >= 0 && codes[i] < nc ? codes[i] : nc]++;
            for (int64_t c = 0; c < nc && rc == 0; c++)
                if (cnt[c])
                    rc = count_value(o, u, sc_elem_str(e->categories, c),
                                     cnt[c], path, col);
            u->n_unknown += cnt[nc];
            u->n_cells += cnt[nc];
            free(cnt);
        } else if (e->kind == SC_K_ARRAY && e->dtype == SC_DT_STR) {
            for (int64_t i = 0; i < ad->n_obs && rc == 0; i++)
                rc = count_value(o, u, sc_elem_str(e, i), 1, path, col);
        } else {
            sc_log_warn("'%s': obs column '%s' is not a string column: "
                        "skipped",
                        path, col);
        }
    }
    sc_adata_close(ad);
    return rc;
}

/* ---- .npy (NumPy format 1.0) ---- */

/* Write a C-order array of SHAPE (rank 1 or 2) with dtype DESCR ("<i2",
 * "<i4", "|u1") from DATA of N*ITEM bytes. */
static int write_npy(const char *path, const char *descr, int rank,
                     const int64_t *shape, const void *data, size_t item)
{
    char hdr[256];
    int len;
    size_t n = 1;
    sc_atomic at;
    FILE *fp;
    int rc;

    if (rank == 1)
        len = snprintf(hdr, sizeof hdr,
                       "{'descr': '%s', 'fortran_order': False, 'shape': "
                       "(%lld,), }",
                       descr, (long long)shape[0]);
    else
        len = snprintf(hdr, sizeof hdr,
                       "{'descr': '%s', 'fortran_order': False, 'shape': "
                       "(%lld, %lld), }",
                       descr, (long long)shape[0], (long long)shape[1]);
    /* pad so that magic (6) + version (2) + length (2) + header is a
     * multiple of 64, ending in '\n' */
    while ((10 + len + 1) % 64)
        hdr[len++] = ' ';
    hdr[len++] = '\n';
    for (int k = 0; k < rank; k++)
        n *= (size_t)shape[k];
    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    if (fwrite("\x93NUMPY\x01\x00", 1, 8, fp) != 8 ||
        fputc(len & 0xff, fp) == EOF || fputc(len >> 8, fp) == EOF ||
        fwrite(hdr, 1, (size_t)len, fp) != (size_t)len ||
        (n && fwrite(data, item, n, fp) != n))
        rc = sc_fail(SC_EIO, "cannot write '%s'", path);
    return sc_io_atomic_finish(&at, rc);
}

/* ---- one field ---- */

static const char *coarse_list(int field)
{
    switch (field) {
    case SC_FIELD_CELL_TYPE:
        return "ontology/cxg-guide/lists/cell_class_list.json";
    case SC_FIELD_TISSUE:
        return "ontology/cxg-guide/lists/tissue_general_list.json";
    default: return NULL;
    }
}

/* The terms of a CELLxGENE list file (a JSON array of ids). */
static int read_list(const sc_onto *o, const char *rel, sc_onto_term **out,
                     size_t *n)
{
    char path[4096];
    json_error_t je;
    json_t *j;
    size_t k;
    json_t *v;
    int rc;

    *out = NULL;
    *n = 0;
    if ((rc = sc_share_path(rel, path, sizeof path)) < 0)
        return rc;
    if (!(j = json_load_file(path, 0, &je)) || !json_is_array(j)) {
        json_decref(j);
        return sc_fail(SC_EFORMAT, "'%s': %s", path,
                       j ? "not a JSON array" : je.text);
    }
    if (!(*out = calloc(json_array_size(j) + 1, sizeof **out))) {
        json_decref(j);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    json_array_foreach(j, k, v)
    {
        sc_onto_term t = json_is_string(v)
                             ? sc_onto_find(o, json_string_value(v))
                             : SC_ONTO_NONE;
        if (t != SC_ONTO_NONE)
            (*out)[(*n)++] = t;
    }
    json_decref(j);
    return 0;
}

/* The closest member of LIST that is T or an ancestor of T. */
static sc_onto_term coarse_of(const sc_onto *o, sc_onto_term t,
                              const sc_onto_term *list, size_t n)
{
    sc_onto_term best = SC_ONTO_NONE;
    int bd = 1 << 30;

    for (size_t k = 0; k < n; k++) {
        int d = sc_onto_ancestor_dist(o, t, list[k]);

        if (d >= 0 && (d < bd || (d == bd && list[k] < best))) {
            bd = d;
            best = list[k];
        }
    }
    return best;
}

static int cmp_term(const void *a, const void *b)
{
    sc_onto_term x = *(const sc_onto_term *)a, y = *(const sc_onto_term *)b;

    return x < y ? -1 : x > y;
}

static int export_field(const struct args *a, const sc_onto *o, int field,
                        const struct used *u, FILE *summary)
{
    const char *fname = sc_match_field_name(field);
    int64_t nt = sc_onto_n_terms(o), nu = 0, nl = 0, np = 0, nv;
    sc_onto_term *leaves = NULL, *parents = NULL, *voc = NULL, *clist = NULL;
    int32_t *code = NULL, *lca = NULL;
    sc_vocab_term *vt = NULL;
    int16_t *dist = NULL;
    uint8_t *inset = NULL, *hier = NULL;
    size_t ncl = 0;
    char path[4096];
    sc_atomic at = {0};
    FILE *fp = NULL;
    int rc = 0;

    if (!(inset = calloc((size_t)nt, 1)) ||
        !(code = malloc((size_t)nt * sizeof *code)))
        goto oom;
    /* used terms; leaves have no used descendant */
    for (int64_t t = 0; t < nt; t++) {
        code[t] = -1;
        if (u->cells[t]) {
            inset[t] = 1;
            nu++;
        }
    }
    for (int64_t t = 0; t < nt; t++) { /* ancestors of used terms: parents */
        sc_onto_link *anc = NULL;
        size_t n = 0;

        if (!u->cells[t])
            continue;
        if ((rc = sc_onto_ancestors(o, (sc_onto_term)t, &anc, &n)) < 0)
            goto out;
        for (size_t k = 0; k < n; k++)
            inset[anc[k].term] |= 2; /* an ancestor of a used term */
        free(anc);
    }
    if (!(leaves = malloc(((size_t)nu + 1) * sizeof *leaves)))
        goto oom;
    for (int64_t t = 0; t < nt; t++)
        if (inset[t] & 2)
            np++;
        else if (inset[t] & 1)
            leaves[nl++] = (sc_onto_term)t;
    if (!(parents = malloc(((size_t)np + 1) * sizeof *parents)))
        goto oom;
    np = 0;
    for (int64_t t = 0; t < nt; t++)
        if (inset[t] & 2)
            parents[np++] = (sc_onto_term)t;
    nv = nl + np;
    if (!(voc = malloc(((size_t)nv + 1) * sizeof *voc)))
        goto oom;
    memcpy(voc, leaves, (size_t)nl * sizeof *voc);
    memcpy(voc + nl, parents, (size_t)np * sizeof *voc);
    qsort(voc, (size_t)nl, sizeof *voc, cmp_term); /* already sorted */
    for (int64_t k = 0; k < nv; k++)
        code[voc[k]] = (int32_t)k;
    if (a->coarse && coarse_list(field) &&
        (rc = read_list(o, coarse_list(field), &clist, &ncl)) < 0)
        goto out;

    /* vocabulary */
    if (!(vt = calloc((size_t)nv + 1, sizeof *vt)))
        goto oom;
    for (int64_t k = 0; k < nv; k++) {
        sc_onto_term t = voc[k], c;

        vt[k] = (sc_vocab_term){sc_onto_id(o, t),
                                sc_onto_label(o, t),
                                k < nl,
                                sc_onto_depth(o, t),
                                u->cells[t],
                                NULL,
                                NULL};
        if (clist && (c = coarse_of(o, t, clist, ncl)) != SC_ONTO_NONE) {
            vt[k].coarse_id = sc_onto_id(o, c);
            vt[k].coarse_label = sc_onto_label(o, c);
        }
    }
    if ((rc = sc_vocab_path(path, sizeof path, a->outdir, fname)) < 0 ||
        (rc = sc_vocab_write(path, vt, (size_t)nv, u->n_unknown,
                             clist != NULL)) < 0)
        goto out;

    /* hierarchy: parents x leaves */
    if (!(hier = calloc((size_t)(np * nl) + 1, 1)))
        goto oom;
    snprintf(path, sizeof path, "%s/hierarchy_%s.tsv", a->outdir, fname);
    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        goto out;
    fprintf(fp, "parent_code\tleaf_code\tdistance\n");
    for (int64_t p = 0; p < np; p++)
        for (int64_t l = 0; l < nl; l++) {
            int d = sc_onto_ancestor_dist(o, leaves[l], parents[p]);

            if (d > 0) {
                hier[p * nl + l] = 1;
                fprintf(fp, "%lld\t%lld\t%d\n", (long long)(nl + p),
                        (long long)l, d);
            }
        }
    if ((rc = sc_io_atomic_finish(&at, 0)) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/hierarchy_%s.npy", a->outdir, fname);
    if ((rc = write_npy(path, "|u1", 2, (int64_t[]){np, nl}, hier, 1)) < 0)
        goto out;

    /* distances and lowest common ancestors over all codes */
    if (!(dist = malloc(((size_t)(nv * nv) + 1) * sizeof *dist)) ||
        !(lca = malloc(((size_t)(nv * nv) + 1) * sizeof *lca)))
        goto oom;
    snprintf(path, sizeof path, "%s/distance_%s.tsv", a->outdir, fname);
    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        goto out;
    fprintf(fp, "code_a\tcode_b\tdistance\tlca_code\tlca_id\n");
    for (int64_t i = 0; i < nv; i++)
        for (int64_t j = i; j < nv; j++) {
            sc_onto_term c;
            int d = sc_onto_distance(o, voc[i], voc[j], &c);
            int32_t cc = c != SC_ONTO_NONE ? code[c] : -1;

            dist[i * nv + j] = dist[j * nv + i] = (int16_t)d;
            lca[i * nv + j] = lca[j * nv + i] = cc;
            if (i < j && u->cells[voc[i]] && u->cells[voc[j]])
                fprintf(fp, "%lld\t%lld\t%d\t%d\t%s\n", (long long)i,
                        (long long)j, d, cc,
                        c != SC_ONTO_NONE ? sc_onto_id(o, c) : "");
        }
    if ((rc = sc_io_atomic_finish(&at, 0)) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/distance_%s.npy", a->outdir, fname);
    if ((rc = write_npy(path, "<i2", 2, (int64_t[]){nv, nv}, dist, 2)) < 0)
        goto out;
    snprintf(path, sizeof path, "%s/lca_%s.npy", a->outdir, fname);
    if ((rc = write_npy(path, "<i4", 2, (int64_t[]){nv, nv}, lca, 4)) < 0)
        goto out;
    fprintf(summary, "%s\t%lld\t%lld\t%lld\t%lld\t%lld\n", fname, (long long)nu,
            (long long)nl, (long long)np, (long long)u->n_cells,
            (long long)u->n_unknown);
    goto out;
oom:
    rc = sc_fail(SC_ENOMEM, "out of memory");
out:
    sc_io_atomic_abort(&at);
    free(inset);
    free(code);
    free(leaves);
    free(parents);
    free(voc);
    free(vt);
    free(clist);
    free(hier);
    free(dist);
    free(lca);
    return rc;
}

int ann_cmd_export(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                   char **argv)
{
    int fields[SC_FIELD_N], nf = 0, rc, from_stdin, n_fail = 0;
    struct used used[SC_FIELD_N];
    sc_manifest *mf = NULL;
    sc_mrow *row = NULL;
    const char *list = a->fields ? a->fields
                                 : "cell_type,tissue,disease,assay,sex,"
                                   "development_stage,self_reported_ethnicity,"
                                   "organism";

    memset(used, 0, sizeof used);
    for (const char *p = list; *p && nf < SC_FIELD_N;) {
        size_t n = strcspn(p, ",");
        char f[64];

        snprintf(f, sizeof f, "%.*s", (int)n, p);
        if ((fields[nf] = sc_match_field_find(f)) >= 0)
            nf++;
        p += n;
        if (*p)
            p++;
    }
    for (int k = 0; k < nf; k++)
        if (!(used[k].cells = calloc((size_t)sc_onto_n_terms(o) + 1,
                                     sizeof *used[k].cells))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto out;
        }
    if ((rc = sc_io_mkdir_p(a->outdir)) < 0)
        goto out;
    from_stdin = argc == 0 || (argc == 1 && !strcmp(argv[0], "-"));
    if (from_stdin && (rc = sc_manifest_open("-", &mf)) < 0)
        goto out;
    for (int i = 0;; i++) {
        const char *path;

        if (from_stdin) {
            if ((rc = sc_manifest_next(mf, &row)) <= 0)
                break;
            path = sc_mrow_path(row);
        } else {
            if (i >= argc)
                break;
            path = argv[i];
        }
        rc = count_dataset(o, used, fields, nf, path);
        sc_mrow_free(row);
        row = NULL;
        if (rc < 0) {
            if (!a->keep_going)
                goto out;
            sc_log_warn("%s", sc_errmsg());
            n_fail++;
        }
    }
    if (rc < 0)
        goto out;
    fprintf(fp, "field\tn_terms_used\tn_leaves\tn_parents\tn_cells\t"
                "n_unknown\n");
    for (int k = 0; k < nf; k++)
        if (used[k].seen &&
            (rc = export_field(a, o, fields[k], &used[k], fp)) < 0)
            goto out;
out:
    sc_mrow_free(row);
    sc_manifest_free(mf);
    for (int k = 0; k < nf; k++)
        free(used[k].cells);
    if (rc < 0)
        return rc;
    return n_fail ? SC_EXIT_PARTIAL : 0;
}
