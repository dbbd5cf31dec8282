"""The header of a 7z file, read and checked: its folders (packed streams and the files they
hold) and its files' names, times and attributes.

Only what bodega's writer and `7z a -m0=Deflate|Copy` write is read here: folders of one Copy
or raw Deflate coder, a header plain or behind kEncodedHeader in a Copy, Deflate or LZMA folder
(7-Zip compresses headers with LZMA whatever the files' method).  Anything else
(LZMA, BCJ, several coders, encryption, external data) raises NeedsPy7zr, and py7zr reads the
archive.  Every count, size and offset is checked against the bytes that hold it and the file's
size, and both header CRCs are checked, so a damaged or hostile header is one ArchiveCorrupt,
never an IndexError or a huge allocation.
"""
from __future__ import annotations

import lzma
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

import isal.isal_zlib as _isal

from bodega import errors
from bodega.storage.archive.sevenzip_format import (
    COPY, DEFLATE, LZMA, K_ADDITIONAL_STREAMS, K_ANTI, K_ARCHIVE_PROPERTIES, K_ATTRIBUTES, K_CRC,
    K_EMPTY_STREAM, K_ENCODED_HEADER, K_END, K_FILES_INFO, K_FOLDER, K_HEADER, K_MAIN_STREAMS, K_MTIME, K_NAME,
    K_NUM_UNPACK_STREAM, K_PACK_INFO, K_SIZE, K_SUBSTREAMS, K_UNPACK_INFO, K_UNPACK_SIZE, SIGNATURE, START_HEADER,
)

MAX_HEADER = 1 << 28  # decoded bytes of an encoded header (py7zr's cap too)
MAX_NESTING = 4       # encoded headers inside encoded headers


class NeedsPy7zr(Exception):
    """The archive uses what this reader does not read (another coder, external data): py7zr reads it."""


class _Corrupt(Exception):
    """A header that breaks the format (the reason; the caller names the archive)."""


@dataclass(frozen=True)
class Folder:
    """One packed stream: its coder (COPY or DEFLATE; LZMA for a header), where it is, and the
    files' streams in it."""

    coder: bytes
    offset: int    # in the file
    packed: int
    unpacked: int
    sizes: list[int]
    crcs: list[int | None]
    props: bytes = b""  # the coder's properties (LZMA's)


@dataclass
class Header:
    """What a 7z header says: the folders in file order and the files in header order (their
    streams fill the folders in that order).  Per file: name, whether it has a stream, mtime
    (FILETIME ticks) and Windows attributes, None where the header leaves them undefined.
    Whether an entry without a stream is an empty file or a directory comes from its
    attributes, as py7zr decides it."""

    folders: list[Folder]
    names: list[str]
    streams: list[bool]
    mtimes: list[int | None]
    attributes: list[int | None]


