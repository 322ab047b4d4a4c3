/* sc_open: detect the format of an input and open it as an sc_adata. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* pipe2 */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc_adata.h"
#include "sc_h5.h"

static int has_suffix(const char *s, const char *suf)
{
    size_t a = strlen(s), b = strlen(suf);

    return a >= b && strcmp(s + a - b, suf) == 0;
}

static sc_format detect_h5(const char *path)
{
    hid_t f;
    sc_format fmt = SC_FMT_UNKNOWN;

    if (sc_h5_open_ro(path, &f) < 0) {
        sc_err_clear();
        return SC_FMT_UNKNOWN;
    }
    if (sc_h5_is_group(f, "matrix") && sc_h5_is_group(f, "matrix/features"))
        fmt = SC_FMT_10X_H5_V3;
    else if (sc_h5_is_dataset(f, "matrix") &&
             (sc_h5_exists(f, "row_attrs") || sc_h5_exists(f, "col_attrs")))
        fmt = SC_FMT_LOOM;
    else if (sc_h5_exists(f, "obs") || sc_h5_exists(f, "var"))
        fmt = SC_FMT_H5AD; /* the h5ad reader says which one is missing */
    else {
        /* Cell Ranger <= 2: a group per genome holding barcodes + genes. */
        char **names = NULL;
        int64_t n = 0;
        if (sc_h5_list(f, &names, &n) == 0) {
            for (int64_t i = 0; i < n && fmt == SC_FMT_UNKNOWN; i++) {
                char p[600];
                snprintf(p, sizeof p, "%s/barcodes", names[i]);
                if (sc_h5_is_group(f, names[i]) && sc_h5_exists(f, p)) {
                    snprintf(p, sizeof p, "%s/genes", names[i]);
                    if (sc_h5_exists(f, p))
                        fmt = SC_FMT_10X_H5_V2;
                }
            }
        }
        sc_err_clear();
        sc_strv_free(names, n);
    }
    H5Fclose(f);
    return fmt;
}

static int is_mtx(const char *path)
{
    return has_suffix(path, ".mtx") || has_suffix(path, ".mtx.gz");
}

sc_format sc_adata_detect(const char *path)
{
    struct stat st;

    if (stat(path, &st) < 0)
        return SC_FMT_UNKNOWN;
    if (S_ISDIR(st.st_mode) || is_mtx(path))
        return SC_FMT_10X_MTX;
    return detect_h5(path);
}

int sc_adata_open(const char *path, unsigned flags, sc_adata **out)
{
    struct stat st;
    sc_format fmt;

    *out = NULL;
    sc_h5_init();
    if (stat(path, &st) < 0)
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
        return sc_fail(SC_EFORMAT,
                       "'%s': not a regular file or directory (a FIFO or "
                       "device is refused)",
                       path);
    fmt = sc_adata_detect(path);
    switch (fmt) {
    case SC_FMT_H5AD: return sc_h5ad_open(path, flags, out);
    case SC_FMT_10X_H5_V2:
    case SC_FMT_10X_H5_V3: return sc_tenx_h5_open(path, flags, out);
    case SC_FMT_10X_MTX: return sc_tenx_mtx_open(path, flags, out);
    case SC_FMT_LOOM: return sc_loom_open(path, flags, out);
    default: break;
    }
    /* Not a format we know: say why as precisely as we can. */
    {
        hid_t f;
        int rc = sc_h5_open_ro(path, &f);
        if (rc < 0)
            return rc;
        H5Fclose(f);
    }
    return sc_fail(SC_EFORMAT,
                   "'%s': an HDF5 file but not h5ad, 10x or "
                   "loom (no obs/var, matrix or genome groups)",
                   path);
}

int sc_adata_check_x(sc_adata *ad)
{
    double sum;
    int64_t nnz;
    int rc;

    if (!ad->X || !ad->X->mat || (rc = sc_mat_sum(ad->X->mat, &sum, &nnz)) >= 0)
        return 0;
    return strstr(sc_errmsg(), ad->path) ? rc
                                         : sc_fail_ctx(rc, "'%s'", ad->path);
}

