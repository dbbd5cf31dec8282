/* test_thread.c: threads, mutexes, condition variables, CPU count, and progress counters
 * shared by threads. */
#include <string.h>

#include "bodega/bd_progress.h"
#include "bodega/bd_thread.h"
#include "test.h"

#define THREADS 4
#define ROUNDS 20000

typedef struct shared {
    bd_mutex *m;
    bd_cond *c;
    long counter;
    int ready;
    bd_progress *p;
} shared;

static void add_under_lock(void *arg)
{
    shared *s = arg;
    for (int i = 0; i < ROUNDS; i++) {
        bd_mutex_lock(s->m);
        s->counter++;
        bd_mutex_unlock(s->m);
        bd_progress_add(s->p, 1, 3);
        bd_progress_add_io(s->p, 2, 1);
    }
}

TEST(threads_mutex_and_atomic_counters)
{
    bd_error e;
    shared s;
    bd_progress p;
    memset(&s, 0, sizeof s);
    bd_progress_init(&p);
    s.p = &p;
    ASSERT_OK(bd_mutex_new(&s.m, &e), &e);
    bd_thread *t[THREADS];
    for (int i = 0; i < THREADS; i++)
        ASSERT_OK(bd_thread_start(&t[i], add_under_lock, &s, &e), &e);
    for (int i = 0; i < THREADS; i++)
        bd_thread_join(t[i]);
    bd_mutex_free(s.m);
    ASSERT_INT(s.counter, ==, THREADS * ROUNDS);
    ASSERT_INT(p.files_done, ==, THREADS * ROUNDS);
    ASSERT_INT(p.bytes_done, ==, 3LL * THREADS * ROUNDS);
    ASSERT_INT(p.bytes_cloned, ==, 2LL * THREADS * ROUNDS);
    ASSERT_INT(p.bytes_copied, ==, 1LL * THREADS * ROUNDS);
}

static void signal_ready(void *arg)
{
    shared *s = arg;
    bd_mutex_lock(s->m);
    s->ready = 1;
    bd_cond_signal(s->c);
    bd_mutex_unlock(s->m);
}

TEST(threads_condition_variable)
{
    bd_error e;
    shared s;
    memset(&s, 0, sizeof s);
    ASSERT_OK(bd_mutex_new(&s.m, &e), &e);
    ASSERT_OK(bd_cond_new(&s.c, &e), &e);
    /* Nobody signals: a short timed wait must report a timeout. */
    bd_mutex_lock(s.m);
    int woken = bd_cond_timedwait(s.c, s.m, 1000000);
    bd_mutex_unlock(s.m);
    ASSERT_INT(woken, ==, 0);
    bd_thread *t;
    ASSERT_OK(bd_thread_start(&t, signal_ready, &s, &e), &e);
    bd_mutex_lock(s.m);
    while (!s.ready)
        bd_cond_wait(s.c, s.m);
    bd_mutex_unlock(s.m);
    bd_thread_join(t);
    bd_cond_free(s.c);
    bd_mutex_free(s.m);
    ASSERT_INT(s.ready, ==, 1);
    ASSERT_INT(bd_cpu_count(), >=, 1);
}

static int count_calls(const bd_progress *p, void *ctx)
{
    (void)p;
    int *n = ctx;
    return ++*n >= 3;  /* asks to stop on the third call */
}

TEST(progress_tick_calls_back_and_cancels)
{
    bd_error e;
    bd_progress p;
    int calls = 0;
    bd_progress_init(&p);
    p.fn = count_calls;
    p.ctx = &calls;
    p.interval_ns = 0;  /* every tick may call */
    ASSERT_OK(bd_progress_tick(&p, 0, &e), &e);
    ASSERT_OK(bd_progress_tick(&p, 0, &e), &e);
    ASSERT_INT(calls, ==, 2);
    ASSERT_STATUS(bd_progress_tick(&p, 0, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(calls, ==, 3);
    ASSERT_INT(bd_progress_cancelled(&p), ==, 1);
    ASSERT_STATUS(bd_progress_tick(&p, 1, &e), BD_E_CANCELLED, &e);
    ASSERT_INT(calls, ==, 3);  /* no more callbacks once cancelled */

    /* A long interval: only forced ticks call back. */
    bd_progress_init(&p);
    calls = 0;
    p.fn = count_calls;
    p.ctx = &calls;
    p.interval_ns = 3600ULL * 1000000000ULL;
    p.last_ns = bd_now_ns();
    ASSERT_OK(bd_progress_tick(&p, 0, &e), &e);
    ASSERT_INT(calls, ==, 0);
    ASSERT_OK(bd_progress_tick(&p, 1, &e), &e);
    ASSERT_INT(calls, ==, 1);
    ASSERT_OK(bd_progress_tick(0, 1, &e), &e);  /* no progress: nothing to do */
    ASSERT_INT(bd_progress_cancelled(0), ==, 0);
}

static void cancel_it(void *arg)
{
    bd_progress_cancel(arg);
}

TEST(progress_cancel_from_another_thread)
{
    bd_error e;
    bd_progress p;
    bd_progress_init(&p);
    bd_thread *t;
    ASSERT_OK(bd_thread_start(&t, cancel_it, &p, &e), &e);
    bd_thread_join(t);
    ASSERT_STATUS(bd_progress_tick(&p, 0, &e), BD_E_CANCELLED, &e);
    ASSERT_STR(e.op, "cancel");
    uint64_t a = bd_now_ns(), b = bd_now_ns();
    ASSERT(b >= a);
}
