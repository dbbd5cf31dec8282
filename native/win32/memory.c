/* memory.c (Windows): bd_memory.h's large-page hint does nothing here: large pages need
 * SeLockMemoryPrivilege and memory allocated apart (VirtualAlloc MEM_LARGE_PAGES), locked. */
#include "bodega/bd_memory.h"

void bd_memory_prefer_large_pages(void *p, size_t len)
{
    (void)p;
    (void)len;
}
