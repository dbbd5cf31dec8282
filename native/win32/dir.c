/* dir.c (Windows): directory handles, listing with metadata, directory creation.
 *
 * Listing reads batches of FILE_ID_EXTD_DIR_INFO (128-bit id, ChangeTime and reparse tag in
 * one call per 64 KiB) and falls back to FILE_ID_BOTH_DIR_INFO where the file system (or
 * Wine) refuses that class; the choice is remembered per directory handle and inherited by
 * the directories opened from it. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "bd_win.h"

#define DIR_ACCESS (FILE_LIST_DIRECTORY | FILE_READ_ATTRIBUTES | FILE_TRAVERSE)
#define LIST_BUF (64 * 1024)

static bd_status dir_from_handle(HANDLE h, LONG no_extd, const char *name, size_t len,
                                 bd_dir **out, bd_error *e)
{
    FILE_ATTRIBUTE_TAG_INFO t;
    uint64_t vol = 0;
    DWORD err = 0;
    if (!GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileAttributeTagInfo, &t, sizeof t))
        err = GetLastError();
    else
        err = bd_win_volume_id(h, &vol);
    if (err) {
        CloseHandle(h);
        return bd_win_fail(e, err, "GetFileInformationByHandleEx", name, len);
    }
    if (t.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
        CloseHandle(h);
        return bd_fail_n(e, BD_E_UNSAFE_PATH, ELOOP, "open", BD_PATH_AS_GIVEN, name, len);
    }
    if (!(t.FileAttributes & FILE_ATTRIBUTE_DIRECTORY)) {
        CloseHandle(h);
        return bd_fail_n(e, BD_E_IO, ENOTDIR, "open", BD_PATH_AS_GIVEN, name, len);
    }
    bd_dir *d = malloc(sizeof *d);
    if (!d) {
        CloseHandle(h);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    }
    d->h = h;
    d->volume_id = vol;
    d->no_extd = no_extd;
    d->clone_caps = 0;
    *out = d;
    return BD_OK;
}

/* path as an absolute \\?\ path (heap), so that MAX_PATH never applies. */
static bd_status long_path(const char *path, size_t len, WCHAR **out, bd_error *e)
{
    WCHAR *w = bd_utf8_path_to_utf16(path, len);
    if (!w)
        return bd_fail_n(e, BD_E_INVAL, EILSEQ, "utf8-path", BD_PATH_AS_GIVEN, path, len);
    if (wcsncmp(w, L"\\\\?\\", 4) == 0) {
        *out = w;
        return BD_OK;
    }
    DWORD need = GetFullPathNameW(w, 0, 0, 0);
    WCHAR *full = need ? malloc((need + 8) * sizeof *full) : 0;
    DWORD err = need ? 0 : GetLastError();
    /* full[0..8) is room for the prefix, the full path goes at p. */
    WCHAR *p = full ? full + 8 : 0;
    DWORD n = p ? GetFullPathNameW(w, need, p, 0) : 0;
    if (p && n == 0)
        err = GetLastError();
    free(w);
    if (!p || n == 0 || n >= need) {
        free(full);
        if (err)
            return bd_win_fail(e, err, "GetFullPathNameW", path, len);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    }
    while (n > 3 && p[n - 1] == L'\\')  /* "C:\dir\" -> "C:\dir" (keeps "C:\") */
        p[--n] = 0;
    WCHAR *start = p;
    if (p[0] == L'\\' && p[1] == L'\\') {
        if (p[2] != L'.' && p[2] != L'?') {  /* \\server\share -> \\?\UNC\server\share */
            start = full + 2;
            memcpy(start, L"\\\\?\\UNC\\", 8 * sizeof *full);
        }
    } else {                                 /* C:\dir -> \\?\C:\dir */
        start = full + 4;
        memcpy(start, L"\\\\?\\", 4 * sizeof *full);
    }
    memmove(full, start, (size_t)(p + n + 1 - start) * sizeof *full);
    *out = full;
    return BD_OK;
}

bd_status bd_dir_open(const char *path, bd_dir **out, bd_error *e)
{
    size_t len = strlen(path);
    if (len == 0)
        return bd_fail(e, BD_E_IO, ENOENT, "open", BD_PATH_AS_GIVEN, path);
    WCHAR *w = 0;
    bd_status rc = long_path(path, len, &w, e);
    if (rc)
        return rc;
    /* Earlier components may be links (the user named them); the last one is opened itself
     * (FILE_FLAG_OPEN_REPARSE_POINT) and refused if it is a link. */
    HANDLE h = CreateFileW(w, DIR_ACCESS | SYNCHRONIZE, BD_SHARE_ALL, 0, OPEN_EXISTING,
                           FILE_FLAG_BACKUP_SEMANTICS | FILE_FLAG_OPEN_REPARSE_POINT, 0);
    DWORD err = h == INVALID_HANDLE_VALUE ? GetLastError() : 0;
    free(w);
    if (err)
        return bd_win_fail(e, err, "CreateFileW", path, len);
    return dir_from_handle(h, 0, path, len, out, e);
}

