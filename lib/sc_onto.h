/* sc_onto: ontologies (CELLxGENE guide JSON, OBO 1.2): terms, graph, labels. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_ONTO_H
#define SC_ONTO_H

#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * One sc_onto handle holds any number of ontologies, each loaded from one
 * file: a CELLxGENE ontology-guide JSON ("CL-ontology-v2025-07-30.json.gz",
 * plain or gzip) or an OBO 1.2 file (".obo", ".obo.gz"). Term ids are unique
 * within a handle: loading an ontology whose id prefixes overlap one already
 * loaded fails, so keep two versions of an ontology in two handles (as
 * sc-harmonize does to map obsolete terms forward with the newest one).
 *
 * The graph: ancestors are the transitive closure over is_a and part_of,
 * restricted to the ontology's own id prefixes, with the minimum number of
 * edges as the distance (what the guide's "ancestors" maps hold; for OBO it
 * is computed the same way). A term is not among its own ancestors, but the
 * relation queries below treat it as its own ancestor at distance 0.
 * Deprecated (obsolete) terms have no ancestors and no descendants.
 *
 * Loading: parsing the guide JSON takes about a second for the schema set,
 * so each parsed file is kept in a binary cache (one file per source, keyed
 * by the source's real path, size, mtime and the cache format) under
 * $XDG_CACHE_HOME/sc, else ~/.cache/sc, or the directory given to
 * sc_onto_set_cache_dir(). A cache hit is one mmap plus a checksum. A cache
 * that is missing, stale, damaged or unwritable is never an error: the file
 * is parsed and the cache rewritten (atomically) when possible.
 *
 * Threads: loading and sc_onto_set_cache_dir() need the handle to
 * themselves; once loading is over, every query below may run concurrently
 * from any number of threads (they only read the handle).
 */
typedef struct sc_onto sc_onto;

/* A term of a handle: 0 .. sc_onto_n_terms()-1, stable while the handle
 * lives. SC_ONTO_NONE (-1) means no term. */
typedef int32_t sc_onto_term;
#define SC_ONTO_NONE ((sc_onto_term)-1)

/* A term with a distance (edges): ancestors, descendants, parents. */
typedef struct sc_onto_link {
    sc_onto_term term;
    int32_t dist;
} sc_onto_link;

/* ---- term ids ---- */

/*
 * Normalise the spelling of a term id into BUF of SIZE bytes: trim spaces;
 * drop an OBO PURL (http[s]://purl.obolibrary.org/obo/) or EFO IRI
 * (http://www.ebi.ac.uk/efo/) in front; split "CL_0000236" at its first
 * underscore when there is no colon; spell a known prefix the canonical way
 * whatever its case (cl -> CL, hsapdv -> HsapDv, ncbitaxon -> NCBITaxon,
 * uniprot stays lower-case); Cellosaurus keeps its underscore (CVCL_0030).
 * Unknown prefixes keep their case. The result is "PREFIX:LOCAL".
 * Returns 0, SC_EINVAL for text that is not a term id ("unknown", "",
 * "CL:", ids with spaces inside): "not an ontology term id: 'x'", or
 * SC_ERANGE when BUF is too small. Thread-safe; needs no handle.
 */
SC_MUST_CHECK int sc_onto_normalize_id(const char *id, char *buf, size_t size);
/* The same without setting an error (on the path of every label): 0, or
 * -1 when ID is not a term id or does not fit. */
int sc_onto_try_normalize_id(const char *id, char *buf, size_t size);

/* ---- handle ---- */

/* Flags of sc_onto_new(). */
enum { SC_ONTO_NO_CACHE = 1 }; /* never read nor write the cache */

/* A new empty handle. On success *OUT owns it: release it with
 * sc_onto_free(). Returns 0 or SC_ENOMEM (*OUT NULL). */
SC_MUST_CHECK int sc_onto_new(unsigned flags, sc_onto **out);

/* Free O and everything it loaded; NULL is a no-op. Every pointer borrowed
 * from O becomes invalid. */
void sc_onto_free(sc_onto *o);

