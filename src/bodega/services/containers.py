"""Containers: create, list, show, edit, tag, archive, unarchive, delete, clone, recover, disk usage.

Every mutation is a task (`container.<verb>`, the CLI's `bodega container <verb>`); each
task's last transaction moves the container's status, rewrites its manifest.json and ends
the task together.
"""
from __future__ import annotations

import builtins
import errno
import functools
import os
import platform as host
import sys
import unicodedata
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import (
    AppInstance, AppStatus, Container, ContainerStatus, ContainerTag, Platform, Snapshot, SnapshotTrigger,
    SnapshotType, Task, User, utcnow,
)
from bodega.catalogue.models.container import NAME_MAX, TAG_MAX
from bodega.services.container_info import ContainerInfo
from bodega.services.container_settings import validate_settings
from bodega.services.id_prefix import find_by_id, looks_like_id, refuse_id_like, whole_id
from bodega.services.shares import VISIBLE_TO_ME
from bodega.services.users import email_of
from bodega.services.tasks import ProgressCallback, TaskContext, TaskInfo, TaskKind
from bodega.services.text_input import is_text, require_text
from bodega.storage import fs, volume
from bodega.storage.container_manifest import SCHEMA_VERSION, read_manifest, write_manifest
from bodega.storage.usage import TreeUsage, measure_tree

if TYPE_CHECKING:
    from bodega.services import Bodega

DESCRIPTION_MAX = 4096

# Device names Windows reserves in every directory, with or without an extension, in any case.
RESERVED_WINDOWS_NAMES = frozenset(
    ["CON", "PRN", "AUX", "NUL", "CONIN$", "CONOUT$"]
    + [f"{dev}{n}" for dev in ("COM", "LPT") for n in [*"0123456789", "\u00b9", "\u00b2", "\u00b3"]]
)
FORBIDDEN_CHARACTERS = frozenset('<>:"|?*')  # besides separators: Windows refuses them in file names

# Which status a container may move to from each status.
TRANSITIONS: dict[ContainerStatus, frozenset[ContainerStatus]] = {
    ContainerStatus.CREATING: frozenset({ContainerStatus.READY, ContainerStatus.ERROR}),
    ContainerStatus.READY: frozenset({ContainerStatus.RUNNING, ContainerStatus.ARCHIVED, ContainerStatus.ERROR}),
    ContainerStatus.RUNNING: frozenset({ContainerStatus.READY, ContainerStatus.ERROR}),
    ContainerStatus.ERROR: frozenset({ContainerStatus.READY, ContainerStatus.ARCHIVED}),
    ContainerStatus.ARCHIVED: frozenset({ContainerStatus.READY}),
}

# A clone step runs inside every container.clone task in two parts: called with the source's id
# before the tree is cloned (so what it notes is the source as it was before the copy), it
# returns the part to call with the new container's id once the tree is cloned, before the
# clone is ready (or None).
AfterClone = Callable[[TaskContext, uuid.UUID], None]
CloneStep = Callable[[TaskContext, uuid.UUID], "AfterClone | None"]


def validate_name(name: Any) -> str:
    """name in NFC if it can name a container on every platform; InvalidName saying why otherwise."""
    if not isinstance(name, str) or not name:
        raise errors.InvalidName("a container name cannot be empty")
    name = unicodedata.normalize("NFC", require_text(name, "container name", errors.InvalidName))
    shown = repr(name)
    if len(name) > NAME_MAX:
        raise errors.InvalidName(f"container name {shown[:40]}... is {len(name)} characters long; the limit is {NAME_MAX}")
    if "/" in name or "\\" in name:
        raise errors.InvalidName(f"container name {shown} contains a path separator (/ or \\)")
    if any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise errors.InvalidName(f"container name {shown} contains a control character")
    bad = sorted(set(name) & FORBIDDEN_CHARACTERS)
    if bad:
        raise errors.InvalidName(f"container name {shown} contains {' '.join(bad)}, which Windows forbids in names")
    if name in (".", ".."):
        raise errors.InvalidName(f"container name {shown} is reserved")
    if name[-1] in ". ":
        raise errors.InvalidName(f"container name {shown} ends with a dot or a space, which Windows drops")
    if name[0] in " -":
        raise errors.InvalidName(f"container name {shown} starts with a space or a dash")
    if name.split(".")[0].rstrip(" ").upper() in RESERVED_WINDOWS_NAMES:
        raise errors.InvalidName(f"container name {shown} is a device name Windows reserves (CON, NUL, COM1, ...)")
    refuse_id_like(name, "container")
    return name


def validate_tags(tags: Iterable[str]) -> list[str]:
    """Tags, deduplicated and sorted, if each is 1-64 visible characters without spaces or commas."""
    if isinstance(tags, str):
        tags = [tags]
    out = set()
    for tag in tags:
        require_text(tag, "tag")
        if not tag or len(tag) > TAG_MAX:
            raise errors.InvalidInput(f"tag {tag!r} must be 1 to {TAG_MAX} characters")
        if any(c.isspace() or c == "," or not c.isprintable() for c in tag):
            raise errors.InvalidInput(f"tag {tag!r} contains a space, comma or control character")
        out.add(unicodedata.normalize("NFC", tag))
    return sorted(out)


