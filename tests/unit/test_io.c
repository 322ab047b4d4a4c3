/* test_io: atomic output, temporary names, mkdir -p, the line reader. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include "sc_io.h"
#include "unit.h"

static char tmpdir[64];

static void path_in(char *buf, size_t size, const char *name)
{
    snprintf(buf, size, "%s/%s", tmpdir, name);
}

static int exists(const char *path)
{
    struct stat st;

    return stat(path, &st) == 0;
}

static void write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");

    fwrite(data, 1, n, f);
    fclose(f);
}

static void write_gz(const char *path, const void *data, size_t n)
{
    gzFile gz = gzopen(path, "wb");

    gzwrite(gz, data, (unsigned)n);
    gzclose(gz);
}

/* The contents of PATH as a string (up to SIZE - 1 bytes). */
static const char *read_file(const char *path, char *buf, size_t size)
{
    FILE *f = fopen(path, "rb");
    size_t n = 0;

    if (f) {
        n = fread(buf, 1, size - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return f ? buf : NULL;
}

/* ---- atomic output ---- */

static void test_atomic_commit(void)
{
    char path[128], tmp[160], buf[64];
    sc_atomic a;
    FILE *fp;

    path_in(path, sizeof path, "out.tsv");
    CHECK_INTEQ(sc_io_tmpname(path, tmp, sizeof tmp), 0);
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), 0);
    CHECK(fp != NULL && fp != stdout);
    fputs("hello\n", fp);
    CHECK(exists(tmp));   /* written beside the target ... */
    CHECK(!exists(path)); /* ... which appears only at commit */
    CHECK_INTEQ(sc_io_atomic_commit(&a), 0);
    CHECK(!exists(tmp));
    CHECK_STREQ(read_file(path, buf, sizeof buf), "hello\n");
    sc_io_atomic_abort(&a); /* harmless after commit */
    CHECK_STREQ(read_file(path, buf, sizeof buf), "hello\n");

    /* Replacing an existing file. */
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), 0);
    fputs("second\n", fp);
    CHECK_STREQ(read_file(path, buf, sizeof buf), "hello\n");
    CHECK_INTEQ(sc_io_atomic_commit(&a), 0);
    CHECK_STREQ(read_file(path, buf, sizeof buf), "second\n");
    unlink(path);
}

static void test_atomic_abort(void)
{
    char path[128], tmp[160], buf[64];
    sc_atomic a;
    FILE *fp;

    path_in(path, sizeof path, "keep.tsv");
    write_file(path, "old\n", 4);
    CHECK_INTEQ(sc_io_tmpname(path, tmp, sizeof tmp), 0);
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), 0);
    fputs("half", fp);
    sc_io_atomic_abort(&a);
    CHECK(!exists(tmp));
    CHECK_STREQ(read_file(path, buf, sizeof buf), "old\n");
    sc_io_atomic_abort(&a); /* twice is fine */
    unlink(path);
}

static void test_atomic_errors(void)
{
    char path[128], tmp[160], msg[256];
    sc_atomic a;
    FILE *fp = stderr;

    path_in(path, sizeof path, "no/such/dir/out.tsv");
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), SC_EIO);
    CHECK(fp == NULL);
    snprintf(msg, sizeof msg, "cannot create '%s': No such file or directory",
             path);
    CHECK_STREQ(sc_errmsg(), msg);
    CHECK(a.fp == NULL && a.t.tmp == NULL);
    sc_io_atomic_abort(&a); /* fine on a failed open */

    /* A leftover temporary file is not overwritten. */
    path_in(path, sizeof path, "busy.tsv");
    CHECK_INTEQ(sc_io_tmpname(path, tmp, sizeof tmp), 0);
    write_file(tmp, "x", 1);
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), SC_EIO);
    CHECK(strstr(sc_errmsg(), "' exists (a file or link planted there?)"));
    CHECK(exists(tmp)); /* ours (this pid): left alone */
    unlink(tmp);

    /* The rename fails when the target is a non-empty directory: the
     * temporary file is removed and the error names both. */
    path_in(path, sizeof path, "adir");
    CHECK_INTEQ(mkdir(path, 0777), 0);
    path_in(tmp, sizeof tmp, "adir/f");
    write_file(tmp, "x", 1);
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), 0);
    fputs("data\n", fp);
    CHECK_INTEQ(sc_io_tmpname(path, tmp, sizeof tmp), 0);
    CHECK_INTEQ(sc_io_atomic_commit(&a), SC_EIO);
    CHECK(!strncmp(sc_errmsg(), "cannot rename '", 15));
    CHECK(strstr(sc_errmsg(), ".tmp."));
    CHECK(!exists(tmp));
    CHECK(a.fp == NULL && a.path == NULL);
    CHECK_INTEQ(sc_io_atomic_commit(&a), SC_EINVAL); /* nothing open */
    path_in(tmp, sizeof tmp, "adir/f");
    unlink(tmp);
    rmdir(path);
}

