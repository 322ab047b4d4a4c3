/* sc_pool: a small fixed-size thread pool with a bounded task queue. */
/* SPDX-License-Identifier: MIT */
#ifndef SC_POOL_H
#define SC_POOL_H

#include "sc_err.h"

typedef struct sc_pool sc_pool;

/*
 * Start a pool of N_THREADS worker threads (sc_cli.threads: the total number
 * of workers). With N_THREADS <= 1 no thread is started and sc_pool_submit()
 * runs each task at once in the calling thread, so callers need no second
 * code path. On success *OUT owns the pool: release it with sc_pool_free().
 * Returns 0, SC_ENOMEM, or SC_EIO when a thread cannot be created (*OUT is
 * then NULL). Call from one thread.
 */
SC_MUST_CHECK int sc_pool_new(int n_threads, sc_pool **out);

/*
 * Start a pool of one worker thread, for work done beside the caller
 * (reading ahead, hashing, a fetch loop): unlike sc_pool_new(1), its tasks
 * run in the background. When no thread can be created the pool runs its
 * tasks inline, as sc_pool_new(1) does (sc_pool_threads() then says 0: a
 * task that must run beside the caller checks). Returns 0 or SC_ENOMEM.
 * The one way the library starts a thread: every other is a pool's.
 */
SC_MUST_CHECK int sc_pool_background(sc_pool **out);

/* The number of worker threads (0 when tasks run inline). */
int sc_pool_threads(const sc_pool *pool);

/*
 * Queue FN(ARG) to run on a worker. The queue holds a few tasks per thread:
 * when it is full, sc_pool_submit() waits for room, which keeps a fast
 * producer from filling memory. A task may itself submit tasks to its pool
 * (when the queue is full, the task then runs the new one inline instead of
 * waiting). Tasks return nothing: they leave their results and errors in
 * ARG, which the caller owns and keeps alive until the task has run.
 * Returns 0. Thread-safe.
 */
int sc_pool_submit(sc_pool *pool, void (*fn)(void *), void *arg);

/* Wait until every task submitted so far (and the tasks they submitted) has
 * finished. The pool remains usable. Call it from outside the pool (a task
 * that waits for its own pool would wait for itself). */
void sc_pool_wait(sc_pool *pool);

/* Finish every queued task, stop the threads and free POOL; NULL is a
 * no-op. Not from inside a task. */
void sc_pool_free(sc_pool *pool);

#endif