def validate_description(description: Any) -> str:
    """description if it is text of at most 4096 characters."""
    if not is_text(description) or len(description) > DESCRIPTION_MAX:
        raise errors.InvalidInput(f"a description is UTF-8 text of at most {DESCRIPTION_MAX} characters")
    return description


def host_platform() -> Platform:
    """The container platform of this host: windows-x64, windows-arm64 or linux-x64."""
    arch = {"x86_64": "x64", "amd64": "x64", "arm64": "arm64", "aarch64": "arm64"}.get(host.machine().lower())
    system = "windows" if sys.platform == "win32" else "linux" if sys.platform.startswith("linux") else sys.platform
    try:
        return Platform(f"{system}-{arch}")
    except ValueError:
        raise errors.NotSupported(
            f"containers run on windows-x64, windows-arm64 and linux-x64; this host is {system} {host.machine()}"
        ) from None


@dataclass(frozen=True)
class ContainerUsage:
    """What a container's directory uses on disk."""

    container: ContainerInfo
    usage: TreeUsage

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        u = self.usage
        return {"id": str(self.container.id), "name": self.container.name, "files": u.files, "dirs": u.dirs,
                "apparent_bytes": u.apparent_bytes, "allocated_bytes": u.allocated_bytes}


def _clone_locks(task: Task) -> list[uuid.UUID]:
    """A clone holds the new container and its source, so the source does not change while it is copied."""
    return [c for c in (task.container_id, uuid.UUID(task.payload["source_id"])) if c is not None]


@functools.cache
def _list_query(mine: bool, by_tag: bool, by_status: bool) -> sa.Select[Any]:
    """The statement of ContainerService.list for one combination of filters, with bind parameters
    me, tag and status: built once (building it cost more than running it)."""
    q = sa.select(Container, User.email).join(User, User.id == Container.owner_id)
    if mine:
        q = q.where(VISIBLE_TO_ME)
    if by_tag:
        q = q.where(Container.id.in_(sa.select(ContainerTag.container_id).where(ContainerTag.tag == sa.bindparam("tag"))))
    if by_status:
        q = q.where(Container.status == sa.bindparam("status"))
    return q.order_by(Container.name, User.email)


def _aware(text: Any) -> datetime:
    """A UTC timestamp from a manifest, or now when it is missing or unusable."""
    try:
        when = datetime.fromisoformat(str(text))
    except ValueError:
        return utcnow()
    return when if when.tzinfo else utcnow()


def manifest_fields(manifest: dict[str, Any]) -> dict[str, Any]:
    """Container columns from a checked manifest.json (read_manifest), validated."""
    c = manifest["container"]
    try:
        platform = Platform(c["platform"])
        status = ContainerStatus(c["status"])
    except ValueError as e:
        raise errors.ContainerManifestInvalid(f"manifest.json: {e}") from None
    # A container caught mid-change when its manifest was written comes back as ready
    # (running) or error (creating): only ready, archived and error are resting states.
    status = {ContainerStatus.RUNNING: ContainerStatus.READY,
              ContainerStatus.CREATING: ContainerStatus.ERROR}.get(status, status)
    return {"description": validate_description(c.get("description", "")), "status": status,
            "platform": platform, "settings": validate_settings(c["settings"]),
            "created_at": _aware(c.get("created_at"))}


def app_row(container_id: uuid.UUID, app: dict[str, Any]) -> AppInstance:
    """The catalogue row of one of a manifest.json's app_instances; ContainerManifestInvalid otherwise."""
    try:
        status = AppStatus(app.get("status", "installing"))
        entry_points = list(app.get("entry_points", []))
        if status == AppStatus.READY and not entry_points:
            raise errors.EntryPointRequired(f"manifest.json: app {app.get('name')!r} is ready without entry points")
        return AppInstance(id=uuid.UUID(str(app["id"])), container_id=container_id, name=str(app["name"]),
                           version=str(app.get("version", "")), vendor=str(app.get("vendor", "")),
                           install_source=str(app.get("install_source", "")),
                           source_hash=str(app.get("source_hash", ""))[:64],
                           install_path=str(app.get("path", "")), entry_points=entry_points,
                           status=status, created_at=_aware(app.get("created_at")))
    except (KeyError, ValueError, TypeError) as e:
        raise errors.ContainerManifestInvalid(f"manifest.json: bad app instance {app!r}: {e}") from None


def snapshot_row(container_id: uuid.UUID, snap: dict[str, Any]) -> Snapshot:
    """The catalogue row of one of a manifest.json's snapshots; ContainerManifestInvalid otherwise."""
    try:
        base = snap.get("base_snapshot_id")
        return Snapshot(id=uuid.UUID(str(snap["id"])), container_id=container_id, label=str(snap.get("label", "")),
                        type=SnapshotType(snap["type"]), base_snapshot_id=uuid.UUID(str(base)) if base else None,
                        size_bytes=int(snap.get("size_bytes", 0)), checksum_manifest=str(snap["checksum_manifest"]),
                        trigger=SnapshotTrigger(snap.get("trigger", "system")), created_at=_aware(snap.get("created_at")))
    except (KeyError, ValueError, TypeError) as e:
        raise errors.ContainerManifestInvalid(f"manifest.json: bad snapshot {snap!r}: {e}") from None


