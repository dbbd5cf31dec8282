/* entry.c (Windows): handle-relative opens, metadata from handles, and the namespace
 * operations on one entry (stat, rename, unlink, hard link).
 *
 * Every open goes through bd_win_open: NtCreateFile with RootDirectory = the parent handle,
 * a single name component, FILE_OPEN_REPARSE_POINT (the entry itself, never its target) and
 * OBJ_DONT_REPARSE (nothing in the name may be a reparse point), as Go's os.Root does. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bd_win.h"

/* 1 once the kernel refused OBJ_DONT_REPARSE (older than Windows 10): a single component
 * opened with FILE_OPEN_REPARSE_POINT has no other place a reparse point could hide. */
static volatile LONG DONT_REPARSE_REFUSED;

DWORD bd_win_open(HANDLE dir, const WCHAR *name, size_t wlen, ACCESS_MASK access, ULONG share,
                  ULONG disposition, ULONG options, HANDLE *out)
{
    const bd_ntdll *nt = bd_win_ntdll();
    if (!nt)
        return ERROR_CALL_NOT_IMPLEMENTED;
    bd_unicode_string us = { (USHORT)(wlen * sizeof(WCHAR)), (USHORT)(wlen * sizeof(WCHAR)),
                             (PWSTR)name };
    options |= BD_FILE_OPEN_REPARSE_POINT | BD_FILE_SYNCHRONOUS_IO_NONALERT
             | BD_FILE_OPEN_FOR_BACKUP_INTENT;
    int refused = DONT_REPARSE_REFUSED;
    bd_object_attributes oa = { sizeof oa, dir, &us,
                                OBJ_CASE_INSENSITIVE | (refused ? 0 : OBJ_DONT_REPARSE), 0, 0 };
    bd_io_status_block io;
    HANDLE h = 0;
    LONG st = nt->NtCreateFile(&h, access | SYNCHRONIZE, &oa, &io, 0, FILE_ATTRIBUTE_NORMAL,
                               share, disposition, options, 0, 0);
    if (st == BD_STATUS_INVALID_PARAMETER && !refused) {
        /* Retry once without the flag; when that works the kernel is old: remember it. */
        oa.Attributes = OBJ_CASE_INSENSITIVE;
        st = nt->NtCreateFile(&h, access | SYNCHRONIZE, &oa, &io, 0, FILE_ATTRIBUTE_NORMAL,
                              share, disposition, options, 0, 0);
        if (st >= 0)
            DONT_REPARSE_REFUSED = 1;
    }
    if (st < 0)
        return bd_win_nt_error(st);
    *out = h;
    return 0;
}

bd_status bd_win_open_at(bd_dir *d, const char *name, size_t len, ACCESS_MASK access, ULONG share,
                         ULONG disposition, ULONG options, HANDLE *out, bd_error *e)
{
    bd_wname w;
    bd_status rc = bd_win_name(name, len, &w, e);
    if (rc)
        return rc;
    DWORD err = bd_win_open(d->h, w.buf, w.len, access, share, disposition, options, out);
    return err ? bd_win_fail(e, err, "NtCreateFile", name, len) : BD_OK;
}

int64_t bd_win_ticks_to_ns(int64_t ticks)
{
    const int64_t epoch = 116444736000000000LL;  /* 1970-01-01 in ticks since 1601 */
    int64_t t = ticks - epoch;
    if (t > INT64_MAX / 100)
        return INT64_MAX;
    if (t < INT64_MIN / 100)
        return INT64_MIN;
    return t * 100;
}

int64_t bd_win_ns_to_ticks(int64_t ns)
{
    int64_t t = ns / 100;
    if (ns % 100 < 0)
        t -= 1;  /* floor, so times before 1970 round the same way as after */
    return t + 116444736000000000LL;
}

void bd_win_kind(uint32_t attrs, uint32_t tag, bd_stat *st)
{
    /* Dedup and WOF (compact OS) reparse points present their data transparently: they are
     * files to a reader, not links. Every other reparse point is reported, never entered. */
    int link = (attrs & FILE_ATTRIBUTE_REPARSE_POINT) && tag != IO_REPARSE_TAG_DEDUP
            && tag != IO_REPARSE_TAG_WOF;
    if (link) {
        st->kind = (tag == IO_REPARSE_TAG_SYMLINK || tag == IO_REPARSE_TAG_LX_SYMLINK)
                 ? BD_KIND_SYMLINK : BD_KIND_REPARSE;
        st->mode = 0120777;
    } else if (attrs & FILE_ATTRIBUTE_DIRECTORY) {
        st->kind = BD_KIND_DIR;
        st->mode = 040755;
    } else if (attrs & FILE_ATTRIBUTE_DEVICE) {
        st->kind = BD_KIND_SPECIAL;
        st->mode = 020644;
    } else {
        st->kind = BD_KIND_FILE;
        st->mode = (attrs & FILE_ATTRIBUTE_READONLY) ? 0100444 : 0100644;
    }
    st->attrs = attrs;
    st->reparse_tag = (attrs & FILE_ATTRIBUTE_REPARSE_POINT) ? tag : 0;
}

