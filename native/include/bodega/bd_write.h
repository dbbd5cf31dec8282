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

#endif
