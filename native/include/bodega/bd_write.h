/* bd_write.h: many new small files written under one directory in one call (an archive's
 * members, a restore's files), without the caller's language in between. */
#ifndef BODEGA_BD_WRITE_H
#define BODEGA_BD_WRITE_H

#include <stddef.h>
#include <stdint.h>
#include "bd_hash.h"
#include "bd_platform.h"

typedef struct bd_new_file {
    const char *path;     /* relative to the root, '/'-separated real names (no "", ".", "..") */
    size_t path_len;
    const void *data;
    size_t size;
    uint32_t mode;        /* permission bits */
    int64_t mtime_ns;
    int owner;            /* nonzero: the file is given uid and gid (where owners can be given) */
    uint32_t uid, gid;
} bd_new_file;

/* Creates each file under root in order: its parent directories (which must exist) opened
 * one component at a time without following a link (BD_E_UNSAFE_PATH for a link), the file
 * created exclusively, never through a link (EEXIST when anything is at the name), with its
 * permission bits less the umask and no set-id bits, its data written, then its owner (when
 * asked), mode and mtime set, in that order (a chown clears set-id bits; an owner or mode
 * the file has already is not set again).  after: NULL, or n stats where each file's stat once written goes (a
 * restore keeps them as the tree's stat cache).  After each file, one file and its bytes
 * are added to p and p ticks: a cancel stops before the next file (BD_E_CANCELLED).  On
 * failure the file being written is removed (the earlier ones stay), e->path is its path,
 * and *done (always set) counts the files written whole. */
bd_status bd_files_write(bd_dir *root, const bd_new_file *files, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e);

/* A new file of a tree whose data is a clone of an existing file (a store's loose object),
 * checked against the hash its bytes must have. */
typedef struct bd_new_clone {
    const char *path;     /* in: the new file, relative to the root (bd_new_file's syntax) */
    size_t path_len;
    const char *src;      /* in: the file it clones, relative to the source root (same syntax) */
    size_t src_len;
    uint8_t hash[BD_HASH_LEN]; /* in: the BLAKE3 hash the source's bytes must have */
    uint32_t mode;        /* in: permission bits */
    int64_t mtime_ns;     /* in */
    int owner;            /* in: nonzero: the file is given uid and gid (where owners can be given) */
    uint32_t uid, gid;
    bd_status status;     /* out: BD_OK, or why this file was not written (nothing is left at path) */
    int sys_errno;        /* out: errno / GetLastError of a failure */
    const char *op;       /* out: static name of the failing step, NULL when BD_OK */
    int at_source;        /* out: nonzero when the failure is the source's (opening, reading or
                             hashing it), zero when it is the new file's */
    bd_stat st;           /* out when BD_OK: the new file's metadata once written */
} bd_new_clone;

/* Creates each file under root as a copy-on-write clone of its source, checked: the source
 * (under src_root, no component followed through a link) is opened, hashed from that handle
 * (BD_E_CORRUPT when the hash differs: nothing is created), the new file created at path
 * exclusively (its parents opened as bd_files_write opens them) as a clone of that same open
 * handle (bd_file_create_clone_at), the source checked unchanged since it was hashed
 * (BD_E_CHANGED otherwise), so the clone holds exactly the bytes hashed; then its owner (when
 * asked), mode and mtime set as bd_files_write sets them, and its stat taken.  A source is
 * read from the page cache when it is there; the clone is not read at all.  Each file gets
 * its own status and the batch goes on, except that once one gets BD_E_NOTSUP or BD_E_XDEV
 * (the volume cannot clone) the ones after it are not tried and get the same status.  After
 * each file one file and its bytes are added to p and p ticks.  Returns BD_OK once every file
 * has a status, BD_E_CANCELLED when cancelled (files not reached keep BD_E_CANCELLED),
 * BD_E_NOMEM when out of memory. */
bd_status bd_clones_write(bd_dir *src_root, bd_dir *root, bd_new_clone *files, size_t n, bd_progress *p,
                          bd_error *e);

/* A directory of a tree being written, and the metadata it gets once its contents are in. */
typedef struct bd_new_dir {
    const char *path;     /* relative to the root, the same syntax as bd_new_file's */
    size_t path_len;
    uint32_t mode;        /* permission bits */
    int64_t mtime_ns;
    int owner;            /* nonzero: the directory is given uid and gid (where owners can be given) */
    uint32_t uid, gid;
} bd_new_dir;

/* Creates each directory under root in order (a parent before its children), exclusively,
 * with the permission bits mode (not the entries' own, which bd_dirs_finish gives once the
 * tree is filled), its parents opened one component at a time without following a link
 * (BD_E_UNSAFE_PATH for a link).  After each directory one file is added to p and p ticks:
 * a cancel stops before the next (BD_E_CANCELLED).  On failure e->path is the directory's
 * path; *done (always set) counts the directories created.  Many directories (a thousand
 * or more) are made a depth at a time on one thread per CPU: then those created before a
 * failure or a cancel need not be the first *done of dirs. */
bd_status bd_dirs_create(bd_dir *root, const bd_new_dir *dirs, size_t n, uint32_t mode, bd_progress *p,
                         size_t *done, bd_error *e);

/* Gives each directory its owner (when asked), mode and mtime, in that order, in reverse
 * order of dirs (given parents first, as bd_dirs_create takes them, each is finished after
 * its subdirectories, so no directory loses search permission before its children are
 * reached and no mtime is changed once set).  Each directory is opened itself, one
 * component at a time without following a link (BD_E_UNSAFE_PATH when one was put in its
 * place or on its way), and its metadata set through that handle.  after: NULL, or n stats
 * where each directory's stat once finished goes (after[i] for dirs[i]).  After each, one
 * file is added to p and p ticks (a cancel stops before the next).  On failure e->path is
 * the directory's path; *done (always set) counts the directories finished (the last
 * *done of dirs when they are few; many are finished as bd_dirs_create makes them, a
 * depth at a time from the deepest, on one thread per CPU). */
bd_status bd_dirs_finish(bd_dir *root, const bd_new_dir *dirs, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e);

#endif
