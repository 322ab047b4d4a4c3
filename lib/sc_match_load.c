/* sc_match_load: curated rules, the crosswalk and user mappings of
 * sc_match. */
/* SPDX-License-Identifier: MIT */
#include "sc_match_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_io.h"
#include "sc_ytree.h"

/* ---- loading rules and mappings ---- */

/* Split LINE at tabs into at most MAX fields. */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;

    for (char *p = line; n < max;) {
        f[n++] = p;
        if (!(p = strchr(p, '\t')))
            break;
        *p++ = '\0';
    }
    return n;
}

static int col_of(char **f, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(f[i], name))
            return i;
    return -1;
}

/* The term for ID in a mapping (NONE for "unknown"); obsolete ids resolve. */
static int map_term(const sc_onto *o, const char *id, int must_live,
                    sc_onto_term *out)
{
    sc_onto_term t, r;
    int steps;

    if (!strcmp(id, "unknown")) {
        *out = SC_ONTO_NONE;
        return 0;
    }
    if ((t = sc_onto_find(o, id)) == SC_ONTO_NONE)
        return sc_fail(SC_EFORMAT, "unknown term '%s'", id);
    if (sc_onto_is_deprecated(o, t)) {
        if (must_live)
            return sc_fail(SC_EFORMAT, "'%s' is obsolete", id);
        if (sc_onto_resolve(o, t, &r, &steps) < 0)
            return SC_EFORMAT;
        t = r;
    }
    *out = t;
    return 0;
}

/* Curated rules (CROSS 0) or crosswalk rows (1) from PATH into their
 * table; a crosswalk key naming two terms keeps both (left out). */
static int load_rules(sc_match *m, const char *path, int cross)
{
    struct table *tab = cross ? &m->cross : &m->curated;
    sc_lines *in = NULL;
    char *line, *f[8], key[1100], fk[1200];
    int cf = -1, cl = -1, ct = -1, cs = -1, rc, nf, field;
    size_t len;
    sc_onto_term t;
    struct entry *e;

    if ((rc = sc_lines_open(path, &in)) < 0)
        return rc;
    while ((rc = sc_lines_next(in, &line, &len)) > 0) {
        if (!*line || *line == '#')
            continue;
        nf = split_tabs(line, f, 8);
        if (cf < 0) {
            cf = col_of(f, nf, "field");
            cl = col_of(f, nf, "label");
            ct = col_of(f, nf, "term_id");
            cs = col_of(f, nf, "source");
            if (cf < 0 || cl < 0 || ct < 0 || (cross && cs < 0)) {
                rc = sc_fail(SC_EFORMAT,
                             "'%s' line %ld: the header needs the columns "
                             "field, label and term_id%s",
                             path, sc_lines_lineno(in),
                             cross ? " and source" : "");
                break;
            }
            continue;
        }
        if (nf <= cf || nf <= cl || nf <= ct || (cross && nf <= cs)) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: too few fields", path,
                         sc_lines_lineno(in));
            break;
        }
        if ((field = sc_match_field_find(f[cf])) < 0) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: unknown field '%s'", path,
                         sc_lines_lineno(in), f[cf]);
            break;
        }
        if ((rc = map_term(m->o, f[ct], 1, &t)) < 0 ||
            (rc = sc_match_normalize(f[cl], key, sizeof key)) < 0 ||
            (sm_curated_key(key), 0) ||
            (t == SC_ONTO_NONE &&
             (rc = sc_fail(SC_EFORMAT, "a curated rule cannot map to "
                                       "'unknown'")) < 0)) {
            rc = sc_fail_ctx(rc, "'%s' line %ld", path, sc_lines_lineno(in));
            break;
        }
        sm_field_key(field, key, fk, sizeof fk);
        if (!cross && (e = sm_table_find(tab, fk)) && e->terms[0] != t) {
            rc = sc_fail(SC_EFORMAT,
                         "'%s' line %ld: '%s' is already a rule for '%s'", path,
                         sc_lines_lineno(in), f[cl],
                         sc_onto_id(m->o, e->terms[0]));
            break;
        }
        if ((rc = sm_table_add(tab, fk, t)) < 0)
            break;
        if (cross && !(e = sm_table_find(tab, fk))->note &&
            !(e->note = strdup(f[cs]))) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            break;
        }
        if (cross)
            m->n_cross++;
        else
            m->n_curated++;
    }
    sc_lines_close(in);
    return rc < 0 ? rc : 0;
}

