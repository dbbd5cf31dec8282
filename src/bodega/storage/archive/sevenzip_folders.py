"""The folders of a 7z file decoded in order, for a reader on another thread: a folder up to
WHOLE bytes is inflated at once (ISA-L, without the GIL) and split into its files' bytes,
each checked against its CRC; a larger one comes as pieces of at most PIECE bytes, so a
multi-GiB file is never held whole."""
from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

import isal.isal_zlib as _isal

from bodega.storage.archive.sevenzip_format import COPY
from bodega.storage.archive.sevenzip_header import Folder

WHOLE = 32 << 20  # a folder up to this, packed and unpacked, is decoded whole
PIECE = 4 << 20   # a larger one's decoded pieces
IN = 1 << 20      # its packed bytes read at a time
LOCATE = 64 << 10  # packed bytes fed at a time to find where a damaged stream fails
INFLATE_ERRORS = (zlib.error, _isal.error)


def is_whole(folder: Folder) -> bool:
    """Whether the folder is decoded whole (else streamed in pieces)."""
    return max(folder.packed, folder.unpacked) <= WHOLE


@dataclass(frozen=True)
class Decoded:
    """A whole folder: its streams' bytes up to the first damaged one, and what is wrong with that one."""

    parts: list[bytes]
    error: str | None = None


@dataclass(frozen=True)
class StreamEnd:
    """The end of a streamed folder's pieces: None, or what is wrong with the rest of it."""

    error: str | None = None


def _inflate_located(raw: bytes, limit: int) -> tuple[bytes, str]:
    """A damaged Deflate stream inflated again a little at a time: what came out before the
    damage (so the files before it are delivered and the damaged one is named), and the error."""
    d = _isal.decompressobj(-15)
    out = bytearray()
    try:
        for at in range(0, len(raw), LOCATE):
            out += d.decompress(raw[at:at + LOCATE], limit + 1 - len(out))
            if len(out) > limit:
                break
    except INFLATE_ERRORS as exc:
        return bytes(out), f"deflate data is damaged ({exc})"
    return bytes(out), "deflate data is damaged"


def _whole(f: BinaryIO, folder: Folder) -> Decoded:
    f.seek(folder.offset)
    raw = f.read(folder.packed)
    error = None
    if len(raw) != folder.packed:
        error = "the file is cut short"
    if folder.coder == COPY:
        data = raw
    else:
        try:
            data = _isal.decompressobj(-15).decompress(raw, folder.unpacked + 1)
        except INFLATE_ERRORS:
            data, error = _inflate_located(raw, folder.unpacked)
    if len(data) > folder.unpacked:
        error = f"the folder holds more than its {folder.unpacked} bytes"
    elif len(data) < folder.unpacked and error is None:
        error = "the data ends early"
    if len(folder.sizes) == 1 and len(data) == folder.unpacked:
        crc = folder.crcs[0]
        if crc is not None and _isal.crc32(data) != crc:
            return Decoded([], "CRC mismatch")
        return Decoded([data], error)
    parts = []
    at = 0
    for size, crc in zip(folder.sizes, folder.crcs):
        part = data[at:at + size]
        if len(part) < size:
            return Decoded(parts, error or "the data ends early")
        if crc is not None and _isal.crc32(part) != crc:
            return Decoded(parts, "CRC mismatch")
        parts.append(part)
        at += size
    return Decoded(parts, error)


def _streamed(f: BinaryIO, folder: Folder) -> Iterator[bytes | StreamEnd]:
    f.seek(folder.offset)
    left_in, left_out = folder.packed, folder.unpacked
    d = None if folder.coder == COPY else _isal.decompressobj(-15)
    while left_out > 0:
        want = min(PIECE, left_out)
        try:
            if d is None:
                out = f.read(min(want, left_in))
                left_in -= len(out)
            elif d.unconsumed_tail or not left_in or d.eof:
                out = d.decompress(d.unconsumed_tail, want)  # also what the decoder still holds
            else:
                raw = f.read(min(IN, left_in))
                left_in -= len(raw)
                out = d.decompress(raw, want) if raw else b""
                if raw and not out:
                    continue  # more input needed
        except INFLATE_ERRORS as exc:
            yield StreamEnd(f"deflate data is damaged ({exc})")
            return
        if not out:
            yield StreamEnd("the file is cut short" if left_in else "the data ends early")
            return
        left_out -= len(out)
        yield out
    yield StreamEnd()


def decode(path: str, folders: list[Folder]) -> Iterator[Decoded | bytes | StreamEnd]:
    """Each folder in order: a whole one as Decoded, a larger one as its pieces then a StreamEnd."""
    with open(path, "rb") as f:
        for folder in folders:
            if is_whole(folder):
                yield _whole(f, folder)
            else:
                yield from _streamed(f, folder)
