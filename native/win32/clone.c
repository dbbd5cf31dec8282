/* clone.c (Windows): a file's data into a new file, cloned where the volume can.
 *
 * Strategies, tried in order (bd_win_clone_with):
 *   1. FSCTL_DUPLICATE_EXTENTS_TO_FILE on volumes reporting FILE_SUPPORTS_BLOCK_REFCOUNTING
 *      (ReFS, Dev Drive): destination created in its directory, sparse while cloning (no
 *      zero-filled clusters to free), integrity setting matched, EOF set first, then pieces
 *      of at most 1 GiB at equal offsets, the last one rounded up to the cluster size.
 *      ERROR_INVALID_FUNCTION / NOT_SUPPORTED / INVALID_PARAMETER / BLOCK_TOO_MANY_REFERENCES
 *      fall back to a copy.
 *   2. CopyFileExW (kernel-side copy; on Windows 11 24H2 it clones by itself on ReFS), with a
 *      progress routine that honours cancel.  It takes paths, so the destination is checked
 *      afterwards to be the entry of the destination handle.
 *   3. ReadFile/WriteFile keeping the holes of a sparse source.
 * Destinations made by 1 and 3 are delete-on-close until they are complete, so a failure or
 * a crash leaves nothing behind. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "bd_win.h"

#define PIECE (1ULL << 30)      /* bytes per FSCTL: under the 4 GiB limit, cluster-aligned */
#define COPY_BUF (1u << 20)

/* Hands a local error to the caller's record (first failure wins there too). */
static bd_status pass_on(bd_error *e, const bd_error *local)
{
    if (e && e->code == BD_OK)
        *e = *local;
    return local->code;
}

static int volume_can_clone(bd_dir *d)
{
    LONG c = d->clone_caps;
    if (c == 0) {
        DWORD flags = 0;
        c = GetVolumeInformationByHandleW(d->h, 0, 0, 0, 0, &flags, 0, 0)
            && (flags & FILE_SUPPORTS_BLOCK_REFCOUNTING) ? 1 : 2;
        d->clone_caps = c;
    }
    return c == 1;
}

/* Creates the destination (exclusive), delete-on-close until finish_dst(ok). */
static bd_status create_dst(bd_dir *dst, const bd_wname *w, const char *name, size_t len,
                            HANDLE *out, bd_error *e)
{
    DWORD err = bd_win_open(dst->h, w->buf, w->len, GENERIC_READ | GENERIC_WRITE | DELETE, 0,
                            BD_FILE_CREATE, BD_FILE_NON_DIRECTORY_FILE | BD_FILE_SEQUENTIAL_ONLY, out);
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", name, len);
    bd_win_set_delete(*out, 1);
    return BD_OK;
}

/* Keeps (ok) or removes the destination, and closes it. */
static bd_status finish_dst(HANDLE h, int ok, const char *name, size_t len, bd_error *e)
{
    DWORD err = bd_win_set_delete(h, !ok);
    if (err && ok)
        bd_win_set_delete(h, 1);
    CloseHandle(h);
    if (ok && err)
        return bd_win_fail(e, err, "FileDispositionInfo", name, len);
    return BD_OK;
}

static void set_sparse(HANDLE h, int on)
{
    FILE_SET_SPARSE_BUFFER sp;
    DWORD got;
    sp.SetSparse = on ? TRUE : FALSE;
    DeviceIoControl(h, FSCTL_SET_SPARSE, &sp, sizeof sp, 0, 0, &got, 0);
}

static DWORD set_eof(HANDLE h, uint64_t size)
{
    FILE_END_OF_FILE_INFO eof;
    eof.EndOfFile.QuadPart = (LONGLONG)size;
    if (!SetFileInformationByHandle(h, (FILE_INFO_BY_HANDLE_CLASS)BD_FileEndOfFileInfo, &eof, sizeof eof))
        return GetLastError();
    return 0;
}

/* Accounts n more bytes and checks for cancel (the calling thread's checkpoint). */
static bd_status advance(bd_progress *p, uint64_t n, uint64_t cloned, uint64_t copied, bd_error *e)
{
    bd_progress_add(p, 0, n);
    bd_progress_add_io(p, cloned, copied);
    return bd_progress_tick(p, 0, e);
}

