/* meta.c (Windows): metadata onto an entry: attributes, mtime and alternate data streams.
 *
 * Streams go first (writing them touches the entry's times), attributes and times last, in
 * one FILE_BASIC_INFO, READONLY included.  Owners are SIDs on Windows: BD_META_OWNER does
 * nothing here (ACLs are inherited from the destination directory). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bd_win.h"

/* The attributes FILE_BASIC_INFO can set; the others have their own calls or none. */
#define SETTABLE (FILE_ATTRIBUTE_READONLY | FILE_ATTRIBUTE_HIDDEN | FILE_ATTRIBUTE_SYSTEM        \
                  | FILE_ATTRIBUTE_ARCHIVE | FILE_ATTRIBUTE_TEMPORARY | FILE_ATTRIBUTE_OFFLINE     \
                  | FILE_ATTRIBUTE_NOT_CONTENT_INDEXED)
#define STREAM_BUF (64 * 1024)

/* Copies one stream: "<entry>:<stream>:$DATA" from src to dst, both handle-relative. */
static DWORD copy_stream(bd_dir *src, const bd_wname *sw, bd_dir *dst, const bd_wname *dw,
                         const WCHAR *stream, size_t slen, unsigned char *buf)
{
    WCHAR from[2 * (BD_WNAME_MAX + 1) + 16], to[2 * (BD_WNAME_MAX + 1) + 16];
    if (slen > BD_WNAME_MAX + 8)
        return ERROR_FILENAME_EXCED_RANGE;
    memcpy(from, sw->buf, sw->len * sizeof(WCHAR));
    memcpy(from + sw->len, stream, slen * sizeof(WCHAR));
    memcpy(to, dw->buf, dw->len * sizeof(WCHAR));
    memcpy(to + dw->len, stream, slen * sizeof(WCHAR));
    HANDLE in, out;
    DWORD err = bd_win_open(src->h, from, sw->len + slen, FILE_READ_DATA, BD_SHARE_ALL, BD_FILE_OPEN, 0, &in);
    if (err)
        return err;
    err = bd_win_open(dst->h, to, dw->len + slen, FILE_WRITE_DATA, BD_SHARE_ALL, BD_FILE_OVERWRITE_IF, 0, &out);
    if (err) {
        CloseHandle(in);
        return err;
    }
    for (;;) {
        DWORD got = 0, put = 0;
        if (!ReadFile(in, buf, STREAM_BUF, &got, 0)) {
            err = GetLastError();
            break;
        }
        if (got == 0)
            break;
        BOOL ok = WriteFile(out, buf, got, &put, 0);
        if (!ok || put != got) {
            err = ok ? ERROR_DISK_FULL : GetLastError();
            break;
        }
    }
    CloseHandle(in);
    CloseHandle(out);
    return err == ERROR_HANDLE_EOF ? 0 : err;
}

/* Copies every named data stream of the source entry (Zone.Identifier and the like). */
static bd_status copy_streams(bd_dir *src, const bd_wname *sw, const char *src_name, size_t src_len,
                              bd_dir *dst, const bd_wname *dw, bd_error *e)
{
    HANDLE h;
    DWORD err = bd_win_open(src->h, sw->buf, sw->len, FILE_READ_ATTRIBUTES, BD_SHARE_ALL, BD_FILE_OPEN, 0, &h);
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", src_name, src_len);
    LONGLONG *list = malloc(STREAM_BUF);  /* entries are 8-byte aligned */
    unsigned char *buf = malloc(STREAM_BUF);
    if (!list || !buf) {
        CloseHandle(h);
        free(list);
        free(buf);
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    }
    err = GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileStreamInfo, list, STREAM_BUF)
        ? 0 : GetLastError();
    CloseHandle(h);
    /* No streams (a directory), or a file system without them (FAT, Wine): nothing to do. */
    if (err == ERROR_HANDLE_EOF || bd_win_clone_unsupported(err))
        err = 0;
    else if (err) {
        free(list);
        free(buf);
        return bd_win_fail(e, err, "FileStreamInfo", src_name, src_len);
    }
    const unsigned char *p = (const unsigned char *)list;
    for (int more = err == 0 && p; more;) {
        const FILE_STREAM_INFO *s = (const FILE_STREAM_INFO *)p;
        size_t n = s->StreamNameLength / sizeof(WCHAR);
        static const WCHAR unnamed[] = L"::$DATA";
        if (!(n == 7 && memcmp(s->StreamName, unnamed, 7 * sizeof(WCHAR)) == 0) && n > 0) {
            err = copy_stream(src, sw, dst, dw, s->StreamName, n, buf);
            if (err)
                break;
        }
        more = s->NextEntryOffset != 0;
        p += s->NextEntryOffset;
    }
    free(list);
    free(buf);
    return err ? bd_win_fail(e, err, "copy stream", src_name, src_len) : BD_OK;
}

