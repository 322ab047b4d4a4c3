/* sc_http: resumable, verified downloads and small GETs with libcurl. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* sync_file_range */
#include "sc_http.h"
#include "sc_http_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_io.h"
#include "sc_log.h"
#include "sc_progress.h"

#define RECV_BUFFER (256 * 1024)
#define HASH_BLOCK  (1024 * 1024)
/* Received data is handed to the disk every so many bytes. */
#define FLUSH_EVERY (8 * 1024 * 1024)

int sc_http_global_init(void)
{
    CURLcode c = curl_global_init(CURL_GLOBAL_DEFAULT);

    if (c != CURLE_OK)
        return sc_fail(SC_ENET, "cannot initialise libcurl: %s",
                       curl_easy_strerror(c));
    return 0;
}

void sc_http_global_cleanup(void)
{
    curl_global_cleanup();
}

const char *sc_http_version(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);

    return v && v->version ? v->version : "?";
}

/* ---- a shared bandwidth cap ---- */

struct sc_http_limit {
    pthread_mutex_t mu;
    double rate;   /* bytes per second */
    double t_free; /* when the bytes taken so far may have been received */
};

int sc_http_limit_new(uint64_t bytes_per_s, sc_http_limit **out)
{
    sc_http_limit *l;

    *out = NULL;
    if (!bytes_per_s)
        return sc_fail(SC_EINVAL, "a bandwidth cap of 0");
    if (!(l = calloc(1, sizeof *l)))
        return sc_fail(SC_ENOMEM, "out of memory");
    pthread_mutex_init(&l->mu, NULL);
    l->rate = (double)bytes_per_s;
    *out = l;
    return 0;
}

void sc_http_limit_free(sc_http_limit *l)
{
    if (!l)
        return;
    pthread_mutex_destroy(&l->mu);
    free(l);
}

/* Account N received bytes; return how long to wait to stay at the rate.
 * A quarter second of unused allowance may be spent at once. */
static double limit_take(sc_http_limit *l, size_t n)
{
    double now = sc_mono_ns() * 1e-9, wait;

    pthread_mutex_lock(&l->mu);
    if (l->t_free < now - 0.25)
        l->t_free = now - 0.25;
    l->t_free += (double)n / l->rate;
    wait = l->t_free - now;
    pthread_mutex_unlock(&l->mu);
    return wait;
}

static int cancelled(const sc_http_opts *o);

/* Sleep S seconds in slices, so that an interrupt is seen soon; 0, or -1
 * when cancelled. */
static int sleep_s(const sc_http_opts *o, double s)
{
    struct timespec ts;

    while (s > 0) {
        double slice = s < 0.1 ? s : 0.1;
        if (cancelled(o))
            return -1;
        ts.tv_sec = (time_t)slice;
        ts.tv_nsec = (long)((slice - (double)ts.tv_sec) * 1e9);
        nanosleep(&ts, NULL);
        s -= slice;
    }
    return cancelled(o) ? -1 : 0;
}

/* ---- one transfer ---- */

/* What a transfer learnt from the response headers and received. */
struct xfer {
    const sc_http_opts *o;
    CURL *curl;
    long status;         /* of the final response (after redirects) */
    int64_t range_start; /* Content-Range start, -1 if none */
    int64_t range_total; /* Content-Range total ("*" or none: -1) */
    int body_started;
    /* download sink (fd < 0: memory sink) */
    int fd;
    int64_t have;    /* bytes in the part file */
    int64_t flushed; /* of those, handed to the disk */
    sc_hash *hash;
    int restart;   /* the server ignored Range: start over */
    int io_err;    /* errno of a failed write */
    int bad_range; /* 206 that does not start where we asked */
    sc_http_progress_fn progress;
    void *ud;
    /* memory sink */
    char *buf;
    size_t len, cap, max;
    int too_big;
    int64_t max_file; /* download sink: at most so many bytes (-1: any) */
    int encoded;      /* the response has a Content-Encoding */
    /* stall detection: no byte for o->stall_time seconds */
    curl_off_t last_now;
    int64_t last_move; /* sc_mono_ns() when bytes last came, 0: not yet */
    int stalled;
};

static int cancelled(const sc_http_opts *o)
{
    return o->cancel && *o->cancel;
}

const char *sc_http_header(const char *p, size_t len, const char *name)
{
    size_t n = strlen(name);
    const char *v, *e = p + len;

    if (len <= n || strncasecmp(p, name, n) != 0 || p[n] != ':')
        return NULL;
    for (v = p + n + 1; v < e && (*v == ' ' || *v == '\t'); v++)
        ;
    return v;
}

