/* test_parallel.c: run lengths that give every thread a share, and a parallel loop over them
 * that does each item exactly once. */
#include <string.h>

#include "../src/parallel.h"
#include "bodega/bd_thread.h"
#include "test.h"

TEST(parallel_run_shortens_for_few_items)
{
    ASSERT_INT(bd_parallel_run(1000, 32, 8), ==, 32);  /* enough for a full run each */
    ASSERT_INT(bd_parallel_run(256, 32, 8), ==, 32);
    ASSERT_INT(bd_parallel_run(40, 32, 8), ==, 5);     /* 8 runs of 5: one per thread */
    ASSERT_INT(bd_parallel_run(41, 32, 8), ==, 6);
    ASSERT_INT(bd_parallel_run(3, 32, 8), ==, 1);
    ASSERT_INT(bd_parallel_run(0, 32, 8), ==, 1);
    ASSERT_INT(bd_parallel_run(40, 32, 1), ==, 32);    /* one thread: runs stay long */
    ASSERT_INT(bd_parallel_run(10, 0, 4), ==, 1);
    ASSERT_INT(bd_parallel_workers(40, bd_parallel_run(40, 32, 8), 8), ==, 8);
}

#define ITEMS 41

static bd_status count_items(void *ctx, unsigned worker, size_t start, size_t end, bd_error *e)
{
    int *seen = ctx;
    (void)worker;
    (void)e;
    for (size_t i = start; i < end; i++)
        seen[i]++;
    return BD_OK;
}

TEST(parallel_for_short_runs_do_each_item_once)
{
    int seen[ITEMS];
    bd_error e;
    memset(seen, 0, sizeof seen);
    bd_error_clear(&e);
    size_t run = bd_parallel_run(ITEMS, 32, 8);
    ASSERT_INT(bd_parallel_for(ITEMS, run, bd_parallel_workers(ITEMS, run, 8), count_items, seen, 0, &e), ==, BD_OK);
    for (int i = 0; i < ITEMS; i++)
        ASSERT_INT(seen[i], ==, 1);
}

/* ---- the pool of helper threads ---------------------------------------------------- */

#define WAIT_HELPER_NS 5000000000ULL /* how long worker 0 waits for a helper to join it */

typedef struct meet {
    int seen[256];
    volatile int helped;      /* a helper (worker > 0) has done an item */
    int alone;                /* worker 0 gave up waiting for one */
    int fail_any_helper;      /* a helper's first item fails */
    bd_progress *cancel;      /* a helper cancels this on its first item */
} meet;

/* Counts items; worker 0 waits on its first run until a helper has joined, so every call
 * shows whether the pool gave it helpers. */
static bd_status meet_items(void *ctx, unsigned worker, size_t start, size_t end, bd_error *e)
{
    meet *m = ctx;
    if (worker == 0 && start == 0) {
        uint64_t until = bd_now_ns() + WAIT_HELPER_NS;
        while (!bd_atomic_load_int(&m->helped) && bd_now_ns() < until)
            ;
        m->alone = !bd_atomic_load_int(&m->helped);
    }
    if (worker > 0) {
        if (m->fail_any_helper)
            return bd_fail(e, BD_E_IO, 5, "test-helper-op", BD_PATH_AS_GIVEN, 0);
        if (m->cancel)
            bd_progress_cancel(m->cancel);
    }
    for (size_t i = start; i < end; i++)
        m->seen[i]++;
    if (worker > 0)
        bd_atomic_store_int(&m->helped, 1);
    return BD_OK;
}

static bd_status meet_call(meet *m, size_t n, unsigned threads, bd_progress *p, bd_error *e)
{
    memset(m->seen, 0, sizeof m->seen);
    m->helped = 0;
    m->alone = 0;
    bd_error_clear(e);
    return bd_parallel_for(n, 1, threads, meet_items, m, p, e);
}

TEST(parallel_pool_threads_are_reused_across_calls)
{
    meet m;
    bd_error e;
    memset(&m, 0, sizeof m);
    uint64_t before = bd_parallel_threads_started();
    for (int call = 0; call < 200; call++) {
        ASSERT_INT(meet_call(&m, 64, 4, 0, &e), ==, BD_OK);
        ASSERT_INT(m.alone, ==, 0);     /* the pool gave this call a helper */
        for (int i = 0; i < 64; i++)
            ASSERT_INT(m.seen[i], ==, 1);
    }
    /* one caller at a time: its three helpers serve every call */
    ASSERT_INT(bd_parallel_threads_started() - before, <=, 3);
}

