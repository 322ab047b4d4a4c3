/* sc_fuzzyidx: a word list for spelling correction (see sc_fuzzyidx.h). */
/* SPDX-License-Identifier: MIT */
#include "sc_fuzzyidx.h"

#include <stdlib.h>
#include <string.h>

#define FAR   3           /* distance 3: "more than 2" */
#define BLOCK 64          /* masks tested at once */
#define PAD   0xf8000000u /* five bits no word has: the mask of no word */

/* The letters of W as a bit mask (a-z, then one bit for anything else). */
static uint32_t letter_mask(const char *w)
{
    uint32_t m = 0;

    for (; *w; w++)
        m |= *w >= 'a' && *w <= 'z' ? 1u << (*w - 'a') : 1u << 26;
    return m;
}

static int cmp_len(const void *a, const void *b)
{
    const char *x = *(const char *const *)a, *y = *(const char *const *)b;
    size_t nx = strlen(x), ny = strlen(y);

    if (nx != ny)
        return nx < ny ? -1 : 1;
    return strcmp(x, y);
}

int sc_fuzzyidx_build(sc_fuzzyidx *x, const char *const *w, size_t n)
{
    memset(x, 0, sizeof *x);
    x->w = malloc((n ? n : 1) * sizeof *x->w);
    x->mask = malloc((n + BLOCK) * sizeof *x->mask);
    x->len = malloc(n ? n : 1);
    if (!x->w || !x->mask || !x->len) {
        sc_fuzzyidx_free(x);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (size_t k = 0; k < n; k++)
        if (strlen(w[k]) <= SC_FUZZYIDX_MAX_WORD)
            x->w[x->n++] = w[k];
    qsort(x->w, x->n, sizeof *x->w, cmp_len);
    for (size_t k = 0; k < x->n; k++) {
        x->mask[k] = letter_mask(x->w[k]);
        x->len[k] = (uint8_t)strlen(x->w[k]);
    }
    /* a block of masks no query passes after the last */
    for (size_t k = x->n; k < x->n + BLOCK; k++)
        x->mask[k] = PAD;
    for (size_t l = 0, k = 0; l < SC_FUZZYIDX_MAX_WORD + 2; l++) {
        while (k < x->n && x->len[k] < l)
            k++;
        x->at[l] = k;
    }
    return 0;
}

void sc_fuzzyidx_free(sc_fuzzyidx *x)
{
    free(x->w);
    free(x->mask);
    free(x->len);
    memset(x, 0, sizeof *x);
}

/* The OSA distance, banded: a cell off the diagonal by more than 2 holds
 * 3 or more, so that every cell is kept as min(its value, 3), and only
 * the five cells of each row about the diagonal are computed. Row I of
 * the table is kept for J in [I - 3, I + 3]; its other cells are never
 * read. */
size_t sc_fuzzyidx_distance2(const char *a, size_t na, const char *b, size_t nb)
{
    uint8_t d[3][SC_FUZZYIDX_MAX_WORD + 4], *p2 = d[0], *p1 = d[1], *c = d[2];

    if (na > SC_FUZZYIDX_MAX_WORD + 2 || nb > SC_FUZZYIDX_MAX_WORD + 2 ||
        (na > nb ? na - nb : nb - na) > 2)
        return FAR;
    /* a common prefix or suffix costs nothing */
    while (na && nb && *a == *b)
        a++, b++, na--, nb--;
    while (na && nb && a[na - 1] == b[nb - 1])
        na--, nb--;
    if (!na || !nb)
        return na + nb < FAR ? na + nb : FAR;
    /* row 0, in its band */
    for (size_t j = 0; j <= nb && j <= FAR; j++)
        p1[j] = (uint8_t)(j < FAR ? j : FAR);
    for (size_t i = 1; i <= na; i++) {
        size_t lo = i > 2 ? i - 2 : 1, hi = i + 2 < nb ? i + 2 : nb;
        uint8_t best, *t;
        char ai = a[i - 1];

        /* column 0 (I) is in the band for I <= 2 */
        c[lo - 1] = best = (uint8_t)(lo == 1 && i < FAR ? i : FAR);
        if (hi + 1 <= nb)
            c[hi + 1] = FAR;
        for (size_t j = lo; j <= hi; j++) {
            uint8_t v = p1[j - 1], u = p1[j] < c[j - 1] ? p1[j] : c[j - 1];

            /* equal letters: the diagonal, which no other way beats */
            if (ai != b[j - 1]) {
                v = (uint8_t)(v < u ? v : u);
                if (i > 1 && j > 1 && ai == b[j - 2] && a[i - 2] == b[j - 1] &&
                    p2[j - 2] < v)
                    v = p2[j - 2];
                v = (uint8_t)(v < FAR ? v + 1 : FAR);
            }
            c[j] = v;
            if (v < best)
                best = v;
        }
        if (best >= FAR)
            return FAR;
        t = p2;
        p2 = p1;
        p1 = c;
        c = t;
    }
    return p1[nb];
}

ptrdiff_t sc_fuzzyidx_correct(const sc_fuzzyidx *x, const char *w)
{
    size_t len = strlen(w), lo, hi;
    uint32_t mask = letter_mask(w);
    ptrdiff_t one = -1;

    if (!x->n || len > SC_FUZZYIDX_MAX_WORD + 2)
        return -1;
    lo = x->at[len > 2 ? len - 2 : 0];
    hi = x->at[len + 2 < SC_FUZZYIDX_MAX_WORD ? len + 3
                                              : SC_FUZZYIDX_MAX_WORD + 1];
    for (size_t k0 = lo; k0 < hi; k0 += BLOCK) {
        size_t nk = hi - k0 < BLOCK ? hi - k0 : BLOCK;
        uint32_t far[BLOCK];

        /* an edit brings in one letter at most: two letters of one word
         * not in the other at most (a loop the compiler vectorises; FAR
         * is 0 for the words that pass) */
        for (size_t j = 0; j < BLOCK; j++) {
            uint32_t in = mask & ~x->mask[k0 + j],
                     out = x->mask[k0 + j] & ~mask;

            in &= in - 1;
            out &= out - 1;
            far[j] = (in & (in - 1)) | (out & (out - 1));
        }
        for (size_t j = 0; j < nk; j++) {
            size_t k = k0 + j, d;

            if (far[j] ||
                (d = sc_fuzzyidx_distance2(w, len, x->w[k], x->len[k])) > 2)
                continue;
            if (d == 0 || one >= 0 || d == 2)
                return -1; /* a word itself, or more than one near */
            one = (ptrdiff_t)k;
        }
    }
    return one;
}
