"""A short soak in CI (issue 16): 3 processes of mixed commands for 15 s with random SIGKILLs;
every invariant holds, every acknowledged snapshot restores bit-exact, and kills landed
mid-command.  The full soak (8 processes, 5 minutes): `python bench/soak.py`."""
from __future__ import annotations

from soak.soak import soak


def test_a_short_soak_with_kills_keeps_every_invariant(tmp_path):
    summary = soak(tmp_path / "home", processes=3, seconds=15, seed=16, kill_share=0.4)
    print(summary.line())
    assert summary.violations == []
    assert summary.landed >= 1, summary.line()  # the kills landed mid-command, not before or after
    assert summary.snapshots_checked >= 3, summary.line()  # each worker's first, at least
