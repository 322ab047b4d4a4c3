/* sc_progress: a delayed, throttled progress line on stderr. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_PROGRESS_H
#define SC_PROGRESS_H

#include <stdint.h>

/* Modes, from --progress / --no-progress / neither (sc_cli.progress):
 * AUTO shows progress only when stderr is a terminal. */
enum { SC_PROGRESS_AUTO = 0, SC_PROGRESS_ON = 1, SC_PROGRESS_OFF = 2 };

/* Flags: the amounts are bytes (shown as KiB, MiB, ... with a rate per
 * second); show from the first update instead of after about one second. */
enum { SC_PROGRESS_BYTES = 1u << 0, SC_PROGRESS_NODELAY = 1u << 1 };

typedef struct sc_progress sc_progress;

/* The monotonic clock (CLOCK_MONOTONIC) in nanoseconds: for durations and
 * rates, never for dates (sc_time_iso). */
int64_t sc_mono_ns(void);

/*
 * Start a progress line for a task WHAT ("harmonize") of TOTAL units (0 when
 * unknown: no percentage and no ETA). The line looks like
 *   "sc-fetch: harmonize  1,234/5,000 datasets  24%  12.5/s  ETA 0:42"
 *   "sc-fetch: download  1.5 MiB/4.0 MiB  37%  3.2 MiB/s  ETA 0:01"
 * with the prefix from sc_log_prog(). Like git's delayed progress, nothing is
 * shown during the first second (unless SC_PROGRESS_NODELAY), so short tasks
 * print nothing at all; after that the line is redrawn in place ("\r") at
 * most five times a second.
 *
 * Returns NULL when MODE is SC_PROGRESS_OFF, when it is SC_PROGRESS_AUTO and
 * stderr is not a terminal, or when out of memory: every function below
 * accepts NULL and then does nothing, so callers need no checks. The object
 * is released with sc_progress_done().
 */
sc_progress *sc_progress_new(const char *what, uint64_t total, unsigned flags,
                             int mode);

/* Name the counted units ("datasets"; at most 31 bytes) for a progress
 * without SC_PROGRESS_BYTES, or change TOTAL once it is known (as when an
 * HTTP response gives its length). Call these from the thread that created
 * P, before other threads update it. */
void sc_progress_set_unit(sc_progress *p, const char *unit);
void sc_progress_set_total(sc_progress *p, uint64_t total);

/* Set the amount done to DONE, or add N to it, and redraw the line when it
 * is due. Thread-safe: any number of threads may call these at once (the
 * count is atomic, and one thread draws while the others go on). */
void sc_progress_update(sc_progress *p, uint64_t done);
void sc_progress_add(sc_progress *p, uint64_t n);

/* The amount done so far. Thread-safe. */
uint64_t sc_progress_value(const sc_progress *p);

/* End the task: clear the line if one was shown and free P (the matching
 * release of sc_progress_new). Call it after all threads stopped updating,
 * and before printing other messages to stderr. */
void sc_progress_done(sc_progress *p);

#endif