/* The child of sc_adata_probe: open PATH as the tool would, write its
 * verdict ('0' opened, '1' an ordinary error) as one byte on FD and exit.
 * A child that ends without writing it died inside the open (a signal, or
 * a sanitizer's report, which exits with an ordinary status). It runs in a fresh process (the tool's own binary executed again, see
 * probe_entry), never in a forked copy of the tool: a fork of a threaded
 * tool copies the locks other threads hold (libhdf5's, the allocator's),
 * and a child that then calls into libhdf5 can wait for them forever.
 * Fatal signals kill it outright (a sanitizer's handlers would turn them
 * into an exit status); _exit skips atexit handlers. */
static void probe_child(const char *path, unsigned flags, int fd)
{
    static const int fatal[] = {SIGSEGV, SIGBUS,  SIGFPE, SIGILL,
                                SIGABRT, SIGTERM, SIGINT, SIGHUP};
    const char *crash = getenv("SC_PROBE_CRASH");
    sc_adata *ad = NULL;
    int rc;

    for (size_t i = 0; i < sizeof fatal / sizeof *fatal; i++)
        signal(fatal[i], SIG_DFL);
    /* test hook (documented in sc(7)): a probe of a file whose name
     * contains $SC_PROBE_CRASH dies as a crash inside libhdf5 would */
    if (crash && *crash && strstr(path, crash))
        raise(SIGSEGV);
    rc = sc_adata_open(path, flags, &ad);
    if (fd >= 0 && write(fd, rc < 0 ? "1" : "0", 1) != 1)
        _exit(2);
    _exit(rc < 0 ? 1 : 0);
}

/* The environment variables that make a process the probe of one file. */
#define PROBE_ENV_PATH  "SC_INTERNAL_PROBE_PATH"
#define PROBE_ENV_FLAGS "SC_INTERNAL_PROBE_FLAGS"
#define PROBE_ENV_FD    "SC_INTERNAL_PROBE_FD"

/* Before main: a process started by sc_adata_probe with PROBE_ENV_PATH
 * set is that file's probe, and ends in probe_child. Every tool that
 * probes links this file, so its binary can be its own probe. */
__attribute__((constructor)) static void probe_entry(void)
{
    const char *path = getenv(PROBE_ENV_PATH);
    const char *flags = getenv(PROBE_ENV_FLAGS);
    const char *fd = getenv(PROBE_ENV_FD);

    if (path)
        probe_child(path, flags ? (unsigned)strtoul(flags, NULL, 10) : 0,
                    fd ? atoi(fd) : -1);
}

/* The environment of a probe of PATH with FLAGS, answering on FD: this
 * process's, without earlier probe entries, and the three probe entries.
 * NULL when out of memory. Free with free_env. */
