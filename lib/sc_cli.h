/* sc_cli: the shared option table, --help/--version, exit codes, numbers. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <stdint.h>
#include <time.h>

#include "sc_err.h"
#include "sc_progress.h"

/* Whether an option takes an argument (sc_opt.arg). An optional argument
 * must be attached: "-xVAL" or "--name=VAL". */
enum { SC_ARG_NONE = 0, SC_ARG_REQUIRED = 1, SC_ARG_OPTIONAL = 2 };

/*
 * One entry of an option table. KEY is what the callback receives: a
 * printable ASCII character is also the short option ('n' gives -n), any
 * value >= SC_OPT_LONG is a long-only option. LONG_NAME may be NULL for a
 * short-only option. METAVAR names the argument in --help ("N", "FILE").
 * HELP is one sentence, lower-case, no full stop, with the default in
 * brackets ("rows per block [1024]"); it is wrapped to 80 columns.
 *
 * Special entries: KEY 0 with only HELP set is a group heading printed
 * as-is ("Output options:"); an option with HELP NULL is hidden from --help;
 * SC_OPT_END ends the table. Keys '?' and ':' cannot be used, and the keys
 * of SC_OPT_COMMON are reserved.
 */
typedef struct sc_opt {
    int key;
    const char *long_name;
    int arg;
    const char *metavar;
    const char *help;
} sc_opt;

/* A deprecated spelling, the short option OLD, of the option whose long
 * name is LONG_NAME, kept for one release: hidden from --help, and the
 * callback receives that option's key (sc_cli_given is true for it). With
 * -v, using it logs a note naming the new spelling. ARG must be that
 * option's. (An entry with a METAVAR, no long name and no HELP.) */
#define SC_OPT_ALIAS(old, long_name, arg)                                      \
    {                                                                          \
        (old), NULL, (arg), (long_name), NULL                                  \
    }

/* Keys of the long-only common options, and the first key for a tool's own
 * long-only options (SC_OPT_USER, SC_OPT_USER + 1, ...). */
enum {
    SC_OPT_LONG = 0x100,
    SC_OPT_PROGRESS = SC_OPT_LONG,
    SC_OPT_NO_PROGRESS,
    SC_OPT_NO_PROVENANCE,
    SC_OPT_VERSION_HOOK,
    SC_OPT_USER = 0x200
};

/* The common options every tool has, under the heading "Common options:".
 * It ends with a heading "Options:" for the tool's options that follow; a
 * heading with no options under it is not printed, so a tool may put its
 * own headings after SC_OPT_COMMON, or put SC_OPT_COMMON last. */
#define SC_OPT_COMMON                                                          \
    {0, NULL, 0, NULL, "Common options:"},                                     \
        {'h', "help", SC_ARG_NONE, NULL, "print this help and exit"},          \
        {'V', "version", SC_ARG_NONE, NULL,                                    \
         "print version information and exit"},                                \
        {'q', "quiet", SC_ARG_NONE, NULL, "print errors only"},                \
        {'v', "verbose", SC_ARG_NONE, NULL,                                    \
         "print more messages, and a summary at exit; twice for debug "        \
         "output"},                                                            \
        {'@', "threads", SC_ARG_REQUIRED, "N",                                 \
         "total worker threads, 0 for all CPUs [1]"},                          \
        {'c', "config", SC_ARG_REQUIRED, "FILE",                               \
         "read settings from this YAML file [$SC_CONFIG]"},                    \
        {SC_OPT_PROGRESS, "progress", SC_ARG_NONE, NULL,                       \
         "show progress on stderr [only when stderr is a terminal]"},          \
        {SC_OPT_NO_PROGRESS, "no-progress", SC_ARG_NONE, NULL,                 \
         "never show progress"},                                               \
        {SC_OPT_NO_PROVENANCE, "no-provenance", SC_ARG_NONE, NULL,             \
         "do not record tool, version and arguments in outputs"},              \
    {                                                                          \
        0, NULL, 0, NULL, "Options:"                                           \
    }

