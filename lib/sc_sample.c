/* sc_sample: counter-based RNG, permutations, alias tables, sample weights. */
/* SPDX-License-Identifier: MIT */
#include "sc_sample.h"

#include <math.h>
#include <stdlib.h>

#define GOLDEN 0x9e3779b97f4a7c15ULL

static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t sc_rng_key(uint64_t seed, uint64_t epoch, uint64_t stream)
{
    /* Chained finalisers: each input changes every bit of the key, and
     * distinct (seed, epoch, stream) triples do not line up as offsets of
     * one Weyl sequence the way a plain sum would. */
    uint64_t k = mix64(seed + GOLDEN);
    k = mix64(k ^ (epoch + 0x632be59bd9b4e019ULL));
    return mix64(k ^ (stream + 0x8cb92ba72f3d8dd7ULL));
}

uint64_t sc_rng_at(uint64_t key, uint64_t ctr)
{
    return mix64(key + (ctr + 1) * GOLDEN);
}

void sc_rng_init(sc_rng *r, uint64_t seed, uint64_t epoch, uint64_t stream)
{
    r->key = sc_rng_key(seed, epoch, stream);
    r->ctr = 0;
}

uint64_t sc_rng_next(sc_rng *r)
{
    return sc_rng_at(r->key, r->ctr++);
}

double sc_rng_double(sc_rng *r)
{
    return (double)(sc_rng_next(r) >> 11) * 0x1.0p-53;
}

/* Lemire's unbiased bounded integer from one 64-bit value and R for
 * rejections (rare: probability < n / 2^64). */
static uint64_t below(uint64_t x, uint64_t n, sc_rng *r)
{
    unsigned __int128 m = (unsigned __int128)x * n;
    uint64_t lo = (uint64_t)m;
    if (lo < n) {
        uint64_t t = -n % n;
        while (lo < t) {
            x = sc_rng_next(r);
            m = (unsigned __int128)x * n;
            lo = (uint64_t)m;
        }
    }
    return (uint64_t)(m >> 64);
}

uint64_t sc_rng_below(sc_rng *r, uint64_t n)
{
    return below(sc_rng_next(r), n, r);
}

void sc_shuffle_u32(uint32_t *a, size_t n, sc_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = sc_rng_below(r, i);
        uint32_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

void sc_shuffle_u64(uint64_t *a, size_t n, sc_rng *r)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = sc_rng_below(r, i);
        uint64_t t = a[i - 1];
        a[i - 1] = a[j];
        a[j] = t;
    }
}

int sc_perm_new(uint64_t n, uint64_t seed, uint64_t epoch, uint64_t stream,
                uint64_t **out)
{
    sc_rng r;
    uint64_t *p;

    *out = NULL;
    if (!(p = malloc((n ? n : 1) * sizeof *p)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (uint64_t i = 0; i < n; i++)
        p[i] = i;
    sc_rng_init(&r, seed, epoch, stream);
    sc_shuffle_u64(p, n, &r);
    *out = p;
    return 0;
}

struct sc_alias {
    size_t n;
    double total;
    double *prob;  /* probability of keeping column i */
    size_t *alias; /* the other index of column i */
};

int sc_alias_new(const double *w, size_t n, sc_alias **out)
{
    sc_alias *a = NULL;
    size_t *small = NULL, *large = NULL, ns = 0, nl = 0;
    double total = 0, *p = NULL;
    int rc;

    *out = NULL;
    if (n == 0)
        return sc_fail(SC_EINVAL, "no weights");
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(w[i]) || w[i] < 0)
            return sc_fail(SC_EINVAL, "weight %zu is %s", i,
                           w[i] < 0 ? "negative" : "not finite");
        total += w[i];
    }
    if (!(total > 0) || !isfinite(total))
        return sc_fail(SC_EINVAL, "all weights are zero");
    a = calloc(1, sizeof *a);
    small = malloc(n * sizeof *small);
    large = malloc(n * sizeof *large);
    p = malloc(n * sizeof *p);
    if (!a || !small || !large || !p ||
        !(a->prob = malloc(n * sizeof *a->prob)) ||
        !(a->alias = malloc(n * sizeof *a->alias))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    a->n = n;
    a->total = total;
    for (size_t i = 0; i < n; i++) {
        p[i] = w[i] * (double)n / total;
        if (p[i] < 1.0)
            small[ns++] = i;
        else
            large[nl++] = i;
    }
    while (ns && nl) {
        size_t s = small[--ns], l = large[--nl];
        a->prob[s] = p[s];
        a->alias[s] = l;
        p[l] = (p[l] + p[s]) - 1.0;
        if (p[l] < 1.0)
            small[ns++] = l;
        else
            large[nl++] = l;
    }
    /* What is left is 1 up to rounding. */
    while (nl) {
        size_t l = large[--nl];
        a->prob[l] = 1.0;
        a->alias[l] = l;
    }
    while (ns) {
        size_t s = small[--ns];
        a->prob[s] = 1.0;
        a->alias[s] = s;
    }
    free(small);
    free(large);
    free(p);
    *out = a;
    return 0;
fail:
    free(small);
    free(large);
    free(p);
    sc_alias_free(a);
    return rc;
}

size_t sc_alias_draw2(const sc_alias *a, uint64_t u1, uint64_t u2)
{
    size_t i = (size_t)(((unsigned __int128)u1 * a->n) >> 64);
    double coin = (double)(u2 >> 11) * 0x1.0p-53;
    return coin < a->prob[i] ? i : a->alias[i];
}

size_t sc_alias_draw(const sc_alias *a, sc_rng *r)
{
    uint64_t u1 = sc_rng_next(r);
    return sc_alias_draw2(a, u1, sc_rng_next(r));
}

size_t sc_alias_size(const sc_alias *a)
{
    return a->n;
}

double sc_alias_total(const sc_alias *a)
{
    return a->total;
}

void sc_alias_free(sc_alias *a)
{
    if (!a)
        return;
    free(a->prob);
    free(a->alias);
    free(a);
}

double sc_weight_class(int scheme, double count, double scaler)
{
    if (count <= 0)
        return 0;
    switch (scheme) {
    case SC_WEIGHT_INV: return 1.0 / count;
    case SC_WEIGHT_SCALER: return scaler / (count + scaler);
    default: return 1.0;
    }
}

double sc_weight_nnz(double nnz)
{
    return 1.0 + 999.0 / (1.0 + exp(-0.003 * (nnz - 2000.0)));
}

double sc_expected_distinct(const double *p, size_t n, double m)
{
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += 1.0 - pow(1.0 - p[i], m);
    return e;
}
