/* sc_match internals shared by its parts (sc_match.c, sc_match_structured.c,
 * sc_match_free.c, sc_match_load.c). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_MATCH_INT_H
#define SC_MATCH_INT_H

#include <pthread.h>
#include <stdint.h>

#include "sc_fuzzyidx.h"
#include "sc_map.h"
#include "sc_match.h"

/* Allowed terms: ROOTS is a space-separated list where "X" means the
 * descendants of X and "=X" X itself; FORBID lists terms that are never
 * allowed. */
#define SM_MAX_WORDS 16
#define SM_MAX_WORD  48 /* longest vocabulary word of the fuzzy tier */

struct field {
    const char *name, *column;
    const char *ontos, *roots, *forbid;
    int unknown_ok;
    const char *schema_ontos; /* sc_match_field_ontologies */
    /* subtrees whose terms lose to candidates outside them (NULL: none) */
    const char *demote;
    /* the spec resolved against a matcher's ontologies (sm_resolve_spec):
     * set in the matcher's copies of the specs, NULL in the table */
    const struct sm_fres *res;
};

/* A term of a ROOTS (or DEMOTE) list: its id as written ("=" left out),
 * whether it stands for itself (EXACT) or its descendants, and the term
 * of the id (sc_onto_find()). */
#define SM_MAX_ROOTS 8
#define SM_MAX_ONTS  8
#define SM_MAX_SEGS  64
#define SM_MAX_TERMS 64 /* candidates of one lookup, at most */
struct sm_root {
    char id[64];
    sc_onto_term t;
    int exact;
};

/* A field spec resolved once, when the matcher is made (a matcher is read
 * only afterwards, and threads share it): the indexes of its ontologies in
 * the order of ONTOS (those loaded), whether each loaded ontology is one
 * of ONTOS by name, and its roots and demoted subtrees. */
struct sm_fres {
    int ont[SM_MAX_ONTS], n_ont;
    unsigned char in_ontos[SM_MAX_SEGS];
    struct sm_root root[SM_MAX_ROOTS], demote[SM_MAX_ROOTS];
    int n_root, n_demote;
};

/* The field specs of a matcher: the SC_FIELD_N fields, then the
 * development stages (human, mouse, other) and the disease of other
 * organisms. */
#define SM_N_SPECS (SC_FIELD_N + 4)

struct entry {
    const char *key; /* in its table's KEYS */
    uint64_t hash;
    sc_onto_term *terms;
    int n, cap;
    char *note; /* the crosswalk's source */
};

struct table {
    struct entry *e;
    size_t n, cap;
    uint64_t *slot; /* the high 32 bits of the key's hash, then 1 + its
                       index into e; 0: empty */
    size_t n_slot;
    sc_strarena keys; /* the entries' keys */
};

struct sc_match {
    const sc_onto *o;
    struct field spec[SM_N_SPECS]; /* the table's specs, resolved */
    struct sm_fres fres[SM_N_SPECS];
    struct table norm;    /* normalised key -> terms (field ontologies) */
    struct table bag[2];  /* bag-of-words key -> terms (sm_bag_key), of
                             labels and synonyms [0] or labels only [1] */
    struct table bagq[2]; /* the same without tissue qualifiers (UBERON) */
    struct table curated; /* "<field>\t<key>" -> term */
    struct table cross;   /* "<field>\t<key>" -> terms (several: left out) */
    struct table user;    /* "<field>\t<label>" ("*" for any) -> term, or
                             SC_ONTO_NONE for "unknown" */
    size_t n_curated, n_user, n_cross;
    size_t max_sugg;
    /* the fuzzy tier (sc_match_fuzzy.c): the words of the labels and
     * synonyms of CL, UBERON, MONDO and PATO; VOCAB maps a word to the
     * indexes of the ontologies that use it (stored as terms); FZ[i] lists
     * the words of one field's ontologies (SM_FZ_FIELDS: cell type, tissue,
     * disease) by length, so that a word is compared with its own field's
     * words only */
    struct table vocab;
    struct sm_fz {
        sc_fuzzyidx idx;           /* the field's words */
        const struct sm_fres *res; /* the field's spec: its ontologies */
    } fz[3];
    /* the fuzzy tier's answers so far, a cache (labels of one dataset and
     * of the next share their unmapped words: "cluster", "doublet"):
     * "<list><word>" -> the index of its correction in that FZ list, or
     * SC_ONTO_NONE; MEMO_LOCK guards it, as threads share a matcher */
    struct table memo;
    pthread_mutex_t memo_lock;
};

