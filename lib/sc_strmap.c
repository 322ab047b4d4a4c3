/* sc_strmap: a string -> int64 map (open addressing, FNV-1a). */
/* SPDX-License-Identifier: MIT */
#include "sc_strmap.h"

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

/* The slot of KEY in a table of CAP (a power of two): its own, or the
 * empty one where it would go. */
static size_t slot_of(const char *const *key, size_t cap, const char *k)
{
    size_t j = sc_strhash(k, 0) & (cap - 1);
    while (key[j] && strcmp(key[j], k) != 0)
        j = (j + 1) & (cap - 1);
    return j;
}

static int grow(sc_strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    const char **key = calloc(cap, sizeof *key);
    int64_t *val = malloc(cap * sizeof *val);

    if (!key || !val) {
        free(key);
        free(val);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < m->cap; i++) {
        if (!m->key[i])
            continue;
        size_t j = slot_of(key, cap, m->key[i]);
        key[j] = m->key[i];
        val[j] = m->val[i];
    }
    free(m->key);
    free(m->val);
    m->key = key;
    m->val = val;
    m->cap = cap;
    return 0;
}

int sc_strmap_slot(sc_strmap *m, const char *key, int64_t val, int64_t **out,
                   int *added)
{
    int rc;
    if ((m->n + 1) * 2 > m->cap && (rc = grow(m)) < 0)
        return rc;
    size_t j = slot_of(m->key, m->cap, key);
    *added = !m->key[j];
    if (*added) {
        m->key[j] = key;
        m->val[j] = val;
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
    size_t j = slot_of(m->key, m->cap, key);
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
    memset(m, 0, sizeof *m);
}
