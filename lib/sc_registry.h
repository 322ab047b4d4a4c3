/* sc_registry: the dataset registry (artifacts, terms, lineage, collections).
 */
/* SPDX-License-Identifier: MIT */
#ifndef SC_REGISTRY_H
#define SC_REGISTRY_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * A registry holds artifacts (files identified by their content sha256,
 * with a version chain per storage path), the ontology terms of each
 * dataset with their cell counts, gene sets (one row per distinct set,
 * shared), transforms (tool + version) and runs with their inputs and
 * outputs (lineage), and collections with frozen, numbered, immutable
 * versions.
 *
 * The API never shows SQL. Two backends: SQLite (one file, WAL, foreign
 * keys on, a busy timeout plus retries, one transaction per call that
 * writes) and PostgreSQL (libpq; a "postgresql://" URI, with libpq's PG*
 * variables and service files; concurrent writers wait on row and key
 * locks inside their transactions). The SQL common to both lives in
 * sc_registry.c, what differs in sc_registry_sqlite.c and
 * sc_registry_pg.c. Every SQL value is a bound parameter.
 *
 * Threading: a handle is used by one thread. Many processes may use one
 * registry at once.
 */
typedef struct sc_registry sc_registry;

/* The schema version this code writes and reads. */
#define SC_REGISTRY_SCHEMA 2

/* Flags of sc_registry_open(). */
enum {
    SC_REGISTRY_CREATE = 1u << 0,     /* create the registry if missing */
    SC_REGISTRY_READONLY = 1u << 1,   /* open for reading only */
    SC_REGISTRY_NETWORK_FS = 1u << 2, /* a SQLite file on a network file
                                         system too (sc_registry_fs_check) */
};

/*
 * Open the registry at PATH (a file name, "sqlite:PATH", or a
 * "postgresql://" URI: a PostgreSQL database),
 * created with the current schema if FLAGS has SC_REGISTRY_CREATE. An
 * existing registry of an older schema version is migrated; a newer one is
 * refused (SC_EUNSUP). On success *OUT owns the handle: release it with
 * sc_registry_close(). Returns 0 or a negative SC_E* code (text in
 * sc_errmsg()): SC_ENOTFOUND when PATH does not exist and CREATE is not
 * given, SC_EREGISTRY for database errors. One thread only.
 */
SC_MUST_CHECK int sc_registry_open(const char *path, unsigned flags,
                                   sc_registry **out);

/* Close REG (NULL is a no-op). Returns 0 or SC_EREGISTRY. */
int sc_registry_close(sc_registry *reg);

/* The schema version recorded in REG. */
int sc_registry_schema(const sc_registry *reg);

/* The SQLite library's name and version ("sqlite 3.40.1"). Static. */
const char *sc_registry_backend(void);

/* The backend of REG: "sqlite" or "postgresql". Static. */
const char *sc_registry_backend_of(const sc_registry *reg);

/* Whether URI names a PostgreSQL registry ("postgresql://", "postgres://"). */
int sc_registry_is_pg(const char *uri);

/*
 * Refuse a SQLite registry file PATH (or the directory it would be made in)
 * on a network file system (NFS, CIFS/SMB, Lustre, GPFS, Ceph, AFS, 9p,
 * GFS2, OCFS2, BeeGFS, PanFS...; statfs), where SQLite's file locking is
 * unsafe: SC_EUNSUP with a one-line message naming PostgreSQL. Allowed when
 * $SC_REGISTRY_FORCE_NETWORK_FS is set (not "0"). $SC_REGISTRY_TEST_FSTYPE
 * ("nfs", "lustre"...) pretends the file system is that one (tests).
 * sc_registry_open() calls it for SQLite files (not with
 * SC_REGISTRY_NETWORK_FS).
 */
SC_MUST_CHECK int sc_registry_fs_check(const char *path);

/* ---- storage roots ---- */

/* Register DIR (made absolute) as a storage root: files below it are
 * stored by their path relative to it, so that the tree can move (change
 * the root with sc_registry_set_root). Returns 0 (also when it is known),
 * SC_EIO when DIR cannot be resolved, SC_EREGISTRY. */
