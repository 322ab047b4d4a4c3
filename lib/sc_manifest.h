/* sc_manifest: read and write the TSV manifest that flows between tools. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_MANIFEST_H
#define SC_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "sc_err.h"
#include "sc_hash.h"

/*
 * The manifest (sc-manifest(5)): tab-separated UTF-8 text, one header line
 * naming the columns, then one dataset per line. "path" is the first column
 * and never empty; the other columns are named, unordered and extensible,
 * and a tool keeps the ones it does not know. Lines starting with '#'
 * (before or after the header) and empty lines are skipped. Input may be
 * gzip-compressed. A UTF-8 byte order mark before the header is ignored.
 *
 * Values cannot hold tabs or line breaks, so they are escaped on write and
 * unescaped on read: tab as \t, newline as \n, carriage return as \r,
 * backslash as \\, and a '#' that starts a line (a path) as \#. A backslash
 * before any other character is kept as it is.
 *
 * An sc_manifest is a column list plus, optionally, rows kept in memory
 * (sc_manifest_read, sc_manifest_add_row) or an input read row by row
 * (sc_manifest_open, sc_manifest_next). An sc_mrow is one row; it refers to
 * its manifest's columns and must not outlive it.
 *
 * Streaming: open the input, add the tool's own columns, write the header
 * (which fixes the output columns: the input's plus the tool's), then for
 * each row from sc_manifest_next set values, write the row and free it:
 *
 *     sc_manifest_open("-", &m);
 *     sc_manifest_add_col(m, SC_MCOL_N_OBS);
 *     sc_manifest_write_header(m, stdout);
 *     while ((rc = sc_manifest_next(m, &row)) > 0) {
 *         sc_mrow_setf(row, SC_MCOL_N_OBS, "%" PRId64, n);
 *         rc = sc_manifest_write_row(m, row, stdout);
 *         sc_mrow_free(row);
 *     }
 *
 * Threading: one thread changes a manifest at a time. Rows of one manifest
 * may be read and set from several threads at once as long as no column is
 * added meanwhile (add every column before starting the threads).
 */
/*
 * The column names tools share, one name each; their meaning is written in
 * sc-manifest(5) under COLUMNS. Code that writes or reads a manifest column
 * uses its constant, not a string of its own.
 */
/* path: where the dataset is; the first column, never empty */
#define SC_MCOL_PATH "path"
/* id: an accession, a portal dataset id or a registry id */
#define SC_MCOL_ID "id"
/* sha256, size, mtime_ns: SHA-256 (hex), bytes and modification time (ns
 * since the epoch) of the file at path; sha256 is "" when a tool wrote a
 * new file at path and did not hash it; the digest is trusted only while
 * size and mtime_ns match the file (sc_mrow_trusted_sha256) */
#define SC_MCOL_SHA256   "sha256"
#define SC_MCOL_SIZE     "size"
#define SC_MCOL_MTIME_NS "mtime_ns"
/* n_obs, n_vars: cells and genes of the dataset at path */
#define SC_MCOL_N_OBS  "n_obs"
#define SC_MCOL_N_VARS "n_vars"
/* organism: the dataset's NCBITaxon id (sc_elem_organism's rule), or
 * "mixed" when sc-harmonize found cells of several */
#define SC_MCOL_ORGANISM "organism"
/* source: where the dataset at path came from (a URL, or the input file a
 * tool read to write it) */
#define SC_MCOL_SOURCE "source"
/* status, reason: ok / failed / refused / skipped, and why not ok */
#define SC_MCOL_STATUS "status"
#define SC_MCOL_REASON "reason"
/* message: sc-fetch's word on a download (why it failed) */
#define SC_MCOL_MESSAGE "message"
/* report: the JSON report a tool wrote about the row */
#define SC_MCOL_REPORT "report"
/* dataset_id, dataset_version_id: the CELLxGENE ids */
#define SC_MCOL_DATASET_ID         "dataset_id"
#define SC_MCOL_DATASET_VERSION_ID "dataset_version_id"
/* weight: a dataset's sampling weight (sc-register collection members,
 * sc-stream --dataset-weights) */
#define SC_MCOL_WEIGHT "weight"
/* fetched_at: when sc-fetch downloaded or found the file (sc-register add
 * records the download from it) */
#define SC_MCOL_FETCHED_AT "fetched_at"
/* fetch_version: the version of the sc-fetch that downloaded or found the
 * file (sc-register add records it as the download's tool version) */
#define SC_MCOL_FETCH_VERSION "fetch_version"

/*
 * Columns one tool writes; their meaning is in that tool's page.
 */
/* sc-fetch: the CELLxGENE record of a dataset, and the previous version
 * of an updated file */
#define SC_MCOL_PREVIOUS_VERSION_ID   "previous_version_id"
#define SC_MCOL_COLLECTION_ID         "collection_id"
#define SC_MCOL_COLLECTION_VERSION_ID "collection_version_id"
#define SC_MCOL_COLLECTION_NAME       "collection_name"
#define SC_MCOL_TITLE                 "title"
#define SC_MCOL_SCHEMA_VERSION        "schema_version"
#define SC_MCOL_CELL_COUNT            "cell_count"
/* sc-fetch refs: a reference file's kind and name; version: its release
 * (sc-fetch refs), or the registry's version number of the dataset
 * (sc-register query) */
