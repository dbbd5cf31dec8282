"""Tar archives, plain or compressed with gzip, xz, zstd or bzip2, read as one stream."""
from __future__ import annotations

import bz2
import gzip
import io
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


class _Forward:
    """A decompressed stream that tarfile may treat as seekable, as long as it only moves forward.

    tarfile's random-access mode ('r:') is several times faster than its stream mode ('r|');
    reading members in order, its seeks all go forward, which this turns into reads.  The
    decoder is read a megabyte at a time (tarfile asks for 512-byte headers), and a read
    returns n bytes unless the stream ends.
    """

    REFILL = 1 << 20

    def __init__(self, raw: BinaryIO, head: bytes = b"") -> None:
        self._raw, self._buf, self._at, self._pos = raw, head, 0, 0

    def _take(self, n: int) -> bytes:
        if self._at >= len(self._buf):
            self._buf, self._at = self._raw.read(max(n, self.REFILL)), 0
        out = self._buf[self._at:self._at + n]
        self._at += len(out)
        return out

    def read(self, n: int = -1) -> bytes:
        if n < 0:
            out = self._buf[self._at:] + self._raw.read()
            self._buf, self._at = b"", 0
        else:
            out = self._take(n)
            while len(out) < n:
                more = self._take(n - len(out))
                if not more:
                    break
                out += more
        self._pos += len(out)
        return out

    def seek(self, offset: int, whence: int = 0) -> int:
        if whence == 1:
            offset += self._pos
        elif whence != 0:
            raise io.UnsupportedOperation("a tar stream cannot seek from its end")
        if offset < self._pos:
            raise io.UnsupportedOperation("a tar stream cannot go back")
        while self._pos < offset:
            skipped = self._take(min(offset - self._pos, self.REFILL))
            if not skipped:
                break
            self._pos += len(skipped)
        return self._pos

    def tell(self) -> int:
        return self._pos


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
            self._stream = _Forward(stream, head)
            self._tar = tarfile.open(fileobj=self._stream, mode="r:",  # type: ignore[call-overload]
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
        # tarfile keeps every TarInfo it has seen (random-access mode): a list of what was
        # read, in memory; fine for the member counts UnpackLimits allows.
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
                self._drain(last)
                return
            last = info
            yield self._member(info)

    def _drain(self, last: tarfile.TarInfo | None) -> None:
        """Reads the stream to its end, so the decoder checks its trailer (gzip's CRC, xz's and
        zstd's checksums) even though tar's end marker came first."""
        try:
            while self._stream.read(1 << 20):
                pass
        except Exception as exc:
            if is_damage(exc):
                where = last.name if last is not None else None
                raise damage_error(exc, self.path, f"after {where}" if where else None) from None
            raise

    def close(self) -> None:
        """Closes the stream and the file."""
        try:
            self._tar.close()
        finally:
            self._raw.close()
