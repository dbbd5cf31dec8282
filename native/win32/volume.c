/* volume.c (Windows): what a volume is and can do: name, serial, cluster size, space, and
 * whether block cloning works (proven by a trial clone). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "bd_win.h"

WCHAR *bd_win_volume_root(HANDLE h)
{
    WCHAR *path = bd_win_handle_path(h, 0, 0);
    if (!path)
        return 0;
    size_t n = wcslen(path) + 2;
    WCHAR *root = malloc(n * sizeof *root);
    if (!root || !GetVolumePathNameW(path, root, (DWORD)n)) {
        DWORD err = root ? GetLastError() : ERROR_NOT_ENOUGH_MEMORY;
        free(root);
        free(path);
        SetLastError(err);
        return 0;
    }
    free(path);
    /* Get*DiskFree*W want "C:\" or "\\server\share\", not the \\?\ forms. */
    if (wcsncmp(root, L"\\\\?\\UNC\\", 8) == 0)
        memmove(root + 1, root + 7, (wcslen(root + 7) + 1) * sizeof *root), root[0] = L'\\';
    else if (wcsncmp(root, L"\\\\?\\", 4) == 0 && root[4] && root[5] == L':')
        memmove(root, root + 4, (wcslen(root + 4) + 1) * sizeof *root);
    return root;
}

DWORD bd_win_cluster_size(HANDLE h, uint32_t *out)
{
    bd_integrity_info ii;
    DWORD got;
    if (DeviceIoControl(h, FSCTL_GET_INTEGRITY_INFORMATION, 0, 0, &ii, sizeof ii, &got, 0)
        && ii.ClusterSizeInBytes) {
        *out = ii.ClusterSizeInBytes;
        return 0;
    }
    WCHAR *root = bd_win_volume_root(h);
    if (!root)
        return GetLastError();
    DWORD spc, bps, nfree, total;
    BOOL ok = GetDiskFreeSpaceW(root, &spc, &bps, &nfree, &total);
    DWORD err = ok ? 0 : GetLastError();
    free(root);
    if (err)
        return err;
    *out = spc * bps;
    return 0;
}

/* Creates a small file for the trial clone: one cluster and a bit, so both the aligned
 * pieces and the rounded-up tail are exercised. */
static bd_status make_probe(bd_dir *d, const char *name, uint32_t cluster, bd_error *e)
{
    HANDLE h;
    bd_status rc = bd_win_open_at(d, name, strlen(name), GENERIC_WRITE, 0, BD_FILE_CREATE,
                                  BD_FILE_NON_DIRECTORY_FILE, &h, e);
    if (rc)
        return rc;
    DWORD err = 0;
    static const char block[4096] = "bodega clone probe";
    DWORD put;
    for (uint32_t done = 0; !err && done < cluster + 1;) {
        DWORD n = cluster + 1 - done < sizeof block ? cluster + 1 - done : (DWORD)sizeof block;
        if (!WriteFile(h, block, n, &put, 0))
            err = GetLastError();
        done += n;
    }
    CloseHandle(h);
    return err ? bd_win_fail(e, err, "WriteFile", name, strlen(name)) : BD_OK;
}

static int trial_clone(bd_dir *d, uint32_t cluster)
{
    static volatile LONG counter;
    char a[64], b[64];
    LONG n = InterlockedIncrement(&counter);
    snprintf(a, sizeof a, ".bd-probe-%lu-%ld-a", (unsigned long)GetCurrentProcessId(), (long)n);
    snprintf(b, sizeof b, ".bd-probe-%lu-%ld-b", (unsigned long)GetCurrentProcessId(), (long)n);
    bd_error ignored;
    bd_error_clear(&ignored);
    int ok = 0;
    if (make_probe(d, a, cluster, &ignored) == BD_OK) {
        bd_copy_result r;
        ok = bd_win_clone_with(d, a, strlen(a), d, b, strlen(b), BD_CLONE_REQUIRE, BD_WIN_TRY_FSCTL,
                               0, &r, &ignored) == BD_OK && r.method == BD_METHOD_CLONE;
        if (ok)
            bd_unlink_at(d, b, strlen(b), 0, &ignored);
        bd_unlink_at(d, a, strlen(a), 0, &ignored);
    }
    return ok;
}

bd_status bd_fs_info_at(bd_dir *d, int trial, bd_fs_info *out, bd_error *e)
{
    bd_fs_info info;
    memset(&info, 0, sizeof info);
    WCHAR fs[64];
    DWORD flags = 0;
    if (!GetVolumeInformationByHandleW(d->h, 0, 0, 0, 0, &flags, fs, 64))
        return bd_win_fail(e, GetLastError(), "GetVolumeInformationByHandleW", 0, 0);
    long n = bd_utf16_to_utf8(fs, wcslen(fs), info.fs_name, sizeof info.fs_name - 1);
    info.fs_name[n > 0 ? n : 0] = '\0';
    info.volume_id = d->volume_id;
    uint32_t cluster = 0;
    if (bd_win_cluster_size(d->h, &cluster) != 0 || cluster == 0)
        cluster = 4096;  /* the NTFS and ReFS default */
    info.block_size = cluster;
    WCHAR *root = bd_win_volume_root(d->h);
    ULARGE_INTEGER avail, total, nfree;
    if (!root || !GetDiskFreeSpaceExW(root, &avail, &total, &nfree)) {
        DWORD err = GetLastError();
        free(root);
        return bd_win_fail(e, err, "GetDiskFreeSpaceExW", 0, 0);
    }
    free(root);
    info.bytes_total = total.QuadPart;
    info.bytes_free = avail.QuadPart;
    /* Only a volume that claims block cloning gets a trial: the others cannot. */
    if (trial && (flags & FILE_SUPPORTS_BLOCK_REFCOUNTING) && trial_clone(d, cluster))
        info.flags |= BD_FS_CLONE;
    *out = info;
    return BD_OK;
}

bd_status bd_volume_sync(bd_dir *d, bd_error *e)
{
    BD_FAULT_STEP(BD_STEP_SYNC, NULL, 0, e);
    /* Flushing a whole volume needs its handle, which only administrators may open. */
    (void)d;
    return bd_fail(e, BD_E_NOTSUP, ENOSYS, "volume flush", BD_PATH_AS_GIVEN, 0);
}

const char *bd_platform_features(void)
{
    /* What this build does on Windows; which calls the running system really has is found
     * out per call (block cloning by the volume flag and a trial, ntdll entry points by
     * GetProcAddress), so the list names the strategies, not a probe. */
    return "win32 nt_relative_open block_clone copyfileex reparse_points file_id_128 alternate_streams";
}
