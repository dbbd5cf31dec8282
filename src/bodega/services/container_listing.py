"""Listing containers for a command that starts, lists and ends: `bodega container list`.

`bodega.open(home).containers.list()` loads SQLAlchemy's ORM and every service, and opening
a home may recover what a crash left.  When the home needs nothing done at open (its SQLite
catalogue is at this code's schema, the acting local user exists, no task or app run lost
its process, no restore marker and no store journal is left), the same list is read straight
from the catalogue file (catalogue/sqlite_reader.py) under the same visibility rules;
otherwise, or on any doubt, the home is opened the ordinary way.  tests/services/
test_container_listing.py holds both paths equal.
"""
from __future__ import annotations

import os
import uuid
from datetime import datetime, timedelta, timezone

from bodega import errors
from bodega.catalogue.schema_revision import SCHEMA_REVISION
from bodega.catalogue.sqlite_reader import SqliteReader, Unreadable
from bodega.catalogue.values import ContainerStatus
from bodega.home import Home
from bodega.services.container_info import ContainerInfo
from bodega.services.local_user import local_email
from bodega.services.pending_restores import PendingRestores
from bodega.services.task_liveness import run_gone, stale_after, task_gone
from bodega.services.text_input import require_text
from bodega.storage.journal import Journals


def list_containers(home: str | os.PathLike[str] | None = None, *, tag: str | None = None,
                    status: ContainerStatus | str | None = None, all_users: bool = False) -> list[ContainerInfo]:
    """The local user's containers as `bodega.open(home).containers.list(...)` gives them."""
    if tag is not None:
        require_text(tag, "tag")
    found = read_directly(Home.at(home), tag=tag, status=status, all_users=all_users)
    if found is not None:
        return found
    from bodega.services import open as open_home

    with open_home(home) as b:
        return b.containers.list(tag=tag, status=status, all_users=all_users)


def read_directly(home: Home, *, tag: str | None, status: ContainerStatus | str | None,
                  all_users: bool) -> list[ContainerInfo] | None:
    """The list read from the catalogue file, or None when only opening the home can give it."""
    wanted = None if status is None else ContainerStatus(status)
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
            rows = reader.containers(me, everyone=all_users, tag=tag, status=wanted)
    except (Unreadable, OSError):
        return None  # opening the home says what is wrong, as every command does
    return [ContainerInfo(*row) for row in rows]


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
