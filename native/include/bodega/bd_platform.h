/* bd_platform.h: the one interface behind which all filesystem code of one OS lives.
 *
 * native/posix/ implements it with openat/statx/getdents64/FICLONE, native/win32/ with
 * NtCreateFile/GetFileInformationByHandleEx/FSCTL_DUPLICATE_EXTENTS_TO_FILE.  The portable
 * code in native/src/ (scan, tree clone, tree removal) is written only against it.
 *
 * Rules every implementation keeps:
 *   - Names are byte strings of one path component (no '/' or NUL; on Windows valid UTF-8,
 *     converted to UTF-16 inside), passed with an explicit length where noted.
 *   - Nothing follows a symlink, junction or reparse point: directories are opened relative
 *     to an open parent handle with no-follow (O_NOFOLLOW|O_DIRECTORY,
 *     FILE_FLAG_OPEN_REPARSE_POINT), so a link swapped in during a walk cannot redirect a
 *     read or a write.  Opening a link as a directory fails with BD_E_UNSAFE_PATH.
 *   - Creation is exclusive (O_EXCL / CREATE_NEW): nothing existing is overwritten.
 *   - On failure: a BD_E_* code, e filled with op and the name as path (bd_fail), out
 *     params untouched.  Callers that know the full relative path rewrite e->path with
 *     bd_error_set_path.
 *   - Every function is thread-safe for distinct names; handles may be shared by threads.
 *     No function touches Python; all may run without the GIL.
 */
#ifndef BODEGA_BD_PLATFORM_H
#define BODEGA_BD_PLATFORM_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"
#include "bd_progress.h"

typedef enum bd_kind {
    BD_KIND_NONE = 0,
    BD_KIND_FILE = 1,
    BD_KIND_DIR = 2,
    BD_KIND_SYMLINK = 3,   /* POSIX symlink, Windows IO_REPARSE_TAG_SYMLINK */
    BD_KIND_REPARSE = 4,   /* any other reparse point (junction, app exec link, cloud...) */
    BD_KIND_SPECIAL = 5    /* fifo, socket, character or block device: reported, never opened */
} bd_kind;

/* Metadata of one entry, read without following links. */
typedef struct bd_stat {
    uint8_t  kind;         /* a bd_kind */
    uint32_t mode;         /* POSIX st_mode (type and permission bits); synthesized on Windows */
    uint32_t attrs;        /* Windows FILE_ATTRIBUTE_*; 0 on POSIX */
    uint32_t reparse_tag;  /* Windows reparse tag; 0 elsewhere */
    uint32_t nlink;
    uint32_t uid, gid;     /* 0 on Windows */
    uint64_t size;         /* bytes (link target length for symlinks on POSIX) */
    uint64_t alloc_size;   /* bytes allocated on disk */
    int64_t  mtime_ns;     /* Unix epoch nanoseconds */
    int64_t  ctime_ns;     /* status change time (Windows ChangeTime) */
    uint64_t volume_id;    /* st_dev / volume serial number */
    uint64_t file_id;      /* inode / low 64 bits of the Windows 128-bit file id */
    uint64_t file_id_hi;   /* high 64 bits of the Windows file id; 0 elsewhere */
} bd_stat;

typedef struct bd_dir bd_dir;    /* an open directory handle (fd / HANDLE) */
typedef struct bd_file bd_file;  /* an open regular file */

/* ---- path syntax ------------------------------------------------------------------- */

/* How this OS spells a user's path (names inside bodega always use '/'): its separators,
 * and whether "C:" names a drive. */
#ifdef _WIN32
#define BD_PATH_IS_SEP(c) ((c) == '/' || (c) == '\\')
#define BD_PATH_HAS_DRIVES 1
#else
#define BD_PATH_IS_SEP(c) ((c) == '/')
#define BD_PATH_HAS_DRIVES 0
#endif

/* ---- directories ------------------------------------------------------------------- */

/* Opens the directory at path (absolute or relative to the cwd).  Earlier components may
 * be links (the user named them); the last one must be a real directory, never a link. */
bd_status bd_dir_open(const char *path, bd_dir **out, bd_error *e);

/* Opens the child directory `name` of parent without following a link. */
bd_status bd_dir_open_at(bd_dir *parent, const char *name, size_t name_len, bd_dir **out, bd_error *e);

void bd_dir_close(bd_dir *d);

/* Metadata of the directory itself. */
bd_status bd_dir_stat(bd_dir *d, bd_stat *out, bd_error *e);

/* Called once per entry of a directory (never "." or ".."); name is not NUL-terminated.
 * Return nonzero to stop the listing (bd_dir_list then returns BD_E_CANCELLED). */
typedef int (*bd_dir_entry_fn)(void *ctx, const char *name, size_t name_len, const bd_stat *st);

/* Lists every entry of d with its metadata, in no particular order.  Entries that vanish
 * between the listing and their stat are left out. */
bd_status bd_dir_list(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e);

