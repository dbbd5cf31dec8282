"""Scan speed and memory: bodega vs `find -printf` vs os.scandir with stat, same tree, one run.

Acceptance (issue 2): the scan is at least as fast as `find DIR -printf '%s %T@ %i %m\\n'`
and holds at most 200 bytes per entry above the interpreter's baseline.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
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


TOOLS = {
    "bodega": bodega_scan,
    "bodega-1-thread": lambda root: len(scan(root, threads=1)),
    "find": find_printf,
    "scandir": scandir_walk,
}


@pytest.mark.parametrize("tool", list(TOOLS))
def test_scan_speed(benchmark, bench_fs, bench_tree, ratios, tool):
    """One tool scanning the whole tree, warm cache, median of ROUNDS."""
    benchmark.group = f"scan ({bench_fs})"
    benchmark.pedantic(TOOLS[tool], args=(bench_tree,), rounds=ROUNDS, warmup_rounds=1, iterations=1)
    ratios.record(f"scan ({bench_fs})", tool, benchmark.stats.stats.median)


def test_scan_at_least_as_fast_as_find(bench_fs, bench_tree, ratios):
    """The acceptance check, on rounds that alternate the tools: on a shared machine the
    load drifts, and one tool's five rounds in a row could meet a busier minute."""
    times: dict[str, list[float]] = {tool: [] for tool in TOOLS}
    for tool in TOOLS:  # warm up
        TOOLS[tool](bench_tree)
    for r in range(ROUNDS):
        order = list(TOOLS)[r % len(TOOLS):] + list(TOOLS)[:r % len(TOOLS)]
        for tool in order:
            start = time.perf_counter()
            TOOLS[tool](bench_tree)
            times[tool].append(time.perf_counter() - start)
    medians = {tool: statistics.median(t) for tool, t in times.items()}
    for tool, m in medians.items():
        ratios.record(f"scan ({bench_fs}, rounds alternated)", tool, m)
    assert medians["bodega"] <= medians["find"], medians


MEMORY_PROBE = """
import json, resource, sys, tempfile
from bodega._native.scan import scan

def peak_kib():
    # ru_maxrss survives fork and exec (Linux keeps the parent's peak, here pytest's), so
    # read the peak of this process image itself where the kernel shows it.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

with tempfile.TemporaryDirectory() as warm:
    open(warm + "/f", "w").close()
    scan(warm)  # load everything a scan touches (threads too), so the baseline holds it
before = peak_kib()
s = scan(sys.argv[1])
after = peak_kib()
print(json.dumps({"entries": len(s), "before_kib": before, "after_kib": after, "nbytes": s.nbytes}))
"""


def test_scan_memory_per_entry(bench_fs, bench_tree, ratios):
    """Peak RSS growth while holding a Scan of the tree, per entry, in a fresh interpreter."""
    out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(bench_tree)],
                         env=dict(os.environ, PYTHONPATH=str(SRC)), capture_output=True, text=True, check=True)
    m = json.loads(out.stdout)
    per_entry = (m["after_kib"] - m["before_kib"]) * 1024 / m["entries"]
    ratios.note(f"scan memory ({bench_fs}): {per_entry:.0f} bytes/entry peak above baseline "
                f"({m['nbytes'] / m['entries']:.0f} held), {m['entries']} entries")
    assert m["entries"] >= BENCH_FILES
    # A scan's fixed cost (two workers' batch buffers, ~200 KiB) is noise at the 100k entries
    # the criterion is about, but dominates a tiny tree: allowed there only.
    fixed = 0 if m["entries"] >= 50_000 else 512 * 1024
    assert (m["after_kib"] - m["before_kib"]) * 1024 <= MAX_BYTES_PER_ENTRY * m["entries"] + fixed, m
