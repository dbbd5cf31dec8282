/* parallel.c: numbered work items on a few threads; the caller's thread ticks progress.
 *
 * The helpers come from one pool per process, started as calls need them and kept: a
 * snapshot makes thousands of calls (one per batch of files), and starting and ending
 * threads for each cost more CPU than the work of a short batch. */
#include <stdint.h>
#include <stdlib.h>

#include "bodega/bd_thread.h"
#include "parallel.h"
#include "process_local.h"

#define WAIT_NS 20000000ULL /* how often a waiting caller wakes to tick progress: 20 ms */
#define POOL_MAX 64         /* threads the pool keeps at most; callers beyond share them */

typedef struct job job;

/* One call of bd_parallel_for. */
struct job {
    size_t n, batch, next;
    bd_run_fn fn;
    void *ctx;
    bd_progress *p;
    bd_mutex *mu;       /* guards next, stop and the first failure */
    int stop;
    bd_status status;
    bd_error err;
    /* guarded by the pool's lock: */
    unsigned seats;     /* helpers it may still take from the pool */
    unsigned worker;    /* the number the next helper gets */
    unsigned running;   /* helpers working on it */
    bd_cond *done;      /* signalled when the last of them finishes */
    job *queued;        /* the next job with seats left */
};

/* The helper threads of this process. */
typedef struct pool {
    process_local made; /* first: the process that made it (a forked child makes its own) */
    bd_mutex *mu;       /* guards everything below and the jobs' seats */
    bd_cond *wake;      /* idle threads wait here for seats */
    job *open;          /* jobs with seats left, oldest first */
    unsigned seats;     /* their seats, all told */
    unsigned threads, idle, starting;
    bd_thread *tids[POOL_MAX];  /* never joined: the threads live as long as the process */
} pool;

static volatile uint64_t the_pool;       /* a pool *, this process's or a parent's */
static volatile uint64_t threads_started;

uint64_t bd_parallel_threads_started(void)
{
    return bd_atomic_load_u64(&threads_started);
}

static int pool_init(void *obj)
{
    pool *pl = obj;
    bd_error ignored;
    return bd_mutex_new(&pl->mu, &ignored) != BD_OK || bd_cond_new(&pl->wake, &ignored) != BD_OK;
}

static void pool_fini(void *obj)
{
    pool *pl = obj;
    bd_cond_free(pl->wake);
    bd_mutex_free(pl->mu);
}

/* This process's pool, made on first use; NULL without memory (process_local.h: a forked
 * child makes its own). */
static pool *the_pool_of_this_process(void)
{
    return process_local_get(&the_pool, sizeof(pool), pool_init, pool_fini);
}

static void lock(job *j)
{
    if (j->mu)
        bd_mutex_lock(j->mu);
}

static void unlock(job *j)
{
    if (j->mu)
        bd_mutex_unlock(j->mu);
}

static int claim(job *j, size_t *start, size_t *end)
{
    int ok;
    lock(j);
    ok = !j->stop && j->next < j->n;
    if (ok) {
        *start = j->next;
        *end = j->n - j->next > j->batch ? j->next + j->batch : j->n;
        j->next = *end;
    }
    unlock(j);
    return ok;
}

static void fail(job *j, bd_status rc, const bd_error *we)
{
    lock(j);
    if (!j->stop) {
        j->stop = 1;
        j->status = rc;
        j->err = *we;
    }
    unlock(j);
}

static void work(job *j, unsigned worker)
{
    bd_error we;
    size_t start, end;
    bd_error_clear(&we);
    while (claim(j, &start, &end)) {
        bd_status rc = bd_progress_cancelled(j->p)
                           ? bd_fail(&we, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0)
                           : j->fn(j->ctx, worker, start, end, &we);
        if (rc == BD_OK && worker == 0)
            rc = bd_progress_tick(j->p, 0, &we);
        if (rc != BD_OK) {
            fail(j, rc, &we);
            return;
        }
    }
}

/* A pool thread: takes a seat of the oldest open job, helps it until its items run out,
 * and waits for the next. */
