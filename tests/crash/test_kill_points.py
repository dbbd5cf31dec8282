"""Every registered operation killed at each of its write-type steps; the invariants after
each kill (tests/crash/sweep.py says which)."""
from __future__ import annotations

import pytest

from crash.conftest import SUMMARY
from crash.operations import register  # noqa: F401  (the registrations)
from crash.sweep import OPERATIONS, sweep


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_kill_point(name, cow_dir):
    op = OPERATIONS[name]
    points, landed, found = sweep(name, cow_dir)
    SUMMARY.append(f"{name}: {points} kill points, {len(found)} violations")
    assert landed == points, found[:5]
    assert points >= op.min_points, f"{name} has {points} kill points: make its tree bigger"
    assert not found, "\n".join(found[:20])
