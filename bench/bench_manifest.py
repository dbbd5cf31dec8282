"""Manifest build speed and memory: bodega vs `b3sum` over the same files, one run.

Acceptance (issue 3): building the manifest of the ~100k-file tree (warm page cache) is at
least 1.5x faster than `find -type f -print0 | xargs -0 b3sum`; on one 4 GiB file at least
0.9x of `b3sum` with its default threads.  Also prints the peak memory per entry.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import shutil
from pathlib import Path

import pytest

import bodega

from conftest import BENCH_FILES, ROUNDS, run_peer

SRC = Path(__file__).resolve().parents[1] / "src"
BIG_FILE = int(os.environ.get("BODEGA_BENCH_BIG_FILE", str(4 << 30)))


def b3sum_tree(root: Path) -> None:
    # the command line the issue names, run in the tree
    done = subprocess.run("find . -type f -print0 | xargs -0 b3sum > /dev/null", shell=True,
                          cwd=root, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"b3sum failed: {done.stderr}")


def bodega_build(root: Path) -> int:
    return len(bodega.manifest.build(root))


@pytest.fixture(scope="module")
def big_file_dir() -> Path:
    """A directory holding one file of BIG_FILE bytes (random 64 MiB pieces), page cache warm."""
    base = Path(tempfile.mkdtemp(prefix="bodega-bench-big-", dir="/var/tmp"))
    piece = os.urandom(64 << 20)
    with open(base / "big.bin", "wb") as f:
        for _ in range(BIG_FILE // len(piece)):
            f.write(piece)
    run_peer(["cat", str(base / "big.bin")])
    yield base
    shutil.rmtree(base, ignore_errors=True)


@pytest.mark.parametrize("tool", ["bodega", "b3sum"])
def test_manifest_build_tree(benchmark, ext4_tree, ratios, tool):
    """Every file of the tree hashed, warm cache."""
    fn = bodega_build if tool == "bodega" else b3sum_tree
    fn(ext4_tree)  # warm the page cache
    benchmark.group = "manifest build (tree)"
    benchmark.pedantic(fn, args=(ext4_tree,), rounds=ROUNDS, warmup_rounds=1, iterations=1)
    ratios.record("manifest build, 100k-file tree", tool, benchmark.stats.stats.median)


@pytest.mark.parametrize("tool", ["bodega", "b3sum"])
def test_manifest_build_big_file(benchmark, big_file_dir, ratios, tool):
    """One 4 GiB file, warm cache, b3sum with its default threads."""
    if tool == "bodega":
        fn, args = bodega_build, (big_file_dir,)
    else:
        fn, args = run_peer, (["b3sum", str(big_file_dir / "big.bin")],)
    benchmark.group = "manifest build (4 GiB file)"
    benchmark.pedantic(fn, args=args, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    ratios.record(f"manifest build, one {BIG_FILE >> 30} GiB file", tool, benchmark.stats.stats.median)


MEMORY_PROBE = """
import json, resource, sys
import bodega.storage.manifest as mf
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
m = mf.build(sys.argv[1])
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"entries": len(m), "peak_bytes": (peak - base) * 1024, "held": m.nbytes,
                  "file_bytes": len(m.to_bytes())}))
"""


def test_manifest_peak_memory_per_entry(ext4_tree, ratios):
    """Peak RSS of a build above the interpreter's baseline, per entry (a fresh process)."""
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(ext4_tree)], capture_output=True,
                         text=True, check=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    r = json.loads(out.stdout)
    per_entry = r["peak_bytes"] / r["entries"]
    ratios.note(f"manifest memory: peak {per_entry:.0f} B/entry during the build, "
                f"{r['held'] / r['entries']:.0f} B/entry held, file {r['file_bytes'] / r['entries']:.0f} "
                f"B/entry ({r['entries']} entries, {BENCH_FILES} files)")
    assert per_entry < 1024
