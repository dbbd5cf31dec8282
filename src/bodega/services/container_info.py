"""ContainerInfo: a container as callers see it (apart from the service, so that light
readers such as services/container_listing.py build the same value without the ORM)."""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from bodega.catalogue.values import ContainerStatus, Platform

if TYPE_CHECKING:
    from bodega.catalogue.models import Container


@dataclass(frozen=True)
class ContainerInfo:
    """A container as callers see it."""

    id: uuid.UUID
    name: str
    description: str
    status: ContainerStatus
    platform: Platform
    owner_email: str
    storage_path: str
    size_bytes: int
    tags: list[str]
    settings: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    host: str | None = None  # the host whose home holds the tree

    @classmethod
    def of(cls, row: "Container", owner_email: str) -> "ContainerInfo":
        """The ContainerInfo of a row."""
        return cls(row.id, row.name, row.description, row.status, row.platform, owner_email, row.storage_path,
                   row.size_bytes, list(row.tags), dict(row.settings), row.created_at, row.updated_at, row.host)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "id": str(self.id), "name": self.name, "description": self.description, "status": self.status.value,
            "platform": self.platform.value, "owner": self.owner_email, "storage_path": self.storage_path,
            "size_bytes": self.size_bytes, "tags": self.tags, "settings": self.settings,
            "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat(),
            "host": self.host,
        }
