"""What the store and the snapshot engine ask of a volume: clones, durability and file locks."""
from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import time
from pathlib import Path
from typing import Sequence

from bodega import errors
from bodega._native import clone as _clone
from bodega._native.clone import ClonedFile

# What a volume that cannot clone (or a clone across volumes) raises: callers fall back to copying.
CANNOT_CLONE = (errors.NotSupported, errors.CrossDevice)


def clone_file(src: Path, dest: Path) -> None:
    """Creates dest (which must not exist) as a copy-on-write clone of the file src (never a link).

    Raises one of CANNOT_CLONE where the volume cannot clone: no byte is ever copied.
    """
    _clone.clone_file(src, dest, mode="require")


def clone_files(root: str | bytes, relpaths: Sequence[bytes], dest_dir: Path, names: Sequence[str]) -> list[ClonedFile]:
    """Clones many files under root into new files of dest_dir (data only), one result each.

    A result whose error is one of CANNOT_CLONE is a file the volume cannot clone: nothing
    was copied and nothing is left in dest_dir.
    """
    return _clone.clone_files(root, relpaths, dest_dir, names, threads=1)


def can_clone(directory: Path) -> bool:
    """True when a trial clone inside directory works (proven, not guessed from the fs type)."""
    return _clone.probe_cow(directory)


def fsync_path(path: Path) -> None:
    """Flushes a file or a directory (its entries: renames into it) to disk."""
    if os.name == "nt" and path.is_dir():
        return  # Windows has no directory fsync; NTFS journals renames
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) * path.is_dir() | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


_libc = None


def _linux_call(name: str):
    """The Linux libc function name, or None elsewhere (or on a libc without it)."""
    global _libc
    if not sys.platform.startswith("linux"):
        return None
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    return getattr(_libc, name, None)


def _syncfs(directory: Path) -> bool:
    """syncfs(2) of directory's volume; False where there is none."""
    syncfs = _linux_call("syncfs")
    if syncfs is None:
        return False
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise errors.storage_error(err, str(directory), "syncfs")
    finally:
        os.close(fd)
    return True


def sync_files(paths: Sequence[str | bytes | os.PathLike[str]], directory: Path) -> None:
    """Makes regular files durable: one syncfs of their volume for many, else an fsync each."""
    if len(paths) > 16 and _syncfs(directory):
        return
    for p in paths:
        fd = os.open(p, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def lock_file(fd: int, exclusive: bool, timeout: float | None, what: str) -> None:
    """Locks an open file (flock), waiting up to timeout seconds (None: for ever) before StoreBusy."""
    import fcntl

    op = (fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH) | fcntl.LOCK_NB
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    while True:
        try:
            fcntl.flock(fd, op)
            return
        except BlockingIOError:
            if deadline is not None and time.monotonic() >= deadline:
                kind = "exclusively" if exclusive else "shared"
                raise errors.StoreBusy(f"{what} is in use: cannot lock it {kind} (waited {timeout:g} s)") from None
            time.sleep(delay)
            delay = min(delay * 2, 0.1)

