/* sc_schema_raw: the check of the raw counts matrix (integers, and not a
 * copy of X). */
/* SPDX-License-Identifier: MIT */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "sc_schema_int.h"

/* ---- the raw matrix ---- */

/* What one pass over the raw matrix found. */
struct raw_scan {
    int64_t zero_rows, bad_values, dup_rows;
};

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static int cmp_u128(const void *a, const void *b)
{
    const uint64_t *x = a, *y = b;

    if (x[0] != y[0])
        return x[0] < y[0] ? -1 : 1;
    return x[1] < y[1] ? -1 : x[1] > y[1];
}

/* Hash one value at column J into the row hashes H (dense equivalence:
 * zeros are skipped, as a dense row's bytes would show them alike). */
static void hash_value(uint64_t h[2], int64_t j, double v)
{
    uint64_t bits;

    if (v == 0)
        return;
    memcpy(&bits, &v, sizeof bits);
    h[0] = mix64(h[0] ^ mix64((uint64_t)j + 0x9e3779b97f4a7c15ULL) ^ bits);
    h[1] =
        mix64(h[1] + ((uint64_t)j << 32) + mix64(bits ^ 0x5851f42d4c957f2dULL));
}

/* Scan M in row blocks: rows without a non-zero value, values that are
 * negative or not whole (NaN passes, as numpy's comparisons let it), and,
 * for CSR and dense matrices, rows equal to another row (only rows whose
 * KEEP is set; KEEP NULL: all). */
