/* test_registry: the registry API (sc_registry.h) on a temporary SQLite file,
 * or on the PostgreSQL database $SC_TEST_REGISTRY_URI names (emptied: its
 * schema public is dropped; tests/cli/sc-register-team.bats does that). */
/* SPDX-License-Identifier: MIT */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>
#include <sqlite3.h>

#include "sc_registry.h"
#include "unit.h"

static char dir[256], db[300];
static const char *pg_uri; /* $SC_TEST_REGISTRY_URI */

/* Run SQL on the PostgreSQL database of the tests. */
static void pg_sql(const char *sql)
{
    PGconn *c = PQconnectdb(pg_uri);
    PGresult *r = PQexec(c, sql);

    CHECK(PQresultStatus(r) == PGRES_COMMAND_OK);
    PQclear(r);
    PQfinish(c);
}

/* An empty database, or no registry file. */
static void empty(void)
{
    char wal[320];

    if (pg_uri) {
        pg_sql("SET client_min_messages = warning;"
               "DROP SCHEMA public CASCADE; CREATE SCHEMA public");
        return;
    }
    remove(db);
    snprintf(wal, sizeof wal, "%s-wal", db);
    remove(wal);
    snprintf(wal, sizeof wal, "%s-shm", db);
    remove(wal);
}

static const char *sha(char c)
{
    static char buf[8][65];
    static int k;
    char *s = buf[k++ % 8];
    memset(s, c, 64);
    s[64] = '\0';
    return s;
}

static sc_registry *fresh(void)
{
    sc_registry *reg = NULL;

    empty();
    CHECK(sc_registry_open(db, SC_REGISTRY_CREATE, &reg) == 0);
    return reg;
}

static int count_fn(const sc_reg_artifact *a, void *ud)
{
    (void)a;
    ++*(int64_t *)ud;
    return 0;
}

static int64_t last_match;
static int match_fn(const sc_reg_artifact *a, void *ud)
{
    last_match = a->n_match;
    ++*(int64_t *)ud;
    return 0;
}

static void test_open(void)
{
    sc_registry *reg = NULL;

    empty();
    CHECK(sc_registry_open(db, 0, &reg) == SC_ENOTFOUND);
    CHECK(reg == NULL);
    reg = fresh();
    CHECK(sc_registry_schema(reg) == SC_REGISTRY_SCHEMA);
    CHECK(sc_registry_close(reg) == 0);
    /* open again: no migration, same schema */
    CHECK(sc_registry_open(db, SC_REGISTRY_READONLY, &reg) == 0);
    CHECK(sc_registry_schema(reg) == SC_REGISTRY_SCHEMA);
    CHECK(sc_registry_close(reg) == 0);
    CHECK(sc_registry_open("mysql://x/y", 0, &reg) == SC_EUNSUP);
    CHECK(strncmp(sc_registry_backend(), "sqlite 3.", 9) == 0);
    /* a password in a URI stays out of messages */
    CHECK(sc_registry_open("postgresql://u:s3cret@127.0.0.1:1/x?password=p2", 0,
                           &reg) == SC_EREGISTRY);
    CHECK(strstr(sc_errmsg(), "postgresql://u:***@127.0.0.1:1/x?password=***"));
    CHECK(!strstr(sc_errmsg(), "s3cret") && !strstr(sc_errmsg(), "p2"));
}

