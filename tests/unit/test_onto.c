/* test_onto: sc_onto on hand-made fixtures and the vendored ontologies. */
/* SPDX-License-Identifier: MIT */
#include <dirent.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_onto.h"
#include "sc_onto_int.h"
#include "sc_share.h"
#include "unit.h"

static char tmpdir[] = "/tmp/test_onto.XXXXXX";
static char cachedir[4096];
static sc_onto *real; /* the SCHEMA set, loaded once */

static const char *data(const char *name)
{
    static char buf[4096];

    snprintf(buf, sizeof buf, "%s/onto/%s", unit_data_dir(), name);
    return buf;
}

static const char *tmp(const char *name)
{
    static char buf[4096];

    snprintf(buf, sizeof buf, "%s/%s", tmpdir, name);
    return buf;
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Remove the plain files of DIR and DIR itself. */
static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    char p[4096];

    if (!d)
        return;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.' &&
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name) < (int)sizeof p)
            unlink(p);
    closedir(d);
    rmdir(dir);
}

static sc_onto *open_one(const char *path, const char *cache)
{
    sc_onto *o = NULL;

    if (sc_onto_new(cache ? 0 : SC_ONTO_NO_CACHE, &o) < 0)
        return NULL;
    if (cache && sc_onto_set_cache_dir(o, cache) < 0) {
        sc_onto_free(o);
        return NULL;
    }
    if (sc_onto_load(o, path) < 0) {
        printf("# %s\n", sc_errmsg());
        sc_onto_free(o);
        return NULL;
    }
    return o;
}

static sc_onto_term T(const sc_onto *o, const char *id)
{
    sc_onto_term t = sc_onto_find(o, id);

    if (t == SC_ONTO_NONE)
        printf("# no term '%s'\n", id);
    return t;
}

/* ---- ids ---- */

static void check_norm(const char *in, const char *want)
{
    char buf[64], again[64], quiet[64];
    int rc = sc_onto_normalize_id(in, buf, sizeof buf);

    /* the quiet form: the same answer, no error text */
    sc_err_clear();
    CHECK_INTEQ(sc_onto_try_normalize_id(in, quiet, sizeof quiet), rc ? -1 : 0);
    CHECK_STREQ(sc_errmsg(), "unknown error"); /* none set */
    if (!want) {
        CHECK(rc == SC_EINVAL);
        return;
    }
    CHECK_STREQ(quiet, want);
    CHECK_INTEQ(rc, 0);
    CHECK_STREQ(rc == 0 ? buf : "", want);
    CHECK(sc_onto_normalize_id(buf, again, sizeof again) == 0);
    CHECK_STREQ(again, buf); /* idempotent */
}

static void test_normalize(void)
{
    char small[8];

    check_norm("CL:0000236", "CL:0000236");
    check_norm("CL_0000236", "CL:0000236");
    check_norm("cl:0000236", "CL:0000236");
    check_norm(" cl_0000236\t", "CL:0000236");
    check_norm("http://purl.obolibrary.org/obo/CL_0000236", "CL:0000236");
    check_norm("https://purl.obolibrary.org/obo/UBERON_0002048",
               "UBERON:0002048");
    check_norm("http://www.ebi.ac.uk/efo/EFO_0009922", "EFO:0009922");
    check_norm("hsapdv:0000258", "HsapDv:0000258");
    check_norm("MMUSDV_0000036", "MmusDv:0000036");
    check_norm("ncbitaxon_9606", "NCBITaxon:9606");
    check_norm("afpo:0000001", "AfPO:0000001");
    check_norm("Hancestro:0005", "HANCESTRO:0005");
    check_norm("cvcl_0030", "CVCL_0030");
    check_norm("CVCL:0030", "CVCL_0030");
    check_norm("UNIPROT:P12345", "uniprot:P12345");
    check_norm("MyOnt:123", "MyOnt:123"); /* unknown prefix: as written */
    check_norm("unknown", NULL);
    check_norm("na", NULL);
    check_norm("", NULL);
    check_norm("CL:", NULL);
    check_norm(":0000236", NULL);
    check_norm("CL 0000236", NULL);
    check_norm("CL:0000 236", NULL);
    check_norm("CL:0000:236", NULL);
    check_norm("UBERON:0002048 (cell culture)", NULL);
    CHECK(sc_onto_normalize_id("UBERON:0002048", small, sizeof small) ==
          SC_ERANGE);
    CHECK_INTEQ(sc_onto_try_normalize_id("UBERON:0002048", small, sizeof small),
                -1);
    CHECK(sc_onto_try_normalize_id("CL:0000236", small, sizeof small) == -1);
    CHECK(sc_onto_try_normalize_id("CL:0001", small, sizeof small) == 0);
    CHECK_STREQ(small, "CL:0001");
}

/* ---- OBO ---- */

