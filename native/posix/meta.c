/* meta.c (POSIX): metadata onto an entry: owner, extended attributes, mode, times.
 *
 * The order is coreutils': owner first (a chown clears capabilities and setuid bits), then
 * xattrs, then the mode, and the times last (every other change touches ctime only, but a
 * later xattr write could still move them on some filesystems).  Nothing follows a link:
 * times, owner and mode use AT_SYMLINK_NOFOLLOW (the mode through the entry's own
 * descriptor where fchmodat cannot), xattrs are read and written with the l*xattr
 * calls through /proc/self/fd/<dir>/<name> (the directory handle, never a path walk from
 * the root), and a symlink's mode is left alone (Linux ignores it).  Filesystems without
 * xattrs (ENOTSUP) are not an error.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#if defined(__linux__) || defined(__APPLE__)
#include <sys/xattr.h>
#define HAVE_XATTR 1
#endif

#include "posix.h"
#include "bodega/bd_thread.h"

#ifndef ENOTSUP
#define ENOTSUP EOPNOTSUPP
#endif
#if !defined(ENODATA) && defined(ENOATTR)
#define ENODATA ENOATTR
#endif

#define XATTR_LIST_BUF (64 * 1024)
#define XATTR_VALUE_MAX (64 * 1024)   /* the Linux limit for one value */

#ifdef HAVE_XATTR
/* Extended attributes of `name` in the directory d, never following a link and never
 * walking any directory but d's handle: on Linux with the l*xattr calls through
 * /proc/self/fd/<d>/<name> (listxattrat, Linux 6.13+, lists in one call without the procfs
 * walk); on macOS through a descriptor opened with O_SYMLINK (a link opens as itself). */
#ifdef __APPLE__
#define XATTR_CALL(d, name, call)                                                          \
    do {                                                                                   \
        int fd_ = openat((d)->fd, (name), O_RDONLY | O_SYMLINK | O_CLOEXEC);               \
        if (fd_ < 0)                                                                       \
            return -1;                                                                     \
        ssize_t r_ = (call);                                                               \
        int err_ = errno;                                                                  \
        close(fd_);                                                                        \
        errno = err_;                                                                      \
        return r_;                                                                         \
    } while (0)

static ssize_t list_xattrs(const bd_dir *d, const char *name, char *buf, size_t cap)
{
    XATTR_CALL(d, name, flistxattr(fd_, buf, cap, 0));
}
static ssize_t get_xattr(const bd_dir *d, const char *name, const char *key, void *buf, size_t cap)
{
    XATTR_CALL(d, name, fgetxattr(fd_, key, buf, cap, 0, 0));
}
static int set_xattr(const bd_dir *d, const char *name, const char *key, const void *v, size_t n)
{
    XATTR_CALL(d, name, fsetxattr(fd_, key, v, n, 0, 0));
}
#else
#define PROC_PATH(buf, d, name) snprintf((buf), sizeof (buf), "/proc/self/fd/%d/%s", (d)->fd, (name))

#if defined(__NR_listxattrat)
#define SYS_LISTXATTRAT __NR_listxattrat
#elif defined(__x86_64__) || defined(__aarch64__)
#define SYS_LISTXATTRAT 465  /* Linux 6.13; the same number on every architecture */
#endif

#ifdef SYS_LISTXATTRAT
static int have_listxattrat = 1;  /* 0 once the kernel said it lacks the call */
#endif

static ssize_t list_xattrs(const bd_dir *d, const char *name, char *buf, size_t cap)
{
#ifdef SYS_LISTXATTRAT
    if (bd_atomic_load_int(&have_listxattrat)) {
        long n = syscall(SYS_LISTXATTRAT, d->fd, name, AT_SYMLINK_NOFOLLOW, buf, cap);
        if (!(n < 0 && errno == ENOSYS))
            return (ssize_t)n;
        bd_atomic_store_int(&have_listxattrat, 0);
    }
#endif
    char path[BD_NAME_BUF + 64];
    PROC_PATH(path, d, name);
    return llistxattr(path, buf, cap);
}
static ssize_t get_xattr(const bd_dir *d, const char *name, const char *key, void *buf, size_t cap)
{
    char path[BD_NAME_BUF + 64];
    PROC_PATH(path, d, name);
    return lgetxattr(path, key, buf, cap);
}
static int set_xattr(const bd_dir *d, const char *name, const char *key, const void *v, size_t n)
{
    char path[BD_NAME_BUF + 64];
    PROC_PATH(path, d, name);
    return lsetxattr(path, key, v, n, 0);
}
#endif

static int xattrs_unsupported(int err)
{
    return err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS;
}

