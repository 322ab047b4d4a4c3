/* sc_open: detect the format of an input and open it as an sc_adata. */
/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* pipe2, MSG_CMSG_CLOEXEC */
#include <errno.h>
#include <fcntl.h>
#include <hdf5.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#endif

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
 * a sanitizer's report, which exits with an ordinary status). It is forked
 * by the probe server (probe_server), a single-threaded process started
 * from the tool's own binary, never by the tool: a fork of a threaded tool
 * copies the locks other threads hold (libhdf5's, the allocator's), and a
 * child that then calls into libhdf5 can wait for them forever.
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
    if (write(fd, rc < 0 ? "1" : "0", 1) != 1)
        _exit(2);
    _exit(rc < 0 ? 1 : 0);
}

/* The probe server's protocol. A request is one datagram on a
 * SOCK_SEQPACKET socket: the open flags (a uint32_t) and the path, with the
 * write end of an answer pipe attached (SCM_RIGHTS). On that pipe the
 * child writes its pid (a pid_t) then its verdict byte; the server, once
 * it has reaped the child, writes PROBE_STATUS and the wait status (an
 * int) and closes the pipe. The tool reads until the pipe's end. */
#define PROBE_ENV_SERVER "SC_INTERNAL_PROBE_SERVER"
#define PROBE_PATH_MAX   8192
#define PROBE_STATUS     'S'

/* A probe the server has started and not yet reaped. */
struct probe_pending {
    pid_t pid;
    int fd; /* the answer pipe's write end */
};

/* Receive one request on SOCK: its flags and path (NUL-terminated in
 * PATH) and the answer pipe in *FD (-1 if none came). 0 when the tool has
 * gone (the socket's end), -1 on a malformed request, 1 otherwise. */
