/* sc_vocab: the label vocabulary file (vocab_FIELD.tsv), read and written. */
/* SPDX-License-Identifier: MIT */
#include "sc_vocab.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_io.h"
#include "sc_map.h"

int sc_vocab_path(char *buf, size_t size, const char *dir, const char *field)
{
    int n = snprintf(buf, size, "%s/" SC_VOCAB_PREFIX "%s" SC_VOCAB_SUFFIX, dir,
                     field);

    if (n < 0 || (size_t)n >= size)
        return sc_fail(SC_EINVAL, "path too long: '%s/%s%s%s'", dir,
                       SC_VOCAB_PREFIX, field, SC_VOCAB_SUFFIX);
    return 0;
}

int sc_vocab_write(const char *path, const sc_vocab_term *terms, size_t n,
                   int64_t n_unknown, int coarse)
{
    sc_atomic at = {0};
    FILE *fp = NULL;
    int rc;

    if ((rc = sc_io_atomic_open(path, &at, &fp)) < 0)
        return rc;
    fprintf(fp, "%s\t%s\t%s\t%s\t%s\t%s", SC_VOCAB_COL_CODE,
            SC_VOCAB_COL_TERM_ID, SC_VOCAB_COL_LABEL, SC_VOCAB_COL_IS_LEAF,
            SC_VOCAB_COL_DEPTH, SC_VOCAB_COL_N_CELLS);
    if (coarse)
        fprintf(fp, "\t%s\t%s", SC_VOCAB_COL_COARSE_ID,
                SC_VOCAB_COL_COARSE_LABEL);
    fprintf(fp, "\n%d\t%s\t%s\t0\t-1\t%lld%s\n", SC_VOCAB_UNKNOWN_CODE,
            SC_VOCAB_UNKNOWN, SC_VOCAB_UNKNOWN, (long long)n_unknown,
            coarse ? "\t\t" : "");
    for (size_t k = 0; k < n; k++) {
        const sc_vocab_term *t = &terms[k];
        fprintf(fp, "%zu\t%s\t%s\t%d\t%d\t%lld", k, t->id, t->label,
                t->is_leaf != 0, t->depth, (long long)t->n_cells);
        if (coarse)
            fprintf(fp, "\t%s\t%s", t->coarse_id ? t->coarse_id : "",
                    t->coarse_label ? t->coarse_label : "");
        fputc('\n', fp);
    }
    return sc_io_atomic_finish(&at, 0);
}

void sc_vocab_release(sc_vocab *v)
{
    if (!v)
        return;
    for (size_t i = 0; i < v->n; i++)
        free(v->terms[i]);
    for (size_t i = 0; i < v->n_names; i++)
        free(v->names[i]);
    free(v->terms);
    free(v->names);
    free(v->codes);
    memset(v, 0, sizeof *v);
}

/* Split LINE at tabs in place into *F (grown as needed, *CAP entries);
 * the number of fields, or -1 out of memory. */
static long split_tabs(char *line, char ***f, size_t *cap)
{
    size_t n = 0;

    for (char *p = line;; p++) {
        if (n == *cap) {
            size_t c = *cap ? 2 * *cap : 16;
            char **g = realloc(*f, c * sizeof *g);
            if (!g)
                return -1;
            *f = g;
            *cap = c;
        }
        (*f)[n++] = p;
        if (!(p = strchr(p, '\t')))
            break;
        *p = '\0';
    }
    return (long)n;
}

/* 1 when S is a whole decimal number, with its value in *OUT. */
static int is_number(const char *s, long *out)
{
    char *end;

    errno = 0;
    *out = strtol(s, &end, 10);
    return end != s && !*end && !errno;
}

/* 1 when header column NAME is a name of the term (not code or data). */
static int is_name_col(const char *name)
{
    static const char *const data[] = {
        SC_VOCAB_COL_CODE,      SC_VOCAB_COL_IS_LEAF,
        SC_VOCAB_COL_DEPTH,     SC_VOCAB_COL_N_CELLS,
        SC_VOCAB_COL_COARSE_ID, SC_VOCAB_COL_COARSE_LABEL};

    for (size_t i = 0; i < sizeof data / sizeof *data; i++)
        if (!strcmp(name, data[i]))
            return 0;
    return 1;
}

struct reader {
    sc_lines *l;
    const char *name;
    sc_vocab *v;
    sc_strmap seen; /* name -> code */
    size_t cap_terms, cap_names;
    size_t n_hdr;         /* header columns, 0 without a header */
    unsigned char *named; /* per header column: a name column */
};

static int oom(void)
{
    return sc_fail(SC_ENOMEM, "out of memory");
}

static int bad(const struct reader *r, const char *what, const char *arg)
{
    return sc_fail(SC_EFORMAT, "'%s' line %ld: %s%s%s%s", r->name,
                   sc_lines_lineno(r->l), what, arg ? " '" : "", arg ? arg : "",
                   arg ? "'" : "");
}

