/* sc_cli: the shared option table, --help/--version, exit codes, numbers. */
/* SPDX-License-Identifier: MIT */
#include "sc_cli.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include <curl/curl.h>
#include <hdf5.h>
#include <jansson.h>
#include <libdeflate.h>
#include <openssl/crypto.h>
#include <sqlite3.h>
#include <yaml.h>
#include <zlib.h>

#include "sc_config.h"
#include "sc_io.h"
#include "sc_log.h"
#include "sc_version.h"

#define HELP_WIDTH   80
#define HELP_COL_MIN 16 /* where the help text starts, at least */
#define HELP_COL_MAX 32
#define THREADS_MAX  4096

/* ---- option table ---- */

static int is_short(int key)
{
    return key > 0 && key < 0x80 && isgraph(key);
}

static int is_heading(const sc_opt *o)
{
    return o->key == 0 && !o->long_name && o->help;
}

static int is_end(const sc_opt *o)
{
    return o->key == 0 && !o->long_name && !o->help;
}

/* Whether the command offers O: a common option not in COMMON is left out
 * (sc_cmd.common). */
static int offered(const sc_opt *o, unsigned common)
{
    switch (o->key) {
    case 'c': return !!(common & SC_CLI_CONFIG);
    case '@': return !!(common & SC_CLI_THREADS);
    case SC_OPT_NO_PROVENANCE: return !!(common & SC_CLI_PROVENANCE);
    default: return 1;
    }
}

static const sc_opt *find_key(const sc_opt *opts, int key, unsigned common)
{
    for (; !is_end(opts); opts++)
        if (opts->key == key && !is_heading(opts) && offered(opts, common))
            return opts;
    return NULL;
}

/* A deprecated short spelling of another option (SC_OPT_ALIAS). */
static int is_alias(const sc_opt *o)
{
    return is_short(o->key) && !o->long_name && !o->help && o->metavar;
}

static const sc_opt *find_long(const sc_opt *opts, const char *name)
{
    for (; !is_end(opts); opts++)
        if (opts->long_name && !strcmp(opts->long_name, name))
            return opts;
    return NULL;
}

/* How an option is named in messages: "--name" when it has one, else "-c". */
static const char *opt_name(const sc_opt *o, char *buf, size_t size)
{
    if (o->long_name)
        snprintf(buf, size, "--%s", o->long_name);
    else
        snprintf(buf, size, "-%c", o->key);
    return buf;
}

/* ---- --help ---- */

/* "  -@, --threads N", "      --progress", "  -x, --foo[=N]", "  -n N". */
static void format_opt(const sc_opt *o, char *buf, size_t size)
{
    const char *mv = o->metavar ? o->metavar : "ARG";
    int n;

    if (is_short(o->key))
        n = snprintf(buf, size, "  -%c%s", o->key, o->long_name ? ", " : "");
    else
        n = snprintf(buf, size, "      ");
    if (o->long_name)
        n += snprintf(buf + n, size - n, "--%s", o->long_name);
    if (o->arg == SC_ARG_REQUIRED)
        snprintf(buf + n, size - n, " %s", mv);
    else if (o->arg == SC_ARG_OPTIONAL)
        snprintf(buf + n, size - n, o->long_name ? "[=%s]" : "[%s]", mv);
}

/* Print TEXT wrapped at word boundaries to fit HELP_WIDTH, the first line
 * continuing at column COL (the cursor is there), the others indented. */
static void print_wrapped(const char *text, int col)
{
    int avail = HELP_WIDTH - col, used = 0;

    while (*text) {
        size_t w = strcspn(text, " ");

        if (used > 0 && used + 1 + (int)w > avail) {
            printf("\n%*s", col, "");
            used = 0;
        } else if (used > 0) {
            putchar(' ');
            used++;
        }
        printf("%.*s", (int)w, text);
        used += (int)w;
        text += w;
        while (*text == ' ')
            text++;
    }
    putchar('\n');
}

/* Whether --help shows O. */
static int shown(const sc_opt *o, unsigned common)
{
    return !is_heading(o) && o->help && offered(o, common);
}

/* 1 if a heading at O has at least one visible option under it. */
static int group_has_options(const sc_opt *o, unsigned common)
{
    for (o++; !is_end(o) && !is_heading(o); o++)
        if (shown(o, common))
            return 1;
    return 0;
}