static void test_obo_terms(void)
{
    sc_onto *o = open_one(data("mini.obo"), NULL);
    sc_onto_term b, lym;

    CHECK(o != NULL);
    if (!o)
        return;
    CHECK_INTEQ(sc_onto_count(o), 1);
    CHECK_STREQ(sc_onto_name(o, 0), "TST");
    CHECK_STREQ(sc_onto_version(o, 0), "2024-01-02");
    CHECK_STREQ(sc_onto_prefixes(o, 0), "TST");
    CHECK_INTEQ(sc_onto_size(o, 0), 17); /* GO:0005623 dropped */
    CHECK(sc_onto_find(o, "GO:0005623") == SC_ONTO_NONE);
    b = T(o, "tst_0000005");
    CHECK(b != SC_ONTO_NONE && b == T(o, "TST:0000005"));
    CHECK_STREQ(sc_onto_id(o, b), "TST:0000005");
    CHECK_STREQ(sc_onto_label(o, b), "B cell");
    CHECK_INTEQ(sc_onto_n_synonyms(o, b), 3);
    CHECK_STREQ(sc_onto_synonym(o, b, 0), "B-cell");
    CHECK_STREQ(sc_onto_synonym(o, b, 2), "the \"quoted\" one");
    CHECK_INTEQ(sc_onto_n_synonyms(o, T(o, "TST:0000002")), 0); /* RELATED */
    CHECK_STREQ(sc_onto_label(o, T(o, "TST:0000042")),
                "lymph node cell {odd} name");
    lym = T(o, "TST:0000004");
    CHECK(T(o, "TST:0000099") == lym); /* alt_id */
    CHECK(!sc_onto_is_deprecated(o, b));
    CHECK(sc_onto_replaced_by(o, b) == NULL);
    CHECK(sc_onto_is_deprecated(o, T(o, "TST:0000030")));
    CHECK_STREQ(sc_onto_replaced_by(o, T(o, "TST:0000030")), "TST:0000005");
    CHECK_INTEQ(sc_onto_n_consider(o, T(o, "TST:0000032")), 2);
    CHECK_STREQ(sc_onto_consider(o, T(o, "TST:0000032"), 1), "TST:0000006");
    sc_onto_free(o);
}

static void test_obo_graph(void)
{
    sc_onto *o = open_one(data("mini.obo"), NULL);
    sc_onto_term b, t, lym, bc, blood, root, first, *lca = NULL;
    sc_onto_link *l = NULL;
    size_t n = 0;
    int d;

    if (!o)
        return;
    b = T(o, "TST:0000005");
    t = T(o, "TST:0000006");
    lym = T(o, "TST:0000004");
    bc = T(o, "TST:0000003");
    blood = T(o, "TST:0000010");
    root = T(o, "TST:0000001");
    /* is_a + part_of, minimum distances; develops_from and GO ignored */
    CHECK(sc_onto_ancestors(o, b, &l, &n) == 0);
    CHECK_INTEQ(n, 5);
    if (n == 5) {
        CHECK(l[0].term == lym && l[0].dist == 1);
        CHECK(l[1].term == bc && l[1].dist == 2);
        CHECK(l[2].term == T(o, "TST:0000002") && l[2].dist == 3);
        CHECK(l[3].term == blood && l[3].dist == 3);
        CHECK(l[4].term == root && l[4].dist == 4);
    }
    free(l);
    CHECK_INTEQ(sc_onto_ancestor_dist(o, bc, blood), 1); /* part_of */
    CHECK_INTEQ(sc_onto_ancestor_dist(o, T(o, "TST:0000011"), blood), 1);
    CHECK_INTEQ(sc_onto_ancestor_dist(o, b, b), 0);
    CHECK_INTEQ(sc_onto_ancestor_dist(o, blood, b), -1);
    CHECK(sc_onto_is_a(o, b, root) && sc_onto_is_a(o, b, b));
    CHECK(!sc_onto_is_a(o, root, b));
    CHECK_INTEQ(sc_onto_depth(o, root), 0);
    CHECK_INTEQ(sc_onto_depth(o, b), 4);
    CHECK_INTEQ(sc_onto_depth(o, T(o, "TST:0000030")), -1);
    CHECK(sc_onto_parents(o, bc, &l, &n) == 0);
    CHECK_INTEQ(n, 2);
    free(l);
    CHECK(sc_onto_children(o, lym, &l, &n) == 0);
    CHECK(n == 2 && l[0].term == b && l[1].term == t);
    free(l);
    CHECK(sc_onto_descendants(o, blood, &l, &n) == 0);
    CHECK_INTEQ(n, 5); /* blood cell, plasma, lymphocyte, B, T */
    free(l);
    /* deprecated terms sit outside the graph */
    CHECK(sc_onto_ancestors(o, T(o, "TST:0000030"), &l, &n) == 0);
    CHECK(n == 0 && l == NULL);
    /* LCA */
    CHECK(sc_onto_lca(o, b, t, &lca, &n, &d) == 0);
    CHECK(n == 1 && lca[0] == lym && d == 2);
    free(lca);
    CHECK(sc_onto_lca(o, b, lym, &lca, &n, &d) == 0);
    CHECK(n == 1 && lca[0] == lym && d == 1); /* a term is its own ancestor */
    free(lca);
    CHECK(sc_onto_lca(o, T(o, "TST:0000020"), T(o, "TST:0000023"), &lca, &n,
                      &d) == 0);
    CHECK_INTEQ(n, 2); /* a tie: both parents */
    CHECK(n == 2 && lca[0] == T(o, "TST:0000021") &&
          lca[1] == T(o, "TST:0000022") && d == 2);
    free(lca);
    CHECK(sc_onto_lca(o, b, T(o, "TST:0000031"), &lca, &n, &d) == 0);
    CHECK(n == 0 && lca == NULL && d == -1);
    CHECK_INTEQ(sc_onto_distance(o, b, t, NULL), 2);
    CHECK_INTEQ(sc_onto_distance(o, b, b, NULL), 0);
    CHECK_INTEQ(sc_onto_distance(o, b, blood, &first), 3);
    CHECK(first == blood); /* an ancestor through part_of */
    sc_onto_free(o);
}

