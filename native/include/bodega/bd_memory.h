/* bd_memory.h: how a large buffer the caller is about to fill is backed by memory.
 *
 * A live diff fills tens of MB of fresh buffers (the scan's arrays, the table built from it,
 * the loaded manifest's sections) and takes one page fault per 4 KiB page of them: at 100k
 * entries about 10k faults, a tenth of the diff's CPU.  Asking for large pages cuts them to
 * a few dozen.
 */
#ifndef BODEGA_BD_MEMORY_H
#define BODEGA_BD_MEMORY_H

#include <stddef.h>

/* Buffers shorter than this are left alone: no large page fits in them. */
#define BD_MEMORY_LARGE_MIN ((size_t)4 << 20)

/* Asks the OS to back the len bytes at p (from malloc or realloc, not yet filled) with large
 * pages where it can: Linux transparent huge pages (madvise MADV_HUGEPAGE, which only marks
 * the range; the contents and the allocator's ownership are unchanged).  A hint: it does
 * nothing for NULL or len < BD_MEMORY_LARGE_MIN, on Windows (large pages need a privilege
 * and locked memory there) and wherever the OS refuses. */
void bd_memory_prefer_large_pages(void *p, size_t len);

#endif
