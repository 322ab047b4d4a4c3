/* sc-annotate map, inspect: free-text labels to terms from the shell. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc-annotate.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_match.h"

/* What inspect says of a label. */
enum { ST_VALIDATED, ST_MAPPED, ST_SUGGESTED, ST_AMBIGUOUS, ST_UNMAPPED, ST_N };
static const char *const status_names[ST_N] = {
    "validated", "mapped", "suggested", "ambiguous", "unmapped"};

static int status_of(const sc_match_res *r)
{
    if (r->tier == SC_MATCH_LABEL || r->tier == SC_MATCH_TERM_ID)
        return ST_VALIDATED;
    if (sc_match_tier_is_confident(r->tier))
        return ST_MAPPED;
    if (r->tier == SC_MATCH_AMBIGUOUS)
        return ST_AMBIGUOUS;
    return r->n_sugg ? ST_SUGGESTED : ST_UNMAPPED;
}

struct map_ctx {
    const struct args *a;
    const sc_onto *o;
    const sc_match *m;
    FILE *fp;
    int field;
    int inspect;
    int64_t n[ST_N];
};

/* The term id written for R: the term, "unknown", or "". */
static const char *term_id(const sc_onto *o, const sc_match_res *r)
{
    if (r->term != SC_ONTO_NONE)
        return sc_onto_id(o, r->term);
    return r->tier == SC_MATCH_UNKNOWN ||
                   (r->tier == SC_MATCH_USER && r->term == SC_ONTO_NONE)
               ? "unknown"
               : "";
}

static int put_label(struct map_ctx *c, const char *label)
{
    const sc_onto *o = c->o;
    sc_match_res r;
    char ev[160];
    int rc, st;

    if ((rc = sc_match_label(c->m, c->field, c->a->organism, label, &r)) < 0)
        return rc;
    st = status_of(&r);
    c->n[st]++;
    if (c->a->json) {
        json_t *j =
            json_pack("{s:s, s:s, s:s, s:b, s:s}", "label", label, "tier",
                      sc_match_tier_name(r.tier), "status", status_names[st],
                      "confident", sc_match_tier_is_confident(r.tier),
                      "evidence", sc_match_evidence(&r, label, ev, sizeof ev));
        json_t *ca, *sa;

        if (!j)
            return sc_fail(SC_ENOMEM, "out of memory");
        json_object_set_new(j, "term_id",
                            *term_id(o, &r) ? json_string(term_id(o, &r))
                                            : json_null());
        if (r.term != SC_ONTO_NONE)
            json_object_set_new(j, "term_label",
                                json_string(sc_onto_label(o, r.term)));
        if (*r.reason)
            json_object_set_new(j, "reason", json_string(r.reason));
        ca = json_array();
        for (size_t q = 0; ca && q < r.n_cand && q < SC_MATCH_MAX_CAND; q++)
            json_array_append_new(ca, ann_term_ref(o, r.cand[q]));
        json_object_set_new(j, "candidates", ca ? ca : json_array());
        sa = json_array();
        for (size_t q = 0; sa && q < r.n_sugg; q++)
            json_array_append_new(sa, ann_term_ref(o, r.sugg[q]));
        json_object_set_new(j, "suggestions", sa ? sa : json_array());
        return ann_put_json(c->fp, j);
    }
    if (c->inspect)
        fprintf(c->fp, "%s\t%s\t%s\t%s\t", label, status_names[st],
                term_id(o, &r), sc_match_tier_name(r.tier));
    else
        fprintf(c->fp, "%s\t%s\t%s\t%s\t%s\t%s\t", label, term_id(o, &r),
                r.term != SC_ONTO_NONE ? sc_onto_label(o, r.term) : "",
                sc_match_tier_name(r.tier),
                sc_match_tier_is_confident(r.tier) ? "yes" : "no",
                sc_match_evidence(&r, label, ev, sizeof ev));
    /* candidates of an ambiguous label, else suggestions */
    if (r.n_cand)
        for (size_t q = 0; q < r.n_cand && q < SC_MATCH_MAX_CAND; q++)
            fprintf(c->fp, "%s%s", q ? " " : "", sc_onto_id(o, r.cand[q]));
    else
        for (size_t q = 0; q < r.n_sugg; q++)
            fprintf(c->fp, "%s%s", q ? " " : "", sc_onto_id(o, r.sugg[q]));
    if (fputc('\n', c->fp) == EOF)
        return sc_fail(SC_EIO, "cannot write the output");
    return 0;
}

