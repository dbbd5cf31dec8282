"""The one translation of a native status into a BodegaError, shared by both back ends.

Each back end reads its bd_error (Cython: the struct; cffi: its cdata) into plain values
and calls `native_error`; nothing else decides which exception a C status becomes.
"""
from __future__ import annotations

import os

from bodega import errors

# bd_status.h's codes and path bases (checked against the C values by tests/native/test_backends.py).
OK, E_IO, E_NOMEM, E_NOTSUP, E_XDEV, E_UNSAFE_PATH, E_CORRUPT, E_CANCELLED, E_INVAL, E_CHANGED, E_SPECIAL = range(11)
PATH_AS_GIVEN, PATH_SRC, PATH_DST = range(3)

_SIMPLE: dict[int, type[errors.BodegaError]] = {
    E_NOTSUP: errors.NotSupported,
    E_XDEV: errors.CrossDevice,
    E_UNSAFE_PATH: errors.UnsafePath,
    E_CORRUPT: errors.IntegrityError,
    E_CANCELLED: errors.Cancelled,
    E_CHANGED: errors.ChangedWhileReading,
    E_SPECIAL: errors.SpecialFile,
}


def _full_path(rel: bytes, truncated: bool, path_base: int, src: object, dst: object) -> bytes | None:
    """The failing path as bytes, joined to the root it is relative to."""
    if truncated:
        rel += b"..."
    base = src if path_base == PATH_SRC else dst if path_base == PATH_DST else None
    if base is None:
        return rel if rel else None
    base = os.fsencode(base)
    return os.path.join(base, rel) if rel else base


def native_error(code: int, sys_errno: int, op: str, rel: bytes, truncated: bool, path_base: int,
                 src: object = None, dst: object = None) -> BaseException:
    """The exception for a failed native call (src/dst: the roots rel may be relative to)."""
    path = _full_path(rel, truncated, path_base, src, dst)
    shown = os.fsdecode(path) if path is not None else None
    if code == E_IO:
        return errors.storage_error(sys_errno, shown, op)
    if code == E_NOMEM:
        return MemoryError(f"{op}: out of memory")
    if code == E_INVAL:
        return errors.InternalError(f"{op}: invalid argument" + (f" ({shown})" if shown else ""), path=shown)
    cls = _SIMPLE.get(code)
    if cls is None:
        return errors.InternalError(f"unknown native status {code} from {op}")
    detail = (cls.__doc__ or "").strip().splitlines()[0]
    where = f"{shown}: " if shown else ""
    reason = f" ({os.strerror(sys_errno)})" if sys_errno else ""
    return cls(f"{where}{detail}{reason}", path=shown, op=op, errno=sys_errno or None)
