/* sc_onto_search: ranked label suggestions for free text. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* memmem */
#include <stdlib.h>
#include <string.h>

#include "sc_onto_int.h"

int sc_onto_search_prefilter = 1;

/* Longest text compared by edit distance, and words of a query. */
#define FUZZY_MAX SC_ONTO_EDIT_MAX
#define WORDS_MAX 16
/* Buckets of the byte histograms of the fuzzy tier's prefilter. */
#define HIST 64

/* Scores: the tier sets the band, the rest says how much matched. */
#define SCORE_LABEL       1.0
#define SCORE_LABEL_CI    0.95
#define SCORE_SYNONYM     0.9
#define SCORE_SYNONYM_CI  0.85
#define SCORE_TOKEN_BASE  0.5  /* + up to 0.3 for coverage */
#define SCORE_FUZZY_TOP   0.45 /* times the similarity */
#define DEPRECATED_FACTOR 0.9

const char *sc_onto_tier_name(int tier)
{
    switch (tier) {
    case SC_ONTO_TIER_LABEL: return "label";
    case SC_ONTO_TIER_LABEL_CI: return "label-ci";
    case SC_ONTO_TIER_SYNONYM: return "synonym";
    case SC_ONTO_TIER_TOKEN: return "token";
    case SC_ONTO_TIER_FUZZY: return "fuzzy";
    default: return "?";
    }
}

static int is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') ||
           (c >= 'A' && c <= 'Z') || c >= 0x80;
}

