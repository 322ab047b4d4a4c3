/* Unit tests for sc_cxg: JSON shapes, filters and the reference index. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "sc_cxg.h"
#include "unit.h"

static const char index_json[] =
    "[{\"collection_id\":\"c1\",\"collection_name\":\"Tabula Example\","
    "\"collection_doi\":null,\"dataset_id\":\"d1\","
    "\"dataset_version_id\":\"v1\",\"title\":\"Lung\","
    "\"schema_version\":\"5.2.0\",\"cell_count\":12045,"
    "\"primary_cell_count\":null,\"mean_genes_per_cell\":1834.2,"
    "\"assets\":[{\"filetype\":\"RDS\",\"filesize\":1,\"url\":\"http://x/"
    "v1.rds\"},{\"filetype\":\"H5AD\",\"filesize\":104857600,"
    "\"url\":\"http://x/v1.h5ad\"}],"
    "\"organism\":[{\"label\":\"Homo sapiens\","
    "\"ontology_term_id\":\"NCBITaxon:9606\"}],"
    "\"assay\":[{\"label\":\"10x 3' v3\",\"ontology_term_id\":"
    "\"EFO:0009922\"}],"
    "\"tissue\":[{\"label\":\"lung\",\"ontology_term_id\":"
    "\"UBERON:0002048\"},{\"label\":\"blood\",\"ontology_term_id\":"
    "\"UBERON:0000178\"}],"
    "\"disease\":null,\"cell_type\":[],\"sex\":[\"odd\",3],"
    "\"suspension_type\":[\"cell\",null],\"is_primary_data\":[true],"
    "\"future\":{\"a\":[1,{\"b\":null}]},\"revised_at\":null},"
    "{\"dataset_id\":\"d2\",\"dataset_version_id\":\"v2\","
    "\"schema_version\":\"5.20.1\",\"cell_count\":\"7\","
    "\"organism\":[{\"label\":\"Mus musculus\","
    "\"ontology_term_id\":\"NCBITaxon:10090\"}],\"assets\":null}]";

static void test_parse_index(void)
{
    sc_cxg_dataset *v = NULL;
    const sc_cxg_asset *h;
    size_t n = 0;
    char *s;

    CHECK_INTEQ(
        sc_cxg_parse_datasets(index_json, strlen(index_json), "idx", &v, &n),
        0);
    CHECK_INTEQ(n, 2);
    if (n != 2)
        return;
    CHECK_STREQ(v[0].dataset_id, "d1");
    CHECK_STREQ(v[0].collection_doi, ""); /* null */
    CHECK_STREQ(v[0].revised_at, "");
    CHECK_STREQ(v[0].collection_version_id, ""); /* absent */
    CHECK_INTEQ(v[0].cell_count, 12045);
    CHECK_INTEQ(v[0].terms[SC_CXG_DISEASE].n, 0);
    CHECK_INTEQ(v[0].terms[SC_CXG_SEX].n, 1); /* a bare string */
    CHECK_INTEQ(v[0].n_suspension_type, 1);
    h = sc_cxg_h5ad(&v[0]);
    CHECK(h != NULL);
    if (h) {
        CHECK_STREQ(h->url, "http://x/v1.h5ad");
        CHECK_INTEQ(h->filesize, 104857600);
    }
    s = sc_cxg_terms_join(&v[0], SC_CXG_TISSUE, 0);
    CHECK_STREQ(s, "lung || blood");
    free(s);
    s = sc_cxg_terms_join(&v[0], SC_CXG_TISSUE, 1);
    CHECK_STREQ(s, "UBERON:0002048 || UBERON:0000178");
    free(s);
    s = sc_cxg_terms_join(&v[0], SC_CXG_CELL_TYPE, 0);
    CHECK_STREQ(s, "");
    free(s);
    CHECK_INTEQ(v[1].cell_count, 7);
    CHECK(sc_cxg_h5ad(&v[1]) == NULL);
    CHECK_STREQ(v[1].title, "");
    sc_cxg_datasets_free(v, n);
    sc_cxg_datasets_free(NULL, 0);
}

