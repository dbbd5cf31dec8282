"""Reading archives (zip, 7z, tar, tar.gz/.xz/.zst/.bz2) and unpacking them safely into a tree.

    from bodega.storage.archive import open_archive, unpack, UnpackLimits
    with open_archive(path) as a, Tree.open(root) as t:
        report = unpack(a, t, into=b"apps/vlc", limits=UnpackLimits(max_bytes=8 << 30))

The format comes from the file's magic bytes, never its name.  Iterating an Archive gives
Members in archive order (name bytes, kind, mode, size, mtime, link target, a data stream).
unpack() refuses, with errors.UnsafeArchive naming the member and the reason, anything that
would escape the tree or exhaust the disk: `..`, absolute paths, drive letters, links or hard
links pointing outside, devices and other special files, duplicate members, zip bombs (size
and ratio caps); damaged data is errors.ArchiveCorrupt.  Writes go through the no-follow Tree.
"""
from __future__ import annotations

import os

from bodega import errors
from bodega.storage.archive.member import DIR, FILE, HARDLINK, KINDS, SPECIAL, SYMLINK, Member
from bodega.storage.archive.reader import Archive
from bodega.storage.archive.sniff import FORMATS, SEVENZIP, ZIP, sniff
from bodega.storage.archive.unpack import UnpackLimits, UnpackReport, unpack

__all__ = ["Archive", "Member", "UnpackLimits", "UnpackReport", "open_archive", "sniff", "unpack",
           "FORMATS", "KINDS", "FILE", "DIR", "SYMLINK", "HARDLINK", "SPECIAL"]


def open_archive(path: str | os.PathLike[str]) -> Archive:
    """Opens the archive at path, its format sniffed from its magic bytes."""
    try:
        fmt = sniff(path)
    except OSError as e:
        raise errors.os_error(e, "open archive", path) from None
    if fmt is None:
        raise errors.ArchiveCorrupt(f"{os.fspath(path)}: not an archive bodega reads "
                                    f"(zip, 7z, tar, tar.gz, tar.xz, tar.zst, tar.bz2)", path=os.fspath(path))
    if fmt == ZIP:
        from bodega.storage.archive.zip_reader import ZipArchive

        return ZipArchive(os.fspath(path))
    if fmt == SEVENZIP:
        from bodega.storage.archive.sevenzip_reader import open_sevenzip

        return open_sevenzip(os.fspath(path))
    from bodega.storage.archive.tar_reader import TarArchive

    return TarArchive(os.fspath(path), fmt)
