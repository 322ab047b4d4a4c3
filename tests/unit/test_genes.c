/* Unit tests for sc_genes: references, id/symbol/alias mapping, orthologs. */
/* SPDX-License-Identifier: MIT */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sc_genes.h"
#include "unit.h"

static sc_genes *human, *mouse;

/* Map NAME with G and check the id (NULL: dropped) and the kind. */
static void expect(const sc_genes *g, const char *name, const char *id,
                   const char *kind)
{
    sc_gene_kind k;
    int64_t i = sc_genes_map(g, name, &k);

    CHECK_STREQ(i >= 0 ? sc_genes_id(g, i) : "(dropped)",
                id ? id : "(dropped)");
    CHECK_STREQ(sc_gene_kind_name(k), kind);
}

static void test_species(void)
{
    CHECK_INTEQ(sc_genes_find_species("NCBITaxon:9606"), 0);
    CHECK_INTEQ(sc_genes_find_species("ncbitaxon_10090"), 1);
    CHECK_INTEQ(sc_genes_find_species("NCBITaxon:10091"), 1);
    CHECK_INTEQ(sc_genes_find_species("mus_musculus"), 1);
    CHECK_INTEQ(sc_genes_find_species("NCBITaxon:1"), -1);
    CHECK_INTEQ(sc_genes_species_of_id("ENSG00000186092.7"), 0);
    CHECK_INTEQ(sc_genes_species_of_id("ENSMUSG00000023274"), 1);
    CHECK_STREQ(sc_genes_species(sc_genes_species_of_id("FBgn0038189"))->name,
                "fruit fly");
    CHECK_INTEQ(sc_genes_species_of_id("ENSGALG1"), -1);
    CHECK_INTEQ(sc_genes_species_of_id("TP53"), -1);
    CHECK(sc_genes_is_spike_in("ERCC-00002"));
}

static void test_load(void)
{
    CHECK_INTEQ(sc_genes_load(0, 0, &human), 0);
    CHECK_INTEQ(sc_genes_load(1, 0, &mouse), 0);
    CHECK(human && mouse);
    CHECK_INTEQ(sc_genes_n_current(human), 78894 + 92); /* + ERCC */
    CHECK_INTEQ(sc_genes_count(human), 78894 + 92 + 1237);
    CHECK_INTEQ(sc_genes_n_current(mouse), 78317 + 92);
    CHECK(strstr(sc_genes_version(human), "GENCODE 48") != NULL);
    CHECK(strstr(sc_genes_version(human), "retired: GENCODE 44") != NULL);
    CHECK(strstr(sc_genes_version(mouse), "GENCODE M37") != NULL);
    {
        sc_genes *none;

        CHECK(sc_genes_load(99, 0, &none) == SC_EINVAL);
        CHECK(none == NULL);
    }
}

