/* sc_match_fuzzy: the fuzzy tier of sc_match, for misspelt words
 * ("Hepatocites", "pancreatic adenocarcinmoa"). A word of six letters or
 * more that no label or synonym of the field's ontologies uses is read as
 * the one word of theirs within Damerau-Levenshtein (optimal string
 * alignment) distance 1, when no other word of theirs lies within
 * distance 2; the label so corrected must then map through the other
 * tiers. Abbreviations (a word in capitals), words with digits or signs,
 * short words and healthy/control labels are never corrected. */
/* SPDX-License-Identifier: MIT */
#include "sc_match_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MIN_WORD  6 /* shorter words are never corrected */
#define MAX_FIXES 2 /* corrected words in one label, at most */

_Static_assert(SM_MAX_WORD <= SC_FUZZYIDX_MAX_WORD, "fuzzy words indexed");

/* The fields of the fuzzy tier, in the order of sc_match's FZ lists. */
static const int fz_field[3] = {SC_FIELD_CELL_TYPE, SC_FIELD_TISSUE,
                                SC_FIELD_DISEASE};

/* Whether vocabulary entry E has a term of one of the ontologies of the
 * field (indexes in ONT, N of them). */
static int in_field(const struct entry *e, const int *ont, int n)
{
    for (int t = 0; t < e->n; t++)
        for (int k = 0; k < n; k++)
            if (e->terms[t] == ont[k])
                return 1;
    return 0;
}

int sm_fuzzy_index(sc_match *m)
{
    char w[SM_MAX_WORD + 1];
    const char **words;
    int rc = 0;

    /* the words of the bag-of-words keys (normalised, American spelling)
     * with the ontologies of their terms */
    for (size_t k = 0; k < m->bag[0].n; k++) {
        const struct entry *e = &m->bag[0].e[k];

        for (const char *p = e->key; *p;) {
            size_t n = strcspn(p, " ");

            if (n >= 4 && n <= SM_MAX_WORD) {
                memcpy(w, p, n);
                w[n] = '\0';
                for (int t = 0; t < e->n; t++)
                    if ((rc = sm_table_add(&m->vocab, w,
                                           (sc_onto_term)sc_onto_ontology(
                                               m->o, e->terms[t]))) < 0)
                        return rc;
            }
            p += n;
            p += strspn(p, " ");
        }
    }
    if (!m->vocab.n)
        return 0;
    /* one word index per field */
    if (!(words = malloc(m->vocab.n * sizeof *words)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < sizeof fz_field / sizeof *fz_field; i++) {
        struct sm_fz *z = &m->fz[i];
        size_t n = 0;

        z->res = sm_field_spec(m, fz_field[i])->res;
        for (size_t k = 0; k < m->vocab.n; k++)
            if (in_field(&m->vocab.e[k], z->res->ont, z->res->n_ont))
                words[n++] = m->vocab.e[k].key;
        if ((rc = sc_fuzzyidx_build(&z->idx, words, n)) < 0)
            break;
    }
    free(words);
    return rc;
}

void sm_fuzzy_release(sc_match *m)
{
    for (size_t i = 0; i < sizeof m->fz / sizeof *m->fz; i++) {
        sc_fuzzyidx_free(&m->fz[i].idx);
        m->fz[i].res = NULL;
    }
}

#define MEMO_MAX 200000 /* words remembered, at most */

/* The memo's answer for KEY into *K: 1 when it has one. */
static int memo_get(const sc_match *m, const char *key, sc_onto_term *k)
{
    /* the memo is a cache: the matcher's answers do not change */
    struct sc_match *mm = (struct sc_match *)m;
    const struct entry *e;
    int hit;

    pthread_mutex_lock(&mm->memo_lock);
    if ((hit = (e = sm_table_find(&m->memo, key)) != NULL))
        *k = e->terms[0];
    pthread_mutex_unlock(&mm->memo_lock);
    return hit;
}

static void memo_put(const sc_match *m, const char *key, sc_onto_term k)
{
    struct sc_match *mm = (struct sc_match *)m;

    pthread_mutex_lock(&mm->memo_lock);
    if (m->memo.n < MEMO_MAX && sm_table_add(&mm->memo, key, k) < 0)
        sc_err_clear(); /* not remembered: only slower */
    pthread_mutex_unlock(&mm->memo_lock);
}

/* The correction of the normalised word W in list Z of M, through the
 * memo ("<list digit><word>"): its index in Z, or SC_ONTO_NONE. */
static sc_onto_term correct_memo(const sc_match *m, const struct sm_fz *z,
                                 const char *w)
{
    char key[SM_MAX_WORD * 2 + 2];
    sc_onto_term k = SC_ONTO_NONE;

    key[0] = (char)('0' + (z - m->fz));
    snprintf(key + 1, sizeof key - 1, "%s", w);
    if (!memo_get(m, key, &k)) {
        ptrdiff_t c = sc_fuzzyidx_correct(&z->idx, w);

        k = c >= 0 ? (sc_onto_term)c : SC_ONTO_NONE;
        memo_put(m, key, k);
    }
    return k;
}

/* The correction of the raw word RAW (LEN bytes: letters) in list Z of
 * M: a word of six letters or more once normalised that the field's
 * ontologies do not use, read as the one word of theirs near it. Its
 * index in Z, or SC_ONTO_NONE; remembered by the raw word too ("<list
 * letter><raw word>"), as the labels of a dataset share most of theirs. */
static sc_onto_term correct_raw(const sc_match *m, const struct sm_fz *z,
                                const char *raw, size_t len)
{
    char key[SM_MAX_WORD + 2], w[SM_MAX_WORD * 2 + 1];
    const struct entry *e;
    sc_onto_term k = SC_ONTO_NONE;

    key[0] = (char)('a' + (z - m->fz));
    memcpy(key + 1, raw, len);
    key[len + 1] = '\0';
    if (memo_get(m, key, &k))
        return k;
    if (sc_match_normalize(key + 1, w, sizeof w) < 0) {
        sc_err_clear();
        w[0] = '\0';
    }
    sm_american(w, sizeof w);
    if (strlen(w) >= MIN_WORD && strlen(w) <= SM_MAX_WORD &&
        !((e = sm_table_find(&m->vocab, w)) &&
          in_field(e, z->res->ont, z->res->n_ont)))
        k = correct_memo(m, z, w);
    memo_put(m, key, k);
    return k;
}

/* Whether the raw word [S, S+N) may be corrected: letters only, not in
 * capitals (an abbreviation). */
static int correctable(const char *s, size_t n)
{
    size_t upper = 0;

    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];

        if (!isalpha(c))
            return 0;
        upper += isupper(c) != 0;
    }
    return upper < 2;
}

