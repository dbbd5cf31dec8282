"""7z archives through py7zr (LZMA, LZMA2, BCJ, BZip2, ...: what sevenzip_reader does not read itself):
the header lists members; a thread decompresses their data in order."""
from __future__ import annotations

import queue
import stat
import threading
from collections.abc import Iterator
from typing import Any

import py7zr
import py7zr.exceptions
import py7zr.io

from bodega import errors
from bodega.storage.archive.member import DIR, FILE, SPECIAL, SYMLINK, Member
from bodega.storage.archive.reader import Archive, damage_error, is_damage
from bodega.storage.archive.sevenzip_format import LINK_MAX, link_target
from bodega.storage.archive.sniff import SEVENZIP

QUEUE_CHUNKS = 32  # decompressed chunks in flight between the thread and the reader
_DONE = object()


class _Stop(Exception):
    """Raised into py7zr's writer to stop decompressing when the reader stops early."""


class _Bridge(py7zr.io.WriterFactory):
    """Hands py7zr's pushed writes to a pulling reader through a bounded queue."""

    def __init__(self) -> None:
        self.q: queue.Queue[tuple[str, Any]] = queue.Queue(QUEUE_CHUNKS)
        self.stop = threading.Event()

    def put(self, item: tuple[str, Any]) -> None:
        while not self.stop.is_set():
            try:
                self.q.put(item, timeout=0.1)
                return
            except queue.Full:
                continue
        raise _Stop()

    def create(self, filename: str) -> py7zr.io.Py7zIO:
        self.put(("start", filename))
        return _Writer(self)


class _Writer(py7zr.io.Py7zIO):
    def __init__(self, bridge: _Bridge) -> None:
        self._bridge = bridge
        self._size = 0

    def write(self, s: bytes | bytearray) -> int:
        self._bridge.put(("data", bytes(s)))
        self._size += len(s)
        return len(s)

    def read(self, size: int | None = None) -> bytes:
        return b""

    def seek(self, offset: int, whence: int = 0) -> int:
        return 0

    def flush(self) -> None:
        return None

    def size(self) -> int:
        return self._size

    def close(self) -> None:
        self._bridge.put(("end", None))


class _MemberStream:
    """One member's data from the bridge; read it whole before the next member."""

    def __init__(self, bridge: _Bridge, fail: Any) -> None:
        self._bridge, self._fail = bridge, fail
        self._buf = bytearray()
        self._ended = False

    def _next(self) -> bool:
        kind, value = self._bridge.q.get()
        if kind == "data":
            self._buf += value
            return True
        if kind == "end":
            self._ended = True
            return False
        raise self._fail(value)

    def read(self, n: int = -1) -> bytes:
        while not self._ended and (n < 0 or len(self._buf) < n):
            self._next()
        if n < 0 or n >= len(self._buf):
            out = bytes(self._buf)
            self._buf.clear()
            return out
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def drain(self) -> None:
        while not self._ended:
            self._buf.clear()
            self._next()
        self._buf.clear()

    def close(self) -> None:
        return None

    def __enter__(self) -> "_MemberStream":
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _kind(f: Any) -> tuple[str, int, str]:
    fmt = f.st_fmt or 0
    mode = (f.posix_mode or 0) & 0o7777
    if f.is_directory:
        return DIR, mode or 0o755, ""
    if f.is_symlink or f.is_junction:
        return SYMLINK, 0o777, ""
    if f.is_socket or fmt in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        names = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "fifo"}
        return SPECIAL, mode, names.get(fmt, "socket")
    if not mode:
        mode = 0o444 if f.readonly else 0o644
    return FILE, mode, ""


