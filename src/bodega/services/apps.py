"""Apps in containers: install, update and uninstall transactions, runs, footprints, entry points.

A ready app has at least one entry point (seed rule 4).  Install, update and uninstall are
tasks (services/app_transactions.py); runs are AppRun rows (services/app_runs.py).
"""
from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import (
    AppInstance, AppStatus, Container, ContainerStatus, EventLevel, EventSource, Role, Task, TaskStatus,
)
from bodega.services.id_prefix import find_by_id
from bodega.services.sandbox_spec import check_relative, split_command
from bodega.services.tasks import ProgressCallback, TaskInfo

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
    source_hash: str = ""

    @classmethod
    def of(cls, row: AppInstance) -> "AppInfo":
        """The AppInfo of a row."""
        return cls(row.id, row.container_id, row.name, row.version, row.vendor, row.install_source,
                   row.install_path, list(row.entry_points), row.status, row.created_at, row.updated_at,
                   row.source_hash)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "container_id": str(self.container_id), "name": self.name,
                "version": self.version, "vendor": self.vendor, "install_source": self.install_source,
                "source_hash": self.source_hash, "path": self.install_path, "entry_points": self.entry_points,
                "status": self.status.value, "created_at": self.created_at.isoformat(),
                "updated_at": self.updated_at.isoformat()}


@dataclass(frozen=True)
class AppDetails:
    """An app with its entry points' health and its install, update and uninstall tasks."""

    app: AppInfo
    health: list[Any]
    tasks: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**self.app.to_dict(), "health": [h.to_dict() for h in self.health], "tasks": self.tasks}


def validate_entry_points(entry_points: Iterable[Any]) -> list[dict[str, Any]]:
    """Entry points, each {"name": str, "command": str, optional "icon": str, "options": dict};
    the command's program must be a path inside the app (relative, not climbing out)."""
    out = []
    names: set[str] = set()
    for ep in entry_points:
        if not isinstance(ep, dict) or not isinstance(ep.get("name"), str) or not ep["name"] \
                or not isinstance(ep.get("command"), str) or not ep["command"]:
            raise errors.InvalidInput(f"entry point {ep!r} needs a non-empty name and command")
        if not isinstance(ep.get("icon", ""), str) or not isinstance(ep.get("options", {}), dict):
            raise errors.InvalidInput(f"entry point {ep['name']!r}: icon is a path and options an object")
        if ":" in ep["name"] or len(ep["name"]) > 200 or not ep["name"].isprintable():
            raise errors.InvalidInput(f"entry point name {ep['name']!r}: at most 200 printable characters, no ':'")
        if ep["name"] in names:
            raise errors.InvalidInput(f"entry point {ep['name']!r} is given twice")
        names.add(ep["name"])
        split_command(ep["command"], f"entry point {ep['name']}")
        if ep.get("icon"):
            check_relative(ep["icon"], f"entry point {ep['name']}: icon")
        args = ep.get("options", {}).get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise errors.InvalidInput(f"entry point {ep['name']!r}: options.args is a list of text")
        out.append(dict(ep))
    return out


def parse_entry(spec: str) -> dict[str, Any]:
    """An entry point from NAME=COMMAND (as --entry gives it)."""
    name, sep, command = spec.partition("=")
    if not sep or not name.strip() or not command.strip():
        raise errors.InvalidInput(f"--entry {spec!r}: give NAME=COMMAND, e.g. vlc=bin/vlc")
    return validate_entry_points([{"name": name.strip(), "command": command.strip()}])[0]