DWORD bd_win_volume_id(HANDLE h, uint64_t *out)
{
    FILE_ID_INFO id;
    if (GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileIdInfo, &id, sizeof id)) {
        *out = (uint64_t)id.VolumeSerialNumber;
        return 0;
    }
    BY_HANDLE_FILE_INFORMATION bh;
    if (!GetFileInformationByHandle(h, &bh))
        return GetLastError();
    *out = bh.dwVolumeSerialNumber;
    return 0;
}

DWORD bd_win_stat_handle(HANDLE h, bd_stat *st)
{
    FILE_BASIC_INFO b;
    FILE_STANDARD_INFO s;
    if (!GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileBasicInfo, &b, sizeof b)
        || !GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileStandardInfo, &s, sizeof s))
        return GetLastError();
    uint32_t tag = 0;
    if (b.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) {
        FILE_ATTRIBUTE_TAG_INFO t;
        if (GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileAttributeTagInfo, &t, sizeof t))
            tag = t.ReparseTag;
    }
    bd_stat out;
    memset(&out, 0, sizeof out);
    FILE_ID_INFO id;
    if (GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileIdInfo, &id, sizeof id)) {
        out.volume_id = (uint64_t)id.VolumeSerialNumber;
        memcpy(&out.file_id, id.FileId.Identifier, 8);
        memcpy(&out.file_id_hi, id.FileId.Identifier + 8, 8);
    } else {
        BY_HANDLE_FILE_INFORMATION bh;
        if (!GetFileInformationByHandle(h, &bh))
            return GetLastError();
        out.volume_id = bh.dwVolumeSerialNumber;
        out.file_id = ((uint64_t)bh.nFileIndexHigh << 32) | bh.nFileIndexLow;
    }
    bd_win_kind(b.FileAttributes, tag, &out);
    out.nlink = s.NumberOfLinks;
    out.size = (uint64_t)s.EndOfFile.QuadPart;
    out.alloc_size = (uint64_t)s.AllocationSize.QuadPart;
    out.mtime_ns = bd_win_ticks_to_ns(b.LastWriteTime.QuadPart);
    out.ctime_ns = bd_win_ticks_to_ns(b.ChangeTime.QuadPart);
    *st = out;
    return 0;
}

DWORD bd_win_set_delete(HANDLE h, int on)
{
    FILE_DISPOSITION_INFO d;
    d.DeleteFile = on ? TRUE : FALSE;
    if (!SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileDispositionInfo, &d, sizeof d))
        return GetLastError();
    return 0;
}

DWORD bd_win_set_basic(HANDLE h, int64_t mtime_ticks, uint32_t attrs)
{
    FILE_BASIC_INFO b;
    memset(&b, 0, sizeof b);  /* zero = leave unchanged */
    b.LastWriteTime.QuadPart = mtime_ticks;
    b.FileAttributes = attrs;
    if (!SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileBasicInfo, &b, sizeof b))
        return GetLastError();
    return 0;
}