static char lower(char c)
{
    return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

/* The query, prepared once. */
struct query {
    const char *text;
    char *low;
    size_t len;
    const char *word[WORDS_MAX]; /* into low2, NUL-separated words */
    size_t stem[WORDS_MAX];      /* each word's length, a plural "s" aside */
    size_t n_word, word_chars;
    char *low2;
    int hist[HIST]; /* the bytes of LOW by bucket (hist_bucket) */
};

/* The bucket of byte C in a histogram of HIST buckets: several bytes share
 * one, so a distance between histograms stays a lower bound. */
static unsigned hist_bucket(char c)
{
    return (unsigned char)c % HIST;
}

/* A lower bound of the edit distance (without swaps) of Q's text and LOW
 * (N bytes): the bag distance, the larger of the bytes of one that the
 * other lacks, by bucket. Each edit changes each side by at most one. */
static size_t bag_distance(const struct query *q, const char *low, size_t n)
{
    int h[HIST];
    size_t more = 0, less = 0;

    memcpy(h, q->hist, sizeof h);
    for (size_t i = 0; i < n; i++)
        h[hist_bucket(low[i])]--;
    for (int b = 0; b < HIST; b++)
        if (h[b] > 0)
            more += (size_t)h[b];
        else
            less += (size_t)-h[b];
    return more > less ? more : less;
}

/* Split lower-case S into words (runs of letters and digits) in place. */
static size_t words(char *s, const char **w, size_t max, size_t *chars)
{
    size_t n = 0;

    *chars = 0;
    while (*s) {
        while (*s && !is_alnum((unsigned char)*s))
            *s++ = '\0';
        if (!*s)
            break;
        if (n < max)
            w[n++] = s;
        while (*s && is_alnum((unsigned char)*s)) {
            s++;
            (*chars)++;
        }
    }
    return n;
}

/* The length of query word W (LW bytes) but a plural "s": "cells" is
 * "cell". */
static size_t stem_len(const char *w, size_t lw)
{
    return lw > 3 && w[lw - 1] == 's' ? lw - 1 : lw;
}

/* How query word W matches word X: the length of X when they are the same
 * word (a plural "s" of W aside: "cells" is "cell"), half the length of W
 * when X only starts with W, else 0. */
static double word_match(const char *w, const char *x)
{
    size_t lw = strlen(w), lx = strlen(x), ls = stem_len(w, lw);

    if ((lx == lw && !memcmp(w, x, lw)) || (lx == ls && !memcmp(w, x, ls)))
        return (double)lx;
    if (lx > lw && !memcmp(w, x, lw))
        return 0.5 * (double)lw;
    if (lx > ls && !memcmp(w, x, ls))
        return 0.5 * (double)ls;
    return 0;
}

size_t sc_onto_edit_distance(const char *a, size_t na, const char *b, size_t nb,
                             size_t limit, int swaps)
{
    size_t d[3][SC_ONTO_EDIT_MAX + 1], *p2 = d[0], *p1 = d[1], *c = d[2];

    if (na > SC_ONTO_EDIT_MAX || nb > SC_ONTO_EDIT_MAX ||
        (na > nb ? na - nb : nb - na) > limit)
        return limit + 1;
    for (size_t j = 0; j <= nb; j++)
        p1[j] = j;
    for (size_t i = 1; i <= na; i++) {
        size_t best, *t;

        c[0] = best = i;
        for (size_t j = 1; j <= nb; j++) {
            size_t v = p1[j - 1] + (a[i - 1] != b[j - 1]);

            if (p1[j] + 1 < v)
                v = p1[j] + 1;
            if (c[j - 1] + 1 < v)
                v = c[j - 1] + 1;
            if (swaps && i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
                a[i - 2] == b[j - 1] && p2[j - 2] + 1 < v)
                v = p2[j - 2] + 1;
            c[j] = v;
            if (v < best)
                best = v;
        }
        if (best > limit)
            return limit + 1;
        t = p2;
        p2 = p1;
        p1 = c;
        c = t;
    }
    return p1[nb] > limit ? limit + 1 : p1[nb];
}

/* Tier and score of candidate S (a label when IS_LABEL) for Q; 0 when it
 * does not match. LOW is scratch space of at least strlen(S) + 1. */
static int score(const struct query *q, const char *s, size_t n, int is_label,
                 char *low, double *sc)
{
    const char *w[64];
    size_t nw, chars, hit = 0, limit;

    if (n == q->len && !memcmp(s, q->text, n)) {
        *sc = is_label ? SCORE_LABEL : SCORE_SYNONYM;
        return is_label ? SC_ONTO_TIER_LABEL : SC_ONTO_TIER_SYNONYM;
    }
    for (size_t i = 0; i <= n; i++)
        low[i] = lower(s[i]);
    if (n == q->len && !memcmp(low, q->low, n)) {
        *sc = is_label ? SCORE_LABEL_CI : SCORE_SYNONYM_CI;
        return is_label ? SC_ONTO_TIER_LABEL_CI : SC_ONTO_TIER_SYNONYM;
    }
    /* Fuzzy on the whole string, before LOW is cut into words. */
    limit = q->len < 8 ? 1 : q->len / 4;
    if (q->len <= FUZZY_MAX && n <= FUZZY_MAX &&
        (n > q->len ? n - q->len : q->len - n) <= limit) {
        size_t d =
            sc_onto_search_prefilter && bag_distance(q, low, n) > limit
                ? limit + 1
                : sc_onto_edit_distance(q->low, q->len, low, n, limit, 0);

        if (d <= limit) {
            *sc = SCORE_FUZZY_TOP *
                  (1.0 - (double)d / (double)(n > q->len ? n : q->len));
            /* Token matches below may still score higher. */
        } else {
            *sc = 0;
        }
    } else {
        *sc = 0;
    }
    /* every word of the query must start a word of S (word_match): its
     * stem must be somewhere in S at least */
    for (size_t i = 0; sc_onto_search_prefilter && i < q->n_word; i++)
        if (!memmem(low, n, q->word[i], q->stem[i]))
            return *sc > 0 ? SC_ONTO_TIER_FUZZY : 0;
    if (q->n_word) {
        double credit = 0;

        nw = words(low, w, sizeof w / sizeof *w, &chars);
        for (size_t i = 0; i < q->n_word; i++) {
            double c = 0;

            for (size_t k = 0; k < nw && c < 1; k++) {
                double m = word_match(q->word[i], w[k]);

                c = m > c ? m : c;
            }
            if (c == 0)
                break;
            hit++;
            credit += c;
        }
        if (hit == q->n_word && chars) {
            double cov = credit / (double)chars;

            *sc = SCORE_TOKEN_BASE + 0.3 * (cov > 1 ? 1 : cov) -
                  (is_label ? 0 : 0.05);
            return SC_ONTO_TIER_TOKEN;
        }
    }
    return *sc > 0 ? SC_ONTO_TIER_FUZZY : 0;
}

static int cmp_hit(const void *a, const void *b)
{
    const sc_onto_hit *x = a, *y = b;

    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->tier != y->tier)
        return x->tier < y->tier ? -1 : 1;
    return (x->term > y->term) - (x->term < y->term);
}

