"""The task engine: every mutation is a Task, run in-process or by `bodega agent`.

A task is queued, then claimed (SELECT ... FOR UPDATE SKIP LOCKED of a queued row, so any
number of agents on any number of hosts share the queue and never run the same task)
together with a lock row per container it touches (one mutating task per container), run
with progress, cooperative cancel and a heartbeat, and ended in one transaction that also
publishes its result.  A task on a container runs on the container's host (the home that
holds its tree).  When the process running a task dies, the next bodega to open a home of
that host (or, once its heartbeat is stale, of any host) marks the task failed (interrupted)
and removes its staging; a kind with a `recover` step (a restore past its commit point) is
first adopted by that process, which finishes it under the task's own locks: rolled
forward, it ends succeeded.
"""
from __future__ import annotations

import builtins
import dataclasses
import functools
import logging
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import (
    Container, ContainerLock, ContainerStatus, EventLevel, EventSource, ExportPackage, Role, Task, TaskStatus,
    User, utcnow,
)
from bodega.services.id_prefix import find_by_id
from bodega.services.shares import VISIBLE_IDS_TO_ME
from bodega.services.task_liveness import stale_after, task_gone
from bodega.services.users import email_of
from bodega.storage.tree import remove_path
from bodega.storage.usage import measure_tree

if TYPE_CHECKING:
    from bodega.services import Bodega

_log = logging.getLogger(__name__)
HEARTBEAT_INTERVAL = 1.0  # seconds between heartbeats (and cancel polls) of a running task
STAGING_GRACE = timedelta(minutes=1)  # finished tasks' staging older than this is swept at open
WAIT_POLL = 0.2
PROGRESS_EVENT_INTERVAL = 0.25  # seconds between progress events, unless progress jumps PROGRESS_EVENT_STEP points
PROGRESS_EVENT_STEP = 10

ProgressCallback = Callable[[int], None]
STATUS_LEVELS = {TaskStatus.FAILED: EventLevel.ERROR, TaskStatus.CANCELLED: EventLevel.WARNING}


def _rowcount(result: sa.Result[Any]) -> int:
    """Rows an UPDATE matched (Session.execute types its result loosely)."""
    return cast("sa.CursorResult[Any]", result).rowcount


def _same(column: Any, value: Any) -> Any:
    """column = value, where None means NULL."""
    return column.is_(None) if value is None else column == value


def _runs_here(status: TaskStatus, pid: int | None, host: str | None, here: str) -> bool:
    """Whether a task in this state is running in this very process (of host `here`)."""
    return status == TaskStatus.RUNNING and pid == os.getpid() and host == here


def discard(path: Path) -> None:
    """Removes a tree a task no longer needs (never following a link); what cannot go is
    logged, naming it, and stays for the next sweep: a cleanup never fails the task."""
    try:
        remove_path(path)
    except errors.BodegaError as e:
        _log.warning("could not remove %s: %s", path, e)


def error_dict(exc: BaseException) -> dict[str, Any]:
    """How a task records the error it ended with."""
    if isinstance(exc, errors.BodegaError):
        out = exc.to_dict()
        if exc.bug:
            out["traceback"] = "".join(traceback.format_exception(exc))
        return out
    if isinstance(exc, KeyboardInterrupt):
        return errors.Cancelled("cancelled by an interrupt").to_dict()
    out = errors.InternalError(f"{type(exc).__name__}: {exc}").to_dict()
    out["traceback"] = "".join(traceback.format_exception(exc))
    return out


def error_from_dict(data: dict[str, Any]) -> errors.BodegaError:
    """The BodegaError a task recorded, rebuilt by class name (TaskFailed when unknown)."""
    by_name = {cls.__name__: cls for cls in errors.all_error_classes()}
    cls = by_name.get(str(data.get("type")), errors.TaskFailed)
    message = str(data.get("message") or "")
    if issubclass(cls, errors.StorageError):
        return errors.TaskFailed(message)  # its errno is gone; keep the words
    return cls(message)