/* Put this hidden entry in a table to add lines to --version: after the
 * version line, the callback is called with key SC_OPT_VERSION_HOOK and arg
 * NULL, and prints its lines (reference data versions) to stdout itself. */
#define SC_OPT_VERSION_EXTRA                                                   \
    {                                                                          \
        SC_OPT_VERSION_HOOK, NULL, SC_ARG_NONE, NULL, NULL                     \
    }

#define SC_OPT_END                                                             \
    {                                                                          \
        0, NULL, 0, NULL, NULL                                                 \
    }

/* What sc_cli_parse() returns: SC_CLI_RUN, or the exit status for main():
 * SC_CLI_DONE (0) after --help or --version, SC_CLI_USAGE (2) after a usage
 * error, SC_EXIT_FAIL (1) when the help text could not be written. */
enum {
    SC_CLI_RUN = -1,
    SC_CLI_DONE = SC_EXIT_OK,
    SC_CLI_USAGE = SC_EXIT_USAGE
};

/* Option keys are below this (short options, SC_OPT_*, SC_OPT_USER + n). */
#define SC_CLI_KEYS 4096

/* The parsed common options. Filled in by sc_cli_parse(); read the fields,
 * do not change them. Strings are borrowed from argv except CMDLINE, which
 * the struct owns (released by sc_cli_finish/usage_error/release). */
typedef struct sc_cli {
    const char *prog;   /* program name for messages ("sc-fetch") */
    int verbosity;      /* -1 with -q, 0 by default, else the number of -v */
    int threads;        /* -@ with 0 resolved to the CPU count; >= 1 */
    const char *config; /* -c FILE, or NULL (sc_config handles $SC_CONFIG) */
    int progress;       /* SC_PROGRESS_*: AUTO unless given; -q makes it OFF */
    int provenance;     /* 1 unless --no-provenance */
    int argc;           /* the operands left after the options */
    char **argv;
    char *cmdline; /* the whole command line, shell-quoted */
    int64_t start; /* sc_mono_ns() when sc_cli_parse was called */
    unsigned char given[SC_CLI_KEYS / 8]; /* keys seen on the command line */
    unsigned common; /* the SC_CLI_* common options offered */
    int alias_used;  /* key of the last deprecated alias given, or 0 */
} sc_cli;

/* Whether option KEY was given on the command line (for settings files,
 * which never override it). KEY is an option key below SC_CLI_KEYS. */
int sc_cli_given(const sc_cli *cli, int key);

/*
 * Parse the command line of tool PROG with the option table OPTS (which
 * should include SC_OPT_COMMON) and fill in *CLI. Common options are handled
 * here: -q/-v set the log level with sc_log_set_level (sc_log_init(PROG) is
 * called first), -@ is checked with sc_parse_int. Every other option calls
 * ON_OPTION(key, arg, UD), with ARG NULL when there is none; it returns 0
 * to go on, a positive value to stop with exit status 0 (it printed
 * something itself, like a list of formats), or a negative SC_E* code whose
 * sc_errmsg() becomes the usage error "PROG: option '--name': <message>"
 * (so `return sc_parse_int(arg, 1, 64, &n);` is a complete handler). Options
 * may follow operands (argv is permuted); "--" ends them.
 *
 * --help and --version act once all options are parsed. --help prints
 * "Usage: PROG <USAGE>" and the option groups to stdout; any lines of USAGE
 * after its first are printed as-is after the usage line (a description).
 * --version prints "PROG VERSION (hdf5 X, sqlite X, ...)".
 *
 * Returns SC_CLI_RUN to go on: the tool ends with sc_cli_finish(). Any
 * other value is the exit status for main(), with the reason printed
 * ("PROG: <reason>" and "Try 'PROG --help'." on stderr) and *CLI released.
 * Before returning SC_CLI_RUN it calls sc_cli_catch_signals().
 * PROG, USAGE and OPTS must outlive CLI. Main thread only (getopt is not
 * reentrant).
 */
