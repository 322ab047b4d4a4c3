/* sc_cxg: the CELLxGENE Discover curation API (datasets, collections). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_CXG_H
#define SC_CXG_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"
#include "sc_http.h"

/* The public service; SC_CXG_API_URL or --api-url replace it. */
#define SC_CXG_DEFAULT_URL "https://api.cellxgene.cziscience.com"

/* An ontology term as the API gives it ("label", "ontology_term_id"). */
typedef struct sc_cxg_term {
    char *label;
    char *id;
} sc_cxg_term;

typedef struct sc_cxg_terms {
    sc_cxg_term *v;
    size_t n;
} sc_cxg_terms;

/* A downloadable file of a dataset ("filetype" H5AD or RDS). */
typedef struct sc_cxg_asset {
    char *filetype;
    char *url;
    int64_t filesize; /* -1 when absent or null */
} sc_cxg_asset;

/* The multi-valued ontology fields of a dataset, in this order. */
enum {
    SC_CXG_ORGANISM,
    SC_CXG_ASSAY,
    SC_CXG_TISSUE,
    SC_CXG_DISEASE,
    SC_CXG_CELL_TYPE,
    SC_CXG_DEVELOPMENT_STAGE,
    SC_CXG_SEX,
    SC_CXG_ETHNICITY,
    SC_CXG_N_TERMS
};

/*
 * One dataset, from any endpoint that returns dataset objects (the index,
 * a collection, the versions of a dataset). Every string is "" when the key
 * is absent or null (never NULL); numbers are -1 then. Unknown keys are
 * ignored.
 */
typedef struct sc_cxg_dataset {
    char *dataset_id;
    char *dataset_version_id;
    char *collection_id;
    char *collection_version_id;
    char *collection_name;
    char *collection_doi;
    char *title;
    char *schema_version;
    char *published_at;
    char *revised_at;
    int64_t cell_count;
    sc_cxg_terms terms[SC_CXG_N_TERMS];
    char **suspension_type;
    size_t n_suspension_type;
    sc_cxg_asset *assets;
    size_t n_assets;
} sc_cxg_dataset;

/* A collection (GET /collections, /collections/{id}). DATASET_IDS lists
 * the ids of its datasets (previews or full objects). */
typedef struct sc_cxg_collection {
    char *collection_id;
    char *collection_version_id;
    char *name;
    char *doi;
    char *visibility;
    char *published_at;
    char *revised_at;
    char **dataset_ids;
    size_t n_datasets;
} sc_cxg_collection;

/* The JSON key of term field K ("organism", ...), and the field of a key
 * name as used by filters ("organism", "cell_type", ...; -1 if none). */
const char *sc_cxg_term_key(int k);

/*
 * Parse JSON text (LEN bytes) holding an array of dataset objects, or one
 * object, into *OUT (*N entries; free with sc_cxg_datasets_free). A
 * collection_version object ({"dataset_versions": [...]}) or a collection
 * ({"datasets": [...]}) gives its datasets, which inherit its
 * collection_id, collection_version_id, name and doi when they lack them.
 * NAME names the input in messages. Returns 0, SC_EFORMAT ("'NAME': not
 * JSON: ... at line 1 column 2", "'NAME': item 3 is not an object"), or
 * SC_ENOMEM. Thread-safe.
 */
SC_MUST_CHECK int sc_cxg_parse_datasets(const char *json, size_t len,
                                        const char *name, sc_cxg_dataset **out,
                                        size_t *n);
void sc_cxg_datasets_free(sc_cxg_dataset *v, size_t n);

/* The same for an array of collections, or one collection. */
SC_MUST_CHECK int sc_cxg_parse_collections(const char *json, size_t len,
                                           const char *name,
                                           sc_cxg_collection **out, size_t *n);
void sc_cxg_collections_free(sc_cxg_collection *v, size_t n);

/* The H5AD asset of D, or NULL when it has none. Borrowed from D. */
const sc_cxg_asset *sc_cxg_h5ad(const sc_cxg_dataset *d);

/* Labels (or ids, with IDS non-zero) of term field K of D joined by
 * " || ", as a new string (caller frees), or NULL when out of memory. */
char *sc_cxg_terms_join(const sc_cxg_dataset *d, int k, int ids);

/* 1 when S looks like a CELLxGENE id (a UUID: 8-4-4-4-12 hex digits). */
int sc_cxg_is_id(const char *s);

/* ---- the client ---- */

typedef struct sc_cxg sc_cxg;

/* A client for the API at BASE_URL ("http://127.0.0.1:8080"; a trailing
 * "/" or "/curation/v1" is accepted) with transfer settings O (borrowed:
 * keep it alive). *OUT owns it: sc_cxg_free(). Returns 0, SC_EINVAL for an
 * empty URL, or SC_ENOMEM. Thread-safe once made. */
SC_MUST_CHECK int sc_cxg_new(const char *base_url, const sc_http_opts *o,
                             sc_cxg **out);
