"""Coverage-guided fuzzing of the archive readers (zip, 7z, tar and its compressions, as
`bodega app install` and `bodega import` read them) with atheris.

    PYTHONPATH=src python tests/fuzz/fuzz_archive.py -runs=100000

Each input is an archive file (the seeds: every format, and 7z both as bodega writes it, read by
bodega's own 7z reader, with its header encoded and plain, and as py7zr writes it, read through
py7zr; half the 7z inputs get their header CRCs made right again): sniffed, opened, every member listed and its data read (at
most READ_CAP bytes an input, so a small bomb cannot stall the run).  A bodega error is the
reader refusing bad input; anything else escaping is a finding.
"""
from __future__ import annotations

import os
import struct
import sys
import zlib

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run, scratch_file  # noqa: E402
from seeds import archives  # noqa: E402

with atheris.instrument_imports():
    from bodega import errors
    from bodega.storage.archive import FILE, open_archive
    # imported by open_archive only when a 7z comes: instrumented here, so coverage guides into them
    from bodega.storage.archive import sevenzip_folders, sevenzip_header, sevenzip_py7zr, sevenzip_reader  # noqa: F401
    from bodega.storage.archive.sevenzip_format import SIGNATURE

SCRATCH = scratch_file("input")
READ_CAP = 4 << 20


def resealed(data: bytes) -> bytes:
    """A 7z with its signature header's and header's CRCs made to match what they cover, so the
    mutations reach the header parser behind them (done for half the 7z inputs)."""
    if len(data) < 32 or data[:6] != SIGNATURE[:6] or zlib.crc32(data) & 1:
        return data
    offset, size, _ = struct.unpack_from("<QQI", data, 12)
    header = data[32 + offset:32 + offset + size]
    tail = struct.pack("<QQI", offset, size, zlib.crc32(header))
    return data[:8] + struct.pack("<I", zlib.crc32(tail)) + tail + data[32:]


def one_input(data: bytes) -> None:
    data = resealed(data)
    with open(SCRATCH, "wb") as f:
        f.write(data)
    left = READ_CAP
    try:
        with open_archive(SCRATCH) as archive:
            for m in archive:
                assert isinstance(m.name, bytes) and isinstance(m.shown, str), m
                if m.kind == FILE and left > 0:
                    with m.open() as stream:
                        while left > 0 and (piece := stream.read(min(left, 1 << 16))):
                            left -= len(piece)
    except errors.BodegaError:
        return


if __name__ == "__main__":
    run(one_input, archives())
