/* sc_http: resumable, verified downloads and small GETs with libcurl. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_HTTP_H
#define SC_HTTP_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "sc_err.h"
#include "sc_hash.h"

/*
 * Transfer settings shared by every request. Start from SC_HTTP_OPTS_INIT
 * and change what is needed; the struct is read, never written, by the
 * functions below, so one instance may serve many threads at once.
 *
 * RETRIES more attempts follow a failed one when the failure may pass (a
 * network error, a cut or stalled transfer, HTTP 408, 429 and 5xx), never
 * after HTTP 4xx such as 403, 404 or 410. The wait before retry K (1, 2,
 * ...) is RETRY_WAIT * 2^(K-1) seconds, at most RETRY_WAIT_MAX. A transfer
 * that moves less than STALL_SPEED bytes per second for STALL_TIME seconds,
 * or that waits that long for an answer, is cut and counts as a network
 * error. MAX_SPEED caps the receive rate of one transfer in bytes per second
 * (0: none) through libcurl, which paces only transfers of more than a few
 * seconds; LIMIT, when set, is a cap shared by every transfer that uses it,
 * kept from the first byte. MAX_SIZE caps the bytes of one download (0:
 * none) and MAX_ANSWER those of an API answer read into memory (0: the
 * caller's own cap): a longer body, chunked or not, is cut and fails.
 * CANCEL, when set, is polled during transfers and
 * waits: once it is non-zero every call stops with SC_EIO "interrupted" (set
 * it from a signal handler).
 */
typedef struct sc_http_limit sc_http_limit;

typedef struct sc_http_opts {
    int retries;
    double retry_wait;
    double retry_wait_max;
    long connect_timeout;
    long stall_time;
    long stall_speed;
    uint64_t max_speed;
    long max_redirs;
    const char *user_agent;
    volatile sig_atomic_t *cancel;
    sc_http_limit *limit;
    uint64_t max_size;
    size_t max_answer;
} sc_http_opts;

#define SC_HTTP_OPTS_INIT                                                      \
    {                                                                          \
        5, 1.0, 60.0, 30, 60, 1, 0, 10, NULL, NULL, NULL, 0, 0                 \
    }

/* A bandwidth cap of BYTES_PER_S shared by all the transfers whose options
 * point to it: a transfer that is ahead of the shared schedule waits. *OUT
 * owns it: sc_http_limit_free() once no transfer uses it. Returns 0,
 * SC_EINVAL for 0, or SC_ENOMEM. Thread-safe. */
SC_MUST_CHECK int sc_http_limit_new(uint64_t bytes_per_s, sc_http_limit **out);
void sc_http_limit_free(sc_http_limit *l);

/* Initialise libcurl once per process, from the main thread before any
 * other thread starts. Returns 0 or SC_ENET. sc_http_global_cleanup()
 * undoes it at exit. */
SC_MUST_CHECK int sc_http_global_init(void);
void sc_http_global_cleanup(void);

/* The libcurl version string ("7.88.1"). */
const char *sc_http_version(void);

/*
 * GET URL into memory: *BODY (NUL-terminated, owned by the caller, free()
 * it) and *LEN, with the retries of O. A body over MAX_BYTES fails. Returns
 * 0; SC_ENOTFOUND for HTTP 404 and 410 ("'URL': HTTP 404 Not Found");
 * SC_ENET for other HTTP errors and network failures after the retries;
 * SC_EINVAL for a malformed URL; SC_ENOMEM. O->max_answer, when set and
 * smaller, replaces MAX_BYTES. Thread-safe.
 */
SC_MUST_CHECK int sc_http_get(const sc_http_opts *o, const char *url,
                              size_t max_bytes, char **body, size_t *len);

/* Called with the number of bytes received since the last call; negative
 * when a transfer starts over and drops what it had. From the downloading
 * thread: make it thread-safe when several downloads run at once. */
typedef void (*sc_http_progress_fn)(void *ud, int64_t delta);

