"""Snapshot: a checked copy of a container's tree, full or a delta on a base of the same container."""
from __future__ import annotations

import enum
import uuid

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, enum_column_type


class SnapshotType(str, enum.Enum):
    """Whether a snapshot lists the whole tree or what changed against its base."""

    FULL = "full"
    DELTA = "delta"


class SnapshotTrigger(str, enum.Enum):
    """What made the snapshot."""

    SYSTEM = "system"
    MANUAL = "manual"
    PRE_INSTALL = "pre-install"
    POST_INSTALL = "post-install"


class Snapshot(Entity):
    """A snapshot; a delta's base is a snapshot of the same container (seed rule 3)."""

    __tablename__ = "snapshots"
    __table_args__ = (
        # The target of the composite key below: (base, container) must name a snapshot of this container.
        sa.UniqueConstraint("id", "container_id"),
        # Checked at commit: a transaction may delete a chain of deltas in any order, and
        # deleting a container cascades to every snapshot of it at once.
        sa.ForeignKeyConstraint(["base_snapshot_id", "container_id"], ["snapshots.id", "snapshots.container_id"],
                                deferrable=True, initially="DEFERRED"),
        sa.CheckConstraint("type <> 'delta' OR base_snapshot_id IS NOT NULL", name="delta_has_base"),
        sa.CheckConstraint("base_snapshot_id IS NULL OR base_snapshot_id <> id", name="base_not_self"),
        sa.CheckConstraint("size_bytes >= 0", name="size_bytes_not_negative"),
        sa.Index("ix_snapshots_container_id_created_at", "container_id", "created_at"),
    )

    container_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("containers.id", ondelete="CASCADE"))
    label: Mapped[str] = mapped_column(sa.String(200), default="")
    type: Mapped[SnapshotType] = mapped_column(enum_column_type(SnapshotType, "type"))
    base_snapshot_id: Mapped[uuid.UUID | None] = mapped_column(index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    checksum_manifest: Mapped[str] = mapped_column(sa.String(128))
    trigger: Mapped[SnapshotTrigger] = mapped_column(enum_column_type(SnapshotTrigger, "trigger"))
