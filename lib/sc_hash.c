/* sc_hash: streaming SHA-256 (OpenSSL) for files and downloads. */
/* SPDX-License-Identifier: MIT */
/* The SHA256_* functions are deprecated in OpenSSL 3 but kept, and as fast
 * as EVP (the same SHA-NI code); unlike EVP's opaque context, their state
 * is a plain struct that a download can save with its part and continue. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "sc_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/sha.h>

#define FILE_CHUNK (1024 * 1024)

struct sc_hash {
    SHA256_CTX ctx;
};

/* Fail with OpenSSL's queued reason for WHAT ("sha256 init"). */
static int ssl_fail(const char *what)
{
    char buf[256];
    unsigned long e = ERR_get_error();

    ERR_clear_error();
    if (!e)
        return sc_fail(SC_EUNSUP, "%s failed", what);
    ERR_error_string_n(e, buf, sizeof buf);
    return sc_fail(SC_EUNSUP, "%s failed: %s", what, buf);
}

int sc_hash_new(sc_hash **out)
{
    sc_hash *h;
    int rc;

    *out = NULL;
    if (!(h = calloc(1, sizeof *h)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (!SHA256_Init(&h->ctx)) {
        rc = ssl_fail("sha256 init");
        sc_hash_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int sc_hash_update(sc_hash *h, const void *data, size_t n)
{
    if (n && !SHA256_Update(&h->ctx, data, n))
        return ssl_fail("sha256 update");
    return 0;
}

int sc_hash_final(sc_hash *h, char hex[SC_HASH_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[SHA256_DIGEST_LENGTH];
    unsigned int i;

    if (!SHA256_Final(md, &h->ctx) || !SHA256_Init(&h->ctx))
        return ssl_fail("sha256 final");
    for (i = 0; i < SHA256_DIGEST_LENGTH; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * i] = '\0';
    return 0;
}

/*
 * The state of SHA-256 after LEN bytes is the eight words of the chaining
 * value after the LEN / 64 whole blocks, and the LEN % 64 bytes of the
 * block begun. OpenSSL keeps LEN in bits in Nh:Nl, the bytes of the block
 * begun at the start of DATA and their count in NUM.
 */
int sc_hash_state(const sc_hash *h, char text[SC_HASH_STATE_SIZE],
                  uint64_t *fed)
{
    const SHA256_CTX *c = &h->ctx;
    const unsigned char *tail = (const unsigned char *)c->data;
    uint64_t len = (((uint64_t)c->Nh << 32) | c->Nl) / 8;
    int n = snprintf(text, SC_HASH_STATE_SIZE, "sha256 %" PRIu64 " ", len);

    for (int i = 0; i < 8; i++)
        n += snprintf(text + n, (size_t)(SC_HASH_STATE_SIZE - n), "%08lx",
                      (unsigned long)c->h[i]);
    text[n++] = ' ';
    for (unsigned int i = 0; i < c->num; i++)
        n += snprintf(text + n, (size_t)(SC_HASH_STATE_SIZE - n), "%02x",
                      tail[i]);
    if (!c->num)
        text[n++] = '-';
    text[n] = '\0';
    *fed = len;
    return 0;
}

int sc_hash_resume(sc_hash *h, const char *text, uint64_t *fed)
{
    SHA256_CTX c;
    unsigned char *tail = (unsigned char *)c.data;
    unsigned long long len;
    char words[65], bytes[130];
    unsigned int x;
    int end = 0;

    /* "sha256 LEN WORDS TAIL", where TAIL is 2 * (LEN % 64) hex digits or
     * '-' when LEN % 64 is 0; a newline may follow. */
    if (sscanf(text, "sha256 %llu %64[0-9a-f] %129[-0-9a-f]%n", &len, words,
               bytes, &end) != 3 ||
        (text[end] && strcmp(text + end, "\n") != 0) || strlen(words) != 64 ||
        len > UINT64_MAX / 8 ||
        strlen(bytes) != (len % 64 ? 2 * (len % 64) : 1) ||
        (len % 64 == 0 && bytes[0] != '-'))
        return sc_fail(SC_EFORMAT, "not a sha256 state");
    if (!SHA256_Init(&c))
        return ssl_fail("sha256 init");
    for (int i = 0; i < 8; i++) {
        sscanf(words + 8 * i, "%8x", &x);
        c.h[i] = (SHA_LONG)x;
    }
    for (unsigned int i = 0; i < len % 64; i++) {
        if (sscanf(bytes + 2 * i, "%2x", &x) != 1)
            return sc_fail(SC_EFORMAT, "not a sha256 state");
        tail[i] = (unsigned char)x;
    }
    c.num = (unsigned int)(len % 64);
    c.Nl = (SHA_LONG)(len << 3);
    c.Nh = (SHA_LONG)(len >> 29);
    h->ctx = c;
    *fed = len;
    return 0;
}

void sc_hash_free(sc_hash *h)
{
    free(h);
}

int sc_hash_file(const char *path, char hex[SC_HASH_HEX_SIZE])
{
    int is_stdin = !strcmp(path, "-"), fd = -1, rc;
    const char *name = is_stdin ? "<stdin>" : path;
    unsigned char *buf = NULL;
    sc_hash *h = NULL;
    ssize_t r;

    hex[0] = '\0';
    if ((rc = sc_hash_new(&h)) < 0)
        return rc;
    if (!(buf = malloc(FILE_CHUNK))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    /* O_NONBLOCK: a FIFO given as a file must not block the open. */
    fd =
        is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) {
        rc = sc_fail(SC_EIO, "cannot open '%s': %s", name, strerror(errno));
        goto out;
    }
    if (!is_stdin) {
        struct stat st;
        if (fstat(fd, &st) < 0 ||
            (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
            rc = sc_fail(SC_EFORMAT,
                         "'%s': not a regular file (a FIFO or device is "
                         "refused)",
                         name);
            goto out;
        }
    }
    for (;;) {
        r = read(fd, buf, FILE_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sc_fail(SC_EIO, "cannot read '%s': %s", name, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        if ((rc = sc_hash_update(h, buf, (size_t)r)) < 0)
            goto out;
    }
    rc = sc_hash_final(h, hex);
out:
    if (fd >= 0 && !is_stdin)
        close(fd);
    free(buf);
    sc_hash_free(h);
    return rc;
}
