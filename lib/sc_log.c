/* sc_log: leveled logging to stderr for tools and the library. */
/* SPDX-License-Identifier: MIT */
#include "sc_log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

static const char *prog_name = "sc";
static int cur_level = SC_LOG_WARN;
static void (*hook_fn)(void *);
static void *hook_arg;

void sc_log_set_hook(void (*fn)(void *), void *arg)
{
    hook_fn = fn;
    hook_arg = arg;
}

void sc_log_init(const char *prog, int level)
{
    if (prog)
        prog_name = prog;
    cur_level = level;
}

void sc_log_set_level(int level)
{
    cur_level = level;
}

int sc_log_level(void)
{
    return cur_level;
}

const char *sc_log_prog(void)
{
    return prog_name;
}

static void emit(int level, const char *func, const char *fmt, va_list ap)
{
    char body[2048], line[2300];
    int saved = errno;
    const char *tag = level == SC_LOG_ERROR  ? "error: "
                      : level == SC_LOG_WARN ? "warning: "
                                             : "";

    vsnprintf(body, sizeof body, fmt, ap);
    if (func)
        snprintf(line, sizeof line, "%s: [%s] %s\n", prog_name, func, body);
    else
        snprintf(line, sizeof line, "%s: %s%s\n", prog_name, tag, body);
    fflush(stdout);
    if (hook_fn)
        hook_fn(hook_arg);
    fputs(line, stderr);
    errno = saved;
}

#define DEFINE_LOG(name, lvl)                                                  \
    void name(const char *fmt, ...)                                            \
    {                                                                          \
        va_list ap;                                                            \
        if (cur_level < (lvl))                                                 \
            return;                                                            \
        va_start(ap, fmt);                                                     \
        emit((lvl), NULL, fmt, ap);                                            \
        va_end(ap);                                                            \
    }

DEFINE_LOG(sc_log_error, SC_LOG_ERROR)
DEFINE_LOG(sc_log_warn, SC_LOG_WARN)
DEFINE_LOG(sc_log_info, SC_LOG_INFO)

void sc_log_debug_(const char *func, const char *fmt, ...)
{
    va_list ap;

    if (cur_level < SC_LOG_DEBUG)
        return;
    va_start(ap, fmt);
    emit(SC_LOG_DEBUG, func, fmt, ap);
    va_end(ap);
}
