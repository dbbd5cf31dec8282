"""Timing shared by the benchmarks (the rounds themselves: bodega.storage.timing, shared with
`bodega tune` and `bodega bench`): medians of a few wall-clock rounds, each on a settled
machine, warm (what the previous steps left in the page cache) or cold (caches dropped)."""
from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Callable, Iterable

from bodega.storage.timing import interleaved

ROUNDS = int(os.environ.get("BODEGA_BENCH_ROUNDS", "5"))  # rounds per contender, alternated


def settle() -> None:
    """Writes back every dirty page before a timed run (os.sync).

    Otherwise the kernel's flusher threads write back what an earlier step wrote (a
    generated tree, a peer's repository, a git object store) during the run, taking one of
    the machine's two cores from whichever tool happens to be timed.
    """
    os.sync()


def drop_caches() -> None:
    """Writes back dirty pages, then empties the page, dentry and inode caches (root only):
    the next run reads the tree and the store from the disk, as after a reboot."""
    os.sync()
    with open("/proc/sys/vm/drop_caches", "w") as f:
        f.write("3\n")


def can_drop_caches() -> bool:
    """True when cold runs are wanted (BODEGA_BENCH_COLD, default 1) and this process may drop
    the caches (root, /proc/sys writable)."""
    return os.environ.get("BODEGA_BENCH_COLD", "1") != "0" and os.access("/proc/sys/vm/drop_caches", os.W_OK)


def warm(paths: Iterable[Path]) -> None:
    """Reads every file under paths into the page cache.

    A warm run is warm for every tool: what a tool reads (the tree it backs up, the store or
    repository it restores from) is read into the page cache just before its run.  Otherwise
    the tool timed after another that wrote gigabytes (a peer's restore, a repository) finds
    its own data pushed out of the cache: a 5 GiB store and a peer's restore of a 5 GiB tree
    did not fit together in 24 GiB, when loop devices still cached every page a second time
    (conftest.DIRECT_IO).
    """
    for path in paths:
        subprocess.run(["find", str(path), "-type", "f", "-exec", "cat", "{}", "+"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)


def prepare(cold: bool, reads: Iterable[Path] = ()) -> None:
    """Before a timed run: settled, and for a cold run with every cache dropped; for a warm
    one with what the run reads (reads) in the page cache."""
    if cold:
        drop_caches()
    else:
        warm(reads)
        settle()


def median_seconds(fn: Callable[[], object], rounds: int = ROUNDS, cold: bool = False) -> float:
    """The median wall time of fn() over rounds runs (cold: caches dropped before each)."""
    return interleaved({"fn": fn}, rounds, before_each=lambda _: prepare(cold))["fn"].median


def interleaved_medians(contenders: dict[str, Callable[[], object]], rounds: int = ROUNDS,
                        cold: bool = False) -> dict[str, float]:
    """The median wall time of each contender, their runs taking turns so that a busy
    machine slows them all alike (cold: caches dropped before each run)."""
    timings = interleaved(contenders, rounds, before_each=lambda _: prepare(cold))
    return {name: t.median for name, t in timings.items()}