bd_status bd_win_open_file(bd_dir *d, const char *name, size_t len, ACCESS_MASK access,
                           ULONG share, HANDLE *out, bd_stat *st, bd_error *e)
{
    bd_wname w;
    bd_status rc = bd_win_name(name, len, &w, e);
    if (rc)
        return rc;
    HANDLE h;
    DWORD err = bd_win_open(d->h, w.buf, w.len, access, share, BD_FILE_OPEN,
                            BD_FILE_SEQUENTIAL_ONLY, &h);
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", name, len);
    bd_stat local;
    err = bd_win_stat_handle(h, &local);
    if (err) {
        CloseHandle(h);
        return bd_win_fail(e, err, "GetFileInformationByHandleEx", name, len);
    }
    if (local.kind == BD_KIND_FILE && local.reparse_tag) {
        /* A dedup/WOF file: its data is only presented through the filter, i.e. when the
         * open does not stop at the reparse point.  Reopen so, and make sure it is still
         * the same file (not a link swapped in meanwhile). */
        const bd_ntdll *nt = bd_win_ntdll();
        bd_unicode_string us = { (USHORT)(w.len * 2), (USHORT)(w.len * 2), w.buf };
        bd_object_attributes oa = { sizeof oa, d->h, &us, OBJ_CASE_INSENSITIVE, 0, 0 };
        bd_io_status_block io;
        HANDLE h2 = 0;
        LONG s = nt->NtCreateFile(&h2, access | SYNCHRONIZE, &oa, &io, 0, 0, share, BD_FILE_OPEN,
                                  BD_FILE_SYNCHRONOUS_IO_NONALERT | BD_FILE_NON_DIRECTORY_FILE
                                  | BD_FILE_SEQUENTIAL_ONLY | BD_FILE_OPEN_FOR_BACKUP_INTENT, 0, 0);
        CloseHandle(h);
        if (s < 0)
            return bd_win_fail(e, bd_win_nt_error(s), "NtCreateFile", name, len);
        bd_stat again;
        err = bd_win_stat_handle(h2, &again);
        if (err || again.file_id != local.file_id || again.file_id_hi != local.file_id_hi) {
            CloseHandle(h2);
            return err ? bd_win_fail(e, err, "GetFileInformationByHandleEx", name, len)
                       : bd_fail_n(e, BD_E_CHANGED, 0, "reopen", BD_PATH_AS_GIVEN, name, len);
        }
        h = h2;
    }
    if (local.kind != BD_KIND_FILE) {
        CloseHandle(h);
        if (local.kind == BD_KIND_SYMLINK || local.kind == BD_KIND_REPARSE)
            return bd_fail_n(e, BD_E_UNSAFE_PATH, ELOOP, "open", BD_PATH_AS_GIVEN, name, len);
        if (local.kind == BD_KIND_DIR)
            return bd_fail_n(e, BD_E_IO, EISDIR, "open", BD_PATH_AS_GIVEN, name, len);
        return bd_fail_n(e, BD_E_SPECIAL, 0, "open", BD_PATH_AS_GIVEN, name, len);
    }
    if (st)
        *st = local;
    *out = h;
    return BD_OK;
}

bd_status bd_stat_at(bd_dir *d, const char *name, size_t name_len, bd_stat *out, bd_error *e)
{
    HANDLE h;
    bd_status rc = bd_win_open_at(d, name, name_len, FILE_READ_ATTRIBUTES, BD_SHARE_ALL, BD_FILE_OPEN, 0, &h, e);
    if (rc)
        return rc;
    DWORD err = bd_win_stat_handle(h, out);
    CloseHandle(h);
    return err ? bd_win_fail(e, err, "GetFileInformationByHandleEx", name, name_len) : BD_OK;
}

/* NtSetInformationFile with a FILE_RENAME/LINK_INFORMATION naming `to` in to_dir. */
static DWORD set_name_info(HANDLE h, ULONG cls, int replace, HANDLE to_dir, const bd_wname *to)
{
    union {
        bd_file_name_information info;
        unsigned char bytes[sizeof(bd_file_name_information) + sizeof(WCHAR) * BD_WNAME_MAX];
    } u;
    memset(&u, 0, sizeof u);
    u.info.ReplaceIfExists = replace ? TRUE : FALSE;
    u.info.RootDirectory = to_dir;
    u.info.FileNameLength = (ULONG)(to->len * sizeof(WCHAR));
    memcpy(u.info.FileName, to->buf, to->len * sizeof(WCHAR));
    /* Never less than the struct itself: a one-letter name would make the exact size
     * smaller than sizeof(FILE_RENAME_INFORMATION), which is refused as invalid. */
    size_t size = offsetof(bd_file_name_information, FileName) + u.info.FileNameLength;
    if (size < sizeof u.info)
        size = sizeof u.info;
    bd_io_status_block io;
    LONG st = bd_win_ntdll()->NtSetInformationFile(h, &io, &u.info, (ULONG)size, cls);
    return st < 0 ? bd_win_nt_error(st) : 0;
}

bd_status bd_rename_at(bd_dir *from_dir, const char *from, size_t from_len, bd_dir *to_dir,
                       const char *to, size_t to_len, uint32_t flags, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_RENAME, from, from_len, e);
    if (flags & ~(uint32_t)(BD_RENAME_NOREPLACE | BD_RENAME_EXCHANGE))
        return bd_fail(e, BD_E_INVAL, EINVAL, "rename flags", BD_PATH_AS_GIVEN, 0);
    if (flags & BD_RENAME_EXCHANGE)  /* Windows has no atomic exchange */
        return bd_fail_n(e, BD_E_NOTSUP, ENOTSUP, "rename exchange", BD_PATH_AS_GIVEN, from, from_len);
    bd_wname b;
    HANDLE h;
    bd_status rc = bd_win_name(to, to_len, &b, e);
    if (rc || (rc = bd_win_open_at(from_dir, from, from_len, DELETE | FILE_READ_ATTRIBUTES,
                                   BD_SHARE_ALL, BD_FILE_OPEN, 0, &h, e)) != BD_OK)
        return rc;
    DWORD err = set_name_info(h, BD_FileRenameInformation, !(flags & BD_RENAME_NOREPLACE), to_dir->h, &b);
    CloseHandle(h);
    if (err) {
        int exists = bd_win_errno(err) == EEXIST;
        return bd_win_fail(e, err, "FileRenameInformation", exists ? to : from, exists ? to_len : from_len);
    }
    return BD_OK;
}

