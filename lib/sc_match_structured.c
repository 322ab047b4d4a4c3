/* sc_match_structured: the structured tier of sc_match (the label taken
 * apart: context, cluster suffixes, Latin plurals, state qualifiers, GTEx's
 * "Organ - Site"). */
/* SPDX-License-Identifier: MIT */
#include "sc_match_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- the structured tier ---- */

/* Words before a number that is part of the name, not a cluster suffix. */
static const char *const keep_number_after[] = {
    "type", "layer",  "stage", "grade", "class",   "group", "subtype", "phase",
    "cd",   "il",     "hla",   "lobe",  "segment", "zone",  "l",       "ca",
    "area", "lamina", "t",     "th",    "tc",      "ilc",   "cdc",     "v"};

/* Drop a cluster suffix (" 1", "_2", "-3", ".4") from S in place. */
static int strip_cluster(char *s)
{
    size_t n = strlen(s), d = n, w;
    char word[16];

    while (d && isdigit((unsigned char)s[d - 1]))
        d--;
    if (d == n || n - d > 3 || d < 2 || !strchr(" _-.", s[d - 1]))
        return 0;
    w = d - 1;
    while (w && isalpha((unsigned char)s[w - 1]))
        w--;
    if (d - 1 - w == 0 || d - 1 - w >= sizeof word)
        return 0;
    for (size_t k = w; k < d - 1; k++)
        word[k - w] = (char)tolower((unsigned char)s[k]);
    word[d - 1 - w] = '\0';
    for (size_t k = 0; k < sizeof keep_number_after / sizeof *keep_number_after;
         k++)
        if (!strcmp(word, keep_number_after[k]))
            return 0;
    s[d - 1] = '\0';
    while (d > 1 && strchr(" _-.", s[d - 2]))
        s[--d - 1] = '\0';
    return 1;
}

/* Latin and irregular plurals: whole words, then endings. */
static const char *const irregular[][2] = {
    {"ganglia", "ganglion"}, {"lumina", "lumen"},   {"foramina", "foramen"},
    {"corpora", "corpus"},   {"viscera", "viscus"}, {"teeth", "tooth"},
    {"feet", "foot"},        {"women", "woman"},    {"men", "man"},
    {"children", "child"},   {"stomata", "stoma"},  {"testes", "testis"},
    {"ova", "ovum"},         {"septa", "septum"},   {"crura", "crus"}};
static const char *const endings[][2] = {
    {"ices", "ex"}, {"ae", "a"}, {"ia", "ium"}, {"i", "us"}, {"ices", "ix"}};

/* S with every word's Latin plural made singular into OUT (rule set
 * VARIANT: 0 "-ices" -> "-ex", 1 "-ices" -> "-ix"); 1 if any word
 * changed. */
static int latin_singular(const char *s, char *out, size_t size, int variant)
{
    size_t used = 0;
    int changed = 0;

    out[0] = '\0';
    while (*s) {
        size_t n = 0, skip = strspn(s, " _-/,");
        char w[128];
        const char *rep = NULL;
        size_t cut = 0;

        if (skip) {
            if (used + skip >= size)
                return 0;
            memcpy(out + used, s, skip);
            used += skip;
            s += skip;
            continue;
        }
        n = strcspn(s, " _-/,");
        if (n >= sizeof w) {
            snprintf(w, sizeof w, "%s", "");
        } else {
            for (size_t k = 0; k < n; k++)
                w[k] = (char)tolower((unsigned char)s[k]);
            w[n] = '\0';
        }
        for (size_t k = 0; *w && k < sizeof irregular / sizeof *irregular; k++)
            if (!strcmp(w, irregular[k][0])) {
                rep = irregular[k][1];
                cut = n;
            }
        for (size_t k = 0;
             !rep && n >= 5 && *w && k < sizeof endings / sizeof *endings;
             k++) {
            size_t el = strlen(endings[k][0]);

            if ((k == 0 && variant) || (k == 4 && !variant))
                continue;
            if (n > el + 2 && !strcmp(w + n - el, endings[k][0]) &&
                !(k == 3 && w[n - 2] == 'i')) {
                rep = endings[k][1];
                cut = el;
            }
        }
        if (used + n + 8 >= size)
            return 0;
        if (rep) {
            size_t keep = n - cut;

            memcpy(out + used, s, keep);
            used += keep;
            used += (size_t)snprintf(out + used, size - used, "%s", rep);
            changed = 1;
        } else {
            memcpy(out + used, s, n);
            used += n;
        }
        out[used] = '\0';
        s += n;
    }
    out[used] = '\0';
    return changed;
}

