/* sc_http_state: the state of a download directory (sc_state_*, declared
 * in sc_http.h): what was fetched there, kept in a TSV file. */
/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_http.h"
#include "sc_io.h"
#include "sc_progress.h"
#include "sc_provenance.h"

/* ---- the state of a download directory ---- */

struct sc_state {
    char *dir;
    char *path; /* DIR/SC_STATE_FILE */
    int lock_fd;
    pthread_mutex_t mu;
    sc_state_entry *v;
    size_t n, cap;
    int dirty;
    int64_t saved; /* sc_mono_ns() of the last save */
};

enum {
    F_NAME,
    F_DATASET,
    F_VERSION,
    F_SIZE,
    F_SHA,
    F_URL,
    F_TIME,
    F_FETCH_VERSION,
    N_FIELDS
};
static const char *const field_names[N_FIELDS] = {
    "name",   "dataset_id", "version_id", "size",
    "sha256", "url",        "fetched_at", "fetch_version"};

void sc_state_entry_release(sc_state_entry *e)
{
    if (!e)
        return;
    free(e->name);
    free(e->dataset_id);
    free(e->version_id);
    free(e->url);
    free(e->sha256);
    free(e->fetched_at);
    free(e->fetch_version);
    memset(e, 0, sizeof *e);
}

/* A copy of S ("" for NULL) with tabs and line breaks made spaces, so that
 * a field never breaks the TSV. */
static char *field_dup(const char *s)
{
    char *d = strdup(s ? s : "");

    for (char *p = d; p && *p; p++)
        if (*p == '\t' || *p == '\n' || *p == '\r')
            *p = ' ';
    return d;
}

