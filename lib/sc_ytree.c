/* sc_ytree: a YAML document as a tree of scalars, sequences and mappings. */
/* SPDX-License-Identifier: MIT */
#include "sc_ytree.h"

#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "sc_io.h"

struct reader {
    yaml_parser_t p;
    yaml_event_t ev;
    const char *path;
    int have_ev;
};

static int next_event(struct reader *r)
{
    if (r->have_ev)
        yaml_event_delete(&r->ev);
    r->have_ev = 0;
    if (!yaml_parser_parse(&r->p, &r->ev))
        return sc_fail(SC_EFORMAT, "'%s' line %zu column %zu: %s", r->path,
                       r->p.problem_mark.line + 1, r->p.problem_mark.column + 1,
                       r->p.problem ? r->p.problem : "YAML error");
    r->have_ev = 1;
    return 0;
}

static sc_ynode *new_node(sc_ykind kind, int line)
{
    sc_ynode *n = calloc(1, sizeof *n);

    if (n) {
        n->kind = kind;
        n->line = line;
    }
    return n;
}

static int push(sc_ynode *parent, char *key, sc_ynode *child)
{
    sc_ynode **items = realloc(parent->items, (parent->n + 1) * sizeof *items);

    if (!items)
        return sc_fail(SC_ENOMEM, "out of memory");
    parent->items = items;
    if (parent->kind == SC_Y_MAP) {
        char **keys = realloc(parent->keys, (parent->n + 1) * sizeof *keys);

        if (!keys)
            return sc_fail(SC_ENOMEM, "out of memory");
        parent->keys = keys;
        keys[parent->n] = key;
    }
    items[parent->n++] = child;
    return 0;
}

/* Build the node whose start event is the current one, DEPTH levels down
 * (nesting deeper than SC_YAML_MAX_DEPTH is refused: no stack overflow). */
static int build(struct reader *r, int depth, sc_ynode **out)
{
    int line = (int)r->ev.start_mark.line + 1, rc;
    sc_ynode *n = NULL, *child = NULL;
    char *key = NULL;

    *out = NULL;
    switch (r->ev.type) {
    case YAML_SCALAR_EVENT:
        if (!(n = new_node(SC_Y_SCALAR, line)) ||
            !(n->str = strdup((const char *)r->ev.data.scalar.value))) {
            free(n);
            return sc_fail(SC_ENOMEM, "out of memory");
        }
        *out = n;
        return 0;
    case YAML_ALIAS_EVENT:
        return sc_fail(SC_EUNSUP,
                       "'%s' line %d: YAML aliases are not supported", r->path,
                       line);
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT:
        if (depth >= SC_YAML_MAX_DEPTH)
            return sc_fail(SC_EFORMAT,
                           "'%s' line %d: YAML nested deeper than %d levels",
                           r->path, line, SC_YAML_MAX_DEPTH);
        break;
    default:
        return sc_fail(SC_EFORMAT, "'%s' line %d: unexpected YAML event",
                       r->path, line);
    }
    if (!(n = new_node(r->ev.type == YAML_SEQUENCE_START_EVENT ? SC_Y_SEQ
                                                               : SC_Y_MAP,
                       line)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (;;) {
        if ((rc = next_event(r)) < 0)
            goto fail;
        if (r->ev.type == YAML_SEQUENCE_END_EVENT ||
            r->ev.type == YAML_MAPPING_END_EVENT)
            break;
        if (n->kind == SC_Y_MAP) {
            if (r->ev.type != YAML_SCALAR_EVENT) {
                rc =
                    sc_fail(SC_EFORMAT, "'%s' line %zu: a key must be a scalar",
                            r->path, r->ev.start_mark.line + 1);
                goto fail;
            }
            if (!(key = strdup((const char *)r->ev.data.scalar.value))) {
                rc = sc_fail(SC_ENOMEM, "out of memory");
                goto fail;
            }
            if ((rc = next_event(r)) < 0)
                goto fail;
        }
        if ((rc = build(r, depth + 1, &child)) < 0)
            goto fail;
        if ((rc = push(n, key, child)) < 0)
            goto fail;
        key = NULL;
        child = NULL;
    }
    *out = n;
    return 0;
fail:
    free(key);
    sc_ytree_free(child);
    sc_ytree_free(n);
    return rc;
}

int sc_ytree_load(const char *path, sc_ynode **out)
{
    struct reader r = {.path = path};
    char *text = NULL;
    size_t len = 0;
    sc_ynode *root = NULL;
    int rc;

    *out = NULL;
    if ((rc = sc_io_read_file_gz(path, &text, &len)) < 0)
        return rc;
    if (!yaml_parser_initialize(&r.p)) {
        free(text);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    yaml_parser_set_input_string(&r.p, (const unsigned char *)text, len);
    do { /* skip the stream and document starts */
        if ((rc = next_event(&r)) < 0)
            goto out;
    } while (r.ev.type == YAML_STREAM_START_EVENT ||
             r.ev.type == YAML_DOCUMENT_START_EVENT);
    if (r.ev.type == YAML_STREAM_END_EVENT) {
        root = new_node(SC_Y_MAP, 1);
        rc = root ? 0 : sc_fail(SC_ENOMEM, "out of memory");
    } else {
        rc = build(&r, 0, &root);
    }
out:
    if (r.have_ev)
        yaml_event_delete(&r.ev);
    yaml_parser_delete(&r.p);
    free(text);
    if (rc == 0)
        *out = root;
    return rc;
}

void sc_ytree_free(sc_ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            free(n->keys[i]);
        sc_ytree_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->str);
    free(n);
}

const sc_ynode *sc_ytree_get(const sc_ynode *n, const char *key)
{
    if (!n || n->kind != SC_Y_MAP)
        return NULL;
    for (size_t i = 0; i < n->n; i++)
        if (!strcmp(n->keys[i], key))
            return n->items[i];
    return NULL;
}

const char *sc_ytree_str(const sc_ynode *n, const char *key)
{
    const sc_ynode *v = sc_ytree_get(n, key);

    return v && v->kind == SC_Y_SCALAR ? v->str : NULL;
}
