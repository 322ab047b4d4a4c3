/* sc_objstore: objects at s3:// and http(s):// locations (HEAD, ranged GET,
 * PUT of a local file), signed with libcurl's AWS SigV4. */
/* SPDX-License-Identifier: MIT */
#include "sc_objstore.h"
#include "sc_objstore_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_io.h"
#include "sc_http_int.h"
#include "sc_log.h"

#define MAX_KEY  1024
#define MAX_CRED 4096

int sc_obj_is_remote(const char *s)
{
    return s && (!strncmp(s, "s3://", 5) || !strncasecmp(s, "http://", 7) ||
                 !strncasecmp(s, "https://", 8));
}

void sc_obj_free(sc_obj *ob)
{
    if (!ob)
        return;
    free(ob->uri);
    free(ob->url);
    if (ob->userpwd) {
        memset(ob->userpwd, 0, strlen(ob->userpwd));
        free(ob->userpwd);
    }
    free(ob->sigv4);
    free(ob->token_hdr);
    free(ob);
}

const char *sc_obj_uri(const sc_obj *ob)
{
    return ob->uri;
}

const char *sc_obj_url(const sc_obj *ob)
{
    return ob->url;
}

static const char *env(const char *name)
{
    const char *v = getenv(name);

    return v && *v ? v : NULL;
}

static int bucket_ok(const char *b, size_t n)
{
    if (n < 3 || n > 63 || b[0] == '.' || b[0] == '-' || b[n - 1] == '.' ||
        b[n - 1] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((b[i] >= 'a' && b[i] <= 'z') || (b[i] >= '0' && b[i] <= '9') ||
              b[i] == '.' || b[i] == '-'))
            return 0;
    return 1;
}

static int region_ok(const char *r)
{
    size_t n = strlen(r);

    if (!n || n > 32)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((r[i] >= 'a' && r[i] <= 'z') || (r[i] >= '0' && r[i] <= '9') ||
              r[i] == '-'))
            return 0;
    return 1;
}

/* Append KEY percent-encoded ('/' and unreserved characters kept) to OUT
 * (room for 3 * strlen(KEY) + 1). */
static void encode_key(const char *key, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = out + strlen(out);

    for (const unsigned char *k = (const unsigned char *)key; *k; k++) {
        if ((*k >= 'a' && *k <= 'z') || (*k >= 'A' && *k <= 'Z') ||
            (*k >= '0' && *k <= '9') || *k == '-' || *k == '.' || *k == '_' ||
            *k == '~' || *k == '/') {
            *p++ = (char)*k;
        } else {
            *p++ = '%';
            *p++ = hex[*k >> 4];
            *p++ = hex[*k & 15];
        }
    }
    *p = '\0';
}

