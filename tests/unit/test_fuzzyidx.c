/* Unit tests for sc_fuzzyidx: the fuzzy tier's word index must find what
 * a scan of every word with sc_onto_edit_distance() finds. */
/* SPDX-License-Identifier: MIT */
#include "sc_fuzzyidx.h"
#include "sc_onto.h"
#include "unit.h"

#include <stdint.h>

static uint64_t rng = 88172645463325252ULL;

static unsigned rnd(unsigned n)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (unsigned)(rng % n);
}

/* A random string of LEN letters from the first K of ALPHA into S. */
static void random_word(char *s, size_t len, const char *alpha, unsigned k)
{
    for (size_t i = 0; i < len; i++)
        s[i] = alpha[rnd(k)];
    s[len] = '\0';
}

/* N random edits (substitution, insertion, deletion, swap) of S, in
 * place (S has room for SC_FUZZYIDX_MAX_WORD + 8 bytes). */
static void edit(char *s, int n, const char *alpha, unsigned k)
{
    for (int e = 0; e < n; e++) {
        size_t len = strlen(s), i = len ? rnd((unsigned)len) : 0;

        switch (rnd(4)) {
        case 0:
            if (len)
                s[i] = alpha[rnd(k)];
            break;
        case 1:
            if (len < SC_FUZZYIDX_MAX_WORD + 4) {
                memmove(s + i + 1, s + i, len - i + 1);
                s[i] = alpha[rnd(k)];
            }
            break;
        case 2:
            if (len)
                memmove(s + i, s + i + 1, len - i);
            break;
        default:
            if (i + 1 < len) {
                char c = s[i];

                s[i] = s[i + 1];
                s[i + 1] = c;
            }
        }
    }
}

/* The fuzzy tier's rule by brute force: the one word within distance 1
 * of W, none other within 2, W not a word. */
static ptrdiff_t brute(const sc_fuzzyidx *x, const char *w)
{
    ptrdiff_t one = -1;
    size_t len = strlen(w);

    for (size_t k = 0; k < x->n; k++) {
        size_t d =
            sc_onto_edit_distance(w, len, x->w[k], strlen(x->w[k]), 2, 1);

        if (d > 2)
            continue;
        if (d == 0 || one >= 0 || d == 2)
            return -1;
        one = (ptrdiff_t)k;
    }
    return one;
}

static void test_distance(void)
{
    static const char alpha[] = "abc";
    char a[SC_FUZZYIDX_MAX_WORD + 8], b[SC_FUZZYIDX_MAX_WORD + 8];
    int bad = 0, near = 0;

    for (int t = 0; t < 200000; t++) {
        size_t la = rnd(t % 3 ? 10 : SC_FUZZYIDX_MAX_WORD + 1), ea, eb;

        random_word(a, la, alpha, 2 + (unsigned)(t % 2));
        if (t % 2) {
            snprintf(b, sizeof b, "%s", a);
            edit(b, 1 + (int)rnd(3), alpha, 3);
            if (strlen(b) > SC_FUZZYIDX_MAX_WORD)
                continue;
        } else {
            random_word(b, rnd(10), alpha, 3);
        }
        ea = sc_onto_edit_distance(a, strlen(a), b, strlen(b), 2, 1);
        eb = sc_fuzzyidx_distance2(a, strlen(a), b, strlen(b));
        near += ea <= 2;
        if (ea != eb && bad++ < 5)
            printf("#   '%s' '%s': %zu, expected %zu\n", a, b, eb, ea);
    }
    CHECK_INTEQ(bad, 0);
    CHECK(near > 30000); /* the test compares near strings too */
    CHECK_INTEQ(sc_fuzzyidx_distance2("ab", 2, "ba", 2), 1);
    CHECK_INTEQ(sc_fuzzyidx_distance2("abc", 3, "ca", 2), 3);
    CHECK_INTEQ(sc_fuzzyidx_distance2("", 0, "ab", 2), 2);
    CHECK_INTEQ(sc_fuzzyidx_distance2("", 0, "abc", 3), 3);
}

/* Random lists of words, queried with words, their edits and random
 * strings: the index answers as the scan does. */
