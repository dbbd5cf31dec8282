"""A bd_error read into bodega._native.status.native_error (the one translation), for cffi."""
from __future__ import annotations

from typing import NoReturn

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.status import native_error


def status_name(code: int) -> str:
    """Printable name of a native status code."""
    return ffi.string(lib.bd_status_name(code)).decode()


def new_error() -> object:
    """A cleared bd_error for one call."""
    e = ffi.new("bd_error *")
    lib.bd_error_clear(e)
    return e


def error_of(e: object, src: object = None, dst: object = None) -> BaseException:
    """The exception for the failed call that filled e (src/dst: the roots e.path may be relative to)."""
    op = ffi.string(e.op).decode("utf-8", "replace") if e.op != ffi.NULL else ""
    return native_error(e.code, e.sys_errno, op, ffi.string(e.path), bool(e.path_truncated), e.path_base, src, dst)


def raise_status(e: object, src: object = None, dst: object = None) -> None:
    """Raises the BodegaError for e, if it holds one."""
    if e.code != lib.BD_OK:
        raise error_of(e, src, dst)


def fail(e: object, src: object = None, dst: object = None) -> NoReturn:
    """Raises the BodegaError for e, which holds one."""
    raise error_of(e, src, dst)


def job_error(status: int, sys_errno: int, op: object, path: bytes, root: object) -> BaseException:
    """The BodegaError (returned, not raised) of one failed file of a batch, naming root/path."""
    e = new_error()
    lib.bd_fail_n(e, status, sys_errno, op if op != ffi.NULL else b"", lib.BD_PATH_SRC, path, len(path))
    if e.code == lib.BD_OK:
        return errors.InternalError("a failed batch job had no error")
    return error_of(e, root)