/* Adjectives that name an organ in a context ("renal" for "kidney"). */
const char *const sm_organ_adj[][2] = {
    {"kidney", "renal"},          {"lung", "pulmonary"},
    {"liver", "hepatic"},         {"heart", "cardiac"},
    {"brain", "cerebral"},        {"skin", "cutaneous"},
    {"stomach", "gastric"},       {"intestine", "intestinal"},
    {"colon", "colonic"},         {"blood", "circulating"},
    {"bone", "osseous"},          {"pancreas", "pancreatic"},
    {"esophagus", "esophageal"},  {"ovary", "ovarian"},
    {"testis", "testicular"},     {"uterus", "uterine"},
    {"spleen", "splenic"},        {"rectum", "rectal"},
    {"bronchus", "bronchial"},    {"trachea", "tracheal"},
    {"vagina", "vaginal"},        {"thymus", "thymic"},
    {"duodenum", "duodenal"},     {"placenta", "placental"},
    {"retina", "retinal"},        {"cerebellum", "cerebellar"},
    {"dermis", "dermal"},         {"epidermis", "epidermal"},
    {"myocardium", "myocardial"}, {"larynx", "laryngeal"},
    {"pharynx", "pharyngeal"},    {"gingiva", "gingival"},
    {"breast", "mammary"}};
const size_t sm_n_organ_adj = sizeof sm_organ_adj / sizeof *sm_organ_adj;

/* Whether word W (lower case) is a word of TEXT, ignoring case. */
static int has_word(const char *text, const char *w)
{
    size_t n = strlen(w);

    for (const char *p = text; *p; p++)
        if (!strncasecmp(p, w, n) &&
            (p == text || !isalnum((unsigned char)p[-1])) &&
            !isalnum((unsigned char)p[n]))
            return 1;
    return 0;
}

/* Whether every word of the context CTX (or its organ adjective) is in
 * the label or a synonym of T. */
static int names_context(const sc_onto *o, sc_onto_term t, const char *ctx)
{
    size_t ns = sc_onto_n_synonyms(o, t);

    for (size_t s = 0; s <= ns; s++) {
        const char *text =
            s ? sc_onto_synonym(o, t, s - 1) : sc_onto_label(o, t);
        int all = 1;

        for (const char *p = ctx; *p && all;) {
            size_t n = strcspn(p, " ,/");
            char w[64];
            int found;

            if (n && n < sizeof w) {
                for (size_t k = 0; k < n; k++)
                    w[k] = (char)tolower((unsigned char)p[k]);
                w[n] = '\0';
                found = has_word(text, w);
                for (size_t k = 0; !found && k < sm_n_organ_adj; k++)
                    if (!strcmp(w, sm_organ_adj[k][0]))
                        found = has_word(text, sm_organ_adj[k][1]);
                all = found;
            }
            p += n;
            p += strspn(p, " ,/");
        }
        if (all)
            return 1;
    }
    return 0;
}

/* The closest descendant of T (allowed in the field) that names the
 * context CTX, when there is one closest; else T. */