/* Keep the cache in DIR (created when needed) instead of the default; NULL
 * turns the cache off. DIR is copied. Returns 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_onto_set_cache_dir(sc_onto *o, const char *dir);

/*
 * Load the ontology in PATH (format from the name: ".json[.gz]" is the
 * guide JSON, ".obo[.gz]" OBO 1.2; either may be gzip). Its name and version
 * come from the data: a guide file named NAME-ontology-VERSION.json[.gz]
 * gives both; an OBO file gives its name from the main id prefix (the
 * "ontology:" header, else the most common prefix) and its version from the
 * "data-version:" header (the first component that starts with a digit or
 * "v<digit>", e.g. "releases/2025-05-14/pato.obo" -> "2025-05-14"), else
 * "date:", else "unknown". An OBO file keeps the terms of its main prefix
 * only (cl-basic.obo's few CP stanzas are dropped).
 * Returns 0, or SC_EIO / SC_EFORMAT (the message names the file, and the
 * line or term: "'x.obo': line 12: expected 'tag: value'"), SC_EEXIST
 * (an ontology with the same id prefix is loaded already), SC_EUNSUP,
 * SC_ENOMEM. On failure O is unchanged.
 */
SC_MUST_CHECK int sc_onto_load(sc_onto *o, const char *path);

/* Load the N files PATHS as sc_onto_load() does, parsing (or reading the
 * caches of) up to THREADS at a time; their order in O is that of PATHS.
 * All or nothing: returns 0, or the error of the first file that failed
 * and O unchanged. */
SC_MUST_CHECK int sc_onto_load_files(sc_onto *o, const char *const *paths,
                                     size_t n, int threads);

/* Sets of the vendored reference data (in the share directory, sc_share). */
enum {
    /* the ontologies pinned by the CELLxGENE schema (the guide JSON files in
     * ontology/cxg-guide/schema-7.0.0) plus the OBO files in ontology/obo
     * (NCBITaxon) */
    SC_ONTO_SET_SCHEMA = 0,
    /* the same, with the newer versions in ontology/cxg-guide/latest
     * instead of the pinned ones where there are any */
    SC_ONTO_SET_LATEST = 1,
};

/* The set of this run, one in every tool so that a pipeline judges and
 * rewrites terms against one version of each ontology:
 * SC_ONTO_SET_LATEST when LATEST is non-zero (a tool's --latest) or
 * $SC_ONTOLOGIES is "latest", else SC_ONTO_SET_SCHEMA (the versions the
 * CELLxGENE schema pins, which a dataset is validated against). The
 * versions loaded go into provenance with the step (sc_onto_version). */
int sc_onto_run_set(int latest);

/* Load every ontology of SET (above), found through sc_share_path(), with
 * sc_onto_load_files(THREADS). Returns 0 or its error (O unchanged), or
 * SC_EIO when a directory of the set cannot be read. */
SC_MUST_CHECK int sc_onto_load_set(sc_onto *o, int set, int threads);

/* The files sc_onto_load_set(SET) would load, in order, as a NULL-terminated
 * array *OUT of paths that the caller frees with sc_onto_paths_free().
 * Returns 0, SC_EIO (a directory of the set cannot be read) or SC_ENOMEM. */
SC_MUST_CHECK int sc_onto_set_paths(int set, char ***out);
void sc_onto_paths_free(char **paths);

/* Print "  NAME VERSION" for each ontology of SET (SC_ONTO_SET_*) to FP,
 * read from the files (for --version). A missing set prints one line
 * saying so. Returns 0. */
int sc_onto_print_versions(FILE *fp, int set);

/* Name and version of the ontology in PATH without loading it (the file
 * name of a guide file; the header of an OBO file), into NAME and VERSION
 * of SIZE bytes each. Returns 0, SC_EIO, SC_EFORMAT or SC_ERANGE.
 * Thread-safe. */
SC_MUST_CHECK int sc_onto_probe(const char *path, char *name, char *version,
                                size_t size);

/* ---- the ontologies of a handle (I = 0 .. sc_onto_count()-1) ---- */

int sc_onto_count(const sc_onto *o);
/* Name ("CL", "NCBITaxon"), version ("v2025-07-30", "2022-10-06"), and the
 * file it was loaded from. Borrowed until sc_onto_free(). */
const char *sc_onto_name(const sc_onto *o, int i);
const char *sc_onto_version(const sc_onto *o, int i);
const char *sc_onto_source(const sc_onto *o, int i);
/* Its id prefixes, space-separated ("HANCESTRO AfPO"). Borrowed. */
const char *sc_onto_prefixes(const sc_onto *o, int i);
/* 1 if it came from the cache, 0 if its file was parsed. */
int sc_onto_from_cache(const sc_onto *o, int i);
/* Its number of terms, and the first one (its terms are consecutive and
 * sorted by id). */
int64_t sc_onto_size(const sc_onto *o, int i);
sc_onto_term sc_onto_first(const sc_onto *o, int i);
/* The ontology named NAME (exact, else ignoring case), or -1. */
int sc_onto_find_ontology(const sc_onto *o, const char *name);

