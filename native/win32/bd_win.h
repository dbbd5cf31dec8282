/* bd_win.h: what the win32 platform files share: handle structs, ntdll access, UTF-8 names,
 * error mapping and metadata conversion.  Private to native/win32/ (and its tests). */
#ifndef BODEGA_BD_WIN_H
#define BODEGA_BD_WIN_H

#include "bd_winapi_compat.h"

#include <stddef.h>
#include <stdint.h>

#include "bodega/bd_fault.h"
#include "bodega/bd_platform.h"
#include "bodega/bd_progress.h"
#include "bodega/bd_status.h"

struct bd_dir {
    HANDLE h;
    uint64_t volume_id;       /* 64-bit serial of the directory's volume */
    volatile LONG no_extd;    /* 1: FileIdExtdDirectoryInfo was refused here, use FileIdBoth */
    volatile LONG clone_caps; /* 0 unknown, 1 the volume reports block cloning, 2 it does not */
};

struct bd_file {
    HANDLE h;
};

/* ---- ntdll (ntdll.c) ------------------------------------------------------------------ */

typedef struct bd_ntdll {
    bd_NtCreateFile_fn NtCreateFile;
    bd_NtSetInformationFile_fn NtSetInformationFile;
    bd_NtQueryInformationByName_fn NtQueryInformationByName;  /* NULL before Windows 10 1709, in Wine 8 */
    bd_RtlNtStatusToDosError_fn RtlNtStatusToDosError;
    const char *wine_version;                                  /* NULL on real Windows */
} bd_ntdll;

/* The resolved entry points (resolved once, thread-safe); NULL if ntdll lacks the core ones. */
const bd_ntdll *bd_win_ntdll(void);

/* The Win32 error equivalent of an NTSTATUS. */
DWORD bd_win_nt_error(LONG status);

/* ---- names (name.c) ------------------------------------------------------------------- */

#define BD_WNAME_MAX 255  /* UTF-16 units in one component (NTFS/ReFS limit) */

typedef struct bd_wname {
    WCHAR buf[BD_WNAME_MAX + 1];
    USHORT len;  /* UTF-16 units, no NUL counted (buf is NUL-terminated) */
} bd_wname;

/* Converts one UTF-8 path component.  Rejects "", ".", "..", '/', '\\', ':' (a stream
 * name) and NUL with BD_E_INVAL/EINVAL, invalid UTF-8 with BD_E_INVAL/EILSEQ (op
 * "utf8-name"), more than BD_WNAME_MAX units with BD_E_IO/ENAMETOOLONG. */
bd_status bd_win_name(const char *name, size_t len, bd_wname *out, bd_error *e);

/* Strict UTF-8 (plus lone surrogates as WTF-8, so every NTFS name round-trips) to UTF-16.
 * Returns the number of units written, -1 for invalid input, -2 when cap is too small. */
long bd_utf8_to_utf16(const char *s, size_t n, WCHAR *out, size_t cap);

/* UTF-16 to UTF-8 (lone surrogates as WTF-8).  Returns bytes written, -2 if cap is small. */
long bd_utf16_to_utf8(const WCHAR *s, size_t n, char *out, size_t cap);

/* A heap copy of a UTF-8 path as UTF-16 with a NUL; NULL for invalid UTF-8 or no memory. */
WCHAR *bd_utf8_path_to_utf16(const char *path, size_t len);

/* Full path of an open handle as \\?\X:\... (heap, NUL-terminated), with "\\" + extra
 * appended when extra is given.  NULL on failure, with GetLastError set. */
WCHAR *bd_win_handle_path(HANDLE h, const WCHAR *extra, size_t extra_len);

/* ---- errors (error.c) ------------------------------------------------------------------ */

/* The errno equivalent of a Win32 error (EIO when there is none closer). */
int bd_win_errno(DWORD err);

/* The bd_status class of a Win32 error: UNSAFE_PATH for reparse stops, XDEV, NOMEM,
 * CANCELLED, NOTSUP for "this file system cannot", else IO. */
bd_status bd_win_status(DWORD err);

/* Fills e from a Win32 error (status from bd_win_status, errno, win_error) and returns the
 * status. name may be NULL. */