static void print_help(const char *prog, const char *usage, const sc_opt *opts,
                       unsigned common)
{
    const char *nl = strchr(usage, '\n');
    const sc_opt *o;
    char buf[128];
    int col = 0, headed = 0, len;

    printf("Usage: %s %.*s\n", prog,
           nl ? (int)(nl - usage) : (int)strlen(usage), usage);
    if (nl && nl[1])
        printf("%s%s", nl + 1, nl[strlen(nl) - 1] == '\n' ? "" : "\n");
    /* The help column: after the longest option that leaves room for it
     * (longer ones get their help on the next line). */
    for (o = opts; !is_end(o); o++) {
        if (shown(o, common)) {
            format_opt(o, buf, sizeof buf);
            len = (int)strlen(buf) + 2;
            if (len > col && len <= HELP_COL_MAX)
                col = len;
        }
    }
    col = col < HELP_COL_MIN ? HELP_COL_MIN : col;
    for (o = opts; !is_end(o); o++) {
        if (is_heading(o)) {
            if (group_has_options(o, common)) {
                printf("\n%s\n", o->help);
                headed = 1;
            }
            continue;
        }
        if (!shown(o, common))
            continue;
        if (!headed) {
            printf("\nOptions:\n");
            headed = 1;
        }
        format_opt(o, buf, sizeof buf);
        if ((int)strlen(buf) + 2 > col)
            printf("%s\n%*s", buf, col, "");
        else
            printf("%-*s", col, buf);
        print_wrapped(o->help, col);
    }
}

/* ---- --version ---- */

static void print_version(const char *prog)
{
    unsigned maj = 0, min = 0, rel = 0;
    const curl_version_info_data *curl = curl_version_info(CURLVERSION_NOW);

    H5get_libversion(&maj, &min, &rel);
    printf("%s %s (hdf5 %u.%u.%u, sqlite %s, yaml %s, zlib %s, libcurl %s, "
           "jansson %s, libdeflate %s, openssl %s)\n",
           prog, SC_VERSION, maj, min, rel, sqlite3_libversion(),
           yaml_get_version_string(), zlibVersion(), curl ? curl->version : "?",
           jansson_version_str(), LIBDEFLATE_VERSION_STRING,
           OpenSSL_version(OPENSSL_VERSION_STRING));
}

/* ---- usage errors ---- */

static void vusage(const char *prog, const char *fmt, va_list ap)
{
    fflush(stdout);
    fprintf(stderr, "%s: ", prog);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\nTry '%s --help'.\n", prog);
}

static int usage(const char *prog, const char *fmt, ...) SC_PRINTF(2, 3);

static int usage(const char *prog, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vusage(prog, fmt, ap);
    va_end(ap);
    return SC_CLI_USAGE;
}

int sc_cli_usage_error(sc_cli *cli, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vusage(cli->prog, fmt, ap);
    va_end(ap);
    sc_cli_release(cli);
    return SC_EXIT_USAGE;
}

/* Explain why getopt_long returned C ('?' or ':'). WORD is the argv element
 * it last finished, which is the offending one for a long option and for a
 * short one that ended its element. */
static int bad_option(const char *prog, const sc_opt *opts, unsigned common,
                      int c, const char *word)
{
    const sc_opt *o = find_key(opts, optopt, common);
    size_t len = strcspn(word, "="), n = 0;

    if (c == ':' && strncmp(word, "--", 2) != 0)
        return usage(prog, "option '-%c' requires an argument", optopt);
    if (c == ':')
        return usage(prog, "option '%s' requires an argument", word);
    if (optopt && !o)
        return usage(prog, "unknown option '-%c'", optopt);
    if (optopt)
        return usage(prog, "option '%.*s' does not take an argument", (int)len,
                     word);
    for (o = opts; !is_end(o); o++)
        if (o->long_name && offered(o, common) && len > 2 &&
            strncmp(o->long_name, word + 2, len - 2) == 0)
            n++;
    if (n > 1)
        return usage(prog, "ambiguous option '%.*s'", (int)len, word);
    return usage(prog, "unknown option '%.*s'", (int)len, word);
}

/* ---- parsing ---- */

