"""Every registered operation killed at its write-type steps; the invariants after each kill
(tests/crash/sweep.py says which).

In CI (and by default) snapshot create, full restore and clone are killed at every one of
their points (issue 16's acceptance), and the other operations at SAMPLE of theirs, spread
evenly over the whole operation, so the sweep costs a few minutes; BODEGA_SWEEP=all sweeps every point
(docs/reliability.md: `BODEGA_SWEEP=all python -m pytest tests/crash`), and BODEGA_SWEEP=N
sweeps N points per operation.  The same sweep injects ENOSPC, EIO and EACCES at the steps of
snapshot create, restore and clone instead of killing, and cuts the power after each kill of
create, restore and clone (on a write-log filesystem: tests/crash/writelog.py)."""
from __future__ import annotations

import os

import pytest

from conftest import need
from crash import writelog
from crash.conftest import SUMMARY
from crash.operations import register  # noqa: F401  (the registrations)
from crash.sweep import OPERATIONS, sweep

SAMPLE = 24
EVERY_POINT = {"snapshot create", "snapshot restore (full)", "container clone"}  # swept whole by default
ERRNOS = ("ENOSPC", "EIO", "EACCES")
ERROR_OPERATIONS = {"snapshot create": 36, "snapshot restore (in place)": 36, "container clone": 12}
# In CI each operation's chosen points take the errnos in turn (one sweep: each errno at a third
# of them); with BODEGA_SWEEP, each errno is swept on its own at every point (or N).
ERROR_SWEEPS = [(name, ",".join(ERRNOS), sample) for name, sample in ERROR_OPERATIONS.items()] \
    if not os.environ.get("BODEGA_SWEEP") else [(name, e, SAMPLE) for name in ERROR_OPERATIONS for e in ERRNOS]
POWER_SAMPLE = 6  # the power-loss sweeps (and a cut after the command finished)
POWER_LOSS = ["snapshot create", "snapshot restore (in place)", "container clone"] + (
    ["snapshot restore (full)"] if os.environ.get("BODEGA_SWEEP") else [])  # one restore in CI


def _limit(sample: int | None = SAMPLE) -> int | None:
    """The number of points swept per operation (None: every one), from BODEGA_SWEEP."""
    value = os.environ.get("BODEGA_SWEEP", "")
    if value == "all":
        return None
    return int(value) if value.isdigit() and int(value) > 1 else sample


def need_writelog() -> None:
    """The write-log filesystem mounts here (in CI: or the test fails)."""
    reason = writelog.missing()
    if reason:
        need(reason)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(OPERATIONS))
def test_every_kill_point(name, cow_dir):
    op = OPERATIONS[name]
    limit = _limit(None if name in EVERY_POINT else SAMPLE)
    points, swept, landed, found = sweep(name, cow_dir, limit=limit)
    SUMMARY.append(f"{name}: {points} kill points, {swept} swept, {len(found)} violations")
    assert swept == min(points, limit or points)
    assert landed == swept, found[:5]
    assert points >= op.min_points, f"{name} has {points} kill points: make its tree bigger"
    assert not found, "\n".join(found[:20])


@pytest.mark.slow
@pytest.mark.parametrize(("name", "fault", "sample"), ERROR_SWEEPS)
def test_an_error_at_every_step_fails_cleanly_and_loses_nothing(name, fault, sample, cow_dir):
    points, swept, landed, found = sweep(name, cow_dir, limit=_limit(sample), fault=fault)
    SUMMARY.append(f"{name} with {fault}: {points} steps, {swept} swept, {len(found)} violations")
    assert landed == swept == min(points, _limit(sample) or points), found[:5]
    assert not found, "\n".join(found[:20])


@pytest.mark.slow
@pytest.mark.parametrize("name", POWER_LOSS)
def test_power_loss_at_every_step_loses_nothing(name, cow_dir):
    """Killed at step k on a write-log filesystem whose unsynced data a power cut then drops
    (tests/crash/writelog.py), and once after the command finished (all it did must be durable)."""
    need_writelog()
    points, swept, landed, found = sweep(name, cow_dir, limit=_limit(POWER_SAMPLE), fault="power")
    SUMMARY.append(f"{name} (power loss): {points} points, {swept} swept, {len(found)} violations")
    assert landed == swept == min(points, _limit(POWER_SAMPLE) or points) + 1, found[:5]
    assert not found, "\n".join(found[:20])
