/* sc_stream_genes: the output gene space of a stream (reference lists,
 * orthologs, inner/outer joins in an order that agrees with the datasets)
 * and each dataset's map onto it. */
/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_genes.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_stream_int.h"

/* ------------------------------------------------------------------------ */
/* Gene space                                                               */

/* Positions [0, N) of values V that form a longest strictly ascending
 * subsequence, marked in KEEP (patience sorting, N log N); TAIL and PRED
 * are scratch of N each. NaN values (unplaced) are never part of it. */
static void longest_run(const double *v, size_t n, uint8_t *keep, size_t *tail,
                        size_t *pred)
{
    size_t len = 0;
    for (size_t k = 0; k < n; k++) {
        keep[k] = 0;
        if (isnan(v[k]))
            continue;
        size_t lo = 0, hi = len;
        while (lo < hi) {
            size_t mid = (lo + hi) / 2;
            if (v[tail[mid]] < v[k])
                lo = mid + 1;
            else
                hi = mid;
        }
        pred[k] = lo ? tail[lo - 1] : SIZE_MAX;
        tail[lo] = k;
        if (lo == len)
            len++;
    }
    for (size_t k = len ? tail[len - 1] : SIZE_MAX; k != SIZE_MAX; k = pred[k])
        keep[k] = 1;
}

struct gkey {
    double key;
    uint32_t g;
};

static int cmp_gkey(const void *a, const void *b)
{
    const struct gkey *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->g > y->g) - (x->g < y->g);
}

/* The N placed genes ORD sorted by KEY, through TMP. */
static void sort_by_key(uint32_t *ord, size_t n, const double *key,
                        struct gkey *tmp)
{
    for (size_t r = 0; r < n; r++)
        tmp[r] = (struct gkey){key[ord[r]], ord[r]};
    qsort(tmp, n, sizeof *tmp, cmp_gkey);
    for (size_t r = 0; r < n; r++)
        ord[r] = tmp[r].g;
}

/*
 * Order the N genes of the union so that every dataset's genes come in its
 * own order as far as the datasets agree. The datasets are merged in one by
 * one: each gene has a position (a real number); a dataset's genes already
 * placed that form its longest ascending run anchor it, and its new genes
 * are placed between the anchors around them, in its order. Its genes
 * placed out of that run (the datasets disagree there) stay where they
 * are. Datasets that agree with one order (gene lists of one reference,
 * in its order) map to ascending output columns, and a row needs no
 * sorting. SEQ holds the datasets' genes as union numbers (first-seen
 * order), dataset i in [SEQ_OFF[i], SEQ_OFF[i + 1]). On return RANK[g] is
 * the output position of gene g.
 */
