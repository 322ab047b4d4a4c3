/* sc_objstore_cache: a reader of one object through a bounded block cache
 * on disk, with a fetcher thread that keeps ranged GETs in flight ahead of
 * the readers. */
/* SPDX-License-Identifier: MIT */
#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sc_io.h"
#include "sc_log.h"
#include "sc_objstore.h"
#include "sc_objstore_int.h"
#include "sc_pool.h"
#include "sc_progress.h"

/*
 * Locking: MU guards the block states, the LRU list, the queue, the pins,
 * the errors and the stats. It is never held during a transfer, nor while
 * a reader copies a block out of its file: the fetcher thread takes it
 * only to choose what to fetch and to record what landed; a reader takes
 * it to find its block (waiting on LANDED while the block is on its way)
 * and pins the block, so that it is not evicted while read.
 *
 * Read-ahead: a reader that misses block B asks for B first and for the
 * PARALLEL blocks after it (sc_obj_ra_plan); when a reader first touches a
 * block that came by read-ahead, the window slides to the PARALLEL blocks
 * after that one. A sequential reader so finds its blocks landed, with PARALLEL
 * GETs in flight ahead of it. Read-ahead never evicts a block fetched
 * ahead and not read yet, and is dropped when nothing else can go.
 */

#define NO_BLOCK UINT64_MAX
#define ERRMSG   512

/* One request in flight (or waiting to be asked again). */
struct slot {
    struct obj_req q;
    CURL *h;
    struct curl_slist *hdrs;
    uint64_t b; /* NO_BLOCK: free */
    int attempt, pending;
    double retry_at; /* pending: not before (monotonic seconds) */
    sc_tmp t;
};

struct sc_obj_reader {
    sc_http_opts o;
    sc_obj *ob;
    int64_t size;
    char etag[SC_OBJ_ETAG_MAX];
    size_t block;
    int parallel;
    uint64_t n_blocks, cap;  /* cap: blocks the cache may hold */
    uint64_t n_have, n_busy; /* blocks present, blocks being fetched */
    int dirfd;               /* the object's cache directory */
    char *dir;
    pthread_mutex_t mu;
    pthread_cond_t landed; /* a block landed or failed */
    pthread_cond_t work;   /* the fetcher may have something to do */
    sc_pool *pool;         /* the fetcher's background worker */
    int th_started, stop, idle;
    int room_wait; /* the fetcher waits for a block to be unpinned */
    CURLM *m;
    /* per block */
    unsigned char *state; /* SC_OBJ_B_* */
    unsigned char *ra;    /* landed by read-ahead, not read yet */
    uint32_t *want;       /* readers wait for it */
    uint32_t *pins;       /* readers copying out of its file */
    int *err;             /* its last fetch failed with this code */
    /* the present blocks, most recently used first */
    int64_t *prev, *next, head, tail;
    /* blocks asked for, the next to fetch first */
    uint64_t *q;
    size_t q_cap, q_head, q_len;
    struct slot *slots;
    char errmsg[ERRMSG]; /* of the last failed fetch */
    sc_obj_reader_stats st;
};

size_t sc_obj_ra_plan(const unsigned char *state, uint64_t n, uint64_t b,
                      unsigned window, uint64_t *out)
{
    size_t k = 0;

    for (uint64_t i = b + 1; i < n && i <= b + window; i++)
        if (state[i] == SC_OBJ_B_ABSENT)
            out[k++] = i;
    return k;
}

int64_t sc_obj_reader_size(const sc_obj_reader *r)
{
    return r->size;
}

const char *sc_obj_reader_etag(const sc_obj_reader *r)
{
    return r->etag;
}

void sc_obj_reader_stats_get(sc_obj_reader *r, sc_obj_reader_stats *st)
{
    pthread_mutex_lock(&r->mu);
    *st = r->st;
    pthread_mutex_unlock(&r->mu);
}

static void lru_unlink(sc_obj_reader *r, int64_t b)
{
    if (r->prev[b] >= 0)
        r->next[r->prev[b]] = r->next[b];
    else
        r->head = r->next[b];
    if (r->next[b] >= 0)
        r->prev[r->next[b]] = r->prev[b];
    else
        r->tail = r->prev[b];
    r->prev[b] = r->next[b] = -1;
}