static int scan_raw(sc_mat *m, const unsigned char *keep, struct raw_scan *out)
{
    sc_mat_info info;
    sc_block b = SC_BLOCK_INIT;
    uint64_t *h = NULL;
    int64_t nh = 0;
    int dups, rc = 0;

    memset(out, 0, sizeof *out);
    sc_mat_get_info(m, &info);
    dups = info.fmt == SC_MAT_CSR || info.fmt == SC_MAT_DENSE;
    if (dups && !(h = malloc(((size_t)info.n_rows + 1) * 2 * sizeof *h)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t r0 = 0; r0 < info.n_rows; r0 += 4096) {
        int64_t r1 = r0 + 4096 < info.n_rows ? r0 + 4096 : info.n_rows;

        if ((rc = sc_mat_read_rows(m, r0, r1, &b)) < 0)
            break;
        for (int64_t i = 0; i < b.n_rows; i++) {
            int64_t lo = b.dense ? i * b.n_cols : b.indptr[i];
            int64_t hi = b.dense ? lo + b.n_cols : b.indptr[i + 1];
            uint64_t rh[2] = {0x243f6a8885a308d3ULL, 0x13198a2e03707344ULL};
            int nonzero = 0;

            for (int64_t k = lo; k < hi; k++) {
                double v = b.vals[k];

                if (v != 0)
                    nonzero = 1;
                if (v < 0 || v - floor(v) > 0)
                    out->bad_values++;
                hash_value(rh, b.dense ? k - lo : b.indices[k], v);
            }
            if (!nonzero)
                out->zero_rows++;
            if (dups && (!keep || keep[r0 + i])) {
                h[2 * nh] = rh[0];
                h[2 * nh + 1] = rh[1];
                nh++;
            }
        }
    }
    sc_block_release(&b);
    if (rc == 0 && dups) {
        qsort(h, (size_t)nh, 2 * sizeof *h, cmp_u128);
        for (int64_t i = 0; i < nh; i++) {
            int same_prev = i > 0 && !cmp_u128(&h[2 * i], &h[2 * (i - 1)]);
            int same_next = i + 1 < nh && !cmp_u128(&h[2 * i], &h[2 * (i + 1)]);

            out->dup_rows += same_prev || same_next;
        }
    }
    free(h);
    return rc;
}

/* The rows the duplicate check looks at: obs['in_tissue'] != 0 (spatial),
 * or all (*KEEP NULL). */
static int in_tissue_rows(const sc_adata *ad, unsigned char **keep)
{
    const sc_elem *e = sc_elem_get(ad->obs, "in_tissue");

    *keep = NULL;
    if (!e || e->kind != SC_K_ARRAY || e->dtype == SC_DT_STR ||
        sc_elem_count(e) != ad->n_obs)
        return 0;
    if (!(*keep = malloc((size_t)ad->n_obs + 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (int64_t i = 0; i < ad->n_obs; i++)
        (*keep)[i] = sc_elem_num(e, i) != 0;
    return 0;
}

/* Whether the raw rules of the schema ask for the raw checks: no assay of
 * the 'not_descendants_of' terms, or one below all 'descendants_of_all'
 * terms (as the validator reads its 'raw' section). */
static int raw_applies(const sc_schema *s, const sc_onto *o, const sc_adata *ad)
{
    const sc_ynode *comp = sc_ytree_get(s->root, "raw");
    int any = 0;

    for (size_t c = 0; comp && comp->kind == SC_Y_MAP && c < comp->n; c++) {
        const sc_ynode *cols = comp->items[c];
        const sc_elem *df = !strcmp(comp->keys[c], "obs") ? ad->obs : NULL;

        for (size_t k = 0; cols && cols->kind == SC_Y_MAP && k < cols->n; k++) {
            const sc_elem *e = sc_elem_get(df, cols->keys[k]);
            const sc_ynode *rules = cols->items[k];
            const sc_ynode *nd = sc_ytree_get(rules, "not_descendants_of");
            const sc_ynode *all = sc_ytree_get(
                sc_ytree_get(rules, "descendants_of_all"), "terms");
            int64_t nc;

            if (!e || e->kind != SC_K_CATEGORICAL ||
                e->categories->dtype != SC_DT_STR)
                continue;
            nc = sc_elem_count(e->categories);
            if (nd) {
                int below_some = 0;

                for (int64_t v = 0; v < nc && !below_some; v++)
                    for (size_t q = 0; nd->kind == SC_Y_MAP && q < nd->n; q++)
                        below_some |= sch_in_ancestors(
                            o, sc_elem_str(e->categories, v), nd->items[q]);
                any |= !below_some;
            }
            for (int64_t v = 0; all && all->kind == SC_Y_SEQ && v < nc; v++) {
                const char *id = sc_elem_str(e->categories, v);
                sc_onto_term t = sc_onto_find(o, id);
                int every = t != SC_ONTO_NONE;

                for (size_t q = 0; every && q < all->n; q++)
                    every = all->items[q]->kind == SC_Y_SCALAR &&
                            sch_below(o, t, all->items[q]->str, 1);
                any |= every;
            }
        }
    }
    return any;
}

/* Whether the string indices of two dataframes are the same. */
static int same_index(const sc_elem *a, const sc_elem *b)
{
    int64_t n;

    if (!a || !b || !a->index || !b->index)
        return a == b;
    n = sc_elem_count(a->index);
    if (n != sc_elem_count(b->index))
        return 0;
    for (int64_t i = 0; i < n; i++) {
        const char *x = sc_elem_str(a->index, i), *y = sc_elem_str(b->index, i);

        if (strcmp(x ? x : "", y ? y : ""))
            return 0;
    }
    return 1;
}

int sch_check_raw(const sc_schema *s, const sc_onto *o, const sc_adata *ad,
                  sc_schema_report *r)
{
    const sc_elem *rx = ad->raw ? sc_elem_get(ad->raw, "X") : NULL;
    const sc_elem *rvar = ad->raw ? sc_elem_get(ad->raw, "var") : NULL;
    const sc_elem *x = ad->raw ? rx : ad->X;
    const char *loc = ad->raw ? "raw.X" : "X";
    struct raw_scan sc;
    sc_mat_info info;
    unsigned char *keep;
    size_t errors_before = r->n_errors;
    int rc, valid = 1;

    if (!x || x->kind != SC_K_MATRIX || !x->mat)
        return 0;
    if ((rc = in_tissue_rows(ad, &keep)) < 0)
        return rc;
    rc = scan_raw(x->mat, keep, &sc);
    free(keep);
    if (rc < 0)
        return rc;
    if (sc.dup_rows &&
        (rc = sch_msg(r, SC_SCHEMA_ERROR,
                      "Found %lld duplicated raw counts in obs adata.%s.",
                      (long long)sc.dup_rows, loc)) < 0)
        return rc;
    if (errors_before || sc.dup_rows || !raw_applies(s, o, ad))
        return 0;
    sc_mat_get_info(x->mat, &info);
    if (ad->raw) {
        int64_t rv =
            rvar && rvar->index ? sc_elem_count(rvar->index) : info.n_cols;

        if (rv != ad->n_vars)
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "Number of genes in X (%lld) is different than raw.X "
                         "(%lld).",
                         (long long)ad->n_vars, (long long)rv);
        else if (!same_index(ad->var, rvar))
            rc = sch_msg(
                r, SC_SCHEMA_ERROR,
                "Index of 'raw.var' is not identical to index of 'var'.");
        if (rc == 0 && info.n_rows != ad->n_obs)
            rc = sch_msg(r, SC_SCHEMA_ERROR,
                         "Number of cells in X (%lld) is different than raw.X "
                         "(%lld).",
                         (long long)ad->n_obs, (long long)info.n_rows);
        if (rc < 0)
            return rc;
    }
    if (info.dtype != SC_DT_F32) {
        valid = 0;
        rc = sch_msg(
            r, SC_SCHEMA_ERROR,
            "Raw matrix values must have type numpy.float32 (%s has %s).", loc,
            sc_dtype_name(info.dtype));
    } else {
        if (sc.zero_rows) {
            valid = 0;
            rc = sch_msg(
                r, SC_SCHEMA_ERROR,
                "Each cell must have at least one non-zero value in its "
                "row in the raw matrix (%lld rows of %s have none).",
                (long long)sc.zero_rows, loc);
        }
        if (rc == 0 && sc.bad_values) {
            valid = 0;
            rc =
                sch_msg(r, SC_SCHEMA_ERROR,
                        "All non-zero values in raw matrix must be positive "
                        "integers of type numpy.float32 (%lld values of %s are "
                        "not).",
                        (long long)sc.bad_values, loc);
        }
    }
    if (rc < 0)
        return rc;
    if (!valid)
        return sch_msg(r, SC_SCHEMA_ERROR, "%s",
                       ad->raw
                           ? "Raw data may be missing: data in 'raw.X' does "
                             "not meet schema requirements."
                           : "Raw data is missing: there is only a "
                             "normalized matrix in X and no raw.X");
    if (!ad->raw)
        return sch_msg(
            r, SC_SCHEMA_WARNING,
            "Only raw data was found, i.e. there is no 'raw.X'. It is "
            "STRONGLY RECOMMENDED that 'final' (normalized) data is "
            "provided.");
    return 0;
}