static void test_add(void)
{
    sc_registry *reg = fresh();
    const char *genes[] = {"G2", "G1", "G3", "G1"};
    const char *genes2[] = {"G3", "G2", "G1"};
    sc_reg_term terms[] = {{"cell_type", "CL:0000084", "T cell", 10},
                           {"cell_type", "CL:0000236", "B cell", 5},
                           {"organism", "NCBITaxon:9606", NULL, 15}};
    char path[320];
    sc_reg_dataset d = {0};
    int64_t id, id2, gs, gs2, ng, n = 0;
    int st;

    snprintf(path, sizeof path, "%s/a.h5ad", dir);
    d.path = path;
    d.sha256 = sha('a');
    d.size = 100;
    d.format = "h5ad";
    d.n_obs = 15;
    d.n_vars = 3;
    d.organism = "NCBITaxon:9606";
    d.terms = terms;
    d.n_terms = 3;
    d.genes = genes;
    d.n_genes = 4;
    CHECK(sc_registry_add(reg, &d, &id, &st) == 0);
    CHECK(st == SC_REG_NEW && id == 1);
    CHECK(sc_registry_add(reg, &d, &id, &st) == 0);
    CHECK(st == SC_REG_KNOWN && id == 1);
    /* new content at the same path: version 2 */
    d.sha256 = sha('b');
    d.genes = genes2;
    d.n_genes = 3;
    CHECK(sc_registry_add(reg, &d, &id2, &st) == 0);
    CHECK(st == SC_REG_VERSION && id2 == 2);
    /* the same genes (duplicates and order aside) share one gene set */
    CHECK(sc_registry_geneset(reg, 1, &gs, &ng) == 0);
    CHECK(sc_registry_geneset(reg, 2, &gs2, &ng) == 0);
    CHECK(gs == gs2 && gs > 0 && ng == 3);
    /* latest only, then every version */
    sc_reg_query q = {0};
    CHECK(sc_registry_query(reg, &q, count_fn, &n) == 0);
    CHECK_INTEQ(n, 1);
    q.all_versions = 1;
    n = 0;
    CHECK(sc_registry_query(reg, &q, count_fn, &n) == 0);
    CHECK_INTEQ(n, 2);
    /* a bad digest is refused before anything is written */
    d.sha256 = "xyz";
    CHECK(sc_registry_add(reg, &d, &id, &st) == SC_EINVAL);
    CHECK(sc_registry_resolve(reg, "2", &id) == 0 && id == 2);
    CHECK(sc_registry_resolve(reg, "bbbbbbbb", &id) == 0 && id == 2);
    CHECK(sc_registry_resolve(reg, path, &id) == 0 && id == 2);
    CHECK(sc_registry_resolve(reg, "99", &id) == SC_ENOTFOUND);
    CHECK(sc_registry_close(reg) == 0);
}

static void test_query(void)
{
    sc_registry *reg = fresh();
    sc_reg_term t1[] = {{"cell_type", "CL:0000625", "CD8 T", 7},
                        {"cell_type", "CL:0000236", "B cell", 3}};
    sc_reg_term t2[] = {{"cell_type", "CL:0000236", "B cell", 30}};
    const char *g1[] = {"ENSG1", "ENSG2"}, *g2[] = {"ENSG2"};
    char p1[320], p2[320];
    sc_reg_dataset d1 = {0}, d2 = {0};
    int64_t id, n = 0;
    int st;

    snprintf(p1, sizeof p1, "%s/one.h5ad", dir);
    snprintf(p2, sizeof p2, "%s/two.h5ad", dir);
    d1 = (sc_reg_dataset){.path = p1,
                          .sha256 = sha('1'),
                          .format = "h5ad",
                          .n_obs = 10,
                          .terms = t1,
                          .n_terms = 2,
                          .genes = g1,
                          .n_genes = 2};
    d2 = (sc_reg_dataset){.path = p2,
                          .sha256 = sha('2'),
                          .format = "h5ad",
                          .n_obs = 30,
                          .terms = t2,
                          .n_terms = 1,
                          .genes = g2,
                          .n_genes = 1};
    CHECK(sc_registry_add(reg, &d1, &id, &st) == 0);
    CHECK(sc_registry_add(reg, &d2, &id, &st) == 0);
    /* the caller expands "T cell" to its descendants */
    const char *tcell[] = {"CL:0000084", "CL:0000625", "CL:0000624"};
    sc_reg_cond c = {"cell_type", tcell, 3};
    sc_reg_query q = {.conds = &c, .n_conds = 1};
    CHECK(sc_registry_query(reg, &q, match_fn, &n) == 0);
    CHECK_INTEQ(n, 1);
    CHECK_INTEQ(last_match, 7);
    q.min_cells = 8;
    n = 0;
    CHECK(sc_registry_query(reg, &q, count_fn, &n) == 0);
    CHECK_INTEQ(n, 0);
    /* genes: all of them must be measured */
    const char *want[] = {"ENSG2"}, *both[] = {"ENSG1", "ENSG2"};
    sc_reg_query qg = {.genes = want, .n_genes = 1};
    n = 0;
    CHECK(sc_registry_query(reg, &qg, count_fn, &n) == 0);
    CHECK_INTEQ(n, 2);
    qg.genes = both;
    qg.n_genes = 2;
    n = 0;
    CHECK(sc_registry_query(reg, &qg, count_fn, &n) == 0);
    CHECK_INTEQ(n, 1);
    /* a quote in a term cannot break out of the bound JSON array */
    const char *evil[] = {"x\"]') OR 1=1 --"};
    sc_reg_cond ce = {"cell_type", evil, 1};
    sc_reg_query qe = {.conds = &ce, .n_conds = 1};
    n = 0;
    CHECK(sc_registry_query(reg, &qe, count_fn, &n) == 0);
    CHECK_INTEQ(n, 0);
    CHECK(sc_registry_close(reg) == 0);
}

