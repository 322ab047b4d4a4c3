/* sc_config: YAML settings files (sc-config(5)) applied to option tables. */
/* SPDX-License-Identifier: MIT */
#include "sc_config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "sc_ytree.h"

typedef struct setting {
    char *key, *value;
    int line;
} setting;

struct sc_config {
    char *path;
    setting *s;
    size_t n, cap;
};

void sc_config_free(sc_config *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->n; i++) {
        free(c->s[i].key);
        free(c->s[i].value);
    }
    free(c->s);
    free(c->path);
    free(c);
}

const char *sc_config_path(const sc_config *c)
{
    return c->path ? c->path : "";
}

size_t sc_config_count(const sc_config *c)
{
    return c->n;
}

const char *sc_config_key(const sc_config *c, size_t i)
{
    return i < c->n ? c->s[i].key : NULL;
}

const char *sc_config_value(const sc_config *c, size_t i)
{
    return i < c->n ? c->s[i].value : NULL;
}

int sc_config_line(const sc_config *c, size_t i)
{
    return i < c->n ? c->s[i].line : 0;
}

const char *sc_config_get(const sc_config *c, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->s[i].key, key) == 0)
            return c->s[i].value;
    return NULL;
}

int sc_config_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"};
    static const char *const no[] = {"false", "no", "off", "0"};

    for (size_t i = 0; i < sizeof yes / sizeof *yes; i++) {
        if (strcasecmp(s, yes[i]) == 0) {
            *out = 1;
            return 0;
        }
        if (strcasecmp(s, no[i]) == 0) {
            *out = 0;
            return 0;
        }
    }
    return sc_fail(SC_EINVAL, "not a boolean: '%s'", s);
}

/* Parser state: the libyaml parser plus the current event. */
typedef struct rd {
    yaml_parser_t p;
    yaml_event_t ev;
    int have_ev;
    const char *path;
    sc_config *c;
} rd;

static int yaml_err(rd *r)
{
    return sc_fail(SC_ECONFIG, "'%s' line %lu column %lu: %s", r->path,
                   (unsigned long)r->p.problem_mark.line + 1,
                   (unsigned long)r->p.problem_mark.column + 1,
                   r->p.problem ? r->p.problem : "YAML syntax error");
}

static int next(rd *r)
{
    if (r->have_ev)
        yaml_event_delete(&r->ev);
    r->have_ev = 0;
    if (!yaml_parser_parse(&r->p, &r->ev))
        return yaml_err(r);
    r->have_ev = 1;
    return 0;
}

static int line_of(const rd *r)
{
    return (int)r->ev.start_mark.line + 1;
}

