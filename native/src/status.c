/* status.c: status names and the bd_error record. */
#include <string.h>

#include "bodega/bd_status.h"

static const char *const STATUS_NAMES[BD_STATUS_COUNT] = {
    "BD_OK", "BD_E_IO", "BD_E_NOMEM", "BD_E_NOTSUP", "BD_E_XDEV", "BD_E_UNSAFE_PATH",
    "BD_E_CORRUPT", "BD_E_CANCELLED", "BD_E_INVAL", "BD_E_CHANGED", "BD_E_SPECIAL",
};

const char *bd_status_name(bd_status code)
{
    if ((int)code < 0 || (int)code >= BD_STATUS_COUNT)
        return "BD_E_UNKNOWN";
    return STATUS_NAMES[code];
}

void bd_error_clear(bd_error *e)
{
    if (!e)
        return;
    e->code = BD_OK;
    e->sys_errno = 0;
    e->win_error = 0;
    e->op = "";
    e->path_base = BD_PATH_AS_GIVEN;
    e->path_truncated = 0;
    e->path[0] = '\0';
}

static void copy_path(bd_error *e, const char *path, size_t len)
{
    if (!path) {
        e->path[0] = '\0';
        e->path_truncated = 0;
        return;
    }
    e->path_truncated = len > BD_ERR_PATH_MAX - 1;
    if (e->path_truncated)
        len = BD_ERR_PATH_MAX - 1;
    memcpy(e->path, path, len);
    e->path[len] = '\0';
}

bd_status bd_fail_n(bd_error *e, bd_status code, int sys_errno, const char *op,
                    int path_base, const char *path, size_t path_len)
{
    /* The first failure wins: later cleanup errors must not hide the cause. */
    if (!e || e->code != BD_OK)
        return code;
    e->code = code;
    e->sys_errno = sys_errno;
    e->op = op ? op : "";
    e->path_base = path_base;
    copy_path(e, path, path ? path_len : 0);
    return code;
}

bd_status bd_fail(bd_error *e, bd_status code, int sys_errno, const char *op,
                  int path_base, const char *path)
{
    return bd_fail_n(e, code, sys_errno, op, path_base, path, path ? strlen(path) : 0);
}

void bd_error_set_path(bd_error *e, int path_base, const char *path, size_t path_len)
{
    if (!e || e->code == BD_OK)
        return;
    e->path_base = path_base;
    copy_path(e, path, path_len);
}