int ss_join_order(const uint32_t *seq, const size_t *seq_off, size_t n_ds,
                  size_t n, uint32_t *rank)
{
    size_t longest = 0;
    for (size_t i = 0; i < n_ds; i++)
        if (seq_off[i + 1] - seq_off[i] > longest)
            longest = seq_off[i + 1] - seq_off[i];
    double *key = malloc((n ? n : 1) * sizeof *key);
    double *v = malloc((longest ? longest : 1) * sizeof *v);
    size_t *tail = malloc((longest ? longest : 1) * sizeof *tail);
    size_t *pred = malloc((longest ? longest : 1) * sizeof *pred);
    uint8_t *keep = malloc(longest ? longest : 1);
    uint32_t *ord = malloc((n ? n : 1) * sizeof *ord);
    struct gkey *tmp = malloc((n ? n : 1) * sizeof *tmp);
    size_t n_placed = 0;
    double lo_key = 0, hi_key = 0;
    int rc = 0, tight = 0;

    if (!key || !v || !tail || !pred || !keep || !ord || !tmp) {
        rc = ss_oom();
        goto out;
    }
    for (size_t g = 0; g < n; g++)
        key[g] = NAN;
    for (size_t i = 0; i < n_ds; i++) {
        const uint32_t *q = seq + seq_off[i];
        size_t L = seq_off[i + 1] - seq_off[i];
        if (tight) {
            /* positions as ranks again, before gaps get too narrow */
            sort_by_key(ord, n_placed, key, tmp);
            for (size_t r = 0; r < n_placed; r++)
                key[ord[r]] = (double)r;
            lo_key = 0;
            hi_key = n_placed ? (double)(n_placed - 1) : 0;
            tight = 0;
        }
        for (size_t k = 0; k < L; k++)
            v[k] = key[q[k]];
        longest_run(v, L, keep, tail, pred);
        /* new genes, run by run, between the anchors around them (or the
         * ends of the order) */
        int first = n_placed == 0;
        double left = first ? 0 : lo_key - 1;
        size_t run = 0;
        for (size_t k = 0; k <= L; k++) {
            if (k < L && isnan(v[k])) {
                run++;
                continue;
            }
            if (k < L && !keep[k])
                continue;
            double right = k < L ? v[k] : first ? 1 : hi_key + 1;
            if (run) {
                double step = (right - left) / (double)(run + 1);
                if (step < 1e-3)
                    tight = 1;
                size_t j = 0;
                for (size_t p = k - 1;; p--) {
                    /* the run's genes, back to front, skipping the placed */
                    if (isnan(v[p])) {
                        key[q[p]] = right - step * (double)(++j);
                        ord[n_placed++] = q[p];
                    }
                    if (j == run || p == 0)
                        break;
                }
                run = 0;
            }
            if (k < L)
                left = v[k];
        }
        for (size_t k = 0; k < L; k++) {
            double x = key[q[k]];
            if (first && k == 0)
                lo_key = hi_key = x;
            lo_key = x < lo_key ? x : lo_key;
            hi_key = x > hi_key ? x : hi_key;
        }
    }
    sort_by_key(ord, n_placed, key, tmp);
    for (size_t r = 0; r < n_placed; r++)
        rank[ord[r]] = (uint32_t)r;
out:
    free(tmp);
    free(key);
    free(v);
    free(tail);
    free(pred);
    free(keep);
    free(ord);
    return rc;
}

typedef struct glist {
    const char *organism;
    size_t off, n;
    char **genes;
    sc_strmap map;
} glist;

/* The list at PATH (sc_genes_list_read) and its index. */
static int genes_read(const char *path, glist *g)
{
    int rc = sc_genes_list_read(path, &g->genes, &g->n);

    for (size_t i = 0; i < g->n && rc == 0; i++)
        rc = sc_strmap_put(&g->map, g->genes[i], (int64_t)i);
    return rc;
}

/* Look NAME up in MAP, then without an Ensembl-style ".N" version. */
int64_t ss_gene_find(const sc_strmap *map, const char *name)
{
    int64_t k = sc_strmap_get(map, name);
    const char *dot;
    if (k >= 0 || !(dot = strrchr(name, '.')) || !dot[1])
        return k;
    for (const char *p = dot + 1; *p; p++)
        if (!isdigit((unsigned char)*p))
            return -1;
    char buf[256];
    size_t n = (size_t)(dot - name);
    if (n >= sizeof buf)
        return -1;
    memcpy(buf, name, n);
    buf[n] = '\0';
    return sc_strmap_get(map, buf);
}

static int set_out_genes(sc_stream *s, char **genes, size_t n)
{
    if (n >= GM_LATE)
        return sc_fail(SC_EINVAL, "%zu output genes: at most %d", n,
                       GM_LATE - 1);
    if (!(s->h.genes = calloc(n ? n : 1, sizeof *s->h.genes)))
        return ss_oom();
    for (size_t i = 0; i < n; i++)
        if (!(s->h.genes[i] = strdup(genes[i])))
            return ss_oom();
    s->h.n_genes = s->n_out_genes = n;
    return 0;
}

/* The earlier dataset whose gmap D can share (the same interned var list,
 * recorded in OWNERS), else record D as the owner of its list: -1. */
static int64_t map_owner(sc_u64map *owners, const sc_stream *s, const ss_ds *d,
                         int *rc)
{
    int64_t *v;
    int added = 0;
    if ((*rc = sc_u64map_slot(owners, (uint64_t)(uintptr_t)d->meta->var,
                              (int64_t)(d - s->ds), &v, &added)) < 0) {
        *rc = ss_oom();
        return -1;
    }
    return added ? -1 : *v;
}

static int map_alloc(ss_ds *d)
{
    int64_t n = d->meta->n_vars;
    if (!(d->gmap = malloc((n ? n : 1) * sizeof *d->gmap)))
        return ss_oom();
    return 0;
}