static char *trim(char *s)
{
    char *e;

    while (*s == ' ' || *s == '\t')
        s++;
    e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

/* The key id, secret and token of PROFILE in the credentials file PATH
 * (a missing file: none, 0). */
static int cred_file(const char *path, const char *profile, char **id,
                     char **secret, char **token)
{
    sc_lines *l;
    char *line;
    size_t len;
    int in = 0, r;

    if (access(path, F_OK) != 0)
        return 0;
    if (sc_lines_open(path, &l) < 0)
        return sc_fail_ctx(SC_ECONFIG, "AWS credentials");
    while ((r = sc_lines_next(l, &line, &len)) > 0) {
        char *s = trim(line), *eq, *k, *v, **dst = NULL;
        if (len > MAX_CRED) {
            r = sc_fail(SC_ECONFIG, "'%s' line %ld: too long", path,
                        sc_lines_lineno(l));
            break;
        }
        if (*s == '#' || *s == ';' || !*s)
            continue;
        if (*s == '[') {
            char *e = strchr(s, ']');
            if (!e) {
                r = sc_fail(SC_ECONFIG, "'%s' line %ld: no ']'", path,
                            sc_lines_lineno(l));
                break;
            }
            *e = '\0';
            in = !strcmp(trim(s + 1), profile);
            continue;
        }
        if (!in || !(eq = strchr(s, '=')))
            continue;
        *eq = '\0';
        k = trim(s);
        v = trim(eq + 1);
        if (!strcmp(k, "aws_access_key_id"))
            dst = id;
        else if (!strcmp(k, "aws_secret_access_key"))
            dst = secret;
        else if (!strcmp(k, "aws_session_token"))
            dst = token;
        if (dst) {
            free(*dst);
            if (!(*dst = strdup(v))) {
                r = sc_fail(SC_ENOMEM, "out of memory");
                break;
            }
        }
    }
    sc_lines_close(l);
    if (r < 0 && r != SC_ECONFIG && r != SC_ENOMEM)
        return sc_fail_ctx(SC_ECONFIG, "AWS credentials");
    if (r < 0)
        return r;
    return 0;
}

/* Fill the credentials of OB from the environment or the file. */
static int credentials(sc_obj *ob)
{
    char *id = NULL, *secret = NULL, *token = NULL, path[4096];
    const char *file = env("AWS_SHARED_CREDENTIALS_FILE"), *home;
    int rc = 0;

    if (env("AWS_ACCESS_KEY_ID")) {
        id = strdup(env("AWS_ACCESS_KEY_ID"));
        secret = env("AWS_SECRET_ACCESS_KEY")
                     ? strdup(env("AWS_SECRET_ACCESS_KEY"))
                     : NULL;
        token =
            env("AWS_SESSION_TOKEN") ? strdup(env("AWS_SESSION_TOKEN")) : NULL;
        if (!secret)
            rc = sc_fail(SC_ECONFIG,
                         "AWS_ACCESS_KEY_ID is set, AWS_SECRET_ACCESS_KEY "
                         "is not");
    } else {
        if (!file && (home = env("HOME")) &&
            (size_t)snprintf(path, sizeof path, "%s/.aws/credentials", home) <
                sizeof path)
            file = path;
        if (file)
            rc = cred_file(file,
                           env("AWS_PROFILE") ? env("AWS_PROFILE") : "default",
                           &id, &secret, &token);
        if (!rc && id && !secret)
            rc = sc_fail(SC_ECONFIG,
                         "'%s': aws_access_key_id without "
                         "aws_secret_access_key",
                         file);
    }
    if (!rc && id &&
        (strchr(id, ':') || strchr(id, '\n') ||
         (token && strpbrk(token, "\r\n"))))
        rc = sc_fail(SC_ECONFIG, "malformed AWS credentials");
    if (!rc && id) {
        size_t n = strlen(id) + strlen(secret) + 2;
        if (!(ob->userpwd = malloc(n)))
            rc = sc_fail(SC_ENOMEM, "out of memory");
        else
            snprintf(ob->userpwd, n, "%s:%s", id, secret);
        if (!rc && token) {
            n = strlen(token) + 32;
            if (!(ob->token_hdr = malloc(n)))
                rc = sc_fail(SC_ENOMEM, "out of memory");
            else
                snprintf(ob->token_hdr, n, "x-amz-security-token: %s", token);
        }
    }
    free(id);
    if (secret) {
        memset(secret, 0, strlen(secret));
        free(secret);
    }
    free(token);
    return rc;
}

/* The endpoint to use: NULL for AWS, else a checked http(s) URL without a
 * trailing '/' in BUF. */
static int endpoint(char *buf, size_t size, const char **out)
{
    const char *e = env("SC_S3_ENDPOINT");
    size_t n;

    *out = NULL;
    if (!e)
        e = env("AWS_ENDPOINT_URL");
    if (!e)
        return 0;
    n = strlen(e);
    while (n && e[n - 1] == '/')
        n--;
    if ((strncasecmp(e, "http://", 7) && strncasecmp(e, "https://", 8)) ||
        n >= size || strpbrk(e, " \t\r\n?#"))
        return sc_fail(SC_EINVAL, "endpoint '%s': not an http(s) URL", e);
    memcpy(buf, e, n);
    buf[n] = '\0';
    *out = buf;
    return 0;
}

static int open_s3(const char *uri, sc_obj *ob)
{
    const char *b = uri + 5, *slash = strchr(b, '/'), *key, *ep;
    const char *region = env("AWS_REGION");
    char epbuf[1024];
    size_t blen, klen, n;
    int rc;

    if (!region)
        region = env("AWS_DEFAULT_REGION");
    if (!region)
        region = "us-east-1";
    if (!slash || !slash[1])
        return sc_fail(SC_EINVAL, "'%s': no key after the bucket", uri);
    blen = (size_t)(slash - b);
    key = slash + 1;
    klen = strlen(key);
    if (!bucket_ok(b, blen))
        return sc_fail(SC_EINVAL, "'%s': not a valid bucket name", uri);
    if (klen > MAX_KEY)
        return sc_fail(SC_EINVAL, "'%s': key longer than %d bytes", uri,
                       MAX_KEY);
    for (size_t i = 0; i < klen; i++)
        if ((unsigned char)key[i] < 0x20 || key[i] == 0x7f)
            return sc_fail(SC_EINVAL, "'%s': control character in the key",
                           uri);
    if (!region_ok(region))
        return sc_fail(SC_EINVAL, "region '%s': not a region name", region);
    if ((rc = endpoint(epbuf, sizeof epbuf, &ep)) < 0)
        return rc;
    n = strlen(epbuf) + blen + 3 * klen + strlen(region) + 64;
    if (!(ob->url = malloc(n)) || !(ob->sigv4 = malloc(64)))
        return sc_fail(SC_ENOMEM, "out of memory");
    if (ep)
        snprintf(ob->url, n, "%s/%.*s/", ep, (int)blen, b);
    else if (memchr(b, '.', blen))
        snprintf(ob->url, n, "https://s3.%s.amazonaws.com/%.*s/", region,
                 (int)blen, b);
    else
        snprintf(ob->url, n, "https://%.*s.s3.%s.amazonaws.com/", (int)blen, b,
                 region);
    encode_key(key, ob->url);
    snprintf(ob->sigv4, 64, "aws:amz:%s:s3", region);
    return credentials(ob);
}

int sc_obj_open(const char *uri, sc_obj **out)
{
    sc_obj *ob;
    int rc = 0;

    *out = NULL;
    if (!sc_obj_is_remote(uri))
        return sc_fail(SC_EINVAL, "'%s': not an s3:// or http(s):// location",
                       uri);
    if (!(ob = calloc(1, sizeof *ob)) || !(ob->uri = strdup(uri))) {
        free(ob);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    if (!strncmp(uri, "s3://", 5))
        rc = open_s3(uri, ob);
    else if (strpbrk(uri, " \t\r\n"))
        rc = sc_fail(SC_EINVAL, "'%s': white space in a URL", uri);
    else if (!(ob->url = strdup(uri)))
        rc = sc_fail(SC_ENOMEM, "out of memory");
    if (rc < 0) {
        sc_obj_free(ob);
        return rc;
    }
    *out = ob;
    return 0;
}

int sc_obj_child(const char *prefix, const char *name, sc_obj **out)
{
    size_t n = strlen(prefix);
    char *uri;
    int rc;

    *out = NULL;
    if (!n || prefix[n - 1] != '/' || !*name || strchr(name, '/'))
        return sc_fail(SC_EINVAL, "'%s' + '%s': not a directory and a name",
                       prefix, name);
    if (!(uri = malloc(n + strlen(name) + 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    memcpy(uri, prefix, n);
    strcpy(uri + n, name);
    rc = sc_obj_open(uri, out);
    free(uri);
    return rc;
}

/* ---- requests ---- */

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct obj_req *r = ud;
    size_t len = size * n;
    const char *v, *e = p + len;
    int64_t a, b, t;

    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* a new answer (after a 100 or a redirect): forget the last */
        r->range_start = r->range_end = r->range_total = r->clen = -1;
        r->etag[0] = '\0';
        if (sscanf(p, "HTTP/%*s %ld", &r->status) != 1)
            r->status = 0;
    } else if ((v = sc_http_header(p, len, "Content-Length"))) {
        long long c;
        if (sscanf(v, "%lld", &c) == 1 && c >= 0)
            r->clen = c;
    } else if ((v = sc_http_header(p, len, "ETag"))) {
        while (e > v && (e[-1] == '\r' || e[-1] == '\n' || e[-1] == ' '))
            e--;
        if ((size_t)(e - v) < sizeof r->etag) {
            memcpy(r->etag, v, (size_t)(e - v));
            r->etag[e - v] = '\0';
            for (char *c = r->etag; *c; c++)
                if ((unsigned char)*c < 0x20 || *c == 0x7f || *c == '\t')
                    *c = '?';
        }
    } else if ((v = sc_http_header(p, len, "Content-Range")) &&
               sc_http_content_range(v, e, &a, &b, &t) == 0 && a >= 0) {
        r->range_start = a;
        r->range_end = b;
        r->range_total = t;
    }
    return len;
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct obj_req *r = ud;
    size_t len = size * n;

    if ((!r->buf && !r->to_file) || r->status < 200 || r->status >= 300)
        return len; /* an error page or a PUT answer: not kept */
    if (r->got + len > r->len) {
        r->too_long = 1;
        return 0;
    }
    if (!r->to_file) {
        memcpy(r->buf + r->got, p, len);
    } else {
        for (size_t k = 0; k < len;) {
            ssize_t w = pwrite(r->out_fd, p + k, len - k, (off_t)(r->got + k));
            if (w < 0 && errno == EINTR)
                continue;
            if (w <= 0) {
                r->wr_err = w < 0 ? errno : EIO;
                return 0;
            }
            k += (size_t)w;
        }
    }
    r->got += len;
    return len;
}

static size_t on_read(char *p, size_t size, size_t n, void *ud)
{
    struct obj_req *r = ud;
    ssize_t got;

    do
        got = read(r->fd, p, size * n);
    while (got < 0 && errno == EINTR);
    if (got < 0) {
        r->read_err = errno;
        return CURL_READFUNC_ABORT;
    }
    r->sent += got;
    return (size_t)got;
}

static int on_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    struct obj_req *r = ud;

    (void)dt, (void)dn, (void)ut, (void)un;
    return r->o->cancel && *r->o->cancel;
}

/* A handle for a request of R (method set by the caller). */
CURL *sc_obj_req_easy(struct obj_req *r, struct curl_slist **hdrs)
{
    const sc_obj *ob = r->ob;
    CURL *c = curl_easy_init();

    *hdrs = NULL;
    if (!c)
        return NULL;
    r->errbuf[0] = '\0';
    r->range_start = r->range_end = r->range_total = r->clen = -1;
    sc_http_easy_common(c, r->o, ob->url, r->errbuf, "sc-toolkit", on_header,
                        on_body, on_xferinfo, r);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    if (ob->sigv4 && ob->userpwd) {
        /* A signed request is never redirected (the signature names the
         * host); S3 wants the payload's hash or this marker. */
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, ob->sigv4);
        curl_easy_setopt(c, CURLOPT_USERPWD, ob->userpwd);
        *hdrs =
            curl_slist_append(*hdrs, "x-amz-content-sha256: UNSIGNED-PAYLOAD");
        if (*hdrs && ob->token_hdr)
            *hdrs = curl_slist_append(*hdrs, ob->token_hdr);
        if (!*hdrs) {
            curl_easy_cleanup(c);
            return NULL;
        }
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, *hdrs);
    } else {
        curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
        curl_easy_setopt(c, CURLOPT_MAXREDIRS, r->o->max_redirs);
    }
    return c;
}

