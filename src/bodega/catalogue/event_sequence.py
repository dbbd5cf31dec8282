"""Event numbers: gap-free and in commit order, whatever the number of concurrent writers.

An event is numbered when its transaction commits, not when it is recorded: record() keeps it
with the session, and publish(), the last step before COMMIT (Catalogue.session_scope), adds
the transaction's events to the one row of `event_sequence` (an UPDATE: its row lock is held
until the commit) and inserts them numbered after the previous last.  So transactions that
write events publish them one at a time, in seq order, each visible before the next takes the
row; a rolled-back transaction takes no number.  The cursor rule follows: a reader that has
seen seq N has seen every event numbered up to N, and resumes with `seq > N`.  Holding the row
only for the last statement keeps writers concurrent until then and cannot deadlock: no lock
is awaited after it.
"""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega.catalogue.models import EventLog, EventSequence

PENDING = "bodega.pending_events"


def record(session: Session, values: dict[str, Any]) -> None:
    """Keeps an event (EventLog column values, without seq) for session's commit."""
    session.info.setdefault(PENDING, []).append(values)


def publish(session: Session) -> None:
    """Numbers and inserts the session's recorded events (call it right before the commit)."""
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    session.flush()  # the rows the events refer to (a new task) exist before the events
    last = session.execute(
        sa.update(EventSequence).where(EventSequence.id == 1)
        .values(last=EventSequence.last + len(pending)).returning(EventSequence.last)
    ).scalar_one()
    first = last - len(pending) + 1
    session.execute(sa.insert(EventLog), [dict(v, seq=first + i) for i, v in enumerate(pending)])
