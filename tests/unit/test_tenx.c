/* test_tenx: unit tests of the 10x Genomics HDF5 and MEX readers. */
/* SPDX-License-Identifier: MIT */
#include "sc_adata.h"

#include <hdf5.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_log.h"
#include "unit.h"

/* Expected values: tests/data/EXPECTED.json (computed with h5py/scipy). */
#define CR3_H5  "10x_h5/cellranger3_filtered_feature_bc_matrix.h5"
#define CR2_H5  "10x_h5/cellranger2_filtered_gene_bc_matrices_h5.h5"
#define CR3_MTX "10x_mtx/cellranger3_filtered_feature_bc_matrix"
#define CR2_MTX "10x_mtx/cellranger2_hg19_chr21"
#define GEX     "Gene Expression"

static char *data(const char *rel)
{
    static char buf[4][1024];
    static int k;

    k = (k + 1) % 4;
    snprintf(buf[k], sizeof buf[k], "%s/%s", unit_data_dir(), rel);
    return buf[k];
}

static const char *col_str(const sc_elem *df, const char *col, int64_t i)
{
    return sc_elem_str(col ? sc_elem_get(df, col) : df->index, i);
}

/* Sum and entry count of X, read in row blocks of 100. */
static void x_stats(sc_adata *ad, double *sum, int64_t *nnz)
{
    sc_block b = SC_BLOCK_INIT;

    *sum = 0;
    *nnz = 0;
    for (int64_t r = 0; r < ad->n_obs; r += 100) {
        int64_t r1 = r + 100 < ad->n_obs ? r + 100 : ad->n_obs;
        CHECK(sc_mat_read_rows(ad->X->mat, r, r1, &b) == 0);
        for (int64_t k = 0; k < sc_block_nnz(&b); k++)
            *sum += b.vals[k];
        *nnz += sc_block_nnz(&b);
    }
    sc_block_release(&b);
}

typedef struct entry {
    int32_t j;
    double v;
} entry;

static int cmp_entry(const void *a, const void *b)
{
    const entry *x = a, *y = b;

    return (x->j > y->j) - (x->j < y->j);
}

/* The entries of block B as (row-major) sorted (column, value) pairs. */
static entry *sorted_entries(const sc_block *b)
{
    entry *e = malloc(((size_t)sc_block_nnz(b) + 1) * sizeof *e);

    for (int64_t r = 0; e && r < b->n_rows; r++) {
        for (int64_t k = b->indptr[r]; k < b->indptr[r + 1]; k++)
            e[k] = (entry){b->indices[k], b->vals[k]};
        qsort(e + b->indptr[r], (size_t)(b->indptr[r + 1] - b->indptr[r]),
              sizeof *e, cmp_entry);
    }
    return e;
}

/* 1 if the matrices of A and B hold the same entries (10x HDF5 files keep
 * the features of a barcode in any order; MEX rows come out sorted). */
static int same_x(sc_adata *a, sc_adata *b)
{
    sc_block x = SC_BLOCK_INIT, y = SC_BLOCK_INIT;
    entry *ex = NULL, *ey = NULL;
    int same = a->n_obs == b->n_obs && a->n_vars == b->n_vars &&
               sc_mat_read_rows(a->X->mat, 0, a->n_obs, &x) == 0 &&
               sc_mat_read_rows(b->X->mat, 0, b->n_obs, &y) == 0 &&
               sc_block_nnz(&x) == sc_block_nnz(&y);

    for (int64_t r = 0; same && r <= a->n_obs; r++)
        same = x.indptr[r] == y.indptr[r];
    if (same) {
        ex = sorted_entries(&x);
        ey = sorted_entries(&y);
        same = ex && ey;
        for (int64_t k = 0; same && k < sc_block_nnz(&x); k++)
            same = ex[k].j == ey[k].j && ex[k].v == ey[k].v;
    }
    free(ex);
    free(ey);
    sc_block_release(&x);
    sc_block_release(&y);
    return same;
}

