/* test_parallel.c: run lengths that give every thread a share, and a parallel loop over them
 * that does each item exactly once. */
#include <string.h>

#include "../src/parallel.h"
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