bd_status bd_win_fail(bd_error *e, DWORD err, const char *op, const char *name, size_t len);

/* Same with an explicit status. */
bd_status bd_win_fail_as(bd_error *e, bd_status code, DWORD err, const char *op,
                         const char *name, size_t len);

/* True for the errors after which a block clone falls back to a copy. */
int bd_win_clone_unsupported(DWORD err);

/* ---- handles and metadata (entry.c) ------------------------------------------------------ */

/* Opens name relative to dir with NtCreateFile: one component, FILE_OPEN_REPARSE_POINT and
 * OBJ_DONT_REPARSE (never follows), synchronous I/O, backup intent.  Returns 0 or the Win32
 * error. */
DWORD bd_win_open(HANDLE dir, const WCHAR *name, size_t wlen, ACCESS_MASK access, ULONG share,
                  ULONG disposition, ULONG options, HANDLE *out);

/* bd_win_name + bd_win_open, failures reported in e (op "NtCreateFile", the name as path). */
bd_status bd_win_open_at(bd_dir *d, const char *name, size_t len, ACCESS_MASK access, ULONG share,
                         ULONG disposition, ULONG options, HANDLE *out, bd_error *e);

#define BD_SHARE_ALL (FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)

/* Fills st from an open handle (FileBasicInfo, FileStandardInfo, FileIdInfo, tag). */
DWORD bd_win_stat_handle(HANDLE h, bd_stat *st);

/* The 64-bit volume serial of h's volume (FileIdInfo, else the 32-bit serial). */
DWORD bd_win_volume_id(HANDLE h, uint64_t *out);

/* kind and synthesized mode from attributes and reparse tag. */
void bd_win_kind(uint32_t attrs, uint32_t tag, bd_stat *st);

/* 100 ns ticks since 1601 <-> Unix nanoseconds (saturating). */
int64_t bd_win_ticks_to_ns(int64_t ticks);
int64_t bd_win_ns_to_ticks(int64_t ns);

/* Marks h delete-on-close (on != 0) or clears it. */
DWORD bd_win_set_delete(HANDLE h, int on);

/* Sets FILE_BASIC_INFO on h (zero fields are left unchanged). */
DWORD bd_win_set_basic(HANDLE h, int64_t mtime_ticks, uint32_t attrs);

/* Opens a regular file for reading: a link gives BD_E_UNSAFE_PATH, anything else that is
 * not a regular file BD_E_SPECIAL (a directory BD_E_IO/EISDIR).  st (may be NULL) gets its
 * metadata.  share is the NT share mode. */
bd_status bd_win_open_file(bd_dir *d, const char *name, size_t len, ACCESS_MASK access,
                           ULONG share, HANDLE *out, bd_stat *st, bd_error *e);

/* ---- volumes (volume.c) ------------------------------------------------------------------ */

/* Cluster size of h's volume: FSCTL_GET_INTEGRITY_INFORMATION (ReFS), else
 * GetDiskFreeSpaceW on the volume root.  Returns 0 or the Win32 error. */
DWORD bd_win_cluster_size(HANDLE h, uint32_t *out);

/* The root of h's volume as a path Get*DiskFree*W accept ("C:\", "\\server\share\"),
 * heap-allocated; NULL on failure with GetLastError set. */
WCHAR *bd_win_volume_root(HANDLE h);

/* ---- copying (clone.c) --------------------------------------------------------------------- */

/* The copy strategies bd_file_clone_at chains; exposed for the win32 tests, which must
 * reach the fallbacks Wine would otherwise never take. */
#define BD_WIN_TRY_FSCTL    0x1   /* FSCTL_DUPLICATE_EXTENTS_TO_FILE (when the volume can) */
#define BD_WIN_TRY_OS_COPY  0x2   /* CopyFileExW */
#define BD_WIN_TRY_USER     0x4   /* ReadFile/WriteFile keeping holes */
#define BD_WIN_TRY_ALL      0x7

bd_status bd_win_clone_with(bd_dir *src, const char *src_name, size_t src_len, bd_dir *dst,
                            const char *dst_name, size_t dst_len, uint32_t flags,
                            uint32_t methods, bd_progress *p, bd_copy_result *r, bd_error *e);

#endif
