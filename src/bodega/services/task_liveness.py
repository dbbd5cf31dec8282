"""When a running task (or an app run) counts as interrupted: the rule recovery applies at open.

Kept apart from the task engine so that a light reader (services/container_listing.py) can
tell, without loading the engine, whether opening a home would recover anything.
"""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from bodega import errors

DEFAULT_STALE_AFTER = 30.0  # a running task whose heartbeat is older than this is interrupted


def stale_after() -> float:
    """Seconds without a heartbeat before a running task counts as interrupted ($BODEGA_TASK_STALE_AFTER)."""
    raw = os.environ.get("BODEGA_TASK_STALE_AFTER")
    try:
        return float(raw) if raw else DEFAULT_STALE_AFTER
    except ValueError:
        raise errors.InvalidInput(f"BODEGA_TASK_STALE_AFTER must be a number of seconds, not {raw!r}") from None


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this host (a zombie counts as dead)."""
    from bodega._native import process  # only when there is a process to ask about

    return process.pid_alive(pid)


def task_gone(owner_host: str | None, owner_pid: int | None, heartbeat_at: datetime | None, *, here: str,
              now: datetime, limit: timedelta) -> bool:
    """Whether a running task's process is gone: it was of this host (here) and its pid is
    dead, or, whatever its host, its heartbeat is missing or older than limit."""
    return ((owner_host == here and owner_pid is not None and not pid_alive(owner_pid))
            or heartbeat_at is None or now - heartbeat_at > limit)


def run_gone(owner_pid: int | None) -> bool:
    """Whether an app run of this host lost its bodega process."""
    return owner_pid is None or not pid_alive(owner_pid)