class ContainerService:
    """The container lifecycle."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega
        self._left: dict[uuid.UUID, ContainerInfo] = {}  # task id -> the container as its task left it
        # Steps run by every container.clone task around the tree's clone, inside the task (its
        # progress, cancel and staging).  The snapshot service adds the clone's initial
        # snapshot here (seed rule 2).
        self.clone_steps: list[CloneStep] = []
        register = bodega.tasks.register
        register(TaskKind("container.create", self._run_create, changes_tree=True))
        register(TaskKind("container.clone", self._run_clone, locks=_clone_locks, changes_tree=True))
        register(TaskKind("container.delete", self._run_delete, recover=self._delete))
        register(TaskKind("container.edit", self._run_edit))
        register(TaskKind("container.tag", self._run_tag))
        register(TaskKind("container.archive", self._run_set_status))
        register(TaskKind("container.unarchive", self._run_set_status))
        # A recover from the store moves a container here from its host: it runs on any host.
        register(TaskKind("container.recover", self._run_recover, changes_tree=True, any_host=True))

    # --- reading --------------------------------------------------------------------------

    def resolve(self, s: Session, ref: str | uuid.UUID) -> Container:
        """A container the acting user may see, by id, unique id prefix, or name.

        The order: a UUID, or text that reads as an id (4 to 32 hex digits, dashes allowed:
        `id_prefix.looks_like_id`), is looked up by id only (AmbiguousReference when a prefix
        matches several).  Any other text is a name: among your containers first, then among
        those shared with you (AmbiguousReference when several of those have it).  Names that
        read as ids are refused when a container is created, renamed, cloned or recovered, so
        a reference never names one container and the id of another.  In a write transaction
        the row is locked (on a database with row locks) until the commit, so what the caller
        checks of it stays true, whatever other hosts do meanwhile.
        """
        return self._locked_if_writing(s, self._find(s, ref), ref)

    def _find(self, s: Session, ref: str | uuid.UUID) -> Container:
        if looks_like_id(ref):
            row = find_by_id(s, Container, ref, "container")
            if row is not None and self._b.shares.can_see(s, row):
                return row
            raise errors.ContainerNotFound(f"no container {ref!r}" + self._shadowed(s, ref))
        if not is_text(ref):  # bytes that were not UTF-8: no name is made of those
            raise errors.ContainerNotFound(f"no container {ref!r}")
        name = unicodedata.normalize("NFC", str(ref))
        row = s.scalar(sa.select(Container).where(Container.owner_id == self._b.users.current.id,
                                                  Container.name == name))
        if row is not None:
            return row
        others = s.scalars(sa.select(Container).where(Container.name == name, self._b.shares.visible())
                           .limit(2)).all()
        if len(others) > 1:
            raise errors.AmbiguousReference(f"several containers you can see are named {ref!r}: give its id")
        if others:
            return others[0]
        raise errors.ContainerNotFound(f"no container {ref!r}")

    def _locked_if_writing(self, s: Session, row: Container, ref: str | uuid.UUID) -> Container:
        """row, locked and read again when s writes on a server database (SQLite writers are serial)."""
        conn = s.connection()
        if conn.dialect.name == "sqlite" or not conn.get_execution_options().get("bodega_write"):
            return row
        try:
            s.refresh(row, with_for_update=True)
        except sa.exc.InvalidRequestError:  # deleted by another transaction meanwhile
            raise errors.ContainerNotFound(f"no container {ref!r}") from None
        return row
    def _shadowed(self, s: Session, ref: str | uuid.UUID) -> str:
        """A hint for a container named like an id, which only its id reaches (names from before the rule)."""
        row = s.scalar(sa.select(Container).where(Container.owner_id == self._b.users.current.id,
                                                  Container.name == str(ref)))
        if row is None:
            return ""
        return (f" with that id; the container named {row.name!r} is reached by its id {row.id} "
                "(its name reads as an id: rename it with `bodega container edit ID --name NEW`)")

    def _info(self, s: Session, row: Container) -> ContainerInfo:
        return ContainerInfo.of(row, email_of(s, row.owner_id) or "")

    def get(self, ref: str | uuid.UUID) -> ContainerInfo:
        """A container by name (yours), id or unique id prefix."""
        with self._b.catalogue.session_scope(write=False) as s:
            return self._info(s, self.resolve(s, ref))

    def resolve_id(self, ref: str | uuid.UUID) -> uuid.UUID:
        """The id of a container, or the UUID given even when the container is gone (to filter history)."""
        whole = whole_id(ref)
        if whole is not None:  # the answer whether or not the container is there: no need to look
            return whole
        try:
            return self.get(ref).id
        except errors.ContainerNotFound:
            try:
                return ref if isinstance(ref, uuid.UUID) else uuid.UUID(ref)
            except ValueError:
                raise errors.ContainerNotFound(f"no container {ref!r}") from None

    def list(self, *, tag: str | None = None, status: ContainerStatus | str | None = None,
             all_users: bool = False) -> list[ContainerInfo]:
        """Your containers and those shared with you (all_users: every one you may see), by name."""
        if tag is not None:
            require_text(tag, "tag")
        mine = not all_users or not self._b.shares.sees_all()  # yours and shared with you, in both cases
        q = _list_query(mine, tag is not None, status is not None)
        params = {"me": self._b.users.current.id, "tag": tag,
                  "status": ContainerStatus(status) if status is not None else None}
        with self._b.catalogue.session_scope(write=False) as s:
            return [ContainerInfo.of(c, email) for c, email in s.execute(q, params)]

    def usage(self, refs: Iterable[str | uuid.UUID] = ()) -> builtins.list[ContainerUsage]:
        """Files and apparent/allocated bytes of the given containers (default: all of yours)."""
        containers = [self.get(r) for r in refs] or self.list()
        return [ContainerUsage(c, measure_tree(Path(c.storage_path))) for c in containers]

    # --- creating -------------------------------------------------------------------------

    def _ensure_name_free(self, s: Session, owner_id: uuid.UUID, name: str, but: uuid.UUID | None = None) -> None:
        self._b.catalogue.serialize(s, f"container name {owner_id} {name}")  # until the insert commits
        taken = s.scalar(sa.select(Container.id).where(Container.owner_id == owner_id, Container.name == name))
        if taken is not None and taken != but:
            raise errors.NameTaken(f"a container named {name!r} exists already")

    def _new_container(self, s: Session, task: Task, *, name: str, description: str, platform: Platform,
                       tags: builtins.list[str], settings: dict[str, Any], host: str | None = None) -> Container:
        """Inserts a container in status creating for task, which will make it ready on host (default: this one)."""
        owner = self._b.users.current
        self._ensure_name_free(s, owner.id, name)
        container_id = uuid.uuid4()
        row = Container(id=container_id, owner_id=owner.id, name=name, description=description,
                        status=ContainerStatus.CREATING, platform=platform, size_bytes=0, settings=settings,
                        storage_path=str(self._b.home.container_dir(container_id)), host=host or self._b.host)
        row.tags = tags  # type: ignore[assignment]
        s.add(row)
        s.flush()
        task.container_id = container_id
        task.payload = {**task.payload, "container_id": str(container_id)}
        self._b.events.record(s, f"container {name} creating", container_id=container_id, task_id=task.id,
                              user_id=owner.id, context={"status": ContainerStatus.CREATING.value})
        return row

    @overload
    def create(self, name: str, *, description: str = "", tags: Iterable[str] = (),
               settings: dict[str, Any] | None = None, detach: Literal[False] = False, wait: bool = False,
               progress: ProgressCallback | None = None) -> ContainerInfo: ...

    @overload
    def create(self, name: str, *, description: str = "", tags: Iterable[str] = (),
               settings: dict[str, Any] | None = None, detach: Literal[True], wait: bool = False,
               progress: ProgressCallback | None = None) -> TaskInfo: ...

    def create(self, name: str, *, description: str = "", tags: Iterable[str] = (),
               settings: dict[str, Any] | None = None, detach: bool = False, wait: bool = False,
               progress: ProgressCallback | None = None) -> ContainerInfo | TaskInfo:
        """Creates an empty container (task container.create); detach=True queues it for an agent."""
        name, tags = validate_name(name), validate_tags(tags)
        description = validate_description(description)
        settings = validate_settings({} if settings is None else settings)
        platform = host_platform()

        def prepare(s: Session, task: Task) -> None:
            self._new_container(s, task, name=name, description=description, platform=platform, tags=tags,
                                settings=settings)

        task = self._b.tasks.submit("container.create", {"name": name}, f"container create {name}",
                                    prepare=prepare, detach=detach, wait=wait, progress=progress)
        return task if detach else self._as_left(task)

    def _run_create(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        stage = ctx.staging / "container"
        (stage / "root").mkdir(parents=True)
        target = self._b.home.container_dir(ctx.container_id)
        os.rename(stage, target)  # publish the tree; the catalogue follows in finish()
        ctx.result.update(container_id=str(ctx.container_id), path=str(target))
        ctx.log(f"created an empty tree at {target / 'root'}")
        with self._finishing(ctx) as (s, row):
            self._transition(s, row, ContainerStatus.READY, ctx.task_id)
            self.sync_manifest(s, row)

    @overload
    def clone(self, source: str | uuid.UUID, name: str, *, description: str | None = None,
              detach: Literal[False] = False, wait: bool = False,
              progress: ProgressCallback | None = None) -> ContainerInfo: ...

    @overload
    def clone(self, source: str | uuid.UUID, name: str, *, description: str | None = None,
              detach: Literal[True], wait: bool = False, progress: ProgressCallback | None = None) -> TaskInfo: ...

    def clone(self, source: str | uuid.UUID, name: str, *, description: str | None = None,
              detach: bool = False, wait: bool = False,
              progress: ProgressCallback | None = None) -> ContainerInfo | TaskInfo:
        """Clones a container's tree, apps, tags and settings into a new container (task container.clone)."""
        name = validate_name(name)
        if description is not None:
            description = validate_description(description)

        def prepare(s: Session, task: Task) -> None:
            src = self.resolve(s, source)
            if src.status not in (ContainerStatus.READY, ContainerStatus.ARCHIVED):
                raise errors.WrongStatus(f"container {src.name} is {src.status.value}: only a ready or archived "
                                         "container can be cloned")
            task.payload = {**task.payload, "source_id": str(src.id), "source_name": src.name}
            # The clone is made where its source's tree is.
            self._new_container(s, task, name=name, platform=src.platform, tags=list(src.tags),
                                settings=dict(src.settings), host=src.host,
                                description=src.description if description is None else description)

        label = source if isinstance(source, str) else str(source)
        task = self._b.tasks.submit("container.clone", {"name": name}, f"container clone {label} {name}",
                                    prepare=prepare, detach=detach, wait=wait, progress=progress)
        return task if detach else self._as_left(task)

    def _run_clone(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        source_id = uuid.UUID(ctx.payload["source_id"])
        target = self._b.home.container_dir(ctx.container_id)
        with self._b.catalogue.session_scope(write=False) as s:
            source_root = Path(self._row(s, source_id).storage_path) / "root"
            elsewhere = self._row(s, ctx.container_id).storage_path != str(target)
        if elsewhere:  # queued on another host: the clone's tree is made in this host's home
            with self._b.catalogue.session_scope() as s:
                self._row(s, ctx.container_id).storage_path = str(target)

        def on_progress(p: fs.CloneProgress) -> None:
            # Called by the native clone at checkpoints; raising (a cancel) stops it cleanly.
            # 1% as soon as the clone starts (totals are known once the walk ends), 95% at its
            # end: the last 5% are publishing.
            ctx.progress(1 + p.bytes_done * 94 // p.bytes_total if p.bytes_total else 1)

        afters = [after for step in self.clone_steps if (after := step(ctx, source_id)) is not None]
        stage = ctx.staging / "container"
        try:
            stage.mkdir()
        except OSError as e:
            raise errors.os_error(e, "create staging", stage) from e
        r = fs.clone_tree(source_root, stage / "root", progress=on_progress, threads=self._b.tuning.clone_threads)
        ctx.log(f"cloned {r.files} files from {source_root} in {r.seconds:.2f} s "
                f"({r.bytes_cloned} bytes cloned, {r.bytes_copied} copied)")
        if r.specials:
            ctx.log(f"skipped {len(r.specials)} special files: {', '.join(r.specials[:5])}")
        volume.sync_tree(stage)  # durable before it is published: a power cut must not leave empty files
        try:
            os.rename(stage, target)
        except OSError as e:
            raise errors.os_error(e, "publish clone", target) from e
        ctx.result.update(container_id=str(ctx.container_id), source_id=str(source_id), path=str(target),
                          files=r.files, bytes_cloned=r.bytes_cloned, bytes_copied=r.bytes_copied)
        for after in afters:
            after(ctx, ctx.container_id)
        with self._finishing(ctx) as (s, row):
            for app in s.scalars(sa.select(AppInstance).where(AppInstance.container_id == source_id)):
                s.add(AppInstance(id=uuid.uuid4(), container_id=row.id, name=app.name, version=app.version,
                                  vendor=app.vendor, install_source=app.install_source,
                                  source_hash=app.source_hash, install_path=app.install_path,
                                  entry_points=list(app.entry_points), status=app.status))
            self._transition(s, row, ContainerStatus.READY, ctx.task_id)
            self.sync_manifest(s, row)

    # --- changing -------------------------------------------------------------------------

    @contextmanager
    def _finishing(self, ctx: TaskContext) -> Iterator[tuple[Session, Container]]:
        """The task's last transaction on its container; the caller gets the container back as it leaves it."""
        assert ctx.container_id is not None
        with ctx.finish() as s:
            row = self._row(s, ctx.container_id)
            yield s, row
            s.flush()
            self._left[ctx.task_id] = self._info(s, row)

    def _as_left(self, task: TaskInfo) -> ContainerInfo:
        """The container as the task that just ran here left it.

        Not read again: another process may rename or delete it as soon as the task commits,
        and that must not turn this task's success into an error.
        """
        info = self._left.pop(task.id, None)
        return info if info is not None else self.get(task.container_id or uuid.UUID(task.payload["container_id"]))

    def _row(self, s: Session, container_id: uuid.UUID) -> Container:
        row = s.get(Container, container_id)
        if row is None:
            raise errors.ContainerNotFound(f"container {container_id} no longer exists")
        return row

    def _transition(self, s: Session, row: Container, status: ContainerStatus, task_id: uuid.UUID | None) -> None:
        """Moves a container to status along TRANSITIONS and logs it."""
        if status == row.status:
            return
        if status not in TRANSITIONS[row.status]:
            raise errors.WrongStatus(f"container {row.name} is {row.status.value}: it cannot become {status.value}")
        old, row.status = row.status, status
        self._b.events.record(s, f"container {row.name} {old.value} -> {status.value}", container_id=row.id,
                              task_id=task_id, context={"status": status.value, "previous": old.value})

    def _mutation(self, verb: str, ref: str | uuid.UUID, payload: dict[str, Any], words: str,
                  allowed: Iterable[ContainerStatus], wait: bool) -> ContainerInfo:
        """Runs task container.<verb> on an existing container whose status is one of allowed."""
        allowed = frozenset(allowed)

        def prepare(s: Session, task: Task) -> None:
            row = self.resolve(s, ref)
            if row.status not in allowed:
                hint = "; unarchive it first" if row.status == ContainerStatus.ARCHIVED else ""
                raise errors.WrongStatus(f"container {row.name} is {row.status.value}: cannot {verb} it{hint}")
            task.container_id = row.id
            task.payload = {**task.payload, "container_id": str(row.id), "container_name": row.name}

        task = self._b.tasks.submit(f"container.{verb}", payload, words, prepare=prepare, wait=wait)
        return self._as_left(task)

    def edit(self, ref: str | uuid.UUID, *, name: str | None = None, description: str | None = None,
             settings: dict[str, Any] | None = None, wait: bool = False) -> ContainerInfo:
        """Renames a container or replaces its description or settings (task container.edit)."""
        payload: dict[str, Any] = {}
        if name is not None:
            payload["name"] = validate_name(name)
        if description is not None:
            payload["description"] = validate_description(description)
        if settings is not None:
            payload["settings"] = validate_settings(settings)
        if not payload:
            raise errors.InvalidInput("nothing to change: give a new name, description or settings")
        editable = (ContainerStatus.READY, ContainerStatus.RUNNING, ContainerStatus.ERROR)
        return self._mutation("edit", ref, payload, f"container edit {ref} {' '.join(sorted(payload))}", editable, wait)

    def _run_edit(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        with self._finishing(ctx) as (s, row):
            changed = []
            if "name" in ctx.payload and ctx.payload["name"] != row.name:
                self._ensure_name_free(s, row.owner_id, ctx.payload["name"], but=row.id)
                changed.append(f"name {row.name} -> {ctx.payload['name']}")
                row.name = ctx.payload["name"]
            if "description" in ctx.payload and ctx.payload["description"] != row.description:
                changed.append("description")
                row.description = ctx.payload["description"]
            if "settings" in ctx.payload and ctx.payload["settings"] != row.settings:
                changed.append("settings")
                row.settings = ctx.payload["settings"]
            if changed:
                self._b.events.record(s, f"container {row.name} edited: {', '.join(changed)}", container_id=row.id,
                                      task_id=ctx.task_id)
                self.sync_manifest(s, row)
            ctx.result["changed"] = changed

    def tag(self, ref: str | uuid.UUID, add: Iterable[str] = (), remove: Iterable[str] = (),
            wait: bool = False) -> ContainerInfo:
        """Adds and removes tags (task container.tag)."""
        add, remove = validate_tags(add), validate_tags(remove)
        if not add and not remove:
            raise errors.InvalidInput("no tags given")
        words = " ".join([f"+{t}" for t in add] + [f"-{t}" for t in remove])
        return self._mutation("tag", ref, {"add": add, "remove": remove}, f"container tag {ref} {words}",
                              [st for st in ContainerStatus if st != ContainerStatus.CREATING], wait)

    def _run_tag(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        with self._finishing(ctx) as (s, row):
            before = set(row.tags)
            after = (before | set(ctx.payload["add"])) - set(ctx.payload["remove"])
            if after != before:
                row.tags = sorted(after)  # type: ignore[assignment]
                self._b.events.record(s, f"container {row.name} tags: {', '.join(sorted(after)) or '(none)'}",
                                      container_id=row.id, task_id=ctx.task_id, context={"tags": sorted(after)})
                self.sync_manifest(s, row)

    def archive(self, ref: str | uuid.UUID, wait: bool = False) -> ContainerInfo:
        """Archives a container: kept, but frozen until unarchived (task container.archive)."""
        return self._mutation("archive", ref, {"status": ContainerStatus.ARCHIVED.value}, f"container archive {ref}",
                              [ContainerStatus.READY, ContainerStatus.ERROR], wait)

    def unarchive(self, ref: str | uuid.UUID, wait: bool = False) -> ContainerInfo:
        """Makes an archived container ready again (task container.unarchive)."""
        return self._mutation("unarchive", ref, {"status": ContainerStatus.READY.value}, f"container unarchive {ref}",
                              [ContainerStatus.ARCHIVED], wait)

    def _run_set_status(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        with self._finishing(ctx) as (s, row):
            self._transition(s, row, ContainerStatus(ctx.payload["status"]), ctx.task_id)
            self.sync_manifest(s, row)

    @overload
    def delete(self, ref: str | uuid.UUID, *, detach: Literal[False] = False, wait: bool = False) -> None: ...

    @overload
    def delete(self, ref: str | uuid.UUID, *, detach: Literal[True], wait: bool = False) -> TaskInfo: ...

    def delete(self, ref: str | uuid.UUID, *, detach: bool = False, wait: bool = False) -> TaskInfo | None:
        """Deletes a container and its tree (task container.delete); refused while another task runs on it."""

        def prepare(s: Session, task: Task) -> None:
            row = self.resolve(s, ref)
            if row.status in (ContainerStatus.CREATING, ContainerStatus.RUNNING):
                raise errors.WrongStatus(f"container {row.name} is {row.status.value}: it cannot be deleted now")
            task.container_id = row.id
            task.payload = {**task.payload, "container_id": str(row.id), "container_name": row.name}

        task = self._b.tasks.submit("container.delete", {}, f"container delete {ref}", prepare=prepare,
                                    detach=detach, wait=wait)
        return task if detach else None

    def _run_delete(self, ctx: TaskContext) -> None:
        self._delete(ctx)

    def _delete(self, ctx: TaskContext) -> str:
        """Moves the container's tree into the task's staging, then removes its row (run, and recovery).

        In that order: a crash between leaves the task running with its row, and the next start
        adopts the task and finishes the delete here (the tree already moved, or not yet); never
        a directory without a row.
        """
        assert ctx.container_id is not None
        with self._b.catalogue.session_scope(write=False) as s:
            path = Path(self._row(s, ctx.container_id).storage_path)
        if path.exists():
            try:
                os.replace(path, ctx.staging / "deleted")
            except OSError as e:
                raise errors.os_error(e, "delete", path) from e
        with ctx.finish() as s:
            row = self._row(s, ctx.container_id)
            self._b.events.record(s, f"container {row.name} deleted", container_id=row.id, task_id=ctx.task_id,
                                  context={"status": "deleted"})
            s.delete(row)
        ctx.log(f"removed {path}")
        return "rolled forward"

    # --- recovering from manifest.json ----------------------------------------------------

    def recover(self, path: str | os.PathLike[str], *, name: str | None = None) -> builtins.list[ContainerInfo]:
        """Rebuilds catalogue rows from a container directory's manifest.json, or from every container
        directory under path that the catalogue lacks (task container.recover each)."""
        path = Path(path).absolute()
        try:
            if (path / "manifest.json").is_file():
                candidates, single = [path], True
            elif path.is_dir():
                candidates = sorted(d for d in path.iterdir() if (d / "manifest.json").is_file())
                single = False
                if not candidates:
                    raise errors.ContainerManifestInvalid(
                        f"{path}: no manifest.json in it or in its subdirectories: not a container directory",
                        path=str(path))
            else:
                raise errors.PathNotFound(errno.ENOENT, None, str(path))
        except OSError as e:  # a name too long, no permission to list it...
            raise errors.os_error(e, "recover", path) from None
        if not single and name is not None:
            raise errors.InvalidInput("--name works with one container directory, not a directory of them")
        recovered = []
        for directory in candidates:
            manifest = read_manifest(directory)
            container_id = uuid.UUID(manifest["container_id"])
            with self._b.catalogue.session_scope(write=False) as s:
                known = s.get(Container, container_id) is not None
            if known:
                if single:
                    raise errors.ContainerExists(f"container {container_id} is in the catalogue already")
                continue
            new_name = validate_name(name if name is not None else manifest["container"]["name"])

            def prepare(s: Session, task: Task, new_name: str = new_name, manifest: dict[str, Any] = manifest) -> None:
                self._ensure_name_free(s, self._owner_for(s, manifest).id, new_name)

            task = self._b.tasks.submit(
                "container.recover", {"path": str(directory), "container_id": str(container_id), "name": new_name},
                f"container recover {directory}", prepare=prepare,
            )
            recovered.append(self.get(uuid.UUID(task.result["container_id"])))
        return recovered

    def recover_host(self, host: str) -> builtins.list[ContainerInfo]:
        """Moves here the containers the catalogue places on host (a host that is gone): each
        one's tree is restored from its newest snapshot in the shared store, checked by hash,
        and its rows then name this host (task container.recover each).  Changes made on host
        after that snapshot are not in the store: they stay behind."""
        host = host.strip()
        if not host:
            raise errors.InvalidInput("--host needs the host id the containers are on (`bodega container list --json`)")
        if host == self._b.host:
            raise errors.InvalidInput(f"{host} is this host: its containers are here already")
        with self._b.catalogue.session_scope(write=False) as s:
            rows = s.execute(sa.select(Container.id, Container.name).where(Container.host == host, self._b.shares.visible())
                             .order_by(Container.name)).all()
            newest = {r.id: s.scalar(sa.select(Snapshot.id).where(Snapshot.container_id == r.id)
                                     .order_by(Snapshot.created_at.desc()).limit(1)) for r in rows}
        if not rows:
            raise errors.ContainerNotFound(f"no container of yours is on host {host!r}")
        bare = [r.name for r in rows if newest[r.id] is None]
        if bare:
            raise errors.SnapshotNotFound(f"container(s) {', '.join(bare)} on host {host} have no snapshot to "
                                          "recover from: nothing of them is in the store")
        moved = []
        for r in rows:
            def prepare(s: Session, task: Task, container_id: uuid.UUID = r.id) -> None:
                row = self._locked_if_writing(s, self._row(s, container_id), str(container_id))
                if row.host != host:
                    raise errors.Conflict(f"container {row.name} is no longer on host {host} (now: {row.host})")
                task.container_id = row.id

            self._b.tasks.submit("container.recover", {"from_host": host, "container_id": str(r.id),
                                                       "snapshot_id": str(newest[r.id])},
                                 f"container recover {r.name} from host {host}", prepare=prepare)
            moved.append(self.get(r.id))
        return moved

    def _run_takeover(self, ctx: TaskContext) -> None:
        """Restores a container of another host here from its newest snapshot, then makes this host its host."""
        assert ctx.container_id is not None
        snap = ctx.payload["snapshot_id"]
        target = self._b.home.container_dir(ctx.container_id)
        if target.exists():
            raise errors.ContainerExists(f"{target} exists already on this host: remove it first")
        stage = ctx.staging / "container"
        stage.mkdir()
        restored = self._b.snapshots.engine.restore(stage / "root", stage / "state", snap,
                                                    progress=lambda _p, done, total: ctx.progress(
                                                        5 + done * 90 // total if total else 5))
        os.rename(stage, target)  # the tree is published; the catalogue follows in finish()
        ctx.result.update(container_id=str(ctx.container_id), path=str(target), snapshot_id=snap,
                          files=restored.files_written, bytes=restored.bytes_written)
        ctx.log(f"restored snapshot {snap[:8]} from the store: {restored.files_written} files")
        with ctx.finish() as s:
            row = self._row(s, ctx.container_id)
            old = row.host
            row.host, row.storage_path = self._b.host, str(target)
            if row.status in (ContainerStatus.RUNNING, ContainerStatus.CREATING):
                row.status = ContainerStatus.READY  # nothing runs in a tree just restored
            self._b.events.record(s, f"container {row.name} moved from host {old} to {self._b.host} "
                                     f"(snapshot {snap[:8]} restored)", container_id=row.id, task_id=ctx.task_id,
                                  context={"from_host": old, "snapshot_id": snap})
            self.sync_manifest(s, row)

    def _owner_for(self, s: Session, manifest: dict[str, Any]) -> User:
        """The manifest's owner if this catalogue knows them, else the acting user."""
        email = manifest["container"].get("owner")
        row = s.scalar(sa.select(User).where(User.email == email)) if email else None
        return row if row is not None else s.get(User, self._b.users.current.id)  # type: ignore[return-value]

    def _run_recover(self, ctx: TaskContext) -> None:
        if "from_host" in ctx.payload:
            return self._run_takeover(ctx)
        source = Path(ctx.payload["path"])
        container_id = uuid.UUID(ctx.payload["container_id"])
        manifest = read_manifest(source)
        fields = manifest_fields(manifest)
        target = self._b.home.container_dir(container_id)
        moved = source != target
        if moved:
            if target.exists():
                raise errors.ContainerExists(f"{target} exists already")
            try:
                os.rename(source, target)
            except OSError as e:
                if e.errno == errno.EXDEV:
                    raise errors.CrossDevice(f"{source} is on another volume than {self._b.home.containers}: "
                                             "move it there first") from None
                raise errors.os_error(e, "rename", str(source)) from None
        ctx.container_id = container_id  # so the engine measures it
        ctx.result.update(container_id=str(container_id), path=str(target))
        ctx.log(f"recovered from {source}" + (f", moved to {target}" if moved else ""))
        try:
            with ctx.finish() as s:
                owner = self._owner_for(s, manifest)
                self._ensure_name_free(s, owner.id, ctx.payload["name"])
                row = Container(id=container_id, owner_id=owner.id, name=ctx.payload["name"],
                                storage_path=str(target), size_bytes=0, host=self._b.host, **fields)
                row.tags = validate_tags(manifest["container"]["tags"])  # type: ignore[assignment]
                s.add(row)
                s.flush()
                s.get(Task, ctx.task_id).container_id = container_id  # type: ignore[union-attr]
                self._recover_apps(s, row, manifest)
                self._recover_snapshots(s, row, manifest)
                self._b.events.record(s, f"container {row.name} recovered from {source}", container_id=row.id,
                                      task_id=ctx.task_id, context={"status": row.status.value})
                self.sync_manifest(s, row)
        except BaseException:
            if moved and target.exists() and not source.exists():
                os.rename(target, source)  # leave the directory where the user had it
            raise

    def _recover_apps(self, s: Session, row: Container, manifest: dict[str, Any]) -> None:
        for app in manifest.get("app_instances", []):
            s.add(app_row(row.id, app))
        s.flush()

    def _recover_snapshots(self, s: Session, row: Container, manifest: dict[str, Any]) -> None:
        pending = list(manifest.get("snapshots", []))
        done: set[str] = set()
        while pending:  # bases before the deltas that refer to them
            ready = [p for p in pending if not p.get("base_snapshot_id") or str(p["base_snapshot_id"]) in done]
            if not ready:
                raise errors.ContainerManifestInvalid("manifest.json: a delta snapshot's base is missing")
            for snap in ready:
                s.add(snapshot_row(row.id, snap))
                done.add(str(snap["id"]))
                pending.remove(snap)
            s.flush()

    # --- manifest.json --------------------------------------------------------------------

    def sync_manifest(self, s: Session, row: Container) -> None:
        """Rewrites the container's manifest.json from its rows in session s (call it before commit)."""
        s.flush()
        apps = s.scalars(sa.select(AppInstance).where(AppInstance.container_id == row.id)
                         .order_by(AppInstance.created_at, AppInstance.id)).all()
        snaps = s.scalars(sa.select(Snapshot).where(Snapshot.container_id == row.id)
                          .order_by(Snapshot.created_at, Snapshot.id)).all()
        owner = email_of(s, row.owner_id)
        settings = dict(row.settings)
        write_manifest(Path(row.storage_path), {
            "schema_version": SCHEMA_VERSION,
            "container_id": str(row.id),
            "container": {
                "name": row.name, "description": row.description, "status": row.status.value,
                "platform": row.platform.value, "owner": owner, "tags": list(row.tags), "settings": settings,
                "created_at": row.created_at.isoformat(), "updated_at": row.updated_at.isoformat(),
            },
            "app_instances": [{
                "id": str(a.id), "name": a.name, "version": a.version, "vendor": a.vendor,
                "install_source": a.install_source, "source_hash": a.source_hash, "path": a.install_path,
                "entry_points": a.entry_points,
                "status": a.status.value, "created_at": a.created_at.isoformat(), "updated_at": a.updated_at.isoformat(),
            } for a in apps],
            "snapshots": [{
                "id": str(p.id), "label": p.label, "type": p.type.value,
                "base_snapshot_id": str(p.base_snapshot_id) if p.base_snapshot_id else None,
                "size_bytes": p.size_bytes, "checksum_manifest": p.checksum_manifest, "trigger": p.trigger.value,
                "created_at": p.created_at.isoformat(),
            } for p in snaps],
            "runtime": {"env": settings.get("env", {}), "mounts": settings.get("mounts", [])},
            "compat_flags": settings.get("compat_flags", []),
        })
