/* sc_io: "-" for stdin/stdout, atomic output files, text lines (gzip too). */
/* SPDX-License-Identifier: MIT */
#include "sc_io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_log.h"

#define READ_CHUNK (64 * 1024)

/* ---- temporary files ---- */

/* The registry of temporary files for sc_io_tmp_cleanup: fixed slots, so
 * that a signal handler can read it without locks or allocation. A slot is
 * FREE, being FILLED by its owner, or LIVE. More temporary files than slots
 * at once are not registered (the next run removes them instead). */
enum { SLOT_FREE, SLOT_FILLED, SLOT_LIVE, N_SLOTS = 256 };
static struct {
    atomic_int state;
    int dirfd;
    char name[NAME_MAX + 1];
} registry[N_SLOTS];

static int slot_take(int dirfd, const char *name)
{
    if (strlen(name) > NAME_MAX)
        return 0;
    for (int i = 0; i < N_SLOTS; i++) {
        int expect = SLOT_FREE;
        if (atomic_compare_exchange_strong(&registry[i].state, &expect,
                                           SLOT_FILLED)) {
            registry[i].dirfd = dirfd;
            strcpy(registry[i].name, name);
            atomic_store(&registry[i].state, SLOT_LIVE);
            return i + 1;
        }
    }
    return 0;
}

static void slot_release(int slot)
{
    if (slot > 0)
        atomic_store(&registry[slot - 1].state, SLOT_FREE);
}

void sc_io_tmp_cleanup(void)
{
    for (int i = 0; i < N_SLOTS; i++)
        if (atomic_load(&registry[i].state) == SLOT_LIVE)
            unlinkat(registry[i].dirfd, registry[i].name, 0);
}

/* The pid of a temporary file NAME of target TARGET ("TARGET.tmp.PID" or
 * "TARGET.TAG.tmp.PID"; any target "X.tmp.PID" when TARGET is NULL), or 0
 * when it is not one. */
static long tmp_pid(const char *name, const char *target)
{
    size_t n = target ? strlen(target) : 0;
    const char *dot, *p;
    char *end;
    long pid;

    if (target && (strncmp(name, target, n) || name[n] != '.'))
        return 0;
    if (!(dot = strrchr(name + n, '.')) || dot - (name + n) < 4 ||
        strncmp(dot - 4, ".tmp", 4) || (!target && dot - name < 5))
        return 0;
    p = dot + 1;
    if (*p < '1' || *p > '9')
        return 0;
    errno = 0;
    pid = strtol(p, &end, 10);
    return *end || errno || pid <= 0 ? 0 : pid;
}

/* Remove the temporary files of TARGET (NULL: of every target) in DIRFD
 * left by processes that are gone: the pid runs no more here, and nobody
 * holds a lock on the file (a writer on another host sharing the directory
 * does). Best effort. */
