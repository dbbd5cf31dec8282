/* parallel.c: numbered work items on a few threads; the caller's thread ticks progress. */
#include <stdlib.h>

#include "bodega/bd_thread.h"
#include "parallel.h"

#define WAIT_NS 20000000ULL /* how often a waiting caller wakes to tick progress: 20 ms */

typedef struct pool {
    size_t n, batch, next;
    bd_run_fn fn;
    void *ctx;
    bd_progress *p;
    bd_mutex *mu;       /* guards next, stop, running and the first failure */
    bd_cond *done;      /* signalled when a helper finishes */
    unsigned running;   /* helpers still working */
    int stop;
    bd_status status;
    bd_error err;
} pool;

typedef struct helper {
    pool *pl;
    unsigned worker;
} helper;

static void lock(pool *pl)
{
    if (pl->mu)
        bd_mutex_lock(pl->mu);
}

static void unlock(pool *pl)
{
    if (pl->mu)
        bd_mutex_unlock(pl->mu);
}

static int claim(pool *pl, size_t *start, size_t *end)
{
    int ok;
    lock(pl);
    ok = !pl->stop && pl->next < pl->n;
    if (ok) {
        *start = pl->next;
        *end = pl->n - pl->next > pl->batch ? pl->next + pl->batch : pl->n;
        pl->next = *end;
    }
    unlock(pl);
    return ok;
}

static void fail(pool *pl, bd_status rc, const bd_error *we)
{
    lock(pl);
    if (!pl->stop) {
        pl->stop = 1;
        pl->status = rc;
        pl->err = *we;
    }
    unlock(pl);
}

static void work(pool *pl, unsigned worker)
{
    bd_error we;
    size_t start, end;
    bd_error_clear(&we);
    while (claim(pl, &start, &end)) {
        bd_status rc = bd_progress_cancelled(pl->p)
                           ? bd_fail(&we, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0)
                           : pl->fn(pl->ctx, worker, start, end, &we);
        if (rc == BD_OK && worker == 0)
            rc = bd_progress_tick(pl->p, 0, &we);
        if (rc != BD_OK) {
            fail(pl, rc, &we);
            return;
        }
    }
}

static void helper_main(void *arg)
{
    helper *h = arg;
    pool *pl = h->pl;
    work(pl, h->worker);
    bd_mutex_lock(pl->mu);
    pl->running--;
    bd_cond_signal(pl->done);
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
    pool pl = {0};
    unsigned workers = bd_parallel_workers(n, batch ? batch : 1, threads);
    bd_thread **tids = 0;
    helper *helpers = 0;
    pl.n = n;
    pl.batch = batch ? batch : 1;
    pl.fn = fn;
    pl.ctx = ctx;
    pl.p = p;
    bd_error_clear(&pl.err);
    if (workers > 1) {
        bd_error ignored; /* without locks or threads, the caller just works alone */
        tids = calloc(workers, sizeof *tids);
        helpers = calloc(workers, sizeof *helpers);
        if (!tids || !helpers || bd_mutex_new(&pl.mu, &ignored) != BD_OK
            || bd_cond_new(&pl.done, &ignored) != BD_OK) {
            bd_mutex_free(pl.mu);
            pl.mu = 0;
            workers = 1;
        }
    }
    for (unsigned w = 1; w < workers; w++) {
        bd_error ignored;
        helpers[w].pl = &pl;
        helpers[w].worker = w;
        bd_mutex_lock(pl.mu);
        pl.running++;
        bd_mutex_unlock(pl.mu);
        if (bd_thread_start(&tids[w], helper_main, &helpers[w], &ignored) != BD_OK) {
            bd_mutex_lock(pl.mu);
            pl.running--;
            bd_mutex_unlock(pl.mu);
            tids[w] = 0;
        }
    }
    work(&pl, 0);
    if (pl.mu) {
        bd_mutex_lock(pl.mu);
        while (pl.running > 0) {
            bd_cond_timedwait(pl.done, pl.mu, WAIT_NS);
            bd_mutex_unlock(pl.mu);
            bd_error te;
            bd_error_clear(&te);
            if (bd_progress_tick(p, 0, &te) != BD_OK)
                fail(&pl, te.code, &te);
            bd_mutex_lock(pl.mu);
        }
        bd_mutex_unlock(pl.mu);
        for (unsigned w = 1; w < workers; w++)
            if (tids[w])
                bd_thread_join(tids[w]);
        bd_cond_free(pl.done);
        bd_mutex_free(pl.mu);
    }
    free(tids);
    free(helpers);
    if (pl.stop) {
        if (e && e->code == BD_OK)
            *e = pl.err;
        return pl.status;
    }
    return BD_OK;
}