static void test_parse_shapes(void)
{
    static const char coll[] =
        "{\"collection_id\":\"c9\",\"collection_version_id\":\"cv9\","
        "\"name\":\"N\",\"doi\":\"10.1/x\",\"datasets\":[{\"dataset_id\":"
        "\"d1\",\"dataset_version_id\":\"v1\"},{\"dataset_id\":\"d2\","
        "\"collection_id\":\"other\"}]}";
    static const char cver[] =
        "{\"collection_id\":\"c9\",\"collection_version_id\":\"cv9\","
        "\"dataset_versions\":[{\"dataset_id\":\"d1\"}],"
        "\"publisher_metadata\":null}";
    static const char one[] = "{\"dataset_id\":\"d1\",\"cell_count\":null}";
    static const char *const bad[] = {"", "[1]", "\"x\"", "[{]", "null"};
    sc_cxg_collection *c = NULL;
    sc_cxg_dataset *v = NULL;
    size_t n = 0;

    CHECK_INTEQ(sc_cxg_parse_datasets(coll, strlen(coll), "c", &v, &n), 0);
    CHECK_INTEQ(n, 2);
    if (n == 2) {
        CHECK_STREQ(v[0].collection_id, "c9"); /* inherited */
        CHECK_STREQ(v[0].collection_name, "N");
        CHECK_STREQ(v[0].collection_doi, "10.1/x");
        CHECK_STREQ(v[1].collection_id, "other"); /* own value kept */
    }
    sc_cxg_datasets_free(v, n);
    CHECK_INTEQ(sc_cxg_parse_datasets(cver, strlen(cver), "cv", &v, &n), 0);
    CHECK_INTEQ(n, 1);
    if (n == 1)
        CHECK_STREQ(v[0].collection_version_id, "cv9");
    sc_cxg_datasets_free(v, n);
    CHECK_INTEQ(sc_cxg_parse_datasets(one, strlen(one), "one", &v, &n), 0);
    CHECK_INTEQ(n, 1);
    if (n == 1)
        CHECK_INTEQ(v[0].cell_count, -1);
    sc_cxg_datasets_free(v, n);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INTEQ(
            sc_cxg_parse_datasets(bad[i], strlen(bad[i]), "bad", &v, &n),
            SC_EFORMAT);
        CHECK(v == NULL && n == 0);
        CHECK(strstr(sc_errmsg(), "'bad'") != NULL);
    }
    CHECK_INTEQ(sc_cxg_parse_collections(coll, strlen(coll), "c", &c, &n), 0);
    CHECK_INTEQ(n, 1);
    if (n == 1) {
        CHECK_STREQ(c[0].name, "N");
        CHECK_INTEQ(c[0].n_datasets, 2);
        CHECK_STREQ(c[0].dataset_ids[1], "d2");
        CHECK_STREQ(c[0].visibility, "");
    }
    sc_cxg_collections_free(c, n);
    CHECK_INTEQ(sc_cxg_parse_collections("[{}, 2]", 7, "cs", &c, &n),
                SC_EFORMAT);
}

/* Members of the wrong type are an error, never a dataset (or a URL). */
static void test_parse_types(void)
{
    static const struct {
        const char *json, *msg;
    } bad[] = {
        {"[{\"dataset_id\":7}]", "item 1: 'dataset_id' is a number, not a "
                                 "non-empty string"},
        {"[{\"dataset_id\":\"\"}]", "'dataset_id' is a string, not"},
        {"[{\"x\":1}]", "item 1: no 'dataset_id'"},
        {"[{\"dataset_id\":\"d\"},{\"dataset_id\":\"e\","
         "\"dataset_version_id\":[\"../x\"]}]",
         "item 2: 'dataset_version_id' is an array, not a string"},
        {"[{\"dataset_id\":\"d\",\"assets\":\"file:///etc/passwd\"}]",
         "'assets' is a string, not an array"},
        {"[{\"dataset_id\":\"d\",\"assets\":[\"x\"]}]",
         "'assets' is a string, not an array of objects"},
        {"[{\"dataset_id\":\"d\",\"assets\":[{\"url\":{}}]}]",
         "'assets.url' is an object, not a string"},
        {"[{\"dataset_id\":\"d\",\"assets\":[{\"url\":\"u\","
         "\"filesize\":-5}]}]",
         "'assets.filesize' is a number, not a size"},
        {"[{\"dataset_id\":\"d\",\"cell_count\":{}}]",
         "'cell_count' is an object, not a count"},
        {"[{\"dataset_id\":\"d\",\"organism\":\"human\"}]",
         "'organism' is a string, not an array"},
        {"[{\"dataset_id\":\"d\",\"title\":true}]",
         "'title' is a boolean, not a string"},
    };
    sc_cxg_dataset *v = NULL;
    size_t n = 0;

    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INTEQ(sc_cxg_parse_datasets(bad[i].json, strlen(bad[i].json), "t",
                                          &v, &n),
                    SC_EFORMAT);
        CHECK(v == NULL && n == 0);
        CHECK(strstr(sc_errmsg(), bad[i].msg) != NULL);
        if (!strstr(sc_errmsg(), bad[i].msg))
            fprintf(stderr, "# %s\n", sc_errmsg());
    }
}

static int matches(const char *field, const char *value,
                   const sc_cxg_dataset *d)
{
    sc_cxg_filter f = SC_CXG_FILTER_INIT;
    int m;

    if (sc_cxg_filter_add(&f, field, value) < 0)
        return -1;
    m = sc_cxg_filter_match(&f, d);
    sc_cxg_filter_release(&f);
    return m;
}

