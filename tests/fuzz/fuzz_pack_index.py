"""Coverage-guided fuzzing of the pack index reader (storage/pack.py) with atheris.

    PYTHONPATH=src python tests/fuzz/fuzz_pack_index.py -runs=100000

The first byte picks the mode: the bytes as a whole pack file (read_index), or as a remote
store's index object (index_of_tail); with its low bit set, the CRCs of the mutated index and
trailer are made right again, so the mutations reach the row checks behind them.
"""
from __future__ import annotations

import os
import struct
import sys
import zlib

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run, scratch_file  # noqa: E402

with atheris.instrument_imports():
    from pathlib import Path

    from bodega import errors
    from bodega.storage import pack

SCRATCH = scratch_file("p.pack")


def seed() -> bytes:
    """A real pack of three records (a blob twice, a recipe)."""
    w = pack.PackWriter(Path(scratch_file("seed.pack")))
    for i, data in enumerate((b"hello", b"world" * 20, b"hello")):
        w.add(bytes([i % 2]) * 32, data, len(data), pack.RECIPE if i == 1 else pack.BLOB, pack.RAW)
    w.finish()
    return w.path.read_bytes()


def resealed(data: bytes) -> bytes:
    """data with its trailer's index CRC and trailer CRC made to match what it holds."""
    t = pack.TRAILER.size
    if len(data) < t:
        return data
    index_offset, n, _, _, end = pack.TRAILER.unpack(data[-t:])
    index = data[index_offset:len(data) - t] if pack.HEADER.size <= index_offset <= len(data) - t else b""
    head = struct.pack("<QQI", index_offset, n, zlib.crc32(index))
    return data[:-t] + head + struct.pack("<I", zlib.crc32(head)) + end


def one_input(data: bytes) -> None:
    if not data:
        return
    mode, body = data[0], data[1:]
    if mode & 1:
        body = resealed(body)
    try:
        if mode & 2:
            n = pack.TRAILER.unpack(body[-pack.TRAILER.size:])[1] if len(body) >= pack.TRAILER.size else 0
            tail = body[max(0, len(body) - pack.tail_length(n)):]  # the index and trailer, as read_tail cuts them
            entries = pack.index_of_tail("p", "fuzz", len(body), tail)
        else:
            with open(SCRATCH, "wb") as f:
                f.write(body)
            entries = pack.read_index(Path(SCRATCH))
    except (errors.PackCorrupt, errors.StoreFormatUnsupported):
        return
    for e in entries.values():  # what the reader promises of every row it accepts
        assert pack.HEADER.size <= e.offset and e.offset + e.stored_len <= len(body), e
        assert e.kind in (pack.BLOB, pack.RECIPE) and e.codec in (pack.RAW, pack.ZSTD), e


if __name__ == "__main__":
    s = seed()
    run(one_input, {"file": b"\x00" + s, "file-resealed": b"\x01" + s, "tail": b"\x02" + s,
                    "tail-resealed": b"\x03" + s})