bd_status bd_hardlink_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                         const char *dst_name, size_t dst_len, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_LINK, dst_name, dst_len, e);
    bd_wname b;
    HANDLE h;
    bd_status rc = bd_win_name(dst_name, dst_len, &b, e);
    if (rc || (rc = bd_win_open_at(src, src_name, src_len, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                                   BD_SHARE_ALL, BD_FILE_OPEN, BD_FILE_NON_DIRECTORY_FILE, &h, e)) != BD_OK)
        return rc;
    DWORD err = set_name_info(h, BD_FileLinkInformation, 0, dst->h, &b);
    CloseHandle(h);
    if (err) {
        int exists = bd_win_errno(err) == EEXIST;
        return bd_win_fail(e, err, "FileLinkInformation", exists ? dst_name : src_name,
                           exists ? dst_len : src_len);
    }
    return BD_OK;
}

/* Deletes the entry behind h: POSIX semantics where the file system has them (the name goes
 * at once, even while others hold it open), else the classic delete-on-close. */
static DWORD delete_by_handle(HANDLE h, uint32_t attrs)
{
    const bd_ntdll *nt = bd_win_ntdll();
    bd_io_status_block io;
    ULONG ex = BD_FILE_DISPOSITION_DELETE | BD_FILE_DISPOSITION_POSIX_SEMANTICS
             | BD_FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE;
    LONG st = nt->NtSetInformationFile(h, &io, &ex, sizeof ex, BD_FileDispositionInformationEx);
    if (st >= 0)
        return 0;
    if (st != BD_STATUS_INVALID_PARAMETER && st != BD_STATUS_INVALID_INFO_CLASS
        && st != BD_STATUS_NOT_SUPPORTED && st != BD_STATUS_NOT_IMPLEMENTED)
        return bd_win_nt_error(st);
    BOOLEAN del = TRUE;
    st = nt->NtSetInformationFile(h, &io, &del, sizeof del, BD_FileDispositionInformation);
    if (st == BD_STATUS_CANNOT_DELETE && (attrs & FILE_ATTRIBUTE_READONLY)) {
        /* Classic semantics refuse read-only files: drop the attribute, then delete. */
        uint32_t rest = attrs & ~(uint32_t)FILE_ATTRIBUTE_READONLY;
        DWORD err = bd_win_set_basic(h, 0, rest ? rest : FILE_ATTRIBUTE_NORMAL);
        if (err)
            return err;
        st = nt->NtSetInformationFile(h, &io, &del, sizeof del, BD_FileDispositionInformation);
    }
    return st < 0 ? bd_win_nt_error(st) : 0;
}

bd_status bd_unlink_at(bd_dir *d, const char *name, size_t name_len, int is_dir, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_UNLINK, name, name_len, e);
    HANDLE h;
    bd_status rc = bd_win_open_at(d, name, name_len, DELETE | FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                                  BD_SHARE_ALL, BD_FILE_OPEN, 0, &h, e);
    if (rc)
        return rc;
    DWORD err;
    FILE_ATTRIBUTE_TAG_INFO t;
    if (!GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileAttributeTagInfo, &t, sizeof t)) {
        err = GetLastError();
        CloseHandle(h);
        return bd_win_fail(e, err, "FileAttributeTagInfo", name, name_len);
    }
    /* A link goes whatever is_dir says (a directory symlink is a directory to Windows); a
     * real entry must be of the kind the caller expects, as with unlinkat. */
    int is_link = (t.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT) != 0;
    int real_dir = (t.FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0;
    if (!is_link && is_dir != real_dir) {
        CloseHandle(h);
        return bd_fail_n(e, BD_E_IO, is_dir ? ENOTDIR : EISDIR, "unlink", BD_PATH_AS_GIVEN, name, name_len);
    }
    err = delete_by_handle(h, t.FileAttributes);
    CloseHandle(h);
    if (err)
        return bd_win_fail(e, err, "FileDispositionInformation", name, name_len);
    return BD_OK;
}