/* The decimal number at *P (digits only) into *OUT; *P moves past it.
 * 0, or -1 when there is none or it does not fit. */
static int parse_u63(const char **p, const char *e, int64_t *out)
{
    const char *s = *p;
    int64_t v = 0;

    if (s >= e || *s < '0' || *s > '9')
        return -1;
    for (; s < e && *s >= '0' && *s <= '9'; s++) {
        if (v > (INT64_MAX - (*s - '0')) / 10)
            return -1;
        v = v * 10 + (*s - '0');
    }
    *p = s;
    *out = v;
    return 0;
}

int sc_http_content_range(const char *v, const char *e, int64_t *start,
                          int64_t *end, int64_t *total)
{
    int64_t a = -1, b = -1, t = -1;

    while (v < e && (*v == ' ' || *v == '\t'))
        v++;
    while (e > v &&
           (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
        e--;
    if (e - v < 6 || strncasecmp(v, "bytes", 5) != 0 ||
        (v[5] != ' ' && v[5] != '\t'))
        return -1;
    for (v += 5; v < e && (*v == ' ' || *v == '\t'); v++)
        ;
    if (v < e && *v == '*') {
        v++;
        if (v >= e || *v++ != '/' || parse_u63(&v, e, &t) < 0)
            return -1;
    } else {
        if (parse_u63(&v, e, &a) < 0 || v >= e || *v++ != '-' ||
            parse_u63(&v, e, &b) < 0 || v >= e || *v++ != '/')
            return -1;
        if (v < e && *v == '*')
            v++;
        else if (parse_u63(&v, e, &t) < 0)
            return -1;
        if (a > b || (t >= 0 && b >= t))
            return -1;
    }
    if (v != e)
        return -1;
    *start = a;
    *end = b;
    *total = t;
    return 0;
}

static size_t on_header(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n;
    const char *v;
    int64_t a, b, t;

    if (len >= 5 && !strncmp(p, "HTTP/", 5)) {
        /* A new response (after a redirect or a 100): forget the last. */
        x->range_start = -1;
        x->range_total = -1;
        x->encoded = 0;
    } else if ((v = sc_http_header(p, len, "Content-Encoding"))) {
        x->encoded = v < p + len && strncasecmp(v, "identity", 8) != 0 &&
                     *v != '\r' && *v != '\n';
    } else if ((v = sc_http_header(p, len, "Content-Range")) &&
               sc_http_content_range(v, p + len, &a, &b, &t) == 0) {
        x->range_start = a;
        x->range_total = t;
    }
    return len;
}

/* The HTTP status of the response, or 0 for file:// and ftp://. */
static long response_status(CURL *c)
{
    const char *scheme = NULL;
    long st = 0;

    curl_easy_getinfo(c, CURLINFO_SCHEME, &scheme);
    if (!scheme || strncasecmp(scheme, "http", 4) != 0)
        return 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &st);
    return st;
}

/* The first bytes of a body: decide what to do with the part file. */
static int body_start(struct xfer *x)
{
    x->body_started = 1;
    x->status = response_status(x->curl);
    if (x->fd < 0 || x->status == 0 || x->status == 200) {
        if (x->fd >= 0 && x->have > 0) {
            /* 200 (or file://) to a Range request: the whole file comes
             * again, so the part is dropped. */
            x->restart = 1;
            if (ftruncate(x->fd, 0) != 0 || lseek(x->fd, 0, SEEK_SET) < 0) {
                x->io_err = errno;
                return -1;
            }
            if (x->progress)
                x->progress(x->ud, -x->have);
            x->have = 0;
            if (x->hash) {
                char tmp[SC_HASH_HEX_SIZE];
                if (sc_hash_final(x->hash, tmp) < 0)
                    return -1;
            }
        }
        return 0;
    }
    if (x->status == 206) {
        if (x->range_start != x->have) {
            x->bad_range = 1;
            return -1;
        }
        return 0;
    }
    return 1; /* an error page: not data */
}

static size_t on_body(char *p, size_t size, size_t n, void *ud)
{
    struct xfer *x = ud;
    size_t len = size * n, off = 0;
    int r;

    if (!x->body_started && (r = body_start(x)) != 0)
        return r < 0 ? 0 : len; /* 0 aborts the transfer */
    if (x->status >= 300)
        return len; /* discard an error page */
    if (x->fd < 0) {
        if (x->len + len > x->max) {
            x->too_big = 1;
            return 0;
        }
        if (x->len + len + 1 > x->cap) {
            size_t cap = x->cap ? x->cap : 65536;
            char *nb;
            while (cap < x->len + len + 1)
                cap *= 2;
            if (!(nb = realloc(x->buf, cap)))
                return 0;
            x->buf = nb;
            x->cap = cap;
        }
        memcpy(x->buf + x->len, p, len);
        x->len += len;
        x->buf[x->len] = '\0';
        return len;
    }
    if (x->max_file >= 0 && x->have + (int64_t)len > x->max_file) {
        x->too_big = 1; /* an endless or oversized body: cut it */
        return 0;
    }
    while (off < len) {
        ssize_t w = write(x->fd, p + off, len - off);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            x->io_err = errno;
            return 0;
        }
        off += (size_t)w;
    }
    if (x->hash && sc_hash_update(x->hash, p, len) < 0) {
        x->io_err = EIO;
        return 0;
    }
    x->have += (int64_t)len;
#ifdef SYNC_FILE_RANGE_WRITE
    /* Start writing to the disk as the data comes, not all in the fsync at
     * the end (which then finds little left): the disk works while the
     * network does. Elsewhere the fsync does it all. */
    if (x->flushed > x->have)
        x->flushed = 0; /* the part was dropped */
    if (x->have - x->flushed >= FLUSH_EVERY) {
        (void)sync_file_range(x->fd, x->flushed, x->have - x->flushed,
                              SYNC_FILE_RANGE_WRITE);
        x->flushed = x->have;
    }
#endif
    if (x->progress)
        x->progress(x->ud, (int64_t)len);
    if (x->o->limit && sleep_s(x->o, limit_take(x->o->limit, len)) < 0)
        return 0; /* cancelled: curl reports a write error */
    return len;
}

