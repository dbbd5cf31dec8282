/* posix.h: what the POSIX platform files share: the handle structs and name checks. */
#ifndef BODEGA_POSIX_H
#define BODEGA_POSIX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "bodega/bd_fault.h"
#include "bodega/bd_platform.h"

struct bd_dir {
    int fd;
    /* Learned by bd_file_clone_at for files coming from volume no_clone_dev - 1 (0: nothing
     * learned): FICLONE (bit 1) or copy_file_range (bit 2) cannot work into this directory,
     * so later files skip the futile calls.  Updated with atomics by concurrent clones. */
    uint64_t no_clone_dev;
    int no_clone;
    int listed;  /* the offset moved: the next listing must rewind first */
};

struct bd_file {
    int fd;
};

/* Longest single name component we accept (Linux NAME_MAX) plus the NUL. */
#define BD_NAME_BUF 256

/* Copies one path component into buf as a C string.  Rejects empty names, ".", "..",
 * and names containing '/' or NUL (BD_E_INVAL), and names too long (BD_E_IO,
 * ENAMETOOLONG). */
bd_status bd_posix_name(const char *name, size_t len, char buf[BD_NAME_BUF], bd_error *e);

/* Fills a bd_stat from a struct stat. */
void bd_posix_stat_from(const struct stat *st, bd_stat *out);

/* Reads metadata of name relative to dirfd (name "" with the fd itself), no follow. */
bd_status bd_posix_stat(int dirfd, const char *name, bd_stat *out, bd_error *e);

/* Opens the regular file name (a C string) in d for reading without following a link and
 * fills st from the open descriptor: BD_E_UNSAFE_PATH for a link, BD_E_SPECIAL for a fifo,
 * socket or device (opened non-blocking, never read), EISDIR for a directory. */
bd_status bd_posix_open_regular(bd_dir *d, const char *name, int *fd, bd_stat *st, bd_error *e);

/* The status for a failed open: BD_E_UNSAFE_PATH when it hit a link, else BD_E_IO. */
bd_status bd_posix_open_failed(int err, const char *op, const char *name, bd_error *e);

#endif
