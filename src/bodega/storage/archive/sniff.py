"""Which archive format a file is, from its first bytes (never its name)."""
from __future__ import annotations

import os
import tarfile

ZIP, SEVENZIP, TAR = "zip", "7z", "tar"
TAR_GZ, TAR_XZ, TAR_ZST, TAR_BZ2 = "tar.gz", "tar.xz", "tar.zst", "tar.bz2"
FORMATS = (ZIP, SEVENZIP, TAR, TAR_GZ, TAR_XZ, TAR_ZST, TAR_BZ2)

_MAGIC = (
    (b"PK\x03\x04", ZIP),
    (b"PK\x05\x06", ZIP),  # an empty zip: the end record alone
    (b"7z\xbc\xaf\x27\x1c", SEVENZIP),
    (b"\x1f\x8b", TAR_GZ),
    (b"\xfd7zXZ\x00", TAR_XZ),
    (b"\x28\xb5\x2f\xfd", TAR_ZST),
    (b"BZh", TAR_BZ2),
)


def looks_like_tar(head: bytes) -> bool:
    """Whether a 512-byte block is a tar header (ustar magic, or a v7 header whose checksum holds)."""
    if len(head) < 512:
        return False
    if head[257:262] == b"ustar":
        return True
    try:
        tarfile.TarInfo.frombuf(head[:512], "utf-8", "surrogateescape")
    except tarfile.HeaderError:
        return False
    return True


def sniff_bytes(head: bytes) -> str | None:
    """The format whose magic head starts with (a compressed stream counts as a tar), or None."""
    for magic, fmt in _MAGIC:
        if head.startswith(magic):
            return fmt
    return TAR if looks_like_tar(head) else None


def sniff(path: str | os.PathLike[str]) -> str | None:
    """The archive format of the file at path by its magic bytes, or None when it is not one."""
    with open(path, "rb") as f:
        return sniff_bytes(f.read(512))
