/* unit.h: a tiny TAP-producing unit test harness (header only). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_UNIT_H
#define SC_UNIT_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int unit_failed_checks; /* in the current test */
static int unit_n, unit_nfail;

/* CHECK(cond): report file and line on failure, keep going. */
#define CHECK(c)                                                               \
    do {                                                                       \
        if (!(c)) {                                                            \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c);   \
            unit_failed_checks++;                                              \
        }                                                                      \
    } while (0)

#define CHECK_STREQ(a, b)                                                      \
    do {                                                                       \
        const char *a_ = (a), *b_ = (b);                                       \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                               \
            printf("#   %s:%d: '%s' != '%s'\n", __FILE__, __LINE__,            \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                    \
            unit_failed_checks++;                                              \
        }                                                                      \
    } while (0)

#define CHECK_INTEQ(a, b)                                                      \
    do {                                                                       \
        long long a_ = (long long)(a), b_ = (long long)(b);                    \
        if (a_ != b_) {                                                        \
            printf("#   %s:%d: %s == %lld, expected %lld\n", __FILE__,         \
                   __LINE__, #a, a_, b_);                                      \
            unit_failed_checks++;                                              \
        }                                                                      \
    } while (0)

/* RUN(fn): run one test function, print a TAP line for it. */
#define RUN(fn)                                                                \
    do {                                                                       \
        unit_failed_checks = 0;                                                \
        fn();                                                                  \
        unit_n++;                                                              \
        if (unit_failed_checks)                                                \
            unit_nfail++;                                                      \
        printf("%s %d - %s\n", unit_failed_checks ? "not ok" : "ok", unit_n,   \
               #fn);                                                           \
        fflush(stdout);                                                        \
    } while (0)

/* End of main(): the plan line and the exit status. */
#define UNIT_DONE() (printf("1..%d\n", unit_n), unit_nfail ? 1 : 0)

/* Where the test data lives (tests/data), set by tests/run-tests.sh. */
static inline const char *unit_data_dir(void)
{
    const char *d = getenv("SC_TEST_DATA");
    return d ? d : "tests/data";
}

/* Make descriptor FD (0, 1 or 2) refer to what TO refers to, after flushing
 * stdio; returns a copy of the old FD for unit_restore_fd(). */
static inline int unit_redirect_fd(int fd, int to)
{
    int saved;

    fflush(stdout);
    fflush(stderr);
    saved = dup(fd);
    dup2(to, fd);
    return saved;
}

static inline void unit_restore_fd(int fd, int saved)
{
    fflush(stdout);
    fflush(stderr);
    dup2(saved, fd);
    close(saved);
}

/* Read stdin from the file PATH; returns what unit_restore_fd(0, ...)
 * needs. */
static inline int unit_stdin_from(const char *path)
{
    int fd = open(path, O_RDONLY), saved = unit_redirect_fd(STDIN_FILENO, fd);

    close(fd);
    return saved;
}

/* Create a fresh directory "/tmp/sc_NAME.XXXXXX" into BUF; 0 or -1. */
static inline int unit_mkdtemp(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "/tmp/sc_%s.XXXXXX", name);
    return mkdtemp(buf) ? 0 : -1;
}

#endif