static int add(rd *r, const char *key, const char *value, int line)
{
    sc_config *c = r->c;
    char *k;

    if (sc_config_get(c, key))
        return sc_fail(SC_ECONFIG, "'%s' line %d: duplicate key '%s'", r->path,
                       line, key);
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 16;
        setting *s = realloc(c->s, cap * sizeof *s);

        if (!s)
            return sc_fail(SC_ENOMEM, "out of memory");
        c->s = s;
        c->cap = cap;
    }
    if (!(k = strdup(key)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (char *p = k; *p; p++)
        if (*p == '_')
            *p = '-';
    c->s[c->n].key = k;
    c->s[c->n].line = line;
    if (!(c->s[c->n].value = strdup(value))) {
        free(k);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    c->n++;
    return 0;
}

/* Skip the node that starts at the current event, one level down from the
 * top (nesting deeper than SC_YAML_MAX_DEPTH is refused, as sc_ytree does). */
static int skip_node(rd *r)
{
    int depth = 0, rc;

    do {
        switch (r->ev.type) {
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT:
            if (++depth >= SC_YAML_MAX_DEPTH)
                return sc_fail(SC_ECONFIG,
                               "'%s' line %d: YAML nested deeper than %d "
                               "levels",
                               r->path, line_of(r), SC_YAML_MAX_DEPTH);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: depth--; break;
        default: break;
        }
        if (depth > 0 && (rc = next(r)) < 0)
            return rc;
    } while (depth > 0);
    return 0;
}

/* A sequence of scalars joined with ','; the current event starts it. */
static int read_sequence(rd *r, const char *key, char **out)
{
    size_t len = 0;
    char *s = calloc(1, 1);
    int rc;

    *out = NULL;
    if (!s)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (;;) {
        if ((rc = next(r)) < 0)
            goto fail;
        if (r->ev.type == YAML_SEQUENCE_END_EVENT)
            break;
        if (r->ev.type != YAML_SCALAR_EVENT) {
            rc = sc_fail(SC_ECONFIG,
                         "'%s' line %d: '%s': a list may hold "
                         "only plain values",
                         r->path, line_of(r), key);
            goto fail;
        }
        size_t n = r->ev.data.scalar.length;
        char *p = realloc(s, len + n + 2);

        if (!p) {
            rc = sc_fail(SC_ENOMEM, "out of memory");
            goto fail;
        }
        s = p;
        if (len)
            s[len++] = ',';
        memcpy(s + len, r->ev.data.scalar.value, n);
        len += n;
        s[len] = '\0';
    }
    *out = s;
    return 0;
fail:
    free(s);
    return rc;
}

/* Read the entries of a mapping (its start event is current) as settings;
 * TOP: 1 at the top level, where tool sections are allowed. */
static int read_mapping(rd *r, const char *tool, int top)
{
    int rc;

    for (;;) {
        char key[256];
        int line;

        if ((rc = next(r)) < 0)
            return rc;
        if (r->ev.type == YAML_MAPPING_END_EVENT)
            return 0;
        if (r->ev.type != YAML_SCALAR_EVENT)
            return sc_fail(SC_ECONFIG,
                           "'%s' line %d: keys must be plain "
                           "names",
                           r->path, line_of(r));
        line = line_of(r);
        snprintf(key, sizeof key, "%s", (const char *)r->ev.data.scalar.value);
        if ((rc = next(r)) < 0)
            return rc;
        if (r->ev.type == YAML_SCALAR_EVENT) {
            if ((rc = add(r, key, (const char *)r->ev.data.scalar.value,
                          line)) < 0)
                return rc;
        } else if (r->ev.type == YAML_SEQUENCE_START_EVENT) {
            char *v;

            if ((rc = read_sequence(r, key, &v)) < 0)
                return rc;
            rc = add(r, key, v, line);
            free(v);
            if (rc < 0)
                return rc;
        } else if (r->ev.type == YAML_MAPPING_START_EVENT && top && tool &&
                   strcmp(key, tool) == 0) {
            if ((rc = read_mapping(r, tool, 0)) < 0)
                return rc;
        } else if (r->ev.type == YAML_MAPPING_START_EVENT && top &&
                   strncmp(key, "sc-", 3) == 0) {
            if ((rc = skip_node(r)) < 0) /* another tool's section */
                return rc;
        } else {
            return sc_fail(SC_ECONFIG, "'%s' line %d: unknown key '%s'",
                           r->path, line, key);
        }
    }
}

int sc_config_read(const char *path, const char *tool, sc_config **out)
{
    rd r;
    FILE *fp = NULL;
    int rc = 0;

    *out = NULL;
    memset(&r, 0, sizeof r);
    if (!path) {
        path = getenv("SC_CONFIG");
        if (path && !*path)
            path = NULL;
    }
    if (!(r.c = calloc(1, sizeof *r.c)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!path) {
        *out = r.c;
        return 0;
    }
    if (!(r.c->path = strdup(path))) {
        sc_config_free(r.c);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    r.path = path;
    if (!(fp = fopen(path, "rb"))) {
        rc = sc_fail(SC_ECONFIG, "cannot open '%s': %s", path, strerror(errno));
        sc_config_free(r.c);
        return rc;
    }
    if (!yaml_parser_initialize(&r.p)) {
        fclose(fp);
        sc_config_free(r.c);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_file(&r.p, fp);
    /* stream start, then a document holding a mapping (or nothing) */
    if ((rc = next(&r)) < 0 || (rc = next(&r)) < 0)
        goto out;
    if (r.ev.type == YAML_STREAM_END_EVENT)
        goto out; /* an empty file */
    if ((rc = next(&r)) < 0)
        goto out;
    if (r.ev.type == YAML_SCALAR_EVENT && r.ev.data.scalar.length == 0)
        goto out; /* "---" alone */
    if (r.ev.type != YAML_MAPPING_START_EVENT) {
        rc = sc_fail(SC_ECONFIG,
                     "'%s' line %d: expected a mapping of "
                     "settings (key: value)",
                     path, line_of(&r));
        goto out;
    }
    rc = read_mapping(&r, tool, 1);
out:
    if (r.have_ev)
        yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.p);
    fclose(fp);
    if (rc < 0) {
        sc_config_free(r.c);
        return rc;
    }
    *out = r.c;
    return 0;
}

static const sc_opt *find_opt(const sc_opt *opts, const char *name)
{
    for (const sc_opt *o = opts; o->key || o->long_name || o->help; o++)
        if (o->long_name && strcmp(o->long_name, name) == 0)
            return o;
    return NULL;
}

/* Common options handled by sc_cli: applied to CLI. */
static int apply_common(const sc_opt *o, const char *v, int on, sc_cli *cli)
{
    int64_t n;
    int rc;

    switch (o->key) {
    case '@':
        if ((rc = sc_parse_int(v, 0, 4096, &n)) < 0)
            return rc;
        if (cli) {
            long cpus = 1;
#ifdef _SC_NPROCESSORS_ONLN
            cpus = sysconf(_SC_NPROCESSORS_ONLN);
#endif
            cli->threads = n ? (int)n : (cpus > 0 ? (int)cpus : 1);
        }
        return 0;
    case SC_OPT_PROGRESS:
        if (cli && on)
            cli->progress = SC_PROGRESS_ON;
        return 0;
    case SC_OPT_NO_PROGRESS:
        if (cli && on)
            cli->progress = SC_PROGRESS_OFF;
        return 0;
    case SC_OPT_NO_PROVENANCE:
        if (cli && on)
            cli->provenance = 0;
        return 0;
    default: return sc_fail(SC_EINVAL, "cannot be set in a settings file");
    }
}

int sc_config_apply(const sc_config *c, const sc_opt *opts, sc_cli *cli,
                    int (*on_option)(int key, const char *arg, void *ud),
                    int (*given)(int key, void *ud), void *ud)
{
    for (size_t i = 0; i < c->n; i++) {
        const setting *s = &c->s[i];
        const sc_opt *o = find_opt(opts, s->key);
        int on = 1, rc = 0;

        if (!o)
            return sc_fail(SC_ECONFIG, "'%s' line %d: unknown key '%s'",
                           c->path, s->line, s->key);
        if (o->arg == SC_ARG_NONE && (rc = sc_config_bool(s->value, &on)) < 0)
            goto bad;
        if (given && given(o->key, ud))
            continue;
        if (o->key < SC_OPT_LONG && strchr("hVcqv", o->key)) {
            rc = sc_fail(SC_EINVAL, "cannot be set in a settings file");
            goto bad;
        }
        if (o->key == '@' || (o->key >= SC_OPT_LONG && o->key < SC_OPT_USER))
            rc = apply_common(o, s->value, on, cli);
        else if (o->arg != SC_ARG_NONE)
            rc = on_option(o->key, s->value, ud);
        else if (on)
            rc = on_option(o->key, NULL, ud);
        if (rc < 0)
            goto bad;
        continue;
    bad:
        return sc_fail_ctx(SC_ECONFIG, "'%s' line %d: '%s'", c->path, s->line,
                           s->key);
    }
    return 0;
}

struct load_ud {
    sc_cli *cli;
    int (*on_option)(int key, const char *arg, void *ud);
    void *ud;
};

static int load_given(int key, void *ud)
{
    return sc_cli_given(((struct load_ud *)ud)->cli, key);
}

static int load_option(int key, const char *arg, void *ud)
{
    struct load_ud *l = ud;

    if (!l->on_option)
        return sc_fail(SC_EINVAL, "cannot be set in a settings file");
    return l->on_option(key, arg, l->ud);
}

int sc_config_load(sc_cli *cli, const char *tool, const sc_opt *opts,
                   int (*on_option)(int key, const char *arg, void *ud),
                   void *ud, sc_config **out)
{
    struct load_ud l = {cli, on_option, ud};
    sc_config *c;
    int rc;

    *out = NULL;
    if ((rc = sc_config_read(cli->config, tool, &c)) < 0)
        return rc;
    if ((rc = sc_config_apply(c, opts, cli, load_option, load_given, &l)) < 0) {
        sc_config_free(c);
        return rc;
    }
    if (!c->path) {
        sc_config_free(c);
        return 0;
    }
    *out = c;
    return 0;
}
