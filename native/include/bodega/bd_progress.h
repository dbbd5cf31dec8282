/* bd_progress.h: progress reporting and cancellation shared by every long loop.
 *
 * The caller owns a bd_progress, initialises it with bd_progress_init, optionally sets
 * fn/ctx and the totals, and passes it to a long operation.  The operation:
 *   - adds to the counters with bd_progress_add (safe from any worker thread);
 *   - calls bd_progress_tick at checkpoints *from the thread that called the operation
 *     only*; tick calls fn at most once per interval_ns (and always when force is set) and
 *     returns BD_E_CANCELLED once cancel is set or fn returned nonzero;
 *   - stops at the next checkpoint once cancel is set, leaving nothing half-done behind.
 * Any thread may set cancel (bd_progress_cancel) while the operation runs without the GIL.
 * The Cython layer passes a trampoline as fn that re-acquires the GIL to call Python.
 */
#ifndef BODEGA_BD_PROGRESS_H
#define BODEGA_BD_PROGRESS_H

#include <stdint.h>
#include "bd_status.h"

typedef struct bd_progress bd_progress;

/* Called with the counters; return nonzero to ask for cancellation. */
typedef int (*bd_progress_fn)(const bd_progress *p, void *ctx);

struct bd_progress {
    uint64_t files_total;   /* 0 when unknown */
    uint64_t bytes_total;   /* 0 when unknown */
    uint64_t files_done;
    uint64_t bytes_done;
    uint64_t bytes_cloned;  /* bytes shared copy-on-write (no data written) */
    uint64_t bytes_copied;  /* bytes physically copied */
    volatile int cancel;    /* nonzero: stop at the next checkpoint */
    uint64_t interval_ns;   /* minimum time between two fn calls (default 100 ms) */
    bd_progress_fn fn;      /* may be NULL */
    void *ctx;
    uint64_t last_ns;       /* private: time of the last fn call */
};

void bd_progress_init(bd_progress *p);

/* Atomically adds to files_done/bytes_done. p may be NULL. */
void bd_progress_add(bd_progress *p, uint64_t files, uint64_t bytes);

/* Atomically adds to bytes_cloned/bytes_copied. p may be NULL. */
void bd_progress_add_io(bd_progress *p, uint64_t cloned, uint64_t copied);

/* Asks the running operation to stop; safe from any thread. */
void bd_progress_cancel(bd_progress *p);

/* 1 once cancellation was asked for. p may be NULL (returns 0). */
int bd_progress_cancelled(const bd_progress *p);

/* Checkpoint: maybe calls fn; returns BD_E_CANCELLED (filling e) when cancelled, else BD_OK. */
bd_status bd_progress_tick(bd_progress *p, int force, bd_error *e);

/* Monotonic clock in nanoseconds. */
uint64_t bd_now_ns(void);

#endif
