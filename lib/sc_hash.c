/* sc_hash: streaming SHA-256 (OpenSSL EVP) for files and downloads. */
/* SPDX-License-Identifier: MIT */
#include "sc_hash.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>

#define FILE_CHUNK (1024 * 1024)

struct sc_hash {
    EVP_MD_CTX *ctx;
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
    if (!(h = calloc(1, sizeof *h)) || !(h->ctx = EVP_MD_CTX_new())) {
        sc_hash_free(h);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    if (!EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL)) {
        rc = ssl_fail("sha256 init");
        sc_hash_free(h);
        return rc;
    }
    *out = h;
    return 0;
}

int sc_hash_update(sc_hash *h, const void *data, size_t n)
{
    if (n && !EVP_DigestUpdate(h->ctx, data, n))
        return ssl_fail("sha256 update");
    return 0;
}

int sc_hash_final(sc_hash *h, char hex[SC_HASH_HEX_SIZE])
{
    static const char digits[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    if (!EVP_DigestFinal_ex(h->ctx, md, &n) ||
        !EVP_DigestInit_ex(h->ctx, EVP_sha256(), NULL))
        return ssl_fail("sha256 final");
    for (i = 0; i < n && i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * i] = '\0';
    return 0;
}

void sc_hash_free(sc_hash *h)
{
    if (!h)
        return;
    EVP_MD_CTX_free(h->ctx);
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
    fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        rc = sc_fail(SC_EIO, "cannot open '%s': %s", name, strerror(errno));
        goto out;
    }
    for (;;) {
        r = read(fd, buf, FILE_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = sc_fail(SC_EIO, "cannot read '%s': %s", name,
                         strerror(errno));
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
