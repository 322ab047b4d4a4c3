/* sc_log: leveled logging to stderr for tools and the library. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_LOG_H
#define SC_LOG_H

#include "sc_err.h"

enum { SC_LOG_ERROR = 0, SC_LOG_WARN = 1, SC_LOG_INFO = 2, SC_LOG_DEBUG = 3 };

/* Set the program name used as message prefix ("sc-fetch") and the level
 * (default SC_LOG_WARN). Call once at start-up, before threads. */
void sc_log_init(const char *prog, int level);
void sc_log_set_level(int level);
int sc_log_level(void);
const char *sc_log_prog(void);

/* Call FN(ARG) before each message is written (NULL to remove): the
 * progress line uses it to clear itself so that messages never land on
 * the end of it. One hook at a time. */
void sc_log_set_hook(void (*fn)(void *), void *arg);

/* Messages at a level: "prog: warning: ...", "prog: ...", "prog: [func] ...".
 * They flush stdout first and preserve errno. Thread-safe (one fputs). */
void sc_log_error(const char *fmt, ...) SC_PRINTF(1, 2);
void sc_log_warn(const char *fmt, ...) SC_PRINTF(1, 2);
void sc_log_info(const char *fmt, ...) SC_PRINTF(1, 2);
#define sc_log_debug(...) sc_log_debug_(__func__, __VA_ARGS__)
void sc_log_debug_(const char *func, const char *fmt, ...) SC_PRINTF(2, 3);

#endif
