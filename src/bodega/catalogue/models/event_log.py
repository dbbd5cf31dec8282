"""EventLog: one state change or audited mutation, numbered by a monotonic cursor."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Base, enum_column_type, utcnow


class EventSource(str, enum.Enum):
    """Who produced the event."""

    AGENT = "agent"
    DRIVER = "driver"
    USER = "user"
    APP = "app"


class EventLevel(str, enum.Enum):
    """How important the event is; `audit` records who mutated what."""

    INFO = "info"
    WARNING = "warning"
    ERROR = "error"
    AUDIT = "audit"


class EventLog(Base):
    """An event.  `seq` orders events and is the cursor readers resume from.

    container_id and task_id repeat what `context` holds, as columns, so that events by
    container or task are an index lookup on any database; container_id has no foreign key
    because events outlive the containers they describe.
    """

    __tablename__ = "event_logs"
    __table_args__ = (
        sa.Index("ix_event_logs_container_id_seq", "container_id", "seq"),
        sa.Index("ix_event_logs_task_id_seq", "task_id", "seq"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    seq: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    timestamp: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    source: Mapped[EventSource] = mapped_column(enum_column_type(EventSource, "source"))
    level: Mapped[EventLevel] = mapped_column(enum_column_type(EventLevel, "level"))
    message: Mapped[str] = mapped_column(sa.Text)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)
    tags: Mapped[list[Any]] = mapped_column(default=list)
    container_id: Mapped[uuid.UUID | None]
    task_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("tasks.id", ondelete="SET NULL"))
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    host: Mapped[str | None] = mapped_column(sa.String(255))  # the host that wrote it


class EventSequence(Base):
    """The last event seq handed out: one row, updated by the last statement of every transaction
    that records events (catalogue/event_sequence.py), so numbers follow commit order, without gaps."""

    __tablename__ = "event_sequence"
    __table_args__ = (sa.CheckConstraint("id = 1", name="one_row"),)

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last: Mapped[int] = mapped_column(sa.BigInteger)