/* Shares src's data (its metadata sst) into h, a new empty file open for writing: pieces
 * of FSCTL_DUPLICATE_EXTENTS_TO_FILE at equal offsets.  BD_E_NOTSUP when the volume cannot. */
static bd_status duplicate_extents(HANDLE src, const bd_stat *sst, HANDLE h, const char *name, size_t len,
                                   bd_progress *p, bd_error *e)
{
    uint32_t cluster = 0;
    DWORD err = bd_win_cluster_size(src, &cluster);
    if (err || cluster == 0 || (cluster & (cluster - 1)))
        return bd_win_fail_as(e, BD_E_NOTSUP, err ? err : ERROR_NOT_SUPPORTED, "cluster size", name, len);
    bd_integrity_info ii;
    DWORD got;
    int integrity = DeviceIoControl(src, FSCTL_GET_INTEGRITY_INFORMATION, 0, 0, &ii, sizeof ii, &got, 0)
                 && (ii.ChecksumAlgorithm || ii.Flags);
    bd_status rc = BD_OK;
    set_sparse(h, 1);
    if (integrity) {  /* must match the source's, and can only change while empty */
        bd_set_integrity_info si = { ii.ChecksumAlgorithm, 0, ii.Flags };
        DeviceIoControl(h, FSCTL_SET_INTEGRITY_INFORMATION, &si, sizeof si, 0, 0, &got, 0);
    }
    err = set_eof(h, sst->size);
    if (err)
        rc = bd_win_fail(e, err, "FileEndOfFileInfo", name, len);
    uint64_t total = (sst->size + cluster - 1) & ~(uint64_t)(cluster - 1);
    for (uint64_t off = 0; rc == BD_OK && off < total;) {
        uint64_t piece = total - off < PIECE ? total - off : PIECE;
        bd_duplicate_extents_data dx;
        dx.FileHandle = src;
        dx.SourceFileOffset.QuadPart = (LONGLONG)off;
        dx.TargetFileOffset.QuadPart = (LONGLONG)off;
        dx.ByteCount.QuadPart = (LONGLONG)piece;
        if (!DeviceIoControl(h, FSCTL_DUPLICATE_EXTENTS_TO_FILE, &dx, sizeof dx, 0, 0, &got, 0)) {
            err = GetLastError();
            rc = bd_win_clone_unsupported(err)
               ? bd_win_fail_as(e, BD_E_NOTSUP, err, "FSCTL_DUPLICATE_EXTENTS_TO_FILE", name, len)
               : bd_win_fail(e, err, "FSCTL_DUPLICATE_EXTENTS_TO_FILE", name, len);
            break;
        }
        uint64_t n = sst->size - off < piece ? sst->size - off : piece;
        off += piece;
        rc = advance(p, n, n, 0, e);
    }
    if (rc == BD_OK && !(sst->attrs & FILE_ATTRIBUTE_SPARSE_FILE))
        set_sparse(h, 0);
    return rc;
}

static bd_status clone_extents(HANDLE src, const bd_stat *sst, bd_dir *dst, const bd_wname *w,
                               const char *name, size_t len, bd_progress *p, bd_copy_result *r,
                               bd_error *e)
{
    HANDLE h;
    bd_status rc = create_dst(dst, w, name, len, &h, e);
    if (rc)
        return rc;
    rc = duplicate_extents(src, sst, h, name, len, p, e);
    bd_status fin = finish_dst(h, rc == BD_OK, name, len, e);
    if (rc == BD_OK && fin == BD_OK) {
        r->method = BD_METHOD_CLONE;
        r->bytes_cloned = sst->size;
    }
    return rc ? rc : fin;
}

typedef struct os_copy {
    bd_progress *p;
    uint64_t size;
    uint64_t reported;
    int cancelled;
} os_copy;

