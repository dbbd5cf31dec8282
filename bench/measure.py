"""Timing shared by the benchmarks: medians of a few wall-clock rounds, each on a settled machine."""
from __future__ import annotations

import os
import statistics
import time
from typing import Callable

ROUNDS = 5


def settle() -> None:
    """Writes back every dirty page before a timed run (os.sync).

    Otherwise the kernel's flusher threads write back what an earlier step wrote (a
    generated tree, a peer's repository, a git object store) during the run, taking one of
    the machine's two cores from whichever tool happens to be timed.
    """
    os.sync()


def median_seconds(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """The median wall time of fn() over rounds runs."""
    times = []
    for _ in range(rounds):
        settle()
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def interleaved_medians(contenders: dict[str, Callable[[], object]], rounds: int = ROUNDS) -> dict[str, float]:
    """The median wall time of each contender, their runs taking turns so that a busy
    machine slows them all alike."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            settle()
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}
