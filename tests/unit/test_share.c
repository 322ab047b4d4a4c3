/* test_share: where the reference data is found. */
/* SPDX-License-Identifier: MIT */
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_share.h"
#include "unit.h"

static void test_explicit(void)
{
    char buf[64];

    setenv("SC_SHARE", "/from/env", 1);
    CHECK(sc_share_set_dir("/from/flag//") == 0);
    CHECK_STREQ(sc_share_dir(), "/from/flag");
    CHECK(sc_share_path("ontology/x.json", buf, sizeof buf) == 0);
    CHECK_STREQ(buf, "/from/flag/ontology/x.json");
    CHECK(sc_share_path("/ontology", buf, sizeof buf) == 0);
    CHECK_STREQ(buf, "/from/flag/ontology");
    CHECK(sc_share_path("a/very/long/name/that/does/not/fit/in/sixty/four/"
                        "bytes",
                        buf, sizeof buf) == SC_EINVAL);
    CHECK_STREQ(buf, "");
    CHECK(sc_share_set_dir("") == SC_EINVAL);
    /* back to the search: the environment comes next */
    CHECK(sc_share_set_dir(NULL) == 0);
    CHECK_STREQ(sc_share_dir(), "/from/env");
}

/* Without a flag or $SC_SHARE, a build in the source tree (build/tests or
 * build/sanitize/tests) finds the tree's share/, which has SOURCES.md. */
static void test_source_tree(void)
{
    char want[PATH_MAX + 8], cwd[PATH_MAX];

    unsetenv("SC_SHARE");
    CHECK(sc_share_set_dir(NULL) == 0);
    CHECK(getcwd(cwd, sizeof cwd) != NULL);
    /* run-tests.sh runs from the root of the tree */
    snprintf(want, sizeof want, "%s/share", cwd);
    if (access("share/SOURCES.md", F_OK) == 0)
        CHECK_STREQ(sc_share_dir(), want);
    else
        printf("# not run from a source tree: %s\n", sc_share_dir());
}

int main(void)
{
    RUN(test_explicit);
    RUN(test_source_tree);
    return UNIT_DONE();
}
