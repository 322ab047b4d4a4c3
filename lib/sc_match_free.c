/* sc_match_free: free-text variants of a label, for the tissue and
 * disease fields: the same words in another order ("cancer of the bladder"
 * = "bladder cancer"), British spellings, non-informative qualifiers left
 * out ("normal lung tissue", ", NOS"), a phrase replaced by another name
 * of its own term ("cancer" = "malignant neoplasm", "renal" = "kidney"),
 * and two names joined ("X/Y"). */
/* SPDX-License-Identifier: MIT */
#include "sc_match_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define MAX_WORDS SM_MAX_WORDS
#define MAX_HITS  64

/* British spellings, by word prefix once the plural is dropped. */
static const char *const british_prefix[][2] = {
    {"orthopaed", "orthoped"}, {"oesoph", "esoph"},   {"oestr", "estr"},
    {"haem", "hem"},           {"paed", "ped"},       {"foet", "fet"},
    {"caec", "cec"},           {"coeli", "celi"},     {"oedem", "edem"},
    {"gynaec", "gynec"},       {"leukaem", "leukem"}, {"anaem", "anem"},
    {"ischaem", "ischem"},     {"anaesth", "anesth"}, {"dyspnoe", "dyspne"}};
/* ... and by whole word. */
static const char *const british_word[][2] = {
    {"tumour", "tumor"},        {"colour", "color"}, {"behaviour", "behavior"},
    {"centre", "center"},       {"fibre", "fiber"},  {"diarrhoea", "diarrhea"},
    {"gonorrhoea", "gonorrhea"}};

/* Words that never count in a bag: "X of the Y" is "Y X". */
static const char *const stop_words[] = {"of", "the"};

/* Qualifiers that say nothing of the term, by field (normalised words).
 * Words that change the meaning ("cancer", "tumor", "metastatic",
 * "control", "healthy", "not", "non", "adjacent") are never here, and in
 * the disease field neither is "normal". "primary" names anatomy
 * ("primary visual cortex") and is kept. */
static const char *const tissue_qualifiers[] = {"normal", "tissue", "human",
                                                "sample", "biopsy", "specimen"};
static const char *const disease_qualifiers[] = {"human", "sample", "biopsy",
                                                 "specimen", "tissue"};

/* Whether NAME is a word of the space-separated LIST. */
static int in_list(const char *list, const char *name)
{
    size_t n = strlen(name);

    for (const char *p = list; (p = strstr(p, name)); p += n)
        if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
            return 1;
    return 0;
}

static int in_words(const char *w, const char *const *list, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (!strcmp(w, list[k]))
            return 1;
    return 0;
}

static int is_qualifier(const char *w, int field)
{
    if (field == SC_FIELD_TISSUE)
        return in_words(w, tissue_qualifiers,
                        sizeof tissue_qualifiers / sizeof *tissue_qualifiers);
    if (field == SC_FIELD_DISEASE)
        return in_words(w, disease_qualifiers,
                        sizeof disease_qualifiers / sizeof *disease_qualifiers);
    return 0;
}

/* The American spelling of the normalised word W, in place. */
void sm_american(char *w, size_t size)
{
    char tmp[64];
    char *p;

    /* (the first letters compared inline: most words match none) */
    for (size_t k = 0; k < sizeof british_word / sizeof *british_word; k++)
        if (w[0] == british_word[k][0][0] && !strcmp(w, british_word[k][0])) {
            snprintf(w, size, "%s", british_word[k][1]);
            return;
        }
    for (size_t k = 0; k < sizeof british_prefix / sizeof *british_prefix;
         k++) {
        size_t n;

        if (w[0] != british_prefix[k][0][0])
            continue;
        n = strlen(british_prefix[k][0]);
        if (!strncmp(w, british_prefix[k][0], n)) {
            snprintf(tmp, sizeof tmp, "%s%s", british_prefix[k][1], w + n);
            snprintf(w, size, "%s", tmp);
            break;
        }
    }
    /* "-aemia": septicaemia, uraemia */
    if ((p = strstr(w, "aemi")))
        memmove(p, p + 1, strlen(p));
}

/* The words of TEXT: byte spans [START, END); a '-' after a word that no
 * letter or digit follows is a sign and stays ("CD4-"). Returns the count,
 * or MAX_WORDS + 1 when there are too many. */
