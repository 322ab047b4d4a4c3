/* Unit tests for sc_objstore: locations, endpoints, regions, credentials. */
/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sc_objstore.h"
#include "sc_objstore_int.h"
#include "unit.h"

static char tmpdir[] = "/tmp/test_objstore.XXXXXX";

static void clear_env(void)
{
    static const char *const vars[] = {"SC_S3_ENDPOINT",
                                       "AWS_ENDPOINT_URL",
                                       "AWS_REGION",
                                       "AWS_DEFAULT_REGION",
                                       "AWS_ACCESS_KEY_ID",
                                       "AWS_SECRET_ACCESS_KEY",
                                       "AWS_SESSION_TOKEN",
                                       "AWS_PROFILE",
                                       "AWS_SHARED_CREDENTIALS_FILE"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    setenv("HOME", tmpdir, 1);
}

static void test_locations(void)
{
    static const char *const bad[] = {
        "s3://bucket", "s3://bucket/",  "s3://B/k",    "s3://ab/k",
        "s3://-ab/k",  "s3://a_b/k",    "s3:/b/k",     "file:///x",
        "/local/path", "s3://bkt/a\nb", "http://h/a b"};
    sc_obj *ob;

    clear_env();
    CHECK(sc_obj_is_remote("s3://b/k"));
    CHECK(sc_obj_is_remote("HTTPS://h/x"));
    CHECK(!sc_obj_is_remote("/tmp/x"));
    CHECK(!sc_obj_is_remote("file:///tmp/x"));
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        CHECK_INTEQ(sc_obj_open(bad[i], &ob), SC_EINVAL);
        CHECK(ob == NULL);
    }
    /* AWS: virtual-hosted, the default region, the key encoded */
    CHECK_INTEQ(sc_obj_open("s3://my-bkt/d/a b+c%.h5ad", &ob), 0);
    CHECK_STREQ(
        sc_obj_url(ob),
        "https://my-bkt.s3.us-east-1.amazonaws.com/d/a%20b%2Bc%25.h5ad");
    CHECK_STREQ(sc_obj_uri(ob), "s3://my-bkt/d/a b+c%.h5ad");
    sc_obj_free(ob);
    setenv("AWS_DEFAULT_REGION", "eu-west-1", 1);
    CHECK_INTEQ(sc_obj_open("s3://my.bkt/k", &ob), 0);
    CHECK_STREQ(sc_obj_url(ob), "https://s3.eu-west-1.amazonaws.com/my.bkt/k");
    sc_obj_free(ob);
    setenv("AWS_REGION", "bad region", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "bad region") != NULL);
    unsetenv("AWS_REGION");
    /* an endpoint: path-style, SC_S3_ENDPOINT first */
    setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9/", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/x/y", &ob), 0);
    CHECK_STREQ(sc_obj_url(ob), "http://127.0.0.1:9/bkt/x/y");
    sc_obj_free(ob);
    setenv("SC_S3_ENDPOINT", "http://[::1]:8", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/x", &ob), 0);
    CHECK_STREQ(sc_obj_url(ob), "http://[::1]:8/bkt/x");
    sc_obj_free(ob);
    setenv("SC_S3_ENDPOINT", "ftp://h", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/x", &ob), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "endpoint 'ftp://h'") != NULL);
    unsetenv("SC_S3_ENDPOINT");
    /* an https URL is taken as it is */
    CHECK_INTEQ(sc_obj_open("https://h/p?q=1", &ob), 0);
    CHECK_STREQ(sc_obj_url(ob), "https://h/p?q=1");
    sc_obj_free(ob);
    /* a child of a prefix */
    CHECK_INTEQ(sc_obj_child("s3://bkt/p/", "a.h5ad", &ob), 0);
    CHECK_STREQ(sc_obj_uri(ob), "s3://bkt/p/a.h5ad");
    sc_obj_free(ob);
    CHECK_INTEQ(sc_obj_child("s3://bkt/p", "a.h5ad", &ob), SC_EINVAL);
    CHECK_INTEQ(sc_obj_child("s3://bkt/p/", "a/b", &ob), SC_EINVAL);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    if (!f || fputs(text, f) < 0 || fclose(f) != 0)
        abort();
}

static void test_credentials(void)
{
    char dir[600], file[700];
    sc_obj *ob;

    clear_env();
    /* none anywhere: unsigned */
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), 0);
    sc_obj_free(ob);
    setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "AWS_SECRET_ACCESS_KEY") != NULL);
    setenv("AWS_SECRET_ACCESS_KEY", "s", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), 0);
    sc_obj_free(ob);
    clear_env();
    snprintf(dir, sizeof dir, "%s/.aws", tmpdir);
    mkdir(dir, 0700);
    snprintf(file, sizeof file, "%s/credentials", dir);
    write_file(file, "[default]\naws_access_key_id = A\n"
                     "aws_secret_access_key=S\n[team]\n"
                     "aws_access_key_id=T\n");
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), 0);
    sc_obj_free(ob);
    setenv("AWS_PROFILE", "team", 1);
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "without aws_secret_access_key") != NULL);
    write_file(file, "[team\n");
    CHECK_INTEQ(sc_obj_open("s3://bkt/k", &ob), SC_ECONFIG);
    CHECK(strstr(sc_errmsg(), "line 1") != NULL);
    unlink(file);
    rmdir(dir);
}

static void test_ra_plan(void)
{
    enum {
        A = SC_OBJ_B_ABSENT,
        Q = SC_OBJ_B_QUEUED,
        F = SC_OBJ_B_FETCHING,
        P = SC_OBJ_B_PRESENT
    };
    const unsigned char st[10] = {P, A, A, Q, F, A, P, A, A, A};
    uint64_t out[8];

    /* the absent blocks of the window after the reader, in order */
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 0, 4, out), 2);
    CHECK_INTEQ(out[0], 1);
    CHECK_INTEQ(out[1], 2);
    /* queued, in flight and present blocks are skipped, not the window's
     * end: it stays WINDOW blocks after the reader */
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 2, 4, out), 1);
    CHECK_INTEQ(out[0], 5);
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 4, 4, out), 3);
    CHECK_INTEQ(out[0], 5);
    CHECK_INTEQ(out[1], 7);
    CHECK_INTEQ(out[2], 8);
    /* the end of the object bounds it */
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 8, 4, out), 1);
    CHECK_INTEQ(out[0], 9);
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 9, 4, out), 0);
    /* a window of one: the next block only */
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 0, 1, out), 1);
    CHECK_INTEQ(out[0], 1);
    CHECK_INTEQ(sc_obj_ra_plan(st, 10, 5, 1, out), 0);
}

int main(void)
{
    char cmd[300];

    if (!mkdtemp(tmpdir))
        return 1;
    RUN(test_locations);
    RUN(test_credentials);
    RUN(test_ra_plan);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmpdir);
    if (system(cmd) != 0)
        return 1;
    return UNIT_DONE();
}