/* Append ARG to B, quoted for a POSIX shell when it needs quoting. */
static char *quote_arg(char *b, const char *arg)
{
    static const char safe[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTU"
                               "VWXYZ0123456789_@%+=:,./-";

    if (*arg && strspn(arg, safe) == strlen(arg))
        return stpcpy(b, arg);
    *b++ = '\'';
    for (; *arg; arg++) {
        if (*arg == '\'')
            b = stpcpy(b, "'\\''");
        else
            *b++ = *arg;
    }
    *b++ = '\'';
    return b;
}

static char *join_cmdline(int argc, char **argv)
{
    size_t size = 1;
    char *s, *b;
    int i;

    for (i = 0; i < argc; i++)
        size += 4 * strlen(argv[i]) + 3;
    if (!(s = b = malloc(size)))
        return NULL;
    for (i = 0; i < argc; i++) {
        if (i)
            *b++ = ' ';
        b = quote_arg(b, argv[i]);
    }
    *b = '\0';
    return s;
}

/* The getopt_long tables for OPTS: "+:" style short string and long array. */
static int build_getopt(const sc_opt *opts, unsigned common, char **shortopts,
                        struct option **longopts)
{
    size_t n = 0, i = 0, j = 0;
    const sc_opt *o;
    char *s;
    struct option *l;

    for (o = opts; !is_end(o); o++)
        n++;
    s = malloc(3 * n + 2);
    l = calloc(n + 1, sizeof *l);
    if (!s || !l) {
        free(s);
        free(l);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    s[i++] = ':';
    for (o = opts; !is_end(o); o++) {
        if (is_heading(o) || !offered(o, common))
            continue;
        if (is_short(o->key)) {
            s[i++] = (char)o->key;
            if (o->arg != SC_ARG_NONE)
                s[i++] = ':';
            if (o->arg == SC_ARG_OPTIONAL)
                s[i++] = ':';
        }
        if (o->long_name) {
            l[j].name = o->long_name;
            l[j].has_arg = o->arg == SC_ARG_REQUIRED   ? required_argument
                           : o->arg == SC_ARG_OPTIONAL ? optional_argument
                                                       : no_argument;
            l[j].val = o->key;
            j++;
        }
    }
    s[i] = '\0';
    *shortopts = s;
    *longopts = l;
    return 0;
}

static int resolve_threads(int64_t n)
{
    long cpus;

    if (n > 0)
        return (int)n;
    cpus = sysconf(_SC_NPROCESSORS_ONLN);
    return cpus < 1 ? 1 : cpus > THREADS_MAX ? THREADS_MAX : (int)cpus;
}

/* Handle one common option: 0 done, 1 if KEY is not a common option, or a
 * negative SC_E* code. */
static int common_option(sc_cli *cli, int key, const char *arg, int *help,
                         int *version)
{
    int64_t n;
    int rc;

    switch (key) {
    case 'h': *help = 1; return 0;
    case 'V': *version = 1; return 0;
    case 'q': cli->verbosity = -1; return 0;
    case 'v':
        cli->verbosity = cli->verbosity < 0 ? 1 : cli->verbosity + 1;
        return 0;
    case 'c': cli->config = arg; return 0;
    case SC_OPT_PROGRESS: cli->progress = SC_PROGRESS_ON; return 0;
    case SC_OPT_NO_PROGRESS: cli->progress = SC_PROGRESS_OFF; return 0;
    case SC_OPT_NO_PROVENANCE: cli->provenance = 0; return 0;
    case '@':
        if ((rc = sc_parse_int(arg, 0, THREADS_MAX, &n)) < 0)
            return rc;
        cli->threads = resolve_threads(n);
        return 0;
    default: return 1;
    }
}

/* Print what --help or --version asked for; the exit status. */
static int print_info(sc_cli *cli, const char *usage_text, const sc_opt *opts,
                      int help,
                      int (*on_option)(int key, const char *arg, void *ud),
                      void *ud)
{
    int rc = SC_CLI_DONE;

    if (help) {
        print_help(cli->prog, usage_text, opts, cli->common);
    } else {
        print_version(cli->prog);
        if (on_option && find_key(opts, SC_OPT_VERSION_HOOK, cli->common) &&
            on_option(SC_OPT_VERSION_HOOK, NULL, ud) < 0) {
            sc_log_error("%s", sc_errmsg());
            rc = SC_EXIT_FAIL;
        }
    }
    if (fflush(stdout) != 0 || ferror(stdout)) {
        sc_log_error("cannot write to standard output: %s", strerror(errno));
        rc = SC_EXIT_FAIL;
    }
    return rc;
}

/* ---- signals ---- */

/* SIGTERM, SIGINT, SIGHUP: remove the temporary files (sc_io_tmp_cleanup)
 * and exit with 128 + the signal number, as a shell reports it. */
static void on_signal(int sig)
{
    sc_io_tmp_cleanup();
    _exit(128 + sig);
}

void sc_cli_catch_signals(void)
{
    static const int sigs[] = {SIGTERM, SIGINT, SIGHUP};
    struct sigaction sa, old;

    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) {
        /* A signal ignored at start (nohup, a background job) stays so. */
        if (sigaction(sigs[i], NULL, &old) == 0 && old.sa_handler == SIG_IGN)
            continue;
        sigaction(sigs[i], &sa, NULL);
    }
}

static int log_level(int verbosity)
{
    return verbosity < 0    ? SC_LOG_ERROR
           : verbosity == 0 ? SC_LOG_WARN
           : verbosity == 1 ? SC_LOG_INFO
                            : SC_LOG_DEBUG;
}

/* sc_cli_parse offering the common options in COMMON (SC_CLI_*). */
static int parse(sc_cli *cli, const char *prog, const char *usage_text,
                 const sc_opt *opts, unsigned common, int argc, char **argv,
                 int (*on_option)(int key, const char *arg, void *ud), void *ud)
{
    struct option *longopts = NULL;
    char *shortopts = NULL, name[64];
    const sc_opt *o;
    int c, rc = SC_CLI_RUN, help = 0, version = 0;

    memset(cli, 0, sizeof *cli);
    cli->common = common;
    cli->start = sc_mono_ns();
    cli->prog = prog;
    cli->threads = 1;
    cli->progress = SC_PROGRESS_AUTO;
    cli->provenance = 1;
    sc_log_init(prog, SC_LOG_WARN);
    if (!(cli->cmdline = join_cmdline(argc, argv)) ||
        build_getopt(opts, common, &shortopts, &longopts) < 0) {
        sc_log_error("out of memory");
        rc = SC_EXIT_FAIL;
        goto out;
    }
    optind = 0; /* glibc: start afresh, even if getopt was used before */
    opterr = 0;
    while ((c = getopt_long(argc, argv, shortopts, longopts, NULL)) != -1) {
        if (c == '?' || c == ':') {
            rc = bad_option(cli->prog, opts, common, c, argv[optind - 1]);
            goto out;
        }
        if ((o = find_key(opts, c, common)) && is_alias(o) &&
            (o = find_long(opts, o->metavar))) {
            cli->alias_used = c;
            c = o->key;
        }
        if (c >= 0 && c < SC_CLI_KEYS)
            cli->given[c / 8] |= (unsigned char)(1u << (c % 8));
        rc = common_option(cli, c, optarg, &help, &version);
        if (rc == 1)
            rc = on_option ? on_option(c, optarg, ud) : 0;
        if (rc < 0) {
            rc = usage(cli->prog, "option '%s': %s",
                       opt_name(find_key(opts, c, common), name, sizeof name),
                       sc_errmsg());
            goto out;
        }
        if (rc > 0) {
            rc = SC_CLI_DONE;
            goto out;
        }
    }
    sc_log_set_level(log_level(cli->verbosity));
    if (cli->alias_used)
        sc_log_info("option '-%c' is deprecated (removed in the next "
                    "release): use '--%s'",
                    cli->alias_used,
                    find_key(opts, cli->alias_used, common)->metavar);
    if (cli->verbosity < 0 && cli->progress == SC_PROGRESS_AUTO)
        cli->progress = SC_PROGRESS_OFF;
    if (help || version) {
        rc = print_info(cli, usage_text, opts, help, on_option, ud);
        goto out;
    }
    cli->argc = argc - optind;
    cli->argv = argv + optind;
    sc_cli_catch_signals();
    rc = SC_CLI_RUN;
out:
    free(shortopts);
    free(longopts);
    if (rc != SC_CLI_RUN)
        sc_cli_release(cli);
    return rc;
}

int sc_cli_parse(sc_cli *cli, const char *prog, const char *usage_text,
                 const sc_opt *opts, int argc, char **argv,
                 int (*on_option)(int key, const char *arg, void *ud), void *ud)
{
    return parse(cli, prog, usage_text, opts, SC_CLI_ALL, argc, argv, on_option,
                 ud);
}

int sc_cli_given(const sc_cli *cli, int key)
{
    return key >= 0 && key < SC_CLI_KEYS &&
           (cli->given[key / 8] >> (key % 8) & 1);
}

void sc_cli_release(sc_cli *cli)
{
    free(cli->cmdline);
    cli->cmdline = NULL;
}

double sc_cli_elapsed(const sc_cli *cli)
{
    return (double)(sc_mono_ns() - cli->start) * 1e-9;
}

/* ---- commands ---- */

int sc_cli_usage_fail(const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    sc_fail(SC_EINVAL, "%s", buf);
    return SC_CLI_EUSAGE;
}

/* 1 if ARG is an option of OPTS whose value is the next argument ("-o
 * FILE", "--share DIR", "-vo FILE"; not "-n5", "--max=5"). */
static int takes_next(const sc_opt *opts, const char *arg)
{
    const sc_opt *o;

    if (arg[0] != '-' || !arg[1])
        return 0;
    if (arg[1] == '-') {
        for (o = opts; !is_end(o); o++)
            if (o->long_name && o->arg == SC_ARG_REQUIRED &&
                !strcmp(arg + 2, o->long_name))
                return 1;
        return 0;
    }
    for (const char *c = arg + 1; *c; c++)
        if ((o = find_key(opts, (unsigned char)*c, SC_CLI_ALL)) &&
            o->arg == SC_ARG_REQUIRED)
            return c[1] == '\0'; /* else the rest is its value */
    return 0;
}

/* Index in ARGV of the first operand, the command's name; 0 if none. */
static int command_index(const sc_opt *opts, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            return i + 1 < argc ? i + 1 : 0;
        if (argv[i][0] != '-' || !argv[i][1])
            return i;
        if (takes_next(opts, argv[i]))
            i++;
    }
    return 0;
}

