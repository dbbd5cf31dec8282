"""Every registered operation killed at its write-type steps; the invariants after each kill
(tests/crash/sweep.py says which).

In CI (and by default) each operation is killed at SAMPLE of its points, spread evenly over
the whole operation, so the sweep costs a few minutes; BODEGA_SWEEP=all sweeps every point
(docs/reliability.md: `BODEGA_SWEEP=all python -m pytest tests/crash`), and BODEGA_SWEEP=N
sweeps N points per operation.  The same sweep injects ENOSPC and EIO at the steps of
snapshot create and restore instead of killing."""
from __future__ import annotations

import os

import pytest

from crash.conftest import SUMMARY
from crash.operations import register  # noqa: F401  (the registrations)
from crash.sweep import OPERATIONS, sweep

SAMPLE = 24


def _limit() -> int | None:
    """The number of points swept per operation (None: every one), from BODEGA_SWEEP."""
    value = os.environ.get("BODEGA_SWEEP", "")
    if value == "all":
        return None
    return int(value) if value.isdigit() and int(value) > 1 else SAMPLE


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_kill_point(name, cow_dir):
    op = OPERATIONS[name]
    points, swept, landed, found = sweep(name, cow_dir, limit=_limit())
    SUMMARY.append(f"{name}: {points} kill points, {swept} swept, {len(found)} violations")
    assert swept == min(points, _limit() or points)
    assert landed == swept, found[:5]
    assert points >= op.min_points, f"{name} has {points} kill points: make its tree bigger"
    assert not found, "\n".join(found[:20])


@pytest.mark.slow
@pytest.mark.parametrize("fault", ["ENOSPC", "EIO"])
@pytest.mark.parametrize("name", ["snapshot create", "snapshot restore (in place)"])
def test_an_error_at_every_step_fails_cleanly_and_loses_nothing(name, fault, cow_dir):
    points, swept, landed, found = sweep(name, cow_dir, limit=_limit(), fault=fault)
    SUMMARY.append(f"{name} with {fault}: {points} steps, {swept} swept, {len(found)} violations")
    assert landed == swept == min(points, _limit() or points), found[:5]
    assert not found, "\n".join(found[:20])
