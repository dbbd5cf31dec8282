"""App instances in containers: recorded by install tasks; a ready app has an entry point."""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bodega import errors
from bodega.catalogue.models import AppInstance, AppStatus, Container, Role

if TYPE_CHECKING:
    from bodega.services import Bodega


@dataclass(frozen=True)
class AppInfo:
    """An app instance."""

    id: uuid.UUID
    container_id: uuid.UUID
    name: str
    version: str
    vendor: str
    install_source: str
    install_path: str
    entry_points: list[dict[str, Any]]
    status: AppStatus
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: AppInstance) -> "AppInfo":
        """The AppInfo of a row."""
        return cls(row.id, row.container_id, row.name, row.version, row.vendor, row.install_source,
                   row.install_path, list(row.entry_points), row.status, row.created_at, row.updated_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "container_id": str(self.container_id), "name": self.name,
                "version": self.version, "vendor": self.vendor, "install_source": self.install_source,
                "path": self.install_path, "entry_points": self.entry_points, "status": self.status.value,
                "created_at": self.created_at.isoformat(), "updated_at": self.updated_at.isoformat()}


def validate_entry_points(entry_points: Iterable[Any]) -> list[dict[str, Any]]:
    """Entry points, each {"name": str, "command": str, optional "icon": str, "options": dict}."""
    out = []
    for ep in entry_points:
        if not isinstance(ep, dict) or not isinstance(ep.get("name"), str) or not ep["name"] \
                or not isinstance(ep.get("command"), str) or not ep["command"]:
            raise errors.InvalidInput(f"entry point {ep!r} needs a non-empty name and command")
        if not isinstance(ep.get("icon", ""), str) or not isinstance(ep.get("options", {}), dict):
            raise errors.InvalidInput(f"entry point {ep['name']!r}: icon is a path and options an object")
        out.append(dict(ep))
    return out


class AppService:
    """Records apps and their status; the install tasks that call it come with the apps feature."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def record(self, container: str | uuid.UUID, name: str, *, version: str = "", vendor: str = "",
               install_source: str = "", install_path: str = "", entry_points: Iterable[dict[str, Any]] = (),
               status: AppStatus | str = AppStatus.INSTALLING, task_id: uuid.UUID | None = None) -> AppInfo:
        """Adds an app instance to a container."""
        self._b.users.require(Role.OPERATOR)
        status, eps = AppStatus(status), validate_entry_points(entry_points)
        if not name:
            raise errors.InvalidInput("an app needs a name")
        if status == AppStatus.READY and not eps:
            raise errors.EntryPointRequired(f"app {name!r} cannot be ready without an entry point")
        with self._b.catalogue.session_scope() as s:
            target = self._b.containers.resolve(s, container)
            row = AppInstance(id=uuid.uuid4(), container_id=target.id, name=name, version=version, vendor=vendor,
                              install_source=install_source, install_path=install_path, entry_points=eps,
                              status=status)
            s.add(row)
            s.flush()
            self._b.events.record(s, f"app {name} {status.value} in container {target.name}",
                                  container_id=target.id, app_instance_id=row.id, task_id=task_id,
                                  context={"status": status.value})
            self._b.containers.sync_manifest(s, target)
            return AppInfo.of(row)

    def set_status(self, app_id: uuid.UUID, status: AppStatus | str, *,
                   entry_points: Iterable[dict[str, Any]] | None = None,
                   task_id: uuid.UUID | None = None) -> AppInfo:
        """Moves an app to status (replacing its entry points if given); ready needs an entry point."""
        self._b.users.require(Role.OPERATOR)
        status = AppStatus(status)
        with self._b.catalogue.session_scope() as s:
            row = s.get(AppInstance, app_id)
            if row is None:
                raise errors.NotFound(f"no app instance {app_id}")
            if entry_points is not None:
                row.entry_points = validate_entry_points(entry_points)
            if status == AppStatus.READY and not row.entry_points:
                raise errors.EntryPointRequired(f"app {row.name!r} cannot be ready without an entry point")
            old, row.status = row.status, status
            container = s.get(Container, row.container_id)
            assert container is not None
            self._b.events.record(s, f"app {row.name} {old.value} -> {status.value}", container_id=row.container_id,
                                  app_instance_id=row.id, task_id=task_id, context={"status": status.value})
            self._b.containers.sync_manifest(s, container)
            return AppInfo.of(row)

    def list(self, container: str | uuid.UUID) -> list[AppInfo]:
        """A container's apps, oldest first."""
        with self._b.catalogue.session_scope(write=False) as s:
            c = self._b.containers.resolve(s, container)
            return [AppInfo.of(a) for a in s.scalars(sa.select(AppInstance).where(AppInstance.container_id == c.id)
                                                     .order_by(AppInstance.created_at))]
