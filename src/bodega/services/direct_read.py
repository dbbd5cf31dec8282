"""Reading a home's catalogue file directly, for a command that only reads, when opening the
home would do nothing more.

`bodega.open(home)` loads SQLAlchemy's ORM and every service, and may recover what a crash
left.  When the home needs nothing done at open (its SQLite catalogue is at this code's
schema, the acting local user exists, no task or app run lost its process, no restore marker,
store journal or task staging is left), a command that only reads may ask the catalogue file
its few queries instead (catalogue/sqlite_reader.py), under the same visibility rules;
otherwise, or on any doubt, it opens the home the ordinary way, which does what is needed or
says what is wrong.  services/container_listing.py and services/snapshot_diff.py read so.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from bodega import errors
from bodega.catalogue.schema_revision import SCHEMA_REVISION
from bodega.catalogue.sqlite_reader import SqliteReader, Unreadable, UserRow
from bodega.home import Home
from bodega.services.local_user import local_email
from bodega.services.pending_restores import PendingRestores
from bodega.services.task_liveness import run_gone, stale_after, task_gone
from bodega.storage.journal import Journals

T = TypeVar("T")


def read_directly(home: Home, read: Callable[[SqliteReader, UserRow], T | None]) -> T | None:
    """read(a reader of home's catalogue, the acting local user), or None when only opening the
    home will do (and when the catalogue file cannot answer a query read asks)."""
    if os.environ.get("BODEGA_DATABASE_URL"):
        return None  # a catalogue server
    try:
        if not home.database.is_file():
            return None  # no catalogue yet
        if PendingRestores.of(home).all() or Journals(home.store).present():
            return None  # opening the home would finish or undo what these record
    except (OSError, errors.BodegaError):
        return None  # opening the home says what is wrong with it, as every command does
    try:
        with SqliteReader(home.database) as reader:
            if reader.revision() != SCHEMA_REVISION:
                return None  # opening the home upgrades it (or refuses a newer one)
            me = reader.user(local_email())
            if me is None:
                return None  # opening the home creates the local user
            if _recovery_due(reader, home):
                return None
            return read(reader, me)
    except (Unreadable, OSError):
        return None  # opening the home says what is wrong, as every command does


def _recovery_due(reader: SqliteReader, home: Home) -> bool:
    """Whether opening the home would end a task or an app run whose process is gone."""
    running = reader.running_tasks()
    host = home.host_id()
    if running:
        now, limit = datetime.now(timezone.utc), timedelta(seconds=stale_after())
        if any(task_gone(t.owner_host, t.owner_pid, t.heartbeat_at, here=host, now=now, limit=limit) for t in running):
            return True
    if any(run_gone(r.owner_pid) for r in reader.open_runs(host)):
        return True
    # Staging that no running task owns is swept by opening the home (a crash after the task ended).
    return bool(_staging_ids(home) - reader.running_task_ids())


def _staging_ids(home: Home) -> set[uuid.UUID]:
    """The task ids named by the staging directories under the home's tmp/."""
    try:
        names = os.listdir(home.tmp)
    except FileNotFoundError:
        return set()
    ids = set()
    for name in names:
        try:
            ids.add(uuid.UUID(name))
        except ValueError:
            continue  # not a task's staging
    return ids
