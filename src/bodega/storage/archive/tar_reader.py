"""Tar archives, plain or compressed with gzip, xz, zstd or bzip2, read as one stream."""
from __future__ import annotations

import bz2
import gzip
import lzma
import tarfile
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from bodega import errors
from bodega.storage.archive.member import DIR, FILE, HARDLINK, SPECIAL, SYMLINK, Member
from bodega.storage.archive.reader import Archive, GuardedStream, damage_error, is_damage
from bodega.storage.archive.sniff import TAR, TAR_BZ2, TAR_GZ, TAR_XZ, TAR_ZST, looks_like_tar

SPECIAL_NAMES = {tarfile.CHRTYPE: "character device", tarfile.BLKTYPE: "block device", tarfile.FIFOTYPE: "fifo"}


def _decompressed(raw: BinaryIO, fmt: str) -> BinaryIO:
    """The tar stream inside raw."""
    if fmt == TAR_GZ:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if fmt == TAR_XZ:
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if fmt == TAR_BZ2:
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if fmt == TAR_ZST:
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
    return raw


class _Peeked:
    """A stream whose first bytes were read already to check them."""

    def __init__(self, head: bytes, rest: BinaryIO) -> None:
        self._head, self._rest = head, rest

    def read(self, n: int = -1) -> bytes:
        if self._head:
            if n < 0:
                out, self._head = self._head + self._rest.read(), b""
                return out
            out, self._head = self._head[:n], self._head[n:]
            return out
        return self._rest.read(n)


class TarArchive(Archive):
    """A tar stream: members are known one at a time, each member's data only until the next."""

    def __init__(self, path: str, fmt: str) -> None:
        super().__init__(path)
        self.format = fmt
        try:
            self._raw = open(self.path, "rb")
        except OSError as e:
            raise errors.os_error(e, "open archive", self.path) from None
        try:
            stream = _decompressed(self._raw, fmt)
            head = stream.read(512)
            if head and not looks_like_tar(head):
                raise errors.ArchiveCorrupt(f"{self.path}: {fmt} data that is not a tar archive", path=self.path)
            self._tar = tarfile.open(fileobj=_Peeked(head, stream), mode="r|",  # type: ignore[call-overload]
                                     encoding="utf-8", errors="surrogateescape")
        except Exception as exc:
            self._raw.close()
            if is_damage(exc):
                raise damage_error(exc, self.path, None) from None
            raise

    def _member(self, info: tarfile.TarInfo) -> Member:
        name = info.name.encode("utf-8", "surrogateescape")
        if info.isdir():
            # tarfile drops a directory's trailing slash; kind says what it is.
            kind, detail = DIR, ""
        elif info.issym():
            kind, detail = SYMLINK, ""
        elif info.islnk():
            kind, detail = HARDLINK, ""
        elif info.isreg():
            kind, detail = FILE, ""
        else:
            kind, detail = SPECIAL, SPECIAL_NAMES.get(info.type, f"tar type {info.type!r}")
        link = info.linkname.encode("utf-8", "surrogateescape") if kind in (SYMLINK, HARDLINK) else None
        opener = None
        if kind == FILE:
            shown = name.decode("utf-8", "backslashreplace")

            def opener(info: tarfile.TarInfo = info, shown: str = shown) -> BinaryIO:
                return GuardedStream(self._tar.extractfile(info), self.path, shown)  # type: ignore[arg-type,return-value]
        return Member(name=name, kind=kind, mode=info.mode & 0o7777, size=info.size if kind == FILE else 0,
                      mtime_ns=int(info.mtime * 1_000_000_000), link=link, detail=detail, _opener=opener)

    def __iter__(self) -> Iterator[Member]:
        last = None
        while True:
            try:
                info = self._tar.next()
            except Exception as exc:
                if is_damage(exc):
                    where = last.name if last is not None else None
                    raise damage_error(exc, self.path, f"after {where}" if where else None) from None
                raise
            if info is None:
                return
            last = info
            yield self._member(info)

    def close(self) -> None:
        """Closes the stream and the file."""
        try:
            self._tar.close()
        finally:
            self._raw.close()
