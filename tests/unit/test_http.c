/* Unit tests for sc_http: file names from servers and the state file. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_http.h"
#include "unit.h"

static char tmpdir[] = "/tmp/test_http.XXXXXX";

static void test_name_check(void)
{
    static const char *const good[] = {"a.h5ad",
                                       "x",
                                       "GSE1_raw.h5",
                                       "f0e1d2c3-0000-4000-8000-00.h5ad",
                                       "caf\xc3\xa9.h5ad",
                                       "a..b",
                                       "x-1_2+3=4,5@6%7#8:9.h5ad"};
    static const char *const bad[] = {
        "", ".", "..", "../x", "/etc/passwd", "a/b", "a\\b", ".hidden", "a\tb",
        "a\nb", "x\x7f", "a.h5ad.part", "a.h5ad.tmp.12",
        /* shell syntax: never a word a recipe could run */
        "$(touch x)", "`id`", "a;b", "a|b", "a&b", "a<b", "a>b", "a(b)", "a'b",
        "a\"b", "a b", "*.h5ad", "a?", "[ab]", "{a,b}", "~x", "!x", "-rf",
        "--help.h5ad"};
    char longname[SC_HTTP_NAME_MAX + 2];

    for (size_t i = 0; i < sizeof good / sizeof *good; i++)
        CHECK_INTEQ(sc_http_name_check(good[i]), 0);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_INTEQ(sc_http_name_check(bad[i]), SC_EREJECT);
    memset(longname, 'x', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    CHECK_INTEQ(sc_http_name_check(longname), SC_EREJECT);
    CHECK(strstr(sc_errmsg(), "longer than") != NULL);
    longname[SC_HTTP_NAME_MAX] = '\0';
    CHECK_INTEQ(sc_http_name_check(longname), 0);
}

static void name_is(const char *url, const char *want)
{
    char *name = NULL;
    int rc = sc_http_name_from_url(url, &name);

    if (want) {
        CHECK_INTEQ(rc, 0);
        CHECK_STREQ(name, want);
    } else {
        CHECK_INTEQ(rc, SC_EREJECT);
        CHECK(name == NULL);
    }
    free(name);
}

static void test_name_from_url(void)
{
    name_is("https://h/a/b/x.h5ad", "x.h5ad");
    name_is("https://h/x.h5ad?sig=1&a=/b#frag", "x.h5ad");
    name_is("https://h/a%2Db.h5ad", "a-b.h5ad");
    name_is("https://h/a%20b.h5ad", NULL); /* a space splits shell words */
    name_is("https://h/%24%28id%29.h5ad", NULL);
    name_is("https://h/-x.h5ad", NULL);
    name_is("http://h/files/..%2F..%2Fetc%2Fpasswd", NULL);
    name_is("http://h/files/%2Fetc%2Fpasswd", NULL);
    name_is("http://h/files/%2e%2e", NULL);
    name_is("http://h/files/a%00b", NULL);
    name_is("http://h/files/%0a", NULL);
    name_is("http://h/dir/", NULL);
    name_is("http://h", NULL);
    name_is("http://h/..", NULL);
    name_is("file:///data/x%41.h5ad", "xA.h5ad");
    name_is("data/sub/y.h5ad", "y.h5ad");
    name_is("data/%41.h5ad", "%41.h5ad"); /* local: no decoding */
    name_is("data/", NULL);
}

