"""Install, update and uninstall as transactions between a pre- and a post-install snapshot.

Every such task (app.install, app.update, app.uninstall) runs:
    snapshot trigger=pre-install  (published, and its id saved in the task's result)
    the change                    (unpack, clone, installer in the sandbox, or removal)
    snapshot trigger=post-install (published with the app's new state, in the task's last transaction)
Any failure, a cancel or Ctrl-C restores the pre-install snapshot before the task ends; if
the process dies instead, the next bodega to open the home adopts the task (TaskKind.resume)
and restores it then.  The difference between the two snapshots is the transaction's
footprint; an app's footprint composes its transactions (storage/footprint.py).
"""
from __future__ import annotations

import errno
import os
import re
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

import sqlalchemy as sa

from bodega import errors
from bodega._native import process as native_process
from bodega._native.hash import hash_file
from bodega.catalogue.models import (
    AppInstance, AppStatus, Container, EventLevel, SnapshotTrigger, Task, TaskStatus,
)
from bodega.services.sandbox_spec import (
    check_relative, installer_bind, process_spec, split_command, view_of,
)
from bodega.services.tasks import TaskContext, TaskKind
from bodega.storage import fs
from bodega.storage import manifest as mf
from bodega.storage.app_manifest import FILE_NAME as APP_JSON
from bodega.storage.app_manifest import AppManifest, parse_app_manifest
from bodega.storage.archive import open_archive, sniff, unpack
from bodega.storage.binary_platform import HEAD_BYTES, PlatformCheck, binary_platform, runs_on
from bodega.storage.footprint import ADDED, CHANGED, REMOVED, Footprint, compose
from bodega.storage.tree import Tree

if TYPE_CHECKING:
    from bodega.services import Bodega

DIRECTORY, ARCHIVE, INSTALLER = "directory", "archive", "installer"
DEFAULT_INSTALLER_TIME_LIMIT = 1800.0
STAGING_PREFIX = ".bodega-install-"
APP_JSON_B = APP_JSON.encode()


def classify(source: Path) -> str:
    """directory, archive (by magic bytes) or installer (a program or a script)."""
    if source.is_dir():
        return DIRECTORY
    if not source.is_file():
        raise errors.PathNotFound(2, None, str(source), "app source")
    try:
        if sniff(source) is not None:
            return ARCHIVE
        with open(source, "rb") as f:
            head = f.read(HEAD_BYTES)
    except OSError as e:
        raise errors.os_error(e, "read app source", source) from None
    if head.startswith(b"#!") or binary_platform(head) is not None or os.access(source, os.X_OK):
        return INSTALLER
    raise errors.InvalidInput(f"{source}: not a directory, an archive (zip, 7z, tar, tar.gz/.xz/.zst) or a "
                              "program: bodega cannot install it")


def slug(name: str) -> str:
    """A directory name for an app name."""
    out = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return out[:64] or "app"


def source_hash(source: Path, kind: str) -> str:
    """BLAKE3 of the installer or archive, or the manifest root hash of a directory."""
    if kind == DIRECTORY:
        return mf.build(source).root_hex
    return hash_file(source).hex()


@dataclass
class Outcome:
    """What a transaction's change produced: the app's new fields."""

    name: str
    version: str
    vendor: str
    install_path: str
    entry_points: list[dict[str, Any]]
    log: str