int sc_match_load_curated(sc_match *m, const char *path)
{
    return load_rules(m, path, 0);
}

int sc_match_load_crosswalk(sc_match *m, const char *path)
{
    return load_rules(m, path, 1);
}

static int add_user(sc_match *m, int field, const char *label, const char *id,
                    const char *where)
{
    sc_onto_term t;
    char fk[1200];
    int rc;

    if ((rc = map_term(m->o, id, 0, &t)) < 0)
        return sc_fail_ctx(rc, "%s", where);
    if ((rc = sm_table_add(&m->user, sm_field_key(field, label, fk, sizeof fk),
                           t)) < 0)
        return rc;
    m->n_user++;
    return 0;
}

static int load_user_yaml(sc_match *m, const char *path)
{
    sc_ynode *root = NULL;
    char where[4200];
    int rc;

    if ((rc = sc_ytree_load(path, &root)) < 0)
        return rc;
    if (root->kind != SC_Y_MAP) {
        sc_ytree_free(root);
        return sc_fail(SC_EFORMAT, "'%s': expected a mapping", path);
    }
    for (size_t i = 0; rc == 0 && i < root->n; i++) {
        const sc_ynode *v = root->items[i];
        int field = sc_match_field_find(root->keys[i]);

        snprintf(where, sizeof where, "'%s' line %d", path, v->line);
        if (v->kind == SC_Y_SCALAR) {
            rc = add_user(m, -1, root->keys[i], v->str, where);
        } else if (v->kind == SC_Y_MAP && field >= 0) {
            for (size_t k = 0; rc == 0 && k < v->n; k++) {
                snprintf(where, sizeof where, "'%s' line %d", path,
                         v->items[k]->line);
                rc = v->items[k]->kind == SC_Y_SCALAR
                         ? add_user(m, field, v->keys[k], v->items[k]->str,
                                    where)
                         : sc_fail(SC_EFORMAT, "%s: expected a term id", where);
            }
        } else {
            rc = sc_fail(SC_EFORMAT, "%s: '%s' is not a field", where,
                         root->keys[i]);
        }
    }
    sc_ytree_free(root);
    return rc;
}

int sc_match_load_user(sc_match *m, const char *path)
{
    size_t plen = strlen(path), len;
    sc_lines *in = NULL;
    char *line, *f[32], where[4200];
    int cf = -1, cl = -1, ct = -1, rc, nf, field, header = 1;

    if ((plen > 5 && !strcmp(path + plen - 5, ".yaml")) ||
        (plen > 4 && !strcmp(path + plen - 4, ".yml")))
        return load_user_yaml(m, path);
    if ((rc = sc_lines_open(path, &in)) < 0)
        return rc;
    while ((rc = sc_lines_next(in, &line, &len)) > 0) {
        if (!*line || *line == '#')
            continue;
        nf = split_tabs(line, f, 32);
        if (header) {
            header = 0;
            cf = col_of(f, nf, "field");
            cl = col_of(f, nf, "label");
            ct = col_of(f, nf, "term_id");
            if (cl < 0 || ct < 0) {
                rc = sc_fail(SC_EFORMAT,
                             "'%s' line %ld: the header needs the columns "
                             "label and term_id",
                             path, sc_lines_lineno(in));
                break;
            }
            continue;
        }
        if (nf <= cl || nf <= ct || (cf >= 0 && nf <= cf)) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: too few fields", path,
                         sc_lines_lineno(in));
            break;
        }
        if (!*f[ct])
            continue; /* an unmapped row of a report */
        field = -1;
        if (cf >= 0 && *f[cf] && (field = sc_match_field_find(f[cf])) < 0) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: unknown field '%s'", path,
                         sc_lines_lineno(in), f[cf]);
            break;
        }
        snprintf(where, sizeof where, "'%s' line %ld", path,
                 sc_lines_lineno(in));
        if ((rc = add_user(m, field, f[cl], f[ct], where)) < 0)
            break;
    }
    sc_lines_close(in);
    return rc < 0 ? rc : 0;
}