static void test_atomic_stdout(void)
{
    sc_atomic a;
    FILE *fp = NULL;

    CHECK_INTEQ(sc_io_atomic_open("-", &a, &fp), 0);
    CHECK(fp == stdout);
    CHECK_INTEQ(sc_io_atomic_commit(&a), 0);
    CHECK(fp == stdout && !ferror(stdout)); /* still open */
    CHECK_INTEQ(sc_io_atomic_open("-", &a, &fp), 0);
    sc_io_atomic_abort(&a); /* stdout stays open */
    CHECK(fputs("# stdout still open\n", stdout) >= 0);
}

/* A device target is written in place, never replaced by a rename. */
static void test_atomic_device(void)
{
    sc_atomic a;
    FILE *fp;
    struct stat st;

    CHECK(sc_io_atomic_open("/dev/null", &a, &fp) == 0);
    CHECK(fp != NULL && a.t.tmp == NULL);
    if (fp)
        fputs("discarded\n", fp);
    CHECK(sc_io_atomic_commit(&a) == 0);
    CHECK(stat("/dev/null", &st) == 0 && S_ISCHR(st.st_mode));
    CHECK(sc_io_atomic_open("/dev/full", &a, &fp) == 0);
    if (fp)
        for (int i = 0; i < 10000; i++)
            fputs("no space for this line\n", fp);
    CHECK(sc_io_atomic_commit(&a) == SC_EIO);
    CHECK(strstr(sc_errmsg(), "No space left") != NULL);
    CHECK(stat("/dev/full", &st) == 0 && S_ISCHR(st.st_mode));
}

static void test_tmpname(void)
{
    char path[128], tmp[160], small[8], want[160];

    path_in(path, sizeof path, "h5.out");
    CHECK_INTEQ(sc_io_tmpname(path, tmp, sizeof tmp), 0);
    snprintf(want, sizeof want, "%s.tmp.%ld", path, (long)getpid());
    CHECK_STREQ(tmp, want);
    CHECK_INTEQ(sc_io_tmpname(path, small, sizeof small), SC_EINVAL);
    CHECK(strstr(sc_errmsg(), "file name too long"));
}

/* A symbolic link planted at the temporary name is refused, not followed:
 * the file it points to is left as it was. */
static void test_tmp_refuses_planted_link(void)
{
    char path[128], tmp[160], victim[128], buf[64];
    sc_atomic a;
    sc_tmp t;
    FILE *fp;

    path_in(victim, sizeof victim, "victim.txt");
    write_file(victim, "precious\n", 9);
    path_in(path, sizeof path, "linked.tsv");
    CHECK_INTEQ(sc_io_tmpname(path, tmp, sizeof tmp), 0);
    CHECK_INTEQ(symlink(victim, tmp), 0);
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), SC_EIO);
    CHECK(strstr(sc_errmsg(), "planted"));
    CHECK_STREQ(read_file(victim, buf, sizeof buf), "precious\n");
    /* A dangling link too: nothing is created where it points. */
    unlink(tmp);
    path_in(victim, sizeof victim, "nothing-here.txt");
    CHECK_INTEQ(symlink(victim, tmp), 0);
    CHECK_INTEQ(sc_io_tmp_open(path, NULL, SC_TMP_CREATE, &t), SC_EIO);
    CHECK(!exists(victim));
    sc_io_tmp_discard(&t); /* nothing: the link stays */
    CHECK_INTEQ(unlink(tmp), 0);
    path_in(victim, sizeof victim, "victim.txt");
    unlink(victim);
}