static int on_xferinfo(void *ud, curl_off_t dt, curl_off_t dn, curl_off_t ut,
                       curl_off_t un)
{
    struct xfer *x = ud;
    int64_t now;

    (void)dt, (void)ut, (void)un;
    if (cancelled(x->o))
        return 1;
    /* curl's low-speed check averages over several seconds; a transfer
     * that stops dead is caught sooner here. */
    now = sc_mono_ns();
    if (dn != x->last_now || !x->last_move) {
        x->last_now = dn;
        x->last_move = now;
    } else if (x->o->stall_time > 0 &&
               now - x->last_move >= (int64_t)x->o->stall_time * 1000000000) {
        x->stalled = 1;
        return 1;
    }
    return 0;
}

void sc_http_easy_common(CURL *c, const sc_http_opts *o, const char *url,
                         char *errbuf, const char *agent,
                         curl_write_callback on_hdr,
                         curl_write_callback on_data,
                         curl_xferinfo_callback on_progress, void *ud)
{
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, o->connect_timeout);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, o->stall_speed);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, o->stall_time);
    curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, NULL);
    curl_easy_setopt(c, CURLOPT_USERAGENT,
                     o->user_agent ? o->user_agent : agent);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_hdr);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, ud);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, ud);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, ud);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
}

static CURL *easy_new(const sc_http_opts *o, const char *url, struct xfer *x,
                      char *errbuf)
{
    CURL *c = curl_easy_init();

    if (!c)
        return NULL;
    errbuf[0] = '\0';
    sc_http_easy_common(c, o, url, errbuf, "sc-fetch", on_header, on_body,
                        on_xferinfo, x);
    /* An http(s) URL stays http(s); file:// and ftp:// only when asked. */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR,
                     strncasecmp(url, "http://", 7) == 0 ||
                             strncasecmp(url, "https://", 8) == 0
                         ? "http,https"
                         : "ftp,ftps,file");
    /* A server may redirect to another http(s) server, never to a file. */
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, o->max_redirs);
    curl_easy_setopt(c, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
    if (o->max_speed)
        curl_easy_setopt(c, CURLOPT_MAX_RECV_SPEED_LARGE,
                         (curl_off_t)o->max_speed);
    x->curl = c;
    return c;
}

/* Outcome of one attempt. */
enum { OK, RETRY, FATAL };

static const char *reason(long status)
{
    switch (status) {
    case 400: return " Bad Request";
    case 401: return " Unauthorized";
    case 403: return " Forbidden";
    case 404: return " Not Found";
    case 408: return " Request Timeout";
    case 410: return " Gone";
    case 416: return " Range Not Satisfiable";
    case 429: return " Too Many Requests";
    case 500: return " Internal Server Error";
    case 502: return " Bad Gateway";
    case 503: return " Service Unavailable";
    case 504: return " Gateway Timeout";
    default: return "";
    }
}