/* The outcome of a finished request; sets the message. */
static int outcome(struct obj_req *r, CURL *c, CURLcode cc, int *rc)
{
    const char *uri = r->ob->uri;

    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    if (r->o->cancel && *r->o->cancel) {
        *rc = sc_fail(SC_EIO, "'%s': interrupted", uri);
        return SC_OBJ_FATAL;
    }
    if (cc == CURLE_WRITE_ERROR && r->too_long) {
        *rc = sc_fail(SC_ENET, "'%s': answer longer than the %zu bytes asked",
                      uri, r->len);
        return SC_OBJ_FATAL;
    }
    if (cc == CURLE_WRITE_ERROR && r->wr_err) {
        *rc = sc_fail(SC_EIO, "'%s': cannot write to the cache: %s", uri,
                      strerror(r->wr_err));
        return SC_OBJ_FATAL;
    }
    if (cc == CURLE_ABORTED_BY_CALLBACK && r->read_err) {
        *rc = sc_fail(SC_EIO, "'%s': cannot read: %s", uri,
                      strerror(r->read_err));
        return SC_OBJ_FATAL;
    }
    if (cc != CURLE_OK) {
        *rc = sc_fail(SC_ENET, "'%s': %s", uri,
                      r->errbuf[0] ? r->errbuf : curl_easy_strerror(cc));
        return cc == CURLE_URL_MALFORMAT || cc == CURLE_UNSUPPORTED_PROTOCOL
                   ? SC_OBJ_FATAL
                   : SC_OBJ_RETRY;
    }
    if (r->status < 200 || r->status >= 300) {
        *rc = sc_fail(r->status == 404 || r->status == 410 ? SC_ENOTFOUND
                                                           : SC_ENET,
                      "'%s': HTTP %ld", uri, r->status);
        return r->status == 408 || r->status == 429 || r->status >= 500
                   ? SC_OBJ_RETRY
                   : SC_OBJ_FATAL;
    }
    return SC_OBJ_OK;
}