/* Create, commit and discard through sc_tmp; SC_TMP_NAME plus a check. */
static void test_tmp_commit_discard(void)
{
    char path[128], tmp[200], buf[64];
    sc_tmp t;
    int fd;

    path_in(path, sizeof path, "t.out");
    fd = sc_io_tmp_open(path, "part", SC_TMP_CREATE, &t);
    CHECK(fd >= 0);
    snprintf(tmp, sizeof tmp, "%s.part.tmp.%ld", path, (long)getpid());
    CHECK_STREQ(t.tmp, tmp);
    CHECK(write(fd, "abc", 3) == 3);
    close(fd);
    CHECK_INTEQ(sc_io_tmp_commit(&t), 0);
    CHECK(!exists(tmp));
    CHECK_STREQ(read_file(path, buf, sizeof buf), "abc");
    CHECK_INTEQ(sc_io_tmp_commit(&t), SC_EINVAL); /* released */

    fd = sc_io_tmp_open(path, NULL, SC_TMP_CREATE, &t);
    CHECK(fd >= 0);
    close(fd);
    snprintf(tmp, sizeof tmp, "%s", t.tmp);
    sc_io_tmp_discard(&t);
    CHECK(!exists(tmp));
    sc_io_tmp_discard(&t); /* twice is fine */
    CHECK_STREQ(read_file(path, buf, sizeof buf), "abc");

    /* The name only: the caller creates the file, then the check. */
    CHECK_INTEQ(sc_io_tmp_open(path, NULL, SC_TMP_NAME, &t), 0);
    CHECK(!exists(t.tmp));
    fd = open(t.tmp, O_RDWR | O_CREAT | O_EXCL, 0600);
    CHECK(fd >= 0);
    CHECK_INTEQ(sc_io_tmp_check(&t, fd), 0);
    close(fd);
    /* A different file under the name fails the check. */
    {
        char link[200];
        sc_tmp u;
        int other;
        path_in(tmp, sizeof tmp, "other");
        other = open(tmp, O_RDWR | O_CREAT, 0600);
        CHECK_INTEQ(sc_io_tmp_open(path, "x", SC_TMP_NAME, &u), 0);
        snprintf(link, sizeof link, "%s", u.tmp);
        CHECK(symlink(tmp, link) == 0);
        CHECK_INTEQ(sc_io_tmp_check(&u, other), SC_EIO);
        CHECK(strstr(sc_errmsg(), "is not the file created"));
        sc_io_tmp_discard(&u); /* not known to be ours: left */
        CHECK_INTEQ(unlink(link), 0);
        close(other);
        unlink(tmp);
    }
    CHECK_INTEQ(sc_io_tmp_commit(&t), 0);
    unlink(path);
}

/* The pid of a process that has ended. */
static pid_t dead_pid(void)
{
    pid_t pid = fork();

    if (pid == 0)
        _exit(0);
    waitpid(pid, NULL, 0);
    return pid;
}

/* Stale temporary files of a dead process are removed by the next run;
 * those of live processes, locked ones and other targets' stay. */
