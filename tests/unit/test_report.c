/* test_report: the report's chart specs and the page writer. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_report.h"
#include "sc_share.h"
#include "unit.h"

static void test_specs(void)
{
    json_t *v = json_pack("[{s:s, s:i}]", "name", "T cell", "cells", 5);
    json_t *bars = sc_report_bars("Cells", v, "name", "cells");
    json_t *hist;

    CHECK(bars != NULL);
    CHECK_STREQ(json_string_value(json_object_get(bars, "mark")), "bar");
    CHECK_STREQ(
        json_string_value(json_object_get(
            json_object_get(json_object_get(bars, "encoding"), "y"), "field")),
        "name");
    CHECK_INTEQ(json_array_size(
                    json_object_get(json_object_get(bars, "data"), "values")),
                1);
    hist =
        sc_report_histogram("n", json_pack("[{s:i}]", "n_obs", 10), "n_obs", 1);
    CHECK(hist != NULL);
    CHECK(strstr(json_string_value(json_object_get(
                     json_array_get(json_object_get(hist, "transform"), 0),
                     "calculate")),
                 "log(") != NULL);
    json_decref(bars);
    json_decref(hist);
}

/* The whole file PATH, or NULL. */
static char *slurp(const char *path)
{
    FILE *fp = fopen(path, "rb");
    char *page;
    long n;

    if (!fp)
        return NULL;
    fseek(fp, 0, SEEK_END);
    n = ftell(fp);
    rewind(fp);
    page = calloc(1, (size_t)n + 1);
    if (page && fread(page, 1, (size_t)n, fp) != (size_t)n) {
        free(page);
        page = NULL;
    }
    fclose(fp);
    return page;
}

static void test_write(void)
{
    char dir[] = "/tmp/test_report.XXXXXX", path[96], sub[64], *page;
    json_t *r = json_pack("{s:[{s:s}]}", "sections", "title", "</script><!--x");
    sc_report *rep, *two;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(sub, sizeof sub, "%s/r", dir);
    CHECK(sc_report_open(sub, &rep) == 0);
    CHECK(sc_report_page(rep, "index.html", "a <b> & c", r) == 0);
    CHECK(sc_report_page(rep, "d/1.html", "one", r) == 0);
    /* a page is written once */
    CHECK(sc_report_page(rep, "d/1.html", "one", r) == SC_EIO);
    /* page names are relative, one directory deep at most */
    CHECK(sc_report_page(rep, "../x.html", "t", r) == SC_EINVAL);
    CHECK(sc_report_page(rep, "/x.html", "t", r) == SC_EINVAL);
    CHECK(sc_report_page(rep, "a/b/c.html", "t", r) == SC_EINVAL);
    /* nothing at DIR before the end */
    CHECK(access(sub, F_OK) != 0);
    CHECK(sc_report_close(rep, 0) == 0);
    /* an existing report is refused */
    CHECK(sc_report_open(sub, &two) == SC_EEXIST);
    snprintf(path, sizeof path, "%s/index.html", sub);
    CHECK((page = slurp(path)) != NULL);
    if (page) {
        CHECK(strstr(page, "<title>a &lt;b> &amp; c</title>") != NULL);
        /* the data cannot close its script element nor open a comment */
        CHECK(strstr(page, "\\u003c\\/script>\\u003c!--x") != NULL);
        CHECK(strstr(page, "vegaEmbed") != NULL);
        CHECK(strstr(page, "<script src=\"sc-report.js\">") != NULL);
        free(page);
    }
    snprintf(path, sizeof path, "%s/d/1.html", sub);
    CHECK((page = slurp(path)) != NULL);
    if (page)
        CHECK(strstr(page, "<script src=\"../sc-report.js\">") != NULL);
    free(page);
    unlink(path);
    snprintf(path, sizeof path, "%s/d", sub);
    rmdir(path);
    snprintf(path, sizeof path, "%s/index.html", sub);
    unlink(path);
    snprintf(path, sizeof path, "%s/sc-report.js", sub);
    CHECK((page = slurp(path)) != NULL);
    if (page) {
        /* the chart library and the graph layout library, in one file */
        CHECK(strstr(page, "vegaEmbed") != NULL);
        CHECK(strstr(page, "var dagre=") != NULL);
        free(page);
    }
    unlink(path);
    CHECK(rmdir(sub) == 0);
    /* a failed report leaves nothing behind */
    CHECK(sc_report_open(sub, &rep) == 0);
    CHECK(sc_report_page(rep, "d/2.html", "two", r) == 0);
    CHECK(sc_report_close(rep, SC_EIO) == SC_EIO);
    CHECK(rmdir(dir) == 0);
    json_decref(r);
}

int main(void)
{
    RUN(test_specs);
    if (getenv("SC_SHARE") || access("share/SOURCES.md", F_OK) == 0)
        RUN(test_write);
    return UNIT_DONE();
}
