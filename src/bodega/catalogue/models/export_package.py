"""ExportPackage: a container exported to a zip or 7z file by an export task."""
from __future__ import annotations

import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, enum_column_type
from bodega.catalogue.models.task import TaskStatus

EXPORT_TASK_TYPE = "export"


class ExportFormat(str, enum.Enum):
    """Archive format of an export package."""

    ZIP = "zip"
    SEVEN_Z = "7z"


class ExportPackage(Entity):
    """An export package.  Made only by an `export` task; its status is the task's (seed rule 5).

    task_type is always 'export' (checked) and (task_id, task_type) references (tasks.id,
    tasks.type), so the database itself refuses a package tied to any other kind of task.
    """

    __tablename__ = "export_packages"
    __table_args__ = (
        sa.ForeignKeyConstraint(["task_id", "task_type"], ["tasks.id", "tasks.type"], ondelete="CASCADE"),
        sa.CheckConstraint(f"task_type = '{EXPORT_TASK_TYPE}'", name="made_by_export_task"),
    )

    container_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.ForeignKey("containers.id", ondelete="SET NULL"), index=True
    )
    task_id: Mapped[uuid.UUID] = mapped_column(index=True)
    task_type: Mapped[str] = mapped_column(sa.String(64), default=EXPORT_TASK_TYPE)
    format: Mapped[ExportFormat] = mapped_column(enum_column_type(ExportFormat, "format"))
    location: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[TaskStatus] = mapped_column(enum_column_type(TaskStatus, "status"))
    integrity_hash: Mapped[str | None] = mapped_column(sa.String(128))
