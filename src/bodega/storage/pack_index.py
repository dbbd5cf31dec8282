"""The pack index: every packed object's entry in one sorted file, so that a store opens by
reading one file rather than parsing the index of every pack (docs/store.md, "Pack index").

    header   magic "BDPKIDX1", version u32, pack count u32, row count u64
    packs    per pack: name length u16, name (UTF-8)
    fanout   65537 u32: rows whose digest starts with the 16-bit prefix p are rows
             fanout[p] .. fanout[p+1]-1
    rows     sorted by digest, 64 bytes each: digest 32s, pack number u32, offset u64,
             stored length u64, raw length u64, kind u8, codec u8, 2 bytes zero
    trailer  CRC-32 of everything before it u32, end magic "BDIXEND1"

It is a cache: the packs stay the truth.  It names the packs it covers, and a store trusts
it only while every one of them is still listed (a pack gc or repair removed makes it
stale: the store then reads every pack again and writes a new one).  It is published
whole, by an atomic rename (storage/atomic_file.py), so a crash while writing it leaves the
previous index or none; a file that fails its checks is ignored, never trusted.
"""
from __future__ import annotations

import struct
import zlib
from array import array
from pathlib import Path
from typing import Iterable, Iterator

from bodega.storage.atomic_file import write_file_atomic
from bodega.storage.pack import PackEntry

FILE_NAME = "pack-index"  # in the store's root
MAGIC = b"BDPKIDX1"
END_MAGIC = b"BDIXEND1"
VERSION = 1
HEADER = struct.Struct("<8sIIQ")
NAME_LEN = struct.Struct("<H")
ROW = struct.Struct("<32sIQQQBB2x")
TRAILER = struct.Struct("<I8s")
FANOUT = (1 << 16) + 1


class PackIndex:
    """A published pack index, read into memory: lookups by digest without a dict per object."""

    def __init__(self, packs: tuple[str, ...], fanout: array, rows: bytes) -> None:
        self.packs = packs
        self.covers = frozenset(packs)
        self._fanout = fanout
        self._rows = rows
        self._digests: frozenset[bytes] | None = None  # every digest, built for a bulk lookup

    def __len__(self) -> int:
        return len(self._rows) // ROW.size

    def _find(self, digest: bytes) -> int:
        """The row number of digest, or -1."""
        if len(digest) != 32:
            return -1
        rows, size = self._rows, ROW.size
        prefix = (digest[0] << 8) | digest[1]
        lo, hi = self._fanout[prefix], self._fanout[prefix + 1]
        while lo < hi:
            mid = (lo + hi) >> 1
            at = mid * size
            key = rows[at:at + 32]
            if key < digest:
                lo = mid + 1
            elif key > digest:
                hi = mid
            else:
                return mid
        return -1

    def __contains__(self, digest: object) -> bool:
        return isinstance(digest, bytes) and self._find(digest) >= 0

    def missing(self, digests: set[bytes]) -> set[bytes]:
        """The digests this index lacks: a search each for a few, a set difference for many."""
        if len(digests) * 8 < len(self):
            return {d for d in digests if self._find(d) < 0}
        if self._digests is None:
            rows, size = self._rows, ROW.size
            self._digests = frozenset(rows[at:at + 32] for at in range(0, len(rows), size))
        return digests.difference(self._digests)

    def get(self, digest: bytes) -> PackEntry | None:
        """The entry of a packed object, or None."""
        i = self._find(digest)
        return None if i < 0 else self._entry(i)[1]

    def _entry(self, i: int) -> tuple[bytes, PackEntry]:
        digest, pack, offset, stored, raw, kind, codec = ROW.unpack_from(self._rows, i * ROW.size)
        return digest, PackEntry(self.packs[pack], offset, stored, raw, kind, codec)

    def items(self) -> Iterator[tuple[bytes, PackEntry]]:
        """Every (digest, entry), by digest."""
        names = self.packs
        for digest, pack, offset, stored, raw, kind, codec in ROW.iter_unpack(self._rows):
            yield digest, PackEntry(names[pack], offset, stored, raw, kind, codec)

    def merged(self, covering: Iterable[str], entries: Iterable[tuple[bytes, PackEntry]]) -> "PackIndex":
        """This index, covering these packs too, with their entries (an object this index has
        keeps its entry; of the entries, the first of a digest)."""
        packs = list(self.packs) + sorted(set(covering) - self.covers)
        number = {name: i for i, name in enumerate(packs)}
        added: dict[bytes, bytes] = {}
        for digest, e in entries:
            if digest in added or self._find(digest) >= 0:
                continue
            n = number.get(e.pack)
            if n is None:
                raise ValueError(f"an entry of pack {e.pack}, which the index is not said to cover")
            added[digest] = ROW.pack(digest, n, e.offset, e.stored_len, e.raw_len, e.kind, e.codec)
        rows = [self._rows[i:i + ROW.size] for i in range(0, len(self._rows), ROW.size)]
        rows += added.values()
        rows.sort()  # by digest: a row starts with it
        return PackIndex(tuple(packs), _fanout_of(rows), b"".join(rows))

    def to_bytes(self) -> bytes:
        """The file's content."""
        names = b"".join(NAME_LEN.pack(len(b)) + b for b in (p.encode() for p in self.packs))
        body = (HEADER.pack(MAGIC, VERSION, len(self.packs), len(self)) + names + self._fanout.tobytes()
                + self._rows)
        return body + TRAILER.pack(zlib.crc32(body), END_MAGIC)


EMPTY = PackIndex((), array("I", bytes(4 * FANOUT)), b"")


def _fanout_of(rows: list[bytes]) -> array:
    """The fanout table of sorted rows."""
    counts = array("I", bytes(4 * FANOUT))
    for r in rows:
        counts[((r[0] << 8) | r[1]) + 1] += 1
    total = 0
    for p in range(FANOUT):
        total += counts[p]
        counts[p] = total
    return counts


def load(store_root: Path) -> PackIndex | None:
    """The store's published pack index; None when there is none or it fails a check."""
    try:
        data = (store_root / FILE_NAME).read_bytes()
    except OSError:
        return None  # none yet, or unreadable: the packs answer instead
    return parse(data)


def parse(data: bytes) -> PackIndex | None:
    """A pack index from a file's bytes; None unless every check passes."""
    if len(data) < HEADER.size + 4 * FANOUT + TRAILER.size:
        return None
    crc, end = TRAILER.unpack_from(data, len(data) - TRAILER.size)
    if end != END_MAGIC or zlib.crc32(memoryview(data)[:-TRAILER.size]) != crc:
        return None
    magic, version, n_packs, n_rows = HEADER.unpack_from(data)
    if magic != MAGIC or version != VERSION:
        return None
    at, packs = HEADER.size, []
    try:
        for _ in range(n_packs):
            (length,) = NAME_LEN.unpack_from(data, at)
            packs.append(data[at + 2:at + 2 + length].decode())
            at += 2 + length
    except (struct.error, UnicodeDecodeError):
        return None
    fanout = array("I")
    fanout.frombytes(data[at:at + 4 * FANOUT])
    at += 4 * FANOUT
    rows = data[at:len(data) - TRAILER.size]
    if len(rows) != n_rows * ROW.size or fanout[-1] != n_rows or len(set(packs)) != len(packs):
        return None
    return PackIndex(tuple(packs), fanout, rows)


def publish(store_root: Path, index: PackIndex) -> None:
    """Writes the store's pack index, replacing the previous one atomically."""
    write_file_atomic(store_root / FILE_NAME, index.to_bytes())

