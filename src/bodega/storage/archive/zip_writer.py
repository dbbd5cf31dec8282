"""Writing zip files: files deflated on every core and written in order, ZIP64 where needed.

Each file is read whole (a big one in pieces) and deflated by ISA-L on a worker thread; it
is stored instead when deflate does not make it smaller.  Local headers carry the sizes and
CRC (a reader streaming the file needs no central directory), except for big files, which
are deflated as they stream and end with a ZIP64 data descriptor.  Directories and symlinks
carry their Unix mode in the external attributes (a symlink's data is its target), every
entry its mtime in an extended-timestamp field.  ZIP64 records are written for any size or
offset past 4 GiB and for more than 65,535 entries (APPNOTE 6.3.10, section 4.5.3).
"""
from __future__ import annotations

import struct
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from bodega import errors
from bodega.storage.archive.entry import (
    DIR, FILE, SYMLINK, ArchiveEntry, Cancel, ContentSource, Progress, batches, crc32, deflate, deflate_streamed, is_big,
    ordered, shrinks,
)
from bodega.storage.archive.sink import Sink

LOCAL = struct.Struct("<IHHHHHIIIHH")
CENTRAL = struct.Struct("<IHHHHHHIIIHHHHHII")
DESCRIPTOR64 = struct.Struct("<IIQQ")
EOCD = struct.Struct("<IHHHHIIH")
EOCD64 = struct.Struct("<IQHHIIQQQQ")
LOCATOR64 = struct.Struct("<IIQI")
TIMESTAMP = struct.Struct("<HHBi")          # extended timestamp: tag, size, flags (mtime), mtime

LIMIT32 = 0xFFFFFFFF   # a field at this value means "see the ZIP64 extra field"
LIMIT16 = 0xFFFF
STORED, DEFLATED = 0, 8
FLAG_DESCRIPTOR, FLAG_UTF8 = 0x08, 0x800
MADE_BY = (3 << 8) | 45          # Unix, spec 4.5
VERSION_ZIP64, VERSION_DEFLATE, VERSION_STORED = 45, 20, 10
DOS_DIR, DOS_READONLY = 0x10, 0x01
WINDOWS_ATTRS = 0x7              # read-only, hidden, system: the manifest's attrs
S_IFLNK, S_IFDIR, S_IFREG = 0o120000, 0o040000, 0o100000
BATCH_FILES, BATCH_BYTES = 256, 16 << 20


@dataclass
class _Record:
    """What the central directory needs of one written entry."""

    name: bytes
    flags: int
    method: int
    dos_time: int
    dos_date: int
    crc: int
    csize: int
    usize: int
    external: int
    offset: int
    mtime: int | None


@dataclass
class ZipStats:
    """What a zip writer wrote."""

    entries: int = 0
    files: int = 0
    stored: int = 0
    deflated: int = 0
    bytes_in: int = 0
    bytes_out: int = 0
    zip64: bool = False


