"""Export packages: the export task that writes them, verify, and their catalogue rows.

A package is made only by an export task and its row's status is the task's (seed rule 5);
its integrity_hash is the BLAKE3 of the package file, stored when the file is published.
"""
from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega._version import __version__
from bodega.catalogue.models import (
    EXPORT_TASK_TYPE, Container, ContainerStatus, ExportFormat, ExportPackage, Role, Snapshot, Task, TaskStatus,
    utcnow,
)
from bodega.services.tasks import TaskContext, TaskInfo, TaskKind
from bodega.storage import manifest as mf
from bodega.storage.archive.s3_package import download, open_s3
from bodega.storage.archive.sink import free_bytes, is_s3, open_sink, parse_location, remove_partial
from bodega.storage.package import layout
from bodega.storage.package.sources import StoreSource, TreeSource
from bodega.storage.package.write import FORMATS, ExportPlan, write_package

if TYPE_CHECKING:
    from bodega.services import Bodega

_log = logging.getLogger(__name__)


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


# --- the export task ---------------------------------------------------------------------

def _locks(task: Task) -> list[uuid.UUID]:
    """A live tree is read under the container's lock (no restore meanwhile); a snapshot needs none."""
    if task.container_id is None or task.payload.get("snapshot_id"):
        return []
    return [task.container_id]


def _tag(task_id: uuid.UUID | str) -> str:
    return str(task_id).replace("-", "")[:16]


def default_location(home_exports: Path, name: str, fmt: str) -> str:
    """$BODEGA_HOME/exports/<name>-<UTC time>.<fmt>."""
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return str(home_exports / f"{safe}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}.{fmt}")


