/* sc_fuzzyidx: a word list for spelling correction. A misspelt word is
 * read as the one word of the list within Damerau-Levenshtein (optimal
 * string alignment) distance 1 of it, when no other word of the list lies
 * within distance 2 and it is not itself a word of the list. The words
 * are kept by length with their letters as bit masks, so that a query
 * compares only the words of about its length whose letters differ from
 * its own by two at most, with a distance banded at 2. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_FUZZYIDX_H
#define SC_FUZZYIDX_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

#define SC_FUZZYIDX_MAX_WORD 48 /* longer words are not indexed */

typedef struct sc_fuzzyidx {
    const char **w; /* the words, by length, then strcmp() order */
    uint32_t *mask; /* their letters: a-z, then one bit for others */
    uint8_t *len;   /* their lengths */
    size_t n;       /* how many */
    size_t at[SC_FUZZYIDX_MAX_WORD + 2]; /* AT[L]: the first of length L */
} sc_fuzzyidx;

/* Index the N words W (NUL-terminated; not copied: they must outlive the
 * index); words longer than SC_FUZZYIDX_MAX_WORD are left out. 0 or
 * SC_ENOMEM. */
SC_MUST_CHECK int sc_fuzzyidx_build(sc_fuzzyidx *x, const char *const *w,
                                    size_t n);
void sc_fuzzyidx_free(sc_fuzzyidx *x);

/* The correction of W: the index (into X->w) of the one word within
 * distance 1 of W with no other within distance 2, when W is not a word
 * of X; -1 when there is none. */
ptrdiff_t sc_fuzzyidx_correct(const sc_fuzzyidx *x, const char *w);

/* The optimal string alignment distance of A and B (NA and NB bytes),
 * when it is 2 at most, else 3: sc_onto_edit_distance(A, NA, B, NB, 2, 1)
 * for strings of SC_FUZZYIDX_MAX_WORD + 2 bytes at most. */
size_t sc_fuzzyidx_distance2(const char *a, size_t na, const char *b,
                             size_t nb);

#endif
