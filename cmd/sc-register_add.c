/* sc-register add: register files or a manifest, in one or several processes.
 */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sc_hash.h"
#include "sc_log.h"
#include "sc_manifest.h"
#include "sc_objstore.h"
#include "sc_progress.h"

#include "sc-register.h"

static const char *const add_cols[] = {
    SC_MCOL_ID,       SC_MCOL_SHA256,     SC_MCOL_N_OBS, SC_MCOL_N_VARS,
    SC_MCOL_ORGANISM, SC_MCOL_REGISTERED, NULL};

struct adder {
    struct args *a;
    sc_registry *reg;
    sc_manifest *m;
    FILE *fp;
    sc_progress *prog;
    int64_t n_new, n_version, n_known, n_failed;
};

/* The download recorded in a manifest from sc-fetch (a URL in source,
 * and fetched_at) as a step whose output is the file sc-fetch wrote: the
 * first input of the dataset's provenance, else the dataset itself. */
static int fetch_step(sc_reg_meta *meta, const sc_mrow *row)
{
    const sc_reg_dataset *d = sc_reg_meta_dataset(meta);
    const char *src = sc_mrow_get(row, SC_MCOL_SOURCE);
    const char *when = sc_mrow_get(row, SC_MCOL_FETCHED_AT);
    sc_reg_step s = {0};

    /* a download: sc-harmonize and sc-annotate put their input's path in
     * source too, and they write no fetched_at of their own */
    if (!src || !strstr(src, "://") || !when || !*when)
        return 0;
    s.tool = "sc-fetch";
    s.version = sc_mrow_get(row, SC_MCOL_FETCH_VERSION);
    s.time = when;
    s.inputs = &src;
    s.n_inputs = 1;
    if (d->n_steps) {
        if (d->steps[0].n_inputs != 1)
            return 0;
        s.output_sha256 = d->steps[0].inputs[0];
    }
    return sc_reg_meta_add_step(meta, &s);
}

/* A local copy of the object URI (s3://, http(s)://) to read it as a local
 * file is read: DIR receives a new private directory under $TMPDIR (or
 * /tmp), FILE the copy in it (the key's base name when it is made of
 * [A-Za-z0-9._-], so a name's suffix still tells the format, else
 * "object"), SHA its sha256 from the bytes copied. An object larger than
 * MAX_SIZE (0: 1 TiB, as sc-fetch) is refused from its HEAD, before a byte
 * is copied; no more bytes than the HEAD named are read. obj_done removes
 * both. Returns 0 or what sc_obj_open / sc_obj_download return. */
static int obj_fetch(const char *uri, uint64_t max_size, char *dir,
                     size_t dsize, char *file, size_t fsize,
                     char sha[SC_HASH_HEX_SIZE])
{
    sc_http_opts o = SC_HTTP_OPTS_INIT;
    const char *tmp = getenv("TMPDIR"), *base = strrchr(uri, '/');
    sc_obj *ob = NULL;
    int64_t got;
    int rc;

    *dir = *file = '\0';
    o.max_size = max_size ? max_size : (uint64_t)1 << 40;
    if ((rc = sc_obj_open(uri, &ob)) < 0)
        return rc;
    snprintf(dir, dsize, "%s/sc-register.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        rc = sc_fail(SC_EIO, "'%s': cannot create '%s': %s", uri, dir,
                     strerror(errno));
        *dir = '\0';
        goto out;
    }
    base = base ? base + 1 : "";
    if (!*base || *base == '.' ||
        strspn(base, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                     "0123456789._-") != strlen(base) ||
        strlen(base) > 200)
        base = "object";
    snprintf(file, fsize, "%s/%s", dir, base);
    rc = sc_obj_download(&o, ob, file, -1, NULL, &got, sha);
out:
    sc_obj_free(ob);
    return rc;
}

/* Remove what obj_fetch made. */
static void obj_done(const char *dir, const char *file)
{
    if (*file)
        unlink(file);
    if (*dir)
        rmdir(dir);
}

/* The error of a local copy's reading told of the object: every FILE in
 * the message becomes URI. */