struct entry *sm_table_find(const struct table *t, const char *key);
/* Add TERM under KEY (once). */
int sm_table_add(struct table *t, const char *key, sc_onto_term term);
/* Whether term T is in one of the field's ontologies and allowed. */
int sm_allowed(const sc_onto *o, const struct field *fs, sc_onto_term t);
/* Candidates: obsolete terms stand for their replacement, allowed terms
 * kept once, into RES->cand; returns the number kept. */
size_t sm_candidates(const sc_onto *o, const struct field *fs,
                     const sc_onto_term *in, size_t n, sc_match_res *res);
/* Decide on the candidates of one tier: 1 when the tier hit. */
int sm_settle(sc_match_res *res, int tier, size_t n);
/* The tiers from the ontology strings to the crosswalk for TEXT: 1 when
 * *RES is decided, 0 when nothing matched, or a negative error. */
int sm_resolve(const sc_match *m, const struct field *fs, int field,
               const char *text, sc_match_res *res);
/* TEXT (and its Latin singular) through sm_resolve(): 1 when a confident
 * term came out. */
int sm_try_part(const sc_match *m, const struct field *fs, int field,
                const char *text, int plain, sc_match_res *r);
/* A short all-capital label ("HC", "AML", "PBMC"). */
int sm_short_capitals(const char *s);
/* The key of a curated rule from a normalised key, in place. */
void sm_curated_key(char *key);
/* "<field>\t<S>" ("*" for field -1) into BUF. */
char *sm_field_key(int field, const char *s, char *buf, size_t size);
/* The structured tier (sc_match_structured.c): 1 when *RES is set
 * (structured or weak). */
int sm_structured(const sc_match *m, const struct field *fs, int field,
                  const char *text, sc_match_res *res);

/* The field spec of FIELD (not development stages), resolved for M. */
const struct field *sm_field_spec(const sc_match *m, int field);
/* Whether the normalised key KEY is a healthy/control shorthand. */
int sm_is_control(const char *key);

/* ---- sc_match_fuzzy.c: misspellings ---- */

/* Whether a fuzzy match is written as the term (1) or is a suggestion
 * (0): decided by its precision on the dev sets (scripts/eval-match). */
#define SM_FUZZY_CONFIDENT 1

/* Build the fuzzy tier's vocabulary from the bag-of-words keys. */
int sm_fuzzy_index(sc_match *m);
void sm_fuzzy_release(sc_match *m);
/* The fuzzy tier of TEXT: each word of 6 letters or more that no label or
 * synonym of the field's ontologies uses, read as the one word of theirs
 * within Damerau-Levenshtein distance 1 (none other within 2); the
 * corrected label through the other tiers. 1 when *RES is set, 0 when
 * not, or a negative error. */
int sm_fuzzy(const sc_match *m, const struct field *fs, int field,
             const char *text, sc_match_res *res);

/* Adjectives that name an organ: {organ, adjective} ("kidney", "renal"). */
extern const char *const sm_organ_adj[][2];
extern const size_t sm_n_organ_adj;

/* ---- sc_match_free.c: free-text variants ---- */

/* The bag-of-words key of TEXT: its words normalised (case, plurals,
 * British spellings), "of" and "the" left out, sorted, joined by spaces;
 * with DROP, the field's non-informative qualifiers ("tissue", "sample",
 * ", NOS") are left out too. "" when TEXT has no word. */
/* The words of TEXT as byte spans [START, END) (SM_MAX_WORDS at most);
 * the count, or SM_MAX_WORDS + 1 when there are too many. */
size_t sm_words_of(const char *text, size_t *start, size_t *end);
/* The American spelling of the normalised word W, in place. */
void sm_american(char *w, size_t size);
int sm_bag_key(const char *text, int field, int drop, char *buf, size_t size);
/* Index the bag keys of TEXT, the label (IS_LABEL) or a synonym of term T
 * of ontology I. */
int sm_bag_add(sc_match *m, int i, sc_onto_term t, const char *text,
               int is_label);
/* The free-text variant tier of TEXT: the same words in another order,
 * qualifiers left out, a phrase replaced by another name of its term
 * ("cancer" = "malignant neoplasm", "renal" = "kidney"). 1 when *RES is
 * set (a term with its evidence, or an ambiguity), 0 when nothing
 * matched, or a negative error. */
int sm_variants(const sc_match *m, const struct field *fs, int field,
                const char *text, sc_match_res *res);
/* "X/Y", "X and Y": when both parts map and one lies within the other,
 * the wider one. 1 when *RES is set. */
int sm_pair(const sc_match *m, const struct field *fs, int field,
            const char *text, sc_match_res *res);

#endif