static void remove_stale(int dirfd, const char *target)
{
    int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    struct dirent *e;
    DIR *d;

    if (fd < 0)
        return;
    if (!(d = fdopendir(fd))) {
        close(fd);
        return;
    }
    while ((e = readdir(d))) {
        long pid = tmp_pid(e->d_name, target);
        struct stat st;
        int f;

        if (!pid || pid == (long)getpid() ||
            !(kill((pid_t)pid, 0) != 0 && errno == ESRCH))
            continue;
        f = openat(dirfd, e->d_name,
                   O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
        if (f < 0)
            continue;
        if (fstat(f, &st) == 0 && S_ISREG(st.st_mode) &&
            flock(f, LOCK_EX | LOCK_NB) == 0) {
            sc_log_debug("removing stale temporary file '%s'", e->d_name);
            unlinkat(dirfd, e->d_name, 0);
        }
        close(f);
    }
    closedir(d);
}

static void tmp_release(sc_tmp *t)
{
    slot_release(t->slot);
    if (t->path && t->dirfd >= 0) /* a zeroed sc_tmp holds no descriptor */
        close(t->dirfd);
    free(t->path);
    free(t->name);
    free(t->tmp);
    memset(t, 0, sizeof *t);
    t->dirfd = -1;
}

int sc_io_tmp_sweep(const char *dir)
{
    int dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    if (dirfd < 0)
        return sc_fail(SC_EIO, "cannot open '%s': %s", dir, strerror(errno));
    remove_stale(dirfd, NULL);
    close(dirfd);
    return 0;
}

int sc_io_tmp_open(const char *path, const char *tag, int flags, sc_tmp *t)
{
    const char *slash = strrchr(path, '/');
    size_t dirlen = slash ? (size_t)(slash - path) + 1 : 0, size;
    char *dir = NULL;
    int fd = -1, rc = 0, err;

    memset(t, 0, sizeof *t);
    t->dirfd = -1;
    size = strlen(path) + (tag ? strlen(tag) + 1 : 0) + 32;
    if (!path[dirlen])
        return sc_fail(SC_EINVAL, "cannot create '%s': not a file name", path);
    if (!(t->path = strdup(path)) || !(t->name = strdup(path + dirlen)) ||
        !(t->tmp = malloc(size)) ||
        !(dir = dirlen ? strndup(path, dirlen) : strdup("."))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    snprintf(t->tmp, size, "%s%s%s.tmp.%ld", path, tag ? "." : "",
             tag ? tag : "", (long)getpid());
    t->tmpname = t->tmp + dirlen;
    if ((t->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!(flags & SC_TMP_NO_SWEEP))
        remove_stale(t->dirfd, t->name);
    flags &= ~SC_TMP_NO_SWEEP;
    if (flags == SC_TMP_NAME) {
        free(dir);
        return 0;
    }
    /* O_EXCL: never write into a file someone else is writing; with
     * O_CREAT it also refuses a symbolic link, dangling or not. */
    fd = openat(t->dirfd, t->tmpname,
                O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                flags == SC_TMP_UNLINKED ? 0600 : 0666);
    if (fd < 0) {
        err = errno;
        rc = err == EEXIST
                 ? sc_fail(SC_EIO,
                           "cannot create '%s': '%s' exists (a file or link "
                           "planted there?)",
                           path, t->tmp)
                 : sc_fail(SC_EIO, "cannot create '%s': %s", path,
                           strerror(err));
        goto fail;
    }
    if (flags == SC_TMP_UNLINKED) {
        unlinkat(t->dirfd, t->tmpname, 0);
        tmp_release(t);
    } else {
        /* In use: the next run's remove_stale leaves it alone. */
        (void)flock(fd, LOCK_EX | LOCK_NB);
        t->created = 1;
        t->slot = slot_take(t->dirfd, t->tmpname);
    }
    free(dir);
    return fd;
fail:
    free(dir);
    tmp_release(t);
    return rc;
}

int sc_io_tmp_check(sc_tmp *t, int fd)
{
    struct stat a, b;

    if (fstat(fd, &a) != 0 ||
        fstatat(t->dirfd, t->tmpname, &b, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(b.st_mode) || a.st_dev != b.st_dev || a.st_ino != b.st_ino)
        return sc_fail(SC_EIO,
                       "cannot create '%s': '%s' is not the file "
                       "created (replaced or a link?)",
                       t->path, t->tmp);
    t->created = 1;
    t->slot = slot_take(t->dirfd, t->tmpname);
    return 0;
}

int sc_io_tmp_commit(sc_tmp *t)
{
    int rc = 0, err;

    if (!t->path || t->dirfd < 0)
        return sc_fail(SC_EINVAL, "no temporary file to commit");
    if (renameat(t->dirfd, t->tmpname, t->dirfd, t->name) != 0) {
        err = errno;
        unlinkat(t->dirfd, t->tmpname, 0);
        rc = sc_fail(SC_EIO, "cannot rename '%s' to '%s': %s", t->tmp, t->path,
                     strerror(err));
    }
    tmp_release(t);
    return rc;
}

void sc_io_tmp_discard(sc_tmp *t)
{
    if (!t->path)
        return;
    if (t->created)
        unlinkat(t->dirfd, t->tmpname, 0);
    tmp_release(t);
}

int sc_io_tmpname(const char *path, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= size)
        return sc_fail(SC_EINVAL, "file name too long: '%s'", path);
    return 0;
}

int sc_io_scratch(const char *path, const char *tag)
{
    sc_tmp t;

    return sc_io_tmp_open(path, tag, SC_TMP_UNLINKED, &t);
}

int sc_io_open_regular(const char *path, int flags, int mode)
{
    struct stat st;
    int fd = open(path, flags | O_NOFOLLOW | O_CLOEXEC, mode);

    if (fd < 0)
        return sc_fail(SC_EIO, "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return sc_fail(SC_EIO, "cannot open '%s': not a regular file", path);
    }
    return fd;
}

/* ---- atomic output ---- */

static void atomic_release(sc_atomic *a)
{
    free(a->path);
    memset(a, 0, sizeof *a);
    a->t.dirfd = -1;
}

int sc_io_atomic_open(const char *path, sc_atomic *a, FILE **fp)
{
    int fd, rc, err;

    memset(a, 0, sizeof *a);
    a->t.dirfd = -1;
    *fp = NULL;
    if (!strcmp(path, "-")) {
        *fp = a->fp = stdout;
        return 0;
    }
    if (!(a->path = strdup(path))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    /* An existing target that is not a regular file (/dev/null, /dev/full,
     * a FIFO) is written directly: renaming a temporary file over a device
     * node would replace it. a->t stays empty to say so. */
    {
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
            !S_ISDIR(st.st_mode)) {
            if (!(a->fp = fopen(path, "we"))) {
                rc = sc_fail(SC_EIO, "cannot open '%s': %s", path,
                             strerror(errno));
                goto fail;
            }
            *fp = a->fp;
            return 0;
        }
    }
    if ((fd = rc = sc_io_tmp_open(path, NULL, SC_TMP_CREATE, &a->t)) < 0)
        goto fail;
    if (!(a->fp = fdopen(fd, "w"))) {
        err = errno;
        close(fd);
        sc_io_tmp_discard(&a->t);
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", path, strerror(err));
        goto fail;
    }
    *fp = a->fp;
    return 0;
fail:
    atomic_release(a);
    return rc;
}

int sc_io_atomic_commit(sc_atomic *a)
{
    int rc = 0, err = 0;

    if (!a->fp)
        return sc_fail(SC_EINVAL, "no output file to commit");
    errno = 0;
    if (fflush(a->fp) != 0 || ferror(a->fp))
        err = errno ? errno : EIO;
    if (!a->path) { /* stdout: sc_cli_finish closes it */
        a->fp = NULL;
        return err ? sc_fail(SC_EIO, "cannot write to standard output: %s",
                             strerror(err))
                   : 0;
    }
    if (!err && a->t.tmp && fsync(fileno(a->fp)) != 0)
        err = errno;
    if (fclose(a->fp) != 0 && !err)
        err = errno;
    a->fp = NULL;
    if (!a->t.tmp) { /* written directly (not a regular file) */
        rc = err ? sc_fail(SC_EIO, "cannot write '%s': %s", a->path,
                           strerror(err))
                 : 0;
    } else if (err) {
        sc_io_tmp_discard(&a->t);
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", a->path, strerror(err));
    } else {
        rc = sc_io_tmp_commit(&a->t);
    }
    atomic_release(a);
    return rc;
}

void sc_io_atomic_abort(sc_atomic *a)
{
    if (a->fp && a->path)
        fclose(a->fp);
    if (a->path)
        sc_io_tmp_discard(&a->t);
    atomic_release(a);
}

int sc_io_atomic_finish(sc_atomic *a, int rc)
{
    if (rc == 0)
        return sc_io_atomic_commit(a);
    sc_io_atomic_abort(a);
    return rc;
}

/* ---- directories ---- */

int sc_io_mkdir_p(const char *dir)
{
    struct stat st;
    char *buf, *p;
    int rc = 0, err, last;

    if (!*dir)
        return sc_fail(SC_EINVAL, "cannot create directory '': empty name");
    if (!(buf = strdup(dir)))
        return sc_fail(SC_ENOMEM, "out of memory");
    for (p = buf + 1;; p++) {
        if (*p != '/' && *p != '\0')
            continue;
        last = *p == '\0' || p[strspn(p, "/")] == '\0';
        *p = '\0';
        if (stat(buf, &st) == 0 && S_ISDIR(st.st_mode)) {
            /* exists: nothing to do */
        } else if (mkdir(buf, 0777) != 0) {
            err = errno;
            if (err == EEXIST)
                err = last ? EEXIST : ENOTDIR;
            rc = sc_fail(SC_EIO, "cannot create directory '%s': %s", dir,
                         strerror(err));
            break;
        }
        if (last)
            break;
        *p = '/';
    }
    free(buf);
    return rc;
}

/* ---- lines ---- */

struct sc_lines {
    gzFile gz;
    char *name;
    char zname[32]; /* zlib's name for a descriptor: "<fd:N>" */
    long lineno;
    int eof;
    char *buf;       /* READ_CHUNK bytes read ahead */
    size_t pos, end; /* unread part of buf */
    char *line;      /* a line that spans reads */
    size_t cap;
};

int sc_lines_open(const char *path, sc_lines **out)
{
    int is_stdin = !strcmp(path, "-"), fd = -1, err;
    sc_lines *l;

    *out = NULL;
    if (!(l = calloc(1, sizeof *l)) ||
        !(l->name = strdup(is_stdin ? "<stdin>" : path)) ||
        !(l->buf = malloc(READ_CHUNK))) {
        sc_lines_close(l);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    errno = 0;
    if (is_stdin) {
        /* A copy of fd 0, so that closing the reader leaves stdin open. */
        if ((fd = dup(STDIN_FILENO)) >= 0 && !(l->gz = gzdopen(fd, "rb")))
            close(fd);
        snprintf(l->zname, sizeof l->zname, "<fd:%d>", fd);
    } else {
        l->gz = gzopen(path, "rbe");
    }
    if (!l->gz) {
        err = errno;
        sc_lines_close(l);
        if (!err)
            return sc_fail(SC_ENOMEM, "out of memory");
        return sc_fail(SC_EIO, "cannot open '%s': %s",
                       is_stdin ? "<stdin>" : path, strerror(err));
    }
    gzbuffer(l->gz, 128 * 1024);
    *out = l;
    return 0;
}

/* zlib's error text for GZ (opened as NAME) and its code in *ZERR, without
 * the file name zlib puts in front ("x.gz: unexpected end of file"). */
static const char *gz_msg(gzFile gz, const char *name, int *zerr)
{
    const char *msg = gzerror(gz, zerr);
    size_t n = strlen(name);

    if (!strncmp(msg, name, n) && !strncmp(msg + n, ": ", 2))
        msg += n + 2;
    return msg;
}

/* Translate a zlib read error (gzread returned R) into an SC_E* failure;
 * 0 when R is a clean end of the file. */
static int read_error(sc_lines *l, int r)
{
    int saved = errno, zerr;
    const char *msg = gz_msg(l->gz, l->zname[0] ? l->zname : l->name, &zerr);

    if (r == 0 && zerr == Z_BUF_ERROR) /* gzip stream cut short */
        return sc_fail(SC_ECORRUPT, "cannot read '%s': %s", l->name, msg);
    if (r == 0)
        return 0;
    if (zerr == Z_ERRNO)
        return sc_fail(SC_EIO, "cannot read '%s': %s", l->name,
                       strerror(saved));
    if (zerr == Z_MEM_ERROR)
        return sc_fail(SC_ENOMEM, "out of memory");
    return sc_fail(SC_ECORRUPT, "cannot read '%s': %s", l->name, msg);
}

/* Append N bytes of S to l->line, which holds USED bytes. */
static int line_append(sc_lines *l, size_t used, const char *s, size_t n)
{
    char *p;
    size_t cap;

    if (used + n + 1 > SC_LINE_MAX)
        return sc_fail(SC_EFORMAT, "'%s' line %ld: longer than %d MiB", l->name,
                       l->lineno + 1, SC_LINE_MAX >> 20);
    if (used + n + 1 > l->cap) {
        cap = l->cap ? l->cap : 256;
        while (cap < used + n + 1)
            cap *= 2;
        if (!(p = realloc(l->line, cap)))
            return sc_fail(SC_ENOMEM, "out of memory");
        l->line = p;
        l->cap = cap;
    }
    memcpy(l->line + used, s, n);
    return 0;
}

/* Hand out line S of N bytes (S has room for a NUL at S[N]). */
static int give(sc_lines *l, char *s, size_t n, char **line, size_t *len)
{
    if (n && s[n - 1] == '\r')
        n--;
    s[n] = '\0';
    l->lineno++;
    *line = s;
    *len = n;
    return 1;
}

int sc_lines_next(sc_lines *l, char **line, size_t *len)
{
    size_t used = 0, k;
    char *s, *nl;
    int r, rc;

    for (;;) {
        if (l->pos < l->end) {
            s = l->buf + l->pos;
            nl = memchr(s, '\n', l->end - l->pos);
            k = nl ? (size_t)(nl - s) : l->end - l->pos;
            l->pos += k + (nl != NULL);
            if (nl && !used) /* the common case: no copy */
                return give(l, s, k, line, len);
            if ((rc = line_append(l, used, s, k)) < 0)
                return rc;
            used += k;
            if (nl)
                return give(l, l->line, used, line, len);
            continue;
        }
        if (l->eof)
            return used ? give(l, l->line, used, line, len) : 0;
        errno = 0;
        r = gzread(l->gz, l->buf, READ_CHUNK - 1); /* room for a NUL */
        if (r <= 0) {
            if ((rc = read_error(l, r)) < 0)
                return rc;
            l->eof = 1;
            r = 0;
        }
        l->pos = 0;
        l->end = (size_t)r;
    }
}

long sc_lines_lineno(const sc_lines *l)
{
    return l->lineno;
}

const char *sc_lines_name(const sc_lines *l)
{
    return l->name;
}

int sc_lines_is_gzip(const sc_lines *l)
{
    return !gzdirect(l->gz);
}

void sc_lines_close(sc_lines *l)
{
    if (!l)
        return;
    if (l->gz)
        gzclose(l->gz);
    free(l->name);
    free(l->buf);
    free(l->line);
    free(l);
}

int sc_io_read_file(const char *path, char **out, size_t *len)
{
    struct stat st;
    char *buf = NULL;
    size_t n = 0, cap;
    int fd, err = 0;

    *out = NULL;
    *len = 0;
    if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
        return sc_fail(errno == ENOENT ? SC_ENOTFOUND : SC_EIO,
                       "cannot open '%s': %s", path, strerror(errno));
    if (fstat(fd, &st) != 0)
        err = errno;
    else if (S_ISDIR(st.st_mode))
        err = EISDIR;
    /* a regular file's size is a good first guess; pipes grow */
    cap = !err && S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536;
    if (!err && !(buf = malloc(cap))) {
        close(fd);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    while (!err) {
        ssize_t r;

        if (n + 1 == cap) {
            char *nb = realloc(buf, cap *= 2);

            if (!nb) {
                free(buf);
                close(fd);
                return sc_fail(SC_ENOMEM, "out of memory");
            }
            buf = nb;
        }
        if ((r = read(fd, buf + n, cap - n - 1)) < 0) {
            if (errno != EINTR)
                err = errno;
        } else if (r == 0)
            break;
        else
            n += (size_t)r;
    }
    close(fd);
    if (err) {
        free(buf);
        return sc_fail(SC_EIO, "cannot read '%s': %s", path, strerror(err));
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}

int sc_io_read_file_gz(const char *path, char **out, size_t *len)
{
    gzFile gz;
    size_t cap = 65536, n = 0;
    char *buf = NULL, *p;
    int got;

    *out = NULL;
    *len = 0;
    errno = 0;
    if (!(gz = gzopen(path, "rbe")))
        return sc_fail(SC_EIO, "cannot open '%s': %s", path,
                       errno ? strerror(errno) : "out of memory");
    for (;;) {
        if (!buf || n + 1 == cap) {
            if (buf)
                cap *= 2;
            if (!(p = realloc(buf, cap))) {
                free(buf);
                gzclose(gz);
                return sc_fail(SC_ENOMEM, "out of memory");
            }
            buf = p;
        }
        got = gzread(gz, buf + n, (unsigned)(cap - n - 1));
        if (got <= 0) {
            int e;
            const char *msg = gz_msg(gz, path, &e);

            if (got == 0 && e != Z_BUF_ERROR) /* Z_BUF_ERROR: cut short */
                break;
            /* the message lives in GZ: set it before closing */
            int rc = sc_fail(SC_EIO, "cannot read '%s': %s", path, msg);

            free(buf);
            gzclose(gz);
            return rc;
        }
        n += (size_t)got;
    }
    gzclose(gz);
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return 0;
}
