"""Export packages in the catalogue: made only by an export task, with the task's status."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bodega import errors
from bodega.catalogue.models import EXPORT_TASK_TYPE, ExportFormat, ExportPackage, Role, Task, TaskStatus

if TYPE_CHECKING:
    from bodega.services import Bodega


@dataclass(frozen=True)
class ExportPackageInfo:
    """An export package."""

    id: uuid.UUID
    container_id: uuid.UUID | None
    task_id: uuid.UUID
    format: ExportFormat
    location: str
    status: TaskStatus
    integrity_hash: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: ExportPackage) -> "ExportPackageInfo":
        """The ExportPackageInfo of a row."""
        return cls(row.id, row.container_id, row.task_id, row.format, row.location, row.status,
                   row.integrity_hash, row.created_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "container_id": str(self.container_id) if self.container_id else None,
                "task_id": str(self.task_id), "format": self.format.value, "location": self.location,
                "status": self.status.value, "integrity_hash": self.integrity_hash,
                "created_at": self.created_at.isoformat()}


class ExportService:
    """Records export packages for running export tasks; the task engine keeps their status in step."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def record_package(self, task_id: uuid.UUID, *, format: ExportFormat | str, location: str,
                       integrity_hash: str | None = None) -> ExportPackageInfo:
        """Adds the package a running export task is making (for the task's container)."""
        self._b.users.require(Role.OPERATOR)
        format = ExportFormat(format)
        with self._b.catalogue.session_scope() as s:
            task = s.get(Task, task_id)
            if task is None:
                raise errors.TaskNotFound(f"no task {task_id}")
            if task.type != EXPORT_TASK_TYPE:
                raise errors.NotAnExportTask(f"task {task_id} is a {task.type} task: only an export task makes packages")
            if task.status != TaskStatus.RUNNING:
                raise errors.WrongStatus(f"export task {task_id} is {task.status.value}: packages are made while it runs")
            row = ExportPackage(id=uuid.uuid4(), container_id=task.container_id, task_id=task.id, format=format,
                                location=location, status=task.status, integrity_hash=integrity_hash)
            s.add(row)
            s.flush()
            self._b.events.record(s, f"export package {location} ({format.value}) {task.status.value}",
                                  container_id=task.container_id, task_id=task.id,
                                  context={"export_package_id": str(row.id)})
            return ExportPackageInfo.of(row)

    def list(self, *, container_id: uuid.UUID | None = None) -> list[ExportPackageInfo]:
        """Export packages of containers the acting user may see, newest first."""
        q = sa.select(ExportPackage).order_by(ExportPackage.created_at.desc())
        visible = self._b.shares.visible_ids()
        if visible is not None:
            q = q.where(ExportPackage.container_id.in_(visible))
        if container_id is not None:
            q = q.where(ExportPackage.container_id == container_id)
        with self._b.catalogue.session_scope(write=False) as s:
            return [ExportPackageInfo.of(p) for p in s.scalars(q)]
