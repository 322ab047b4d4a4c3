/* sc_io: "-" for stdin/stdout, atomic output files, text lines (gzip too). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_IO_H
#define SC_IO_H

#include <stddef.h>
#include <stdio.h>

#include "sc_err.h"

/*
 * Atomic output: the data goes to "PATH.tmp.<pid>" beside PATH, and only a
 * successful commit renames it to PATH, so that no run leaves a truncated
 * file under the real name. PATH "-" means stdout, written directly.
 *
 * sc_atomic is a caller-owned struct whose fields are private; it needs no
 * initialisation before sc_io_atomic_open. One thread at a time.
 */
typedef struct sc_atomic {
    char *path; /* target, or NULL for stdout */
    char *tmp;  /* temporary name */
    FILE *fp;
} sc_atomic;

/* Create the temporary file for PATH (mode 0666 less the umask; it must not
 * exist yet) and set *FP to a stream writing to it, or to stdout for "-".
 * Returns 0, or SC_EIO / SC_EINVAL / SC_ENOMEM with the message ("cannot
 * create 'out.tsv.tmp.42': Permission denied"); then *FP is NULL and A
 * holds nothing. Every successful open ends with exactly one commit or
 * abort, which closes *FP. */
SC_MUST_CHECK int sc_io_atomic_open(const char *path, sc_atomic *a, FILE **fp);

/* Flush, fsync and close the temporary file and rename it to the target
 * (for stdout: flush only, stdout stays open for sc_cli_finish). Returns 0
 * or SC_EIO with the message ("cannot write 'out.tsv': No space left on
 * device"); on failure the temporary file is removed. Either way A is
 * released, and a later sc_io_atomic_abort(A) does nothing. */
SC_MUST_CHECK int sc_io_atomic_commit(sc_atomic *a);

/* Close and remove the temporary file, keeping any existing target (for
 * stdout: nothing). Safe after a commit, and on a zeroed sc_atomic. */
void sc_io_atomic_abort(sc_atomic *a);

/* End the output of a run that returned RC: commit when RC is 0 and return
 * the commit's status, otherwise abort and return RC unchanged. */
SC_MUST_CHECK int sc_io_atomic_finish(sc_atomic *a, int rc);

/*
 * For writers that create the file themselves (H5Fcreate): put the
 * temporary name for PATH ("PATH.tmp.<pid>") in BUF of SIZE bytes; 0, or
 * SC_EINVAL when it does not fit. Then sc_io_commit_rename(TMP, PATH)
 * renames the finished file (0, or SC_EIO after removing TMP), and
 * sc_io_discard(TMP) removes it after a failure (a missing file is fine).
 * Thread-safe.
 */
SC_MUST_CHECK int sc_io_tmpname(const char *path, char *buf, size_t size);
SC_MUST_CHECK int sc_io_commit_rename(const char *tmp, const char *path);
void sc_io_discard(const char *tmp);

/* A scratch file for large temporary data: created beside PATH (on its
 * file system, not in a small /tmp) as "PATH.TAG.tmp.<pid>", opened for
 * reading and writing and unlinked at once, so that nothing is left
 * behind whatever happens. Returns the descriptor, or SC_EIO with the
 * message ("cannot create 'out.spill.tmp.42': No space left on device").
 * Thread-safe. */
SC_MUST_CHECK int sc_io_scratch(const char *path, const char *tag);

/* Create directory DIR and any missing parents (mode 0777 less the umask),
 * like "mkdir -p". An existing directory is fine. Returns 0, SC_EINVAL for
 * an empty name, or SC_EIO ("cannot create directory 'a/b': Not a
 * directory"). Thread-safe. */
SC_MUST_CHECK int sc_io_mkdir_p(const char *dir);

/*
 * A reader of text lines from a file or "-" (stdin), plain or gzip
 * (detected from the 1f 8b magic, as zlib's gzread does; concatenated
 * members are read too). Lines may be of any length. One thread at a time.
 */
typedef struct sc_lines sc_lines;

/* Open PATH ("-" for stdin, which is not closed at the end). On success
 * *OUT owns the reader: release it with sc_lines_close(). Returns 0, or
 * SC_EIO / SC_ENOMEM with the message ("cannot open 'x.tsv': No such file
 * or directory"), and *OUT NULL. */
SC_MUST_CHECK int sc_lines_open(const char *path, sc_lines **out);

/* Read the next line into *LINE (NUL-terminated, without its "\n" or
 * "\r\n"; borrowed until the next call) and its length into *LEN (which
 * counts any NUL bytes inside the line). A last line without "\n" counts.
 * Returns 1 for a line, 0 at the end, or SC_EIO / SC_ECORRUPT (a damaged or
 * truncated gzip stream: "cannot read 'x.gz': unexpected end of file"). */
SC_MUST_CHECK int sc_lines_next(sc_lines *l, char **line, size_t *len);

/* The number of the line last returned (1 for the first), for messages. */
long sc_lines_lineno(const sc_lines *l);

/* The name to use in messages: PATH as given, or "<stdin>" for "-".
 * Borrowed until sc_lines_close(). */
const char *sc_lines_name(const sc_lines *l);

/* 1 if the input is gzip-compressed (known once a line has been read). */
int sc_lines_is_gzip(const sc_lines *l);

/* Close the reader and free it; NULL is a no-op. A reader has nothing to
 * report at close, so this returns nothing. */
void sc_lines_close(sc_lines *l);

#endif