@dataclass(frozen=True)
class TaskInfo:
    """A task as callers see it."""

    id: uuid.UUID
    type: str
    status: TaskStatus
    progress: int
    container_id: uuid.UUID | None
    app_instance_id: uuid.UUID | None
    user_email: str | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    payload: dict[str, Any]
    result: dict[str, Any]
    owner_host: str | None
    owner_pid: int | None
    cancel_requested: bool

    @classmethod
    def of(cls, row: Task, user_email: str | None = None) -> "TaskInfo":
        """The TaskInfo of a row."""
        return cls(row.id, row.type, row.status, row.progress, row.container_id, row.app_instance_id, user_email,
                   row.created_at, row.updated_at, row.started_at, row.finished_at, dict(row.payload),
                   dict(row.result), row.owner_host, row.owner_pid, row.cancel_requested)

    @property
    def error(self) -> dict[str, Any] | None:
        """The error the task ended with, if any."""
        return self.result.get("error")

    def raise_for_status(self) -> None:
        """Raises the task's error if it failed or was cancelled."""
        if self.status == TaskStatus.FAILED:
            raise error_from_dict(self.error or {})
        if self.status == TaskStatus.CANCELLED:
            raise errors.Cancelled(f"task {self.id} ({self.type}) was cancelled")

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {
            "id": str(self.id), "type": self.type, "status": self.status.value, "progress": self.progress,
            "container_id": str(self.container_id) if self.container_id else None,
            "app_instance_id": str(self.app_instance_id) if self.app_instance_id else None,
            "user": self.user_email, "created_at": iso(self.created_at), "updated_at": iso(self.updated_at),
            "started_at": iso(self.started_at), "finished_at": iso(self.finished_at), "payload": self.payload,
            "result": self.result, "owner": f"{self.owner_host}:{self.owner_pid}" if self.owner_pid else None,
            "cancel_requested": self.cancel_requested,
        }


@functools.cache
def _list_query(scoped: bool, by_status: bool, by_container: bool, by_type: bool, limited: bool) -> sa.Select[Any]:
    """The statement of TaskService.list for one combination of filters, with bind parameters me,
    status, container_id, type and limit: built once (building it cost more than running it)."""
    q = sa.select(Task, User.email).outerjoin(User, User.id == Task.user_id)
    if scoped:  # theirs, or on containers they see
        q = q.where(sa.or_(Task.user_id == sa.bindparam("me"), Task.container_id.in_(VISIBLE_IDS_TO_ME)))
    if by_status:
        q = q.where(Task.status == sa.bindparam("status"))
    if by_container:
        q = q.where(Task.container_id == sa.bindparam("container_id"))
    if by_type:
        q = q.where(Task.type == sa.bindparam("type"))
    q = q.order_by(Task.created_at.desc())
    return q.limit(sa.bindparam("limit", type_=sa.Integer)) if limited else q


def _primary_lock(task: Task) -> list[uuid.UUID]:
    return [task.container_id] if task.container_id else []


@dataclass(frozen=True)
class TaskKind:
    """A type of task: the code that runs it and the containers it holds while it runs."""

    type: str
    run: Callable[["TaskContext"], None]
    locks: Callable[[Task], list[uuid.UUID]] = _primary_lock
    changes_tree: bool = False  # refresh the container's size_bytes when the task ends
    any_host: bool = False  # runs on any host, not only on its containers' (it moves them here)
    # Called when a task of this kind ends without succeeding (failed, cancelled, interrupted),
    # in the ending transaction: removes what the task made outside its staging (idempotent).
    on_failure: Callable[[Task], None] | None = None
    # Finishes or undoes what a task of this kind left when its process died (run by the
    # process that adopts it, under its locks): "rolled forward" ends it succeeded.
    recover: Callable[["TaskContext"], str | None] | None = None


@dataclass
class TaskContext:
    """What a running task's code sees: payload, staging, progress, cancel checkpoints, final transaction."""

    engine: "TaskService"
    task_id: uuid.UUID
    type: str
    payload: dict[str, Any]
    container_id: uuid.UUID | None
    kind: TaskKind
    on_progress: ProgressCallback | None = None
    result: dict[str, Any] = field(default_factory=dict)
    finished: bool = False
    cancel: threading.Event = field(default_factory=threading.Event)
    lost: threading.Event = field(default_factory=threading.Event)
    _percent: int = 0
    _event_percent: int = 0
    _event_time: float = 0.0

    @property
    def staging(self) -> Path:
        """This task's staging directory under tmp/, created on first use, removed when the task ends."""
        path = self.engine.home.staging_dir(self.task_id)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise errors.os_error(e, "create staging", path) from e
        return path

    def checkpoint(self) -> None:
        """Stops the task here if it was cancelled or another process declared it interrupted."""
        if self.lost.is_set():
            raise errors.TaskInterrupted(f"task {self.task_id} was marked interrupted by another process")
        if self.cancel.is_set():
            raise errors.Cancelled(f"task {self.task_id} ({self.type}) was cancelled")

    def progress(self, percent: int) -> None:
        """Reports progress 0-100 (a checkpoint too); the catalogue and event log see it throttled."""
        self.checkpoint()
        percent = max(0, min(100, int(percent)))
        if percent <= self._percent:
            return
        self._percent = percent
        if self.on_progress is not None:
            self.on_progress(percent)
        now = time.monotonic()
        if now - self._event_time >= PROGRESS_EVENT_INTERVAL or percent - self._event_percent >= PROGRESS_EVENT_STEP:
            self._event_time, self._event_percent = now, percent
            self.engine._record_progress(self, percent)

    def save_result(self, session: Session | None = None) -> None:
        """Writes the result so far to the task's row (in session if given): what recovery reads
        if this process dies before the task ends."""
        if session is not None:
            self.engine._own_running(session, self).result = dict(self.result)
            return
        with self.engine.bodega.catalogue.session_scope() as s:
            self.engine._own_running(s, self).result = dict(self.result)

    def log(self, line: str) -> None:
        """Adds a line to the task's result log (the last 50 lines are kept)."""
        self.result.setdefault("log", []).append(line)
        del self.result["log"][:-50]

    @contextmanager
    def finish(self) -> Iterator[Session]:
        """The task's last transaction: the caller publishes its changes in it; the task ends succeeded with them."""
        sizes = self.engine._measure(self)
        with self.engine.bodega.catalogue.session_scope() as s:
            task = self.engine._own_running(s, self)
            s.execute(sa.delete(ContainerLock).where(ContainerLock.task_id == self.task_id))
            # Stored before the caller's changes, so what it reads back is current, and again after,
            # for a container the caller's changes made (recover writes its row here).
            self.engine._store_sizes(s, sizes)
            yield s
            s.flush()
            self.engine._store_sizes(s, sizes)
            task.progress = 100
            task.result = dict(self.result)
            self.engine._set_status(s, task, TaskStatus.SUCCEEDED)
        self.finished = True


