"""What the archive writers write: entries in order, and where a file entry's bytes come from.

An ArchiveEntry is one member to write (a directory, a symlink or a file) with its name in
the archive and the metadata the package keeps; a ContentSource gives the bytes of file
entries, each checked against its BLAKE3 hash as it is read, so a package never carries
bytes its manifest does not vouch for.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple, Protocol, TypeVar

import isal.isal_zlib as _isal

from bodega import errors

if TYPE_CHECKING:
    from bodega.storage.archive.sink import Sink

FILE, DIR, SYMLINK = "file", "dir", "symlink"
BIG_FILE = 64 << 20      # a file larger than this is streamed in pieces instead of read whole
PIECE = 4 << 20          # the pieces a big file is streamed in
DEFLATE_LEVEL = 1        # ISA-L's level 1: zip -1's size at several times its speed
SOLID_LEVEL = 3          # ISA-L's level 3 for 7z's solid folders: within 2% of `7z a -mx1`, far faster
PROBE = 16 << 10         # bytes deflated to tell data that does not shrink (compressed media, archives)
PROBE_RATIO = 0.97

T = TypeVar("T")
R = TypeVar("R")


class ArchiveEntry(NamedTuple):
    """One member to write: name (bytes, '/'-separated), kind, st_mode, Windows attrs, size, mtime, hash, link."""

    name: bytes
    kind: str
    mode: int
    attrs: int
    size: int
    mtime_ns: int
    hash: bytes | None
    link: bytes | None

    @property
    def shown(self) -> str:
        """The name for messages."""
        return self.name.decode("utf-8", "backslashreplace")


class ContentSource(Protocol):
    """The bytes of file entries, each checked against its hash."""

    def read_many(self, entries: list[ArchiveEntry]) -> list[bytes | memoryview]:
        """The whole contents of small files, in order."""

    def stream(self, entry: ArchiveEntry, sink: Callable[[bytes | memoryview], object]) -> None:
        """A big file's contents in pieces (raises after the last piece if they do not match the hash)."""


Progress = Callable[[int], object]   # bytes of file content done
Cancel = Callable[[], bool]


def batches(entries: Iterable[ArchiveEntry], most_files: int, most_bytes: int) -> Iterator[list[ArchiveEntry]]:
    """Entries in order, cut into runs of at most most_files files or most_bytes bytes; a big file alone."""
    part: list[ArchiveEntry] = []
    files = size = 0
    for e in entries:
        big = e.kind == FILE and e.size > BIG_FILE
        if part and (big or files == most_files or (e.kind == FILE and size + e.size > most_bytes)):
            yield part
            part, files, size = [], 0, 0
        part.append(e)
        if big:
            yield part
            part = []
            continue
        if e.kind == FILE:
            files += 1
            size += e.size
    if part:
        yield part


def is_big(batch: list[ArchiveEntry]) -> bool:
    """True for the batch of one big file, which is streamed."""
    return len(batch) == 1 and batch[0].kind == FILE and batch[0].size > BIG_FILE


def ordered(pool: ThreadPoolExecutor, fn: Callable[[T], R], items: Iterable[T], window: int,
            inline: Callable[[T], bool] = lambda item: False) -> Iterator[tuple[T, R | None]]:
    """(item, fn(item)) in order, fn running on the pool at most window items ahead; items for
    which inline() is true are yielded with None once everything before them is (the caller handles them)."""
    pending: list[tuple[T, Future[R] | None]] = []
    try:
        for item in items:
            if inline(item):
                while pending:
                    head, fut = pending.pop(0)
                    yield head, fut.result() if fut is not None else None
                yield item, None
                continue
            pending.append((item, pool.submit(fn, item)))
            while len(pending) > window:
                head, fut = pending.pop(0)
                yield head, fut.result() if fut is not None else None
        while pending:
            head, fut = pending.pop(0)
            yield head, fut.result() if fut is not None else None
    finally:
        for _, fut in pending:
            if fut is not None:
                fut.cancel()


def shrinks(data: bytes | memoryview) -> bool:
    """Whether deflate is worth trying: its first PROBE bytes shrink by 3% or more."""
    head = data[:PROBE]
    return len(head) > 0 and len(_isal.compress(head, DEFLATE_LEVEL, -15)) < PROBE_RATIO * len(head)


def deflate(data: bytes | memoryview, level: int = DEFLATE_LEVEL) -> bytes:
    """Raw deflate (no zlib header) of data, without the GIL."""
    return _isal.compress(data, level, -15)


def deflater(level: int = DEFLATE_LEVEL) -> "_isal.Compress":
    """A raw-deflate compressor for data fed in pieces."""
    return _isal.compressobj(level, _isal.DEFLATED, -15)


def deflate_streamed(e: ArchiveEntry, source: ContentSource, sink: "Sink", progress: Progress | None, done: int,
                     cancel: Cancel | None) -> tuple[int, int]:
    """Streams a file's content from source into sink, deflated; returns its CRC-32 and size."""
    c = deflater()
    crc = size = 0

    def piece(data: bytes | memoryview) -> None:
        nonlocal crc, size
        if cancel is not None and cancel():
            raise errors.Cancelled("export cancelled")
        crc = crc32(data, crc)
        size += len(data)
        out = c.compress(data)
        if out:
            sink.write(out)
        if progress is not None:
            progress(done + size)

    source.stream(e, piece)
    sink.write(c.flush())
    return crc, size


def crc32(data: bytes | memoryview, value: int = 0) -> int:
    """The CRC-32 zip and 7z record (ISA-L's, several times zlib's speed)."""
    return _isal.crc32(data, value)
