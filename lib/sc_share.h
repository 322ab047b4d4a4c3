/* sc_share: where the reference data (share/) is found at run time. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_SHARE_H
#define SC_SHARE_H

#include <stddef.h>

#include "sc_err.h"

/* The compiled-in last resort, "make install"'s $(datadir)/sc for the
 * default PREFIX. Override with -DSC_SHARE_DIR=... in config.mk's CFLAGS. */
#ifndef SC_SHARE_DIR
#define SC_SHARE_DIR "/usr/local/share/sc"
#endif

/*
 * The share directory is the first of:
 *   1. the directory given to sc_share_set_dir() (a tool's --share DIR);
 *   2. $SC_SHARE, when set and not empty;
 *   3. <dir of the executable>/../share/sc, an installed tree (relocatable:
 *      PREFIX/bin/sc-foo finds PREFIX/share/sc);
 *   4. <dir of the executable>/../../share and /../../../share, a build in
 *      a source tree (build/bin, build/sanitize/bin), when it holds
 *      SOURCES.md (so that /usr/local/bin never picks /usr/share);
 *   5. SC_SHARE_DIR.
 * 1 and 2 are taken as given, even when the directory does not exist, so
 * that a wrong setting fails loudly instead of silently reading other data;
 * 3 and 4 only when they exist. The executable is found through
 * /proc/self/exe (Linux); elsewhere 3 and 4 are skipped.
 */

/* Use DIR as the share directory (1. above); NULL goes back to the search.
 * DIR is copied. Returns 0, or SC_EINVAL when DIR is empty or too long.
 * Call it at start-up, before other threads use sc_share_*. */
SC_MUST_CHECK int sc_share_set_dir(const char *dir);

/* The share directory in use (see above), without a trailing slash.
 * Borrowed: valid until the next sc_share_set_dir(). Never NULL.
 * Thread-safe once sc_share_set_dir() calls are over. */
const char *sc_share_dir(void);

/* Put "<share dir>/REL" in BUF of SIZE bytes. Returns 0, or SC_EINVAL when
 * it does not fit (BUF is then ""). Whether the file exists is the caller's
 * business: opening it gives the error with the full path. Thread-safe like
 * sc_share_dir(). */
SC_MUST_CHECK int sc_share_path(const char *rel, char *buf, size_t size);

#endif