/* Lists d like bd_dir_list, except that a subdirectory the listing itself names as one may
 * be passed with st NULL, its metadata not read: a caller that opens it (bd_dir_open_at)
 * reads it from the handle (bd_dir_stat), one call instead of two; other callers use
 * bd_stat_at.  Where the listing carries metadata already (Windows), st is never NULL. */
bd_status bd_dir_list_lazy(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e);

/* Creates the child directory `name` (exclusive) with the given permission bits. */
bd_status bd_dir_create_at(bd_dir *parent, const char *name, size_t name_len, uint32_t mode, bd_error *e);

/* Flushes the directory's entries to stable storage (a no-op where meaningless). */
bd_status bd_dir_sync(bd_dir *d, bd_error *e);

/* ---- entries ----------------------------------------------------------------------- */

/* Metadata of `name` in d, not following a link. */
bd_status bd_stat_at(bd_dir *d, const char *name, size_t name_len, bd_stat *out, bd_error *e);

/* Reads the target of the link `name` into buf (not NUL-terminated); *len is its length.
 * BD_E_INVAL when cap is too small.  On Windows, the substitute name of a symlink/junction. */
bd_status bd_link_read_at(bd_dir *d, const char *name, size_t name_len, char *buf, size_t cap,
                          size_t *len, bd_error *e);

#define BD_LINK_DIR 0x1  /* Windows: the link points to a directory */

/* Creates a symlink `name` -> target (exclusive). */
bd_status bd_link_create_at(bd_dir *d, const char *name, size_t name_len, const char *target,
                            size_t target_len, uint32_t flags, bd_error *e);

/* Creates `dst_name` in dst as a hard link to `src_name` in src (exclusive, no follow). */
bd_status bd_hardlink_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                         const char *dst_name, size_t dst_len, bd_error *e);

#define BD_RENAME_NOREPLACE 0x1  /* fail with EEXIST if the target exists */
#define BD_RENAME_EXCHANGE  0x2  /* swap two existing entries atomically (Linux only) */

bd_status bd_rename_at(bd_dir *from_dir, const char *from, size_t from_len, bd_dir *to_dir,
                       const char *to, size_t to_len, uint32_t flags, bd_error *e);

/* Removes `name` (a file, link or *empty* directory when is_dir). */
bd_status bd_unlink_at(bd_dir *d, const char *name, size_t name_len, int is_dir, bd_error *e);

/* ---- files ------------------------------------------------------------------------- */

/* Opens a regular file for reading without following a link; st (may be NULL) gets its
 * metadata from the open handle.  BD_E_UNSAFE_PATH for a link, BD_E_SPECIAL otherwise. */
bd_status bd_file_open_read(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                            bd_stat *st, bd_error *e);

/* Reads up to cap bytes at offset; *n is 0 at end of file. */
bd_status bd_file_pread(bd_file *f, void *buf, size_t cap, uint64_t offset, size_t *n, bd_error *e);

/* A hint that len bytes at off are read soon: where the system has a readahead call their
 * reads start now and nobody waits for them (so reads of several files overlap each other
 * and the work between them); elsewhere nothing.  Never fails: a hint. */
void bd_file_will_read(bd_file *f, uint64_t off, uint64_t len);

/* A hint that the file's cached pages are not wanted again (a store's fresh clone, hashed
 * once): where the system has such a call they leave the page cache now, rather than push
 * out what others read; elsewhere nothing.  Never fails: a hint. */
void bd_file_drop_cached(bd_file *f);

/* Metadata from the open handle. */
bd_status bd_file_stat(bd_file *f, bd_stat *out, bd_error *e);

void bd_file_close(bd_file *f);

/* Creates `name` in d as a new regular file open for writing: exclusive and never through a
 * link (O_CREAT|O_EXCL|O_NOFOLLOW / FILE_CREATE with FILE_OPEN_REPARSE_POINT), so a link or
 * anything else already at the name fails with EEXIST.  Owner read and write only until
 * bd_file_set_meta gives it its mode. */
bd_status bd_file_create_at(bd_dir *d, const char *name, size_t name_len, bd_file **out, bd_error *e);

/* Writes all n bytes at the file's position (short writes are retried). */
bd_status bd_file_write(bd_file *f, const void *buf, size_t n, bd_error *e);

/* Flushes the file's data and metadata to stable storage. */
bd_status bd_file_sync(bd_file *f, bd_error *e);

/* How a file's data reached its destination. */
typedef enum bd_copy_method {
    BD_METHOD_NONE = 0,         /* nothing to copy (empty file) */
    BD_METHOD_CLONE = 1,        /* FICLONE / FSCTL_DUPLICATE_EXTENTS_TO_FILE / clonefile */
    BD_METHOD_KERNEL_COPY = 2,  /* copy_file_range (may itself share extents) */
    BD_METHOD_OS_COPY = 3,      /* CopyFileExW / fcopyfile */
    BD_METHOD_USER_COPY = 4     /* read/write loop keeping holes */
} bd_copy_method;

