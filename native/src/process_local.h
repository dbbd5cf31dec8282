/* process_local.h: an object each process makes for itself on first use.  A forked child
 * finds its parent's object (with none of its threads, and maybe a lock held at the fork)
 * and leaves it alone: it makes its own, so no lock is shared across a fork. */
#ifndef BODEGA_PROCESS_LOCAL_H
#define BODEGA_PROCESS_LOCAL_H

#include <stddef.h>
#include <stdint.h>

/* An object's first member: the process that made it. */
typedef struct process_local {
    uint64_t pid;
} process_local;

/* The object *slot points to when this process made it; else a new one of size bytes
 * (zeroed, its pid set, then init, which returns 0 when it could set it up), published in
 * *slot by one atomic swap (a thread that loses the race frees its own with fini and
 * takes the winner's).  NULL without memory or when init fails.  fini may be given an
 * object init failed on. */
void *process_local_get(volatile uint64_t *slot, size_t size, int (*init)(void *obj),
                        void (*fini)(void *obj));

#endif