static void lru_front(sc_obj_reader *r, int64_t b)
{
    r->prev[b] = -1;
    r->next[b] = r->head;
    if (r->head >= 0)
        r->prev[r->head] = b;
    r->head = b;
    if (r->tail < 0)
        r->tail = b;
}

static size_t block_len(const sc_obj_reader *r, uint64_t b)
{
    uint64_t lo = b * r->block;

    return (uint64_t)r->size - lo < r->block ? (size_t)((uint64_t)r->size - lo)
                                             : r->block;
}

static void block_name(uint64_t b, char *name, size_t size)
{
    snprintf(name, size, "%012" PRIu64 ".blk", b);
}

/* ---- the queue (under MU) ---- */

static int q_grow(sc_obj_reader *r)
{
    size_t cap = r->q_cap ? 2 * r->q_cap : 64;
    uint64_t *q = malloc(cap * sizeof *q);

    if (!q)
        return sc_fail(SC_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->q_len; i++)
        q[i] = r->q[(r->q_head + i) % r->q_cap];
    free(r->q);
    r->q = q;
    r->q_cap = cap;
    r->q_head = 0;
    return 0;
}

/* Ask for block B: first (a reader waits) or last (read-ahead). */
static int q_push(sc_obj_reader *r, uint64_t b, int first)
{
    int rc;

    if (r->q_len == r->q_cap && (rc = q_grow(r)) < 0)
        return rc;
    if (first) {
        r->q_head = (r->q_head + r->q_cap - 1) % r->q_cap;
        r->q[r->q_head] = b;
    } else {
        r->q[(r->q_head + r->q_len) % r->q_cap] = b;
    }
    r->q_len++;
    if (r->state[b] == SC_OBJ_B_ABSENT)
        r->state[b] = SC_OBJ_B_QUEUED;
    return 0;
}

/* The next block asked for that is still to fetch, or NO_BLOCK. */
static uint64_t q_pop(sc_obj_reader *r)
{
    while (r->q_len) {
        uint64_t b = r->q[r->q_head];
        r->q_head = (r->q_head + 1) % r->q_cap;
        r->q_len--;
        if (r->state[b] == SC_OBJ_B_QUEUED)
            return b;
    }
    return NO_BLOCK;
}

static void wake_fetcher(sc_obj_reader *r)
{
    pthread_cond_signal(&r->work);
    if (!r->idle)
        curl_multi_wakeup(r->m);
}

/* Ask for the read-ahead window after block B. */
static int read_ahead(sc_obj_reader *r, uint64_t b)
{
    uint64_t ids[64];
    size_t n =
        sc_obj_ra_plan(r->state, r->n_blocks, b, (unsigned)r->parallel, ids);
    int rc;

    for (size_t i = 0; i < n; i++)
        if ((rc = q_push(r, ids[i], 0)) < 0)
            return rc;
    return 0;
}

/* ---- the fetcher ---- */

/* Make room for one more block: drop the least recently used one that no
 * reader is copying (and, for read-ahead (RA), that is not itself a block
 * fetched ahead and not read yet). 1: room, 0: none. */
static int make_room(sc_obj_reader *r, int ra)
{
    char name[32];
    int64_t b;

    if (r->n_have + r->n_busy < r->cap)
        return 1;
    for (b = r->tail; b >= 0; b = r->prev[b])
        if (!r->pins[b] && !r->want[b] && !(ra && r->ra[b]))
            break;
    if (b < 0)
        return 0;
    lru_unlink(r, b);
    r->state[b] = SC_OBJ_B_ABSENT;
    r->ra[b] = 0;
    r->n_have--;
    r->st.evicted++;
    block_name((uint64_t)b, name, sizeof name);
    if (unlinkat(r->dirfd, name, 0) != 0 && errno != ENOENT)
        sc_log_warn("cannot remove '%s/%s': %s", r->dir, name, strerror(errno));
    return r->n_have + r->n_busy < r->cap;
}