static const sc_cmd *find_cmd(const sc_tool *t, const char *name)
{
    for (size_t i = 0; name && i < t->n_cmds; i++)
        if (t->cmds[i].name && !strcmp(t->cmds[i].name, name))
            return &t->cmds[i];
    return NULL;
}

/* The common options of any command of T. */
static unsigned tool_common(const sc_tool *t)
{
    unsigned common = 0;

    for (size_t i = 0; i < t->n_cmds; i++)
        common |= t->cmds[i].common;
    return common;
}

/* The tool's --help text: its usage, the commands with their summaries,
 * and where their options are. Released by the caller; NULL: no memory. */
static char *tool_usage(const sc_tool *t)
{
    size_t cap = strlen(t->usage) + 256, used, width = 0;
    char *s;

    for (size_t i = 0; i < t->n_cmds; i++)
        if (t->cmds[i].name && t->cmds[i].summary) {
            cap += 3 * strlen(t->cmds[i].summary) + 64;
            if (strlen(t->cmds[i].name) > width)
                width = strlen(t->cmds[i].name);
        }
    if (!(s = malloc(cap)))
        return NULL;
    used = (size_t)snprintf(s, cap, "%s\n\nCommands:\n", t->usage);
    for (size_t i = 0; i < t->n_cmds; i++) {
        const char *p = t->cmds[i].summary;

        if (!t->cmds[i].name || !p)
            continue;
        used += (size_t)snprintf(s + used, cap - used, "  %-*s  ", (int)width,
                                 t->cmds[i].name);
        for (; *p; p++) {
            s[used++] = *p;
            if (*p == '\n')
                used += (size_t)snprintf(s + used, cap - used, "%*s",
                                         (int)width + 4, "");
        }
        s[used++] = '\n';
    }
    snprintf(s + used, cap - used,
             "\nRun '%s <command> --help' for the options of a command.",
             t->prog);
    return s;
}

