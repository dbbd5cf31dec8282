"""Trees on disk: copy-on-write clones, no-follow scans, and what a volume can do.

`bodega.fs` is this module.  Everything here runs in native code without the GIL and never
follows a link out of a tree.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import Callable, Literal

from bodega._native.clone import (
    CloneFileResult,
    CloneProgress,
    CloneTreeResult,
    FsInfo,
)
from bodega._native import clone as _clone
from bodega._native.scan import Entry, Kind, Scan, scan
from bodega.errors import os_error

__all__ = [
    "CloneFileResult", "CloneProgress", "CloneTreeResult", "Entry", "FsInfo", "Kind", "Scan",
    "clone_file", "clone_tree", "fs_info", "probe_cow", "scan",
]

PathArg = str | bytes | os.PathLike
CloneMode = Literal["auto", "require", "never"]


def clone_tree(src: PathArg, dst: PathArg, *, progress: Callable[[CloneProgress], object] | None = None,
               threads: int | None = None, mode: CloneMode = "auto") -> CloneTreeResult:
    """Clones the directory tree src to the new path dst copy-on-write, all or nothing."""
    return _clone.clone_tree(src, dst, progress=progress, threads=threads, mode=mode)


def clone_file(src: PathArg, dst: PathArg, *, mode: CloneMode = "auto") -> CloneFileResult:
    """Clones the regular file src to the new path dst with its metadata."""
    return _clone.clone_file(src, dst, mode=mode)


def _existing_dir(path: PathArg) -> Path:
    """path, or its nearest existing ancestor when it does not exist yet."""
    p = Path(os.fsdecode(os.fspath(path))).absolute()
    try:
        while not p.exists() and p != p.parent:
            p = p.parent
        return p if p.is_dir() else p.parent
    except OSError as e:  # a name too long, a loop of links...: not ENOENT, which exists() answers
        raise os_error(e, "find the volume of", p) from None


def given_directory(path: PathArg, op: str) -> Path:
    """path, absolute, when it is a directory (through links); else the error op met."""
    p = Path(os.fsdecode(os.fspath(path))).absolute()
    try:
        mode = p.stat().st_mode
    except OSError as e:  # missing, a name too long, no permission, a loop of links
        raise os_error(e, op, p) from None
    if not stat.S_ISDIR(mode):
        raise os_error(NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(p)), op, p)
    return p


def fs_info(path: PathArg) -> FsInfo:
    """The volume holding path (or its nearest existing ancestor), with a trial clone."""
    return _clone.fs_info(_existing_dir(path))


def probe_cow(path: PathArg) -> bool:
    """True when the volume holding path can clone files copy-on-write."""
    return fs_info(path).can_clone