static int obj_error(int rc, const char *file, const char *uri)
{
    char msg[2048];
    size_t n = 0, fl = strlen(file);

    for (const char *m = sc_errmsg(); *m && n + 1 < sizeof msg;) {
        if (fl && !strncmp(m, file, fl)) {
            n += (size_t)snprintf(msg + n, sizeof msg - n, "%s", uri);
            m += fl;
        } else {
            msg[n++] = *m++;
        }
    }
    msg[n < sizeof msg ? n : sizeof msg - 1] = '\0';
    return sc_fail(rc, "%s", msg);
}

static int add_one(struct adder *ad, sc_mrow *row)
{
    static const char *const names[] = {"new", "version", "known"};
    const char *path = sc_mrow_path(row);
    const char *sha = ad->a->trust ? sc_mrow_get(row, SC_MCOL_SHA256) : NULL;
    unsigned flags = (sha && *sha ? SC_REG_NO_HASH : 0) | SC_REG_CHECK_X;
    const sc_reg_dataset *d;
    sc_reg_meta *meta = NULL;
    int64_t id;
    int rc, status;

    char dir[4096] = "", file[4400] = "", osha[SC_HASH_HEX_SIZE],
         tsha[SC_HASH_HEX_SIZE];
    const char *local = path;
    sc_reg_dataset obj;

    /* A line an earlier tool failed or refused names no usable file. */
    if (row && sc_mrow_skipped(row))
        return sc_mrow_set(row, SC_MCOL_REGISTERED, "skipped");
    /* an object is read from a private copy; the registry keeps its
     * location and the sha256 of its bytes */
    if (path && sc_obj_is_remote(path)) {
        if ((rc = obj_fetch(path, ad->a->max_size, dir, sizeof dir, file,
                            sizeof file, osha)) < 0)
            goto out;
        if (sha && *sha && strcmp(sha, osha)) {
            rc = sc_fail(SC_ECORRUPT, "'%s': sha256 %s, not the manifest's %s",
                         path, osha, sha);
            goto out;
        }
        local = file;
        sha = osha;
        flags |= SC_REG_NO_HASH;
    } else if (!(sha && *sha) && sc_mrow_trusted_sha256(row, path, tsha)) {
        /* the file is as the manifest's record of it says */
        sha = tsha;
        flags |= SC_REG_NO_HASH;
    }
    if ((rc = sc_registry_describe(local, flags, sha, &meta)) < 0 ||
        (row && (rc = fetch_step(meta, row)) < 0)) {
        if (rc < 0 && *file)
            rc = obj_error(rc, file, path);
        goto out;
    }
    d = sc_reg_meta_dataset(meta);
    if (*file) {
        obj = *d;
        obj.path = path;
        obj.mtime = 0; /* an object has no mtime of ours: verify hashes it */
        d = &obj;
    }
    if ((rc = sc_registry_add(ad->reg, d, &id, &status)) < 0)
        goto out;
    *(status == SC_REG_NEW       ? &ad->n_new
      : status == SC_REG_VERSION ? &ad->n_version
                                 : &ad->n_known) += 1;
    sc_log_debug("'%s': artifact %" PRId64 " (%s)", path, id, names[status]);
    if ((rc = sc_mrow_setf(row, SC_MCOL_ID, "%" PRId64, id)) < 0 ||
        (rc = sc_mrow_set(row, SC_MCOL_SHA256, d->sha256)) < 0 ||
        (rc = sc_mrow_set(row, SC_MCOL_REGISTERED, names[status])) < 0)
        goto out;
    if (strcmp(d->format, "file")) {
        if ((rc = sc_mrow_setf(row, SC_MCOL_N_OBS, "%" PRId64, d->n_obs)) < 0 ||
            (rc = sc_mrow_setf(row, SC_MCOL_N_VARS, "%" PRId64, d->n_vars)) <
                0 ||
            (rc = sc_mrow_set(row, SC_MCOL_ORGANISM, d->organism)) < 0)
            goto out;
    }
out:
    sc_reg_meta_free(meta);
    if (*dir)
        obj_done(dir, file);
    return rc;
}

/* Register ROW, write its output line; under -k a failure is reported
 * and marked, else it ends the run. */
static int add_row(struct adder *ad, sc_mrow *row)
{
    int rc = add_one(ad, row);

    if (rc < 0) {
        ad->n_failed++;
        if (!ad->a->keep_going)
            return rc;
        sc_progress_done(ad->prog);
        ad->prog = NULL;
        sc_log_error("%s", sc_errmsg());
        if ((rc = sc_mrow_set(row, SC_MCOL_REGISTERED, "failed")) < 0)
            return rc;
    }
    sc_progress_add(ad->prog, 1);
    return sc_manifest_write_row(ad->m, row, ad->fp);
}

