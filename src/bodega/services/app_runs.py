"""Running an app's entry point in the container's isolation, and the health that runs leave.

A run is not a task (it may last for hours and many may run at once); it is an AppRun row,
open while the app runs.  The container is `running` while any of its runs is open and
`ready` again after the last one.  A run whose process died (bodega killed) is closed by the
next bodega that opens the home, as a crash.
"""
from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega._native import process as native_process
from bodega.catalogue.models import (
    AppInstance, AppRun, AppStatus, Container, ContainerLock, ContainerStatus, EventLevel, EventSource, Role, User,
    utcnow,
)
from bodega.services.sandbox_spec import process_spec, split_command, view_of
from bodega.services.task_liveness import run_gone
from bodega.storage.tree import Tree

if TYPE_CHECKING:
    from bodega.services import Bodega


@dataclass(frozen=True)
class EntryHealth:
    """How an entry point's runs went."""

    entry: str
    runs: int
    crashes: int
    last_exit_code: int | None
    last_run_by: str | None
    last_run_at: datetime | None
    last_run_seconds: float | None
    running: int

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"entry": self.entry, "runs": self.runs, "crashes": self.crashes, "last_exit_code": self.last_exit_code,
                "last_run_by": self.last_run_by,
                "last_run_at": self.last_run_at.isoformat() if self.last_run_at else None,
                "last_run_seconds": self.last_run_seconds, "running": self.running}


def entry_health(s: Session, app: AppInstance) -> list[EntryHealth]:
    """The health of each of app's entry points, from its runs."""
    out = []
    for ep in app.entry_points:
        rows = s.execute(sa.select(AppRun, User.email).outerjoin(User, User.id == AppRun.user_id)
                         .where(AppRun.app_instance_id == app.id, AppRun.entry == ep["name"])
                         .order_by(AppRun.created_at.desc())).all()
        done = [(r, email) for r, email in rows if r.finished_at is not None]
        last, by = done[0] if done else (None, None)
        out.append(EntryHealth(ep["name"], len(done), sum(1 for r, _ in done if r.crashed),
                               last.exit_code if last else None, by, last.created_at if last else None,
                               round(last.seconds, 3) if last else None, len(rows) - len(done)))
    return out


