/* sc_share: where the reference data (share/) is found at run time. */
/* SPDX-License-Identifier: MIT */
#include "sc_share.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char explicit_dir[PATH_MAX];
static char found_dir[PATH_MAX];
static int found;

static int is_dir(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static int is_file(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* Copy DIR into BUF without trailing slashes ("/" stays "/"). */
static void set_clean(char *buf, const char *dir)
{
    size_t n = strlen(dir);

    while (n > 1 && dir[n - 1] == '/')
        n--;
    memcpy(buf, dir, n);
    buf[n] = '\0';
}

/* Try <exe dir>/REL; with MARKER, only if <that>/MARKER is a file. */
static int try_exe_relative(const char *exe_dir, const char *rel,
                            const char *marker)
{
    char path[PATH_MAX], probe[PATH_MAX], real[PATH_MAX];
    int n = snprintf(path, sizeof path, "%s/%s", exe_dir, rel);

    if (n < 0 || (size_t)n >= sizeof path || !is_dir(path))
        return 0;
    if (marker) {
        n = snprintf(probe, sizeof probe, "%s/%s", path, marker);
        if (n < 0 || (size_t)n >= sizeof probe || !is_file(probe))
            return 0;
    }
    /* Show a clean path in messages and --version, not "bin/../../share". */
    set_clean(found_dir, realpath(path, real) ? real : path);
    return 1;
}

static void search(void)
{
    const char *env = getenv("SC_SHARE");
    char exe[PATH_MAX], *slash;
    ssize_t n;

    if (*explicit_dir) {
        set_clean(found_dir, explicit_dir);
        return;
    }
    if (env && *env && strlen(env) < sizeof found_dir) {
        set_clean(found_dir, env);
        return;
    }
    n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = '\0';
        if ((slash = strrchr(exe, '/')))
            *slash = '\0';
        if (try_exe_relative(exe, "../share/sc", NULL) ||
            try_exe_relative(exe, "../../share", "SOURCES.md") ||
            try_exe_relative(exe, "../../../share", "SOURCES.md"))
            return;
    }
    set_clean(found_dir, SC_SHARE_DIR);
}

int sc_share_set_dir(const char *dir)
{
    if (dir && (!*dir || strlen(dir) >= sizeof explicit_dir))
        return sc_fail(SC_EINVAL, "invalid share directory '%s'", dir);
    pthread_mutex_lock(&lock);
    if (dir)
        set_clean(explicit_dir, dir);
    else
        explicit_dir[0] = '\0';
    found = 0;
    pthread_mutex_unlock(&lock);
    return 0;
}

const char *sc_share_dir(void)
{
    pthread_mutex_lock(&lock);
    if (!found) {
        search();
        found = 1;
    }
    pthread_mutex_unlock(&lock);
    return found_dir;
}

int sc_share_path(const char *rel, char *buf, size_t size)
{
    const char *dir = sc_share_dir();
    int n;

    while (*rel == '/')
        rel++;
    n = snprintf(buf, size, "%s/%s", dir, rel);
    if (n < 0 || (size_t)n >= size) {
        if (size)
            buf[0] = '\0';
        return sc_fail(SC_EINVAL, "path too long: '%s/%s'", dir, rel);
    }
    return 0;
}
