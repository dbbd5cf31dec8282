/* bd_status.h: status codes and the error record every fallible call fills.
 *
 * Contract for every function in native/: it returns BD_OK (0) or a BD_E_* code and, on
 * failure, fills the caller-owned bd_error passed as its last argument (via bd_fail).
 * Out-parameters are left untouched on failure.  C never prints, never aborts and never
 * touches Python objects; one Python function (_native/status.py, called by both the
 * Cython and the cffi binding) turns a bd_error into a Python exception.
 */
#ifndef BODEGA_BD_STATUS_H
#define BODEGA_BD_STATUS_H

#include <stddef.h>

typedef enum bd_status {
    BD_OK = 0,
    BD_E_IO = 1,          /* a system call failed: see sys_errno (and win_error on Windows) */
    BD_E_NOMEM = 2,       /* out of memory */
    BD_E_NOTSUP = 3,      /* not supported here (e.g. clone on a non-CoW volume); caller may fall back */
    BD_E_XDEV = 4,        /* source and destination are on different volumes */
    BD_E_UNSAFE_PATH = 5, /* a link, junction or reparse point where a real entry was needed, or an escape */
    BD_E_CORRUPT = 6,     /* hash mismatch or malformed data */
    BD_E_CANCELLED = 7,   /* the caller asked to stop (bd_progress.cancel or the callback) */
    BD_E_INVAL = 8,       /* invalid argument: a bug in the caller */
    BD_E_CHANGED = 9,     /* a file changed or vanished while it was being read */
    BD_E_SPECIAL = 10     /* a special file (fifo, socket, device) where a regular one was needed */
} bd_status;

#define BD_STATUS_COUNT 11

/* Which root a bd_error.path is relative to, so the binding can show a full path. */
typedef enum bd_path_base {
    BD_PATH_AS_GIVEN = 0, /* path is exactly what the caller passed (absolute or cwd-relative) */
    BD_PATH_SRC = 1,      /* path is relative to the source root of a tree operation */
    BD_PATH_DST = 2       /* path is relative to the destination root of a tree operation */
} bd_path_base;

#define BD_ERR_PATH_MAX 4096

typedef struct bd_error {
    bd_status code;
    int sys_errno;            /* errno, or the errno equivalent of win_error on Windows; 0 if none */
    unsigned long win_error;  /* GetLastError() on Windows; 0 elsewhere */
    const char *op;           /* static string: the system call or step that failed ("openat", "FICLONE") */
    int path_base;            /* a bd_path_base */
    int path_truncated;       /* 1 when path was longer than BD_ERR_PATH_MAX - 1 bytes and was cut */
    char path[BD_ERR_PATH_MAX]; /* NUL-terminated bounded copy of the failing path ("" if none) */
} bd_error;

/* Printable name of a status code ("BD_E_IO"); never NULL. */
const char *bd_status_name(bd_status code);

/* Resets e to BD_OK with empty fields. e may be NULL. */
void bd_error_clear(bd_error *e);

/* Fills e (if not NULL and still BD_OK, so the first failure wins) and returns code.
 * path may be NULL; it is copied, truncated to BD_ERR_PATH_MAX - 1 bytes. */
bd_status bd_fail(bd_error *e, bd_status code, int sys_errno, const char *op,
                  int path_base, const char *path);

/* Same with a path given as (bytes, length), not NUL-terminated. */
bd_status bd_fail_n(bd_error *e, bd_status code, int sys_errno, const char *op,
                    int path_base, const char *path, size_t path_len);

/* Replaces e->path (and path_base) after a failure, e.g. to put the full relative path
 * in place of the single name a platform call knew.  No-op when e is NULL or BD_OK. */
void bd_error_set_path(bd_error *e, int path_base, const char *path, size_t path_len);

#endif