static sc_onto_term refine(const sc_match *m, const struct field *fs,
                           sc_onto_term t, const char *ctx)
{
    sc_onto_link *l = NULL;
    size_t n = 0;
    sc_onto_term best = SC_ONTO_NONE;
    int best_d = 0, tie = 0;

    if (!*ctx || sc_onto_descendants(m->o, t, &l, &n) < 0) {
        sc_err_clear();
        return t;
    }
    for (size_t k = 0; k < n && n <= 4000; k++) {
        if (sc_onto_is_deprecated(m->o, l[k].term) ||
            !sm_allowed(m->o, fs, l[k].term) ||
            !names_context(m->o, l[k].term, ctx))
            continue;
        if (best == SC_ONTO_NONE || l[k].dist < best_d) {
            best = l[k].term;
            best_d = l[k].dist;
            tie = 0;
        } else if (l[k].dist == best_d) {
            tie = 1;
        }
    }
    free(l);
    return best != SC_ONTO_NONE && !tie ? best : t;
}

/* Positions that may follow a tissue's name ("left ventricle myocardium
 * inferior"): a part of the named structure, which the name without them
 * contains. */
static const char *const positions[] = {
    "inferior", "superior", "anterior", "posterior", "medial",
    "lateral",  "left",     "right",    "upper",     "lower",
    "dorsal",   "ventral",  "proximal", "distal"};

/* The length of HEAD without a trailing position word (and the spaces
 * before it), or 0 when it has none. What is left must be a name of two
 * words or more, with no comma: an inverted name ("Horn, Dorsal") is not
 * a part of what its first word names. */
static size_t drop_position(const char *head)
{
    size_t n = strlen(head), w = n;

    if (strchr(head, ','))
        return 0;
    while (w && isalpha((unsigned char)head[w - 1]))
        w--;
    if (!w || head[w - 1] != ' ')
        return 0;
    for (size_t k = 0; k < sizeof positions / sizeof *positions; k++)
        if (strlen(positions[k]) == n - w &&
            !strncasecmp(head + w, positions[k], n - w)) {
            while (w && head[w - 1] == ' ')
                w--;
            return memchr(head, ' ', w) ? w : 0;
        }
    return 0;
}

/* State qualifiers that a label may carry before its head noun. */
static const char *const states[] = {
    "proliferating", "cycling",   "dividing", "activated", "resting",
    "mitotic",       "quiescent", "stressed", "mature",    "differentiating"};

static int is_state(const char *w, size_t n)
{
    for (size_t k = 0; k < sizeof states / sizeof *states; k++)
        if (strlen(states[k]) == n && !strncasecmp(w, states[k], n))
            return 1;
    return 0;
}

/* Try TEXT (and its Latin singular) through sm_resolve(): 1 when a
 * confident term came out. */
int sm_try_part(const sc_match *m, const struct field *fs, int field,
                const char *text, int plain, sc_match_res *r)
{
    char alt[1100];
    int rc;

    for (int v = !plain; v < 3; v++) {
        const char *s = text;

        if (v && !latin_singular(text, alt, sizeof alt, v - 1))
            continue;
        if (v)
            s = alt;
        memset(r, 0, sizeof *r);
        r->term = SC_ONTO_NONE;
        if ((rc = sm_resolve(m, fs, field, s, r)) < 0)
            return rc;
        if (rc && r->term != SC_ONTO_NONE &&
            sc_match_tier_is_confident(r->tier))
            return 1;
    }
    /* the free-text variants of TEXT */
    memset(r, 0, sizeof *r);
    r->term = SC_ONTO_NONE;
    if ((rc = sm_variants(m, fs, field, text, r)) < 0)
        return rc;
    return rc && r->term != SC_ONTO_NONE && sc_match_tier_is_confident(r->tier);
}

/* *RES as a weak result: no term, T the suggestion (reason and evidence
 * are the caller's). */
static void weak(sc_match_res *res, sc_onto_term t)
{
    memset(res, 0, sizeof *res);
    res->tier = SC_MATCH_WEAK;
    res->term = SC_ONTO_NONE;
    res->n_sugg = 1;
    res->sugg[0] = t;
}

/* Whether term A lies within term B (or is B). */
static int within(const sc_match *m, sc_onto_term a, sc_onto_term b)
{
    return a == b || sc_onto_is_a(m->o, a, b);
}