class _Cursor:
    """Reading 7z header items from bytes; running past the end is _Corrupt."""

    def __init__(self, data: bytes) -> None:
        self.data, self.at = data, 0

    def left(self) -> int:
        return len(self.data) - self.at

    def byte(self) -> int:
        if self.at >= len(self.data):
            raise _Corrupt("the header ends early")
        self.at += 1
        return self.data[self.at - 1]

    def number(self) -> int:
        """A NUMBER (sevenzip_format.number's inverse)."""
        first = self.byte()
        if first < 0x80:
            return first
        extra, mask = 1, 0x40
        while extra < 8 and first & mask:
            extra, mask = extra + 1, mask >> 1
        low = int.from_bytes(self.take(extra), "little")
        return low | ((first & (mask - 1)) << (8 * extra)) if extra < 8 else low

    def count(self, what: str) -> int:
        """A NUMBER counting items that each take at least a byte of what is left."""
        n = self.number()
        if n > self.left():
            raise _Corrupt(f"{n} {what} in a header of {len(self.data)} bytes")
        return n

    def take(self, n: int) -> bytes:
        if n > self.left():
            raise _Corrupt("the header ends early")
        self.at += n
        return self.data[self.at - n:self.at]

    def bits(self, n: int) -> list[bool]:
        """A vector of n bits, most significant first."""
        raw = self.take((n + 7) // 8)
        if not n:
            return []
        text = bin(int.from_bytes(raw, "big"))[2:].zfill(len(raw) * 8)
        return [c == "1" for c in text[:n]]

    def defined(self, n: int) -> list[bool]:
        """An "all defined" byte, else the vector of which of n items are."""
        return [True] * n if self.byte() else self.bits(n)

    def digests(self, n: int) -> list[int | None]:
        """n CRCs, None where undefined."""
        return _values(self.defined(n), self, 4, "I")

    def expect(self, wanted: int, what: str) -> None:
        got = self.number()
        if got != wanted:
            raise _Corrupt(f"property {got:#x} where {what} belongs")


def _values(defined: list[bool], cur: _Cursor, width: int, code: str) -> list[int | None]:
    """The little-endian values of the defined items (None for the others)."""
    k = sum(defined)
    values = struct.unpack(f"<{k}{code}", cur.take(k * width))
    if k == len(defined):
        return list(values)
    it = iter(values)
    return [next(it) if d else None for d in defined]


# --- streams -------------------------------------------------------------------------------


def _pack_info(cur: _Cursor) -> tuple[int, list[int]]:
    pos, n = cur.number(), cur.count("packed streams")
    sizes: list[int] | None = None
    while (kind := cur.number()) != K_END:
        if kind == K_SIZE:
            sizes = [cur.number() for _ in range(n)]
        elif kind == K_CRC:
            cur.digests(n)  # the folders' data is checked by the files' CRCs
        else:
            raise _Corrupt(f"property {kind:#x} in the pack info")
    if sizes is None:
        raise _Corrupt("pack sizes missing")
    return pos, sizes


def _unpack_info(cur: _Cursor, known: tuple[bytes, ...]) -> tuple[list[tuple[bytes, bytes]], list[int],
                                                                 list[int | None]]:
    cur.expect(K_FOLDER, "the folders")
    n = cur.count("folders")
    if cur.byte():
        raise NeedsPy7zr("folders stored outside the header")
    coders = []
    for _ in range(n):
        if cur.number() != 1:
            raise NeedsPy7zr("a folder of several coders")
        flags = cur.byte()
        coder = cur.take(flags & 0x0F)
        if flags & 0xC0:
            raise NeedsPy7zr("alternative coder methods")
        if flags & 0x10 and (cur.number(), cur.number()) != (1, 1):
            raise NeedsPy7zr("a coder of several streams")
        props = cur.take(cur.number()) if flags & 0x20 else b""
        if coder not in known:
            raise NeedsPy7zr(f"coder {coder.hex()}")
        coders.append((coder, props))
    cur.expect(K_UNPACK_SIZE, "the unpacked sizes")
    sizes = [cur.number() for _ in range(n)]
    crcs: list[int | None] = [None] * n
    while (kind := cur.number()) != K_END:
        if kind != K_CRC:
            raise _Corrupt(f"property {kind:#x} in the unpack info")
        crcs = cur.digests(n)
    return coders, sizes, crcs


def _substreams(cur: _Cursor, unpacked: list[int], folder_crcs: list[int | None]
                ) -> tuple[list[list[int]], list[list[int | None]]]:
    counts = [1] * len(unpacked)
    kind = cur.number()
    if kind == K_NUM_UNPACK_STREAM:
        counts = [cur.number() for _ in unpacked]
        if sum(counts) > cur.left() + len(counts):  # each stream past a folder's first needs a size
            raise _Corrupt(f"{sum(counts)} streams in a header of {len(cur.data)} bytes")
        kind = cur.number()
    sizes: list[list[int]] = []
    if kind == K_SIZE:
        for n, total in zip(counts, unpacked):
            if n == 0:
                sizes.append([])
                continue
            some = [cur.number() for _ in range(n - 1)]
            last = total - sum(some)
            if last < 0:
                raise _Corrupt("a folder's streams are larger than the folder")
            sizes.append(some + [last])
        kind = cur.number()
    else:
        if any(n > 1 for n in counts):
            raise _Corrupt("stream sizes missing")
        sizes = [[total] if n else [] for n, total in zip(counts, unpacked)]
    crcs = [[c] if n == 1 and c is not None else [None] * n for n, c in zip(counts, folder_crcs)]
    while kind != K_END:
        if kind != K_CRC:
            raise _Corrupt(f"property {kind:#x} in the sub-streams info")
        unknown = [(i, j) for i, n in enumerate(counts) if not (n == 1 and folder_crcs[i] is not None)
                   for j in range(n)]
        for (i, j), crc in zip(unknown, cur.digests(len(unknown))):
            crcs[i][j] = crc
        kind = cur.number()
    return sizes, crcs


def _streams_info(cur: _Cursor, data_end: int, known: tuple[bytes, ...] = (COPY, DEFLATE)) -> list[Folder]:
    """The folders a StreamsInfo describes (of the known coders, else NeedsPy7zr); their packed
    streams must lie before data_end."""
    pos, packed = 0, []
    coders: list[tuple[bytes, bytes]] = []
    unpacked: list[int] = []
    folder_crcs: list[int | None] = []
    sizes: list[list[int]] | None = None
    crcs: list[list[int | None]] = []
    kind = cur.number()
    if kind == K_PACK_INFO:
        pos, packed = _pack_info(cur)
        kind = cur.number()
    if kind == K_UNPACK_INFO:
        coders, unpacked, folder_crcs = _unpack_info(cur, known)
        kind = cur.number()
    if kind == K_SUBSTREAMS:
        sizes, crcs = _substreams(cur, unpacked, folder_crcs)
        kind = cur.number()
    if kind != K_END:
        raise _Corrupt(f"property {kind:#x} in the streams info")
    if sizes is None:
        sizes = [[n] for n in unpacked]
        crcs = [[c] for c in folder_crcs]
    if len(packed) != len(coders):
        raise _Corrupt(f"{len(packed)} packed streams for {len(coders)} folders")
    folders = []
    at = START_HEADER + pos
    for (coder, props), size, total, subs, sub_crcs in zip(coders, packed, unpacked, sizes, crcs):
        if at + size > data_end:
            raise _Corrupt("a packed stream runs past the header's start (truncated file?)")
        if coder == COPY and size != total:
            raise _Corrupt(f"a stored folder of {size} bytes said to hold {total}")
        folders.append(Folder(coder, at, size, total, subs, sub_crcs, props))
        at += size
    return folders


# --- files ---------------------------------------------------------------------------------


def _names(cur: _Cursor, n: int) -> list[str]:
    if cur.byte():
        raise NeedsPy7zr("names stored outside the header")
    raw = cur.take(cur.left())
    try:
        text = raw.decode("utf-16-le", "surrogatepass")
    except UnicodeDecodeError:
        raise _Corrupt("names that are not UTF-16") from None
    names = text.split("\x00")
    if len(names) != n + 1 or names[-1]:
        raise _Corrupt(f"{len(names) - 1} names for {n} files")
    del names[-1]
    return [name.replace("\\", "/") for name in names]  # as py7zr names them


def _files_info(cur: _Cursor) -> Header:
    n = cur.count("files")
    streams: list[bool] | None = None
    names: list[str] | None = None
    mtimes: list[int | None] = [None] * n
    attributes: list[int | None] = [None] * n
    while (kind := cur.number()) != K_END:
        prop = _Cursor(cur.take(cur.number()))
        if kind == K_EMPTY_STREAM:
            streams = [not empty for empty in prop.bits(n)]
        elif kind == K_ANTI:
            if streams is None:
                raise _Corrupt("anti-item bits before the empty-stream bits")
            if any(prop.bits(n - sum(streams))):
                raise NeedsPy7zr("anti items")
        elif kind == K_NAME:
            names = _names(prop, n)
        elif kind == K_MTIME:
            defined = prop.defined(n)
            if prop.byte():
                raise NeedsPy7zr("times stored outside the header")
            mtimes = _values(defined, prop, 8, "Q")
        elif kind == K_ATTRIBUTES:
            defined = prop.defined(n)
            if prop.byte():
                raise NeedsPy7zr("attributes stored outside the header")
            attributes = _values(defined, prop, 4, "I")
        # other properties (empty-file bits, kDummy padding, creation and access times, comments) are skipped
    if names is None:
        raise NeedsPy7zr("files without names")  # py7zr names them after the archive
    return Header([], names, [True] * n if streams is None else streams, mtimes, attributes)


# --- the whole header ----------------------------------------------------------------------


def _decode(f: BinaryIO, folder: Folder) -> bytes:
    """An encoded header's folder, decoded and checked."""
    if folder.unpacked > MAX_HEADER:
        raise _Corrupt(f"an encoded header of {folder.unpacked} bytes")
    f.seek(folder.offset)
    raw = f.read(folder.packed)
    if len(raw) != folder.packed:
        raise _Corrupt("the encoded header is cut short")
    try:
        if folder.coder == COPY:
            data = raw
        elif folder.coder == DEFLATE:
            data = _isal.decompressobj(-15).decompress(raw, folder.unpacked + 1)
        else:
            # an LZMA stream without an end marker decodes on into its padding: its size stops it
            data = _lzma(folder.props, folder.unpacked).decompress(raw, folder.unpacked)
    except (zlib.error, _isal.error, lzma.LZMAError) as exc:
        raise _Corrupt(f"the encoded header does not decode ({exc})") from None
    if len(data) != folder.unpacked:
        raise _Corrupt(f"the encoded header inflates to {len(data)} bytes, not {folder.unpacked}")
    crc = folder.crcs[0] if len(folder.crcs) == 1 else None
    if crc is not None and _isal.crc32(data) != crc:
        raise _Corrupt("the encoded header's CRC does not match")
    return data


def _lzma(props: bytes, size: int) -> lzma.LZMADecompressor:
    """A raw LZMA decoder for props (lc/lp/pb and dictionary size), its dictionary no larger than
    the output needs (a hostile header cannot make it allocate more)."""
    if len(props) != 5 or props[0] >= 9 * 5 * 5:
        raise _Corrupt("LZMA properties that are not valid")
    lc, lp, pb = props[0] % 9, props[0] // 9 % 5, props[0] // 45
    dict_size = min(int.from_bytes(props[1:], "little"), max(size, 1 << 12))
    return lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[
        {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": max(dict_size, 1 << 12)}])


def _plain(f: BinaryIO, data: bytes, data_end: int) -> bytes:
    """The header's bytes, decoded from behind kEncodedHeader when they are there."""
    for _ in range(MAX_NESTING):
        if data[:1] != bytes([K_ENCODED_HEADER]):
            return data
        cur = _Cursor(data)
        cur.number()
        folders = _streams_info(cur, data_end, (COPY, DEFLATE, LZMA))
        if len(folders) != 1:
            raise NeedsPy7zr("an encoded header of several folders")
        data = _decode(f, folders[0])
    raise _Corrupt("encoded headers nested too deep")


def _parse(data: bytes, data_end: int) -> Header:
    """A plain header's folders and files."""
    cur = _Cursor(data)
    cur.expect(K_HEADER, "the header")
    kind = cur.number()
    if kind == K_ARCHIVE_PROPERTIES:
        while cur.number() != K_END:
            cur.take(cur.number())
        kind = cur.number()
    if kind == K_ADDITIONAL_STREAMS:
        raise NeedsPy7zr("additional streams")
    folders = []
    if kind == K_MAIN_STREAMS:
        folders = _streams_info(cur, data_end)
        kind = cur.number()
    header = Header([], [], [], [], [])
    if kind == K_FILES_INFO:
        header = _files_info(cur)
        kind = cur.number()
    if kind != K_END:
        raise _Corrupt(f"property {kind:#x} at the header's end")
    header.folders = folders
    streams = sum(len(folder.sizes) for folder in folders)
    if streams != sum(header.streams):
        raise _Corrupt(f"{streams} streams for {sum(header.streams)} files with data")
    return header


def plain_header(f: BinaryIO, path: str, size: int) -> tuple[bytes, int]:
    """The 7z file f's header bytes (decoded when encoded), both header CRCs checked, and where
    its packed data must end (f: size bytes, at path for messages)."""
    try:
        f.seek(0)
        start = f.read(START_HEADER)
        if len(start) < START_HEADER or start[:6] != SIGNATURE[:6]:
            raise _Corrupt("no 7z signature header")
        if _isal.crc32(start[12:]) != struct.unpack_from("<I", start, 8)[0]:
            raise _Corrupt("the signature header's CRC does not match")
        offset, length, crc = struct.unpack_from("<QQI", start, 12)
        data_end = START_HEADER + offset
        if length and data_end + length > size:
            raise _Corrupt(f"the header ({length} bytes at {data_end}) lies past the end of the "
                           f"{size}-byte file (truncated?)")
        # Checked after the start header, whose layout every version shares: py7zr, which
        # reads other versions, seeks where the start header says without checking it.
        if start[6] != 0:
            raise NeedsPy7zr(f"7z format version {start[6]}.{start[7]}")
        if length == 0:
            return b"", data_end  # an empty archive
        f.seek(data_end)
        data = f.read(length)
        if len(data) != length or _isal.crc32(data) != crc:
            raise _Corrupt("the header's CRC does not match")
        return _plain(f, data, data_end), data_end
    except _Corrupt as exc:
        raise _refused(path, exc) from None
    except OSError as e:
        raise errors.os_error(e, "read archive", path) from None


def read_header(f: BinaryIO, path: str, size: int) -> Header:
    """The checked header of the 7z file f (of size bytes, at path for messages)."""
    data, data_end = plain_header(f, path, size)
    if not data:
        return Header([], [], [], [], [])
    try:
        return _parse(data, data_end)
    except _Corrupt as exc:
        raise _refused(path, exc) from None


def _refused(path: str, exc: _Corrupt) -> errors.ArchiveCorrupt:
    return errors.ArchiveCorrupt(f"{path}: damaged 7z header ({exc})", path=path)