def dos_time(mtime_ns: int) -> tuple[int, int]:
    """(time, date) in MS-DOS format (UTC; 2 s steps), clamped to 1980..2107."""
    t = time.gmtime(max(0, mtime_ns) // 1_000_000_000)
    year = min(max(t.tm_year, 1980), 2107)
    if t.tm_year < 1980:
        return 0, (0 << 9) | (1 << 5) | 1
    return (t.tm_hour << 11) | (t.tm_min << 5) | (t.tm_sec // 2), ((year - 1980) << 9) | (t.tm_mon << 5) | t.tm_mday


def _unix_seconds(mtime_ns: int) -> int | None:
    s = mtime_ns // 1_000_000_000
    return s if -(1 << 31) <= s < (1 << 31) else None


def _flags(name: bytes) -> int:
    try:
        name.decode("utf-8")
    except UnicodeDecodeError:
        return 0  # kept as raw bytes; the package's manifest has the real name
    return FLAG_UTF8 if any(b >= 0x80 for b in name) else 0


def external_attrs(e: ArchiveEntry) -> int:
    """Unix mode in the high 16 bits, MS-DOS attributes in the low byte."""
    if e.kind == DIR:
        return ((S_IFDIR | (e.mode & 0o7777)) << 16) | DOS_DIR | (e.attrs & WINDOWS_ATTRS)
    if e.kind == SYMLINK:
        return (S_IFLNK | 0o777) << 16
    dos = (e.attrs & WINDOWS_ATTRS) | (DOS_READONLY if not e.mode & 0o200 else 0)
    return ((S_IFREG | (e.mode & 0o7777)) << 16) | dos


class ZipWriter:
    """Writes entries to a sink as a zip file; finish() writes the central directory."""

    def __init__(self, sink: Sink, *, threads: int = 2, force_zip64: bool = False) -> None:
        self.sink = sink
        self.threads = max(1, threads)
        self.done = 0
        self.force_zip64 = force_zip64  # tests: ZIP64 records on every entry, as past 4 GiB
        self.records: list[_Record] = []
        self.stats = ZipStats()

    # --- entries ------------------------------------------------------------------------

    def write_entries(self, entries: Iterable[ArchiveEntry], source: ContentSource,
                      progress: Progress | None = None, cancel: Cancel | None = None) -> None:
        """Writes entries in order; file contents come from source, deflated on the pool."""
        done = self.done  # file bytes written by earlier calls
        with ThreadPoolExecutor(self.threads, thread_name_prefix="bodega-zip") as pool:
            work = ordered(pool, lambda b: self._prepare(b, source), batches(entries, BATCH_FILES, BATCH_BYTES),
                           window=self.threads * 2, inline=is_big)
            for batch, prepared in work:
                if cancel is not None and cancel():
                    raise errors.Cancelled("export cancelled")
                if prepared is None:
                    done += self._write_streamed(batch[0], source, progress, done, cancel)
                    self.done = done
                    continue
                for e, payload in zip(batch, prepared):
                    self._write_entry(e, *payload)
                    done += e.size if e.kind == FILE else 0
                if progress is not None:
                    progress(done)
                self.done = done

    def _prepare(self, batch: list[ArchiveEntry], source: ContentSource) -> list[tuple[int, int, bytes | memoryview]]:
        """(method, crc, payload) per entry of a batch: file contents read, checked and deflated."""
        files = [e for e in batch if e.kind == FILE]
        contents = iter(source.read_many(files)) if files else iter(())
        out: list[tuple[int, int, bytes | memoryview]] = []
        for e in batch:
            if e.kind == DIR:
                out.append((STORED, 0, b""))
            elif e.kind == SYMLINK:
                link = e.link or b""
                out.append((STORED, crc32(link), link))
            else:
                data = next(contents)
                packed = deflate(data) if shrinks(data) else data
                if len(packed) < len(data):
                    out.append((DEFLATED, crc32(data), packed))
                else:
                    out.append((STORED, crc32(data), data))
        return out

    def _zip64_extra(self, usize: int, csize: int) -> bytes:
        return struct.pack("<HHQQ", 1, 16, usize, csize)

    def _timestamp(self, mtime: int | None) -> bytes:
        return TIMESTAMP.pack(0x5455, 5, 1, mtime) if mtime is not None else b""

    def _write_entry(self, e: ArchiveEntry, method: int, crc: int, payload: bytes | memoryview) -> None:
        name = e.name + b"/" if e.kind == DIR else e.name
        flags = _flags(name)
        t, d = dos_time(e.mtime_ns)
        mtime = _unix_seconds(e.mtime_ns)
        usize = e.size if e.kind == FILE else len(payload)
        csize = len(payload)
        big = self.force_zip64 or usize >= LIMIT32 or csize >= LIMIT32
        extra = (self._zip64_extra(usize, csize) if big else b"") + self._timestamp(mtime)
        version = VERSION_ZIP64 if big else VERSION_DEFLATE if method == DEFLATED or e.kind == DIR else VERSION_STORED
        offset = self.sink.tell()
        self.sink.write(LOCAL.pack(0x04034B50, version, flags, method, t, d, crc,
                                   LIMIT32 if big else csize, LIMIT32 if big else usize, len(name), len(extra))
                        + name + extra)
        if csize:
            self.sink.write(payload)
        self._record(_Record(name, flags, method, t, d, crc, csize, usize, external_attrs(e), offset, mtime), e)

    def _record(self, r: _Record, e: ArchiveEntry) -> None:
        self.records.append(r)
        self.stats.entries += 1
        if e.kind == FILE:
            self.stats.files += 1
            self.stats.bytes_in += r.usize
            self.stats.bytes_out += r.csize
            if r.method == DEFLATED:
                self.stats.deflated += 1
            else:
                self.stats.stored += 1

    def _write_streamed(self, e: ArchiveEntry, source: ContentSource, progress: Progress | None, done: int,
                        cancel: Cancel | None) -> int:
        """A big file deflated while it streams: sizes and CRC follow in a ZIP64 data descriptor."""
        flags = _flags(e.name) | FLAG_DESCRIPTOR
        t, d = dos_time(e.mtime_ns)
        mtime = _unix_seconds(e.mtime_ns)
        extra = self._zip64_extra(0, 0) + self._timestamp(mtime)
        offset = self.sink.tell()
        self.sink.write(LOCAL.pack(0x04034B50, VERSION_ZIP64, flags, DEFLATED, t, d, 0, LIMIT32, LIMIT32,
                                   len(e.name), len(extra)) + e.name + extra)
        start = self.sink.tell()
        crc, usize = deflate_streamed(e, source, self.sink, progress, done, cancel)
        csize = self.sink.tell() - start
        self.sink.write(DESCRIPTOR64.pack(0x08074B50, crc, csize, usize))
        self._record(_Record(e.name, flags, DEFLATED, t, d, crc, csize, usize, external_attrs(e), offset, mtime), e)
        return usize

    # --- the end ------------------------------------------------------------------------

    def finish(self, comment: bytes = b"") -> ZipStats:
        """Writes the central directory and the end records."""
        start = self.sink.tell()
        out = bytearray()
        for r in self.records:
            fields = []
            if self.force_zip64 or r.usize >= LIMIT32 or r.csize >= LIMIT32 or r.flags & FLAG_DESCRIPTOR:
                fields += [r.usize, r.csize]
            if self.force_zip64 or r.offset >= LIMIT32:
                fields.append(r.offset)
            extra = (struct.pack(f"<HH{len(fields)}Q", 1, 8 * len(fields), *fields) if fields else b"")
            extra += self._timestamp(r.mtime)
            in64 = bool(fields)
            version = VERSION_ZIP64 if in64 else VERSION_DEFLATE if r.method == DEFLATED else VERSION_STORED
            sizes_in64 = in64 and len(fields) >= 2
            out += CENTRAL.pack(0x02014B50, MADE_BY, version, r.flags, r.method, r.dos_time, r.dos_date, r.crc,
                                LIMIT32 if sizes_in64 else r.csize, LIMIT32 if sizes_in64 else r.usize,
                                len(r.name), len(extra), 0, 0, 0, r.external,
                                LIMIT32 if (self.force_zip64 or r.offset >= LIMIT32) else r.offset)
            out += r.name
            out += extra
            if len(out) >= 1 << 20:
                self.sink.write(bytes(out))
                out.clear()
        self.sink.write(bytes(out))
        size = self.sink.tell() - start
        count = len(self.records)
        zip64 = self.force_zip64 or count >= LIMIT16 or size >= LIMIT32 or start >= LIMIT32
        if zip64:
            where = self.sink.tell()
            self.sink.write(EOCD64.pack(0x06064B50, 44, MADE_BY, VERSION_ZIP64, 0, 0, count, count, size, start))
            self.sink.write(LOCATOR64.pack(0x07064B50, 0, where, 1))
        self.sink.write(EOCD.pack(0x06054B50, 0, 0, min(count, LIMIT16), min(count, LIMIT16),
                                  min(size, LIMIT32) if not zip64 else LIMIT32 if size >= LIMIT32 else size,
                                  LIMIT32 if zip64 and (start >= LIMIT32 or self.force_zip64) else start,
                                  len(comment)) + comment)
        self.stats.zip64 = zip64
        return self.stats