static void test_obo_labels(void)
{
    sc_onto *o = open_one(data("mini.obo"), NULL);
    sc_onto_term *r = NULL;
    size_t n = 0;

    if (!o)
        return;
    CHECK(sc_onto_lookup(o, SC_ONTO_BY_LABEL, "cell", -1, &r, &n) == 0);
    CHECK(n == 1 && r[0] == T(o, "TST:0000002"));
    free(r);
    CHECK(sc_onto_lookup(o, SC_ONTO_BY_LABEL_CI, "Cell", -1, &r, &n) == 0);
    CHECK_INTEQ(n, 2); /* "cell" and "CELL": ambiguous, both kept */
    free(r);
    CHECK(sc_onto_lookup(o, SC_ONTO_BY_SYNONYM, "lymph cell", -1, &r, &n) == 0);
    CHECK(n == 2 && r[0] == T(o, "TST:0000004") && r[1] == T(o, "TST:0000042"));
    free(r);
    CHECK(sc_onto_lookup(o, SC_ONTO_BY_SYNONYM, "b-CELL", -1, &r, &n) == 0);
    CHECK(n == 0 && r == NULL);
    CHECK(sc_onto_lookup(o, SC_ONTO_BY_SYNONYM_CI, "b-CELL", -1, &r, &n) == 0);
    CHECK(n == 1 && r[0] == T(o, "TST:0000005"));
    free(r);
    CHECK(sc_onto_lookup(o, SC_ONTO_BY_LABEL, "B cell", 1, &r, &n) == 0);
    CHECK(n == 0); /* ontology 1 does not exist: nothing */
    free(r);
    {
        /* without allocating: the key in the index's form, appended */
        sc_onto_term out[4] = {SC_ONTO_NONE, SC_ONTO_NONE, SC_ONTO_NONE,
                               SC_ONTO_NONE};

        CHECK_INTEQ(
            sc_onto_lookup_key(o, SC_ONTO_BY_LABEL_CI, "cell", 0, out, 4, 0),
            2);
        CHECK_INTEQ(sc_onto_lookup_key(o, SC_ONTO_BY_SYNONYM, "lymph cell", 0,
                                       out, 4, 1),
                    3);
        CHECK(out[1] == T(o, "TST:0000004") && out[2] == T(o, "TST:0000042"));
        CHECK_INTEQ(sc_onto_lookup_key(o, SC_ONTO_BY_SYNONYM, "lymph cell", 0,
                                       out, 4, 3),
                    4); /* cut at CAP */
        CHECK_INTEQ(sc_onto_lookup_key(o, SC_ONTO_BY_SYNONYM_CI, "b-cell", 0,
                                       out, 4, 0),
                    1);
        CHECK(out[0] == T(o, "TST:0000005"));
        CHECK_INTEQ(
            sc_onto_lookup_key(o, SC_ONTO_BY_LABEL, "B cell", 1, out, 4, 0),
            0); /* no ontology 1 */
    }
    sc_onto_free(o);
}

/* ---- guide JSON: obsolete chains ---- */

static void test_json_chains(void)
{
    sc_onto *o = open_one(data("CYC-ontology-v1.json"), NULL);
    sc_onto_term out;
    int steps = -1;

    if (!o)
        return;
    CHECK_STREQ(sc_onto_name(o, 0), "CYC");
    CHECK_STREQ(sc_onto_version(o, 0), "v1");
    CHECK(sc_onto_resolve(o, T(o, "CYC:0000002"), &out, &steps) == 0);
    CHECK(out == T(o, "CYC:0000002") && steps == 0);
    CHECK(sc_onto_resolve(o, T(o, "CYC:0000020"), &out, &steps) == 0);
    CHECK(out == T(o, "CYC:0000002") && steps == 2); /* a chain of two */
    CHECK(sc_onto_resolve(o, T(o, "CYC:0000010"), &out, NULL) == SC_EFORMAT);
    CHECK(out == SC_ONTO_NONE);
    CHECK(strstr(sc_errmsg(), "cycle: CYC:0000010 -> CYC:0000011 -> "
                              "CYC:0000010") != NULL);
    CHECK(sc_onto_resolve(o, T(o, "CYC:0000012"), &out, NULL) == SC_EFORMAT);
    CHECK(sc_onto_resolve(o, T(o, "CYC:0000030"), &out, NULL) == SC_ENOTFOUND);
    CHECK(strstr(sc_errmsg(), "'XYZ:0000001', which is not loaded") != NULL);
    /* consider is never followed */
    CHECK(sc_onto_resolve(o, T(o, "CYC:0000031"), &out, NULL) == SC_ENOTFOUND);
    CHECK(strstr(sc_errmsg(), "no replacement") != NULL);
    CHECK_INTEQ(sc_onto_n_synonyms(o, T(o, "CYC:0000002")), 2);
    /* an ancestor that is not a term of the file is dropped */
    CHECK_INTEQ(
        sc_onto_ancestor_dist(o, T(o, "CYC:0000040"), T(o, "CYC:0000001")), 1);
    CHECK_INTEQ(sc_onto_depth(o, T(o, "CYC:0000040")), 1);
    sc_onto_free(o);
}

/* ---- bad input ---- */

/* Loading TEXT written as NAME fails with CODE and a message holding
 * WANT. */
