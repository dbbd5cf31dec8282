"""Read-only queries on a SQLite catalogue through the sqlite3 driver, without SQLAlchemy.

Importing SQLAlchemy's ORM costs a command more than everything else it does at start-up;
a listing that only reads can ask these few queries instead and decode the columns as the
models would (UUIDs as 32 hex digits, UTC timestamps without a zone, JSON as text, enums by
value).  Every query of one reader sees one snapshot (one read transaction).  Whatever
cannot be answered here (no database yet, a locked or damaged one) raises Unreadable: the
caller then opens the catalogue the ordinary way, which reports it properly.
"""
from __future__ import annotations

import json
import sqlite3
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any, Callable, TypeVar

from bodega.catalogue.values import ContainerStatus, Platform, Role, TaskStatus

T = TypeVar("T")
IN_CHUNK = 500  # ids per IN (...) list: below SQLite's bound-parameter limit


class Unreadable(Exception):
    """The catalogue cannot be read here (missing, locked, damaged, another schema)."""


@dataclass(frozen=True)
class UserRow:
    """The columns of a user a listing needs."""

    key: str  # the id as stored, for binding
    role: Role


@dataclass(frozen=True)
class Liveness:
    """Who runs a running task or an open app run: what recovery judges it by."""

    owner_host: str | None
    owner_pid: int | None
    heartbeat_at: datetime | None


@dataclass(frozen=True)
class ContainerPlace:
    """Which container, and where its directory is."""

    key: str  # the id as stored, for binding
    storage_path: str


# The containers a viewer who is not an owner may see: theirs and those shared with them
# (binds the viewer's stored id twice).
MINE = "(c.owner_id = ? OR c.id IN (SELECT container_id FROM container_shares WHERE user_id = ?))"

_TAGGED = "c.id IN (SELECT container_id FROM container_tags WHERE tag = ?)"


def _where(*conditions: tuple[str, tuple[Any, ...]] | None) -> tuple[str, tuple[Any, ...]]:
    """The given (SQL, parameters) conditions (None: left out) joined with AND, and their parameters."""
    kept = [c for c in conditions if c is not None]
    return " AND ".join(sql for sql, _ in kept) or "1", tuple(p for _, ps in kept for p in ps)


# A container's columns as containers() gives them, decoded as the models read them, in this
# order (services/container_info.py's ContainerInfo takes them so): id, name, description,
# status, platform, owner's email, storage path, size in bytes, tags (sorted), settings,
# created at, updated at, host.
ContainerRow = tuple[uuid.UUID, str, str, ContainerStatus, Platform, str, str, int, list[str], dict[str, Any],
                     datetime, datetime, "str | None"]


def _decoded(decode: Callable[[], T]) -> T:
    """decode(), with a column it cannot read (which the models could not read either) as Unreadable."""
    try:
        return decode()
    except (ValueError, TypeError) as e:
        raise Unreadable(f"a column cannot be decoded: {e}") from e


def _timestamp(text: str | None) -> datetime | None:
    """A stored timestamp (UTC, no zone) as an aware datetime."""
    return None if text is None else datetime.fromisoformat(text).replace(tzinfo=timezone.utc)


