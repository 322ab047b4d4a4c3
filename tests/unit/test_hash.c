/* test_hash: SHA-256 test vectors, incremental use, files, errors. */
/* SPDX-License-Identifier: MIT */
#include <fcntl.h>
#include <unistd.h>

#include "sc_hash.h"
#include "unit.h"

#define SHA_EMPTY                                                              \
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define SHA_ABC                                                                \
    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
#define SHA_448                                                                \
    "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"
#define SHA_MILLION_A                                                          \
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0"
#define SHA_3MILLION_A /* from Python's hashlib */                             \
    "2a152c894398719c0570f83fac34ac03a0f6e8e474b995c2403aa5434f7b9dd4"

/* The SHA-256 initial chaining value: the state before a whole block. */
#define IV "6a09e667bb67ae853c6ef372a54ff53a510e527f9b05688c1f83d9ab5be0cd19"

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

/* Save the state after LEN of N bytes, continue in another handle: the
 * digest is that of the whole. */
static void check_state_at(const unsigned char *d, size_t n, size_t len,
                           const char *want)
{
    char text[SC_HASH_STATE_SIZE], again[SC_HASH_STATE_SIZE];
    char hex[SC_HASH_HEX_SIZE];
    sc_hash *a, *b;
    uint64_t fed = 1;

    CHECK_INTEQ(sc_hash_new(&a), 0);
    CHECK_INTEQ(sc_hash_new(&b), 0);
    CHECK_INTEQ(sc_hash_update(a, d, len), 0);
    CHECK_INTEQ(sc_hash_state(a, text, &fed), 0);
    CHECK_INTEQ(fed, len);
    CHECK(strlen(text) < SC_HASH_STATE_SIZE);
    CHECK_INTEQ(sc_hash_update(b, "junk", 4), 0);
    fed = 1;
    CHECK_INTEQ(sc_hash_resume(b, text, &fed), 0);
    CHECK_INTEQ(fed, len);
    CHECK_INTEQ(sc_hash_state(b, again, &fed), 0);
    CHECK_STREQ(again, text);
    CHECK_INTEQ(sc_hash_update(b, d + len, n - len), 0);
    CHECK_INTEQ(sc_hash_final(b, hex), 0);
    CHECK_STREQ(hex, want);
    /* the first handle goes on too: saving did not change it */
    CHECK_INTEQ(sc_hash_update(a, d + len, n - len), 0);
    CHECK_INTEQ(sc_hash_final(a, hex), 0);
    CHECK_STREQ(hex, want);
    sc_hash_free(a);
    sc_hash_free(b);
}

static void test_state(void)
{
    static const size_t cuts[] = {0,  1,   55,  56,   63,     64,
                                  65, 127, 128, 1000, 999999, 1000000};
    unsigned char *a = malloc(1000000);
    char text[SC_HASH_STATE_SIZE], hex[SC_HASH_HEX_SIZE];
    sc_hash *h;
    uint64_t fed;

    memset(a, 'a', 1000000);
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++)
        check_state_at(a, 1000000, cuts[i], SHA_MILLION_A);
    check_state_at((const unsigned char *)msg448, strlen(msg448), 17, SHA_448);

    /* The text form: length, chaining value, the block begun. */
    CHECK_INTEQ(sc_hash_new(&h), 0);
    CHECK_INTEQ(sc_hash_state(h, text, &fed), 0);
    CHECK_STREQ(text, "sha256 0 " IV " -");
    CHECK_INTEQ(sc_hash_update(h, "abc", 3), 0);
    CHECK_INTEQ(sc_hash_state(h, text, &fed), 0);
    CHECK_STREQ(text, "sha256 3 " IV " 616263");

    /* Anything else is refused and leaves the handle as it was. */
    static const char *const bad[] = {
        "",
        "sha1 3 x",
        "sha256 3 6a09e667 616263",
        "sha256 4 " IV " 616263",
        "sha256 64 " IV " 61",
        "sha256 64 " IV " -x",
        "sha256 3 " IV " 616263 more",
        "sha256 3 "
        "6A09E667BB67AE853C6EF372A54FF53A510E527F9B05688C1F83D9AB5BE0CD19 "
        "616263",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_INTEQ(sc_hash_resume(h, bad[i], &fed), SC_EFORMAT);
        CHECK_STREQ(sc_errmsg(), "not a sha256 state");
    }
    CHECK_INTEQ(sc_hash_resume(h, "sha256 3 " IV " 616263\n", &fed), 0);
    CHECK_INTEQ(sc_hash_final(h, hex), 0);
    CHECK_STREQ(hex, SHA_ABC);
    sc_hash_free(h);
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
    RUN(test_state);
    RUN(test_file_errors);
    return UNIT_DONE();
}