/* "human", "Homo sapiens" and "NCBITaxon:9606" name one organism. */
static int same_organism(const char *a, const char *b)
{
    int x, y;
    if (!a || !b)
        return 0;
    if (!strcasecmp(a, b))
        return 1;
    x = sc_genes_find_species(a);
    y = sc_genes_find_species(b);
    return x >= 0 && x == y;
}

/* Mark with GM_LATE the genes of D outside a longest subsequence of its
 * var order that ascends in the output order (longest_run): the others
 * come out of a row already sorted. */
int ss_mark_late(ss_ds *d)
{
    size_t nv = (size_t)d->meta->n_vars, m = nv ? nv : 1;
    /* zeroed: out of line, gcc -O2 takes an empty var for a read of
     * uninitialized V (-Wmaybe-uninitialized) */
    double *v = calloc(m, sizeof *v);
    size_t *tail = malloc(m * sizeof *tail), *pred = malloc(m * sizeof *pred);
    uint8_t *keep = malloc(m);
    int rc = 0;

    if (!v || !tail || !pred || !keep) {
        rc = ss_oom();
    } else {
        /* dropped genes (NaN) are never part of the run */
        for (size_t k = 0; k < nv; k++)
            v[k] = d->gmap[k] >= 0 ? (double)d->gmap[k] : NAN;
        longest_run(v, nv, keep, tail, pred);
        for (size_t k = 0; k < nv; k++)
            if (d->gmap[k] >= 0 && !keep[k])
                d->gmap[k] |= GM_LATE;
    }
    free(v);
    free(tail);
    free(pred);
    free(keep);
    return rc;
}

/* The human and mouse references and the mouse -> human one-to-one
 * orthologs (sc_genes_orthologs, as sc-harmonize --orthologs), loaded for
 * the first mouse dataset. */
typedef struct ortho_ctx {
    sc_genes *hs, *mm;
    int64_t *to_hs;
} ortho_ctx;

static void ortho_release(ortho_ctx *c)
{
    sc_genes_free(c->hs);
    sc_genes_free(c->mm);
    free(c->to_hs);
}

/* Map the genes of the mouse dataset D onto the human list USE through
 * their orthologs, into d->gmap (a human gene twice: its first column), and
 * say what was dropped. */
static int ortho_map(ortho_ctx *c, ss_ds *d, const glist *use)
{
    int64_t n_proj = 0, n_none = 0, n_unknown = 0, n_absent = 0;
    sc_strmap dup = {0};
    int rc = 0;

    if (!c->to_hs && ((rc = sc_genes_load(0, 0, &c->hs)) < 0 ||
                      (rc = sc_genes_load(1, 0, &c->mm)) < 0 ||
                      (rc = sc_genes_orthologs(c->mm, c->hs, &c->to_hs)) < 0))
        return rc;
    for (int64_t k = 0; k < d->meta->n_vars && rc == 0; k++) {
        int64_t x = sc_genes_map(c->mm, d->meta->var[k], NULL), y, j = -1;

        d->gmap[k] = -1;
        if (x < 0)
            n_unknown++;
        else if ((y = c->to_hs[x]) < 0)
            n_none++;
        else if ((j = ss_gene_find(&use->map, sc_genes_id(c->hs, y))) < 0)
            n_absent++;
        if (j < 0)
            continue;
        n_proj++;
        if (sc_strmap_get(&dup, use->genes[j]) >= 0)
            continue;
        d->gmap[k] = (int32_t)(j + (int64_t)use->off);
        rc = sc_strmap_put(&dup, use->genes[j], k);
    }
    sc_strmap_release(&dup);
    if (rc == 0)
        sc_log_warn("'%s': %" PRId64 " mouse genes projected onto human "
                    "orthologs; dropped: %" PRId64 " without a one-to-one "
                    "ortholog, %" PRId64 " whose ortholog is not in the gene "
                    "list, %" PRId64 " not mouse genes",
                    d->path, n_proj, n_none, n_absent, n_unknown);
    return rc;
}

