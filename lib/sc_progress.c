/* sc_progress: a delayed, throttled progress line on stderr. */
/* SPDX-License-Identifier: MIT */
#include "sc_progress.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sc_log.h"

#define NS_PER_S     1000000000LL
#define DELAY_NS     NS_PER_S       /* nothing shown before this */
#define INTERVAL_NS  (NS_PER_S / 5) /* at most five redraws a second */
#define RATE_MIN_S   0.2            /* no rate (nor ETA) before this */
#define LINE_MAX_LEN 256

struct sc_progress {
    char what[64];
    char unit[32];
    unsigned flags;
    int64_t start_ns;
    _Atomic uint64_t done;
    _Atomic uint64_t total;
    _Atomic int64_t next_ns; /* earliest time of the next redraw */
    pthread_mutex_t lock;    /* one drawer at a time; guards shown */
    size_t shown;            /* length of the line on screen, 0 if none */
};

static void clear_for_log(void *arg);

int64_t sc_mono_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * NS_PER_S + ts.tv_nsec;
}

sc_progress *sc_progress_new(const char *what, uint64_t total, unsigned flags,
                             int mode)
{
    sc_progress *p;

    if (mode == SC_PROGRESS_OFF ||
        (mode != SC_PROGRESS_ON && !isatty(STDERR_FILENO)))
        return NULL;
    if (!(p = calloc(1, sizeof *p)))
        return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        free(p);
        return NULL;
    }
    snprintf(p->what, sizeof p->what, "%s", what ? what : "");
    p->flags = flags;
    p->start_ns = sc_mono_ns();
    atomic_init(&p->done, 0);
    atomic_init(&p->total, total);
    atomic_init(&p->next_ns,
                p->start_ns + (flags & SC_PROGRESS_NODELAY ? 0 : DELAY_NS));
    sc_log_set_hook(clear_for_log, p);
    return p;
}

/* Blank the line on screen (caller holds the lock). */
static void clear_line(sc_progress *p)
{
    char buf[LINE_MAX_LEN + 2];

    if (!p->shown)
        return;
    buf[0] = '\r';
    memset(buf + 1, ' ', p->shown);
    buf[p->shown + 1] = '\r';
    fwrite(buf, 1, p->shown + 2, stderr);
    fflush(stderr);
    p->shown = 0;
}

/* sc_log hook: a message clears the line; the next update redraws it. */
static void clear_for_log(void *arg)
{
    sc_progress *p = arg;

    pthread_mutex_lock(&p->lock);
    clear_line(p);
    pthread_mutex_unlock(&p->lock);
}

void sc_progress_set_unit(sc_progress *p, const char *unit)
{
    if (p)
        snprintf(p->unit, sizeof p->unit, "%s", unit ? unit : "");
}

void sc_progress_set_total(sc_progress *p, uint64_t total)
{
    if (p)
        atomic_store(&p->total, total);
}

uint64_t sc_progress_value(const sc_progress *p)
{
    return p ? atomic_load(&((sc_progress *)p)->done) : 0;
}

/* ---- formatting ---- */

/* 1234567 as "1,234,567". */
static char *fmt_count(char *buf, size_t size, uint64_t v)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%" PRIu64, v), i, j = 0;

    for (i = 0; i < n && j + 2 < (int)size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[j++] = ',';
        buf[j++] = digits[i];
    }
    buf[j] = '\0';
    return buf;
}

/* 1572864 as "1.5 MiB". */
static char *fmt_bytes(char *buf, size_t size, double v)
{
    static const char *const units[] = {"KiB", "MiB", "GiB", "TiB", "PiB"};
    int u = -1;

    if (v < 1024) {
        snprintf(buf, size, "%.0f B", v);
        return buf;
    }
    while (v >= 1024 && u < 4) {
        v /= 1024;
        u++;
    }
    snprintf(buf, size, "%.1f %s", v, units[u]);
    return buf;
}

static char *fmt_amount(const sc_progress *p, char *buf, size_t size,
                        uint64_t v)
{
    return p->flags & SC_PROGRESS_BYTES ? fmt_bytes(buf, size, (double)v)
                                        : fmt_count(buf, size, v);
}