/* Choose the blocks to fetch next into the free slots (under MU). */
static void choose(sc_obj_reader *r)
{
    while (r->n_busy < (uint64_t)r->parallel) {
        struct slot *s = NULL;
        uint64_t b = q_pop(r);
        if (b == NO_BLOCK)
            return;
        if (!make_room(r, !r->want[b])) {
            r->state[b] = SC_OBJ_B_ABSENT;
            if (r->want[b]) { /* a reader waits: ask again later */
                (void)q_push(r, b, 1);
                r->room_wait = 1;
                return;
            }
            continue; /* read-ahead: dropped */
        }
        for (int i = 0; i < r->parallel && !s; i++)
            if (r->slots[i].b == NO_BLOCK)
                s = &r->slots[i];
        r->state[b] = SC_OBJ_B_FETCHING;
        r->n_busy++;
        s->b = b;
        s->attempt = 0;
        s->pending = 1;
        s->retry_at = 0;
    }
}

/* Record the end of slot S's fetch: RC 0 (the block is in its file) or a
 * failure with its message (under MU). */
static void landed(sc_obj_reader *r, struct slot *s, int rc)
{
    uint64_t b = s->b;

    r->n_busy--;
    if (rc == 0) {
        r->state[b] = SC_OBJ_B_PRESENT;
        r->ra[b] = !r->want[b];
        r->n_have++;
        lru_front(r, (int64_t)b);
        r->st.fetched++;
        r->st.bytes += s->q.len;
    } else {
        r->state[b] = SC_OBJ_B_ABSENT;
        r->err[b] = rc;
        snprintf(r->errmsg, sizeof r->errmsg, "%s", sc_errmsg());
    }
    s->b = NO_BLOCK;
    pthread_cond_broadcast(&r->landed);
}

/* Start the request of slot S (outside MU). 0 or a failure. */
static int start(sc_obj_reader *r, struct slot *s)
{
    char name[32], path[4200];
    int fd;

    s->pending = 0;
    if (!s->t.path) {
        block_name(s->b, name, sizeof name);
        snprintf(path, sizeof path, "%s/%s", r->dir, name);
        /* the directory was swept once, when the reader opened */
        if ((fd = sc_io_tmp_open(path, NULL, SC_TMP_CREATE | SC_TMP_NO_SWEEP,
                                 &s->t)) < 0)
            return fd;
        s->q.out_fd = fd;
    }
    s->q.o = &r->o;
    s->q.ob = r->ob;
    s->q.to_file = 1;
    s->q.fd = -1;
    s->q.off = s->b * r->block;
    s->q.len = block_len(r, s->b);
    s->q.got = 0;
    s->q.too_long = 0;
    s->q.wr_err = 0;
    s->q.status = 0;
    if (!(s->h = sc_obj_req_easy(&s->q, &s->hdrs)))
        return sc_fail(SC_ENOMEM, "out of memory");
    sc_obj_req_setup_get(&s->q, s->h);
    curl_easy_setopt(s->h, CURLOPT_PRIVATE, s);
    curl_easy_setopt(s->h, CURLOPT_BUFFERSIZE, 256L << 10);
    if (curl_multi_add_handle(r->m, s->h) != CURLM_OK)
        return sc_fail(SC_ENOMEM, "out of memory");
    return 0;
}

static void drop_handle(sc_obj_reader *r, struct slot *s)
{
    if (s->h) {
        curl_multi_remove_handle(r->m, s->h);
        curl_easy_cleanup(s->h);
        s->h = NULL;
    }
    curl_slist_free_all(s->hdrs);
    s->hdrs = NULL;
}

/* Close slot S's file: into place when RC is 0, else removed. */
static int finish_file(struct slot *s, int rc)
{
    if (!s->t.path)
        return rc;
    if (close(s->q.out_fd) != 0 && rc == 0)
        rc = sc_fail(SC_EIO, "cannot write '%s': %s", s->t.path,
                     strerror(errno));
    if (rc == 0)
        rc = sc_io_tmp_commit(&s->t);
    else
        sc_io_tmp_discard(&s->t);
    memset(&s->t, 0, sizeof s->t);
    return rc;
}

/* Slot S's transfer ended with CC (outside MU): 0 (landed), or a failure
 * that is final, or 1 when it is to be asked again. */
