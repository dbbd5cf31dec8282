# _status.pyx: the single place where a C bd_error becomes a Python exception.
import os

from bodega import errors

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_fail_n, bd_status, bd_status_name, BD_OK, BD_E_IO, BD_E_NOMEM, BD_E_NOTSUP, BD_E_XDEV,
    BD_E_UNSAFE_PATH, BD_E_CORRUPT, BD_E_CANCELLED, BD_E_INVAL, BD_E_CHANGED, BD_E_SPECIAL,
    BD_PATH_SRC, BD_PATH_DST,
)

_SIMPLE = {
    BD_E_NOTSUP: errors.NotSupported,
    BD_E_XDEV: errors.CrossDevice,
    BD_E_UNSAFE_PATH: errors.UnsafePath,
    BD_E_CORRUPT: errors.IntegrityError,
    BD_E_CANCELLED: errors.Cancelled,
    BD_E_CHANGED: errors.ChangedWhileReading,
    BD_E_SPECIAL: errors.SpecialFile,
}


def status_name(int code):
    """Printable name of a native status code."""
    return bd_status_name(<bd_status>code).decode()


cdef object _full_path(const bd_error *e, object src, object dst):
    """The failing path as bytes, joined to the root it is relative to."""
    cdef bytes rel = e.path
    if e.path_truncated:
        rel += b"..."
    base = src if e.path_base == BD_PATH_SRC else dst if e.path_base == BD_PATH_DST else None
    if base is None:
        return rel if rel else None
    base = os.fsencode(base)
    return os.path.join(base, rel) if rel else base


cdef int raise_status(const bd_error *e, object src=None, object dst=None) except -1:
    """Raises the BodegaError for e (src/dst: the roots e.path may be relative to)."""
    if e.code == BD_OK:
        return 0
    path = _full_path(e, src, dst)
    shown = os.fsdecode(path) if path is not None else None
    op = e.op.decode("utf-8", "replace") if e.op != NULL else ""
    if e.code == BD_E_IO:
        raise errors.storage_error(e.sys_errno, shown, op)
    if e.code == BD_E_NOMEM:
        raise MemoryError(f"{op}: out of memory")
    if e.code == BD_E_INVAL:
        raise errors.InternalError(f"{op}: invalid argument" + (f" ({shown})" if shown else ""), path=shown)
    cls = _SIMPLE.get(e.code)
    if cls is None:
        raise errors.InternalError(f"unknown native status {e.code} from {op}")
    detail = (cls.__doc__ or "").strip().splitlines()[0]
    where = f"{shown}: " if shown else ""
    reason = f" ({os.strerror(e.sys_errno)})" if e.sys_errno else ""
    raise cls(f"{where}{detail}{reason}", path=shown, op=op, errno=e.sys_errno or None)


cdef object job_error(bd_status status, int sys_errno, const char *op, const char *path, size_t path_len,
                      object root):
    """The BodegaError (returned, not raised) of one failed file of a batch, naming root/path."""
    cdef bd_error e
    cdef const char *none = ""
    bd_error_clear(&e)
    bd_fail_n(&e, status, sys_errno, op if op != NULL else none, BD_PATH_SRC, path, path_len)
    try:
        raise_status(&e, root)
    except errors.BodegaError as exc:
        return exc
    except MemoryError as exc:
        return exc
    return errors.InternalError("a failed batch job had no error")