/* The labels of PATH: one a line, or the column a->in_column of a TSV
 * with a header. */
static int each_label(struct map_ctx *c, const char *path)
{
    sc_lines *in = NULL;
    char *line;
    size_t len;
    long col = c->a->in_column ? -1 : 0;
    int rc;

    if ((rc = sc_lines_open(path, &in)) < 0)
        return rc;
    while ((rc = sc_lines_next(in, &line, &len)) > 0) {
        char *p = line;

        if (len && line[len - 1] == '\r')
            line[--len] = '\0';
        if (c->a->in_column) {
            if (col < 0) { /* the header */
                long k = 0;

                if (*line == '#')
                    continue;
                for (char *f = line; f; k++) {
                    char *t = strchr(f, '\t');
                    size_t n = t ? (size_t)(t - f) : strlen(f);

                    if (n == strlen(c->a->in_column) &&
                        !strncmp(f, c->a->in_column, n)) {
                        col = k;
                        break;
                    }
                    f = t ? t + 1 : NULL;
                }
                if (col < 0) {
                    rc = sc_fail(SC_EFORMAT,
                                 "'%s': no column '%s' in the header", path,
                                 c->a->in_column);
                    break;
                }
                continue;
            }
            for (long k = 0; k < col && p; k++)
                if ((p = strchr(p, '\t')))
                    p++;
            if (!p) {
                rc = sc_fail(SC_EFORMAT, "'%s' line %ld: too few fields", path,
                             sc_lines_lineno(in));
                break;
            }
            p[strcspn(p, "\t")] = '\0';
        } else if (!*line) {
            continue;
        }
        if ((rc = put_label(c, p)) < 0)
            break;
    }
    sc_lines_close(in);
    return rc < 0 ? rc : 0;
}

static int run(const struct args *a, const sc_onto *o, FILE *fp, int argc,
               char **argv, int inspect)
{
    static char dash[] = "-", *stdin_only[] = {dash};
    struct map_ctx c = {.a = a, .o = o, .fp = fp, .inspect = inspect};
    sc_match *m = NULL;
    int rc = 0;

    c.field = sc_match_field_find(a->field ? a->field : "cell_type");
    if (c.field < 0)
        return sc_fail(SC_EINVAL, "unknown field '%s'", a->field);
    if ((rc = ann_open_matcher(a, o, &m)) < 0)
        return rc;
    c.m = m;
    if (!argc) {
        argc = 1;
        argv = stdin_only;
    }
    if (!a->json) {
        if (inspect)
            fprintf(fp, "label\tstatus\tterm_id\ttier\tcandidates\n");
        else
            fprintf(fp, "label\tterm_id\tterm_label\ttier\tconfident\t"
                        "evidence\tcandidates\n");
    }
    for (int i = 0; i < argc && rc == 0; i++)
        rc = each_label(&c, argv[i]);
    sc_match_free(m);
    if (rc == 0 && inspect) {
        int64_t total = 0;

        for (int s = 0; s < ST_N; s++)
            total += c.n[s];
        fprintf(stderr,
                "sc-annotate: inspect: %lld labels: %lld validated, %lld "
                "mapped, %lld suggested, %lld ambiguous, %lld unmapped\n",
                (long long)total, (long long)c.n[ST_VALIDATED],
                (long long)c.n[ST_MAPPED], (long long)c.n[ST_SUGGESTED],
                (long long)c.n[ST_AMBIGUOUS], (long long)c.n[ST_UNMAPPED]);
    }
    return rc;
}

int ann_cmd_map(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                char **argv)
{
    return run(a, o, fp, argc, argv, 0);
}

int ann_cmd_inspect(const struct args *a, const sc_onto *o, FILE *fp, int argc,
                    char **argv)
{
    return run(a, o, fp, argc, argv, 1);
}