bd_status bd_dir_open_at(bd_dir *parent, const char *name, size_t name_len, bd_dir **out, bd_error *e)
{
    bd_wname w;
    bd_status rc = bd_win_name(name, name_len, &w, e);
    if (rc)
        return rc;
    HANDLE h;
    DWORD err = bd_win_open(parent->h, w.buf, w.len, DIR_ACCESS, BD_SHARE_ALL, BD_FILE_OPEN,
                            BD_FILE_DIRECTORY_FILE, &h);
    if (err == ERROR_DIRECTORY) {
        /* Not a directory: tell a link to a file from a real file, as O_NOFOLLOW does. */
        bd_stat st;
        bd_error ignored;
        bd_error_clear(&ignored);
        if (bd_stat_at(parent, name, name_len, &st, &ignored) == BD_OK
            && (st.kind == BD_KIND_SYMLINK || st.kind == BD_KIND_REPARSE))
            return bd_fail_n(e, BD_E_UNSAFE_PATH, ELOOP, "open", BD_PATH_AS_GIVEN, name, name_len);
    }
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", name, name_len);
    return dir_from_handle(h, parent->no_extd, name, name_len, out, e);
}

void bd_dir_close(bd_dir *d)
{
    if (d) {
        CloseHandle(d->h);
        free(d);
    }
}

bd_status bd_dir_stat(bd_dir *d, bd_stat *out, bd_error *e)
{
    DWORD err = bd_win_stat_handle(d->h, out);
    return err ? bd_win_fail(e, err, "GetFileInformationByHandleEx", 0, 0) : BD_OK;
}

bd_status bd_dir_create_at(bd_dir *parent, const char *name, size_t name_len, uint32_t mode, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_MKDIR, name, name_len, e);
    (void)mode;  /* Windows directories have no permission bits; ACLs are inherited */
    HANDLE h;
    bd_status rc = bd_win_open_at(parent, name, name_len, FILE_LIST_DIRECTORY, BD_SHARE_ALL,
                                  BD_FILE_CREATE, BD_FILE_DIRECTORY_FILE, &h, e);
    if (rc == BD_OK)
        CloseHandle(h);
    return rc;
}

bd_status bd_dir_sync(bd_dir *d, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_SYNC, NULL, 0, e);
    /* NTFS/ReFS journal directory changes; flushing needs a writable handle, which a
     * listing handle is not, so "access denied" means there is nothing more to do. */
    if (!FlushFileBuffers(d->h)) {
        DWORD err = GetLastError();
        if (err != ERROR_ACCESS_DENIED && err != ERROR_INVALID_FUNCTION && err != ERROR_INVALID_HANDLE)
            return bd_win_fail(e, err, "FlushFileBuffers", 0, 0);
    }
    return BD_OK;
}

/* Completes a regular file's listing entry with its link count, without a full open when
 * NtQueryInformationByName exists.  Replaces *st entirely when it has to open the file.
 * Returns 0, or the Win32 error (ERROR_FILE_NOT_FOUND when it vanished). */
static DWORD complete_file(bd_dir *d, const WCHAR *name, size_t wlen, bd_stat *st)
{
    const bd_ntdll *nt = bd_win_ntdll();
    if (nt->NtQueryInformationByName) {
        bd_unicode_string us = { (USHORT)(wlen * 2), (USHORT)(wlen * 2), (PWSTR)name };
        bd_object_attributes oa = { sizeof oa, d->h, &us, OBJ_CASE_INSENSITIVE | OBJ_DONT_REPARSE, 0, 0 };
        bd_io_status_block io;
        bd_file_stat_information fs;
        LONG s = nt->NtQueryInformationByName(&oa, &io, &fs, sizeof fs, BD_FileStatInformation);
        /* The same file (not one swapped in since the listing), still not a link. */
        if (s >= 0 && (uint64_t)fs.FileId.QuadPart == st->file_id
            && !(fs.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)) {
            st->nlink = fs.NumberOfLinks;
            return 0;
        }
    }
    HANDLE h;
    DWORD err = bd_win_open(d->h, name, wlen, FILE_READ_ATTRIBUTES, BD_SHARE_ALL, BD_FILE_OPEN, 0, &h);
    if (err)
        return err;
    err = bd_win_stat_handle(h, st);
    CloseHandle(h);
    return err;
}

/* One listing entry in the two layouts we read. */
typedef struct raw_entry {
    const WCHAR *name;
    size_t wlen;
    bd_stat st;
} raw_entry;

static void entry_common(uint32_t attrs, uint32_t tag, const LARGE_INTEGER *eof,
                         const LARGE_INTEGER *alloc, const LARGE_INTEGER *mtime,
                         const LARGE_INTEGER *ctime, uint64_t vol, const WCHAR *name,
                         ULONG name_bytes, raw_entry *r)
{
    memset(&r->st, 0, sizeof r->st);
    bd_win_kind(attrs, tag, &r->st);
    r->st.nlink = 1;  /* completed for regular files by complete_file */
    r->st.size = (uint64_t)eof->QuadPart;
    r->st.alloc_size = (uint64_t)alloc->QuadPart;
    r->st.mtime_ns = bd_win_ticks_to_ns(mtime->QuadPart);
    r->st.ctime_ns = bd_win_ticks_to_ns(ctime->QuadPart);
    r->st.volume_id = vol;
    r->name = name;
    r->wlen = name_bytes / sizeof(WCHAR);
}