int ss_genes_ref(sc_stream *s)
{
    ortho_ctx oc = {NULL, NULL, NULL};
    const sc_stream_opts *o = &s->o;
    glist *g = calloc(o->n_genes, sizeof *g);
    const glist **uses = calloc(s->n_ds ? s->n_ds : 1, sizeof *uses);
    sc_u64map owners = {0};
    char **all = NULL;
    size_t total = 0;
    int rc = 0;

    if (!g || !uses) {
        free(g);
        free(uses);
        return ss_oom();
    }
    for (size_t i = 0; i < o->n_genes && rc == 0; i++) {
        g[i].organism = o->genes[i].organism;
        g[i].off = total;
        rc = genes_read(o->genes[i].path, &g[i]);
        total += g[i].n;
    }
    if (rc == 0 && !(all = malloc((total ? total : 1) * sizeof *all)))
        rc = ss_oom();
    for (size_t i = 0; i < o->n_genes && rc == 0; i++)
        memcpy(all + g[i].off, g[i].genes, g[i].n * sizeof *all);
    if (rc == 0)
        rc = set_out_genes(s, all, total);
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ss_ds *d = &s->ds[i];
        const glist *use = NULL;
        int project = o->orthologs && d->organism &&
                      sc_genes_find_species(d->organism) == 1;
        for (size_t j = 0; j < o->n_genes && !use && project; j++)
            if (same_organism(g[j].organism, "human"))
                use = &g[j];
        for (size_t j = 0; j < o->n_genes && !use; j++)
            if (!g[j].organism ||
                (!project && same_organism(g[j].organism, d->organism)))
                use = &g[j];
        if (!use) {
            rc = sc_fail(SC_EINVAL,
                         "'%s': no reference gene list for "
                         "organism '%s'",
                         d->path, d->organism ? d->organism : "(unknown)");
            break;
        }
        if (!project) {
            /* the same var and gene list as an earlier dataset: its map */
            int64_t r = map_owner(&owners, s, d, &rc);
            if (rc < 0)
                break;
            if (r >= 0 && uses[r] == use && !s->ds[r].gmap_shared) {
                d->gmap = s->ds[r].gmap;
                d->gmap_shared = 1;
                continue;
            }
            uses[i] = use;
        }
        if ((rc = map_alloc(d)) < 0)
            break;
        if (project) {
            rc = ortho_map(&oc, d, use);
            continue;
        }
        sc_strmap dup = {0};
        for (int64_t k = 0; k < d->meta->n_vars && rc == 0; k++) {
            int64_t j = ss_gene_find(&use->map, d->meta->var[k]);
            d->gmap[k] = j < 0 ? -1 : (int32_t)(j + (int64_t)use->off);
            /* a gene twice in one dataset: keep its first column */
            if (j >= 0 && sc_strmap_get(&dup, use->genes[j]) >= 0)
                d->gmap[k] = -1;
            else if (j >= 0)
                rc = sc_strmap_put(&dup, use->genes[j], k);
        }
        sc_strmap_release(&dup);
    }
    ortho_release(&oc);
    sc_u64map_release(&owners);
    free(uses);
    free(all);
    for (size_t i = 0; i < o->n_genes; i++) {
        for (size_t j = 0; j < g[i].n; j++)
            free(g[i].genes[j]);
        free(g[i].genes);
        sc_strmap_release(&g[i].map);
    }
    free(g);
    return rc;
}