class ExportTasks:
    """The export task: a package written from manifests, streamed, checked, published by a rename."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega
        bodega.tasks.register(TaskKind(EXPORT_TASK_TYPE, self._run, locks=_locks, on_failure=self._discard))

    def export(self, container: str | uuid.UUID, *, format: str = "zip", location: str | None = None,
               snapshot: str | None = None, with_snapshots: bool = False, since: str | None = None,
               detach: bool = False, wait: bool = False,
               progress: Callable[[int], None] | None = None) -> TaskInfo:
        """Exports a container's tree (or one snapshot's) as a zip or 7z package (task export)."""
        if format not in FORMATS:
            raise errors.InvalidInput(f"export format is zip or 7z, not {format!r}")
        if since is not None and with_snapshots:
            raise errors.InvalidInput("a delta export (--since) carries one state: --with-snapshots does not apply")
        if location == "-" and format == "7z":
            raise errors.NotSupported("a 7z package cannot be streamed: its first bytes point to its header, "
                                      "written last; export to a file, or use --format zip to stream")
        if location == "-" and detach:
            raise errors.InvalidInput("an export to stdout (-o -) runs here: it cannot be detached")
        if location is not None and is_s3(location):
            remote, key = open_s3(location)  # a bad URL, bucket or credentials: said now, before a task
            if remote.exists(key):
                raise errors.PathExists(17, None, location, "export (bodega never replaces an object)")
        elif location is not None and location != "-":
            target = parse_location(location)
            assert target is not None
            if os.path.lexists(target):
                raise errors.PathExists(17, None, str(target), "export (bodega never replaces a file)")

        def prepare(s: Session, task: Task) -> None:
            c = self._b.containers.resolve(s, container)
            if c.status not in (ContainerStatus.READY, ContainerStatus.ARCHIVED, ContainerStatus.RUNNING):
                raise errors.WrongStatus(f"container {c.name} is {c.status.value}: it cannot be exported now")
            payload = dict(task.payload)
            if snapshot is not None:
                payload["snapshot_id"] = str(self._b.snapshots.resolve(s, c, snapshot).id)
            if since is not None:
                payload["since_id"] = str(self._b.snapshots.resolve(s, c, since).id)
            where = location if location is not None else default_location(self._b.home.exports, c.name, format)
            payload["location"] = where if where == "-" or is_s3(where) else str(parse_location(where))
            task.container_id = c.id
            task.payload = payload

        return self._b.tasks.submit(EXPORT_TASK_TYPE, {"format": format, "with_snapshots": with_snapshots},
                                    f"export {container} ({format})", prepare=prepare, detach=detach, wait=wait,
                                    progress=progress)

    def _discard(self, task: Task) -> None:
        """A stopped export leaves nothing: its temporary file (or S3 upload) is removed."""
        location = str(task.payload.get("location", "-"))
        try:
            remove_partial(location, _tag(task.id))
        except errors.BodegaError as e:
            # S3 unreachable now: an unfinished upload is invisible at the key (a bucket's
            # AbortIncompleteMultipartUpload rule ends it); the task must still end.
            _log.warning("export %s: could not remove what it left at %s: %s", task.id, location, e)

    def _plan(self, ctx: TaskContext) -> tuple[ExportPlan, TreeSource | StoreSource, StoreSource | TreeSource]:
        """What the package holds, from manifests: the tree, the snapshots, the objects beyond them."""
        p = ctx.payload
        engine = self._b.snapshots.engine
        with self._b.catalogue.session_scope(write=False) as s:
            c = s.get(Container, ctx.container_id)
            if c is None:
                raise errors.ContainerNotFound(f"container {ctx.container_id} no longer exists")
            rows = {str(r.id): _ref(r) for r in s.scalars(sa.select(Snapshot).where(Snapshot.container_id == c.id)
                                                          .order_by(Snapshot.created_at))}
            container = {"id": str(c.id), "name": c.name, "platform": c.platform.value}
            root = Path(c.storage_path) / "root"
            state = Path(c.storage_path) / "state"
        container_manifest = (root.parent / "manifest.json").read_bytes()
        store_source = StoreSource(engine.store)
        snap_id = p.get("snapshot_id")
        if snap_id:
            tree = engine.manifest(snap_id)
            tree_source: TreeSource | StoreSource = store_source
        else:
            ctx.progress(1)
            tree = mf.build(root, engine.live_manifest(state), clock=engine.clock)
            tree_source = TreeSource(root, layout.ROOT)
        chosen = list(rows) if p.get("with_snapshots") else [snap_id] if snap_id else []
        snapshots = {sid: _checked(engine.manifest(sid), rows[sid]) for sid in chosen}
        refs = [rows[sid] for sid in chosen]
        base = None
        base_ref = None
        if p.get("since_id"):
            base_ref = rows[p["since_id"]]
            base = _checked(engine.manifest(p["since_id"]), base_ref)
        info = layout.PackageInfo(kind="delta" if base is not None else "full", container=container,
                                  tree_root=tree.root_hex, tree_snapshot=snap_id, snapshots=refs, base=base_ref,
                                  created_at=utcnow().isoformat(), bodega_version=__version__)
        plan = ExportPlan.make(info, container_manifest, tree, with_tree=base is None, snapshots=snapshots,
                               base=base, mtime_ns=time.time_ns())
        objects_source: StoreSource | TreeSource = store_source
        if base is not None and not snap_id:  # a delta of the live tree: new contents are only in the tree
            paths = {e.hash: e.path for e in tree if e.kind == "file"}
            objects_source = TreeSource(root, layout.OBJECTS, path_of=lambda e: paths[e.hash])
        return plan, tree_source, objects_source

    def _run(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        p = ctx.payload
        plan, tree_source, objects_source = self._plan(ctx)
        location, fmt = p["location"], p["format"]
        free = free_bytes(location)
        need = plan.estimate()
        if free is not None and need > free:
            raise errors.NoSpace(28, f"the package may need up to {need} bytes and {location}'s volume has "
                                 f"{free} free (the estimate counts every file stored uncompressed)",
                                 location, "export")
        package = self._b.exports.record_package(ctx.task_id, format=fmt, location=location)
        sink = open_sink(location, _tag(ctx.task_id), size_hint=need)
        cancel = lambda: ctx.cancel.is_set() or ctx.lost.is_set()  # noqa: E731
        try:
            with self._b.snapshots.engine.store.shared():
                written = write_package(sink, fmt, plan, tree_source=tree_source, store_source=objects_source,
                                        progress=lambda done, total: ctx.progress(2 + done * 95 // max(1, total)),
                                        cancel=cancel)
            ctx.result.update(package_id=str(package.id), location=location, format=fmt, bytes=written.bytes,
                              members=written.members, integrity_hash=written.integrity_hash,
                              root=plan.info.tree_root, kind=plan.info.kind, objects=len(plan.objects),
                              skipped=plan.info.skipped[:50], stats=written.stats)
            ctx.log(f"exported {written.members} members, {written.bytes} bytes to {location}")
            with ctx.finish() as s:
                row = s.get(ExportPackage, package.id)
                row.integrity_hash = written.integrity_hash  # type: ignore[union-attr]
                s.flush()
                sink.commit()  # the rename: last, inside the transaction that publishes the row
        except BaseException:
            sink.abort()
            raise


def _checked(m: mf.Manifest, ref: layout.SnapshotRef) -> mf.Manifest:
    """A snapshot's manifest from the store, which must have the root the catalogue records."""
    if m.root_hex != ref.root:
        raise errors.ManifestCorrupt(f"snapshot {ref.id}: the store's manifest has root {m.root_hex[:16]}, the "
                                     f"catalogue records {ref.root[:16]} (run `bodega verify`)")
    return m