double sc_obj_retry_wait(const sc_http_opts *o, int k)
{
    double s = o->retry_wait;

    for (int i = 1; i < k && s < o->retry_wait_max; i++)
        s *= 2;
    return s > o->retry_wait_max ? o->retry_wait_max : s;
}

static void backoff(const sc_http_opts *o, int k)
{
    double s = sc_obj_retry_wait(o, k);
    struct timespec ts;

    ts.tv_sec = (time_t)s;
    ts.tv_nsec = (long)((s - (double)ts.tv_sec) * 1e9);
    nanosleep(&ts, NULL);
}

/* Run the request R built by SETUP (which sets the method) with the
 * retries of its options; CHECK, when set, judges a 2xx answer. */
static int run(struct obj_req *r, void (*setup)(struct obj_req *, CURL *),
               int (*check)(struct obj_req *, int *rc))
{
    int rc = 0;

    for (int attempt = 0;; attempt++) {
        struct curl_slist *hdrs;
        CURL *c;
        CURLcode cc;
        int what;

        r->got = 0;
        r->too_long = 0;
        r->status = 0;
        r->etag[0] = '\0';
        if (r->fd >= 0 && lseek(r->fd, 0, SEEK_SET) < 0)
            return sc_fail(SC_EIO, "'%s': cannot rewind: %s", r->ob->uri,
                           strerror(errno));
        r->sent = 0;
        if (!(c = sc_obj_req_easy(r, &hdrs)))
            return sc_fail(SC_ENOMEM, "out of memory");
        setup(r, c);
        cc = curl_easy_perform(c);
        what = outcome(r, c, cc, &rc);
        curl_easy_cleanup(c);
        curl_slist_free_all(hdrs);
        if (what == SC_OBJ_OK && check)
            what = check(r, &rc);
        if (what == SC_OBJ_OK)
            return 0;
        if (what == SC_OBJ_FATAL || attempt >= r->o->retries ||
            (r->o->cancel && *r->o->cancel))
            return rc;
        sc_log_info("%s; retrying (%d of %d)", sc_errmsg(), attempt + 1,
                    r->o->retries);
        backoff(r->o, attempt + 1);
    }
}