/* "no command given (init, add, ...)" */
static int no_command(sc_cli *cli, const sc_tool *t)
{
    char list[512];
    size_t used = 0;

    list[0] = '\0';
    for (size_t i = 0; i < t->n_cmds && used < sizeof list; i++)
        if (t->cmds[i].name)
            used += (size_t)snprintf(list + used, sizeof list - used, "%s%s",
                                     used ? ", " : "", t->cmds[i].name);
    return sc_cli_usage_error(cli, "no command given (%s)", list);
}

/* "NAME: expected <ops>: missing operand", the operands from its usage. */
static int operand_error(sc_cli *cli, const sc_cmd *cmd, int too_many)
{
    const char *u = cmd->usage ? cmd->usage : "";
    const char *why = too_many ? "too many operands" : "missing operand";
    size_t n;

    if (cmd->name && !strncmp(u, cmd->name, strlen(cmd->name)))
        u += strlen(cmd->name);
    u += strspn(u, " ");
    if (!strncmp(u, "[options]", 9))
        u += 9 + strspn(u + 9, " ");
    n = strcspn(u, "\n");
    if (!n)
        return sc_cli_usage_error(cli, "%s: %s", cmd->name ? cmd->name : "",
                                  why);
    return sc_cli_usage_error(cli, "%s: expected %.*s: %s",
                              cmd->name ? cmd->name : "", (int)n, u, why);
}