static int read_header(struct reader *r, char **f, size_t nf)
{
    size_t n_named = 0;

    if (strcmp(f[0], SC_VOCAB_COL_CODE) != 0)
        return bad(r,
                   "bad header: the first column is not '" SC_VOCAB_COL_CODE
                   "' but",
                   f[0]);
    if (!(r->named = calloc(nf, 1)))
        return oom();
    r->n_hdr = nf;
    for (size_t i = 0; i < nf; i++) {
        if (!*f[i])
            return bad(r, "bad header: an empty column name", NULL);
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f[i], f[j]))
                return bad(r, "bad header: duplicate column", f[i]);
        r->named[i] = (unsigned char)is_name_col(f[i]);
        n_named += r->named[i];
    }
    if (!n_named)
        return bad(r,
                   "bad header: no column names the term (" SC_VOCAB_COL_TERM_ID
                   ", " SC_VOCAB_COL_LABEL ", ...)",
                   NULL);
    return 0;
}

/* Add NAME for code CODE (the last term); FIRST: it is the term. */
static int add_name(struct reader *r, const char *name, int32_t code, int first)
{
    sc_vocab *v = r->v;
    int64_t *slot;
    int added, rc;
    char *s;

    if (!*name) {
        if (first)
            return bad(r, "empty term", NULL);
        return 0;
    }
    if (first) {
        if (!(v->terms[code] = strdup(name)))
            return oom();
    }
    /* the map's keys must outlive it: the copies in V */
    if (!(s = strdup(name)))
        return oom();
    if ((rc = sc_strmap_slot(&r->seen, s, code, &slot, &added)) < 0 || !added) {
        int64_t had = rc < 0 ? code : *slot;
        free(s);
        if (rc < 0 || had == code)
            return rc < 0 ? rc : 0;
        return sc_fail(SC_EFORMAT,
                       "'%s' line %ld: duplicate term '%s' (codes %lld and %d)",
                       r->name, sc_lines_lineno(r->l), name, (long long)had,
                       code);
    }
    if (v->n_names == r->cap_names) {
        size_t c = r->cap_names ? 2 * r->cap_names : 64;
        char **nm = realloc(v->names, c * sizeof *nm);
        int32_t *cd;
        if (nm)
            v->names = nm;
        if (!nm || !(cd = realloc(v->codes, c * sizeof *cd))) {
            free(s);
            return oom();
        }
        v->codes = cd;
        r->cap_names = c;
    }
    v->names[v->n_names] = s;
    v->codes[v->n_names++] = code;
    return 0;
}

static int read_term(struct reader *r, char **f, size_t nf)
{
    sc_vocab *v = r->v;
    long code;
    int first = 1, rc;

    if (!is_number(f[0], &code))
        return bad(r, "not a code:", f[0]);
    if (code == SC_VOCAB_UNKNOWN_CODE && v->n == 0)
        return 0; /* the unknown line */
    if (code != (long)v->n || code > INT32_MAX)
        return sc_fail(SC_EFORMAT, "'%s' line %ld: code %ld, expected %zu",
                       r->name, sc_lines_lineno(r->l), code, v->n);
    if (r->n_hdr && nf != r->n_hdr)
        return sc_fail(SC_EFORMAT, "'%s' line %ld: %zu fields, header has %zu",
                       r->name, sc_lines_lineno(r->l), nf, r->n_hdr);
    if (nf < 2)
        return bad(r, "no term after the code", NULL);
    if (v->n == r->cap_terms) {
        size_t c = r->cap_terms ? 2 * r->cap_terms : 64;
        char **t = realloc(v->terms, c * sizeof *t);
        if (!t)
            return oom();
        v->terms = t;
        r->cap_terms = c;
    }
    v->terms[v->n++] = NULL;
    for (size_t i = 1; i < nf; i++) {
        if (r->n_hdr && !r->named[i])
            continue;
        if ((rc = add_name(r, f[i], (int32_t)code, first)) < 0)
            return rc;
        first = 0;
    }
    return 0;
}

int sc_vocab_read(const char *path, sc_vocab *v)
{
    struct reader r = {.v = v};
    char *line, **f = NULL;
    size_t len, cap = 0;
    int rc, any = 0;

    memset(v, 0, sizeof *v);
    if ((rc = sc_lines_open(path, &r.l)) < 0)
        return rc;
    r.name = sc_lines_name(r.l);
    while ((rc = sc_lines_next(r.l, &line, &len)) > 0) {
        long nf, code;
        if (!*line || *line == '#')
            continue;
        if ((nf = split_tabs(line, &f, &cap)) < 0) {
            rc = oom();
            break;
        }
        if (!any++ && !is_number(f[0], &code))
            rc = read_header(&r, f, (size_t)nf);
        else
            rc = read_term(&r, f, (size_t)nf);
        if (rc < 0)
            break;
    }
    if (rc == 0 && !any)
        rc = sc_fail(SC_EFORMAT,
                     "'%s': empty vocabulary file (no header, no "
                     "terms)",
                     r.name);
    sc_lines_close(r.l);
    sc_strmap_release(&r.seen);
    free(r.named);
    free(f);
    if (rc < 0)
        sc_vocab_release(v);
    return rc < 0 ? rc : 0;
}
