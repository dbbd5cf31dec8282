/* file_output.c (POSIX): output files created under the umask, or written through. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bodega/bd_file.h"
#include "posix.h"

static bd_status file_open(bd_dir *d, const char *name, size_t name_len, int flags, uint32_t mode,
                           bd_file **out, bd_stat *st, bd_error *e)
{
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    bd_file *f = malloc(sizeof *f);
    if (!f)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    do
        f->fd = openat(d->fd, buf, flags | O_WRONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, (mode_t)(mode & 07777));
    while (f->fd < 0 && errno == EINTR);  /* a fifo's open waits for its reader: a signal may cut it */
    if (f->fd < 0) {
        int err = errno;
        free(f);
        return bd_posix_open_failed(err, "openat", buf, e);
    }
    if (st) {
        bd_status rc = bd_posix_stat(f->fd, "", st, e);
        if (rc != BD_OK) {
            close(f->fd);
            free(f);
            return rc;
        }
    }
    *out = f;
    return BD_OK;
}

bd_status bd_file_create_mode_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode,
                                 bd_file **out, bd_error *e)
{
    /* O_EXCL: whatever is at the name (a link included, never followed) makes it EEXIST. */
    return file_open(d, name, name_len, O_CREAT | O_EXCL, mode, out, 0, e);
}

bd_status bd_file_open_write_at(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                bd_stat *st, bd_error *e)
{
    return file_open(d, name, name_len, 0, 0, out, st, e);
}