/* A usage error for a common option on the command line that CMD does not
 * offer, as if it were not an option (bad_option), or 0. */
static int unused_common(sc_cli *cli, const sc_tool *t, const sc_cmd *cmd)
{
    static const int keys[] = {'c', '@', SC_OPT_NO_PROVENANCE};
    char name[64];

    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        const sc_opt *o = find_key(t->opts, keys[i], SC_CLI_ALL);

        if (o && !offered(o, cmd->common) && sc_cli_given(cli, keys[i]))
            return sc_cli_usage_error(cli, "unknown option '%s'",
                                      opt_name(o, name, sizeof name));
    }
    return 0;
}

int sc_cli_dispatch(const sc_tool *t, int argc, char **argv, void *ud)
{
    const sc_cmd *cmd = NULL;
    sc_config *cfg = NULL;
    char *top = NULL;
    int named = 0, rc, ci;
    sc_cli cli;

    if (t->n_cmds == 1 && !t->cmds[0].name)
        cmd = &t->cmds[0];
    else if ((ci = command_index(t->opts, argc, argv)) &&
             (cmd = find_cmd(t, argv[ci])))
        named = 1;
    else
        cmd = find_cmd(t, t->default_cmd);
    if (!named && t->n_cmds > 1 && !(top = tool_usage(t))) {
        fprintf(stderr, "%s: error: out of memory\n", t->prog);
        return SC_EXIT_FAIL;
    }
    if (!cmd) {
        rc = parse(&cli, t->prog, top, t->opts, tool_common(t), argc, argv,
                   t->on_option, ud);
        if (rc == SC_CLI_RUN)
            rc = cli.argc ? sc_cli_usage_error(&cli, "unknown command '%s'",
                                               cli.argv[0])
                          : no_command(&cli, t);
        free(top);
        return rc;
    }
    rc = parse(&cli, t->prog,
               top     ? top
               : named ? cmd->usage
                       : t->usage,
               cmd->opts ? cmd->opts : t->opts,
               named || !top ? cmd->common : tool_common(t), argc, argv,
               t->on_option, ud);
    free(top);
    if (rc != SC_CLI_RUN)
        return rc;
    /* the default command, not named, was offered every command's common
     * options (for the tool's --help): refuse those it does not use */
    if (!named && (rc = unused_common(&cli, t, cmd)) != 0)
        return rc;
    if (named) { /* the operands start with the command's name */
        cli.argc--;
        cli.argv++;
    }
    if ((cmd->common & SC_CLI_CONFIG) &&
        sc_config_load(&cli, t->prog, t->opts, t->on_option, ud, &cfg) < 0)
        return sc_cli_usage_error(&cli, "%s", sc_errmsg());
    if (cli.argc < cmd->min_args ||
        (cmd->max_args >= 0 && cli.argc > cmd->max_args)) {
        rc = operand_error(&cli, cmd, cli.argc >= cmd->min_args);
    } else {
        rc = t->run(&cli, cmd, ud);
        rc = rc == SC_CLI_EUSAGE ? sc_cli_usage_error(&cli, "%s", sc_errmsg())
                                 : sc_cli_finish(&cli, rc);
    }
    sc_config_free(cfg); /* after the run: option values point into it */
    return rc;
}

/* ---- the end of a run ---- */

static void print_summary(const sc_cli *cli)
{
    struct rusage ru;
    double cpu = 0, rss = 0;

    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        cpu = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
              (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
        rss = (double)ru.ru_maxrss / 1024.0; /* Linux reports KiB */
    }
    sc_log_info("version %s", SC_VERSION);
    sc_log_info("command: %s", cli->cmdline ? cli->cmdline : "?");
    sc_log_info("real time %.3f s, CPU time %.3f s, peak RSS %.1f MiB",
                sc_cli_elapsed(cli), cpu, rss);
}

