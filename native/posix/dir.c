/* dir.c (POSIX): directory handles, listing with metadata, entries and links. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#endif

#include "posix.h"

#ifndef O_CLOEXEC
#define O_CLOEXEC 0
#endif

#define DIR_OPEN_FLAGS (O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)

bd_status bd_posix_name(const char *name, size_t len, char buf[BD_NAME_BUF], bd_error *e)
{
    if (len == 0 || (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')
        || memchr(name, '/', len) || memchr(name, '\0', len))
        return bd_fail_n(e, BD_E_INVAL, EINVAL, "name", BD_PATH_AS_GIVEN, name, len);
    if (len >= BD_NAME_BUF)
        return bd_fail_n(e, BD_E_IO, ENAMETOOLONG, "name", BD_PATH_AS_GIVEN, name, len);
    memcpy(buf, name, len);
    buf[len] = '\0';
    return BD_OK;
}

bd_status bd_posix_open_failed(int err, const char *op, const char *name, bd_error *e)
{
    /* O_NOFOLLOW reports a final-component link as ELOOP; with O_DIRECTORY Linux says
     * ENOTDIR instead, which the callers turn into ELOOP after an lstat. */
    if (err == ELOOP)
        return bd_fail(e, BD_E_UNSAFE_PATH, err, op, BD_PATH_AS_GIVEN, name);
    return bd_fail(e, BD_E_IO, err, op, BD_PATH_AS_GIVEN, name);
}

static bd_dir *dir_new(int fd, bd_error *e)
{
    bd_dir *d = malloc(sizeof *d);
    if (!d) {
        close(fd);
        bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        return 0;
    }
    d->fd = fd;
    d->no_clone_dev = 0;
    d->no_clone = 0;
    d->listed = 0;
    return d;
}

bd_status bd_dir_open(const char *path, bd_dir **out, bd_error *e)
{
    int fd = open(path, DIR_OPEN_FLAGS);
    if (fd < 0) {
        int err = errno;
        struct stat st;
        if (err == ENOTDIR && lstat(path, &st) == 0 && S_ISLNK(st.st_mode))
            err = ELOOP;
        return bd_posix_open_failed(err, "open", path, e);
    }
    bd_dir *d = dir_new(fd, e);
    if (!d)
        return BD_E_NOMEM;
    *out = d;
    return BD_OK;
}