struct lin {
    int n;
    char seen[512];
};

static int lin_fn(const sc_reg_node *node, void *ud)
{
    struct lin *l = ud;
    l->n++;
    strncat(l->seen, node->label, sizeof l->seen - strlen(l->seen) - 2);
    strcat(l->seen, "|");
    return 0;
}

static void test_collections_and_lineage(void)
{
    sc_registry *reg = fresh();
    char p[320];
    sc_reg_dataset d = {0};
    int64_t ids[3], ver, vid, vid2, run, changed, n = 0;
    double w[3] = {1, 2, 3};
    int st;

    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/c%d.h5ad", dir, i);
        d = (sc_reg_dataset){.path = p,
                             .sha256 = sha((char)('c' + i)),
                             .format = "h5ad",
                             .n_obs = 10 * (i + 1)};
        if (i == 2) {
            /* made from c0 by a harmonize step */
            static const char *in[1];
            in[0] = sha('c');
            static sc_reg_step s = {.tool = "sc-harmonize",
                                    .version = "0.1",
                                    .time = "2026-01-01T00:00:00Z"};
            s.inputs = in;
            s.n_inputs = 1;
            d.steps = &s;
            d.n_steps = 1;
        }
        CHECK(sc_registry_add(reg, &d, &ids[i], &st) == 0);
    }
    CHECK(sc_registry_collection_create(reg, "set", "a test") == 0);
    CHECK(sc_registry_collection_create(reg, "set", NULL) == SC_EEXIST);
    CHECK(sc_registry_collection_freeze(reg, "set", &ver, &vid) == SC_EINVAL);
    CHECK(sc_registry_collection_edit(reg, "set", 0, ids, w, 3, &changed) == 0);
    CHECK_INTEQ(changed, 3);
    CHECK(sc_registry_collection_freeze(reg, "set", &ver, &vid) == 0);
    CHECK_INTEQ(ver, 1);
    CHECK(sc_registry_collection_edit(reg, "set", 1, ids, NULL, 1, NULL) == 0);
    CHECK(sc_registry_collection_freeze(reg, "set", &ver, &vid2) == 0);
    CHECK_INTEQ(ver, 2);
    CHECK(sc_registry_collection_members(reg, vid, count_fn, &n) == 0);
    CHECK_INTEQ(n, 3);
    CHECK(sc_registry_collection_version(reg, "set@2", &vid) == 0);
    CHECK(vid == vid2);
    CHECK(sc_registry_collection_version(reg, "set", &vid) == 0 && vid == vid2);
    CHECK(sc_registry_collection_version(reg, "set@3", &vid) == SC_ENOTFOUND);
    CHECK(sc_registry_collection_version(reg, "set@x", &vid) == SC_EINVAL);
    /* a run on the version, with an output */
    CHECK(sc_registry_run_start(reg, "train.py", "1", "--lr 1", "h", &run) ==
          0);
    CHECK(sc_registry_run_link(reg, run, 0, 0, vid2, NULL) == 0);
    CHECK(sc_registry_run_link(reg, run, 1, ids[0], 0, NULL) == 0);
    CHECK(sc_registry_run_finish(reg, run, "ok") == 0);
    CHECK(sc_registry_run_finish(reg, run, "ok") == SC_EINVAL);
    CHECK(sc_registry_run_finish(reg, 999, "ok") == SC_ENOTFOUND);
    /* downstream of c0: the harmonize run, c2, the versions, train.py */
    struct lin l = {0};
    CHECK(sc_registry_lineage(reg, ids[0], 1, 0, lin_fn, &l) == 0);
    CHECK(strstr(l.seen, "sc-harmonize 0.1 (ok)") != NULL);
    CHECK(strstr(l.seen, "c2.h5ad") != NULL);
    CHECK(strstr(l.seen, "set@1") != NULL);
    CHECK(strstr(l.seen, "train.py 1 (ok)") != NULL);
    /* upstream of c2: the harmonize run and c0 */
    memset(&l, 0, sizeof l);
    CHECK(sc_registry_lineage(reg, ids[2], 0, 0, lin_fn, &l) == 0);
    CHECK(strstr(l.seen, "sc-harmonize") && strstr(l.seen, "c0.h5ad"));
    /* made by sc-harmonize 0.1 */
    sc_reg_query q = {.transform = "sc-harmonize", .transform_version = "0.1"};
    n = 0;
    CHECK(sc_registry_query(reg, &q, count_fn, &n) == 0);
    CHECK_INTEQ(n, 1);
    int ok = 0;
    CHECK(sc_registry_check(reg, &ok) == 0 && ok);
    CHECK(sc_registry_close(reg) == 0);
}