static void check_bad(const char *name, const char *text, int code,
                      const char *want)
{
    sc_onto *o = NULL;
    int rc;

    write_file(tmp(name), text);
    CHECK(sc_onto_new(SC_ONTO_NO_CACHE, &o) == 0);
    rc = sc_onto_load(o, tmp(name));
    CHECK_INTEQ(rc, code);
    if (!strstr(sc_errmsg(), want)) {
        printf("#   '%s' not in '%s'\n", want, sc_errmsg());
        CHECK(0);
    }
    CHECK_INTEQ(sc_onto_count(o), 0);
    sc_onto_free(o);
}

static void test_malformed(void)
{
    sc_onto *o = NULL;
    FILE *f;

    check_bad("A-ontology-v1.json", "{\"A:1\": {\"label\": \"x\",\n}",
              SC_EFORMAT, "line 2");
    check_bad("A-ontology-v1.json", "[1, 2]", SC_EFORMAT, "top level");
    check_bad("A-ontology-v1.json", "", SC_EFORMAT, "cannot parse");
    check_bad("A-ontology-v1.json", "{}", SC_EFORMAT, "no terms");
    check_bad("A-ontology-v1.json", "{\"A:1\": 3}", SC_EFORMAT,
              "term 'A:1' is not an object");
    check_bad("A-ontology-v1.json", "{\"A:1\": {\"ancestors\": []}}",
              SC_EFORMAT, "term 'A:1': 'ancestors' is not an object");
    check_bad("A-ontology-v1.json",
              "{\"A:1\": {\"ancestors\": {\"A:2\": \"x\"}}}", SC_EFORMAT,
              "'ancestors' has a distance");
    check_bad("A-ontology-v1.json", "{\"A:1\": {\"ancestors\": {\"A:2\": -1}}}",
              SC_EFORMAT, "'ancestors' has a distance");
    check_bad("A-ontology-v1.json", "{\"A:1\": {\"label\": 5}}", SC_EFORMAT,
              "'label' is not a string");
    check_bad("A-ontology-v1.json", "{\"A:1\": {\"deprecated\": \"no\"}}",
              SC_EFORMAT, "'deprecated' is not true or false");
    check_bad("A-ontology-v1.json", "{\"A:1\": {\"synonyms\": [1]}}",
              SC_EFORMAT, "'synonyms' has an element");
    check_bad("A-ontology-v1.json", "{\"A:1\": {}, \"A:1\": {}}", SC_EFORMAT,
              "duplicate");
    check_bad("b.obo", "format-version: 1.2\n\n[Term]\nid: B:1\nno colon\n",
              SC_EFORMAT, "b.obo': line 5: expected 'tag: value'");
    check_bad("b.obo", "[Term]\nname: x\n", SC_EFORMAT,
              "line 1: [Term] "
              "without an id");
    check_bad("b.obo", "[Term]\nid: B:1\nid: B:2\n", SC_EFORMAT,
              "line 3: a second id");
    check_bad("b.obo", "[Term]\nid: B:1\nsynonym: \"x EXACT []\n", SC_EFORMAT,
              "line 3: synonym with an unterminated");
    check_bad("b.obo", "[Term]\nid: B:1\nis_obsolete: maybe\n", SC_EFORMAT,
              "line 3: is_obsolete");
    check_bad("b.obo", "[Term]\nid: B:1\n\n[Term]\nid: B:1\n", SC_EFORMAT,
              "line 4: term 'B:1' defined twice");
    check_bad("b.obo", "format-version: 1.2\n", SC_EFORMAT, "no terms");
    check_bad("b.txt", "x", SC_EUNSUP, "unknown ontology format");
    /* a truncated gzip file */
    write_file(tmp("t.json.gz"), "");
    f = fopen(tmp("t.json.gz"), "wb");
    if (f) {
        fwrite("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x4b\x4c", 1, 12, f);
        fclose(f);
    }
    CHECK(sc_onto_new(SC_ONTO_NO_CACHE, &o) == 0);
    CHECK_INTEQ(sc_onto_load(o, tmp("t.json.gz")), SC_ECORRUPT);
    CHECK(strstr(sc_errmsg(), "t.json.gz") != NULL);
    CHECK_INTEQ(sc_onto_load(o, tmp("missing.obo")), SC_EIO);
    CHECK(strstr(sc_errmsg(), "missing.obo") != NULL);
    /* the same prefix twice: refused, O unchanged */
    CHECK(sc_onto_load(o, data("mini.obo")) == 0);
    CHECK_INTEQ(sc_onto_load(o, data("mini.obo")), SC_EEXIST);
    CHECK_INTEQ(sc_onto_count(o), 1);
    CHECK(sc_onto_find(o, "TST:0000005") != SC_ONTO_NONE);
    sc_onto_free(o);
}

/* ---- the cache ---- */

/* Every query answer of mini.obo, as text: equal texts, equal answers. */
static char *digest(const sc_onto *o)
{
    size_t cap = 1 << 16, used = 0;
    char *s = malloc(cap);

    for (sc_onto_term t = 0; s && t < sc_onto_n_terms(o); t++) {
        sc_onto_link *l = NULL;
        size_t n = 0;

        used +=
            (size_t)snprintf(s + used, cap - used, "%s|%s|%d|%d|",
                             sc_onto_id(o, t), sc_onto_label(o, t),
                             sc_onto_depth(o, t), sc_onto_is_deprecated(o, t));
        if (sc_onto_ancestors(o, t, &l, &n) == 0)
            for (size_t i = 0; i < n; i++)
                used += (size_t)snprintf(s + used, cap - used, "%s:%d,",
                                         sc_onto_id(o, l[i].term), l[i].dist);
        free(l);
        for (size_t i = 0; i < sc_onto_n_synonyms(o, t); i++)
            used += (size_t)snprintf(s + used, cap - used, "%s;",
                                     sc_onto_synonym(o, t, i));
        used += (size_t)snprintf(s + used, cap - used, "\n");
    }
    return s;
}