static void test_filters(void)
{
    sc_cxg_filter f = SC_CXG_FILTER_INIT;
    sc_cxg_dataset *v = NULL;
    size_t n = 0;

    if (sc_cxg_parse_datasets(index_json, strlen(index_json), "idx", &v, &n) <
            0 ||
        n != 2) {
        CHECK(0);
        return;
    }
    CHECK_INTEQ(sc_cxg_filter_empty(&f), 1);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[0]), 1);
    CHECK_INTEQ(matches("organism", "NCBITaxon:9606", &v[0]), 1);
    CHECK_INTEQ(matches("organism", "homo SAPIENS", &v[0]), 1);
    CHECK_INTEQ(matches("organism", "human", &v[0]), 1);
    CHECK_INTEQ(matches("organism", "mouse", &v[0]), 0);
    CHECK_INTEQ(matches("organism", "mouse", &v[1]), 1);
    CHECK_INTEQ(matches("organism", "ncbitaxon:9606", &v[0]), 0); /* ids */
    CHECK_INTEQ(matches("tissue", "blood", &v[0]), 1);
    CHECK_INTEQ(matches("assay", "10x 3' v3", &v[0]), 1);
    CHECK_INTEQ(matches("disease", "normal", &v[0]), 0);
    CHECK_INTEQ(matches("suspension_type", "CELL", &v[0]), 1);
    CHECK_INTEQ(matches("schema_version", "5", &v[0]), 1);
    CHECK_INTEQ(matches("schema_version", "5.2", &v[0]), 1);
    CHECK_INTEQ(matches("schema_version", "5.2", &v[1]), 0); /* 5.20 */
    CHECK_INTEQ(matches("schema_version", "5.2.0", &v[0]), 1);
    CHECK_INTEQ(matches("collection", "tabula example", &v[0]), 1);
    CHECK_INTEQ(matches("collection", "c1", &v[0]), 1);
    CHECK_INTEQ(matches("collection", "", &v[1]), 0);
    CHECK_INTEQ(matches("dataset", "v2", &v[1]), 1);
    CHECK_INTEQ(matches("ethnicity", "x", &v[1]), 0);
    CHECK_INTEQ(matches("colour", "red", &v[0]), -1);
    CHECK(strstr(sc_errmsg(), "unknown filter field 'colour'") != NULL);
    /* OR within a field, AND across fields, cell bounds. */
    CHECK_INTEQ(sc_cxg_filter_add(&f, "organism", "mouse"), 0);
    CHECK_INTEQ(sc_cxg_filter_add(&f, "organism", "human"), 0);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[0]), 1);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[1]), 1);
    CHECK_INTEQ(sc_cxg_filter_add(&f, "tissue", "lung"), 0);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[0]), 1);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[1]), 0);
    sc_cxg_filter_release(&f);
    f.min_cells = 8;
    CHECK_INTEQ(sc_cxg_filter_empty(&f), 0);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[0]), 1);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[1]), 0);
    f.min_cells = -1;
    f.max_cells = 7;
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[0]), 0);
    CHECK_INTEQ(sc_cxg_filter_match(&f, &v[1]), 1);
    sc_cxg_datasets_free(v, n);
}

static void test_ids_and_client(void)
{
    sc_http_opts o = SC_HTTP_OPTS_INIT;
    sc_cxg *c = NULL;
    sc_cxg_dataset *v = NULL;
    size_t n = 0;

    CHECK_INTEQ(sc_cxg_is_id("a1b2c3d4-0000-4000-8000-000000000001"), 1);
    CHECK_INTEQ(sc_cxg_is_id("A1B2C3D4-0000-4000-8000-000000000001"), 1);
    CHECK_INTEQ(sc_cxg_is_id("a1b2c3d4-0000-4000-8000-00000000000"), 0);
    CHECK_INTEQ(sc_cxg_is_id("a1b2c3d4-0000-4000-8000-0000000000011"), 0);
    CHECK_INTEQ(sc_cxg_is_id("a1b2c3d4x0000-4000-8000-000000000001"), 0);
    CHECK_INTEQ(sc_cxg_is_id(""), 0);
    CHECK_INTEQ(sc_cxg_new("", &o, &c), SC_EINVAL);
    CHECK_INTEQ(sc_cxg_new("http://127.0.0.1:9/curation/v1/", &o, &c), 0);
    /* Ids go into URL paths: anything else is refused before a request. */
    CHECK_INTEQ(sc_cxg_dataset_versions(c, "../x", &v, &n), SC_EINVAL);
    CHECK_INTEQ(sc_cxg_dataset_version(c, "a/b", &v, &n), SC_EINVAL);
    CHECK_INTEQ(sc_cxg_collection_datasets(c, "a?b", &v, &n), SC_EINVAL);
    sc_cxg_free(c);
    sc_cxg_free(NULL);
}