typedef struct caller {
    int seen[100];
    bd_status rc;
} caller;

static bd_status count_into(void *ctx, unsigned worker, size_t start, size_t end, bd_error *e)
{
    return count_items(((caller *)ctx)->seen, worker, start, end, e);
}

static void many_calls(void *arg)
{
    caller *c = arg;
    c->rc = BD_OK;
    for (int call = 0; call < 100 && c->rc == BD_OK; call++) {
        bd_error e;
        bd_error_clear(&e);
        c->rc = bd_parallel_for(100, 2, 3, count_into, c, 0, &e);
    }
}

TEST(parallel_pool_serves_concurrent_callers)
{
    caller c[4];
    bd_thread *t[4];
    bd_error e;
    memset(c, 0, sizeof c);
    bd_error_clear(&e);
    for (int i = 0; i < 4; i++)
        ASSERT_OK(bd_thread_start(&t[i], many_calls, &c[i], &e), &e);
    for (int i = 0; i < 4; i++)
        bd_thread_join(t[i]);
    for (int i = 0; i < 4; i++) {
        ASSERT_INT(c[i].rc, ==, BD_OK);
        for (int k = 0; k < 100; k++)
            ASSERT_INT(c[i].seen[k], ==, 100); /* each item once per call */
    }
    ASSERT_INT(bd_parallel_threads_started(), <=, 64);
}

TEST(parallel_pool_helper_failure_is_the_result_and_the_pool_goes_on)
{
    meet m;
    bd_error e;
    memset(&m, 0, sizeof m);
    m.fail_any_helper = 1;
    ASSERT_INT(meet_call(&m, 200, 4, 0, &e), ==, BD_E_IO);
    ASSERT_STR(e.op, "test-helper-op");
    m.fail_any_helper = 0;
    for (int call = 0; call < 20; call++) {
        ASSERT_INT(meet_call(&m, 200, 4, 0, &e), ==, BD_OK);
        ASSERT_INT(m.alone, ==, 0);
        for (int i = 0; i < 200; i++)
            ASSERT_INT(m.seen[i], ==, 1);
    }
}

TEST(parallel_pool_cancel_from_a_helper_stops_the_call)
{
    meet m;
    bd_error e;
    bd_progress p;
    int done = 0;
    memset(&m, 0, sizeof m);
    bd_progress_init(&p);
    m.cancel = &p;
    ASSERT_INT(meet_call(&m, 256, 2, &p, &e), ==, BD_E_CANCELLED);
    for (int i = 0; i < 256; i++)
        done += m.seen[i];
    ASSERT_INT(done, <, 256);
    m.cancel = 0;
    bd_progress_init(&p);
    ASSERT_INT(meet_call(&m, 256, 2, &p, &e), ==, BD_OK);
    ASSERT_INT(m.alone, ==, 0);
}

#ifndef _WIN32
#include <sys/wait.h>
#include <unistd.h>

/* A forked child gets helpers of its own (its parent's pool threads are not in it). */
TEST(parallel_pool_works_in_a_forked_child)
{
    meet m;
    bd_error e;
    int status = 0;
    memset(&m, 0, sizeof m);
    ASSERT_INT(meet_call(&m, 64, 4, 0, &e), ==, BD_OK); /* the parent's pool exists */
    pid_t pid = fork();
    ASSERT(pid >= 0);
    if (pid == 0) {
        alarm(30); /* a deadlock ends the child */
        int ok = meet_call(&m, 64, 4, 0, &e) == BD_OK && !m.alone;
        for (int i = 0; i < 64; i++)
            ok = ok && m.seen[i] == 1;
        _exit(ok ? 0 : 1);
    }
    ASSERT_INT(waitpid(pid, &status, 0), ==, pid);
    ASSERT(WIFEXITED(status));
    ASSERT_INT(WEXITSTATUS(status), ==, 0);
}
#endif