/*
 * One download: fill in the request fields, call sc_http_download(), then
 * read the result fields. URL is http(s) or file:// (an http(s) URL is
 * never followed to another scheme, redirects included). PATH is the final
 * file; the data goes to "PATH.part" first, which is kept after a failed
 * or interrupted transfer so that the next call resumes it, with the state
 * of its SHA-256 in "DIR/.NAME.part.sha256" (a server's name never starts
 * with '.') so that the next call does not read the part again to hash it
 * (it does when that state is missing or does not match the part). SIZE is the
 * announced size (-1: unknown) and SHA256 the expected digest (64 hex
 * digits, NULL: none); both are verified when given, and no more than SIZE
 * bytes are ever written. What arrived is sniffed before it is kept: an
 * empty body, an HTML page, and a body the server compressed on the way
 * (Content-Encoding, unless PATH ends in ".gz") are refused, and with
 * HDF5 set, so is anything without the HDF5 signature.
 */
typedef struct sc_http_fetch {
    const char *url;
    const char *path;
    int64_t size;
    const char *sha256;
    int hdf5; /* the content must be HDF5 (an .h5ad, .h5 or .loom) */
    /* results */
    int64_t got;                   /* bytes in the file */
    char digest[SC_HASH_HEX_SIZE]; /* its SHA-256 */
    long status;                   /* last HTTP status (0: not HTTP) */
    int attempts;                  /* requests made */
    int resumed;                   /* transfers that continued a part */
    int restarted;                 /* parts dropped (Range ignored) */
    int64_t kept;                  /* bytes of a part kept at start */
    int64_t rehashed;              /* of those, read again to hash them */
} sc_http_fetch;

/*
 * Download F->url to F->path. A part file left by an earlier attempt is
 * continued with an HTTP Range request; a server that answers 200 instead
 * of 206 sends the whole file again and the part is dropped. The result
 * is checked against the size the server announced (Content-Length or
 * Content-Range) and against F->size and F->sha256, then fsync'ed and
 * renamed to F->path, replacing a file of that name. PROGRESS (may be NULL)
 * follows the bytes received.
 *
 * Returns 0; SC_ENOTFOUND (HTTP 404/410); SC_ENET (other HTTP errors,
 * network failures after the retries, too many redirects); SC_ECORRUPT (the
 * data does not match the announced size or digest, is too large, or fails
 * the sniffing above: the part is removed, nothing is left at F->path);
 * SC_EEXIST when another thread or process is writing the same part; SC_EIO
 * (local I/O, or interrupted through O->cancel: the part is kept). Messages
 * name the URL or the file. Thread-safe for different paths.
 */
SC_MUST_CHECK int sc_http_download(const sc_http_opts *o, sc_http_fetch *f,
                                   sc_http_progress_fn progress, void *ud);

/* ---- response headers ---- */

/*
 * When the header line P of LEN bytes (as libcurl hands it, with its CRLF)
 * is the header NAME (any case), its value: past the ':' and the blanks
 * after it (its end is P + LEN, line break included). Else NULL.
 */
const char *sc_http_header(const char *p, size_t len, const char *name);

/*
 * Parse a Content-Range value V, up to E (blanks, CR and LF there
 * ignored): "bytes A-B/T" (T may be "*": unknown) or "bytes * /T" (no
 * blank before the '/': the answer to a range that cannot be satisfied).
 * *START and *END get A and B (-1 for the second form), *TOTAL gets T (-1
 * for "*"). Returns 0, or -1 (nothing stored) when V is neither form, A > B,
 * B >= T, or a number does not fit an int64_t.
 */
int sc_http_content_range(const char *v, const char *e, int64_t *start,
                          int64_t *end, int64_t *total);

/* ---- file names from servers ---- */

/* Longest file name accepted by sc_http_name_check(). */
#define SC_HTTP_NAME_MAX 200

/* Characters a file name from a server or a manifest may not hold: the
 * shell's metacharacters, quotes, expansions and globs (space included). */
#define SC_HTTP_NAME_SHELL " $`;|&<>()'\"*?[]{}!~"