/* The FILE_BASIC_INFO attributes and time for st (0: leave unchanged), as `which` says. */
static void basic_of(const bd_stat *st, uint32_t which, uint32_t *attrs, int64_t *ticks)
{
    *attrs = 0;
    *ticks = 0;
    if (which & BD_META_MODE) {
        /* Attributes from a Windows source; from a POSIX one, READONLY for no owner write. */
        uint32_t want = st->attrs ? (st->attrs & SETTABLE)
                                  : ((st->mode & 0200) ? 0 : FILE_ATTRIBUTE_READONLY);
        *attrs = want ? want : FILE_ATTRIBUTE_NORMAL;
    }
    if (which & BD_META_TIMES)
        *ticks = bd_win_ns_to_ticks(st->mtime_ns);
}

#define SET_META_FLAGS (BD_META_MODE | BD_META_TIMES | BD_META_OWNER)

/* basic_of for the set-meta calls, which take only SET_META_FLAGS (BD_E_INVAL otherwise). */
static bd_status set_meta_basic(const bd_stat *st, uint32_t which, uint32_t *attrs, int64_t *ticks,
                                bd_error *e)
{
    if (which & ~(uint32_t)SET_META_FLAGS)
        return bd_fail(e, BD_E_INVAL, EINVAL, "meta flags", BD_PATH_AS_GIVEN, 0);
    basic_of(st, which, attrs, ticks);
    return BD_OK;
}

int bd_owner_settable(void)
{
    return 0;
}

int bd_owners_recorded(void)
{
    return 0;  /* owners are SIDs: not recorded */
}

bd_status bd_meta_set_at(bd_dir *d, const char *name, size_t name_len, const bd_stat *st,
                         uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, name, name_len, e);
    uint32_t attrs;
    int64_t ticks;
    bd_status rc = set_meta_basic(st, which, &attrs, &ticks, e);
    if (rc)
        return rc;
    HANDLE h;
    rc = bd_win_open_at(d, name, name_len, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                        BD_SHARE_ALL, BD_FILE_OPEN, 0, &h, e);
    if (rc)
        return rc;
    DWORD err = 0;
    if (attrs || ticks) {
        FILE_ATTRIBUTE_TAG_INFO t;
        if (!GetFileInformationByHandleEx(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileAttributeTagInfo, &t, sizeof t))
            err = GetLastError();
        else if (t.FileAttributes & FILE_ATTRIBUTE_REPARSE_POINT)
            attrs = 0;  /* a link keeps its attributes (its reparse bit among them); times only */
        if (!err && (attrs || ticks))
            err = bd_win_set_basic(h, ticks, attrs);
    }
    CloseHandle(h);
    return err ? bd_win_fail(e, err, "FileBasicInfo", name, name_len) : BD_OK;
}

bd_status bd_file_set_meta(bd_file *f, const bd_stat *st, uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, NULL, 0, e);
    uint32_t attrs;
    int64_t ticks;
    bd_status rc = set_meta_basic(st, which, &attrs, &ticks, e);
    if (rc)
        return rc;
    if (!attrs && !ticks)
        return BD_OK;
    DWORD err = bd_win_set_basic(f->h, ticks, attrs);
    return err ? bd_win_fail(e, err, "FileBasicInfo", 0, 0) : BD_OK;
}

bd_status bd_dir_set_meta(bd_dir *d, const bd_stat *st, uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, NULL, 0, e);
    uint32_t attrs;
    int64_t ticks;
    bd_status rc = set_meta_basic(st, which, &attrs, &ticks, e);
    if (rc)
        return rc;
    if (!attrs && !ticks)
        return BD_OK;
    /* The listing handle cannot write attributes: the same directory again, with that right
     * (an empty name relative to a handle opens that very object: no path, nothing to follow). */
    HANDLE h;
    DWORD err = bd_win_open(d->h, L"", 0, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES, BD_SHARE_ALL,
                            BD_FILE_OPEN, BD_FILE_DIRECTORY_FILE, &h);
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", 0, 0);
    err = bd_win_set_basic(h, ticks, attrs);
    CloseHandle(h);
    return err ? bd_win_fail(e, err, "FileBasicInfo", 0, 0) : BD_OK;
}

bd_status bd_meta_copy_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                          const char *dst_name, size_t dst_len, const bd_stat *st,
                          uint32_t which, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_META, dst_name, dst_len, e);
    if (which & ~(uint32_t)BD_META_ALL)
        return bd_fail(e, BD_E_INVAL, EINVAL, "meta flags", BD_PATH_AS_GIVEN, 0);
    bd_wname sw, dw;
    bd_status rc = bd_win_name(dst_name, dst_len, &dw, e);
    if (rc)
        return rc;
    if (which & BD_META_XATTRS) {
        if ((rc = bd_win_name(src_name, src_len, &sw, e)) != BD_OK
            || (rc = copy_streams(src, &sw, src_name, src_len, dst, &dw, e)) != BD_OK)
            return rc;
    }
    uint32_t attrs;
    int64_t ticks;
    basic_of(st, which, &attrs, &ticks);
    if (!attrs && !ticks)
        return BD_OK;
    HANDLE h;
    DWORD err = bd_win_open(dst->h, dw.buf, dw.len, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES,
                            BD_SHARE_ALL, BD_FILE_OPEN, 0, &h);
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", dst_name, dst_len);
    err = bd_win_set_basic(h, ticks, attrs);
    CloseHandle(h);
    return err ? bd_win_fail(e, err, "FileBasicInfo", dst_name, dst_len) : BD_OK;
}
