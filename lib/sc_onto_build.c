/* sc_onto_build: guide JSON and OBO files compiled into sc_onto's blobs. */
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
#include "sc_onto_int.h"

/* ---- growable arrays ---- */

/* Make room for NEED elements of ELEM bytes in *P (capacity *CAP). */
static int reserve(void *p, size_t *cap, size_t need, size_t elem)
{
    void **pp = p, *q;
    size_t n = *cap ? *cap : 64;

    if (need <= *cap)
        return 0;
    while (n < need)
        n *= 2;
    if (n > SIZE_MAX / elem || !(q = realloc(*pp, n * elem)))
        return sc_fail(SC_ENOMEM, "out of memory");
    *pp = q;
    *cap = n;
    return 0;
}

/* A string pool addressed by 32-bit offsets; offset 0 is "". */
struct pool {
    char *p;
    size_t len, cap;
};

static int pool_add(struct pool *b, const char *s, size_t n, uint32_t *off)
{
    int rc;

    if (b->len == 0) {
        if ((rc = reserve(&b->p, &b->cap, 1, 1)) < 0)
            return rc;
        b->p[b->len++] = '\0';
    }
    if (n == 0) {
        *off = 0;
        return 0;
    }
    if (b->len + n + 1 > UINT32_MAX)
        return sc_fail(SC_EUNSUP, "ontology too large (over 4 GB of text)");
    if ((rc = reserve(&b->p, &b->cap, b->len + n + 1, 1)) < 0)
        return rc;
    memcpy(b->p + b->len, s, n);
    b->p[b->len + n] = '\0';
    *off = (uint32_t)b->len;
    b->len += n + 1;
    return 0;
}

static int pool_str(struct pool *b, const char *s, uint32_t *off)
{
    return pool_add(b, s, strlen(s), off);
}

/* ---- the terms as parsed, before compiling ---- */

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

static void raw_release(struct raw *r)
{
    free(r->pool.p);
    free(r->tmp.p);
    free(r->t);
    free(r->strs);
    free(r->up);
}

static int raw_new_term(struct raw *r, struct rterm **out)
{
    int rc;

    if ((rc = reserve(&r->t, &r->cap, r->n + 1, sizeof *r->t)) < 0)
        return rc;
    *out = memset(&r->t[r->n++], 0, sizeof *r->t);
    return 0;
}

static int raw_add_str(struct raw *r, const char *s, size_t n)
{
    uint32_t off;
    int rc;

    if ((rc = pool_add(&r->pool, s, n, &off)) < 0 ||
        (rc = reserve(&r->strs, &r->cap_strs, r->n_strs + 1, sizeof *r->strs)) <
            0)
        return rc;
    r->strs[r->n_strs++] = off;
    return 0;
}

/* Append (S of N bytes, added to POOL; NUM) to the array *V (*N_V, *CAP). */
static int rup_add(struct pool *pool, struct rup **v, size_t *n_v, size_t *cap,
                   const char *s, size_t n, uint32_t num)
{
    uint32_t off;
    int rc;

    if ((rc = pool_add(pool, s, n, &off)) < 0 ||
        (rc = reserve(v, cap, *n_v + 1, sizeof **v)) < 0)
        return rc;
    (*v)[*n_v].id = off;
    (*v)[(*n_v)++].dist = num;
    return 0;
}

static int raw_add_up(struct raw *r, const char *id, size_t n, uint32_t dist)
{
    return rup_add(&r->tmp, &r->up, &r->n_up, &r->cap_up, id, n, dist);
}

/* ---- id -> index hash, built once over a known set of ids ---- */

struct idmap {
    const char *const *ids; /* ids[i] of index i */
    uint32_t *slot;         /* index + 1, 0 for empty */
    size_t mask;
};

static uint64_t hash_bytes(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    while (*s)
        h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
    return h ^ (h >> 29);
}