/*
 * Check that NAME is safe as one file name inside an output directory and
 * as a word in a shell command or a Makefile: not empty, at most
 * SC_HTTP_NAME_MAX bytes, no '/', '\\', control characters (bytes below
 * 0x20 and 0x7f) or SC_HTTP_NAME_SHELL characters, not starting with '.'
 * or '-', and not ending in ".part" or containing ".tmp." (our temporary
 * names). Returns 0 or SC_EREJECT with the reason ("unsafe file name
 * '../x': contains '/'"). The one rule for every untrusted name (from an
 * API, a URL or a manifest). Thread-safe.
 */
SC_MUST_CHECK int sc_http_name_check(const char *name);

/*
 * The file name for URL: its last path segment, percent-decoded, without
 * query or fragment, checked by sc_http_name_check(). For a local path
 * (no "scheme://"), its last component. Sets *OUT (caller frees) or
 * returns SC_EREJECT ("no file name in URL 'http://h/'", or an unsafe
 * name), SC_ENOMEM. Thread-safe.
 */
SC_MUST_CHECK int sc_http_name_from_url(const char *url, char **out);

/* ---- the state of a download directory ---- */

/*
 * The record of what a download directory holds: one entry per file, with
 * where it came from. Kept in DIR/.sc-fetch-state.tsv (a header line, then
 * one tab-separated line per file), read at open and rewritten atomically
 * by sc_state_save(). Fields are strings; a missing one is "" (never NULL).
 */
typedef struct sc_state_entry {
    char *name; /* file name inside the directory */
    char *dataset_id;
    char *version_id; /* dataset version id, or "" */
    char *url;        /* source */
    char *sha256;
    int64_t size;
    char *fetched_at; /* ISO 8601 UTC */
    /* the version of the sc-fetch that fetched it (or found it present),
     * "" when unknown: an entry of a state file written before it was kept */
    char *fetch_version;
} sc_state_entry;

typedef struct sc_state sc_state;

/* The state file name inside the directory. */
#define SC_STATE_FILE ".sc-fetch-state.tsv"

/*
 * Open the state of directory DIR (created if missing) and lock it with an
 * advisory lock on DIR/.sc-fetch.lock against other processes; a missing
 * state file is an empty state. On success *OUT owns it: release it with
 * sc_state_close(), which saves nothing by itself. Returns 0, SC_EEXIST
 * ("'DIR' is in use by another sc-fetch"), SC_EFORMAT (a damaged state file,
 * with its line number), SC_EIO, SC_ENOMEM.
 * The handle has a lock: sc_state_* calls may come from several threads.
 */
SC_MUST_CHECK int sc_state_open(const char *dir, sc_state **out);

/* Write the state back (to a temporary file renamed over the old one).
 * Returns 0 or SC_EIO. */
SC_MUST_CHECK int sc_state_save(sc_state *st);

/* Like sc_state_save(), only when the state changed and the last save is
 * at least SECONDS old (so that a long run keeps a recent record). */
SC_MUST_CHECK int sc_state_save_every(sc_state *st, double seconds);

/* Copy into *E (fields owned by the caller: sc_state_entry_release) the
 * entry for file NAME, or the newest entry of DATASET_ID when NAME is NULL.
 * Returns 1 when found, 0 when not (*E zeroed), SC_ENOMEM. */
SC_MUST_CHECK int sc_state_find(sc_state *st, const char *name,
                                const char *dataset_id, sc_state_entry *e);

/* Add or replace (by name) the entry E (copied; FETCHED_AT NULL or "" means
 * now). Returns 0 or SC_ENOMEM. */
SC_MUST_CHECK int sc_state_put(sc_state *st, const sc_state_entry *e);

/* The number of entries, and entry I (borrowed until the next change). */
size_t sc_state_count(sc_state *st);
const sc_state_entry *sc_state_get(sc_state *st, size_t i);

/* Release the state and its lock; NULL is a no-op. */
void sc_state_close(sc_state *st);

/* Free the fields of an entry filled by sc_state_find() and zero it. */
void sc_state_entry_release(sc_state_entry *e);

#endif