static DWORD CALLBACK os_copy_progress(LARGE_INTEGER total, LARGE_INTEGER done, LARGE_INTEGER stream_size,
                                       LARGE_INTEGER stream_done, DWORD stream, DWORD reason,
                                       HANDLE from, HANDLE to, LPVOID data)
{
    (void)total, (void)stream_size, (void)stream_done, (void)stream, (void)reason, (void)from, (void)to;
    os_copy *c = data;
    /* The total also counts alternate streams: only the file's own size is data here. */
    uint64_t now = (uint64_t)done.QuadPart < c->size ? (uint64_t)done.QuadPart : c->size;
    if (now > c->reported) {
        bd_progress_add(c->p, 0, now - c->reported);
        bd_progress_add_io(c->p, 0, now - c->reported);
        c->reported = now;
    }
    if (bd_progress_tick(c->p, 0, 0) != BD_OK) {
        c->cancelled = 1;
        return PROGRESS_CANCEL;
    }
    return PROGRESS_CONTINUE;
}

/* Removes what a failed path-based copy may have left at w in dst. */
static void remove_partial(bd_dir *dst, const bd_wname *w)
{
    HANDLE h;
    if (bd_win_open(dst->h, w->buf, w->len, DELETE, BD_SHARE_ALL, BD_FILE_OPEN, BD_FILE_NON_DIRECTORY_FILE, &h) == 0) {
        bd_win_set_delete(h, 1);
        CloseHandle(h);
    }
}

static bd_status copy_by_os(HANDLE src, const bd_stat *sst, bd_dir *dst, const bd_wname *w,
                            const char *name, size_t len, bd_progress *p, bd_copy_result *r,
                            bd_error *e)
{
    WCHAR *from = bd_win_handle_path(src, 0, 0);
    WCHAR *to = from ? bd_win_handle_path(dst->h, w->buf, w->len) : 0;
    if (!to) {
        DWORD err = GetLastError();
        free(from);
        return bd_win_fail_as(e, BD_E_NOTSUP, err, "GetFinalPathNameByHandleW", name, len);
    }
    os_copy c = { p, sst->size, 0, 0 };
    BOOL ok = CopyFileExW(from, to, os_copy_progress, &c, 0, COPY_FILE_FAIL_IF_EXISTS | COPY_FILE_COPY_SYMLINK);
    DWORD err = ok ? 0 : GetLastError();
    free(from);
    free(to);
    if (!ok) {
        if (bd_win_errno(err) == EEXIST)  /* not ours: leave it */
            return bd_win_fail(e, err, "CopyFileExW", name, len);
        remove_partial(dst, w);
        if (c.cancelled)
            return bd_progress_tick(p, 1, e);
        return bd_win_clone_unsupported(err) ? bd_win_fail_as(e, BD_E_NOTSUP, err, "CopyFileExW", name, len)
                                              : bd_win_fail(e, err, "CopyFileExW", name, len);
    }
    /* The copy went by path: make sure it is the entry of the destination handle, a plain
     * file, and undo READONLY (CopyFileExW copies attributes; metadata is applied later). */
    HANDLE h;
    err = bd_win_open(dst->h, w->buf, w->len, FILE_READ_ATTRIBUTES | FILE_WRITE_ATTRIBUTES | DELETE,
                      BD_SHARE_ALL, BD_FILE_OPEN, 0, &h);
    if (err)
        return bd_win_errno(err) == ENOENT
             ? bd_fail_n(e, BD_E_UNSAFE_PATH, ENOENT, "CopyFileExW landed elsewhere", BD_PATH_AS_GIVEN, name, len)
             : bd_win_fail(e, err, "NtCreateFile", name, len);
    bd_stat got;
    bd_status rc = BD_OK;
    err = bd_win_stat_handle(h, &got);
    if (err)
        rc = bd_win_fail(e, err, "GetFileInformationByHandleEx", name, len);
    else if (got.kind != BD_KIND_FILE)
        rc = bd_fail_n(e, BD_E_UNSAFE_PATH, ELOOP, "CopyFileExW", BD_PATH_AS_GIVEN, name, len);
    else if (got.attrs & FILE_ATTRIBUTE_READONLY) {
        uint32_t rest = got.attrs & ~(uint32_t)FILE_ATTRIBUTE_READONLY;
        err = bd_win_set_basic(h, 0, rest ? rest : FILE_ATTRIBUTE_NORMAL);
        if (err)
            rc = bd_win_fail(e, err, "FileBasicInfo", name, len);
    }
    if (rc == BD_OK)  /* Wine never calls the progress routine: account and check here too */
        rc = advance(p, sst->size - c.reported, 0, sst->size - c.reported, e);
    if (rc != BD_OK)
        bd_win_set_delete(h, 1);
    CloseHandle(h);
    if (rc == BD_OK) {
        r->method = BD_METHOD_OS_COPY;
        r->bytes_copied = sst->size;
    }
    return rc;
}