static void setup_head(struct obj_req *r, CURL *c)
{
    (void)r;
    curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
}

int sc_obj_head(const sc_http_opts *o, const sc_obj *ob, int64_t *size,
                char *etag)
{
    struct obj_req r;
    int rc;

    memset(&r, 0, sizeof r);
    r.o = o;
    r.ob = ob;
    r.fd = -1;
    *size = -1;
    if (etag)
        etag[0] = '\0';
    if ((rc = run(&r, setup_head, NULL)) < 0)
        return rc;
    if (r.clen < 0)
        return sc_fail(SC_ENET, "'%s': the answer names no size", ob->uri);
    *size = r.clen;
    if (etag)
        memcpy(etag, r.etag, sizeof r.etag);
    return 0;
}

void sc_obj_req_setup_get(struct obj_req *r, CURL *c)
{
    char range[64];

    snprintf(range, sizeof range, "%" PRIu64 "-%" PRIu64, r->off,
             r->off + r->len - 1);
    curl_easy_setopt(c, CURLOPT_RANGE, range);
}

static int check_get(struct obj_req *r, int *rc)
{
    const char *uri = r->ob->uri;

    if (r->status == 206 && (r->range_start != (int64_t)r->off ||
                             r->range_end != (int64_t)(r->off + r->len - 1))) {
        *rc = sc_fail(SC_ENET,
                      "'%s': server sent bytes %" PRId64 "-%" PRId64
                      " for %" PRIu64 "-%" PRIu64,
                      uri, r->range_start, r->range_end, r->off,
                      r->off + r->len - 1);
        return SC_OBJ_FATAL;
    }
    if (r->status != 206 && (r->status != 200 || r->off != 0)) {
        *rc = sc_fail(SC_ENET, "'%s': HTTP %ld to a range request", uri,
                      r->status);
        return SC_OBJ_FATAL;
    }
    if (r->got != r->len) {
        *rc = sc_fail(SC_ENET, "'%s': short answer: %zu of %zu bytes", uri,
                      r->got, r->len);
        return SC_OBJ_RETRY;
    }
    if (r->range_total >= 0 &&
        (uint64_t)r->range_total < r->off + (uint64_t)r->len) {
        *rc = sc_fail(SC_ENET, "'%s': range beyond the size %" PRId64, uri,
                      r->range_total);
        return SC_OBJ_FATAL;
    }
    return SC_OBJ_OK;
}

int sc_obj_req_get_outcome(struct obj_req *r, CURL *c, CURLcode cc, int *rc)
{
    int what = outcome(r, c, cc, rc);

    return what == SC_OBJ_OK ? check_get(r, rc) : what;
}

int sc_obj_get(const sc_http_opts *o, const sc_obj *ob, uint64_t off,
               size_t len, void *buf, int64_t *total)
{
    struct obj_req r;
    int rc;

    if (total)
        *total = -1;
    if (!len)
        return 0;
    if (off > INT64_MAX - (uint64_t)len)
        return sc_fail(SC_EINVAL, "'%s': range out of bounds", ob->uri);
    memset(&r, 0, sizeof r);
    r.o = o;
    r.ob = ob;
    r.fd = -1;
    r.buf = buf;
    r.len = len;
    r.off = off;
    if ((rc = run(&r, sc_obj_req_setup_get, check_get)) < 0)
        return rc;
    if (total)
        *total = r.range_total;
    return 0;
}

static void setup_put(struct obj_req *r, CURL *c)
{
    curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(c, CURLOPT_READDATA, r);
    curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)r->put_size);
}

static int check_put(struct obj_req *r, int *rc)
{
    if (r->sent != r->put_size) {
        *rc = sc_fail(SC_EIO, "'%s': the file changed size while sent",
                      r->ob->uri);
        return SC_OBJ_FATAL;
    }
    return SC_OBJ_OK;
}

