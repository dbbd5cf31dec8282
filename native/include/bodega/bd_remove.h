/* bd_remove.h: remove a whole tree without ever following a link out of it.
 *
 * Used to throw away staging directories (a failed or cancelled clone) and, later,
 * containers.  Every directory is opened relative to its parent's handle with no-follow,
 * so a link met (or swapped in) during the removal is removed as a link, never entered.
 */
#ifndef BODEGA_BD_REMOVE_H
#define BODEGA_BD_REMOVE_H

#include <stddef.h>
#include "bd_platform.h"
#include "bd_progress.h"

/* Removes `name` in parent: a file or link is unlinked, a directory emptied depth first
 * and removed.  Directories that forbid it (no write or search permission for the owner)
 * are made writable first.  Entries that vanish meanwhile are fine; a missing `name` is
 * BD_E_IO/ENOENT.  At most a bounded number of handles is open whatever the depth.
 * Progress counts removed entries (files_done); p may be NULL; cancel stops it part way.
 * A failure's path is the entry that could not go, from parent ("name/sub/file",
 * BD_PATH_DST), so the caller names it in full. */
bd_status bd_remove_tree(bd_dir *parent, const char *name, size_t name_len, bd_progress *p,
                         bd_error *e);

#endif