static int ended(sc_obj_reader *r, struct slot *s, CURLcode cc)
{
    int rc = 0, what = sc_obj_req_get_outcome(&s->q, s->h, cc, &rc);

    drop_handle(r, s);
    if (what == SC_OBJ_RETRY && s->attempt < r->o.retries &&
        !(r->o.cancel && *r->o.cancel)) {
        s->attempt++;
        sc_log_info("%s; retrying (%d of %d)", sc_errmsg(), s->attempt,
                    r->o.retries);
        s->pending = 1;
        s->retry_at =
            sc_mono_ns() * 1e-9 + sc_obj_retry_wait(&r->o, s->attempt);
        return 1;
    }
    return finish_file(s, what == SC_OBJ_OK ? 0 : rc);
}

/* Record the transfers that ended (outside MU). How many did. */
static int reap(sc_obj_reader *r)
{
    int n = 0, left;

    for (CURLMsg *msg; (msg = curl_multi_info_read(r->m, &left));) {
        struct slot *s;
        char *pv = NULL;
        int rc;
        if (msg->msg != CURLMSG_DONE)
            continue;
        n++;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &pv);
        s = (struct slot *)(void *)pv;
        if ((rc = ended(r, s, msg->data.result)) == 1)
            continue;
        pthread_mutex_lock(&r->mu);
        landed(r, s, rc);
        pthread_mutex_unlock(&r->mu);
    }
    return n;
}

static void fetcher(void *arg)
{
    sc_obj_reader *r = arg;

    pthread_mutex_lock(&r->mu);
    while (!r->stop) {
        double t = sc_mono_ns() * 1e-9, next = 0;
        int running, ms = 1000;
        choose(r);
        if (!r->n_busy) {
            r->idle = 1;
            pthread_cond_wait(&r->work, &r->mu);
            r->idle = 0;
            continue;
        }
        pthread_mutex_unlock(&r->mu);
        for (int i = 0; i < r->parallel; i++) {
            struct slot *s = &r->slots[i];
            int rc;
            if (s->b == NO_BLOCK || !s->pending)
                continue;
            if (s->retry_at > t) {
                if (!next || s->retry_at < next)
                    next = s->retry_at;
                continue;
            }
            if ((rc = start(r, s)) < 0) {
                drop_handle(r, s);
                rc = finish_file(s, rc);
                pthread_mutex_lock(&r->mu);
                landed(r, s, rc);
                pthread_mutex_unlock(&r->mu);
            }
        }
        if (next)
            ms = (int)((next - t) * 1000) + 1;
        if (ms > 1000)
            ms = 1000;
        /* what ended is recorded before waiting, so that a reader never
         * waits for a block that is here */
        (void)curl_multi_perform(r->m, &running);
        if (!reap(r))
            (void)curl_multi_poll(r->m, NULL, 0, ms, NULL);
        pthread_mutex_lock(&r->mu);
    }
    pthread_mutex_unlock(&r->mu);
    for (int i = 0; i < r->parallel; i++) {
        drop_handle(r, &r->slots[i]);
        (void)finish_file(&r->slots[i], SC_EIO);
    }
}

/* ---- readers ---- */

/* Wait until block B is in the cache, asking for it (under MU). 0, or the
 * failure of its fetch. */
static int wait_block(sc_obj_reader *r, uint64_t b)
{
    int rc;

    if (r->state[b] == SC_OBJ_B_PRESENT) {
        r->st.hits++;
        if (r->ra[b]) { /* the reader caught up: slide the window */
            r->ra[b] = 0;
            if ((rc = read_ahead(r, b)) < 0)
                return rc;
            wake_fetcher(r);
        }
        lru_unlink(r, (int64_t)b);
        lru_front(r, (int64_t)b);
        return 0;
    }
    r->st.misses++;
    if (r->state[b] == SC_OBJ_B_ABSENT)
        r->err[b] = 0; /* a failed read-ahead: asked again */
    r->want[b]++;
    for (int asked = 0; r->state[b] != SC_OBJ_B_PRESENT;) {
        if (r->err[b]) {
            r->want[b]--;
            return sc_fail(r->err[b], "%s", r->errmsg);
        }
        if (r->state[b] == SC_OBJ_B_ABSENT ||
            (!asked && r->state[b] == SC_OBJ_B_QUEUED)) {
            if ((rc = q_push(r, b, 1)) < 0 || (rc = read_ahead(r, b)) < 0) {
                r->want[b]--;
                return rc;
            }
            asked = 1;
            wake_fetcher(r);
        }
        pthread_cond_wait(&r->landed, &r->mu);
    }
    r->want[b]--;
    r->ra[b] = 0;
    lru_unlink(r, (int64_t)b);
    lru_front(r, (int64_t)b);
    return 0;
}