int sc_obj_put_file(const sc_http_opts *o, const sc_obj *ob, const char *path,
                    char *etag)
{
    struct obj_req r;
    struct stat st;
    int rc;

    if (etag)
        etag[0] = '\0';
    memset(&r, 0, sizeof r);
    r.o = o;
    r.ob = ob;
    if ((r.fd = sc_io_open_regular(path, O_RDONLY, 0)) < 0)
        return r.fd;
    if (fstat(r.fd, &st) != 0) {
        rc = sc_fail(SC_EIO, "cannot stat '%s': %s", path, strerror(errno));
        close(r.fd);
        return rc;
    }
    r.put_size = st.st_size;
    rc = run(&r, setup_put, check_put);
    close(r.fd);
    if (rc == 0 && etag)
        memcpy(etag, r.etag, sizeof r.etag);
    return rc;
}

/* ---- several ranges at once ---- */

/* One request of multi_run. */
struct mslot {
    struct obj_req q;
    CURL *h;
    struct curl_slist *hdrs;
    size_t idx;
    int busy;
};

/* The ranges of a multi_run: NEXT fills Q's range (off, len, buf) and
 * *IDX, returning 1, 0 when it has none to give now, or a failure; LAND is
 * handed each range once answered and checked (Q->range_total set), in the
 * order they come; a non-zero return stops the run (and is returned). */
typedef int (*multi_next_fn)(void *ud, struct obj_req *q, size_t *idx);
typedef int (*multi_land_fn)(void *ud, const struct obj_req *q, size_t idx);

static void mslot_end(CURLM *m, struct mslot *s)
{
    if (s->h) {
        curl_multi_remove_handle(m, s->h);
        curl_easy_cleanup(s->h);
    }
    curl_slist_free_all(s->hdrs);
    s->h = NULL;
    s->hdrs = NULL;
    s->busy = 0;
}

/*
 * Ranged GETs with up to WINDOW in flight at once (curl multi), as long as
 * NEXT gives ranges; each answer judged as sc_obj_get judges one. A range
 * whose answer failed in a way that may pass is asked again alone, with O's
 * retries. Returns 0, the first failure or LAND's non-zero value (the transfers
 * still in flight are dropped).
 */
static int multi_run(const sc_http_opts *o, const sc_obj *ob, size_t window,
                     multi_next_fn next, multi_land_fn land, void *ud)
{
    struct mslot *sl = calloc(window, sizeof *sl);
    CURLM *m = curl_multi_init();
    int rc = 0, running, more = 1;

    if (!sl || !m) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto done;
    }
    for (;;) {
        size_t active = 0;
        for (size_t i = 0; i < window && more && !rc; i++) {
            struct mslot *s = &sl[i];
            if (s->busy)
                continue;
            memset(&s->q, 0, sizeof s->q);
            s->q.o = o;
            s->q.ob = ob;
            s->q.fd = -1;
            if ((rc = next(ud, &s->q, &s->idx)) <= 0) {
                more = 0; /* none now: asked again once one lands */
                break;
            }
            rc = 0;
            if (!s->q.len || s->q.off > INT64_MAX - (uint64_t)s->q.len)
                rc = sc_fail(SC_EINVAL, "'%s': bad range", ob->uri);
            else if (!(s->h = sc_obj_req_easy(&s->q, &s->hdrs)))
                rc = sc_fail(SC_ENOMEM, "out of memory");
            else {
                sc_obj_req_setup_get(&s->q, s->h);
                if (curl_multi_add_handle(m, s->h) != CURLM_OK)
                    rc = sc_fail(SC_ENOMEM, "out of memory");
            }
            s->busy = 1;
        }
        if (rc)
            goto done;
        for (size_t i = 0; i < window; i++)
            active += sl[i].busy;
        if (!active)
            break;
        CURLMcode mc = curl_multi_perform(m, &running);
        if (mc == CURLM_OK && running)
            mc = curl_multi_poll(m, NULL, 0, 1000, NULL);
        if (mc != CURLM_OK) {
            rc = sc_fail(SC_ENET, "'%s': %s", ob->uri, curl_multi_strerror(mc));
            goto done;
        }
        for (CURLMsg *msg; (msg = curl_multi_info_read(m, &running));) {
            struct mslot *s = NULL;
            int what;
            if (msg->msg != CURLMSG_DONE)
                continue;
            for (size_t i = 0; i < window && !s; i++)
                if (sl[i].busy && sl[i].h == msg->easy_handle)
                    s = &sl[i];
            if (!s)
                continue;
            what = sc_obj_req_get_outcome(&s->q, s->h, msg->data.result, &rc);
            mslot_end(m, s);
            if (what == SC_OBJ_FATAL)
                goto done;
            if (what == SC_OBJ_RETRY) {
                int64_t total;
                sc_log_info("%s; asking again", sc_errmsg());
                if ((rc = sc_obj_get(o, ob, s->q.off, s->q.len, s->q.buf,
                                     &total)) < 0)
                    goto done;
                s->q.range_total = total;
            }
            if ((rc = land(ud, &s->q, s->idx)) != 0)
                goto done;
            more = 1;
        }
    }