/* "<organ> - <condition> (<location>)", GTEx's "Skin - Sun Exposed (Lower
 * leg)": when the condition names nothing, the organ at the location
 * ("Lower leg Skin", "Skin of Lower leg") within the organ's term O. 1
 * when *RES is set, 0 when not, or a negative error. */
static int organ_location(const sc_match *m, const struct field *fs, int field,
                          const char *organ, const char *site, sc_onto_term o,
                          sc_match_res *res)
{
    const char *open = strchr(site, '('), *close;
    char cond[256], loc[256], phrase[600];
    sc_match_res c, p;
    int rc;

    if (!open || !(close = strchr(open, ')')) || close[1] ||
        (size_t)(open - site) >= sizeof cond ||
        (size_t)(close - open) >= sizeof loc)
        return 0;
    snprintf(cond, sizeof cond, "%.*s", (int)(open - site), site);
    snprintf(loc, sizeof loc, "%.*s", (int)(close - open - 1), open + 1);
    for (size_t n = strlen(cond); n && cond[n - 1] == ' '; n--)
        cond[n - 1] = '\0';
    if (!*cond || !*loc)
        return 0;
    /* a condition with an anatomical reading is not left out */
    memset(&c, 0, sizeof c);
    c.term = SC_ONTO_NONE;
    if ((rc = sm_try_part(m, fs, field, cond, 1, &c)) != 0 ||
        (rc = sm_structured(m, fs, field, cond, &c)) != 0)
        return rc < 0 ? rc : 0;
    for (int k = 0; k < 2; k++) {
        snprintf(phrase, sizeof phrase, k ? "%s of %s" : "%s %s",
                 k ? organ : loc, k ? loc : organ);
        if ((rc = sm_try_part(m, fs, field, phrase, 1, &p)) < 0)
            return rc;
        if (rc && p.term != o && within(m, p.term, o)) {
            memset(res, 0, sizeof *res);
            res->tier = SC_MATCH_STRUCTURED;
            res->term = p.term;
            res->replaced = p.replaced;
            snprintf(res->evidence, sizeof res->evidence,
                     "'%.36s' in organ '%.16s' ('%.20s' left out)", phrase,
                     organ, cond);
            return 1;
        }
    }
    return 0;
}

/* "Organ - Site", the form of GTEx's tissue names ("Brain - Putamen (basal
 * ganglia)"): the site when its term lies within the organ's. When the
 * site maps to nothing the organ is only a suggestion (GTEx's "Small
 * Intestine - Terminal Ileum" is Peyer's patch, which UBERON does not put
 * in the small intestine); a site elsewhere is a contradiction and nothing
 * is set. A site that is an adjective of the organ ("Artery - Tibial") is
 * read as one name "<site> <organ>" within the organ; confidently only
 * when the site names nothing by itself or the name lies within what it
 * names ("Skin - Scalp": skin of scalp, in the scalp); a site that names a
 * tissue of its own may be a kind, not a place ("Muscle - Skeletal":
 * "Skeletal" is skeletal tissue, which skeletal muscle tissue is not in),
 * and then the name is a suggestion. 1 when *RES is set. */