bd_status bd_dir_open_at(bd_dir *parent, const char *name, size_t name_len, bd_dir **out, bd_error *e)
{
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    int fd = openat(parent->fd, buf, DIR_OPEN_FLAGS);
    if (fd < 0) {
        int err = errno;
        /* ENOTDIR on a link to a file: tell a link from a real non-directory. */
        if (err == ENOTDIR) {
            struct stat st;
            if (fstatat(parent->fd, buf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
                err = ELOOP;
        }
        return bd_posix_open_failed(err, "openat", buf, e);
    }
    bd_dir *d = dir_new(fd, e);
    if (!d)
        return BD_E_NOMEM;
    *out = d;
    return BD_OK;
}

void bd_dir_close(bd_dir *d)
{
    if (d) {
        close(d->fd);
        free(d);
    }
}

static bd_kind kind_of_mode(mode_t mode)
{
    if (S_ISREG(mode))
        return BD_KIND_FILE;
    if (S_ISDIR(mode))
        return BD_KIND_DIR;
    if (S_ISLNK(mode))
        return BD_KIND_SYMLINK;
    return BD_KIND_SPECIAL;
}

void bd_posix_stat_from(const struct stat *st, bd_stat *out)
{
    memset(out, 0, sizeof *out);
    out->kind = (uint8_t)kind_of_mode(st->st_mode);
    out->mode = (uint32_t)st->st_mode;
    out->nlink = (uint32_t)st->st_nlink;
    out->uid = (uint32_t)st->st_uid;
    out->gid = (uint32_t)st->st_gid;
    out->size = (uint64_t)st->st_size;
    out->alloc_size = (uint64_t)st->st_blocks * 512u;
#if defined(__APPLE__)
    out->mtime_ns = (int64_t)st->st_mtimespec.tv_sec * 1000000000 + st->st_mtimespec.tv_nsec;
    out->ctime_ns = (int64_t)st->st_ctimespec.tv_sec * 1000000000 + st->st_ctimespec.tv_nsec;
#else
    out->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
#endif
    out->volume_id = (uint64_t)st->st_dev;
    out->file_id = (uint64_t)st->st_ino;
}

#if defined(__linux__) && defined(STATX_BASIC_STATS)
/* statx with AT_STATX_DONT_SYNC: never waits on a network filesystem to revalidate.  Its
 * fields go straight into out, the values bd_posix_stat_from gives for the same file (one
 * call per scanned entry: no struct stat between them). */
static void stat_from_statx(const struct statx *sx, bd_stat *out)
{
    memset(out, 0, sizeof *out);
    out->kind = (uint8_t)kind_of_mode(sx->stx_mode);
    out->mode = (uint32_t)sx->stx_mode;
    out->nlink = (uint32_t)sx->stx_nlink;
    out->uid = (uint32_t)sx->stx_uid;
    out->gid = (uint32_t)sx->stx_gid;
    out->size = (uint64_t)(off_t)sx->stx_size;
    out->alloc_size = (uint64_t)(blkcnt_t)sx->stx_blocks * 512u;
    out->mtime_ns = (int64_t)sx->stx_mtime.tv_sec * 1000000000 + sx->stx_mtime.tv_nsec;
    out->ctime_ns = (int64_t)sx->stx_ctime.tv_sec * 1000000000 + sx->stx_ctime.tv_nsec;
    out->volume_id = (uint64_t)makedev(sx->stx_dev_major, sx->stx_dev_minor);
    out->file_id = (uint64_t)sx->stx_ino;
}
#endif

bd_status bd_posix_stat(int dirfd, const char *name, bd_stat *out, bd_error *e)
{
    int flags = AT_SYMLINK_NOFOLLOW | (name[0] ? 0 : AT_EMPTY_PATH);
#if defined(__linux__) && defined(STATX_BASIC_STATS)
    struct statx sx;
    if (statx(dirfd, name, flags | AT_STATX_DONT_SYNC, STATX_BASIC_STATS, &sx) == 0) {
        stat_from_statx(&sx, out);
        return BD_OK;
    }
    if (errno != ENOSYS)
        return bd_fail(e, BD_E_IO, errno, "statx", BD_PATH_AS_GIVEN, name);
#endif
    struct stat st;
    if (fstatat(dirfd, name, &st, flags) != 0)
        return bd_fail(e, BD_E_IO, errno, "fstatat", BD_PATH_AS_GIVEN, name);
    bd_posix_stat_from(&st, out);
    return BD_OK;
}

bd_status bd_dir_stat(bd_dir *d, bd_stat *out, bd_error *e)
{
    return bd_posix_stat(d->fd, "", out, e);
}

bd_status bd_stat_at(bd_dir *d, const char *name, size_t name_len, bd_stat *out, bd_error *e)
{
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    return bd_posix_stat(d->fd, buf, out, e);
}

#ifdef __linux__
/* getdents64 fills a large buffer per call: far fewer syscalls than readdir on 100k-entry
 * directories, and no DIR* whose fd we would have to dup. */
struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};
#define DENTS_BUF (256 * 1024)

/* lazy: a DT_DIR entry goes to fn unread (st NULL), see bd_dir_list_lazy. */
static bd_status list(bd_dir *d, int lazy, bd_dir_entry_fn fn, void *ctx, bd_error *e)
{
    char *buf = malloc(DENTS_BUF);
    if (!buf)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    bd_status rc = BD_OK;
    /* A fresh handle is at the start: rewinding it would be one syscall per directory. */
    if (d->listed && lseek(d->fd, 0, SEEK_SET) < 0) {
        rc = bd_fail(e, BD_E_IO, errno, "lseek", BD_PATH_AS_GIVEN, 0);
        goto out;
    }
    d->listed = 1;
    for (;;) {
        long n = syscall(SYS_getdents64, d->fd, buf, DENTS_BUF);
        if (n < 0) {
            rc = bd_fail(e, BD_E_IO, errno, "getdents64", BD_PATH_AS_GIVEN, 0);
            goto out;
        }
        if (n == 0)
            break;
        for (long off = 0; off < n;) {
            struct linux_dirent64 *de = (struct linux_dirent64 *)(buf + off);
            off += de->d_reclen;
            const char *name = de->d_name;
            if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
                continue;
            bd_stat st;
            int unread = lazy && de->d_type == DT_DIR;
            bd_error ignored;
            bd_error_clear(&ignored);
            if (!unread && bd_posix_stat(d->fd, name, &st, &ignored) != BD_OK) {
                if (ignored.sys_errno == ENOENT)
                    continue; /* vanished since the listing */
                rc = bd_fail(e, ignored.code, ignored.sys_errno, ignored.op, BD_PATH_AS_GIVEN, name);
                goto out;
            }
            if (fn(ctx, name, strlen(name), unread ? 0 : &st)) {
                rc = bd_fail(e, BD_E_CANCELLED, 0, "list", BD_PATH_AS_GIVEN, 0);
                goto out;
            }
        }
    }
out:
    free(buf);
    return rc;
}
#else
static bd_status list(bd_dir *d, int lazy, bd_dir_entry_fn fn, void *ctx, bd_error *e)
{
    int fd = dup(d->fd);
    if (fd < 0)
        return bd_fail(e, BD_E_IO, errno, "dup", BD_PATH_AS_GIVEN, 0);
    DIR *dp = fdopendir(fd);
    if (!dp) {
        close(fd);
        return bd_fail(e, BD_E_IO, errno, "fdopendir", BD_PATH_AS_GIVEN, 0);
    }
    rewinddir(dp);
    bd_status rc = BD_OK;
    struct dirent *de;
    errno = 0;
    while ((de = readdir(dp)) != 0) {
        const char *name = de->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        bd_stat st;
#ifdef DT_DIR
        int unread = lazy && de->d_type == DT_DIR;
#else
        int unread = 0;  /* no d_type here: every entry is read */
        (void)lazy;
#endif
        bd_error ignored;
        bd_error_clear(&ignored);
        if (!unread && bd_posix_stat(d->fd, name, &st, &ignored) != BD_OK) {
            if (ignored.sys_errno == ENOENT)
                continue;
            rc = bd_fail(e, ignored.code, ignored.sys_errno, ignored.op, BD_PATH_AS_GIVEN, name);
            break;
        }
        if (fn(ctx, name, strlen(name), unread ? 0 : &st)) {
            rc = bd_fail(e, BD_E_CANCELLED, 0, "list", BD_PATH_AS_GIVEN, 0);
            break;
        }
        errno = 0;
    }
    if (rc == BD_OK && errno)
        rc = bd_fail(e, BD_E_IO, errno, "readdir", BD_PATH_AS_GIVEN, 0);
    closedir(dp);
    return rc;
}
#endif

bd_status bd_dir_list(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e)
{
    return list(d, 0, fn, ctx, e);
}

bd_status bd_dir_list_lazy(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e)
{
    return list(d, 1, fn, ctx, e);
}

bd_status bd_dir_create_at(bd_dir *parent, const char *name, size_t name_len, uint32_t mode, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_MKDIR, name, name_len, e);
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    if (mkdirat(parent->fd, buf, (mode_t)(mode & 07777)) != 0)
        return bd_fail(e, BD_E_IO, errno, "mkdirat", BD_PATH_AS_GIVEN, buf);
    return BD_OK;
}

bd_status bd_dir_sync(bd_dir *d, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_SYNC, NULL, 0, e);
    if (fsync(d->fd) != 0 && errno != EINVAL)
        return bd_fail(e, BD_E_IO, errno, "fsync", BD_PATH_AS_GIVEN, 0);
    return BD_OK;
}

bd_status bd_link_read_at(bd_dir *d, const char *name, size_t name_len, char *out, size_t cap,
                          size_t *len, bd_error *e)
{
    char buf[BD_NAME_BUF];
    if (bd_posix_name(name, name_len, buf, e))
        return e ? e->code : BD_E_INVAL;
    ssize_t n = readlinkat(d->fd, buf, out, cap);
    if (n < 0) {
        int err = errno;
        return bd_fail(e, err == EINVAL ? BD_E_INVAL : BD_E_IO, err, "readlinkat", BD_PATH_AS_GIVEN, buf);
    }
    if ((size_t)n >= cap)  /* may have been cut: the caller must retry with a larger buffer */
        return bd_fail(e, BD_E_INVAL, ENAMETOOLONG, "readlinkat", BD_PATH_AS_GIVEN, buf);
    *len = (size_t)n;
    return BD_OK;
}
