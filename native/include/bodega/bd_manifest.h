/* bd_manifest.h: a manifest as a table of columns, and what bodega does with it: build it
 * from a scan, reuse hashes of unchanged files (the racy-git rule), hash the suspects,
 * compute the root hash, diff two manifests, make and apply deltas.
 *
 * The layout, the root hash and the rules are those of docs/format.md, version 2 (a version-1
 * table is read by giving it zero owner columns first).  A bd_mf
 * holds its table section in one allocation laid out exactly as stored (so writing it is a
 * copy) and its stat cache section in another; the typed column pointers point into them.
 * Entries are sorted by path bytes, as bd_scan produces them.
 *
 * Every function is pure C without Python and may run without the GIL; none keeps a
 * pointer to its inputs.  Functions taking two manifests walk both once, merging by path.
 */
#ifndef BODEGA_BD_MANIFEST_H
#define BODEGA_BD_MANIFEST_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"
#include "bd_progress.h"
#include "bd_platform.h"
#include "bd_scan.h"
#include "bd_hash.h"

#define BD_MF_ROW_BYTES 74u        /* table bytes per entry besides its path and link */
#define BD_MF_CACHE_ROW_BYTES 32u  /* stat cache bytes per entry */
#define BD_MF_DELETED 0            /* kind of a delta's tombstone */
#define BD_MF_PATH_NOT_UTF8 0x1u   /* flags bits */
#define BD_MF_LINK_NOT_UTF8 0x2u
#define BD_MF_ATTRS_KEPT 0x7u      /* READONLY | HIDDEN | SYSTEM */
#define BD_MF_NONE UINT32_MAX      /* "no entry" in a bd_mf_change */

typedef struct bd_mf {
    size_t n;
    int delta;                     /* 1: a delta (kind 0 marks a deleted path) */
    int owners;                    /* 1: uid and gid were recorded (POSIX scans) */
    /* the table section, exactly as stored */
    uint8_t *table;
    size_t table_len;
    uint64_t *size;
    int64_t *mtime_ns;
    uint32_t *uid, *gid;           /* owners; all zero unless owners */
    uint32_t *mode, *attrs, *path_len, *link_len;
    uint8_t *kind;
    uint8_t *hash;                 /* 32 bytes per entry */
    char *paths, *links;
    uint8_t *flags;
    /* the stat cache section; all NULL (and cache_len 0) without one */
    uint8_t *cache;
    size_t cache_len;
    int64_t *ctime_ns;
    uint64_t *file_id, *file_id_hi, *volume_id;
    int64_t scan_start_ns, racy_window_ns;
    /* n + 1 offsets of each entry's path in paths and link in links */
    uint64_t *path_off, *link_off;
    /* Set by bd_mf_reuse: for each entry, the entry of the same path in the table whose
     * serial is paired_with (BD_MF_NONE: none), so that bd_mf_diff_unneeded and bd_mf_diff
     * of the same two tables pair their rows without comparing paths again.  A table's
     * paths never change once made, and serials are never reused, so a pairing cannot go
     * stale. */
    uint64_t serial;               /* unique among the tables of this process */
    uint64_t paired_with;          /* 0: no pairing */
    uint32_t *pair;
} bd_mf;

/* Where a table or cache section breaks the format: byte offset in its section, the entry
 * (UINT64_MAX when none) and a static description. */
typedef struct bd_mf_problem {
    uint64_t offset;
    uint64_t entry;
    int in_cache;                  /* 1: offset is in the cache section */
    const char *what;
} bd_mf_problem;

/* A difference between an old and a new manifest. */
typedef struct bd_mf_change {
    uint32_t old_index;            /* BD_MF_NONE when added */
    uint32_t new_index;            /* BD_MF_NONE when deleted */
    uint32_t what;                 /* BD_MF_CH_* bits */
} bd_mf_change;