class AppService:
    """Apps: install/update/uninstall (tasks), run, footprint, entry points and status."""

    def __init__(self, bodega: "Bodega") -> None:
        from bodega.services.app_runs import AppRuns
        from bodega.services.app_transactions import AppTransactions

        self._b = bodega
        self.transactions = AppTransactions(bodega)
        self.runs = AppRuns(bodega)

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

    # --- reading --------------------------------------------------------------------------

    def resolve(self, s: Session, container: Container, ref: str | uuid.UUID) -> AppInstance:
        """An app of container by name, id or unique id prefix."""
        if isinstance(ref, str) and not ref.isprintable():  # app names are printable; lone surrogates are not
            raise errors.AppNotFound(f"container {container.name} has no app {ref!r}")
        if isinstance(ref, str):
            row = s.scalar(sa.select(AppInstance).where(AppInstance.container_id == container.id,
                                                        AppInstance.name == ref))
            if row is not None:
                return row
        try:
            row = find_by_id(s, AppInstance, ref, "app")
        except errors.InvalidInput:
            row = None
        if row is None or row.container_id != container.id:
            raise errors.AppNotFound(f"container {container.name} has no app {str(ref)!r}")
        return row

    def get(self, container: str | uuid.UUID, app: str | uuid.UUID) -> AppInfo:
        """One app of a container."""
        with self._b.catalogue.session_scope(write=False) as s:
            return AppInfo.of(self.resolve(s, self._b.containers.resolve(s, container), app))

    def show(self, container: str | uuid.UUID, app: str | uuid.UUID) -> AppDetails:
        """An app, its entry points' health and its install, update and uninstall tasks."""
        from bodega.services.app_runs import entry_health

        with self._b.catalogue.session_scope(write=False) as s:
            row = self.resolve(s, self._b.containers.resolve(s, container), app)
            tasks = [{"id": str(t.id), "type": t.type, "status": t.status.value, "created_at": t.created_at.isoformat(),
                      "pre_snapshot_id": t.result.get("pre_snapshot_id"),
                      "post_snapshot_id": t.result.get("post_snapshot_id"),
                      "error": (t.result.get("error") or {}).get("message")}
                     for t in s.scalars(sa.select(Task).where(Task.app_instance_id == row.id)
                                        .order_by(Task.created_at))]
            return AppDetails(AppInfo.of(row), entry_health(s, row), tasks)

    def footprint(self, container: str | uuid.UUID, app: str | uuid.UUID) -> Any:
        """What the app's installs and updates added, changed and removed (from their snapshots)."""
        return self.transactions.footprint(self.get(container, app).id)

    # --- install, update, uninstall -------------------------------------------------------

    def install(self, container: str | uuid.UUID, source: str | Path, *, name: str | None = None,
                version: str | None = None, vendor: str | None = None, entries: Iterable[str | dict[str, Any]] = (),
                path: str | None = None, args: Iterable[str] = (), time_limit: float | None = None,
                detach: bool = False, wait: bool = False, progress: ProgressCallback | None = None) -> AppInfo | TaskInfo:
        """Installs an app from a directory, an archive or an installer (task app.install)."""
        return self._submit("install", container, source, None, name=name, version=version, vendor=vendor,
                            entries=entries, path=path, args=args, time_limit=time_limit, detach=detach, wait=wait,
                            progress=progress)

    def update(self, container: str | uuid.UUID, app: str | uuid.UUID, source: str | Path, *,
               version: str | None = None, entries: Iterable[str | dict[str, Any]] = (), args: Iterable[str] = (),
               time_limit: float | None = None, detach: bool = False, wait: bool = False,
               progress: ProgressCallback | None = None) -> AppInfo | TaskInfo:
        """Installs a new version over an app, as one more transaction (task app.update)."""
        return self._submit("update", container, source, app, version=version, entries=entries, args=args,
                            time_limit=time_limit, detach=detach, wait=wait, progress=progress)

    def uninstall(self, container: str | uuid.UUID, app: str | uuid.UUID, *, detach: bool = False,
                  wait: bool = False, progress: ProgressCallback | None = None) -> TaskInfo:
        """Removes exactly the app's footprint, keeping files changed since (task app.uninstall)."""

        def prepare(s: Session, task: Task) -> None:
            c = self._ready_container(s, container)
            row = self.resolve(s, c, app)
            task.container_id, task.app_instance_id = c.id, row.id
            task.payload = {**task.payload, "app_id": str(row.id), "name": row.name}

        return self._b.tasks.submit("app.uninstall", {"app": str(app)}, f"app uninstall {container} {app}",
                                    prepare=prepare, detach=detach, wait=wait, progress=progress)

    def _ready_container(self, s: Session, ref: str | uuid.UUID) -> Container:
        c = self._b.containers.resolve(s, ref)
        if c.status != ContainerStatus.READY:
            raise errors.WrongStatus(f"container {c.name} is {c.status.value}: installs need it ready (no app running)")
        return c

    def _submit(self, verb: str, container: str | uuid.UUID, source: str | Path, app: str | uuid.UUID | None, *,
                name: str | None = None, version: str | None = None, vendor: str | None = None,
                entries: Iterable[str | dict[str, Any]] = (), path: str | None = None, args: Iterable[str] = (),
                time_limit: float | None = None, detach: bool, wait: bool,
                progress: ProgressCallback | None) -> AppInfo | TaskInfo:
        from bodega.services.app_transactions import INSTALLER, classify

        self._b.users.require(Role.OPERATOR)
        src = Path(source).expanduser().absolute()
        kind = classify(src)
        eps = validate_entry_points(parse_entry(e) if isinstance(e, str) else e for e in entries)
        for text, what in ((name, "name"), (version, "version"), (vendor, "vendor")):
            if text is not None and (not isinstance(text, str) or len(text) > 200 or not text.isprintable()):
                raise errors.InvalidInput(f"app {what} {text!r}: at most 200 printable characters")
        if path is not None:
            path = check_relative(path, "install path")
        args = list(args)
        if args and kind != INSTALLER:
            raise errors.InvalidInput(f"{src} is a {kind}: arguments are for an installer")
        if time_limit is not None and not 0 < time_limit <= 7 * 24 * 3600:
            raise errors.InvalidInput("the installer's time limit is between 0 and 7 days (in seconds)")
        payload: dict[str, Any] = {"source": str(src), "kind": kind, "name": name or "", "version": version or "",
                                   "vendor": vendor or "", "entries": eps, "path": path, "args": args,
                                   "time_limit": time_limit, "default_name": src.stem.removesuffix(".tar")}

        def prepare(s: Session, task: Task) -> None:
            c = self._ready_container(s, container)
            if verb == "install":
                shown = name or payload["default_name"]
                taken = s.scalar(sa.select(AppInstance).where(AppInstance.container_id == c.id,
                                                              AppInstance.name == shown))
                if taken is not None and taken.status != AppStatus.FAILED:
                    raise errors.NameTaken(f"container {c.name} has an app named {shown!r} already: "
                                           f"`bodega app update {c.name} {shown} SOURCE` installs a new version")
                row = AppInstance(id=uuid.uuid4(), container_id=c.id, name=shown, version=version or "",
                                  vendor=vendor or "", install_source=str(src), install_path=path or "",
                                  entry_points=[], status=AppStatus.INSTALLING)
                s.add(row)
                s.flush()
                self._b.events.record(s, f"app {shown} installing in container {c.name} from {src}",
                                      container_id=c.id, task_id=task.id, app_instance_id=row.id,
                                      context={"status": "installing", "source": str(src)})
            else:
                assert app is not None
                row = self.resolve(s, c, app)
                if row.status not in (AppStatus.READY, AppStatus.DISABLED):
                    raise errors.WrongStatus(f"app {row.name} is {row.status.value}: only an installed app updates")
            task.container_id, task.app_instance_id = c.id, row.id
            task.payload = {**task.payload, "app_id": str(row.id), "name": row.name if verb == "update" else name or ""}

        task = self._b.tasks.submit(f"app.{verb}", payload, f"app {verb} {container} {src}", prepare=prepare,
                                    detach=detach, wait=wait, progress=progress)
        if detach:
            return task
        with self._b.catalogue.session_scope(write=False) as s:
            row = s.get(AppInstance, task.app_instance_id) if task.app_instance_id else None
            if row is None:
                raise errors.AppNotFound("the installed app vanished")
            return AppInfo.of(row)

    # --- entry points and status ----------------------------------------------------------

    def _change(self, container: str | uuid.UUID, app: str | uuid.UUID, words: str,
                change: Callable[[Session, AppInstance], str]) -> AppInfo:
        """Applies change to an app's row with an audit event and the manifest in step."""
        user = self._b.users.require(Role.OPERATOR)
        with self._b.catalogue.session_scope() as s:
            c = self._b.containers.resolve(s, container)
            row = self.resolve(s, c, app)
            what = change(s, row)
            self._b.events.record(s, f"{user.email}: app {words} {c.name} {row.name}", level=EventLevel.AUDIT,
                                  source=EventSource.USER, container_id=c.id, app_instance_id=row.id,
                                  user_id=user.id)
            self._b.events.record(s, f"app {row.name} {what}", container_id=c.id, app_instance_id=row.id,
                                  context={"status": row.status.value})
            self._b.containers.sync_manifest(s, c)
            return AppInfo.of(row)

    def disable(self, container: str | uuid.UUID, app: str | uuid.UUID) -> AppInfo:
        """Stops an app from being run (its files stay)."""
        def change(s: Session, row: AppInstance) -> str:
            if row.status not in (AppStatus.READY, AppStatus.DISABLED):
                raise errors.WrongStatus(f"app {row.name} is {row.status.value}: only a ready app can be disabled")
            row.status = AppStatus.DISABLED
            return "disabled"
        return self._change(container, app, "disable", change)

    def enable(self, container: str | uuid.UUID, app: str | uuid.UUID) -> AppInfo:
        """Lets a disabled app run again."""
        def change(s: Session, row: AppInstance) -> str:
            if row.status not in (AppStatus.READY, AppStatus.DISABLED):
                raise errors.WrongStatus(f"app {row.name} is {row.status.value}: only a disabled app can be enabled")
            if not row.entry_points:
                raise errors.EntryPointRequired(f"app {row.name} cannot be ready without an entry point")
            row.status = AppStatus.READY
            return "enabled"
        return self._change(container, app, "enable", change)

    def set_entry(self, container: str | uuid.UUID, app: str | uuid.UUID, entry: str | dict[str, Any] | None = None,
                  *, remove: str | None = None) -> AppInfo:
        """Adds or replaces an entry point (NAME=COMMAND or a dict), or removes one by name."""
        new = (parse_entry(entry) if isinstance(entry, str) else validate_entry_points([entry])[0]) \
            if entry is not None else None
        if (new is None) == (remove is None):
            raise errors.InvalidInput("give an entry point to set, or one to remove")

        def change(s: Session, row: AppInstance) -> str:
            eps = [ep for ep in row.entry_points if ep["name"] != (new["name"] if new else remove)]
            if remove is not None and len(eps) == len(row.entry_points):
                raise errors.AppNotFound(f"app {row.name} has no entry point {remove!r}")
            if new is not None:
                eps.append(new)
            if row.status == AppStatus.READY and not eps:
                raise errors.EntryPointRequired(f"app {row.name} is ready: its last entry point cannot go "
                                                "(disable the app first)")
            row.entry_points = eps
            return f"entry point {new['name']} set to {new['command']!r}" if new else f"entry point {remove} removed"
        return self._change(container, app, "set-entry", change)

    def run(self, container: str | uuid.UUID, entry: str, args: Iterable[str] = (),
            progress: Callable[[Any], object] | None = None) -> Any:
        """Runs [APP:]ENTRY isolated in the container; returns how it ended (its exit code is the app's)."""
        return self.runs.run(container, entry, list(args), progress=progress)

    def recover(self) -> int:
        """Closes runs whose bodega died; returns how many."""
        return self.runs.recover()
