"""The benchmarks' and `bodega tune`'s rounds: every contender timed each round, the order
rotated so that no contender always runs right after the same other."""
from __future__ import annotations

import pytest

from bodega.storage.timing import interleaved


def test_rounds_go_forward_then_backward():
    ran: list[str] = []
    timings = interleaved({n: (lambda n=n: ran.append(n)) for n in "abc"}, rounds=3)
    assert "".join(ran) == "abc" "cba" "abc"
    assert {n: len(t.seconds) for n, t in timings.items()} == {"a": 3, "b": 3, "c": 3}


def test_the_backward_round_changes_what_each_contender_follows():
    ran: list[str] = []
    names = ["bodega", "floor", "git", "rsync"]
    interleaved({n: (lambda n=n: ran.append(n)) for n in names}, rounds=2)
    before = {n: {ran[i - 1] for i in range(1, len(ran)) if ran[i] == n} for n in names}
    assert before == {"bodega": {"floor"}, "floor": {"bodega", "git"}, "git": {"floor", "rsync"}, "rsync": {"git", "rsync"}}


def test_before_and_after_each_run_around_every_timed_run():
    log: list[str] = []
    interleaved({"x": lambda: log.append("x"), "y": lambda: log.append("y")}, rounds=2,
                before_each=lambda name: log.append(f"before {name}"), after_each=lambda name: log.append(f"after {name}"))
    assert log == ["before x", "x", "after x", "before y", "y", "after y",
                   "before y", "y", "after y", "before x", "x", "after x"]


def test_no_round_is_refused():
    with pytest.raises(ValueError, match="at least 1"):
        interleaved({"x": lambda: None}, rounds=0)
