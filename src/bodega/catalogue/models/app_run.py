"""AppRun: one run of an app's entry point, the record its health is read from."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity


class AppRun(Entity):
    """A run of an entry point: who started it, when, how long, how it ended.

    A run without finished_at is live (its process on owner_host:owner_pid); one whose
    process died without finishing it is closed by recovery as a crash.  The container is
    `running` while any of its runs is live.
    """

    __tablename__ = "app_runs"
    __table_args__ = (sa.Index("ix_app_runs_app_instance_id_created_at", "app_instance_id", "created_at"),)

    app_instance_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("app_instances.id", ondelete="CASCADE"))
    container_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("containers.id", ondelete="CASCADE"), index=True)
    entry: Mapped[str] = mapped_column(sa.String(200))
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="SET NULL"))
    owner_host: Mapped[str] = mapped_column(sa.String(255), default="")
    owner_pid: Mapped[int | None]
    finished_at: Mapped[datetime | None]
    exit_code: Mapped[int | None]
    signal: Mapped[int] = mapped_column(default=0)
    crashed: Mapped[bool] = mapped_column(default=False)
    timed_out: Mapped[bool] = mapped_column(default=False)
    memory_killed: Mapped[bool] = mapped_column(default=False)
    seconds: Mapped[float] = mapped_column(default=0.0)
    peak_memory: Mapped[int] = mapped_column(sa.BigInteger, default=0)
