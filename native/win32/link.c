/* link.c (Windows): reading and creating symbolic links through their reparse data.
 *
 * Both stay handle-relative: the link is opened (or created) with bd_win_open, its data read
 * or written with FSCTL_GET/SET_REPARSE_POINT.  CreateSymbolicLinkW is not used: it takes a
 * full path (every component but the last is followed), and Wine 8 answers TRUE to it
 * without creating anything. */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bd_win.h"

typedef union reparse_data {
    bd_reparse_buffer rb;
    unsigned char bytes[MAXIMUM_REPARSE_DATA_BUFFER_SIZE];
} reparse_data;

bd_status bd_link_read_at(bd_dir *d, const char *name, size_t name_len, char *buf, size_t cap,
                          size_t *len, bd_error *e)
{
    HANDLE h;
    bd_status rc = bd_win_open_at(d, name, name_len, FILE_READ_ATTRIBUTES, BD_SHARE_ALL, BD_FILE_OPEN, 0, &h, e);
    if (rc)
        return rc;
    reparse_data rd;
    DWORD got = 0;
    BOOL ok = DeviceIoControl(h, FSCTL_GET_REPARSE_POINT, 0, 0, &rd, sizeof rd, &got, 0);
    DWORD err = ok ? 0 : GetLastError();
    CloseHandle(h);
    if (err == ERROR_NOT_A_REPARSE_POINT)  /* like readlink on a non-link: EINVAL */
        return bd_win_fail_as(e, BD_E_INVAL, err, "FSCTL_GET_REPARSE_POINT", name, name_len);
    if (err)
        return bd_win_fail(e, err, "FSCTL_GET_REPARSE_POINT", name, name_len);
    const WCHAR *target = 0;
    size_t units = 0;
    const bd_reparse_buffer *rb = &rd.rb;
    size_t data_end = got;
    if (rb->ReparseTag == IO_REPARSE_TAG_SYMLINK || rb->ReparseTag == IO_REPARSE_TAG_MOUNT_POINT) {
        int sym = rb->ReparseTag == IO_REPARSE_TAG_SYMLINK;
        size_t off = sym ? rb->u.SymbolicLink.SubstituteNameOffset : rb->u.MountPoint.SubstituteNameOffset;
        size_t n = sym ? rb->u.SymbolicLink.SubstituteNameLength : rb->u.MountPoint.SubstituteNameLength;
        const unsigned char *path = sym ? (const unsigned char *)rb->u.SymbolicLink.PathBuffer
                                        : (const unsigned char *)rb->u.MountPoint.PathBuffer;
        if (path + off + n > rd.bytes + data_end)
            return bd_fail_n(e, BD_E_CORRUPT, EINVAL, "reparse data", BD_PATH_AS_GIVEN, name, name_len);
        target = (const WCHAR *)(path + off);
        units = n / sizeof(WCHAR);
    } else if (rb->ReparseTag == IO_REPARSE_TAG_LX_SYMLINK) {
        /* WSL symlink: a version word, then the UTF-8 target. */
        size_t n = rb->ReparseDataLength >= 4 ? rb->ReparseDataLength - 4u : 0;
        if (BD_REPARSE_HEADER_SIZE + 4 + n > data_end)
            return bd_fail_n(e, BD_E_CORRUPT, EINVAL, "reparse data", BD_PATH_AS_GIVEN, name, name_len);
        if (n >= cap)
            return bd_fail_n(e, BD_E_INVAL, ENAMETOOLONG, "FSCTL_GET_REPARSE_POINT", BD_PATH_AS_GIVEN, name, name_len);
        memcpy(buf, rb->u.LxSymlink.Target, n);
        *len = n;
        return BD_OK;
    } else {  /* a reparse point that is not a link: no target to read */
        return bd_fail_n(e, BD_E_INVAL, EINVAL, "FSCTL_GET_REPARSE_POINT", BD_PATH_AS_GIVEN, name, name_len);
    }
    long n8 = bd_utf16_to_utf8(target, units, buf, cap);
    if (n8 < 0 || (size_t)n8 >= cap)  /* same rule as readlinkat: a full buffer may be cut */
        return bd_fail_n(e, BD_E_INVAL, ENAMETOOLONG, "FSCTL_GET_REPARSE_POINT", BD_PATH_AS_GIVEN, name, name_len);
    *len = (size_t)n8;
    return BD_OK;
}

/* Enables SeCreateSymbolicLinkPrivilege in the process token when the user holds it
 * (administrators); without it, creation still works in Developer Mode. Best effort. */
static void enable_symlink_privilege(void)
{
    static volatile LONG done;
    if (InterlockedExchange(&done, 1))
        return;
    HANDLE token;
    if (!OpenProcessToken(GetCurrentProcess(), TOKEN_ADJUST_PRIVILEGES | TOKEN_QUERY, &token))
        return;
    TOKEN_PRIVILEGES tp;
    tp.PrivilegeCount = 1;
    tp.Privileges[0].Attributes = SE_PRIVILEGE_ENABLED;
    if (LookupPrivilegeValueW(0, L"SeCreateSymbolicLinkPrivilege", &tp.Privileges[0].Luid))
        AdjustTokenPrivileges(token, FALSE, &tp, 0, 0, 0);
    CloseHandle(token);
}

