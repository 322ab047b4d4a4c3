/* sc_match: free-text metadata labels to ontology terms, in tiers. */
/* SPDX-License-Identifier: MIT */
#include "sc_match_int.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sc_io.h"
#include "sc_ytree.h"
#include "sc_map.h"

/* ---- fields ---- */

/* The one table of the CELLxGENE term fields (lib/README.md, shared facts):
 * name, term id column, the ontologies the matcher draws from, its roots and
 * forbidden subtrees, whether "unknown" is allowed, and the ontologies the
 * schema takes the field's terms from (sc-register's filters). sc_cxg names
 * the portal's JSON keys with these names. */
#define DISEASE_ROOTS "MONDO:0000001 =MONDO:0021178 MONDO:0021178 =PATO:0000461"
static const struct field fields[SC_FIELD_N] = {
    {"cell_type", "cell_type_ontology_term_id", "CL", "=CL:0000000 CL:0000000",
     "CL:0000255 CL:0000257 CL:0000548", 1, "CL", NULL, NULL},
    {"tissue", "tissue_ontology_term_id", "UBERON", "UBERON:0001062", "", 0,
     "UBERON CL", NULL, NULL},
    /* MONDO:0005583 "non-human animal disease" (OMIA's diseases of
     * domestic animals): "C3 deficiency" is then the human disease, not
     * also "complement component 3 deficiency, non-human animal". Human
     * and mouse data take human disease terms (CELLxGENE); other organisms
     * use disease_other. */
    {"disease", "disease_ontology_term_id", "MONDO PATO", DISEASE_ROOTS, "", 0,
     "MONDO PATO", "MONDO:0005583", NULL},
    {"assay", "assay_ontology_term_id", "EFO", "EFO:0002772 EFO:0010183", "", 0,
     "EFO", NULL, NULL},
    {"sex", "sex_ontology_term_id", "PATO",
     "=PATO:0000383 =PATO:0000384 =PATO:0001340", "", 1, "PATO", NULL, NULL},
    {"development_stage", "development_stage_ontology_term_id", "", "", "", 1,
     "HsapDv MmusDv UBERON", NULL, NULL},
    {"self_reported_ethnicity", "self_reported_ethnicity_ontology_term_id",
     "HANCESTRO", "HANCESTRO:0601 HANCESTRO:0602", "", 1, "HANCESTRO", NULL,
     NULL},
    {"organism", "organism_ontology_term_id", "NCBITaxon", "", "", 0,
     "NCBITaxon", NULL, NULL},
};

/* Development stages by organism. */
static const struct field stage_human = {
    NULL, NULL, "HsapDv", "HsapDv:0000001", "", 1, NULL, NULL, NULL};
static const struct field stage_mouse = {
    NULL, NULL, "MmusDv", "MmusDv:0000001", "", 1, NULL, NULL, NULL};
static const struct field stage_other = {
    NULL, NULL, "UBERON", "UBERON:0000105", "UBERON:0000071", 1,
    NULL, NULL, NULL};
/* Disease for organisms other than human and mouse: nothing demoted. */
static const struct field disease_other = {
    "disease",    "disease_ontology_term_id",
    "MONDO PATO", DISEASE_ROOTS,
    "",           0,
    "MONDO PATO", NULL,
    NULL};

const struct field *sm_field_spec(const sc_match *m, int f)
{
    return &m->spec[f];
}

const char *sc_match_field_name(int f)
{
    return f >= 0 && f < SC_FIELD_N ? fields[f].name : "?";
}

const char *sc_match_field_column(int f)
{
    return f >= 0 && f < SC_FIELD_N ? fields[f].column : "?";
}

const char *sc_match_field_ontologies(int f)
{
    return f >= 0 && f < SC_FIELD_N ? fields[f].schema_ontos : NULL;
}

int sc_match_field_unknown_ok(int f)
{
    return f >= 0 && f < SC_FIELD_N ? fields[f].unknown_ok : 0;
}

int sc_match_field_find(const char *name)
{
    for (int f = 0; f < SC_FIELD_N; f++)
        if (!strcmp(name, fields[f].name))
            return f;
    if (!strcmp(name, "ethnicity"))
        return SC_FIELD_ETHNICITY;
    if (!strcmp(name, "age") || !strcmp(name, "stage"))
        return SC_FIELD_DEV_STAGE;
    return -1;
}

static const char *const tier_names[] = {
    "none",       "ambiguous",  "user",    "label",   "label_ci", "synonym",
    "synonym_ci", "normalized", "curated", "unknown", "term_id",  "control",
    "crosswalk",  "structured", "weak",    "fuzzy"};

const char *sc_match_tier_name(int tier)
{
    return tier >= 0 && tier < (int)(sizeof tier_names / sizeof *tier_names)
               ? tier_names[tier]
               : "?";
}

int sc_match_tier_is_exact(int tier)
{
    return tier == SC_MATCH_LABEL || tier == SC_MATCH_LABEL_CI ||
           tier == SC_MATCH_SYNONYM || tier == SC_MATCH_SYNONYM_CI ||
           tier == SC_MATCH_TERM_ID;
}

int sc_match_tier_is_confident(int tier)
{
    return tier != SC_MATCH_NONE && tier != SC_MATCH_AMBIGUOUS &&
           tier != SC_MATCH_WEAK &&
           (tier != SC_MATCH_FUZZY || SM_FUZZY_CONFIDENT) && tier >= 0 &&
           tier < (int)(sizeof tier_names / sizeof *tier_names);
}

