/* file.c (Windows): regular files opened for reading or created for writing, never through a link. */
#include <errno.h>
#include <stdlib.h>

#include "bodega/bd_file.h"
#include "bd_win.h"

#define MAX_READ (1u << 30)  /* ReadFile takes a DWORD; stay well under it */

bd_status bd_file_open_read(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                            bd_stat *st, bd_error *e)
{
    bd_file *f = malloc(sizeof *f);
    if (!f)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    /* Others may keep writing (scanners detect that by stat before and after). */
    bd_status rc = bd_win_open_file(d, name, name_len, FILE_READ_DATA | FILE_READ_ATTRIBUTES,
                                    BD_SHARE_ALL, &f->h, st, e);
    if (rc) {
        free(f);
        return rc;
    }
    *out = f;
    return BD_OK;
}

bd_status bd_file_pread(bd_file *f, void *buf, size_t cap, uint64_t offset, size_t *n, bd_error *e)
{
    OVERLAPPED ov = { 0 };
    ov.Offset = (DWORD)offset;
    ov.OffsetHigh = (DWORD)(offset >> 32);
    DWORD got = 0;
    if (!ReadFile(f->h, buf, (DWORD)(cap < MAX_READ ? cap : MAX_READ), &got, &ov)) {
        DWORD err = GetLastError();
        if (err != ERROR_HANDLE_EOF)
            return bd_win_fail(e, err, "ReadFile", 0, 0);
        got = 0;
    }
    *n = got;
    return BD_OK;
}

void bd_file_will_read(bd_file *f, uint64_t off, uint64_t len)
{
    (void)f, (void)off, (void)len;  /* no readahead call for a handle: the cache manager reads ahead itself */
}

void bd_file_drop_cached(bd_file *f)
{
    (void)f;  /* no call drops one handle's cached pages: the cache manager trims them itself */
}

bd_status bd_file_stat(bd_file *f, bd_stat *out, bd_error *e)
{
    DWORD err = bd_win_stat_handle(f->h, out);
    return err ? bd_win_fail(e, err, "GetFileInformationByHandleEx", 0, 0) : BD_OK;
}

void bd_file_close(bd_file *f)
{
    if (f) {
        CloseHandle(f->h);
        free(f);
    }
}

bd_status bd_file_create_at(bd_dir *d, const char *name, size_t name_len, bd_file **out, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_CREATE, name, name_len, e);
    bd_file *f = malloc(sizeof *f);
    if (!f)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    /* FILE_CREATE: whatever is at the name, a reparse point included, makes it fail. */
    bd_status rc = bd_win_open_at(d, name, name_len,
                                  FILE_WRITE_DATA | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                                  FILE_SHARE_READ | FILE_SHARE_DELETE, BD_FILE_CREATE,
                                  BD_FILE_NON_DIRECTORY_FILE | BD_FILE_SEQUENTIAL_ONLY, &f->h, e);
    if (rc) {
        free(f);
        return rc;
    }
    *out = f;
    return BD_OK;
}

bd_status bd_file_write(bd_file *f, const void *buf, size_t n, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_WRITE, NULL, 0, e);
    const unsigned char *p = buf;
    while (n > 0) {
        DWORD want = (DWORD)(n < MAX_READ ? n : MAX_READ), put = 0;
        if (!WriteFile(f->h, p, want, &put, 0))
            return bd_win_fail(e, GetLastError(), "WriteFile", 0, 0);
        if (put == 0)
            return bd_fail(e, BD_E_IO, ENOSPC, "WriteFile", BD_PATH_AS_GIVEN, 0);
        p += put;
        n -= put;
    }
    return BD_OK;
}

bd_status bd_file_sync(bd_file *f, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_SYNC, NULL, 0, e);
    if (!FlushFileBuffers(f->h))
        return bd_win_fail(e, GetLastError(), "FlushFileBuffers", 0, 0);
    return BD_OK;
}

bd_status bd_file_create_mode_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode,
                                 bd_file **out, bd_error *e)
{
    (void)mode;  /* no umask, no mode bits: created writable, as CreateFileW creates it */
    return bd_file_create_at(d, name, name_len, out, e);
}

bd_status bd_file_open_write_at(bd_dir *d, const char *name, size_t name_len, bd_file **out,
                                bd_stat *st, bd_error *e)
{
    /* Windows keeps no devices or fifos in directories: only a regular file is opened (a link
     * or junction is BD_E_UNSAFE_PATH); no create, no truncate. */
    bd_file *f = malloc(sizeof *f);
    if (!f)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    bd_status rc = bd_win_open_file(d, name, name_len, FILE_WRITE_DATA | FILE_READ_ATTRIBUTES,
                                    BD_SHARE_ALL, &f->h, st, e);
    if (rc) {
        free(f);
        return rc;
    }
    *out = f;
    return BD_OK;
}
