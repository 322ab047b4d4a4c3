/* sc_io: "-" for stdin/stdout, atomic output files, text lines (gzip too). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_IO_H
#define SC_IO_H

#include <stddef.h>
#include <stdio.h>

#include "sc_err.h"

/*
 * Temporary files. Every file a tool creates goes through sc_tmp: the
 * directory of PATH is opened once (O_DIRECTORY) and every later step is
 * relative to that descriptor (openat, renameat, unlinkat), so a directory
 * swapped under the run is never followed. The temporary name,
 * "NAME[.TAG].tmp.<pid>" beside PATH = DIR/NAME, is created with
 * O_EXCL|O_NOFOLLOW: a file or a symbolic link planted there is refused
 * ("cannot create 'out.tmp.42': File exists"), never followed.
 *
 * While it exists the temporary file is registered, so that
 * sc_io_tmp_cleanup() (called by sc_cli's handler of SIGTERM, SIGINT and
 * SIGHUP) removes it; and creating one first removes the stale temporary
 * files of the same target left by dead processes (same NAME, a pid that
 * no longer runs on this host, not locked by anyone: every temporary file
 * is flock()ed by its writer; HDF5 locks the files it writes itself).
 *
 * sc_tmp is a caller-owned struct whose fields are private, zeroed by
 * sc_io_tmp_open; one thread at a time per sc_tmp (different ones may be
 * used by different threads).
 */
typedef struct sc_tmp {
    int dirfd;     /* the directory, -1 when none */
    int slot;      /* registry slot + 1, 0 when not registered */
    int created;   /* 1 once the temporary file is known to be ours */
    char *path;    /* the target as given, for messages */
    char *name;    /* the target's name in dirfd */
    char *tmp;     /* the temporary file's path, for messages and HDF5 */
    char *tmpname; /* its name in dirfd */
} sc_tmp;

/* Flags for sc_io_tmp_open. */
enum {
    SC_TMP_CREATE = 0,   /* create the temporary file; return its descriptor */
    SC_TMP_NAME = 1,     /* only reserve the name: the caller creates the
                          * file exclusively itself (H5F_ACC_EXCL), then
                          * calls sc_io_tmp_check */
    SC_TMP_UNLINKED = 2, /* create, then unlink at once (scratch space) */
    SC_TMP_NO_SWEEP = 8  /* or'ed with one of the above: do not look for
                          * stale temporaries (the caller ran
                          * sc_io_tmp_sweep on the directory once) */
};

/* Open the directory of PATH, remove stale temporaries of PATH, and make
 * the temporary file "PATH[.TAG].tmp.<pid>" (TAG may be NULL) as FLAGS
 * says, mode 0666 less the umask (0600 for SC_TMP_UNLINKED), opened for
 * reading and writing. Returns the descriptor (SC_TMP_CREATE,
 * SC_TMP_UNLINKED), or 0 for SC_TMP_NAME; or SC_EIO / SC_EINVAL / SC_ENOMEM
 * with the message naming the file, and T holds nothing. After
 * SC_TMP_UNLINKED, T holds nothing either: only the descriptor remains. */
SC_MUST_CHECK int sc_io_tmp_open(const char *path, const char *tag, int flags,
                                 sc_tmp *t);

/* Remove the stale temporary files of every target in DIR (as
 * sc_io_tmp_open removes those of its target: left by a process that runs
 * no more here, and not locked), in one reading of DIR: for a caller that
 * writes many files there and opens their temporaries with
 * SC_TMP_NO_SWEEP, so that the cost of each does not grow with the files in
 * DIR. 0, or SC_EIO when DIR cannot be opened. */
SC_MUST_CHECK int sc_io_tmp_sweep(const char *dir);

/* After SC_TMP_NAME: check that the temporary name is the regular file that
 * descriptor FD (the caller's writer's) has open, not a link. 0, or SC_EIO
 * ("cannot create 'x.tmp.42': not the file created"). */
SC_MUST_CHECK int sc_io_tmp_check(sc_tmp *t, int fd);

/* Rename the temporary file (closed or flushed by the caller) to the
 * target, in the directory opened at first. 0, or SC_EIO after removing
 * it. T is released either way. */
SC_MUST_CHECK int sc_io_tmp_commit(sc_tmp *t);

/* Remove the temporary file (unless it was never created, or not known to
 * be ours: after SC_TMP_NAME without a successful check) and release T. Safe on
 * a released or zeroed sc_tmp, and twice. */
void sc_io_tmp_discard(sc_tmp *t);

/* Remove every registered temporary file. Async-signal-safe: for signal
 * handlers (sc_cli installs one). */
void sc_io_tmp_cleanup(void);