static void test_correct(void)
{
    static const char alpha[] = "abcdefgh-";
    enum { N_WORDS = 2000 };
    char *store = malloc(N_WORDS * (SC_FUZZYIDX_MAX_WORD + 8));
    const char *words[N_WORDS];
    char q[SC_FUZZYIDX_MAX_WORD + 8];
    int bad = 0, found = 0, queries = 0;

    for (int round = 0; store && round < 6; round++) {
        unsigned k = 3 + (unsigned)round; /* letters: 3 to 8, then '-' */
        sc_fuzzyidx x = {0};

        for (size_t i = 0; i < N_WORDS; i++) {
            char *s = store + i * (SC_FUZZYIDX_MAX_WORD + 8);
            size_t len = round == 5 && i % 50 == 0
                             ? SC_FUZZYIDX_MAX_WORD - 2 + rnd(5)
                             : 4 + rnd(9);

            random_word(s, len, alpha, round == 5 ? 9 : k);
            words[i] = s;
        }
        /* no duplicates: the matcher's words are distinct */
        for (size_t i = 0, n = 0; i < N_WORDS; i++) {
            int dup = 0;

            for (size_t j = 0; j < n && !dup; j++)
                dup = !strcmp(words[j], words[i]);
            if (!dup)
                words[n++] = words[i];
            if (i + 1 == N_WORDS) {
                CHECK_INTEQ(sc_fuzzyidx_build(&x, words, n), 0);
                /* words over SC_FUZZYIDX_MAX_WORD are left out */
                for (size_t j = 0; j < x.n; j++)
                    CHECK(strlen(x.w[j]) <= SC_FUZZYIDX_MAX_WORD);
                for (size_t j = 1; j < x.n; j++)
                    CHECK(strlen(x.w[j - 1]) < strlen(x.w[j]) ||
                          (strlen(x.w[j - 1]) == strlen(x.w[j]) &&
                           strcmp(x.w[j - 1], x.w[j]) < 0));
            }
        }
        for (int t = 0; t < 2000; t++) {
            ptrdiff_t want, got;

            if (t % 4 == 3) {
                random_word(q, 4 + rnd(10), alpha, k);
            } else {
                snprintf(q, sizeof q, "%s", x.w[rnd((unsigned)x.n)]);
                edit(q, t % 4, alpha, round == 5 ? 9 : k);
            }
            want = brute(&x, q);
            got = sc_fuzzyidx_correct(&x, q);
            queries++;
            found += want >= 0;
            if (want != got && bad++ < 5)
                printf("#   '%s': %td, expected %td\n", q, got, want);
        }
        sc_fuzzyidx_free(&x);
    }
    free(store);
    CHECK_INTEQ(bad, 0);
    CHECK(queries == 12000);
    CHECK(found > 1000); /* corrections found, not only refusals */
}

static void test_words(void)
{
    const char *w[] = {"hepatocyte",
                       "hepatoblast",
                       "neuron",
                       "neural",
                       "lymphocyte",
                       "monocyte",
                       "a-very-long-word-of-"
                       "more-than-forty-eight-bytes-in-all"};
    sc_fuzzyidx x;
    ptrdiff_t k;

    CHECK_INTEQ(sc_fuzzyidx_build(&x, w, sizeof w / sizeof *w), 0);
    CHECK_INTEQ(x.n, 6);
    k = sc_fuzzyidx_correct(&x, "hepatocite");
    CHECK(k >= 0 && !strcmp(x.w[k], "hepatocyte"));
    k = sc_fuzzyidx_correct(&x, "lympohcyte"); /* a swap */
    CHECK(k >= 0 && !strcmp(x.w[k], "lymphocyte"));
    /* a word itself; two words near ("neuron", "neural"); too far */
    CHECK_INTEQ(sc_fuzzyidx_correct(&x, "monocyte"), -1);
    CHECK_INTEQ(sc_fuzzyidx_correct(&x, "neurol"), -1);
    CHECK_INTEQ(sc_fuzzyidx_correct(&x, "hepatoxxte"), -1);
    sc_fuzzyidx_free(&x);
    CHECK_INTEQ(sc_fuzzyidx_build(&x, w, 0), 0);
    CHECK_INTEQ(sc_fuzzyidx_correct(&x, "hepatocite"), -1);
    sc_fuzzyidx_free(&x);
}

int main(void)
{
    RUN(test_distance);
    RUN(test_correct);
    RUN(test_words);
    return UNIT_DONE();
}
