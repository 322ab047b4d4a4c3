/* sc_err: error codes and the thread-local error message. */
/* SPDX-License-Identifier: MIT */
#include "sc_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define MSG_MAX 1024

static _Thread_local char msg[MSG_MAX];

int sc_fail(int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return code;
}

int sc_fail_ctx(int code, const char *fmt, ...)
{
    char ctx[MSG_MAX], old[MSG_MAX];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, msg, sizeof old);
    /* Long messages are cut; the return value is checked to say so. */
    if (snprintf(msg, sizeof msg, "%s: %s", ctx,
                 old[0] ? old : sc_strerror(code)) >= (int)sizeof msg)
        memcpy(msg + sizeof msg - 4, "...", 4);
    return code;
}

const char *sc_errmsg(void)
{
    return msg[0] ? msg : "unknown error";
}

void sc_err_clear(void)
{
    msg[0] = '\0';
}

const char *sc_strerror(int code)
{
    switch (code) {
    case SC_OK: return "success";
    case SC_ENOMEM: return "out of memory";
    case SC_EIO: return "input/output error";
    case SC_EINVAL: return "invalid argument";
    case SC_EFORMAT: return "invalid format";
    case SC_ECORRUPT: return "corrupt data";
    case SC_EHDF5: return "HDF5 error";
    case SC_EUNSUP: return "unsupported feature";
    case SC_ENOTFOUND: return "not found";
    case SC_EREGISTRY: return "registry error";
    case SC_ENET: return "network error";
    case SC_ECONFIG: return "configuration error";
    case SC_EEXIST: return "already exists";
    case SC_ERANGE: return "out of range";
    case SC_EREJECT: return "rejected";
    default: return "error";
    }
}