/* 1 if an open returned 0; otherwise the check fails with the message. */
static int opened(int rc)
{
    CHECK_INTEQ(rc, 0);
    if (rc < 0)
        printf("#   %s\n", sc_errmsg());
    return rc == 0;
}

/* What EXPECTED.json says of a sample. */
typedef struct expect {
    const char *generation;
    int64_t n_obs, n_vars, nnz;
    double sum;
    const char *barcodes[2], *names[2], *ids[2];
} expect;

static const expect cr3 = {"cellranger>=3",
                           1107,
                           507,
                           23866,
                           41549.0,
                           {"AAACCCAAGGAGAGTA-1", "AAACGCTTCAGCCCAG-1"},
                           {"CH507-9B2.2", "CH507-9B2.1"},
                           {"ENSG00000279493", "ENSG00000277117"}};
static const expect cr2 = {"cellranger<=2",
                           12,
                           343,
                           12,
                           12.0,
                           {"AACACGTGTACGCTGC-1", "AAGGAGCTCCGATATG-1"},
                           {"DSCAM", "MIR99AHG"},
                           {"DSCAM", "MIR99AHG"}};

static void check_sample(sc_adata *ad, sc_format fmt, const expect *e)
{
    double sum;
    int64_t nnz;
    sc_mat_info info;

    CHECK_INTEQ(ad->format, fmt);
    CHECK_STREQ(ad->generation, e->generation);
    CHECK_INTEQ(ad->n_obs, e->n_obs);
    CHECK_INTEQ(ad->n_vars, e->n_vars);
    CHECK_INTEQ(ad->obs->n_rows, e->n_obs);
    CHECK_INTEQ(ad->var->n_rows, e->n_vars);
    CHECK_INTEQ(ad->obs->n_child, 0);
    for (int i = 0; i < 2; i++) {
        CHECK_STREQ(col_str(ad->obs, NULL, i), e->barcodes[i]);
        CHECK_STREQ(col_str(ad->var, NULL, i), e->names[i]);
        CHECK_STREQ(col_str(ad->var, "gene_symbols", i), e->names[i]);
        CHECK_STREQ(col_str(ad->var, "gene_ids", i), e->ids[i]);
    }
    CHECK_STREQ(col_str(ad->var, "feature_types", e->n_vars - 1), GEX);
    CHECK_STREQ(ad->var->child[0]->name, "gene_ids");
    CHECK_STREQ(ad->var->child[1]->name, "gene_symbols");
    CHECK_STREQ(ad->var->child[2]->name, "feature_types");
    CHECK(ad->X && ad->X->kind == SC_K_MATRIX);
    if (!ad->X)
        return;
    sc_mat_get_info(ad->X->mat, &info);
    CHECK_INTEQ(info.fmt, SC_MAT_CSR);
    CHECK_INTEQ(info.dtype, SC_DT_I32);
    CHECK_INTEQ(info.n_rows, e->n_obs);
    CHECK_INTEQ(info.n_cols, e->n_vars);
    CHECK_INTEQ(info.nnz, e->nnz);
    x_stats(ad, &sum, &nnz);
    CHECK(sum == e->sum);
    CHECK_INTEQ(nnz, e->nnz);
}

static void test_h5_v3(void)
{
    sc_adata *ad = NULL, *ids = NULL;

    if (!opened(sc_tenx_h5_open(data(CR3_H5), 0, &ad)))
        return;
    check_sample(ad, SC_FMT_10X_H5_V3, &cr3);
    CHECK_STREQ(ad->path, data(CR3_H5));
    CHECK_STREQ(col_str(ad->var, "genome", 0), "GRCh38_chr21");
    CHECK(sc_elem_get(ad->var, "_all_tag_keys") == NULL);
    /* var names = ids */
    if (opened(sc_tenx_h5_open(data(CR3_H5), SC_OPEN_VAR_IDS, &ids))) {
        CHECK_STREQ(col_str(ids->var, NULL, 0), "ENSG00000279493");
        CHECK_STREQ(col_str(ids->var, "gene_symbols", 0), "CH507-9B2.2");
        CHECK(same_x(ad, ids));
    }
    sc_adata_close(ids);
    sc_adata_close(ad);
    /* detection; every feature is Gene Expression */
    if (opened(sc_adata_open(data(CR3_H5), SC_OPEN_GEX_ONLY, &ad)))
        check_sample(ad, SC_FMT_10X_H5_V3, &cr3);
    sc_adata_close(ad);
}

