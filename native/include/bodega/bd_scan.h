/* bd_scan.h: scan a directory tree into a compact, sorted table of entries.
 *
 * A scan lists every entry below a root directory (the root itself is not an entry) with
 * its metadata, sorted by the bytes of its '/'-joined relative path, the order a manifest
 * needs ("a", "a-b", "a.c", "a/x": '/' is 0x2F, so a directory's contents do not always
 * follow it directly).  It is held in two allocations: a packed array of bd_scan_entry and
 * one arena holding every path (and, right after it, every link target).
 *
 * Guarantees:
 *   - Nothing is followed: links (and Windows reparse points) are listed as links with
 *     their target read, never entered; every directory is opened relative to its parent
 *     handle with no-follow, so a directory swapped for a link during the scan cannot
 *     redirect it.  Absolute paths are never built for system calls, so paths of any total
 *     length work.  Special files (fifo, socket, device) are listed as BD_KIND_SPECIAL and
 *     never opened.
 *   - Mount points are entered (each entry records its volume).
 *   - At most about BD_SCAN_MAX_OPEN directory handles are held at once, whatever the depth
 *     and width: cached for subdirectories still to open from them, or opened ahead for
 *     directories still to list (a subdirectory is opened as soon as its parent's listing
 *     meets it, and its metadata read from that handle, while fewer are held).
 *
 * Errors (fail fast: the scan stops and nothing is returned):
 *   - the root cannot be opened: the platform's error for it, path as given (missing ->
 *     BD_E_IO/ENOENT, a link -> BD_E_UNSAFE_PATH, a file -> BD_E_IO/ENOTDIR);
 *   - a directory below it cannot be opened or listed (permissions, I/O error): its error,
 *     e->path the relative path of that directory, path_base BD_PATH_SRC;
 *   - a directory replaced between its listing and its opening by a link or another
 *     object, or a link that stopped being one before its target was read:
 *     BD_E_UNSAFE_PATH or BD_E_CHANGED naming it (replaced by another directory, it is
 *     BD_E_CHANGED only where the listing read the first one's metadata, as on Windows;
 *     elsewhere its metadata is read from the handle opened, and the directory opened is
 *     the one described and listed);
 *   - a link target longer than 64 KiB: BD_E_INVAL (ENAMETOOLONG) naming the link;
 *   - cancelled through the bd_progress: BD_E_CANCELLED.
 * Entries that vanish while the scan runs are left out (a directory removed between its
 * listing and its opening included): a scan of a live tree shows each directory as it was
 * when listed.
 *
 * Threads: the walk runs on `threads` threads (the caller's thread included; 0 = one per
 * CPU, at most BD_SCAN_MAX_THREADS).  Progress counts entries (files_done) and the sizes of
 * regular files (bytes_done); fn is called from the caller's thread only.
 */
#ifndef BODEGA_BD_SCAN_H
#define BODEGA_BD_SCAN_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"
#include "bd_progress.h"
#include "bd_platform.h"

#define BD_SCAN_MAX_THREADS 8
#define BD_SCAN_MAX_OPEN 128     /* directory handles held open at once */
#define BD_SCAN_NO_PARENT UINT32_MAX

/* One entry; 96 bytes.  Fields mean what they mean in bd_stat. */
typedef struct bd_scan_entry {
    uint64_t path_off;     /* relative path in the arena (no leading '/', not NUL-terminated) */
    uint64_t size;         /* bytes; a symlink's target length on POSIX */
    uint64_t alloc_size;
    int64_t  mtime_ns;
    int64_t  ctime_ns;
    uint64_t file_id;
    uint64_t file_id_hi;
    uint32_t path_len;
    uint32_t link_len;     /* link target length (0 if none); it follows the path in the arena */
    uint32_t mode;
    uint32_t nlink;
    uint32_t attrs;
    uint32_t reparse_tag;
    uint32_t uid, gid;     /* the owner (0 on Windows) */
    uint32_t parent;       /* index of the parent directory's entry; BD_SCAN_NO_PARENT at top */
    uint16_t volume;       /* index for bd_scan_volume_id */
    uint8_t  kind;         /* a bd_kind */
} bd_scan_entry;

typedef struct bd_scan bd_scan;

/* Scans the tree below the directory at root_path (opened with bd_dir_open: its last
 * component must be a real directory).  On success *out owns the result. */
bd_status bd_scan_tree(const char *root_path, unsigned threads, bd_progress *p,
                       bd_scan **out, bd_error *e);

/* Same below an open directory handle (kept open, not closed). */
bd_status bd_scan_dir(bd_dir *root, unsigned threads, bd_progress *p, bd_scan **out,
                      bd_error *e);

/* The most entries and path bytes a size hint reserves room for (beyond, the scan grows). */
#define BD_SCAN_HINT_MAX_ENTRIES (1u << 22)
#define BD_SCAN_HINT_MAX_BYTES ((size_t)1 << 28)

/* bd_scan_tree and bd_scan_dir told what the tree is expected to hold (say, what its last
 * manifest held): room for that many entries and bytes of paths and link targets is
 * reserved at once, not grown to by doubling, which copies and touches fresh pages several
 * times over.  Only a hint, capped at the maxima above: 0 knows nothing, and a tree of any
 * size is scanned the same. */
bd_status bd_scan_tree_sized(const char *root_path, unsigned threads, size_t expect_entries,
                             size_t expect_bytes, bd_progress *p, bd_scan **out, bd_error *e);
bd_status bd_scan_dir_sized(bd_dir *root, unsigned threads, size_t expect_entries, size_t expect_bytes,
                            bd_progress *p, bd_scan **out, bd_error *e);

void bd_scan_free(bd_scan *s);

/* Number of entries. */
size_t bd_scan_count(const bd_scan *s);

/* The entries, sorted by path; bd_scan_count(s) of them. */
const bd_scan_entry *bd_scan_entries(const bd_scan *s);

/* The arena the entries' path_off point into. */
const char *bd_scan_arena(const bd_scan *s);

/* The volume id (st_dev / volume serial number) behind an entry's volume index. */
uint64_t bd_scan_volume_id(const bd_scan *s, uint16_t volume);

/* Bytes of memory the scan holds (entries, arena, volume table). */
size_t bd_scan_nbytes(const bd_scan *s);

#endif
