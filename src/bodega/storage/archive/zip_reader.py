"""Zip archives, through the standard zipfile module (ZIP64 included)."""
from __future__ import annotations

import calendar
import stat
import struct
import time
import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from bodega import errors
from bodega.storage.archive.member import DIR, FILE, SPECIAL, SYMLINK, Member
from bodega.storage.archive.reader import Archive, GuardedStream, damage_error, is_damage
from bodega.storage.archive.sniff import ZIP

UNIX = 3  # ZipInfo.create_system of archives made on Unix: external_attr carries st_mode
LINK_MAX = 4096
UTF8_FLAG = 0x800
EXTENDED_TIMESTAMP = 0x5455


def _raw_name(info: zipfile.ZipInfo) -> bytes:
    """The name's bytes as stored (zipfile decoded them as UTF-8 or cp437 by the flag)."""
    return info.orig_filename.encode("utf-8" if info.flag_bits & UTF8_FLAG else "cp437", "surrogateescape")


def _mtime_ns(info: zipfile.ZipInfo) -> int | None:
    """The UTC mtime of the extended-timestamp field, else the DOS time read as local time."""
    extra = info.extra
    i = 0
    while i + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, i)
        if tag == EXTENDED_TIMESTAMP and size >= 5 and extra[i + 4] & 1:
            return struct.unpack_from("<i", extra, i + 5)[0] * 1_000_000_000
        i += 4 + size
    try:
        return int(time.mktime(info.date_time + (0, 0, -1))) * 1_000_000_000
    except (OverflowError, ValueError):
        return calendar.timegm((1980, 1, 1, 0, 0, 0)) * 1_000_000_000


def _kind_and_mode(info: zipfile.ZipInfo, name: bytes) -> tuple[str, int, str]:
    """(kind, permission bits, detail) from the Unix mode or the DOS attributes."""
    st_mode = info.external_attr >> 16 if info.create_system == UNIX else 0
    fmt = stat.S_IFMT(st_mode)
    if fmt == stat.S_IFLNK:
        return SYMLINK, 0o777, ""
    if fmt in (stat.S_IFCHR, stat.S_IFBLK, stat.S_IFIFO, stat.S_IFSOCK):
        return SPECIAL, st_mode & 0o7777, _special_name(fmt)
    is_dir = fmt == stat.S_IFDIR or name.endswith(b"/") or bool(info.external_attr & 0x10)
    perms = st_mode & 0o7777
    if not perms:
        perms = 0o755 if is_dir else (0o444 if info.external_attr & 0x01 else 0o644)
    return (DIR if is_dir else FILE), perms, ""


def _special_name(fmt: int) -> str:
    return {stat.S_IFCHR: "character device", stat.S_IFBLK: "block device", stat.S_IFIFO: "fifo",
            stat.S_IFSOCK: "socket"}.get(fmt, "special file")


class ZipArchive(Archive):
    """A zip file: members from the central directory, data decompressed on demand."""

    format = ZIP

    def __init__(self, path: str) -> None:
        super().__init__(path)
        try:
            self._zip = zipfile.ZipFile(self.path)
            self._members = [self._member(info) for info in self._zip.infolist()]
        except Exception as exc:
            if hasattr(self, "_zip"):
                self._zip.close()
            if isinstance(exc, NotImplementedError):  # a zip version or feature zipfile lacks
                raise errors.NotSupported(f"{self.path}: {exc}") from None
            if is_damage(exc) or isinstance(exc, OSError):
                raise damage_error(exc, self.path, None) from None
            raise

    def _member(self, info: zipfile.ZipInfo) -> Member:
        name = _raw_name(info)
        if info.flag_bits & 0x1:
            raise errors.NotSupported(f"{self.path}: member {name.decode('utf-8', 'replace')!r} is encrypted")
        kind, mode, detail = _kind_and_mode(info, name)
        link = None
        if kind == SYMLINK:
            if info.file_size > LINK_MAX:
                raise errors.UnsafeArchive(f"{self.path}: member {name!r}: a link target of {info.file_size} bytes",
                                           member=name.decode("utf-8", "replace"), reason="link target too long")
            link = self._read_all(info, name)
        return Member(name=name, kind=kind, mode=mode, size=info.file_size if kind == FILE else 0,
                      mtime_ns=_mtime_ns(info), link=link, compressed_size=info.compress_size, detail=detail,
                      _opener=(lambda info=info, name=name: self._open(info, name)) if kind == FILE else None)

    def _read_all(self, info: zipfile.ZipInfo, name: bytes) -> bytes:
        with self._open(info, name) as f:
            return f.read()

    def _open(self, info: zipfile.ZipInfo, name: bytes) -> BinaryIO:
        shown = name.decode("utf-8", "backslashreplace")
        if not 0 <= info.header_offset < self.size:  # a damaged directory: seeking there fails (EINVAL)
            raise errors.ArchiveCorrupt(f"{self.path}: member {shown!r}: damaged or truncated (its data would "
                                        f"be at byte {info.header_offset}, outside the file)",
                                        member=shown, path=self.path)
        try:
            raw = self._zip.open(info)
        except NotImplementedError as exc:
            raise errors.NotSupported(f"{self.path}: member {shown!r}: {exc}") from None
        except Exception as exc:
            if is_damage(exc):
                raise damage_error(exc, self.path, shown) from None
            raise
        return GuardedStream(raw, self.path, shown)  # type: ignore[return-value]

    @property
    def listing(self) -> list[Member]:
        """Every member, from the central directory."""
        return list(self._members)

    def __iter__(self) -> Iterator[Member]:
        return iter(self._members)

    def close(self) -> None:
        """Closes the zip file."""
        self._zip.close()
