/* test_manifest: reading, writing, streaming, escapes and errors. */
/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <inttypes.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_manifest.h"
#include "unit.h"

static char tmpdir[64];
static char mpath[128]; /* the manifest file of the current test */

static void put(const char *text)
{
    FILE *f = fopen(mpath, "wb");

    fputs(text, f);
    fclose(f);
}

/* Write M (header and stored rows) to a string in BUF. */
static int write_str(sc_manifest *m, char *buf, size_t size)
{
    FILE *f = tmpfile();
    size_t n;
    int rc = sc_manifest_write(m, f);

    rewind(f);
    n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
    return rc;
}

/* Expect reading TEXT to fail with CODE and the message "'<mpath>' MSG". */
static void check_bad(const char *text, int code, const char *msg)
{
    sc_manifest *m = (sc_manifest *)1;
    char want[512];

    put(text);
    CHECK_INTEQ(sc_manifest_read(mpath, &m), code);
    CHECK(m == NULL);
    snprintf(want, sizeof want, "'%s'%s", mpath, msg);
    CHECK_STREQ(sc_errmsg(), want);
}

static void test_read(void)
{
    sc_manifest *m;
    sc_mrow *r;

    put("\xef\xbb\xbf# made by hand\n"
        "path\tid\tn_obs\r\n"
        "a.h5ad\tGSE1\t100\r\n"
        "\n"
        "# a comment between rows\n"
        "b.h5ad\t\t\r\n");
    CHECK_INTEQ(sc_manifest_read(mpath, &m), 0);
    CHECK_STREQ(sc_manifest_name(m), mpath);
    CHECK_INTEQ(sc_manifest_ncols(m), 3);
    CHECK_STREQ(sc_manifest_col(m, 0), "path");
    CHECK_STREQ(sc_manifest_col(m, 2), "n_obs");
    CHECK(sc_manifest_col(m, 3) == NULL);
    CHECK_INTEQ(sc_manifest_col_index(m, "id"), 1);
    CHECK_INTEQ(sc_manifest_col_index(m, "ID"), -1);
    CHECK_INTEQ(sc_manifest_nrows(m), 2);
    CHECK(sc_manifest_row(m, 2) == NULL);

    r = sc_manifest_row(m, 0);
    CHECK_STREQ(sc_mrow_path(r), "a.h5ad");
    CHECK_STREQ(sc_mrow_get(r, "id"), "GSE1");
    CHECK_STREQ(sc_mrow_get(r, "n_obs"), "100"); /* no "\r" */
    CHECK(sc_mrow_get(r, "organism") == NULL);   /* no such column */
    CHECK_INTEQ(sc_mrow_lineno(r), 3);

    r = sc_manifest_row(m, 1);
    CHECK_STREQ(sc_mrow_get(r, "id"), ""); /* empty value */
    CHECK_INTEQ(sc_mrow_lineno(r), 6);
    sc_mrow_free(r); /* a stored row: left alone */
    CHECK_STREQ(sc_mrow_path(sc_manifest_row(m, 1)), "b.h5ad");
    sc_manifest_free(m);
    sc_manifest_free(NULL);
}

static void test_header_only(void)
{
    sc_manifest *m;
    char out[256];

    put("path\n");
    CHECK_INTEQ(sc_manifest_read(mpath, &m), 0);
    CHECK_INTEQ(sc_manifest_ncols(m), 1);
    CHECK_INTEQ(sc_manifest_nrows(m), 0);
    CHECK_INTEQ(write_str(m, out, sizeof out), 0);
    CHECK_STREQ(out, "path\n");
    sc_manifest_free(m);
}