size_t sm_words_of(const char *text, size_t *start, size_t *end)
{
    size_t n = 0, i = 0;
    const unsigned char *s = (const unsigned char *)text;

    while (s[i]) {
        size_t b;

        while (s[i] && !isalnum(s[i]) && s[i] != '+' && s[i] < 0x80)
            i++;
        if (!s[i])
            break;
        b = i;
        while (s[i] && (isalnum(s[i]) || s[i] == '+' || s[i] >= 0x80 ||
                        (s[i] == '-' && !isalnum(s[i + 1]) && s[i + 1] < 0x80)))
            i++;
        if (n == MAX_WORDS)
            return MAX_WORDS + 1;
        start[n] = b;
        end[n++] = i;
    }
    return n;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int sm_bag_key(const char *text, int field, int drop, char *buf, size_t size)
{
    size_t start[MAX_WORDS], end[MAX_WORDS], n, nk = 0, used = 0;
    char w[MAX_WORDS][64], raw[64];
    const char *keep[MAX_WORDS];

    if (!size)
        return sc_fail(SC_ERANGE, "no room");
    buf[0] = '\0';
    if ((n = sm_words_of(text, start, end)) > MAX_WORDS)
        return sc_fail(SC_ERANGE, "too many words");
    for (size_t k = 0; k < n; k++) {
        size_t len = end[k] - start[k];

        if (len >= sizeof raw)
            return sc_fail(SC_ERANGE, "word too long");
        memcpy(raw, text + start[k], len);
        raw[len] = '\0';
        if (sc_match_normalize(raw, w[k], sizeof w[k]) < 0)
            return SC_ERANGE;
        sm_american(w[k], sizeof w[k]);
        if (!*w[k] ||
            in_words(w[k], stop_words, sizeof stop_words / sizeof *stop_words))
            continue;
        if (drop && is_qualifier(w[k], field))
            continue;
        /* "NOS" (not otherwise specified) as a registry suffix: in
         * capitals, or after a comma */
        if (drop && (field == SC_FIELD_TISSUE || field == SC_FIELD_DISEASE) &&
            !strcasecmp(raw, "nos") &&
            (!strcmp(raw, "NOS") ||
             (k && memchr(text + end[k - 1], ',', start[k] - end[k - 1]))))
            continue;
        keep[nk++] = w[k];
    }
    qsort(keep, nk, sizeof *keep, cmp_str);
    for (size_t k = 0; k < nk; k++) {
        size_t len = strlen(keep[k]);

        if (used + len + 2 > size)
            return sc_fail(SC_ERANGE, "label too long");
        if (k)
            buf[used++] = ' ';
        memcpy(buf + used, keep[k], len);
        used += len;
    }
    buf[used] = '\0';
    return 0;
}

int sm_bag_add(sc_match *m, int i, sc_onto_term t, const char *text,
               int is_label)
{
    char key[1024];
    int rc;

    if (sm_bag_key(text, -1, 0, key, sizeof key) == 0 && *key &&
        ((rc = sm_table_add(&m->bag[0], key, t)) < 0 ||
         (is_label && (rc = sm_table_add(&m->bag[1], key, t)) < 0)))
        return rc;
    /* and without the tissue qualifiers, for the tissue field */
    if (!strcmp(sc_onto_name(m->o, i), "UBERON") &&
        sm_bag_key(text, SC_FIELD_TISSUE, 1, key, sizeof key) == 0 && *key &&
        ((rc = sm_table_add(&m->bagq[0], key, t)) < 0 ||
         (is_label && (rc = sm_table_add(&m->bagq[1], key, t)) < 0)))
        return rc;
    sc_err_clear();
    return 0;
}

/* What the variants found: distinct allowed terms, each with the
 * evidence of its first hit. */
struct hits {
    sc_onto_term term[MAX_HITS];
    char ev[MAX_HITS][112];
    size_t n;
};

/* The allowed terms of KEY in TAB into C; their count. */
static size_t bag_terms(const sc_match *m, const struct field *fs,
                        const struct table *tab, const char *key,
                        sc_match_res *c)
{
    const struct entry *e = *key ? sm_table_find(tab, key) : NULL;

    memset(c, 0, sizeof *c);
    return e ? sm_candidates(m->o, fs, e->terms, (size_t)e->n, c) : 0;
}

/* Add the allowed terms of bag KEY (with DROP, a key without qualifiers)
 * to H with evidence EV. A label beats synonyms, as in the ontology
 * tiers: of several terms, the one whose label has these words. */
static void bag_hits(const sc_match *m, const struct field *fs, int field,
                     int drop, const char *key, const char *ev, struct hits *h)
{
    const struct table *tab =
        drop && field == SC_FIELD_TISSUE ? m->bagq : m->bag;
    sc_match_res c, l;
    size_t n = bag_terms(m, fs, &tab[0], key, &c);

    if (n > 1 && bag_terms(m, fs, &tab[1], key, &l) == 1) {
        c.cand[0] = l.cand[0];
        n = 1;
    }
    for (size_t k = 0; k < n && k < SC_MATCH_MAX_CAND; k++) {
        size_t j = 0;

        while (j < h->n && h->term[j] != c.cand[k])
            j++;
        if (j == h->n && h->n < MAX_HITS) {
            h->term[h->n] = c.cand[k];
            snprintf(h->ev[h->n++], sizeof h->ev[0], "%s", ev);
        }
    }
}

/* Decide on H: 1 when *RES is set (one term, or an ambiguity). */
static int decide(const struct hits *h, sc_match_res *res)
{
    if (!h->n)
        return 0;
    memset(res, 0, sizeof *res);
    res->term = SC_ONTO_NONE;
    if (h->n == 1) {
        res->tier = SC_MATCH_STRUCTURED;
        res->term = h->term[0];
        snprintf(res->evidence, sizeof res->evidence, "%s", h->ev[0]);
        return 1;
    }
    res->tier = SC_MATCH_AMBIGUOUS;
    res->n_cand = h->n;
    for (size_t k = 0; k < h->n && k < SC_MATCH_MAX_CAND; k++)
        res->cand[k] = h->term[k];
    snprintf(res->reason, sizeof res->reason,
             "ambiguous: free-text variants match %zu terms", h->n);
    return 1;
}

/* The live terms of the ontologies in LIST with a label or exact synonym
 * of SPAN's normalised key (case, punctuation and plurals aside), into T;
 * returns their count. */
static size_t span_terms(const sc_match *m, const char *list, const char *span,
                         sc_onto_term *t, size_t max)
{
    char key[300], name[32];
    const struct entry *e;
    size_t nt = 0;

    if (sc_match_normalize(span, key, sizeof key) < 0) {
        sc_err_clear();
        return 0;
    }
    if (!(e = sm_table_find(&m->norm, key)))
        return 0;
    for (int k = 0; k < e->n; k++) {
        sc_onto_term x = e->terms[k];

        snprintf(name, sizeof name, "%s",
                 sc_onto_name(m->o, sc_onto_ontology(m->o, x)));
        if (sc_onto_is_deprecated(m->o, x) || !in_list(list, name))
            continue;
        if (nt < max)
            t[nt++] = x;
    }
    return nt;
}

/* The bags of TEXT with [S, E) replaced by REPL into H. */
static void replaced(const sc_match *m, const struct field *fs, int field,
                     const char *text, size_t s, size_t e, const char *repl,
                     const char *span, sc_onto_term t, int drop, struct hits *h)
{
    char var[1100], key[1100], ev[112];

    if (strlen(repl) < 4 || !strcasecmp(repl, span) ||
        (size_t)snprintf(var, sizeof var, "%.*s%s%s%s%s", (int)s, text,
                         s ? " " : "", repl, text[e] ? " " : "",
                         text + e) >= sizeof var)
        return;
    if (sm_bag_key(var, field, drop, key, sizeof key) < 0) {
        sc_err_clear();
        return;
    }
    snprintf(ev, sizeof ev, "'%.25s' = '%.30s' (%s)%s", span, repl,
             sc_onto_id(m->o, t), drop ? ", qualifiers aside" : "");
    bag_hits(m, fs, field, drop, key, ev, h);
}

/* Every variant of TEXT with one phrase of 1 to 3 words replaced by
 * another name of its term, into H. */
static void substitutions(const sc_match *m, const struct field *fs, int field,
                          const char *text, int drop, struct hits *h)
{
    size_t start[MAX_WORDS], end[MAX_WORDS], n = sm_words_of(text, start, end);
    const char *list = field == SC_FIELD_DISEASE ? "MONDO UBERON" : fs->ontos;

    if (n > MAX_WORDS)
        return;
    for (size_t len = 1; len <= 3; len++)
        for (size_t i = 0; i + len <= n; i++) {
            size_t s = start[i], e = end[i + len - 1], ns, nt;
            char span[256];
            sc_onto_term t[4];

            if (e - s < 4 || e - s >= sizeof span)
                continue;
            memcpy(span, text + s, e - s);
            span[e - s] = '\0';
            nt = span_terms(m, list, span, t, 4);
            /* an organ adjective stands for the organ ("renal") */
            for (size_t k = 0; len == 1 && k < sm_n_organ_adj; k++)
                if (strcmp(sm_organ_adj[k][0], "blood") &&
                    !strcasecmp(span, sm_organ_adj[k][1]))
                    nt += span_terms(m, "UBERON", sm_organ_adj[k][0], t + nt,
                                     4 - nt);
            if (nt != 1)
                continue;
            ns = sc_onto_n_synonyms(m->o, t[0]);
            for (size_t k = 0; k <= ns; k++)
                replaced(m, fs, field, text, s, e,
                         k ? sc_onto_synonym(m->o, t[0], k - 1)
                           : sc_onto_label(m->o, t[0]),
                         span, t[0], drop, h);
            /* and an organ by its adjective ("kidney" as "renal") */
            for (size_t k = 0; k < sm_n_organ_adj; k++)
                if (strcmp(sm_organ_adj[k][0], "blood") &&
                    !strcasecmp(sc_onto_label(m->o, t[0]), sm_organ_adj[k][0]))
                    replaced(m, fs, field, text, s, e, sm_organ_adj[k][1], span,
                             t[0], drop, h);
        }
}

int sm_variants(const sc_match *m, const struct field *fs, int field,
                const char *text, sc_match_res *res)
{
    char key[1100], first[1100] = "", ev[112];
    struct hits h;

    if (field != SC_FIELD_TISSUE && field != SC_FIELD_DISEASE)
        return 0;
    /* the whole label: the same words in another order, then without
     * its qualifiers */
    for (int drop = 0; drop < 2; drop++) {
        h.n = 0;
        if (sm_bag_key(text, field, drop, key, sizeof key) < 0) {
            sc_err_clear();
            return 0;
        }
        /* the same key again only against the table without qualifiers */
        if (!*key || (!strcmp(key, first) && field != SC_FIELD_TISSUE))
            continue;
        snprintf(first, sizeof first, "%s", key);
        snprintf(ev, sizeof ev, "words '%.60s'%s", key,
                 drop ? " (qualifiers aside)" : "");
        bag_hits(m, fs, field, drop, key, ev, &h);
        if (decide(&h, res))
            return 1;
    }
    /* one phrase by another name of its term */
    for (int drop = 0; drop < 2; drop++) {
        h.n = 0;
        substitutions(m, fs, field, text, drop, &h);
        if (decide(&h, res))
            return 1;
    }
    return 0;
}

int sm_pair(const sc_match *m, const struct field *fs, int field,
            const char *text, sc_match_res *res)
{
    static const char *const seps[] = {"/", " and ", " & "};
    const char *at = NULL, *sep = NULL;
    char a[512], b[512];
    sc_match_res ra, rb;
    int rc;

    if (field != SC_FIELD_TISSUE && field != SC_FIELD_DISEASE)
        return 0;
    for (size_t k = 0; k < sizeof seps / sizeof *seps; k++) {
        const char *p = strstr(text, seps[k]);

        if (p && (at || strstr(p + strlen(seps[k]), seps[k])))
            return 0; /* more than two names */
        if (p) {
            at = p;
            sep = seps[k];
        }
    }
    if (!at || (size_t)(at - text) >= sizeof a ||
        strlen(at + strlen(sep)) >= sizeof b)
        return 0;
    snprintf(a, sizeof a, "%.*s", (int)(at - text), text);
    snprintf(b, sizeof b, "%s",
             at + strlen(sep) + strspn(at + strlen(sep), " "));
    for (size_t n = strlen(a); n && a[n - 1] == ' '; n--)
        a[n - 1] = '\0';
    if (!*a || !*b)
        return 0;
    if ((rc = sm_try_part(m, fs, field, a, 1, &ra)) <= 0 ||
        (rc = sm_try_part(m, fs, field, b, 1, &rb)) <= 0)
        return rc;
    memset(res, 0, sizeof *res);
    res->term = SC_ONTO_NONE;
    if (ra.term == rb.term || sc_onto_is_a(m->o, ra.term, rb.term)) {
        res->term = rb.term;
    } else if (sc_onto_is_a(m->o, rb.term, ra.term)) {
        res->term = ra.term;
    } else {
        res->tier = SC_MATCH_AMBIGUOUS;
        res->n_cand = 2;
        res->cand[0] = ra.term;
        res->cand[1] = rb.term;
        snprintf(res->reason, sizeof res->reason,
                 "two names, neither within the other: '%.30s', '%.30s'", a, b);
        return 1;
    }
    res->tier = SC_MATCH_STRUCTURED;
    res->replaced = res->term == ra.term ? ra.replaced : rb.replaced;
    snprintf(res->evidence, sizeof res->evidence,
             "two names: '%.40s' lies within '%.40s'",
             res->term == ra.term ? b : a, res->term == ra.term ? a : b);
    return 1;
}