class TaskService:
    """Submits, runs, claims, cancels, waits for and recovers tasks."""

    def __init__(self, bodega: "Bodega") -> None:
        self.bodega = bodega
        self.home = bodega.home
        self._kinds: dict[str, TaskKind] = {}
        self._live: dict[uuid.UUID, TaskContext] = {}
        self._stop_agent = threading.Event()
        self._wake: threading.Event | None = None
        self.clock: Callable[[], datetime] = utcnow  # the time recover() judges heartbeats by (tests move it)
        # Called with (ctx, locked container ids) before a task's code runs, under its locks.
        self.before_run: list[Callable[[TaskContext, list[uuid.UUID]], None]] = []

    # --- registry -------------------------------------------------------------------------

    def register(self, kind: TaskKind) -> None:
        """Makes a type of task runnable by this process (in-process and as an agent)."""
        self._kinds[kind.type] = kind

    def kind(self, type: str) -> TaskKind:
        """The registered kind of a task type."""
        try:
            return self._kinds[type]
        except KeyError:
            raise errors.InvalidInput(f"unknown task type {type!r}") from None

    # --- submit and run -------------------------------------------------------------------

    def submit(self, type: str, payload: dict[str, Any], audit: str, *,
               prepare: Callable[[Session, Task], None] | None = None, detach: bool = False,
               wait: bool = False, progress: ProgressCallback | None = None) -> TaskInfo:
        """Creates a task and runs it here (default) or queues it for an agent (detach).

        prepare(session, task) runs in the creating transaction: it validates, may insert rows
        and sets task.container_id.  audit is the mutation in words, logged with the acting
        user.  When a container is busy, wait=True retries until it is free instead of raising
        ContainerBusy.  Run here, the task's error is raised after it is recorded.
        """
        kind = self.kind(type)
        user = self.bodega.users.require(Role.OPERATOR)
        while True:
            try:
                with self.bodega.catalogue.session_scope() as s:
                    task = Task(id=uuid.uuid4(), type=type, status=TaskStatus.QUEUED, payload=payload,
                                result={}, user_id=user.id, progress=0)
                    s.add(task)
                    s.flush()  # first, so that prepare's rows and events can refer to the task
                    if prepare is not None:
                        prepare(s, task)
                        s.flush()
                    self.bodega.shares.require_task(s, task)
                    self.bodega.events.record(
                        s, f"{user.email}: {audit}", level=EventLevel.AUDIT, source=EventSource.USER,
                        container_id=task.container_id, task_id=task.id, user_id=user.id,
                        context={"task_type": type},
                    )
                    if detach:
                        self._record_status(s, task)
                    else:
                        self._claim(s, task, kind)
                    info = TaskInfo.of(task, user.email)
                break
            except errors.ContainerBusy:
                if not wait or detach:
                    raise
                time.sleep(WAIT_POLL)
        if detach:
            return info
        return self._execute(info, kind, progress, reraise=True)

    def _claim(self, s: Session, task: Task, kind: TaskKind) -> None:
        """Makes task running here and takes its container locks, in the caller's transaction."""
        now = utcnow()
        task.status, task.started_at, task.heartbeat_at = TaskStatus.RUNNING, now, now
        task.owner_host, task.owner_pid = self.bodega.host, os.getpid()
        for container_id in kind.locks(task):
            if not kind.any_host:
                self.require_here(s, container_id)
            holder = s.get(ContainerLock, container_id)
            if holder is not None:
                other = s.get(Task, holder.task_id)
                container = s.get(Container, container_id)
                raise errors.ContainerBusy(
                    f"container {container.name if container else container_id} is busy: task {holder.task_id} "
                    f"({other.type if other else '?'}) is running; try again later or use --wait"
                )
            s.add(ContainerLock(container_id=container_id, task_id=task.id))
        s.flush()  # a lock taken meanwhile by another database client fails here, as ContainerBusy
        self._set_status(s, task, TaskStatus.RUNNING)

    def require_here(self, s: Session, container_id: uuid.UUID) -> None:
        """ContainerElsewhere unless the container's tree is on this host."""
        row = s.execute(sa.select(Container.name, Container.host).where(Container.id == container_id)).one_or_none()
        if row is not None and row.host is not None and row.host != self.bodega.host:
            raise errors.ContainerElsewhere(
                f"container {row.name} lives on host {row.host}, not on this one ({self.bodega.host}): queue the "
                f"task with --detach for an agent there, or move the container here with "
                f"`bodega container recover --host {row.host}`")

    def _execute(self, info: TaskInfo, kind: TaskKind, progress: ProgressCallback | None,
                 reraise: bool) -> TaskInfo:
        """Runs a claimed task to its end, recording how it ended."""
        ctx = TaskContext(self, info.id, info.type, info.payload, info.container_id, kind, progress)
        self._live[ctx.task_id] = ctx
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat, args=(ctx, beat_stop), daemon=True,
                                name=f"bodega-heartbeat-{ctx.task_id}")
        beat.start()
        try:
            try:
                self._before_run(ctx)
                kind.run(ctx)
                if not ctx.finished:
                    with ctx.finish():
                        pass
            except BaseException as exc:
                # Ended here, the task's own error is the answer: the heartbeat seeing it end
                # (while a big staging is removed) sets lost too, but no other process did.
                ended_here = not ctx.finished and self._end_here(ctx, exc)
                if not ended_here and ctx.lost.is_set() and not isinstance(exc, errors.TaskInterrupted):
                    # Another process declared the task dead and removed its staging, so
                    # whatever failed here failed because of that: report the real cause.
                    lost = errors.TaskInterrupted(f"task {ctx.task_id} was marked interrupted by another "
                                                  f"process (here it then failed: {exc})")
                    if reraise:
                        raise lost from exc
                elif reraise or not isinstance(exc, Exception):
                    raise
        finally:
            beat_stop.set()
            beat.join()
            self._live.pop(ctx.task_id, None)
            discard(self.home.staging_dir(ctx.task_id))
        return self.get(ctx.task_id)

    def _before_run(self, ctx: TaskContext) -> None:
        """Runs the before_run hooks with the containers this task holds."""
        if not self.before_run:
            return
        with self.bodega.catalogue.session_scope(write=False) as s:
            held = list(s.scalars(sa.select(ContainerLock.container_id).where(ContainerLock.task_id == ctx.task_id)))
        if held:
            for hook in self.before_run:
                hook(ctx, held)

    def run_internal(self, type: str, container_id: uuid.UUID, payload: dict[str, Any], audit: str) -> TaskInfo | None:
        """Runs a task of bodega's own (no acting user: recovery) on container, here and now;
        None when the container is busy (its holder will do what is needed)."""
        kind = self.kind(type)
        try:
            with self.bodega.catalogue.session_scope() as s:
                if s.get(Container, container_id) is None:
                    return None
                task = Task(id=uuid.uuid4(), type=type, status=TaskStatus.QUEUED, payload=payload, result={},
                            user_id=None, progress=0, container_id=container_id)
                s.add(task)
                s.flush()
                self.bodega.events.record(s, f"bodega: {audit}", level=EventLevel.AUDIT, source=EventSource.AGENT,
                                          container_id=container_id, task_id=task.id, context={"task_type": type})
                self._claim(s, task, kind)
                info = TaskInfo.of(task, None)
        except errors.ContainerBusy:
            return None
        return self._execute(info, kind, None, reraise=False)

    def _adopt(self, task_id: uuid.UUID, row: Any) -> TaskInfo | None:
        """Makes a running task whose process died this process's own (one adopter wins: the
        update matches the owner and heartbeat `row` found dead only); None when another process
        was first, or the task beat again meanwhile."""
        with self.bodega.catalogue.session_scope() as s:
            taken = _rowcount(s.execute(
                sa.update(Task).where(Task.id == task_id, Task.status == TaskStatus.RUNNING,
                                      _same(Task.owner_host, row.owner_host), _same(Task.owner_pid, row.owner_pid),
                                      _same(Task.heartbeat_at, row.heartbeat_at))
                .values(owner_host=self.bodega.host, owner_pid=os.getpid(), heartbeat_at=utcnow())))
            if not taken:
                return None
            task = s.get(Task, task_id, populate_existing=True)
            self.bodega.events.record(
                s, f"task {str(task_id)[:8]} {task.type}: its process ({row.owner_host}:{row.owner_pid}) died; "
                   f"recovery adopted it", level=EventLevel.WARNING, container_id=task.container_id,
                task_id=task_id, context={"status": "recovering", "task_type": task.type})
            return TaskInfo.of(task, self._email(s, task))

    def _recover_adopted(self, info: TaskInfo, kind: TaskKind) -> TaskInfo:
        """Runs kind.recover for an adopted task, which then ends succeeded (rolled forward) or failed."""
        assert kind.recover is not None
        recover = kind.recover

        def run(ctx: TaskContext) -> None:
            outcome = recover(ctx)
            if outcome == "rolled forward":
                ctx.result.update(recovered="rolled forward")
                ctx.log(f"its process died after its commit point; recovery ({self.bodega.host}:{os.getpid()}) finished it")
                return
            ctx.result.update(reason="interrupted", recovered=outcome)
            raise errors.TaskInterrupted("interrupted: the process running it stopped without finishing it"
                                         + (f" (recovery: {outcome})" if outcome else ""))

        return self._execute(info, dataclasses.replace(kind, run=run), None, reraise=False)

    def _end_here(self, ctx: TaskContext, exc: BaseException) -> bool:
        """Ends a task this process runs as failed or cancelled, after an exception; False when
        another process had ended it already."""
        cancelled = isinstance(exc, (errors.Cancelled, KeyboardInterrupt))
        sizes = self._measure(ctx)
        doomed: list[Path] = []
        with self.bodega.catalogue.session_scope() as s:
            try:
                task = self._own_running(s, ctx)
            except errors.TaskInterrupted:
                return False  # another process ended it already
            self._store_sizes(s, sizes)
            task.result = dict(ctx.result) | {"error": error_dict(exc)}
            doomed = self._end(s, task, TaskStatus.CANCELLED if cancelled else TaskStatus.FAILED)
        self._remove_dirs(doomed, ctx.task_id)
        return True

    def _own_running(self, s: Session, ctx: TaskContext) -> Task:
        """The task's row, if this process still runs it; TaskInterrupted if someone declared it dead."""
        task = s.get(Task, ctx.task_id, with_for_update=True)
        if task is None or not _runs_here(task.status, task.owner_pid, task.owner_host, self.bodega.host):
            ctx.lost.set()
            raise errors.TaskInterrupted(f"task {ctx.task_id} is no longer run by this process")
        return task

    def _end(self, s: Session, task: Task, status: TaskStatus) -> list[Path]:
        """Ends a task that did not succeed: frees its locks and discards containers it was creating.

        Returns the discarded containers' directories, to be removed after the commit.
        """
        kind = self._kinds.get(task.type)
        if kind is not None and kind.on_failure is not None:
            kind.on_failure(task)
        candidates = set(kind.locks(task) if kind else _primary_lock(task))
        candidates |= set(s.scalars(sa.select(ContainerLock.container_id).where(ContainerLock.task_id == task.id)))
        s.execute(sa.delete(ContainerLock).where(ContainerLock.task_id == task.id))
        doomed = []
        for container_id in candidates:
            container = s.get(Container, container_id)
            if container is not None and container.status == ContainerStatus.CREATING:
                # It never became ready: what the task made of it is not worth keeping (its
                # directory is removed here when it is on this host; another host's stays).
                if container.host in (None, self.bodega.host):
                    doomed.append(Path(container.storage_path))
                self.bodega.events.record(
                    s, f"container {container.name} discarded: its {task.type} task ended {status.value}",
                    level=EventLevel.WARNING, container_id=container.id, task_id=task.id, user_id=task.user_id,
                )
                s.delete(container)
        s.flush()
        self._set_status(s, task, status)
        return doomed

    def _remove_dirs(self, dirs: list[Path], task_id: uuid.UUID) -> None:
        """Moves directories into the task's staging (atomic) and removes the staging."""
        staging = self.home.staging_dir(task_id)
        for i, d in enumerate(dirs):
            if d.exists():
                try:
                    staging.mkdir(parents=True, exist_ok=True)
                    os.replace(d, staging / f"discarded-{i}")
                except OSError:
                    discard(d)  # no room to stage its removal (a full volume)
        discard(staging)

    def _set_status(self, s: Session, task: Task, status: TaskStatus) -> None:
        """Moves a task to status, in step with its export packages, and logs the change."""
        task.status = status
        if status.finished:
            task.finished_at = utcnow()
        s.execute(sa.update(ExportPackage).where(ExportPackage.task_id == task.id).values(status=status))
        self._record_status(s, task)

    def _record_status(self, s: Session, task: Task) -> None:
        level = STATUS_LEVELS.get(task.status, EventLevel.INFO)
        message = f"task {str(task.id)[:8]} {task.type} {task.status.value}"
        error = (task.result or {}).get("error")
        if error:
            message += f": {error.get('message')}"
        context: dict[str, Any] = {"status": task.status.value, "task_type": task.type}
        if task.status == TaskStatus.FAILED and (task.result or {}).get("reason"):
            context["reason"] = task.result["reason"]
        self.bodega.events.record(s, message, level=level, container_id=task.container_id, task_id=task.id,
                                  user_id=task.user_id, context=context)

    def _record_progress(self, ctx: TaskContext, percent: int) -> None:
        try:
            with self.bodega.catalogue.session_scope() as s:
                updated = _rowcount(s.execute(
                    sa.update(Task).where(Task.id == ctx.task_id, Task.status == TaskStatus.RUNNING)
                    .values(progress=percent, heartbeat_at=utcnow())
                ))
                if not updated:
                    ctx.lost.set()  # ended by another process (interrupted): stop at the next checkpoint
                else:
                    self.bodega.events.record(s, f"task {str(ctx.task_id)[:8]} {ctx.type} {percent}%",
                                              container_id=ctx.container_id, task_id=ctx.task_id,
                                              context={"progress": percent, "task_type": ctx.type})
        except (errors.CatalogueUnavailable, errors.DatabaseLocked):
            pass  # progress is news, not state: a catalogue restarting or busy does not stop the task

    def _heartbeat(self, ctx: TaskContext, stop: threading.Event) -> None:
        """Runs beside a task: keeps its heartbeat fresh and notices cancel requests and loss."""
        while not stop.wait(HEARTBEAT_INTERVAL):
            try:
                with self.bodega.catalogue.session_scope() as s:
                    row = s.execute(sa.select(Task.status, Task.owner_pid, Task.owner_host, Task.cancel_requested)
                                    .where(Task.id == ctx.task_id)).one_or_none()
                    if row is None or not _runs_here(row.status, row.owner_pid, row.owner_host, self.bodega.host):
                        ctx.lost.set()
                        return
                    s.execute(sa.update(Task).where(Task.id == ctx.task_id).values(heartbeat_at=utcnow()))
                    if row.cancel_requested:
                        ctx.cancel.set()
            except errors.BodegaError:
                continue  # a busy catalogue: beat again next time

    def _measure(self, ctx: TaskContext) -> dict[uuid.UUID, int]:
        """Apparent sizes of the containers a tree-changing task touched (measured outside any transaction)."""
        if not ctx.kind.changes_tree or ctx.container_id is None:
            return {}
        root = self.home.container_dir(ctx.container_id) / "root"
        return {ctx.container_id: measure_tree(root).apparent_bytes} if root.is_dir() else {}

    def _store_sizes(self, s: Session, sizes: dict[uuid.UUID, int]) -> None:
        for container_id, size in sizes.items():
            container = s.get(Container, container_id)
            if container is not None and container.size_bytes != size:
                container.size_bytes = size

    # --- agent ----------------------------------------------------------------------------

    def run_agent(self, *, until_idle: bool = False, poll: float = 1.0, wake: threading.Event | None = None) -> int:
        """Claims and runs queued tasks until stop_agent() (or, with until_idle, until none is runnable).

        Between polls it sleeps up to poll seconds, or until wake is set (by whoever queued a task).
        A stop_agent() that came before the call ends it at once (a signal that arrived early).
        A catalogue server that goes away (a restart) is waited for, up to the stale period per
        transaction; meanwhile the agent keeps polling.
        """
        self._wake = wake
        catalogue = self.bodega.catalogue
        catalogue.reconnect_wait = max(catalogue.reconnect_wait, stale_after())
        done = 0
        try:
            while not self._stop_agent.is_set():
                try:
                    self.recover()
                    claimed = self._claim_next()
                except (errors.CatalogueUnavailable, errors.DatabaseLocked):
                    self._stop_agent.wait(poll)  # the server restarts or is busy: try again
                    continue
                if claimed is None:
                    if until_idle:
                        break
                    if wake is not None:
                        wake.wait(poll)
                        wake.clear()
                    else:
                        self._stop_agent.wait(poll)
                    continue
                info, kind = claimed
                try:
                    self._execute(info, kind, None, reraise=False)
                except (errors.CatalogueUnavailable, errors.DatabaseLocked):
                    # Its end could not be recorded: its heartbeat stops, and recovery ends it as
                    # interrupted after the stale period (never run twice).
                    continue
                done += 1
        finally:
            self._stop_agent.clear()  # a stop asked before the start is honoured, and only once
        return done

    def stop_agent(self) -> None:
        """Asks run_agent to stop, cancelling the tasks it runs at their next checkpoint."""
        self._stop_agent.set()
        if self._wake is not None:
            self._wake.set()
        for ctx in list(self._live.values()):
            ctx.cancel.set()

    def _claim_next(self) -> tuple[TaskInfo, TaskKind] | None:
        """Claims the oldest queued task this process can run, on this host, whose containers are free.

        One transaction per try: SELECT ... FOR UPDATE SKIP LOCKED takes the oldest such row
        that no other agent is claiming at this moment (on PostgreSQL; SQLite's single writer
        has the same effect), then its container locks; a container taken meanwhile leaves
        the task queued, and the next one is tried.
        """
        passed: set[uuid.UUID] = set()
        while True:
            try:
                with self.bodega.catalogue.session_scope() as s:
                    task = s.scalars(self._claimable(passed).limit(1).with_for_update(skip_locked=True, of=Task)).first()
                    if task is None:
                        return None
                    passed.add(task.id)
                    kind = self._kinds[task.type]
                    self._claim(s, task, kind)
                    return TaskInfo.of(task, self._email(s, task)), kind
            except (errors.ContainerBusy, errors.ContainerElsewhere, errors.NotFound):
                continue  # stays queued: waits for the container

    def _claimable(self, passed: set[uuid.UUID]) -> sa.Select[tuple[Task]]:
        """Queued tasks of the types this process knows, oldest first, but those in passed:
        global ones, those on containers of this host whose containers no task holds, and
        those that may run anywhere."""
        here = sa.select(Container.id).where(sa.or_(Container.host.is_(None), Container.host == self.bodega.host))
        anywhere = [t for t, k in self._kinds.items() if k.any_host]
        q = sa.select(Task).where(
            Task.status == TaskStatus.QUEUED, Task.type.in_(list(self._kinds)),
            sa.or_(Task.container_id.is_(None),
                   sa.and_(Task.container_id.not_in(sa.select(ContainerLock.container_id)),
                           sa.or_(Task.container_id.in_(here), Task.type.in_(anywhere)))))
        if passed:
            q = q.where(Task.id.not_in(list(passed)))
        return q.order_by(Task.created_at, Task.id)

    # --- reading, cancel, wait ------------------------------------------------------------

    def _email(self, s: Session, task: Task) -> str | None:
        """The email of the user who started task."""
        return email_of(s, task.user_id) if task.user_id else None

    def _visible(self) -> Any:
        """A SQL condition on Task: the tasks the acting user may see (theirs, or on containers they see)."""
        ids = self.bodega.shares.visible_ids()
        if ids is None:
            return sa.true()
        return sa.or_(Task.user_id == self.bodega.users.current.id, Task.container_id.in_(ids))

    def _resolve(self, s: Session, ref: str | uuid.UUID) -> Task:
        """A task the acting user may see, by id or unique id prefix."""
        task = find_by_id(s, Task, ref, "task")
        if task is not None and self.bodega.shares.visible_ids() is not None:
            if not s.scalar(sa.select(sa.func.count()).select_from(Task).where(Task.id == task.id, self._visible())):
                task = None
        if task is None:
            raise errors.TaskNotFound(f"no task {ref!r}: give its id or at least 4 characters of it")
        return task

    def get(self, ref: str | uuid.UUID) -> TaskInfo:
        """A task by id or unique id prefix."""
        with self.bodega.catalogue.session_scope(write=False) as s:
            task = self._resolve(s, ref)
            return TaskInfo.of(task, self._email(s, task))

    def list(self, *, status: TaskStatus | str | None = None, container_id: uuid.UUID | None = None,
             type: str | None = None, limit: int | None = 50) -> list[TaskInfo]:
        """Tasks, newest first."""
        q = _list_query(not self.bodega.shares.sees_all(), status is not None, container_id is not None,
                        type is not None, limit is not None)
        params = {"me": self.bodega.users.current.id, "status": TaskStatus(status) if status is not None else None,
                  "container_id": container_id, "type": type, "limit": limit}
        with self.bodega.catalogue.session_scope(write=False) as s:
            return [TaskInfo.of(t, email) for t, email in s.execute(q, params)]

    def cancel(self, ref: str | uuid.UUID) -> TaskInfo:
        """Cancels a queued task now, or asks a running one to stop at its next checkpoint."""
        user = self.bodega.users.require(Role.OPERATOR)
        doomed: list[Path] = []
        with self.bodega.catalogue.session_scope() as s:
            task = self._resolve(s, ref)
            s.refresh(task, with_for_update=True)  # an agent claiming it meanwhile waits, or wins
            if task.user_id != user.id:
                self.bodega.shares.require_task(s, task)
            if task.status.finished:
                raise errors.WrongStatus(f"task {task.id} has already {task.status.value}")
            self.bodega.events.record(s, f"{user.email}: cancel task {task.id} ({task.type})", level=EventLevel.AUDIT,
                                      source=EventSource.USER, container_id=task.container_id, task_id=task.id,
                                      user_id=user.id)
            if task.status == TaskStatus.QUEUED:
                task.result = {"error": errors.Cancelled(f"cancelled by {user.email} before it started").to_dict()}
                doomed = self._end(s, task, TaskStatus.CANCELLED)
            else:
                task.cancel_requested = True
            task_id = task.id
        if doomed:
            self._remove_dirs(doomed, task_id)
        live = self._live.get(task_id)
        if live is not None:
            live.cancel.set()
        return self.get(task_id)

    def wait(self, ref: str | uuid.UUID, timeout: float | None = None) -> TaskInfo:
        """Waits until the task has ended and returns it (raise_for_status() raises its error)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        info = self.get(ref)
        while not info.status.finished:
            if deadline is not None and time.monotonic() >= deadline:
                raise errors.WaitTimeout(f"task {info.id} is still {info.status.value} after {timeout:g} s")
            time.sleep(WAIT_POLL)
            info = self.get(info.id)
        return info

    # --- crash recovery -------------------------------------------------------------------

    def recover(self) -> builtins.list[TaskInfo]:
        """Marks running tasks whose process is gone failed (interrupted) and removes their staging.

        A process is gone when it was of this host and its pid is dead, or, whatever its host,
        when its heartbeat is older than the stale period (by self.clock: hosts keep their
        clocks in step).
        """
        limit = timedelta(seconds=stale_after())
        now = self.clock()
        with self.bodega.catalogue.session_scope(write=False) as s:
            running = s.execute(sa.select(Task.id, Task.owner_host, Task.owner_pid, Task.heartbeat_at)
                                .where(Task.status == TaskStatus.RUNNING)).all()
        dead = {
            row.id: row for row in running
            if row.id not in self._live
            and task_gone(row.owner_host, row.owner_pid, row.heartbeat_at, here=self.bodega.host, now=now, limit=limit)
        }
        ended: list[uuid.UUID] = []
        doomed: dict[uuid.UUID, list[Path]] = {}
        kinds = self._kinds_here(builtins.list(dead))
        for task_id, seen in dead.items():
            kind = self._kinds.get(kinds.get(task_id, ""))
            if kind is not None and kind.recover is not None:
                adopted = self._adopt(task_id, seen)
                if adopted is not None:
                    self._recover_adopted(adopted, kind)
                    ended.append(task_id)
                continue  # another process adopted it first
            with self.bodega.catalogue.session_scope() as s:
                task = s.get(Task, task_id, with_for_update=True)
                if task is None or task.status != TaskStatus.RUNNING or (
                        (task.owner_host, task.owner_pid, task.heartbeat_at)
                        != (seen.owner_host, seen.owner_pid, seen.heartbeat_at)):
                    continue  # it ended, beat again, or another process recovered it first
                who = f"{task.owner_host}:{task.owner_pid}"
                task.result = dict(task.result or {}) | {
                    "reason": "interrupted",
                    "error": errors.TaskInterrupted(
                        f"interrupted: the process running it ({who}) stopped without finishing it"
                    ).to_dict(),
                }
                doomed[task_id] = self._end(s, task, TaskStatus.FAILED)
                ended.append(task_id)
        for task_id in ended:
            if task_id in doomed:  # an adopted task removed its staging when it ended
                self._remove_dirs(doomed[task_id], task_id)
        self._sweep_staging()
        return [self.get(t) for t in ended]

    def _kinds_here(self, ids: builtins.list[uuid.UUID]) -> dict[uuid.UUID, str]:
        """The types of those of these tasks whose recovery can run here: on no container, or on
        one of this host.  Another host's are only marked failed from here: the tree, and the
        journal that finishes a restore in it, are on that host, which rolls it forward at its next open."""
        if not ids:
            return {}
        with self.bodega.catalogue.session_scope(write=False) as s:
            rows = s.execute(sa.select(Task.id, Task.type, Container.host)
                             .outerjoin(Container, Container.id == Task.container_id).where(Task.id.in_(ids)))
            return {r.id: r.type for r in rows if r.host in (None, self.bodega.host)}

    def _sweep_staging(self) -> None:
        """Removes staging left by tasks that ended a while ago (a crash after the end, before cleanup)."""
        try:
            names = [p.name for p in self.home.tmp.iterdir() if p.is_dir()]
        except FileNotFoundError:
            return
        ids = {}
        for name in names:
            try:
                ids[uuid.UUID(name)] = name
            except ValueError:
                continue  # not a task's staging
        if not ids:
            return
        with self.bodega.catalogue.session_scope(write=False) as s:
            rows = {r.id: r for r in s.execute(sa.select(Task.id, Task.status, Task.finished_at)
                                                .where(Task.id.in_(list(ids))))}
        cutoff = utcnow() - STAGING_GRACE
        for task_id, name in ids.items():
            row = rows.get(task_id)
            if row is not None and row.status.finished and row.finished_at and row.finished_at < cutoff:
                discard(self.home.tmp / name)
