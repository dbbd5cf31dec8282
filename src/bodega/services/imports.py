"""Import: a package (or any zip/7z of a directory) becomes a container, checked before it is visible.

The import task unpacks into its staging under the home through the no-follow Tree (member
paths, links, devices, duplicates, size and ratio caps: storage.archive.unpack), then checks
what it unpacked against the package: package.json, the manifests' roots, the root hash of
the unpacked tree (re-read and hashed), every object's hash; then stores the snapshots'
contents and publishes the container with its snapshots in one catalogue transaction (the
staged directory renamed into containers/ inside it).  A delta package is applied to the
container holding its base instead: its new snapshot is published and the tree restored to it.
"""
from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import Container, ContainerStatus, Snapshot, SnapshotTrigger, SnapshotType, Task
from bodega.services.containers import host_platform, manifest_fields, validate_name, validate_tags
from bodega.services.tasks import TaskContext, TaskInfo, TaskKind
from bodega.storage import manifest as mf
from bodega.storage.archive import UnpackLimits, open_archive, unpack
from bodega.storage.archive.s3_package import download, open_s3
from bodega.storage.archive.sink import is_s3
from bodega.storage.package import layout
from bodega.storage.package.relink import relink

if TYPE_CHECKING:
    from bodega.services import Bodega

IMPORT_TASK_TYPE = "import"
STDIN_PIECE = 1 << 20


def _holder_lock(task: Task) -> list[uuid.UUID]:
    """A delta import holds the container it updates; a new container is nobody's until published."""
    return [task.container_id] if task.container_id else []