static int probe_recv(int sock, unsigned *flags, char *path, int *fd)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    uint32_t fl;
    struct iovec iov[2] = {{&fl, sizeof fl}, {path, PROBE_PATH_MAX - 1}};
    struct msghdr m = {.msg_iov = iov,
                       .msg_iovlen = 2,
                       .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    ssize_t n;

    *fd = -1;
    while ((n = recvmsg(sock, &m, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n <= 0)
        return 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c))
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
            c->cmsg_len == CMSG_LEN(sizeof(int)))
            memcpy(fd, CMSG_DATA(c), sizeof(int));
    if (n <= (ssize_t)sizeof fl || (m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
        return -1;
    path[n - sizeof fl] = '\0';
    *flags = fl;
    return 1;
}

/* The probe server: started once per tool process (sc_adata_probe), it
 * forks one probe_child per request and reports each child's wait status.
 * Forking this small single-threaded process costs far less than
 * executing the tool's binary for every file (libhdf5 alone loads about
 * 35 shared libraries). It ends when the tool closes its socket. */
static void probe_server(int sock)
{
    struct probe_pending *pend = NULL;
    size_t npend = 0, cap = 0;
    char *path = malloc(PROBE_PATH_MAX);
    sigset_t chld;
    int sfd;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    signal(SIGPIPE, SIG_IGN); /* a tool that stopped waiting */
    if (!path || sigprocmask(SIG_BLOCK, &chld, NULL) < 0 ||
        (sfd = signalfd(-1, &chld, SFD_CLOEXEC)) < 0)
        _exit(1);
    H5open(); /* once, not in every child */
    for (;;) {
        struct pollfd p[2] = {{.fd = sock, .events = POLLIN},
                              {.fd = sfd, .events = POLLIN}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents & POLLIN) {
            struct signalfd_siginfo si;
            int status;
            pid_t pid;
            if (read(sfd, &si, sizeof si) < 0 && errno != EAGAIN)
                break;
            while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
                for (size_t i = 0; i < npend; i++) {
                    if (pend[i].pid != pid)
                        continue;
                    char rec[1 + sizeof status] = {PROBE_STATUS};
                    memcpy(rec + 1, &status, sizeof status);
                    if (write(pend[i].fd, rec, sizeof rec) < 0) {
                        /* the tool stopped waiting (a time limit) */
                    }
                    close(pend[i].fd);
                    pend[i] = pend[--npend];
                    break;
                }
        }
        if (!(p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        unsigned flags = 0;
        int fd, r = probe_recv(sock, &flags, path, &fd);
        if (r == 0)
            break;
        if (npend == cap && r > 0) {
            size_t nc = cap ? 2 * cap : 8;
            struct probe_pending *np = realloc(pend, nc * sizeof *np);
            if (np) {
                pend = np;
                cap = nc;
            }
        }
        if (r < 0 || fd < 0 || npend == cap) {
            if (fd >= 0)
                close(fd); /* no answer: the tool opens the file itself */
            continue;
        }
        pid_t pid = fork();
        if (pid == 0) {
            pid_t self = getpid();
            close(sock);
            close(sfd);
            for (size_t i = 0; i < npend; i++)
                close(pend[i].fd); /* only its own answer pipe */
            sigprocmask(SIG_UNBLOCK, &chld, NULL);
            signal(SIGPIPE, SIG_DFL);
            if (write(fd, &self, sizeof self) != sizeof self)
                _exit(2);
            probe_child(path, flags, fd);
        }
        if (pid < 0) {
            close(fd);
            continue;
        }
        pend[npend].pid = pid;
        pend[npend++].fd = fd;
    }
    _exit(0); /* no atexit handlers, no leak report of a process that
               * only forks */
}

/* Before main: a process started by sc_adata_probe with PROBE_ENV_SERVER
 * set is the probe server, and ends in probe_server. Every tool that
 * probes links this file, so its binary can be its own probe server. */
__attribute__((constructor)) static void probe_entry(void)
{
    const char *s = getenv(PROBE_ENV_SERVER);

    if (!s)
        return;
#if defined(__SANITIZE_ADDRESS__)
    /* a sanitizer's report of a probed open (libhdf5 failing on a hostile
     * file, what the probe is for) goes to the server's stderr, /dev/null,
     * even when the environment sends reports to files (tests/run-tests.sh
     * counts every report there as a failure) */
    __sanitizer_set_report_path("stderr");
#endif
    probe_server(atoi(s));
}

/* The environment of the probe server listening on FD: this process's,
 * without earlier probe entries, and PROBE_ENV_SERVER. NULL when out of
 * memory. Free with free_env. */
static char **probe_env(int fd)
{
    extern char **environ;
    size_t n = 0, k = 0;
    char **env;

    while (environ && environ[n])
        n++;
    if (!(env = calloc(n + 2, sizeof *env)))
        return NULL;
    for (size_t i = 0; i < n; i++)
        if (strncmp(environ[i], "SC_INTERNAL_PROBE_", 18) != 0)
            env[k++] = environ[i];
    if (!(env[k] = malloc(64))) {
        free(env);
        return NULL;
    }
    snprintf(env[k], 64, "%s=%d", PROBE_ENV_SERVER, fd);
    return env;
}

/* Free what probe_env allocated (its own entry and the array). */
static void free_env(char **env)
{
    size_t n = 0;

    while (env[n])
        n++;
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

/* The probe server of this process (probe_lock): its socket and pid. */
static int probe_sock = -1;
static pid_t probe_pid = -1;

/* A copy of FD numbered 3 or more, close-on-exec; FD is closed. So that
 * the server's own descriptors never sit on 0, 1 or 2 (a tool started
 * with a standard descriptor closed). -1 on failure. */
static int fd_above_std(int fd)
{
    int d;

    if (fd < 0 || fd > 2)
        return fd;
    d = fcntl(fd, F_DUPFD_CLOEXEC, 3);
    close(fd);
    return d;
}

/* Start the probe server: the tool's binary executed again with
 * PROBE_ENV_SERVER (probe_lock held). 0, or -1 (then no probe). */
static int probe_start(void)
{
    static char *const argv[] = {"sc-probe", NULL};
    int sv[2], null;
    char **env;
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
        return -1;
    sv[0] = fd_above_std(sv[0]);
    sv[1] = fd_above_std(sv[1]);
    null = fd_above_std(open("/dev/null", O_RDWR | O_CLOEXEC));
    /* everything the child needs is made before the fork: between fork
     * and exec it calls only async-signal-safe functions */
    env = sv[0] >= 0 && sv[1] >= 0 && null >= 0 ? probe_env(sv[1]) : NULL;
    pid = env ? fork() : -1;
    if (pid == 0) {
        /* the server's stdin, stdout and stderr go nowhere: what a crash
         * inside libhdf5 prints (a sanitizer's report) is not the user's
         * error line, and a pipe the tool writes to is not held open */
        if (fcntl(sv[1], F_SETFD, 0) < 0 || dup2(null, 0) < 0 ||
            dup2(null, 1) < 0 || dup2(null, 2) < 0)
            _exit(127);
        execve("/proc/self/exe", argv, env);
        _exit(127);
    }
    if (env)
        free_env(env);
    if (null >= 0)
        close(null);
    if (sv[1] >= 0)
        close(sv[1]);
    if (pid < 0) {
        if (sv[0] >= 0)
            close(sv[0]);
        return -1;
    }
    probe_sock = sv[0];
    probe_pid = pid;
    return 0;
}

/* Forget a probe server that stopped answering (probe_lock held). */
static void probe_stop(void)
{
    close(probe_sock);
    while (waitpid(probe_pid, NULL, 0) < 0 && errno == EINTR)
        ;
    probe_sock = -1;
    probe_pid = -1;
}

/* At the tool's end: close the server's socket and wait for it to end,
 * so that no process of the tool outlives it. */
__attribute__((destructor)) static void probe_end(void)
{
    if (probe_sock >= 0 && probe_pid > 0)
        probe_stop();
}

/* Send the request for PATH with FLAGS, answering on ANSWER, to the probe
 * server, starting it (again) if needed. 0, or -1 (then no probe). */
static int probe_send(const char *path, unsigned flags, int answer)
{
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    uint32_t fl = flags;
    struct iovec iov[2] = {{&fl, sizeof fl}, {(void *)path, strlen(path)}};
    struct msghdr m = {.msg_iov = iov,
                       .msg_iovlen = 2,
                       .msg_control = ctl.buf,
                       .msg_controllen = sizeof ctl.buf};
    struct cmsghdr *c;
    int rc = -1;

    memset(ctl.buf, 0, sizeof ctl.buf);
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &answer, sizeof(int));
    pthread_mutex_lock(&probe_lock);
    /* a server gone (it could not start, or was killed) is started once
     * more; a second failure means no probe for this file */
    for (int attempt = 0; attempt < 2 && rc < 0; attempt++) {
        if (probe_sock < 0 && probe_start() < 0)
            break;
        ssize_t n;
        while ((n = sendmsg(probe_sock, &m, MSG_NOSIGNAL)) < 0 &&
               errno == EINTR)
            ;
        if (n == (ssize_t)(sizeof fl + iov[1].iov_len))
            rc = 0;
        else
            probe_stop();
    }
    pthread_mutex_unlock(&probe_lock);
    return rc;
}

/* Read the answer pipe FD until its end or LIMIT_MS: into ANS (at most
 * CAP bytes; *N read). 1 if the time ran out, else 0. */
static int probe_read(int fd, int64_t limit_ms, char *ans, size_t cap,
                      size_t *n)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};

    *n = 0;
    for (;;) {
        int64_t step = limit_ms < INT32_MAX ? limit_ms : INT32_MAX;
        int r = poll(&pfd, 1, (int)step);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return 0;
        if (r == 0) {
            if ((limit_ms -= step) > 0)
                continue;
            return 1;
        }
        char buf[64];
        ssize_t k = read(fd, buf, sizeof buf);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return 0; /* the end: child and server are done with it */
        for (ssize_t i = 0; i < k && *n < cap; i++)
            ans[(*n)++] = buf[i];
    }
}

int sc_adata_probe(const char *path, unsigned flags)
{
    struct stat st;
    int64_t limit_s;
    const char *t;
    int fds[2], hung, status = 0, have_status = 0;
    char ans[32], verdict = 0;
    size_t n;
    pid_t pid;

    /* MTX folders are parsed by our own code, not libhdf5 */
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || is_mtx(path) ||
        probe_seen(&st, flags, 0) || strlen(path) >= PROBE_PATH_MAX)
        return 0;
    limit_s = PROBE_BASE_S + (int64_t)st.st_size / PROBE_BYTES_PER_S;
    if ((t = getenv("SC_PROBE_TIMEOUT")) && atoi(t) > 0) /* for tests */
        limit_s = atoi(t);
    /* close-on-exec: no process the tool starts holds the answer open */
    if (pipe2(fds, O_CLOEXEC) < 0)
        return 0; /* no probe; the open in the parent says what it must */
    if (probe_send(path, flags, fds[1]) < 0) {
        close(fds[0]);
        close(fds[1]);
        return 0;
    }
    close(fds[1]);
    hung = probe_read(fds[0], 1000 * limit_s, ans, sizeof ans, &n);
    close(fds[0]);
    if (n < sizeof pid)
        return 0; /* the server could not fork: the parent opens it */
    memcpy(&pid, ans, sizeof pid);
    for (size_t i = sizeof pid; i < n; i++) {
        if ((ans[i] == '0' || ans[i] == '1') && !verdict)
            verdict = ans[i];
        else if (ans[i] == PROBE_STATUS && n - i - 1 >= sizeof status) {
            memcpy(&status, ans + i + 1, sizeof status);
            have_status = 1;
            i += sizeof status;
        }
    }
    if (hung) {
        kill(pid, SIGKILL); /* the server reaps it */
        return sc_fail(SC_EFORMAT,
                       "'%s': libhdf5 hung reading it (no answer in %lld s)",
                       path, (long long)limit_s);
    }
    if (have_status && WIFSIGNALED(status))
        return sc_fail(SC_EFORMAT,
                       "'%s': libhdf5 crashed reading it (signal %d)", path,
                       WTERMSIG(status));
    if (!verdict) {
        if (!have_status)
            return 0; /* the server itself went away: no probe */
        return sc_fail(SC_EFORMAT,
                       "'%s': libhdf5 crashed reading it (exit status %d)",
                       path, WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    }
    probe_seen(&st, flags, 1);
    return 0;
}
