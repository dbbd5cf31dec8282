/* bd_clone.h: clone a file or a whole tree copy-on-write, and ask whether a volume can.
 *
 * Written only against the platform interface (bd_platform.h), so the same code clones on
 * Linux (FICLONE), macOS (clonefile) and Windows (block cloning), falling back to the
 * fastest copy the platform has where the volume cannot clone.
 *
 * The tree clone's guarantees:
 *   - Nothing outside the source is read and nothing outside the destination is written:
 *     every directory is opened relative to its parent's handle without following links,
 *     and symlinks (and Windows symlink/junction reparse points) are recreated as links with
 *     the same target, never followed.  A directory swapped for a link during the walk makes
 *     the clone fail (BD_E_UNSAFE_PATH naming it); it cannot redirect a read or a write.
 *   - Regular files keep their data (holes stay holes), permission bits, mtime (ns), owner
 *     (when privileged) and extended attributes; directories and links keep theirs too.
 *     Files hardlinked to each other inside the tree stay hardlinked.  Special files (fifo,
 *     socket, device) are never opened: they are skipped and reported.
 *   - All or nothing: the tree is built in a hidden staging directory next to the
 *     destination (".bodega-staging-<random>" in the destination's parent) and renamed into
 *     place without replacing anything.  A failed or cancelled clone leaves nothing at the
 *     destination and removes the staging directory.
 *   - Progress: files_done, bytes_done, bytes_cloned, bytes_copied as the clone goes;
 *     files_total and bytes_total once the whole source has been listed (0 before).  fn is
 *     called from the caller's thread only; cancel stops the clone at the next file (or the
 *     next piece of a big file) and cleans up.
 */
#ifndef BODEGA_BD_CLONE_H
#define BODEGA_BD_CLONE_H

#include <stddef.h>
#include <stdint.h>
#include "bd_status.h"
#include "bd_progress.h"
#include "bd_platform.h"

#define BD_CLONE_MAX_THREADS 16

typedef struct bd_clone_stats {
    uint64_t files;          /* regular files cloned or copied (extra hardlink names excluded) */
    uint64_t dirs;           /* directories, the root included */
    uint64_t symlinks;       /* links recreated */
    uint64_t hardlinks;      /* extra names linked to a file of the tree cloned before */
    uint64_t specials;       /* special files skipped */
    uint64_t bytes;          /* size of the files */
    uint64_t bytes_cloned;   /* of which shared copy-on-write */
    uint64_t bytes_copied;   /* of which written */
    uint32_t methods;        /* bit (1 << m) for every bd_copy_method m used */
    unsigned threads;        /* threads the clone ran on */
    char *special_paths;     /* the skipped special files' paths relative to the source, each
                                NUL-terminated, one after the other; NULL when none */
    size_t special_paths_len;
} bd_clone_stats;

/* Clones the directory tree at src_path to dst_path, which must not exist (its parent
 * must).  Both paths are absolute or relative to the cwd; their earlier components may be
 * links, their last ones may not (src's last component must be a real directory).
 * flags: BD_CLONE_AUTO / BD_CLONE_REQUIRE (every file must clone, else BD_E_NOTSUP, or
 * BD_E_XDEV across volumes) / BD_CLONE_NEVER (copy every byte).
 * threads: 0 picks (one per CPU, at most BD_CLONE_MAX_THREADS); 1 runs on the caller's
 * thread only.  out (filled on success only) must be released with bd_clone_stats_free.
 * Errors name the failing entry relative to the source (BD_PATH_SRC) or, for failures to
 * write (no space, quota, existing entry), the destination (BD_PATH_DST); an existing
 * destination is BD_E_IO/EEXIST with dst_path as given. */
bd_status bd_clone_tree(const char *src_path, const char *dst_path, uint32_t flags,
                        unsigned threads, bd_progress *p, bd_clone_stats *out, bd_error *e);

/* Frees what bd_clone_tree allocated in s (s itself is the caller's). */
void bd_clone_stats_free(bd_clone_stats *s);

/* Clones the regular file at src_path to dst_path (which must not exist): data as
 * bd_file_clone_at, then mode, mtime, owner and xattrs.  Neither last component may be a
 * link (BD_E_UNSAFE_PATH).  On failure no destination is left. */
bd_status bd_clone_file(const char *src_path, const char *dst_path, uint32_t flags,
                        bd_progress *p, bd_copy_result *r, bd_error *e);

/* Describes the volume holding the directory at path and proves by a trial clone inside it
 * whether it can clone (BD_FS_CLONE in out->flags).  A directory we may not write to gets
 * no BD_FS_CLONE (nothing proven), not an error. */
bd_status bd_probe_cow(const char *path, bd_fs_info *out, bd_error *e);

/* One file of a bd_clone_files batch. */
typedef struct bd_clone_job {
    const char *path;       /* in: the source, relative to the source root, '/'-separated
                               real names (no empty, "." or ".." component) */
    size_t path_len;
    const char *dst_name;   /* in: the new name in the destination directory */
    size_t dst_len;
    bd_status status;       /* out: BD_OK, or why this file was not cloned (BD_E_NOTSUP:
                               the volume cannot clone it; nothing was copied) */
    int sys_errno;          /* out: errno / GetLastError of a failure */
    const char *op;         /* out: static name of the failing step, NULL when BD_OK */
    bd_stat st;             /* out when BD_OK: the source's metadata taken just after the
                               clone (equal to what an earlier hash saw: the clone holds
                               those bytes) */
} bd_clone_job;

/* Clones every job's file (under src_root, no component followed through a link) into a
 * new file dst_name of dst: data only, copy-on-write or not at all (never a copied byte),
 * created with the source's permission bits (less the umask; never set-id bits), its data
 * asked for at once (BD_CLONE_READ_SOON: the caller reads each clone next, to hash it).  Up to
 * `threads` threads (0: one per CPU).  A file that fails gets its own status and the batch
 * goes on (a failed job leaves no destination).  Returns BD_OK once every job has a status,
 * BD_E_CANCELLED when cancelled (jobs not reached keep BD_E_CANCELLED), BD_E_NOMEM when the
 * workers could not start.  p gets files_total = n and files_done / bytes_done as it goes. */
bd_status bd_clone_files(bd_dir *src_root, bd_dir *dst, bd_clone_job *jobs, size_t n, unsigned threads,
                         bd_progress *p, bd_error *e);

/* 1 when a failed clone step with this errno is the destination's fault (no space,
 * quota, read-only, an existing entry), so errors name the destination path; else the
 * source's. */
int bd_clone_blames_destination(int sys_errno);

#endif