/* Copies every extended attribute of src/sname onto dst/dname. */
static bd_status copy_xattrs(bd_dir *src, const char *sname, bd_dir *dst, const char *dname, bd_error *e)
{
    char small[1024];
    char *list = small;
    ssize_t n = list_xattrs(src, sname, small, sizeof small);
    if (n < 0 && errno == ERANGE) {
        if (!(list = malloc(XATTR_LIST_BUF)))
            return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        n = list_xattrs(src, sname, list, XATTR_LIST_BUF);
    }
    bd_status rc = BD_OK;
    if (n < 0) {
        if (!xattrs_unsupported(errno))
            rc = bd_fail(e, BD_E_IO, errno, "listxattr", BD_PATH_AS_GIVEN, sname);
        n = 0;
    }
    char *value = n > 0 ? malloc(XATTR_VALUE_MAX) : 0;
    if (n > 0 && !value)
        rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    for (ssize_t at = 0; rc == BD_OK && at < n; at += (ssize_t)strlen(list + at) + 1) {
        const char *key = list + at;
        ssize_t len = get_xattr(src, sname, key, value, XATTR_VALUE_MAX);
        if (len < 0) {
            if (errno == ENODATA)  /* removed since the listing */
                continue;
            rc = bd_fail(e, BD_E_IO, errno, "getxattr", BD_PATH_AS_GIVEN, sname);
        } else if (set_xattr(dst, dname, key, value, (size_t)len) != 0 && !xattrs_unsupported(errno)) {
            rc = bd_fail(e, BD_E_IO, errno, "setxattr", BD_PATH_AS_GIVEN, dname);
        }
    }
    free(value);
    if (list != small)
        free(list);
    return rc;
}
#endif

/* chmod of `name` in dirfd itself, never through a link: 1 done, 0 it is a link (left
 * alone: a link's mode means nothing), -1 failed (errno set).  fchmodat cannot refuse to
 * follow on every system (glibc emulates AT_SYMLINK_NOFOLLOW through /proc and says
 * EOPNOTSUPP for a link, older libcs say ENOTSUP or EINVAL): then the entry is opened
 * itself with O_NOFOLLOW and changed through its descriptor. */
static int chmod_entry(int dirfd, const char *name, mode_t mode)
{
    if (fchmodat(dirfd, name, mode, AT_SYMLINK_NOFOLLOW) == 0)
        return 1;
    int err = errno;
    if (err != ENOTSUP && err != EOPNOTSUPP && err != ENOSYS && err != EINVAL)
        return -1;
    struct stat st;
    if (fstatat(dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return -1;
    if (S_ISLNK(st.st_mode))
        return 0;
    int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fchmod(fd, mode);
    err = errno;
    close(fd);
    errno = err;
    return rc == 0 ? 1 : -1;
}

static void mtime_spec(const bd_stat *st, struct timespec ts[2])
{
    ts[0].tv_sec = 0;
    ts[0].tv_nsec = UTIME_OMIT;  /* atime: not recorded in bd_stat, left as it is */
    int64_t sec = st->mtime_ns / 1000000000, ns = st->mtime_ns % 1000000000;
    if (ns < 0)
        sec -= 1, ns += 1000000000;
    ts[1].tv_sec = (time_t)sec;
    ts[1].tv_nsec = (long)ns;
}

#define SET_META_FLAGS (BD_META_MODE | BD_META_TIMES | BD_META_OWNER)

int bd_owner_settable(void)
{
    return geteuid() == 0;
}

int bd_owners_recorded(void)
{
    return 1;
}

bd_status bd_meta_set_at(bd_dir *d, const char *name, size_t name_len, const bd_stat *st,
                         uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, name, name_len, e);
    if (which & ~(uint32_t)SET_META_FLAGS)
        return bd_fail(e, BD_E_INVAL, EINVAL, "meta flags", BD_PATH_AS_GIVEN, 0);
    char buf[BD_NAME_BUF];
    bd_status rc = bd_posix_name(name, name_len, buf, e);
    if (rc)
        return rc;
    if ((which & BD_META_OWNER) && bd_owner_settable()
        && fchownat(d->fd, buf, (uid_t)st->uid, (gid_t)st->gid, AT_SYMLINK_NOFOLLOW) != 0)
        return bd_fail(e, BD_E_IO, errno, "fchownat", BD_PATH_AS_GIVEN, buf);
    if ((which & BD_META_MODE) && chmod_entry(d->fd, buf, (mode_t)(st->mode & 07777)) < 0)
        return bd_fail(e, BD_E_IO, errno, "fchmodat", BD_PATH_AS_GIVEN, buf);
    if (which & BD_META_TIMES) {
        struct timespec ts[2];
        mtime_spec(st, ts);
        if (utimensat(d->fd, buf, ts, AT_SYMLINK_NOFOLLOW) != 0)
            return bd_fail(e, BD_E_IO, errno, "utimensat", BD_PATH_AS_GIVEN, buf);
    }
    return BD_OK;
}

/* Owner, mode and mtime through a descriptor (of a file or a directory). */
static bd_status set_meta_fd(int fd, const bd_stat *st, uint32_t which, bd_error *e)
{
    if (which & ~(uint32_t)SET_META_FLAGS)
        return bd_fail(e, BD_E_INVAL, EINVAL, "meta flags", BD_PATH_AS_GIVEN, 0);
    /* What the entry has now (an fstat: no transaction, unlike a chown or chmod): a file or
     * directory just created by this process often has the wanted owner and mode already,
     * and those calls are skipped.  A chown clears set-id bits, so the mode is set after any. */
    struct stat now;
    if ((which & (BD_META_OWNER | BD_META_MODE)) && fstat(fd, &now) != 0)
        return bd_fail(e, BD_E_IO, errno, "fstat", BD_PATH_AS_GIVEN, 0);
    int chown_it = (which & BD_META_OWNER) && bd_owner_settable()
                && (now.st_uid != (uid_t)st->uid || now.st_gid != (gid_t)st->gid);
    if (chown_it && fchown(fd, (uid_t)st->uid, (gid_t)st->gid) != 0)
        return bd_fail(e, BD_E_IO, errno, "fchown", BD_PATH_AS_GIVEN, 0);
    if ((which & BD_META_MODE) && (chown_it || (now.st_mode & 07777) != (st->mode & 07777))
        && fchmod(fd, (mode_t)(st->mode & 07777)) != 0)
        return bd_fail(e, BD_E_IO, errno, "fchmod", BD_PATH_AS_GIVEN, 0);
    if (which & BD_META_TIMES) {
        struct timespec ts[2];
        mtime_spec(st, ts);
        if (futimens(fd, ts) != 0)
            return bd_fail(e, BD_E_IO, errno, "futimens", BD_PATH_AS_GIVEN, 0);
    }
    return BD_OK;
}

bd_status bd_file_set_meta(bd_file *f, const bd_stat *st, uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, NULL, 0, e);
    return set_meta_fd(f->fd, st, which, e);
}

