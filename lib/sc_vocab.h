/* sc_vocab: the label vocabulary file (vocab_FIELD.tsv), read and written. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_VOCAB_H
#define SC_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"

/*
 * A vocabulary file gives the labels of one field integer codes, so that a
 * model's classes are the same across tools. sc-annotate export writes one
 * per field, DIR/vocab_FIELD.tsv (sc-annotate(1), FILES); sc-stream --vocab
 * reads any (sc-stream(1), FILES), and python/sc_datamodule.py reads the
 * export's (read_vocab, with the same rules and messages).
 *
 * Tab-separated UTF-8 text, one term a line. Lines starting with '#' and
 * empty lines are skipped.
 *
 * The first line is a header when its first field is not a number; it then
 * must name the column "code" first. The export writes the columns
 *
 *     code  term_id  label  is_leaf  depth  n_cells  [coarse_id coarse_label]
 *
 * code is -1 (the unknown term, the export's first line) or 0, 1, 2, ... in
 * order (the export: the leaves, then their parents); term_id the ontology
 * id ("unknown" for -1), label its label, is_leaf 1 or 0, depth the
 * smallest distance to a root (-1 for unknown), n_cells the cells labelled
 * with the term, and with --coarse the coarse class the term falls in.
 * New columns may be added at the end: readers find columns by name.
 *
 * Reading: every column but code and the export's data columns (is_leaf,
 * depth, n_cells, coarse_id, coarse_label) names the term of its line: the
 * ontology id, the label, synonyms; a label value that equals any of them
 * gets the code. The first name is the term (what sc-stream writes in its
 * header). Without a header every field after the code is a name. The -1
 * line is skipped (unknown values are -1 anyway).
 *
 * Reading fails with SC_EFORMAT and a message naming the file and line for:
 * an empty file (no header, no terms), a header whose first column is not
 * "code" or that names a column twice or has an empty name, a code that
 * is not the next number, a line with fewer fields than the header or
 * with no name, an empty first name, and a name given to two codes.
 */

/* The file of FIELD's vocabulary in a directory: vocab_FIELD.tsv. */
#define SC_VOCAB_PREFIX "vocab_"
#define SC_VOCAB_SUFFIX ".tsv"

/* The columns, in the order the export writes them. */
#define SC_VOCAB_COL_CODE         "code"
#define SC_VOCAB_COL_TERM_ID      "term_id"
#define SC_VOCAB_COL_LABEL        "label"
#define SC_VOCAB_COL_IS_LEAF      "is_leaf"
#define SC_VOCAB_COL_DEPTH        "depth"
#define SC_VOCAB_COL_N_CELLS      "n_cells"
#define SC_VOCAB_COL_COARSE_ID    "coarse_id"
#define SC_VOCAB_COL_COARSE_LABEL "coarse_label"

/* The code and term of values outside the vocabulary. */
#define SC_VOCAB_UNKNOWN_CODE (-1)
#define SC_VOCAB_UNKNOWN      "unknown"

/* One term to write. ID and LABEL are required; COARSE_ID and COARSE_LABEL
 * are written when the file has the coarse columns (NULL: empty). */
typedef struct sc_vocab_term {
    const char *id;
    const char *label;
    int is_leaf;
    int depth;
    int64_t n_cells;
    const char *coarse_id;
    const char *coarse_label;
} sc_vocab_term;

/* A vocabulary read from a file: N codes, TERMS[i] the term (first name) of
 * code i; NAMES[j] (j < N_NAMES) a name of code CODES[j] (every name of
 * the file, the terms included, each once). Zero-initialise; free with
 * sc_vocab_release. */
typedef struct sc_vocab {
    size_t n;
    char **terms;
    size_t n_names;
    char **names;
    int32_t *codes;
} sc_vocab;

/* Write "DIR/vocab_FIELD.tsv" into BUF of SIZE bytes. Returns 0, or
 * SC_EINVAL when it does not fit. */
SC_MUST_CHECK int sc_vocab_path(char *buf, size_t size, const char *dir,
                                const char *field);

/* Write the vocabulary file PATH (atomically): the header, the unknown line
 * with N_UNKNOWN cells, then code i for TERMS[i], i < N; with COARSE the
 * coarse columns too. Returns 0, or SC_EIO / SC_EINVAL with the message. */
SC_MUST_CHECK int sc_vocab_write(const char *path, const sc_vocab_term *terms,
                                 size_t n, int64_t n_unknown, int coarse);

/* Read the vocabulary file PATH ("-": stdin) into V, which must be zeroed
 * (or released). Returns 0, or SC_EFORMAT ("'v.tsv' line 3: code 5, expected
 * 2"), SC_EIO or SC_ENOMEM with the message; V is then empty. */
SC_MUST_CHECK int sc_vocab_read(const char *path, sc_vocab *v);

/* Free what V holds and zero it; NULL is a no-op. */
void sc_vocab_release(sc_vocab *v);

#endif