/*
 * Atomic output: the data goes to "PATH.tmp.<pid>" beside PATH (an sc_tmp),
 * and only a successful commit renames it to PATH, so that no run leaves a
 * truncated file under the real name. PATH "-" means stdout, written
 * directly.
 *
 * sc_atomic is a caller-owned struct whose fields are private; it needs no
 * initialisation before sc_io_atomic_open. One thread at a time.
 */
typedef struct sc_atomic {
    char *path; /* target, or NULL for stdout */
    sc_tmp t;   /* the temporary file; t.tmp NULL when written directly */
    FILE *fp;
} sc_atomic;

/* Create the temporary file for PATH (mode 0666 less the umask; it must not
 * exist yet) and set *FP to a stream writing to it, or to stdout for "-".
 * An existing PATH that is not a regular file or a directory (/dev/null, a
 * FIFO) is written directly. Returns 0, or SC_EIO / SC_EINVAL / SC_ENOMEM
 * with the message ("cannot create 'out.tsv.tmp.42': Permission denied");
 * then *FP is NULL and A holds nothing. Every successful open ends with
 * exactly one commit or abort, which closes *FP. */
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

/* The temporary name for PATH ("PATH.tmp.<pid>") in BUF of SIZE bytes; 0,
 * or SC_EINVAL when it does not fit. Thread-safe. */
SC_MUST_CHECK int sc_io_tmpname(const char *path, char *buf, size_t size);

/* A scratch file for large temporary data: created beside PATH (on its
 * file system, not in a small /tmp) as "PATH.TAG.tmp.<pid>" (sc_tmp,
 * SC_TMP_UNLINKED), opened for reading and writing and unlinked at once, so
 * that nothing is left behind whatever happens. Returns the descriptor, or
 * SC_EIO with the message ("cannot create 'out.spill.tmp.42': No space left
 * on device"). Thread-safe. */
SC_MUST_CHECK int sc_io_scratch(const char *path, const char *tag);

/* Open an existing or new file that is not a temporary one (a resumable
 * download's part, a lock file): like open(PATH, FLAGS | O_NOFOLLOW |
 * O_CLOEXEC, MODE), and refused unless it is a regular file. Returns the
 * descriptor, or SC_EIO ("cannot open 'x.part': Too many levels of
 * symbolic links", "...: not a regular file"). Thread-safe. */
SC_MUST_CHECK int sc_io_open_regular(const char *path, int flags, int mode);

/* Create directory DIR and any missing parents (mode 0777 less the umask),
 * like "mkdir -p". An existing directory is fine. Returns 0, SC_EINVAL for
 * an empty name, or SC_EIO ("cannot create directory 'a/b': Not a
 * directory"). Thread-safe. */
SC_MUST_CHECK int sc_io_mkdir_p(const char *dir);

/* Read the whole file PATH into *OUT (malloc'd, NUL-terminated; the
 * caller frees it) and its length into *LEN. Returns 0, SC_ENOTFOUND when
 * PATH does not exist, SC_EIO ("cannot open 'x': ...", "cannot read 'd':
 * Is a directory") or SC_ENOMEM, with *OUT NULL. Thread-safe. */
SC_MUST_CHECK int sc_io_read_file(const char *path, char **out, size_t *len);
/* The same, gunzipped when PATH is gzip (zlib's gzread passes plain files
 * through). Returns 0, SC_EIO ("cannot open 'x': ...", "cannot read 'x':
 * ...", a damaged or truncated gzip stream too) or SC_ENOMEM, with *OUT
 * NULL. */
SC_MUST_CHECK int sc_io_read_file_gz(const char *path, char **out, size_t *len);

/*
 * A reader of text lines from a file or "-" (stdin), plain or gzip
 * (detected from the 1f 8b magic, as zlib's gzread does; concatenated
 * members are read too). Lines may be up to SC_LINE_MAX bytes long (a
 * longer one, as a gzip bomb without newlines gives, is SC_EFORMAT naming
 * the file and line). One thread at a time.
 */
#define SC_LINE_MAX (256 << 20)
typedef struct sc_lines sc_lines;

/* Open PATH ("-" for stdin, which is not closed at the end). On success
 * *OUT owns the reader: release it with sc_lines_close(). Returns 0, or
 * SC_EIO / SC_ENOMEM with the message ("cannot open 'x.tsv': No such file
 * or directory"), and *OUT NULL. */
SC_MUST_CHECK int sc_lines_open(const char *path, sc_lines **out);

/* Read the next line into *LINE (NUL-terminated, without its "\n" or
 * "\r\n"; borrowed until the next call) and its length into *LEN (which
 * counts any NUL bytes inside the line). A last line without "\n" counts.
 * Returns 1 for a line, 0 at the end, SC_EFORMAT (a line longer than
 * SC_LINE_MAX), or SC_EIO / SC_ECORRUPT (a damaged or
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