static void test_h5_v2(void)
{
    sc_adata *ad = NULL, *mtx = NULL;

    if (!opened(sc_adata_open(data(CR2_H5), 0, &ad)))
        return;
    check_sample(ad, SC_FMT_10X_H5_V2, &cr2);
    CHECK_STREQ(col_str(ad->var, "genome", 0), "hg19_chr21");
    if (opened(sc_tenx_mtx_open(data(CR2_MTX), 0, &mtx))) {
        check_sample(mtx, SC_FMT_10X_MTX, &cr2);
        CHECK(same_x(ad, mtx));
    }
    sc_adata_close(mtx);
    sc_adata_close(ad);
}

/* The MEX folder holds the same matrix as the .h5: same X, same names. */
static void test_mtx_cr3(void)
{
    sc_adata *ad = NULL, *h5 = NULL, *f = NULL;
    sc_mat_info info;

    if (!opened(sc_adata_open(data(CR3_MTX), 0, &ad)))
        return;
    check_sample(ad, SC_FMT_10X_MTX, &cr3);
    if (opened(sc_tenx_h5_open(data(CR3_H5), 0, &h5))) {
        CHECK(same_x(ad, h5));
        for (int64_t j = 0; j < 507; j++)
            CHECK_STREQ(col_str(ad->var, NULL, j), col_str(h5->var, NULL, j));
        for (int64_t i = 0; i < 1107; i += 100)
            CHECK_STREQ(col_str(ad->obs, NULL, i), col_str(h5->obs, NULL, i));
    }
    /* the matrix.mtx.gz file names the folder too */
    if (opened(sc_tenx_mtx_open(data(CR3_MTX "/matrix.mtx.gz"), 0, &f))) {
        sc_mat_get_info(f->X->mat, &info);
        CHECK_INTEQ(info.nnz, 23866);
        CHECK(same_x(ad, f));
    }
    sc_adata_close(f);
    sc_adata_close(h5);
    sc_adata_close(ad);
}

/* Dense copy of rows [0, n_obs) of X. */
static void dense_x(sc_adata *ad, double *out)
{
    sc_block b = SC_BLOCK_INIT;

    memset(out, 0, ad->n_obs * ad->n_vars * sizeof *out);
    CHECK(sc_mat_read_rows(ad->X->mat, 0, ad->n_obs, &b) == 0);
    for (int64_t r = 0; r < b.n_rows; r++)
        for (int64_t k = b.indptr[r]; k < b.indptr[r + 1]; k++)
            out[r * ad->n_vars + b.indices[k]] = b.vals[k];
    sc_block_release(&b);
}

/* tests/data/10x_mtx/dupnames: names A A A-1 B A (B is an antibody), rows
 * unsorted within columns, CRLF barcodes, no final newline in the matrix. */
