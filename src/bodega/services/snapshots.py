"""Snapshots in the catalogue: a delta's base is a snapshot of the same container."""
from __future__ import annotations

import os
import random
import uuid
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import (
    Container, ContainerStatus, EventLevel, Role, Snapshot, SnapshotTrigger, SnapshotType, Task, TaskStatus,
)
from bodega.services.id_prefix import find_by_id
from bodega.services.object_store import open_store
from bodega.services.pending_restores import PendingRestores
from bodega.services.container_state import state_dir
from bodega.services.containers import AfterClone
from bodega.services.tasks import TaskContext, TaskInfo, TaskKind
from bodega.services.text_input import is_text
from bodega.storage.retention import Candidate, Policy, select
from bodega.storage import manifest as mf
from bodega.storage import restore as restoring
from bodega.storage.journal import Journal, Journals
from bodega.storage.manifest import Manifest
from bodega.storage.snapshot import SnapshotEngine

if TYPE_CHECKING:
    from bodega.services import Bodega

# A container's snapshots, oldest first (bind parameter container_id): built once, as the panel and
# the API list them all the time.
_OF_CONTAINER = sa.select(Snapshot).where(Snapshot.container_id == sa.bindparam("container_id")).order_by(
    Snapshot.created_at)


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot."""

    id: uuid.UUID
    container_id: uuid.UUID
    label: str
    type: SnapshotType
    base_snapshot_id: uuid.UUID | None
    size_bytes: int
    checksum_manifest: str
    trigger: SnapshotTrigger
    created_at: datetime

    @classmethod
    def of(cls, row: Snapshot) -> "SnapshotInfo":
        """The SnapshotInfo of a row."""
        return cls(row.id, row.container_id, row.label, row.type, row.base_snapshot_id, row.size_bytes,
                   row.checksum_manifest, row.trigger, row.created_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "container_id": str(self.container_id), "label": self.label,
                "type": self.type.value, "base_snapshot_id": str(self.base_snapshot_id) if self.base_snapshot_id else None,
                "size_bytes": self.size_bytes, "checksum_manifest": self.checksum_manifest,
                "trigger": self.trigger.value, "created_at": self.created_at.isoformat()}


# --- the snapshot engine's tasks ------------------------------------------------------------

@dataclass(frozen=True)
class SnapshotDetails:
    """A snapshot as the catalogue and the store know it."""

    info: SnapshotInfo
    store: dict[str, Any] | None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**self.info.to_dict(), "store": self.store}


class SnapshotTasks:
    """snapshot.create / snapshot.restore / snapshot.forget tasks and the read paths over the engine."""

    def __init__(self, bodega: "Bodega", service: "SnapshotService") -> None:
        self._b = bodega
        self._s = service
        self._engine: SnapshotEngine | None = None
        register = bodega.tasks.register
        register(TaskKind("snapshot.create", self._run_create))
        register(TaskKind("snapshot.restore", self._run_restore, changes_tree=True, recover=self._recover_restore))
        register(TaskKind("snapshot.recover", self._run_recover, changes_tree=True))
        register(TaskKind("snapshot.forget", self._run_forget))
        bodega.containers.clone_steps.append(self._initial_snapshot)
        bodega.tasks.before_run.append(self._recover_before)

    @property
    def engine(self) -> SnapshotEngine:
        """The engine over the home's store (opened on first use)."""
        if self._engine is None:
            t = self._b.tuning  # the tunables (tuned or set by hand) reach the engine here
            self._engine = SnapshotEngine(open_store(self._b), threads=t.hash_threads, hash_threads=t.hash_threads or 0,
                                          batch_files=t.effective("batch_files"))
        return self._engine

    def _paths(self, s: Session, container: Container) -> tuple[Path, Path]:
        d = Path(container.storage_path)
        return d / "root", state_dir(d)

    def _base_for(self, s: Session, container: Container, state: Path) -> uuid.UUID | None:
        """The next delta's base: where the tree came from (head), else the newest snapshot."""
        head = SnapshotEngine.head(state)
        if head is not None:
            try:
                row = s.get(Snapshot, uuid.UUID(head))
            except ValueError:
                row = None
            if row is not None and row.container_id == container.id:
                return row.id
        newest = s.scalars(sa.select(Snapshot).where(Snapshot.container_id == container.id)
                           .order_by(Snapshot.created_at.desc()).limit(1)).first()
        return newest.id if newest is not None else None

    # --- create ---------------------------------------------------------------------------

    def create(self, container: str | uuid.UUID, *, label: str = "", kind: str = "auto",
               trigger: SnapshotTrigger | str = SnapshotTrigger.MANUAL, detach: bool = False, wait: bool = False,
               progress: Callable[[int], None] | None = None) -> SnapshotInfo | TaskInfo:
        """Takes a snapshot of a container's tree (task snapshot.create): full or delta by policy unless kind says."""
        if kind not in ("auto", "full", "delta"):
            raise errors.InvalidInput(f"snapshot kind is auto, full or delta, not {kind!r}")
        trigger = SnapshotTrigger(trigger)
        if not is_text(label) or len(label) > 200:
            raise errors.InvalidInput("a snapshot label is UTF-8 text of at most 200 characters")

        def prepare(s: Session, task: Task) -> None:
            c = self._b.containers.resolve(s, container)
            if c.status not in (ContainerStatus.READY, ContainerStatus.RUNNING):
                raise errors.WrongStatus(f"container {c.name} is {c.status.value}: snapshots need it ready or running")
            task.container_id = c.id

        task = self._b.tasks.submit("snapshot.create", {"label": label, "kind": kind, "trigger": trigger.value},
                                    f"snapshot create {container}", prepare=prepare, detach=detach, wait=wait,
                                    progress=progress)
        if detach:
            return task
        return self._s.get(container, task.result["snapshot_id"])

    @contextmanager
    def _creating(self, ctx: TaskContext, snap_id: uuid.UUID) -> Iterator[None]:
        """Journals a snapshot being created until its row is committed; on failure (or, after
        a crash, at the next open) its file is removed unless its row was committed."""
        journal = self.engine.journals.begin(str(ctx.task_id), {"op": "create", "snapshot": str(snap_id)})
        try:
            yield
        except BaseException:
            try:
                self._settle(journal, lock=True)
            except errors.BodegaError:
                pass  # left for the next open or gc: the error to report is the first one
            raise
        journal.close(done=True)

    def _take(self, ctx: TaskContext, container_id: uuid.UUID, snap_id: uuid.UUID, label: str, kind: str,
              trigger: SnapshotTrigger, copy_of: tuple[Path, Manifest] | None = None,
              progress: Callable[[str, int, int], None] | None = None) -> Any:
        """Snapshots the container's tree as snap_id; copy_of: (source tree, its live manifest noted
        before the tree was cloned from it), whose hashes the snapshot reuses where they are right;
        progress(phase, done, total): the engine's progress (default: the task's 0-95%)."""
        with self._b.catalogue.session_scope(write=False) as s:
            c = s.get(Container, container_id)
            tree, state = self._paths(s, c)
            base = self._base_for(s, c, state)
        if kind == "delta" and base is None:
            raise errors.DeltaBaseMismatch("a delta snapshot needs a base: this container has no snapshot yet")
        self.engine.recover(tree, state)
        progress = progress or _relay(ctx)
        built = None
        if copy_of is not None:
            progress("scan", 0, 0)
            built = mf.build_copy(tree, copy_of[0], copy_of[1], threads=self.engine.hash_threads,
                                  clock=self.engine.clock,
                                  progress=lambda p: progress("scan", p.files_done, p.files_total))
        return self.engine.create(tree, state, str(snap_id), base=str(base) if base else None, kind=kind,
                                  progress=progress, cancel=_cancelled(ctx),
                                  writer_tag=f"{os.getpid()}@{self._b.host}:{ctx.task_id}", manifest=built)

    def _run_create(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        p = ctx.payload
        trigger = SnapshotTrigger(p.get("trigger", "manual"))
        snap_id = uuid.uuid4()
        with self._creating(ctx, snap_id):
            done = self._take(ctx, ctx.container_id, snap_id, p.get("label", ""), p.get("kind", "auto"), trigger)
            self._publish(ctx, ctx.container_id, snap_id, done, p.get("label", ""), trigger)

    def _publish(self, ctx: TaskContext, container_id: uuid.UUID, snap_id: uuid.UUID, done: Any, label: str,
                 trigger: SnapshotTrigger) -> None:
        ctx.result.update(snapshot_id=str(snap_id), type=done.type, files_read=done.files_read,
                          added_bytes=done.added_bytes, root=done.root)
        ctx.log(f"snapshot {str(snap_id)[:8]}: {done.type}, {done.files} files, read {done.files_read}, "
                f"added {done.added_bytes} bytes")
        with ctx.finish() as s:
            self._s.record(container_id, type=done.type, checksum_manifest=done.root,
                           base_snapshot_id=uuid.UUID(done.base) if done.base else None, label=label,
                           size_bytes=done.added_bytes, trigger=trigger, task_id=ctx.task_id, session=s,
                           snapshot_id=snap_id)

    def _initial_snapshot(self, ctx: TaskContext, source_id: uuid.UUID) -> AfterClone:
        """Seed rule 2: a clone's first snapshot, published with the clone.  The source's live
        manifest, noted here before its tree is cloned, spares reading what it vouches for."""
        with self._b.catalogue.session_scope(write=False) as s:
            source_tree, source_state = self._paths(s, s.get(Container, source_id))
        source_live = SnapshotEngine.live_manifest(source_state)

        def take(ctx: TaskContext, container_id: uuid.UUID) -> None:
            copy_of = (source_tree, source_live) if source_live is not None else None
            snap_id = uuid.uuid4()
            with self._creating(ctx, snap_id):
                done = self._take(ctx, container_id, snap_id, "initial snapshot of the clone", "full",
                                  SnapshotTrigger.SYSTEM, copy_of)
                ctx.result.update(initial_snapshot_id=str(snap_id), initial_snapshot_files_read=done.files_read)
                self._s.record(container_id, type=done.type, checksum_manifest=done.root, label="clone",
                               size_bytes=done.added_bytes, trigger=SnapshotTrigger.SYSTEM, task_id=ctx.task_id,
                               snapshot_id=snap_id)
        return take

    # --- restore --------------------------------------------------------------------------

    def restore(self, container: str | uuid.UUID, snapshot: str | uuid.UUID, *, detach: bool = False,
                wait: bool = False, progress: Callable[[int], None] | None = None) -> TaskInfo:
        """Makes the container's tree the snapshot's (task snapshot.restore); newer snapshots stay."""
        def prepare(s: Session, task: Task) -> None:
            c = self._b.containers.resolve(s, container)
            if c.status != ContainerStatus.READY:
                raise errors.WrongStatus(f"container {c.name} is {c.status.value}: restore needs it ready (stopped)")
            snap = self._s.resolve(s, c, snapshot)
            task.container_id = c.id
            task.payload = {**task.payload, "snapshot_id": str(snap.id)}

        return self._b.tasks.submit("snapshot.restore", {"snapshot": str(snapshot)},
                                    f"snapshot restore {container} {snapshot}", prepare=prepare, detach=detach,
                                    wait=wait, progress=progress)

    def restore_in(self, ctx: TaskContext, snapshot_id: str, *, cancellable: bool = True) -> Any:
        """Restores ctx's container to snapshot_id within the running task ctx, marked so that a
        crash is recovered (cancellable=False: a rollback, which a cancel must not stop)."""
        assert ctx.container_id is not None
        with self._b.catalogue.session_scope(write=False) as s:
            tree, state = self._paths(s, s.get(Container, ctx.container_id))
        # The marker says where to look after a crash (recovery never scans every container).
        self._pending.mark(ctx.container_id, ctx.task_id)
        try:
            return self.engine.restore(tree, state, snapshot_id, progress=_relay(ctx) if cancellable else _quiet,
                                       cancel=_cancelled(ctx) if cancellable else None, task=str(ctx.task_id))
        finally:
            if not restoring.pending(state):
                self._pending.unmark(ctx.container_id)

    def _run_restore(self, ctx: TaskContext) -> None:
        result = self.restore_in(ctx, ctx.payload["snapshot_id"])
        ctx.result.update(result.to_dict())
        ctx.log(f"restored {result.snapshot[:8]} ({result.mode}): wrote {result.files_written} files, "
                f"removed {result.removed}, left {result.unchanged} untouched")
        if result.skipped_specials:
            ctx.log(f"skipped {len(result.skipped_specials)} special files it cannot create: "
                    + ", ".join(f"{x['path']} ({x['kind']})" for x in result.skipped_specials[:5]))
        with ctx.finish() as s:
            c = s.get(Container, ctx.container_id)
            self._b.events.record(s, f"container {c.name} restored to snapshot {result.snapshot[:8]}",
                                  container_id=c.id, task_id=ctx.task_id, context={"snapshot_id": result.snapshot})

    # --- forget ---------------------------------------------------------------------------

    def forget(self, container: str | uuid.UUID, policy: Policy | None = None, *, ids: Iterable[str] = (),
               dry_run: bool = False, wait: bool = False) -> dict[str, Any]:
        """Forgets snapshots (by id, or those policy does not keep); rebases deltas first (task snapshot.forget)."""
        ids = list(ids)
        if policy is None and not ids:
            raise errors.RetentionInvalid("say which snapshots to forget: ids or keep rules")
        with self._b.catalogue.session_scope(write=False) as s:
            c = self._b.containers.resolve(s, container)
            cands = [Candidate(str(r.id), _aware(r.created_at), r.trigger.value)
                     for r in s.scalars(sa.select(Snapshot).where(Snapshot.container_id == c.id))]
            chosen = [str(self._s.resolve(s, c, i).id) for i in ids]
            container_id = c.id
        if policy is not None:
            _, forget, reasons = select(cands, policy)
            chosen = sorted(set(chosen) | set(forget))
        else:
            reasons = {}
        plan = {"forget": chosen, "keep": [c.id for c in cands if c.id not in chosen],
                "reasons": reasons, "dry_run": dry_run}
        if dry_run or not chosen:
            return plan
        task = self._b.tasks.submit("snapshot.forget", {"ids": chosen}, f"snapshot forget {container} ({len(chosen)})",
                                    prepare=lambda s, t: setattr(t, "container_id", container_id), wait=wait)
        plan["rebased"] = task.result.get("rebased", {})
        return plan

    def _run_forget(self, ctx: TaskContext) -> None:
        """Forgets snapshots: the catalogue and the store change together.

        Under the store lock (gc waits): the deltas on forgotten snapshots are rebased into
        staging, the journal names what is staged, then one catalogue transaction rebases their
        rows and deletes the forgotten ones (children first); only then are the staged files
        renamed in and the forgotten ones removed.  A crash in between leaves the journal,
        which the next open (or gc) completes: forward when the transaction committed.
        """
        assert ctx.container_id is not None
        gone = list(ctx.payload["ids"])
        with self._b.catalogue.session_scope(write=False) as s:
            bases = {str(r.id): str(r.base_snapshot_id) if r.base_snapshot_id else None
                     for r in s.scalars(sa.select(Snapshot).where(Snapshot.container_id == ctx.container_id))}
        engine = self.engine
        with engine.store.shared():
            plan = engine.plan_forget(gone, among=[sid for sid in bases if sid not in gone], known=bases)
            staged: dict[str, str] = {}
            try:
                for child, new_base in plan.items():
                    ctx.checkpoint()
                    staged[child] = self._stage_rebase(child, new_base, bases)
                journal = engine.journals.begin(str(ctx.task_id), {"op": "forget", "gone": gone, "staged": staged})
            except BaseException:
                engine.discard(staged.values())
                raise
            ctx.result["rebased"] = plan
            try:
                with ctx.finish() as s:
                    for child, new_base in plan.items():
                        row = s.get(Snapshot, uuid.UUID(child))
                        if row is not None:
                            row.type = SnapshotType.DELTA if new_base else SnapshotType.FULL
                            row.base_snapshot_id = uuid.UUID(new_base) if new_base else None
                    s.flush()
                    for sid in _children_first(gone, bases):
                        row = s.get(Snapshot, uuid.UUID(sid))
                        if row is not None:
                            s.delete(row)
                            s.flush()
                    c = s.get(Container, ctx.container_id)
                    self._b.events.record(s, f"forgot {len(gone)} snapshot(s) of container {c.name}",
                                          container_id=c.id, task_id=ctx.task_id, context={"forgotten": gone})
                    self._b.containers.sync_manifest(s, c)
            finally:
                self._settle(journal, lock=False)  # forward when the transaction committed, else back

    def _stage_rebase(self, child: str, new_base: str | None, bases: dict[str, str | None]) -> str:
        """Stages child re-encoded on new_base; SnapshotInUse when its tree cannot be read."""
        try:
            return self.engine.stage_rebase(child, new_base)
        except (errors.IntegrityError, errors.SnapshotNotFound) as e:
            raise errors.SnapshotInUse(
                f"snapshot {child} is a delta on {bases.get(child)}, which is forgotten, and it cannot be "
                f"rebased ({e}): forget it too") from e

    def _settle(self, journal: Journal, *, lock: bool) -> None:
        """Completes a journal this process holds and removes it (left, unlocked, when that fails).
        lock: take the store lock for it (else the caller holds it)."""
        try:
            with self.engine.store.shared() if lock else nullcontext():
                self._complete(journal.doc)
        except BaseException:
            journal.close(done=False)
            raise
        journal.close(done=True)

    def _complete(self, doc: dict[str, Any]) -> None:
        """Makes the store agree with the catalogue for a journal (its task no longer runs);
        the caller holds the store lock."""
        op = doc.get("op")
        try:
            if op == "create":
                sid = str(uuid.UUID(doc["snapshot"]))
                ids = [sid]
            elif op == "forget":
                ids = [str(uuid.UUID(g)) for g in doc["gone"]]
                staged = {str(uuid.UUID(c)): str(n) for c, n in dict(doc["staged"]).items()}
            else:
                return  # torn: written by a task that had not committed yet, and staged nothing
        except (KeyError, ValueError, TypeError, AttributeError):
            return
        with self._b.catalogue.session_scope(write=False) as s:
            present = [sid for sid in ids if s.get(Snapshot, uuid.UUID(sid)) is not None]
        if op == "create":
            if not present:  # never published: its file goes
                self.engine.delete(ids)
        elif present:  # the forget did not commit: what it staged goes
            self.engine.discard(staged.values())
        else:
            self.engine.publish(staged)
            self.engine.delete(ids)

    def _finish_journals(self, *, locked: bool) -> list[str]:
        """Completes the journals of tasks that stopped; returns what it did.  locked: the caller
        holds the store lock; else it is taken shared now, and when gc holds it the journals wait
        for gc, which completes them first."""
        found = list(Journals(self._b.home.store).abandoned())
        if not found:
            return []
        done = []
        try:
            # On a catalogue server the store lock of a process just killed lingers until the
            # server notices its connection is gone (milliseconds): wait a little for it.
            wait = 5.0 if self._b.catalogue.shared else 0
            with nullcontext() if locked else self.engine.store.shared(timeout=wait):
                while found:
                    journal = found.pop(0)
                    self._settle(journal, lock=False)
                    done.append(f"store: completed the {journal.doc.get('op', 'unwritten')} journal of "
                                f"task {journal.path.stem}")
        except errors.StoreBusy:
            pass
        finally:
            for journal in found:
                journal.close(done=False)
        return done

    # --- reads ----------------------------------------------------------------------------

    def show(self, container: str | uuid.UUID, snapshot: str | uuid.UUID) -> SnapshotDetails:
        """A snapshot's catalogue row and its store header."""
        info = self._s.get(container, snapshot)
        try:
            store = self.engine.info(str(info.id)).to_dict()
        except errors.SnapshotNotFound:
            store = None
        return SnapshotDetails(info, store)

    def ls(self, container: str | uuid.UUID, snapshot: str | uuid.UUID, path: str = "") -> list[Any]:
        """Entries of a snapshot at path (one level)."""
        return self.engine.ls(str(self._s.get(container, snapshot).id), path)

    def cat(self, container: str | uuid.UUID, snapshot: str | uuid.UUID, path: str,
            sink: Callable[[bytes], object]) -> int:
        """Streams one file of a snapshot, checked against its hash."""
        return self.engine.cat(str(self._s.get(container, snapshot).id), path, sink)

    def extract(self, container: str | uuid.UUID, snapshot: str | uuid.UUID, path: str, dest: Path) -> Any:
        """Writes one path of a snapshot to dest (which must not exist)."""
        return self.engine.extract(str(self._s.get(container, snapshot).id), path, dest)

    def diff(self, container: str | uuid.UUID, old: str | None = None, new: str | None = None) -> Any:
        """What changed: live tree vs the newest snapshot (default), a snapshot vs the live tree, or two snapshots."""
        from bodega.storage import manifest as mf
        from bodega.storage.manifest_diff import Diff

        with self._b.catalogue.session_scope(write=False) as s:
            c = self._b.containers.resolve(s, container)
            tree, state = self._paths(s, c)
            if old is None:
                old_row = s.scalars(sa.select(Snapshot).where(Snapshot.container_id == c.id)
                                    .order_by(Snapshot.created_at.desc()).limit(1)).first()
                if old_row is None:
                    raise errors.SnapshotNotFound(f"container {c.name} has no snapshot to compare with")
            else:
                old_row = self._s.resolve(s, c, old)
            old_id, old_root = str(old_row.id), old_row.checksum_manifest
            new_id = str(self._s.resolve(s, c, new).id) if new is not None else None
        if new_id is not None:
            return Diff.of(self.engine.manifest(old_id), self.engine.manifest(new_id))
        # The live manifest (saved by the last snapshot or restore, with its stat cache) loads
        # while the tree is scanned; when it is the old snapshot's (same root), it is the old
        # side too, and the store is not read.
        live, previous = mf.build_beside(tree, SnapshotEngine.live_manifest_path(state), clock=self.engine.clock,
                                         threads=self.engine.hash_threads)
        if previous is not None and previous.root.hex() == old_root:
            return Diff.of_tree(previous, live, tree, self.engine.hash_threads)
        live.read_unread(tree, self.engine.hash_threads)  # what was left unread was judged against previous
        return Diff.of(self.engine.manifest(old_id), live.manifest())

    def verify(self, container: str | uuid.UUID | None = None, *, read_data: float = 0.0,
               repair: bool = False) -> dict[str, Any]:
        """Checks every (or one container's) snapshot manifest and object; repair rewrites damage from live files.

        With repair, `after_repair` is a second check of the same snapshots (the same sample of
        objects read), so damage that repair could not mend, a snapshot missing from the store
        included, is reported there and `ok` of it is False.
        """
        if not 0.0 <= read_data <= 1.0:
            raise errors.InvalidInput("read_data is a share between 0 and 1")
        with self._b.catalogue.session_scope(write=False) as s:
            q = sa.select(Snapshot.id, Snapshot.container_id)
            if container is not None:
                q = q.where(Snapshot.container_id == self._b.containers.resolve(s, container).id)
            ids = [str(r.id) for r in s.execute(q).all()]
            trees = [self._paths(s, c) for c in s.scalars(sa.select(Container))]
        seed = random.randrange(1 << 32)  # both checks read the same sample of objects

        def check() -> Any:
            missing = [sid for sid in ids if not self.engine.exists(sid)]
            report = self.engine.verify([sid for sid in ids if sid not in missing], read_data=read_data, seed=seed)
            report.snapshots += len(missing)
            for sid in missing:
                report.damage.append({"snapshot": sid, "object": None, "files": [],
                                      "problem": f"snapshot {sid} is in the catalogue but not in the store"})
            return report

        report = check()
        out = report.to_dict()
        if repair and not report.ok:
            out["repaired"] = self.engine.repair(report, trees)
            out["after_repair"] = check().to_dict()
        return out

    def gc(self, *, dry_run: bool = False, timeout: float | None = None) -> dict[str, Any]:
        """Removes snapshot files no catalogue row publishes (left by crashes) and objects nothing needs.

        Under the exclusive store lock: journals of stopped tasks are completed first, then the
        unpublished snapshot files go, then the objects.  Out of space, what needs none is still
        freed, and NoSpace says what is left and the space it needs.
        """
        orphans: list[str] = []

        def unpublished() -> list[str]:
            if not dry_run:
                self._finish_journals(locked=True)
            orphans.extend(self._unpublished())
            return orphans

        report = self.engine.gc(dry_run=dry_run, timeout=timeout, unpublished=unpublished)
        out = {**report.to_dict(), "orphan_snapshots": orphans}
        shortfall = report.shortfall()
        if shortfall is not None:
            shortfall.details["report"] = out
            raise shortfall
        return out

    def _unpublished(self) -> list[str]:
        """Snapshot files of no catalogue row whose writer task no longer runs (a crash before publishing).

        Reads the header of each such file only: gc reads every snapshot anyway.
        """
        with self._b.catalogue.session_scope(write=False) as s:
            known = {str(i) for i in s.scalars(sa.select(Snapshot.id))}
            running = {str(t) for t in s.scalars(sa.select(Task.id).where(Task.status == TaskStatus.RUNNING))}
        orphans = []
        for sid in self.engine.ids():
            if sid in known:
                continue
            try:
                writer = self.engine.info(sid).writer
            except errors.ManifestCorrupt:
                writer = ""  # unpublished and unreadable: nothing can use it
            if writer.rpartition(":")[2] in running:
                continue  # being published right now
            orphans.append(sid)
        return orphans

    def recover(self) -> list[str]:
        """At open: finishes or undoes restores a crash interrupted, and completes the store
        journals of tasks that stopped.  Reads no tree, no snapshot and no pack: markers and journals.

        A restore whose task is still running (its process alive) is left to it; one whose task
        died was adopted by tasks.recover() already; what is left (its task ended otherwise)
        is finished or undone by a snapshot.recover task, under the container's lock.
        """
        done = []
        try:
            pending = self._pending.all()
        except errors.BodegaError as e:  # reported; the home still opens (each task recovers its own)
            with self._b.catalogue.session_scope() as s:
                self._b.events.record(s, f"cannot read the markers of interrupted restores: {e}",
                                      level=EventLevel.WARNING)
            pending = []
        for container_id, task_id in pending:
            status, type_ = self._task_state(task_id)
            if status == TaskStatus.RUNNING or (type_ == "snapshot.recover" and status == TaskStatus.FAILED):
                continue  # its task runs; or recovery failed already and said why (the next task says it again)
            info = self._b.tasks.run_internal("snapshot.recover", container_id, {"restore_task": task_id},
                                              f"recover the interrupted restore of container {container_id}")
            if info is None:
                continue
            if info.status == TaskStatus.FAILED:
                self._pending.mark(container_id, info.id)  # tried: not again at every open
            done.append(f"{container_id}: {info.result.get('outcome') or info.status.value}")
        try:
            done += self._finish_journals(locked=False)
        except errors.BodegaError as e:  # the journal stays for the next open or gc, which report it
            with self._b.catalogue.session_scope() as s:
                self._b.events.record(s, f"a store journal could not be completed at open: {e}",
                                      level=EventLevel.WARNING)
        return done

    def _task_state(self, task_id: str | None) -> tuple[TaskStatus | None, str | None]:
        """(status, type) of the task a marker names; (None, None) when there is no such task."""
        try:
            key = uuid.UUID(task_id or "")
        except ValueError:
            return None, None
        with self._b.catalogue.session_scope(write=False) as s:
            row = s.execute(sa.select(Task.status, Task.type).where(Task.id == key)).one_or_none()
        return (row.status, row.type) if row is not None else (None, None)

    def _recover_container(self, container_id: uuid.UUID) -> str | None:
        """Finishes or undoes the restore marked on container (the caller holds its lock)."""
        with self._b.catalogue.session_scope(write=False) as s:
            c = s.get(Container, container_id)
            if c is None:
                self._pending.unmark(container_id)
                return None
            tree, state = self._paths(s, c)
        outcome = self.engine.recover(tree, state)
        self._pending.unmark(container_id)
        return outcome

    def _recover_restore(self, ctx: TaskContext) -> str | None:
        """A restore task whose process died, adopted: its restore finished or undone."""
        assert ctx.container_id is not None
        return self._recover_container(ctx.container_id)

    def _run_recover(self, ctx: TaskContext) -> None:
        assert ctx.container_id is not None
        outcome = self._recover_container(ctx.container_id)
        ctx.result.update(outcome=outcome or "nothing to do", restore_task=ctx.payload.get("restore_task"))
        ctx.log(f"interrupted restore of task {ctx.payload.get('restore_task')}: {outcome or 'nothing to do'}")

    def _recover_before(self, ctx: TaskContext, held: list[uuid.UUID]) -> None:
        """Before a task changes a container, a restore left marked on it is finished or undone."""
        if ctx.type == "snapshot.recover":
            return
        for container_id in held:
            marked = self._pending.task(container_id)
            if marked is not None and marked != str(ctx.task_id):
                outcome = self._recover_container(container_id)
                if outcome:
                    ctx.log(f"first finished the interrupted restore of task {marked}: {outcome}")

    @property
    def _pending(self) -> PendingRestores:
        return PendingRestores.of(self._b.home)


def _children_first(ids: Iterable[str], bases: dict[str, str | None]) -> list[str]:
    """ids ordered so that every delta comes before its base (bases: id -> base id)."""
    depth: dict[str, int] = {}

    def depth_of(sid: str) -> int:
        seen = []
        while sid not in depth and sid in bases and sid not in seen:
            seen.append(sid)
            base = bases[sid]
            sid = base if base is not None else ""
        d = depth.get(sid, -1)
        for sid in reversed(seen):
            d += 1
            depth[sid] = d
        return d

    return sorted(ids, key=lambda sid: (-depth_of(sid), sid))


def _relay(ctx: TaskContext) -> Callable[[str, int, int], None]:
    """Engine progress (phase, done, total) as task percent: scan 0-20, store/restore 20-95."""
    def progress(phase: str, done: int, total: int) -> None:
        if phase == "scan":
            ctx.progress(min(20, done * 20 // total) if total else 0)
        elif phase in ("store", "restore") and total:
            ctx.progress(20 + done * 75 // total)
        else:
            ctx.checkpoint()
    return progress


def _quiet(phase: str, done: int, total: int) -> None:
    """Engine progress that reports nothing and never stops (a rollback)."""


def _cancelled(ctx: TaskContext) -> Callable[[], bool]:
    return lambda: ctx.cancel.is_set() or ctx.lost.is_set()


def _aware(when: datetime) -> datetime:
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


class SnapshotService(SnapshotTasks):
    """Snapshots: the catalogue rows (published in one transaction) over the engine's content."""

    def __init__(self, bodega: "Bodega") -> None:
        SnapshotTasks.__init__(self, bodega, self)

    def record(self, container: str | uuid.UUID, *, type: SnapshotType | str, checksum_manifest: str,
               base_snapshot_id: uuid.UUID | None = None, label: str = "", size_bytes: int = 0,
               trigger: SnapshotTrigger | str = SnapshotTrigger.MANUAL, task_id: uuid.UUID | None = None,
               session: Session | None = None, snapshot_id: uuid.UUID | None = None) -> SnapshotInfo:
        """Publishes a snapshot, in session if given (e.g. a task's finish()), else in its own transaction."""
        self._b.users.require(Role.OPERATOR)
        type, trigger = SnapshotType(type), SnapshotTrigger(trigger)
        if not checksum_manifest:
            raise errors.InvalidInput("a snapshot needs its checksum_manifest")
        if size_bytes < 0:
            raise errors.InvalidInput("size_bytes cannot be negative")
        if session is not None:
            return self._record(session, container, type, checksum_manifest, base_snapshot_id, label, size_bytes,
                                trigger, task_id, snapshot_id)
        with self._b.catalogue.session_scope() as s:
            return self._record(s, container, type, checksum_manifest, base_snapshot_id, label, size_bytes,
                                trigger, task_id, snapshot_id)

    def _record(self, s: Session, ref: str | uuid.UUID, type: SnapshotType, checksum: str,
                base_id: uuid.UUID | None, label: str, size_bytes: int, trigger: SnapshotTrigger,
                task_id: uuid.UUID | None, snapshot_id: uuid.UUID | None = None) -> SnapshotInfo:
        container = self._b.containers.resolve(s, ref)
        if type == SnapshotType.DELTA:
            if base_id is None:
                raise errors.DeltaBaseMismatch("a delta snapshot needs a base snapshot")
            base = s.get(Snapshot, base_id)
            if base is None:
                raise errors.DeltaBaseMismatch(f"base snapshot {base_id} does not exist")
            if base.container_id != container.id:
                raise errors.DeltaBaseMismatch(
                    f"base snapshot {base_id} belongs to another container than {container.name}")
        row = Snapshot(id=snapshot_id or uuid.uuid4(), container_id=container.id, label=label, type=type, base_snapshot_id=base_id,
                       size_bytes=size_bytes, checksum_manifest=checksum, trigger=trigger)
        s.add(row)
        s.flush()
        self._b.events.record(s, f"snapshot {str(row.id)[:8]} ({type.value}, {trigger.value}) of container {container.name}",
                              container_id=container.id, task_id=task_id, context={"snapshot_id": str(row.id)})
        self._b.containers.sync_manifest(s, container)
        return SnapshotInfo.of(row)

    def list(self, container: str | uuid.UUID) -> list[SnapshotInfo]:
        """A container's snapshots, oldest first."""
        with self._b.catalogue.session_scope(write=False) as s:
            c: Container = self._b.containers.resolve(s, container)
            return [SnapshotInfo.of(p) for p in s.scalars(_OF_CONTAINER, {"container_id": c.id})]

    def resolve(self, s: Session, container: Container, ref: str | uuid.UUID) -> Snapshot:
        """A snapshot of container by id or unique id prefix (4+ hex digits)."""
        row = find_by_id(s, Snapshot, ref, "snapshot")
        if row is None or row.container_id != container.id:
            raise errors.SnapshotNotFound(f"container {container.name} has no snapshot {ref}")
        return row

    def get(self, container: str | uuid.UUID, ref: str | uuid.UUID) -> SnapshotInfo:
        """One snapshot of a container."""
        with self._b.catalogue.session_scope(write=False) as s:
            return SnapshotInfo.of(self.resolve(s, self._b.containers.resolve(s, container), ref))
