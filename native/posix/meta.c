/* meta.c (POSIX): metadata onto an entry: owner, extended attributes, mode, times.
 *
 * The order is coreutils': owner first (a chown clears capabilities and setuid bits), then
 * xattrs, then the mode, and the times last (every other change touches ctime only, but a
 * later xattr write could still move them on some filesystems).  Nothing follows a link:
 * times and owner use AT_SYMLINK_NOFOLLOW, xattrs are read and written with the l*xattr
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
#if defined(__linux__) || defined(__APPLE__)
#include <sys/xattr.h>
#define HAVE_XATTR 1
#endif

#include "posix.h"

#ifndef ENOTSUP
#define ENOTSUP EOPNOTSUPP
#endif
#if !defined(ENODATA) && defined(ENOATTR)
#define ENODATA ENOATTR
#endif

#define XATTR_LIST_BUF (64 * 1024)
#define XATTR_VALUE_MAX (64 * 1024)   /* the Linux limit for one value */

#ifdef HAVE_XATTR
/* The path of `name` in the directory d without walking any directory but d's handle. */
static void fd_path(char *buf, size_t cap, const bd_dir *d, const char *name)
{
    snprintf(buf, cap, "/proc/self/fd/%d/%s", d->fd, name);
}

#ifdef __APPLE__
static ssize_t list_xattrs(const char *path, char *buf, size_t cap)
{
    return listxattr(path, buf, cap, XATTR_NOFOLLOW);
}
static ssize_t get_xattr(const char *path, const char *key, void *buf, size_t cap)
{
    return getxattr(path, key, buf, cap, 0, XATTR_NOFOLLOW);
}
static int set_xattr(const char *path, const char *key, const void *v, size_t n)
{
    return setxattr(path, key, v, n, 0, XATTR_NOFOLLOW);
}
#define FD_PATH(buf, d, name) (snprintf((buf), sizeof (buf), "%s", (name)), (void)(d))
#else
static ssize_t list_xattrs(const char *path, char *buf, size_t cap) { return llistxattr(path, buf, cap); }
static ssize_t get_xattr(const char *path, const char *key, void *buf, size_t cap)
{
    return lgetxattr(path, key, buf, cap);
}
static int set_xattr(const char *path, const char *key, const void *v, size_t n)
{
    return lsetxattr(path, key, v, n, 0);
}
#define FD_PATH(buf, d, name) fd_path((buf), sizeof (buf), (d), (name))
#endif

static int xattrs_unsupported(int err)
{
    return err == ENOTSUP || err == EOPNOTSUPP || err == ENOSYS;
}

/* Copies every extended attribute of src/sname onto dst/dname. */
static bd_status copy_xattrs(bd_dir *src, const char *sname, bd_dir *dst, const char *dname, bd_error *e)
{
    char spath[BD_NAME_BUF + 64], dpath[BD_NAME_BUF + 64];
    FD_PATH(spath, src, sname);
    char small[1024];
    char *list = small;
    ssize_t n = list_xattrs(spath, small, sizeof small);
    if (n < 0 && errno == ERANGE) {
        if (!(list = malloc(XATTR_LIST_BUF)))
            return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        n = list_xattrs(spath, list, XATTR_LIST_BUF);
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
    if (n > 0)
        FD_PATH(dpath, dst, dname);
    for (ssize_t at = 0; rc == BD_OK && at < n; at += (ssize_t)strlen(list + at) + 1) {
        const char *key = list + at;
        ssize_t len = get_xattr(spath, key, value, XATTR_VALUE_MAX);
        if (len < 0) {
            if (errno == ENODATA)  /* removed since the listing */
                continue;
            rc = bd_fail(e, BD_E_IO, errno, "getxattr", BD_PATH_AS_GIVEN, sname);
        } else if (set_xattr(dpath, key, value, (size_t)len) != 0 && !xattrs_unsupported(errno)) {
            rc = bd_fail(e, BD_E_IO, errno, "setxattr", BD_PATH_AS_GIVEN, dname);
        }
    }
    free(value);
    if (list != small)
        free(list);
    return rc;
}
#endif

bd_status bd_meta_copy_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                          const char *dst_name, size_t dst_len, const bd_stat *st,
                          uint32_t which, bd_error *e)
{
    if (which & ~(uint32_t)BD_META_ALL)
        return bd_fail(e, BD_E_INVAL, EINVAL, "meta flags", BD_PATH_AS_GIVEN, 0);
    char dname[BD_NAME_BUF];
    bd_status rc = bd_posix_name(dst_name, dst_len, dname, e);
    if (rc)
        return rc;
    int is_link = S_ISLNK(st->mode);
    if ((which & BD_META_OWNER) && geteuid() == 0
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
    /* fchmodat cannot refuse to follow a link on older kernels; a link's mode means
     * nothing on Linux anyway, so it is left alone. */
    if ((which & BD_META_MODE) && !is_link
        && fchmodat(dst->fd, dname, (mode_t)(st->mode & 07777), 0) != 0)
        return bd_fail(e, BD_E_IO, errno, "fchmodat", BD_PATH_AS_GIVEN, dname);
    if (which & BD_META_TIMES) {
        struct timespec ts[2];
        ts[0].tv_sec = 0;
        ts[0].tv_nsec = UTIME_OMIT;  /* atime: not recorded in bd_stat, left as it is */
        int64_t sec = st->mtime_ns / 1000000000, ns = st->mtime_ns % 1000000000;
        if (ns < 0)
            sec -= 1, ns += 1000000000;
        ts[1].tv_sec = (time_t)sec;
        ts[1].tv_nsec = (long)ns;
        if (utimensat(dst->fd, dname, ts, AT_SYMLINK_NOFOLLOW) != 0)
            return bd_fail(e, BD_E_IO, errno, "utimensat", BD_PATH_AS_GIVEN, dname);
    }
    return BD_OK;
}