static void test_keep_unknown(void)
{
    sc_manifest *m;
    sc_mrow *r;
    char out[512];

    put("path\tzeta\tid\n"
        "x.h5ad\tkeep me\t1\n"
        "y.h5ad\t\t2\n");
    CHECK_INTEQ(sc_manifest_read(mpath, &m), 0);
    r = sc_manifest_row(m, 1);
    CHECK_INTEQ(sc_mrow_set(r, "status", "ok"), 0); /* a new column */
    CHECK_INTEQ(sc_mrow_set(r, "id", "3"), 0);
    CHECK_INTEQ(sc_mrow_set(sc_manifest_row(m, 0), "zeta", NULL), 0);
    CHECK_INTEQ(sc_manifest_ncols(m), 4);
    CHECK_STREQ(sc_mrow_get(sc_manifest_row(m, 0), "status"), "");
    CHECK_INTEQ(write_str(m, out, sizeof out), 0);
    CHECK_STREQ(out, "path\tzeta\tid\tstatus\n"
                     "x.h5ad\t\t1\t\n"
                     "y.h5ad\t\t3\tok\n");
    sc_manifest_free(m);
}

static void test_escapes(void)
{
    sc_manifest *m;
    sc_mrow *r;
    char out[512];
    const char *v = "tab\there\nnew\rcr\\back";

    CHECK_INTEQ(sc_manifest_new(&m), 0);
    CHECK_INTEQ(sc_manifest_add_row(m, "#odd name.h5ad", &r), 0);
    CHECK_INTEQ(sc_mrow_set(r, "note", v), 0);
    CHECK_INTEQ(sc_manifest_add_row(m, "plain.h5ad", NULL), 0);
    CHECK_INTEQ(sc_mrow_set(sc_manifest_row(m, 1), "note", "# not first"), 0);
    CHECK_INTEQ(write_str(m, out, sizeof out), 0);
    CHECK_STREQ(out, "path\tnote\n"
                     "\\#odd name.h5ad\ttab\\there\\nnew\\rcr\\\\back\n"
                     "plain.h5ad\t# not first\n");
    sc_manifest_free(m);

    /* ... and back. */
    put(out);
    CHECK_INTEQ(sc_manifest_read(mpath, &m), 0);
    CHECK_INTEQ(sc_manifest_nrows(m), 2);
    r = sc_manifest_row(m, 0);
    CHECK_STREQ(sc_mrow_path(r), "#odd name.h5ad");
    CHECK_STREQ(sc_mrow_get(r, "note"), v);
    CHECK_STREQ(sc_mrow_get(sc_manifest_row(m, 1), "note"), "# not first");
    sc_manifest_free(m);

    /* Other backslashes are kept as they are. */
    put("path\tnote\nC:\\data\\x.h5ad\tends with \\\n");
    CHECK_INTEQ(sc_manifest_read(mpath, &m), 0);
    r = sc_manifest_row(m, 0);
    CHECK_STREQ(sc_mrow_path(r), "C:\\data\\x.h5ad");
    CHECK_STREQ(sc_mrow_get(r, "note"), "ends with \\");
    sc_manifest_free(m);
}

static void test_streaming(void)
{
    sc_manifest *m;
    sc_mrow *r;
    FILE *f = tmpfile();
    char out[512];
    size_t n;
    int rc, i = 0;

    put("path\tsource\n"
        "a.h5ad\tcellxgene\n"
        "b.h5ad\turl\n");
    CHECK_INTEQ(sc_manifest_open(mpath, &m), 0);
    CHECK_INTEQ(sc_manifest_add_col(m, "n_obs"), 0);
    CHECK_INTEQ(sc_manifest_add_col(m, "status"), 0);
    CHECK_INTEQ(sc_manifest_add_col(m, "n_obs"), 0); /* already there */
    CHECK_INTEQ(sc_manifest_write_header(m, f), 0);
    CHECK_INTEQ(sc_manifest_add_col(m, "late"), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "cannot add column 'late' after the header");
    CHECK_INTEQ(sc_manifest_add_col(m, "source"), 0); /* not new: fine */
    while ((rc = sc_manifest_next(m, &r)) > 0) {
        CHECK_INTEQ(sc_mrow_lineno(r), i + 2);
        CHECK_INTEQ(sc_mrow_setf(r, "n_obs", "%" PRId64, (int64_t)++i * 1000),
                    0);
        if (i == 2)
            CHECK_INTEQ(sc_mrow_set(r, "status", "failed"), 0);
        CHECK_INTEQ(sc_mrow_set(r, "extra", "x"), SC_EINVAL);
        CHECK_INTEQ(sc_manifest_write_row(m, r, f), 0);
        sc_mrow_free(r);
    }
    CHECK_INTEQ(rc, 0);
    CHECK_INTEQ(i, 2);
    CHECK_INTEQ(sc_manifest_next(m, &r), 0); /* stays at the end */
    CHECK_INTEQ(sc_manifest_nrows(m), 0);    /* nothing stored */
    sc_manifest_free(m);
    rewind(f);
    n = fread(out, 1, sizeof out - 1, f);
    out[n] = '\0';
    fclose(f);
    CHECK_STREQ(out, "path\tsource\tn_obs\tstatus\n"
                     "a.h5ad\tcellxgene\t1000\t\n"
                     "b.h5ad\turl\t2000\tfailed\n");
}

