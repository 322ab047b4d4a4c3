/* test_provenance: steps of uns['provenance']. */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_provenance.h"
#include "unit.h"

static const char *get(const sc_elem *d, const char *key)
{
    const sc_elem *e = sc_elem_get(d, key);

    return e ? sc_elem_str(e, 0) : NULL;
}

static void test_steps(void)
{
    static const char *const names[] = {"CL"}, *const versions[] = {"v1"};
    sc_prov_step s = {"sc-x",   "1.0",     "sc-x -d o in.h5ad",
                      "ab",     "in.h5ad", names,
                      versions, 1};
    sc_elem *uns = sc_elem_new(SC_K_DICT, NULL), *p, *st;
    int replaced = -1;

    setenv("SOURCE_DATE_EPOCH", "1700000000", 1);
    CHECK(sc_provenance_add(uns, &s, &replaced) == 0 && replaced == 0);
    s.input_path = NULL;
    CHECK(sc_provenance_add(uns, &s, NULL) == 0);
    p = sc_elem_get(uns, "provenance");
    CHECK(p && p->kind == SC_K_DICT && p->n_child == 2);
    st = sc_elem_get(p, "1");
    CHECK_STREQ(get(st, "tool"), "sc-x");
    CHECK_STREQ(get(st, "time"), "2023-11-14T22:13:20Z");
    CHECK(!sc_elem_get(st, "input_path"));
    CHECK_STREQ(get(sc_elem_get(st, "references"), "CL"), "v1");
    CHECK_STREQ(get(sc_elem_get(p, "0"), "input_path"), "in.h5ad");
    s.tool = "";
    CHECK(sc_provenance_add(uns, &s, NULL) == SC_EINVAL);
    CHECK(p->n_child == 2);
    /* something else under the name is replaced */
    sc_elem_remove(uns, "provenance");
    CHECK(sc_elem_add_take(uns, sc_elem_new_string("provenance", "x")) == 0);
    s.tool = "sc-y";
    CHECK(sc_provenance_add(uns, &s, &replaced) == 0 && replaced == 1);
    p = sc_elem_get(uns, "provenance");
    CHECK(p && p->kind == SC_K_DICT && p->n_child == 1 && sc_elem_get(p, "0"));
    unsetenv("SOURCE_DATE_EPOCH");
    sc_elem_free(uns);
}

static void test_time(void)
{
    char buf[32], small[8];

    sc_time_iso(0, buf);
    CHECK_STREQ(buf, "1970-01-01T00:00:00Z");
    sc_time_iso(1700000000, buf);
    CHECK_STREQ(buf, "2023-11-14T22:13:20Z");
    sc_time_iso(951782400, buf); /* a leap day */
    CHECK_STREQ(buf, "2000-02-29T00:00:00Z");
    /* SOURCE_DATE_EPOCH sets the provenance time; a bad one is ignored */
    setenv("SOURCE_DATE_EPOCH", "951782400", 1);
    sc_provenance_time(buf, sizeof buf);
    CHECK_STREQ(buf, "2000-02-29T00:00:00Z");
    sc_provenance_time(small, sizeof small);
    CHECK_STREQ(small, "2000-02");
    setenv("SOURCE_DATE_EPOCH", "soon", 1);
    sc_provenance_time(buf, sizeof buf);
    CHECK(strlen(buf) == 20 && strcmp(buf, "2000-02-29T00:00:00Z"));
    unsetenv("SOURCE_DATE_EPOCH");
}

int main(void)
{
    RUN(test_steps);
    RUN(test_time);
    return UNIT_DONE();
}
