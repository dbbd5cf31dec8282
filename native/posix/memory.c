/* memory.c (POSIX): bd_memory.h's large-page hint, by madvise(MADV_HUGEPAGE) where it exists. */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bodega/bd_memory.h"

void bd_memory_prefer_large_pages(void *p, size_t len)
{
#ifdef MADV_HUGEPAGE
    if (!p || len < BD_MEMORY_LARGE_MIN)
        return;
    long page = sysconf(_SC_PAGESIZE);
    if (page <= 0)
        return;
    /* The whole pages the buffer touches: a block malloc mapped on its own is then marked
     * as one mapping, not split into three (which would make realloc's mremap fail and
     * copy instead). */
    uintptr_t mask = (uintptr_t)page - 1;
    uintptr_t start = (uintptr_t)p & ~mask;
    uintptr_t end = ((uintptr_t)p + len + mask) & ~mask;
    (void)madvise((void *)start, end - start, MADV_HUGEPAGE);  /* a hint: a refusal is no error */
#else
    (void)p;
    (void)len;
#endif
}
