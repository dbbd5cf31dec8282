"""Coverage-guided fuzzing of the archive readers (zip, 7z, tar and its compressions, as
`bodega app install` and `bodega import` read them) with atheris.

    PYTHONPATH=src python tests/fuzz/fuzz_archive.py -runs=100000

Each input is an archive file: sniffed, opened, every member listed and its data read (at
most READ_CAP bytes an input, so a small bomb cannot stall the run).  A bodega error is the
reader refusing bad input; anything else escaping is a finding.
"""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run, scratch_file  # noqa: E402
from seeds import archives  # noqa: E402

with atheris.instrument_imports():
    from bodega import errors
    from bodega.storage.archive import FILE, open_archive

SCRATCH = scratch_file("input")
READ_CAP = 4 << 20


def one_input(data: bytes) -> None:
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