/* Classify a finished attempt: set the message (code *RC) and say whether
 * another attempt may help. */
static int classify(const char *url, CURLcode c, const struct xfer *x,
                    const char *errbuf, int *rc)
{
    long st = x->status;

    if (c == CURLE_OK && (st == 0 || (st >= 200 && st < 300)))
        return OK;
    if (c == CURLE_OK || c == CURLE_HTTP_RETURNED_ERROR) {
        int code = st == 404 || st == 410 ? SC_ENOTFOUND : SC_ENET;
        *rc = sc_fail(code, "'%s': HTTP %ld%s", url, st, reason(st));
        return st == 408 || st == 429 || st >= 500 ? RETRY : FATAL;
    }
    if (c == CURLE_ABORTED_BY_CALLBACK && x->stalled) {
        *rc =
            sc_fail(SC_ENET, "'%s': no data for %ld s", url, x->o->stall_time);
        return RETRY;
    }
    if ((c == CURLE_ABORTED_BY_CALLBACK || c == CURLE_WRITE_ERROR) &&
        cancelled(x->o)) {
        *rc = sc_fail(SC_EIO, "'%s': interrupted", url);
        return FATAL;
    }
    if (c == CURLE_WRITE_ERROR && x->io_err) {
        *rc =
            sc_fail(SC_EIO, "'%s': cannot write: %s", url, strerror(x->io_err));
        return FATAL;
    }
    if (c == CURLE_WRITE_ERROR && x->too_big && x->fd >= 0) {
        *rc = sc_fail(SC_ECORRUPT, "'%s': more than %" PRId64 " bytes", url,
                      x->max_file);
        return FATAL;
    }
    if (c == CURLE_WRITE_ERROR && x->too_big) {
        *rc =
            sc_fail(SC_ENET, "'%s': answer larger than %zu bytes", url, x->max);
        return FATAL;
    }
    if (c == CURLE_WRITE_ERROR && x->bad_range) {
        *rc = sc_fail(SC_ENET,
                      "'%s': server sent bytes %" PRId64
                      "- for a request from %" PRId64,
                      url, x->range_start, x->have);
        return RETRY;
    }
    *rc = sc_fail(SC_ENET, "'%s': %s", url,
                  errbuf[0] ? errbuf : curl_easy_strerror(c));
    switch (c) {
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS:
    case CURLE_FILE_COULDNT_READ_FILE:
    case CURLE_REMOTE_FILE_NOT_FOUND:
    case CURLE_OUT_OF_MEMORY:
    case CURLE_WRITE_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_LOGIN_DENIED:
        if (c == CURLE_FILE_COULDNT_READ_FILE ||
            c == CURLE_REMOTE_FILE_NOT_FOUND)
            *rc = sc_fail(SC_ENOTFOUND, "'%s': %s", url,
                          errbuf[0] ? errbuf : curl_easy_strerror(c));
        else if (c == CURLE_URL_MALFORMAT || c == CURLE_UNSUPPORTED_PROTOCOL)
            *rc = SC_EINVAL;
        return FATAL;
    default: return RETRY;
    }
}

/* Wait before retry K (1, 2, ...); 0, or -1 when cancelled. */
static int backoff(const sc_http_opts *o, int k)
{
    double s = o->retry_wait;

    for (int i = 1; i < k && s < o->retry_wait_max; i++)
        s *= 2;
    if (s > o->retry_wait_max)
        s = o->retry_wait_max;
    return sleep_s(o, s);
}

int sc_http_get(const sc_http_opts *o, const char *url, size_t max_bytes,
                char **body, size_t *len)
{
    char errbuf[CURL_ERROR_SIZE];
    struct xfer x;
    int rc = 0;

    *body = NULL;
    *len = 0;
    for (int attempt = 0;; attempt++) {
        CURLcode c;
        int what;

        memset(&x, 0, sizeof x);
        x.o = o;
        x.fd = -1;
        x.max = o->max_answer && o->max_answer < max_bytes ? o->max_answer
                                                           : max_bytes;
        x.range_start = x.range_total = -1;
        if (!easy_new(o, url, &x, errbuf))
            return sc_fail(SC_ENOMEM, "out of memory");
        c = curl_easy_perform(x.curl);
        if (!x.body_started)
            x.status = response_status(x.curl);
        what = classify(url, c, &x, errbuf, &rc);
        curl_easy_cleanup(x.curl);
        if (what == OK) {
            if (!x.buf && !(x.buf = calloc(1, 1)))
                return sc_fail(SC_ENOMEM, "out of memory");
            *body = x.buf;
            *len = x.len;
            return 0;
        }
        free(x.buf);
        if (what == FATAL || attempt >= o->retries)
            return rc;
        sc_log_info("%s; retrying (%d of %d)", sc_errmsg(), attempt + 1,
                    o->retries);
        if (backoff(o, attempt + 1) < 0)
            return sc_fail(SC_EIO, "'%s': interrupted", url);
    }
}

