/* unit.h: a tiny TAP-producing unit test harness (header only). */
/* SPDX-License-Identifier: MIT */
#ifndef SC_UNIT_H
#define SC_UNIT_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int unit_failed_checks;   /* in the current test */
static int unit_n, unit_nfail;

/* CHECK(cond): report file and line on failure, keep going. */
#define CHECK(c)                                                              \
    do {                                                                      \
        if (!(c)) {                                                           \
            printf("#   %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #c);  \
            unit_failed_checks++;                                             \
        }                                                                     \
    } while (0)

#define CHECK_STREQ(a, b)                                                     \
    do {                                                                      \
        const char *a_ = (a), *b_ = (b);                                      \
        if (!a_ || !b_ || strcmp(a_, b_) != 0) {                              \
            printf("#   %s:%d: '%s' != '%s'\n", __FILE__, __LINE__,           \
                   a_ ? a_ : "(null)", b_ ? b_ : "(null)");                   \
            unit_failed_checks++;                                             \
        }                                                                     \
    } while (0)

#define CHECK_INTEQ(a, b)                                                     \
    do {                                                                      \
        long long a_ = (long long)(a), b_ = (long long)(b);                   \
        if (a_ != b_) {                                                       \
            printf("#   %s:%d: %s == %lld, expected %lld\n", __FILE__,        \
                   __LINE__, #a, a_, b_);                                     \
            unit_failed_checks++;                                             \
        }                                                                     \
    } while (0)

/* RUN(fn): run one test function, print a TAP line for it. */
#define RUN(fn)                                                               \
    do {                                                                      \
        unit_failed_checks = 0;                                               \
        fn();                                                                 \
        unit_n++;                                                             \
        if (unit_failed_checks)                                               \
            unit_nfail++;                                                     \
        printf("%s %d - %s\n", unit_failed_checks ? "not ok" : "ok", unit_n,  \
               #fn);                                                          \
        fflush(stdout);                                                       \
    } while (0)

/* End of main(): the plan line and the exit status. */
#define UNIT_DONE() (printf("1..%d\n", unit_n), unit_nfail ? 1 : 0)

/* Where the test data lives (tests/data), set by tests/run-tests.sh. */
static inline const char *unit_data_dir(void)
{
    const char *d = getenv("SC_TEST_DATA");
    return d ? d : "tests/data";
}

#endif
