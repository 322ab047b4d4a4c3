/* sc_pool: a small fixed-size thread pool with a bounded task queue. */
/* SPDX-License-Identifier: MIT */
#include "sc_pool.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define TASKS_PER_THREAD 4

struct task {
    void (*fn)(void *);
    void *arg;
};

struct sc_pool {
    int n; /* worker threads (0: run inline) */
    pthread_t *threads;
    pthread_mutex_t lock;
    pthread_cond_t has_task; /* queue not empty, or stopping */
    pthread_cond_t has_room; /* queue not full */
    pthread_cond_t idle;     /* pending reached 0 */
    struct task *queue;      /* ring buffer of cap tasks */
    size_t cap, head, len;
    size_t pending; /* queued or running */
    int stop;
};

/* The pool whose worker is the current thread, so that a task submitting to
 * a full queue runs the new task itself instead of waiting on its own pool. */
static _Thread_local sc_pool *current_pool;

static void *worker(void *arg)
{
    sc_pool *pool = arg;
    struct task t;

    current_pool = pool;
    pthread_mutex_lock(&pool->lock);
    for (;;) {
        while (!pool->len && !pool->stop)
            pthread_cond_wait(&pool->has_task, &pool->lock);
        if (!pool->len)
            break; /* stopping, and the queue is drained */
        t = pool->queue[pool->head];
        pool->head = (pool->head + 1) % pool->cap;
        pool->len--;
        pthread_cond_signal(&pool->has_room);
        pthread_mutex_unlock(&pool->lock);
        t.fn(t.arg);
        pthread_mutex_lock(&pool->lock);
        if (--pool->pending == 0)
            pthread_cond_broadcast(&pool->idle);
    }
    pthread_mutex_unlock(&pool->lock);
    return NULL;
}

/* Stop and join the first N threads, then free everything. */
static void destroy(sc_pool *pool, int n)
{
    int i;

    pthread_mutex_lock(&pool->lock);
    pool->stop = 1;
    pthread_cond_broadcast(&pool->has_task);
    pthread_mutex_unlock(&pool->lock);
    for (i = 0; i < n; i++)
        pthread_join(pool->threads[i], NULL);
    pthread_cond_destroy(&pool->idle);
    pthread_cond_destroy(&pool->has_room);
    pthread_cond_destroy(&pool->has_task);
    pthread_mutex_destroy(&pool->lock);
    free(pool->threads);
    free(pool->queue);
    free(pool);
}

/* A pool of N_THREADS workers (0: tasks run inline). */
static int start(int n_threads, sc_pool **out)
{
    sc_pool *pool;
    int i, err;

    *out = NULL;
    if (!(pool = calloc(1, sizeof *pool)))
        return sc_fail(SC_ENOMEM, "out of memory");
    pthread_mutex_init(&pool->lock, NULL);
    pthread_cond_init(&pool->has_task, NULL);
    pthread_cond_init(&pool->has_room, NULL);
    pthread_cond_init(&pool->idle, NULL);
    if (n_threads < 1) {
        *out = pool;
        return 0;
    }
    pool->cap = (size_t)n_threads * TASKS_PER_THREAD;
    pool->queue = malloc(pool->cap * sizeof *pool->queue);
    pool->threads = malloc((size_t)n_threads * sizeof *pool->threads);
    if (!pool->queue || !pool->threads) {
        destroy(pool, 0);
        return sc_fail(SC_ENOMEM, "out of memory");
    }
    for (i = 0; i < n_threads; i++) {
        if ((err = pthread_create(&pool->threads[i], NULL, worker, pool))) {
            destroy(pool, i);
            return sc_fail(SC_EIO, "cannot create thread %d of %d: %s", i + 1,
                           n_threads, strerror(err));
        }
    }
    pool->n = n_threads;
    *out = pool;
    return 0;
}

int sc_pool_new(int n_threads, sc_pool **out)
{
    return start(n_threads <= 1 ? 0 : n_threads, out);
}

int sc_pool_background(sc_pool **out)
{
    int rc = start(1, out);

    if (rc == SC_EIO) { /* no thread: the tasks run inline */
        sc_err_clear();
        rc = start(0, out);
    }
    return rc;
}

int sc_pool_threads(const sc_pool *pool)
{
    return pool ? pool->n : 0;
}

int sc_pool_submit(sc_pool *pool, void (*fn)(void *), void *arg)
{
    if (!pool->n) {
        fn(arg);
        return 0;
    }
    pthread_mutex_lock(&pool->lock);
    if (pool->len == pool->cap && current_pool == pool) {
        pthread_mutex_unlock(&pool->lock);
        fn(arg);
        return 0;
    }
    while (pool->len == pool->cap)
        pthread_cond_wait(&pool->has_room, &pool->lock);
    pool->queue[(pool->head + pool->len) % pool->cap] =
        (struct task){.fn = fn, .arg = arg};
    pool->len++;
    pool->pending++;
    pthread_cond_signal(&pool->has_task);
    pthread_mutex_unlock(&pool->lock);
    return 0;
}

void sc_pool_wait(sc_pool *pool)
{
    if (!pool->n)
        return;
    pthread_mutex_lock(&pool->lock);
    while (pool->pending)
        pthread_cond_wait(&pool->idle, &pool->lock);
    pthread_mutex_unlock(&pool->lock);
}

void sc_pool_free(sc_pool *pool)
{
    if (pool)
        destroy(pool, pool->n);
}