/* ---- terms ---- */

/* The number of terms of all ontologies. */
int64_t sc_onto_n_terms(const sc_onto *o);

/* The term with id ID in any of its spellings (sc_onto_normalize_id; a
 * prefix that no known one matches is also compared ignoring case with the
 * loaded ones), or an OBO alt_id of it; SC_ONTO_NONE when there is none. */
sc_onto_term sc_onto_find(const sc_onto *o, const char *id);

/* Accessors of a valid term T. Strings are borrowed until sc_onto_free();
 * an absent label is "". */
const char *sc_onto_id(const sc_onto *o, sc_onto_term t);
const char *sc_onto_label(const sc_onto *o, sc_onto_term t);
int sc_onto_ontology(const sc_onto *o, sc_onto_term t); /* its index I */
int sc_onto_is_deprecated(const sc_onto *o, sc_onto_term t);
/* The replaced_by id as written, which may be of an ontology that is not
 * loaded ("CLO:0000019"), or NULL. */
const char *sc_onto_replaced_by(const sc_onto *o, sc_onto_term t);
/* Synonyms (exact synonyms only) and consider ids: count, then the Kth. */
size_t sc_onto_n_synonyms(const sc_onto *o, sc_onto_term t);
const char *sc_onto_synonym(const sc_onto *o, sc_onto_term t, size_t k);
size_t sc_onto_n_consider(const sc_onto *o, sc_onto_term t);
const char *sc_onto_consider(const sc_onto *o, sc_onto_term t, size_t k);

/*
 * Follow T's replaced_by links to a live term: *OUT is T itself when T is
 * live, else the first live term of the chain, and *STEPS (may be NULL) the
 * number of links followed. Never uses "consider". Returns 0, or
 * SC_ENOTFOUND with *OUT SC_ONTO_NONE when the chain ends at a deprecated
 * term without replaced_by ("'X' is obsolete and has no replacement") or at
 * an id that is not loaded ("'X' is replaced by 'Y', which is not loaded"),
 * or SC_EFORMAT when it loops ("replaced_by cycle: A -> B -> A").
 */
SC_MUST_CHECK int sc_onto_resolve(const sc_onto *o, sc_onto_term t,
                                  sc_onto_term *out, int *steps);

/* ---- graph ---- */

/* Depth of T: the minimum distance to a root of its ontology (a live term
 * with no ancestors; a root has depth 0). -1 for a deprecated term. */
int sc_onto_depth(const sc_onto *o, sc_onto_term t);

/* The distance from T up to its ancestor A (0 when A == T), or -1 when A is
 * not an ancestor of T. O(log n). */
int sc_onto_ancestor_dist(const sc_onto *o, sc_onto_term t, sc_onto_term a);

/* 1 if B is A or an ancestor of A ("A is a B"), else 0. */
int sc_onto_is_a(const sc_onto *o, sc_onto_term a, sc_onto_term b);

/*
 * Related terms of T as a new array *OUT of *N links that the caller frees
 * with free() (NULL when *N is 0), sorted by distance, then id: ancestors
 * (T excluded), parents (ancestors at distance 1: is_a and part_of
 * targets), descendants (T excluded), children (descendants at distance 1).
 * Because links through other ontologies are not followed, a term may have
 * ancestors but no parent: EFO:0000408 "disease" reaches EFO:0000001 at
 * distance 3 (2,494 such EFO terms and 8 CL terms in the pinned versions).
 * Each returns 0 or SC_ENOMEM.
 */
SC_MUST_CHECK int sc_onto_ancestors(const sc_onto *o, sc_onto_term t,
                                    sc_onto_link **out, size_t *n);
SC_MUST_CHECK int sc_onto_parents(const sc_onto *o, sc_onto_term t,
                                  sc_onto_link **out, size_t *n);
SC_MUST_CHECK int sc_onto_descendants(const sc_onto *o, sc_onto_term t,
                                      sc_onto_link **out, size_t *n);
SC_MUST_CHECK int sc_onto_children(const sc_onto *o, sc_onto_term t,
                                   sc_onto_link **out, size_t *n);

/*
 * The lowest common ancestors of A and B: the common ancestors C (each term
 * counting as its own ancestor at distance 0) with the smallest
 * dist(A, C) + dist(B, C); several may tie. *OUT is a new array of *N terms
 * sorted by id (free() it; NULL when *N is 0) and *DIST that smallest sum,
 * or -1 with *N 0 when A and B share no ancestor (different ontologies,
 * deprecated terms). Returns 0 or SC_ENOMEM.
 */
