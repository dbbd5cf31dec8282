/* lock.c (Windows): LockFileEx on one byte far past the end of any real file, never waiting. */
#include "bodega/bd_lock.h"
#include "bd_win.h"

/* The locked byte: 2^62, beyond any file; a lock past the end of file is allowed and keeps
 * the content itself free for everyone's reads and writes. */
#define LOCK_OFFSET_HIGH 0x40000000u

bd_status bd_file_lock(bd_file *f, int exclusive, int *taken, bd_error *e)
{
    OVERLAPPED ov = { 0 };
    ov.OffsetHigh = LOCK_OFFSET_HIGH;
    /* A handle changing its lock's kind first drops the one it holds (flock converts). */
    UnlockFileEx(f->h, 0, 1, 0, &ov);
    DWORD flags = LOCKFILE_FAIL_IMMEDIATELY | (exclusive ? LOCKFILE_EXCLUSIVE_LOCK : 0);
    if (LockFileEx(f->h, flags, 0, 1, 0, &ov)) {
        *taken = 1;
        return BD_OK;
    }
    DWORD err = GetLastError();
    if (err == ERROR_LOCK_VIOLATION || err == ERROR_IO_PENDING) {
        *taken = 0;
        return BD_OK;
    }
    return bd_win_fail(e, err, "LockFileEx", 0, 0);
}
