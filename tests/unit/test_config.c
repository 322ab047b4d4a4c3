/* Unit tests for sc_config: YAML settings applied to option tables. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_config.h"
#include "sc_ytree.h"
#include "unit.h"

static char dir[64];

static const char *write_file(const char *name, const char *text)
{
    static char path[128];
    FILE *fp;

    snprintf(path, sizeof path, "%s/%s", dir, name);
    fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    return path;
}

enum { OPT_MIN = 0x200, OPT_FLAG, OPT_LIST };

static const sc_opt opts[] = {
    SC_OPT_COMMON,
    {OPT_MIN, "min-genes", SC_ARG_REQUIRED, "N", "minimum [200]"},
    {OPT_FLAG, "keep-normalized", SC_ARG_NONE, NULL, "a flag"},
    {OPT_LIST, "counts-order", SC_ARG_REQUIRED, "LIST", "a list"},
    {'k', "keep-going", SC_ARG_NONE, NULL, "go on"},
    SC_OPT_END};

struct seen {
    char min[32], list[64];
    int flag, k, given_min;
};

static int on_opt(int key, const char *arg, void *ud)
{
    struct seen *s = ud;

    switch (key) {
    case OPT_MIN: {
        int64_t n;
        int rc = sc_parse_int(arg, 0, 100000, &n);

        if (rc < 0)
            return rc;
        snprintf(s->min, sizeof s->min, "%s", arg);
        return 0;
    }
    case OPT_FLAG: s->flag = 1; return 0;
    case OPT_LIST: snprintf(s->list, sizeof s->list, "%s", arg); return 0;
    case 'k': s->k = 1; return 0;
    }
    return SC_EINVAL;
}

static int given(int key, void *ud)
{
    return key == OPT_MIN && ((struct seen *)ud)->given_min;
}

static void test_read_apply(void)
{
    const char *p =
        write_file("a.yaml", "# settings\nmin_genes: 300\n"
                             "keep-normalized: yes\nkeep-going: false\n"
                             "counts-order: [raw, layers/counts, X]\n"
                             "threads: 2\n"
                             "sc-harmonize:\n  min-genes2: 1\n"
                             "sc-other:\n  anything: [1, {a: 2}]\n");
    sc_config *c = NULL;
    struct seen s;
    sc_cli cli;

    memset(&s, 0, sizeof s);
    memset(&cli, 0, sizeof cli);
    cli.threads = 1;
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), 0);
    CHECK_INTEQ(sc_config_count(c), 5);
    CHECK_STREQ(sc_config_get(c, "min-genes"), "300");
    CHECK_STREQ(sc_config_get(c, "counts-order"), "raw,layers/counts,X");
    CHECK_INTEQ(sc_config_line(c, 0), 2);
    CHECK_INTEQ(sc_config_apply(c, opts, &cli, on_opt, given, &s), 0);
    CHECK_STREQ(s.min, "300");
    CHECK_INTEQ(s.flag, 1);
    CHECK_INTEQ(s.k, 0);
    CHECK_INTEQ(cli.threads, 2);
    CHECK_STREQ(s.list, "raw,layers/counts,X");
    /* a flag on the command line wins */
    memset(&s, 0, sizeof s);
    s.given_min = 1;
    CHECK_INTEQ(sc_config_apply(c, opts, NULL, on_opt, given, &s), 0);
    CHECK_STREQ(s.min, "");
    sc_config_free(c);
    /* the tool's own section */
    CHECK_INTEQ(sc_config_read(p, "sc-harmonize", &c), 0);
    CHECK_STREQ(sc_config_get(c, "min-genes2"), "1");
    sc_config_free(c);
}