class ImportService:
    """The import task."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega
        bodega.tasks.register(TaskKind(IMPORT_TASK_TYPE, self._run, locks=_holder_lock, changes_tree=True))

    def import_package(self, path: str | os.PathLike[str], *, name: str | None = None, into: str | None = None,
                       detach: bool = False, wait: bool = False,
                       progress: Callable[[int], None] | None = None) -> TaskInfo:
        """Imports the package at path ('-': stdin) as a new container, or a delta onto its base's holder."""
        source = os.fspath(path)
        if source == "-" and detach:
            raise errors.InvalidInput("an import from stdin runs here: it cannot be detached")
        if name is not None:
            name = validate_name(name)
        if is_s3(source):
            remote, key = open_s3(source)  # a bad URL, bucket or credentials: said now, before a task
            if not remote.exists(key):
                raise errors.PathNotFound(2, None, source, "import: no such object")
        elif source != "-":
            source = str(Path(source).expanduser().absolute())
            if not os.path.isfile(source):
                raise errors.PathNotFound(2, None, source, "import")

        # A delta's base is read from a local package now (a streamed or S3 one names it with --into).
        base = self._delta_base(source) if into is None and source != "-" and not is_s3(source) else None

        def prepare(s: Session, task: Task) -> None:
            if into is not None:
                c = self._b.containers.resolve(s, into)
                task.container_id = c.id
            elif base is not None:  # a delta: hold its base's holder while it is applied
                task.container_id = self._holder(s, base, None, source).container_id
            if name is not None:
                self._b.containers._ensure_name_free(s, self._b.users.current.id, name)

        return self._b.tasks.submit(IMPORT_TASK_TYPE, {"path": source, "name": name, "into": into},
                                    f"import {source}", prepare=prepare, detach=detach, wait=wait, progress=progress)

    def _delta_base(self, source: str) -> layout.SnapshotRef | None:
        """A delta package's base (read from its package.json), else None."""
        try:
            info = peek_info(source)
        except errors.ArchiveCorrupt:
            return None  # the task reports it, with the member
        return info.base if info is not None else None

    def _holder(self, s: Session, base: layout.SnapshotRef, container_id: uuid.UUID | None, where: str) -> Snapshot:
        """The snapshot a delta applies to: the base by id, else by root (in container_id if given)."""
        q = sa.select(Snapshot).where(Snapshot.checksum_manifest == base.root)
        if container_id is not None:
            q = q.where(Snapshot.container_id == container_id)
        found = s.scalars(q).all()
        exact = [r for r in found if str(r.id) == base.id]
        row = (exact or found or [None])[0]
        if row is None:
            raise errors.DeltaBaseMissing(
                f"{where}: this delta applies to snapshot {base.id} (root {base.root[:16]}), which no container "
                "here holds: import a full package of it first")
        return row

    # --- the task -------------------------------------------------------------------------

    def _run(self, ctx: TaskContext) -> None:
        source = path = ctx.payload["path"]
        cancel = lambda: ctx.cancel.is_set() or ctx.lost.is_set()  # noqa: E731
        if path == "-":
            path = str(self._spool_stdin(ctx))
        elif is_s3(path):
            path = str(ctx.staging / "s3.package")
            download(source, Path(path), cancel=cancel)
        where = source if is_s3(source) else path  # what messages name
        staged = ctx.staging / "package"
        staged.mkdir()
        info = peek_info(path)
        is_package = info is not None
        if info is not None:
            self._preflight(info, where)
        with open_archive(path) as archive:
            total = sum(m.size for m in archive.listing or []) or 1
            from bodega.storage.tree import Tree

            with Tree.open(staged) as tree:
                report = unpack(archive, tree, limits=UnpackLimits(), case_insensitive=_case_insensitive(staged),
                                progress=lambda n, done: ctx.progress(1 + done * 60 // total), cancel=cancel)
        ctx.result.update(unpacked=report.to_dict())
        if is_package:
            self._publish_package(ctx, staged, where)
        else:
            self._publish_plain(ctx, staged, Path(where))

    def _spool_stdin(self, ctx: TaskContext) -> Path:
        """stdin copied into the task's staging (a zip's directory and a 7z's header are at its end)."""
        target = ctx.staging / "stdin.package"
        with open(target, "xb") as out:
            while piece := sys.stdin.buffer.read(STDIN_PIECE):
                ctx.checkpoint()
                out.write(piece)
        return target

    def _preflight(self, info: layout.PackageInfo, where: str) -> None:
        """A package made for another platform is refused before anything is unpacked."""
        platform = info.container.get("platform")
        if platform and platform != host_platform().value:
            raise errors.PlatformMismatch(f"{where}: the package holds a {platform} container; this host runs "
                                          f"{host_platform().value} containers")

    def _check(self, staged: Path, where: str) -> tuple[layout.PackageInfo, dict[str, Any], mf.Manifest,
                                                         dict[str, mf.Manifest]]:
        """package.json, manifest.json and the manifests, each checked; the unpacked tree against its root."""
        meta = staged / os.fsdecode(layout.META)
        info = layout.PackageInfo.parse((meta / "package.json").read_bytes(), where)
        import json

        try:
            container_manifest = json.loads((meta / "manifest.json").read_bytes())
        except FileNotFoundError:
            raise errors.PackageInvalid(f"{where}: .bodega/manifest.json is missing") from None
        except OSError as e:
            raise errors.os_error(e, "read package", meta / "manifest.json") from None
        except ValueError as e:
            raise errors.PackageInvalid(f"{where}: .bodega/manifest.json: {e}") from None

        def manifest(rel: str, root: str) -> mf.Manifest:
            try:
                m = mf.load(meta / rel)
            except errors.PathNotFound:
                raise errors.PackageInvalid(f"{where}: .bodega/{rel} is missing") from None
            except errors.BodegaError as e:
                raise errors.PackageDamaged(f"{where}: .bodega/{rel}: {e}", member=f".bodega/{rel}") from None
            if m.is_delta or m.root_hex != root:
                raise errors.PackageDamaged(f"{where}: .bodega/{rel} has root {m.root_hex[:16]}, package.json "
                                            f"says {root[:16]}", member=f".bodega/{rel}")
            return m

        tree = manifest("tree.manifest", info.tree_root)
        snaps = {r.id: manifest(f"snapshots/{r.id}.manifest", r.root) for r in info.snapshots}
        return info, container_manifest, tree, snaps

    def _check_objects(self, staged: Path, where: str) -> list[Path]:
        """The object members, each hashed against its name."""
        from bodega._native.hash import hash_files

        objects_dir = staged / os.fsdecode(layout.OBJECTS)
        names = sorted(os.listdir(objects_dir)) if objects_dir.is_dir() else []
        if not names:
            return []
        for name, digest in zip(names, hash_files(objects_dir, names, threads=None)):
            if digest.hex() != name:
                raise errors.PackageDamaged(f"{where}: member .bodega/objects/{name} does not match its hash",
                                            member=f".bodega/objects/{name}")
        return [objects_dir / n for n in names]

    def _verify_tree(self, root: Path, expected: mf.Manifest, where: str) -> mf.Manifest:
        """The unpacked tree re-read and hashed: its root must be the package's."""
        built = mf.build(root)
        if built.root != expected.root:
            from bodega.storage.manifest_diff import Diff, quote_path

            first = next(iter(Diff.of(expected, built, renames=False)), None)
            what = f": first difference at {quote_path(first.path, False)} ({', '.join(first.changes)})" \
                if first else ""
            raise errors.PackageDamaged(f"{where}: the unpacked tree's root {built.root_hex[:16]} is not the "
                                        f"package's {expected.root_hex[:16]}{what}")
        return built

    def _new_ids(self, s: Session, ids: list[str]) -> dict[str, str]:
        """Snapshot ids kept where this catalogue does not have them yet (an import as a copy: new ones)."""
        taken = {str(i) for i in s.scalars(sa.select(Snapshot.id).where(Snapshot.id.in_([uuid.UUID(i) for i in ids])))}
        return {i: (str(uuid.uuid4()) if i in taken else i) for i in ids}

    def _publish_package(self, ctx: TaskContext, staged: Path, where: str) -> None:
        info, container_manifest, tree, snaps = self._check(staged, where)
        objects = self._check_objects(staged, where)
        if info.kind == "delta":
            self._publish_delta(ctx, info, tree, objects, where)
            return
        ctx.progress(65)
        stage = ctx.staging / "container"
        stage.mkdir()
        root = stage / "root"
        os.rename(staged / os.fsdecode(layout.ROOT), root)
        relinked = relink(root, tree, where, cancel=lambda: ctx.cancel.is_set() or ctx.lost.is_set())
        built = self._verify_tree(root, tree, where)
        ctx.progress(75)
        engine = self._b.snapshots.engine
        with self._b.catalogue.session_scope(write=False) as s:
            ids = self._new_ids(s, [r.id for r in info.snapshots] + ([info.tree_snapshot] if info.tree_snapshot else []))
        tag = f"{os.getpid()}@{self._b.host}:{ctx.task_id}"
        same = [r.id for r in info.snapshots if r.root == info.tree_root]  # a live tree equal to a snapshot
        tree_ref = info.tree_snapshot or (same[-1] if same else None)
        tree_id = ids.get(tree_ref or "", str(uuid.uuid4()))
        created = [(tree_id, engine.create(root, stage / "state", tree_id, kind="full", writer_tag=tag, manifest=built))]
        for ref in info.snapshots:
            if ids[ref.id] != tree_id:
                created.append((ids[ref.id], engine.adopt(ids[ref.id], snaps[ref.id], objects, writer_tag=tag)))
                objects = []  # stored once
        ctx.progress(95)
        name = ctx.payload.get("name") or validate_name(info.container.get("name") or "imported")
        refs = {ids[r.id]: r for r in info.snapshots}
        ctx.result.update(kind="full", root=built.root_hex, files=info.files, hardlinks=relinked,
                          snapshots=[i for i, _ in created])
        self._publish_container(ctx, stage, name, container_manifest, [
            (sid, done, refs.get(sid)) for sid, done in created], where)

    def _publish_plain(self, ctx: TaskContext, staged: Path, path: Path) -> None:
        """An archive bodega did not make: its directory becomes a new container's tree."""
        stage = ctx.staging / "container"
        stage.mkdir()
        os.rename(staged, stage / "root")
        engine = self._b.snapshots.engine
        snap_id = str(uuid.uuid4())
        done = engine.create(stage / "root", stage / "state", snap_id, kind="full",
                             writer_tag=f"{os.getpid()}@{self._b.host}:{ctx.task_id}")
        stem = path.name.split(".")[0] or "imported"
        name = ctx.payload.get("name") or validate_name(stem)
        ctx.result.update(kind="plain", root=done.root, files=done.files, snapshots=[snap_id])
        self._publish_container(ctx, stage, name, None, [(snap_id, done, None)], str(path))

    def _publish_container(self, ctx: TaskContext, stage: Path, name: str, manifest: dict[str, Any] | None,
                           snapshots: list[tuple[str, Any, layout.SnapshotRef | None]], where: str) -> None:
        """The container, its apps and snapshots in one transaction; the staged directory renamed in it."""
        containers = self._b.containers
        fields = manifest_fields(manifest) if manifest else {
            "description": f"imported from {Path(where).name}", "status": ContainerStatus.READY,
            "platform": host_platform(), "settings": {}}
        fields["status"] = ContainerStatus.READY
        fields.pop("created_at", None)
        container_id = uuid.uuid4()
        target = self._b.home.container_dir(container_id)
        ctx.result.update(container_id=str(container_id), container_name=name, path=str(target))
        with ctx.finish() as s:
            owner = self._b.users.current
            containers._ensure_name_free(s, owner.id, name)
            row = Container(id=container_id, owner_id=owner.id, name=name, storage_path=str(target),
                            size_bytes=sum(done.bytes for _, done, _ in snapshots[:1]), **fields)
            row.host = self._b.host  # the tree was imported here
            row.tags = validate_tags(manifest["container"].get("tags", [])) if manifest else []  # type: ignore[assignment]
            s.add(row)
            s.flush()
            s.get(Task, ctx.task_id).container_id = container_id  # type: ignore[union-attr]
            for sid, done, ref in snapshots:
                s.add(Snapshot(id=uuid.UUID(sid), container_id=container_id, label=ref.label if ref else "import",
                               type=SnapshotType.FULL, base_snapshot_id=None, size_bytes=done.added_bytes,
                               checksum_manifest=done.root,
                               trigger=SnapshotTrigger(ref.trigger) if ref else SnapshotTrigger.SYSTEM))
            s.flush()
            self._b.events.record(s, f"container {name} imported from {where}", container_id=container_id,
                                  task_id=ctx.task_id, context={"status": ContainerStatus.READY.value})
            os.rename(stage, target)  # last: a failed commit leaves a directory `container recover` can take
            containers.sync_manifest(s, row)

    def _publish_delta(self, ctx: TaskContext, info: layout.PackageInfo, tree: mf.Manifest, objects: list[Path],
                       where: str) -> None:
        """A delta: its new state snapshotted in the holder of its base, the holder's tree restored to it."""
        assert info.base is not None
        base = info.base
        with self._b.catalogue.session_scope(write=False) as s:
            row = self._holder(s, base, ctx.container_id, where)
            holder_id = row.container_id
            c = s.get(Container, holder_id)
            root, state = Path(c.storage_path) / "root", Path(c.storage_path) / "state"
            name = c.name
            ids = self._new_ids(s, [info.tree_snapshot] if info.tree_snapshot else [])
        if ctx.container_id != holder_id:
            raise errors.InvalidInput(f"{where}: a delta updates the container holding its base ({name}): "
                                      f"import it with --into {name}")
        engine = self._b.snapshots.engine
        live = mf.build(root, engine.live_manifest(state), clock=engine.clock)
        head = engine.head(state)
        head_root = engine.info(head).root if head and engine.exists(head) else None
        if live.root_hex != head_root:
            raise errors.UnsavedChanges(f"container {name} has changes no snapshot holds: take a snapshot "
                                        "(bodega snapshot create) before applying a delta to it")
        snap_id = ids.get(info.tree_snapshot or "", str(uuid.uuid4()))
        done = engine.adopt(snap_id, tree, objects, writer_tag=f"{os.getpid()}@{self._b.host}:{ctx.task_id}")
        ctx.progress(80)
        restored = engine.restore(root, state, snap_id, cancel=lambda: ctx.cancel.is_set() or ctx.lost.is_set())
        ctx.result.update(kind="delta", root=tree.root_hex, files=info.files, snapshots=[snap_id],
                          container_id=str(holder_id), container_name=name, restore=restored.to_dict())
        with ctx.finish() as s:
            self._b.snapshots.record(holder_id, type=SnapshotType.FULL, checksum_manifest=done.root,
                                     label=f"delta import of {base.id[:8]}..", size_bytes=done.added_bytes,
                                     trigger=SnapshotTrigger.SYSTEM, task_id=ctx.task_id, session=s,
                                     snapshot_id=uuid.UUID(snap_id))


def peek_info(path: str) -> layout.PackageInfo | None:
    """package.json of a bodega package (its first member), or None for any other archive."""
    with open_archive(path) as archive:
        for m in archive:
            if m.name != layout.INFO:
                return None
            with m.open() as f:
                return layout.PackageInfo.parse(f.read(1 << 20), path)
    return None


def _case_insensitive(directory: Path) -> bool:
    """Whether names differing only in case are one file in directory's volume (probed)."""
    probe = directory / ".bodega-case-probe"
    try:
        probe.touch(exist_ok=False)
        try:
            return os.path.exists(directory / ".BODEGA-CASE-PROBE")
        finally:
            probe.unlink()
    except OSError:
        return False

