# bd.pxd: extern declarations mirroring native/include/bodega/*.h, and nothing else.
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t

cdef extern from "bodega/bd_status.h" nogil:
    ctypedef enum bd_status:
        BD_OK
        BD_E_IO
        BD_E_NOMEM
        BD_E_NOTSUP
        BD_E_XDEV
        BD_E_UNSAFE_PATH
        BD_E_CORRUPT
        BD_E_CANCELLED
        BD_E_INVAL
        BD_E_CHANGED
        BD_E_SPECIAL

    enum:
        BD_PATH_AS_GIVEN
        BD_PATH_SRC
        BD_PATH_DST
        BD_ERR_PATH_MAX

    ctypedef struct bd_error:
        bd_status code
        int sys_errno
        unsigned long win_error
        const char *op
        int path_base
        int path_truncated
        char path[4096]

    const char *bd_status_name(bd_status code)
    void bd_error_clear(bd_error *e)


cdef extern from "bodega/bd_progress.h" nogil:
    ctypedef struct bd_progress
    ctypedef int (*bd_progress_fn)(const bd_progress *p, void *ctx) noexcept

    ctypedef struct bd_progress:
        uint64_t files_total
        uint64_t bytes_total
        uint64_t files_done
        uint64_t bytes_done
        uint64_t bytes_cloned
        uint64_t bytes_copied
        int cancel
        uint64_t interval_ns
        bd_progress_fn fn
        void *ctx

    void bd_progress_init(bd_progress *p)
    void bd_progress_cancel(bd_progress *p)
    uint64_t bd_now_ns()
