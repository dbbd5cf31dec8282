/* bd_sync.h: making a regular file that is already written durable, by name.
 *
 * For files another call wrote (a clone, a kernel copy) and the caller holds no handle of:
 * opened relative to d without following a link, flushed, closed.  Directories are flushed
 * with bd_dir_sync, whole volumes with bd_volume_sync (both in bd_platform.h).
 */
#ifndef BODEGA_BD_SYNC_H
#define BODEGA_BD_SYNC_H

#include "bd_platform.h"

/* Flushes the data and metadata of the regular file `name` in d to stable storage
 * (posix: fsync of a no-follow read-only descriptor; win32: FlushFileBuffers, which needs
 * write access, so a read-only file gives BD_E_IO/EACCES).  A link is BD_E_UNSAFE_PATH,
 * anything else that is not a regular file BD_E_SPECIAL. */
bd_status bd_file_sync_at(bd_dir *d, const char *name, size_t name_len, bd_error *e);

#endif
