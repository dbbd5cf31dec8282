"""Coverage-guided fuzzing of the export package reader (what `bodega export verify` and
`bodega import` run: every member checked against the package's manifests) with atheris.

    PYTHONPATH=src python tests/fuzz/fuzz_package.py -runs=100000

Each input is a package file (seeds: real zip and 7z packages).  A bodega error is the reader
refusing a damaged package; anything else escaping is a finding.
"""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run, scratch_file  # noqa: E402
from seeds import packages  # noqa: E402

with atheris.instrument_imports():
    from bodega import errors
    from bodega.storage.archive import open_archive
    from bodega.storage.package.read import read_package

SCRATCH = scratch_file("input")


def one_input(data: bytes) -> None:
    with open(SCRATCH, "wb") as f:
        f.write(data)
    try:
        with open_archive(SCRATCH) as archive:
            contents, report = read_package(archive)
    except errors.BodegaError:
        return
    assert contents.info is not None and report.members > 0


if __name__ == "__main__":
    run(one_input, packages())