static int organ_site(const sc_match *m, const struct field *fs, int field,
                      const char *text, sc_match_res *res)
{
    const char *sep = strstr(text, " - "), *site;
    char organ[256];
    sc_match_res o, s;
    int rc;

    if (!sep || (size_t)(sep - text) >= sizeof organ || strstr(sep + 3, " - "))
        return 0;
    site = sep + 3;
    snprintf(organ, sizeof organ, "%.*s", (int)(sep - text), text);
    if ((rc = sm_try_part(m, fs, field, organ, 1, &o)) <= 0)
        return rc;
    if ((rc = sm_try_part(m, fs, field, site, 1, &s)) == 0) {
        memset(&s, 0, sizeof s);
        s.term = SC_ONTO_NONE;
        rc = sm_structured(m, fs, field, site, &s);
        if (rc > 0 &&
            (s.term == SC_ONTO_NONE || !sc_match_tier_is_confident(s.tier)))
            rc = 0;
    }
    if (rc < 0)
        return rc;
    if (!rc && (rc = organ_location(m, fs, field, organ, site, o.term, res)))
        return rc;
    if (!rc || !within(m, s.term, o.term)) {
        char phrase[600];
        sc_match_res p;
        int prc;

        snprintf(phrase, sizeof phrase, "%s %s", site, organ);
        if ((prc = sm_try_part(m, fs, field, phrase, 1, &p)) < 0)
            return prc;
        if (prc && p.term != o.term && within(m, p.term, o.term)) {
            if (!rc || within(m, p.term, s.term)) {
                memset(res, 0, sizeof *res);
                res->tier = SC_MATCH_STRUCTURED;
                res->term = p.term;
                res->replaced = p.replaced;
                snprintf(res->evidence, sizeof res->evidence,
                         "'%.30s %.25s' in organ '%.16s'%s", site, organ, organ,
                         rc ? "" : " (site unmapped)");
                return 1;
            }
            weak(res, p.term);
            snprintf(res->reason, sizeof res->reason,
                     "the site '%.30s' names a term that the name is not in",
                     site);
            snprintf(res->evidence, sizeof res->evidence,
                     "'%.35s %.35s' within organ '%.20s'", site, organ, organ);
            return 1;
        }
    }
    if (rc && !within(m, s.term, o.term)) {
        /* a contradiction: no term, and no other reading of the label */
        res->tier = SC_MATCH_AMBIGUOUS;
        res->term = SC_ONTO_NONE;
        res->n_cand = 2;
        res->cand[0] = o.term;
        res->cand[1] = s.term;
        snprintf(res->reason, sizeof res->reason,
                 "the site '%.30s' does not lie within the organ '%.30s'", site,
                 organ);
        return 1;
    }
    if (!rc) {
        res->tier = SC_MATCH_WEAK;
        res->term = SC_ONTO_NONE;
        res->n_sugg = 1;
        res->sugg[0] = o.term;
        snprintf(res->reason, sizeof res->reason,
                 "only the organ '%.40s' maps, not the site", organ);
        snprintf(res->evidence, sizeof res->evidence,
                 "organ '%.40s'; site '%.40s' unmapped", organ, site);
        return 1;
    }
    res->tier = SC_MATCH_STRUCTURED;
    res->term = s.term;
    res->replaced = s.replaced;
    snprintf(res->evidence, sizeof res->evidence,
             "site '%.40s' within organ '%.40s'", site, organ);
    return 1;
}

/* "<organ> <histology>", the form of cancer registries' disease names
 * ("liver hepatocellular carcinoma", "esophagus squamous cancer"): the
 * first one to three words name an anatomical term (or are an organ
 * adjective), the rest a disease term H. The term is H when H already
 * names the organ, else the closest descendant of H that names it, when
 * there is one closest. "squamous" stands for "squamous cell". 1 when
 * *RES is set (a term, or several closest descendants), 0 when not, or a
 * negative error. */