static int idmap_init(struct idmap *m, const char *const *ids, size_t n)
{
    size_t size = 16;

    while (size < 2 * n)
        size *= 2;
    m->ids = ids;
    m->mask = size - 1;
    if (!(m->slot = calloc(size, sizeof *m->slot)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        size_t h = hash_bytes(ids[i]) & m->mask;

        while (m->slot[h])
            h = (h + 1) & m->mask;
        m->slot[h] = (uint32_t)i + 1;
    }
    return 0;
}

/* Index of ID, or UINT32_MAX. */
static uint32_t idmap_get(const struct idmap *m, const char *id)
{
    size_t h = hash_bytes(id) & m->mask;

    for (; m->slot[h]; h = (h + 1) & m->mask)
        if (!strcmp(m->ids[m->slot[h] - 1], id))
            return m->slot[h] - 1;
    return UINT32_MAX;
}

/* ---- compiling: raw terms -> blob ---- */

struct byid {
    const char *id;
    size_t raw;
};

static int cmp_byid(const void *a, const void *b)
{
    return strcmp(((const struct byid *)a)->id, ((const struct byid *)b)->id);
}

static int cmp_link(const void *a, const void *b)
{
    const struct onto_link *x = a, *y = b;

    return (x->term > y->term) - (x->term < y->term);
}

struct skey {
    const char *s;
    uint32_t str, term;
};

static int cmp_skey(const void *a, const void *b)
{
    const struct skey *x = a, *y = b;
    int c = strcmp(x->s, y->s);

    return c ? c : (x->term > y->term) - (x->term < y->term);
}

int sc_onto_has_upper(const char *s)
{
    for (; *s; s++)
        if (*s >= 'A' && *s <= 'Z')
            return 1;
    return 0;
}

/* The pool offset of the string at OFF folded to lower case (appended
 * when it differs). */
static int fold(struct pool *p, uint32_t off, uint32_t *out)
{
    size_t n;
    int rc;

    if (!sc_onto_has_upper(p->p + off)) {
        *out = off;
        return 0;
    }
    /* Grow first: the string to copy lives in the buffer that grows. */
    n = strlen(p->p + off);
    if ((rc = reserve(&p->p, &p->cap, p->len + n + 1, 1)) < 0 ||
        (rc = pool_add(p, p->p + off, n, out)) < 0)
        return rc;
    for (char *c = p->p + *out; *c; c++)
        if (*c >= 'A' && *c <= 'Z')
            *c = (char)(*c - 'A' + 'a');
    return 0;
}

/* Everything compiled, before it is laid out as a blob. */
struct comp {
    size_t n; /* terms, in id order */
    struct onto_rec *rec;
    struct onto_link *anc, *desc;
    size_t n_anc, cap_anc;
    uint32_t *strs;
    size_t n_strs, cap_strs;
    struct onto_key *alt, *keys[ONTO_N_INDEX];
    size_t n_alt, n_keys[ONTO_N_INDEX];
};

static void comp_release(struct comp *c)
{
    free(c->rec);
    free(c->anc);
    free(c->desc);
    free(c->strs);
    free(c->alt);
    for (int k = 0; k < ONTO_N_INDEX; k++)
        free(c->keys[k]);
}

/* The ancestors of every term with the closure of the edges UP (CSR over
 * terms: UP[UOFF[i] .. UOFF[i+1]) are the parents of i) by breadth-first
 * search, which gives minimum distances. */
static int closure(struct comp *c, const uint32_t *uoff, const uint32_t *up)
{
    int32_t *dist = malloc(c->n * sizeof *dist);
    uint32_t *queue = malloc(c->n * sizeof *queue);
    int rc = 0;

    if (!dist || !queue) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    memset(dist, 0xff, c->n * sizeof *dist);
    for (size_t i = 0; i < c->n; i++) {
        size_t head = 0, tail = 0, first = c->n_anc;

        c->rec[i].anc = first;
        if (c->rec[i].flags & ONTO_DEPRECATED)
            continue;
        dist[i] = 0;
        queue[tail++] = (uint32_t)i;
        while (head < tail) {
            uint32_t v = queue[head++];

            for (uint32_t e = uoff[v]; e < uoff[v + 1]; e++) {
                uint32_t p = up[e];

                if (dist[p] >= 0)
                    continue;
                dist[p] = dist[v] + 1;
                queue[tail++] = p;
                if ((rc = reserve(&c->anc, &c->cap_anc, c->n_anc + 1,
                                  sizeof *c->anc)) < 0)
                    goto out;
                c->anc[c->n_anc].term = p;
                c->anc[c->n_anc++].dist = (uint32_t)dist[p];
            }
        }
        for (size_t k = 0; k < tail; k++)
            dist[queue[k]] = -1;
        c->rec[i].n_anc = (uint32_t)(c->n_anc - first);
        if (c->n_anc - first > 1)
            qsort(c->anc + first, c->n_anc - first, sizeof *c->anc, cmp_link);
    }
out:
    free(dist);
    free(queue);
    return rc;
}

/* The ancestors as given (guide JSON): resolve ids, drop unknown ones. */
static int given_ancestors(struct comp *c, const struct raw *r,
                           const size_t *raw_of, const struct idmap *m)
{
    size_t missing = 0;
    int rc;

    for (size_t i = 0; i < c->n; i++) {
        const struct rterm *t = &r->t[raw_of[i]];
        size_t first = c->n_anc;

        c->rec[i].anc = first;
        if (c->rec[i].flags & ONTO_DEPRECATED)
            continue;
        for (size_t e = t->up; e < t->up + t->n_up; e++) {
            uint32_t a = idmap_get(m, r->tmp.p + r->up[e].id);

            if (a == UINT32_MAX || a == i) {
                missing += a == UINT32_MAX;
                continue;
            }
            if ((rc = reserve(&c->anc, &c->cap_anc, c->n_anc + 1,
                              sizeof *c->anc)) < 0)
                return rc;
            c->anc[c->n_anc].term = a;
            c->anc[c->n_anc++].dist = r->up[e].dist;
        }
        c->rec[i].n_anc = (uint32_t)(c->n_anc - first);
        if (c->n_anc - first > 1)
            qsort(c->anc + first, c->n_anc - first, sizeof *c->anc, cmp_link);
    }
    if (missing)
        sc_log_info("'%s': %zu ancestors are not terms of the file; ignored",
                    r->path, missing);
    return 0;
}

/* Parents by index (CSR) from the raw edges (OBO is_a, part_of). */
static int edges(const struct comp *c, const struct raw *r,
                 const size_t *raw_of, const struct idmap *m,
                 uint32_t **uoff_out, uint32_t **up_out)
{
    uint32_t *uoff = malloc((c->n + 1) * sizeof *uoff);
    uint32_t *up = malloc((r->n_up + 1) * sizeof *up);
    size_t k = 0;

    *uoff_out = uoff;
    *up_out = up;
    if (!uoff || !up)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n; i++) {
        const struct rterm *t = &r->t[raw_of[i]];

        uoff[i] = (uint32_t)k;
        for (size_t e = t->up; e < t->up + t->n_up; e++) {
            uint32_t p = idmap_get(m, r->tmp.p + r->up[e].id);

            if (p != UINT32_MAX && p != i &&
                !(c->rec[p].flags & ONTO_DEPRECATED))
                up[k++] = p;
        }
    }
    uoff[c->n] = (uint32_t)k;
    return 0;
}