static void test_state(void)
{
    char dir[256], path[300];
    sc_state *st = NULL;
    sc_state_entry e;
    FILE *fp;

    snprintf(dir, sizeof dir, "%s/st", tmpdir);
    CHECK_INTEQ(sc_state_open(dir, &st), 0);
    CHECK_INTEQ(sc_state_count(st), 0);
    {
        sc_state_entry a = {"v1.h5ad",
                            "d1",
                            "v1",
                            "http://h/v1.h5ad",
                            "aa",
                            10,
                            "2024-01-01T00:00:00Z",
                            "0.3.0"};
        sc_state_entry b = {"v2.h5ad",
                            "d1",
                            "v2",
                            "http://h/v2\t.h5ad",
                            "bb",
                            20,
                            "2025-01-01T00:00:00Z",
                            NULL};
        sc_state_entry c = {"u.bin", NULL, NULL, "http://h/u.bin",
                            "cc",    3,    NULL, NULL};
        CHECK_INTEQ(sc_state_put(st, &a), 0);
        CHECK_INTEQ(sc_state_put(st, &b), 0);
        CHECK_INTEQ(sc_state_put(st, &c), 0);
    }
    /* A second open is refused while the first holds the lock. */
    {
        sc_state *st2 = NULL;
        CHECK_INTEQ(sc_state_open(dir, &st2), SC_EEXIST);
        CHECK(st2 == NULL);
        CHECK(strstr(sc_errmsg(), "in use") != NULL);
    }
    CHECK_INTEQ(sc_state_save(st), 0);
    sc_state_close(st);

    CHECK_INTEQ(sc_state_open(dir, &st), 0);
    CHECK_INTEQ(sc_state_count(st), 3);
    CHECK_INTEQ(sc_state_find(st, "v1.h5ad", NULL, &e), 1);
    CHECK_STREQ(e.version_id, "v1");
    CHECK_INTEQ(e.size, 10);
    CHECK_STREQ(e.fetch_version, "0.3.0"); /* kept across a save */
    sc_state_entry_release(&e);
    /* The newest entry of a dataset. */
    CHECK_INTEQ(sc_state_find(st, NULL, "d1", &e), 1);
    CHECK_STREQ(e.version_id, "v2");
    CHECK_STREQ(e.url, "http://h/v2 .h5ad"); /* a tab cannot break a line */
    sc_state_entry_release(&e);
    CHECK_INTEQ(sc_state_find(st, "u.bin", NULL, &e), 1);
    CHECK_STREQ(e.dataset_id, "");
    CHECK_INTEQ(strlen(e.fetched_at), 20); /* filled in: now */
    CHECK_STREQ(e.fetch_version, "");      /* not given: unknown */
    sc_state_entry_release(&e);
    CHECK_INTEQ(sc_state_find(st, "none", NULL, &e), 0);
    CHECK_INTEQ(sc_state_find(st, NULL, "d9", &e), 0);
    /* Replace by name. */
    {
        sc_state_entry a2 = {"v1.h5ad", "d1", "v1", "http://m/v1.h5ad",
                             "a2",      11,   NULL, NULL};
        CHECK_INTEQ(sc_state_put(st, &a2), 0);
        CHECK_INTEQ(sc_state_count(st), 3);
        CHECK_STREQ(sc_state_get(st, 0)->sha256, "a2");
        CHECK(sc_state_get(st, 3) == NULL);
    }
    CHECK_INTEQ(sc_state_save_every(st, 3600), 0); /* too soon: no write */
    sc_state_close(st);
    CHECK_INTEQ(sc_state_open(dir, &st), 0);
    CHECK_STREQ(sc_state_get(st, 0)->sha256, "aa");
    sc_state_close(st);

    /* Columns in another order, an unknown one, comments: all fine. */
    snprintf(path, sizeof path, "%s/%s", dir, SC_STATE_FILE);
    fp = fopen(path, "w");
    fputs("# a comment\nurl\tname\textra\tsize\nhttp://x/a\ta\tz\t5\n", fp);
    fclose(fp);
    CHECK_INTEQ(sc_state_open(dir, &st), 0);
    CHECK_INTEQ(sc_state_count(st), 1);
    CHECK_STREQ(sc_state_get(st, 0)->url, "http://x/a");
    CHECK_STREQ(sc_state_get(st, 0)->version_id, "");
    CHECK_STREQ(sc_state_get(st, 0)->fetch_version, ""); /* an older file */
    CHECK_INTEQ(sc_state_get(st, 0)->size, 5);
    sc_state_close(st);

    /* Damaged: a short line, or no name column. */
    fp = fopen(path, "w");
    fputs("name\tsize\na\t1\nb\n", fp);
    fclose(fp);
    CHECK_INTEQ(sc_state_open(dir, &st), SC_EFORMAT);
    CHECK(strstr(sc_errmsg(), "line 3") != NULL);
    fp = fopen(path, "w");
    fputs("url\tsize\n", fp);
    fclose(fp);
    CHECK_INTEQ(sc_state_open(dir, &st), SC_EFORMAT);
    CHECK(st == NULL);
}

/* A download from file:// (no server needed): copy, size and digest
 * checks, the part file, and a missing source. */