static int organ_histology(const sc_match *m, const struct field *fs,
                           const char *text, sc_match_res *res)
{
    size_t start[SM_MAX_WORDS], end[SM_MAX_WORDS], n;
    const struct field *tf = sm_field_spec(m, SC_FIELD_TISSUE);

    if ((n = sm_words_of(text, start, end)) > SM_MAX_WORDS || n < 2)
        return 0;
    for (size_t k = 1; k <= 3 && k < n; k++) {
        char organ[256], hist[1100], ctx[256], alt[1100];
        sc_match_res o, h;
        const char *sq;
        int rc;

        if (end[k - 1] >= sizeof organ)
            return 0;
        snprintf(organ, sizeof organ, "%.*s", (int)end[k - 1], text);
        snprintf(hist, sizeof hist, "%s", text + start[k]);
        /* the organ: an anatomical term, or an organ adjective */
        snprintf(ctx, sizeof ctx, "%s", organ);
        for (size_t a = 0; a < sm_n_organ_adj; a++)
            if (!strcasecmp(organ, sm_organ_adj[a][1]))
                snprintf(ctx, sizeof ctx, "%s", sm_organ_adj[a][0]);
        memset(&o, 0, sizeof o);
        o.term = SC_ONTO_NONE;
        if ((rc = sm_resolve(m, tf, SC_FIELD_TISSUE, ctx, &o)) < 0)
            return rc;
        if (!rc || o.term == SC_ONTO_NONE ||
            !sc_match_tier_is_confident(o.tier))
            continue;
        /* the histology, "squamous" as "squamous cell" if need be */
        if ((rc = sm_try_part(m, fs, SC_FIELD_DISEASE, hist, 1, &h)) < 0)
            return rc;
        if (!rc && (sq = strstr(hist, "squamous ")) &&
            strncasecmp(sq + 9, "cell", 4)) {
            snprintf(alt, sizeof alt, "%.*ssquamous cell %s", (int)(sq - hist),
                     hist, sq + 9);
            if ((rc = sm_try_part(m, fs, SC_FIELD_DISEASE, alt, 1, &h)) < 0)
                return rc;
            if (rc)
                snprintf(hist, sizeof hist, "%s", alt);
        }
        if (!rc)
            continue;
        memset(res, 0, sizeof *res);
        res->term = SC_ONTO_NONE;
        if (names_context(m->o, h.term, ctx)) {
            res->term = h.term;
        } else {
            sc_onto_term t = refine(m, fs, h.term, ctx);

            if (t == h.term) {
                weak(res, h.term);
                snprintf(res->reason, sizeof res->reason,
                         "no term of '%.30s' names '%.30s'", hist, organ);
                snprintf(res->evidence, sizeof res->evidence,
                         "histology '%.38s'; organ '%.38s' not named", hist,
                         organ);
                return 1;
            }
            res->term = t;
        }
        res->tier = SC_MATCH_STRUCTURED;
        snprintf(res->evidence, sizeof res->evidence,
                 "organ '%.30s' + histology '%.50s'", organ, hist);
        return 1;
    }
    return 0;
}

