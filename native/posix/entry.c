/* entry.c (POSIX): creating links, renaming and removing entries, all handle-relative. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/syscall.h>
#endif
#include <stdio.h>  /* renameat, and renameatx_np on macOS */

#include "posix.h"

#ifndef RENAME_NOREPLACE
#define RENAME_NOREPLACE (1 << 0)
#endif
#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

/* Copies both names, or fails like bd_posix_name. */
#define TWO_NAMES(a, alen, abuf, b, blen, bbuf, e)                                        \
    do {                                                                                \
        bd_status rc_;                                                                  \
        if ((rc_ = bd_posix_name((a), (alen), (abuf), (e))) != BD_OK                    \
            || (rc_ = bd_posix_name((b), (blen), (bbuf), (e))) != BD_OK)                \
            return rc_;                                                                 \
    } while (0)

bd_status bd_link_create_at(bd_dir *d, const char *name, size_t name_len, const char *target,
                            size_t target_len, uint32_t flags, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_LINK, name, name_len, e);
    char buf[BD_NAME_BUF];
    if (flags & ~(uint32_t)BD_LINK_DIR)
        return bd_fail(e, BD_E_INVAL, EINVAL, "link flags", BD_PATH_AS_GIVEN, 0);
    if (target_len == 0 || memchr(target, '\0', target_len))
        return bd_fail_n(e, BD_E_INVAL, EINVAL, "link target", BD_PATH_AS_GIVEN, name, name_len);
    bd_status rc = bd_posix_name(name, name_len, buf, e);
    if (rc)
        return rc;
    char small[256];
    char *t = target_len < sizeof small ? small : malloc(target_len + 1);
    if (!t)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    memcpy(t, target, target_len);
    t[target_len] = '\0';
    if (symlinkat(t, d->fd, buf) != 0)
        rc = bd_fail(e, BD_E_IO, errno, "symlinkat", BD_PATH_AS_GIVEN, buf);
    if (t != small)
        free(t);
    return rc;
}

bd_status bd_hardlink_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                         const char *dst_name, size_t dst_len, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_LINK, dst_name, dst_len, e);
    char a[BD_NAME_BUF], b[BD_NAME_BUF];
    TWO_NAMES(src_name, src_len, a, dst_name, dst_len, b, e);
    if (linkat(src->fd, a, dst->fd, b, 0) != 0)  /* no AT_SYMLINK_FOLLOW: a link is linked itself */
        return bd_fail(e, BD_E_IO, errno, "linkat", BD_PATH_AS_GIVEN, errno == EEXIST ? b : a);
    return BD_OK;
}

bd_status bd_rename_at(bd_dir *from_dir, const char *from, size_t from_len, bd_dir *to_dir,
                       const char *to, size_t to_len, uint32_t flags, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_RENAME, from, from_len, e);
    char a[BD_NAME_BUF], b[BD_NAME_BUF];
    if ((flags & ~(uint32_t)(BD_RENAME_NOREPLACE | BD_RENAME_EXCHANGE))
        || flags == (BD_RENAME_NOREPLACE | BD_RENAME_EXCHANGE))
        return bd_fail(e, BD_E_INVAL, EINVAL, "rename flags", BD_PATH_AS_GIVEN, 0);
    TWO_NAMES(from, from_len, a, to, to_len, b, e);
    if (flags == 0) {
        if (renameat(from_dir->fd, a, to_dir->fd, b) != 0)
            return bd_fail(e, BD_E_IO, errno, "renameat", BD_PATH_AS_GIVEN, a);
        return BD_OK;
    }
#if defined(__linux__) && defined(SYS_renameat2)
    unsigned kflags = flags & BD_RENAME_NOREPLACE ? RENAME_NOREPLACE : RENAME_EXCHANGE;
    if (syscall(SYS_renameat2, from_dir->fd, a, to_dir->fd, b, kflags) != 0) {
        int err = errno;
        /* A filesystem without the flag says EINVAL; there is no safe emulation. */
        return bd_fail(e, err == EINVAL || err == ENOSYS ? BD_E_NOTSUP : BD_E_IO, err, "renameat2",
                       BD_PATH_AS_GIVEN, err == EEXIST ? b : a);
    }
    return BD_OK;
#elif defined(__APPLE__)
    unsigned xflags = flags & BD_RENAME_NOREPLACE ? RENAME_EXCL : RENAME_SWAP;
    if (renameatx_np(from_dir->fd, a, to_dir->fd, b, xflags) != 0)
        return bd_fail(e, errno == ENOTSUP ? BD_E_NOTSUP : BD_E_IO, errno, "renameatx_np",
                       BD_PATH_AS_GIVEN, errno == EEXIST ? b : a);
    return BD_OK;
#else
    return bd_fail(e, BD_E_NOTSUP, ENOSYS, "renameat2", BD_PATH_AS_GIVEN, a);
#endif
}

bd_status bd_unlink_at(bd_dir *d, const char *name, size_t name_len, int is_dir, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_UNLINK, name, name_len, e);
    char buf[BD_NAME_BUF];
    bd_status rc = bd_posix_name(name, name_len, buf, e);
    if (rc)
        return rc;
    if (unlinkat(d->fd, buf, is_dir ? AT_REMOVEDIR : 0) != 0)
        return bd_fail(e, BD_E_IO, errno, is_dir ? "rmdir" : "unlink", BD_PATH_AS_GIVEN, buf);
    return BD_OK;
}