static char **probe_env(const char *path, unsigned flags, int fd)
{
    extern char **environ;
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    if (!(env = calloc(n + 4, sizeof *env)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SC_INTERNAL_PROBE_", 18) != 0)
            env[k++] = environ[i];
    size_t lp = strlen(PROBE_ENV_PATH) + strlen(path) + 2;
    if (!(env[k] = malloc(lp)) || !(env[k + 1] = malloc(64)) ||
        !(env[k + 2] = malloc(64))) {
        free(env[k]);
        free(env[k + 1]);
        free(env);
        return NULL;
    }
    snprintf(env[k], lp, "%s=%s", PROBE_ENV_PATH, path);
    snprintf(env[k + 1], 64, "%s=%u", PROBE_ENV_FLAGS, flags);
    snprintf(env[k + 2], 64, "%s=%d", PROBE_ENV_FD, fd);
    return env;
}

/* Free what probe_env allocated (its own three entries and the array). */
static void free_env(char **env)
{
    size_t n = 0;

    while (env[n])
        n++;
    free(env[n - 3]);
    free(env[n - 2]);
    free(env[n - 1]);
    free(env);
}

/* How long the probe may take: PROBE_BASE_S plus one second per
 * PROBE_BYTES_PER_S of file (an open reads obs, var and uns, a small part
 * of the file; this is generous even on a loaded machine). */
#define PROBE_BASE_S      120
#define PROBE_BYTES_PER_S ((int64_t)4 << 20)

/* The files probed lately, by identity: the same file (a hard link, or
 * an input named twice) is probed once. */
#define PROBE_MEMO 64
static struct probed {
    dev_t dev;
    ino_t ino;
    off_t size;
    time_t mtime;
    unsigned flags;
} probe_memo[PROBE_MEMO];
static unsigned probe_memo_next;
static pthread_mutex_t probe_lock = PTHREAD_MUTEX_INITIALIZER;

/* 1 if ST was probed with FLAGS; else remember it when ADD. */
static int probe_seen(const struct stat *st, unsigned flags, int add)
{
    int seen = 0;

    pthread_mutex_lock(&probe_lock);
    for (unsigned i = 0; i < PROBE_MEMO && !seen; i++) {
        const struct probed *p = &probe_memo[i];
        seen = p->ino == st->st_ino && p->dev == st->st_dev &&
               p->size == st->st_size && p->mtime == st->st_mtime &&
               p->flags == flags && p->ino;
    }
    if (!seen && add) {
        struct probed *p = &probe_memo[probe_memo_next++ % PROBE_MEMO];
        p->dev = st->st_dev;
        p->ino = st->st_ino;
        p->size = st->st_size;
        p->mtime = st->st_mtime;
        p->flags = flags;
    }
    pthread_mutex_unlock(&probe_lock);
    return seen;
}

int sc_adata_probe(const char *path, unsigned flags)
{
    struct stat st;
    struct pollfd pfd;
    int64_t limit_ms, limit_s;
    const char *t;
    pid_t pid;
    int status, fds[2], null = -1, hung = 0;
    char verdict = 0;

    /* MTX folders are parsed by our own code, not libhdf5 */
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || is_mtx(path) ||
        probe_seen(&st, flags, 0))
        return 0;
    limit_s = PROBE_BASE_S + (int64_t)st.st_size / PROBE_BYTES_PER_S;
    if ((t = getenv("SC_PROBE_TIMEOUT")) && atoi(t) > 0) /* for tests */
        limit_s = atoi(t);
    limit_ms = 1000 * limit_s;
    /* everything the child needs is made before the fork: between fork
     * and exec it calls only async-signal-safe functions */
    static char *const argv[] = {"sc-probe", NULL};
    char **env;
    /* close-on-exec: a probe another thread starts at the same time must
     * not hold this pipe open (the answer is the pipe's end) */
    if (pipe2(fds, O_CLOEXEC) < 0)
        return 0; /* no probe; the open in the parent says what it must */
    /* the probe's stderr goes nowhere: what a crash inside libhdf5 prints
     * (a sanitizer's report) is not the user's error line */
    if ((null = open("/dev/null", O_WRONLY | O_CLOEXEC)) < 0 ||
        !(env = probe_env(path, flags, fds[1]))) {
        if (null >= 0)
            close(null);
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    if ((pid = fork()) < 0) {
        close(null);
        close(fds[0]);
        close(fds[1]);
        free_env(env);
        return 0;
    }
    if (pid == 0) {
        /* fds[1] stays open in the probe until it ends */
        if (fcntl(fds[1], F_SETFD, 0) < 0 || dup2(null, 2) < 0)
            _exit(127);
        execve("/proc/self/exe", argv, env);
        _exit(127); /* no probe: the parent opens the file itself */
    }
    free_env(env);
    close(null);
    close(fds[1]);
    /* the read end sees POLLHUP when the child ends, however it ends */
    pfd.fd = fds[0];
    pfd.events = POLLIN;
    for (;;) {
        int64_t step = limit_ms < INT32_MAX ? limit_ms : INT32_MAX;
        int r = poll(&pfd, 1, (int)step);
        if (r > 0) {
            while (read(fds[0], &verdict, 1) < 0 && errno == EINTR)
                ;
            break;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r == 0 && (limit_ms -= step) > 0)
            continue;
        hung = r == 0;
        kill(pid, SIGKILL);
        break;
    }
    close(fds[0]);
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR)
            return 0;
    if (hung)
        return sc_fail(SC_EFORMAT,
                       "'%s': libhdf5 hung reading it (no answer in %lld s)",
                       path, (long long)limit_s);
    if (WIFSIGNALED(status))
        return sc_fail(SC_EFORMAT,
                       "'%s': libhdf5 crashed reading it (signal %d)", path,
                       WTERMSIG(status));
    if (verdict != '0' && verdict != '1') {
        if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
            return 0; /* the probe did not start: the parent opens it */
        return sc_fail(SC_EFORMAT,
                       "'%s': libhdf5 crashed reading it (exit status %d)",
                       path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    probe_seen(&st, flags, 1);
    return 0;
}