/* Is target an absolute DOS or NT path (C:\x, \\server\x, \??\x)? */
static int absolute_target(const WCHAR *t, size_t n)
{
    return (n >= 3 && t[1] == L':' && t[2] == L'\\') || (n >= 2 && t[0] == L'\\' && t[1] == L'\\')
        || (n >= 4 && t[0] == L'\\' && t[1] == L'?' && t[2] == L'?' && t[3] == L'\\');
}

bd_status bd_link_create_at(bd_dir *d, const char *name, size_t name_len, const char *target,
                            size_t target_len, uint32_t flags, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_LINK, name, name_len, e);
    if (flags & ~(uint32_t)BD_LINK_DIR)
        return bd_fail(e, BD_E_INVAL, EINVAL, "link flags", BD_PATH_AS_GIVEN, 0);
    bd_wname w;
    bd_status rc = bd_win_name(name, name_len, &w, e);
    if (rc)
        return rc;
    if (target_len == 0 || memchr(target, '\0', target_len))
        return bd_fail_n(e, BD_E_INVAL, EINVAL, "link target", BD_PATH_AS_GIVEN, name, name_len);

    /* Path buffer: "\??\" + target as substitute name, then target as print name. */
    reparse_data rd;
    memset(&rd, 0, offsetof(bd_reparse_buffer, u.SymbolicLink.PathBuffer));
    size_t room = (sizeof rd - offsetof(bd_reparse_buffer, u.SymbolicLink.PathBuffer)) / sizeof(WCHAR);
    WCHAR *pb = rd.rb.u.SymbolicLink.PathBuffer;
    size_t prefix = 0;
    long n = bd_utf8_to_utf16(target, target_len, pb + 4, room > 4 ? room - 4 : 0);
    if (n == -1)
        return bd_fail_n(e, BD_E_INVAL, EILSEQ, "utf8-target", BD_PATH_AS_GIVEN, name, name_len);
    if (n < 0 || 2 * (size_t)n + 4 > room)
        return bd_fail_n(e, BD_E_IO, ENAMETOOLONG, "link target", BD_PATH_AS_GIVEN, name, name_len);
    for (long i = 0; i < n; i++)  /* '/' does not separate in reparse data */
        if (pb[4 + i] == L'/')
            pb[4 + i] = L'\\';
    int absolute = absolute_target(pb + 4, (size_t)n);
    if (absolute && pb[5] == L':') {  /* C:\x -> \??\C:\x, the NT form the kernel follows */
        memcpy(pb, L"\\??\\", 4 * sizeof(WCHAR));
        prefix = 4;
    }
    WCHAR *subst = pb + 4 - prefix;
    size_t subst_units = (size_t)n + prefix;
    if (subst != pb)
        memmove(pb, subst, subst_units * sizeof(WCHAR));
    memcpy(pb + subst_units, pb + prefix, (size_t)n * sizeof(WCHAR));  /* print name = target */
    rd.rb.ReparseTag = IO_REPARSE_TAG_SYMLINK;
    rd.rb.u.SymbolicLink.SubstituteNameOffset = 0;
    rd.rb.u.SymbolicLink.SubstituteNameLength = (USHORT)(subst_units * sizeof(WCHAR));
    rd.rb.u.SymbolicLink.PrintNameOffset = (USHORT)(subst_units * sizeof(WCHAR));
    rd.rb.u.SymbolicLink.PrintNameLength = (USHORT)((size_t)n * sizeof(WCHAR));
    rd.rb.u.SymbolicLink.Flags = absolute ? 0 : SYMLINK_FLAG_RELATIVE;
    size_t data_len = 12 + (subst_units + (size_t)n) * sizeof(WCHAR);
    rd.rb.ReparseDataLength = (USHORT)data_len;

    enable_symlink_privilege();
    HANDLE h;
    DWORD err = bd_win_open(d->h, w.buf, w.len, FILE_WRITE_ATTRIBUTES | FILE_WRITE_DATA | DELETE,
                            0, BD_FILE_CREATE,
                            (flags & BD_LINK_DIR) ? BD_FILE_DIRECTORY_FILE : BD_FILE_NON_DIRECTORY_FILE, &h);
    if (err)
        return bd_win_fail(e, err, "NtCreateFile", name, name_len);
    DWORD got;
    if (!DeviceIoControl(h, FSCTL_SET_REPARSE_POINT, &rd, (DWORD)(BD_REPARSE_HEADER_SIZE + data_len),
                         0, 0, &got, 0)) {
        err = GetLastError();
        bd_win_set_delete(h, 1);  /* the empty placeholder goes with the handle */
        CloseHandle(h);
        return bd_win_fail(e, err, "FSCTL_SET_REPARSE_POINT", name, name_len);
    }
    CloseHandle(h);
    return BD_OK;
}
