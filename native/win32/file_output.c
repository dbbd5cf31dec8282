/* file_output.c (Windows): output files created, or written through, never through a link. */
#include <errno.h>
#include <stdlib.h>

#include "bodega/bd_file.h"
#include "bd_win.h"

bd_status bd_file_create_mode_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode,
                                 bd_file **out, bd_error *e)
{
    (void)mode;  /* no umask, no mode bits: created writable, as CreateFileW creates it */
    return bd_file_create_at(d, name, name_len, out, e);
}

bd_status bd_file_open_write_at(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                bd_stat *st, bd_error *e)
{
    bd_file *f = malloc(sizeof *f);
    if (!f)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    /* FILE_OPEN (no create, no overwrite); bd_win_open stops at a reparse point, which the
     * stat below then refuses. */
    bd_status rc = bd_win_open_at(d, name, name_len, FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
                                  BD_SHARE_ALL, BD_FILE_OPEN, BD_FILE_NON_DIRECTORY_FILE, &f->h, e);
    if (rc) {
        free(f);
        return rc;
    }
    bd_stat local;
    DWORD err = bd_win_stat_handle(f->h, &local);
    if (!err && (local.kind == BD_KIND_SYMLINK || local.kind == BD_KIND_REPARSE)) {
        CloseHandle(f->h);
        free(f);
        return bd_fail_n(e, BD_E_UNSAFE_PATH, ELOOP, "open", BD_PATH_AS_GIVEN, name, name_len);
    }
    if (err) {
        CloseHandle(f->h);
        free(f);
        return bd_win_fail(e, err, "GetFileInformationByHandleEx", name, name_len);
    }
    if (st)
        *st = local;
    *out = f;
    return BD_OK;
}
