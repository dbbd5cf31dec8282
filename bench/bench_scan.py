"""Scan speed and memory: bodega vs `find -printf` vs os.scandir with stat, same tree, one run.

Acceptance (issue 2): the scan is at least as fast as `find DIR -printf '%s %T@ %i %m\\n'`
and holds at most 200 bytes per entry above the interpreter's baseline.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bodega._native.scan import scan

from conftest import BENCH_FILES, ROUNDS, run_peer

SRC = Path(__file__).resolve().parents[1] / "src"
MAX_BYTES_PER_ENTRY = 200


def bodega_scan(root: Path) -> int:
    return len(scan(root))


def find_printf(root: Path) -> int:
    run_peer(["find", str(root), "-printf", "%s %T@ %i %m\n"])
    return 0


def scandir_walk(root: Path) -> int:
    """The usual pure-Python walk: os.scandir recursively, lstat of every entry."""
    count, stack = 0, [os.fspath(root)]
    while stack:
        with os.scandir(stack.pop()) as it:
            for entry in it:
                entry.stat(follow_symlinks=False)
                count += 1
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
    return count


TOOLS = {"bodega": bodega_scan, "find": find_printf, "scandir": scandir_walk}


@pytest.mark.parametrize("tool", list(TOOLS))
def test_scan_speed(benchmark, bench_tree, ratios, tool):
    """One tool scanning the whole tree, warm cache, median of ROUNDS."""
    benchmark.group = f"scan ({_fs_of(bench_tree)})"
    benchmark.pedantic(TOOLS[tool], args=(bench_tree,), rounds=ROUNDS, warmup_rounds=1, iterations=1)
    ratios.record(f"scan ({_fs_of(bench_tree)})", tool, benchmark.stats.stats.median)


def _fs_of(tree: Path) -> str:
    return "xfs" if tree.parent.name == "mnt" else "ext4"


@pytest.mark.parametrize("fs", ["xfs", "ext4"])
def test_scan_at_least_as_fast_as_find(ratios, fs):
    medians = ratios.medians.get(f"scan ({fs})", {})
    if not {"bodega", "find"} <= medians.keys():
        pytest.skip("run with test_scan_speed (the whole module) to compare")
    assert medians["bodega"] <= medians["find"], medians


MEMORY_PROBE = """
import json, resource, sys, tempfile
from bodega._native.scan import scan
with tempfile.TemporaryDirectory() as warm:
    open(warm + "/f", "w").close()
    scan(warm)  # load everything a scan touches (threads too), so the baseline holds it
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
s = scan(sys.argv[1])
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"entries": len(s), "before_kib": before, "after_kib": after, "nbytes": s.nbytes}))
"""


def test_scan_memory_per_entry(bench_tree, ratios):
    """Peak RSS growth while holding a Scan of the tree, per entry, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(bench_tree)],
                         env=dict(os.environ, PYTHONPATH=str(SRC)), capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    per_entry = (m["after_kib"] - m["before_kib"]) * 1024 / m["entries"]
    ratios.note(f"scan memory ({_fs_of(bench_tree)}): {per_entry:.0f} bytes/entry peak above baseline "
                f"({m['nbytes'] / m['entries']:.0f} held), {m['entries']} entries")
    assert m["entries"] >= BENCH_FILES
    assert per_entry <= MAX_BYTES_PER_ENTRY, m