static void test_newer_schema(void)
{
    sc_registry *reg = fresh();
    sqlite3 *h;

    CHECK(sc_registry_close(reg) == 0);
    if (pg_uri)
        pg_sql("UPDATE meta SET value = '42' WHERE key = 'schema_version'");
    else {
        CHECK(sqlite3_open(db, &h) == SQLITE_OK);
        CHECK(sqlite3_exec(h, "PRAGMA user_version = 42", NULL, NULL, NULL) ==
              SQLITE_OK);
        sqlite3_close(h);
    }
    CHECK(sc_registry_open(db, 0, &reg) == SC_EUNSUP);
    CHECK(strstr(sc_errmsg(), "schema 42") != NULL);
}

static void test_describe(void)
{
    char path[512];
    sc_reg_meta *m = NULL;
    const sc_reg_dataset *d;
    int ct = 0;

    snprintf(path, sizeof path, "%s/h5ad/cellxgene_schema_example_valid.h5ad",
             unit_data_dir());
    CHECK(sc_registry_describe(path, 0, NULL, &m) == 0);
    if (!m)
        return;
    d = sc_reg_meta_dataset(m);
    CHECK_STREQ(d->format, "h5ad");
    CHECK_INTEQ(d->n_obs, 2);
    CHECK_INTEQ(d->n_vars, 7);
    CHECK_STREQ(d->organism, "NCBITaxon:9606");
    CHECK_INTEQ(strlen(d->sha256), 64);
    CHECK_INTEQ(d->n_genes, 7);
    for (size_t i = 0; i < d->n_terms; i++)
        if (!strcmp(d->terms[i].field, "cell_type")) {
            CHECK_STREQ(d->terms[i].term, "CL:0000066");
            CHECK_INTEQ(d->terms[i].n_cells, 2);
            ct++;
        }
    CHECK_INTEQ(ct, 1);
    sc_reg_meta_free(m);
    /* not a dataset */
    snprintf(path, sizeof path, "%s/SOURCES.md", unit_data_dir());
    CHECK(sc_registry_describe(path, 0, NULL, &m) == SC_EFORMAT);
    CHECK(m == NULL);
    CHECK(sc_registry_describe(path, SC_REG_ANY_FILE, NULL, &m) == 0);
    if (m)
        CHECK_STREQ(sc_reg_meta_dataset(m)->format, "file");
    sc_reg_meta_free(m);
}

int main(void)
{
    if (unit_mkdtemp(dir, sizeof dir, "registry") < 0)
        return 1;
    pg_uri = getenv("SC_TEST_REGISTRY_URI");
    if (pg_uri && *pg_uri) {
        snprintf(db, sizeof db, "%s", pg_uri);
        printf("# on %s\n", pg_uri);
    } else {
        pg_uri = NULL;
        snprintf(db, sizeof db, "%s/reg.db", dir);
    }
    RUN(test_open);
    RUN(test_add);
    RUN(test_query);
    RUN(test_collections_and_lineage);
    RUN(test_newer_schema);
    RUN(test_describe);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        printf("# could not remove %s\n", dir);
    return UNIT_DONE();
}