class Py7zrArchive(Archive):
    """A 7z file read by py7zr: members from its header; data streamed from a decompressing thread, in order."""

    format = SEVENZIP

    def __init__(self, path: str) -> None:
        super().__init__(path)
        try:
            self._raw = open(self.path, "rb")
        except OSError as e:
            raise errors.os_error(e, "open archive", self.path) from None
        try:
            # A file object (not a path) keeps py7zr to one thread, so data comes in header order.
            self._sz = py7zr.SevenZipFile(self._raw, mode="r")
            if self._sz.password_protected:
                raise errors.NotSupported(f"{self.path}: encrypted 7z archives are not supported")
            self._files = list(self._sz.files)
            self._members = [self._member(f) for f in self._files]
        except Exception as exc:
            self._raw.close()
            raise self._error(exc, None) from None

    def _error(self, exc: BaseException, member: str | None) -> BaseException:
        if isinstance(exc, (py7zr.exceptions.ArchiveError, py7zr.exceptions.CrcError,
                            py7zr.exceptions.DecompressionError)) or is_damage(exc):
            return damage_error(exc, self.path, member)
        if isinstance(exc, py7zr.exceptions.UnsupportedCompressionMethodError):
            return errors.NotSupported(f"{self.path}: {exc}")
        if isinstance(exc, Exception) and not isinstance(exc, (errors.BodegaError, OSError, MemoryError)):
            # py7zr's parser fails on hostile headers in many ways (TypeError for a field it does not
            # know, AssertionError on its assumptions: found by fuzz_archive once it passed the CRCs)
            return damage_error(exc, self.path, member)
        return exc

    def _member(self, f: Any) -> Member:
        name = f.filename.encode("utf-8", "surrogateescape")
        kind, mode, detail = _kind(f)
        when = f.lastwritetime
        mtime_ns = int(when.totimestamp() * 1_000_000_000) if when is not None else None
        size = int(f.uncompressed or 0) if kind == FILE else 0
        return Member(name=name, kind=kind, mode=mode, size=size, mtime_ns=mtime_ns, detail=detail)

    @property
    def listing(self) -> list[Member]:
        """Every member, from the header (symlink targets are read while iterating)."""
        return list(self._members)

    def __iter__(self) -> Iterator[Member]:
        bridge = _Bridge()
        failure: list[BaseException] = []

        def produce() -> None:
            try:
                self._sz.extractall(factory=bridge)
            except _Stop:
                return
            except BaseException as exc:  # handed to the reader, raised there
                failure.append(exc)
            try:
                bridge.put(("done", None))
            except _Stop:
                return

        def fail(_value: Any) -> BaseException:
            if failure:
                return self._error(failure[0], current)
            return errors.ArchiveCorrupt(f"{self.path}: member {current!r}: data missing", member=current)

        worker = threading.Thread(target=produce, name="7z-reader", daemon=True)
        worker.start()
        current: str | None = None
        # py7zr creates the empty files (no stream) first, then the others in header order:
        # a start for an empty file out of turn is taken (and ended) when it comes.
        empty = {f.filename for f, m in zip(self._files, self._members)
                 if m.kind != DIR and not f.is_socket and f.emptystream}
        done_empty: set[str] = set()

        def start_of(name: str) -> None:
            while True:
                kind, value = bridge.q.get()
                if kind != "start":
                    raise fail(None)
                if value == name:
                    return
                if value not in empty:
                    raise fail(None)
                if bridge.q.get()[0] != "end":
                    raise fail(None)
                done_empty.add(value)

        try:
            for f, m in zip(self._files, self._members):
                current = m.shown
                if m.kind == DIR or f.is_socket:
                    yield m
                    continue
                if f.filename in done_empty:
                    yield m  # an empty file whose start and end came earlier: nothing to read
                    continue
                start_of(f.filename)
                stream = _MemberStream(bridge, fail)
                if m.kind == SYMLINK:
                    target = stream.read(LINK_MAX + 1)
                    stream.drain()
                    yield Member(name=m.name, kind=SYMLINK, mode=m.mode, size=0, mtime_ns=m.mtime_ns,
                                 link=link_target(target, self.path, current))
                    continue
                if m.kind != FILE:
                    stream.drain()
                    yield m
                    continue
                yield Member(name=m.name, kind=FILE, mode=m.mode, size=m.size, mtime_ns=m.mtime_ns,
                             _opener=lambda stream=stream: stream)  # type: ignore[misc]
                stream.drain()
        finally:
            bridge.stop.set()
            worker.join()

    def close(self) -> None:
        """Closes the archive."""
        try:
            self._sz.close()
        finally:
            self._raw.close()