static int descendants(struct comp *c)
{
    size_t *fill;

    if (!(c->desc = malloc((c->n_anc + 1) * sizeof *c->desc)) ||
        !(fill = calloc(c->n + 1, sizeof *fill)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < c->n_anc; i++)
        fill[c->anc[i].term + 1]++;
    for (size_t i = 0; i < c->n; i++) {
        c->rec[i].desc = fill[i];
        c->rec[i].n_desc = (uint32_t)fill[i + 1];
        fill[i + 1] += fill[i];
    }
    /* Sources in increasing order: each list comes out sorted. */
    for (size_t i = 0; i < c->n; i++)
        for (uint64_t e = c->rec[i].anc; e < c->rec[i].anc + c->rec[i].n_anc;
             e++) {
            struct onto_link *d = &c->desc[fill[c->anc[e].term]++];

            d->term = (uint32_t)i;
            d->dist = c->anc[e].dist;
        }
    free(fill);
    return 0;
}

static void depths(struct comp *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct onto_rec *t = &c->rec[i];
        int32_t best = -1;

        if (t->flags & ONTO_DEPRECATED) {
            t->depth = -1;
            continue;
        }
        if (t->n_anc == 0) {
            t->depth = 0;
            continue;
        }
        for (uint64_t e = t->anc; e < t->anc + t->n_anc; e++) {
            const struct onto_rec *a = &c->rec[c->anc[e].term];

            if (a->n_anc == 0 && !(a->flags & ONTO_DEPRECATED) &&
                (best < 0 || (int32_t)c->anc[e].dist < best))
                best = (int32_t)c->anc[e].dist;
        }
        t->depth = best;
    }
}