done:
    for (size_t i = 0; sl && i < window; i++)
        mslot_end(m, &sl[i]);
    if (m)
        curl_multi_cleanup(m);
    free(sl);
    return rc;
}

struct many {
    size_t n, i;
    const uint64_t *off;
    const size_t *len;
    void *const *buf;
};

static int many_next(void *ud, struct obj_req *q, size_t *idx)
{
    struct many *g = ud;

    if (g->i == g->n)
        return 0;
    q->off = g->off[g->i];
    q->len = g->len[g->i];
    q->buf = g->buf[g->i];
    *idx = g->i++;
    return 1;
}

static int many_land(void *ud, const struct obj_req *q, size_t idx)
{
    (void)ud, (void)q, (void)idx;
    return 0;
}

int sc_obj_get_many(const sc_http_opts *o, const sc_obj *ob, size_t n,
                    const uint64_t *off, const size_t *len, void *const *buf)
{
    struct many g = {n, 0, off, len, buf};

    if (n == 1)
        return sc_obj_get(o, ob, off[0], len[0], buf[0], NULL);
    return n ? multi_run(o, ob, n, many_next, many_land, &g) : 0;
}

/* sc_obj_read: PAR buffers of CHUNK bytes, each holding one range from
 * its GET until SINK has had it; ranges are handed to SINK in order. */
struct reader {
    const sc_obj *ob;
    int64_t size;
    size_t chunk, par;
    uint64_t issued, sunk; /* ranges asked for, handed to SINK */
    unsigned char **buf;
    uint64_t *range;      /* the range in buf[i] */
    unsigned char *state; /* 0 free, 1 on its way, 2 landed */
    sc_obj_sink_fn sink;
    void *ud;
};

static size_t range_len(const struct reader *rd, uint64_t k)
{
    uint64_t off = k * rd->chunk, left = (uint64_t)rd->size - off;

    return left < rd->chunk ? (size_t)left : rd->chunk;
}

static int reader_next(void *ud, struct obj_req *q, size_t *idx)
{
    struct reader *rd = ud;

    if (rd->issued * rd->chunk >= (uint64_t)rd->size)
        return 0;
    for (size_t i = 0; i < rd->par; i++) {
        if (rd->state[i])
            continue;
        rd->state[i] = 1;
        rd->range[i] = rd->issued++;
        q->off = rd->range[i] * rd->chunk;
        q->len = range_len(rd, rd->range[i]);
        q->buf = rd->buf[i];
        *idx = i;
        return 1;
    }
    return 0;
}

static int reader_land(void *ud, const struct obj_req *q, size_t idx)
{
    struct reader *rd = ud;
    int rc = 0;

    if (q->range_total >= 0 && q->range_total != rd->size)
        return sc_fail(SC_ENET,
                       "'%s': the object changed size (%" PRId64
                       " bytes, was %" PRId64 ")",
                       rd->ob->uri, q->range_total, rd->size);
    rd->state[idx] = 2;
    for (int found = 1; found && !rc;) {
        found = 0;
        for (size_t i = 0; i < rd->par; i++) {
            if (rd->state[i] != 2 || rd->range[i] != rd->sunk)
                continue;
            rc = rd->sink(rd->ud, rd->buf[i], range_len(rd, rd->sunk));
            rd->state[i] = 0;
            rd->sunk++;
            found = 1;
            break;
        }
    }
    return rc;
}

int sc_obj_read(const sc_http_opts *o, const sc_obj *ob, int64_t size,
                size_t chunk, size_t parallel, sc_obj_sink_fn sink, void *ud)
{
    struct reader rd = {ob, size, chunk, 0, 0, 0, NULL, NULL, NULL, sink, ud};
    int rc;

    if (size < 0 || !chunk || !parallel)
        return sc_fail(SC_EINVAL, "'%s': no size to read", ob->uri);
    if (!size)
        return 0;
    /* no more buffers than ranges */
    rd.par = (uint64_t)(size - 1) / chunk + 1 < parallel
                 ? (size_t)((uint64_t)(size - 1) / chunk + 1)
                 : parallel;
    rd.buf = calloc(rd.par, sizeof *rd.buf);
    rd.range = calloc(rd.par, sizeof *rd.range);
    rd.state = calloc(rd.par, 1);
    rc = rd.buf && rd.range && rd.state ? 0 : SC_ENOMEM;
    for (size_t i = 0; !rc && i < rd.par; i++)
        if (!(rd.buf[i] = malloc(chunk)))
            rc = SC_ENOMEM;
    if (rc)
        rc = sc_fail(SC_ENOMEM, "out of memory");
    else
        rc = multi_run(o, ob, rd.par, reader_next, reader_land, &rd);
    for (size_t i = 0; rd.buf && i < rd.par; i++)
        free(rd.buf[i]);
    free(rd.buf);
    free(rd.range);
    free(rd.state);
    return rc;
}