#define BD_MF_CH_ADDED    0x01u
#define BD_MF_CH_DELETED  0x02u
#define BD_MF_CH_MODIFIED 0x04u    /* a file's content */
#define BD_MF_CH_TYPE     0x08u    /* the kind (then nothing else is compared) */
#define BD_MF_CH_MODE     0x10u    /* mode or attributes */
#define BD_MF_CH_LINK     0x20u    /* a link's target; for a file, which file it is a hard link of */
#define BD_MF_CH_OWNER    0x40u    /* uid or gid (when both manifests record owners) */

/* Racy windows chosen by bd_mf_from_scan (docs/format.md, "Change detection"). */
#define BD_MF_RACY_FINE_NS 1000000000LL
#define BD_MF_RACY_COARSE_NS 2000000000LL

/* Allocates a zeroed manifest of n entries whose paths and links total the given bytes,
 * with a stat cache when with_cache.  The caller fills the columns, then bd_mf_index. */
bd_status bd_mf_alloc(size_t n, size_t paths_len, size_t links_len, int with_cache, bd_mf **out,
                      bd_error *e);

/* Computes path_off and link_off from path_len and link_len (which must fit the sections). */
void bd_mf_index(bd_mf *m);

void bd_mf_free(bd_mf *m);

/* Checks a table section (and a cache section when cache is not NULL) of n entries against
 * docs/format.md: lengths, kinds (0 only when delta), well-formed strictly increasing paths,
 * flags, zero hashes off files, links only on links and hard-linked files (an earlier path;
 * in a full manifest a file with no link of its own and the same content), sizes of links,
 * mode type bits, owners zero when not recorded.  Returns 1 when they are valid; else 0 with
 * *problem naming the first problem.  Reads only inside the given lengths, whatever the bytes. */
int bd_mf_check_sections(const uint8_t *table, size_t table_len, const uint8_t *cache,
                         size_t cache_len, uint64_t n, int delta, int owners, bd_mf_problem *problem);

/* Makes a manifest from sections that bd_mf_check_sections accepted (copied). */
bd_status bd_mf_from_sections(const uint8_t *table, size_t table_len, const uint8_t *cache,
                              size_t cache_len, size_t n, int delta, int owners, int64_t scan_start_ns,
                              int64_t racy_window_ns, bd_mf **out, bd_error *e);

/* A manifest to load in place: its table section (table_len bytes at m->table) and, when
 * with_cache, its stat cache section (cache_len bytes at m->cache) allocated but not
 * initialised, for the caller to write (a file's blocks decompressed straight into them: no
 * copy of the sections, no zeroing), check with bd_mf_check_sections, then bd_mf_from_raw.
 * Until then it holds no entries (n is 0) and only bd_mf_free may be called on it. */
bd_status bd_mf_alloc_raw(size_t table_len, size_t cache_len, int with_cache, bd_mf **out, bd_error *e);

/* Makes the manifest of n entries out of a raw one whose sections bd_mf_check_sections
 * accepted (for the same n, delta and owners).  On failure m stays raw. */
bd_status bd_mf_from_raw(bd_mf *m, size_t n, int delta, int owners, int64_t scan_start_ns,
                         int64_t racy_window_ns, bd_error *e);

/* Makes a full manifest with a stat cache from a scan, every hash still zero.  The racy
 * window is BD_MF_RACY_COARSE_NS when every timestamp is a whole second, else FINE.  Owners
 * are recorded where bd_owners_recorded() says; the files of one inode (nlink > 1, same
 * volume and file id) are hard links: each but the first (in path order) gets the first's
 * path as its link. */
bd_status bd_mf_from_scan(const bd_scan *s, int64_t scan_start_ns, bd_mf **out, bd_error *e);

/* bd_scan_tree_sized (with its size hint), then bd_mf_from_scan: the tree's manifest, the
 * scan freed.  Its entries are never sorted in place: the rows are filled through their
 * sorted order, on the threads that fill them, not moved first on one. */
