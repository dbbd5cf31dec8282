/* kept_memory.c: bd_memory.h's buffers, large blocks kept for reuse when freed.
 *
 * Each buffer is a malloc block with a 16-byte head before it holding its capacity (16 keeps
 * malloc's alignment).  Blocks of BD_MEMORY_LARGE_MIN or more that are freed go on a short
 * list, newest last; a request takes the smallest that fits it without wasting more than
 * its own size.  The list belongs to one process: a forked child, which may have been forked
 * while a thread of its parent held the list's lock, starts a list of its own (the parent's
 * blocks stay with the parent's copy of the list, unused in the child). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bodega/bd_memory.h"
#include "bodega/bd_thread.h"
#include "process_local.h"

#define HEAD 16

typedef struct kept_list {
    process_local made;  /* first: the process that made it */
    bd_mutex *mu;
    void *block[BD_MEMORY_KEPT_BLOCKS];  /* blocks (heads), oldest first */
    size_t count, bytes;
} kept_list;

static volatile uint64_t the_list;  /* a kept_list *, this process's or a parent's */

static size_t capacity_of(const void *head)
{
    size_t cap;
    memcpy(&cap, head, sizeof cap);
    return cap;
}

static void *buffer_of(void *head, size_t cap)
{
    memcpy(head, &cap, sizeof cap);
    return (unsigned char *)head + HEAD;
}

static int list_init(void *obj)
{
    bd_error ignored;
    return bd_mutex_new(&((kept_list *)obj)->mu, &ignored) != BD_OK;
}

static void list_fini(void *obj)
{
    bd_mutex_free(((kept_list *)obj)->mu);
}

/* This process's list, made on first use; NULL without memory (nothing is kept then). */
static kept_list *list_of_this_process(void)
{
    return process_local_get(&the_list, sizeof(kept_list), list_init, list_fini);
}

static void drop(kept_list *l, size_t i)
{
    l->bytes -= capacity_of(l->block[i]);
    memmove(&l->block[i], &l->block[i + 1], (l->count - i - 1) * sizeof l->block[0]);
    l->count--;
}

/* A kept block of len to 2 len bytes (the smallest), taken off the list; NULL when none. */
static void *take(size_t len)
{
    kept_list *l = list_of_this_process();
    if (!l)
        return NULL;
    void *found = NULL;
    bd_mutex_lock(l->mu);
    size_t best = 0;
    for (size_t i = 0; i < l->count; i++) {
        size_t cap = capacity_of(l->block[i]);
        if (cap >= len && cap / 2 <= len && (!found || cap < capacity_of(l->block[best]))) {
            found = l->block[i];
            best = i;
        }
    }
    if (found)
        drop(l, best);
    bd_mutex_unlock(l->mu);
    return found;
}

void *bd_memory_alloc(size_t len)
{
    if (len > SIZE_MAX - HEAD)
        return NULL;
    void *head = len >= BD_MEMORY_LARGE_MIN ? take(len) : NULL;
    if (head)
        return (unsigned char *)head + HEAD;
    head = malloc(HEAD + len);
    if (!head)
        return NULL;
    bd_memory_prefer_large_pages(head, HEAD + len);  /* filled next: fewer page faults */
    return buffer_of(head, len);
}

void *bd_memory_resize(void *p, size_t len)
{
    if (!p)
        return bd_memory_alloc(len);
    void *head = (unsigned char *)p - HEAD;
    size_t cap = capacity_of(head);
    if (len <= cap && (cap >= BD_MEMORY_LARGE_MIN || len == cap))
        return p;
    if (len > SIZE_MAX - HEAD)
        return NULL;
    if (len > cap && len >= BD_MEMORY_LARGE_MIN) {
        void *kept = take(len);
        if (kept) {
            memcpy((unsigned char *)kept + HEAD, p, cap);
            bd_memory_free(p);
            return (unsigned char *)kept + HEAD;
        }
    }
    void *moved = realloc(head, HEAD + len);  /* a large one in place where it can (mremap) */
    if (!moved)
        return NULL;
    if (len > cap)
        bd_memory_prefer_large_pages(moved, HEAD + len);
    return buffer_of(moved, len);
}

void bd_memory_free(void *p)
{
    if (!p)
        return;
    void *head = (unsigned char *)p - HEAD;
    size_t cap = capacity_of(head);
    kept_list *l = cap >= BD_MEMORY_LARGE_MIN && cap <= BD_MEMORY_KEPT_BYTES ? list_of_this_process() : NULL;
    if (!l) {
        free(head);
        return;
    }
    void *evicted[BD_MEMORY_KEPT_BLOCKS];
    size_t n_evicted = 0;
    bd_mutex_lock(l->mu);
    while (l->count == BD_MEMORY_KEPT_BLOCKS || l->bytes + cap > BD_MEMORY_KEPT_BYTES) {
        evicted[n_evicted++] = l->block[0];
        drop(l, 0);
    }
    l->block[l->count++] = head;
    l->bytes += cap;
    bd_mutex_unlock(l->mu);
    for (size_t i = 0; i < n_evicted; i++)  /* outside the lock: giving pages back takes time */
        free(evicted[i]);
}

void bd_memory_release_kept(void)
{
    kept_list *l = list_of_this_process();
    if (!l)
        return;
    void *all[BD_MEMORY_KEPT_BLOCKS];
    bd_mutex_lock(l->mu);
    size_t n = l->count;
    memcpy(all, l->block, n * sizeof all[0]);
    l->count = 0;
    l->bytes = 0;
    bd_mutex_unlock(l->mu);
    for (size_t i = 0; i < n; i++)
        free(all[i]);
}

void bd_memory_kept(size_t *blocks, size_t *bytes)
{
    kept_list *l = list_of_this_process();
    size_t b = 0, n = 0;
    if (l) {
        bd_mutex_lock(l->mu);
        n = l->count;
        b = l->bytes;
        bd_mutex_unlock(l->mu);
    }
    if (blocks)
        *blocks = n;
    if (bytes)
        *bytes = b;
}