/* The single cache file in DIR, into BUF. */
static int cache_file(const char *dir, char *buf, size_t size)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            if (snprintf(buf, size, "%s/%s", dir, e->d_name) < (int)size)
                n++;
        }
    if (d)
        closedir(d);
    return n;
}

static void test_cache(void)
{
    char dir[4096], file[4096], *ref, *got;
    sc_onto *o;
    struct stat st;
    FILE *f;

    snprintf(dir, sizeof dir, "%s/cache", tmpdir);
    if (!(o = open_one(data("mini.obo"), dir)))
        return;
    CHECK_INTEQ(sc_onto_from_cache(o, 0), 0); /* built */
    ref = digest(o);
    sc_onto_free(o);
    CHECK_INTEQ(cache_file(dir, file, sizeof file), 1);
    if (!(o = open_one(data("mini.obo"), dir)))
        return;
    CHECK_INTEQ(sc_onto_from_cache(o, 0), 1); /* read back */
    got = digest(o);
    CHECK_STREQ(got, ref);
    free(got);
    sc_onto_free(o);
    /* damage it in the middle: the checksum catches it, it is rebuilt */
    CHECK(stat(file, &st) == 0);
    f = fopen(file, "r+b");
    if (f) {
        fseek(f, st.st_size / 2, SEEK_SET);
        fputc(fgetc(f) ^ 0x5a, f);
        fclose(f);
    }
    if (!(o = open_one(data("mini.obo"), dir)))
        return;
    CHECK_INTEQ(sc_onto_from_cache(o, 0), 0);
    got = digest(o);
    CHECK_STREQ(got, ref);
    free(got);
    sc_onto_free(o);
    /* truncated, then junk: rebuilt each time */
    CHECK(truncate(file, 100) == 0);
    if ((o = open_one(data("mini.obo"), dir))) {
        CHECK_INTEQ(sc_onto_from_cache(o, 0), 0);
        sc_onto_free(o);
    }
    write_file(file, "not a cache at all");
    if ((o = open_one(data("mini.obo"), dir))) {
        CHECK_INTEQ(sc_onto_from_cache(o, 0), 0);
        sc_onto_free(o);
    }
    if ((o = open_one(data("mini.obo"), dir))) {
        CHECK_INTEQ(sc_onto_from_cache(o, 0), 1);
        got = digest(o);
        CHECK_STREQ(got, ref);
        free(got);
        sc_onto_free(o);
    }
    /* a cache directory that cannot be created: parsed, no error */
    if ((o = open_one(data("mini.obo"), "/proc/no/such/dir"))) {
        CHECK_INTEQ(sc_onto_from_cache(o, 0), 0);
        sc_onto_free(o);
    }
    free(ref);
}

/* ---- the real ontologies ---- */

static void test_real_versions(void)
{
    char path[4096];
    json_t *info, *pins;
    int guide = 0;

    CHECK_INTEQ(sc_onto_count(real), 9);
    CHECK(sc_share_path("ontology/cxg-guide/ontology_info.json", path,
                        sizeof path) == 0);
    info = json_load_file(path, 0, NULL);
    pins = json_object_get(json_object_get(info, "7.0.0"), "ontologies");
    CHECK(pins != NULL);
    /* every guide ontology is the version the schema pins */
    for (int i = 0; i < sc_onto_count(real); i++) {
        json_t *pin = json_object_get(pins, sc_onto_name(real, i));
        const char *v = json_string_value(json_object_get(pin, "version"));

        if (!strstr(sc_onto_source(real, i), "/cxg-guide/"))
            continue;
        guide++;
        CHECK(v != NULL);
        CHECK_STREQ(sc_onto_version(real, i), v ? v : "");
    }
    CHECK_INTEQ(guide, 8);
    json_decref(info);
    CHECK(sc_onto_find_ontology(real, "ncbitaxon") >= 0);
    CHECK_STREQ(sc_onto_version(real, sc_onto_find_ontology(real, "NCBITaxon")),
                "2022-10-06");
}

static void test_real_lca(void)
{
    sc_onto_term b = T(real, "CL:0000236"), t = T(real, "CL:0000084");
    sc_onto_term lym = T(real, "CL:0000542"), *lca = NULL, first;
    size_t n = 0;
    int d;

    CHECK_STREQ(sc_onto_label(real, b), "B cell");
    CHECK_STREQ(sc_onto_label(real, t), "T cell");
    CHECK_STREQ(sc_onto_label(real, lym), "lymphocyte");
    CHECK(sc_onto_lca(real, b, t, &lca, &n, &d) == 0);
    CHECK(n == 1 && lca[0] == lym);
    CHECK_INTEQ(d, 3);
    free(lca);
    CHECK_INTEQ(sc_onto_ancestor_dist(real, b, lym), 2);
    CHECK_INTEQ(sc_onto_ancestor_dist(real, t, lym), 1);
    CHECK_INTEQ(sc_onto_distance(real, b, t, &first), 3);
    CHECK(first == lym);
    CHECK_INTEQ(sc_onto_distance(real, t, b, NULL), 3); /* symmetric */
    CHECK_INTEQ(sc_onto_depth(real, b), 6);             /* to CL:0000000 cell */
    CHECK_INTEQ(sc_onto_depth(real, T(real, "CL:0000000")), 0);
    /* across ontologies: nothing in common */
    CHECK_INTEQ(sc_onto_distance(real, b, T(real, "UBERON:0002048"), NULL), -1);
}

