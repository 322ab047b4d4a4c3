/* test_progress: modes, delay, throttling, formats, threads, clearing. */
/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <time.h>
#include <unistd.h>

#include "sc_log.h"
#include "sc_progress.h"
#include "unit.h"

/* stderr goes to a temporary file while a test looks at what is drawn. */
static FILE *capture;
static int saved_fd = -1;
static char drawn[4096];

static void capture_start(void)
{
    capture = tmpfile();
    saved_fd = unit_redirect_fd(STDERR_FILENO, fileno(capture));
}

/* What was written to stderr since capture_start (kept in DRAWN). */
static const char *captured(void)
{
    long n;

    fflush(stderr);
    n = ftell(capture);
    rewind(capture);
    n = (long)fread(drawn, 1, sizeof drawn - 1, capture);
    drawn[n < 0 ? 0 : n] = '\0';
    fseek(capture, 0, SEEK_END);
    return drawn;
}

static void capture_end(void)
{
    unit_restore_fd(STDERR_FILENO, saved_fd);
    fclose(capture);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, ms % 1000 * 1000000L};

    nanosleep(&ts, NULL);
}

static void test_modes(void)
{
    sc_progress *p;

    CHECK(sc_progress_new("x", 10, 0, SC_PROGRESS_OFF) == NULL);
    capture_start();
    /* stderr is a file now, not a terminal */
    CHECK(sc_progress_new("x", 10, 0, SC_PROGRESS_AUTO) == NULL);
    CHECK((p = sc_progress_new("x", 10, 0, SC_PROGRESS_ON)) != NULL);
    sc_progress_done(p);
    /* NULL is accepted everywhere. */
    sc_progress_set_unit(NULL, "x");
    sc_progress_set_total(NULL, 1);
    sc_progress_update(NULL, 1);
    sc_progress_add(NULL, 1);
    CHECK_INTEQ(sc_progress_value(NULL), 0);
    sc_progress_done(NULL);
    CHECK_STREQ(captured(), "");
    capture_end();
}

static void test_delay(void)
{
    sc_progress *p;

    capture_start();
    p = sc_progress_new("quick", 10, 0, SC_PROGRESS_ON);
    sc_progress_update(p, 5);
    sc_progress_add(p, 5);
    CHECK_INTEQ(sc_progress_value(p), 10);
    sc_progress_done(p);
    CHECK_STREQ(captured(), ""); /* done within the first second */
    capture_end();
}

static void test_counts(void)
{
    sc_progress *p;
    const char *s, *second;
    size_t first_len;

    capture_start();
    p = sc_progress_new("harmonize", 5000, SC_PROGRESS_NODELAY, SC_PROGRESS_ON);
    sc_progress_set_unit(p, "datasets");
    sc_progress_update(p, 1234);
    CHECK_STREQ(captured(), "\rtest: harmonize  1,234/5,000 datasets  24%");
    first_len = strlen(drawn);
    sc_progress_update(p, 2000); /* too soon: not drawn */
    CHECK_INTEQ(strlen(captured()), first_len);
    sleep_ms(250);
    sc_progress_update(p, 2500);
    s = captured();
    CHECK((second = strchr(s + 1, '\r')) != NULL);
    CHECK(
        second &&
        !strncmp(second, "\rtest: harmonize  2,500/5,000 datasets  50%  ", 45));
    CHECK(strstr(s, "/s  ETA 0:0")); /* about 10,000 a second */
    sleep_ms(250);
    sc_progress_update(p, 6000); /* more than the total */
    CHECK(strstr(captured(), "6,000/5,000 datasets  100%  "));
    CHECK(!strstr(strrchr(drawn, '\r'), "ETA"));
    sc_progress_done(p);
    s = captured();
    s = strrchr(s, '\r') - 1;
    CHECK(s[0] == ' ' && s[1] == '\r' && s[2] == '\0'); /* cleared */
    capture_end();
}

