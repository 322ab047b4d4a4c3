/* test_vocab: the vocabulary file written and read back, and damaged files. */
/* SPDX-License-Identifier: MIT */
#include <string.h>
#include <unistd.h>

#include "sc_vocab.h"
#include "unit.h"

static char tmpdir[64];
static char vpath[128]; /* the vocabulary file of the current test */

static void put(const char *text)
{
    FILE *f = fopen(vpath, "wb");

    fputs(text, f);
    fclose(f);
}

static char *slurp(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(buf, 1, size - 1, f) : 0;

    buf[n] = '\0';
    if (f)
        fclose(f);
    return buf;
}

/* The code of NAME in V, or -1. */
static long code_of(const sc_vocab *v, const char *name)
{
    for (size_t j = 0; j < v->n_names; j++)
        if (!strcmp(v->names[j], name))
            return v->codes[j];
    return -1;
}

/* Expect reading TEXT to fail with SC_EFORMAT and "'<vpath>'MSG", V empty. */
static void check_bad(const char *text, const char *msg)
{
    sc_vocab v = {0};
    char want[512];

    put(text);
    CHECK_INTEQ(sc_vocab_read(vpath, &v), SC_EFORMAT);
    CHECK(v.n == 0 && v.terms == NULL && v.n_names == 0 && v.names == NULL);
    snprintf(want, sizeof want, "'%s'%s", vpath, msg);
    CHECK_STREQ(sc_errmsg(), want);
}

static void test_path(void)
{
    char buf[64], small[8];

    CHECK_INTEQ(sc_vocab_path(buf, sizeof buf, "out", "cell_type"), 0);
    CHECK_STREQ(buf, "out/vocab_cell_type.tsv");
    CHECK_INTEQ(sc_vocab_path(small, sizeof small, "out", "cell_type"),
                SC_EINVAL);
}

static void test_round_trip(void)
{
    static const sc_vocab_term t[] = {
        {"CL:0000236", "B cell", 1, 5, 40, "CL:0000945", "lymphocyte"},
        {"CL:0000084", "T cell", 1, 5, 60, NULL, NULL},
        {"CL:0000542", "lymphocyte", 0, 4, 0, "CL:0000542", "lymphocyte"}};
    char path[192], buf[1024];
    sc_vocab v = {0};

    for (int coarse = 0; coarse < 2; coarse++) {
        CHECK_INTEQ(sc_vocab_path(path, sizeof path, tmpdir, "cell_type"), 0);
        CHECK_INTEQ(sc_vocab_write(path, t, 3, 7, coarse), 0);
        slurp(path, buf, sizeof buf);
        if (!coarse)
            CHECK_STREQ(buf, "code\tterm_id\tlabel\tis_leaf\tdepth\tn_cells\n"
                             "-1\tunknown\tunknown\t0\t-1\t7\n"
                             "0\tCL:0000236\tB cell\t1\t5\t40\n"
                             "1\tCL:0000084\tT cell\t1\t5\t60\n"
                             "2\tCL:0000542\tlymphocyte\t0\t4\t0\n");
        else
            CHECK_STREQ(buf, "code\tterm_id\tlabel\tis_leaf\tdepth\tn_cells"
                             "\tcoarse_id\tcoarse_label\n"
                             "-1\tunknown\tunknown\t0\t-1\t7\t\t\n"
                             "0\tCL:0000236\tB cell\t1\t5\t40\tCL:0000945"
                             "\tlymphocyte\n"
                             "1\tCL:0000084\tT cell\t1\t5\t60\t\t\n"
                             "2\tCL:0000542\tlymphocyte\t0\t4\t0\tCL:0000542"
                             "\tlymphocyte\n");
        CHECK_INTEQ(sc_vocab_read(path, &v), 0);
        CHECK_INTEQ(v.n, 3);
        for (size_t i = 0; i < 3 && v.n == 3; i++)
            CHECK_STREQ(v.terms[i], t[i].id);
        /* ids and labels name the codes; the data columns do not */
        CHECK_INTEQ(v.n_names, 6);
        CHECK_INTEQ(code_of(&v, "B cell"), 0);
        CHECK_INTEQ(code_of(&v, "CL:0000084"), 1);
        CHECK_INTEQ(code_of(&v, "lymphocyte"), 2);
        CHECK_INTEQ(code_of(&v, "1"), -1);
        CHECK_INTEQ(code_of(&v, "CL:0000945"), -1);
        CHECK_INTEQ(code_of(&v, "unknown"), -1);
        sc_vocab_release(&v);
        CHECK(v.n == 0 && v.terms == NULL);
        unlink(path);
    }
    sc_vocab_release(NULL);
}