class AppTransactions:
    """The app.install / app.update / app.uninstall tasks."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega
        register = bodega.tasks.register
        register(TaskKind("app.install", self._run_install, changes_tree=True, recover=self._recover))
        register(TaskKind("app.update", self._run_update, changes_tree=True, recover=self._recover))
        register(TaskKind("app.uninstall", self._run_uninstall, changes_tree=True, recover=self._recover))

    # --- the transaction ------------------------------------------------------------------

    def _paths(self, container_id: uuid.UUID) -> tuple[Container, Path, Path]:
        with self._b.catalogue.session_scope(write=False) as s:
            c = s.get(Container, container_id)
            if c is None:
                raise errors.ContainerNotFound(f"container {container_id} no longer exists")
            s.expunge(c)
        d = Path(c.storage_path)
        return c, d / "root", d / "state"

    def _snapshot(self, ctx: TaskContext, snap_id: uuid.UUID, trigger: SnapshotTrigger, label: str,
                  span: tuple[int, int]) -> Any:
        """Takes snapshot snap_id of the container, reporting progress within span (percent)."""
        lo, hi = span

        def progress(phase: str, done: int, total: int) -> None:
            ctx.progress(lo + (done * (hi - lo) // total if total and phase != "scan" else 0))

        assert ctx.container_id is not None
        return self._b.snapshots._take(ctx, ctx.container_id, snap_id, label, "auto", trigger, progress=progress)

    def _record(self, s: Any, ctx: TaskContext, snap_id: uuid.UUID, done: Any, trigger: SnapshotTrigger,
                label: str) -> None:
        """Publishes a snapshot the transaction took, in session s."""
        assert ctx.container_id is not None
        self._b.snapshots.record(ctx.container_id, type=done.type, checksum_manifest=done.root,
                                 base_snapshot_id=uuid.UUID(done.base) if done.base else None, label=label,
                                 size_bytes=done.added_bytes, trigger=trigger, task_id=ctx.task_id, session=s,
                                 snapshot_id=snap_id)

    def _transaction(self, ctx: TaskContext, verb: str, app_name: str,
                     change: Callable[[Path, Container], Outcome | None]) -> None:
        """pre-install snapshot, change, post-install snapshot; the pre snapshot restored on failure."""
        assert ctx.container_id is not None
        container, root, _ = self._paths(ctx.container_id)
        snapshots = self._b.snapshots
        try:
            snap_id = uuid.uuid4()
            with snapshots._creating(ctx, snap_id):  # its file goes if its row is not committed
                done = self._snapshot(ctx, snap_id, SnapshotTrigger.PRE_INSTALL, f"before {verb} {app_name}", (0, 15))
                with self._b.catalogue.session_scope() as s:
                    self._record(s, ctx, snap_id, done, SnapshotTrigger.PRE_INSTALL, f"before {verb} {app_name}")
                    ctx.result.update(pre_snapshot_id=str(snap_id), pre_root=done.root)
                    ctx.save_result(s)
        except BaseException as exc:
            ctx.result.pop("pre_snapshot_id", None)  # not published: nothing to restore, nothing changed yet
            self._roll_back(ctx, verb, exc)  # the app is only marked failed
            raise
        try:
            outcome = change(root, container)
            ctx.progress(80)
            post_id = uuid.uuid4()
            with snapshots._creating(ctx, post_id):
                post = self._snapshot(ctx, post_id, SnapshotTrigger.POST_INSTALL, f"after {verb} {app_name}",
                                      (80, 98))
                ctx.result.update(post_snapshot_id=str(post_id), post_root=post.root)
                with ctx.finish() as s:
                    self._record(s, ctx, post_id, post, SnapshotTrigger.POST_INSTALL, f"after {verb} {app_name}")
                    self._publish(s, ctx, verb, outcome)
        except BaseException as exc:
            self._roll_back(ctx, verb, exc)
            raise

    def _roll_back(self, ctx: TaskContext, verb: str, exc: BaseException | None) -> str:
        """Restores the pre-install snapshot and records the app's state after the failure;
        returns what it did."""
        assert ctx.container_id is not None
        pre = ctx.result.get("pre_snapshot_id")
        why = str(exc) if exc is not None else "the process running it stopped"
        if pre:
            self._b.snapshots.restore_in(ctx, pre, cancellable=False)
            ctx.result["rolled_back_to"] = pre
            if isinstance(exc, errors.BodegaError) and not isinstance(exc, errors.StorageError) and exc.args:
                exc.args = (f"{exc.args[0]} (rolled back to the pre-install snapshot {pre[:8]})",)
        app_id = ctx.payload.get("app_id")
        with self._b.catalogue.session_scope() as s:
            row = s.get(AppInstance, uuid.UUID(app_id)) if app_id else None
            if row is not None and verb == "install":
                row.status = AppStatus.FAILED
            name = row.name if row is not None else ctx.payload.get("name", "?")
            self._b.events.record(
                s, f"{verb} of app {name} failed: {why}" + (f"; rolled back to snapshot {pre[:8]}" if pre else ""),
                level=EventLevel.ERROR, container_id=ctx.container_id, task_id=ctx.task_id,
                app_instance_id=row.id if row is not None else None,
                context={"rolled_back_to": pre, "reason": why[:500]})
            container = s.get(Container, ctx.container_id)
            if container is not None:
                self._b.containers.sync_manifest(s, container)
        return f"rolled back to the pre-install snapshot {pre[:8]}" if pre else "nothing had changed yet"

    def _recover(self, ctx: TaskContext) -> str:
        """Recovery of an install, update or uninstall whose process died (run by the process
        that adopted the task, under its locks): roll it back to its pre-install snapshot."""
        ctx.result.update(self._b.tasks.get(ctx.task_id).result)  # what the dead process saved
        return self._roll_back(ctx, ctx.type.partition(".")[2], None)

    def _publish(self, s: Any, ctx: TaskContext, verb: str, outcome: Outcome | None) -> None:
        """The app's row after a transaction, in the task's last transaction."""
        row = s.get(AppInstance, uuid.UUID(ctx.payload["app_id"]))
        if row is None:
            raise errors.AppNotFound(f"app {ctx.payload.get('name')} vanished during its {verb}")
        c = s.get(Container, row.container_id)
        if verb == "uninstall":
            self._b.events.record(s, f"app {row.name} uninstalled from container {c.name}",
                                  container_id=c.id, task_id=ctx.task_id, context={"app": row.name})
            s.delete(row)
            self._b.containers.sync_manifest(s, c)
            return
        assert outcome is not None
        clash = s.scalar(sa.select(AppInstance).where(AppInstance.container_id == c.id, AppInstance.name ==
                                                      outcome.name, AppInstance.id != row.id))
        if clash is not None and clash.status != AppStatus.FAILED:
            raise errors.NameTaken(f"container {c.name} has an app named {outcome.name!r} already")
        if clash is not None:
            s.delete(clash)  # a failed install of the same name: replaced by this one
            s.flush()
        row.name, row.install_path = outcome.name, outcome.install_path
        row.version = outcome.version or row.version
        row.vendor = outcome.vendor or row.vendor
        row.entry_points = outcome.entry_points
        row.install_source = ctx.payload["source"]
        row.source_hash = ctx.result.get("source_hash", "")
        row.status = AppStatus.READY
        self._b.events.record(s, f"app {row.name} {row.version} {verb}ed in container {c.name}: {outcome.log}",
                              container_id=c.id, task_id=ctx.task_id, app_instance_id=row.id,
                              context={"status": "ready", "pre_snapshot_id": ctx.result.get("pre_snapshot_id"),
                                       "post_snapshot_id": ctx.result.get("post_snapshot_id")})
        self._b.containers.sync_manifest(s, c)

    # --- install and update ---------------------------------------------------------------

    def _run_install(self, ctx: TaskContext) -> None:
        p = ctx.payload
        self._transaction(ctx, "install", p["name"] or p["default_name"], lambda root, c: self._put(ctx, root, c, None))

    def _run_update(self, ctx: TaskContext) -> None:
        p = ctx.payload
        with self._b.catalogue.session_scope(write=False) as s:
            row = s.get(AppInstance, uuid.UUID(p["app_id"]))
            old = {"install_path": row.install_path, "entry_points": list(row.entry_points),
                   "name": row.name} if row is not None else None
        if old is None:
            raise errors.AppNotFound(f"app {p['name']} no longer exists")
        self._transaction(ctx, "update", p["name"], lambda root, c: self._put(ctx, root, c, old))

    def _put(self, ctx: TaskContext, root: Path, container: Container, old: dict[str, Any] | None) -> Outcome:
        """Installs the payload's source into the tree (over the old version's files when old)."""
        p = ctx.payload
        source = Path(p["source"])
        kind = p["kind"]
        ctx.result["source_hash"] = source_hash(source, kind)
        ctx.progress(16)
        check = PlatformCheck(container.platform.value)
        seen_json: dict[str, bytes] = {}
        with Tree.open(root) as tree:
            if old is not None and kind != INSTALLER:
                self._remove_footprint(ctx, tree, old["name"], keep_changed=True)
            if kind == INSTALLER:
                meta = self._run_installer(ctx, tree, root, container, source, check)
                path = p.get("path") or ""
            else:
                staging = (STAGING_PREFIX + str(ctx.task_id)[:8]).encode()
                if kind == ARCHIVE:
                    self._unpack(ctx, tree, source, staging, check, seen_json)
                else:
                    self._copy_dir(ctx, root, source, staging, check, seen_json)
                meta = parse_app_manifest(seen_json[APP_JSON], f"{source}: {APP_JSON}") if APP_JSON in seen_json \
                    else AppManifest()
                name = p.get("name") or meta.name or ctx.payload["default_name"]
                path = p.get("path") or (old["install_path"] if old else f"apps/{slug(name)}")
                check_relative(path, "install path")
                self._place(tree, staging, path.encode(), merge=old is not None)
            if meta.platform and not runs_on(meta.platform, container.platform.value):
                raise errors.PlatformMismatch(f"{source}: {APP_JSON} says platform {meta.platform}, and container "
                                              f"{container.name} is {container.platform.value}")
            reason = check.mismatch()
            if reason:
                raise errors.PlatformMismatch(f"{source}: {reason}")
            entries = p.get("entries") or meta.entry_points or (old["entry_points"] if old else [])
            entries = self._checked_entries(tree, path, entries, p.get("name") or meta.name)
        name = p.get("name") or meta.name or (old["name"] if old else ctx.payload["default_name"])
        return Outcome(name=name, version=p.get("version") or meta.version, vendor=p.get("vendor") or meta.vendor,
                       install_path=path, entry_points=entries, log=f"{kind} {source.name}")

    def _checked_entries(self, tree: Tree, path: str, entries: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
        from bodega.services.apps import validate_entry_points

        if not entries:
            raise errors.EntryPointRequired(f"app {name or '?'} has no entry point: give --entry NAME=COMMAND or "
                                            f"ship a {APP_JSON} that lists them")
        entries = validate_entry_points(entries)
        for ep in entries:
            program = split_command(ep["command"], f"entry point {ep['name']}")[0]
            where = f"{path}/{program}" if path else program
            if tree.lstat(where.encode()) is None:
                raise errors.InstallFailed(f"entry point {ep['name']}: {where} is not in the container after the install")
        return entries

    def _unpack(self, ctx: TaskContext, tree: Tree, source: Path, staging: bytes, check: PlatformCheck,
                seen_json: dict[str, bytes]) -> None:
        with open_archive(source) as archive:
            listing = archive.listing
            total = sum(m.size for m in listing) if listing is not None else archive.size

            def on_file(path: bytes, head: bytes) -> None:
                if path == APP_JSON_B:
                    seen_json[APP_JSON] = head
                check.see(path.decode("utf-8", "backslashreplace"), head[:HEAD_BYTES])

            report = unpack(archive, tree, into=staging, on_file=on_file,
                            progress=lambda n, b: ctx.progress(16 + min(63, b * 63 // max(1, total))),
                            cancel=lambda: ctx.cancel.is_set() or ctx.lost.is_set())
        ctx.result["unpacked"] = report.to_dict()
        ctx.log(f"unpacked {report.files} files ({report.bytes} bytes) from {source.name}")

    def _copy_dir(self, ctx: TaskContext, root: Path, source: Path, staging: bytes, check: PlatformCheck,
                  seen_json: dict[str, bytes]) -> None:
        r = fs.clone_tree(source, root / staging.decode(), threads=self._b.tuning.clone_threads,
                          progress=lambda pr: ctx.progress(16 + (pr.bytes_done * 63 // pr.bytes_total
                                                                 if pr.bytes_total else 0)))
        ctx.log(f"copied {r.files} files from {source}")
        json_path = source / APP_JSON
        if json_path.is_file():
            seen_json[APP_JSON] = json_path.read_bytes()[: 1 << 20]
        for entry in ctx.payload.get("entries") or []:
            program = source / split_command(entry["command"], "entry point")[0]
            if program.is_file():
                with open(program, "rb") as f:
                    check.see(str(program), f.read(HEAD_BYTES))

    def _place(self, tree: Tree, staging: bytes, path: bytes, merge: bool) -> None:
        """Moves the staged app to its install path (merged into what an update kept)."""
        if tree.lstat(path) is None:
            parent = path.rpartition(b"/")[0]
            if parent:
                tree.makedirs(parent, mode=0o755)
            tree.rename(staging, path, noreplace=True)
            tree.set_meta(path, mode=0o755)
            return
        if not merge:
            raise errors.PathExists(17, None, path.decode("utf-8", "replace"),
                                    "install path (give another with --path)")
        _merge(tree, staging, path)
        tree.remove_tree(staging)

    def _run_installer(self, ctx: TaskContext, tree: Tree, root: Path, container: Container, source: Path,
                       check: PlatformCheck) -> AppManifest:
        p = ctx.payload
        with open(source, "rb") as f:
            check.see(str(source), f.read(HEAD_BYTES))
        reason = check.mismatch()
        if reason:
            raise errors.PlatformMismatch(f"{source}: {reason}")
        prefix = check_relative(p["path"], "install path") if p.get("path") else ""
        if prefix:
            tree.makedirs(prefix.encode(), mode=0o755)
        program, binds = installer_bind(source)
        view = view_of(root, prefix)
        spec = process_spec(dict(container.settings), root, [program, *p.get("args", [])], view,
                            env_extra={"BODEGA_PREFIX": view, "PREFIX": view}, binds=binds,
                            time_limit=float(p.get("time_limit") or DEFAULT_INSTALLER_TIME_LIMIT))
        ctx.progress(20)
        result = native_process.run(spec, progress=lambda _p: ctx.checkpoint())
        ctx.result["installer"] = result.to_dict()
        if result.timed_out:
            raise errors.InstallFailed(f"the installer {source.name} ran past its time limit of "
                                       f"{spec.time_limit:g} s and was killed")
        if result.memory_killed:
            raise errors.InstallFailed(f"the installer {source.name} was stopped by the memory limit")
        if result.signal:
            raise errors.InstallFailed(f"the installer {source.name} was killed by signal {result.signal}")
        if result.exit_code != 0:
            raise errors.InstallFailed(f"the installer {source.name} exited with status {result.exit_code}")
        ctx.log(f"installer {source.name} exited 0 after {result.seconds:.1f} s")
        json_rel = f"{prefix}/{APP_JSON}" if prefix else APP_JSON
        st = tree.lstat(json_rel.encode())
        if st is not None and st.kind == "file" and st.size <= 1 << 20:
            return parse_app_manifest(tree.read_bytes(json_rel.encode()), json_rel)
        return AppManifest()

    # --- uninstall ------------------------------------------------------------------------

    def _run_uninstall(self, ctx: TaskContext) -> None:
        p = ctx.payload

        def change(root: Path, container: Container) -> None:
            with Tree.open(root) as tree:
                kept = self._remove_footprint(ctx, tree, p["name"], keep_changed=False)
            ctx.result["kept"] = kept
            if kept:
                ctx.log(f"kept {len(kept)} path(s) changed since the install: {', '.join(kept[:5])}")
            return None

        self._transaction(ctx, "uninstall", p["name"], change)

    def footprint(self, app_id: uuid.UUID) -> Footprint:
        """The footprint of an app: its succeeded install and update transactions, composed."""
        with self._b.catalogue.session_scope(write=False) as s:
            tasks = s.scalars(sa.select(Task).where(Task.app_instance_id == app_id,
                                                    Task.type.in_(("app.install", "app.update")),
                                                    Task.status == TaskStatus.SUCCEEDED)
                              .order_by(Task.created_at)).all()
            pairs = [(t.result["pre_snapshot_id"], t.result["post_snapshot_id"]) for t in tasks
                     if t.result.get("pre_snapshot_id") and t.result.get("post_snapshot_id")]
        engine = self._b.snapshots.engine
        try:
            return compose((pre, engine.manifest(pre), engine.manifest(post)) for pre, post in pairs)
        except errors.SnapshotNotFound as e:
            raise errors.SnapshotNotFound(f"the app's install snapshots are needed for its footprint: {e}") from None

    def _remove_footprint(self, ctx: TaskContext, tree: Tree, name: str, keep_changed: bool) -> list[str]:
        """Takes the app's footprint out of the tree: what it added goes, what it changed or
        removed comes back from its pre-install snapshot (not for an update: keep_changed).
        Paths changed since (the live entry differs from what the app left) stay, and are
        returned.  The live tree is compared through a fresh manifest (hashes from the stat
        cache where it vouches, read otherwise)."""
        from bodega.storage.snapshot import SnapshotEngine

        footprint = self.footprint(uuid.UUID(ctx.payload["app_id"]))
        engine = self._b.snapshots.engine
        assert ctx.container_id is not None
        _, root, state = self._paths(ctx.container_id)
        live_m = mf.build(root, SnapshotEngine.live_manifest(state), clock=engine.clock)
        kept: list[str] = []
        for e in sorted(footprint.entries, key=lambda e: e.path.count(b"/"), reverse=True):  # deepest first
            ctx.checkpoint()
            live = live_m.get(e.path)
            shown = e.path.decode("utf-8", "backslashreplace")
            if e.change in (ADDED, CHANGED) and live is not None:
                assert e.after is not None
                if e.after.kind == "dir" and live.kind == "dir":
                    if e.change == ADDED:
                        _remove_if_empty(tree, e.path)
                    continue
                if not _same(live, e.after):
                    kept.append(shown)
                    continue
                if keep_changed and e.change == CHANGED:
                    continue  # an update leaves what the old version changed: the new one may change it again
                tree.remove(e.path)
                live = None
            if e.change in (CHANGED, REMOVED) and not keep_changed:
                assert e.before is not None and e.before_snapshot is not None
                if live is None and tree.lstat(e.path) is None:
                    _restore_entry(tree, engine, e.before_snapshot, e.before)
                elif e.change == REMOVED:
                    kept.append(shown)
        return kept


def _remove_if_empty(tree: Tree, path: bytes) -> None:
    """Removes the directory at path if nothing is left in it."""
    try:
        tree.remove(path)
    except (errors.PathExists, errors.StorageError) as e:
        if getattr(e, "errno", None) not in (errno.ENOTEMPTY, errno.EEXIST):
            raise


def _same(live: Any, after: Any) -> bool:
    """Whether the live entry is still what the app left (kind, mode, content, link target)."""
    return (live.kind, live.mode & 0o7777, live.hash, live.link) == (after.kind, after.mode & 0o7777, after.hash,
                                                                       after.link)


def _restore_entry(tree: Tree, engine: Any, snapshot: str, entry: Any) -> None:
    """Writes entry (from snapshot) back at its path."""
    parent = entry.path.rpartition(b"/")[0]
    if parent:
        tree.makedirs(parent, mode=0o755)
    if entry.kind == "dir":
        tree.makedirs(entry.path, mode=entry.mode & 0o7777)
    elif entry.kind == "symlink":
        tree.symlink(entry.path, entry.link)
    elif entry.kind == "file":
        chunks: list[bytes] = []
        engine.cat(snapshot, entry.path_str, chunks.append)
        tree.write_file(entry.path, chunks, mode=entry.mode & 0o7777, mtime_ns=entry.mtime_ns)


def _merge(tree: Tree, staging: bytes, path: bytes) -> None:
    """Moves every entry of staging into path; where path already holds a file the new one
    lands beside it as NAME.bodega-new (the user's file is kept)."""
    for name, _ in sorted(tree.listdir(staging)):
        src, dst = staging + b"/" + name, path + b"/" + name
        live = tree.lstat(dst)
        if live is None:
            tree.rename(src, dst, noreplace=True)
        elif live.kind == "dir" and tree.lstat(src).kind == "dir":
            _merge(tree, src, dst)
        else:
            tree.rename(src, dst + b".bodega-new", noreplace=True)
