/* sc_ytree: a YAML document as a tree of scalars, sequences and mappings. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_YTREE_H
#define SC_YTREE_H

#include <stddef.h>

#include "sc_err.h"

/*
 * The first document of a YAML file read with libyaml into memory, for
 * data files (schema rules, mappings) rather than settings (sc_config).
 * Anchors and aliases are not supported (SC_EUNSUP). Mapping keys keep
 * their order; scalars are strings as written (no type resolution). A
 * tree is read-only once loaded and may be shared between threads.
 */
typedef enum { SC_Y_SCALAR, SC_Y_SEQ, SC_Y_MAP } sc_ykind;

typedef struct sc_ynode sc_ynode;
struct sc_ynode {
    sc_ykind kind;
    char *str;   /* SC_Y_SCALAR: the value */
    size_t n;    /* SC_Y_SEQ, SC_Y_MAP: number of items */
    char **keys; /* SC_Y_MAP: the keys (scalars) */
    sc_ynode **items;
    int line; /* 1-based line where the node starts */
};

/* Sequences and mappings nested deeper than this are refused by every
 * YAML reader of the library (sc_ytree, sc_config). */
#define SC_YAML_MAX_DEPTH 64

/* Read PATH (plain or gzip) into *OUT, which the caller frees with
 * sc_ytree_free(); an empty file gives an empty mapping. Returns 0, or
 * SC_EIO, SC_EFORMAT (libyaml's problem with line and column, a non-scalar
 * key, nesting deeper than SC_YAML_MAX_DEPTH: "'x.yaml' line 9: YAML
 * nested deeper than 64 levels"), SC_EUNSUP (aliases) or SC_ENOMEM; *OUT
 * is then NULL. */
SC_MUST_CHECK int sc_ytree_load(const char *path, sc_ynode **out);
void sc_ytree_free(sc_ynode *n);

/* The value of KEY in mapping N, or NULL (also when N is NULL or not a
 * mapping). */
const sc_ynode *sc_ytree_get(const sc_ynode *n, const char *key);
/* The scalar value of KEY in mapping N, or NULL. */
const char *sc_ytree_str(const sc_ynode *n, const char *key);

#endif
