"""Timing contenders as the benchmarks, `bodega tune` and `bodega bench` do: wall-clock rounds,
the contenders taking turns within each round so that a busy machine slows them all alike, in
the given order and then in the reverse one (A B B A): a slow drift of the machine falls on all
alike, and no contender always runs right after the same other (a run can leave the machine
slower or faster for the next one: caches, write-back, memory compaction)."""
from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class Timing:
    """The wall times of one contender's rounds."""

    seconds: tuple[float, ...]

    @property
    def median(self) -> float:
        """The median round, in seconds."""
        return statistics.median(self.seconds)

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median: how much the rounds disagree (0 for one round)."""
        m = self.median
        return (max(self.seconds) - min(self.seconds)) / m if m > 0 else 0.0


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int,
                before_each: Callable[[str], object] | None = None,
                after_each: Callable[[str], object] | None = None) -> dict[str, Timing]:
    """Each contender's wall times over rounds, their runs taking turns (before_each and
    after_each: called with the contender's name before and after its run, untimed)."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, not {rounds}")
    times: dict[str, list[float]] = {name: [] for name in contenders}
    order = list(contenders.items())
    for r in range(rounds):
        for name, fn in (order if r % 2 == 0 else order[::-1]):
            if before_each is not None:
                before_each(name)
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
            if after_each is not None:
                after_each(name)
    return {name: Timing(tuple(t)) for name, t in times.items()}
