/* new_file.h: the last steps of writing a new file of a tree (internal to native/src; shared
 * by bd_files_write and bd_clones_write). */
#ifndef BODEGA_NEW_FILE_H
#define BODEGA_NEW_FILE_H

#include <stddef.h>
#include <stdint.h>
#include "bodega/bd_platform.h"

/* The metadata a new file ends with (bd_new_file's and bd_new_clone's fields). */
typedef struct new_file_meta {
    uint32_t mode;
    int64_t mtime_ns;
    int owner;        /* nonzero: uid and gid are given (where owners can be given) */
    uint32_t uid, gid;
} new_file_meta;

/* Finishes out, the new file `name` of d, after its data went in with status rc: when rc is
 * BD_OK gives it its owner (when asked), mode and mtime, and takes its stat into after (may
 * be NULL); closes it; on any failure removes it, so nothing is left at name.  Returns the
 * first failure. */
bd_status new_file_finish(bd_dir *d, const char *name, size_t name_len, bd_file *out, bd_status rc,
                          const new_file_meta *m, bd_stat *after, bd_error *e);

#endif