bd_status bd_mf_scan_tree(const char *root_path, unsigned threads, size_t expect_entries, size_t expect_bytes,
                          int64_t scan_start_ns, bd_progress *p, bd_mf **out, bd_error *e);

/* The racy rule: for every file of cur, takes prev's hash when prev (may be NULL) has a stat
 * cache and the same path was a file there with equal size, mtime, ctime, file id and volume,
 * both times before prev's scan_start_ns - racy_window_ns.  Writes the index of every other
 * file of cur (a suspect, to be read) to suspects (room for cur->n) and returns their count.
 * Hard links after their first name are never suspects: bd_mf_link_hashes fills them.
 * Also pairs cur's entries with prev's (bd_mf's pair) when both are full manifests and
 * memory allows. */
size_t bd_mf_reuse(bd_mf *cur, const bd_mf *prev, uint32_t *suspects);

/* The copy rule: cur is a copy (a clone) of src's tree, made after src's vouched files (those
 * whose vouched[j] is nonzero, src's hash known right) last changed.  For every file of cur,
 * takes src's hash when the same path is a vouched file of src with equal size and mtime.
 * Writes the index of every other file of cur to suspects (room for cur->n) and returns
 * their count.  The stat cache of cur is left as scanned: it is the copy's own. */
size_t bd_mf_reuse_copy(bd_mf *cur, const bd_mf *src, const uint8_t *vouched, uint32_t *suspects);

/* Of the suspects idx[0..k) of cur (files prev does not vouch for), those whose change a
 * diff of prev and cur tells without their bytes: a file whose path is a file of another
 * size, or no file, in prev, unless a file of prev whose path cur does not have has its size
 * (a rename is a deleted and an added file of equal content) or it is the first name of hard
 * links in cur (they take its hash).  Moves them, in order, after the others and returns how
 * many others (to read) stay at the front.  Reads them all (returns k) when prev is NULL or a
 * delta, or memory runs out. */
size_t bd_mf_diff_unneeded(const bd_mf *cur, const bd_mf *prev, uint32_t *idx, size_t k);

/* Hashes the files idx[0..k) of m below root with bd_hash_files; jobs (room for k, owned by
 * the caller) gets each file's outcome.  For each file hashed, stores its hash and the size,
 * mtime, mode, ctime and ids read with it.  Returns what bd_hash_files returns. */
bd_status bd_mf_hash_files(bd_mf *m, bd_dir *root, const uint32_t *idx, size_t k,
                           bd_hash_job *jobs, unsigned threads, bd_progress *p, bd_error *e);

/* Gives each hard link (a file whose link names its first name) the first name's hash and
 * metadata (the same inode): call it once the files are hashed. */
void bd_mf_link_hashes(bd_mf *m);

/* The root hash (docs/format.md) of a full manifest's entries. */
void bd_mf_root(const bd_mf *m, uint8_t out[BD_HASH_LEN]);

/* Index of the entry with this path, or (size_t)-1. */
size_t bd_mf_find(const bd_mf *m, const char *path, size_t len);

/* The differences from old to new (both full): *out (free with bd_mf_changes_free) gets
 * them in path order, *count their number.  Entries equal but for mtime are not changes. */
bd_status bd_mf_diff(const bd_mf *old_mf, const bd_mf *new_mf, bd_mf_change **out, size_t *count,
                     bd_error *e);

void bd_mf_changes_free(bd_mf_change *changes);

/* The delta from base to cur (both full): cur's rows that differ from base's, and a
 * tombstone for each path base has and cur lacks.  The stat cache comes from cur. */
bd_status bd_mf_delta(const bd_mf *base, const bd_mf *cur, bd_mf **out, bd_error *e);

/* base (full) with delta applied.  BD_E_INVAL when base is a delta or delta is not one;
 * BD_E_CORRUPT (path set) when the delta deletes a path that base lacks.  The result has a
 * stat cache when both inputs have one. */
bd_status bd_mf_apply(const bd_mf *base, const bd_mf *delta, bd_mf **out, bd_error *e);

#endif
