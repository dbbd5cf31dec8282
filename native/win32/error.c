/* error.c (Windows): Win32 errors to errno values and bd_status classes, and bd_error
 * filling with the original GetLastError kept in win_error. */
#include <errno.h>

#include "bd_win.h"

static const struct { DWORD win; int err; } ERRNO_MAP[] = {
    { ERROR_FILE_NOT_FOUND, ENOENT },     { ERROR_PATH_NOT_FOUND, ENOENT },
    { ERROR_INVALID_DRIVE, ENOENT },      { ERROR_BAD_NETPATH, ENOENT },
    { ERROR_BAD_NET_NAME, ENOENT },       { ERROR_DELETE_PENDING, ENOENT },
    { ERROR_BAD_PATHNAME, ENOENT },       { ERROR_NO_MORE_FILES, ENOENT },
    { ERROR_ACCESS_DENIED, EACCES },      { ERROR_SHARING_VIOLATION, EACCES },
    { ERROR_LOCK_VIOLATION, EACCES },     { ERROR_NETWORK_ACCESS_DENIED, EACCES },
    { ERROR_CANT_ACCESS_FILE, EACCES },   { ERROR_PRIVILEGE_NOT_HELD, EPERM },
    { ERROR_FILE_EXISTS, EEXIST },        { ERROR_ALREADY_EXISTS, EEXIST },
    { ERROR_DIR_NOT_EMPTY, ENOTEMPTY },   { ERROR_DIRECTORY, ENOTDIR },
    { ERROR_NOT_SAME_DEVICE, EXDEV },     { ERROR_DISK_FULL, ENOSPC },
    { ERROR_HANDLE_DISK_FULL, ENOSPC },   { ERROR_NOT_ENOUGH_MEMORY, ENOMEM },
    { ERROR_OUTOFMEMORY, ENOMEM },        { ERROR_NO_SYSTEM_RESOURCES, ENOMEM },
    { ERROR_INVALID_PARAMETER, EINVAL },  { ERROR_INVALID_NAME, EINVAL },
    { ERROR_NEGATIVE_SEEK, EINVAL },      { ERROR_NOT_A_REPARSE_POINT, EINVAL },
    { ERROR_NO_UNICODE_TRANSLATION, EILSEQ },
    { ERROR_FILENAME_EXCED_RANGE, ENAMETOOLONG }, { ERROR_BUFFER_OVERFLOW, ENAMETOOLONG },
    { ERROR_INVALID_FUNCTION, ENOTSUP },  { ERROR_NOT_SUPPORTED, ENOTSUP },
    { ERROR_CALL_NOT_IMPLEMENTED, ENOTSUP }, { ERROR_NOT_CAPABLE, ENOTSUP },
    { ERROR_STOPPED_ON_SYMLINK, ELOOP },  { ERROR_REPARSE_POINT_ENCOUNTERED, ELOOP },
    { ERROR_CANT_RESOLVE_FILENAME, ELOOP },
    { ERROR_WRITE_PROTECT, EROFS },       { ERROR_REQUEST_ABORTED, ECANCELED },
    { ERROR_OPERATION_ABORTED, ECANCELED },
    { ERROR_TOO_MANY_OPEN_FILES, EMFILE }, { ERROR_INVALID_HANDLE, EBADF },
    { ERROR_TOO_MANY_LINKS, EMLINK },     { ERROR_BLOCK_TOO_MANY_REFERENCES, EMLINK },
    { ERROR_BUSY, EBUSY },                { ERROR_USER_MAPPED_FILE, EBUSY },
};

int bd_win_errno(DWORD err)
{
    for (size_t i = 0; i < sizeof ERRNO_MAP / sizeof ERRNO_MAP[0]; i++)
        if (ERRNO_MAP[i].win == err)
            return ERRNO_MAP[i].err;
    return EIO;
}

bd_status bd_win_status(DWORD err)
{
    switch (bd_win_errno(err)) {
    case ELOOP:
        return BD_E_UNSAFE_PATH;
    case EXDEV:
        return BD_E_XDEV;
    case ENOMEM:
        return err == ERROR_NO_SYSTEM_RESOURCES ? BD_E_IO : BD_E_NOMEM;
    case ECANCELED:
        return BD_E_CANCELLED;
    case ENOTSUP:
        return BD_E_NOTSUP;
    default:
        return BD_E_IO;
    }
}

bd_status bd_win_fail_as(bd_error *e, bd_status code, DWORD err, const char *op,
                         const char *name, size_t len)
{
    /* bd_fail keeps the first failure; only that one gets this win_error. */
    int first = e && e->code == BD_OK;
    bd_fail_n(e, code, bd_win_errno(err), op, BD_PATH_AS_GIVEN, name, name ? len : 0);
    if (first)
        e->win_error = err;
    return code;
}

bd_status bd_win_fail(bd_error *e, DWORD err, const char *op, const char *name, size_t len)
{
    return bd_win_fail_as(e, bd_win_status(err), err, op, name, len);
}

int bd_win_clone_unsupported(DWORD err)
{
    return err == ERROR_INVALID_FUNCTION || err == ERROR_NOT_SUPPORTED
        || err == ERROR_INVALID_PARAMETER || err == ERROR_BLOCK_TOO_MANY_REFERENCES
        || err == ERROR_NOT_CAPABLE || err == ERROR_CALL_NOT_IMPLEMENTED;
}