static void entry_extd(const FILE_ID_EXTD_DIR_INFO *x, uint64_t vol, raw_entry *r)
{
    entry_common(x->FileAttributes, x->ReparsePointTag, &x->EndOfFile, &x->AllocationSize,
                 &x->LastWriteTime, &x->ChangeTime, vol, x->FileName, x->FileNameLength, r);
    memcpy(&r->st.file_id, x->FileId.Identifier, 8);
    memcpy(&r->st.file_id_hi, x->FileId.Identifier + 8, 8);
}

static void entry_both(const FILE_ID_BOTH_DIR_INFO *x, uint64_t vol, raw_entry *r)
{
    /* In this layout a reparse point's tag travels in EaSize ([MS-FSCC] 2.4.17). */
    uint32_t tag = (x->FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) ? x->EaSize : 0;
    entry_common(x->FileAttributes, tag, &x->EndOfFile, &x->AllocationSize, &x->LastWriteTime,
                 &x->ChangeTime, vol, x->FileName, x->FileNameLength, r);
    r->st.file_id = (uint64_t)x->FileId.QuadPart;
}

bd_status bd_dir_list(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e)
{
    /* LONGLONG elements: the entries inside are 8-byte aligned. */
    LONGLONG *buf = malloc(LIST_BUF);
    char *name8 = malloc(LIST_BUF / 2 * 3 + 1);  /* any name in one batch fits as UTF-8 */
    bd_status rc = BD_OK;
    if (!buf || !name8) {
        rc = bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
        goto out;
    }
    int extd = !d->no_extd, first = 1;
    for (;;) {
        int cls = extd ? (first ? BD_FileIdExtdDirectoryRestartInfo : BD_FileIdExtdDirectoryInfo)
                       : (first ? BD_FileIdBothDirectoryRestartInfo : BD_FileIdBothDirectoryInfo);
        if (!GetFileInformationByHandleEx(d->h, (FILE_INFO_BY_HANDLE_CLASS)cls, buf, LIST_BUF)) {
            DWORD err = GetLastError();
            if (err == ERROR_NO_MORE_FILES)
                break;
            /* Wine and some file systems (FAT, network redirectors) refuse the class. */
            if (extd && first && (err == ERROR_INVALID_PARAMETER || err == ERROR_INVALID_LEVEL
                                  || err == ERROR_NOT_SUPPORTED || err == ERROR_INVALID_FUNCTION)) {
                extd = 0;
                d->no_extd = 1;
                continue;
            }
            rc = bd_win_fail(e, err, "GetFileInformationByHandleEx", 0, 0);
            goto out;
        }
        first = 0;
        const unsigned char *p = (const unsigned char *)buf;
        for (;;) {
            raw_entry r;
            ULONG next;
            if (extd) {
                const FILE_ID_EXTD_DIR_INFO *x = (const FILE_ID_EXTD_DIR_INFO *)p;
                entry_extd(x, d->volume_id, &r);
                next = x->NextEntryOffset;
            } else {
                const FILE_ID_BOTH_DIR_INFO *x = (const FILE_ID_BOTH_DIR_INFO *)p;
                entry_both(x, d->volume_id, &r);
                next = x->NextEntryOffset;
            }
            int dots = r.name[0] == L'.' && (r.wlen == 1 || (r.wlen == 2 && r.name[1] == L'.'));
            if (!dots) {
                long n8 = bd_utf16_to_utf8(r.name, r.wlen, name8, LIST_BUF / 2 * 3);
                DWORD err = 0;
                if (r.st.kind == BD_KIND_FILE) {
                    /* The name may not be NUL-terminated in the buffer: copy it. */
                    WCHAR wname[BD_WNAME_MAX + 1];
                    size_t wl = r.wlen < BD_WNAME_MAX ? r.wlen : BD_WNAME_MAX;
                    memcpy(wname, r.name, wl * sizeof(WCHAR));
                    wname[wl] = 0;
                    err = complete_file(d, wname, wl, &r.st);
                }
                if (err && bd_win_errno(err) != ENOENT) {
                    rc = bd_win_fail(e, err, "stat", name8, (size_t)(n8 > 0 ? n8 : 0));
                    goto out;
                }
                if (!err && fn(ctx, name8, (size_t)n8, &r.st)) {
                    rc = bd_fail(e, BD_E_CANCELLED, 0, "list", BD_PATH_AS_GIVEN, 0);
                    goto out;
                }
            }
            if (next == 0)
                break;
            p += next;
        }
    }
out:
    free(buf);
    free(name8);
    return rc;
}

/* The listing reads each entry's metadata with its name, a directory's included: nothing
 * is left for its handle to save. */
bd_status bd_dir_list_lazy(bd_dir *d, bd_dir_entry_fn fn, void *ctx, bd_error *e)
{
    return bd_dir_list(d, fn, ctx, e);
}