int sc_cli_finish(sc_cli *cli, int rc)
{
    int status = rc < 0 ? SC_EXIT_FAIL : rc, err = 0;

    if (rc < 0)
        sc_log_error("%s", sc_errmsg());
    if (fflush(stdout) != 0 || ferror(stdout)) {
        err = errno ? errno : EIO;
        sc_log_error("cannot write to standard output: %s", strerror(err));
    }
    print_summary(cli);
    /* After fclose, sc_log (which flushes stdout) must not be used. */
    if (fclose(stdout) != 0 && !err) {
        err = errno;
        fprintf(stderr, "%s: error: cannot close standard output: %s\n",
                cli->prog, strerror(err));
    }
    if (err && (status == SC_EXIT_OK || status == SC_EXIT_PARTIAL))
        status = SC_EXIT_FAIL;
    sc_cli_release(cli);
    return status;
}

/* ---- numbers ---- */

int sc_parse_int(const char *s, int64_t min, int64_t max, int64_t *out)
{
    long long v;
    char *end;

    errno = 0;
    if (!*s || isspace((unsigned char)*s))
        return sc_fail(SC_EINVAL, "invalid integer '%s'", s);
    v = strtoll(s, &end, 10);
    if (*end)
        return sc_fail(SC_EINVAL, "invalid integer '%s'", s);
    if (errno == ERANGE || v < min || v > max)
        return sc_fail(SC_ERANGE,
                       "integer '%s' out of range [%" PRId64 ", %" PRId64 "]",
                       s, min, max);
    *out = v;
    return 0;
}

/* The multiplier for a size suffix at S (whole rest of the string), or 0. */
static uint64_t size_unit(const char *s)
{
    static const char units[] = "KMGT";
    const char *u;
    uint64_t m = 1;

    if (!*s)
        return 1;
    if (!strcmp(s, "B") || !strcmp(s, "b"))
        return 1;
    if (!(u = strchr(units, toupper((unsigned char)*s))))
        return 0;
    m <<= 10 * (u - units + 1);
    s++;
    if (!*s || !strcmp(s, "B") || !strcmp(s, "b") || !strcmp(s, "iB"))
        return m;
    return 0;
}

int sc_parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    const char *p = s, *frac = NULL;
    uint64_t whole = 0, mult, v;
    long double f = 0, scale = 1;

    if (!isdigit((unsigned char)*p))
        return sc_fail(SC_EINVAL, "invalid size '%s'", s);
    for (; isdigit((unsigned char)*p); p++) {
        uint64_t d = (uint64_t)(*p - '0');

        if (whole > (UINT64_MAX - d) / 10)
            return sc_fail(SC_ERANGE, "size '%s' out of range", s);
        whole = whole * 10 + d;
    }
    if (*p == '.') {
        frac = ++p;
        for (; isdigit((unsigned char)*p); p++)
            f += (long double)(*p - '0') * (scale /= 10);
        if (p == frac)
            return sc_fail(SC_EINVAL, "invalid size '%s'", s);
    }
    if (!(mult = size_unit(p)) || (frac && mult == 1))
        return sc_fail(SC_EINVAL, "invalid size '%s'", s);
    if (whole > UINT64_MAX / mult)
        return sc_fail(SC_ERANGE, "size '%s' out of range", s);
    v = whole * mult;
    if (frac) {
        uint64_t extra = (uint64_t)(f * (long double)mult);

        if (v > UINT64_MAX - extra)
            return sc_fail(SC_ERANGE, "size '%s' out of range", s);
        v += extra;
    }
    if (v < min || v > max)
        return sc_fail(SC_ERANGE,
                       "size '%s' out of range [%" PRIu64 ", %" PRIu64 "]", s,
                       min, max);
    *out = v;
    return 0;
}

int sc_parse_double(const char *s, double min, double max, double *out)
{
    double v;
    char *end;

    /* Only plain decimal notation: strtod would also take "inf", "nan",
     * hexadecimal and leading white space. */
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return sc_fail(SC_EINVAL, "invalid number '%s'", s);
    errno = 0;
    v = strtod(s, &end);
    if (end == s || *end)
        return sc_fail(SC_EINVAL, "invalid number '%s'", s);
    if ((errno == ERANGE && fabs(v) > 1.0) || !(v >= min && v <= max))
        return sc_fail(SC_ERANGE, "number '%s' out of range [%g, %g]", s, min,
                       max);
    *out = v;
    return 0;
}