static void test_unknown_total(void)
{
    sc_progress *p;
    const char *s;
    size_t prev_len;

    capture_start();
    p = sc_progress_new("scan", 0, SC_PROGRESS_NODELAY, SC_PROGRESS_ON);
    sc_progress_add(p, 1234567);
    CHECK_STREQ(captured(), "\rtest: scan  1,234,567");
    sleep_ms(250);
    sc_progress_add(p, 1);
    s = strrchr(captured(), '\r');
    CHECK(!strncmp(s, "\rtest: scan  1,234,568  ", 24));
    CHECK(strstr(s, "/s") && !strchr(s, '%') && !strstr(s, "ETA"));

    /* A shorter line is padded over the longer one before it. */
    prev_len = strlen(s);
    sleep_ms(250);
    sc_progress_update(p, 1);
    s = strrchr(captured(), '\r');
    CHECK(!strncmp(s, "\rtest: scan  1  ", 16));
    CHECK_INTEQ(strlen(s), prev_len);
    CHECK(s[prev_len - 1] == ' ');

    sc_progress_set_total(p, 2);
    sleep_ms(250);
    sc_progress_update(p, 1);
    s = strrchr(captured(), '\r');
    CHECK(!strncmp(s, "\rtest: scan  1/2  50%  ", 23));
    sc_progress_done(p);
    capture_end();
}

static void test_bytes(void)
{
    sc_progress *p;
    const char *s;

    capture_start();
    p = sc_progress_new("download", 4 << 20,
                        SC_PROGRESS_BYTES | SC_PROGRESS_NODELAY,
                        SC_PROGRESS_ON);
    sc_progress_update(p, 3 << 19);
    CHECK_STREQ(captured(), "\rtest: download  1.5 MiB/4.0 MiB  37%");
    sleep_ms(250);
    sc_progress_update(p, 2 << 20);
    s = strrchr(captured(), '\r');
    CHECK(!strncmp(s, "\rtest: download  2.0 MiB/4.0 MiB  50%  ", 39));
    CHECK(strstr(s, " MiB/s  ETA 0:0"));
    sc_progress_done(p);

    p = sc_progress_new("small", 3000, SC_PROGRESS_BYTES | SC_PROGRESS_NODELAY,
                        SC_PROGRESS_ON);
    sc_progress_update(p, 512);
    CHECK(strstr(captured(), "\rtest: small  512 B/2.9 KiB  17%"));
    sc_progress_done(p);
    capture_end();
}

static void test_eta_hours(void)
{
    sc_progress *p;
    const char *s;

    capture_start();
    p = sc_progress_new("long", 1000000000, SC_PROGRESS_NODELAY,
                        SC_PROGRESS_ON);
    sc_progress_update(p, 0);
    sleep_ms(250);
    sc_progress_update(p, 1000);
    s = strstr(captured(), "ETA ");
    CHECK(s && strchr(s, ':') && strchr(strchr(s, ':') + 1, ':'));
    sc_progress_done(p);
    capture_end();
}

static void *adder(void *arg)
{
    int i;

    for (i = 0; i < 100000; i++)
        sc_progress_add(arg, 1);
    return NULL;
}

static void test_threads(void)
{
    pthread_t t[4];
    sc_progress *p;
    int i;

    capture_start();
    p = sc_progress_new("par", 400000, SC_PROGRESS_NODELAY, SC_PROGRESS_ON);
    for (i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, adder, p);
    for (i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    CHECK_INTEQ(sc_progress_value(p), 400000);
    sc_progress_done(p);
    CHECK(!strncmp(captured(), "\rtest: par  ", 12));
    capture_end();
}

/* The monotonic clock goes forward with real time (a 30 ms sleep moves it
 * by at least that much and by less than a minute), never back. */
static void test_mono(void)
{
    struct timespec d = {0, 30 * 1000 * 1000};
    int64_t a = sc_mono_ns(), b, c;

    CHECK(a > 0);
    b = sc_mono_ns();
    CHECK(b >= a);
    nanosleep(&d, NULL);
    c = sc_mono_ns();
    CHECK(c - b >= 30 * 1000 * 1000);
    CHECK(c - b < 60LL * 1000 * 1000 * 1000);
}

int main(void)
{
    sc_log_init("test", SC_LOG_WARN);
    RUN(test_modes);
    RUN(test_delay);
    RUN(test_counts);
    RUN(test_unknown_total);
    RUN(test_bytes);
    RUN(test_eta_hours);
    RUN(test_threads);
    RUN(test_mono);
    return UNIT_DONE();
}