/* "  12.5/s", "  1,234/s" or "  3.2 MiB/s". */
static void fmt_rate(const sc_progress *p, char *buf, size_t size, double per_s)
{
    char v[32];

    if (p->flags & SC_PROGRESS_BYTES)
        snprintf(buf, size, "  %s/s", fmt_bytes(v, sizeof v, per_s));
    else if (per_s < 100)
        snprintf(buf, size, "  %.1f/s", per_s);
    else
        snprintf(buf, size, "  %s/s", fmt_count(v, sizeof v, (uint64_t)per_s));
}

/* "  ETA 0:42" or "  ETA 1:02:03". */
static void fmt_eta(char *buf, size_t size, double secs)
{
    uint64_t s = (uint64_t)(secs + 0.5);

    if (s >= 3600)
        snprintf(buf, size, "  ETA %" PRIu64 ":%02u:%02u", s / 3600,
                 (unsigned)(s / 60 % 60), (unsigned)(s % 60));
    else
        snprintf(buf, size, "  ETA %u:%02u", (unsigned)(s / 60),
                 (unsigned)(s % 60));
}

/* The line for DONE of TOTAL after ELAPSED seconds (without "\r"). */
static int format_line(const sc_progress *p, char *line, size_t size,
                       uint64_t done, uint64_t total, double elapsed)
{
    char a[32], b[32] = "", pct[16] = "", rate[48] = "", eta[48] = "";
    double per_s = elapsed >= RATE_MIN_S ? (double)done / elapsed : 0;

    fmt_amount(p, a, sizeof a, done);
    if (total) {
        b[0] = '/';
        fmt_amount(p, b + 1, sizeof b - 1, total);
        snprintf(pct, sizeof pct, "  %d%%",
                 done >= total ? 100
                               : (int)(100.0 * (double)done / (double)total));
    }
    if (per_s > 0) {
        fmt_rate(p, rate, sizeof rate, per_s);
        if (total && done < total)
            fmt_eta(eta, sizeof eta, (double)(total - done) / per_s);
    }
    return snprintf(line, size, "%s: %s  %s%s%s%s%s%s%s", sc_log_prog(),
                    p->what, a, b, p->unit[0] ? " " : "", p->unit, pct, rate,
                    eta);
}

/* ---- drawing ---- */

/* Write "\r" LINE, padded with spaces over what was on screen before. */
static void draw(sc_progress *p, const char *line, size_t len)
{
    char buf[2 * LINE_MAX_LEN + 2];
    size_t n = 0;

    buf[n++] = '\r';
    memcpy(buf + n, line, len);
    n += len;
    if (p->shown > len) {
        memset(buf + n, ' ', p->shown - len);
        n += p->shown - len;
    }
    fwrite(buf, 1, n, stderr);
    fflush(stderr);
    p->shown = len;
}

static void maybe_draw(sc_progress *p)
{
    char line[LINE_MAX_LEN];
    int64_t now = sc_mono_ns();
    int len;

    if (now < atomic_load_explicit(&p->next_ns, memory_order_relaxed))
        return;
    if (pthread_mutex_trylock(&p->lock) != 0)
        return; /* another thread is drawing */
    if (now >= atomic_load(&p->next_ns)) {
        atomic_store(&p->next_ns, now + INTERVAL_NS);
        len = format_line(p, line, sizeof line, atomic_load(&p->done),
                          atomic_load(&p->total),
                          (double)(now - p->start_ns) / NS_PER_S);
        if (len >= (int)sizeof line)
            len = (int)sizeof line - 1;
        draw(p, line, (size_t)len);
    }
    pthread_mutex_unlock(&p->lock);
}

void sc_progress_update(sc_progress *p, uint64_t done)
{
    if (!p)
        return;
    atomic_store(&p->done, done);
    maybe_draw(p);
}

void sc_progress_add(sc_progress *p, uint64_t n)
{
    if (!p)
        return;
    atomic_fetch_add(&p->done, n);
    maybe_draw(p);
}

void sc_progress_done(sc_progress *p)
{
    if (!p)
        return;
    sc_log_set_hook(NULL, NULL);
    pthread_mutex_lock(&p->lock);
    clear_line(p);
    pthread_mutex_unlock(&p->lock);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