SC_MUST_CHECK int sc_onto_lca(const sc_onto *o, sc_onto_term a, sc_onto_term b,
                              sc_onto_term **out, size_t *n, int *dist);

/* The distance between A and B, dist(A, C) + dist(B, C) through a lowest
 * common ancestor C (the guide's get_distance_between_terms), 0 when A == B,
 * or -1 when they share no ancestor. With LCA not NULL, *LCA is the first
 * such C by id (SC_ONTO_NONE for -1). Allocates nothing. */
int sc_onto_distance(const sc_onto *o, sc_onto_term a, sc_onto_term b,
                     sc_onto_term *lca);

/* ---- label index (for label matching) ---- */

/* The indexes of sc_onto_lookup(). "_CI" ignores ASCII case (UTF-8 bytes
 * above 0x7f are compared as they are). */
enum {
    SC_ONTO_BY_LABEL = 0,
    SC_ONTO_BY_LABEL_CI = 1,
    SC_ONTO_BY_SYNONYM = 2,
    SC_ONTO_BY_SYNONYM_CI = 3,
};

/*
 * Every term whose label (or exact synonym) is TEXT, per INDEX, in the
 * ontology I (-1 for all), deprecated terms included: a new array *OUT of
 * *N terms sorted by term (free() it; NULL when *N is 0). All matches are
 * kept: more than one means the text is ambiguous. Returns 0 or SC_ENOMEM.
 */
SC_MUST_CHECK int sc_onto_lookup(const sc_onto *o, int index, const char *text,
                                 int i, sc_onto_term **out, size_t *n);
/* The same in ontology I (>= 0) without allocating: KEY is in the form of
 * INDEX already (ASCII lower case for the _CI indexes); the terms go to
 * OUT[N], OUT[N + 1], ... up to OUT[CAP - 1], the rest left out. Returns
 * the new count. */
size_t sc_onto_lookup_key(const sc_onto *o, int index, const char *key, int i,
                          sc_onto_term *out, size_t cap, size_t n);

/* Tiers of sc_onto_search(), best first. */
enum {
    SC_ONTO_TIER_LABEL = 1, /* label, exact */
    SC_ONTO_TIER_LABEL_CI,  /* label, ignoring case */
    SC_ONTO_TIER_SYNONYM,   /* exact synonym, exact or ignoring case */
    SC_ONTO_TIER_TOKEN,     /* every word of the text starts a word of it */
    SC_ONTO_TIER_FUZZY,     /* a few typing errors away (edit distance) */
};

/* One suggestion of sc_onto_search(). MATCHED is the label or synonym that
 * matched, borrowed from the handle. */
typedef struct sc_onto_hit {
    sc_onto_term term;
    int tier;
    double score; /* in (0, 1], 1 for an exact label */
    const char *matched;
} sc_onto_hit;

/*
 * Ranked suggestions for free TEXT over the labels and exact synonyms of
 * ontology I (-1 for all): each term at most once, with its best tier;
 * sorted by score (the tier first, then how much of the string matched;
 * deprecated terms lose 10%), then id. At most MAX hits in a new array *OUT
 * of *N (free() it; NULL when *N is 0). Suggestions only: the token and
 * fuzzy tiers are never safe as automatic mappings. Returns 0 or SC_ENOMEM.
 */
SC_MUST_CHECK int sc_onto_search(const sc_onto *o, const char *text, int i,
                                 size_t max, sc_onto_hit **out, size_t *n);

/* "label", "label-ci", "synonym", "token", "fuzzy"; "?" for others. */
const char *sc_onto_tier_name(int tier);

/* Longest strings sc_onto_edit_distance() compares. */
#define SC_ONTO_EDIT_MAX 128

/*
 * The edit distance of A and B (NA, NB bytes): letters dropped, added or
 * replaced, and with SWAPS also two neighbours swapped, each counting 1
 * (Levenshtein, or with SWAPS the optimal string alignment distance, as
 * Damerau-Levenshtein is usually computed). LIMIT + 1 as soon as it must
 * exceed LIMIT, or when a string is longer than SC_ONTO_EDIT_MAX. The one
 * measure of both sc_onto_search()'s fuzzy tier and sc-annotate's
 * misspelt-word tier.
 */
size_t sc_onto_edit_distance(const char *a, size_t na, const char *b, size_t nb,
                             size_t limit, int swaps);

#endif