/* ---- normalised keys ---- */

static const char *const greek[][2] = {
    {"\xce\xb1", "alpha"},  {"\xce\xb2", "beta"},    {"\xce\xb3", "gamma"},
    {"\xce\xb4", "delta"},  {"\xce\xb5", "epsilon"}, {"\xce\xba", "kappa"},
    {"\xce\xbb", "lambda"}, {"\xce\xbc", "mu"},      {"\xce\xb8", "theta"},
    {"\xce\xb6", "zeta"},   {"\xce\xb7", "eta"},     {"\xce\xbd", "nu"},
    {"\xcf\x80", "pi"},     {"\xcf\x81", "rho"},     {"\xcf\x83", "sigma"},
    {"\xcf\x84", "tau"},    {"\xcf\x86", "phi"},     {"\xcf\x87", "chi"},
    {"\xcf\x88", "psi"},    {"\xcf\x89", "omega"},   {"\xce\x91", "alpha"},
    {"\xce\x92", "beta"},   {"\xce\x93", "gamma"},   {"\xce\x94", "delta"},
};

/* Drop the plural of the word W[0..*LEN) in place (the rules of the
 * corpus generator's key, so that keys agree). */
static void singular(char *w, size_t *len)
{
    size_t n = *len;

    if (n <= 2 || w[n - 1] != 's' || !isalpha((unsigned char)w[n - 2]))
        return;
    if (n > 3 && w[n - 3] == 'i' && w[n - 2] == 'e') {
        w[n - 3] = 'y';
        *len = n - 2;
    } else if (n > 3 && w[n - 2] == 'e' && strchr("sxz", w[n - 3])) {
        *len = n - 2;
    } else if (w[n - 2] != 's') {
        *len = n - 1;
    }
}

int sc_match_normalize(const char *s, char *buf, size_t size)
{
    char word[512];
    size_t used = 0, wl = 0;
    const unsigned char *p = (const unsigned char *)s;

#define FLUSH()                                                                \
    do {                                                                       \
        singular(word, &wl);                                                   \
        if (used + wl >= size)                                                 \
            return sc_fail(SC_ERANGE, "label too long");                       \
        memcpy(buf + used, word, wl);                                          \
        used += wl;                                                            \
        wl = 0;                                                                \
    } while (0)
#define PUT(c)                                                                 \
    do {                                                                       \
        if (wl + 1 >= sizeof word)                                             \
            return sc_fail(SC_ERANGE, "label too long");                       \
        word[wl++] = (char)(c);                                                \
    } while (0)

    if (!size)
        return sc_fail(SC_ERANGE, "no room");
    while (*p) {
        int done = 0;

        if (*p >= 0x80) {
            for (size_t g = 0; g < sizeof greek / sizeof *greek; g++) {
                size_t gl = strlen(greek[g][0]);

                if (!strncmp((const char *)p, greek[g][0], gl)) {
                    for (const char *c = greek[g][1]; *c; c++)
                        PUT(*c);
                    p += gl;
                    done = 1;
                    break;
                }
            }
            if (!done) { /* any other non-ASCII byte separates words */
                if (wl)
                    FLUSH();
                p++;
            }
            continue;
        }
        if (isalnum(*p)) {
            PUT(tolower(*p));
        } else if (*p == '+') {
            PUT('+');
        } else if (*p == '-' && wl && !isalnum(p[1]) && !(p[1] & 0x80)) {
            PUT('-'); /* a sign: "CD4-" */
        } else if (wl) {
            FLUSH();
        }
        p++;
    }
    if (wl)
        FLUSH();
    buf[used] = '\0';
    return 0;
#undef FLUSH
#undef PUT
}

/* ---- a string hash: key -> list of terms ---- */

static void table_release(struct table *t)
{
    for (size_t i = 0; i < t->n; i++) {
        free(t->e[i].terms);
        free(t->e[i].note);
    }
    free(t->e);
    free(t->slot);
    sc_strarena_release(&t->keys);
    memset(t, 0, sizeof *t);
}

struct entry *sm_table_find(const struct table *t, const char *key)
{
    uint64_t h;

    if (!t->n_slot)
        return NULL;
    h = sc_strhash(key, 0);
    for (size_t i = h & (t->n_slot - 1);; i = (i + 1) & (t->n_slot - 1)) {
        uint64_t s = t->slot[i];
        size_t k;

        if (!s)
            return NULL;
        /* the hash's high bits in the slot spare a look at the entry */
        if (s >> 32 != h >> 32)
            continue;
        k = (size_t)(s & 0xffffffffu) - 1;
        if (t->e[k].hash == h && !strcmp(t->e[k].key, key))
            return &t->e[k];
    }
}

/* The slot of entry K of hash H. */
static uint64_t slot_of(uint64_t h, size_t k)
{
    return (h >> 32 << 32) | (uint64_t)(k + 1);
}

static int table_grow(struct table *t)
{
    size_t ns = t->n_slot ? t->n_slot * 2 : 1024;
    uint64_t *slot = calloc(ns, sizeof *slot);

    if (!slot)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t k = 0; k < t->n; k++) {
        size_t i = t->e[k].hash & (ns - 1);

        while (slot[i])
            i = (i + 1) & (ns - 1);
        slot[i] = slot_of(t->e[k].hash, k);
    }
    free(t->slot);
    t->slot = slot;
    t->n_slot = ns;
    return 0;
}

