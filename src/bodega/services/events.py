"""The event log: every state change and every audited mutation, read by cursor, filter or follow."""
from __future__ import annotations

import functools
import re
import threading
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega.catalogue import event_sequence
from bodega.catalogue.models import EventLevel, EventLog, EventSource, utcnow
from bodega.errors import InvalidInput
from bodega.services.shares import VISIBLE_IDS_TO_ME

if TYPE_CHECKING:
    from bodega.services import Bodega

FOLLOW_POLL = 0.2  # seconds between polls while following


@dataclass(frozen=True)
class EventInfo:
    """One event; `seq` is its cursor: events with a larger seq were committed later."""

    seq: int
    id: uuid.UUID
    timestamp: datetime
    source: EventSource
    level: EventLevel
    message: str
    context: dict[str, Any]
    tags: list[str]
    container_id: uuid.UUID | None
    task_id: uuid.UUID | None
    user_id: uuid.UUID | None
    host: str | None = None  # the host that wrote it

    @classmethod
    def of(cls, row: EventLog) -> "EventInfo":
        """The EventInfo of a row."""
        return cls(row.seq, row.id, row.timestamp, row.source, row.level, row.message, dict(row.context),
                   list(row.tags), row.container_id, row.task_id, row.user_id, row.host)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "seq": self.seq, "id": str(self.id), "timestamp": self.timestamp.isoformat(),
            "source": self.source.value, "level": self.level.value, "message": self.message,
            "context": self.context, "tags": self.tags, "host": self.host,
        }


_RELATIVE = re.compile(r"^(\d+)\s*([smhdw])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str) -> datetime:
    """A point in time from '10m', '2h', '3d' (ago) or an ISO 8601 time (local time when no zone is given)."""
    text = text.strip()
    m = _RELATIVE.match(text)
    if m:
        return utcnow() - timedelta(**{_UNITS[m.group(2)]: int(m.group(1))})
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidInput(f"--since {text!r}: give a duration like 10m, 2h, 3d or a time like 2024-05-01T12:00") from None
    return (when if when.tzinfo else when.astimezone()).astimezone(timezone.utc)


@functools.cache
def _list_query(scoped: bool, by_after: bool, by_upto: bool, by_since: bool, by_container: bool, by_task: bool,
                by_levels: bool, latest: bool, limited: bool) -> sa.Select[Any]:
    """The statement of EventService.list for one combination of filters, with bind parameters of the
    same names: built once (building it cost more than running it, and followers run it all the time)."""
    q = sa.select(EventLog)
    if scoped:  # not an owner: events of containers they see, and their own doings
        q = q.where(sa.or_(EventLog.container_id.in_(VISIBLE_IDS_TO_ME),
                           sa.and_(EventLog.container_id.is_(None), EventLog.user_id == sa.bindparam("me"))))
    if by_after:
        q = q.where(EventLog.seq > sa.bindparam("after"))
    if by_upto:
        q = q.where(EventLog.seq <= sa.bindparam("upto"))
    if by_since:
        q = q.where(EventLog.timestamp >= sa.bindparam("since"))
    if by_container:
        q = q.where(EventLog.container_id == sa.bindparam("container_id"))
    if by_task:
        q = q.where(EventLog.task_id == sa.bindparam("task_id"))
    if by_levels:
        q = q.where(EventLog.level.in_(sa.bindparam("levels", expanding=True)))
    q = q.order_by(EventLog.seq.desc() if latest else EventLog.seq)
    return q.limit(sa.bindparam("limit", type_=sa.Integer)) if limited else q


class EventService:
    """Writes events inside the caller's transaction and reads them back."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def record(self, session: Session, message: str, *, level: EventLevel = EventLevel.INFO,
               source: EventSource = EventSource.AGENT, container_id: uuid.UUID | None = None,
               task_id: uuid.UUID | None = None, app_instance_id: uuid.UUID | None = None,
               user_id: uuid.UUID | None = None, context: dict[str, Any] | None = None,
               tags: Iterable[str] = ()) -> None:
        """Adds an event to session's transaction, so it commits with the change it describes.

        Its seq is given at the commit (catalogue/event_sequence.py): in commit order, gap-free.
        """
        ids = {"container_id": container_id, "task_id": task_id, "app_instance_id": app_instance_id}
        full_context = {k: str(v) for k, v in ids.items() if v is not None} | (context or {})
        event_sequence.record(session, dict(
            id=uuid.uuid4(), timestamp=utcnow(), source=source, level=level, message=message, context=full_context,
            tags=list(tags), container_id=container_id, task_id=task_id, user_id=user_id, host=self._b.host,
        ))

    def audit(self, message: str, *, user_id: uuid.UUID | None = None, context: dict[str, Any] | None = None) -> None:
        """Records an audit event in a transaction of its own (for refusals, which change nothing else)."""
        with self._b.catalogue.session_scope() as s:
            self.record(s, message, level=EventLevel.AUDIT, source=EventSource.USER, user_id=user_id, context=context)

    def cursor(self) -> int:
        """The seq of the latest event (0 when there is none)."""
        with self._b.catalogue.session_scope(write=False) as s:
            return int(s.scalar(sa.select(sa.func.coalesce(sa.func.max(EventLog.seq), 0))) or 0)

    def list(self, *, after: int | None = None, since: datetime | None = None,
             container_id: uuid.UUID | None = None, task_id: uuid.UUID | None = None,
             levels: Iterable[EventLevel | str] | None = None, limit: int | None = 100,
             upto: int | None = None) -> list[EventInfo]:
        """Events the acting user may see, in seq order; with neither after nor since, the latest `limit`."""
        latest = after is None and since is None
        q = _list_query(not self._b.shares.sees_all(), after is not None, upto is not None, since is not None,
                        container_id is not None, task_id is not None, bool(levels), latest, limit is not None)
        params = {"me": self._b.users.current.id, "after": after, "upto": upto, "since": since,
                  "container_id": container_id, "task_id": task_id,
                  "levels": [EventLevel(level) for level in levels] if levels else None, "limit": limit}
        with self._b.catalogue.session_scope(write=False) as s:
            rows = [EventInfo.of(r) for r in s.scalars(q, params)]
        return rows[::-1] if latest else rows

    def follow(self, *, after: int | None = None, container_id: uuid.UUID | None = None,
               task_id: uuid.UUID | None = None, levels: Iterable[EventLevel | str] | None = None,
               stop: threading.Event | None = None, poll: float = FOLLOW_POLL) -> Iterator[EventInfo]:
        """Yields events as they are committed, after seq `after` (default: from now) until stop is set."""
        cursor = self.cursor() if after is None else after
        levels = list(levels) if levels else None
        stop = stop or threading.Event()
        while not stop.is_set():
            batch = self.list(after=cursor, container_id=container_id, task_id=task_id, levels=levels, limit=500)
            for ev in batch:
                cursor = ev.seq
                yield ev
            if len(batch) < 500:
                stop.wait(poll)
