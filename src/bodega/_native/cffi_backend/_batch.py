"""What every batch binding needs: its thread count, its root's handle, its paths checked (cffi)."""
from __future__ import annotations

import os
import re

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressRelay, raise_failure
from bodega._native.cffi_backend._status import new_error

# Relative, '/'-separated, no empty, '.' or '..' component, no NUL (one regex: 100k paths).
_PLAIN_RELATIVE = re.compile(rb"(?!\.\.?(?:/|\Z))[^/\0]+(?:/(?!\.\.?(?:/|\Z))[^/\0]+)*\Z")


def thread_count(threads: object) -> int:
    """The C thread count for a `threads` argument (None: one per CPU)."""
    if threads is None:
        return 0
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise errors.InvalidInput(f"threads must be a positive integer or None, not {threads!r}")
    return min(threads, 1024)


def open_dir(path: bytes, relay: ProgressRelay) -> object:
    """Opens a directory the caller named (its earlier components may be links); a bd_dir *."""
    e = new_error()
    out = ffi.new("bd_dir **")
    if lib.bd_dir_open(path, out, e) != lib.BD_OK:
        raise_failure(e, relay, None)
    return out[0]


def batch_path(path: object) -> bytes:
    """A batch path as bytes, checked: relative, '/'-separated, no empty, '.' or '..' part."""
    raw = path.encode("utf-8", "surrogateescape") if type(path) is str else os.fsencode(path)
    if not _PLAIN_RELATIVE.match(raw):
        raise errors.InvalidInput(f"not a relative path of plain names: {os.fsdecode(raw)!r}")
    return raw
