/* sc_onto_parse: guide JSON and OBO 1.2 files (gzip or not) read into the
 * raw terms that sc_onto_build compiles. */
/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <libdeflate.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_io.h"
#include "sc_log.h"
#include "sc_onto_build_int.h"
#include "sc_onto_int.h"

/* ---- reading a whole file, gzip or not ---- */

/* Inflate the gzip members of IN into a new NUL-terminated buffer.
 * libdeflate: the guide files inflate about twice as fast as with zlib. */
static int gunzip(const char *path, const unsigned char *in, size_t n_in,
                  char **out, size_t *n_out)
{
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    size_t cap = n_in >= 4 ? (size_t)in[n_in - 4] | (size_t)in[n_in - 3] << 8 |
                                 (size_t)in[n_in - 2] << 16 |
                                 (size_t)in[n_in - 1] << 24
                           : 0;
    size_t pos = 0, used = 0;
    char *buf = NULL, *nb;
    int rc = 0;

    if (!d)
        return sc_fail(SC_ENOMEM, "out of memory");
    cap = cap < n_in ? n_in * 4 : cap;
    if (!(buf = malloc(cap + 1))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    while (pos < n_in) {
        size_t ain = 0, aout = 0;
        enum libdeflate_result r;

        if (in[pos] != 0x1f) /* zero padding after the last member */
            break;
        r = libdeflate_gzip_decompress_ex(d, in + pos, n_in - pos, buf + used,
                                          cap - used, &ain, &aout);
        if (r == LIBDEFLATE_INSUFFICIENT_SPACE) {
            if (cap > SIZE_MAX / 4 || !(nb = realloc(buf, cap * 2 + 1))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto out;
            }
            buf = nb;
            cap *= 2;
            continue;
        }
        if (r != LIBDEFLATE_SUCCESS) {
            rc = sc_fail(SC_ECORRUPT,
                         "cannot read '%s': damaged or truncated gzip data",
                         path);
            goto out;
        }
        pos += ain;
        used += aout;
    }
    buf[used] = '\0';
    *out = buf;
    *n_out = used;
    buf = NULL;
out:
    free(buf);
    libdeflate_free_decompressor(d);
    return rc;
}

/* ---- guide JSON ---- */

static int bad_term(const struct raw *r, const char *id, const char *key,
                    const char *what)
{
    if (key)
        return sc_fail(SC_EFORMAT, "'%s': term '%s': '%s' %s", r->path, id, key,
                       what);
    return sc_fail(SC_EFORMAT, "'%s': term '%s' %s", r->path, id, what);
}

/* An optional array of strings KEY of term ID into raw.strs. */
static int json_strings(struct raw *r, const char *id, json_t *v,
                        const char *key, size_t *first, size_t *n)
{
    json_t *a = json_object_get(v, key), *s;
    size_t i;
    int rc;

    *first = r->n_strs;
    *n = 0;
    if (!a)
        return 0;
    if (!json_is_array(a))
        return bad_term(r, id, key, "is not an array");
    json_array_foreach(a, i, s)
    {
        if (!json_is_string(s))
            return bad_term(r, id, key, "has an element that is not a string");
        if (!json_string_length(s))
            continue;
        if ((rc = sc_onto_raw_add_str(r, json_string_value(s),
                                      json_string_length(s))) < 0)
            return rc;
        (*n)++;
    }
    return 0;
}

static int json_opt_string(const struct raw *r, const char *id, json_t *v,
                           const char *key, json_t **out)
{
    *out = json_object_get(v, key);
    if (*out && !json_is_string(*out)) {
        if (json_is_null(*out)) {
            *out = NULL;
            return 0;
        }
        return bad_term(r, id, key, "is not a string");
    }
    return 0;
}

static int json_term(struct raw *r, const char *id, json_t *v)
{
    json_t *label, *rb, *dep, *anc, *d;
    struct rterm *t;
    const char *aid;
    int rc;

    if (!*id)
        return sc_fail(SC_EFORMAT, "'%s': a term with an empty id", r->path);
    if (!json_is_object(v))
        return bad_term(r, id, NULL, "is not an object");
    if ((rc = json_opt_string(r, id, v, "label", &label)) < 0 ||
        (rc = json_opt_string(r, id, v, "replaced_by", &rb)) < 0)
        return rc;
    dep = json_object_get(v, "deprecated");
    if (dep && !json_is_boolean(dep))
        return bad_term(r, id, "deprecated", "is not true or false");
    anc = json_object_get(v, "ancestors");
    if (anc && !json_is_object(anc))
        return bad_term(r, id, "ancestors", "is not an object");
    if ((rc = sc_onto_raw_new_term(r, &t)) < 0)
        return rc;
    t->flags = json_is_true(dep) ? ONTO_DEPRECATED : 0;
    if ((rc = sc_onto_pool_str(&r->pool, id, &t->id)) < 0 ||
        (label &&
         (rc = sc_onto_pool_add(&r->pool, json_string_value(label),
                                json_string_length(label), &t->label)) < 0) ||
        (rb && (rc = sc_onto_pool_add(&r->pool, json_string_value(rb),
                                      json_string_length(rb),
                                      &t->replaced_by)) < 0) ||
        (rc = json_strings(r, id, v, "synonyms", &t->syn, &t->n_syn)) < 0 ||
        (rc = json_strings(r, id, v, "consider", &t->cons, &t->n_cons)) < 0)
        return rc;
    t->up = r->n_up;
    if (anc) {
        json_object_foreach(anc, aid, d)
        {
            json_int_t dist = json_is_integer(d) ? json_integer_value(d) : -1;

            if (dist < 0 || dist > INT32_MAX)
                return bad_term(
                    r, id, "ancestors",
                    "has a distance that is not a non-negative integer");
            if ((rc = sc_onto_raw_add_up(r, aid, strlen(aid), (uint32_t)dist)) <
                0)
                return rc;
        }
    }
    t->n_up = r->n_up - t->up;
    return 0;
}

int sc_onto_seg_parse_json(const struct onto_src *src, const char *name,
                           const char *version, struct onto_seg **out)
{
    struct raw r = {.path = src->path};
    unsigned char *file = NULL;
    char *text = NULL, prefixes[64];
    size_t n_file = 0, n_text = 0;
    json_t *root = NULL, *v;
    json_error_t err;
    const char *id;
    int rc;

    *out = NULL;
    if ((rc = sc_io_read_file(src->path, (char **)&file, &n_file)) < 0)
        return rc == SC_ENOTFOUND ? SC_EIO : rc; /* sc_onto_load's code */
    if (n_file >= 2 && file[0] == 0x1f && file[1] == 0x8b) {
        rc = gunzip(src->path, file, n_file, &text, &n_text);
        free(file);
        if (rc < 0)
            return rc;
    } else {
        text = (char *)file;
        n_text = n_file;
    }
    root = json_loadb(text, n_text, JSON_REJECT_DUPLICATES, &err);
    free(text);
    if (!root) {
        rc = sc_fail(SC_EFORMAT, "cannot parse '%s': line %d column %d: %s",
                     src->path, err.line, err.column, err.text);
        goto out;
    }
    if (!json_is_object(root)) {
        rc = sc_fail(
            SC_EFORMAT,
            "'%s': not an ontology-guide file (the top level is not an object)",
            src->path);
        goto out;
    }
    json_object_foreach(root, id, v)
    {
        if ((rc = json_term(&r, id, v)) < 0)
            goto out;
    }
    json_decref(root);
    root = NULL;
    if (!name || !*name) {
        sc_onto_prefix_list(&r, prefixes, sizeof prefixes);
        prefixes[strcspn(prefixes, " ")] = '\0';
        name = prefixes;
    }
    rc = sc_onto_compile(&r, 0, name, version && *version ? version : "unknown",
                         src, out);
out:
    json_decref(root);
    sc_onto_raw_release(&r);
    return rc;
}

/* ---- OBO 1.2 ---- */

struct obo {
    struct raw *r;
    sc_lines *in;
    long line;
    struct rterm *t; /* the [Term] being read, or NULL */
    /* its lists, kept apart until the stanza ends (tags interleave) */
    struct pool items;
    struct rup *it; /* (item, IT_* kind) */
    size_t n_it, cap_it;
    char ontology[64], version[128], date[64];
    char first_id[64]; /* header_only: the first term's id */
};

enum { IT_SYN, IT_CONS, IT_ALT, IT_UP };

static int obo_err(const struct obo *b, const char *what)
{
    return sc_fail(SC_EFORMAT, "'%s': line %ld: %s", b->r->path, b->line, what);
}

static int obo_item(struct obo *b, int kind, const char *s, size_t n)
{
    return sc_onto_rup_add(&b->items, &b->it, &b->n_it, &b->cap_it, s, n,
                           (uint32_t)kind);
}

/* Move the stanza's lists into raw, each contiguous. */
static int obo_end_term(struct obo *b)
{
    struct rterm *t = b->t;
    size_t *first[3], *count[3];
    int rc;

    if (!t)
        return 0;
    first[IT_SYN] = &t->syn;
    first[IT_CONS] = &t->cons;
    first[IT_ALT] = &t->alt;
    count[IT_SYN] = &t->n_syn;
    count[IT_CONS] = &t->n_cons;
    count[IT_ALT] = &t->n_alt;
    if (!t->id)
        return sc_fail(SC_EFORMAT, "'%s': line %ld: [Term] without an id",
                       b->r->path, t->line);
    for (int k = IT_SYN; k <= IT_UP; k++) {
        if (k == IT_UP)
            t->up = b->r->n_up;
        else
            *first[k] = b->r->n_strs;
        for (size_t i = 0; i < b->n_it; i++) {
            const char *s = b->items.p + b->it[i].id;

            if (b->it[i].dist != (uint32_t)k)
                continue;
            rc = k == IT_UP ? sc_onto_raw_add_up(b->r, s, strlen(s), 1)
                            : sc_onto_raw_add_str(b->r, s, strlen(s));
            if (rc < 0)
                return rc;
        }
        if (k == IT_UP)
            t->n_up = b->r->n_up - t->up;
        else
            *count[k] = b->r->n_strs - *first[k];
    }
    b->n_it = 0;
    b->items.len = 0;
    b->t = NULL;
    return 0;
}

/* Undo OBO escapes in S in place up to a comment ("!" after a blank) or a
 * trailing modifier ("{" after a blank, with MODIFIERS); trim blanks. */
static char *obo_unescape(char *s, int modifiers)
{
    char *w = s, *r = s;

    while (*r == ' ' || *r == '\t')
        r++;
    for (; *r; r++) {
        if (*r == '\\' && r[1]) {
            r++;
            *w++ = *r == 'n' ? '\n' : *r == 't' ? '\t' : *r == 'W' ? ' ' : *r;
            continue;
        }
        if ((*r == '!' || (modifiers && *r == '{')) &&
            (r == s || r[-1] == ' ' || r[-1] == '\t'))
            break;
        *w++ = *r;
    }
    while (w > s && (w[-1] == ' ' || w[-1] == '\t'))
        w--;
    *w = '\0';
    return s;
}

/* The first word of an id-valued tag ("CL:0000542 ! lymphocyte"). */
static char *obo_id(char *v)
{
    v = obo_unescape(v, 1);
    v[strcspn(v, " \t")] = '\0';
    return v;
}

/* synonym: "text" SCOPE [TYPE] [xrefs]: the text when SCOPE is EXACT, or
 * NULL. */
static int obo_synonym(struct obo *b, char *v, char **text)
{
    char *w, *r;

    *text = NULL;
    while (*v == ' ')
        v++;
    if (*v != '"')
        return obo_err(b, "synonym without a quoted text");
    for (w = r = v + 1; *r && *r != '"'; r++) {
        if (*r == '\\' && r[1])
            r++;
        *w++ = *r;
    }
    if (*r != '"')
        return obo_err(b, "synonym with an unterminated quoted text");
    *w = '\0';
    r++;
    while (*r == ' ')
        r++;
    if (!strncmp(r, "EXACT", 5) && (r[5] == ' ' || !r[5]))
        *text = v + 1;
    return 0;
}

static int obo_term_tag(struct obo *b, const char *tag, char *v)
{
    struct rterm *t = b->t;
    struct raw *r = b->r;
    char *s;
    int rc;

    if (!strcmp(tag, "id")) {
        if (t->id)
            return obo_err(b, "a second id in one stanza");
        s = obo_id(v);
        if (!*s)
            return obo_err(b, "empty id");
        return sc_onto_pool_str(&r->pool, s, &t->id);
    }
    if (!strcmp(tag, "name"))
        return t->label
                   ? 0
                   : sc_onto_pool_str(&r->pool, obo_unescape(v, 0), &t->label);
    if (!strcmp(tag, "is_obsolete")) {
        s = obo_unescape(v, 1);
        if (strcmp(s, "true") && strcmp(s, "false"))
            return obo_err(b, "is_obsolete is not true or false");
        t->flags |= !strcmp(s, "true") ? ONTO_DEPRECATED : 0;
        return 0;
    }
    if (!strcmp(tag, "replaced_by"))
        return t->replaced_by
                   ? 0
                   : sc_onto_pool_str(&r->pool, obo_id(v), &t->replaced_by);
    if (!strcmp(tag, "synonym")) {
        if ((rc = obo_synonym(b, v, &s)) < 0 || !s || !*s)
            return rc;
        return obo_item(b, IT_SYN, s, strlen(s));
    }
    if (!strcmp(tag, "consider") || !strcmp(tag, "alt_id") ||
        !strcmp(tag, "is_a")) {
        s = obo_id(v);
        return *s ? obo_item(b,
                             !strcmp(tag, "consider") ? IT_CONS
                             : !strcmp(tag, "alt_id") ? IT_ALT
                                                      : IT_UP,
                             s, strlen(s))
                  : obo_err(b, "empty id");
    }
    if (!strcmp(tag, "relationship")) {
        /* "part_of X" or "BFO:0000050 X"; other relations are not
         * part of the hierarchy (as in the guide). */
        s = obo_unescape(v, 1);
        size_t n = strcspn(s, " \t");

        if ((n == 7 && !strncmp(s, "part_of", 7)) ||
            (n == 11 && !strncmp(s, "BFO:0000050", 11))) {
            s += n + strspn(s + n, " \t");
            s[strcspn(s, " \t")] = '\0';
            return *s ? obo_item(b, IT_UP, s, strlen(s))
                      : obo_err(b, "relationship without a target");
        }
    }
    return 0;
}

/* The version in a data-version value: the first path component that
 * starts with a digit or "v" and a digit, else the whole value. */
static void obo_version(const char *dv, char *buf, size_t size)
{
    const char *p = dv;

    while (*p) {
        size_t n = strcspn(p, "/");

        if (isdigit((unsigned char)p[0]) ||
            (p[0] == 'v' && isdigit((unsigned char)p[1]))) {
            snprintf(buf, size, "%.*s", (int)n, p);
            return;
        }
        p += n + (p[n] == '/');
    }
    snprintf(buf, size, "%s", dv);
}

static void obo_header_tag(struct obo *b, const char *tag, char *v)
{
    v = obo_unescape(v, 0);
    if (!strcmp(tag, "ontology") && !b->ontology[0])
        snprintf(b->ontology, sizeof b->ontology, "%.*s", (int)strcspn(v, "/"),
                 v);
    else if (!strcmp(tag, "data-version") && !b->version[0])
        obo_version(v, b->version, sizeof b->version);
    else if (!strcmp(tag, "date") && !b->date[0])
        snprintf(b->date, sizeof b->date, "%s", v);
}

/* Read the file: terms into raw; the header into B. With HEADER_ONLY,
 * stop at the first term's id (into B->first_id) and keep no terms. */
static int obo_read(struct obo *b, int header_only)
{
    enum { HEADER, TERM, OTHER } state = HEADER;
    char *line;
    size_t len;
    int rc;

    while ((rc = sc_lines_next(b->in, &line, &len)) > 0) {
        char *tag, *v;

        b->line = sc_lines_lineno(b->in);
        if (strlen(line) != len)
            return obo_err(b, "NUL byte in the line");
        while (*line == ' ' || *line == '\t')
            line++;
        if (!*line || *line == '!')
            continue;
        if (*line == '[') {
            if ((rc = obo_end_term(b)) < 0)
                return rc;
            line[strcspn(line, " \t\r")] = '\0';
            state = !strcmp(line, "[Term]") ? TERM : OTHER;
            if (state == TERM && !header_only) {
                if ((rc = sc_onto_raw_new_term(b->r, &b->t)) < 0)
                    return rc;
                b->t->line = b->line;
            }
            continue;
        }
        if (!(v = strchr(line, ':')) || v == line)
            return obo_err(b, "expected 'tag: value'");
        tag = line;
        *v++ = '\0';
        if (header_only && state == TERM && !strcmp(tag, "id")) {
            snprintf(b->first_id, sizeof b->first_id, "%s", obo_id(v));
            return 0;
        }
        if (state == HEADER)
            obo_header_tag(b, tag, v);
        else if (state == TERM && b->t && (rc = obo_term_tag(b, tag, v)) < 0)
            return rc;
    }
    if (rc < 0)
        return rc;
    return obo_end_term(b);
}

/* Keep the terms of the main prefix: the "ontology:" header's when a term
 * has it (ignoring case), else the most common one. Its spelling -> NAME. */
static void obo_main_prefix(struct raw *r, const char *ontology, char *name,
                            size_t size)
{
    char list[256], *p, *save = NULL, *best = NULL;

    sc_onto_prefix_list(r, list, sizeof list);
    for (p = strtok_r(list, " ", &save); p; p = strtok_r(NULL, " ", &save)) {
        if (!best)
            best = p;
        if (*ontology && !strcasecmp(p, ontology)) {
            best = p;
            break;
        }
    }
    snprintf(name, size, "%s", best ? best : "");
    for (size_t i = 0; i < r->n; i++) {
        const char *id = r->pool.p + r->t[i].id;
        size_t n = strcspn(id, ":");

        r->t[i].skip = !(n == strlen(name) && !strncmp(id, name, n));
    }
}

static int obo_open(struct obo *b, struct raw *r)
{
    memset(b, 0, sizeof *b);
    b->r = r;
    return sc_lines_open(r->path, &b->in);
}

static void obo_close(struct obo *b)
{
    sc_lines_close(b->in);
    free(b->items.p);
    free(b->it);
}

int sc_onto_seg_parse_obo(const struct onto_src *src, struct onto_seg **out)
{
    struct raw r = {.path = src->path};
    struct obo b;
    char name[64];
    int rc;

    *out = NULL;
    if ((rc = obo_open(&b, &r)) < 0)
        return rc;
    if ((rc = obo_read(&b, 0)) < 0)
        goto out;
    obo_main_prefix(&r, b.ontology, name, sizeof name);
    rc = sc_onto_compile(&r, 1, name,
                         b.version[0] ? b.version
                         : b.date[0]  ? b.date
                                      : "unknown",
                         src, out);
out:
    obo_close(&b);
    sc_onto_raw_release(&r);
    return rc;
}

int sc_onto_seg_probe_obo(const char *path, char *name, char *version,
                          size_t size)
{
    struct raw r = {.path = path};
    struct obo b;
    size_t n;
    int rc;

    if ((rc = obo_open(&b, &r)) < 0)
        return rc;
    if ((rc = obo_read(&b, 1)) < 0)
        goto out;
    /* The first term's spelling of the prefix the header names. */
    n = strcspn(b.first_id, ":");
    if (n && (!b.ontology[0] || (n == strlen(b.ontology) &&
                                 !strncasecmp(b.first_id, b.ontology, n))))
        snprintf(name, size, "%.*s", (int)n, b.first_id);
    else
        snprintf(name, size, "%s", b.ontology[0] ? b.ontology : "unknown");
    snprintf(version, size, "%s",
             b.version[0] ? b.version
             : b.date[0]  ? b.date
                          : "unknown");
out:
    obo_close(&b);
    sc_onto_raw_release(&r);
    return rc;
}