/* The N bytes at S after the *USED of BUF (SIZE bytes), NUL-terminated
 * when they fit; *USED counts them all the same (>= SIZE: cut). */
static void append(char *buf, size_t size, size_t *used, const char *s,
                   size_t n)
{
    if (*used + n < size) {
        memcpy(buf + *used, s, n);
        buf[*used + n] = '\0';
    }
    *used += n;
}

int sm_fuzzy(const sc_match *m, const struct field *fs, int field,
             const char *text, sc_match_res *res)
{
    size_t start[SM_MAX_WORDS], end[SM_MAX_WORDS], n, used = 0;
    char fixed[1100], key[1100],
        from[SM_MAX_WORD * 2 + 8] = "", to[SM_MAX_WORD * 2 + 8] = "", ev[160];
    int n_fix = 0, rc;
    const struct sm_fz *z = NULL;
    sc_match_res r;

    for (size_t i = 0; i < sizeof fz_field / sizeof *fz_field; i++)
        if (fz_field[i] == field)
            z = &m->fz[i];
    if (!z || !z->idx.n || (n = sm_words_of(text, start, end)) > SM_MAX_WORDS)
        return 0;
    fixed[0] = '\0';
    for (size_t k = 0, at = 0; k < n; k++) {
        size_t len = end[k] - start[k];
        const char *fix = NULL;
        sc_onto_term c;

        if (len <= SM_MAX_WORD && correctable(text + start[k], len) &&
            (c = correct_raw(m, z, text + start[k], len)) != SC_ONTO_NONE) {
            fix = z->idx.w[c];
            if (++n_fix > MAX_FIXES)
                return 0;
            snprintf(from + strlen(from), sizeof from - strlen(from), "%s%.*s",
                     n_fix > 1 ? "', '" : "", (int)len, text + start[k]);
            snprintf(to + strlen(to), sizeof to - strlen(to), "%s%s",
                     n_fix > 1 ? "', '" : "", fix);
        }
        /* the text up to the word, then the word or its correction */
        append(fixed, sizeof fixed, &used, text + at, start[k] - at);
        append(fixed, sizeof fixed, &used, fix ? fix : text + start[k],
               fix ? strlen(fix) : len);
        at = end[k];
        if (k + 1 == n)
            append(fixed, sizeof fixed, &used, text + at, strlen(text + at));
        if (used >= sizeof fixed)
            return 0;
    }
    if (!n_fix)
        return 0;
    /* never a healthy/control label */
    if (field == SC_FIELD_DISEASE &&
        sc_match_normalize(fixed, key, sizeof key) == 0 && sm_is_control(key))
        return 0;
    sc_err_clear();
    if ((rc = sm_try_part(m, fs, field, fixed, 1, &r)) < 0)
        return rc;
    if (!rc) {
        memset(&r, 0, sizeof r);
        r.term = SC_ONTO_NONE;
        if ((rc = sm_structured(m, fs, field, fixed, &r)) < 0)
            return rc;
        if (!rc || r.tier != SC_MATCH_STRUCTURED || r.term == SC_ONTO_NONE)
            return 0;
    }
    /* no disease term from a corrected word is ever "normal" */
    if (field == SC_FIELD_DISEASE &&
        !strcmp(sc_onto_name(m->o, sc_onto_ontology(m->o, r.term)), "PATO"))
        return 0;
    memset(res, 0, sizeof *res);
    res->tier = SC_MATCH_FUZZY;
    res->replaced = r.replaced;
    snprintf(res->evidence, sizeof res->evidence,
             "'%.22s' read as '%.22s': %.50s", from, to,
             sc_match_evidence(&r, fixed, ev, sizeof ev));
    if (SM_FUZZY_CONFIDENT) {
        res->term = r.term;
    } else {
        res->term = SC_ONTO_NONE;
        res->n_sugg = 1;
        res->sugg[0] = r.term;
        snprintf(res->reason, sizeof res->reason,
                 "a misspelt word read as an ontology word is a suggestion");
    }
    return 1;
}