int sc_cli_parse(sc_cli *cli, const char *prog, const char *usage,
                 const sc_opt *opts, int argc, char **argv,
                 int (*on_option)(int key, const char *arg, void *ud),
                 void *ud);

/* ---- commands ---- */

/* The common options a command offers besides -h, -V, -q, -v and
 * --[no-]progress, which every command has (sc_cmd.common): each only where
 * the command uses it. Options of SC_OPT_COMMON left out are neither shown
 * by --help nor accepted. */
enum {
    SC_CLI_CONFIG = 1u << 0,     /* -c/--config: the settings file is read */
    SC_CLI_THREADS = 1u << 1,    /* -@/--threads: it runs work in parallel */
    SC_CLI_PROVENANCE = 1u << 2, /* --no-provenance: it writes provenance */
    SC_CLI_ALL = SC_CLI_CONFIG | SC_CLI_THREADS | SC_CLI_PROVENANCE
};

/* The tool's own handler of a command, of whatever type the tool gives it:
 * set with SC_CMD_FN(f), cast back to that type by sc_tool.run. */
typedef void (*sc_cmd_fn)(void);
#define SC_CMD_FN(f) ((sc_cmd_fn)(f))

/*
 * One command of a tool. NAME is what the user types ("add"); a tool
 * without commands has one entry with NAME NULL. USAGE is printed after
 * "Usage: PROG " by the command's --help (its first line, with the name:
 * "add [options] [<file>...]", then a description, as for sc_cli_parse).
 * SUMMARY is its line in the tool's list of commands (a "\n" continues it
 * on the next line). OPTS is its option table (NULL: the tool's), COMMON
 * the SC_CLI_* options it offers, MIN_ARGS and MAX_ARGS (-1: no limit) the
 * operands after the name, FN the tool's handler (SC_CMD_FN).
 */
typedef struct sc_cmd {
    const char *name;
    const char *usage;
    const char *summary;
    const sc_opt *opts;
    unsigned common;
    int min_args, max_args;
    sc_cmd_fn fn;
} sc_cmd;

/*
 * A tool: its name PROG, USAGE for its own --help (the first line after
 * "Usage: PROG ", a description; the list of commands and a pointer to
 * "PROG <command> --help" are added), OPTS (every option of every command:
 * the tool's --help, the settings file, and finding the command's name
 * among the arguments), ON_OPTION (as for sc_cli_parse), the N_CMDS
 * commands CMDS, DEFAULT_CMD (the command run when the first operand names
 * none, or NULL: then that is a usage error) and RUN, called with the
 * parsed command line to run command CMD: it returns what sc_cli_finish
 * takes, or SC_CLI_EUSAGE for a usage error with the text in sc_errmsg()
 * (sc_cli_usage_fail).
 */
typedef struct sc_tool {
    const char *prog;
    const char *usage;
    const sc_opt *opts;
    int (*on_option)(int key, const char *arg, void *ud);
    const sc_cmd *cmds;
    size_t n_cmds;
    const char *default_cmd;
    int (*run)(sc_cli *cli, const sc_cmd *cmd, void *ud);
} sc_tool;

/* The sc_tool of a tool whose commands are the array CMDS. */
#define SC_TOOL(prog, usage, opts, on_option, cmds, default_cmd, run)          \
    {                                                                          \
        (prog), (usage), (opts), (on_option), (cmds),                          \
            sizeof(cmds) / sizeof *(cmds), (default_cmd), (run)                \
    }

/* What a command handler returns for a usage error (sc_cli_usage_fail). */
#define SC_CLI_EUSAGE (-1000)

/* Set the text of a usage error found by a command ("PROG: <FMT...>" and
 * "Try 'PROG --help'." are printed by sc_cli_dispatch) and return
 * SC_CLI_EUSAGE. Thread-safe (the text is thread-local). */