static int entry_copy(sc_state_entry *d, const sc_state_entry *s)
{
    memset(d, 0, sizeof *d);
    d->size = s->size;
    if (!(d->name = field_dup(s->name)) ||
        !(d->dataset_id = field_dup(s->dataset_id)) ||
        !(d->version_id = field_dup(s->version_id)) ||
        !(d->url = field_dup(s->url)) || !(d->sha256 = field_dup(s->sha256)) ||
        !(d->fetched_at = field_dup(s->fetched_at)) ||
        !(d->fetch_version = field_dup(s->fetch_version))) {
        sc_state_entry_release(d);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    return 0;
}

static int state_append(sc_state *st, const sc_state_entry *e)
{
    if (st->n == st->cap) {
        size_t cap = st->cap ? st->cap * 2 : 64;
        sc_state_entry *v = realloc(st->v, cap * sizeof *v);
        if (!v)
            return sc_fail(SC_ENOMEM, "out of memory");
        st->v = v;
        st->cap = cap;
    }
    if (entry_copy(&st->v[st->n], e) < 0)
        return SC_ENOMEM;
    st->n++;
    return 0;
}

/* Split LINE at tabs into at most MAX fields (in place). */
static int split_tabs(char *line, char **f, int max)
{
    int n = 0;

    for (;;) {
        if (n == max)
            return n;
        f[n++] = line;
        if (!(line = strchr(line, '\t')))
            return n;
        *line++ = '\0';
    }
}

static int state_load(sc_state *st)
{
    enum { MAX_COLS = 64 };
    int col[N_FIELDS], rc, ncols = 0;
    char *line, *f[MAX_COLS];
    sc_lines *in = NULL;
    size_t len;
    struct stat sb;

    if (stat(st->path, &sb) != 0 && errno == ENOENT)
        return 0;
    if ((rc = sc_lines_open(st->path, &in)) < 0)
        return rc;
    while ((rc = sc_lines_next(in, &line, &len)) == 1) {
        sc_state_entry e = {0};
        int n;
        if (line[0] == '#' || line[0] == '\0')
            continue;
        n = split_tabs(line, f, MAX_COLS);
        if (!ncols) { /* the header: columns by name, any order */
            ncols = n;
            for (int k = 0; k < N_FIELDS; k++) {
                col[k] = -1;
                for (int i = 0; i < n; i++)
                    if (!strcmp(f[i], field_names[k]))
                        col[k] = i;
            }
            if (col[F_NAME] < 0) {
                rc = sc_fail(SC_EFORMAT, "'%s' line %ld: no 'name' column",
                             st->path, sc_lines_lineno(in));
                break;
            }
            continue;
        }
        if (n != ncols) {
            rc = sc_fail(SC_EFORMAT, "'%s' line %ld: %d fields, expected %d",
                         st->path, sc_lines_lineno(in), n, ncols);
            break;
        }
#define COL(k) (col[k] >= 0 ? f[col[k]] : "")
        e.name = COL(F_NAME);
        e.dataset_id = COL(F_DATASET);
        e.version_id = COL(F_VERSION);
        e.url = COL(F_URL);
        e.sha256 = COL(F_SHA);
        e.fetched_at = COL(F_TIME);
        e.fetch_version = COL(F_FETCH_VERSION);
        e.size = col[F_SIZE] >= 0 ? strtoll(f[col[F_SIZE]], NULL, 10) : -1;
#undef COL
        if ((rc = state_append(st, &e)) < 0)
            break;
    }
    sc_lines_close(in);
    return rc < 0 ? rc : 0;
}

void sc_state_close(sc_state *st)
{
    if (!st)
        return;
    for (size_t i = 0; i < st->n; i++)
        sc_state_entry_release(&st->v[i]);
    free(st->v);
    if (st->lock_fd >= 0)
        close(st->lock_fd);
    pthread_mutex_destroy(&st->mu);
    free(st->dir);
    free(st->path);
    free(st);
}

static char *path_join(const char *dir, const char *name)
{
    size_t n = strlen(dir) + strlen(name) + 2;
    char *p = malloc(n);

    if (p)
        snprintf(p, n, "%s/%s", dir, name);
    return p;
}

int sc_state_open(const char *dir, sc_state **out)
{
    sc_state *st;
    char *lock = NULL;
    int rc;

    *out = NULL;
    if ((rc = sc_io_mkdir_p(dir)) < 0)
        return rc;
    if (!(st = calloc(1, sizeof *st)))
        return sc_fail(SC_ENOMEM, "out of memory");
    st->lock_fd = -1;
    pthread_mutex_init(&st->mu, NULL);
    st->saved = sc_mono_ns();
    if (!(st->dir = strdup(dir)) ||
        !(st->path = path_join(dir, SC_STATE_FILE)) ||
        !(lock = path_join(dir, ".sc-fetch.lock"))) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    st->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (st->lock_fd < 0) {
        rc = sc_fail(SC_EIO, "cannot create '%s': %s", lock, strerror(errno));
        goto fail;
    }
    if (flock(st->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        rc = errno == EWOULDBLOCK
                 ? sc_fail(SC_EEXIST, "'%s' is in use by another sc-fetch", dir)
                 : sc_fail(SC_EIO, "cannot lock '%s': %s", lock,
                           strerror(errno));
        goto fail;
    }
    if ((rc = state_load(st)) < 0)
        goto fail;
    free(lock);
    *out = st;
    return 0;
fail:
    free(lock);
    sc_state_close(st);
    return rc;
}

static int state_write(sc_state *st)
{
    sc_atomic a;
    FILE *fp;
    int rc;

    if ((rc = sc_io_atomic_open(st->path, &a, &fp)) < 0)
        return rc;
    for (int k = 0; k < N_FIELDS; k++)
        fprintf(fp, "%s%c", field_names[k], k + 1 < N_FIELDS ? '\t' : '\n');
    for (size_t i = 0; i < st->n; i++) {
        const sc_state_entry *e = &st->v[i];
        fprintf(fp, "%s\t%s\t%s\t%" PRId64 "\t%s\t%s\t%s\t%s\n", e->name,
                e->dataset_id, e->version_id, e->size, e->sha256, e->url,
                e->fetched_at, e->fetch_version);
    }
    if ((rc = sc_io_atomic_commit(&a)) < 0)
        return rc;
    st->dirty = 0;
    st->saved = sc_mono_ns();
    return 0;
}

int sc_state_save(sc_state *st)
{
    int rc;

    pthread_mutex_lock(&st->mu);
    rc = state_write(st);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sc_state_save_every(sc_state *st, double seconds)
{
    int rc = 0;

    pthread_mutex_lock(&st->mu);
    if (st->dirty && (double)(sc_mono_ns() - st->saved) * 1e-9 >= seconds)
        rc = state_write(st);
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sc_state_find(sc_state *st, const char *name, const char *dataset_id,
                  sc_state_entry *e)
{
    const sc_state_entry *hit = NULL;
    int rc = 0;

    memset(e, 0, sizeof *e);
    pthread_mutex_lock(&st->mu);
    for (size_t i = 0; i < st->n; i++) {
        const sc_state_entry *c = &st->v[i];
        if (name ? !strcmp(c->name, name)
                 : dataset_id && dataset_id[0] &&
                       !strcmp(c->dataset_id, dataset_id) &&
                       (!hit || strcmp(c->fetched_at, hit->fetched_at) >= 0))
            hit = c;
        if (hit && name)
            break;
    }
    if (hit)
        rc = entry_copy(e, hit) < 0 ? SC_ENOMEM : 1;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

int sc_state_put(sc_state *st, const sc_state_entry *e)
{
    sc_state_entry copy = *e;
    char when[32];
    int rc = 0;
    size_t i;

    if (!e->fetched_at || !e->fetched_at[0]) {
        sc_time_iso((int64_t)time(NULL), when);
        copy.fetched_at = when;
    }
    pthread_mutex_lock(&st->mu);
    for (i = 0; i < st->n; i++)
        if (!strcmp(st->v[i].name, e->name))
            break;
    if (i < st->n) {
        sc_state_entry fresh;
        if ((rc = entry_copy(&fresh, &copy)) == 0) {
            sc_state_entry_release(&st->v[i]);
            st->v[i] = fresh;
        }
    } else {
        rc = state_append(st, &copy);
    }
    if (rc == 0)
        st->dirty = 1;
    pthread_mutex_unlock(&st->mu);
    return rc;
}

size_t sc_state_count(sc_state *st)
{
    return st->n;
}

const sc_state_entry *sc_state_get(sc_state *st, size_t i)
{
    return i < st->n ? &st->v[i] : NULL;
}