static void test_tmp_removes_stale(void)
{
    char path[128], stale[200], live[200], other[200], locked[200];
    pid_t dead = dead_pid();
    sc_atomic a;
    FILE *fp;
    int lk;

    path_in(path, sizeof path, "stale.tsv");
    snprintf(stale, sizeof stale, "%s.tmp.%ld", path, (long)dead);
    write_file(stale, "old", 3);
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    write_file(live, "live", 4);
    snprintf(other, sizeof other, "%s/other.tsv.tmp.%ld", tmpdir, (long)dead);
    write_file(other, "o", 1);
    snprintf(locked, sizeof locked, "%s.scidx.tmp.%ld", path, (long)dead_pid());
    write_file(locked, "l", 1);
    lk = open(locked, O_RDONLY);
    CHECK(flock(lk, LOCK_EX) == 0); /* a writer on another host */
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), 0);
    CHECK(!exists(stale));
    CHECK(exists(live));
    CHECK(exists(other));
    CHECK(exists(locked));
    CHECK_INTEQ(sc_io_atomic_commit(&a), 0);
    close(lk);
    unlink(live);
    unlink(other);
    unlink(locked);
    unlink(path);
}

/* sc_io_tmp_sweep removes the stale temporaries of every target in one
 * reading of the directory (live, locked and other files stay); a
 * temporary opened with SC_TMP_NO_SWEEP leaves them, one opened without
 * still removes its own target's. */
static void test_tmp_sweep(void)
{
    char dir[128], path[200], s1[240], s2[240], live[240], locked[240],
        plain[240], keep[240];
    pid_t dead = dead_pid();
    sc_tmp t;
    int lk, fd;

    path_in(dir, sizeof dir, "sweep");
    CHECK_INTEQ(sc_io_mkdir_p(dir), 0);
    snprintf(path, sizeof path, "%s/000000000001.blk", dir);
    snprintf(s1, sizeof s1, "%s/000000000002.blk.tmp.%ld", dir, (long)dead);
    snprintf(s2, sizeof s2, "%s/x.tsv.scidx.tmp.%ld", dir, (long)dead);
    snprintf(live, sizeof live, "%s/000000000003.blk.tmp.%ld", dir,
             (long)getppid());
    snprintf(locked, sizeof locked, "%s/000000000004.blk.tmp.%ld", dir,
             (long)dead_pid());
    snprintf(plain, sizeof plain, "%s/.tmp.%ld", dir, (long)dead);
    snprintf(keep, sizeof keep, "%s/000000000005.blk", dir);
    write_file(s1, "1", 1);
    write_file(s2, "2", 1);
    write_file(live, "l", 1);
    write_file(locked, "k", 1);
    write_file(plain, "p", 1);
    write_file(keep, "b", 1);
    lk = open(locked, O_RDONLY);
    CHECK(flock(lk, LOCK_EX) == 0);
    CHECK_INTEQ(sc_io_tmp_sweep(dir), 0);
    CHECK(!exists(s1));
    CHECK(!exists(s2));
    CHECK(exists(live));
    CHECK(exists(locked));
    CHECK(exists(plain)); /* no target name: not a temporary of ours */
    CHECK(exists(keep));
    /* new stale ones: SC_TMP_NO_SWEEP leaves them, a plain open takes its
     * target's */
    snprintf(s1, sizeof s1, "%s.tmp.%ld", path, (long)dead);
    write_file(s1, "1", 1);
    write_file(s2, "2", 1);
    fd = sc_io_tmp_open(path, NULL, SC_TMP_CREATE | SC_TMP_NO_SWEEP, &t);
    CHECK(fd >= 0);
    CHECK(exists(s1));
    CHECK(exists(s2));
    close(fd);
    sc_io_tmp_discard(&t);
    fd = sc_io_tmp_open(path, NULL, SC_TMP_CREATE, &t);
    CHECK(fd >= 0);
    CHECK(!exists(s1));
    CHECK(exists(s2));
    close(fd);
    CHECK_INTEQ(sc_io_tmp_commit(&t), 0);
    CHECK(exists(path));
    CHECK(sc_io_tmp_sweep(s2) < 0); /* not a directory */
    close(lk);
    unlink(s2);
    unlink(live);
    unlink(locked);
    unlink(plain);
    unlink(keep);
    unlink(path);
    CHECK(rmdir(dir) == 0);
}

