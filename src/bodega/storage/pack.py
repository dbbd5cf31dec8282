"""Pack files: many store objects in one file, with an index at its end (docs/store.md)."""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path
from typing import BinaryIO, NamedTuple, Sequence

from bodega import errors
from bodega._native.tree import File

MAGIC = b"BODEGAPK"
END_MAGIC = b"BDPKEND1"
VERSION = 1
HEADER = struct.Struct("<8sHHI")
ROW = struct.Struct("<32sQQQBB6x")
TRAILER = struct.Struct("<QQII8s")

BLOB, RECIPE = 1, 2
RAW, ZSTD = 0, 1


class PackEntry(NamedTuple):
    """Where one object's stored bytes are in a pack, and how to decode them (a tuple: a store
    opens with one per packed object, and a frozen dataclass costs three times as much to make)."""

    pack: str
    offset: int
    stored_len: int
    raw_len: int
    kind: int
    codec: int


def _corrupt(path: Path | str, offset: int, what: str) -> errors.PackCorrupt:
    return errors.PackCorrupt(f"pack {path} is damaged at byte {offset}: {what}", path=str(path))


def read_index(path: Path) -> dict[bytes, PackEntry]:
    """The objects a pack holds, after checking its header, trailer and index."""
    name = path.stem
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            if size < HEADER.size + TRAILER.size:
                raise _corrupt(path, size, "shorter than a header and a trailer (truncated)")
            magic, version, header_len, _ = HEADER.unpack(f.read(HEADER.size))
            if magic != MAGIC:
                raise _corrupt(path, 0, "not a pack file (bad magic)")
            if version != VERSION:
                raise errors.StoreFormatUnsupported(f"pack {path} has version {version}; this bodega reads {VERSION}")
            if header_len != HEADER.size:
                raise _corrupt(path, 10, f"header length {header_len}")
            f.seek(size - TRAILER.size)
            raw_trailer = f.read(TRAILER.size)
            index_offset, n = _trailer(path, size, raw_trailer)
            f.seek(index_offset)
            index = f.read(n * ROW.size)
    except OSError as e:
        raise errors.os_error(e, "read pack", str(path)) from e
    return _rows(name, path, index_offset, index, raw_trailer)


def tail_length(n: int) -> int:
    """The bytes at the end of a pack of n records that hold its index and trailer."""
    return n * ROW.size + TRAILER.size


def index_of_tail(name: str, where: str, size: int, tail: bytes) -> dict[bytes, PackEntry]:
    """The objects of the pack named name, of size bytes, from its last bytes (index and
    trailer, held apart from the pack: a remote store's index object), checked like read_index."""
    if len(tail) < TRAILER.size or size < HEADER.size + len(tail):
        raise _corrupt(where, size, "index shorter than a trailer, or longer than its pack")
    raw_trailer = tail[-TRAILER.size:]
    index_offset, n = _trailer(where, size, raw_trailer)
    if len(tail) != tail_length(n):
        raise _corrupt(where, size - TRAILER.size, f"index of {n} rows is {len(tail)} bytes with its trailer")
    return _rows(name, where, index_offset, tail[:-TRAILER.size], raw_trailer)


def read_tail(path: Path) -> bytes:
    """A sealed pack's index rows and trailer (what a remote store's index object holds)."""
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - TRAILER.size))
            _, n = _trailer(path, size, f.read(TRAILER.size))
            f.seek(size - tail_length(n))
            return f.read(tail_length(n))
    except OSError as e:
        raise errors.os_error(e, "read pack", str(path)) from e


def _trailer(where: Path | str, size: int, raw_trailer: bytes) -> tuple[int, int]:
    """The index offset and row count of a pack's trailer, checked."""
    index_offset, n, _, trailer_crc, end = TRAILER.unpack(raw_trailer)
    if end != END_MAGIC or zlib.crc32(raw_trailer[:20]) != trailer_crc:
        raise _corrupt(where, size - TRAILER.size, "trailer checksum mismatch (truncated or overwritten)")
    if index_offset < HEADER.size or index_offset + n * ROW.size != size - TRAILER.size:
        raise _corrupt(where, size - TRAILER.size, f"index of {n} rows at {index_offset} does not fit")
    return index_offset, n


def _rows(name: str, path: Path | str, index_offset: int, index: bytes, raw_trailer: bytes) -> dict[bytes, PackEntry]:
    """A pack's index rows, checked against the trailer's CRC and the pack's bounds."""
    if zlib.crc32(index) != TRAILER.unpack(raw_trailer)[2]:
        raise _corrupt(path, index_offset, "index checksum mismatch")
    out: dict[bytes, PackEntry] = {}
    low, kinds, codecs, make = HEADER.size, (BLOB, RECIPE), (RAW, ZSTD), PackEntry.__new__
    for i, (digest, offset, stored, raw, kind, codec) in enumerate(ROW.iter_unpack(index)):
        if offset < low or offset + stored > index_offset or kind not in kinds or codec not in codecs:
            raise _corrupt(path, index_offset + i * ROW.size, f"index row {i} is invalid")
        if digest not in out:  # the first row of a hash wins
            out[digest] = make(PackEntry, name, offset, stored, raw, kind, codec)
    return out


class PackWriter:
    """Appends records to a new pack in staging; finish() makes it durable and returns its rows."""

    def __init__(self, staging: Path) -> None:
        self.path = staging
        self._f: BinaryIO = open(staging, "xb", buffering=1 << 20)
        self._f.write(HEADER.pack(MAGIC, VERSION, HEADER.size, 0))
        self.offset = HEADER.size
        self.rows: list[tuple[bytes, int, int, int, int, int]] = []

    def __len__(self) -> int:
        return len(self.rows)

    def add(self, digest: bytes, stored: bytes | memoryview, raw_len: int, kind: int, codec: int) -> int:
        """Appends one record; returns its offset."""
        offset = self.offset
        self._f.write(stored)
        self.offset += len(stored)
        self.rows.append((digest, offset, len(stored), raw_len, kind, codec))
        return offset

    def add_many(self, records: Sequence[tuple[bytes, bytes | memoryview, int, int, int]]) -> None:
        """Appends records (digest, stored bytes, raw length, kind, codec), in order."""
        offset, rows = self.offset, self.rows
        for digest, stored, raw_len, kind, codec in records:
            rows.append((digest, offset, len(stored), raw_len, kind, codec))
            offset += len(stored)
        self._f.writelines([r[1] for r in records])
        self.offset = offset

    def finish(self) -> None:
        """Writes the index and trailer and fsyncs the file (still in staging)."""
        index = b"".join(ROW.pack(*row) for row in self.rows)
        self._f.write(index)
        head = struct.pack("<QQI", self.offset, len(self.rows), zlib.crc32(index))
        self._f.write(head + struct.pack("<I", zlib.crc32(head)) + END_MAGIC)
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()

    def abort(self) -> None:
        """Closes and removes the staged pack."""
        try:
            self._f.close()
        except OSError:
            pass  # flushing the buffer of a pack we throw away (e.g. out of space): nothing to keep
        finally:
            self.path.unlink(missing_ok=True)


def read_record(f: File, entry: PackEntry) -> bytes:
    """The stored bytes of a record, from an open pack."""
    data = f.pread(entry.stored_len, entry.offset)
    if len(data) != entry.stored_len:
        raise errors.PackCorrupt(f"pack {entry.pack} is truncated at byte {entry.offset + len(data)}")
    return data
