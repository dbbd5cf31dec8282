"""Coverage-guided fuzzing of the manifest reader with atheris (libFuzzer).

    PYTHONPATH=src python tests/storage/fuzz_manifest.py [-runs=N] [-max_len=4096]

Two targets, chosen by the first byte: the whole file reader (loads), and the column checker
behind it fed directly (the checksums would stop most mutations before it).  Any exception
other than the two documented ones is a finding.
"""
from __future__ import annotations

import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    from bodega import errors
    from bodega._native import manifest as native
    from bodega.storage import manifest as mf
    from bodega.storage import manifest_file


def seed() -> bytes:
    """A real manifest of a small tree: the mutations start from valid input."""
    with tempfile.TemporaryDirectory() as d:
        os.makedirs(os.path.join(d, "a", "b"))
        for name, data in (("a/x", b"x"), ("a/b/y", b"yy" * 100), ("z", b"")):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
        os.symlink("a/x", os.path.join(d, "l"))
        return mf.build(d).to_bytes()


SEED = seed()
SEED_SECTIONS = manifest_file.decode(SEED)


def one_input(data: bytes) -> None:
    if not data:
        return
    if data[0] & 1:
        try:
            mf.loads(data[1:])
        except (errors.ManifestCorrupt, errors.ManifestVersionUnsupported):
            pass
        return
    n = data[1] % 8 if len(data) > 1 else 0
    table = data[2:]
    problem = native.check_sections(table, None, n, bool(data[0] & 2))
    if problem is None:
        t = native.Table.from_sections(table, None, n, bool(data[0] & 2))
        t.rows()
        if not t.delta:
            t.root()


def main() -> None:
    corpus = tempfile.mkdtemp(prefix="bodega-fuzz-")
    with open(os.path.join(corpus, "file"), "wb") as f:
        f.write(b"\x01" + SEED)
    with open(os.path.join(corpus, "table"), "wb") as f:
        f.write(b"\x00" + bytes([SEED_SECTIONS.entries]) + SEED_SECTIONS.table)
    atheris.Setup([sys.argv[0], *sys.argv[1:], corpus], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