static void test_new_rows(void)
{
    sc_manifest *m, *other;
    sc_mrow *r, *own;
    FILE *f = tmpfile();
    char out[512], big[200];

    CHECK_INTEQ(sc_manifest_new(&m), 0);
    CHECK_STREQ(sc_manifest_name(m), "");
    CHECK_INTEQ(sc_manifest_ncols(m), 1);
    CHECK_INTEQ(sc_manifest_add_row(m, "", &r), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "empty 'path'");
    CHECK(r == NULL);
    CHECK_INTEQ(sc_manifest_add_row(m, "a.h5ad", &r), 0);
    CHECK_INTEQ(sc_mrow_set(r, "path", ""), SC_EINVAL);
    CHECK_INTEQ(sc_mrow_set(r, "path", NULL), SC_EINVAL);
    CHECK_INTEQ(sc_mrow_set(r, "path", "b.h5ad"), 0);
    CHECK_INTEQ(sc_mrow_set(r, "", "x"), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "invalid column name ''");
    CHECK_INTEQ(sc_mrow_set(r, "a\tb", "x"), SC_EINVAL);
    CHECK_INTEQ(sc_manifest_add_col(m, "new\nline"), SC_EINVAL);
    memset(big, 'v', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    CHECK_INTEQ(sc_mrow_setf(r, "long", "%s", big), 0);
    CHECK_STREQ(sc_mrow_get(r, "long"), big);
    CHECK_INTEQ(sc_mrow_set(r, "long", "short"), 0); /* overwrite */

    /* A row the caller owns is not written by sc_manifest_write. */
    CHECK_INTEQ(sc_mrow_new(m, "own.h5ad", &own), 0);
    CHECK_INTEQ(sc_mrow_new(m, "", &r), SC_EINVAL);
    CHECK_INTEQ(sc_manifest_write_row(m, own, f), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "manifest row written before the header");
    CHECK_INTEQ(write_str(m, out, sizeof out), 0);
    CHECK_STREQ(out, "path\tlong\nb.h5ad\tshort\n");

    CHECK_INTEQ(sc_manifest_new(&other), 0);
    CHECK_INTEQ(sc_manifest_write_header(other, f), 0);
    CHECK_INTEQ(sc_manifest_write_row(other, own, f), SC_EINVAL);
    CHECK_STREQ(sc_errmsg(), "manifest row of another manifest");
    sc_manifest_free(other);
    fclose(f);
    sc_mrow_free(own);
    sc_mrow_free(NULL);
    CHECK_INTEQ(sc_manifest_next(m, &r), SC_EINVAL); /* not from a file */
    sc_manifest_free(m);
}

static void test_errors(void)
{
    char path[160], msg[256];
    sc_manifest *m;

    check_bad("path\tid\tn_obs\tsource\tstatus\n"
              "a\t1\t2\t3\t4\n"
              "# comment\n"
              "b\t1\t2\n",
              SC_EFORMAT, " line 4: 3 fields, header has 5");
    check_bad("path\tid\na\t1\tx\n", SC_EFORMAT,
              " line 2: 3 fields, header has 2");
    check_bad("path\tid\nb\t\n\t1\n", SC_EFORMAT, " line 3: empty 'path'");
    check_bad("id\tpath\n", SC_EFORMAT,
              " line 1: first column is 'id', not 'path'");
    check_bad("path\tid\tid\n", SC_EFORMAT, " line 1: duplicate column 'id'");
    check_bad("path\t\tid\n", SC_EFORMAT,
              " line 1: empty column name (column 2)");
    check_bad("path\tid\t\n", SC_EFORMAT,
              " line 1: empty column name (column 3)");
    check_bad("", SC_EFORMAT, ": no header line");
    check_bad("# only a comment\n\n", SC_EFORMAT, ": no header line");

    snprintf(path, sizeof path, "%s/none.tsv", tmpdir);
    CHECK_INTEQ(sc_manifest_open(path, &m), SC_EIO);
    snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory",
             path);
    CHECK_STREQ(sc_errmsg(), msg);
}

