"""Writing 7z files: solid Deflate folders compressed on every core, a Deflate-encoded header.

Consecutive files are grouped into folders of up to 16 MiB; each folder is one raw Deflate
stream (coder 04 01 08, which `7z` and py7zr read) compressed by ISA-L on a worker thread,
or stored (coder 00, Copy) when Deflate does not make it smaller.  A big file is a folder of
its own, deflated while it streams.  The header (7zFormat.txt: streams, sub-streams with a
CRC per file, names, mtimes, attributes with the Unix mode in the high 16 bits and
0x8000 set) is itself deflated and pointed to by a kEncodedHeader block, and the signature
header at offset 0 is written last: a 7z file needs a seekable target.  Symlinks are files
whose data is the link target and whose mode says S_IFLNK, as 7-Zip stores them.
"""
from __future__ import annotations

import struct
import zlib
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from bodega import errors
from bodega.storage.archive.entry import (
    DIR, FILE, SYMLINK, SOLID_LEVEL, ArchiveEntry, Cancel, ContentSource, Progress, batches, crc32, deflate, deflate_streamed,
    is_big, ordered, shrinks,
)
from bodega.storage.archive.sevenzip_format import (
    ATTR_DIR, ATTR_READONLY, ATTR_UNIX, COPY, DEFLATE, FILETIME_EPOCH, K_ATTRIBUTES, K_CRC, K_EMPTY_FILE,
    K_EMPTY_STREAM, K_ENCODED_HEADER, K_END, K_FILES_INFO, K_FOLDER, K_HEADER, K_MAIN_STREAMS, K_MTIME, K_NAME,
    K_NUM_UNPACK_STREAM, K_PACK_INFO, K_SIZE, K_SUBSTREAMS, K_UNPACK_INFO, K_UNPACK_SIZE, S_IFDIR, S_IFLNK, S_IFREG,
    SIGNATURE, START_HEADER, bits, number,
)
from bodega.storage.archive.sink import Sink

FOLDER_FILES, FOLDER_BYTES = 4096, 16 << 20


@dataclass
class _Folder:
    """One packed stream: its coder, sizes and the streams (files) it holds."""

    coder: bytes
    packed: int
    unpacked: int
    sizes: list[int] = field(default_factory=list)
    crcs: list[int] = field(default_factory=list)


@dataclass
class SevenZipStats:
    """What a 7z writer wrote."""

    entries: int = 0
    files: int = 0
    folders: int = 0
    stored_folders: int = 0
    bytes_in: int = 0
    bytes_out: int = 0


def attributes(e: ArchiveEntry) -> int:
    """Windows attributes, plus the Unix mode in the high 16 bits (7-Zip's 0x8000 extension)."""
    if e.kind == DIR:
        return ATTR_DIR | (e.attrs & 0x7) | ATTR_UNIX | ((S_IFDIR | (e.mode & 0o7777)) << 16)
    if e.kind == SYMLINK:
        return ATTR_UNIX | ((S_IFLNK | 0o777) << 16)
    readonly = ATTR_READONLY if not e.mode & 0o200 else 0
    return (e.attrs & 0x7) | readonly | ATTR_UNIX | ((S_IFREG | (e.mode & 0o7777)) << 16)


def _has_stream(e: ArchiveEntry) -> bool:
    return (e.kind == FILE and e.size > 0) or (e.kind == SYMLINK and bool(e.link))


