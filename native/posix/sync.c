/* sync.c (POSIX): fsync of a regular file named in a directory, never through a link. */
#include <errno.h>
#include <unistd.h>

#include "bodega/bd_sync.h"
#include "posix.h"

bd_status bd_file_sync_at(bd_dir *d, const char *name, size_t name_len, bd_error *e)
{
    char buf[BD_NAME_BUF];
    bd_stat st;
    int fd;
    BD_FAULT_STEP(BD_STEP_SYNC, name, name_len, e);
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    bd_status rc = bd_posix_open_regular(d, buf, &fd, &st, e);
    if (rc != BD_OK)
        return rc;
    if (fsync(fd) != 0)
        rc = bd_fail(e, BD_E_IO, errno, "fsync", BD_PATH_AS_GIVEN, buf);
    close(fd);
    return rc;
}
