"""Running a decoder's fuzz target under atheris (libFuzzer): seeds into a fresh corpus, the
command line passed through (-runs=N, -max_total_time=S, -max_len=B), a scratch file on tmpfs.

Each fuzz_*.py is a script: `PYTHONPATH=src python tests/fuzz/fuzz_archive.py -runs=100000`.
A target calls the decoder as bodega does; a bodega error (one line, documented exit code) is
the decoder refusing bad input, anything else escaping is a finding: atheris prints the
traceback, saves the input as crash-<sha1> and exits non-zero.
"""
from __future__ import annotations

import os
import sys
import tempfile
from typing import Callable

import atheris


def scratch_file(name: str) -> str:
    """A path for one input's bytes, on tmpfs where there is one (a file per input is cheap there)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    d = tempfile.mkdtemp(prefix="bodega-fuzz-", dir=base)
    return os.path.join(d, name)


def run(target: Callable[[bytes], None], seeds: dict[str, bytes]) -> None:
    """Fuzzes target from seeds with the command line's libFuzzer options."""
    corpus = tempfile.mkdtemp(prefix="bodega-fuzz-corpus-")
    for name, data in seeds.items():
        with open(os.path.join(corpus, name), "wb") as f:
            f.write(data)
    args = [a for a in sys.argv[1:] if a.startswith("-")]
    atheris.Setup([sys.argv[0], *args, corpus], target)
    atheris.Fuzz()