/* A header of 100,000 columns (the column index is a hash map, not a
 * scan per column): every column found at its place, values read back, a
 * duplicate far from its twin refused. */
static void test_wide_header(void)
{
    enum { N = 100000 };
    char name[32], want[32];
    sc_manifest *m;
    sc_mrow *r;
    FILE *f = fopen(mpath, "wb");
    int ok = 1;

    fputs("path", f);
    for (int i = 1; i < N; i++)
        fprintf(f, "\tc%d", i);
    fputs("\nx.h5ad", f);
    for (int i = 1; i < N; i++)
        fprintf(f, "\tv%d", i);
    fputs("\n", f);
    fclose(f);
    CHECK_INTEQ(sc_manifest_open(mpath, &m), 0);
    CHECK_INTEQ(sc_manifest_ncols(m), N);
    CHECK_INTEQ(sc_manifest_next(m, &r), 1);
    for (int i = 1; i < N && ok; i++) {
        snprintf(name, sizeof name, "c%d", i);
        snprintf(want, sizeof want, "v%d", i);
        ok = sc_manifest_col_index(m, name) == i &&
             !strcmp(sc_mrow_get(r, name), want);
    }
    CHECK(ok);
    CHECK(sc_manifest_col_index(m, "c100000") < 0);
    sc_mrow_free(r);
    sc_manifest_free(m);

    f = fopen(mpath, "wb");
    fputs("path", f);
    for (int i = 1; i < N; i++)
        fprintf(f, "\tc%d", i);
    fputs("\tc1\n", f);
    fclose(f);
    CHECK_INTEQ(sc_manifest_open(mpath, &m), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "line 1: duplicate column 'c1'") != NULL);
}

static void test_gzip_stdin(void)
{
    char gzpath[160];
    sc_manifest *m;
    sc_mrow *r;
    gzFile gz;
    int saved;

    snprintf(gzpath, sizeof gzpath, "%s/m.tsv.gz", tmpdir);
    gz = gzopen(gzpath, "wb");
    gzputs(gz, "path\tid\nz.h5ad\t9\nbad\n");
    gzclose(gz);

    saved = unit_stdin_from(gzpath);
    CHECK_INTEQ(sc_manifest_open("-", &m), 0);
    CHECK_STREQ(sc_manifest_name(m), "<stdin>");
    CHECK_INTEQ(sc_manifest_next(m, &r), 1);
    CHECK_STREQ(sc_mrow_get(r, "id"), "9");
    sc_mrow_free(r);
    CHECK_INTEQ(sc_manifest_next(m, &r), SC_EFORMAT);
    CHECK(r == NULL);
    CHECK_STREQ(sc_errmsg(), "'<stdin>' line 3: 1 field, header has 2");
    sc_manifest_free(m);
    unit_restore_fd(STDIN_FILENO, saved);
    unlink(gzpath);
}

static void test_write_error(void)
{
    FILE *f = fopen("/dev/full", "w");
    sc_manifest *m;

    if (!f)
        return;
    setvbuf(f, NULL, _IONBF, 0);
    CHECK_INTEQ(sc_manifest_new(&m), 0);
    CHECK_INTEQ(sc_manifest_add_row(m, "a.h5ad", NULL), 0);
    CHECK_INTEQ(sc_manifest_write(m, f), SC_EIO);
    CHECK_STREQ(sc_errmsg(), "cannot write manifest: No space left on device");
    sc_manifest_free(m);
    fclose(f);
}

/* The manifest's sha256 stands for the file only while size and mtime_ns
 * both match the file (sc_mrow_trusted_sha256). */
