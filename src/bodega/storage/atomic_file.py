"""Writing a file so that readers and crashes see the old content or the new, never a mix."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from bodega.errors import storage_error


def fsync_dir(path: Path) -> None:
    """Flushes a directory's entries (a rename in it) to disk; Windows has no directory fsync."""
    if os.name == "nt":
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_file_atomic(path: Path, data: bytes) -> None:
    """Replaces path with data: temp file in the same directory, fsync, rename, fsync the directory."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        # 0o666 so the umask applies, as for any file the user writes.
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        fsync_dir(path.parent)
    except OSError as e:
        if e.errno is None:
            raise
        raise storage_error(e.errno, e.filename or str(path), "write") from e