static void test_mtx_dupnames(void)
{
    static const double all[3 * 5] = {1, 0, 0,  4, 5, 0,  2, 0,
                                      0, 0, 10, 0, 3, 40, 0};
    static const double gex[3 * 4] = {1, 0, 0, 5, 0, 2, 0, 0, 10, 0, 3, 0};
    static const char *uniq[5] = {"A", "A-2", "A-1", "B", "A-3"};
    static const char *orig[5] = {"A", "A", "A-1", "B", "A"};
    double x[15];
    sc_adata *ad = NULL;
    sc_mat_info info;

    if (!opened(sc_tenx_mtx_open(data("10x_mtx/dupnames"), 0, &ad)))
        return;
    CHECK_INTEQ(ad->n_obs, 3);
    CHECK_INTEQ(ad->n_vars, 5);
    CHECK_STREQ(col_str(ad->obs, NULL, 2), "AAAT-1");
    for (int j = 0; j < 5; j++) {
        CHECK_STREQ(col_str(ad->var, NULL, j), uniq[j]);
        CHECK_STREQ(col_str(ad->var, "gene_symbols", j), orig[j]);
    }
    CHECK_STREQ(col_str(ad->var, "feature_types", 3), "Antibody Capture");
    sc_mat_get_info(ad->X->mat, &info);
    CHECK_INTEQ(info.dtype, SC_DT_I32);
    CHECK_INTEQ(info.nnz, 7);
    dense_x(ad, x);
    CHECK(memcmp(x, all, sizeof all) == 0);
    sc_adata_close(ad);

    if (!opened(sc_tenx_mtx_open(data("10x_mtx/dupnames"),
                                 SC_OPEN_GEX_ONLY | SC_OPEN_VAR_IDS, &ad)))
        return;
    CHECK_INTEQ(ad->n_vars, 4);
    CHECK_INTEQ(ad->var->n_rows, 4);
    CHECK_STREQ(col_str(ad->var, NULL, 3), "ID5");
    CHECK_STREQ(col_str(ad->var, "gene_symbols", 3), "A");
    CHECK_STREQ(col_str(ad->var, "feature_types", 3), GEX);
    sc_mat_get_info(ad->X->mat, &info);
    CHECK_INTEQ(info.n_cols, 4);
    CHECK_INTEQ(info.nnz, 5);
    CHECK_INTEQ(info.dtype, SC_DT_I32);
    dense_x(ad, x);
    CHECK(memcmp(x, gex, sizeof gex) == 0);
    sc_adata_close(ad);
}

/* ------------------------------------------------------------------------ */
/* Hand-made MEX folders in a temporary directory                           */

static char tmpdir[256];

static void put_file(const char *name, const char *text, int gz)
{
    size_t len = strlen(text);
    char p[512];

    snprintf(p, sizeof p, "%s/%s", tmpdir, name);
    if (gz) {
        gzFile g = gzopen(p, "wb");
        CHECK(g && gzwrite(g, text, (unsigned)len) == (int)len);
        CHECK(g && gzclose(g) == Z_OK);
    } else {
        FILE *f = fopen(p, "wb");
        CHECK(f && fwrite(text, 1, len, f) == len);
        CHECK(f && fclose(f) == 0);
    }
}

static void clear_dir(void)
{
    static const char *names[] = {"matrix.mtx",     "matrix.mtx.gz",
                                  "features.tsv",   "genes.tsv",
                                  "barcodes.tsv",   "GSM1_matrix.mtx",
                                  "GSM1_genes.tsv", "GSM1_barcodes.tsv"};
    char p[512];

    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(p, sizeof p, "%s/%s", tmpdir, names[i]);
        unlink(p);
    }
}

/* A folder of 3 genes x 2 barcodes around matrix text MTX; then open it and
 * return the status (the dataset in *OUT when wanted). */
static int open_mex(const char *mtx, int gz, sc_adata **out)
{
    sc_adata *ad = NULL;
    int rc;

    clear_dir();
    put_file("genes.tsv", "g1\tG1\ng2\tG2\ng3\tG3\n", 0);
    put_file("barcodes.tsv", "b1\nb2", 0);
    put_file(gz ? "matrix.mtx.gz" : "matrix.mtx", mtx, gz);
    rc = sc_tenx_mtx_open(tmpdir, 0, &ad);
    if (out)
        *out = ad;
    else
        sc_adata_close(ad);
    return rc;
}

#define HDR "%%MatrixMarket matrix coordinate integer general\n"

/* Expect code RC and a message containing WHAT and the matrix file name. */
static void bad_mex(const char *mtx, int gz, int rc, const char *what)
{
    int got = open_mex(mtx, gz, NULL);

    CHECK_INTEQ(got, rc);
    CHECK(strstr(sc_errmsg(), what) != NULL);
    CHECK(strstr(sc_errmsg(), gz ? "matrix.mtx.gz'" : "matrix.mtx'") != NULL);
    if (got != rc || !strstr(sc_errmsg(), what))
        printf("#   message: %s\n", sc_errmsg());
}