SC_MUST_CHECK int sc_registry_add_root(sc_registry *reg, const char *dir);

/* Point root number ID at DIR instead (the tree moved). */
SC_MUST_CHECK int sc_registry_set_root(sc_registry *reg, int64_t id,
                                       const char *dir);

/* Call FN(ID, DIR, UD) for each root, in id order; a non-zero return of FN
 * stops and is returned. */
SC_MUST_CHECK int
sc_registry_roots(sc_registry *reg,
                  int (*fn)(int64_t id, const char *dir, void *ud), void *ud);

/* ---- registering ---- */

/* One field's term with its cell count: FIELD is the obs column without
 * "_ontology_term_id" ("cell_type", "tissue", "organism"...), TERM the id
 * ("CL:0000625"), LABEL the label the dataset gives it (may be NULL). */
typedef struct sc_reg_term {
    const char *field;
    const char *term;
    const char *label;
    int64_t n_cells;
} sc_reg_term;

/* A run recorded with a dataset (from its provenance): the transform, the
 * run's details, its inputs (sha256 of registered or future artifacts, or
 * URIs such as a download's source) and its output (a sha256; NULL for the
 * dataset being registered). TIME is ISO 8601 text or NULL. */
typedef struct sc_reg_step {
    const char *tool, *version, *arguments, *host, *time;
    const char *const *inputs; /* sha256 hex (64 digits) or URIs */
    size_t n_inputs;
    const char *output_sha256;
} sc_reg_step;

/* What sc_registry_add() registers. PATH is the file's path as given (it
 * is made absolute, and relative to a storage root when under one);
 * FORMAT "h5ad", "10x-h5-v3"..., or "file" for other files (model
 * checkpoints), then the dataset fields may be 0/NULL. */
typedef struct sc_reg_dataset {
    const char *path;
    const char *sha256; /* 64 lower-case hex digits */
    int64_t size;
    int64_t mtime; /* seconds, for verify's quick check */
    const char *format;
    int64_t n_obs, n_vars;
    const char *organism, *assay, *schema_version;
    const sc_reg_term *terms;
    size_t n_terms;
    const char *const *genes; /* the var index; order does not matter */
    size_t n_genes;
    const sc_reg_step *steps;
    size_t n_steps;
} sc_reg_dataset;

/* What sc_registry_add() did. */
enum {
    SC_REG_NEW = 0,     /* a new artifact */
    SC_REG_VERSION = 1, /* a new version of the artifact at that path */
    SC_REG_KNOWN = 2,   /* that content was registered already */
};

/*
 * Register D in one transaction (all or nothing): the artifact, its terms,
 * its gene set (shared with every dataset that has the same genes) and the
 * runs of its steps (each run once, however many files carry it). Content
 * already registered is not registered again (*STATUS SC_REG_KNOWN); new
 * content at a path already registered becomes the next version there, the
 * older one kept (SC_REG_VERSION). *ID is the artifact id. Waits for other
 * writers (busy timeout, then retries). Returns 0, SC_EINVAL for a bad
 * sha256, SC_EREGISTRY.
 */
SC_MUST_CHECK int sc_registry_add(sc_registry *reg, const sc_reg_dataset *d,
                                  int64_t *id, int *status);

/* ---- artifacts ---- */

/* An artifact as returned by queries. Strings are borrowed for the
 * duration of the callback only. PATH is the current absolute path (its
 * root resolved). N_MATCH is the number of cells matching the query's term
 * conditions (n_obs without any). WEIGHT is a collection version's weight,
 * else 1. */
typedef struct sc_reg_artifact {
    int64_t id;
    const char *sha256, *path, *format;
    int64_t size, mtime, n_obs, n_vars;
    const char *organism, *assay, *schema_version;
    int64_t created;  /* seconds since the epoch */
    int64_t version;  /* 1, 2, ... along its path */
    int64_t previous; /* id of the previous version, or 0 */
    int latest;       /* 1 if no newer version replaced it */
    int64_t n_match;
    double weight;
} sc_reg_artifact;

typedef int (*sc_reg_artifact_fn)(const sc_reg_artifact *a, void *ud);