static void test_errors(void)
{
    sc_config *c = NULL;
    struct seen s;
    const char *p;

    memset(&s, 0, sizeof s);
    p = write_file("b.yaml", "min-genes: 1\nno-such-key: 2\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), 0);
    CHECK_INTEQ(sc_config_apply(c, opts, NULL, on_opt, NULL, &s), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "line 2: unknown key 'no-such-key'") != NULL);
    sc_config_free(c);
    p = write_file("c.yaml", "min-genes: lots\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), 0);
    CHECK_INTEQ(sc_config_apply(c, opts, NULL, on_opt, NULL, &s), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "'min-genes'") != NULL);
    sc_config_free(c);
    p = write_file("d.yaml", "keep-normalized: maybe\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), 0);
    CHECK_INTEQ(sc_config_apply(c, opts, NULL, on_opt, NULL, &s), SC_ECONFIG);
    sc_config_free(c);
    p = write_file("e.yaml", "a: 1\na: 2\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "duplicate key 'a'") != NULL);
    p = write_file("f.yaml", "a: [1\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "line") != NULL);
    p = write_file("g.yaml", "- 1\n- 2\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), SC_ECONFIG);
    p = write_file("h.yaml", "help: true\n");
    CHECK_INTEQ(sc_config_read(p, "sc-test", &c), 0);
    CHECK_INTEQ(sc_config_apply(c, opts, NULL, on_opt, NULL, &s), SC_ECONFIG);
    sc_config_free(c);
    CHECK_INTEQ(sc_config_read("/nonexistent/x.yaml", "t", &c), SC_ECONFIG);
    CHECK(c == NULL);
}

static void test_env(void)
{
    sc_config *c = NULL;
    const char *p = write_file("env.yaml", "min-genes: 7\n");

    unsetenv("SC_CONFIG");
    CHECK_INTEQ(sc_config_read(NULL, "t", &c), 0);
    CHECK_INTEQ(sc_config_count(c), 0);
    sc_config_free(c);
    setenv("SC_CONFIG", p, 1);
    CHECK_INTEQ(sc_config_read(NULL, "t", &c), 0);
    CHECK_STREQ(sc_config_get(c, "min-genes"), "7");
    sc_config_free(c);
    unsetenv("SC_CONFIG");
    p = write_file("empty.yaml", "");
    CHECK_INTEQ(sc_config_read(p, "t", &c), 0);
    CHECK_INTEQ(sc_config_count(c), 0);
    sc_config_free(c);
}

/* sc_config_load after sc_cli_parse: the file's settings are applied,
 * except those the command line gave; a missing file is an error naming
 * it; no file read: *OUT stays NULL. */
static void test_load(void)
{
    const char *p = write_file("load.yaml", "min-genes: 9\nthreads: 3\n"
                                            "counts-order: [a, b]\n");
    char a0[] = "t", a1[] = "--min-genes=4", a2[] = "-c", a3[128];
    char *argv[] = {a0, a1, a2, a3, NULL};
    sc_config *c = (sc_config *)1;
    struct seen s;
    sc_cli cli;

    snprintf(a3, sizeof a3, "%s", p);
    memset(&s, 0, sizeof s);
    CHECK_INTEQ(sc_cli_parse(&cli, "t", "", opts, 4, argv, on_opt, &s),
                SC_CLI_RUN);
    CHECK(sc_cli_given(&cli, OPT_MIN));
    CHECK(!sc_cli_given(&cli, OPT_LIST));
    CHECK_INTEQ(sc_config_load(&cli, "t", opts, on_opt, &s, &c), 0);
    CHECK_STREQ(s.min, "4");
    CHECK_STREQ(s.list, "a,b");
    CHECK_INTEQ(cli.threads, 3);
    CHECK(c != NULL);
    sc_config_free(c);
    sc_cli_release(&cli);

    snprintf(a3, sizeof a3, "%s/missing.yaml", dir);
    CHECK_INTEQ(sc_cli_parse(&cli, "t", "", opts, 4, argv, on_opt, &s),
                SC_CLI_RUN);
    CHECK_INTEQ(sc_config_load(&cli, "t", opts, on_opt, &s, &c), SC_ECONFIG);
    CHECK(c == NULL);
    CHECK(strstr(sc_errmsg(), a3) != NULL);
    sc_cli_release(&cli);

    unsetenv("SC_CONFIG");
    CHECK_INTEQ(sc_cli_parse(&cli, "t", "", opts, 2, argv, on_opt, &s),
                SC_CLI_RUN);
    CHECK_INTEQ(sc_config_load(&cli, "t", opts, on_opt, &s, &c), 0);
    CHECK(c == NULL);
    sc_cli_release(&cli);
}

/* Nesting 100,000 levels deep (a stack overflow once) is refused at
 * SC_YAML_MAX_DEPTH in one message naming the file, by sc_config (in
 * another tool's section, which it skips) and by sc_ytree. */
static void test_yaml_depth_limit(void)
{
    enum { DEEP = 100000 };
    char path[128], *text = malloc(2 * DEEP + 64), *t = text;
    sc_config *c = NULL;
    sc_ynode *y = NULL;
    FILE *fp;

    t += sprintf(t, "sc-other:\n  x: ");
    for (int i = 0; i < DEEP; i++)
        *t++ = '[';
    for (int i = 0; i < DEEP; i++)
        *t++ = ']';
    *t++ = '\n';
    *t = '\0';
    snprintf(path, sizeof path, "%s/deep.yaml", dir);
    fp = fopen(path, "w");
    fputs(text, fp);
    fclose(fp);
    CHECK_INTEQ(sc_config_read(path, "t", &c), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "YAML nested deeper than 64 levels") != NULL);
    CHECK(strstr(sc_errmsg(), path) != NULL);
    CHECK_INTEQ(sc_ytree_load(path, &y), SC_EFORMAT);
    CHECK(y == NULL);
    CHECK(strstr(sc_errmsg(), "YAML nested deeper than 64 levels") != NULL);
    CHECK(strstr(sc_errmsg(), path) != NULL);
    /* 63 levels are fine */
    fp = fopen(path, "w");
    fputs("a: ", fp);
    for (int i = 0; i < 62; i++)
        fputc('[', fp);
    for (int i = 0; i < 62; i++)
        fputc(']', fp);
    fputc('\n', fp);
    fclose(fp);
    CHECK_INTEQ(sc_ytree_load(path, &y), 0);
    sc_ytree_free(y);
    free(text);
}

int main(void)
{
    if (unit_mkdtemp(dir, sizeof dir, "config") < 0)
        return 1;
    RUN(test_read_apply);
    RUN(test_errors);
    RUN(test_env);
    RUN(test_load);
    RUN(test_yaml_depth_limit);
    {
        char cmd[128];

        snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
        if (system(cmd) != 0)
            printf("# could not remove %s\n", dir);
    }
    return UNIT_DONE();
}
