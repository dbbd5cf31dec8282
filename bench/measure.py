"""Timing shared by the benchmarks: medians of a few wall-clock rounds."""
from __future__ import annotations

import statistics
import time
from typing import Callable

ROUNDS = 5


def median_seconds(fn: Callable[[], object], rounds: int = ROUNDS) -> float:
    """The median wall time of fn() over rounds runs."""
    times = []
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