/* Find the artifact named by REF: an id ("12"), a sha256 or a unique
 * prefix of at least 6 hex digits, or a path (the latest version there).
 * Returns 0 with *ID, SC_ENOTFOUND, SC_EINVAL (ambiguous prefix). */
SC_MUST_CHECK int sc_registry_resolve(sc_registry *reg, const char *ref,
                                      int64_t *id);

/* Call FN with artifact ID. Returns 0, SC_ENOTFOUND, or FN's non-zero. */
SC_MUST_CHECK int sc_registry_get(sc_registry *reg, int64_t id,
                                  sc_reg_artifact_fn fn, void *ud);

/* Call FN(FIELD, TERM, LABEL, N_CELLS, UD) for each term of artifact ID,
 * sorted by field then cell count (descending). */
SC_MUST_CHECK int
sc_registry_terms(sc_registry *reg, int64_t id,
                  int (*fn)(const char *field, const char *term,
                            const char *label, int64_t n_cells, void *ud),
                  void *ud);

/* The gene set of artifact ID: its number of genes and its id (0 when the
 * artifact has none). */
SC_MUST_CHECK int sc_registry_geneset(sc_registry *reg, int64_t id,
                                      int64_t *geneset, int64_t *n_genes);

/* ---- queries ---- */

/* One term condition: the artifact has cells of FIELD with one of TERMS
 * (already expanded to descendants by the caller, who has the ontology). */
typedef struct sc_reg_cond {
    const char *field;
    const char *const *terms;
    size_t n_terms;
} sc_reg_cond;

/* A query: every given condition must hold. Zero/NULL means no condition. */
typedef struct sc_reg_query {
    const sc_reg_cond *conds;
    size_t n_conds;
    int64_t min_cells;        /* n_match of every term condition, else n_obs */
    const char *const *genes; /* every one of these genes is measured */
    size_t n_genes;
    int64_t created_after, created_before; /* seconds; 0 for none */
    const char *transform; /* made (at any depth) by a run of this tool */
    const char *transform_version; /* ... of this version */
    const char *format;
    int all_versions; /* 0: only the latest version at each path */
    int64_t limit;    /* 0: no limit */
} sc_reg_query;

/* Call FN for each artifact matching Q, by id. */
SC_MUST_CHECK int sc_registry_query(sc_registry *reg, const sc_reg_query *q,
                                    sc_reg_artifact_fn fn, void *ud);

/* Cells per term of FIELD over the members of collection version VERSION
 * (0: every latest artifact): FN(TERM, LABEL, N_CELLS, N_DATASETS, UD),
 * most cells first. */
SC_MUST_CHECK int
sc_registry_counts(sc_registry *reg, int64_t version, const char *field,
                   int (*fn)(const char *term, const char *label,
                             int64_t n_cells, int64_t n_datasets, void *ud),
                   void *ud);

/* ---- runs and lineage ---- */

/* Start a run of TOOL VERSION with ARGUMENTS on HOST (the transform is
 * created when new); *RUN is its id, status "running". */
SC_MUST_CHECK int sc_registry_run_start(sc_registry *reg, const char *tool,
                                        const char *version,
                                        const char *arguments, const char *host,
                                        int64_t *run);

/* Record an input (OUTPUT 0) or output (1) of RUN: an artifact (ARTIFACT >
 * 0), a collection version (VERSION > 0), or a URI. */
SC_MUST_CHECK int sc_registry_run_link(sc_registry *reg, int64_t run,
                                       int output, int64_t artifact,
                                       int64_t version, const char *uri);

/* Finish RUN with STATUS ("ok", "failed"...). SC_EINVAL when it is not
 * running, SC_ENOTFOUND when there is no such run. */
SC_MUST_CHECK int sc_registry_run_finish(sc_registry *reg, int64_t run,
                                         const char *status);

/* A node of the lineage graph. */
enum {
    SC_REG_NODE_ARTIFACT = 0,
    SC_REG_NODE_RUN = 1,
    SC_REG_NODE_VERSION = 2, /* a collection version */
    SC_REG_NODE_URI = 3,     /* an external source (a download URL) */
    SC_REG_NODE_MISSING = 4, /* a sha256 not registered (yet) */
};