static void test_ids(void)
{
    int64_t i;

    expect(human, "ENSG00000141510", "ENSG00000141510", "id");
    expect(human, "ENSG00000186092.7", "ENSG00000186092", "id_versioned");
    expect(human, "ENSG00000002586_PAR_Y", "ENSG00000002586", "par_y");
    expect(human, "ENSG00000002586.20_PAR_Y", "ENSG00000002586", "par_y");
    expect(human, "ENSG00000999999", NULL, "unknown");
    expect(human, "ENSMUSG00000023274", NULL, "foreign");
    expect(human, "DDX11L2_ENSG00000290825", "ENSG00000290825", "symbol_ensg");
    expect(mouse, "ENSMUSG00000023274.3", "ENSMUSG00000023274", "id_versioned");
    expect(mouse, "ERCC-00002", "ERCC-00002", "id");
    CHECK(sc_genes_is_spike(mouse, sc_genes_find_id(mouse, "ERCC-00002")));
    CHECK(!sc_genes_is_spike(mouse,
                             sc_genes_find_id(mouse, "ENSMUSG00000023274")));
    /* retired ids (in v44, not in v48): forward to the one current gene of
     * the same name, else dropped; kept only on request */
    {
        int64_t fwd = -1, drop = -1;
        sc_genes *keep;

        for (i = sc_genes_n_current(human); i < sc_genes_count(human); i++) {
            int64_t s = sc_genes_map(human, sc_genes_id(human, i), NULL);

            CHECK(sc_genes_is_retired(human, i));
            if (s >= 0 && fwd < 0)
                fwd = i;
            if (s < 0 && drop < 0)
                drop = i;
            if (s >= 0) {
                CHECK(s < sc_genes_n_current(human));
                CHECK_STREQ(sc_genes_name(human, s), sc_genes_name(human, i));
            }
        }
        CHECK(fwd >= 0 && drop >= 0);
        i = sc_genes_map(human, sc_genes_id(human, fwd), NULL);
        expect(human, sc_genes_id(human, fwd), sc_genes_id(human, i),
               "retired");
        expect(human, sc_genes_id(human, drop), NULL, "retired_dropped");
        CHECK_INTEQ(sc_genes_load(0, SC_GENES_KEEP_RETIRED, &keep), 0);
        if (keep) {
            expect(keep, sc_genes_id(human, drop), sc_genes_id(human, drop),
                   "retired");
            sc_genes_free(keep);
        }
    }
    i = sc_genes_find_id(human, "ENSG00000141510");
    CHECK_STREQ(sc_genes_name(human, i), "TP53");
    CHECK_STREQ(sc_genes_type(human, i), "protein_coding");
    CHECK(sc_genes_length(human, i) > 0);
}

static void test_symbols(void)
{
    expect(human, "TP53", "ENSG00000141510", "symbol");
    expect(human, "cd4", "ENSG00000010610", "case"); /* one gene, any case */
    expect(human, "Y_RNA", NULL, "ambiguous_symbol");
    expect(human, "MARCH1", "ENSG00000145416", "prev"); /* date-mangled */
    expect(human, "SEPT1", "ENSG00000180096", "prev");
    expect(human, "TP53-1", NULL, "made_unique");
    expect(human, "NOTAGENE42", NULL, "unknown");
    expect(mouse, "Cd4", "ENSMUSG00000023274", "symbol");
    expect(mouse, "CD4", "ENSMUSG00000023274", "case"); /* human-style */
    expect(mouse, "CD74", sc_genes_id(mouse, sc_genes_map(mouse, "Cd74", NULL)),
           "case");
    CHECK_INTEQ(sc_genes_qc_group(human, sc_genes_map(human, "MT-CO1", NULL)),
                SC_GENE_MT);
    CHECK_INTEQ(sc_genes_qc_group(mouse, sc_genes_map(mouse, "Rpl13", NULL)),
                SC_GENE_RIBO);
    CHECK_INTEQ(sc_genes_qc_group(human, sc_genes_map(human, "HBB", NULL)),
                SC_GENE_HB);
    CHECK_INTEQ(sc_genes_qc_group(human, sc_genes_map(human, "HBP1", NULL)), 0);
}

static void test_aliases(void)
{
    char c[256];

    /* HGNC gives DAC to one gene, NCBI to two: ambiguous, with both */
    expect(human, "DAC", NULL, "ambiguous_alias");
    sc_genes_candidates(human, "DAC", SC_GENE_AMBIGUOUS_ALIAS, c, sizeof c);
    CHECK(strchr(c, '|') != NULL);
    /* an NCBI synonym no other source gives to another gene */
    expect(human, "HYST2477",
           sc_genes_id(human, sc_genes_map(human, "HYST2477", NULL)), "alias");
    CHECK(sc_genes_map(human, "HYST2477", NULL) >= 0);
    sc_genes_candidates(human, "Y_RNA", SC_GENE_AMBIGUOUS_SYMBOL, c, sizeof c);
    CHECK(strncmp(c, "ENSG", 4) == 0 && strchr(c, '|') != NULL);
}