/* Add TERM under KEY (once). */
int sm_table_add(struct table *t, const char *key, sc_onto_term term)
{
    struct entry *e = sm_table_find(t, key);

    if (!e) {
        size_t i;

        if ((t->n + 1) * 2 > t->n_slot && table_grow(t) < 0)
            return SC_ENOMEM;
        if (t->n == t->cap) {
            size_t cap = t->cap ? t->cap * 2 : 1024;
            struct entry *ne = realloc(t->e, cap * sizeof *ne);

            if (!ne)
                return sc_fail(SC_ENOMEM, "out of memory");
            t->e = ne;
            t->cap = cap;
        }
        e = &t->e[t->n];
        memset(e, 0, sizeof *e);
        if (!(e->key = sc_strarena_dup(&t->keys, key, strlen(key))))
            return sc_fail(SC_ENOMEM, "out of memory");
        e->hash = sc_strhash(key, 0);
        for (i = e->hash & (t->n_slot - 1); t->slot[i];
             i = (i + 1) & (t->n_slot - 1))
            ;
        t->slot[i] = slot_of(e->hash, t->n++);
    }
    for (int k = 0; k < e->n; k++)
        if (e->terms[k] == term)
            return 0;
    if (e->n == e->cap) {
        int cap = e->cap ? e->cap * 2 : 2;
        sc_onto_term *nt = realloc(e->terms, (size_t)cap * sizeof *nt);

        if (!nt)
            return sc_fail(SC_ENOMEM, "out of memory");
        e->terms = nt;
        e->cap = cap;
    }
    e->terms[e->n++] = term;
    return 0;
}

/* ---- the matcher ---- */

/* The normalised keys of ontology I; with BAG, its bag-of-words keys. */
static int index_ontology(sc_match *m, int i, int bag)
{
    sc_onto_term t0 = sc_onto_first(m->o, i);
    int64_t n = sc_onto_size(m->o, i);
    char key[1024];
    int rc;

    for (int64_t k = 0; k < n; k++) {
        sc_onto_term t = t0 + (sc_onto_term)k;
        size_t ns = sc_onto_n_synonyms(m->o, t);

        for (size_t s = 0; s <= ns; s++) {
            const char *text =
                s ? sc_onto_synonym(m->o, t, s - 1) : sc_onto_label(m->o, t);

            if (bag && *text && (rc = sm_bag_add(m, i, t, text, !s)) < 0)
                return rc;
            if (!*text || sc_match_normalize(text, key, sizeof key) < 0) {
                sc_err_clear();
                continue;
            }
            if (*key && (rc = sm_table_add(&m->norm, key, t)) < 0)
                return rc;
        }
    }
    return 0;
}

static int resolve_specs(sc_match *m);

