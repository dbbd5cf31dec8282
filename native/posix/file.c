/* file.c (POSIX): regular files opened for reading, created or opened for writing (a user's output
 * file, a device or fifo written through), never through a link. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include "bodega/bd_file.h"
#include "posix.h"

bd_status bd_posix_open_regular(bd_dir *d, const char *name, int *fd_out, bd_stat *st, bd_error *e)
{
    /* O_NONBLOCK: opening a fifo must not hang; it is refused just below. */
    int fd = openat(d->fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return bd_posix_open_failed(errno, "openat", name, e);
    bd_status rc = bd_posix_stat(fd, "", st, e);
    if (rc == BD_OK && st->kind != BD_KIND_FILE)
        rc = st->kind == BD_KIND_DIR ? bd_fail(e, BD_E_IO, EISDIR, "open", BD_PATH_AS_GIVEN, name)
                                     : bd_fail(e, BD_E_SPECIAL, 0, "open", BD_PATH_AS_GIVEN, name);
    if (rc != BD_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    return BD_OK;
}

/* Linux's default read-ahead window (VM_READAHEAD_PAGES): files up to it get no advice. */
#define SEQUENTIAL_MIN ((uint64_t)128 * 1024)

bd_status bd_file_open_read(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                            bd_stat *st, bd_error *e)
{
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    int fd;
    bd_stat local;
    bd_status rc = bd_posix_open_regular(d, buf, &fd, &local, e);
    if (rc)
        return rc;
    bd_file *f = malloc(sizeof *f);
    if (!f) {
        close(fd);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    }
#ifdef POSIX_FADV_SEQUENTIAL
    /* A file no larger than the default read-ahead window is read ahead whole by its first
     * read anyway: the advice would only be one more system call per small file (100k of
     * them in a first snapshot of the generated tree). */
    if (local.size > SEQUENTIAL_MIN)
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

/* Linux caps one WILLNEED at the readahead window (128 KiB on many devices): asked for in
 * steps, the whole range is read. */
#define WILL_READ_STEP ((uint64_t)1 << 20)

void bd_file_will_read(bd_file *f, uint64_t off, uint64_t len)
{
#ifdef POSIX_FADV_WILLNEED
    for (uint64_t end = off + len; off < end; off += WILL_READ_STEP) {
        uint64_t step = end - off < WILL_READ_STEP ? end - off : WILL_READ_STEP;
        if (posix_fadvise(f->fd, (off_t)off, (off_t)step, POSIX_FADV_WILLNEED) != 0)
            return;
    }
#else
    (void)f, (void)off, (void)len;
#endif
}

void bd_file_drop_cached(bd_file *f)
{
#ifdef POSIX_FADV_DONTNEED
    (void)posix_fadvise(f->fd, 0, 0, POSIX_FADV_DONTNEED);
#else
    (void)f;
#endif
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

/* Opens name in d for writing with flags added to O_WRONLY|O_NOFOLLOW (never through a
 * link); st (may be NULL) gets what was opened. */
static bd_status open_write(bd_dir *d, const char *name, size_t name_len, int flags, uint32_t mode,
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

bd_status bd_file_create_at(bd_dir *d, const char *name, size_t name_len, bd_file **out, bd_error *e)
{
    return bd_file_create_mode_at(d, name, name_len, 0600, out, e);
}

bd_status bd_file_create_mode_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode,
                                 bd_file **out, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_CREATE, name, name_len, e);
    /* O_EXCL: whatever is at the name (a link included, never followed) makes it EEXIST. */
    return open_write(d, name, name_len, O_CREAT | O_EXCL, mode, out, 0, e);
}

bd_status bd_file_open_write_at(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                bd_stat *st, bd_error *e)
{
    return open_write(d, name, name_len, 0, 0, out, st, e);
}

bd_status bd_file_write(bd_file *f, const void *buf, size_t n, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_WRITE, NULL, 0, e);
    const char *p = buf;
    while (n > 0) {
        ssize_t put = write(f->fd, p, n > ((size_t)1 << 30) ? ((size_t)1 << 30) : n);
        if (put < 0) {
            if (errno == EINTR)
                continue;
            return bd_fail(e, BD_E_IO, errno, "write", BD_PATH_AS_GIVEN, 0);
        }
        p += put;
        n -= (size_t)put;
    }
    return BD_OK;
}

bd_status bd_file_sync(bd_file *f, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_SYNC, NULL, 0, e);
    if (fsync(f->fd) != 0)
        return bd_fail(e, BD_E_IO, errno, "fsync", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}
