/* test_schema: CELLxGENE rules on single values and on the valid sample. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sc_adata.h"
#include "sc_onto.h"
#include "sc_schema.h"
#include "unit.h"

static sc_onto *real;
static sc_schema *schema;

/* The messages for one value, joined; "" when valid. */
static const char *check(const char *col, const char *value, const char *org,
                         const char *tissue_type)
{
    static char buf[8192];
    sc_schema_report r = SC_SCHEMA_REPORT_INIT;
    size_t used = 0;

    buf[0] = '\0';
    if (sc_schema_check_value(schema, real, col, value, org, tissue_type,
                              "EFO:0009922", &r) < 0)
        return "(failed)";
    for (size_t i = 0; i < r.n && used < sizeof buf; i++)
        used += (size_t)snprintf(
            buf + used, sizeof buf - used, "%s%s: %s", i ? "\n" : "",
            r.level[i] == SC_SCHEMA_ERROR ? "ERROR" : "WARNING", r.text[i]);
    sc_schema_report_release(&r);
    return buf;
}

#define HS "NCBITaxon:9606"
#define MM "NCBITaxon:10090"

static void test_load(void)
{
    sc_schema *s = NULL;

    CHECK(sc_schema_load("/nonexistent.yaml", &s) == SC_EIO && !s);
    CHECK(strstr(sc_schema_title(schema), "7.") != NULL);
}

static void test_cell_type(void)
{
    const char *c = "cell_type_ontology_term_id";

    CHECK_STREQ(check(c, "CL:0000236", HS, "tissue"), "");
    CHECK_STREQ(check(c, "unknown", HS, "tissue"), "");
    CHECK(strstr(check(c, "CL:0000255", HS, "tissue"), "is not allowed"));
    CHECK(strstr(check(c, "CL:0000003", HS, "tissue"),
                 "is a deprecated term id of 'CL'"));
    CHECK(strstr(check(c, "UBERON:0002048", HS, "tissue"),
                 "is not a valid ontology term id of 'CL, ZFA, FBbt, WBbt'"));
    CHECK(strstr(check(c, "CL:9999999", HS, "tissue"), "not a valid"));
    /* spelling counts: the validator wants the exact CURIE */
    CHECK(strstr(check(c, "cl:0000236", HS, "tissue"), "not a valid"));
    /* 'na' only for cell lines */
    CHECK(*check(c, "na", HS, "tissue"));
    CHECK_STREQ(check(c, "na", HS, "cell line"), "");
    /* ontologies not shipped: a warning, not an error */
    CHECK(!strncmp(check(c, "ZFA:0009000", "NCBITaxon:7955", "tissue"),
                   "WARNING", 7));
}

static void test_stage_by_organism(void)
{
    const char *c = "development_stage_ontology_term_id";

    CHECK_STREQ(check(c, "HsapDv:0000003", HS, "tissue"), "");
    CHECK(strstr(check(c, "MmusDv:0000110", HS, "tissue"),
                 "not a valid ontology term id of 'HsapDv'"));
    CHECK_STREQ(check(c, "MmusDv:0000110", MM, "tissue"), "");
    CHECK(strstr(check(c, "HsapDv:0000003", MM, "tissue"), "'MmusDv'"));
    /* a mouse subspecies follows the mouse rule */
    CHECK_STREQ(check(c, "MmusDv:0000110", "NCBITaxon:10091", "tissue"), "");
    /* other organisms: UBERON life stages, not UBERON:0000071 */
    CHECK_STREQ(check(c, "UBERON:0000113", "NCBITaxon:9544", "tissue"), "");
    CHECK(strstr(check(c, "UBERON:0000071", "NCBITaxon:9544", "tissue"),
                 "not allowed"));
    CHECK_STREQ(check(c, "unknown", HS, "tissue"), "");
    CHECK(*check(c, "na", HS, "tissue"));
    CHECK_STREQ(check(c, "na", HS, "cell line"), "");
    /* the root itself is not allowed */
    CHECK(strstr(check(c, "HsapDv:0000001", HS, "tissue"), "not allowed"));
}