int sc_match_new(const sc_onto *o, sc_match **out)
{
    /* the first four also by bag-of-words key */
    static const char *const names[] = {"CL",     "UBERON",    "MONDO",
                                        "PATO",   "EFO",       "HsapDv",
                                        "MmusDv", "HANCESTRO", "NCBITaxon"};
    sc_match *m;
    int rc;

    *out = NULL;
    if (!(m = calloc(1, sizeof *m)))
        return sc_fail(SC_ENOMEM, "out of memory");
    m->o = o;
    m->max_sugg = 3;
    pthread_mutex_init(&m->memo_lock, NULL);
    if ((rc = resolve_specs(m)) < 0) {
        sc_match_free(m);
        return rc;
    }
    for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
        int i = sc_onto_find_ontology(o, names[k]);

        if (i >= 0 && (rc = index_ontology(m, i, k < 4)) < 0) {
            sc_match_free(m);
            return rc;
        }
    }
    if ((rc = sm_fuzzy_index(m)) < 0) {
        sc_match_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

void sc_match_free(sc_match *m)
{
    if (!m)
        return;
    table_release(&m->norm);
    for (int k = 0; k < 2; k++) {
        table_release(&m->bag[k]);
        table_release(&m->bagq[k]);
    }
    table_release(&m->curated);
    table_release(&m->cross);
    table_release(&m->user);
    table_release(&m->vocab);
    sm_fuzzy_release(m);
    table_release(&m->memo);
    pthread_mutex_destroy(&m->memo_lock);
    free(m);
}

void sc_match_set_suggestions(sc_match *m, int n)
{
    m->max_sugg = n < 0 ? 0 : n > 3 ? 3 : (size_t)n;
}

size_t sc_match_n_curated(const sc_match *m)
{
    return m->n_curated;
}

size_t sc_match_n_user(const sc_match *m)
{
    return m->n_user;
}

size_t sc_match_n_crosswalk(const sc_match *m)
{
    return m->n_cross;
}

/* ---- allowed terms ---- */

static int in_list(const char *list, const char *id)
{
    size_t n = strlen(id);

    for (const char *p = list; (p = strstr(p, id)); p += n)
        if ((p == list || p[-1] == ' ' || p[-1] == '=') &&
            (p[n] == ' ' || !p[n]))
            return 1;
    return 0;
}

static int is_mouse(const char *organism)
{
    return !strcmp(organism, "NCBITaxon:10090") ||
           !strcmp(organism, "NCBITaxon:10091") ||
           !strcmp(organism, "NCBITaxon:10092") ||
           !strcmp(organism, "NCBITaxon:10093");
}

/* The matcher's specs after the fields, in this order. */
static const struct field *const extra_specs[SM_N_SPECS - SC_FIELD_N] = {
    &stage_human, &stage_mouse, &stage_other, &disease_other};

/* The spec of field F for ORGANISM (resolved for M), or NULL. */
static const struct field *field_spec(const sc_match *m, int f,
                                      const char *organism)
{
    int known = organism && *organism && strcmp(organism, "unknown");

    if (f == SC_FIELD_DISEASE)
        return known && strcmp(organism, "NCBITaxon:9606") &&
                       !is_mouse(organism)
                   ? &m->spec[SC_FIELD_N + 3]
                   : &m->spec[f];
    if (f != SC_FIELD_DEV_STAGE)
        return &m->spec[f];
    if (!known)
        return NULL;
    if (!strcmp(organism, "NCBITaxon:9606"))
        return &m->spec[SC_FIELD_N];
    return &m->spec[SC_FIELD_N + (is_mouse(organism) ? 1 : 2)];
}

/* The terms of the space-separated LIST ("X" or "=X") into R (at most
 * SM_MAX_ROOTS); their number, or a negative error. */
static int resolve_roots(const sc_onto *o, const char *list, struct sm_root *r)
{
    int n = 0;

    for (const char *p = list ? list : ""; *p;) {
        size_t len = strcspn(p, " ");
        int exact = *p == '=';

        if (n == SM_MAX_ROOTS)
            return sc_fail(SC_ERANGE, "too many roots: '%s'", list);
        snprintf(r[n].id, sizeof r[n].id, "%.*s", (int)(len - (size_t)exact),
                 p + exact);
        r[n].exact = exact;
        r[n].t = exact ? SC_ONTO_NONE : sc_onto_find(o, r[n].id);
        n++;
        p += len;
        while (*p == ' ')
            p++;
    }
    return n;
}

/* Resolve FS against M's ontologies into SPEC (a copy of FS) and RES. */
static int resolve_spec(sc_match *m, const struct field *fs, struct field *spec,
                        struct sm_fres *res)
{
    int n_seg = sc_onto_count(m->o), rc;
    char name[32];

    if (n_seg > SM_MAX_SEGS)
        return sc_fail(SC_ERANGE, "too many ontologies for the matcher");
    memset(res, 0, sizeof *res);
    for (const char *p = fs->ontos; *p;) {
        size_t len = strcspn(p, " ");
        int i;

        snprintf(name, sizeof name, "%.*s", (int)len, p);
        p += len;
        while (*p == ' ')
            p++;
        if ((i = sc_onto_find_ontology(m->o, name)) < 0)
            continue;
        if (res->n_ont == SM_MAX_ONTS)
            return sc_fail(SC_ERANGE, "too many ontologies: '%s'", fs->ontos);
        res->ont[res->n_ont++] = i;
    }
    for (int i = 0; i < n_seg; i++)
        res->in_ontos[i] =
            (unsigned char)in_list(fs->ontos, sc_onto_name(m->o, i));
    if ((rc = resolve_roots(m->o, fs->roots, res->root)) < 0)
        return rc;
    res->n_root = rc;
    if ((rc = resolve_roots(m->o, fs->demote, res->demote)) < 0)
        return rc;
    res->n_demote = rc;
    sc_err_clear();
    *spec = *fs;
    spec->res = res;
    return 0;
}

/* Resolve every spec of M, once (sc_match_new()). */
static int resolve_specs(sc_match *m)
{
    int rc;

    for (int k = 0; k < SM_N_SPECS; k++) {
        const struct field *fs =
            k < SC_FIELD_N ? &fields[k] : extra_specs[k - SC_FIELD_N];

        if ((rc = resolve_spec(m, fs, &m->spec[k], &m->fres[k])) < 0)
            return rc;
    }
    return 0;
}

/* Whether term T lies under one of the N roots R (strictly below it; an
 * exact root is the term itself). */
static int under_any(const sc_onto *o, sc_onto_term t, const struct sm_root *r,
                     int n)
{
    const char *id = sc_onto_id(o, t);

    for (int k = 0; k < n; k++)
        if (r[k].exact ? !strcmp(id, r[k].id)
                       : strcmp(id, r[k].id) && sc_onto_is_a(o, t, r[k].t))
            return 1;
    return 0;
}

/* Whether term T is in one of the field's ontologies and allowed. */
int sm_allowed(const sc_onto *o, const struct field *fs, sc_onto_term t)
{
    const struct sm_fres *res = fs->res;

    if (!res->in_ontos[sc_onto_ontology(o, t)])
        return 0;
    if (in_list(fs->forbid, sc_onto_id(o, t)))
        return 0;
    return !res->n_root || under_any(o, t, res->root, res->n_root);
}

/* Candidates: map obsolete terms to their replacement, keep allowed terms
 * once; live matches win over replaced ones. Returns the number kept. */
size_t sm_candidates(const sc_onto *o, const struct field *fs,
                     const sc_onto_term *in, size_t n, sc_match_res *res)
{
    sc_onto_term live[SM_MAX_TERMS], repl[SM_MAX_TERMS];
    size_t nl = 0, nr = 0;
    int over = 0; /* a candidate did not fit */

    for (size_t k = 0; k < n; k++) {
        sc_onto_term t = in[k], r;
        int steps;

        if (sc_onto_is_deprecated(o, t)) {
            if (sc_onto_resolve(o, t, &r, &steps) < 0) {
                sc_err_clear();
                continue;
            }
            if (!sm_allowed(o, fs, r))
                continue;
            size_t j = 0;
            while (j < nr && repl[j] != r)
                j++;
            if (j == nr && nr < SM_MAX_TERMS)
                repl[nr++] = r;
            else if (j == nr)
                over = 1;
        } else if (sm_allowed(o, fs, t)) {
            size_t j = 0;
            while (j < nl && live[j] != t)
                j++;
            if (j == nl && nl < SM_MAX_TERMS)
                live[nl++] = t;
            else if (j == nl)
                over = 1;
        }
    }
    sc_onto_term *use = nl ? live : repl;
    size_t nu = nl ? nl : nr;

    /* the field's demoted subtrees lose to the other candidates (all of
     * them: with some left out, none is dropped) */
    if (nu > 1 && fs->demote && !over) {
        size_t keep = 0, out = 0;
        for (size_t k = 0; k < nu; k++)
            if (!under_any(o, use[k], fs->res->demote, fs->res->n_demote))
                use[keep++] = use[k];
            else if (!out++)
                snprintf(res->demoted, sizeof res->demoted,
                         "%s left out (under %s)", sc_onto_id(o, use[k]),
                         fs->demote);
        if (keep)
            nu = keep;
        else
            res->demoted[0] = '\0';
    }
    res->replaced = !nl && nr;
    res->n_cand = nu;
    for (size_t k = 0; k < nu && k < SC_MATCH_MAX_CAND; k++)
        res->cand[k] = use[k];
    /* sort the kept candidates by term (ids are sorted within ontologies) */
    for (size_t a = 1; a < nu && a < SC_MATCH_MAX_CAND; a++)
        for (size_t b = a; b > 0 && res->cand[b] < res->cand[b - 1]; b--) {
            sc_onto_term x = res->cand[b];
            res->cand[b] = res->cand[b - 1];
            res->cand[b - 1] = x;
        }
    return nu;
}

/* Decide on the candidates of one tier: 1 when the tier hit. */
int sm_settle(sc_match_res *res, int tier, size_t n)
{
    if (!n)
        return 0;
    if (n == 1) {
        res->tier = tier;
        res->term = res->cand[0];
        res->n_cand = 0;
    } else {
        res->tier = SC_MATCH_AMBIGUOUS;
        res->term = SC_ONTO_NONE;
        snprintf(res->reason, sizeof res->reason,
                 "ambiguous: %s matches %zu terms", sc_match_tier_name(tier),
                 n);
    }
    return 1;
}

static const char *const unknown_values[] = {"unknown",
                                             "na",
                                             "n/a",
                                             "nan",
                                             "none",
                                             "null",
                                             "not available",
                                             "not applicable",
                                             "unassigned",
                                             "undetermined",
                                             "unclassified",
                                             "not determined",
                                             "?",
                                             "-",
                                             "unannotated"};

static int is_unknown_value(const char *s)
{
    size_t n = strlen(s);

    /* strings equal but for case have the same length */
    for (size_t i = 0; i < sizeof unknown_values / sizeof *unknown_values; i++)
        if (strlen(unknown_values[i]) == n && !strcasecmp(s, unknown_values[i]))
            return 1;
    return 0;
}

/* One lookup tier over the field's ontologies: KEY is the label in the
 * form of INDEX (lower case: the _CI indexes). */
static void lookup_tier(const sc_match *m, const struct field *fs, int index,
                        const char *key, sc_match_res *res, int tier, int *hit)
{
    sc_onto_term all[SM_MAX_TERMS + 1];
    size_t na = 0;

    for (int k = 0; k < fs->res->n_ont; k++)
        na = sc_onto_lookup_key(m->o, index, key, fs->res->ont[k], all,
                                SM_MAX_TERMS + 1, na);
    if (na > SM_MAX_TERMS) {
        /* some terms were not seen: no choice among the others is safe */
        res->tier = SC_MATCH_AMBIGUOUS;
        res->term = SC_ONTO_NONE;
        res->n_cand = 0;
        snprintf(res->reason, sizeof res->reason,
                 "ambiguous: %s matches more than %d terms",
                 sc_match_tier_name(tier), SM_MAX_TERMS);
        *hit = 1;
        return;
    }
    *hit = sm_settle(res, tier, sm_candidates(m->o, fs, all, na, res));
}

static void suggest(const sc_match *m, const struct field *fs, const char *text,
                    sc_match_res *res)
{
    for (int o = 0; o < fs->res->n_ont && res->n_sugg < m->max_sugg; o++) {
        sc_onto_hit *hits = NULL;
        size_t n = 0;

        if (sc_onto_search(m->o, text, fs->res->ont[o], 20, &hits, &n) < 0) {
            sc_err_clear();
            continue;
        }
        for (size_t k = 0; k < n && res->n_sugg < m->max_sugg; k++)
            if (!sc_onto_is_deprecated(m->o, hits[k].term) &&
                sm_allowed(m->o, fs, hits[k].term))
                res->sugg[res->n_sugg++] = hits[k].term;
        free(hits);
    }
}

/* Whether TEXT is T's label (SYN 0) or one of its synonyms (1), exactly. */
static int matches_exactly(const sc_onto *o, sc_onto_term t, const char *text,
                           int syn)
{
    if (!syn)
        return !strcmp(sc_onto_label(o, t), text);
    for (size_t k = 0; k < sc_onto_n_synonyms(o, t); k++)
        if (!strcmp(sc_onto_synonym(o, t, k), text))
            return 1;
    return 0;
}

/* The key of a curated rule: a trailing "cell" does not count ("MAIT
 * cells" meets the rule "MAIT"). */
void sm_curated_key(char *key)
{
    size_t n = strlen(key);

    if (n > 4 && !strcmp(key + n - 4, "cell"))
        key[n - 4] = '\0';
}

static int in_candidates(const sc_match_res *r, sc_onto_term t)
{
    for (size_t k = 0; k < r->n_cand && k < SC_MATCH_MAX_CAND; k++)
        if (r->cand[k] == t)
            return 1;
    return 0;
}

char *sm_field_key(int field, const char *s, char *buf, size_t size)
{
    /* "<field>\t<s>", cut to SIZE; by hand: it is on every label's path */
    const char *f = field < 0 ? "*" : fields[field].name;
    size_t nf = strlen(f), ns = strlen(s);

    if (!size)
        return buf;
    if (nf >= size)
        nf = size - 1;
    memcpy(buf, f, nf);
    if (nf + 1 < size) {
        buf[nf++] = '\t';
        if (ns > size - 1 - nf)
            ns = size - 1 - nf;
        memcpy(buf + nf, s, ns);
        nf += ns;
    }
    buf[nf] = '\0';
    return buf;
}

/* ---- refusals ---- */

/* Healthy/control shorthands of the disease field, by normalised key. */
static const char *const control_keys[] = {"hc",
                                           "control",
                                           "ctrl",
                                           "ctl",
                                           "healthy",
                                           "normal",
                                           "healthycontrol",
                                           "healthydonor",
                                           "normalcontrol",
                                           "healthyvolunteer",
                                           "healthysubject",
                                           "healthyindividual",
                                           "nondiseased",
                                           "nodisease",
                                           "healthyctrl",
                                           "healthyadult"};

int sm_is_control(const char *key)
{
    for (size_t i = 0; i < sizeof control_keys / sizeof *control_keys; i++)
        if (!strcmp(key, control_keys[i]))
            return 1;
    return 0;
}

/* A short all-capital label ("HC", "AML", "PBMC"): letters upper case,
 * digits and signs allowed, no space, at most 6 bytes. */
int sm_short_capitals(const char *s)
{
    size_t n = 0;
    int upper = 0;

    for (; s[n]; n++) {
        unsigned char c = (unsigned char)s[n];

        if (islower(c) || c == ' ' || c >= 0x80 || n >= 6)
            return 0;
        upper += isupper(c) != 0;
    }
    return upper > 0;
}

/* ---- the ontology tiers ---- */

/* Words that make an organ's label name the whole organ: UBERON labels the
 * skin "skin of body" and gives the bare "skin" as an exact synonym of its
 * part "zone of skin" (CELLxGENE datasets use the whole organ). */
static const char *const whole_forms[][2] = {{"", " of body"}, {"entire ", ""}};

/* When the synonym tier gave term T for TEXT: a term W whose label is TEXT
 * as the whole organ ("skin" -> "skin of body"), with T within W, is the
 * better reading of the bare name (a label over another term's synonym);
 * W, or SC_ONTO_NONE. */
static sc_onto_term whole_organ(const sc_match *m, const struct field *fs,
                                const char *text, sc_onto_term t)
{
    int i = sc_onto_find_ontology(m->o, "UBERON");
    char name[300];

    if (i < 0 || strlen(text) > 200 || !in_list(fs->ontos, "UBERON"))
        return SC_ONTO_NONE;
    for (size_t k = 0; k < sizeof whole_forms / sizeof *whole_forms; k++) {
        sc_onto_term *got = NULL, w = SC_ONTO_NONE;
        size_t n = 0;

        snprintf(name, sizeof name, "%s%s%s", whole_forms[k][0], text,
                 whole_forms[k][1]);
        if (sc_onto_lookup(m->o, SC_ONTO_BY_LABEL_CI, name, i, &got, &n) < 0) {
            sc_err_clear();
            continue;
        }
        if (n == 1 && !sc_onto_is_deprecated(m->o, got[0]) &&
            sm_allowed(m->o, fs, got[0]) && sc_onto_is_a(m->o, t, got[0]))
            w = got[0];
        free(got);
        if (w != SC_ONTO_NONE)
            return w;
    }
    return SC_ONTO_NONE;
}

/* Labels, synonyms, normalised keys of TEXT over the field's ontologies;
 * KEY is TEXT's normalised key ("" when it has none). *HIT is 1 when a
 * tier decided (a term or an ambiguity). */
static int ontology_tiers(const sc_match *m, const struct field *fs,
                          const char *text, const char *key, sc_match_res *res,
                          int *hit)
{
    static const int idx[2] = {SC_ONTO_BY_LABEL_CI, SC_ONTO_BY_SYNONYM_CI};
    static const int tiers[4] = {SC_MATCH_LABEL, SC_MATCH_LABEL_CI,
                                 SC_MATCH_SYNONYM, SC_MATCH_SYNONYM_CI};
    char low[1100], *lower = low;
    const struct entry *e;
    size_t len = strlen(text);

    *hit = 0;
    /* the label in lower case, once, for the _CI indexes */
    if (len >= sizeof low && !(lower = malloc(len + 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t k = 0; k <= len; k++)
        lower[k] = text[k] >= 'A' && text[k] <= 'Z'
                       ? (char)(text[k] - 'A' + 'a')
                       : text[k];
    /* Labels, then synonyms: the candidates ignore case (two terms whose
     * strings differ only in case make the label ambiguous); the tier says
     * whether the string matched exactly. */
    for (int k = 0; k < 2 && !*hit; k++) {
        lookup_tier(m, fs, idx[k], lower, res, tiers[2 * k], hit);
        if (*hit && res->term != SC_ONTO_NONE) {
            if (!matches_exactly(m->o, res->term, text, k))
                res->tier = tiers[2 * k + 1];
        }
        if (*hit && k == 1 && res->term != SC_ONTO_NONE) {
            sc_onto_term w = whole_organ(m, fs, text, res->term);

            if (w != SC_ONTO_NONE) {
                snprintf(res->evidence, sizeof res->evidence,
                         "label '%.30s' (whole organ) over synonym '%.20s' "
                         "of %.16s",
                         sc_onto_label(m->o, w), text,
                         sc_onto_id(m->o, res->term));
                res->term = w;
                res->tier = SC_MATCH_NORMALIZED;
                res->replaced = 0;
            }
        }
    }
    if (!*hit && *key && (e = sm_table_find(&m->norm, key))) {
        *hit = sm_settle(res, SC_MATCH_NORMALIZED,
                         sm_candidates(m->o, fs, e->terms, (size_t)e->n, res));
    }
    if (lower != low)
        free(lower);
    sc_err_clear();
    return 0;
}

/* A rule of TABLE (curated or crosswalk) for the rule key KEY: 1 when
 * it gives the term (replacing *RES), to settle no match or an
 * ambiguity. */
static int rule_tier(const sc_match *m, const struct field *fs, int field,
                     const struct table *table, int tier, const char *key,
                     int hit, sc_match_res *res)
{
    char fk[1200];
    const struct entry *e;
    sc_match_res c;

    if (!(e = sm_table_find(table, sm_field_key(field, key, fk, sizeof fk))) ||
        e->n != 1)
        return 0;
    c = *res;
    if (sm_settle(&c, tier, sm_candidates(m->o, fs, e->terms, 1, &c)) &&
        c.term != SC_ONTO_NONE && (!hit || in_candidates(res, c.term))) {
        c.reason[0] = '\0';
        if (e->note)
            snprintf(c.evidence, sizeof c.evidence, "%s '%.40s' (%.40s)",
                     tier == SC_MATCH_CURATED ? "curated rule" : "crosswalk",
                     key, e->note);
        else
            snprintf(c.evidence, sizeof c.evidence, "%s '%.60s'",
                     tier == SC_MATCH_CURATED ? "curated rule" : "crosswalk",
                     key);
        *res = c;
        return 1;
    }
    return 0;
}

/* The tiers from the ontology strings to the crosswalk for TEXT. Returns
 * 1 when *RES is decided (a confident term, an ambiguity or a weak
 * match), 0 when nothing matched, or a negative error. */
int sm_resolve(const sc_match *m, const struct field *fs, int field,
               const char *text, sc_match_res *res)
{
    sc_match_res weak;
    char key[1100];
    int rc, hit, has_weak = 0;

    /* the normalised key of the label: for its tier, then (as the rule
     * key) for the curated rules and the crosswalk */
    if (sc_match_normalize(text, key, sizeof key) < 0) {
        sc_err_clear();
        key[0] = '\0';
    }
    if ((rc = ontology_tiers(m, fs, text, key, res, &hit)) < 0)
        return rc;
    /* a short all-capital label that only a synonym matches */
    if (hit && res->term != SC_ONTO_NONE &&
        (field == SC_FIELD_CELL_TYPE || field == SC_FIELD_TISSUE ||
         field == SC_FIELD_DISEASE) &&
        res->tier != SC_MATCH_LABEL && res->tier != SC_MATCH_LABEL_CI &&
        sm_short_capitals(text)) {
        weak = *res;
        weak.tier = SC_MATCH_WEAK;
        weak.sugg[0] = weak.term;
        weak.n_sugg = 1;
        weak.term = SC_ONTO_NONE;
        snprintf(weak.reason, sizeof weak.reason,
                 "a short all-capital label that only a synonym matches is "
                 "not enough evidence");
        sc_match_evidence(res, text, weak.evidence, sizeof weak.evidence);
        has_weak = 1;
        hit = 0;
        memset(res, 0, sizeof *res);
        res->term = SC_ONTO_NONE;
    }
    /* the rule key of the label */
    sm_curated_key(key);
    /* A term that only a synonym gives, where a curated rule for the same
     * key names another term, is not taken: ontologies carry synonyms that
     * collide with another term's name (MONDO lists "nonsmall cell lung
     * cancer" for a gene locus term). Both are candidates; no term. */
    if (hit && res->tier != SC_MATCH_AMBIGUOUS && res->tier != SC_MATCH_LABEL &&
        res->tier != SC_MATCH_LABEL_CI && *key) {
        sc_match_res rule = *res;

        if (rule_tier(m, fs, field, &m->curated, SC_MATCH_CURATED, key, 0,
                      &rule) &&
            rule.term != res->term) {
            sc_onto_term syn = res->term;

            res->tier = SC_MATCH_AMBIGUOUS;
            res->term = SC_ONTO_NONE;
            res->n_cand = 2;
            res->cand[0] = syn;
            res->cand[1] = rule.term;
            snprintf(res->reason, sizeof res->reason,
                     "a synonym and the curated rule '%.40s' disagree", key);
            return 1;
        }
    }
    if (hit && res->tier != SC_MATCH_AMBIGUOUS)
        return 1;
    /* Curated rules, then the crosswalk: for labels nothing matched, and to
     * settle an ambiguity when the rule's term is one of the candidates. */
    if (*key &&
        (rule_tier(m, fs, field, &m->curated, SC_MATCH_CURATED, key, hit,
                   res) ||
         rule_tier(m, fs, field, &m->cross, SC_MATCH_CROSSWALK, key, hit, res)))
        return 1;
    if (hit)
        return 1;
    if (has_weak) {
        *res = weak;
        return 1;
    }
    return 0;
}

const char *sc_match_evidence(const sc_match_res *r, const char *label,
                              char *buf, size_t size)
{
    char key[1100];

    if (*r->evidence || !size)
        return r->evidence;
    while (*label == ' ' || *label == '\t')
        label++;
    switch (r->tier) {
    case SC_MATCH_USER: snprintf(buf, size, "user mapping"); break;
    case SC_MATCH_UNKNOWN: snprintf(buf, size, "an unknown value"); break;
    case SC_MATCH_TERM_ID: snprintf(buf, size, "term id"); break;
    case SC_MATCH_LABEL:
    case SC_MATCH_LABEL_CI:
        snprintf(buf, size, "label '%.60s'%s", label,
                 r->tier == SC_MATCH_LABEL_CI ? " (case ignored)" : "");
        break;
    case SC_MATCH_SYNONYM:
    case SC_MATCH_SYNONYM_CI:
        snprintf(buf, size, "exact synonym '%.60s'%s", label,
                 r->tier == SC_MATCH_SYNONYM_CI ? " (case ignored)" : "");
        break;
    case SC_MATCH_NORMALIZED:
        if (sc_match_normalize(label, key, sizeof key) < 0) {
            sc_err_clear();
            key[0] = '\0';
        }
        snprintf(buf, size, "normalised key '%.60s'", key);
        break;
    default: buf[0] = '\0';
    }
    if (*r->demoted && *buf) {
        size_t n = strlen(buf);
        snprintf(buf + n, size - n, "; %s", r->demoted);
    }
    return buf;
}

int sc_match_label(const sc_match *m, int field, const char *organism,
                   const char *label, sc_match_res *res)
{
    const struct field *fs;
    char text[1024], key[1100], fk[1200], idbuf[256];
    const struct entry *e;
    size_t len;
    int rc;

    memset(res, 0, sizeof *res);
    res->term = SC_ONTO_NONE;
    if (field < 0 || field >= SC_FIELD_N)
        return sc_fail(SC_EINVAL, "bad field %d", field);
    fs = field_spec(m, field, organism);
    if (!fs) {
        res->tier = SC_MATCH_NONE;
        snprintf(res->reason, sizeof res->reason,
                 "organism not known: development stages depend on it");
        return 0;
    }
    /* trim */
    while (*label == ' ' || *label == '\t')
        label++;
    len = strlen(label);
    while (len && (label[len - 1] == ' ' || label[len - 1] == '\t'))
        len--;
    if (len >= sizeof text) {
        snprintf(res->reason, sizeof res->reason, "label too long");
        return 0;
    }
    memcpy(text, label, len);
    text[len] = '\0';

    /* the user's mapping first */
    if ((e = sm_table_find(&m->user,
                           sm_field_key(field, text, fk, sizeof fk))) ||
        (e = sm_table_find(&m->user, sm_field_key(-1, text, fk, sizeof fk)))) {
        res->tier = SC_MATCH_USER;
        res->term = e->terms[e->n - 1];
        return 0;
    }
    if (!*text || is_unknown_value(text)) {
        res->tier = SC_MATCH_UNKNOWN;
        return 0;
    }
    /* a healthy/control shorthand is never a disease */
    if (field == SC_FIELD_DISEASE &&
        sc_match_normalize(text, key, sizeof key) == 0 && sm_is_control(key)) {
        sc_onto_term t = sc_onto_find(m->o, "PATO:0000461");

        if (t != SC_ONTO_NONE) {
            res->tier = SC_MATCH_CONTROL;
            res->term = t;
            snprintf(res->evidence, sizeof res->evidence,
                     "healthy/control shorthand '%.60s'", key);
            return 0;
        }
    }
    sc_err_clear();
    /* a term id given as the label */
    if (sc_onto_try_normalize_id(text, idbuf, sizeof idbuf) == 0) {
        sc_onto_term t = sc_onto_find(m->o, idbuf);

        if (t != SC_ONTO_NONE &&
            sm_settle(res, SC_MATCH_TERM_ID,
                      sm_candidates(m->o, fs, &t, 1, res))) {
            return 0;
        }
    }
    sc_err_clear();
    if ((rc = sm_resolve(m, fs, field, text, res)) != 0)
        return rc < 0 ? rc : 0;
    memset(res, 0, sizeof *res);
    res->term = SC_ONTO_NONE;
    /* a misspelt word: when nothing else matched, or only weakly */
    if ((rc = sm_structured(m, fs, field, text, res)) < 0)
        return rc;
    if (rc && res->tier != SC_MATCH_WEAK)
        return 0;
    {
        sc_match_res f;

        memset(&f, 0, sizeof f);
        f.term = SC_ONTO_NONE;
        if ((rc = sm_fuzzy(m, fs, field, text, &f)) < 0)
            return rc;
        if (rc) {
            *res = f;
            return 0;
        }
        if (res->tier == SC_MATCH_WEAK)
            return 0;
    }
    memset(res, 0, sizeof *res);
    res->term = SC_ONTO_NONE;
    res->tier = SC_MATCH_NONE;
    snprintf(res->reason, sizeof res->reason, "no match");
    suggest(m, fs, text, res);
    return 0;
}
