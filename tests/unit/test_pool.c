/* test_pool: inline pools, many tasks, concurrency, nested submission. */
/* SPDX-License-Identifier: MIT */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>
#include <unistd.h>

#include "sc_pool.h"
#include "unit.h"

static atomic_long counter;

static void count_task(void *arg)
{
    atomic_fetch_add(&counter, (long)(intptr_t)arg);
}

struct where {
    pthread_t thread;
};

static void where_task(void *arg)
{
    ((struct where *)arg)->thread = pthread_self();
}

static void test_inline(void)
{
    sc_pool *pool = NULL;
    struct where w;
    int n;

    for (n = -1; n <= 1; n++) {
        CHECK_INTEQ(sc_pool_new(n, &pool), 0);
        CHECK_INTEQ(sc_pool_threads(pool), 0);
        memset(&w, 0, sizeof w);
        CHECK_INTEQ(sc_pool_submit(pool, where_task, &w), 0);
        /* ran at once, in this thread */
        CHECK(pthread_equal(w.thread, pthread_self()));
        sc_pool_wait(pool);
        sc_pool_free(pool);
    }
    sc_pool_free(NULL);
}

static void test_many(void)
{
    sc_pool *pool;
    long i;

    CHECK_INTEQ(sc_pool_new(4, &pool), 0);
    CHECK_INTEQ(sc_pool_threads(pool), 4);
    atomic_store(&counter, 0);
    for (i = 1; i <= 10000; i++)
        CHECK_INTEQ(sc_pool_submit(pool, count_task, (void *)(intptr_t)i), 0);
    sc_pool_wait(pool);
    CHECK_INTEQ(atomic_load(&counter), 50005000L);

    /* The pool stays usable after a wait, and a wait with nothing queued
     * returns at once. */
    sc_pool_wait(pool);
    for (i = 0; i < 100; i++)
        CHECK_INTEQ(sc_pool_submit(pool, count_task, (void *)(intptr_t)1), 0);
    sc_pool_wait(pool);
    CHECK_INTEQ(atomic_load(&counter), 50005100L);
    sc_pool_free(pool);
}

/* Each task waits until all N have started: only possible if they really
 * run at the same time. */
struct rendezvous {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int arrived, n;
    pthread_t threads[8];
};

static void meet_task(void *arg)
{
    struct rendezvous *r = arg;

    pthread_mutex_lock(&r->lock);
    r->threads[r->arrived++] = pthread_self();
    pthread_cond_broadcast(&r->cond);
    while (r->arrived < r->n)
        pthread_cond_wait(&r->cond, &r->lock);
    pthread_mutex_unlock(&r->lock);
}

static void test_concurrent(void)
{
    struct rendezvous r = {.n = 3};
    sc_pool *pool;
    int i;

    pthread_mutex_init(&r.lock, NULL);
    pthread_cond_init(&r.cond, NULL);
    CHECK_INTEQ(sc_pool_new(3, &pool), 0);
    for (i = 0; i < 3; i++)
        sc_pool_submit(pool, meet_task, &r);
    sc_pool_wait(pool);
    CHECK_INTEQ(r.arrived, 3);
    CHECK(!pthread_equal(r.threads[0], r.threads[1]));
    CHECK(!pthread_equal(r.threads[1], r.threads[2]));
    CHECK(!pthread_equal(r.threads[0], r.threads[2]));
    CHECK(!pthread_equal(r.threads[0], pthread_self()));
    sc_pool_free(pool);
    pthread_cond_destroy(&r.cond);
    pthread_mutex_destroy(&r.lock);
}

/* A task that submits DEPTH more levels of tasks to its own pool: with a
 * fan-out of 4 the queue fills up, and must not deadlock. */
struct tree {
    sc_pool *pool;
    int depth;
};

static struct tree nodes[6];

static void tree_task(void *arg)
{
    const struct tree *t = arg;
    int i;

    atomic_fetch_add(&counter, 1);
    if (t->depth == 0)
        return;
    for (i = 0; i < 4; i++)
        sc_pool_submit(t->pool, tree_task, &nodes[t->depth - 1]);
}

static void test_nested(void)
{
    sc_pool *pool;
    int d;

    CHECK_INTEQ(sc_pool_new(2, &pool), 0);
    for (d = 0; d < 6; d++)
        nodes[d] = (struct tree){.pool = pool, .depth = d};
    atomic_store(&counter, 0);
    sc_pool_submit(pool, tree_task, &nodes[5]);
    sc_pool_wait(pool); /* waits for the tasks that tasks submitted too */
    CHECK_INTEQ(atomic_load(&counter), 1 + 4 + 16 + 64 + 256 + 1024);
    sc_pool_free(pool);
}

static void slow_task(void *arg)
{
    struct timespec ts = {0, 2000000};

    nanosleep(&ts, NULL);
    count_task(arg);
}

static void test_free_drains(void)
{
    sc_pool *pool;
    int i;

    CHECK_INTEQ(sc_pool_new(2, &pool), 0);
    atomic_store(&counter, 0);
    for (i = 0; i < 20; i++)
        sc_pool_submit(pool, slow_task, (void *)(intptr_t)1);
    sc_pool_free(pool); /* without a wait: queued tasks still run */
    CHECK_INTEQ(atomic_load(&counter), 20);
}

static void *submitter(void *arg)
{
    int i;

    for (i = 0; i < 1000; i++)
        sc_pool_submit(arg, count_task, (void *)(intptr_t)1);
    return NULL;
}

static void test_submit_threads(void)
{
    pthread_t t[3];
    sc_pool *pool;
    int i;

    CHECK_INTEQ(sc_pool_new(2, &pool), 0);
    atomic_store(&counter, 0);
    for (i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, submitter, pool);
    for (i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    sc_pool_wait(pool);
    CHECK_INTEQ(atomic_load(&counter), 3000);
    sc_pool_free(pool);
}

/* A task that waits for the caller: it finishes only if it runs beside
 * the caller, which sets GO after submitting it. */
static atomic_int go, saw_go;

static void wait_go_task(void *arg)
{
    struct timespec ms = {0, 1000000};

    for (int i = 0; i < 10000 && !atomic_load(&go); i++)
        nanosleep(&ms, NULL);
    atomic_store(&saw_go, atomic_load(&go));
    where_task(arg);
}

static void test_background(void)
{
    sc_pool *pool = NULL;
    struct where w;

    CHECK_INTEQ(sc_pool_background(&pool), 0);
    CHECK_INTEQ(sc_pool_threads(pool), 1);
    atomic_store(&go, 0);
    atomic_store(&saw_go, 0);
    sc_pool_submit(pool, wait_go_task, &w);
    atomic_store(&go, 1); /* inline, the task would have given up first */
    sc_pool_wait(pool);
    CHECK(atomic_load(&saw_go) == 1);
    CHECK(!pthread_equal(w.thread, pthread_self()));
    /* the pool stays usable, one task after another on its worker */
    atomic_store(&counter, 0);
    for (int i = 0; i < 100; i++)
        sc_pool_submit(pool, count_task, (void *)(intptr_t)1);
    sc_pool_free(pool); /* drains */
    CHECK_INTEQ(atomic_load(&counter), 100);
}

int main(void)
{
    alarm(60); /* a deadlock fails the test instead of hanging it */
    RUN(test_inline);
    RUN(test_many);
    RUN(test_concurrent);
    RUN(test_nested);
    RUN(test_free_drains);
    RUN(test_submit_threads);
    RUN(test_background);
    return UNIT_DONE();
}