static void test_mtx_malformed(void)
{
    /* matrix text, gzip, expected code, expected part of the message */
    static const struct {
        const char *mtx;
        int gz, rc;
        const char *what;
    } cases[] = {
        {HDR "3 2 1\n4 1 5\n", 0, SC_EFORMAT, "line 3: row 4 not in 1..3"},
        {HDR "3 2 1\n0 1 5\n", 1, SC_EFORMAT, "line 3: row 0 not in 1..3"},
        {HDR "3 2 1\n1 3 5\n", 0, SC_EFORMAT, "line 3: column 3 not in 1..2"},
        {HDR "3 2 3\n1 1 5\n2 2 1\n", 1, SC_EFORMAT,
         "2 entries, but the size line says 3"},
        {HDR "3 2 1\n1 1 5\n2 2 1\n", 0, SC_EFORMAT,
         "line 4: more than the 1 entries"},
        {"%%MatrixMarkt matrix coordinate integer general\n3 2 0\n", 0,
         SC_EFORMAT, "line 1: not a MatrixMarket header"},
        {"3 2 0\n", 1, SC_EFORMAT, "line 1: not a MatrixMarket header"},
        {"", 0, SC_EFORMAT, "empty file"},
        {"%%MatrixMarket matrix array real general\n3 2\n", 0, SC_EUNSUP,
         "unsupported MatrixMarket 'array real general'"},
        {"%%MatrixMarket matrix coordinate real symmetric\n3 2 0\n", 0,
         SC_EUNSUP, "unsupported"},
        {HDR "% only comments\n", 0, SC_EFORMAT, "no size line"},
        {HDR "3 2\n", 0, SC_EFORMAT, "line 2: bad size line"},
        {HDR "3 2 1 7\n", 0, SC_EFORMAT, "line 2: bad size line"},
        {HDR "3 -2 1\n", 0, SC_EFORMAT, "line 2: bad size line"},
        {HDR "3 2 1\n1 1 x\n", 0, SC_EFORMAT, "line 3: bad integer value 'x'"},
        {HDR "3 2 1\n1 1 2.5\n", 0, SC_EFORMAT, "bad integer value '2.5'"},
        {HDR "3 2 1\n1 1\n", 0, SC_EFORMAT, "bad integer value ''"},
        {HDR "3 2 1\n1 1 2 9\n", 0, SC_EFORMAT, "line 3: extra fields"},
        {HDR "3 2 1\n1x 1 2\n", 0, SC_EFORMAT, "line 3: bad coordinates"},
        {HDR "3 2 1\n1 1 99999999999999999999\n", 0, SC_EFORMAT,
         "bad integer value"},
        {"%%MatrixMarket matrix coordinate real general\n3 2 1\n1 1 1e999\n", 0,
         SC_EFORMAT, "bad real value '1e999'"},
        {HDR "4 2 0\n", 0, SC_EFORMAT, "4 x 2 matrix, but"},
        {HDR "3 3 0\n", 0, SC_EFORMAT, "has 3 features"},
    };

    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        bad_mex(cases[i].mtx, cases[i].gz, cases[i].rc, cases[i].what);
}

static void test_mtx_truncated_gz(void)
{
    char text[4096], p[512];
    size_t len;
    struct stat st;
    sc_adata *ad;
    int rc;

    len = (size_t)snprintf(text, sizeof text, "%s3 2 200\n", HDR);
    for (int i = 0; i < 200 && len < sizeof text - 16; i++)
        len += (size_t)snprintf(text + len, sizeof text - len, "%d %d %d\n",
                                i % 3 + 1, i % 2 + 1, i * 7919 % 1000);
    CHECK(open_mex(text, 1, NULL) == 0);
    snprintf(p, sizeof p, "%s/matrix.mtx.gz", tmpdir);
    CHECK(stat(p, &st) == 0 && truncate(p, st.st_size / 2) == 0);
    rc = sc_tenx_mtx_open(tmpdir, 0, &ad);
    sc_adata_close(ad);
    /* sc_io reports a damaged or truncated gzip stream as SC_ECORRUPT */
    CHECK_INTEQ(rc, SC_ECORRUPT);
    CHECK(strstr(sc_errmsg(), "matrix.mtx.gz") != NULL);
}