void sc_cxg_free(sc_cxg *c);

/* GET /curation/v1/datasets[?schema_version=V] (V NULL or "": all). */
SC_MUST_CHECK int sc_cxg_datasets(sc_cxg *c, const char *schema_version,
                                  sc_cxg_dataset **out, size_t *n);

/* GET /curation/v1/datasets/{ID}/versions (newest first). */
SC_MUST_CHECK int sc_cxg_dataset_versions(sc_cxg *c, const char *dataset_id,
                                          sc_cxg_dataset **out, size_t *n);

/* GET /curation/v1/dataset_versions/{ID}: one dataset (*N is 1). */
SC_MUST_CHECK int sc_cxg_dataset_version(sc_cxg *c, const char *version_id,
                                         sc_cxg_dataset **out, size_t *n);

/* GET /curation/v1/collections (previews). */
SC_MUST_CHECK int sc_cxg_collections(sc_cxg *c, sc_cxg_collection **out,
                                     size_t *n);

/* GET /curation/v1/collections/{ID}: its datasets, full objects. */
SC_MUST_CHECK int sc_cxg_collection_datasets(sc_cxg *c, const char *id,
                                             sc_cxg_dataset **out, size_t *n);

/* Every call returns 0, SC_ENOTFOUND (HTTP 404/410 or 403 for an unknown
 * id), SC_ENET, SC_EFORMAT (unexpected JSON), SC_EINVAL (an id with
 * characters other than letters, digits, '-' and '.'), SC_ENOMEM. */

/* ---- reference data ---- */

/* A reference file named by the vendored index files. DEST is the path to
 * give it inside a reference directory, made of checked names
 * ("ontology/CL/v2026-03-26/cl.owl", "genes/schema-7/human/x.gtf.gz"). */
typedef struct sc_cxg_ref {
    char *kind;    /* "ontology" or "genes" */
    char *name;    /* "CL", "human" */
    char *version; /* "v2026-03-26", "48", or "" */
    char *url;
    char *dest;
} sc_cxg_ref;

/*
 * The reference files named under the data directory SHARE:
 * ontology/cxg-guide/latest_ontology_info.json (or, with SCHEMA_VERSION,
 * that version's entry of ontology_info.json), where each ontology's
 * "source" has {version} and {filename} filled in, and every
 * genes/<dir>/<set>/gene_info.yml (or genes/<dir>/gene_info.yml), where
 * "url" has {version} filled in. Duplicate URLs are listed once. Sets
 * *OUT (free with sc_cxg_refs_free) and *N. Returns 0, SC_ENOTFOUND when no
 * index file exists ("no reference index under 'SHARE'") or the schema
 * version is not in ontology_info.json, SC_EFORMAT for a damaged index or
 * an unsafe name in it, SC_EIO, SC_ENOMEM.
 */
SC_MUST_CHECK int sc_cxg_refs(const char *share, const char *schema_version,
                              sc_cxg_ref **out, size_t *n);
void sc_cxg_refs_free(sc_cxg_ref *v, size_t n);

/* ---- local filters ---- */

/*
 * Which datasets to keep: a list of (field, value) conditions; the
 * conditions on one field are alternatives (OR), different fields must all
 * hold (AND). Term fields (organism, assay, tissue, disease, cell_type,
 * development_stage, sex, self_reported_ethnicity) match a term by its
 * ontology id exactly or its label without regard to case ("human" and
 * "mouse" also name their NCBITaxon ids). "suspension_type" matches a
 * value without regard to case; "schema_version" a version or a prefix of
 * whole components ("5" and "5.2" match "5.2.0"); "collection" a
 * collection id, version id or name (case ignored); "dataset" a dataset or
 * dataset version id. MIN_CELLS and MAX_CELLS (-1: none) bound cell_count.
 * Caller-owned: start from SC_CXG_FILTER_INIT, release with
 * sc_cxg_filter_release().
 */
typedef struct sc_cxg_filter {
    struct sc_cxg_cond *conds;
    size_t n;
    int64_t min_cells;
    int64_t max_cells;
} sc_cxg_filter;

#define SC_CXG_FILTER_INIT                                                     \
    {                                                                          \
        NULL, 0, -1, -1                                                        \
    }

/* Add the condition FIELD = VALUE (both copied). Returns 0, SC_EINVAL for
 * an unknown field ("unknown filter field 'x'"), or SC_ENOMEM. */
SC_MUST_CHECK int sc_cxg_filter_add(sc_cxg_filter *f, const char *field,
                                    const char *value);

/* 1 when F has no condition at all (cell bounds included). */
int sc_cxg_filter_empty(const sc_cxg_filter *f);

/* 1 when D passes every condition of F, else 0. Thread-safe. */
int sc_cxg_filter_match(const sc_cxg_filter *f, const sc_cxg_dataset *d);

void sc_cxg_filter_release(sc_cxg_filter *f);

#endif