static int all_zero(const unsigned char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (b[i])
            return 0;
    return 1;
}

static bd_status copy_by_hand(HANDLE src, const bd_stat *sst, bd_dir *dst, const bd_wname *w,
                              const char *name, size_t len, bd_progress *p, bd_copy_result *r,
                              bd_error *e)
{
    unsigned char *buf = malloc(COPY_BUF);
    if (!buf)
        return bd_fail(e, BD_E_NOMEM, ENOMEM, "malloc", BD_PATH_AS_GIVEN, 0);
    HANDLE h;
    bd_status rc = create_dst(dst, w, name, len, &h, e);
    if (rc) {
        free(buf);
        return rc;
    }
    /* A sparse source keeps its holes: all-zero blocks are skipped, not written. */
    int sparse = (sst->attrs & FILE_ATTRIBUTE_SPARSE_FILE) != 0;
    if (sparse)
        set_sparse(h, 1);
    uint64_t off = 0, written = 0;
    while (rc == BD_OK) {
        OVERLAPPED ov = { 0 };
        ov.Offset = (DWORD)off;
        ov.OffsetHigh = (DWORD)(off >> 32);
        DWORD got = 0;
        if (!ReadFile(src, buf, COPY_BUF, &got, &ov)) {
            DWORD err = GetLastError();
            if (err != ERROR_HANDLE_EOF)
                rc = bd_win_fail(e, err, "ReadFile", name, len);
            break;
        }
        if (got == 0)
            break;
        DWORD put = 0;
        if (!(sparse && all_zero(buf, got))) {
            BOOL ok = WriteFile(h, buf, got, &put, &ov);
            if (!ok || put != got) {
                rc = bd_win_fail(e, ok ? ERROR_DISK_FULL : GetLastError(), "WriteFile", name, len);
                break;
            }
        }
        off += got;
        written += put;
        rc = advance(p, got, 0, put, e);
    }
    if (rc == BD_OK) {
        DWORD err = set_eof(h, off);  /* a trailing hole is only a size */
        if (err)
            rc = bd_win_fail(e, err, "FileEndOfFileInfo", name, len);
    }
    free(buf);
    bd_status fin = finish_dst(h, rc == BD_OK, name, len, e);
    if (rc == BD_OK && fin == BD_OK) {
        r->method = BD_METHOD_USER_COPY;
        r->bytes_copied = written;
    }
    return rc ? rc : fin;
}