static void test_mtx_variants(void)
{
    sc_adata *ad = NULL;
    sc_mat_info info;
    double x[6];

    /* real values; a repeated coordinate is summed */
    CHECK(open_mex("%%MatrixMarket matrix coordinate real general\n"
                   "3 2 3\n2 1 0.5\n3 2 1.25\n2 1 1\n",
                   1, &ad) == 0);
    if (ad) {
        static const double want[6] = {0, 1.5, 0, 0, 0, 1.25};
        sc_mat_get_info(ad->X->mat, &info);
        CHECK_INTEQ(info.dtype, SC_DT_F32);
        CHECK_INTEQ(info.nnz, 2);
        dense_x(ad, x);
        CHECK(memcmp(x, want, sizeof want) == 0);
        CHECK_STREQ(ad->generation, "cellranger<=2");
        CHECK_STREQ(col_str(ad->var, "gene_ids", 2), "g3");
        CHECK_STREQ(col_str(ad->var, NULL, 2), "G3");
        CHECK_STREQ(col_str(ad->var, "feature_types", 2), GEX);
    }
    sc_adata_close(ad);
    /* pattern, comments, blank lines, CRLF; integers beyond int32 */
    CHECK(open_mex("%%MatrixMarket MATRIX Coordinate PATTERN general\r\n"
                   "% a comment\n\n%another\n 3  2  2 \n\n1\t2\n3 1\n",
                   0, &ad) == 0);
    if (ad) {
        static const double want[6] = {0, 0, 1, 1, 0, 0};
        dense_x(ad, x);
        CHECK(memcmp(x, want, sizeof want) == 0);
    }
    sc_adata_close(ad);
    CHECK(open_mex(HDR "3 2 1\n1 1 -5000000000\n", 0, &ad) == 0);
    if (ad) {
        sc_mat_get_info(ad->X->mat, &info);
        CHECK_INTEQ(info.dtype, SC_DT_I64);
        dense_x(ad, x);
        CHECK(x[0] == -5e9);
    }
    sc_adata_close(ad);
    /* an empty matrix */
    CHECK(open_mex(HDR "3 2 0\n", 0, &ad) == 0);
    if (ad) {
        sc_mat_get_info(ad->X->mat, &info);
        CHECK_INTEQ(info.nnz, 0);
        CHECK_INTEQ(ad->n_obs, 2);
    }
    sc_adata_close(ad);
}

static void test_mtx_files(void)
{
    char p[512];
    sc_adata *ad = NULL;

    /* a prefixed file set, opened through its matrix file */
    clear_dir();
    put_file("GSM1_genes.tsv", "g1\tG1\n", 0);
    put_file("GSM1_barcodes.tsv", "b1\n", 0);
    put_file("GSM1_matrix.mtx", HDR "1 1 1\n1 1 3\n", 0);
    snprintf(p, sizeof p, "%s/GSM1_matrix.mtx", tmpdir);
    CHECK(sc_tenx_mtx_open(p, 0, &ad) == 0);
    if (ad) {
        CHECK_STREQ(col_str(ad->obs, NULL, 0), "b1");
        CHECK_STREQ(col_str(ad->var, NULL, 0), "G1");
    }
    sc_adata_close(ad);
    CHECK_INTEQ(sc_tenx_mtx_open(tmpdir, 0, &ad), SC_ENOTFOUND);
    CHECK(strstr(sc_errmsg(), "no matrix.mtx[.gz]") != NULL);
    snprintf(p, sizeof p, "%s/GSM1_genes.tsv", tmpdir);
    CHECK_INTEQ(sc_tenx_mtx_open(p, 0, &ad), SC_EFORMAT);
    CHECK_INTEQ(sc_tenx_mtx_open("/nonexistent/dir", 0, &ad), SC_ENOTFOUND);
    CHECK(ad == NULL);

    /* features with too few fields; a missing barcodes file */
    clear_dir();
    put_file("matrix.mtx", HDR "2 1 0\n", 0);
    put_file("features.tsv", "f1\tF1\tGene Expression\nf2\tF2\n", 0);
    put_file("barcodes.tsv", "b1\n", 0);
    CHECK_INTEQ(sc_tenx_mtx_open(tmpdir, 0, &ad), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "features.tsv' line 2: 2 fields, expected 3"));
    put_file("features.tsv", "f1\n", 0);
    CHECK_INTEQ(sc_tenx_mtx_open(tmpdir, 0, &ad), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "features.tsv' line 1: 1 fields, expected 2"));
    snprintf(p, sizeof p, "%s/barcodes.tsv", tmpdir);
    unlink(p);
    CHECK_INTEQ(sc_tenx_mtx_open(tmpdir, 0, &ad), SC_ENOTFOUND);
    CHECK(strstr(sc_errmsg(), "barcodes.tsv[.gz]"));
    clear_dir();
}