class SqliteReader:
    """One read transaction on the SQLite catalogue file at path."""

    def __init__(self, path: Path) -> None:
        try:
            # mode=rw: a missing file is an error, not a new empty catalogue.
            self._db = sqlite3.connect(f"{path.absolute().as_uri()}?mode=rw", uri=True, timeout=0,
                                       isolation_level=None)
        except sqlite3.Error as e:
            raise Unreadable(str(e)) from e
        try:
            self._db.execute("PRAGMA query_only = 1")
            self._db.execute("BEGIN")
        except sqlite3.Error as e:
            self._db.close()
            raise Unreadable(str(e)) from e

    def close(self) -> None:
        """Ends the read transaction and closes the file."""
        try:
            self._db.execute("ROLLBACK")
        except sqlite3.Error:
            pass  # nothing was written: nothing to keep
        self._db.close()

    def __enter__(self) -> "SqliteReader":
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _rows(self, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
        try:
            return self._db.execute(sql, params).fetchall()
        except (sqlite3.Error, ValueError) as e:
            raise Unreadable(str(e)) from e

    def revision(self) -> str | None:
        """The schema revision the catalogue is at (None: none recorded)."""
        rows = self._rows("SELECT version_num FROM alembic_version")
        return rows[0][0] if rows else None

    def user(self, email: str) -> UserRow | None:
        """The user with this (normalized) email, if any."""
        rows = self._rows("SELECT id, role FROM users WHERE email = ?", (email,))
        return _decoded(lambda: UserRow(rows[0][0], Role(rows[0][1]))) if rows else None

    def running_tasks(self) -> list[Liveness]:
        """Who runs each task in status running."""
        rows = self._rows("SELECT owner_host, owner_pid, heartbeat_at FROM tasks WHERE status = ?",
                          (TaskStatus.RUNNING.value,))
        return _decoded(lambda: [Liveness(host, pid, _timestamp(beat)) for host, pid, beat in rows])

    def running_task_ids(self) -> set[uuid.UUID]:
        """The ids of the tasks in status running."""
        rows = self._rows("SELECT id FROM tasks WHERE status = ?", (TaskStatus.RUNNING.value,))
        return _decoded(lambda: {uuid.UUID(key) for (key,) in rows})

    def open_runs(self, host: str) -> list[Liveness]:
        """Who runs each app run of host that has not finished."""
        rows = self._rows("SELECT owner_host, owner_pid FROM app_runs WHERE finished_at IS NULL AND owner_host = ?",
                          (host,))
        return [Liveness(owner_host, pid, None) for owner_host, pid in rows]

    def containers(self, viewer: UserRow, *, everyone: bool, tag: str | None = None,
                   status: ContainerStatus | None = None) -> list[ContainerRow]:
        """The containers viewer may see (an owner: all), only theirs and those shared with them
        unless everyone, with the tag and status given, by name then owner's email."""
        mine = (MINE, (viewer.key, viewer.key))
        where, params = _where(None if viewer.role == Role.OWNER else mine, None if everyone else mine,
                               None if tag is None else (_TAGGED, (tag,)),
                               None if status is None else ("c.status = ?", (status.value,)))
        rows = self._rows(
            "SELECT c.id, c.name, c.description, c.status, c.platform, u.email, c.storage_path, c.size_bytes, "
            "c.settings, c.created_at, c.updated_at, c.host FROM containers c JOIN users u ON u.id = c.owner_id "
            f"WHERE {where} ORDER BY c.name, u.email", params)
        tags = self._tags([r[0] for r in rows])
        return _decoded(lambda: [  # type: ignore[misc]
            (uuid.UUID(key), name, description, ContainerStatus(status_), Platform(platform), email, path, size,
             tags.get(key, []), json.loads(settings), _timestamp(created), _timestamp(updated), host)
            for key, name, description, status_, platform, email, path, size, settings, created, updated, host in rows])

    def _tags(self, keys: list[str]) -> dict[str, list[str]]:
        """The tags of the containers with these stored ids, each list sorted."""
        found: dict[str, list[str]] = {}
        for i in range(0, len(keys), IN_CHUNK):
            chunk = keys[i:i + IN_CHUNK]
            for key, tag in self._rows(f"SELECT container_id, tag FROM container_tags WHERE container_id IN "
                                       f"({','.join('?' * len(chunk))}) ORDER BY tag", tuple(chunk)):
                found.setdefault(key, []).append(tag)
        return found

    def visible_containers(self, viewer: UserRow, *, key: str | None = None, name: str | None = None,
                           own: bool = False) -> list[ContainerPlace]:
        """Up to 2 containers viewer may see (own: only viewer's), with this stored id or this name."""
        where, params = _where(("c.owner_id = ?", (viewer.key,)) if own else
                               None if viewer.role == Role.OWNER else (MINE, (viewer.key, viewer.key)),
                               None if key is None else ("c.id = ?", (key,)),
                               None if name is None else ("c.name = ?", (name,)))
        rows = self._rows(f"SELECT c.id, c.storage_path FROM containers c WHERE {where} LIMIT 2", params)
        return [ContainerPlace(k, path) for k, path in rows]

    def container_keys(self, digits: str) -> list[str]:
        """The stored ids of up to 2 containers (visible or not) whose id starts with these hex digits."""
        rows = self._rows("SELECT id FROM containers WHERE replace(id, '-', '') LIKE ? LIMIT 2", (digits + "%",))
        return [k for (k,) in rows]

    def newest_snapshot(self, container_key: str) -> tuple[str, str] | None:
        """(stored id, manifest root) of the container's newest snapshot, if it has one."""
        rows = self._rows("SELECT id, checksum_manifest FROM snapshots WHERE container_id = ? "
                          "ORDER BY created_at DESC LIMIT 1", (container_key,))
        return rows[0] if rows else None

    def is_set(self, setting: str) -> bool:
        """Whether the setting has a stored value (else it has its default)."""
        return bool(self._rows("SELECT 1 FROM settings WHERE key = ?", (setting,)))