/* sc_io_tmp_cleanup (the signal handler's) removes the live temporary
 * files, and only those. */
static void test_tmp_cleanup(void)
{
    char path[128], tmp[200];
    sc_atomic a;
    FILE *fp;
    sc_tmp t;
    int fd;

    path_in(path, sizeof path, "sig.tsv");
    CHECK_INTEQ(sc_io_atomic_open(path, &a, &fp), 0);
    fd = sc_io_tmp_open(path, "b", SC_TMP_CREATE, &t);
    CHECK(fd >= 0);
    snprintf(tmp, sizeof tmp, "%s", t.tmp);
    CHECK(exists(tmp) && exists(a.t.tmp));
    sc_io_tmp_cleanup();
    CHECK(!exists(tmp) && !exists(a.t.tmp));
    sc_io_atomic_abort(&a);
    close(fd);
    sc_io_tmp_discard(&t);
}

/* ---- mkdir -p ---- */

static void test_mkdir_p(void)
{
    char dir[160], file[160], msg[256];
    struct stat st;

    path_in(dir, sizeof dir, "a/b//c/");
    CHECK_INTEQ(sc_io_mkdir_p(dir), 0);
    path_in(dir, sizeof dir, "a/b/c");
    CHECK(stat(dir, &st) == 0 && S_ISDIR(st.st_mode));
    CHECK_INTEQ(sc_io_mkdir_p(dir), 0); /* exists: fine */
    CHECK_INTEQ(sc_io_mkdir_p(tmpdir), 0);
    CHECK_INTEQ(sc_io_mkdir_p("."), 0);
    CHECK_INTEQ(sc_io_mkdir_p("/"), 0);

    CHECK_INTEQ(sc_io_mkdir_p(""), SC_EINVAL);

    path_in(file, sizeof file, "a/file");
    write_file(file, "x", 1);
    CHECK_INTEQ(sc_io_mkdir_p(file), SC_EIO);
    snprintf(msg, sizeof msg, "cannot create directory '%s': File exists",
             file);
    CHECK_STREQ(sc_errmsg(), msg);
    path_in(dir, sizeof dir, "a/file/sub");
    CHECK_INTEQ(sc_io_mkdir_p(dir), SC_EIO);
    snprintf(msg, sizeof msg, "cannot create directory '%s': Not a directory",
             dir);
    CHECK_STREQ(sc_errmsg(), msg);
    unlink(file);
    path_in(dir, sizeof dir, "a/b/c");
    rmdir(dir);
    path_in(dir, sizeof dir, "a/b");
    rmdir(dir);
    path_in(dir, sizeof dir, "a");
    rmdir(dir);
}

/* ---- lines ---- */

/* Read every line of PATH into OUT joined by '|', the result of the last
 * sc_lines_next, and the number of lines. */
static int read_lines(const char *path, char *out, size_t size, long *n)
{
    sc_lines *l;
    char *line;
    size_t len, used = 0;
    int rc;

    out[0] = '\0';
    if ((rc = sc_lines_open(path, &l)) < 0)
        return rc;
    while ((rc = sc_lines_next(l, &line, &len)) > 0) {
        CHECK(strlen(line) == len);
        used += snprintf(out + used, size - used, "%s|", line);
        if (used >= size)
            used = size - 1;
    }
    *n = sc_lines_lineno(l);
    sc_lines_close(l);
    return rc;
}

static void test_lines_plain(void)
{
    char path[128], buf[256];
    long n = -1;

    path_in(path, sizeof path, "plain.txt");
    write_file(path, "a\nbb\r\n\nlast", 11);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &n), 0);
    CHECK_STREQ(buf, "a|bb||last|");
    CHECK_INTEQ(n, 4);

    write_file(path, "one\n", 4);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &n), 0);
    CHECK_STREQ(buf, "one|");
    CHECK_INTEQ(n, 1);

    write_file(path, "", 0);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &n), 0);
    CHECK_STREQ(buf, "");
    CHECK_INTEQ(n, 0);

    write_file(path, "\n\r\n\r", 4); /* a lone CR at the end is stripped */
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &n), 0);
    CHECK_STREQ(buf, "|||");
    CHECK_INTEQ(n, 3);

    write_file(path, "a\rb\n", 4); /* a CR inside a line is kept */
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &n), 0);
    CHECK_STREQ(buf, "a\rb|");
    unlink(path);
}

