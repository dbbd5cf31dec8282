"""Tar archives, plain or compressed with gzip, xz, zstd or bzip2, read as one stream."""
from __future__ import annotations

import bz2
import lzma
from collections.abc import Iterator
from typing import BinaryIO

import zstandard

from bodega import errors
from bodega._native.tar import TarReader
from bodega.storage.archive.gunzip import Gunzip
from bodega.storage.archive.prefetch import Prefetch
from bodega.storage.archive.member import DIR, FILE, HARDLINK, SPECIAL, SYMLINK, Member
from bodega.storage.archive.reader import Archive, damage_error, is_damage
from bodega.storage.archive.sniff import TAR, TAR_BZ2, TAR_GZ, TAR_XZ, TAR_ZST, looks_like_tar

SPECIAL_NAMES = {ord("3"): "character device", ord("4"): "block device", ord("6"): "fifo"}


def _decompressed(raw: BinaryIO, fmt: str) -> BinaryIO:
    """The tar stream inside raw."""
    if fmt == TAR_GZ:
        return Gunzip(raw)  # type: ignore[return-value]
    if fmt == TAR_XZ:
        return lzma.LZMAFile(raw)  # type: ignore[return-value]
    if fmt == TAR_BZ2:
        return bz2.BZ2File(raw)  # type: ignore[return-value]
    if fmt == TAR_ZST:
        return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)  # type: ignore[return-value]
    return raw


MAX_WHOLE = 1 << 20  # files up to this size come whole from the buffer; larger ones are streamed
REFILL = 4 << 20     # decoded bytes read at a time
TYPES = {ord("0"): FILE, ord("5"): DIR, ord("2"): SYMLINK, ord("1"): HARDLINK}


class _Data:
    """A large file's data, read from the archive's buffer and decoder; finish() skips what the
    reader left and the padding, so the stream stands at the next header."""

    def __init__(self, archive: TarArchive, size: int, shown: str) -> None:
        self._a, self._left, self._shown, self._pad = archive, size, shown, -size % 512

    def read(self, n: int = -1) -> bytes:
        """Up to n bytes (all with -1); b"" at the member's end."""
        n = self._left if n < 0 else min(n, self._left)
        if n <= 0:
            return b""
        out = self._a._take(n, self._shown)
        if not out:
            raise errors.ArchiveCorrupt(f"{self._a.path}: member {self._shown!r}: damaged or truncated "
                                        "(unexpected end of data)", member=self._shown, path=self._a.path)
        self._left -= len(out)
        return out

    def finish(self) -> None:
        """Skips the rest of the data and its padding."""
        while self._left > 0:
            self.read(REFILL)
        self._a._take(self._pad, self._shown)

    def close(self) -> None:
        """Nothing to release: the archive owns the stream."""

    def __enter__(self) -> "_Data":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class TarArchive(Archive):
    """A tar stream: members are known one at a time, each member's data only until the next.

    The native core reads the headers (ustar, pax, GNU long names) from a buffer of the
    decoded stream; a small file's data comes with its member (Member.data), a large one's
    is streamed from the buffer and the decoder.
    """

    def __init__(self, path: str, fmt: str) -> None:
        super().__init__(path)
        self.format = fmt
        try:
            self._raw = open(self.path, "rb")
        except OSError as e:
            raise errors.os_error(e, "open archive", self.path) from None
        try:
            self._stream = Prefetch(_decompressed(self._raw, fmt))
            head = b""
            while len(head) < 512:
                more = self._stream.read(512 - len(head))
                if not more:
                    break
                head += more
            if head and not looks_like_tar(head):
                raise errors.ArchiveCorrupt(f"{self.path}: {fmt} data that is not a tar archive", path=self.path)
            if not head:
                raise errors.ArchiveCorrupt(f"{self.path}: damaged or truncated (empty file)", path=self.path)
        except Exception as exc:
            self._close()
            if is_damage(exc):
                raise damage_error(exc, self.path, None) from None
            raise
        self._buf = bytearray(head)
        self._eof = False

    def _fill(self, want: int, where: str | None) -> None:
        """Reads the decoder until the buffer holds want bytes or the stream ends."""
        try:
            while not self._eof and len(self._buf) < want:
                chunk = self._stream.read(max(REFILL, want - len(self._buf)))
                if chunk:
                    self._buf += chunk
                else:
                    self._eof = True
        except Exception as exc:
            if is_damage(exc):
                raise damage_error(exc, self.path, where) from None
            raise

    def _take(self, n: int, where: str) -> bytes:
        """The next n bytes of the stream (fewer only at its end)."""
        self._fill(n, where)
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def _member(self, row: tuple[int, bytes, bytes, int, int, int, int, bool], data: bytes | None,
                stream: _Data | None) -> Member:
        t, name, link, mode, mtime_ns, size, _, _ = row
        kind = TYPES.get(t, SPECIAL)
        detail = ""
        if kind == DIR:
            name = name.rstrip(b"/")  # a directory's trailing slash goes (kind says what it is)
        elif kind == SPECIAL:
            detail = SPECIAL_NAMES.get(t, f"tar type {bytes([t])!r}")
        opener = (lambda: stream) if kind == FILE and stream is not None else None
        return Member(name=name, kind=kind, mode=mode & 0o7777, size=size if kind == FILE else 0, mtime_ns=mtime_ns,
                      link=link if kind in (SYMLINK, HARDLINK) else None, detail=detail,
                      data=data if kind == FILE else None, _opener=opener)  # type: ignore[arg-type]

    def __iter__(self) -> Iterator[Member]:
        reader = TarReader()
        last: str | None = None
        need = 0
        while not reader.ended:
            self._fill(max(need, REFILL), f"after {last}" if last else None)
            try:
                rows, used, need = reader.read(self._buf, self._eof, MAX_WHOLE)
            except errors.ArchiveCorrupt as exc:
                where = exc.member or (f"after {last}" if last else None)
                raise errors.ArchiveCorrupt(f"{self.path}: " + (f"member {where!r}: " if where else "")
                                            + f"damaged or truncated ({exc})", member=exc.member or last,
                                            path=self.path) from None
            view = memoryview(self._buf)
            try:
                datas = [bytes(view[r[6]:r[6] + r[5]]) if r[7] else None for r in rows]
            finally:
                view.release()
            del self._buf[:used]
            for row, data in zip(rows, datas):
                stream = None if row[7] else _Data(self, row[5], row[1].decode("utf-8", "backslashreplace"))
                m = self._member(row, data, stream)
                last = m.shown
                yield m
                if stream is not None:  # the call stopped after it: its data is next in the stream
                    stream.finish()
        self._drain(last)

    def _drain(self, last: str | None) -> None:
        """Reads the stream to its end, so the decoder checks its trailer (gzip's CRC, xz's and
        zstd's checksums) even though tar's end marker came first."""
        self._buf.clear()
        while not self._eof:
            self._fill(REFILL, f"after {last}" if last else None)
            self._buf.clear()

    def _close(self) -> None:
        stream = getattr(self, "_stream", None)
        try:
            if stream is not None:
                stream.close()
        finally:
            self._raw.close()

    def close(self) -> None:
        """Stops the decoder and closes the file."""
        self._close()