/* Best match of local term L of segment S, or 0. */
static int best_of(const struct query *q, const struct onto_seg *s, uint32_t l,
                   char **scratch, size_t *cap, sc_onto_hit *h)
{
    const struct onto_rec *r = &s->terms[l];
    int found = 0;

    for (uint32_t k = 0; k <= r->n_syn; k++) {
        /* k == 0: the label; then the synonyms */
        const char *str =
            k ? onto_str(s, s->strs[r->syn + k - 1]) : onto_str(s, r->label);
        size_t n = strlen(str);
        double sc;
        int tier;

        if (!n)
            continue;
        if (n + 1 > *cap) {
            char *p = realloc(*scratch, 2 * n + 1);

            if (!p)
                return -1;
            *scratch = p;
            *cap = 2 * n + 1;
        }
        if (!(tier = score(q, str, n, k == 0, *scratch, &sc)))
            continue;
        if (!found || sc > h->score) {
            h->tier = tier;
            h->score = sc;
            h->matched = str;
            found = 1;
        }
    }
    if (found && (r->flags & ONTO_DEPRECATED))
        h->score *= DEPRECATED_FACTOR;
    return found;
}

int sc_onto_search(const sc_onto *o, const char *text, int i, size_t max,
                   sc_onto_hit **out, size_t *n)
{
    struct query q = {.text = text};
    sc_onto_hit *hits = NULL;
    size_t nh = 0, cap = 0, scap = 0;
    char *scratch = NULL;
    int rc = 0;

    *out = NULL;
    *n = 0;
    q.len = strlen(text);
    if (!(q.low = malloc(q.len + 1)) || !(q.low2 = malloc(q.len + 1)))
        goto nomem;
    for (size_t k = 0; k <= q.len; k++)
        q.low[k] = q.low2[k] = lower(text[k]);
    q.n_word = words(q.low2, q.word, WORDS_MAX, &q.word_chars);
    for (size_t k = 0; k < q.n_word; k++)
        q.stem[k] = stem_len(q.word[k], strlen(q.word[k]));
    for (size_t k = 0; k < q.len; k++)
        q.hist[hist_bucket(q.low[k])]++;
    for (int k = 0; k < o->n_seg; k++) {
        const struct onto_seg *s = o->seg[k];

        if (i >= 0 && k != i)
            continue;
        for (uint32_t l = 0; l < s->h->n_terms; l++) {
            sc_onto_hit h;
            int f = best_of(&q, s, l, &scratch, &scap, &h);

            if (f < 0)
                goto nomem;
            if (!f)
                continue;
            if (nh == cap) {
                size_t c2 = cap ? 2 * cap : 64;
                sc_onto_hit *p = realloc(hits, c2 * sizeof *p);

                if (!p)
                    goto nomem;
                hits = p;
                cap = c2;
            }
            h.term = o->base[k] + (sc_onto_term)l;
            hits[nh++] = h;
        }
    }
    if (nh > 1)
        qsort(hits, nh, sizeof *hits, cmp_hit);
    if (nh > max)
        nh = max;
    if (nh) {
        *out = hits;
        *n = nh;
        hits = NULL;
    }
    goto out;
nomem:
    rc = sc_fail(SC_ENOMEM, "out of memory");
out:
    free(hits);
    free(scratch);
    free(q.low);
    free(q.low2);
    return rc;
}
