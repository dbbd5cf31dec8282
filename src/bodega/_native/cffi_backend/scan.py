"""A tree scanned into the compact C table of bd_scan.h, with Entry objects made only when an
entry is asked for (cffi back end)."""
from __future__ import annotations

import operator
import os
from typing import Callable, Iterator

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressBridge
from bodega._native.cffi_backend._status import new_error, raise_status
from bodega._native.values import Kind


_KINDS = {k.value: k for k in Kind}


class Entry:
    """One scanned entry: a view on the Scan's C table (keeps the Scan alive)."""

    __slots__ = ("_scan", "_e", "index")

    def __init__(self) -> None:
        raise TypeError("Entry objects come from a Scan")

    @property
    def path(self) -> bytes:
        """Relative path, '/'-joined bytes."""
        return ffi.unpack(self._scan._arena + self._e.path_off, self._e.path_len)

    @property
    def path_str(self) -> str:
        """Relative path decoded as UTF-8 (undecodable bytes as surrogates)."""
        return self.path.decode("utf-8", "surrogateescape")

    @property
    def name(self) -> str:
        """Last path component, decoded like path_str."""
        return self.path.rpartition(b"/")[2].decode("utf-8", "surrogateescape")

    @property
    def kind(self) -> Kind:
        """A Kind."""
        return _KINDS[self._e.kind]

    @property
    def mode(self) -> int:
        """POSIX st_mode (type and permission bits)."""
        return self._e.mode

    @property
    def size(self) -> int:
        """Size in bytes (a symlink's target length on POSIX)."""
        return self._e.size

    @property
    def alloc_size(self) -> int:
        """Bytes allocated on disk."""
        return self._e.alloc_size

    @property
    def mtime_ns(self) -> int:
        """Modification time, ns since the Unix epoch."""
        return self._e.mtime_ns

    @property
    def ctime_ns(self) -> int:
        """Status change time, ns since the Unix epoch."""
        return self._e.ctime_ns

    @property
    def file_id(self) -> int:
        """Inode number (the full 128-bit file id on Windows)."""
        return (self._e.file_id_hi << 64) | self._e.file_id

    @property
    def volume_id(self) -> int:
        """st_dev / volume serial number."""
        return lib.bd_scan_volume_id(self._scan._s, self._e.volume)

    @property
    def nlink(self) -> int:
        """Number of hard links."""
        return self._e.nlink

    @property
    def attrs(self) -> int:
        """Windows FILE_ATTRIBUTE_* bits (0 on POSIX)."""
        return self._e.attrs

    @property
    def reparse_tag(self) -> int:
        """Windows reparse tag (0 elsewhere)."""
        return self._e.reparse_tag

    @property
    def link_target(self) -> bytes | None:
        """The link's target as bytes, None for anything but a link."""
        e = self._e
        if e.kind != lib.BD_KIND_SYMLINK and e.link_len == 0:
            return None
        return ffi.unpack(self._scan._arena + e.path_off + e.path_len, e.link_len)

    @property
    def parent(self) -> int | None:
        """Index of the parent directory's entry, None at the top level."""
        return None if self._e.parent == lib.BD_SCAN_NO_PARENT else self._e.parent

    def __repr__(self) -> str:
        return f"<Entry {self.path!r} {self.kind.name.lower()} size={self.size}>"


class Scan:
    """The entries below a root, sorted by path bytes: a read-only sequence of Entry."""

    __slots__ = ("_s", "_entries", "_arena", "_n", "root")

    def __init__(self) -> None:
        raise TypeError("use bodega._native.scan.scan(path)")

    @property
    def nbytes(self) -> int:
        """Bytes of memory the C table holds."""
        return lib.bd_scan_nbytes(self._s)

    def __len__(self) -> int:
        return self._n

    def _entry(self, i: int) -> Entry:
        entry = Entry.__new__(Entry)
        entry._scan = self
        entry._e = self._entries + i
        entry.index = i
        return entry

    def __getitem__(self, index: int | slice) -> Entry | list[Entry]:
        if isinstance(index, slice):
            return [self._entry(i) for i in range(*index.indices(self._n))]
        i = index.__index__()
        if i < 0:
            i += self._n
        if i < 0 or i >= self._n:
            raise IndexError("scan index out of range")
        return self._entry(i)

    def __iter__(self) -> Iterator[Entry]:
        for i in range(self._n):
            yield self._entry(i)

    def __repr__(self) -> str:
        return f"<Scan {os.fsdecode(self.root)!r}: {self._n} entries, {self.nbytes} bytes>"


def scan(path: str | bytes | os.PathLike, *, progress: Callable[[int, int], object] | None = None,
         threads: int = 0) -> Scan:
    """Scans the tree below the directory path, never following a link."""
    root = os.fsencode(path)
    if b"\0" in root:
        raise errors.InvalidInput(f"path contains a NUL byte: {path!r}")
    threads = operator.index(threads)
    if threads < 0 or threads > lib.BD_SCAN_MAX_THREADS:
        raise errors.InvalidInput(f"threads must be 0 (one per CPU) to {lib.BD_SCAN_MAX_THREADS}, not {threads}")
    bridge = ProgressBridge(progress)
    out = ffi.new("bd_scan **")
    e = new_error()
    if lib.bd_scan_tree(root, threads, bridge.c, out, e) != lib.BD_OK:
        bridge.reraise()
        raise_status(e, src=root)
    result = Scan.__new__(Scan)
    result._s = ffi.gc(out[0], lib.bd_scan_free)
    result._entries = lib.bd_scan_entries(result._s)
    result._arena = lib.bd_scan_arena(result._s)
    result._n = lib.bd_scan_count(result._s)
    result.root = path
    return result