class SevenZipWriter:
    """Writes entries to a seekable sink as a 7z file; finish() writes the header."""

    def __init__(self, sink: Sink, *, threads: int = 2) -> None:
        if not sink.seekable:
            raise errors.NotSupported("a 7z package cannot be streamed: its first bytes point to its header, "
                                      "written last; export to a file, or use --format zip to stream")
        self.sink = sink
        self.threads = max(1, threads)
        self.done = 0
        self.entries: list[ArchiveEntry] = []
        self.folders: list[_Folder] = []
        self.stats = SevenZipStats()
        sink.write(bytes(START_HEADER))  # the signature header, filled in by finish()

    def write_entries(self, entries: Iterable[ArchiveEntry], source: ContentSource,
                      progress: Progress | None = None, cancel: Cancel | None = None) -> None:
        """Writes entries in order; the contents of each folder come from source, deflated on the pool."""
        done = self.done  # file bytes written by earlier calls
        with ThreadPoolExecutor(self.threads, thread_name_prefix="bodega-7z") as pool:
            work = ordered(pool, lambda b: self._pack(b, source), batches(entries, FOLDER_FILES, FOLDER_BYTES),
                           window=self.threads * 2, inline=is_big)
            for batch, packed in work:
                if cancel is not None and cancel():
                    raise errors.Cancelled("export cancelled")
                if packed is None:
                    self.entries += batch
                    done += self._write_streamed(batch[0], source, progress, done, cancel)
                    self.done = done
                    continue
                in_order, folders = packed
                self.entries += in_order  # the order their streams are in
                for folder, payload in folders:
                    self.sink.write(payload)
                    self._add(folder)
                done += sum(e.size for e in batch if e.kind == FILE)
                if progress is not None:
                    progress(done)
                self.done = done

    def _add(self, folder: _Folder) -> None:
        self.folders.append(folder)
        self.stats.folders += 1
        self.stats.stored_folders += folder.coder == COPY
        self.stats.bytes_in += folder.unpacked
        self.stats.bytes_out += folder.packed

    def _pack(self, batch: list[ArchiveEntry], source: ContentSource
              ) -> tuple[list[ArchiveEntry], list[tuple[_Folder, bytes | memoryview]]]:
        """A batch's entries in stream order and its folders: what deflate shrinks in one solid
        Deflate folder, what it does not (compressed media, archives) in a Copy folder."""
        files = [e for e in batch if e.kind == FILE and e.size > 0]
        contents = dict(zip(map(id, files), source.read_many(files))) if files else {}
        solid: list[tuple[ArchiveEntry, bytes | memoryview]] = []
        stored: list[tuple[ArchiveEntry, bytes | memoryview]] = []
        rest: list[ArchiveEntry] = []
        for e in batch:
            if not _has_stream(e):
                rest.append(e)
            elif e.kind == SYMLINK:
                solid.append((e, e.link or b""))
            else:
                data = contents[id(e)]
                (solid if shrinks(data) else stored).append((e, data))
        folders = []
        for group, coder in ((solid, DEFLATE), (stored, COPY)):
            if not group:
                continue
            folder = _Folder(coder, 0, 0, [len(d) for _, d in group], [crc32(d) for _, d in group])
            raw = group[0][1] if len(group) == 1 else b"".join(d for _, d in group)
            folder.unpacked = len(raw)
            payload = deflate(raw, SOLID_LEVEL) if coder == DEFLATE else raw
            if len(payload) >= len(raw):
                folder.coder, payload = COPY, raw
            folder.packed = len(payload)
            folders.append((folder, payload))
        return rest + [e for e, _ in solid] + [e for e, _ in stored], folders

    def _write_streamed(self, e: ArchiveEntry, source: ContentSource, progress: Progress | None, done: int,
                        cancel: Cancel | None) -> int:
        """A big file as a folder of its own, deflated while it streams."""
        start = self.sink.tell()
        crc, size = deflate_streamed(e, source, self.sink, progress, done, cancel)
        self._add(_Folder(DEFLATE, self.sink.tell() - start, size, [size], [crc]))
        return size

    # --- the header ---------------------------------------------------------------------

    def _streams_info(self, folders: list[_Folder], pack_pos: int, substreams: bool) -> bytes:
        out = bytearray([K_PACK_INFO]) + number(pack_pos) + number(len(folders))
        out += bytes([K_SIZE]) + b"".join(number(f.packed) for f in folders) + bytes([K_END])
        out += bytes([K_UNPACK_INFO, K_FOLDER]) + number(len(folders)) + b"\x00"
        for f in folders:
            out += b"\x01" + bytes([len(f.coder)]) + f.coder  # one simple coder, no properties
        out += bytes([K_UNPACK_SIZE]) + b"".join(number(f.unpacked) for f in folders)
        if not substreams:  # the encoded header: its folder's CRC here
            out += bytes([K_CRC, 1]) + b"".join(struct.pack("<I", f.crcs[0]) for f in folders)
        out += bytes([K_END])
        if substreams:
            out += bytes([K_SUBSTREAMS, K_NUM_UNPACK_STREAM]) + b"".join(number(len(f.sizes)) for f in folders)
            out += bytes([K_SIZE]) + b"".join(number(s) for f in folders for s in f.sizes[:-1])
            out += bytes([K_CRC, 1]) + b"".join(struct.pack("<I", c) for f in folders for c in f.crcs)
            out += bytes([K_END])
        out += bytes([K_END])  # the end of StreamsInfo
        return bytes(out)

    def _files_info(self) -> bytes:
        entries = self.entries
        out = bytearray([K_FILES_INFO]) + number(len(entries))

        def prop(kind: int, data: bytes) -> None:
            out.extend(bytes([kind]) + number(len(data)) + data)

        empty = [not _has_stream(e) for e in entries]
        if any(empty):
            prop(K_EMPTY_STREAM, bits(empty))
            prop(K_EMPTY_FILE, bits([e.kind != DIR for e, none in zip(entries, empty) if none]))
        names = b"".join(e.name.decode("utf-8", "surrogateescape").encode("utf-16-le", "surrogatepass")
                         + b"\x00\x00" for e in entries)
        prop(K_NAME, b"\x00" + names)
        prop(K_MTIME, b"\x01\x00" + b"".join(
            struct.pack("<Q", max(0, e.mtime_ns // 100 + FILETIME_EPOCH)) for e in entries))
        prop(K_ATTRIBUTES, b"\x01\x00" + b"".join(struct.pack("<I", attributes(e)) for e in entries))
        out.append(K_END)
        return bytes(out)

    def finish(self) -> SevenZipStats:
        """Writes the (deflated) header and the signature header pointing to it."""
        header = bytes([K_HEADER])
        if self.folders:
            header += bytes([K_MAIN_STREAMS]) + self._streams_info(self.folders, 0, True)
        header += self._files_info() + bytes([K_END])
        packed_at = self.sink.tell() - START_HEADER
        packed = deflate(header)
        self.sink.write(packed)
        encoded = bytes([K_ENCODED_HEADER]) + self._streams_info(
            [_Folder(DEFLATE, len(packed), len(header), [len(header)], [crc32(header)])], packed_at, False)
        next_offset = self.sink.tell() - START_HEADER
        self.sink.write(encoded)
        tail = struct.pack("<QQI", next_offset, len(encoded), zlib.crc32(encoded))
        self.sink.write_at(0, SIGNATURE + struct.pack("<I", zlib.crc32(tail)) + tail)
        self.stats.entries = len(self.entries)
        self.stats.files = sum(1 for e in self.entries if e.kind == FILE)
        return self.stats
