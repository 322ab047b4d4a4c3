/* sc_io: "-" for stdin/stdout, atomic output files, text lines (gzip too). */
/* SPDX-License-Identifier: MIT */
#include "sc_io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define READ_CHUNK (64 * 1024)

/* ---- atomic output ---- */

int sc_io_tmpname(const char *path, char *buf, size_t size)
{
    int n = snprintf(buf, size, "%s.tmp.%ld", path, (long)getpid());

    if (n < 0 || (size_t)n >= size)
        return sc_fail(SC_EINVAL, "file name too long: '%s'", path);
    return 0;
}

int sc_io_commit_rename(const char *tmp, const char *path)
{
    int err;

    if (rename(tmp, path) == 0)
        return 0;
    err = errno;
    unlink(tmp);
    return sc_fail(SC_EIO, "cannot rename '%s' to '%s': %s", tmp, path,
                   strerror(err));
}

int sc_io_scratch(const char *path, const char *tag)
{
    char tmp[4096];
    int fd, n = snprintf(tmp, sizeof tmp, "%s.%s.tmp.%ld", path, tag,
                         (long)getpid());

    if (n < 0 || (size_t)n >= sizeof tmp)
        return sc_fail(SC_EINVAL, "file name too long: '%s'", path);
    fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return sc_fail(SC_EIO, "cannot create '%s': %s", tmp, strerror(errno));
    unlink(tmp);
    return fd;
}

void sc_io_discard(const char *tmp)
{
    if (tmp)
        unlink(tmp);
}

static void atomic_release(sc_atomic *a)
{
    free(a->path);
    free(a->tmp);
    memset(a, 0, sizeof *a);
}

int sc_io_atomic_open(const char *path, sc_atomic *a, FILE **fp)
{
    size_t size = strlen(path) + 32;
    int fd, rc, err;

    memset(a, 0, sizeof *a);
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
     * node would replace it. a->tmp stays NULL to say so. */
    {
        struct stat st;
        if (stat(path, &st) == 0 && !S_ISREG(st.st_mode) &&
            !S_ISDIR(st.st_mode)) {
            if (!(a->fp = fopen(path, "w"))) {
                rc = sc_fail(SC_EIO, "cannot open '%s': %s", path,
                             strerror(errno));
                goto fail;
            }
            *fp = a->fp;
            return 0;
        }
    }
    if (!(a->tmp = malloc(size))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    if ((rc = sc_io_tmpname(path, a->tmp, size)) < 0)
        goto fail;
    /* O_EXCL: never write into a file someone else is writing. */
    fd = open(a->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd < 0) {
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", path, strerror(errno));
        goto fail;
    }
    if (!(a->fp = fdopen(fd, "w"))) {
        err = errno;
        close(fd);
        unlink(a->tmp);
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
    if (!err && a->tmp && fsync(fileno(a->fp)) != 0)
        err = errno;
    if (fclose(a->fp) != 0 && !err)
        err = errno;
    a->fp = NULL;
    if (!a->tmp) { /* written directly (not a regular file) */
        rc = err ? sc_fail(SC_EIO, "cannot write '%s': %s", a->path,
                           strerror(err))
                 : 0;
    } else if (err) {
        unlink(a->tmp);
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", a->path, strerror(err));
    } else {
        rc = sc_io_commit_rename(a->tmp, a->path);
    }
    atomic_release(a);
    return rc;
}

void sc_io_atomic_abort(sc_atomic *a)
{
    if (a->fp && a->path) {
        fclose(a->fp);
        if (a->tmp)
            unlink(a->tmp);
    }
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

/* Translate a zlib read error (gzread returned R) into an SC_E* failure;
 * 0 when R is a clean end of the file. */
static int read_error(sc_lines *l, int r)
{
    int saved = errno, zerr;
    const char *msg = gzerror(l->gz, &zerr);
    const char *zname = l->zname[0] ? l->zname : l->name;
    size_t n = strlen(zname);

    /* zlib puts the file name in front: "x.gz: unexpected end of file". */
    if (!strncmp(msg, zname, n) && !strncmp(msg + n, ": ", 2))
        msg += n + 2;

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
