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

static void test_write(void)
{
    char dir[] = "/tmp/test_report.XXXXXX", path[64], sub[64], *page = NULL;
    json_t *r = json_pack("{s:[{s:s}]}", "sections", "title", "</script>x");
    FILE *fp;
    long n;

    CHECK(mkdtemp(dir) != NULL);
    snprintf(path, sizeof path, "%s/r/index.html", dir);
    snprintf(sub, sizeof sub, "%s/r", dir);
    CHECK(sc_report_write(sub, "a <b> & c", r) == 0);
    /* created exclusively: a second write is refused */
    CHECK(sc_report_write(sub, "t", r) == SC_EEXIST);
    CHECK((fp = fopen(path, "rb")) != NULL);
    if (fp) {
        fseek(fp, 0, SEEK_END);
        n = ftell(fp);
        rewind(fp);
        page = calloc(1, (size_t)n + 1);
        CHECK(fread(page, 1, (size_t)n, fp) == (size_t)n);
        fclose(fp);
        CHECK(strstr(page, "<title>a &lt;b> &amp; c</title>") != NULL);
        /* the data cannot close its script element */
        CHECK(strstr(page, "<\\/script>x") != NULL);
        CHECK(strstr(page, "vegaEmbed") != NULL);
        unlink(path);
    }
    free(page);
    rmdir(sub);
    rmdir(dir);
    json_decref(r);
}

int main(void)
{
    RUN(test_specs);
    if (getenv("SC_SHARE") || access("share/SOURCES.md", F_OK) == 0)
        RUN(test_write);
    return UNIT_DONE();
}
