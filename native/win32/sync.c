/* sync.c (Windows): FlushFileBuffers of a regular file named in a directory, never through a link. */
#include "bodega/bd_sync.h"
#include "bd_win.h"

bd_status bd_file_sync_at(bd_dir *d, const char *name, size_t name_len, bd_error *e)
{
    HANDLE h;
    BD_FAULT_STEP(BD_STEP_SYNC, name, name_len, e);
    /* FlushFileBuffers needs write access to the data (GENERIC_WRITE's FILE_WRITE_DATA). */
    bd_status rc = bd_win_open_file(d, name, name_len, FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
                                    BD_SHARE_ALL, &h, 0, e);
    if (rc != BD_OK)
        return rc;
    if (!FlushFileBuffers(h))
        rc = bd_win_fail(e, GetLastError(), "FlushFileBuffers", name, name_len);
    CloseHandle(h);
    return rc;
}