/* Ancestors and descendants mirror each other; parents and children too.
 * Returns the number of terms with ancestors but no parent. */
static int64_t check_graph(const sc_onto *o, int i)
{
    sc_onto_term first = sc_onto_first(o, i);
    int64_t bad = 0, n_anc = 0, n_desc = 0, orphans = 0;

    for (sc_onto_term t = first; t < first + sc_onto_size(o, i); t++) {
        sc_onto_link *l = NULL, *p = NULL;
        size_t n = 0, np = 0;

        if (sc_onto_descendants(o, t, &l, &n) < 0)
            bad++;
        n_desc += (int64_t)n;
        for (size_t k = 0; k < n; k++)
            if (sc_onto_ancestor_dist(o, l[k].term, t) != l[k].dist ||
                l[k].dist < 1)
                bad++;
        free(l);
        if (sc_onto_ancestors(o, t, &l, &n) < 0 ||
            sc_onto_parents(o, t, &p, &np) < 0)
            bad++;
        n_anc += (int64_t)n;
        for (size_t k = 0; k < np; k++) {
            sc_onto_link *c = NULL;
            size_t nc = 0, found = 0;

            if (sc_onto_children(o, p[k].term, &c, &nc) < 0)
                bad++;
            for (size_t m = 0; m < nc; m++)
                found += c[m].term == t;
            bad += found != 1;
            free(c);
        }
        orphans += n > 0 && np == 0;
        bad += sc_onto_depth(o, t) > (n ? l[n - 1].dist : 0);
        free(l);
        free(p);
    }
    CHECK_INTEQ(bad, 0);
    CHECK_INTEQ(n_anc, n_desc);
    CHECK(n_anc > 0);
    return orphans;
}

static void test_real_graph(void)
{
    sc_onto_link *l = NULL;
    size_t n = 0;

    /* The guide restricts closures to the ontology's own prefix, so a term
     * whose parents are all of other ontologies has ancestors at distance
     * 2 or more and no parent: EFO:0000408 disease -> EFO:0000001 at 3,
     * CL:0017503 basophilic cytoplasm -> CL:0000000 at 3. The counts in
     * the pinned versions: */
    for (int i = 0; i < sc_onto_count(real); i++) {
        const char *name = sc_onto_name(real, i);
        int64_t orphans = check_graph(real, i);

        CHECK_INTEQ(orphans, !strcmp(name, "EFO")  ? 2494
                             : !strcmp(name, "CL") ? 8
                                                   : 0);
    }
    CHECK_INTEQ(sc_onto_ancestor_dist(real, T(real, "EFO:0000408"),
                                      T(real, "EFO:0000001")),
                3);
    /* the guide's own numbers for lymphocyte in CL 2025-07-30 */
    CHECK(sc_onto_descendants(real, T(real, "CL:0000542"), &l, &n) == 0);
    CHECK_INTEQ(n, 339);
    free(l);
    CHECK(sc_onto_children(real, T(real, "CL:0000542"), &l, &n) == 0);
    CHECK_INTEQ(n, 9);
    free(l);
}

static void check_resolve(const char *id, int rc, const char *want,
                          int want_steps)
{
    sc_onto_term out = 0;
    int steps = -1, got = sc_onto_resolve(real, T(real, id), &out, &steps);

    CHECK_INTEQ(got, rc);
    if (rc == 0) {
        CHECK_STREQ(out >= 0 ? sc_onto_id(real, out) : "", want);
        CHECK_INTEQ(steps, want_steps);
    } else {
        CHECK(out == SC_ONTO_NONE);
        CHECK(strstr(sc_errmsg(), want) != NULL);
    }
}

static void test_real_obsolete(void)
{
    /* schema 5's rule "CL:0000003 native cell -> unknown" has a
     * replaced_by in the data: cell */
    check_resolve("CL:0000003", 0, "CL:0000000", 1);
    check_resolve("CL:0000236", 0, "CL:0000236", 0);
    check_resolve("EFO:0009310", 0, "EFO:0009899", 1); /* obsolete_10x v2 */
    /* two links: MONDO deafness -> obsolete -> live */
    check_resolve("MONDO:0000017", 0, "MONDO:0019588", 2);
    /* across ontologies in one handle: EFO -> EFO -> CL oocyte */
    check_resolve("EFO:0000972", 0, "CL:0000023", 2);
    /* real data holds cycles: EFO:0000099 is replaced by itself */
    check_resolve("EFO:0000099", SC_EFORMAT, "EFO:0000099 -> EFO:0000099", 0);
    /* a chain leaving the loaded ontologies (plant ontology) */
    check_resolve("CL:0000274", SC_ENOTFOUND,
                  "'PO:0000079', which is not "
                  "loaded",
                  0);
    /* consider only: not resolved */
    check_resolve("CL:0000004", SC_ENOTFOUND, "no replacement", 0);
    CHECK_INTEQ(sc_onto_n_consider(real, T(real, "CL:0000004")), 3);
}