static void pool_thread(void *arg)
{
    pool *pl = arg;
    bd_mutex_lock(pl->mu);
    pl->starting--;
    for (;;) {
        while (!pl->open) {
            pl->idle++;
            bd_cond_wait(pl->wake, pl->mu);
            pl->idle--;
        }
        job *j = pl->open;
        unsigned worker = j->worker++;
        pl->seats--;
        if (--j->seats == 0)
            pl->open = j->queued;
        j->running++;
        bd_mutex_unlock(pl->mu);
        work(j, worker);
        bd_mutex_lock(pl->mu);
        if (--j->running == 0)
            bd_cond_signal(j->done); /* j may be gone once the lock is let go */
    }
}

/* Offers a job `seats` helpers: idle threads are woken, and threads started for the seats
 * they cannot fill (those that fail to start are done without). */
static void post(pool *pl, job *j, unsigned seats)
{
    bd_mutex_lock(pl->mu);
    j->seats = seats;
    j->worker = 1;
    job **at = &pl->open;
    while (*at)
        at = &(*at)->queued;
    *at = j;
    pl->seats += seats;
    while (pl->threads < POOL_MAX && pl->idle + pl->starting < pl->seats) {
        bd_error ignored;
        if (bd_thread_start(&pl->tids[pl->threads], pool_thread, pl, &ignored) != BD_OK)
            break;
        pl->threads++;
        pl->starting++;
        bd_atomic_fetch_add_u64(&threads_started, 1);
    }
    for (unsigned k = 0; k < seats && k < pl->idle; k++)
        bd_cond_signal(pl->wake); /* as many as it has seats: the other idle threads sleep on */
    bd_mutex_unlock(pl->mu);
}

/* Takes back a job's seats no thread took (its items are all claimed now), then waits for
 * its helpers, ticking progress meanwhile. */
static void finish(pool *pl, job *j)
{
    bd_mutex_lock(pl->mu);
    if (j->seats) {
        job **at = &pl->open;
        while (*at != j)
            at = &(*at)->queued;
        *at = j->queued;
        pl->seats -= j->seats;
        j->seats = 0;
    }
    while (j->running > 0) {
        bd_cond_timedwait(j->done, pl->mu, WAIT_NS);
        bd_mutex_unlock(pl->mu);
        bd_error te;
        bd_error_clear(&te);
        if (bd_progress_tick(j->p, 0, &te) != BD_OK)
            fail(j, te.code, &te);
        bd_mutex_lock(pl->mu);
    }
    bd_mutex_unlock(pl->mu);
}

unsigned bd_parallel_workers(size_t n, size_t batch, unsigned threads)
{
    size_t runs = batch ? (n + batch - 1) / batch : n;
    if (threads == 0)
        threads = bd_cpu_count();
    if (runs < threads)
        threads = runs ? (unsigned)runs : 1u;
    return threads;
}

size_t bd_parallel_run(size_t n, size_t batch, unsigned threads)
{
    if (threads == 0)
        threads = bd_cpu_count();
    if (batch == 0)
        batch = 1;
    if (n / threads >= batch)
        return batch;
    return n > threads ? (n + threads - 1) / threads : 1;
}

bd_status bd_parallel_for(size_t n, size_t batch, unsigned threads, bd_run_fn fn, void *ctx,
                          bd_progress *p, bd_error *e)
{
    job j = {0};
    unsigned workers = bd_parallel_workers(n, batch ? batch : 1, threads);
    pool *pl = 0;
    j.n = n;
    j.batch = batch ? batch : 1;
    j.fn = fn;
    j.ctx = ctx;
    j.p = p;
    bd_error_clear(&j.err);
    if (workers > 1) {
        bd_error ignored; /* without a pool, locks or threads, the caller just works alone */
        pl = the_pool_of_this_process();
        if (pl && (bd_mutex_new(&j.mu, &ignored) != BD_OK || bd_cond_new(&j.done, &ignored) != BD_OK)) {
            bd_mutex_free(j.mu);
            j.mu = 0;
            pl = 0;
        }
    }
    if (pl)
        post(pl, &j, workers - 1);
    work(&j, 0);
    if (pl) {
        finish(pl, &j);
        bd_cond_free(j.done);
        bd_mutex_free(j.mu);
    }
    if (j.stop) {
        if (e && e->code == BD_OK)
            *e = j.err;
        return j.status;
    }
    return BD_OK;
}
