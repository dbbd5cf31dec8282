"""What the store and the snapshot engine ask of a volume: clones, durability and file locks."""
from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import time
from pathlib import Path

from bodega import errors

try:  # the native clone (bd_clone.h) when it is built
    from bodega.storage import fs as _fs
except ImportError:  # pragma: no cover - until the clone layer lands
    _fs = None

FICLONE = 0x40049409  # Linux _IOW(0x94, 9, int)
_NO_CLONE = {errno.EOPNOTSUPP, errno.ENOTSUP, errno.EINVAL, errno.ENOTTY, errno.ENOSYS, errno.EPERM}


def _clone_error(e: OSError, dest: Path) -> errors.BodegaError:
    if e.errno == errno.EXDEV:
        return errors.CrossDevice(f"cannot clone across volumes into {dest}", path=str(dest))
    if e.errno in _NO_CLONE:
        return errors.CloneNotSupported(f"the volume of {dest} cannot clone files", path=str(dest))
    return errors.storage_error(e.errno or errno.EIO, str(dest), "clone")


def clone_fd(src_fd: int, dest: Path) -> None:
    """Creates dest (which must not exist) as a copy-on-write clone of the open file src_fd."""
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    try:
        import fcntl

        fcntl.ioctl(fd, FICLONE, src_fd)
    except OSError as e:
        os.close(fd)
        os.unlink(dest)
        raise _clone_error(e, dest) from e
    except BaseException:
        os.close(fd)
        os.unlink(dest)
        raise
    os.close(fd)


def clone_file(src: Path, dest: Path) -> None:
    """Creates dest (which must not exist) as a copy-on-write clone of the file src (never a link)."""
    if _fs is not None and hasattr(_fs, "clone_file"):
        _fs.clone_file(src, dest, mode="require")
        return
    try:
        fd = os.open(src, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise errors.storage_error(e.errno or errno.EIO, str(src), "open") from e
    try:
        clone_fd(fd, dest)
    finally:
        os.close(fd)


def can_clone(directory: Path) -> bool:
    """True when a trial clone inside directory works (proven, not guessed from the fs type)."""
    probe = directory / f".probe-{os.getpid()}-{time.monotonic_ns()}"
    copy = probe.with_suffix(".clone")
    try:
        probe.write_bytes(b"bodega clone probe\n")
        clone_file(probe, copy)
        return True
    except (errors.CloneNotSupported, errors.CrossDevice):
        return False
    except OSError:
        return False
    finally:
        probe.unlink(missing_ok=True)
        copy.unlink(missing_ok=True)


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


def _syncfs(directory: Path) -> bool:
    """syncfs(2) of directory's volume; False where there is none."""
    global _libc
    if not hasattr(os, "sched_getaffinity"):  # not Linux
        return False
    if _libc is None:
        _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    if not hasattr(_libc, "syncfs"):
        return False
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        if _libc.syncfs(fd) != 0:
            err = ctypes.get_errno()
            raise errors.storage_error(err, str(directory), "syncfs")
    finally:
        os.close(fd)
    return True


def sync_files(paths: list[Path], directory: Path) -> None:
    """Makes files durable: one syncfs of their volume for many, else an fsync each."""
    if len(paths) > 16 and _syncfs(directory):
        return
    for p in paths:
        fsync_path(p)


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