static void test_other_layouts(void)
{
    sc_vocab v = {0};

    /* no header: every field after the code names it; comments skipped */
    put("# by hand\n0\tEFO:0009922\t10x 3' v3\n\n1\tEFO:0009899\n");
    CHECK_INTEQ(sc_vocab_read(vpath, &v), 0);
    CHECK_INTEQ(v.n, 2);
    CHECK_STREQ(v.terms[1], "EFO:0009899");
    CHECK_INTEQ(code_of(&v, "10x 3' v3"), 0);
    sc_vocab_release(&v);
    /* synonyms in a column of their own; an empty synonym names nothing;
     * a name repeated for the same code is kept once */
    put("code\tterm_id\tlabel\tsynonym\n0\tCL:1\tB cell\tB-cell\n"
        "1\tCL:2\tT cell\t\n2\tCL:3\tNK\tNK\n");
    CHECK_INTEQ(sc_vocab_read(vpath, &v), 0);
    CHECK_INTEQ(v.n, 3);
    CHECK_INTEQ(v.n_names, 7);
    CHECK_INTEQ(code_of(&v, "B-cell"), 0);
    CHECK_INTEQ(code_of(&v, "NK"), 2);
    sc_vocab_release(&v);
    /* a header and no terms: an empty vocabulary */
    put("code\tterm_id\tlabel\n-1\tunknown\tunknown\n");
    CHECK_INTEQ(sc_vocab_read(vpath, &v), 0);
    CHECK_INTEQ(v.n, 0);
    sc_vocab_release(&v);
}

static void test_damaged(void)
{
    sc_vocab v = {0};

    check_bad("", ": empty vocabulary file (no header, no terms)");
    check_bad("# only a comment\n\n",
              ": empty vocabulary file (no header, no terms)");
    check_bad("id\tterm_id\n0\tCL:1\n",
              " line 1: bad header: the first column is not 'code' but 'id'");
    check_bad("code\tlabel\tlabel\n",
              " line 1: bad header: duplicate column 'label'");
    check_bad("code\t\tlabel\n", " line 1: bad header: an empty column name");
    check_bad("code\tis_leaf\n",
              " line 1: bad header: no column names the term (term_id, "
              "label, ...)");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\n1\tCL:1\tT cell\n",
              " line 3: duplicate term 'CL:1' (codes 0 and 1)");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\n1\tCL:2\tB cell\n",
              " line 3: duplicate term 'B cell' (codes 0 and 1)");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\nx\tCL:2\tT cell\n",
              " line 3: not a code: 'x'");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\n2\tCL:2\tT cell\n",
              " line 3: code 2, expected 1");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\n0\tCL:2\tT cell\n",
              " line 3: code 0, expected 1");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\n-1\tunknown\tunknown\n",
              " line 3: code -1, expected 1");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\n1\tCL:2",
              " line 3: 2 fields, header has 3");
    check_bad("code\tterm_id\tlabel\n0\tCL:1\tB cell\textra\n",
              " line 2: 4 fields, header has 3");
    check_bad("0\tCL:1\n1\n", " line 2: no term after the code");
    check_bad("code\tterm_id\tlabel\n0\t\tB cell\n", " line 2: empty term");
    /* a file that is not there */
    CHECK_INTEQ(sc_vocab_read("/nonexistent/vocab_x.tsv", &v), SC_EIO);
    CHECK(strstr(sc_errmsg(), "/nonexistent/vocab_x.tsv") != NULL);
    CHECK(v.n == 0 && v.names == NULL);
}

int main(void)
{
    if (unit_mkdtemp(tmpdir, sizeof tmpdir, "test_vocab") < 0)
        return 1;
    snprintf(vpath, sizeof vpath, "%s/v.tsv", tmpdir);
    RUN(test_path);
    RUN(test_round_trip);
    RUN(test_other_layouts);
    RUN(test_damaged);
    unlink(vpath);
    rmdir(tmpdir);
    return UNIT_DONE();
}
