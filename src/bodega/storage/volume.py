"""What the store and the snapshot engine ask of a volume: clones, durability and file locks."""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Sequence

from bodega import errors
from bodega._native import clone as _clone
from bodega._native.clone import ClonedFile
from bodega._native.tree import Dir, File

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
    """Flushes a file or a directory (its entries: renames into it) to disk, never through a link."""
    if path.is_dir():
        with Dir.open(path) as d:
            d.sync()
        return
    with Dir.open(path.parent) as d:
        d.sync_at(path.name)


def sync_files(paths: Sequence[str | bytes | os.PathLike[str]], directory: Path) -> bool:
    """Makes regular files durable: one flush of their volume for many (True: their
    directories' entries are durable too), else a flush each (False)."""
    if len(paths) > 16:
        with Dir.open(directory) as d:
            if d.sync_volume():
                return True
    for p in paths:
        fsync_path(Path(os.fsdecode(p)))
    return False


def sync_tree(path: Path) -> None:
    """Makes the tree at path durable, its files' data and its directories' entries: one flush
    of its volume where the system has one, else a flush of each (never through a link)."""
    with Dir.open(path) as root:
        if root.sync_volume():
            return
        _sync_dir(root)


def _sync_dir(d: Dir) -> None:
    for name, st in d.list():
        if st.kind == "file":
            d.sync_at(name)
        elif st.kind == "dir":
            with d.open_at(name) as sub:
                _sync_dir(sub)
    d.sync()


def open_lock_file(path: Path) -> File:
    """The file at path opened to be locked (created, mode 0644, when missing), never through a link."""
    with Dir.open(path.parent) as d:
        try:
            f = d.create_at(path.name)
        except errors.PathExists:
            return d.open_read_at(path.name)
        with f:
            f.set_meta(mode=0o644)  # others' shared locks need to open it
        return d.open_read_at(path.name)


def lock_file(f: File, exclusive: bool, timeout: float | None, what: str) -> None:
    """Locks an open file, waiting up to timeout seconds (None: for ever) before StoreBusy."""
    deadline = None if timeout is None else time.monotonic() + timeout
    delay = 0.005
    while not f.lock(exclusive):
        if deadline is not None and time.monotonic() >= deadline:
            kind = "exclusively" if exclusive else "shared"
            raise errors.StoreBusy(f"{what} is in use: cannot lock it {kind} (waited {timeout:g} s)") from None
        time.sleep(delay)
        delay = min(delay * 2, 0.1)