int ss_genes_join(sc_stream *s)
{
    sc_strmap map = {0};
    char **out = NULL;
    uint32_t *count = NULL, *stamp = NULL, *seq = NULL, *rank = NULL;
    int32_t *pos = NULL;
    size_t n = 0, cap = 0, n_seq = 0, *seq_off = NULL;
    sc_u64map owners = {0};
    int rc = 0, same = 1;

    for (size_t i = 1; i < s->n_ds && same; i++) {
        const ss_meta *a = s->ds[0].meta, *b = s->ds[i].meta;
        same = a->n_vars == b->n_vars;
        for (int64_t k = 0; k < a->n_vars && same && a->var != b->var; k++)
            same = !strcmp(a->var[k], b->var[k]);
    }
    if (!same && s->o.join == SC_STREAM_JOIN_NONE)
        return sc_fail(SC_EINVAL,
                       "the datasets' genes differ ('%s' and "
                       "others): choose --join inner|outer or "
                       "--genes FILE",
                       s->ds[0].path);
    /* the union in first-seen order, with the number of datasets per gene;
     * each dataset's genes as union numbers, in d->gmap for now (-1: its
     * second column of a gene) and in SEQ without those (for ss_join_order) */
    for (size_t i = 0; i < s->n_ds; i++)
        n_seq += (size_t)s->ds[i].meta->n_vars;
    if (!(seq_off = calloc(s->n_ds + 1, sizeof *seq_off)) ||
        !(seq = malloc((n_seq ? n_seq : 1) * sizeof *seq)))
        rc = ss_oom();
    n_seq = 0;
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ss_ds *d = &s->ds[i];
        const ss_meta *m = d->meta;
        /* the same var as an earlier dataset: its map, and no sequence
         * (ss_join_order places nothing for a list it has seen) */
        int64_t r = map_owner(&owners, s, d, &rc);
        if (rc < 0)
            break;
        if (r >= 0) {
            d->gmap = s->ds[r].gmap;
            d->gmap_shared = 1;
            for (int64_t k = 0; k < m->n_vars; k++)
                if (d->gmap[k] >= 0)
                    count[d->gmap[k]]++;
            seq_off[i + 1] = n_seq;
            continue;
        }
        if ((rc = map_alloc(d)) < 0)
            break;
        for (int64_t k = 0; k < m->n_vars && rc == 0; k++) {
            int64_t j = sc_strmap_get(&map, m->var[k]);
            if (j < 0) {
                if (n == cap) {
                    cap = cap ? 2 * cap : 4096;
                    char **o2 = realloc(out, cap * sizeof *o2);
                    uint32_t *c2 = realloc(count, cap * sizeof *c2);
                    uint32_t *s2 = realloc(stamp, cap * sizeof *s2);
                    if (o2)
                        out = o2;
                    if (c2)
                        count = c2;
                    if (s2)
                        stamp = s2;
                    if (!o2 || !c2 || !s2) {
                        rc = ss_oom();
                        break;
                    }
                }
                out[n] = m->var[k];
                count[n] = 0;
                stamp[n] = 0;
                j = (int64_t)n++;
                if ((rc = sc_strmap_put(&map, out[j], j)) < 0)
                    break;
            }
            if (stamp[j] == i + 1) { /* twice in this dataset */
                d->gmap[k] = -1;
                continue;
            }
            stamp[j] = (uint32_t)(i + 1);
            count[j]++;
            d->gmap[k] = (int32_t)j;
            seq[n_seq++] = (uint32_t)j;
        }
        seq_off[i + 1] = n_seq;
    }
    sc_strmap_release(&map);
    sc_u64map_release(&owners);
    /* put the union in an order that agrees with the datasets' own, keep
     * the genes every dataset has for an inner join */
    if (rc == 0 && (!(rank = malloc((n ? n : 1) * sizeof *rank)) ||
                    !(pos = malloc((n ? n : 1) * sizeof *pos))))
        rc = ss_oom();
    if (rc == 0)
        rc = ss_join_order(seq, seq_off, s->n_ds, n, rank);
    char **names = NULL;
    if (rc == 0 && !(names = malloc((n ? n : 1) * sizeof *names)))
        rc = ss_oom();
    size_t kept = 0;
    if (rc == 0) {
        int32_t *col = (int32_t *)stamp; /* reused: rank -> output column */
        for (size_t r = 0; r < n; r++)
            col[r] = -1;
        for (size_t j = 0; j < n; j++) {
            names[rank[j]] = out[j];
            if (s->o.join != SC_STREAM_JOIN_INNER || count[j] == s->n_ds)
                col[rank[j]] = 0;
        }
        for (size_t r = 0; r < n; r++)
            if (col[r] == 0) {
                names[kept] = names[r];
                col[r] = (int32_t)kept++;
            }
        for (size_t j = 0; j < n; j++)
            pos[j] = col[rank[j]];
        rc = set_out_genes(s, names, kept);
    }
    for (size_t i = 0; i < s->n_ds && rc == 0; i++) {
        ss_ds *d = &s->ds[i];
        for (int64_t k = 0; k < d->meta->n_vars && !d->gmap_shared; k++)
            if (d->gmap[k] >= 0)
                d->gmap[k] = pos[d->gmap[k]];
    }
    free(names);
    free(out);
    free(count);
    free(stamp);
    free(seq);
    free(seq_off);
    free(rank);
    free(pos);
    if (rc == 0 && s->n_out_genes == 0)
        rc = sc_fail(SC_EINVAL, "the datasets have no gene in common");
    return rc;
}
