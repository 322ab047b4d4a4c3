/* sc_map: the hash maps of the library (open addressing): strings -> int64
 * (FNV-1a, keys borrowed) and uint64 -> int64; and the string arena that
 * keeps borrowed keys alive. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_MAP_H
#define SC_MAP_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/* FNV-1a of S, continuing from H (0: start). */
uint64_t sc_strhash(const char *s, uint64_t h);

/* Zero-initialise; release with sc_strmap_release. KEY strings must
 * outlive the map. Not thread-safe for writers. */
typedef struct sc_strmap {
    const char **key;
    int64_t *val;
    uint64_t
        *hash; /* of each key: compared before the strings, kept on growth */
    size_t cap, n;
} sc_strmap;

/* Add KEY with value VAL unless present (the first value wins). 0 or
 * SC_ENOMEM. */
SC_MUST_CHECK int sc_strmap_put(sc_strmap *m, const char *key, int64_t val);
/* The value of KEY, or -1 when absent. */
int64_t sc_strmap_get(const sc_strmap *m, const char *key);
/* Where the value of KEY is: added (with VAL, *ADDED 1) when absent. 0 or
 * SC_ENOMEM; *OUT is valid until the next addition. */
SC_MUST_CHECK int sc_strmap_slot(sc_strmap *m, const char *key, int64_t val,
                                 int64_t **out, int *added);
/* Where the value of KEY is, or NULL when absent. */
int64_t *sc_strmap_find(const sc_strmap *m, const char *key);
void sc_strmap_release(sc_strmap *m);

/* The same for uint64 keys (any value), zero-initialised. */
typedef struct sc_u64map {
    uint64_t *key;
    int64_t *val;
    uint8_t *used;
    size_t cap, n;
} sc_u64map;

SC_MUST_CHECK int sc_u64map_slot(sc_u64map *m, uint64_t key, int64_t val,
                                 int64_t **out, int *added);
int64_t *sc_u64map_find(const sc_u64map *m, uint64_t key);
void sc_u64map_release(sc_u64map *m);

/* A string arena: copies kept in blocks of 1 MiB (a longer string gets a
 * block of its own) that never move, so the copies stay valid until the
 * arena is released; zero-initialise. Not thread-safe. */
typedef struct sc_strarena {
    char **blk;
    size_t n_blk, used, cap; /* bytes used and held in the last block */
} sc_strarena;

/* A copy of the N bytes at S followed by a NUL (S may hold NULs), or NULL
 * when out of memory. */
char *sc_strarena_dup(sc_strarena *a, const void *s, size_t n);
void sc_strarena_release(sc_strarena *a);

#endif