static void test_real_taxon(void)
{
    sc_onto_term h = T(real, "NCBITaxon:9606");
    sc_onto_term homo = T(real, "ncbitaxon_9605");

    CHECK_STREQ(sc_onto_label(real, h), "Homo sapiens");
    CHECK_STREQ(sc_onto_label(real, homo), "Homo");
    CHECK_INTEQ(sc_onto_ancestor_dist(real, h, homo), 1);
    CHECK(sc_onto_is_a(real, h, T(real, "NCBITaxon:9604"))); /* Hominidae */
    CHECK(sc_onto_is_a(real, h, T(real, "NCBITaxon:1")));
    CHECK(sc_onto_is_a(real, T(real, "NCBITaxon:10091"),
                       T(real, "NCBITaxon:10090"))); /* Mus musculus ssp. */
    CHECK_INTEQ(sc_onto_n_synonyms(real, h), 1);
    CHECK_STREQ(sc_onto_synonym(real, h, 0), "human");
}

static void test_real_labels(void)
{
    sc_onto_term *r = NULL;
    sc_onto_hit *h = NULL;
    size_t n = 0;
    int cl = sc_onto_find_ontology(real, "CL");

    CHECK(sc_onto_lookup(real, SC_ONTO_BY_LABEL, "B cell", -1, &r, &n) == 0);
    CHECK(n == 1 && r[0] == T(real, "CL:0000236"));
    free(r);
    CHECK(sc_onto_lookup(real, SC_ONTO_BY_SYNONYM, "B-lymphocyte", -1, &r,
                         &n) == 0);
    CHECK(n == 1 && r[0] == T(real, "CL:0000236"));
    free(r);
    CHECK(sc_onto_lookup(real, SC_ONTO_BY_LABEL_CI, "LUNG", -1, &r, &n) == 0);
    CHECK(n == 1 && r[0] == T(real, "UBERON:0002048"));
    free(r);
    CHECK(sc_onto_search(real, "B cell", -1, 5, &h, &n) == 0);
    CHECK(n == 5 && h[0].term == T(real, "CL:0000236") &&
          h[0].tier == SC_ONTO_TIER_LABEL && h[0].score == 1.0);
    free(h);
    CHECK(sc_onto_search(real, "b cells", cl, 3, &h, &n) == 0);
    CHECK(n == 3 && h[0].term == T(real, "CL:0000236") &&
          h[0].tier == SC_ONTO_TIER_TOKEN);
    for (size_t i = 0; i < n; i++)
        CHECK(sc_onto_ontology(real, h[i].term) == cl);
    free(h);
    CHECK(sc_onto_search(real, "t-cell", cl, 1, &h, &n) == 0);
    CHECK(n == 1 && h[0].term == T(real, "CL:0000084") &&
          h[0].tier == SC_ONTO_TIER_SYNONYM);
    free(h);
    CHECK(sc_onto_search(real, "lymphocite", -1, 1, &h, &n) == 0);
    CHECK(n == 1 && h[0].term == T(real, "CL:0000542") &&
          h[0].tier == SC_ONTO_TIER_FUZZY);
    free(h);
    CHECK(sc_onto_search(real, "zzzzqqqq", -1, 10, &h, &n) == 0);
    CHECK(n == 0 && h == NULL);
}

/* sc_onto_search gives the same hits with and without its prefilters, on
 * variants of real labels: misspelt (a byte dropped, doubled, swapped,
 * replaced), plural, upper case, single words, words of two terms mixed. */
static int same_search(const char *q, int i)
{
    sc_onto_hit *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    int same;

    sc_onto_search_prefilter = 1;
    CHECK(sc_onto_search(real, q, i, 20, &a, &na) == 0);
    sc_onto_search_prefilter = 0;
    CHECK(sc_onto_search(real, q, i, 20, &b, &nb) == 0);
    sc_onto_search_prefilter = 1;
    same = na == nb;
    for (size_t k = 0; same && k < na; k++)
        same = a[k].term == b[k].term && a[k].tier == b[k].tier &&
               a[k].score == b[k].score && a[k].matched == b[k].matched;
    if (!same)
        fprintf(stderr, "# search of '%s' differs (%zu and %zu hits)\n", q, na,
                nb);
    free(a);
    free(b);
    return same;
}

static void test_real_search_prefilter(void)
{
    const char *names[] = {"CL", "UBERON"};
    uint64_t x = 12345;
    size_t bad = 0, hits = 0;

    for (int o = 0; o < 2; o++) {
        int i = sc_onto_find_ontology(real, names[o]);
        int64_t size = i < 0 ? 0 : sc_onto_size(real, i);

        CHECK(size > 100);
        for (int k = 0; size > 100 && k < 25; k++) {
            char q[300], w[300];
            sc_onto_term t, u;
            const char *l, *m, *sp;
            size_t n, p;

            x = x * 6364136223846793005ULL + 1442695040888963407ULL;
            t = sc_onto_first(real, i) + (sc_onto_term)((x >> 33) % size);
            u = sc_onto_first(real, i) + (sc_onto_term)((x >> 13) % size);
            l = sc_onto_label(real, t);
            m = sc_onto_label(real, u);
            n = strlen(l);
            if (n < 4 || n > 200 || strlen(m) > 90)
                continue;
            p = 1 + (x >> 40) % (n - 2);
            snprintf(q, sizeof q, "%.*s%s", (int)p, l, l + p + 1);
            bad += !same_search(q, i); /* dropped */
            snprintf(q, sizeof q, "%.*s%s", (int)p + 1, l, l + p);
            bad += !same_search(q, i); /* doubled */
            snprintf(q, sizeof q, "%s", l);
            q[p] = l[p + 1];
            q[p + 1] = l[p];
            bad += !same_search(q, i); /* swapped */
            q[p] = 'q';
            bad += !same_search(q, i); /* and replaced */
            snprintf(q, sizeof q, "%ss", l);
            for (char *c = q; *c; c++)
                if (*c >= 'a' && *c <= 'z' && (x >> 50) % 2)
                    *c = (char)(*c - 'a' + 'A');
            bad += !same_search(q, i); /* plural, maybe upper case */
            snprintf(w, sizeof w, "%s", l);
            sp = strchr(w, ' ');
            snprintf(q, sizeof q, "%.*s %s", sp ? (int)(sp - w) : (int)n, w,
                     strrchr(m, ' ') ? strrchr(m, ' ') + 1 : m);
            bad += !same_search(q, i); /* words of two terms */
            hits++;
        }
    }
    CHECK(hits > 20);
    CHECK_INTEQ(bad, 0);
}

