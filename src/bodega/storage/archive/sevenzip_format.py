"""The 7z format's constants (7zFormat.txt) and its variable-length NUMBER, shared by the writer and the reader."""
from __future__ import annotations

from bodega import errors

SIGNATURE = b"7z\xbc\xaf\x27\x1c\x00\x04"  # the magic and format version 0.4
START_HEADER = 32                          # the signature header's size; pack positions count from its end
COPY, DEFLATE, LZMA = b"\x00", b"\x04\x01\x08", b"\x03\x01\x01"  # coder ids: stored, raw Deflate, LZMA
FILETIME_EPOCH = 116444736000000000        # 100 ns ticks from 1601 to 1970
ATTR_READONLY, ATTR_DIR, ATTR_REPARSE, ATTR_UNIX = 0x01, 0x10, 0x400, 0x8000  # 0x8000: Unix mode in the high 16 bits
S_IFLNK, S_IFDIR, S_IFREG = 0o120000, 0o040000, 0o100000

# property ids
(K_END, K_HEADER, K_ARCHIVE_PROPERTIES, K_ADDITIONAL_STREAMS, K_MAIN_STREAMS, K_FILES_INFO, K_PACK_INFO,
 K_UNPACK_INFO, K_SUBSTREAMS, K_SIZE, K_CRC, K_FOLDER, K_UNPACK_SIZE, K_NUM_UNPACK_STREAM, K_EMPTY_STREAM,
 K_EMPTY_FILE, K_ANTI, K_NAME, K_CTIME, K_ATIME, K_MTIME, K_ATTRIBUTES, K_COMMENT, K_ENCODED_HEADER, K_START_POS,
 K_DUMMY) = range(0x1A)


def number(n: int) -> bytes:
    """A 7z NUMBER: the first byte's leading one bits count the little-endian bytes that follow."""
    for extra in range(8):
        if n < 1 << (7 * (extra + 1)):
            first = ((0xFF << (8 - extra)) & 0xFF) | (n >> (8 * extra))
            return bytes([first]) + (n & ((1 << (8 * extra)) - 1)).to_bytes(extra, "little")
    return b"\xff" + n.to_bytes(8, "little")


def bits(flags: list[bool]) -> bytes:
    """A bit vector, most significant bit first."""
    out = bytearray((len(flags) + 7) // 8)
    for i, on in enumerate(flags):
        if on:
            out[i >> 3] |= 0x80 >> (i & 7)
    return bytes(out)


LINK_MAX = 4096  # bytes of a symlink's target (its data in a 7z)


def link_target(data: bytes, path: str, member: str) -> bytes:
    """A symlink member's data as its target, refused when longer than LINK_MAX."""
    if len(data) > LINK_MAX:
        raise errors.UnsafeArchive(f"{path}: member {member!r}: link target too long", member=member,
                                   reason="link target too long")
    return data
