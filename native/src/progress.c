/* progress.c: counters shared by worker threads, rate-limited callbacks and cancel. */
#include "bodega/bd_progress.h"
#include "bodega/bd_thread.h"

#define DEFAULT_INTERVAL_NS 100000000ULL /* 100 ms: smooth bars, negligible overhead */

/* Worker threads add to the counters concurrently, so the adds are atomic. */
#define ATOMIC_ADD(ptr, v) bd_atomic_fetch_add_u64((ptr), (v))

void bd_progress_init(bd_progress *p)
{
    p->files_total = p->bytes_total = 0;
    p->files_done = p->bytes_done = 0;
    p->bytes_cloned = p->bytes_copied = 0;
    p->cancel = 0;
    p->interval_ns = DEFAULT_INTERVAL_NS;
    p->fn = 0;
    p->ctx = 0;
    p->last_ns = 0;
}

void bd_progress_add(bd_progress *p, uint64_t files, uint64_t bytes)
{
    if (!p)
        return;
    if (files)
        ATOMIC_ADD(&p->files_done, files);
    if (bytes)
        ATOMIC_ADD(&p->bytes_done, bytes);
}

void bd_progress_add_io(bd_progress *p, uint64_t cloned, uint64_t copied)
{
    if (!p)
        return;
    if (cloned)
        ATOMIC_ADD(&p->bytes_cloned, cloned);
    if (copied)
        ATOMIC_ADD(&p->bytes_copied, copied);
}

void bd_progress_cancel(bd_progress *p)
{
    if (p)
        bd_atomic_store_int(&p->cancel, 1);
}

int bd_progress_cancelled(const bd_progress *p)
{
    return p && bd_atomic_load_int(&p->cancel) != 0;
}

bd_status bd_progress_tick(bd_progress *p, int force, bd_error *e)
{
    if (!p)
        return BD_OK;
    if (!bd_progress_cancelled(p) && p->fn) {
        uint64_t now = bd_now_ns();
        if (force || now - p->last_ns >= p->interval_ns) {
            p->last_ns = now;
            if (p->fn(p, p->ctx))
                bd_progress_cancel(p);
        }
    }
    if (bd_progress_cancelled(p))
        return bd_fail(e, BD_E_CANCELLED, 0, "cancel", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}
