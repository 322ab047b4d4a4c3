/* sc_onto_build: the raw terms of a guide JSON or OBO file (read by
 * sc_onto_parse) compiled into sc_onto's blobs. */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "sc_log.h"
#include "sc_onto_build_int.h"
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

int sc_onto_pool_add(struct pool *b, const char *s, size_t n, uint32_t *off)
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

int sc_onto_pool_str(struct pool *b, const char *s, uint32_t *off)
{
    return sc_onto_pool_add(b, s, strlen(s), off);
}

/* ---- the terms as parsed, before compiling ---- */

void sc_onto_raw_release(struct raw *r)
{
    free(r->pool.p);
    free(r->tmp.p);
    free(r->t);
    free(r->strs);
    free(r->up);
}

int sc_onto_raw_new_term(struct raw *r, struct rterm **out)
{
    int rc;

    if ((rc = reserve(&r->t, &r->cap, r->n + 1, sizeof *r->t)) < 0)
        return rc;
    *out = memset(&r->t[r->n++], 0, sizeof *r->t);
    return 0;
}

int sc_onto_raw_add_str(struct raw *r, const char *s, size_t n)
{
    uint32_t off;
    int rc;

    if ((rc = sc_onto_pool_add(&r->pool, s, n, &off)) < 0 ||
        (rc = reserve(&r->strs, &r->cap_strs, r->n_strs + 1, sizeof *r->strs)) <
            0)
        return rc;
    r->strs[r->n_strs++] = off;
    return 0;
}

int sc_onto_rup_add(struct pool *pool, struct rup **v, size_t *n_v, size_t *cap,
                    const char *s, size_t n, uint32_t num)
{
    uint32_t off;
    int rc;

    if ((rc = sc_onto_pool_add(pool, s, n, &off)) < 0 ||
        (rc = reserve(v, cap, *n_v + 1, sizeof **v)) < 0)
        return rc;
    (*v)[*n_v].id = off;
    (*v)[(*n_v)++].dist = num;
    return 0;
}

int sc_onto_raw_add_up(struct raw *r, const char *id, size_t n, uint32_t dist)
{
    return sc_onto_rup_add(&r->tmp, &r->up, &r->n_up, &r->cap_up, id, n, dist);
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
        (rc = sc_onto_pool_add(p, p->p + off, n, out)) < 0)
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
    if ((rc = sc_onto_pool_str(&r->pool, src->path, &h.src_path)) < 0 ||
        (rc = sc_onto_pool_str(&r->pool, name, &h.name)) < 0 ||
        (rc = sc_onto_pool_str(&r->pool, version, &h.version)) < 0 ||
        (rc = sc_onto_pool_str(&r->pool, prefixes, &h.prefixes)) < 0)
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

int sc_onto_prefix_list(const struct raw *r, char *buf, size_t size)
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

int sc_onto_compile(struct raw *r, int closure_needed, const char *name,
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
    sc_onto_prefix_list(r, prefixes, sizeof prefixes);
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