/* ---- downloads ---- */

/* Hash the first HAVE bytes of FD into H (the part kept from before). */
static int hash_part(int fd, int64_t have, sc_hash *h, const char *name)
{
    char *buf = malloc(HASH_BLOCK);
    int64_t off = 0;
    int rc = 0;

    if (!buf)
        return sc_fail(SC_ENOMEM, "out of memory");
    while (off < have) {
        size_t want =
            (size_t)(have - off < HASH_BLOCK ? have - off : HASH_BLOCK);
        ssize_t r = pread(fd, buf, want, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = sc_fail(SC_EIO, "cannot read '%s': %s", name,
                         r < 0 ? strerror(errno) : "unexpected end of file");
            break;
        }
        if ((rc = sc_hash_update(h, buf, (size_t)r)) < 0)
            break;
        off += r;
    }
    free(buf);
    return rc;
}

/*
 * The hash state of a part, kept beside it as DIR/.NAME.part.sha256 for
 * PATH = DIR/NAME: a line "part DEV INO SIZE MTIME_S MTIME_NS" naming the
 * part as it was when the state was saved, then the sc_hash_state() line.
 */
static char *part_state_path(const char *path)
{
    const char *slash = strrchr(path, '/');
    int dirlen = slash ? (int)(slash - path) + 1 : 0;
    size_t n = strlen(path) + 16;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%.*s.%s.part.sha256", dirlen, path, path + dirlen);
    return p;
}

/* Keep H, the hash of the HAVE bytes of the part FD, in SPATH. Best effort:
 * without it the next download hashes the part again. */
static void part_state_save(const char *spath, int fd, const sc_hash *h,
                            int64_t have)
{
    char text[SC_HASH_STATE_SIZE];
    struct stat sb;
    uint64_t fed;
    FILE *fp;

    if (sc_hash_state(h, text, &fed) < 0 || fed != (uint64_t)have ||
        fstat(fd, &sb) != 0 || sb.st_size != have || !(fp = fopen(spath, "w")))
        return;
    fprintf(fp, "part %ju %ju %jd %jd %ld\n%s\n", (uintmax_t)sb.st_dev,
            (uintmax_t)sb.st_ino, (intmax_t)sb.st_size,
            (intmax_t)sb.st_mtim.tv_sec, (long)sb.st_mtim.tv_nsec, text);
    if (fclose(fp) != 0)
        unlink(spath);
}

/* Make H the hash of the HAVE bytes of the part FD from the state in SPATH
 * when it was saved for this very part (same file, size and time of the
 * last change). Returns 1 when it was, else 0 (H untouched). */
static int part_state_load(const char *spath, int fd, sc_hash *h, int64_t have)
{
    char line[128], text[SC_HASH_STATE_SIZE];
    uintmax_t dev, ino, len;
    intmax_t size, sec;
    long nsec;
    struct stat sb;
    uint64_t fed;
    FILE *fp = fopen(spath, "r");
    int ok;

    if (!fp)
        return 0;
    ok = fgets(line, sizeof line, fp) && fgets(text, sizeof text, fp) &&
         sscanf(line, "part %ju %ju %jd %jd %ld", &dev, &ino, &size, &sec,
                &nsec) == 5 &&
         fstat(fd, &sb) == 0 && dev == (uintmax_t)sb.st_dev &&
         ino == (uintmax_t)sb.st_ino && size == have && sb.st_size == have &&
         sec == (intmax_t)sb.st_mtim.tv_sec && nsec == (long)sb.st_mtim.tv_nsec;
    fclose(fp);
    /* the state's own length first: a failed resume leaves H untouched */
    return ok && sscanf(text, "sha256 %ju", &len) == 1 &&
           len == (uintmax_t)have && sc_hash_resume(h, text, &fed) == 0;
}

/* One request for the rest of the part. Returns OK/RETRY/FATAL with *RC
 * set for the last two; on OK, *TOTAL is the full size the server
 * announced (-1 if it did not). */
static int attempt_download(const sc_http_opts *o, sc_http_fetch *f,
                            struct xfer *x, int64_t *total, int *rc)
{
    char errbuf[CURL_ERROR_SIZE], range[48];
    curl_off_t cl = -1;
    CURLcode c;
    int what;