/* The structured tier: 1 when *RES is set (structured or weak). */
int sm_structured(const sc_match *m, const struct field *fs, int field,
                  const char *text, sc_match_res *res)
{
    char head[1024], ctx[256] = "", part[1400], ev[160];
    const char *open, *close;
    sc_match_res r;
    int rc, changed = 0;

    if ((rc = organ_site(m, fs, field, text, res)) != 0)
        return rc;
    snprintf(head, sizeof head, "%s", text);
    /* context in parentheses or brackets */
    if ((open = strpbrk(head, "([")) &&
        (close = strchr(open, *open == '(' ? ')' : ']'))) {
        size_t at = (size_t)(open - head);

        snprintf(ctx, sizeof ctx, "%.*s", (int)(close - open - 1), open + 1);
        memmove(head + at, close + 1, strlen(close + 1) + 1);
        changed = 1;
    }
    for (size_t n = strlen(head); n && strchr(" _-.,", head[n - 1]); n--)
        head[n - 1] = '\0';
    while (*head == ' ')
        memmove(head, head + 1, strlen(head));
    changed |= strip_cluster(head);
    if (!*head)
        return 0;
    if (*ctx) {
        snprintf(part, sizeof part, "%s %s", ctx, head);
        if ((rc = sm_try_part(m, fs, field, part, 1, &r)) != 0)
            goto found;
        snprintf(part, sizeof part, "%s of %s", head, ctx);
        if ((rc = sm_try_part(m, fs, field, part, 1, &r)) != 0)
            goto found;
    }
    /* the head without its context and suffix, Latin plurals made
     * singular; a context may name a descendant of the head's term */
    snprintf(part, sizeof part, "%s", head);
    if ((rc = sm_try_part(m, fs, field, head, changed, &r)) != 0) {
        if (rc > 0 && *ctx)
            r.term = refine(m, fs, r.term, ctx);
        /* a disease's context that its term does not name ("breast
         * cancer (metastatic)") is not dropped: the head's term is only
         * a suggestion; an abbreviation ("(LUAD)") says nothing more */
        if (rc > 0 && *ctx && field == SC_FIELD_DISEASE &&
            !sm_short_capitals(ctx) && !names_context(m->o, r.term, ctx)) {
            weak(res, r.term);
            snprintf(res->reason, sizeof res->reason,
                     "the term of '%.30s' does not name '%.30s'", head, ctx);
            snprintf(res->evidence, sizeof res->evidence,
                     "head '%.40s'; context '%.40s' unmapped", head, ctx);
            return 1;
        }
        goto found;
    }
    /* state qualifiers before the head noun */
    {
        const char *p = head;
        size_t n;
        int dropped = 0;

        while ((n = strcspn(p, " _-")) && p[n] && is_state(p, n)) {
            p += n;
            p += strspn(p, " _-");
            dropped = 1;
        }
        if (dropped && *p) {
            snprintf(part, sizeof part, "%s", p);
            if ((rc = sm_try_part(m, fs, field, part, 1, &r)) != 0)
                goto found;
        }
    }
    /* a tissue's name and a position after it: the named structure */
    if (field == SC_FIELD_TISSUE && !*ctx) {
        size_t keep = drop_position(head);

        if (keep) {
            snprintf(part, sizeof part, "%.*s", (int)keep, head);
            if ((rc = sm_try_part(m, fs, field, part, 1, &r)) < 0)
                return rc;
            if (rc) {
                memset(res, 0, sizeof *res);
                res->tier = SC_MATCH_STRUCTURED;
                res->term = r.term;
                res->replaced = r.replaced;
                snprintf(res->evidence, sizeof res->evidence,
                         "'%.50s' and the position '%.12s' (a part of it)",
                         part, head + keep + strspn(head + keep, " "));
                return 1;
            }
        }
    }
    /* a cancer registry's "<organ> <histology>" */
    if (field == SC_FIELD_DISEASE && !*ctx &&
        (rc = organ_histology(m, fs, head, res)) != 0)
        return rc;
    /* two names: "X/Y", "X and Y" */
    if ((rc = sm_pair(m, fs, field, head, res)) != 0)
        return rc;
    /* the head noun alone, by normalised key: a suggestion */
    for (const char *p = head; *p;) {
        size_t n = strcspn(p, " ");
        char key[1100];
        const struct entry *e;
        sc_match_res c;

        if (!p[n])
            break;
        p += n + 1;
        while (*p == ' ')
            p++;
        if (strlen(p) < 3)
            break;
        if (sc_match_normalize(p, key, sizeof key) < 0) {
            sc_err_clear();
            break;
        }
        if (!(e = sm_table_find(&m->norm, key)))
            continue;
        memset(&c, 0, sizeof c);
        if (sm_candidates(m->o, fs, e->terms, (size_t)e->n, &c) == 1) {
            res->tier = SC_MATCH_WEAK;
            res->term = SC_ONTO_NONE;
            res->n_sugg = 1;
            res->sugg[0] = c.cand[0];
            snprintf(res->reason, sizeof res->reason,
                     "only the head noun '%.60s' matches", p);
            snprintf(res->evidence, sizeof res->evidence,
                     "head '%.40s': normalised key '%.40s'", p, key);
            return 1;
        }
    }
    return 0;
found:
    if (rc < 0)
        return rc;
    res->tier = SC_MATCH_STRUCTURED;
    res->term = r.term;
    res->replaced = r.replaced;
    if (*ctx)
        snprintf(res->evidence, sizeof res->evidence,
                 "head '%.30s' + context '%.20s': %.35s", head, ctx,
                 sc_match_evidence(&r, part, ev, sizeof ev));
    else
        snprintf(res->evidence, sizeof res->evidence, "'%.40s': %.60s", part,
                 sc_match_evidence(&r, part, ev, sizeof ev));
    return 1;
}
