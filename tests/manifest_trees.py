"""Trees and observers for the manifest tests: a tree with every kind of entry, and the
files a piece of code opens, seen by the kernel through inotify."""
from __future__ import annotations

import ctypes
import os
import stat
import struct
import time
from pathlib import Path
from typing import Callable, Iterator

RACY_WINDOW_NS = 1_000_000_000  # bodega's racy window where file times have sub-second stamps
COARSE_WINDOW_NS = 2_000_000_000  # and where every stamp is a whole second


def later() -> int:
    """A wall clock one racy window ahead (the coarse one, so any volume): a scan stamped by it
    trusts every file written before it, as a scan run that much later would.  A test passes
    it as a scan's clock instead of sleeping out the window.  A file changed after such a scan
    is still told by its stat (size, mtime, ctime, inode): since Linux 6.13, a change after a
    stat query gets a newer ctime, even within a timestamp tick."""
    return time.time_ns() + COARSE_WINDOW_NS + 1


def just_written(root: Path, fresh: Path, data: bytes) -> Callable[[], int]:
    """Writes data to fresh, in a later timestamp tick than every other file below root, and
    returns the clock of a scan that runs just after: fresh in the scan's racy window, every
    other file a window older (on a volume with sub-second stamps)."""
    newest = max(max(st.st_mtime_ns, st.st_ctime_ns) for st in _file_stats(root, fresh))
    while True:  # until the kernel's timestamp tick has moved on (a few ms at most)
        fresh.write_bytes(data)
        st = os.stat(fresh)
        if min(st.st_mtime_ns, st.st_ctime_ns) > newest:
            break
    start = min(st.st_mtime_ns, st.st_ctime_ns) + RACY_WINDOW_NS  # the window ends at fresh's stamp
    return lambda: start


def _file_stats(root: Path, but: Path) -> Iterator[os.stat_result]:
    """The stats of the regular files below root, but one."""
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if stat.S_ISREG(st.st_mode) and path != str(but):
                yield st


def make_tree(root: Path) -> Path:
    """Files of several sizes, an empty file, nested directories, a symlink, an executable,
    names with a space, a backslash, a newline and bytes that are not UTF-8."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "a-b").mkdir()
    (root / "a.txt").write_bytes(b"hello\n")
    (root / "a" / "one.bin").write_bytes(os.urandom(5000))
    (root / "a" / "b" / "c" / "deep.txt").write_bytes(b"deep " * 300)
    (root / "a" / "b" / "big.bin").write_bytes(os.urandom(3 << 20))
    (root / "a-b" / "x").write_bytes(b"x")
    (root / "empty").write_bytes(b"")
    (root / "run.sh").write_bytes(b"#!/bin/sh\necho hi\n")
    os.chmod(root / "run.sh", 0o755)
    (root / "sp ace").write_bytes(b"space")
    (root / "back\\slash").write_bytes(b"backslash")
    (root / "new\nline").write_bytes(b"newline")
    (root / "é.txt").write_bytes("é".encode())
    with open(os.path.join(os.fsencode(root), b"latin\xe9"), "wb") as f:
        f.write(b"latin-1 name")
    os.symlink("a.txt", root / "link")
    os.symlink("nowhere/at/all", root / "dangling")
    return root


IN_OPEN = 0x20
IN_ISDIR = 0x40000000
IN_NONBLOCK = 0o4000
_EVENT = struct.Struct("iIII")


class Opens:
    """Records the regular files opened below root (inotify IN_OPEN on every directory)."""

    def __init__(self, root: Path) -> None:
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(IN_NONBLOCK)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1")
        self.dirs: dict[int, bytes] = {}
        base = os.fsencode(root)
        for dirpath, _dirs, _files in os.walk(base):
            wd = self.libc.inotify_add_watch(self.fd, dirpath, IN_OPEN)
            if wd < 0:
                raise OSError(ctypes.get_errno(), "inotify_add_watch")
            rel = os.path.relpath(dirpath, base)
            self.dirs[wd] = b"" if rel == b"." else rel + b"/"

    def files(self) -> set[bytes]:
        """Relative paths of the files opened since the start (directories left out)."""
        # inotify queues an event in the open call itself: every open so far is in the queue
        out: set[bytes] = set()
        while True:
            try:
                buf = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            i = 0
            while i < len(buf):
                wd, mask, _cookie, length = _EVENT.unpack_from(buf, i)
                name = buf[i + _EVENT.size:i + _EVENT.size + length].rstrip(b"\0")
                i += _EVENT.size + length
                if name and not mask & IN_ISDIR:
                    out.add(self.dirs.get(wd, b"?/") + name)
        return out

    def close(self) -> None:
        os.close(self.fd)