static void write_file(const char *path, const char *text)
{
    FILE *fp = fopen(path, "w");

    if (fp) {
        fputs(text, fp);
        fclose(fp);
    }
}

static void test_refs(void)
{
    char share[] = "/tmp/test_cxg.XXXXXX", p[512];
    sc_cxg_ref *r = NULL;
    size_t n = 0;

    if (!mkdtemp(share)) {
        CHECK(0);
        return;
    }
    CHECK_INTEQ(sc_cxg_refs(share, NULL, &r, &n), SC_ENOTFOUND);
    snprintf(p, sizeof p, "%s/ontology/cxg-guide", share);
    snprintf(p, sizeof p, "%s/ontology", share);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/ontology/cxg-guide", share);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/ontology/cxg-guide/latest_ontology_info.json",
             share);
    write_file(p, "{\"ontologies\":{\"CL\":{\"version\":\"v2026-03-26\","
                  "\"source\":\"https://h/cl/{version}/{filename}\","
                  "\"filename\":\"cl.owl\",\"map_to\":[\"X\"]},"
                  "\"CVCL\":{\"source\":\"https://h/{filename}\","
                  "\"filename\":\"cellosaurus.obo\",\"version\":\"55.0\"}}}");
    snprintf(p, sizeof p, "%s/ontology/cxg-guide/ontology_info.json", share);
    write_file(p, "{\"7.0.0\":{\"ontologies\":{\"CL\":{\"version\":\"v1\","
                  "\"source\":\"https://h/cl/{version}/{filename}\","
                  "\"filename\":\"cl.owl\"}}}}");
    snprintf(p, sizeof p, "%s/genes", share);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/genes/cxg", share);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/genes/cxg/schema-7", share);
    mkdir(p, 0777);
    snprintf(p, sizeof p, "%s/genes/cxg/schema-7/gene_info.yml", share);
    write_file(p, "# comment\nhuman:\n  description: homo_sapiens\n"
                  "  url: https://g/release_{version}/g.v{version}.gtf.gz\n"
                  "  version: 48\nercc:\n  url: \"https://e/ercc.txt\"\n");
    CHECK_INTEQ(sc_cxg_refs(share, NULL, &r, &n), 0);
    CHECK_INTEQ(n, 4);
    if (n == 4) {
        CHECK_STREQ(r[0].url, "https://h/cl/v2026-03-26/cl.owl");
        CHECK_STREQ(r[0].dest, "ontology/CL/v2026-03-26/cl.owl");
        CHECK_STREQ(r[1].url, "https://h/cellosaurus.obo");
        CHECK_STREQ(r[2].kind, "genes");
        CHECK_STREQ(r[2].url, "https://g/release_48/g.v48.gtf.gz");
        CHECK_STREQ(r[2].dest, "genes/cxg/schema-7/human/g.v48.gtf.gz");
        CHECK_STREQ(r[3].url, "https://e/ercc.txt");
        CHECK_STREQ(r[3].version, "");
    }
    sc_cxg_refs_free(r, n);
    CHECK_INTEQ(sc_cxg_refs(share, "7.0.0", &r, &n), 0);
    CHECK_INTEQ(n, 3);
    if (n == 3)
        CHECK_STREQ(r[0].url, "https://h/cl/v1/cl.owl");
    sc_cxg_refs_free(r, n);
    CHECK_INTEQ(sc_cxg_refs(share, "9.9.9", &r, &n), SC_ENOTFOUND);
    CHECK(strstr(sc_errmsg(), "9.9.9") != NULL);
    /* A hostile version cannot climb out of the reference directory. */
    snprintf(p, sizeof p, "%s/ontology/cxg-guide/latest_ontology_info.json",
             share);
    write_file(p, "{\"ontologies\":{\"CL\":{\"version\":\"../../x\","
                  "\"source\":\"https://h/{version}\",\"filename\":\"a\"}}}");
    CHECK_INTEQ(sc_cxg_refs(share, NULL, &r, &n), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "unsafe") != NULL);
    write_file(p, "{\"ontologies\":[}");
    CHECK_INTEQ(sc_cxg_refs(share, NULL, &r, &n), SC_EFORMAT);
    snprintf(p, sizeof p, "rm -rf '%s'", share);
    CHECK(system(p) == 0);
}

int main(void)
{
    RUN(test_parse_index);
    RUN(test_parse_shapes);
    RUN(test_parse_types);
    RUN(test_filters);
    RUN(test_ids_and_client);
    RUN(test_refs);
    return UNIT_DONE();
}
