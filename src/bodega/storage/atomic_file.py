"""Writing a file so that readers and crashes see the old content or the new, never a mix.

Only a regular file (or nothing) at the target is replaced.  A symlink there is refused: it
is neither replaced nor followed.  A device or a fifo is written through when the caller
asks for it (a user's `-o /dev/null`, `-o /dev/full`, a pipe), as a shell's `>` would, and
refused otherwise; the node itself is never replaced by a regular file.
"""
from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from bodega import errors
from bodega.storage.tree import Dir, remove_quietly


def _what_is_at(path: Path) -> os.stat_result | None:
    """The lstat of path (the link itself, never its target), or None when nothing is there."""
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as e:
        raise errors.os_error(e, "write", path) from None


def write_file_atomic(path: Path, data: bytes, *, through_special: bool = False) -> None:
    """Replaces the regular file at path (or creates it) with data: temp file in the same
    directory, fsync, rename, fsync the directory.

    A symlink at path is UnsafePath, a directory IsADirectory; a device or fifo is written
    through when through_special (SpecialFile otherwise, and always for a socket).
    """
    st = _what_is_at(path)
    if st is not None and not stat.S_ISREG(st.st_mode):
        if stat.S_ISLNK(st.st_mode):
            raise errors.UnsafePath(f"{path} is a symbolic link: bodega neither replaces nor follows it "
                                    "(give the file it points to, or remove the link)", path=str(path))
        if stat.S_ISDIR(st.st_mode):
            raise errors.storage_error(errno.EISDIR, str(path), "write")
        if not through_special or stat.S_ISSOCK(st.st_mode):
            raise errors.SpecialFile(f"{path} is a special file (device, fifo or socket): not replaced",
                                     path=str(path))
        _write_through(path, data, st)
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with Dir.open(path.parent) as d:
            # 0o666 so the umask applies, as for any file the user writes.
            with d.create_mode_at(tmp.name, 0o666) as f:
                try:
                    f.write(data)
                    f.sync()
                    f.close()
                    os.replace(tmp, path)
                except BaseException:
                    remove_quietly(d, os.fsencode(tmp.name))
                    raise
            d.sync()
    except OSError as e:
        raise errors.os_error(e, "write", e.filename or path) from None


def _write_through(path: Path, data: bytes, seen: os.stat_result) -> None:
    """Writes data into the device or fifo at path, the one lstat saw there.

    Opened without create or truncate and never through a link, so opening changes nothing;
    then the open file must be the node lstat saw (anything swapped in meanwhile is refused).
    """
    try:
        with Dir.open(path.parent) as d, d.open_write_at(path.name) as f:
            now = f.stat()
            if (now.volume_id, now.file_id) != (seen.st_dev, seen.st_ino) or now.kind == "file":
                raise errors.UnsafePath(f"{path} changed while it was opened: not written", path=str(path))
            f.write(data)
    except OSError as e:
        raise errors.os_error(e, "write", path) from None