    x->status = 0;
    x->range_start = x->range_total = -1;
    x->body_started = x->restart = x->bad_range = x->io_err = 0;
    x->stalled = 0;
    x->last_now = 0;
    x->last_move = 0;
    if (!easy_new(o, f->url, x, errbuf))
        return *rc = sc_fail(SC_ENOMEM, "out of memory"), FATAL;
    if (x->have > 0) {
        snprintf(range, sizeof range, "%" PRId64 "-", x->have);
        curl_easy_setopt(x->curl, CURLOPT_RANGE, range);
    }
    f->attempts++;
    c = curl_easy_perform(x->curl);
    if (!x->body_started)
        x->status = response_status(x->curl);
    curl_easy_getinfo(x->curl, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
    curl_easy_cleanup(x->curl);
    x->curl = NULL;
    f->status = x->status;
    if (x->restart)
        f->restarted++;
    if (x->status == 416 && x->have > 0) {
        /* Nothing left to send: the part is whole if it has the size the
         * server (or the catalogue) gives; otherwise start over. */
        int64_t want = x->range_total >= 0 ? x->range_total : f->size;
        if (want == x->have) {
            *total = want;
            return OK;
        }
        sc_log_info("'%s': part of %" PRId64 " bytes does not fit, "
                    "starting over",
                    f->url, x->have);
        *rc = sc_fail(SC_ENET, "'%s': HTTP 416 Range Not Satisfiable", f->url);
        x->restart = 1;
        f->restarted++;
        return RETRY;
    }
    what = classify(f->url, c, x, errbuf, rc);
    if (what != OK)
        return what;
    if (x->status == 206) {
        f->resumed++;
        *total = x->range_total;
    } else {
        *total = cl;
    }
    return OK;
}

static int open_part(const char *part, int *fd)
{
    *fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (*fd < 0)
        return sc_fail(SC_EIO, "cannot create '%s': %s", part, strerror(errno));
    /* flock locks belong to the open file description: this also keeps
     * two threads of one process off the same file. */
    if (flock(*fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        close(*fd);
        *fd = -1;
        if (err == EWOULDBLOCK)
            return sc_fail(SC_EEXIST,
                           "'%s' is being written by another "
                           "download",
                           part);
        return sc_fail(SC_EIO, "cannot lock '%s': %s", part, strerror(err));
    }
    return 0;
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);

    return n >= k && !strcasecmp(s + n - k, suffix);
}

/* Refuse what cannot be the file asked for: nothing, an HTML page (an error
 * or login page sent with 200), a body compressed on the way, or, for HDF5,
 * a file without the signature (at 0, 512, 1024, ...). */
static int sniff(const sc_http_fetch *f, const struct xfer *x)
{
    static const char sig[8] = "\211HDF\r\n\032\n";
    unsigned char head[64];
    ssize_t n;
    size_t i = 0;

    if (x->have == 0)
        return sc_fail(SC_ECORRUPT, "'%s': empty (0 bytes)", f->url);
    if (x->encoded && !has_suffix(f->path, ".gz"))
        return sc_fail(SC_ECORRUPT,
                       "'%s': the server compressed it on the way "
                       "(Content-Encoding)",
                       f->url);
    n = pread(x->fd, head, sizeof head, 0);
    if (n < 0)
        return sc_fail(SC_EIO, "cannot read '%s.part': %s", f->path,
                       strerror(errno));
    while (i < (size_t)n && strchr(" \t\r\n", head[i]))
        i++;
    if (i + 3 <= (size_t)n && !memcmp(head + i, "\357\273\277", 3))
        i += 3; /* a UTF-8 byte order mark */
    if ((size_t)n - i >= 14 &&
        (!strncasecmp((char *)head + i, "<!doctype html", 14) ||
         !strncasecmp((char *)head + i, "<html", 5)))
        return sc_fail(SC_ECORRUPT, "'%s': an HTML page, not data", f->url);
    if (!f->hdf5)
        return 0;
    if (n >= 2 && head[0] == 0x1f && head[1] == 0x8b)
        return sc_fail(SC_ECORRUPT, "'%s': gzip-compressed, not HDF5", f->url);
    for (int64_t off = 0; off + 8 <= x->have; off = off ? off * 2 : 512) {
        char b[8];
        if (pread(x->fd, b, 8, (off_t)off) == 8 && !memcmp(b, sig, 8))
            return 0;
    }
    return sc_fail(SC_ECORRUPT, "'%s': not an HDF5 file", f->url);
}

/* After a whole transfer: sizes, digest, content, then durable rename. */
static int finish(sc_http_fetch *f, struct xfer *x, int64_t total,
                  const char *part)
{
    int rc;

    if (total >= 0 && x->have != total)
        return sc_fail(SC_ECORRUPT,
                       "'%s': got %" PRId64 " bytes, the "
                       "server announced %" PRId64,
                       f->url, x->have, total);
    if (f->size >= 0 && x->have != f->size)
        return sc_fail(SC_ECORRUPT,
                       "'%s': got %" PRId64 " bytes, "
                       "expected %" PRId64,
                       f->url, x->have, f->size);
    if (sc_hash_final(x->hash, f->digest) < 0)
        return SC_EUNSUP;
    f->got = x->have;
    if (f->sha256 && f->sha256[0] && strcasecmp(f->sha256, f->digest) != 0)
        return sc_fail(SC_ECORRUPT, "'%s': sha256 %s, expected %s", f->url,
                       f->digest, f->sha256);
    if ((rc = sniff(f, x)) < 0)
        return rc;
    if (fsync(x->fd) != 0)
        return sc_fail(SC_EIO, "cannot write '%s': %s", part, strerror(errno));
    if (rename(part, f->path) != 0)
        return sc_fail(SC_EIO, "cannot rename '%s' to '%s': %s", part, f->path,
                       strerror(errno));
    return 0;
}

int sc_http_download(const sc_http_opts *o, sc_http_fetch *f,
                     sc_http_progress_fn progress, void *ud)
{
    struct xfer x;
    struct stat sb;
    char *part = NULL, *spath = NULL;
    int64_t total = -1;
    int rc = 0, what = FATAL, not_http, hashed = 0;

    f->got = 0;
    f->digest[0] = '\0';
    f->status = 0;
    f->attempts = f->resumed = f->restarted = 0;
    f->kept = f->rehashed = 0;
    memset(&x, 0, sizeof x);
    x.o = o;
    x.fd = -1;
    x.progress = progress;
    x.ud = ud;
    x.max_file = f->size >= 0 ? f->size : -1;
    if (o->max_size && (x.max_file < 0 || (uint64_t)x.max_file > o->max_size))
        x.max_file = (int64_t)o->max_size;
    /* Only HTTP can continue a part; other protocols start over. */
    not_http = strncasecmp(f->url, "http://", 7) != 0 &&
               strncasecmp(f->url, "https://", 8) != 0;
    if (!(part = malloc(strlen(f->path) + 6)) ||
        !(spath = part_state_path(f->path))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    sprintf(part, "%s.part", f->path);
    if ((rc = open_part(part, &x.fd)) < 0 || (rc = sc_hash_new(&x.hash)) < 0)
        goto out;
    if (fstat(x.fd, &sb) != 0) {
        rc = sc_fail(SC_EIO, "cannot stat '%s': %s", part, strerror(errno));
        goto out;
    }
    x.have = sb.st_size;
    /* A part longer than the announced size cannot be continued. */
    if (x.have > 0 && (not_http || (f->size >= 0 && x.have > f->size))) {
        if (ftruncate(x.fd, 0) != 0) {
            rc = sc_fail(SC_EIO, "cannot truncate '%s': %s", part,
                         strerror(errno));
            goto out;
        }
        x.have = 0;
    }
    if (x.have > 0 && !part_state_load(spath, x.fd, x.hash, x.have)) {
        if ((rc = hash_part(x.fd, x.have, x.hash, part)) < 0)
            goto out;
        f->rehashed = x.have;
    }
    /* The part changes from here: its saved state would not match. */
    unlink(spath);
    hashed = 1;
    if (x.have > 0) {
        f->kept = x.have;
        if (progress)
            progress(ud, x.have);
    }
    if (lseek(x.fd, 0, SEEK_END) < 0) {
        rc = sc_fail(SC_EIO, "cannot seek '%s': %s", part, strerror(errno));
        goto out;
    }
    for (int attempt = 0;; attempt++) {
        what = attempt_download(o, f, &x, &total, &rc);
        if (what == OK)
            break;
        if (x.too_big) {
            hashed = 0;
            goto out_corrupt; /* never resume from too much data */
        }
        if (x.io_err || what == FATAL || attempt >= o->retries)
            goto out;
        if (x.bad_range || (f->status == 416 && x.restart)) {
            /* Drop the part: the server cannot continue it. */
            if (ftruncate(x.fd, 0) != 0 || lseek(x.fd, 0, SEEK_SET) < 0) {
                rc = sc_fail(SC_EIO, "cannot truncate '%s': %s", part,
                             strerror(errno));
                goto out;
            }
            if (progress)
                progress(ud, -x.have);
            x.have = 0;
            char tmp[SC_HASH_HEX_SIZE];
            if ((rc = sc_hash_final(x.hash, tmp)) < 0)
                goto out;
        }
        sc_log_info("%s; retry %d of %d from byte %" PRId64, sc_errmsg(),
                    attempt + 1, o->retries, x.have);
        if (backoff(o, attempt + 1) < 0) {
            rc = sc_fail(SC_EIO, "'%s': interrupted", f->url);
            goto out;
        }
    }
    hashed = 0; /* finish() ends the hash */
    rc = finish(f, &x, total, part);
out_corrupt:
    if (rc == SC_ECORRUPT)
        unlink(part); /* never resume from data known to be wrong */
out:
    /* A 404 or a bad URL leaves an empty part behind: remove it (while
     * the lock is held, so that no other download is using it). A part
     * kept for later keeps its hash too. */
    if (rc < 0 && x.fd >= 0 && x.have == 0)
        unlink(part);
    else if (rc < 0 && x.fd >= 0 && hashed)
        part_state_save(spath, x.fd, x.hash, x.have);
    if (x.fd >= 0)
        close(x.fd);
    sc_hash_free(x.hash);
    free(part);
    free(spath);
    return rc;
}

/* ---- file names from servers ---- */

int sc_http_name_check(const char *name)
{
    size_t len = strlen(name);

    if (len == 0)
        return sc_fail(SC_EREJECT, "unsafe file name '': empty");
    if (len > SC_HTTP_NAME_MAX)
        return sc_fail(SC_EREJECT,
                       "unsafe file name '%.40s...': longer "
                       "than %d bytes",
                       name, SC_HTTP_NAME_MAX);
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f)
            return sc_fail(SC_EREJECT,
                           "unsafe file name: contains control "
                           "character 0x%02x",
                           *p);
        if (*p == '/' || *p == '\\')
            return sc_fail(SC_EREJECT,
                           "unsafe file name '%s': contains "
                           "'%c'",
                           name, *p);
        /* what a shell or make would read as syntax when unquoted */
        if (strchr(SC_HTTP_NAME_SHELL, *p))
            return sc_fail(SC_EREJECT,
                           "unsafe file name '%s': contains '%c', "
                           "special to the shell",
                           name, *p);
    }
    if (name[0] == '.')
        return sc_fail(SC_EREJECT, "unsafe file name '%s': starts with '.'",
                       name);
    if (name[0] == '-')
        return sc_fail(SC_EREJECT,
                       "unsafe file name '%s': starts with '-' (an "
                       "option to a command)",
                       name);
    if ((len >= 5 && !strcmp(name + len - 5, ".part")) || strstr(name, ".tmp."))
        return sc_fail(SC_EREJECT,
                       "unsafe file name '%s': looks like a "
                       "temporary file",
                       name);
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int sc_http_name_from_url(const char *url, char **out)
{
    const char *s = url, *e, *seg, *sep = strstr(url, "://");
    char *name, *q;
    int rc;

    *out = NULL;
    if (sep) {
        /* scheme://authority/path?query#fragment: the path's last part. */
        s = sep + 3;
        s += strcspn(s, "/?#");
        e = s + strcspn(s, "?#");
    } else {
        e = s + strlen(s);
    }
    seg = e;
    while (seg > s && seg[-1] != '/')
        seg--;
    if (seg == e)
        return sc_fail(SC_EREJECT, "no file name in '%s'", url);
    if (!(name = malloc((size_t)(e - seg) + 1)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (q = name; seg < e; seg++) {
        int hi, lo;
        if (sep && *seg == '%' && seg + 2 < e &&
            (hi = hexval((unsigned char)seg[1])) >= 0 &&
            (lo = hexval((unsigned char)seg[2])) >= 0) {
            *q++ = (char)(hi * 16 + lo);
            seg += 2;
        } else {
            *q++ = *seg;
        }
    }
    *q = '\0';
    /* A decoded NUL ends the string early: refuse it like any control. */
    if ((size_t)(q - name) != strlen(name)) {
        free(name);
        return sc_fail(SC_EREJECT,
                       "unsafe file name in '%s': contains "
                       "control character 0x00",
                       url);
    }
    if ((rc = sc_http_name_check(name)) < 0) {
        free(name);
        return rc;
    }
    *out = name;
    return 0;
}
