/* bd_path.h: paths given by a user, turned into a directory handle and one name.
 *
 * The platform interface works on (directory handle, single name) pairs.  A user names an
 * entry by a path; this opens the directory that holds its last component (earlier
 * components may be links: the user chose them) and points at that component, which the
 * caller then uses without following it.
 */
#ifndef BODEGA_BD_PATH_H
#define BODEGA_BD_PATH_H

#include <stddef.h>
#include "bd_platform.h"

/* Opens the parent directory of path and points *name (of *name_len bytes) at its last component
 * (inside path; trailing separators ignored).  A path without a separator has the current
 * directory as parent.  BD_E_INVAL when the last component is empty, "." or ".." (the
 * caller resolves such paths first); otherwise bd_dir_open's errors for the parent, with
 * the parent's path. */
bd_status bd_path_open_parent(const char *path, bd_dir **parent, const char **name,
                              size_t *name_len, bd_error *e);

#endif