static void test_download_file(void)
{
    sc_http_opts o = SC_HTTP_OPTS_INIT;
    sc_http_fetch f = {0};
    char src[300], url[320], dst[300], part[310];
    struct stat sb;
    FILE *fp;

    o.retries = 0;
    snprintf(src, sizeof src, "%s/src.bin", tmpdir);
    snprintf(url, sizeof url, "file://%s", src);
    snprintf(dst, sizeof dst, "%s/dst.bin", tmpdir);
    snprintf(part, sizeof part, "%s.part", dst);
    fp = fopen(src, "w");
    fputs("abc", fp);
    fclose(fp);
    f.url = url;
    f.path = dst;
    f.size = 3;
    f.sha256 =
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    CHECK_INTEQ(sc_http_download(&o, &f, NULL, NULL), 0);
    CHECK_INTEQ(f.got, 3);
    CHECK_STREQ(f.digest, f.sha256);
    CHECK(stat(dst, &sb) == 0 && sb.st_size == 3);
    CHECK(stat(part, &sb) != 0);
    /* Wrong size: nothing at the final path, no part left. */
    unlink(dst);
    f.size = 4;
    CHECK_INTEQ(sc_http_download(&o, &f, NULL, NULL), SC_ECORRUPT);
    CHECK(strstr(sc_errmsg(), "expected 4") != NULL);
    CHECK(stat(dst, &sb) != 0);
    CHECK(stat(part, &sb) != 0);
    /* Wrong digest. */
    f.size = -1;
    f.sha256 =
        "0000000000000000000000000000000000000000000000000000000000000000";
    CHECK_INTEQ(sc_http_download(&o, &f, NULL, NULL), SC_ECORRUPT);
    CHECK(strstr(sc_errmsg(), "sha256") != NULL);
    CHECK(stat(dst, &sb) != 0);
    /* A missing source. */
    snprintf(url, sizeof url, "file://%s/none", tmpdir);
    f.sha256 = NULL;
    CHECK_INTEQ(sc_http_download(&o, &f, NULL, NULL), SC_ENOTFOUND);
    CHECK(strstr(sc_errmsg(), "/none") != NULL);
    CHECK(stat(part, &sb) != 0);
    /* Not a URL we take. */
    f.url = "gopher://h/x";
    CHECK(sc_http_download(&o, &f, NULL, NULL) < 0);
    CHECK(stat(part, &sb) != 0);
}

static int crange(const char *v, int64_t *a, int64_t *b, int64_t *t)
{
    *a = *b = *t = -2;
    return sc_http_content_range(v, v + strlen(v), a, b, t);
}

static void test_content_range(void)
{
    static const char *const bad[] = {"",
                                      "bytes",
                                      "bytes 5",
                                      "bytes 5-",
                                      "bytes 5-9",
                                      "bytes 5-9/",
                                      "bytes 9-5/100",
                                      "bytes 0-100/100",
                                      "bytes -1-5/10",
                                      "bytes 1-2/3x",
                                      "bits 0-1/2",
                                      "bytes0-1/2",
                                      "bytes */*",
                                      "bytes */",
                                      "bytes 1 -2/3",
                                      "bytes 0-1/99999999999999999999",
                                      "bytes 0-99999999999999999999/*"};
    const char *line = "content-range:  bytes 0-9/10\r\n", *v;
    int64_t a, b, t;

    CHECK_INTEQ(crange("bytes 0-99/1000", &a, &b, &t), 0);
    CHECK(a == 0 && b == 99 && t == 1000);
    CHECK_INTEQ(crange("  bytes 100-199/*\r\n", &a, &b, &t), 0);
    CHECK(a == 100 && b == 199 && t == -1);
    CHECK_INTEQ(crange("bytes */4096", &a, &b, &t), 0);
    CHECK(a == -1 && b == -1 && t == 4096);
    CHECK_INTEQ(crange("Bytes 7-7/8", &a, &b, &t), 0);
    CHECK(a == 7 && b == 7 && t == 8);
    CHECK_INTEQ(
        crange("bytes 9223372036854775806-9223372036854775806/*", &a, &b, &t),
        0);
    CHECK(a == INT64_MAX - 1 && b == a && t == -1);
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INTEQ(crange(bad[i], &a, &b, &t), -1);
        CHECK(a == -2 && b == -2 && t == -2);
    }
    /* the value ends where the caller says, not at a NUL */
    CHECK_INTEQ(
        sc_http_content_range("bytes 0-1/20", "bytes 0-1/20" + 11, &a, &b, &t),
        0);
    CHECK(t == 2);
    /* a header line: the name in any case, blanks after the ':' skipped */
    v = sc_http_header(line, strlen(line), "Content-Range");
    CHECK(v != NULL && !strncmp(v, "bytes 0-9/10", 12));
    CHECK(sc_http_header(line, strlen(line), "Content-Length") == NULL);
    CHECK(sc_http_header("Content-Range-X: 1\r\n", 20, "Content-Range") ==
          NULL);
    CHECK(sc_http_header("ETag", 4, "ETag") == NULL);
}

int main(void)
{
    char cmd[300];

    if (!mkdtemp(tmpdir) || sc_http_global_init() < 0)
        return 1;
    RUN(test_name_check);
    RUN(test_content_range);
    RUN(test_name_from_url);
    RUN(test_state);
    RUN(test_download_file);
    sc_http_global_cleanup();
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return UNIT_DONE();
}