/* ---- whole objects ---- */

/* Whole objects are read in READ_PAR ranges at once, of READ_CHUNK bytes
 * at most (less for a small object, so that it too is read in parallel,
 * but READ_MIN_CHUNK at least): memory stays at READ_PAR * READ_CHUNK. */
#define READ_CHUNK     ((size_t)8 << 20)
#define READ_MIN_CHUNK ((size_t)256 << 10)
#define READ_PAR       4

static size_t read_chunk(int64_t size)
{
    uint64_t c = ((uint64_t)size / READ_PAR + 0xffff) & ~(uint64_t)0xffff;

    return c < READ_MIN_CHUNK ? READ_MIN_CHUNK
           : c > READ_CHUNK   ? READ_CHUNK
                              : (size_t)c;
}

struct sink {
    sc_hash *hash;
    int fd; /* -1: hash only */
    const char *path;
};

static int to_sink(void *ud, const void *p, size_t n)
{
    struct sink *s = ud;
    size_t off = 0;

    if (sc_hash_update(s->hash, p, n) < 0)
        return sc_fail(SC_ENOMEM, "out of memory");
    while (s->fd >= 0 && off < n) {
        ssize_t w = write(s->fd, (const char *)p + off, n - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return sc_fail(SC_EIO, "cannot write '%s': %s", s->path,
                           strerror(errno));
        off += (size_t)w;
    }
    return 0;
}

int sc_obj_hash(const sc_http_opts *o, const sc_obj *ob, int64_t *size,
                char digest[SC_HASH_HEX_SIZE], char *etag)
{
    struct sink s = {NULL, -1, NULL};
    int rc;

    if ((rc = sc_obj_head(o, ob, size, etag)) < 0)
        return rc;
    if ((rc = sc_hash_new(&s.hash)) < 0)
        return rc;
    rc = sc_obj_read(o, ob, *size, read_chunk(*size), READ_PAR, to_sink, &s);
    if (rc == 0)
        rc = sc_hash_final(s.hash, digest);
    sc_hash_free(s.hash);
    return rc;
}

int sc_obj_download(const sc_http_opts *o, const sc_obj *ob, const char *path,
                    int64_t size, const char *sha256, int64_t *got,
                    char digest[SC_HASH_HEX_SIZE])
{
    struct sink s = {NULL, -1, path};
    sc_tmp t;
    int64_t have;
    int rc;

    *got = 0;
    if ((rc = sc_obj_head(o, ob, &have, NULL)) < 0)
        return rc;
    if (size >= 0 && have != size)
        return sc_fail(SC_ECORRUPT,
                       "'%s': %" PRId64 " bytes, expected %" PRId64, ob->uri,
                       have, size);
    if (o->max_size && (uint64_t)have > o->max_size)
        return sc_fail(SC_ECORRUPT, "'%s': more than %" PRIu64 " bytes",
                       ob->uri, o->max_size);
    if ((rc = sc_hash_new(&s.hash)) < 0)
        return rc;
    if ((s.fd = sc_io_tmp_open(path, NULL, SC_TMP_CREATE, &t)) < 0) {
        sc_hash_free(s.hash);
        return s.fd;
    }
    rc = sc_obj_read(o, ob, have, read_chunk(have), READ_PAR, to_sink, &s);
    if (rc == 0)
        rc = sc_hash_final(s.hash, digest);
    if (rc == 0 && sha256 && *sha256 && strcasecmp(sha256, digest) != 0)
        rc = sc_fail(SC_ECORRUPT, "'%s': sha256 %s, expected %s", ob->uri,
                     digest, sha256);
    if (rc == 0 && fsync(s.fd) != 0)
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (close(s.fd) != 0 && rc == 0)
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", path, strerror(errno));
    if (rc == 0)
        rc = sc_io_tmp_commit(&t);
    else
        sc_io_tmp_discard(&t);
    sc_hash_free(s.hash);
    if (rc == 0)
        *got = have;
    return rc;
}

int sc_obj_default_cache(char *buf, size_t size)
{
    const char *v = env("SC_OBJECT_CACHE"), *home;
    int n;

    if (v)
        n = snprintf(buf, size, "%s", v);
    else if ((v = env("XDG_CACHE_HOME")))
        n = snprintf(buf, size, "%s/sc/objects", v);
    else if ((home = env("HOME")))
        n = snprintf(buf, size, "%s/.cache/sc/objects", home);
    else
        return sc_fail(SC_ECONFIG, "no object cache: set SC_OBJECT_CACHE");
    return n > 0 && (size_t)n < size
               ? 0
               : sc_fail(SC_ECONFIG, "object cache path too long");
}