static int add_manifest(struct adder *ad)
{
    sc_mrow *row = NULL;
    int rc;

    while ((rc = sc_manifest_next(ad->m, &row)) != 0) {
        if (rc < 0) {
            /* a bad line (no path): nothing of it is registered */
            ad->n_failed++;
            if (!ad->a->keep_going || rc != SC_EFORMAT)
                return rc;
            sc_log_error("%s", sc_errmsg());
            continue;
        }
        rc = add_row(ad, row);
        sc_mrow_free(row);
        if (rc < 0)
            return rc;
    }
    return 0;
}

/* ---- several processes (-@ N) ---- */

/* HDF5 serialises every call through one lock, so threads would wait on
 * each other: -@ N forks N workers, each with its own registry connection,
 * taking rows i = w, w + N, ... and sending one record per row back on its
 * pipe: "I\tREGISTERED\tID\tSHA256\tN_OBS\tN_VARS\tORGANISM\n", or
 * "I\tfailed\tMESSAGE\n". The parent writes the rows in input order. */

static const char *const rec_cols[] = {SC_MCOL_REGISTERED,
                                       SC_MCOL_ID,
                                       SC_MCOL_SHA256,
                                       SC_MCOL_N_OBS,
                                       SC_MCOL_N_VARS,
                                       SC_MCOL_ORGANISM,
                                       NULL};

static void worker(struct adder *ad, sc_mrow **rows, size_t n, size_t w,
                   size_t nw, int fd)
{
    FILE *fp = fdopen(fd, "w");
    int rc;

    if (!fp)
        _exit(1);
    signal(SIGPIPE, SIG_DFL);
    rc = reg_open(ad->a, 0, &ad->reg);
    for (size_t i = w; i < n; i += nw) {
        if (rc == 0)
            rc = add_one(ad, rows[i]);
        fprintf(fp, "%zu", i);
        if (rc < 0) {
            /* the message on one line */
            fputs("\tfailed\t", fp);
            for (const char *m = sc_errmsg(); *m; m++)
                fputc(*m == '\t' || *m == '\n' ? ' ' : *m, fp);
        } else {
            for (const char *const *c = rec_cols; *c; c++)
                fprintf(fp, "\t%s", sc_mrow_get(rows[i], *c));
        }
        fputc('\n', fp);
        fflush(fp);
        if (rc < 0 && !ad->a->keep_going)
            break;
        rc = 0;
    }
    fclose(fp);
    sc_registry_close(ad->reg);
    _exit(0);
}

/* Apply record LINE to its row. Returns the row index, or -1. */
static long apply_record(sc_mrow **rows, size_t n, char *line, char **msg,
                         int *failed)
{
    char *f[8];
    size_t k = 0;
    long i;

    for (char *p = line; k < 8; k++) {
        f[k] = p;
        if (!(p = strchr(p, '\t')))
            break;
        *p++ = '\0';
    }
    i = strtol(f[0], NULL, 10);
    if (i < 0 || (size_t)i >= n || k < 2)
        return -1;
    *failed = !strcmp(f[1], "failed");
    *msg = *failed ? f[2] : NULL;
    for (size_t c = 0; !*failed && rec_cols[c] && c + 1 <= k; c++)
        if (sc_mrow_set(rows[i], rec_cols[c], f[c + 1]) < 0)
            return -1;
    return i;
}

struct pipebuf {
    int fd;
    char *buf;
    size_t len, cap;
};

