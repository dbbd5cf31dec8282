/* parallel.h: running numbered work items on a few threads, the caller's thread included
 * (internal to native/src).
 *
 * The caller's thread is worker 0: it alone ticks the progress record, between items and
 * while it waits for the others, so a Python callback only ever runs on the thread that
 * holds the call.  Items are claimed in runs of `batch` consecutive indices, so neighbours
 * (files of one directory, small files hashed together) stay on one worker.
 *
 * Helpers are threads of a pool kept for the process (at most 64), shared by concurrent
 * callers; a forked child starts its own.  A caller whose helpers are all busy elsewhere
 * works alone: it never waits for a helper to start, only for those working on its items.
 */
#ifndef BODEGA_PARALLEL_H
#define BODEGA_PARALLEL_H

#include <stddef.h>
#include <stdint.h>
#include "bodega/bd_progress.h"
#include "bodega/bd_status.h"

/* Does items start .. end-1 (one claimed run) on worker `worker` (0 .. threads-1).  A
 * failure stops every worker at its next run and becomes bd_parallel_for's result. */
typedef bd_status (*bd_run_fn)(void *ctx, unsigned worker, size_t start, size_t end, bd_error *e);

/* Runs fn over items 0..n-1 in runs of `batch` on up to `threads` threads (0: one per
 * CPU), never more threads than runs.  Returns BD_OK, the first failure of fn (e filled as
 * fn filled it), or BD_E_CANCELLED when p was cancelled.  Helper threads that cannot start
 * are done without. */
bd_status bd_parallel_for(size_t n, size_t batch, unsigned threads, bd_run_fn fn, void *ctx,
                          bd_progress *p, bd_error *e);

/* How many workers bd_parallel_for will use for n items (so callers can size per-worker
 * state before calling it). */
unsigned bd_parallel_workers(size_t n, size_t batch, unsigned threads);

/* The run length for n items on up to `threads` threads (0: one per CPU): `batch`, or
 * shorter when n holds fewer runs than threads, so that every thread gets a share.  For
 * items that wait on a device (cold files), threads in flight matter more than long runs. */
size_t bd_parallel_run(size_t n, size_t batch, unsigned threads);

/* Threads the pool has started in this process so far (for tests: they are reused). */
uint64_t bd_parallel_threads_started(void);

#endif
