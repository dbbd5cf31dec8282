"""Trees and observers for the manifest tests: a tree with every kind of entry, and the
files a piece of code opens, seen by the kernel through inotify."""
from __future__ import annotations

import ctypes
import os
import struct
import time
from pathlib import Path

RACY_WAIT = 1.1  # seconds: past bodega's 1 s racy window, so files written before are trusted


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
        time.sleep(0.05)  # events are queued asynchronously
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
