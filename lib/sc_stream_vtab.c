/* sc_stream_vtab: the var lists interned across the datasets of the
 * process, and the byte buffers of the index's cache entries. */
/* SPDX-License-Identifier: MIT */
/*
 * Here live the table of interned var lists (one copy of each gene name,
 * one array per distinct list, found by the SHA-256 of the list as a cache
 * entry stores it) with its lock, the hold and release of a dataset's list
 * (ss_meta_intern, ss_var_attach, ss_var_release), and the growable
 * write buffer and bounded read buffer the cache entries of
 * sc_stream_index.c are written and read with (ss_wbuf, ss_rbuf).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sc_hash.h"
#include "sc_stream_int.h"

/* ------------------------------------------------------------------------ */
/* Entry buffers                                                            */

void ss_wput(ss_wbuf *b, const void *src, size_t n)
{
    if (b->bad || n == 0)
        return;
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 65536;
        while (cap < b->n + n)
            cap *= 2;
        unsigned char *p = realloc(b->p, cap);
        if (!p) {
            b->bad = 1;
            return;
        }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

void ss_wput_i64(ss_wbuf *b, int64_t v)
{
    ss_wput(b, &v, 8);
}

void ss_wput_str(ss_wbuf *b, const char *s)
{
    uint32_t n = s ? (uint32_t)strlen(s) : 0;
    ss_wput(b, &n, 4);
    ss_wput(b, s, n);
}

const void *ss_rget(ss_rbuf *b, size_t n)
{
    if (b->bad || n > b->n - b->off)
        return b->bad = 1, NULL;
    b->off += n;
    return b->p + b->off - n;
}

int64_t ss_rget_i64(ss_rbuf *b)
{
    int64_t v = 0;
    const void *p = ss_rget(b, 8);
    if (p)
        memcpy(&v, p, 8);
    return v;
}

char *ss_rget_str(ss_rbuf *b)
{
    uint32_t n = 0;
    const void *p = ss_rget(b, 4);
    char *s;
    if (p)
        memcpy(&n, p, 4);
    if (!(p = ss_rget(b, n)) || !(s = malloc((size_t)n + 1)))
        return b->bad = 1, NULL;
    memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

/* ------------------------------------------------------------------------ */
/* Interned var lists                                                       */

/*
 * Var lists interned across the datasets of the process (issue 22): every
 * gene name is kept once (one joint table of names), and datasets whose var
 * is the same list share one array of pointers into it, so that thousands
 * of datasets cost their distinct lists, not one copy each. A list also
 * keeps the SHA-256 of the bytes a cache entry stores it as (per name its
 * length and bytes), so that an entry naming a list seen before is matched
 * by its digest and one comparison of those bytes with the list's names,
 * without allocating, hashing and interning its names again. The table
 * lives while some ss_meta holds a list.
 */
typedef struct ss_vlist {
    char **var; /* n names, pointers into the table */
    int64_t n;
    /* SHA-256 of the names as a cache entry stores them, "" unknown */
    char digest[SC_HASH_HEX_SIZE];
    size_t refs;
    struct ss_vlist *next; /* the next list whose digest hashes alike */
} ss_vlist;

/* The lists are found by their digest in a hash map (sc_strhash of the
 * digest -> the first list of that hash, chained by next), so that
 * loading thousands of entries with distinct lists stays linear. */
static struct {
    pthread_mutex_t lock;
    sc_strmap index; /* name -> 0 */
    char **names;
    size_t n_names, cap_names;
    sc_u64map bydig; /* sc_strhash(digest) -> (ss_vlist *), 0: none */
    size_t n_lists;
} vtab = {PTHREAD_MUTEX_INITIALIZER, {0}, NULL, 0, 0, {0}, 0};

/* The head of the chain of lists whose digest hashes as DIGEST, or NULL
 * (the caller holds vtab.lock). */
static int64_t *vlist_head(const char *digest)
{
    return sc_u64map_find(&vtab.bydig, sc_strhash(digest, 0));
}

static void var_free(char **var, int64_t n)
{
    for (int64_t i = 0; i < n && var; i++)
        free(var[i]);
    free(var);
}

/* Drop M's hold on its interned list (the caller holds vtab.lock). */
static void vlist_release(ss_vlist *l)
{
    int64_t *head;
    if (--l->refs > 0)
        return;
    if ((head = vlist_head(l->digest))) { /* unlink it from its chain */
        ss_vlist *c = (ss_vlist *)(intptr_t)*head;
        if (c == l)
            *head = (int64_t)(intptr_t)l->next;
        while (c && c->next != l)
            c = c->next;
        if (c)
            c->next = l->next;
    }
    vtab.n_lists--;
    free(l->var);
    free(l);
    if (vtab.n_lists == 0) {
        for (size_t i = 0; i < vtab.n_names; i++)
            free(vtab.names[i]);
        free(vtab.names);
        sc_u64map_release(&vtab.bydig);
        sc_strmap_release(&vtab.index);
        vtab.names = NULL;
        vtab.n_names = vtab.cap_names = 0;
    }
}

/* Make L (digest set) findable (the caller holds vtab.lock). */
static int vlist_add(ss_vlist *l)
{
    int64_t *head;
    int added;
    if (sc_u64map_slot(&vtab.bydig, sc_strhash(l->digest, 0), 0, &head,
                       &added) < 0)
        return SC_ENOMEM;
    l->next = (ss_vlist *)(intptr_t)*head;
    *head = (int64_t)(intptr_t)l;
    vtab.n_lists++;
    return 0;
}

/* Whether the list L is the N names VAR, or (VAR NULL) those stored as
 * the BLOB_N bytes BLOB (per name its length and bytes). */
static int vlist_is(const ss_vlist *l, int64_t n, char *const *var,
                    const unsigned char *blob, size_t blob_n)
{
    ss_rbuf b = {blob, blob_n, 0, 0};
    if (l->n != n)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        uint32_t k = 0;
        const void *p;
        if (var) {
            if (strcmp(l->var[i], var[i]))
                return 0;
            continue;
        }
        if (!(p = ss_rget(&b, 4)))
            return 0;
        memcpy(&k, p, 4);
        if (!(p = ss_rget(&b, k)) || strlen(l->var[i]) != k ||
            memcmp(l->var[i], p, k))
            return 0;
    }
    return var || b.off == blob_n;
}

/* The interned list with digest DIGEST that is the N names VAR, or those
 * stored as BLOB, or NULL (the caller holds vtab.lock). The names decide:
 * two lists that differ in a name or in their order never match. */
static ss_vlist *vlist_find(const char *digest, int64_t n, char *const *var,
                            const unsigned char *blob, size_t blob_n)
{
    int64_t *head = vlist_head(digest);
    for (ss_vlist *c = head ? (ss_vlist *)(intptr_t)*head : NULL; c;
         c = c->next)
        if (!strcmp(c->digest, digest) && vlist_is(c, n, var, blob, blob_n))
            return c;
    return NULL;
}

/* The names VAR as a cache entry stores them, appended to B. */
void ss_var_put(ss_wbuf *b, char *const *var, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        ss_wput_str(b, var[i]);
}

/* The table's copy of NAME, taking NAME over when it is new (else freeing
 * it); NULL when out of memory (NAME is then still the caller's). */
static char *name_intern(char *name)
{
    int64_t j = sc_strmap_get(&vtab.index, name);
    if (j >= 0) {
        free(name);
        return vtab.names[j];
    }
    if (vtab.n_names == vtab.cap_names) {
        size_t cap = vtab.cap_names ? 2 * vtab.cap_names : 4096;
        char **v = realloc(vtab.names, cap * sizeof *v);
        if (!v)
            return NULL;
        vtab.names = v;
        vtab.cap_names = cap;
    }
    if (sc_strmap_put(&vtab.index, name, (int64_t)vtab.n_names) < 0)
        return NULL;
    vtab.names[vtab.n_names++] = name;
    return name;
}

/* The SHA-256 of N bytes P into HEX, "" when libcrypto cannot (a list is
 * then only matched by its bytes). */
static void blob_digest(const void *p, size_t n, char hex[SC_HASH_HEX_SIZE])
{
    sc_hash *h = NULL;
    if (sc_hash_new(&h) < 0 || sc_hash_update(h, p, n) < 0 ||
        sc_hash_final(h, hex) < 0) {
        hex[0] = '\0';
        sc_err_clear();
    }
    sc_hash_free(h);
}

/* Replace M's own var names by the interned list equal to them. */
static int var_intern(ss_meta *m)
{
    ss_wbuf b = {0};
    char digest[SC_HASH_HEX_SIZE];
    ss_vlist *l = NULL;
    int rc = 0;

    ss_var_put(&b, m->var, m->n_vars);
    if (b.bad) {
        free(b.p);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    blob_digest(b.p, b.n, digest);
    free(b.p);
    pthread_mutex_lock(&vtab.lock);
    if ((l = vlist_find(digest, m->n_vars, m->var, NULL, 0))) {
        l->refs++;
        var_free(m->var, m->n_vars);
    } else if (!(l = calloc(1, sizeof *l)) ||
               (memcpy(l->digest, digest, sizeof digest), vlist_add(l) < 0)) {
        free(l);
        l = NULL;
        rc = SC_ENOMEM;
    } else {
        l->n = m->n_vars;
        l->refs = 1;
        l->var = m->var;
        for (int64_t i = 0; i < l->n && rc == 0; i++) {
            char *x = name_intern(l->var[i]);
            if (x) {
                l->var[i] = x;
                continue;
            }
            /* the names before i are the table's, the rest M's */
            for (int64_t k = i; k < l->n; k++)
                free(l->var[k]);
            l->n = 0;
            rc = SC_ENOMEM;
        }
        if (rc < 0) {
            l->var = NULL;
            free(m->var);
            vlist_release(l);
            l = NULL;
        }
    }
    pthread_mutex_unlock(&vtab.lock);
    if (!l) {
        m->var = NULL;
        m->n_vars = 0;
        return sc_fail(rc, "out of memory");
    }
    m->vl = l;
    m->var = l->var;
    return 0;
}

/* Give M (without var, n_vars set) the list a cache entry stores as the
 * BLOB_N bytes BLOB with digest DIGEST: the interned list with those bytes
 * when there is one, else the names read from BLOB, interned. 1 when done,
 * 0 when the entry is not consistent (bad names, or a digest that is not
 * theirs), or an error. */
int ss_var_attach(ss_meta *m, const char *digest, const unsigned char *blob,
                  size_t blob_n)
{
    ss_vlist *l;
    int rc;

    pthread_mutex_lock(&vtab.lock);
    if ((l = vlist_find(digest, m->n_vars, NULL, blob, blob_n)))
        l->refs++;
    pthread_mutex_unlock(&vtab.lock);
    if (l) {
        m->vl = l;
        m->var = l->var;
        return 1;
    }
    ss_rbuf b = {blob, blob_n, 0, 0};
    if ((uint64_t)m->n_vars > blob_n / 4 ||
        !(m->var = calloc(m->n_vars ? m->n_vars : 1, sizeof *m->var)))
        return 0;
    for (int64_t i = 0; i < m->n_vars && !b.bad; i++)
        m->var[i] = ss_rget_str(&b);
    if (b.bad || b.off != blob_n)
        return 0;
    if ((rc = var_intern(m)) < 0)
        return rc;
    return !strcmp(m->vl->digest, digest) && *digest;
}

int ss_meta_intern(ss_meta *m)
{
    return var_intern(m);
}

const char *ss_vlist_digest(const ss_vlist *l)
{
    return l->digest;
}

void ss_var_release(ss_meta *m)
{
    if (m->vl) {
        pthread_mutex_lock(&vtab.lock);
        vlist_release(m->vl);
        pthread_mutex_unlock(&vtab.lock);
    } else {
        var_free(m->var, m->n_vars);
    }
}
