"""AppInstance: an application installed in a container, with its entry points."""
from __future__ import annotations

import enum
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, UpdatedAt, enum_column_type


class AppStatus(str, enum.Enum):
    """An app's lifecycle status."""

    INSTALLING = "installing"
    READY = "ready"
    FAILED = "failed"
    DISABLED = "disabled"


class AppInstance(Entity, UpdatedAt):
    """An app in a container; a ready app has at least one entry point (seed rule 4)."""

    __tablename__ = "app_instances"
    __table_args__ = (
        # json_array_length exists under this name in both SQLite and PostgreSQL.
        sa.CheckConstraint("status <> 'ready' OR json_array_length(entry_points) > 0", name="ready_has_entry_point"),
    )

    container_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("containers.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    version: Mapped[str] = mapped_column(sa.String(100), default="")
    vendor: Mapped[str] = mapped_column(sa.String(200), default="")
    install_source: Mapped[str] = mapped_column(sa.Text, default="")
    # BLAKE3-256 (hex) of the installer, archive or directory manifest installed (provenance).
    source_hash: Mapped[str] = mapped_column(sa.String(64), default="")
    # Where the app lives inside the container's root/, `/`-separated (manifest.json lists it).
    install_path: Mapped[str] = mapped_column(sa.Text, default="")
    # [{"name": "vlc", "command": "bin/vlc", "icon": "...", "options": {...}}, ...]
    entry_points: Mapped[list[Any]] = mapped_column(default=list)
    status: Mapped[AppStatus] = mapped_column(enum_column_type(AppStatus, "status"))