static void test_lines_api(void)
{
    char path[128], *line;
    sc_lines *l;
    size_t len;

    path_in(path, sizeof path, "nul.txt");
    write_file(path, "a\0b\nc\n", 6);
    CHECK_INTEQ(sc_lines_open(path, &l), 0);
    CHECK_STREQ(sc_lines_name(l), path);
    CHECK_INTEQ(sc_lines_lineno(l), 0);
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 1);
    CHECK_INTEQ(len, 3); /* NUL bytes inside a line are counted */
    CHECK(!memcmp(line, "a\0b", 4));
    CHECK_INTEQ(sc_lines_is_gzip(l), 0);
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 1);
    CHECK_STREQ(line, "c");
    CHECK_INTEQ(sc_lines_lineno(l), 2);
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 0);
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 0); /* stays at the end */
    sc_lines_close(l);
    sc_lines_close(NULL);
    unlink(path);
}

static void test_lines_long(void)
{
    size_t big = 300000, i, len;
    char path[128], *data = malloc(2 * big + 4), *line;
    sc_lines *l;
    int ok = 1;

    /* Two lines longer than the read buffer, the second split so that its
     * "\r\n" straddles a read. */
    for (i = 0; i < big; i++)
        data[i] = (char)('a' + i % 26);
    data[big] = '\n';
    for (i = 0; i < big; i++)
        data[big + 1 + i] = (char)('A' + i % 26);
    memcpy(data + 2 * big + 1, "\r\nz", 3);
    path_in(path, sizeof path, "long.txt.gz");
    write_gz(path, data, 2 * big + 4);
    CHECK_INTEQ(sc_lines_open(path, &l), 0);
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 1);
    CHECK_INTEQ(len, big);
    for (i = 0; i < big && ok; i++)
        ok = line[i] == (char)('a' + i % 26);
    CHECK(ok);
    CHECK_INTEQ(sc_lines_is_gzip(l), 1);
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 1);
    CHECK_INTEQ(len, big);
    CHECK(line[len] == '\0' && line[len - 1] == (char)('A' + (big - 1) % 26));
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 1);
    CHECK_STREQ(line, "z");
    CHECK_INTEQ(sc_lines_next(l, &line, &len), 0);
    sc_lines_close(l);
    unlink(path);
    free(data);
}

static void test_lines_gzip(void)
{
    char path[128], buf[256], msg[256];
    unsigned char gz[4096];
    FILE *f;
    size_t n;
    long nl = 0;

    path_in(path, sizeof path, "m.tsv.gz");
    write_gz(path, "path\tid\nx.h5ad\t1\n", 17);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &nl), 0);
    CHECK_STREQ(buf, "path\tid|x.h5ad\t1|");
    CHECK_INTEQ(nl, 2);

    /* Two gzip members back to back read as one stream. */
    f = fopen(path, "rb");
    n = fread(gz, 1, sizeof gz / 2, f);
    fclose(f);
    memcpy(gz + n, gz, n);
    write_file(path, gz, 2 * n);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &nl), 0);
    CHECK_STREQ(buf, "path\tid|x.h5ad\t1|path\tid|x.h5ad\t1|");

    /* Truncated. */
    write_file(path, gz, n - 10);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &nl), SC_ECORRUPT);
    snprintf(msg, sizeof msg, "cannot read '%s': unexpected end of file", path);
    CHECK_STREQ(sc_errmsg(), msg);

    /* Damaged in the middle of the deflate data. */
    gz[12] ^= 0xff;
    gz[13] ^= 0xff;
    write_file(path, gz, n);
    CHECK_INTEQ(read_lines(path, buf, sizeof buf, &nl), SC_ECORRUPT);
    CHECK(!strncmp(sc_errmsg(), "cannot read '", 13));
    unlink(path);
}

