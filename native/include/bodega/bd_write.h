/* bd_write.h: many new small files written under one directory in one call (an archive's
 * members, a restore's files), without the caller's language in between. */
#ifndef BODEGA_BD_WRITE_H
#define BODEGA_BD_WRITE_H

#include <stddef.h>
#include <stdint.h>
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
 * created exclusively, never through a link (EEXIST when anything is at the name), its data
 * written, then its owner (when asked), mode and mtime set, in that order (a chown clears
 * set-id bits).  after: NULL, or n stats where each file's stat once written goes (a
 * restore keeps them as the tree's stat cache).  After each file, one file and its bytes
 * are added to p and p ticks: a cancel stops before the next file (BD_E_CANCELLED).  On
 * failure the file being written is removed (the earlier ones stay), e->path is its path,
 * and *done (always set) counts the files written whole. */
bd_status bd_files_write(bd_dir *root, const bd_new_file *files, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e);

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
 * path; *done (always set) counts the directories created. */
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
 * *done of dirs). */
bd_status bd_dirs_finish(bd_dir *root, const bd_new_dir *dirs, size_t n, bd_stat *after, bd_progress *p,
                         size_t *done, bd_error *e);

#endif