static void test_trusted_sha256(void)
{
    static const char fake[] =
        "ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef0123456789";
    char fpath[128], hex[SC_HASH_HEX_SIZE], real[SC_HASH_HEX_SIZE];
    struct timespec keep[2];
    struct stat sb;
    sc_manifest *m;
    sc_mrow *r;
    FILE *f;

    snprintf(fpath, sizeof fpath, "%s/d.bin", tmpdir);
    f = fopen(fpath, "wb");
    fputs("twelve bytes", f);
    fclose(f);
    CHECK_INTEQ(sc_hash_file(fpath, real), 0);
    CHECK_INTEQ(sc_manifest_new(&m), 0);
    CHECK_INTEQ(sc_manifest_add_row(m, fpath, &r), 0);
    /* no sha256 column, then a digest without size and mtime_ns (a
     * manifest of before these columns): hashed */
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_mrow_set(r, "sha256", fake), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_mrow_set(r, "size", "12"), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    /* the record of the file as it is: trusted, even a wrong digest */
    CHECK_INTEQ(sc_mrow_set_file(r, 12, NULL), 0);
    CHECK(*sc_mrow_get(r, "mtime_ns"));
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 1);
    CHECK_STREQ(
        hex,
        "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789");
    CHECK_INTEQ(sc_mrow_sha256(r, fpath, hex), 0);
    CHECK(hex[0] == 'a' && strcmp(hex, real) != 0);
    /* not plain numbers, a short digest: hashed */
    CHECK_INTEQ(sc_mrow_set(r, "size", "+12"), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_mrow_set(r, "size", "12"), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 1);
    CHECK_INTEQ(sc_mrow_set(r, "sha256", "abcdef"), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_mrow_set(r, "sha256", fake), 0);
    /* changed with its mtime put back, but the size differs: hashed */
    CHECK_INTEQ(stat(fpath, &sb), 0);
    keep[0] = sb.st_atim;
    keep[1] = sb.st_mtim;
    f = fopen(fpath, "ab");
    fputs("!", f);
    fclose(f);
    CHECK_INTEQ(utimensat(AT_FDCWD, fpath, keep, 0), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_mrow_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_hash_file(fpath, real), 0);
    CHECK_STREQ(hex, real);
    /* a record with the new size; then the same size, another mtime */
    CHECK_INTEQ(sc_mrow_set_file(r, 13, fake), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 1);
    keep[1].tv_nsec = (keep[1].tv_nsec + 1) % 1000000000;
    CHECK_INTEQ(utimensat(AT_FDCWD, fpath, keep, 0), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    /* a record of a size the file does not have: no mtime_ns, no trust */
    CHECK_INTEQ(sc_mrow_set_file(r, 99, fake), 0);
    CHECK_STREQ(sc_mrow_get(r, "mtime_ns"), "");
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    /* the output of a tool: size and mtime_ns of the new file, no digest */
    CHECK_INTEQ(sc_mrow_set_file(r, 13, fake), 0);
    CHECK_INTEQ(sc_mrow_set_output(r, fpath), 0);
    CHECK_STREQ(sc_mrow_get(r, "sha256"), "");
    CHECK(*sc_mrow_get(r, "mtime_ns"));
    CHECK_INTEQ(sc_mrow_trusted_sha256(r, fpath, hex), 0);
    CHECK_INTEQ(sc_mrow_trusted_sha256(NULL, fpath, hex), 0);
    sc_manifest_free(m);
    unlink(fpath);
}

int main(void)
{
    if (unit_mkdtemp(tmpdir, sizeof tmpdir, "test_manifest") < 0)
        return 1;
    snprintf(mpath, sizeof mpath, "%s/m.tsv", tmpdir);
    RUN(test_read);
    RUN(test_header_only);
    RUN(test_keep_unknown);
    RUN(test_escapes);
    RUN(test_streaming);
    RUN(test_new_rows);
    RUN(test_errors);
    RUN(test_wide_header);
    RUN(test_gzip_stdin);
    RUN(test_write_error);
    RUN(test_trusted_sha256);
    unlink(mpath);
    rmdir(tmpdir);
    return UNIT_DONE();
}