#define SC_MCOL_KIND    "kind"
#define SC_MCOL_NAME    "name"
#define SC_MCOL_VERSION "version"
/* sc-register: what add did with the row (new, version, known, skipped,
 * failed), and a query's format, assay and creation time */
#define SC_MCOL_REGISTERED "registered"
#define SC_MCOL_FORMAT     "format"
#define SC_MCOL_ASSAY      "assay"
#define SC_MCOL_CREATED    "created"
/* sc-annotate: the label table written, its labels and those mapped */
#define SC_MCOL_LABELS   "labels"
#define SC_MCOL_N_LABELS "n_labels"
#define SC_MCOL_N_MAPPED "n_mapped"

typedef struct sc_manifest sc_manifest;
typedef struct sc_mrow sc_mrow;

/* A new, empty manifest with the single column "path". *OUT owns it:
 * release it with sc_manifest_free(). Returns 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_manifest_new(sc_manifest **out);

/* Open the manifest at PATH ("-" for stdin) and read its header; the rows
 * then come from sc_manifest_next(). *OUT owns the manifest (free with
 * sc_manifest_free, which closes the input). Returns 0, or SC_EIO /
 * SC_ECORRUPT from reading, or SC_EFORMAT for a bad header ("'m.tsv' line
 * 1: first column is 'id', not 'path'", "duplicate column 'id'", "empty
 * column name", "no header line"); *OUT is then NULL. */
SC_MUST_CHECK int sc_manifest_open(const char *path, sc_manifest **out);

/* Read the next row of an opened manifest into *ROW, which the caller owns
 * and frees with sc_mrow_free(). Returns 1 with a row, 0 at the end, or a
 * negative code with *ROW NULL: SC_EFORMAT for a bad line ("'m.tsv' line 4:
 * 3 fields, header has 5", "'m.tsv' line 4: empty 'path'"), SC_EIO,
 * SC_ECORRUPT, SC_ENOMEM, or SC_EINVAL when M was not opened from a file. */
SC_MUST_CHECK int sc_manifest_next(sc_manifest *m, sc_mrow **row);

/* Open PATH and read every row into memory (sc_manifest_nrows/row), then
 * close the input. Returns and errors as for sc_manifest_open/next. */
SC_MUST_CHECK int sc_manifest_read(const char *path, sc_manifest **out);

/* Free M, its stored rows and its input; NULL is a no-op. Rows the caller
 * owns (from sc_manifest_next or sc_mrow_new) must be freed first. */
void sc_manifest_free(sc_manifest *m);

/* The input's name for messages (the path, or "<stdin>"), or "" for a
 * manifest made with sc_manifest_new. Borrowed from M. */
const char *sc_manifest_name(const sc_manifest *m);

/* The columns: their number, the name of column I (borrowed from M; column
 * 0 is "path"), and the index of column NAME or -1. */
size_t sc_manifest_ncols(const sc_manifest *m);
const char *sc_manifest_col(const sc_manifest *m, size_t i);
long sc_manifest_col_index(const sc_manifest *m, const char *name);

/* Add column NAME at the end unless M already has it. Returns 0, SC_EINVAL
 * for a name that is empty or holds a tab or line break, or that is new
 * after the header was written ("cannot add column 'x' after the header"),
 * or SC_ENOMEM. */
SC_MUST_CHECK int sc_manifest_add_col(sc_manifest *m, const char *name);

/* The rows stored in M (sc_manifest_read, sc_manifest_add_row): their
 * number, and row I (owned by M; do not pass it to sc_mrow_free). */
size_t sc_manifest_nrows(const sc_manifest *m);
sc_mrow *sc_manifest_row(const sc_manifest *m, size_t i);

/* Append a row with path PATH to the rows stored in M, and set *ROW to it
 * when ROW is not NULL (owned by M). Returns 0, SC_EINVAL for an empty
 * PATH, or SC_ENOMEM. */
SC_MUST_CHECK int sc_manifest_add_row(sc_manifest *m, const char *path,
                                      sc_mrow **row);

/* A row of M that is not stored in M (for streaming output), with path
 * PATH. *OUT belongs to the caller: free it with sc_mrow_free() before
 * freeing M. Returns 0, SC_EINVAL for an empty PATH, or SC_ENOMEM. */
SC_MUST_CHECK int sc_mrow_new(sc_manifest *m, const char *path, sc_mrow **out);

/* Free a row the caller owns; NULL, and rows stored in a manifest, are
 * left alone. */
void sc_mrow_free(sc_mrow *r);

/* The value of column COL in R: NULL when the manifest has no such column,
 * "" when the row has no value. Borrowed until the value is set again. */
const char *sc_mrow_get(const sc_mrow *r, const char *col);

/* The row's path (never empty), borrowed like sc_mrow_get. */
const char *sc_mrow_path(const sc_mrow *r);