class AppRuns:
    """Starts entry points and keeps their runs' records."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def run(self, container: str | uuid.UUID, entry: str, args: list[str] | tuple[str, ...] = (), *,
            progress: Callable[[Any], object] | None = None) -> native_process.ProcessResult:
        """Runs [APP:]ENTRY of container with args; stdio passed through; returns how it ended."""
        user = self._b.users.require(Role.OPERATOR)
        app_ref, _, entry_name = entry.rpartition(":")
        with self._b.catalogue.session_scope() as s:
            c = self._b.containers.resolve(s, container)
            app, ep = self._entry(s, c, app_ref, entry_name)
            if c.status not in (ContainerStatus.READY, ContainerStatus.RUNNING):
                raise errors.WrongStatus(f"container {c.name} is {c.status.value}: apps run in a ready container")
            self._b.tasks.require_here(s, c.id)  # the tree the app runs in is on its host
            busy = s.get(ContainerLock, c.id)
            if busy is not None:
                raise errors.ContainerBusy(f"container {c.name} is busy with task {busy.task_id}: run the app "
                                           "when it has ended")
            root = Path(c.storage_path) / "root"
            spec = self._spec(c, app, ep, root, list(args))
            run = AppRun(id=uuid.uuid4(), app_instance_id=app.id, container_id=c.id, entry=ep["name"],
                         user_id=user.id, owner_host=self._b.host, owner_pid=os.getpid())
            s.add(run)
            self._b.events.record(s, f"{user.email}: run {c.name} {app.name}:{ep['name']}", level=EventLevel.AUDIT,
                                  source=EventSource.USER, container_id=c.id, app_instance_id=app.id,
                                  user_id=user.id, context={"entry": ep["name"], "args": list(args)[:20]})
            if c.status == ContainerStatus.READY:
                self._b.containers._transition(s, c, ContainerStatus.RUNNING, None)
                self._b.containers.sync_manifest(s, c)
            run_id, container_id, app_name = run.id, c.id, app.name
        result = None
        try:
            with Tree.open(root) as tree:
                if tree.lstat(b"home") is None:
                    tree.makedirs(b"home", mode=0o700)  # $HOME of the app, inside the container
            result = native_process.run(spec, progress=progress)
        finally:
            self._close(run_id, container_id, app_name, ep["name"], result)
        return result

    def _entry(self, s: Session, c: Container, app_ref: str, name: str) -> tuple[AppInstance, dict[str, Any]]:
        """The app and entry point [APP:]ENTRY names."""
        apps = s.scalars(sa.select(AppInstance).where(AppInstance.container_id == c.id)).all()
        if app_ref:
            apps = [a for a in apps if a.name == app_ref or str(a.id).startswith(app_ref.lower())]
            if not apps:
                raise errors.AppNotFound(f"container {c.name} has no app {app_ref!r}")
        found = [(a, ep) for a in apps for ep in a.entry_points if ep["name"] == name]
        if not found:
            raise errors.AppNotFound(f"container {c.name} has no entry point {name!r}"
                                     + (f" in app {app_ref!r}" if app_ref else ""))
        if len(found) > 1:
            raise errors.AmbiguousReference(f"entry point {name!r} is in apps "
                                            f"{', '.join(a.name for a, _ in found)}: say APP:{name}")
        app, ep = found[0]
        if app.status != AppStatus.READY:
            raise errors.WrongStatus(f"app {app.name} is {app.status.value}: only a ready app runs"
                                     + ("; enable it first" if app.status == AppStatus.DISABLED else ""))
        return app, ep

    def _spec(self, c: Container, app: AppInstance, ep: dict[str, Any], root: Path,
              args: list[str]) -> native_process.ProcessSpec:
        words = split_command(ep["command"], f"entry point {ep['name']}")
        base = app.install_path
        program = f"{base}/{words[0]}" if base else words[0]
        defaults = list((ep.get("options") or {}).get("args", []))
        cwd = (ep.get("options") or {}).get("cwd")
        cwd_rel = base if cwd is None else "/".join(p for p in (base, cwd) if p)
        return process_spec(dict(c.settings), root, [view_of(root, program), *words[1:], *defaults, *args],
                            view_of(root, cwd_rel))

    def _close(self, run_id: uuid.UUID, container_id: uuid.UUID, app: str, entry: str,
               result: native_process.ProcessResult | None) -> None:
        """Records how a run ended and gives the container back when it was the last one."""
        with self._b.catalogue.session_scope() as s:
            run = s.get(AppRun, run_id)
            if run is None:
                return
            self._finish(s, run, result)
            level = EventLevel.WARNING if run.crashed else EventLevel.INFO
            how = (f"exited {run.exit_code}" if not run.crashed else
                   "timed out" if run.timed_out else "was stopped by the memory limit" if run.memory_killed
                   else f"crashed (signal {run.signal})" if run.signal else "stopped")
            self._b.events.record(s, f"app {app}:{entry} {how} after {run.seconds:.1f} s", level=level,
                                  source=EventSource.APP, container_id=container_id,
                                  app_instance_id=run.app_instance_id,
                                  context={"entry": entry, "exit_code": run.exit_code, "crashed": run.crashed,
                                           "peak_memory": run.peak_memory})
            self._release(s, container_id)

    def _finish(self, s: Session, run: AppRun, result: native_process.ProcessResult | None) -> None:
        run.finished_at = utcnow()
        run.seconds = (run.finished_at - run.created_at).total_seconds()
        if result is None:  # an error or a cancel before the app could end on its own
            run.crashed = True
            return
        run.exit_code, run.signal = result.exit_code, result.signal
        run.timed_out, run.memory_killed = result.timed_out, result.memory_killed
        run.crashed, run.peak_memory = result.crashed, result.peak_memory
        run.seconds = result.seconds

    def _release(self, s: Session, container_id: uuid.UUID) -> None:
        """The container back to ready once none of its runs is open."""
        s.flush()
        open_runs = s.scalar(sa.select(sa.func.count()).select_from(AppRun)
                             .where(AppRun.container_id == container_id, AppRun.finished_at.is_(None)))
        c = s.get(Container, container_id)
        if not open_runs and c is not None and c.status == ContainerStatus.RUNNING:
            self._b.containers._transition(s, c, ContainerStatus.READY, None)
            self._b.containers.sync_manifest(s, c)

    def recover(self) -> int:
        """Closes runs whose bodega died (as crashes); returns how many."""
        with self._b.catalogue.session_scope(write=False) as s:
            rows = s.execute(sa.select(AppRun.id, AppRun.owner_pid)
                             .where(AppRun.finished_at.is_(None), AppRun.owner_host == self._b.host)).all()
        dead = [r.id for r in rows if run_gone(r.owner_pid)]
        for run_id in dead:
            with self._b.catalogue.session_scope() as s:
                run = s.get(AppRun, run_id)
                if run is None or run.finished_at is not None:
                    continue
                self._finish(s, run, None)
                self._b.events.record(s, f"run of {run.entry} ended with its bodega process (pid {run.owner_pid})",
                                      level=EventLevel.WARNING, container_id=run.container_id,
                                      app_instance_id=run.app_instance_id, context={"entry": run.entry})
                self._release(s, run.container_id)
        return len(dead)