static void test_real_latest(void)
{
    sc_onto *o = NULL;
    int cl, pato;

    CHECK(sc_onto_new(0, &o) == 0);
    CHECK(sc_onto_set_cache_dir(o, cachedir) == 0);
    CHECK(sc_onto_load_set(o, SC_ONTO_SET_LATEST, 2) == 0);
    CHECK_INTEQ(sc_onto_count(o), 9);
    cl = sc_onto_find_ontology(o, "CL");
    pato = sc_onto_find_ontology(o, "PATO");
    CHECK(cl >= 0 && pato >= 0);
    if (cl >= 0 && pato >= 0) {
        CHECK_STREQ(sc_onto_version(o, cl), "v2026-03-26");
        CHECK_STREQ(sc_onto_version(o, pato), "v2025-05-14"); /* pinned */
    }
    sc_onto_free(o);
}

/* The one edit distance of search and of the misspelt-word tier. */
static void test_edit_distance(void)
{
    char long_a[SC_ONTO_EDIT_MAX + 2];

#define ED(a, b, lim, sw)                                                      \
    (int)sc_onto_edit_distance(a, strlen(a), b, strlen(b), lim, sw)
    CHECK_INTEQ(ED("kitten", "sitting", 5, 0), 3);
    CHECK_INTEQ(ED("kitten", "sitting", 5, 1), 3);
    CHECK_INTEQ(ED("", "abc", 5, 0), 3);
    CHECK_INTEQ(ED("same", "same", 0, 1), 0);
    /* a swap of neighbours is 1 only with SWAPS */
    CHECK_INTEQ(ED("hepatocyte", "hepatocyet", 3, 0), 2);
    CHECK_INTEQ(ED("hepatocyte", "hepatocyet", 3, 1), 1);
    /* optimal string alignment, not full Damerau: "ca" -> "abc" is 3 */
    CHECK_INTEQ(ED("ca", "abc", 5, 1), 3);
    /* LIMIT + 1 as soon as the limit is passed, or by length alone */
    CHECK_INTEQ(ED("kitten", "sitting", 2, 0), 3);
    CHECK_INTEQ(ED("abcdef", "uvwxyz", 1, 1), 2);
    CHECK_INTEQ(ED("a", "abcd", 2, 0), 3);
    memset(long_a, 'a', sizeof long_a - 1);
    long_a[sizeof long_a - 1] = 0;
    CHECK_INTEQ(ED(long_a, long_a, 4, 0), 5);
#undef ED
}

/* The ontology set of a run: the schema's pins unless asked for the latest
 * (a tool's --latest, or SC_ONTOLOGIES=latest for every tool). */
static void test_run_set(void)
{
    unsetenv("SC_ONTOLOGIES");
    CHECK_INTEQ(sc_onto_run_set(0), SC_ONTO_SET_SCHEMA);
    CHECK_INTEQ(sc_onto_run_set(1), SC_ONTO_SET_LATEST);
    setenv("SC_ONTOLOGIES", "latest", 1);
    CHECK_INTEQ(sc_onto_run_set(0), SC_ONTO_SET_LATEST);
    setenv("SC_ONTOLOGIES", "newest", 1);
    CHECK_INTEQ(sc_onto_run_set(0), SC_ONTO_SET_SCHEMA);
    unsetenv("SC_ONTOLOGIES");
}

int main(void)
{
    const char *build = getenv("SC_BUILD");

    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    /* The real set's cache lives in the build tree between runs (a first
     * run parses, later ones read it), else in the temporary directory. */
    if (build)
        snprintf(cachedir, sizeof cachedir, "%s/cache/sc", build);
    else
        snprintf(cachedir, sizeof cachedir, "%s/real", tmpdir);
    RUN(test_normalize);
    RUN(test_run_set);
    RUN(test_edit_distance);
    RUN(test_obo_terms);
    RUN(test_obo_graph);
    RUN(test_obo_labels);
    RUN(test_json_chains);
    RUN(test_malformed);
    RUN(test_cache);
    if (sc_onto_new(0, &real) < 0 ||
        sc_onto_set_cache_dir(real, cachedir) < 0 ||
        sc_onto_load_set(real, SC_ONTO_SET_SCHEMA, 2) < 0) {
        printf("# cannot load the vendored ontologies: %s\n", sc_errmsg());
        printf("not ok %d - load the SCHEMA set\n", ++unit_n);
        unit_nfail++;
    } else {
        RUN(test_real_versions);
        RUN(test_real_lca);
        RUN(test_real_graph);
        RUN(test_real_obsolete);
        RUN(test_real_taxon);
        RUN(test_real_labels);
        RUN(test_real_search_prefilter);
        RUN(test_real_latest);
    }
    sc_onto_free(real);
    remove_dir(tmp("cache"));
    remove_dir(tmp("real"));
    remove_dir(tmpdir);
    return UNIT_DONE();
}