def _ref(row: Snapshot) -> layout.SnapshotRef:
    return layout.SnapshotRef(id=str(row.id), root=row.checksum_manifest, label=row.label, type=row.type.value,
                              base_snapshot_id=str(row.base_snapshot_id) if row.base_snapshot_id else None,
                              trigger=row.trigger.value, created_at=row.created_at.isoformat())


class ExportService(ExportTasks):
    """Export packages: the export task, verify, and the rows the task engine keeps in step."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega
        ExportTasks.__init__(self, bodega)

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

    def verify(self, path: str | os.PathLike[str], *, expect_hash: str | None = None,
               progress: Callable[[int, int], object] | None = None) -> dict[str, Any]:
        """Checks a package without importing it: every member against the manifests' hashes, the
        manifests' roots, and the file's BLAKE3 against the catalogue's row (or expect_hash)."""
        location = os.fspath(path)
        if is_s3(location):
            # A zip's directory and a 7z's header are at the end: the object is fetched first.
            with tempfile.TemporaryDirectory(prefix="verify-", dir=self._b.home.tmp) as tmp:
                fetched = Path(tmp) / "package"
                download(location, fetched)
                return self._verify_file(fetched, location, expect_hash)
        target = parse_location(location)
        if target is None:
            raise errors.InvalidInput("export verify reads a package file, not stdin")
        return self._verify_file(target, str(target), expect_hash)

    def _verify_file(self, target: Path, location: str, expect_hash: str | None) -> dict[str, Any]:
        """verify() of the package in the local file target, made at location."""
        from bodega._native.hash import hash_file
        from bodega.storage.archive import open_archive
        from bodega.storage.package.read import read_package

        with open_archive(target) as archive:
            contents, report = read_package(archive)
        digest = hash_file(target).hex()
        with self._b.catalogue.session_scope(write=False) as s:
            rows = s.scalars(sa.select(ExportPackage).where(ExportPackage.location == location)
                             .order_by(ExportPackage.created_at.desc())).all()
            recorded = next((r.integrity_hash for r in rows if r.integrity_hash), None)
        expected = expect_hash.lower() if expect_hash else recorded
        if expected is not None and expected != digest:
            raise errors.PackageDamaged(
                f"{location}: its BLAKE3 is {digest}, but {'you expected' if expect_hash else 'the export recorded'} "
                f"{expected}: the file changed since it was written", path=location)
        info = contents.info
        return {"path": location, "ok": True, "kind": info.kind, "format": archive.format,
                "container": info.container, "root": info.tree_root, "tree_snapshot": info.tree_snapshot,
                "snapshots": [r.id for r in info.snapshots], "base": info.base.to_dict() if info.base else None,
                "integrity_hash": digest, "integrity_checked": expected is not None, **report.to_dict()}