typedef struct bd_copy_result {
    uint32_t method;         /* a bd_copy_method: the last one used */
    uint64_t bytes_cloned;   /* bytes shared copy-on-write */
    uint64_t bytes_copied;   /* bytes physically written */
} bd_copy_result;

#define BD_CLONE_AUTO    0x0  /* clone, else fall back to the fastest copy */
#define BD_CLONE_REQUIRE 0x1  /* clone or fail with BD_E_NOTSUP */
#define BD_CLONE_NEVER   0x2  /* always copy (tests and benchmarks of the fallback) */
#define BD_CLONE_READ_SOON 0x4  /* the caller reads the new file next: its data is asked for now
                                   (a hint; a clone's pages are not the source's, so its first
                                   read waits on the device) */

/* Creates `dst_name` in dst (exclusive) with the data of `src_name` in src: cloned
 * copy-on-write where the volume can, else copied keeping holes.  Data only: metadata is
 * bd_meta_copy_at's job.  On failure the partial destination is removed. */
bd_status bd_file_clone_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                           const char *dst_name, size_t dst_len, uint32_t flags,
                           bd_progress *p, bd_copy_result *r, bd_error *e);

/* Creates `name` in d like bd_file_create_mode_at (exclusive, never through a link, the
 * permission bits mode less the umask on POSIX) holding all of src's data, shared
 * copy-on-write: cloned, never copied.  BD_E_NOTSUP where the volume (or the system) cannot
 * clone, BD_E_XDEV when src is on another volume; then nothing is left at name.  The new
 * file is returned open for writing (its metadata is set through it).  src is read from the
 * handle, so the clone holds the data of the very file the caller opened (and may have
 * hashed): nothing is looked up again by name. */
bd_status bd_file_create_clone_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode, bd_file *src,
                                  bd_file **out, bd_error *e);

#define BD_META_MODE   0x1   /* permission bits / attributes */
#define BD_META_TIMES  0x2   /* mtime (ns) and, where settable, atime */
#define BD_META_OWNER  0x4   /* uid/gid when running privileged */
#define BD_META_XATTRS 0x8   /* extended attributes (POSIX) / alternate streams (Windows) */
#define BD_META_ALL    0xF

/* Applies st's metadata (and, for BD_META_XATTRS, src's extended attributes, read without
 * following links) to `dst_name` in dst, without following a link. */
bd_status bd_meta_copy_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                          const char *dst_name, size_t dst_len, const bd_stat *st,
                          uint32_t which, bd_error *e);

/* Applies st's metadata, as `which` (BD_META_MODE | BD_META_TIMES | BD_META_OWNER) says, to
 * the entry `name` of d itself, never following a link: the owner first (a chown clears
 * set-id bits), then the permission bits (Windows: READONLY from st->attrs, else from the
 * owner write bit; left alone on a link, whose mode means nothing), then the mtime.  The
 * owner is set only where bd_owner_settable() says it can be. */
bd_status bd_meta_set_at(bd_dir *d, const char *name, size_t name_len, const bd_stat *st,
                         uint32_t which, bd_error *e);

/* The same on a file opened by bd_file_create_at. */
bd_status bd_file_set_meta(bd_file *f, const bd_stat *st, uint32_t which, bd_error *e);

/* The same on an open directory itself (a tree's root, which has no entry to name). */
bd_status bd_dir_set_meta(bd_dir *d, const bd_stat *st, uint32_t which, bd_error *e);

/* 1 when this process may give entries any owner (POSIX root); 0 elsewhere (Windows owners
 * are SIDs, inherited from the destination). */
int bd_owner_settable(void);

/* 1 where entries have numeric owners (uid, gid) worth recording in a manifest: POSIX. */
int bd_owners_recorded(void);

/* ---- volumes ----------------------------------------------------------------------- */

#define BD_FS_CLONE 0x1   /* copy-on-write cloning proven by a trial clone */

typedef struct bd_fs_info {
    char fs_name[32];      /* "xfs", "btrfs", "ext4", "tmpfs", "ReFS", "NTFS", ... */
    uint64_t volume_id;
    uint32_t block_size;   /* clone alignment (cluster size) */
    uint32_t flags;        /* BD_FS_* */
    uint64_t bytes_total, bytes_free;
} bd_fs_info;

/* Describes the volume of d; with trial set, proves cloning by cloning a small temporary
 * file inside d (removed afterwards). */
bd_status bd_fs_info_at(bd_dir *d, int trial, bd_fs_info *out, bd_error *e);

/* Flushes everything written on d's volume to stable storage in one call (Linux syncfs):
 * cheaper than one flush per file for many files.  BD_E_NOTSUP where the system has no such
 * call (Windows, other POSIX systems): flush file by file instead. */
bd_status bd_volume_sync(bd_dir *d, bd_error *e);

/* ---- the build --------------------------------------------------------------------- */

/* Space-separated names of the native capabilities this build has on this machine
 * ("ficlone copy_file_range statx renameat2 ..."; "block_clone copyfile2 ..." on Windows).
 * A static string; safe from any thread. */
const char *bd_platform_features(void);

#endif