typedef struct sc_reg_node {
    int kind;
    int64_t id;         /* artifact, run or collection version id */
    const char *label;  /* "ds1.h5ad", "sc-harmonize 0.4.1 (ok)", "lung@2" */
    const char *detail; /* time, sha256, arguments... */
    int depth;          /* distance from the start, 0 for it */
    int64_t parent_kind, parent_id; /* the node it was reached from */
    const char *parent_ref;
} sc_reg_node;

/*
 * Walk the lineage of artifact ID upstream (DOWN 0: the runs that made it,
 * their inputs, ...) or downstream (DOWN 1: runs that used it, their
 * outputs, collection versions holding it and their runs...), depth first,
 * calling FN for each edge's far node (a node reached twice is reported
 * twice but expanded once). MAX_DEPTH bounds the walk (0: 64).
 */
SC_MUST_CHECK int sc_registry_lineage(sc_registry *reg, int64_t id, int down,
                                      int max_depth,
                                      int (*fn)(const sc_reg_node *n, void *ud),
                                      void *ud);

/* ---- collections ---- */

/* Create collection NAME (SC_EEXIST when it exists). */
SC_MUST_CHECK int sc_registry_collection_create(sc_registry *reg,
                                                const char *name,
                                                const char *description);

/* Add artifacts IDS (N of them) to the working set of collection NAME with
 * WEIGHTS (NULL: 1 each; an existing member's weight is updated), or
 * remove them (REMOVE 1). One transaction. *CHANGED (may be NULL) counts
 * the members added or removed. */
SC_MUST_CHECK int sc_registry_collection_edit(sc_registry *reg,
                                              const char *name, int remove,
                                              const int64_t *ids,
                                              const double *weights, size_t n,
                                              int64_t *changed);

/* Freeze the working set of NAME into its next numbered version: *VERSION
 * is the number (1, 2, ...) and *VID its id. Frozen versions cannot change
 * (the database refuses it). SC_EINVAL when the set is empty. */
SC_MUST_CHECK int sc_registry_collection_freeze(sc_registry *reg,
                                                const char *name,
                                                int64_t *version, int64_t *vid);

/* Find collection version REF "NAME@N" (or "NAME@latest", or "NAME" for
 * the latest) as its id *VID. SC_ENOTFOUND. */
SC_MUST_CHECK int sc_registry_collection_version(sc_registry *reg,
                                                 const char *ref, int64_t *vid);

/* Call FN for each member of collection version VID (by artifact id),
 * with n_obs and weight as frozen. */
SC_MUST_CHECK int sc_registry_collection_members(sc_registry *reg, int64_t vid,
                                                 sc_reg_artifact_fn fn,
                                                 void *ud);

/*
 * The split file (sc-stream split: which cells are for training, validation
 * and test) of collection version VID, kept with it as the version is: once
 * stored it cannot change (the database refuses it). sc_registry_split_set
 * stores the LEN bytes of CONTENT (text without NUL bytes) and their sha256
 * in *SHA256; storing the same bytes again is a no-op, other bytes are
 * SC_EEXIST ("NAME@N has a split already"). sc_registry_split_get gives the
 * bytes back in *CONTENT (NUL-terminated, the caller frees) and *LEN, and
 * their sha256, checked against the stored one (SC_EREGISTRY when they
 * differ); *CONTENT NULL when the version has no split. Both return 0 or
 * SC_EREGISTRY / SC_ENOMEM / SC_EEXIST.
 */
SC_MUST_CHECK int sc_registry_split_set(sc_registry *reg, int64_t vid,
                                        const char *content, size_t len,
                                        char sha256[65]);
SC_MUST_CHECK int sc_registry_split_get(sc_registry *reg, int64_t vid,
                                        char **content, size_t *len,
                                        char sha256[65]);

/* Call FN for the members of collection NAME's working set. */
SC_MUST_CHECK int sc_registry_collection_draft(sc_registry *reg,
                                               const char *name,
                                               sc_reg_artifact_fn fn, void *ud);

/* Call FN(NAME, VERSIONS, MEMBERS, DESCRIPTION, UD) for each collection:
 * its number of frozen versions and of working-set members. */
