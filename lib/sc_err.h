/* sc_err: error codes and the thread-local error message. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_ERR_H
#define SC_ERR_H

#if defined(__GNUC__)
#define SC_MUST_CHECK   __attribute__((warn_unused_result))
#define SC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define SC_MUST_CHECK
#define SC_PRINTF(a, b)
#endif

/* Error codes: library functions return 0 or one of these (negative). */
enum {
    SC_OK = 0,
    SC_ENOMEM = -1,    /* out of memory */
    SC_EIO = -2,       /* system I/O error */
    SC_EINVAL = -3,    /* invalid argument (a caller's bug or bad option) */
    SC_EFORMAT = -4,   /* input is not in a format we read, or violates it */
    SC_ECORRUPT = -5,  /* input is damaged (checksums, inflate errors) */
    SC_EHDF5 = -6,     /* HDF5 library error */
    SC_EUNSUP = -7,    /* valid input using a feature we do not support */
    SC_ENOTFOUND = -8, /* a named thing does not exist */
    SC_EREGISTRY = -9, /* registry (database) error */
    SC_ENET = -10,     /* network error */
    SC_ECONFIG = -11,  /* configuration error */
    SC_EEXIST = -12,   /* already exists */
    SC_ERANGE = -13,   /* number out of range */
    SC_EREJECT =
        -14, /* dataset refused by a policy (not an error of the tool) */
};

/* Process exit codes shared by every tool (see sc(7)). */
enum {
    SC_EXIT_OK = 0,
    SC_EXIT_FAIL = 1,
    SC_EXIT_USAGE = 2,
    SC_EXIT_PARTIAL = 3,
};

/* Set the thread-local error message from FMT and return CODE, so that a
 * failure is one line: `return sc_fail(SC_EIO, "cannot read '%s'", p);`. */
int sc_fail(int code, const char *fmt, ...) SC_PRINTF(2, 3);

/* Put context in front of the current message ("ctx: old message") and
 * return CODE unchanged. */
int sc_fail_ctx(int code, const char *fmt, ...) SC_PRINTF(2, 3);

/* The current thread's last error message (borrowed, valid until the next
 * sc_fail* call on this thread). Never NULL. */
const char *sc_errmsg(void);

/* Clear the current thread's message. */
void sc_err_clear(void);

/* A short generic description of CODE ("out of memory", ...). */
const char *sc_strerror(int code);

#endif
