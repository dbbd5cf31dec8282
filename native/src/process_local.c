/* process_local.c: process_local.h's objects, one per process. */
#include <stdlib.h>

#include "bodega/bd_thread.h"
#include "process_local.h"

void *process_local_get(volatile uint64_t *slot, size_t size, int (*init)(void *obj),
                        void (*fini)(void *obj))
{
    uint64_t me = bd_process_id();
    for (;;) {
        uint64_t seen = bd_atomic_load_u64(slot);
        process_local *obj = (process_local *)(uintptr_t)seen;
        if (obj && obj->pid == me)
            return obj;
        process_local *fresh = calloc(1, size);
        if (!fresh)
            return NULL;
        fresh->pid = me;
        if (init(fresh) != 0) {
            fini(fresh);
            free(fresh);
            return NULL;
        }
        if (bd_atomic_cas_u64(slot, seen, (uint64_t)(uintptr_t)fresh))
            return fresh;
        fini(fresh);  /* another thread made one first */
        free(fresh);
    }
}
