"""Counted write-type steps: the native core's and the Python layers' in one count (cffi back end).

This back end is one compiled module, so the core it links has one plan for the process.
"""
from __future__ import annotations

import os

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._status import new_error

KINDS = tuple(ffi.string(lib.bd_step_name(k)).decode() for k in range(lib.BD_STEP_KINDS))

# Whether any plan is armed (the environment, or arm()): callers skip step() when not.
armed = bool(os.environ.get("BODEGA_FAULT_STEP"))


def arm(spec: str | None, log: str | os.PathLike | None = None) -> None:
    """Arms the process's plan ("trace", "kill@N", "EIO@write:3", ... ; "" disarms); resets the count."""
    global armed
    s = os.fsencode(spec or "")
    log_path = os.fsencode(log) if log else b""
    if lib.bd_fault_arm(s, log_path) != 0:
        raise ValueError(f"not a fault plan: {spec!r}")
    armed = bool(spec)


def count() -> int:
    """Write-type steps counted since the plan was armed."""
    return lib.bd_fault_count()


def step(kind: str, path: str | bytes | os.PathLike | None) -> None:
    """Counts one write-type step of kind on path; raises the planned StorageError, or dies, there."""
    k = KINDS.index(kind)
    raw = os.fsencode(path) if path is not None else b""
    e = new_error()
    if lib.bd_fault_step(k, raw, len(raw), e) != lib.BD_OK:
        raise errors.storage_error(e.sys_errno, os.fsdecode(raw) if raw else None, ffi.string(e.op).decode())