/* ------------------------------------------------------------------------ */
/* Hand-made HDF5 files                                                     */

static void put_strs(hid_t loc, const char *name, const char *const *v, int n)
{
    hsize_t d = (hsize_t)n;
    hid_t t = H5Tcopy(H5T_C_S1), s = H5Screate_simple(1, &d, NULL), ds;
    char buf[16][24] = {{0}};

    for (int i = 0; i < n; i++)
        snprintf(buf[i], sizeof buf[i], "%s", v[i]);
    H5Tset_size(t, 24);
    H5Tset_strpad(t, H5T_STR_NULLPAD);
    ds = H5Dcreate2(loc, name, t, s, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    CHECK(ds >= 0 && H5Dwrite(ds, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Dclose(ds);
    H5Sclose(s);
    H5Tclose(t);
}

static void put_i64(hid_t loc, const char *name, const int64_t *v, int n)
{
    hsize_t d = (hsize_t)n;
    hid_t s = H5Screate_simple(1, &d, NULL), ds;

    ds = H5Dcreate2(loc, name, H5T_STD_I64LE, s, H5P_DEFAULT, H5P_DEFAULT,
                    H5P_DEFAULT);
    CHECK(ds >= 0 && H5Dwrite(ds, H5T_NATIVE_INT64, H5S_ALL, H5S_ALL,
                              H5P_DEFAULT, v) >= 0);
    H5Dclose(ds);
    H5Sclose(s);
}

/* 3 features (GEX, antibody, GEX) x 2 barcodes, CSC by barcode:
 * barcode 0 = {f0: 1, f1: 7}, barcode 1 = {f1: 8, f2: 2}. N_PTR entries of
 * indptr are written (3 is right). Under GROUP, with v2 names if V2. */
static void put_matrix(hid_t f, const char *group, int v2, int n_ptr)
{
    static const char *bc[] = {"AAAC-1", "AAAG-1"};
    static const char *ids[] = {"E1", "AB1", "E2"};
    static const char *names[] = {"G1", "CD3", "G1"};
    static const char *types[] = {GEX, "Antibody Capture", GEX};
    static const char *genome[] = {"hg", "hg", "hg"};
    static const int64_t data[] = {1, 7, 8, 2}, ind[] = {0, 1, 1, 2},
                         ptr[] = {0, 2, 4, 4}, shape[] = {3, 2};
    hid_t g = H5Gcreate2(f, group, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    hid_t fg =
        v2 ? g
           : H5Gcreate2(g, "features", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);

    put_strs(g, "barcodes", bc, 2);
    put_i64(g, "data", data, 4);
    put_i64(g, "indices", ind, 4);
    put_i64(g, "indptr", ptr, n_ptr);
    put_i64(g, "shape", shape, 2);
    put_strs(fg, v2 ? "genes" : "id", ids, 3);
    put_strs(fg, v2 ? "gene_names" : "name", names, 3);
    if (!v2) {
        put_strs(fg, "feature_type", types, 3);
        put_strs(fg, "genome", genome, 3);
        put_strs(fg, "_all_tag_keys", genome, 1);
        put_strs(fg, "short", genome, 1); /* wrong length: ignored */
        H5Gclose(fg);
    }
    H5Gclose(g);
}

static void test_h5_made(void)
{
    char p[512];
    hid_t f;
    sc_adata *ad = NULL;
    double x[6];

    snprintf(p, sizeof p, "%s/m.h5", tmpdir);
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put_matrix(f, "matrix", 0, 3);
    H5Fclose(f);
    CHECK(sc_adata_open(p, 0, &ad) == 0);
    if (ad) {
        static const double want[6] = {1, 7, 0, 0, 8, 2};
        CHECK_INTEQ(ad->format, SC_FMT_10X_H5_V3);
        CHECK_STREQ(col_str(ad->var, NULL, 2), "G1-1");
        CHECK_STREQ(col_str(ad->var, "gene_symbols", 2), "G1");
        CHECK(sc_elem_get(ad->var, "short") == NULL);
        CHECK_INTEQ(ad->var->n_child, 4);
        dense_x(ad, x);
        CHECK(memcmp(x, want, sizeof want) == 0);
    }
    sc_adata_close(ad);
    CHECK(sc_tenx_h5_open(p, SC_OPEN_GEX_ONLY, &ad) == 0);
    if (ad) {
        static const double want[4] = {1, 0, 0, 2};
        sc_mat_info info;
        CHECK_INTEQ(ad->n_vars, 2);
        CHECK_INTEQ(ad->var->n_rows, 2);
        CHECK_STREQ(col_str(ad->var, NULL, 1), "G1-1");
        CHECK_STREQ(col_str(ad->var, "gene_ids", 1), "E2");
        CHECK_STREQ(col_str(ad->var, "genome", 1), "hg");
        sc_mat_get_info(ad->X->mat, &info);
        CHECK_INTEQ(info.nnz, 2);
        CHECK_INTEQ(info.dtype, SC_DT_I64);
        dense_x(ad, x);
        CHECK(memcmp(x, want, sizeof want) == 0);
    }
    sc_adata_close(ad);

    /* indptr one entry short */
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put_matrix(f, "matrix", 0, 2);
    H5Fclose(f);
    CHECK_INTEQ(sc_tenx_h5_open(p, 0, &ad), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "m.h5' /matrix: indptr has 2 entries") != NULL);
    CHECK(ad == NULL);

    /* two genomes: the first in name order is read, with a warning */
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    put_matrix(f, "mm10", 1, 3);
    put_matrix(f, "GRCh38", 1, 3);
    H5Fclose(f);
    CHECK(sc_tenx_h5_open(p, 0, &ad) == 0);
    if (ad) {
        CHECK_INTEQ(ad->format, SC_FMT_10X_H5_V2);
        CHECK_STREQ(col_str(ad->var, "genome", 0), "GRCh38");
        CHECK_STREQ(col_str(ad->var, "feature_types", 1), GEX);
        CHECK_STREQ(col_str(ad->var, NULL, 2), "G1-1");
        CHECK_INTEQ(ad->n_obs, 2);
    }
    sc_adata_close(ad);

    /* neither layout */
    f = H5Fcreate(p, H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT);
    H5Fclose(f);
    CHECK_INTEQ(sc_tenx_h5_open(p, 0, &ad), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "not a 10x matrix") != NULL);
    unlink(p);
}

int main(void)
{
    const char *t = getenv("TMPDIR");

    snprintf(tmpdir, sizeof tmpdir, "%s/test_tenx.XXXXXX", t ? t : "/tmp");
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    sc_log_set_level(SC_LOG_ERROR); /* repeated coordinates, two genomes */
    RUN(test_h5_v3);
    RUN(test_h5_v2);
    RUN(test_mtx_cr3);
    RUN(test_mtx_dupnames);
    RUN(test_mtx_malformed);
    RUN(test_mtx_truncated_gz);
    RUN(test_mtx_variants);
    RUN(test_mtx_files);
    RUN(test_h5_made);
    clear_dir();
    rmdir(tmpdir);
    return UNIT_DONE();
}