/* The input line the row was read from, or 0, for messages. */
long sc_mrow_lineno(const sc_mrow *r);

/* Set column COL of R to a copy of VAL (NULL or "" for empty), adding the
 * column to the manifest when it is new (see sc_manifest_add_col).
 * sc_mrow_setf formats the value with printf. Returns 0, SC_EINVAL (an
 * empty path, or a bad or late new column), or SC_ENOMEM. */
SC_MUST_CHECK int sc_mrow_set(sc_mrow *r, const char *col, const char *val);
SC_MUST_CHECK int sc_mrow_setf(sc_mrow *r, const char *col, const char *fmt,
                               ...) SC_PRINTF(3, 4);

/* Write the header line of M's columns to FP. This fixes the columns: none
 * can be added afterwards. Returns 0, or SC_EIO ("cannot write manifest:
 * ..."); the caller adds the file name with sc_fail_ctx. */
/* 1 when an earlier tool did not produce a usable file for this row (its
 * `status` is "failed" or "refused"): later tools pass such a row on
 * unchanged instead of processing the file its path names. */
int sc_mrow_skipped(const sc_mrow *r);

/* Point the row at a new file PATH that this tool wrote: sets `path`, and
 * `size` from the file when that column exists; an `sha256` column that
 * described the previous file is emptied (it would be wrong now). */
SC_MUST_CHECK int sc_mrow_set_output(sc_mrow *r, const char *path);

/* Record in R, for the tools after this one, that the file at R's path
 * has SIZE bytes and the digest SHA256 (computed by the caller as it wrote
 * or read the file; NULL leaves `sha256` as it is): sets `size`, `sha256`
 * and `mtime_ns`, the file's modification time in nanoseconds since the
 * epoch, when the file has SIZE bytes now; else `mtime_ns` is emptied, so
 * that no tool trusts the digest. Columns are added when new (which fails
 * once the header is written: add them first). Returns 0, SC_EINVAL or
 * SC_ENOMEM. */
SC_MUST_CHECK int sc_mrow_set_file(sc_mrow *r, int64_t size,
                                   const char *sha256);

/* Whether R's `sha256` can stand for the digest of the file at PATH (R's
 * path, or the path a tool opens for it) without hashing it: it is 64 hex
 * digits and R's `size` and `mtime_ns` are both present and equal the
 * file's current size and modification time (a regular file). Then the
 * digest is copied to HEX (lower case) and 1 is returned; else 0 (a row
 * without those columns, as written before they existed, a changed file,
 * a value that is not a plain number): the caller hashes the file. Says
 * which at the info level (-v). */
int sc_mrow_trusted_sha256(const sc_mrow *r, const char *path,
                           char hex[SC_HASH_HEX_SIZE]);

/* The sha256 of the file at PATH that R describes: R's when
 * sc_mrow_trusted_sha256 trusts it (R may be NULL), else computed with
 * sc_hash_file. Returns 0 or as sc_hash_file. */
SC_MUST_CHECK int sc_mrow_sha256(const sc_mrow *r, const char *path,
                                 char hex[SC_HASH_HEX_SIZE]);

/* What a batch tool does with one row: process the dataset at PATH (a copy
 * of the row's path) and fill in ROW's columns. Returns 0 or SC_E*. */
typedef int (*sc_mrow_fn)(void *ud, const char *path, sc_mrow *row);

/*
 * The per-dataset loop of the batch tools. Rows come from M (a manifest
 * opened with sc_manifest_open) when FROM_STDIN, else one row per path of
 * ARGV. A row an earlier tool failed or refused (sc_mrow_skipped) is passed
 * on unchanged; FN is called for the others. When FN fails, the row gets
 * status "failed" and the message as reason; with KEEP_GOING the message is
 * logged as a warning and the loop goes on, else it stops with that error.
 * Every row is written to FP (after the header, which the caller writes)
 * and flushed. *N_DONE and *N_FAILED count the rows FN ran on and failed.
 * Returns 0, the first error, or a write error.
 */
SC_MUST_CHECK int sc_manifest_each(sc_manifest *m, int from_stdin, int argc,
                                   char **argv, FILE *fp, int keep_going,
                                   sc_mrow_fn fn, void *ud, int *n_done,
                                   int *n_failed);

SC_MUST_CHECK int sc_manifest_write_header(sc_manifest *m, FILE *fp);

/* Write row R of M (stored or not) to FP, escaped, in the column order of
 * the header, which must have been written. Returns 0, SC_EINVAL when no
 * header was written or R belongs to another manifest, or SC_EIO. */
SC_MUST_CHECK int sc_manifest_write_row(const sc_manifest *m, const sc_mrow *r,
                                        FILE *fp);

/* Write the value S to FP escaped as above; FIRST says it starts the line
 * (a '#' there is escaped). For other tab-separated tables too. */
void sc_manifest_put_escaped(const char *s, int first, FILE *fp);

/* Write the header and every stored row of M to FP. Returns as above. */
SC_MUST_CHECK int sc_manifest_write(sc_manifest *m, FILE *fp);

#endif