static int add_parallel(struct adder *ad, sc_mrow **rows, size_t n)
{
    size_t nw =
        (size_t)ad->a->cli->threads < n ? (size_t)ad->a->cli->threads : n;
    struct pipebuf *pb = calloc(nw, sizeof *pb);
    pid_t *pids = calloc(nw, sizeof *pids);
    char *state = calloc(n, 1); /* 0 waiting, 1 done, 2 failed */
    char **msgs = calloc(n, sizeof *msgs);
    size_t next = 0, open_fds = 0;
    int rc = 0, stop = 0;

    if (!pb || !pids || !state || !msgs) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto out;
    }
    fflush(NULL);
    for (size_t w = 0; w < nw; w++) {
        int fd[2];
        if (pipe(fd) != 0) {
            rc = sc_fail(SC_EIO, "cannot make a pipe: %s", strerror(errno));
            break;
        }
        if ((pids[w] = fork()) == 0) {
            close(fd[0]);
            for (size_t v = 0; v < w; v++)
                close(pb[v].fd);
            worker(ad, rows, n, w, nw, fd[1]);
        }
        close(fd[1]);
        if (pids[w] < 0) {
            close(fd[0]);
            rc = sc_fail(SC_EIO, "cannot fork: %s", strerror(errno));
            break;
        }
        pb[w].fd = fd[0];
        open_fds++;
    }
    while (rc == 0 && open_fds > 0 && !stop) {
        struct pollfd pfd[64];
        size_t map[64], np = 0;
        for (size_t w = 0; w < nw && np < 64; w++)
            if (pb[w].fd >= 0 && pids[w] > 0) {
                pfd[np].fd = pb[w].fd;
                pfd[np].events = POLLIN;
                map[np++] = w;
            }
        if (poll(pfd, np, -1) < 0) {
            if (errno == EINTR)
                continue;
            rc = sc_fail(SC_EIO, "poll: %s", strerror(errno));
            break;
        }
        for (size_t k = 0; k < np && rc == 0; k++) {
            struct pipebuf *b = &pb[map[k]];
            char *nl;
            ssize_t got;
            if (!(pfd[k].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            if (b->cap - b->len < 4096) {
                char *p = realloc(b->buf, b->cap = b->cap * 2 + 8192);
                if (!p) {
                    rc = sc_fail(SC_ENOMEM, "out of memory");
                    break;
                }
                b->buf = p;
            }
            if ((got = read(b->fd, b->buf + b->len, b->cap - b->len - 1)) <=
                0) {
                close(b->fd);
                b->fd = -1;
                open_fds--;
                continue;
            }
            b->len += (size_t)got;
            b->buf[b->len] = '\0';
            while ((nl = memchr(b->buf, '\n', b->len))) {
                char *msg;
                int failed;
                long i;
                *nl = '\0';
                i = apply_record(rows, n, b->buf, &msg, &failed);
                if (i >= 0) {
                    state[i] = failed ? 2 : 1;
                    if (msg && !(msgs[i] = strdup(msg)))
                        rc = sc_fail(SC_ENOMEM, "out of memory");
                    if (failed && !ad->a->keep_going)
                        stop = 1;
                    sc_progress_add(ad->prog, 1);
                }
                b->len -= (size_t)(nl + 1 - b->buf);
                memmove(b->buf, nl + 1, b->len);
            }
        }
        /* write what is complete, in input order */
        for (; rc == 0 && next < n && state[next]; next++) {
            const char *reg = sc_mrow_get(rows[next], SC_MCOL_REGISTERED);
            if (state[next] == 2) {
                ad->n_failed++;
                if (!ad->a->keep_going) {
                    rc = sc_fail(SC_EIO, "%s", msgs[next]);
                    break;
                }
                sc_progress_done(ad->prog);
                ad->prog = NULL;
                sc_log_error("%s", msgs[next]);
                rc = sc_mrow_set(rows[next], SC_MCOL_REGISTERED, "failed");
            } else {
                *(!strcmp(reg, "new")       ? &ad->n_new
                  : !strcmp(reg, "version") ? &ad->n_version
                                            : &ad->n_known) += 1;
            }
            if (rc == 0)
                rc = sc_manifest_write_row(ad->m, rows[next], ad->fp);
        }
    }
    if (rc == 0 && stop) {
        /* a failure without -k: report the first one in input order */
        for (size_t i = 0; i < n; i++)
            if (state[i] == 2) {
                ad->n_failed++;
                rc = sc_fail(SC_EIO, "%s", msgs[i]);
                break;
            }
    }
    if (rc == 0 && next < n)
        rc = sc_fail(SC_EIO, "a worker process ended before its datasets "
                             "were registered");
out:
    for (size_t w = 0; pids && w < nw; w++) {
        if (pids[w] > 0) {
            if (rc < 0)
                kill(pids[w], SIGTERM);
            waitpid(pids[w], NULL, 0);
        }
        if (pb[w].fd > 0)
            close(pb[w].fd);
        free(pb[w].buf);
    }
    for (size_t i = 0; msgs && i < n; i++)
        free(msgs[i]);
    free(msgs);
    free(state);
    free(pids);
    free(pb);
    return rc;
}

/* Read every row first (the workers share them through fork). */
static int add_all_parallel(struct adder *ad, int from_stdin, int argc,
                            char **argv)
{
    sc_mrow **rows = NULL, *row;
    size_t n = 0, cap = 0;
    int rc = 0;

    for (int i = 0;; i++) {
        if (from_stdin) {
            if ((rc = sc_manifest_next(ad->m, &row)) == 0)
                break;
            if (rc < 0) {
                ad->n_failed++;
                if (!ad->a->keep_going || rc != SC_EFORMAT)
                    break;
                sc_log_error("%s", sc_errmsg());
                rc = 0;
                continue;
            }
        } else {
            if (i >= argc)
                break;
            if ((rc = sc_mrow_new(ad->m, argv[i], &row)) < 0)
                break;
        }
        if (n == cap) {
            sc_mrow **v = realloc(rows, (cap = cap * 2 + 64) * sizeof *v);
            if (!v) {
                sc_mrow_free(row);
                rc = sc_fail(SC_ENOMEM, "out of memory");
                break;
            }
            rows = v;
        }
        rows[n++] = row;
    }
    if (rc >= 0) {
        sc_progress_set_total(ad->prog, n);
        rc = n ? add_parallel(ad, rows, n) : 0;
    }
    for (size_t i = 0; i < n; i++)
        sc_mrow_free(rows[i]);
    free(rows);
    return rc;
}

int cmd_add(struct args *a, int argc, char **argv)
{
    struct adder ad = {a, NULL, NULL, NULL, NULL, 0, 0, 0, 0};
    sc_atomic at = {0};
    int rc, from_stdin = argc == 0 || (argc == 1 && !strcmp(argv[0], "-"));

    if (argc == 0 && isatty(STDIN_FILENO))
        return usage_fail("add: missing operand (files, or a "
                          "manifest on stdin)");
    if ((rc = from_stdin ? sc_manifest_open("-", &ad.m)
                         : sc_manifest_new(&ad.m)) < 0)
        return rc;
    for (const char *const *c = add_cols; *c && rc == 0; c++)
        rc = sc_manifest_add_col(ad.m, *c);
    if (rc < 0 || (rc = reg_open(a, 0, &ad.reg)) < 0)
        goto out;
    if (a->root && (rc = sc_registry_add_root(ad.reg, a->root)) < 0)
        goto out;
    if (a->cli->threads > 1) {
        /* each worker opens its own connection */
        rc = sc_registry_close(ad.reg);
        ad.reg = NULL;
        if (rc < 0)
            goto out;
    }
    if ((rc = out_open(a, &at, &ad.fp)) < 0)
        goto out;
    ad.prog = sc_progress_new("add", from_stdin ? 0 : (uint64_t)argc, 0,
                              a->cli->progress);
    sc_progress_set_unit(ad.prog, "datasets");
    if ((rc = sc_manifest_write_header(ad.m, ad.fp)) == 0) {
        if (a->cli->threads > 1) {
            rc = add_all_parallel(&ad, from_stdin, argc, argv);
        } else if (from_stdin) {
            rc = add_manifest(&ad);
        } else {
            for (int i = 0; i < argc && rc == 0; i++) {
                sc_mrow *row;
                if ((rc = sc_mrow_new(ad.m, argv[i], &row)) < 0)
                    break;
                rc = add_row(&ad, row);
                sc_mrow_free(row);
            }
        }
    }
    sc_progress_done(ad.prog);
    rc = out_close(&at, rc);
out:
    sc_log_info("%" PRId64 " new, %" PRId64 " new versions, %" PRId64
                " known, %" PRId64 " failed",
                ad.n_new, ad.n_version, ad.n_known, ad.n_failed);
    if (sc_registry_close(ad.reg) < 0 && rc == 0)
        rc = SC_EREGISTRY;
    sc_manifest_free(ad.m);
    if (rc == 0 && ad.n_failed) {
        sc_log_warn("%" PRId64 " of the datasets failed", ad.n_failed);
        return SC_EXIT_PARTIAL;
    }
    return rc;
}
