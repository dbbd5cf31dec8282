# _status.pyx: a C bd_error read into bodega._native.status.native_error, the one translation.
from bodega import errors
from bodega._native.status import native_error

from bodega._native.bd cimport bd_error, bd_error_clear, bd_fail_n, bd_status, bd_status_name, BD_OK, BD_PATH_SRC


def status_name(int code):
    """Printable name of a native status code."""
    return bd_status_name(<bd_status>code).decode()


cdef int raise_status(const bd_error *e, object src=None, object dst=None) except -1:
    """Raises the BodegaError for e (src/dst: the roots e.path may be relative to)."""
    if e.code == BD_OK:
        return 0
    op = e.op.decode("utf-8", "replace") if e.op != NULL else ""
    raise native_error(e.code, e.sys_errno, op, e.path, e.path_truncated, e.path_base, src, dst)


cdef object job_error(bd_status status, int sys_errno, const char *op, const char *path, size_t path_len,
                      object root):
    """The BodegaError (returned, not raised) of one failed file of a batch, naming root/path."""
    cdef bd_error e
    cdef const char *none = ""
    bd_error_clear(&e)
    bd_fail_n(&e, status, sys_errno, op if op != NULL else none, BD_PATH_SRC, path, path_len)
    if e.code == BD_OK:
        return errors.InternalError("a failed batch job had no error")
    return native_error(e.code, e.sys_errno, e.op.decode("utf-8", "replace"), e.path, e.path_truncated,
                        e.path_base, root)