static void test_restored(void)
{
    char c[256];

    /* spreadsheet dates and numbers, restored when unique */
    expect(human, "7-Sep",
           sc_genes_id(human, sc_genes_map(human, "SEPTIN7", NULL)),
           "restored");
    expect(human, "07-SEP",
           sc_genes_id(human, sc_genes_map(human, "SEPTIN7", NULL)),
           "restored");
    expect(human, "10-Mar",
           sc_genes_id(human, sc_genes_map(human, "MARCHF10", NULL)),
           "restored");
    /* 1-Mar: MARCH1 or MAR1 (an alias of RTL1): left out */
    expect(human, "1-Mar", NULL, "ambiguous_restored");
    sc_genes_candidates(human, "1-Mar", SC_GENE_AMBIGUOUS_RESTORED, c,
                        sizeof c);
    CHECK(strstr(c, "MARCHF1") != NULL && strstr(c, "RTL1") != NULL);
    expect(human, "1-Dec", NULL, "ambiguous_restored");
    expect(mouse, "2-Sep",
           sc_genes_id(mouse, sc_genes_map(mouse, "Septin2", NULL)),
           "restored");
    expect(mouse, "1.11E+14",
           sc_genes_id(mouse, sc_genes_map(mouse, "1110008E08Rik", NULL)),
           "restored");
    expect(mouse, "13-Sep", NULL, "unknown");
}

static void test_orthologs(void)
{
    int64_t *map = NULL, m, h;

    CHECK_INTEQ(sc_genes_orthologs(mouse, human, &map), 0);
    m = sc_genes_map(mouse, "Trp53", NULL);
    h = sc_genes_map(human, "TP53", NULL);
    CHECK(map && m >= 0 && map[m] == h);
    free(map);
    CHECK(sc_genes_orthologs(human, human, &map) == SC_EINVAL);
}

/* The one gene-list reader: sc-harmonize --gene-space and sc-stream --genes
 * read a list alike. sc-stream used to keep a whole line up to a tab ("A B"
 * and "C # note" were ids); the id now ends at a blank or '#', as
 * sc-harmonize read it: ids hold neither. */
static void test_gene_list(void)
{
    char dir[64], path[128], **g = NULL;
    size_t n = 9;
    FILE *f;

    CHECK(unit_mkdtemp(dir, sizeof dir, "test_genes") == 0);
    snprintf(path, sizeof path, "%s/list.txt", dir);
    if (!(f = fopen(path, "w")))
        return;
    fputs("# header\n\n  ENSG1\tx\nA B\nC # note\nD#e\r\nENSG1\n", f);
    fclose(f);
    CHECK_INTEQ(sc_genes_list_read(path, &g, &n), 0);
    CHECK_INTEQ(n, 5);
    if (n == 5) {
        CHECK_STREQ(g[0], "ENSG1");
        CHECK_STREQ(g[1], "A");
        CHECK_STREQ(g[2], "C");
        CHECK_STREQ(g[3], "D");
        CHECK_STREQ(g[4], "ENSG1"); /* duplicates are kept */
    }
    sc_genes_list_free(g, n);
    if ((f = fopen(path, "w"))) {
        fputs("# only a comment\n \n", f);
        fclose(f);
    }
    CHECK_INTEQ(sc_genes_list_read(path, &g, &n), SC_EFORMAT);
    CHECK(g == NULL && n == 0);
    CHECK(strstr(sc_errmsg(), "has no gene ids") != NULL);
    unlink(path);
    CHECK_INTEQ(sc_genes_list_read(path, &g, &n), SC_EIO);
    rmdir(dir);
}

int main(void)
{
    RUN(test_species);
    RUN(test_gene_list);
    RUN(test_load);
    if (human && mouse) {
        RUN(test_ids);
        RUN(test_symbols);
        RUN(test_aliases);
        RUN(test_restored);
        RUN(test_orthologs);
    }
    sc_genes_free(human);
    sc_genes_free(mouse);
    return UNIT_DONE();
}
