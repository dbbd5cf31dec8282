"""Task: one mutation, run in-process or by an agent, with progress, payload and result."""
from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Base, Entity, UpdatedAt, enum_column_type, utcnow
from bodega.catalogue.values import TaskStatus  # noqa: F401 (re-exported)



class Task(Entity, UpdatedAt):
    """A task; owner_host/owner_pid/heartbeat_at say who runs it and whether it still lives."""

    __tablename__ = "tasks"
    __table_args__ = (
        # Lets export_packages point at (task id, 'export'): a package made by a non-export task cannot exist.
        sa.UniqueConstraint("id", "type"),
        sa.CheckConstraint("progress BETWEEN 0 AND 100", name="progress_range"),
        sa.Index("ix_tasks_status_created_at", "status", "created_at"),
        sa.Index("ix_tasks_container_id_created_at", "container_id", "created_at"),
    )

    type: Mapped[str] = mapped_column(sa.String(64))
    status: Mapped[TaskStatus] = mapped_column(enum_column_type(TaskStatus, "status"))
    progress: Mapped[int] = mapped_column(default=0)
    container_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("containers.id", ondelete="SET NULL"))
    app_instance_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("app_instances.id", ondelete="SET NULL"), index=True
    )
    user_id: Mapped[uuid.UUID | None] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"), index=True)
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    result: Mapped[dict[str, Any]] = mapped_column(default=dict)
    owner_host: Mapped[str | None] = mapped_column(sa.String(255))
    owner_pid: Mapped[int | None]
    heartbeat_at: Mapped[datetime | None]
    cancel_requested: Mapped[bool] = mapped_column(default=False)


class ContainerLock(Base):
    """A running task's hold on a container: one per container, so one mutating task at a time.

    The foreign key to containers is RESTRICT: a container with a task in progress cannot be
    deleted (seed rule 1), whatever code tries.
    """

    __tablename__ = "container_locks"

    container_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("containers.id", ondelete="RESTRICT"), primary_key=True
    )
    task_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("tasks.id", ondelete="CASCADE"), index=True)
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
