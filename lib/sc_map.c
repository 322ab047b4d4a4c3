/* sc_map: string -> int64 and uint64 -> int64 hash maps. */
/* SPDX-License-Identifier: MIT */
#include "sc_map.h"

#include <stdlib.h>
#include <string.h>

uint64_t sc_strhash(const char *s, uint64_t h)
{
    if (!h)
        h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h;
}

/* The slot of KEY (hash H) in a table of CAP (a power of two): its own, or
 * the empty one where it would go. */
static size_t slot_of(const char *const *key, const uint64_t *hash, size_t cap,
                      const char *k, uint64_t h)
{
    size_t j = h & (cap - 1);
    while (key[j] && (hash[j] != h || strcmp(key[j], k) != 0))
        j = (j + 1) & (cap - 1);
    return j;
}

static int grow(sc_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    const char **key = calloc(cap, sizeof *key);
    int64_t *val = malloc(cap * sizeof *val);
    uint64_t *hash = malloc(cap * sizeof *hash);

    if (!key || !val || !hash) {
        free(key);
        free(val);
        free(hash);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->key[i])
            continue;
        /* the keys are distinct: the first empty slot is the place */
        size_t j = m->hash[i] & (cap - 1);
        while (key[j])
            j = (j + 1) & (cap - 1);
        key[j] = m->key[i];
        val[j] = m->val[i];
        hash[j] = m->hash[i];
    }
    free(m->key);
    free(m->val);
    free(m->hash);
    m->key = key;
    m->val = val;
    m->hash = hash;
    m->cap = cap;
    return 0;
}

int sc_strmap_slot(sc_strmap *m, const char *key, int64_t val, int64_t **out,
                   int *added)
{
    int rc;
    if ((m->n + 1) * 2 > m->cap && (rc = grow(m)) < 0)
        return rc;
    uint64_t h = sc_strhash(key, 0);
    size_t j = slot_of(m->key, m->hash, m->cap, key, h);
    *added = !m->key[j];
    if (*added) {
        m->key[j] = key;
        m->val[j] = val;
        m->hash[j] = h;
        m->n++;
    }
    *out = &m->val[j];
    return 0;
}

int sc_strmap_put(sc_strmap *m, const char *key, int64_t val)
{
    int64_t *v;
    int added;
    return sc_strmap_slot(m, key, val, &v, &added);
}

int64_t *sc_strmap_find(const sc_strmap *m, const char *key)
{
    if (!m->cap)
        return NULL;
    size_t j = slot_of(m->key, m->hash, m->cap, key, sc_strhash(key, 0));
    return m->key[j] ? &m->val[j] : NULL;
}

int64_t sc_strmap_get(const sc_strmap *m, const char *key)
{
    const int64_t *v = sc_strmap_find(m, key);
    return v ? *v : -1;
}

void sc_strmap_release(sc_strmap *m)
{
    free(m->key);
    free(m->val);
    free(m->hash);
    memset(m, 0, sizeof *m);
}

/* ------------------------------------------------------------------------ */
/* uint64 keys                                                              */

/* Fibonacci hashing: the top bits of key x 2^64/phi. */
static size_t u64_home(uint64_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ULL) >> 17) & (cap - 1);
}

static size_t u64_slot_of(const uint64_t *key, const uint8_t *used, size_t cap,
                          uint64_t k)
{
    size_t j = u64_home(k, cap);
    while (used[j] && key[j] != k)
        j = (j + 1) & (cap - 1);
    return j;
}

static int u64_grow(sc_u64map *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    uint64_t *key = malloc(cap * sizeof *key);
    int64_t *val = malloc(cap * sizeof *val);
    uint8_t *used = calloc(cap, 1);

    if (!key || !val || !used) {
        free(key);
        free(val);
        free(used);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->used[i])
            continue;
        size_t j = u64_slot_of(key, used, cap, m->key[i]);
        used[j] = 1;
        key[j] = m->key[i];
        val[j] = m->val[i];
    }
    free(m->key);
    free(m->val);
    free(m->used);
    m->key = key;
    m->val = val;
    m->used = used;
    m->cap = cap;
    return 0;
}

int sc_u64map_slot(sc_u64map *m, uint64_t key, int64_t val, int64_t **out,
                   int *added)
{
    int rc;
    if ((m->n + 1) * 2 > m->cap && (rc = u64_grow(m)) < 0)
        return rc;
    size_t j = u64_slot_of(m->key, m->used, m->cap, key);
    *added = !m->used[j];
    if (*added) {
        m->used[j] = 1;
        m->key[j] = key;
        m->val[j] = val;
        m->n++;
    }
    *out = &m->val[j];
    return 0;
}

int64_t *sc_u64map_find(const sc_u64map *m, uint64_t key)
{
    if (!m->cap)
        return NULL;
    size_t j = u64_slot_of(m->key, m->used, m->cap, key);
    return m->used[j] ? &m->val[j] : NULL;
}

void sc_u64map_release(sc_u64map *m)
{
    free(m->key);
    free(m->val);
    free(m->used);
    memset(m, 0, sizeof *m);
}

char *sc_strarena_dup(sc_strarena *a, const void *s, size_t n)
{
    enum { BLOCK = 1u << 20 };
    char *p;

    if (n >= SIZE_MAX - BLOCK)
        return NULL;
    if (a->n_blk == 0 || n + 1 > a->cap - a->used) {
        size_t cap = n + 1 > BLOCK ? n + 1 : BLOCK;
        char **b = realloc(a->blk, (a->n_blk + 1) * sizeof *b);

        if (!b)
            return NULL;
        a->blk = b;
        if (!(a->blk[a->n_blk] = malloc(cap)))
            return NULL;
        a->n_blk++;
        a->used = 0;
        a->cap = cap;
    }
    p = a->blk[a->n_blk - 1] + a->used;
    if (n)
        memcpy(p, s, n);
    p[n] = '\0';
    a->used += n + 1;
    return p;
}

void sc_strarena_release(sc_strarena *a)
{
    for (size_t i = 0; i < a->n_blk; i++)
        free(a->blk[i]);
    free(a->blk);
    memset(a, 0, sizeof *a);
}
