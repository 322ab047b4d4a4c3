/* sc_stream_select: the filters of sc-stream, the selected rows of a dataset
 * and the vocabularies of its label and weight columns. */
/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_io.h"
#include "sc_log.h"
#include "sc_stream_int.h"
#include "sc_vocab.h"

/* ------------------------------------------------------------------------ */
/* Filters                                                                  */

enum { OP_EQ, OP_NE, OP_IN, OP_NOTIN, OP_GE, OP_LE, OP_GT, OP_LT };

char *ss_trim(char *s)
{
    char *e;
    while (isspace((unsigned char)*s))
        s++;
    e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

void ss_filter_release(ss_filter *f)
{
    free(f->col);
    for (size_t i = 0; i < f->n_vals; i++)
        free(f->vals[i]);
    free(f->vals);
    free(f->text);
}

int ss_filter_parse(const char *expr, ss_filter *f)
{
    static const struct {
        const char *s;
        int op;
    } ops[] = {{" not in ", OP_NOTIN}, {" in ", OP_IN}, {"==", OP_EQ},
               {"!=", OP_NE},          {">=", OP_GE},   {"<=", OP_LE},
               {">", OP_GT},           {"<", OP_LT},    {"=", OP_EQ}};
    char *s, *p = NULL, *rhs;
    size_t k;
    int rc = 0;

    memset(f, 0, sizeof *f);
    if (!(f->text = strdup(expr)) || !(s = strdup(expr)))
        return ss_oom();
    for (k = 0; k < sizeof ops / sizeof *ops; k++)
        if ((p = strstr(s, ops[k].s)))
            break;
    if (!p) {
        free(s);
        return sc_fail(SC_EINVAL,
                       "filter '%s': no operator (==, !=, in, "
                       "not in, >=, <=, >, <)",
                       expr);
    }
    f->op = ops[k].op;
    *p = '\0';
    rhs = ss_trim(p + strlen(ops[k].s));
    if (!*ss_trim(s) || !*rhs) {
        free(s);
        return sc_fail(SC_EINVAL, "filter '%s': empty column or value", expr);
    }
    if (!(f->col = strdup(ss_trim(s)))) {
        free(s);
        return ss_oom();
    }
    if (f->op >= OP_GE) {
        char *end;
        errno = 0;
        f->num = strtod(rhs, &end);
        if (errno || *end || end == rhs)
            rc = sc_fail(SC_EINVAL, "filter '%s': '%s' is not a number", expr,
                         rhs);
    } else {
        /* a list for in/not in, one value for == and != */
        char *save = NULL, *tok;
        size_t cap = 0;
        for (tok = f->op == OP_IN || f->op == OP_NOTIN
                       ? strtok_r(rhs, ",", &save)
                       : rhs;
             tok && rc == 0; tok = f->op == OP_IN || f->op == OP_NOTIN
                                       ? strtok_r(NULL, ",", &save)
                                       : NULL) {
            rc = ss_strv_push(&f->vals, &f->n_vals, &cap, ss_trim(tok));
        }
    }
    free(s);
    return rc;
}

static int same_value(const char *a, const char *b)
{
    char *ea, *eb;
    double x, y;
    if (!strcmp(a, b) || !strcasecmp(a, b))
        return !strcmp(a, b) || !strcasecmp(a, "true") ||
               !strcasecmp(a, "false");
    x = strtod(a, &ea);
    y = strtod(b, &eb);
    return ea != a && eb != b && !*ea && !*eb && x == y;
}

/* Does category value V pass filter F? */
int ss_filter_pass(const ss_filter *f, const char *v)
{
    switch (f->op) {
    case OP_EQ: return same_value(v, f->vals[0]);
    case OP_NE: return !same_value(v, f->vals[0]);
    case OP_IN:
    case OP_NOTIN: {
        int in = 0;
        for (size_t i = 0; i < f->n_vals && !in; i++)
            in = same_value(v, f->vals[i]);
        return f->op == OP_IN ? in : !in;
    }
    default: {
        char *end;
        double x = strtod(v, &end);
        if (end == v || *end || isnan(x))
            return 0;
        return f->op == OP_GE   ? x >= f->num
               : f->op == OP_LE ? x <= f->num
               : f->op == OP_GT ? x > f->num
                                : x < f->num;
    }
    }
}

/* ------------------------------------------------------------------------ */
/* Index and selection                                                      */

static int is_unknown(const char *s)
{
    return !s || !*s || !strcasecmp(s, "unknown") || !strcasecmp(s, "nan") ||
           !strcasecmp(s, "na");
}

int ss_select_rows(sc_stream *s, ss_ds *d, const ss_filter *f, size_t n_f)
{
    const ss_meta *m = d->meta;
    uint8_t **pass = NULL;
    const ss_col **cols = NULL;
    int rc = 0;

    if (!(d->sel = malloc((m->n_obs ? m->n_obs : 1) * sizeof *d->sel)))
        return ss_oom();
    if (n_f && (!(pass = calloc(n_f, sizeof *pass)) ||
                !(cols = calloc(n_f, sizeof *cols)))) {
        rc = ss_oom();
        goto out;
    }
    for (size_t i = 0; i < n_f; i++) {
        if (!(cols[i] = ss_meta_col(m, f[i].col))) {
            sc_log_info("'%s': no obs column '%s': filter '%s' drops all "
                        "its cells",
                        d->path, f[i].col, f[i].text);
            continue;
        }
        if (!(pass[i] = malloc(cols[i]->n_cats + 1))) {
            rc = ss_oom();
            goto out;
        }
        for (int64_t k = 0; k < cols[i]->n_cats; k++)
            pass[i][k] = (uint8_t)ss_filter_pass(&f[i], cols[i]->cats[k]);
    }
    d->n_sel = 0;
    for (int64_t r = 0; r < m->n_obs; r++) {
        int ok = (int64_t)m->nnz[r] >= s->o.min_genes;
        for (size_t i = 0; i < n_f && ok; i++) {
            int32_t c = cols[i] ? cols[i]->codes[r] : -1;
            ok = c >= 0 && pass[i][c];
        }
        if (ok && s->split)
            ok = d->pa ? sc_split_part(
                             s->split,
                             s->split_h[d->dbase + (size_t)d->pa->dataset[r]],
                             (uint64_t)d->pa->row[r]) == s->o.split
                       : sc_split_part(s->split, s->split_h[d->dbase],
                                       (uint64_t)r) == s->o.split;
        if (ok)
            d->sel[d->n_sel++] = (uint32_t)r;
    }
out:
    for (size_t i = 0; i < n_f && pass; i++)
        free(pass[i]);
    free(pass);
    free(cols);
    return rc;
}

/* Read the vocabulary file PATH of column V (sc_vocab.h): its terms, and
 * every name of a term (id, label, synonyms) in the index. */
int ss_vocab_load(vcol *v, const char *path)
{
    sc_vocab voc = {0};
    int rc;

    if ((rc = sc_vocab_read(path, &voc)) < 0)
        return sc_fail_ctx(rc, "vocabulary of '%s'", v->name);
    v->n = voc.n;
    v->terms = voc.terms;
    v->alias_store = voc.names;
    v->n_alias = voc.n_names;
    for (size_t i = 0; i < voc.n_names && rc == 0; i++)
        rc = sc_strmap_put(&v->index, voc.names[i], voc.codes[i]);
    free(voc.codes);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The vocabulary of column K over the selected cells, sorted. */
int ss_vocab_build(sc_stream *s, size_t k)
{
    vcol *v = &s->vc[k];
    sc_strmap seen = {0};
    size_t cap = 0;
    int rc = 0;

    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ss_ds *d = &s->ds[i];
        const ss_col *c = d->vcol[k];
        uint8_t *used;
        if (!c)
            continue;
        if (!(used = calloc(c->n_cats + 1, 1)))
            return ss_oom();
        for (int64_t j = 0; j < d->n_sel; j++) {
            int32_t code = c->codes[d->sel[j]];
            if (code >= 0)
                used[code] = 1;
        }
        for (int64_t j = 0; j < c->n_cats && rc == 0; j++) {
            if (!used[j] || is_unknown(c->cats[j]) ||
                sc_strmap_get(&seen, c->cats[j]) >= 0)
                continue;
            size_t n = v->n;
            if ((rc = ss_strv_push(&v->terms, &n, &cap, c->cats[j])) < 0)
                break;
            rc = sc_strmap_put(&seen, v->terms[v->n], (int64_t)v->n);
            v->n = n;
        }
        free(used);
    }
    sc_strmap_release(&seen);
    if (rc < 0)
        return rc;
    if (v->n)
        qsort(v->terms, v->n, sizeof *v->terms, cmp_str);
    for (size_t i = 0; i < v->n && rc == 0; i++)
        rc = sc_strmap_put(&v->index, v->terms[i], (int64_t)i);
    return rc;
}

/* Local codes of every dataset to global codes of column K. */
int ss_vocab_maps(sc_stream *s, size_t k)
{
    vcol *v = &s->vc[k];
    for (size_t i = 0; i < s->n_ds; i++) {
        ss_ds *d = &s->ds[i];
        const ss_col *c = d->vcol[k];
        if (!c)
            continue;
        if (!(d->vmap[k] = malloc((c->n_cats + 1) * sizeof(int32_t))))
            return ss_oom();
        for (int64_t j = 0; j < c->n_cats; j++)
            d->vmap[k][j] = is_unknown(c->cats[j])
                                ? -1
                                : (int32_t)sc_strmap_get(&v->index, c->cats[j]);
    }
    return 0;
}