/* Sort the keys of an index and drop repeated (string, term) pairs. */
static int finish_keys(struct skey *sk, size_t n, struct onto_key **out,
                       size_t *n_out)
{
    size_t k = 0;

    qsort(sk, n, sizeof *sk, cmp_skey);
    if (!(*out = malloc((n + 1) * sizeof **out)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        if (k && (*out)[k - 1].term == sk[i].term &&
            !strcmp(sk[i - 1].s, sk[i].s))
            continue;
        (*out)[k].str = sk[i].str;
        (*out)[k++].term = sk[i].term;
    }
    *n_out = k;
    return 0;
}

/* Label and synonym indexes (exact and folded), and alt ids. */
static int indexes(struct comp *c, struct raw *r, const size_t *raw_of)
{
    size_t n_lab = 0, n_syn = 0;
    uint32_t *lab_f = NULL, *syn_f = NULL;
    struct skey *sk[ONTO_N_INDEX] = {0}, *ak = NULL;
    size_t nk[ONTO_N_INDEX] = {0}, na = 0, is = 0;
    int rc = SC_ENOMEM;

    for (size_t i = 0; i < c->n; i++) {
        n_lab += c->rec[i].label != 0;
        n_syn += c->rec[i].n_syn;
        na += r->t[raw_of[i]].n_alt;
    }
    /* Fold first: the pool may move while it grows. */
    if (!(lab_f = malloc((c->n + 1) * sizeof *lab_f)) ||
        !(syn_f = malloc((n_syn + 1) * sizeof *syn_f)))
        goto nomem;
    for (size_t i = 0; i < c->n; i++) {
        if ((rc = fold(&r->pool, c->rec[i].label, &lab_f[i])) < 0)
            goto out;
        for (uint32_t s = 0; s < c->rec[i].n_syn; s++)
            if ((rc = fold(&r->pool, c->strs[c->rec[i].syn + s],
                           &syn_f[is++])) < 0)
                goto out;
    }
    for (int k = 0; k < ONTO_N_INDEX; k++)
        if (!(sk[k] = malloc(((k < 2 ? n_lab : n_syn) + 1) * sizeof **sk)))
            goto nomem;
    if (!(ak = malloc((na + 1) * sizeof *ak)))
        goto nomem;
    is = 0;
    na = 0;
    for (size_t i = 0; i < c->n; i++) {
        const struct onto_rec *t = &c->rec[i];
        const struct rterm *rt = &r->t[raw_of[i]];
        uint32_t ti = (uint32_t)i;

        if (t->label) {
            sk[0][nk[0]++] = (struct skey){r->pool.p + t->label, t->label, ti};
            sk[1][nk[1]++] = (struct skey){r->pool.p + lab_f[i], lab_f[i], ti};
        }
        for (uint32_t s = 0; s < t->n_syn; s++, is++) {
            uint32_t off = c->strs[t->syn + s];

            sk[2][nk[2]++] = (struct skey){r->pool.p + off, off, ti};
            sk[3][nk[3]++] =
                (struct skey){r->pool.p + syn_f[is], syn_f[is], ti};
        }
        for (size_t a = rt->alt; a < rt->alt + rt->n_alt; a++)
            ak[na++] = (struct skey){r->pool.p + r->strs[a], r->strs[a], ti};
    }
    for (int k = 0; k < ONTO_N_INDEX; k++)
        if ((rc = finish_keys(sk[k], nk[k], &c->keys[k], &c->n_keys[k])) < 0)
            goto out;
    rc = finish_keys(ak, na, &c->alt, &c->n_alt);
    goto out;
nomem:
    rc = sc_fail(SC_ENOMEM, "out of memory");
out:
    free(lab_f);
    free(syn_f);
    free(ak);
    for (int k = 0; k < ONTO_N_INDEX; k++)
        free(sk[k]);
    return rc;
}

/* memcpy that accepts a NULL source for an empty section. */
static void put(unsigned char *dst, const void *src, size_t n)
{
    if (n)
        memcpy(dst, src, n);
}

static size_t align8(size_t n)
{
    return (n + 7) & ~(size_t)7;
}

/* Lay C out as a blob (see sc_onto_int.h) with the header strings. */
static int layout(const struct comp *c, struct raw *r,
                  const struct onto_src *src, const char *name,
                  const char *version, const char *prefixes,
                  struct onto_seg **out)
{
    struct onto_hdr h = {.format = ONTO_FORMAT, .endian = ONTO_ENDIAN};
    struct onto_seg *seg = NULL;
    unsigned char *blob;
    size_t off;
    int rc;

    memcpy(h.magic, ONTO_MAGIC, sizeof h.magic);
    if ((rc = pool_str(&r->pool, src->path, &h.src_path)) < 0 ||
        (rc = pool_str(&r->pool, name, &h.name)) < 0 ||
        (rc = pool_str(&r->pool, version, &h.version)) < 0 ||
        (rc = pool_str(&r->pool, prefixes, &h.prefixes)) < 0)
        return rc;
    h.n_terms = (uint32_t)c->n;
    h.n_anc = c->n_anc;
    h.n_strs = c->n_strs;
    h.n_alt = c->n_alt;
    h.pool_size = r->pool.len;
    h.src_size = src->size;
    h.src_mtime = src->mtime;
    h.src_mtime_ns = src->mtime_ns;
    off = align8(sizeof h);
    h.off_terms = off;
    off = align8(off + c->n * sizeof *c->rec);
    h.off_anc = off;
    off = align8(off + c->n_anc * sizeof *c->anc);
    h.off_desc = off;
    off = align8(off + c->n_anc * sizeof *c->desc);
    h.off_strs = off;
    off = align8(off + c->n_strs * sizeof *c->strs);
    h.off_alt = off;
    off = align8(off + c->n_alt * sizeof *c->alt);
    for (int k = 0; k < ONTO_N_INDEX; k++) {
        h.n_keys[k] = c->n_keys[k];
        h.off_keys[k] = off;
        off = align8(off + c->n_keys[k] * sizeof *c->keys[k]);
    }
    h.off_pool = off;
    off = align8(off + r->pool.len);
    h.size = off;
    if (!(blob = calloc(1, off)))
        return sc_fail(SC_ENOMEM, "out of memory");
    memcpy(blob, &h, sizeof h);
    put(blob + h.off_terms, c->rec, c->n * sizeof *c->rec);
    put(blob + h.off_anc, c->anc, c->n_anc * sizeof *c->anc);
    put(blob + h.off_desc, c->desc, c->n_anc * sizeof *c->desc);
    put(blob + h.off_strs, c->strs, c->n_strs * sizeof *c->strs);
    put(blob + h.off_alt, c->alt, c->n_alt * sizeof *c->alt);
    for (int k = 0; k < ONTO_N_INDEX; k++)
        put(blob + h.off_keys[k], c->keys[k],
            c->n_keys[k] * sizeof *c->keys[k]);
    put(blob + h.off_pool, r->pool.p, r->pool.len);
    ((struct onto_hdr *)blob)->crc = sc_onto_blob_crc(blob, off);
    if (!(seg = calloc(1, sizeof *seg))) {
        free(blob);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    if ((rc = sc_onto_seg_attach(seg, blob, off)) < 0) {
        /* A bug here, not bad input: say so instead of hiding it. */
        sc_fail_ctx(rc, "internal error compiling '%s'", src->path);
        free(blob);
        free(seg);
        return rc;
    }
    *out = seg;
    return 0;
}

/* The prefixes of the kept terms, space-separated, most common first. */
static int prefix_list(const struct raw *r, char *buf, size_t size)
{
    struct {
        char p[32];
        size_t n;
    } seen[16];
    int ns = 0;
    size_t used = 0;

    for (size_t i = 0; i < r->n; i++) {
        const char *id = r->pool.p + r->t[i].id;
        size_t len = strcspn(id, ":");
        int k;

        if (r->t[i].skip || len >= sizeof seen[0].p)
            continue;
        for (k = 0; k < ns; k++)
            if (strlen(seen[k].p) == len && !strncmp(seen[k].p, id, len))
                break;
        if (k == ns) {
            if (ns == 16)
                continue;
            memcpy(seen[k].p, id, len);
            seen[k].p[len] = '\0';
            seen[k].n = 0;
            ns++;
        }
        seen[k].n++;
    }
    buf[0] = '\0';
    for (int done = 0; done < ns; done++) {
        int best = -1;

        for (int k = 0; k < ns; k++)
            if (seen[k].n && (best < 0 || seen[k].n > seen[best].n))
                best = k;
        if (used + strlen(seen[best].p) + 2 > size)
            break;
        used += (size_t)snprintf(buf + used, size - used, "%s%s",
                                 used ? " " : "", seen[best].p);
        seen[best].n = 0;
    }
    return 0;
}

/*
 * Compile R into a blob. CLOSURE: R's edges are parents (OBO) whose
 * closure is computed, else they are the ancestors already (guide JSON).
 */
static int compile(struct raw *r, int closure_needed, const char *name,
                   const char *version, const struct onto_src *src,
                   struct onto_seg **out)
{
    struct comp c = {0};
    struct byid *order = NULL;
    size_t *raw_of = NULL;
    const char **ids = NULL;
    struct idmap m = {0};
    uint32_t *uoff = NULL, *up = NULL;
    char prefixes[256];
    int rc = SC_ENOMEM;

    for (size_t i = 0; i < r->n; i++)
        c.n += !r->t[i].skip;
    if (c.n == 0) {
        rc = sc_fail(SC_EFORMAT, "'%s': no terms", r->path);
        goto out;
    }
    if (c.n >= INT32_MAX / 2) {
        rc = sc_fail(SC_EUNSUP, "'%s': too many terms", r->path);
        goto out;
    }
    if (!(order = malloc(c.n * sizeof *order)) ||
        !(raw_of = malloc(c.n * sizeof *raw_of)) ||
        !(ids = malloc(c.n * sizeof *ids)) ||
        !(c.rec = calloc(c.n, sizeof *c.rec)))
        goto nomem;
    for (size_t i = 0, k = 0; i < r->n; i++)
        if (!r->t[i].skip)
            order[k++] = (struct byid){r->pool.p + r->t[i].id, i};
    qsort(order, c.n, sizeof *order, cmp_byid);
    for (size_t i = 0; i < c.n; i++) {
        const struct rterm *t = &r->t[order[i].raw];

        if (i && !strcmp(order[i - 1].id, order[i].id)) {
            rc = t->line ? sc_fail(SC_EFORMAT,
                                   "'%s': line %ld: term '%s' defined twice",
                                   r->path, t->line, order[i].id)
                         : sc_fail(SC_EFORMAT, "'%s': term '%s' defined twice",
                                   r->path, order[i].id);
            goto out;
        }
        raw_of[i] = order[i].raw;
        ids[i] = order[i].id;
        c.rec[i].id = t->id;
        c.rec[i].label = t->label;
        c.rec[i].replaced_by = t->replaced_by;
        c.rec[i].flags = t->flags;
        /* synonyms, then consider ids, per term in the new order */
        if ((rc = reserve(&c.strs, &c.cap_strs,
                          c.n_strs + t->n_syn + t->n_cons + 1,
                          sizeof *c.strs)) < 0)
            goto out;
        c.rec[i].syn = (uint32_t)c.n_strs;
        c.rec[i].n_syn = (uint32_t)t->n_syn;
        for (size_t s = 0; s < t->n_syn; s++)
            c.strs[c.n_strs++] = r->strs[t->syn + s];
        c.rec[i].cons = (uint32_t)c.n_strs;
        c.rec[i].n_cons = (uint32_t)t->n_cons;
        for (size_t s = 0; s < t->n_cons; s++)
            c.strs[c.n_strs++] = r->strs[t->cons + s];
    }
    if (c.n_strs >= UINT32_MAX) {
        rc = sc_fail(SC_EUNSUP, "'%s': too many synonyms", r->path);
        goto out;
    }
    if ((rc = idmap_init(&m, ids, c.n)) < 0)
        goto out;
    if (closure_needed) {
        if ((rc = edges(&c, r, raw_of, &m, &uoff, &up)) < 0 ||
            (rc = closure(&c, uoff, up)) < 0)
            goto out;
    } else if ((rc = given_ancestors(&c, r, raw_of, &m)) < 0) {
        goto out;
    }
    if ((rc = descendants(&c)) < 0)
        goto out;
    depths(&c);
    if ((rc = indexes(&c, r, raw_of)) < 0)
        goto out;
    prefix_list(r, prefixes, sizeof prefixes);
    rc = layout(&c, r, src, name, version, prefixes, out);
    goto out;
nomem:
    rc = sc_fail(SC_ENOMEM, "out of memory");
out:
    free(order);
    free(raw_of);
    free(ids);
    free(m.slot);
    free(uoff);
    free(up);
    comp_release(&c);
    return rc;
}

/* ---- reading a whole file, gzip or not ---- */

static int read_all(const char *path, unsigned char **out, size_t *len)
{
    struct stat st;
    unsigned char *buf = NULL;
    size_t n = 0;
    int fd, err;

    *out = NULL;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        err = fstat(fd, &st) != 0   ? errno
              : S_ISDIR(st.st_mode) ? EISDIR
                                    : EINVAL;
        close(fd);
        return sc_fail(SC_EIO, "cannot read '%s': %s", path, strerror(err));
    }
    if (!(buf = malloc((size_t)st.st_size + 1))) {
        close(fd);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    while (n < (size_t)st.st_size) {
        ssize_t r = read(fd, buf + n, (size_t)st.st_size - n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            err = r < 0 ? errno : EIO;
            close(fd);
            free(buf);
            return sc_fail(SC_EIO, "cannot read '%s': %s", path, strerror(err));
        }
        n += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return 0;
}

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
        if ((rc = raw_add_str(r, json_string_value(s), json_string_length(s))) <
            0)
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
    if ((rc = raw_new_term(r, &t)) < 0)
        return rc;
    t->flags = json_is_true(dep) ? ONTO_DEPRECATED : 0;
    if ((rc = pool_str(&r->pool, id, &t->id)) < 0 ||
        (label && (rc = pool_add(&r->pool, json_string_value(label),
                                 json_string_length(label), &t->label)) < 0) ||
        (rb && (rc = pool_add(&r->pool, json_string_value(rb),
                              json_string_length(rb), &t->replaced_by)) < 0) ||
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
            if ((rc = raw_add_up(r, aid, strlen(aid), (uint32_t)dist)) < 0)
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
    if ((rc = read_all(src->path, &file, &n_file)) < 0)
        return rc;
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
        prefix_list(&r, prefixes, sizeof prefixes);
        prefixes[strcspn(prefixes, " ")] = '\0';
        name = prefixes;
    }
    rc = compile(&r, 0, name, version && *version ? version : "unknown", src,
                 out);
out:
    json_decref(root);
    raw_release(&r);
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
    return rup_add(&b->items, &b->it, &b->n_it, &b->cap_it, s, n,
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
            rc = k == IT_UP ? raw_add_up(b->r, s, strlen(s), 1)
                            : raw_add_str(b->r, s, strlen(s));
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
        return pool_str(&r->pool, s, &t->id);
    }
    if (!strcmp(tag, "name"))
        return t->label ? 0 : pool_str(&r->pool, obo_unescape(v, 0), &t->label);
    if (!strcmp(tag, "is_obsolete")) {
        s = obo_unescape(v, 1);
        if (strcmp(s, "true") && strcmp(s, "false"))
            return obo_err(b, "is_obsolete is not true or false");
        t->flags |= !strcmp(s, "true") ? ONTO_DEPRECATED : 0;
        return 0;
    }
    if (!strcmp(tag, "replaced_by"))
        return t->replaced_by ? 0
                              : pool_str(&r->pool, obo_id(v), &t->replaced_by);
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
                if ((rc = raw_new_term(b->r, &b->t)) < 0)
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

    prefix_list(r, list, sizeof list);
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
    rc = compile(&r, 1, name,
                 b.version[0] ? b.version
                 : b.date[0]  ? b.date
                              : "unknown",
                 src, out);
out:
    obo_close(&b);
    raw_release(&r);
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
    raw_release(&r);
    return rc;
}