static void test_multi_term(void)
{
    const char *c = "disease_ontology_term_id";

    CHECK_STREQ(check(c, "PATO:0000461", HS, "tissue"), "");
    CHECK_STREQ(check(c, "MONDO:0005148 || MONDO:0100096", HS, "tissue"), "");
    CHECK(strstr(check(c, "MONDO:0100096 || MONDO:0005148", HS, "tissue"),
                 "ascending lexical order"));
    CHECK(strstr(check(c, "MONDO:0005148 || MONDO:0005148", HS, "tissue"),
                 "duplicates"));
    CHECK(strstr(check(c, "MONDO:0005148 || PATO:0000461", HS, "tissue"),
                 "only allowed for ontologies 'MONDO'"));
    /* disease has no 'unknown' */
    CHECK(strstr(check(c, "unknown", HS, "tissue"), "ERROR"));
    /* ethnicity: sorted HANCESTRO terms for human, 'na' otherwise */
    c = "self_reported_ethnicity_ontology_term_id";
    CHECK_STREQ(check(c, "HANCESTRO:0019 || HANCESTRO:0590", HS, "tissue"), "");
    CHECK(strstr(check(c, "HANCESTRO:0590 || HANCESTRO:0019", HS, "tissue"),
                 "ascending"));
    CHECK_STREQ(check(c, "na", MM, "tissue"), "");
    CHECK(*check(c, "HANCESTRO:0019", MM, "tissue"));
}

static void test_other_fields(void)
{
    CHECK_STREQ(check("assay_ontology_term_id", "EFO:0009922", HS, "tissue"),
                "");
    CHECK(strstr(check("assay_ontology_term_id", "EFO:0002772", HS, "tissue"),
                 "not allowed"));
    CHECK(strstr(check("assay_ontology_term_id", "EFO:0009310", HS, "tissue"),
                 "deprecated"));
    CHECK_STREQ(check("sex_ontology_term_id", "PATO:0000383", HS, "tissue"),
                "");
    CHECK(*check("sex_ontology_term_id", "PATO:0000383", "NCBITaxon:6239",
                 "tissue"));
    CHECK_STREQ(
        check("organism_ontology_term_id", "NCBITaxon:10091", NULL, NULL), "");
    CHECK(strstr(
        check("organism_ontology_term_id", "NCBITaxon:2697049", NULL, NULL),
        "not allowed"));
    CHECK(strstr(
        check("tissue_ontology_term_id", "UBERON:0000922", HS, "organoid"),
        "not allowed"));
    CHECK_STREQ(check("tissue_ontology_term_id", "CL:0000236", HS,
                      "primary cell culture"),
                "");
    CHECK_STREQ(check("suspension_type", "nucleus", HS, "tissue"), "");
    CHECK(
        strstr(check("suspension_type", "na", HS, "tissue"), "invalid values"));
    CHECK(sc_schema_check_value(schema, real, "no_such_column", "x", HS, NULL,
                                NULL, NULL) == SC_ENOTFOUND);
}

static void test_valid_sample(void)
{
    char path[4096];
    sc_schema_report r = SC_SCHEMA_REPORT_INIT;
    sc_adata *ad = NULL;

    snprintf(path, sizeof path, "%s/h5ad/cellxgene_schema_example_valid.h5ad",
             unit_data_dir());
    CHECK(sc_adata_open(path, 0, &ad) == 0);
    if (!ad)
        return;
    CHECK(sc_schema_validate(schema, real, ad, 0, &r) == 0);
    CHECK_INTEQ(r.n_errors, 0);
    for (size_t i = 0; i < r.n; i++)
        printf("# %s\n", r.text[i]);
    sc_schema_report_release(&r);
    /* an invalid copy: organism mouse, stage HsapDv */
    sc_elem_remove(ad->uns, "organism_ontology_term_id");
    CHECK(sc_elem_add_take(ad->uns, sc_elem_new_string(
                                        "organism_ontology_term_id", MM)) == 0);
    CHECK(sc_schema_validate(schema, real, ad, 0, &r) == 0);
    CHECK(r.n_errors >= 2); /* the stage, and ethnicity must be 'na' */
    sc_schema_report_release(&r);
    sc_adata_close(ad);
}

int main(void)
{
    char cache[4096];
    const char *build = getenv("SC_BUILD");

    snprintf(cache, sizeof cache, "%s/cache/sc", build ? build : "/tmp");
    if (sc_onto_new(build ? 0 : SC_ONTO_NO_CACHE, &real) < 0 ||
        (build && sc_onto_set_cache_dir(real, cache) < 0) ||
        sc_onto_load_set(real, SC_ONTO_SET_SCHEMA, 2) < 0 ||
        sc_schema_load(NULL, &schema) < 0) {
        printf("# cannot set up: %s\n", sc_errmsg());
        printf("not ok %d - set up\n", ++unit_n);
        unit_nfail++;
    } else {
        RUN(test_load);
        RUN(test_cell_type);
        RUN(test_stage_by_organism);
        RUN(test_multi_term);
        RUN(test_other_fields);
        RUN(test_valid_sample);
    }
    sc_schema_free(schema);
    sc_onto_free(real);
    return UNIT_DONE();
}
