/* file.c (POSIX): regular files opened for reading, never through a link. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "posix.h"

bd_status bd_file_open_read(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                            bd_stat *st, bd_error *e)
{
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    /* O_NONBLOCK: opening a fifo must not hang; it is refused just below. */
    int fd = openat(d->fd, buf, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return bd_posix_open_failed(errno, "openat", buf, e);
    bd_stat local;
    bd_status rc = bd_posix_stat(fd, "", &local, e);
    if (rc == BD_OK && local.kind != BD_KIND_FILE)
        rc = local.kind == BD_KIND_DIR ? bd_fail(e, BD_E_IO, EISDIR, "open", BD_PATH_AS_GIVEN, buf)
                                       : bd_fail(e, BD_E_SPECIAL, 0, "open", BD_PATH_AS_GIVEN, buf);
    bd_file *f = rc == BD_OK ? malloc(sizeof *f) : 0;
    if (rc == BD_OK && !f)
        rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    if (rc != BD_OK) {
        close(fd);
        return rc;
    }
#ifdef POSIX_FADV_SEQUENTIAL
    posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
#endif
    f->fd = fd;
    if (st)
        *st = local;
    *out = f;
    return BD_OK;
}

bd_status bd_file_pread(bd_file *f, void *buf, size_t cap, uint64_t offset, size_t *n, bd_error *e)
{
    for (;;) {
        ssize_t got = pread(f->fd, buf, cap, (off_t)offset);
        if (got >= 0) {
            *n = (size_t)got;
            return BD_OK;
        }
        if (errno != EINTR)
            return bd_fail(e, BD_E_IO, errno, "pread", BD_PATH_AS_GIVEN, 0);
    }
}

bd_status bd_file_stat(bd_file *f, bd_stat *out, bd_error *e)
{
    return bd_posix_stat(f->fd, "", out, e);
}

void bd_file_close(bd_file *f)
{
    if (f) {
        close(f->fd);
        free(f);
    }
}
