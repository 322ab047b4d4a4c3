/* test_cli: option table, --help/--version, usage errors, exit, numbers. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc_cli.h"
#include "sc_log.h"
#include "sc_version.h"
#include "unit.h"

/* ---- a tool under test ---- */

struct args {
    int64_t num;
    int x;
    const char *color, *output;
    int ncalls;
};

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {'n', "num", SC_ARG_REQUIRED, "N", "a number from 1 to 10 [3]"},
    {'x', NULL, SC_ARG_NONE, NULL, "a short-only flag"},
    {SC_OPT_USER, "color", SC_ARG_OPTIONAL, "WHEN",
     "colour the output: always, never [auto]"},
    {0, NULL, 0, NULL, "Output options:"},
    {'o', "output", SC_ARG_REQUIRED, "FILE",
     "write the result to FILE, which is a long sentence that has to be "
     "wrapped over several lines to fit into eighty columns [-]"},
    {SC_OPT_USER + 1, "list", SC_ARG_NONE, NULL, "list the formats and exit"},
    {SC_OPT_USER + 2, "secret", SC_ARG_NONE, NULL, NULL},
    {SC_OPT_USER + 3, "a-very-long-option-name", SC_ARG_REQUIRED, "VALUE",
     "help that starts on the next line"},
    SC_OPT_VERSION_EXTRA,
    SC_OPT_ALIAS('m', "num", SC_ARG_REQUIRED),
    SC_OPT_END,
};

static int on_option(int key, const char *arg, void *ud)
{
    struct args *a = ud;

    a->ncalls++;
    switch (key) {
    case 'n': return sc_parse_int(arg, 1, 10, &a->num);
    case 'x': a->x++; return 0;
    case 'o': a->output = arg; return 0;
    case SC_OPT_USER: a->color = arg ? arg : "(none)"; return 0;
    case SC_OPT_USER + 1: printf("tsv\njson\n"); return 1;
    case SC_OPT_USER + 2: return sc_fail(SC_EINVAL, "not today");
    case SC_OPT_VERSION_HOOK: printf("reference data: test 1.0\n"); return 0;
    default: return 0;
    }
}

/* Parse ARGS (NULL-terminated) in this process. */
static int parse(sc_cli *cli, struct args *a, char **args)
{
    int argc = 0;

    while (args[argc])
        argc++;
    memset(a, 0, sizeof *a);
    return sc_cli_parse(cli, "prog", "[options] <in>...\nDo a test.\n", opts,
                        argc, args, on_option, a);
}

/* ---- running a parse in a child, capturing its output ---- */

struct job {
    char **args;
    int dispatch;            /* sc_cli_dispatch instead of sc_cli_parse */
    const char *stdout_path; /* instead of capturing stdout */
    int finish, finish_rc;   /* call sc_cli_finish(rc) after the parse */
    const char *data;        /* printed to stdout before finishing */
};

struct cap {
    int status;
    char out[16384], err[4096];
};

static int dispatch(char **args);

static int child(const struct job *j)
{
    struct args a;
    sc_cli cli;
    int rc;

    if (j->dispatch)
        return dispatch(j->args);
    rc = parse(&cli, &a, j->args);

    if (rc != SC_CLI_RUN)
        return rc;
    if (j->data)
        fputs(j->data, stdout);
    if (j->finish)
        return sc_cli_finish(&cli, j->finish_rc);
    sc_cli_release(&cli);
    return 100;
}

