"""7z archives: bodega's own reader for folders of Copy or Deflate (what bodega's writer and
`7z a -m0=Deflate|Copy` write), py7zr for the rest (LZMA, LZMA2, BCJ, BZip2, encryption).

The own reader parses the header (sevenzip_header), has a thread inflate the folders ahead
(sevenzip_folders) and hands each small file over with its bytes (Member.data, CRC checked),
so unpack writes them in batches by one native call, as it does a tar stream's; a file in a
folder too big to decode whole is streamed, its CRC checked at its end.
"""
from __future__ import annotations

import stat
from collections.abc import Iterator
from typing import BinaryIO

import isal.isal_zlib as _isal

from bodega import errors
from bodega.storage.archive.member import DIR, FILE, SPECIAL, SYMLINK, Member
from bodega.storage.archive.prefetch import Ahead
from bodega.storage.archive.reader import Archive, damage_error
from bodega.storage.archive.sevenzip_folders import PIECE, Decoded, StreamEnd, decode, is_whole
from bodega.storage.archive.sevenzip_format import (
    ATTR_DIR, ATTR_READONLY, ATTR_REPARSE, ATTR_UNIX, FILETIME_EPOCH, LINK_MAX, link_target,
)
from bodega.storage.archive.sevenzip_header import Header, NeedsPy7zr, read_header
from bodega.storage.archive.sniff import SEVENZIP

AHEAD = 3  # folders (or pieces of a big one) decoded ahead of the reader
SPECIALS = {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "fifo"}


def open_sevenzip(path: str) -> Archive:
    """The 7z file at path, read by bodega's reader when it can, else by py7zr."""
    try:
        return SevenZipArchive(path)
    except NeedsPy7zr:
        from bodega.storage.archive.sevenzip_py7zr import Py7zrArchive

        return Py7zrArchive(path)


def kind_of(attributes: int | None) -> tuple[str, int, str]:
    """Kind, permission bits and detail from 7z attributes (the Unix mode in the high 16 bits
    when 0x8000 is set), decided as py7zr decides them."""
    a = attributes or 0
    unix = a >> 16 if a & ATTR_UNIX else None
    fmt = stat.S_IFMT(unix) if unix else 0
    mode = stat.S_IMODE(unix) if unix else 0
    if a & ATTR_DIR:
        return DIR, mode or 0o755, ""
    if stat.S_ISLNK(unix) if unix is not None else a & ATTR_REPARSE:
        return SYMLINK, 0o777, ""
    if fmt in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        return SPECIAL, mode, SPECIALS.get(fmt, "socket")
    return FILE, mode or (0o444 if a & ATTR_READONLY else 0o644), ""


class _Damage(Exception):
    """What is wrong with a member's data (the caller names the member)."""


class _FolderStream:
    """A streamed folder's decoded bytes: the pieces the thread sends, up to its StreamEnd."""

    def __init__(self, ahead: Ahead) -> None:
        self._ahead = ahead
        self._piece, self._at = b"", 0
        self._end: StreamEnd | None = None

    def read(self, n: int) -> bytes:
        """Up to n bytes; b"" at the folder's end; _Damage when its data is."""
        while self._at >= len(self._piece):
            if self._end is not None:
                if self._end.error:
                    raise _Damage(self._end.error)
                return b""
            got = next(self._ahead)
            if isinstance(got, StreamEnd):
                self._end = got
            else:
                self._piece, self._at = got, 0
        out = self._piece[self._at:self._at + n]
        self._at += len(out)
        return out

    def finish(self) -> None:
        """Takes the rest of the folder's pieces, so the next folder's come next."""
        while self._end is None:
            got = next(self._ahead)
            if isinstance(got, StreamEnd):
                self._end = got


class _StreamedData:
    """A file's data in a streamed folder, its CRC checked at its end; finish() skips what the
    reader left, so the folder stands at the next file."""

    def __init__(self, folder: _FolderStream, size: int, crc: int | None, archive: str, member: str) -> None:
        self._folder, self._left, self._want, self._crc = folder, size, crc, 0
        self._archive, self._member = archive, member

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes (all that is left with -1); b"" at the file's end."""
        if n < 0:
            return b"".join(iter(lambda: self.read(PIECE), b""))
        n = min(n, self._left)
        if n <= 0:
            return b""
        try:
            out = self._folder.read(n)
        except _Damage as exc:
            raise _corrupt(self._archive, self._member, str(exc)) from None
        except OSError as exc:
            if exc.errno is None:  # the decoder's complaint, not the disk's
                raise damage_error(exc, self._archive, self._member) from None
            raise errors.os_error(exc, "read archive", self._archive) from None
        if not out:
            raise _corrupt(self._archive, self._member, "the data ends early")
        self._crc = _isal.crc32(out, self._crc)
        self._left -= len(out)
        if not self._left and self._want is not None and self._crc != self._want:
            raise _corrupt(self._archive, self._member, "CRC mismatch")
        return out

    def finish(self) -> None:
        """Reads the rest of the file (checking its CRC)."""
        while self._left > 0:
            self.read(PIECE)

    def close(self) -> None:
        """Nothing to release: the archive owns the folder."""

    def __enter__(self) -> "_StreamedData":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _corrupt(path: str, member: str, why: str) -> errors.ArchiveCorrupt:
    return errors.ArchiveCorrupt(f"{path}: member {member!r}: damaged or truncated ({why})", member=member,
                                 path=path)


