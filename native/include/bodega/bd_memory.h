/* bd_memory.h: how a large buffer the caller is about to fill is backed by memory.
 *
 * A live diff fills tens of MB of fresh buffers (the scan's arrays, the table built from it,
 * the loaded manifest's sections) and takes one page fault per 4 KiB page of them: at 100k
 * entries about 10k faults, a tenth of the diff's CPU.  Asking for large pages cuts them to
 * a few dozen.
 *
 * A process that diffs again and again (a library user, the panel, a benchmark) would get
 * those buffers back from malloc as fresh pages every time, or not, as malloc's history
 * decides: freed, a large block goes back to the OS, and the next diff faults and zeroes it
 * in again, which on a machine whose memory is full of page cache means reclaiming first.
 * So the buffers a scan and a manifest fill in full come from bd_memory_alloc: a large
 * block freed is kept (a few, up to BD_MEMORY_KEPT_BYTES) and handed to the next request of
 * about its size, its pages still mapped.
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

/* At most this many blocks, and bytes, are kept for reuse in a process (by each copy of the
 * core: every Python extension module links its own). */
#define BD_MEMORY_KEPT_BLOCKS 8
#define BD_MEMORY_KEPT_BYTES ((size_t)256 << 20)

/* An uninitialised buffer of len bytes, malloc-aligned, released only by bd_memory_free:
 * for len of BD_MEMORY_LARGE_MIN or more, a kept block of len to 2 len bytes when there is
 * one, else a fresh one preferring large pages.  NULL without memory. */
void *bd_memory_alloc(size_t len);

/* p (from bd_memory_alloc, or NULL) with room for len bytes, its first bytes kept, as
 * realloc does; a large block is never shrunk.  NULL without memory, p then untouched. */
void *bd_memory_resize(void *p, size_t len);

/* Releases p (from bd_memory_alloc or bd_memory_resize; NULL does nothing): a large block
 * is kept for reuse, the oldest kept ones freed to stay within the limits. */
void bd_memory_free(void *p);

/* Frees every block kept for reuse in this process. */
void bd_memory_release_kept(void);

/* How many blocks, and bytes, this process keeps for reuse now. */
void bd_memory_kept(size_t *blocks, size_t *bytes);

#endif