static void slurp(FILE *f, char *buf, size_t size)
{
    size_t n;

    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

static void run_job(const struct job *j, struct cap *c)
{
    FILE *out = tmpfile(), *err = tmpfile();
    int st = 0, fd;
    pid_t pid;

    fflush(stdout);
    fflush(stderr);
    pid = fork();
    if (pid == 0) {
        fd = j->stdout_path ? open(j->stdout_path, O_WRONLY) : fileno(out);
        dup2(fd, STDOUT_FILENO);
        dup2(fileno(err), STDERR_FILENO);
        exit(child(j));
    }
    waitpid(pid, &st, 0);
    c->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
    slurp(out, c->out, sizeof c->out);
    slurp(err, c->err, sizeof c->err);
}

/* Check that S contains each string of the NULL-terminated list WANT. */
static void check_contains(const char *s, const char *const *want)
{
    for (; *want; want++) {
        if (!strstr(s, *want))
            printf("#   not found: '%s'\n", *want);
        CHECK(strstr(s, *want));
    }
}

#define ARGS(...) ((char *[]){"prog", __VA_ARGS__, NULL})

/* Check that ARGS fail as a usage error with message MSG. */
static void check_usage(char **args, const char *msg)
{
    struct job j = {.args = args};
    struct cap c;
    char want[512];

    run_job(&j, &c);
    snprintf(want, sizeof want, "prog: %s\nTry 'prog --help'.\n", msg);
    CHECK_INTEQ(c.status, 2);
    CHECK_STREQ(c.err, want);
    CHECK_STREQ(c.out, "");
}

/* ---- a tool with commands ---- */

static int cmd_add(struct args *a, sc_cli *cli)
{
    printf("add %d %s num=%lld threads=%d\n", cli->argc, cli->argv[0],
           (long long)a->num, cli->threads);
    return 0;
}

static int cmd_list(struct args *a, sc_cli *cli)
{
    (void)a;
    if (cli->verbosity > 0)
        return sc_cli_usage_fail("list: not with %s", "-v");
    printf("list\n");
    return 3;
}

static int run_cmd(sc_cli *cli, const sc_cmd *cmd, void *ud)
{
    return ((int (*)(struct args *, sc_cli *))cmd->fn)(ud, cli);
}

static const sc_cmd cmds[] = {
    {"add", "add [options] <file>...\nAdd files.", "add files", NULL,
     SC_CLI_ALL, 1, -1, SC_CMD_FN(cmd_add)},
    {"list", "list [options]\nList them.", "list the files\nin order", NULL,
     SC_CLI_CONFIG, 0, 0, SC_CMD_FN(cmd_list)},
};

static const sc_tool tool = {
    "prog", "[options] <command>\nA tool.", opts, on_option, cmds, 2, NULL,
    run_cmd};

static int dispatch(char **args)
{
    struct args a;
    int argc = 0;

    while (args[argc])
        argc++;
    memset(&a, 0, sizeof a);
    return sc_cli_dispatch(&tool, argc, args, &a);
}

/* Run the tool with ARGS; its exit status, stdout and stderr in *C. */
static void run_tool(char **args, struct cap *c)
{
    struct job j = {.args = args, .dispatch = 1};

    run_job(&j, c);
}

/* ---- tests ---- */

static void test_defaults(void)
{
    int rc;
    sc_cli cli;
    struct args a;

    rc = parse(&cli, &a, ARGS("in.h5ad"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.verbosity, 0);
    CHECK_INTEQ(cli.threads, 1);
    CHECK(cli.config == NULL);
    CHECK_INTEQ(cli.progress, SC_PROGRESS_AUTO);
    CHECK_INTEQ(cli.provenance, 1);
    CHECK_INTEQ(cli.argc, 1);
    CHECK_STREQ(cli.argv[0], "in.h5ad");
    CHECK_STREQ(cli.cmdline, "prog in.h5ad");
    CHECK_INTEQ(sc_log_level(), SC_LOG_WARN);
    CHECK_STREQ(sc_log_prog(), "prog");
    CHECK(sc_cli_elapsed(&cli) >= 0 && sc_cli_elapsed(&cli) < 60);
    CHECK_INTEQ(a.ncalls, 0);
    sc_cli_release(&cli);
    sc_cli_release(&cli); /* twice is fine */

    rc = parse(&cli, &a, ARGS(NULL));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.argc, 0);
    sc_cli_release(&cli);
}

static void test_common(void)
{
    int rc;
    sc_cli cli;
    struct args a;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    rc = parse(
        &cli, &a,
        ARGS("-q", "-@", "2", "--config=c.yaml", "x", "--no-provenance", "y"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.verbosity, -1);
    CHECK_INTEQ(sc_log_level(), SC_LOG_ERROR);
    CHECK_INTEQ(cli.threads, 2);
    CHECK_STREQ(cli.config, "c.yaml");
    CHECK_INTEQ(cli.progress, SC_PROGRESS_OFF); /* -q turns auto off */
    CHECK_INTEQ(cli.provenance, 0);
    CHECK_INTEQ(cli.argc, 2); /* options after operands: argv permuted */
    CHECK_STREQ(cli.argv[0], "x");
    CHECK_STREQ(cli.argv[1], "y");
    sc_cli_release(&cli);

    rc = parse(&cli, &a, ARGS("-vq", "--progress", "-c", "f"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.progress, SC_PROGRESS_ON); /* explicit beats -q */
    CHECK_STREQ(cli.config, "f");
    sc_cli_release(&cli);

    rc = parse(&cli, &a, ARGS("-v"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.verbosity, 1);
    CHECK_INTEQ(sc_log_level(), SC_LOG_INFO);
    sc_cli_release(&cli);

    rc = parse(&cli, &a,
               ARGS("-q", "-vv", "--verbose", "--progress", "--no-progress"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.verbosity, 3);
    CHECK_INTEQ(sc_log_level(), SC_LOG_DEBUG);
    CHECK_INTEQ(cli.progress, SC_PROGRESS_OFF); /* the last one wins */
    sc_cli_release(&cli);

    rc = parse(&cli, &a, ARGS("-@0"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.threads, cpus < 1 ? 1 : cpus);
    sc_cli_release(&cli);

    rc = parse(&cli, &a, ARGS("--threads", "3", "--", "-v", "-"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(cli.threads, 3);
    CHECK_INTEQ(cli.verbosity, 0);
    CHECK_INTEQ(cli.argc, 2);
    CHECK_STREQ(cli.argv[0], "-v");
    CHECK_STREQ(cli.argv[1], "-");
    sc_cli_release(&cli);
    sc_log_set_level(SC_LOG_WARN);
}

static void test_tool_options(void)
{
    int rc;
    sc_cli cli;
    struct args a;

    rc = parse(&cli, &a, ARGS("-xn5", "--color", "-o", "out.tsv", "-x", "in"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_INTEQ(a.num, 5);
    CHECK_INTEQ(a.x, 2);
    CHECK_STREQ(a.color, "(none)"); /* optional argument not attached */
    CHECK_STREQ(a.output, "out.tsv");
    CHECK_INTEQ(a.ncalls, 5);
    CHECK_INTEQ(cli.argc, 1);
    sc_cli_release(&cli);

    rc = parse(&cli, &a,
               ARGS("--color=never", "--num=10", "--output=-", "--nu", "7"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_STREQ(a.color, "never");
    CHECK_INTEQ(a.num, 7); /* unambiguous prefix, the last one wins */
    CHECK_STREQ(a.output, "-");
    CHECK_INTEQ(cli.argc, 0);
    sc_cli_release(&cli);
}

static void test_cmdline(void)
{
    int rc;
    sc_cli cli;
    struct args a;

    rc = parse(&cli, &a, ARGS("-o", "a b", "it's", "", "x=1,y/z"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    CHECK_STREQ(cli.cmdline, "prog -o 'a b' 'it'\\''s' '' x=1,y/z");
    sc_cli_release(&cli);
}

static void test_usage_errors(void)
{
    check_usage(ARGS("--bogus"), "unknown option '--bogus'");
    check_usage(ARGS("--bogus=1", "x"), "unknown option '--bogus'");
    check_usage(ARGS("-Z"), "unknown option '-Z'");
    check_usage(ARGS("-qZv"), "unknown option '-Z'");
    check_usage(ARGS("--quiet", "-xZ"), "unknown option '-Z'");
    check_usage(ARGS("-n"), "option '-n' requires an argument");
    check_usage(ARGS("-qn"), "option '-n' requires an argument");
    check_usage(ARGS("x", "--num"), "option '--num' requires an argument");
    check_usage(ARGS("--help=yes"),
                "option '--help' does not take an argument");
    check_usage(ARGS("--list=1"), "option '--list' does not take an argument");
    check_usage(ARGS("--co"), "ambiguous option '--co'");
    check_usage(ARGS("-n", "abc"), "option '--num': invalid integer 'abc'");
    check_usage(ARGS("--num=11"),
                "option '--num': integer '11' out of range [1, 10]");
    check_usage(ARGS("-@", "-1"),
                "option '--threads': integer '-1' out of range [0, 4096]");
    check_usage(ARGS("-@", ""), "option '--threads': invalid integer ''");
    check_usage(ARGS("--secret"), "option '--secret': not today");
    /* The first error is reported, even after --help. */
    check_usage(ARGS("--help", "--bogus"), "unknown option '--bogus'");
}

static void test_usage_error_fn(void)
{
    int rc;
    struct cap c;
    FILE *err = tmpfile();
    sc_cli cli;
    struct args a;
    int saved;

    rc = parse(&cli, &a, ARGS("x"));
    CHECK_INTEQ(rc, SC_CLI_RUN);
    saved = unit_redirect_fd(STDERR_FILENO, fileno(err));
    rc = sc_cli_usage_error(&cli, "missing <%s>", "db");
    unit_restore_fd(STDERR_FILENO, saved);
    CHECK_INTEQ(rc, 2);
    CHECK(cli.cmdline == NULL); /* released */
    slurp(err, c.err, sizeof c.err);
    CHECK_STREQ(c.err, "prog: missing <db>\nTry 'prog --help'.\n");
}

static void test_help(void)
{
    static const char head[] = "Usage: prog [options] <in>...\nDo a test.\n\n"
                               "Common options:\n  -h, --help ";
    struct job j = {.args = ARGS("x", "--help", "--num", "4")};
    struct cap c;
    char *line, *save = NULL;
    int maxlen = 0;

    run_job(&j, &c);
    CHECK_INTEQ(c.status, 0);
    CHECK_STREQ(c.err, "");
    CHECK(!strncmp(c.out, head, strlen(head)));
    check_contains(c.out, (const char *[]){
                              "\n  -@, --threads N ", "\n      --progress ",
                              "\n      --no-provenance ",
                              "\n\nOptions:\n  -n, --num N ",
                              " a number from 1 to 10 [3]\n", "\n  -x   ",
                              "\n      --color[=WHEN] ",
                              "\n\nOutput options:\n  -o, --output FILE ",
                              "\n      --a-very-long-option-name VALUE\n"
                              "                       help that starts",
                              "\n                       columns [-]\n", NULL});
    CHECK(!strstr(c.out, "secret"));
    for (line = strtok_r(c.out, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save))
        if ((int)strlen(line) > maxlen)
            maxlen = (int)strlen(line);
    CHECK(maxlen <= 80);
    CHECK(maxlen > 60);

    /* -h beats -V; writing to a full disk is an error. */
    j = (struct job){.args = ARGS("-V", "-h"), .stdout_path = "/dev/full"};
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 1);
    CHECK_STREQ(c.err, "prog: error: cannot write to standard output: "
                       "No space left on device\n");
}

static void test_help_minimal(void)
{
    /* A table of the common options only: no empty "Options:" group, and
     * a heading-less table still gets one. */
    static const sc_opt common[] = {SC_OPT_COMMON, SC_OPT_END};
    static const sc_opt last[] = {{'k', "keep-going", SC_ARG_NONE, NULL,
                                   "continue after a failed dataset"},
                                  SC_OPT_COMMON,
                                  SC_OPT_END};
    FILE *out = tmpfile();
    char buf[4096], *second;
    sc_cli cli;
    char **args = ARGS("-h");
    int saved = unit_redirect_fd(STDOUT_FILENO, fileno(out));

    CHECK_INTEQ(sc_cli_parse(&cli, "p", "<x>", common, 2, args, NULL, NULL),
                SC_CLI_DONE);
    args = ARGS("--help");
    CHECK_INTEQ(sc_cli_parse(&cli, "p", "<y>", last, 2, args, NULL, NULL),
                SC_CLI_DONE);
    unit_restore_fd(STDOUT_FILENO, saved);
    slurp(out, buf, sizeof buf);
    CHECK(!strncmp(buf, "Usage: p <x>\n\nCommon options:\n  -h, --help ", 42));
    CHECK((second = strstr(buf, "Usage: p <y>\n")) != NULL);
    CHECK(!strstr(buf, "\nOptions:") || strstr(buf, "\nOptions:") > second);
    CHECK(second && strstr(second, "\n\nOptions:\n  -k, --keep-going     "
                                   "continue after a failed dataset\n\n"
                                   "Common options:\n  -h, --help"));
    CHECK(second && !strstr(strstr(second, "Common"), "Options:"));
}

static void test_version(void)
{
    struct job j = {.args = ARGS("--version", "x")};
    struct cap c;
    char want[128];

    run_job(&j, &c);
    CHECK_INTEQ(c.status, 0);
    CHECK_STREQ(c.err, "");
    snprintf(want, sizeof want, "prog %s (hdf5 1.", SC_VERSION);
    CHECK(!strncmp(c.out, want, strlen(want)));
    check_contains(c.out,
                   (const char *[]){", sqlite 3.", ", yaml 0.", ", zlib 1.",
                                    ", libcurl ", ", jansson 2.",
                                    ", libdeflate 1.", ", openssl 3.",
                                    ")\nreference data: test 1.0\n", NULL});
    CHECK(!strstr(c.out, "OpenSSL"));
}

static void test_option_stop(void)
{
    struct job j = {.args = ARGS("--list", "--bogus")};
    struct cap c;

    run_job(&j, &c);
    CHECK_INTEQ(c.status, 0);
    CHECK_STREQ(c.out, "tsv\njson\n");
    CHECK_STREQ(c.err, "");
}

static void test_finish(void)
{
    struct job j = {.args = ARGS("x"), .finish = 1, .data = "data\n"};
    struct cap c;

    run_job(&j, &c);
    CHECK_INTEQ(c.status, 0);
    CHECK_STREQ(c.out, "data\n");
    CHECK_STREQ(c.err, "");

    j.finish_rc = SC_EXIT_PARTIAL;
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 3);
    CHECK_STREQ(c.err, "");

    j.finish_rc = sc_fail(SC_EIO, "cannot open 'x': No such file");
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 1);
    CHECK_STREQ(c.err, "prog: error: cannot open 'x': No such file\n");
    CHECK_STREQ(c.out, "data\n");

    /* A full disk on stdout turns success and partial success into 1. */
    j.stdout_path = "/dev/full";
    j.finish_rc = SC_EXIT_PARTIAL;
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 1);
    CHECK_STREQ(c.err, "prog: error: cannot write to standard output: "
                       "No space left on device\n");
    j.finish_rc = 0;
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 1);
    j.finish_rc = SC_EXIT_USAGE;
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 2);

    /* -v prints the summary. */
    j = (struct job){.args = ARGS("-v", "a b"), .finish = 1};
    run_job(&j, &c);
    CHECK_INTEQ(c.status, 0);
    CHECK(!strncmp(c.err, "prog: version ", 14));
    check_contains(c.err, (const char *[]){"\nprog: command: prog -v 'a b'\n",
                                           "\nprog: real time ",
                                           " s, CPU time ", " MiB\n", NULL});
}

/* Each string of the NULL-terminated list BAD fails with CODE when given to
 * PARSE_FN, one of the parsers wrapped below. */
static void check_rejects(int (*parse_fn)(const char *), const char *const *bad,
                          int code)
{
    for (; *bad; bad++) {
        if (parse_fn(*bad) != code)
            printf("#   accepted or wrong code: '%s'\n", *bad);
        CHECK(parse_fn(*bad) == code);
    }
}

static int64_t ival;
static uint64_t uval;
static double dval;

static int int_any(const char *s)
{
    return sc_parse_int(s, INT64_MIN, INT64_MAX, &ival);
}

static int int_0_10(const char *s)
{
    return sc_parse_int(s, 0, 10, &ival);
}

static int size_any(const char *s)
{
    return sc_parse_size(s, 0, UINT64_MAX, &uval);
}

static int double_any(const char *s)
{
    return sc_parse_double(s, -HUGE_VAL, HUGE_VAL, &dval);
}

static void test_parse_int(void)
{
    static const struct {
        const char *s;
        int64_t v;
    } good[] = {{"0", 0},
                {"-17", -17},
                {"+8", 8},
                {"9223372036854775807", INT64_MAX},
                {"-9223372036854775808", INT64_MIN}};
    size_t i;

    for (i = 0; i < sizeof good / sizeof *good; i++) {
        ival = 42;
        CHECK_INTEQ(int_any(good[i].s), 0);
        CHECK(ival == good[i].v);
    }
    ival = 42;
    check_rejects(int_any,
                  (const char *[]){"", "12x", " 1", "1 ", "-", "+", "0x10",
                                   "1.0", "1e3", "١", NULL},
                  SC_EINVAL);
    check_rejects(
        int_any,
        (const char *[]){"9223372036854775808", "-99999999999999999999", NULL},
        SC_ERANGE);
    check_rejects(int_0_10, (const char *[]){"11", "-1", NULL}, SC_ERANGE);
    CHECK_INTEQ(ival, 42); /* untouched on failure */
    CHECK_INTEQ(int_any("12x"), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "invalid integer '12x'");
    CHECK_INTEQ(int_0_10(""), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "invalid integer ''");
    CHECK_INTEQ(int_0_10("11"), SC_ERANGE);
    CHECK_STREQ(sc_errmsg(), "integer '11' out of range [0, 10]");
}

static void test_parse_size(void)
{
    static const struct {
        const char *s;
        uint64_t v;
    } good[] = {{"0", 0},
                {"123", 123},
                {"123B", 123},
                {"4k", 4096},
                {"2M", 2 << 20},
                {"1.5G", 3ULL << 29},
                {"512KiB", 512 << 10},
                {"3TB", 3ULL << 40},
                {"0.1K", 102}, /* rounded down */
                {"18446744073709551615", UINT64_MAX},
                /* (2^24 - 1 + 0.99) * 2^40, rounded down */
                {"16777215.99T", 18446744062714435338ULL}};
    size_t i;

    for (i = 0; i < sizeof good / sizeof *good; i++) {
        uval = 42;
        CHECK_INTEQ(size_any(good[i].s), 0);
        if (uval != good[i].v)
            printf("#   '%s' gave %llu\n", good[i].s, (unsigned long long)uval);
        CHECK(uval == good[i].v);
    }
    uval = 42;
    check_rejects(size_any,
                  (const char *[]){"", "G", "-1", "+1", " 1", "1.5", "1.5B",
                                   "1.G", ".5G", "1X", "1GG", "1Gi", "1G ",
                                   "1 G", NULL},
                  SC_EINVAL);
    check_rejects(size_any,
                  (const char *[]){"18446744073709551616", "16777216T",
                                   "99999999999999999999999", NULL},
                  SC_ERANGE);
    CHECK_INTEQ(uval, 42);
    CHECK_INTEQ(size_any("1X"), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "invalid size '1X'");
    CHECK_INTEQ(size_any("16777216T"), SC_ERANGE);
    CHECK_STREQ(sc_errmsg(), "size '16777216T' out of range");
    CHECK_INTEQ(sc_parse_size("2K", 0, 1024, &uval), SC_ERANGE);
    CHECK_STREQ(sc_errmsg(), "size '2K' out of range [0, 1024]");
    CHECK_INTEQ(sc_parse_size("0", 1, 1024, &uval), SC_ERANGE);
    CHECK_INTEQ(sc_parse_size("1K", 1, 1024, &uval), 0);
    CHECK_INTEQ(uval, 1024);
}

static void test_parse_double(void)
{
    static const struct {
        const char *s;
        double v;
    } good[] = {{"0.25", 0.25}, {"-1.5e3", -1500}, {"1", 1},
                {".5", 0.5},    {"1E2", 100},      {"1e-400", 0}};
    size_t i;

    for (i = 0; i < sizeof good / sizeof *good; i++) {
        dval = 42;
        CHECK_INTEQ(double_any(good[i].s), 0);
        CHECK(dval == good[i].v); /* 1e-400 underflows to 0 */
    }
    dval = 42;
    check_rejects(double_any,
                  (const char *[]){"", "abc", "0.5x", " 0.5", "nan", "inf",
                                   "-infinity", "0x1p3", "1e", "1.2.3", "-",
                                   ".", "1,5", NULL},
                  SC_EINVAL);
    check_rejects(double_any, (const char *[]){"1e999", "-1e999", NULL},
                  SC_ERANGE);
    CHECK(dval == 42);
    CHECK_INTEQ(double_any(""), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "invalid number ''");
    CHECK_INTEQ(sc_parse_double("1.5", 0, 1, &dval), SC_ERANGE);
    CHECK_STREQ(sc_errmsg(), "number '1.5' out of range [0, 1]");
    CHECK_INTEQ(sc_parse_double("1", 0, 1, &dval), 0);
    CHECK(dval == 1);
}

static void test_dispatch(void)
{
    struct cap c;

    run_tool(ARGS("-q", "add", "-@", "2", "f1", "f2", "-n", "4"), &c);
    CHECK_INTEQ(c.status, 0);
    CHECK_STREQ(c.out, "add 2 f1 num=4 threads=2\n");
    CHECK_STREQ(c.err, "");
    /* options before the command, and "--" */
    run_tool(ARGS("-n", "5", "--", "add", "-x"), &c);
    CHECK_STREQ(c.out, "add 1 -x num=5 threads=1\n");
    /* the status of the handler */
    run_tool(ARGS("list"), &c);
    CHECK_INTEQ(c.status, 3);
    CHECK_STREQ(c.out, "list\n");
    /* usage errors */
    run_tool(ARGS("-n", "3"), &c);
    CHECK_INTEQ(c.status, 2);
    CHECK_STREQ(c.err, "prog: no command given (add, list)\n"
                       "Try 'prog --help'.\n");
    run_tool(ARGS("fly", "-n", "3"), &c);
    CHECK_INTEQ(c.status, 2);
    CHECK_STREQ(c.err, "prog: unknown command 'fly'\nTry 'prog --help'.\n");
    run_tool(ARGS("add"), &c);
    CHECK_INTEQ(c.status, 2);
    CHECK_STREQ(c.err, "prog: add: expected <file>...: missing operand\n"
                       "Try 'prog --help'.\n");
    run_tool(ARGS("list", "x"), &c);
    CHECK_STREQ(c.err, "prog: list: too many operands\nTry 'prog --help'.\n");
    run_tool(ARGS("-v", "list"), &c);
    CHECK_INTEQ(c.status, 2);
    CHECK_STREQ(c.out, "");
    CHECK_STREQ(c.err, "prog: list: not with -v\nTry 'prog --help'.\n");
    /* a common option the command does not use is not offered */
    run_tool(ARGS("list", "-@", "2"), &c);
    CHECK_INTEQ(c.status, 2);
    CHECK_STREQ(c.err, "prog: unknown option '-@'\nTry 'prog --help'.\n");
    run_tool(ARGS("list", "--no-provenance"), &c);
    CHECK_STREQ(c.err, "prog: unknown option '--no-provenance'\n"
                       "Try 'prog --help'.\n");
}

static void test_dispatch_help(void)
{
    struct cap c;

    run_tool(ARGS("--help"), &c);
    CHECK_INTEQ(c.status, 0);
    CHECK(!strncmp(c.out,
                   "Usage: prog [options] <command>\nA tool.\n\nCommands:\n"
                   "  add   add files\n"
                   "  list  list the files\n        in order\n\n"
                   "Run 'prog <command> --help' for the options of a "
                   "command.\n\nCommon options:\n",
                   strlen("Usage: prog [options] <command>\nA tool.\n\n"
                          "Commands:\n  add   add files\n  list  list the "
                          "files\n        in order\n\nRun 'prog <command> "
                          "--help' for the options of a command.\n\nCommon "
                          "options:\n")));
    CHECK(strstr(c.out, "--threads"));
    run_tool(ARGS("list", "--help"), &c);
    CHECK_INTEQ(c.status, 0);
    CHECK(!strncmp(c.out, "Usage: prog list [options]\nList them.\n\n", 39));
    CHECK(strstr(c.out, "--config FILE"));
    CHECK(!strstr(c.out, "--threads") && !strstr(c.out, "provenance"));
    CHECK(!strstr(c.out, "Commands:"));
    run_tool(ARGS("add", "-h"), &c);
    CHECK(strstr(c.out, "--threads") && strstr(c.out, "--no-provenance"));
}

static void test_alias(void)
{
    struct args a;
    sc_cli cli;

    /* -m is a hidden alias of -n: the callback sees 'n' */
    CHECK_INTEQ(parse(&cli, &a, ARGS("-m", "7", "x")), SC_CLI_RUN);
    CHECK_INTEQ(a.num, 7);
    CHECK(sc_cli_given(&cli, 'n'));
    CHECK(!sc_cli_given(&cli, 'm'));
    CHECK_INTEQ(cli.alias_used, 'm');
    sc_cli_release(&cli);
    CHECK_INTEQ(parse(&cli, &a, ARGS("-n", "2", "x")), SC_CLI_RUN);
    CHECK_INTEQ(cli.alias_used, 0);
    sc_cli_release(&cli);
    check_usage(ARGS("-m", "11"),
                "option '--num': integer '11' out of range [1, 10]");
    check_usage(ARGS("-m"), "option '-m' requires an argument");
}

int main(void)
{
    RUN(test_defaults);
    RUN(test_common);
    RUN(test_tool_options);
    RUN(test_cmdline);
    RUN(test_usage_errors);
    RUN(test_usage_error_fn);
    RUN(test_help);
    RUN(test_help_minimal);
    RUN(test_version);
    RUN(test_option_stop);
    RUN(test_finish);
    RUN(test_parse_int);
    RUN(test_parse_size);
    RUN(test_parse_double);
    RUN(test_dispatch);
    RUN(test_dispatch_help);
    RUN(test_alias);
    return UNIT_DONE();
}