bd_status bd_dir_set_meta(bd_dir *d, const bd_stat *st, uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, NULL, 0, e);
    return set_meta_fd(d->fd, st, which, e);
}

bd_status bd_meta_copy_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                          const char *dst_name, size_t dst_len, const bd_stat *st,
                          uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, dst_name, dst_len, e);
    if (which & ~(uint32_t)BD_META_ALL)
        return bd_fail(e, BD_E_INVAL, EINVAL, "meta flags", BD_PATH_AS_GIVEN, 0);
    char dname[BD_NAME_BUF];
    bd_status rc = bd_posix_name(dst_name, dst_len, dname, e);
    if (rc)
        return rc;
    int is_link = S_ISLNK(st->mode);
    /* What the entry has now (no transaction, unlike a chown or chmod): most clones are
     * created with the right owner and mode already, so those calls are skipped. */
    struct stat now;
    if ((which & (BD_META_OWNER | BD_META_MODE)) && fstatat(dst->fd, dname, &now, AT_SYMLINK_NOFOLLOW) != 0)
        return bd_fail(e, BD_E_IO, errno, "fstatat", BD_PATH_AS_GIVEN, dname);
    if ((which & BD_META_OWNER) && (now.st_uid != (uid_t)st->uid || now.st_gid != (gid_t)st->gid)
        && geteuid() == 0
        && fchownat(dst->fd, dname, (uid_t)st->uid, (gid_t)st->gid, AT_SYMLINK_NOFOLLOW) != 0)
        return bd_fail(e, BD_E_IO, errno, "fchownat", BD_PATH_AS_GIVEN, dname);
    if (which & BD_META_XATTRS) {
#ifdef HAVE_XATTR
        char sname[BD_NAME_BUF];
        if ((rc = bd_posix_name(src_name, src_len, sname, e)) != BD_OK
            || (rc = copy_xattrs(src, sname, dst, dname, e)) != BD_OK)
            return rc;
#else
        (void)src, (void)src_name, (void)src_len;
#endif
    }
    /* A link's mode means nothing on Linux: it is left alone (and never followed). */
    if ((which & BD_META_MODE) && !is_link && (now.st_mode & 07777) != (st->mode & 07777)
        && chmod_entry(dst->fd, dname, (mode_t)(st->mode & 07777)) < 0)
        return bd_fail(e, BD_E_IO, errno, "fchmodat", BD_PATH_AS_GIVEN, dname);
    if (which & BD_META_TIMES) {
        struct timespec ts[2];
        mtime_spec(st, ts);
        if (utimensat(dst->fd, dname, ts, AT_SYMLINK_NOFOLLOW) != 0)
            return bd_fail(e, BD_E_IO, errno, "utimensat", BD_PATH_AS_GIVEN, dname);
    }
    return BD_OK;
}
