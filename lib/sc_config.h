/* sc_config: YAML settings files (sc-config(5)) applied to option tables. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_CONFIG_H
#define SC_CONFIG_H

#include <stddef.h>

#include "sc_cli.h"
#include "sc_err.h"

/*
 * A settings file is a YAML mapping whose keys are long option names
 * ("min-genes: 200"; '_' may stand for '-'). Values are scalars, or
 * sequences of scalars (joined with ','). Options without an argument take
 * a boolean (true/false, yes/no, on/off, 1/0). One file may serve every
 * tool: a key whose value is a mapping and whose name is a tool ("sc-fetch:")
 * holds settings for that tool only; the sections of other tools are
 * skipped. Precedence, highest first: command-line flags, the file given
 * with -c/--config, the file named by $SC_CONFIG, the built-in defaults
 * (only one file is read: -c replaces $SC_CONFIG).
 *
 * An sc_config is the list of (key, value, line) read for one tool.
 * One thread at a time.
 */
typedef struct sc_config sc_config;

/*
 * Read the settings of tool TOOL ("sc-harmonize") from PATH, or when PATH is
 * NULL from the file named by $SC_CONFIG (unset or empty: an empty config).
 * On success *OUT owns the result: free it with sc_config_free(). Returns
 * 0, or SC_ECONFIG with a message naming the file and line ("'x.yaml' line
 * 3: duplicate key 'min-genes'", YAML syntax errors with line and column,
 * "'x.yaml': cannot open: No such file or directory"); *OUT is then NULL.
 */
SC_MUST_CHECK int sc_config_read(const char *path, const char *tool,
                                 sc_config **out);

/* Free C; NULL is a no-op. */
void sc_config_free(sc_config *c);

/* The file read ("" when none), borrowed. */
const char *sc_config_path(const sc_config *c);

/* Number of settings, and the key, value and line of setting I (borrowed
 * until sc_config_free). Keys are as written, with '_' turned into '-'. */
size_t sc_config_count(const sc_config *c);
const char *sc_config_key(const sc_config *c, size_t i);
const char *sc_config_value(const sc_config *c, size_t i);
int sc_config_line(const sc_config *c, size_t i);

/* The value of KEY, or NULL. */
const char *sc_config_get(const sc_config *c, const char *key);

/* Parse a YAML-style boolean into *OUT (1/0). Returns 0 or SC_EINVAL. */
SC_MUST_CHECK int sc_config_bool(const char *s, int *out);

/*
 * Apply C to a tool's option table OPTS (as given to sc_cli_parse): for each
 * setting, find the option with that long name and, unless GIVEN(key, UD)
 * says the command line set it already, call ON_OPTION(key, value, UD)
 * (options without an argument: called with NULL when the value is true,
 * skipped when false). The common options "threads", "progress",
 * "no-progress" and "no-provenance" update CLI instead (when CLI is not
 * NULL). Returns 0, or SC_ECONFIG naming the file, line and key: an unknown
 * key, a key that cannot be set from a file (help, version, config), a bad
 * boolean, or ON_OPTION's error message.
 */
SC_MUST_CHECK int
sc_config_apply(const sc_config *c, const sc_opt *opts, sc_cli *cli,
                int (*on_option)(int key, const char *arg, void *ud),
                int (*given)(int key, void *ud), void *ud);

/*
 * The one loader every tool calls after sc_cli_parse(): read the settings
 * of TOOL from CLI->config (-c) or $SC_CONFIG with sc_config_read(), and
 * apply them to OPTS with sc_config_apply(), skipping the options that
 * the command line gave (sc_cli_given). On success *OUT owns the settings
 * (option values handed to ON_OPTION point into it): free it with
 * sc_config_free() once they are no longer used; *OUT is NULL when no file
 * was read. Returns 0 or SC_ECONFIG naming the file (a missing or
 * unreadable file included).
 */
SC_MUST_CHECK int
sc_config_load(sc_cli *cli, const char *tool, const sc_opt *opts,
               int (*on_option)(int key, const char *arg, void *ud), void *ud,
               sc_config **out);

#endif