static void test_lines_errors(void)
{
    char path[128], msg[256];
    sc_lines *l = (sc_lines *)1;
    char *line;
    size_t len;

    path_in(path, sizeof path, "missing.tsv");
    CHECK_INTEQ(sc_lines_open(path, &l), SC_EIO);
    CHECK(l == NULL);
    snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory",
             path);
    CHECK_STREQ(sc_errmsg(), msg);

    CHECK_INTEQ(sc_lines_open(tmpdir, &l), 0); /* a directory opens ... */
    CHECK_INTEQ(sc_lines_next(l, &line, &len), SC_EIO); /* ... not reads */
    snprintf(msg, sizeof msg, "cannot read '%s': Is a directory", tmpdir);
    CHECK_STREQ(sc_errmsg(), msg);
    sc_lines_close(l);
}

static void test_lines_stdin(void)
{
    char path[128], buf[256];
    sc_lines *l;
    long n = 0;
    int saved;

    path_in(path, sizeof path, "stdin.gz");
    write_gz(path, "x\ny\n", 4);
    saved = unit_stdin_from(path);
    CHECK_INTEQ(read_lines("-", buf, sizeof buf, &n), 0);
    CHECK_STREQ(buf, "x|y|");
    CHECK_INTEQ(n, 2);
    CHECK(fcntl(STDIN_FILENO, F_GETFD) != -1); /* stdin stays open */
    CHECK_INTEQ(sc_lines_open("-", &l), 0);
    CHECK_STREQ(sc_lines_name(l), "<stdin>");
    sc_lines_close(l);
    unit_restore_fd(STDIN_FILENO, saved);

    /* zlib's name for the descriptor does not leak into messages. */
    write_gz(path, "x\ny\n", 4);
    truncate(path, 20);
    saved = unit_stdin_from(path);
    CHECK_INTEQ(read_lines("-", buf, sizeof buf, &n), SC_ECORRUPT);
    CHECK_STREQ(sc_errmsg(), "cannot read '<stdin>': unexpected end of file");
    unit_restore_fd(STDIN_FILENO, saved);
    unlink(path);
}

/* A whole file: empty, larger than the first guess read through a pipe,
 * missing, a directory. */
/* RD of the missing file PATH fails with CODE, "cannot open 'PATH': No
 * such file or directory" and no text. */
static void check_missing(int (*rd)(const char *, char **, size_t *),
                          const char *path, int code)
{
    char msg[300], *text = (char *)"";
    size_t len;

    CHECK_INTEQ(rd(path, &text, &len), code);
    CHECK(text == NULL);
    snprintf(msg, sizeof msg, "cannot open '%s': No such file or directory",
             path);
    CHECK_STREQ(sc_errmsg(), msg);
}

/* A whole file gunzipped: gzip and plain alike, empty, larger than the
 * first buffer, NUL-terminated; the messages of a missing or damaged file. */