bd_status bd_win_clone_with(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                            const char *dst_name, size_t dst_len, uint32_t flags,
                            uint32_t methods, bd_progress *p, bd_copy_result *r, bd_error *e)
{
    /* BD_CLONE_READ_SOON is a hint Windows does without (no readahead call for a handle) */
    if ((flags & ~(uint32_t)(BD_CLONE_REQUIRE | BD_CLONE_NEVER | BD_CLONE_READ_SOON))
        || ((flags & BD_CLONE_REQUIRE) && (flags & BD_CLONE_NEVER)))
        return bd_fail(e, BD_E_INVAL, EINVAL, "clone flags", BD_PATH_AS_GIVEN, 0);
    bd_wname w;
    bd_status rc = bd_win_name(dst_name, dst_len, &w, e);
    if (rc)
        return rc;
    HANDLE sh;
    bd_stat sst;
    /* No writers while we copy (a consistent snapshot of the data); renames may go on. */
    rc = bd_win_open_file(src, src_name, src_len, FILE_READ_DATA | FILE_READ_ATTRIBUTES,
                                    FILE_SHARE_READ | FILE_SHARE_DELETE, &sh, &sst, e);
    if (rc)
        return rc;
    bd_copy_result res = { BD_METHOD_NONE, 0, 0 };
    bd_error local;
    bd_error_clear(&local);
    rc = bd_progress_tick(p, 0, e);
    if (rc == BD_OK && sst.size == 0) {  /* nothing to clone: just the exclusive create */
        HANDLE h;
        rc = create_dst(dst, &w, dst_name, dst_len, &h, e);
        if (rc == BD_OK)
            rc = finish_dst(h, 1, dst_name, dst_len, e);
        goto out;
    }
    if (rc)
        goto out;
    rc = BD_E_NOTSUP;
    if (!(flags & BD_CLONE_NEVER) && (methods & BD_WIN_TRY_FSCTL)) {
        int same_volume = sst.volume_id == dst->volume_id;
        if ((flags & BD_CLONE_REQUIRE) && !same_volume) {
            rc = bd_fail_n(e, BD_E_XDEV, EXDEV, "clone", BD_PATH_AS_GIVEN, dst_name, dst_len);
            goto out;
        }
        /* REQUIRE tries even without the volume flag: the FSCTL is the definitive test. */
        if (same_volume && ((flags & BD_CLONE_REQUIRE) || volume_can_clone(dst))) {
            rc = clone_extents(sh, &sst, dst, &w, dst_name, dst_len, p, &res, &local);
            if (rc != BD_E_NOTSUP || (flags & BD_CLONE_REQUIRE)) {
                if (rc)
                    pass_on(e, &local);
                goto out;
            }
        }
    }
    if (flags & BD_CLONE_REQUIRE) {
        rc = bd_fail_n(e, BD_E_NOTSUP, ENOTSUP, "clone", BD_PATH_AS_GIVEN, dst_name, dst_len);
        goto out;
    }
    if (methods & BD_WIN_TRY_OS_COPY) {
        bd_error_clear(&local);
        rc = copy_by_os(sh, &sst, dst, &w, dst_name, dst_len, p, &res, &local);
        if (rc != BD_E_NOTSUP) {
            if (rc)
                pass_on(e, &local);
            goto out;
        }
    }
    if (methods & BD_WIN_TRY_USER) {
        bd_error_clear(&local);
        rc = copy_by_hand(sh, &sst, dst, &w, dst_name, dst_len, p, &res, &local);
    }
    if (rc && local.code)
        pass_on(e, &local);
    else if (rc)  /* no strategy was allowed to run */
        bd_fail_n(e, rc, ENOTSUP, "clone", BD_PATH_AS_GIVEN, dst_name, dst_len);
out:
    CloseHandle(sh);
    if (rc == BD_OK && r)
        *r = res;
    return rc;
}

bd_status bd_file_clone_at(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                           const char *dst_name, size_t dst_len, uint32_t flags,
                           bd_progress *p, bd_copy_result *r, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_CLONE, dst_name, dst_len, e);
    return bd_win_clone_with(src, src_name, src_len, dst, dst_name, dst_len, flags,
                             BD_WIN_TRY_ALL, p, r, e);
}

bd_status bd_file_create_clone_at(bd_dir *d, const char *name, size_t name_len, uint32_t mode, bd_file *src,
                                  bd_file **out, bd_error *e)
{
    (void)mode;  /* no umask, no mode bits: created writable, as bd_file_create_mode_at */
    BD_FAULT_STEP(BD_STEP_CLONE, name, name_len, e);
    bd_stat sst;
    bd_status rc = bd_file_stat(src, &sst, e);
    if (rc)
        return rc;
    if (sst.volume_id != d->volume_id)
        return bd_fail_n(e, BD_E_XDEV, EXDEV, "clone", BD_PATH_AS_GIVEN, name, name_len);
    bd_file *f;
    if ((rc = bd_file_create_at(d, name, name_len, &f, e)) != BD_OK)
        return rc;
    bd_error local;
    bd_error_clear(&local);
    rc = sst.size ? duplicate_extents(src->h, &sst, f->h, name, name_len, 0, &local) : BD_OK;
    if (rc == BD_OK) {
        *out = f;
        return BD_OK;
    }
    bd_file_close(f);
    bd_error ignored;
    bd_error_clear(&ignored);
    bd_unlink_at(d, name, name_len, 0, &ignored);
    return pass_on(e, &local);
}
