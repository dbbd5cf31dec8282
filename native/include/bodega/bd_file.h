/* bd_file.h: files a user names for output (bodega's -o, manifests it rewrites): created
 * with the mode the user's umask gives, or written through when the name is a device or a
 * fifo.  Never through a link.  (Files inside trees are created by bd_file_create_at.)
 */
#ifndef BODEGA_BD_FILE_H
#define BODEGA_BD_FILE_H

#include "bd_platform.h"

/* Creates `name` in d as a new regular file open for writing, exclusive and never through
 * a link (as bd_file_create_at), with the permission bits mode as open(2) gives them:
 * filtered by the process's umask (posix).  Windows has no umask and no mode bits: the file
 * is created writable, mode is not applied. */
bd_status bd_file_create_mode_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode,
                                 bd_file **out, bd_error *e);

/* Opens the existing entry `name` in d for writing: no create, no truncate, never through a
 * link (BD_E_UNSAFE_PATH).  posix: a regular file, a device or a fifo (opening a fifo waits
 * for its reader, as open(2) does); win32, which keeps no devices or fifos in directories: a
 * regular file.  A directory is an error (BD_E_IO).  st (may be NULL) gets
 * the metadata of what was opened, from the open handle, so the caller can check it is the
 * entry it saw before. */
bd_status bd_file_open_write_at(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                bd_stat *st, bd_error *e);

#endif