class SevenZipArchive(Archive):
    """A 7z file of Copy and Deflate folders: members from its header, their data inflated ahead
    by a thread, in order (NeedsPy7zr from the constructor for any other 7z)."""

    format = SEVENZIP

    def __init__(self, path: str) -> None:
        super().__init__(path)
        try:
            raw: BinaryIO = open(self.path, "rb")
        except OSError as e:
            raise errors.os_error(e, "open archive", self.path) from None
        with raw:
            self._header = read_header(raw, self.path, self.size)
        self._members = self._listing(self._header)

    def _listing(self, h: Header) -> list[Member]:
        sizes = iter([size for folder in h.folders for size in folder.sizes])
        members = []
        for i, (name, has, mtime, attributes) in enumerate(zip(h.names, h.streams, h.mtimes, h.attributes)):
            try:
                raw = name.encode("utf-8", "surrogateescape")
            except UnicodeEncodeError:
                raise errors.ArchiveCorrupt(f"{self.path}: damaged 7z header (the name of file {i + 1} is not "
                                            "text)", path=self.path) from None
            kind, mode, detail = kind_of(attributes)
            size = next(sizes) if has else 0
            members.append(Member(
                name=raw, kind=kind, mode=mode, size=size if kind == FILE else 0, detail=detail,
                mtime_ns=(mtime - FILETIME_EPOCH) * 100 if mtime is not None else None,
                link=b"" if kind == SYMLINK and not has else None,
                data=b"" if kind == FILE and not has else None))
        return members

    @property
    def listing(self) -> list[Member]:
        """Every member, from the header (symlink targets are read while iterating)."""
        return list(self._members)

    def _streams(self, ahead: Ahead) -> Iterator[bytes | _Damage | tuple[_FolderStream, int, int | None]]:
        """Each file stream in order: a whole folder's file as its bytes (or what is wrong with
        it), a streamed folder's as the folder, the file's size and CRC."""
        for folder in self._header.folders:
            if is_whole(folder):
                decoded = next(ahead)
                assert isinstance(decoded, Decoded)
                for j in range(len(folder.sizes)):
                    yield decoded.parts[j] if j < len(decoded.parts) else _Damage(decoded.error or "damaged")
            else:
                stream = _FolderStream(ahead)
                for size, crc in zip(folder.sizes, folder.crcs):
                    yield stream, size, crc
                stream.finish()

    def __iter__(self) -> Iterator[Member]:
        ahead = Ahead(decode(self.path, self._header.folders), AHEAD, "bodega-7z-inflate")
        current = None
        try:
            streams = self._streams(ahead)
            for has, m in zip(self._header.streams, self._members):
                if not has:
                    yield m
                    continue
                current = m.shown
                got = next(streams)
                if isinstance(got, _Damage):
                    raise _corrupt(self.path, current, str(got))
                if isinstance(got, bytes):
                    if m.kind == FILE:
                        yield Member(name=m.name, kind=FILE, mode=m.mode, size=m.size, mtime_ns=m.mtime_ns, data=got)
                    elif m.kind == SYMLINK:
                        yield Member(name=m.name, kind=SYMLINK, mode=m.mode, size=0, mtime_ns=m.mtime_ns,
                                     link=link_target(got, self.path, current))
                    else:
                        yield m  # a directory or special file with data: the data is not used
                    continue
                data = _StreamedData(*got, self.path, current)
                if m.kind == FILE:
                    yield Member(name=m.name, kind=FILE, mode=m.mode, size=m.size, mtime_ns=m.mtime_ns,
                                 _opener=lambda data=data: data)  # type: ignore[misc]
                elif m.kind == SYMLINK:
                    target = b""
                    while len(target) <= LINK_MAX and (piece := data.read(LINK_MAX + 1 - len(target))):
                        target += piece
                    data.finish()
                    yield Member(name=m.name, kind=SYMLINK, mode=m.mode, size=0, mtime_ns=m.mtime_ns,
                                 link=link_target(target, self.path, current))
                else:
                    data.finish()
                    yield m
                data.finish()
        except OSError as exc:  # reading the file (the thread's errors are raised here, in order)
            if exc.errno is None:  # the decoder's complaint, not the disk's
                raise damage_error(exc, self.path, current) from None
            raise errors.os_error(exc, "read archive", self.path) from None
        finally:
            ahead.close()