SC_MUST_CHECK int sc_registry_collections(
    sc_registry *reg,
    int (*fn)(const char *name, int64_t versions, int64_t members,
              const char *description, void *ud),
    void *ud);

/* Paths of every latest artifact, sorted, for verify: FN(ID, PATH, SHA256,
 * SIZE, MTIME, UD). */
SC_MUST_CHECK int sc_registry_files(sc_registry *reg,
                                    int (*fn)(int64_t id, const char *path,
                                              const char *sha256, int64_t size,
                                              int64_t mtime, void *ud),
                                    void *ud);

/* Whether PATH (absolute) is the path of a latest artifact: *FOUND. */
SC_MUST_CHECK int sc_registry_has_path(sc_registry *reg, const char *path,
                                       int *found);

/* ---- copying a registry ---- */

/* The number of tables of the registry's schema. */
#define SC_REG_N_TABLES 14

/* One table of a copy's check: its rows and the sha256 of their values in
 * key order (the same text on every backend), and whether the destination
 * has the same after the copy. */
typedef struct sc_reg_table_sum {
    const char *table; /* static */
    int64_t rows;
    char sha256[65];
    int same;
} sc_reg_table_sum;

/*
 * Copy every row of SRC into DST, a new registry (only its creation's rows:
 * SC_EEXIST otherwise), ids and all, from one snapshot of SRC in one
 * transaction of DST (all or nothing): sc-register migrate, SQLite to
 * PostgreSQL or back. Then checks that DST holds the same rows: SUMS, one
 * per table, are SRC's, with SAME set. Returns 0, SC_EEXIST, SC_EREGISTRY
 * (also when a table differs).
 */
SC_MUST_CHECK int sc_registry_copy(sc_registry *src, sc_registry *dst,
                                   sc_reg_table_sum sums[SC_REG_N_TABLES]);

/* Run the database's consistency check; *OK 1 when it passes. */
SC_MUST_CHECK int sc_registry_check(sc_registry *reg, int *ok);

/* ---- reading a dataset for registration ---- */

/* What sc_registry_describe() read: the dataset D ready for
 * sc_registry_add(), with the storage behind its strings. */
typedef struct sc_reg_meta sc_reg_meta;

/* Flags of sc_registry_describe(). */
enum {
    SC_REG_ANY_FILE = 1u << 0, /* a file that is not a dataset is format
                                  "file" instead of an error */
    SC_REG_NO_HASH = 1u << 1,  /* do not hash: SHA256 is given */
    SC_REG_CHECK_X = 1u << 2,  /* read X once: its indices in range and
                                  every chunk inflates (else SC_EFORMAT) */
};

/*
 * Read what the registry keeps about the file at PATH: size, mtime, the
 * sha256 (streamed; with SC_REG_NO_HASH the caller's SHA256 is used), and
 * for a dataset (h5ad, 10x, loom; sc_adata_open) its format, shape, the
 * terms of every obs column "<field>_ontology_term_id" with their cell
 * counts and the labels of the "<field>" column beside it, the organism
 * (uns or obs organism_ontology_term_id), the most common assay, the
 * schema version (uns), the gene ids (the var index) and the provenance
 * steps of uns['provenance'] (see sc-register(1), PROVENANCE).
 * On success *OUT owns the result: release it with sc_reg_meta_free().
 * Returns 0, SC_EIO, SC_EFORMAT ("'x.txt' is not a dataset"), SC_EHDF5,
 * SC_ENOMEM. Thread-safe for distinct files (HDF5 serialises itself).
 */
SC_MUST_CHECK int sc_registry_describe(const char *path, unsigned flags,
                                       const char *sha256, sc_reg_meta **out);

/* The dataset read, borrowed from M. */
const sc_reg_dataset *sc_reg_meta_dataset(const sc_reg_meta *m);

/* Append a step to M's steps (copied), as a manifest's download source
 * does. Returns 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_reg_meta_add_step(sc_reg_meta *m, const sc_reg_step *s);

/* Free M; NULL is a no-op. */
void sc_reg_meta_free(sc_reg_meta *m);

#endif