/* Copy K bytes at IN of block B's file into D (outside MU). */
static int copy_out(sc_obj_reader *r, uint64_t b, unsigned char *d, size_t k,
                    uint64_t in)
{
    char name[32];
    int fd, rc = 0;

    block_name(b, name, sizeof name);
    fd = openat(r->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return sc_fail(SC_EIO, "cannot open '%s/%s': %s", r->dir, name,
                       strerror(errno));
    for (size_t got = 0; got < k;) {
        ssize_t g = pread(fd, d + got, k - got, (off_t)(in + got));
        if (g < 0 && errno == EINTR)
            continue;
        if (g <= 0) {
            rc = sc_fail(SC_EIO, "cannot read '%s/%s': %s", r->dir, name,
                         g < 0 ? strerror(errno) : "block shrank");
            break;
        }
        got += (size_t)g;
    }
    close(fd);
    return rc;
}

int sc_obj_reader_pread(sc_obj_reader *r, void *dst, size_t n, uint64_t off)
{
    unsigned char *d = dst;
    int rc = 0;

    if (off > (uint64_t)r->size || n > (uint64_t)r->size - off)
        return sc_fail(SC_EIO,
                       "cannot read '%s': %zu bytes at %" PRIu64
                       " reach past its end",
                       r->ob->uri, n, off);
    while (n > 0 && !rc) {
        uint64_t b = off / r->block, in = off - b * r->block;
        size_t k = block_len(r, b) - (size_t)in;
        if (k > n)
            k = n;
        pthread_mutex_lock(&r->mu);
        if ((rc = wait_block(r, b)) == 0)
            r->pins[b]++;
        pthread_mutex_unlock(&r->mu);
        if (rc < 0)
            break;
        rc = copy_out(r, b, d, k, in);
        pthread_mutex_lock(&r->mu);
        if (--r->pins[b] == 0 && r->room_wait) {
            r->room_wait = 0;
            wake_fetcher(r);
        }
        pthread_mutex_unlock(&r->mu);
        d += k;
        n -= k;
        off += k;
    }
    return rc;
}

/* ---- opening ---- */

/* The cache directory of the object: DIR/<sha256 of URL, size, ETag>, so
 * that a changed object never meets the blocks of its old version. Blocks
 * found there of the right size are taken into the cache. */
static int cache_dir(sc_obj_reader *r, const char *dir)
{
    char key[SC_HASH_HEX_SIZE], *text;
    size_t n = strlen(r->ob->url) + strlen(r->etag) + 64;
    sc_hash *h;
    DIR *dd;
    struct dirent *e;
    int rc;

    if (!(text = malloc(n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(text, n, "%s\n%" PRId64 "\n%s\n%zu", r->ob->url, r->size, r->etag,
             r->block);
    rc = sc_hash_new(&h);
    if (rc == 0 && (rc = sc_hash_update(h, text, strlen(text))) == 0)
        rc = sc_hash_final(h, key);
    sc_hash_free(h);
    free(text);
    if (rc < 0)
        return rc;
    n = strlen(dir) + 80;
    if (!(r->dir = malloc(n)))
        return sc_fail(SC_ENOMEM, "out of memory");
    snprintf(r->dir, n, "%s/%.32s", dir, key);
    if ((rc = sc_io_mkdir_p(r->dir)) < 0 || (rc = sc_io_tmp_sweep(r->dir)) < 0)
        return rc;
    r->dirfd = open(r->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (r->dirfd < 0 || !(dd = fdopendir(dup(r->dirfd))))
        return sc_fail(SC_EIO, "cannot open '%s': %s", r->dir, strerror(errno));
    while ((e = readdir(dd))) {
        unsigned long long b;
        char tail[8];
        struct stat st;
        if (sscanf(e->d_name, "%12llu.%3s", &b, tail) != 2 ||
            strcmp(tail, "blk") || strlen(e->d_name) != 16 ||
            b >= r->n_blocks || r->state[b] == SC_OBJ_B_PRESENT)
            continue;
        if (fstatat(r->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
            !S_ISREG(st.st_mode) || (uint64_t)st.st_size != block_len(r, b) ||
            r->n_have >= r->cap) {
            (void)unlinkat(r->dirfd, e->d_name, 0);
            continue;
        }
        r->state[b] = SC_OBJ_B_PRESENT;
        r->n_have++;
        lru_front(r, (int64_t)b);
    }
    closedir(dd);
    return 0;
}

int sc_obj_reader_open(const sc_http_opts *o, const char *uri,
                       const sc_obj_cache_opts *co, sc_obj_reader **out)
{
    sc_obj_reader *r;
    uint64_t nb;
    int rc;

    *out = NULL;
    if (!co->dir || !*co->dir || co->block < 4096 || co->parallel < 1 ||
        co->parallel > 64)
        return sc_fail(SC_EINVAL, "object cache: a directory, blocks of at "
                                  "least 4 KiB and 1 to 64 requests");
    if (!(r = calloc(1, sizeof *r)))
        return sc_fail(SC_ENOMEM, "out of memory");
    r->o = *o;
    r->dirfd = -1;
    r->block = co->block;
    r->parallel = co->parallel;
    r->head = r->tail = -1;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->landed, NULL);
    pthread_cond_init(&r->work, NULL);
    if ((rc = sc_obj_open(uri, &r->ob)) < 0 ||
        (rc = sc_obj_head(o, r->ob, &r->size, r->etag)) < 0)
        goto fail;
    r->n_blocks = ((uint64_t)r->size + r->block - 1) / r->block;
    r->cap = co->bytes / r->block;
    if (r->cap < (uint64_t)r->parallel + 1)
        r->cap = (uint64_t)r->parallel + 1; /* one read and its read-ahead */
    nb = r->n_blocks + 1;
    if (!(r->prev = malloc(nb * sizeof *r->prev)) ||
        !(r->next = malloc(nb * sizeof *r->next)) ||
        !(r->state = calloc(nb, 1)) || !(r->ra = calloc(nb, 1)) ||
        !(r->want = calloc(nb, sizeof *r->want)) ||
        !(r->pins = calloc(nb, sizeof *r->pins)) ||
        !(r->err = calloc(nb, sizeof *r->err)) ||
        !(r->slots = calloc((size_t)r->parallel, sizeof *r->slots)) ||
        !(r->m = curl_multi_init())) {
        rc = sc_fail(SC_ENOMEM, "out of memory");
        goto fail;
    }
    for (uint64_t b = 0; b < nb; b++)
        r->prev[b] = r->next[b] = -1;
    for (int i = 0; i < r->parallel; i++)
        r->slots[i].b = NO_BLOCK;
    curl_multi_setopt(r->m, CURLMOPT_MAX_HOST_CONNECTIONS, (long)r->parallel);
    if ((rc = cache_dir(r, co->dir)) < 0)
        goto fail;
    /* the fetcher runs until the reader closes: it needs a thread of its
     * own, never the inline fallback */
    if ((rc = sc_pool_background(&r->pool)) < 0)
        goto fail;
    if (sc_pool_threads(r->pool) != 1) {
        rc = sc_fail(SC_ENOMEM, "cannot start a thread");
        goto fail;
    }
    sc_pool_submit(r->pool, fetcher, r);
    r->th_started = 1;
    *out = r;
    return 0;
fail:
    sc_obj_reader_close(r);
    return rc;
}

void sc_obj_reader_close(sc_obj_reader *r)
{
    if (!r)
        return;
    if (r->th_started) {
        pthread_mutex_lock(&r->mu);
        r->stop = 1;
        pthread_cond_signal(&r->work);
        curl_multi_wakeup(r->m);
        pthread_mutex_unlock(&r->mu);
    }
    sc_pool_free(r->pool); /* waits for the fetcher to stop */
    if (r->m)
        curl_multi_cleanup(r->m);
    sc_obj_free(r->ob);
    if (r->dirfd >= 0)
        close(r->dirfd);
    free(r->dir);
    free(r->prev);
    free(r->next);
    free(r->state);
    free(r->ra);
    free(r->want);
    free(r->pins);
    free(r->err);
    free(r->slots);
    free(r->q);
    pthread_cond_destroy(&r->landed);
    pthread_cond_destroy(&r->work);
    pthread_mutex_destroy(&r->mu);
    free(r);
}
