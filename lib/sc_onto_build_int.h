/* sc_onto_build_int: the raw terms shared by sc_onto_parse.c (which reads
 * guide JSON and OBO into them) and sc_onto_build.c (which compiles them). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_ONTO_BUILD_INT_H
#define SC_ONTO_BUILD_INT_H

#include <stddef.h>
#include <stdint.h>

#include "sc_onto_int.h"

/* A string pool addressed by 32-bit offsets; offset 0 is "". */
struct pool {
    char *p;
    size_t len, cap;
};

/* The terms as parsed, before compiling. */
struct rterm {
    uint32_t id, label, replaced_by, flags;
    size_t syn, n_syn, cons, n_cons, alt, n_alt; /* ranges of raw.strs */
    size_t up, n_up;                             /* range of raw.up */
    long line;                                   /* OBO: stanza start */
    int skip;                                    /* not of this ontology */
};

/* A string of a pool with a number: an edge or ancestor by id (offset in
 * raw.tmp) with its distance, or an OBO stanza's list item with its kind. */
struct rup {
    uint32_t id, dist;
};

struct raw {
    const char *path;
    struct pool pool; /* strings kept in the blob */
    struct pool tmp;  /* ids of edges, only needed while compiling */
    struct rterm *t;
    size_t n, cap;
    uint32_t *strs;
    size_t n_strs, cap_strs;
    struct rup *up;
    size_t n_up, cap_up;
};

/* Add S (N bytes) to B as a string; *OFF its offset (0 for ""). */
int sc_onto_pool_add(struct pool *b, const char *s, size_t n, uint32_t *off);

/* sc_onto_pool_add of the C string S. */
int sc_onto_pool_str(struct pool *b, const char *s, uint32_t *off);

/* Free what R holds (not R). */
void sc_onto_raw_release(struct raw *r);

/* A new zeroed term at the end of R's terms, in *OUT. */
int sc_onto_raw_new_term(struct raw *r, struct rterm **out);

/* Append S (N bytes) to R's string list (synonyms, consider, alt ids). */
int sc_onto_raw_add_str(struct raw *r, const char *s, size_t n);

/* Append (S of N bytes, added to POOL; NUM) to the array *V (*N_V, *CAP). */
int sc_onto_rup_add(struct pool *pool, struct rup **v, size_t *n_v, size_t *cap,
                    const char *s, size_t n, uint32_t num);

/* Append the edge or ancestor ID (N bytes) at distance DIST to R. */
int sc_onto_raw_add_up(struct raw *r, const char *id, size_t n, uint32_t dist);

/* The prefixes of the kept terms, space-separated, most common first. */
int sc_onto_prefix_list(const struct raw *r, char *buf, size_t size);

/*
 * Compile R into a blob. CLOSURE: R's edges are parents (OBO) whose
 * closure is computed, else they are the ancestors already (guide JSON).
 */
int sc_onto_compile(struct raw *r, int closure_needed, const char *name,
                    const char *version, const struct onto_src *src,
                    struct onto_seg **out);

#endif