static void test_read_file_gz(void)
{
    static char big[200000];
    char path[128], msg[300], *text;
    unsigned char bad[64];
    size_t len;
    FILE *fp;

    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    path_in(path, sizeof path, "whole.txt.gz");
    write_gz(path, big, sizeof big);
    CHECK_INTEQ(sc_io_read_file_gz(path, &text, &len), 0);
    CHECK(text && len == sizeof big && !memcmp(text, big, len) && !text[len]);
    free(text);
    write_gz(path, "", 0);
    CHECK_INTEQ(sc_io_read_file_gz(path, &text, &len), 0);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);
    write_file(path, "plain\n", 6); /* not gzip: passed through */
    CHECK_INTEQ(sc_io_read_file_gz(path, &text, &len), 0);
    CHECK(text && len == 6 && !strcmp(text, "plain\n"));
    free(text);
    /* a gzip header and then garbage */
    memset(bad, 0xff, sizeof bad);
    bad[0] = 0x1f, bad[1] = 0x8b, bad[2] = 8, bad[3] = 0;
    CHECK((fp = fopen(path, "wb")) != NULL);
    CHECK(fwrite(bad, 1, sizeof bad, fp) == sizeof bad);
    fclose(fp);
    CHECK_INTEQ(sc_io_read_file_gz(path, &text, &len), SC_EIO);
    CHECK(text == NULL);
    snprintf(msg, sizeof msg, "cannot read '%s': ", path);
    CHECK(!strncmp(sc_errmsg(), msg, strlen(msg)));
    /* the file named once (zlib's own text names it again) */
    CHECK(!strstr(sc_errmsg() + strlen(msg), path));
    /* a gzip stream cut short is an error, not a shorter text */
    write_gz(path, big, sizeof big);
    {
        struct stat st;

        CHECK(stat(path, &st) == 0 && truncate(path, st.st_size / 2) == 0);
    }
    CHECK_INTEQ(sc_io_read_file_gz(path, &text, &len), SC_EIO);
    CHECK(text == NULL);
    snprintf(msg, sizeof msg, "cannot read '%s': unexpected end of file", path);
    CHECK_STREQ(sc_errmsg(), msg);
    unlink(path);
    check_missing(sc_io_read_file_gz, path, SC_EIO);
}

static void test_read_file(void)
{
    char path[128], msg[300], *text, big[200000];
    size_t len;
    int fds[2], status;
    pid_t pid;

    path_in(path, sizeof path, "whole.txt");
    write_file(path, "", 0);
    CHECK_INTEQ(sc_io_read_file(path, &text, &len), 0);
    CHECK(text && len == 0 && text[0] == '\0');
    free(text);
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)('a' + i % 26);
    write_file(path, big, sizeof big);
    CHECK_INTEQ(sc_io_read_file(path, &text, &len), 0);
    CHECK(text && len == sizeof big && !memcmp(text, big, len) && !text[len]);
    free(text);
    /* a pipe has no size: the buffer grows */
    CHECK(pipe(fds) == 0);
    if ((pid = fork()) == 0) {
        close(fds[0]);
        _exit(write(fds[1], big, sizeof big) == (ssize_t)sizeof big ? 0 : 1);
    }
    close(fds[1]);
    snprintf(msg, sizeof msg, "/dev/fd/%d", fds[0]);
    CHECK_INTEQ(sc_io_read_file(msg, &text, &len), 0);
    CHECK(text && len == sizeof big && !memcmp(text, big, len));
    free(text);
    close(fds[0]);
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    unlink(path);
    check_missing(sc_io_read_file, path, SC_ENOTFOUND);
    CHECK_INTEQ(sc_io_read_file(tmpdir, &text, &len), SC_EIO);
    snprintf(msg, sizeof msg, "cannot read '%s': Is a directory", tmpdir);
    CHECK_STREQ(sc_errmsg(), msg);
}

int main(void)
{
    if (unit_mkdtemp(tmpdir, sizeof tmpdir, "test_io") < 0)
        return 1;
    RUN(test_atomic_commit);
    RUN(test_atomic_abort);
    RUN(test_atomic_errors);
    RUN(test_atomic_stdout);
    RUN(test_atomic_device);
    RUN(test_tmpname);
    RUN(test_tmp_refuses_planted_link);
    RUN(test_tmp_commit_discard);
    RUN(test_tmp_removes_stale);
    RUN(test_tmp_sweep);
    RUN(test_tmp_cleanup);
    RUN(test_mkdir_p);
    RUN(test_lines_plain);
    RUN(test_lines_api);
    RUN(test_lines_long);
    RUN(test_lines_gzip);
    RUN(test_lines_errors);
    RUN(test_lines_stdin);
    RUN(test_read_file);
    RUN(test_read_file_gz);
    rmdir(tmpdir);
    return UNIT_DONE();
}
