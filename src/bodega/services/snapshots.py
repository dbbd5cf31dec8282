"""Snapshots in the catalogue: a delta's base is a snapshot of the same container."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import Container, Role, Snapshot, SnapshotTrigger, SnapshotType

if TYPE_CHECKING:
    from bodega.services import Bodega


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot."""

    id: uuid.UUID
    container_id: uuid.UUID
    label: str
    type: SnapshotType
    base_snapshot_id: uuid.UUID | None
    size_bytes: int
    checksum_manifest: str
    trigger: SnapshotTrigger
    created_at: datetime

    @classmethod
    def of(cls, row: Snapshot) -> "SnapshotInfo":
        """The SnapshotInfo of a row."""
        return cls(row.id, row.container_id, row.label, row.type, row.base_snapshot_id, row.size_bytes,
                   row.checksum_manifest, row.trigger, row.created_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "container_id": str(self.container_id), "label": self.label,
                "type": self.type.value, "base_snapshot_id": str(self.base_snapshot_id) if self.base_snapshot_id else None,
                "size_bytes": self.size_bytes, "checksum_manifest": self.checksum_manifest,
                "trigger": self.trigger.value, "created_at": self.created_at.isoformat()}


class SnapshotService:
    """Publishes snapshot rows (the snapshot engine makes their content) and lists them."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def record(self, container: str | uuid.UUID, *, type: SnapshotType | str, checksum_manifest: str,
               base_snapshot_id: uuid.UUID | None = None, label: str = "", size_bytes: int = 0,
               trigger: SnapshotTrigger | str = SnapshotTrigger.MANUAL, task_id: uuid.UUID | None = None,
               session: Session | None = None) -> SnapshotInfo:
        """Publishes a snapshot, in session if given (e.g. a task's finish()), else in its own transaction."""
        self._b.users.require(Role.OPERATOR)
        type, trigger = SnapshotType(type), SnapshotTrigger(trigger)
        if not checksum_manifest:
            raise errors.InvalidInput("a snapshot needs its checksum_manifest")
        if size_bytes < 0:
            raise errors.InvalidInput("size_bytes cannot be negative")
        if session is not None:
            return self._record(session, container, type, checksum_manifest, base_snapshot_id, label, size_bytes,
                                trigger, task_id)
        with self._b.catalogue.session_scope() as s:
            return self._record(s, container, type, checksum_manifest, base_snapshot_id, label, size_bytes,
                                trigger, task_id)

    def _record(self, s: Session, ref: str | uuid.UUID, type: SnapshotType, checksum: str,
                base_id: uuid.UUID | None, label: str, size_bytes: int, trigger: SnapshotTrigger,
                task_id: uuid.UUID | None) -> SnapshotInfo:
        container = self._b.containers.resolve(s, ref)
        if type == SnapshotType.DELTA:
            if base_id is None:
                raise errors.DeltaBaseMismatch("a delta snapshot needs a base snapshot")
            base = s.get(Snapshot, base_id)
            if base is None:
                raise errors.DeltaBaseMismatch(f"base snapshot {base_id} does not exist")
            if base.container_id != container.id:
                raise errors.DeltaBaseMismatch(
                    f"base snapshot {base_id} belongs to another container than {container.name}")
        row = Snapshot(id=uuid.uuid4(), container_id=container.id, label=label, type=type, base_snapshot_id=base_id,
                       size_bytes=size_bytes, checksum_manifest=checksum, trigger=trigger)
        s.add(row)
        s.flush()
        self._b.events.record(s, f"snapshot {str(row.id)[:8]} ({type.value}, {trigger.value}) of container {container.name}",
                              container_id=container.id, task_id=task_id, context={"snapshot_id": str(row.id)})
        self._b.containers.sync_manifest(s, container)
        return SnapshotInfo.of(row)

    def list(self, container: str | uuid.UUID) -> list[SnapshotInfo]:
        """A container's snapshots, oldest first."""
        with self._b.catalogue.session_scope(write=False) as s:
            c: Container = self._b.containers.resolve(s, container)
            return [SnapshotInfo.of(p) for p in s.scalars(sa.select(Snapshot).where(Snapshot.container_id == c.id)
                                                          .order_by(Snapshot.created_at))]
