/* test_hash: SHA-256 test vectors, incremental use, files, errors. */
/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <unistd.h>

#include "sc_hash.h"
#include "unit.h"

#define SHA_EMPTY                                                             \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC                                                               \
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448                                                               \
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A                                                         \
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA_3MILLION_A /* from Python's hashlib */                            \
    "2a152c894398719c0570f83fac34ac03a0f6e8e474b995c2403aa5434f7b9dd4"

static const char msg448[] =
    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

static void test_vectors(void)
{
    char hex[SC_HASH_HEX_SIZE];
    sc_hash *h = NULL;

    CHECK_INTEQ(sc_hash_new(&h), 0);
    CHECK_INTEQ(sc_hash_final(h, hex), 0);
    CHECK_STREQ(hex, SHA_EMPTY);
    /* final starts over: the same handle hashes the next stream */
    CHECK_INTEQ(sc_hash_update(h, "abc", 3), 0);
    CHECK_INTEQ(sc_hash_final(h, hex), 0);
    CHECK_STREQ(hex, SHA_ABC);
    CHECK_INTEQ(sc_hash_update(h, msg448, strlen(msg448)), 0);
    CHECK_INTEQ(sc_hash_final(h, hex), 0);
    CHECK_STREQ(hex, SHA_448);
    sc_hash_free(h);
    sc_hash_free(NULL);
}

static void test_incremental(void)
{
    char hex[SC_HASH_HEX_SIZE];
    sc_hash *h;
    size_t i, n = strlen(msg448);

    /* Byte by byte, with empty updates between, gives the same digest. */
    CHECK_INTEQ(sc_hash_new(&h), 0);
    for (i = 0; i < n; i++) {
        CHECK_INTEQ(sc_hash_update(h, msg448 + i, 1), 0);
        CHECK_INTEQ(sc_hash_update(h, NULL, 0), 0);
    }
    CHECK_INTEQ(sc_hash_final(h, hex), 0);
    CHECK_STREQ(hex, SHA_448);
    CHECK_INTEQ((int)strlen(hex), 64);
    sc_hash_free(h);
}

static void test_file(void)
{
    char path[] = "/tmp/sc_test_hash.XXXXXX", hex[SC_HASH_HEX_SIZE];
    char *a = malloc(1000000);
    int fd = mkstemp(path), saved;

    /* The FIPS 180-2 million 'a's, from a file and from stdin. */
    memset(a, 'a', 1000000);
    CHECK(write(fd, a, 1000000) == 1000000);
    close(fd);
    CHECK_INTEQ(sc_hash_file(path, hex), 0);
    CHECK_STREQ(hex, SHA_MILLION_A);

    saved = unit_stdin_from(path);
    CHECK_INTEQ(sc_hash_file("-", hex), 0);
    CHECK_STREQ(hex, SHA_MILLION_A);
    unit_restore_fd(STDIN_FILENO, saved);

    /* Three million: several reads of 1 MiB. */
    fd = open(path, O_WRONLY | O_APPEND);
    CHECK(write(fd, a, 1000000) == 1000000);
    CHECK(write(fd, a, 1000000) == 1000000);
    close(fd);
    CHECK_INTEQ(sc_hash_file(path, hex), 0);
    CHECK_STREQ(hex, SHA_3MILLION_A);

    fd = open(path, O_WRONLY | O_TRUNC);
    close(fd);
    CHECK_INTEQ(sc_hash_file(path, hex), 0);
    CHECK_STREQ(hex, SHA_EMPTY);
    unlink(path);
    free(a);
}

static void test_file_errors(void)
{
    char hex[SC_HASH_HEX_SIZE] = "x";

    CHECK_INTEQ(sc_hash_file("/nonexistent/x.h5ad", hex), SC_EIO);
    CHECK_STREQ(sc_errmsg(),
                "cannot open '/nonexistent/x.h5ad': No such file or directory");
    CHECK_STREQ(hex, "");
    CHECK_INTEQ(sc_hash_file("/tmp", hex), SC_EIO);
    CHECK_STREQ(sc_errmsg(), "cannot read '/tmp': Is a directory");
}

int main(void)
{
    RUN(test_vectors);
    RUN(test_incremental);
    RUN(test_file);
    RUN(test_file_errors);
    return UNIT_DONE();
}
