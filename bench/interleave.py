"""Timing tools in alternation, round after round, so that load from other processes on a
shared machine falls on every tool alike; the medians are compared."""
from __future__ import annotations

import statistics
import time
from typing import Callable


def interleaved(tools: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median seconds of each tool over rounds, the tools run one after the other per round
    (after one warm-up round)."""
    times: dict[str, list[float]] = {name: [] for name in tools}
    for r in range(rounds + 1):
        for name, fn in tools.items():
            t = time.perf_counter()
            fn()
            if r:
                times[name].append(time.perf_counter() - t)
    return {name: statistics.median(ts) for name, ts in times.items()}