int sc_cli_usage_fail(const char *fmt, ...) SC_PRINTF(1, 2);

/*
 * The whole of main() for tool T: find the command (the first operand;
 * options before it are allowed), parse the command line with its options
 * (sc_cli_parse, offering only the common options in its COMMON; the
 * default command, when not named, shows those of any command in --help
 * but refuses those not in its COMMON as unknown options), print its
 * --help or the tool's (with the list of commands), read the settings file
 * into T->opts when it offers SC_CLI_CONFIG (sc_config_load), check the
 * number of operands, call T->run with CLI->argv the operands after the
 * command's name, and end with sc_cli_finish. Usage errors: "unknown
 * command 'X'", "no command given (a, b, ...)", "NAME: expected <ops>:
 * missing operand" (or ": too many operands"), each followed by "Try 'PROG
 * --help'.". Returns the exit status for main(). UD is passed to the
 * callbacks. Main thread only.
 */
int sc_cli_dispatch(const sc_tool *t, int argc, char **argv, void *ud);

/* Catch SIGTERM, SIGINT and SIGHUP (unless ignored when the program
 * started, as under nohup): the handler removes every temporary file of
 * the run (sc_io_tmp_cleanup) and exits with status 128 + the signal
 * number. A tool that cancels gracefully installs its own handler after
 * this. */
void sc_cli_catch_signals(void);

/*
 * End the run: print the error in sc_errmsg() if RC is negative, flush and
 * close stdout (a write error, such as ENOSPC on /dev/full, is printed and
 * makes the status 1), print the -v summary (version, command line, run time,
 * peak memory) to stderr, and release CLI. Returns the exit status for
 * main(): 0 when RC is 0, 1 when it is negative (an SC_E* code), and RC
 * itself when it is positive (an SC_EXIT_* value). No output on stdout is
 * possible afterwards. Main thread only, after all other threads are done.
 */
int sc_cli_finish(sc_cli *cli, int rc);

/* Print a usage error found by the tool ("PROG: <FMT...>" then "Try 'PROG
 * --help'.") to stderr, release CLI, and return SC_EXIT_USAGE (2) for main()
 * to return. Main thread only. */
int sc_cli_usage_error(sc_cli *cli, const char *fmt, ...) SC_PRINTF(2, 3);

/* Free what *CLI owns (only needed when neither sc_cli_finish nor
 * sc_cli_usage_error is called). Safe to call twice. */
void sc_cli_release(sc_cli *cli);

/* Seconds elapsed since sc_cli_parse() was called. Thread-safe. */
double sc_cli_elapsed(const sc_cli *cli);

/*
 * Strict number parsing for options and configuration values. Each parses
 * the whole of S (no leading space, no trailing characters, not empty) and
 * stores the value in *OUT only on success. Returns 0, SC_EINVAL for text
 * that is not a number ("invalid integer 'x'"), or SC_ERANGE when it
 * overflows or lies outside [MIN, MAX] ("integer '9' out of range [1, 4]").
 * Thread-safe.
 *
 * sc_parse_int: decimal, optional sign.
 * sc_parse_size: a byte count, digits with an optional fraction and an
 * optional suffix K, M, G or T (powers of 1024, either case, optionally
 * followed by "B" or "iB"), e.g. "1.5G" or "512KiB"; a plain "B" is
 * allowed; a fraction is rounded down and needs a suffix.
 * sc_parse_double: decimal or exponent notation; hex, "inf" and "nan" are
 * rejected.
 */
SC_MUST_CHECK int sc_parse_int(const char *s, int64_t min, int64_t max,
                               int64_t *out);
SC_MUST_CHECK int sc_parse_size(const char *s, uint64_t min, uint64_t max,
                                uint64_t *out);
SC_MUST_CHECK int sc_parse_double(const char *s, double min, double max,
                                  double *out);

#endif
