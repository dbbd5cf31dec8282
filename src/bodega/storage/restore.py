"""Restoring a snapshot onto a tree, and finishing or undoing a restore a crash interrupted.

Onto a tree close to the target only what changed is written: staged, then applied by the
restore journal's steps (restore_journal.py).  Otherwise the whole tree is written into
staging and published in place of the live one (publish.py).  Either way the journal's
commit is the point of no return: before it, a crash leaves the tree as it was (recovery
removes the staging); after it, recovery rolls the restore forward.  Every write goes
through handles opened without following a link (storage/tree.py).

Beside the tree, its state directory holds `restore/` (staging: s0.., trash/, root/) and
`restore.journal` while a restore runs.  `pending()` is the cheap check recovery makes.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from bodega import errors
from bodega._native import features
from bodega.storage import faults
from bodega.storage import manifest as mf
from bodega.storage import materialize as mat
from bodega.storage import publish as pub
from bodega.storage import restore_journal as rj
from bodega.storage.flusher import flushing
from bodega.storage.manifest import Entry, Manifest
from bodega.storage.tree import Dir, Tree, owner_settable

if TYPE_CHECKING:
    from bodega.storage.snapshot import SnapshotEngine

IN_PLACE_MAX_FRACTION = 0.25  # restore in place when at most this share of entries changes
ROOT = b"root"
Progress = Callable[[str, int, int], object]  # (phase, done, total)
Cancel = Callable[[], bool]


@dataclass
class RestoreResult:
    """What a restore did."""

    snapshot: str
    mode: str                 # "full" (staged tree published) or "in-place" (journaled changes)
    files_written: int
    bytes_written: int
    removed: int
    unchanged: int
    skipped_specials: list[dict[str, str]] = field(default_factory=list)  # {"path", "kind"}: not creatable
    hardlinks: int = 0
    publish: str | None = None  # full: "exchange", "rename" or "new"
    repaired: list[str] = field(default_factory=list)  # in place: where a directory replaced a link

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dict(self.__dict__)


def pending(state_dir: Path) -> bool:
    """Whether a restore left work in state_dir (a journal to roll forward, or staging to remove)."""
    return (os.path.lexists(state_dir / os.fsdecode(rj.NAME))
            or os.path.lexists(state_dir / os.fsdecode(rj.STAGING)))


def restore(engine: "SnapshotEngine", tree: Path, state_dir: Path, snap_id: str, *, in_place: bool | None,
            progress: Progress, cancel: Cancel | None, task: str | None) -> RestoreResult:
    """Makes tree the snapshot's tree (see SnapshotEngine.restore)."""
    recover(engine, tree, state_dir)
    target = engine.manifest(snap_id)
    state_dir.mkdir(parents=True, exist_ok=True)
    with engine.store.shared(), Tree.open(state_dir) as state:
        engine.store.refresh()
        live = None
        if in_place is not False and os.path.lexists(tree):
            progress("scan", 0, 0)
            live = mf.build(tree, engine.live_manifest(state_dir), clock=engine.clock, threads=engine.hash_threads,
                            progress=lambda p: progress("scan", p.files_done, p.files_total))
        if live is not None:
            remove, write, remode = mat.plan_changes(live, target)
            changed = len(remove) + len(write) + len(remode)
            if in_place or changed <= IN_PLACE_MAX_FRACTION * max(1, len(target)):
                return _in_place(engine, tree, state_dir, state, snap_id, target, live, (remove, write, remode),
                                 progress, cancel, task)
        return _full(engine, tree, state_dir, state, snap_id, target, progress, cancel, task)


def _clear_staging(state: Tree) -> None:
    if state.lstat(rj.STAGING) is not None:
        state.remove_tree(rj.STAGING)


def _sync(staging: Tree, files: list[bytes]) -> None:
    """Makes what was staged durable before the journal that publishes it: one flush of the
    volume where the system has one, else one per file."""
    if "syncfs" in features and staging.root.sync_volume():
        return
    for rel in files:
        with staging.open_read(rel) as f:
            f.sync()


def _full(engine: "SnapshotEngine", tree: Path, state_dir: Path, state: Tree, snap_id: str, target: Manifest,
          progress: Progress, cancel: Cancel | None, task: str | None) -> RestoreResult:
    with Dir.open(tree.parent):
        pass  # where the tree is published must exist before anything is written
    _clear_staging(state)
    state.mkdir(rj.STAGING, 0o700)
    total = target.total_file_bytes()
    try:
        with state.subtree(rj.STAGING) as staging:
            staging.mkdir(ROOT, 0o755)
            with staging.subtree(ROOT) as new:
                with flushing(new.root):  # written back while written: the flush below finds little left
                    written = mat.write_tree(engine.store, target, new, threads=engine.threads,
                                             progress=lambda f, b: progress("restore", b, total), cancel=cancel)
                _keep_root_meta(tree, new)
                new_root = pub.identity(new.lstat(b""))  # type: ignore[arg-type]
            faults.point("restore.staged", mode="full")
            with state.subtree(rj.STAGING + b"/" + ROOT) as new:
                _sync(new, [p for p, st in written.stats.items() if st.kind == "file"])
            rj.commit(state, rj.Journal("full", snap_id, target.root_hex, task, new_root=new_root))
    except BaseException:
        if rj.load(state) is None:
            _clear_staging(state)
        raise
    how = _publish(engine, tree, state, new_root)
    done_ns = engine.clock()
    _finish(engine, state_dir, state, snap_id, target.root_hex, target, written.stats, done_ns, None)
    return RestoreResult(snap_id, "full", written.files, written.bytes, 0, 0, written.skipped, written.hardlinks,
                         publish=how)


def _keep_root_meta(tree: Path, new: Tree) -> None:
    """The new root takes the live root's mode (and owner, where owners can be given)."""
    try:
        with Dir.open(tree.parent) as parent:
            old = parent.stat_at(os.fsencode(tree.name))
    except errors.PathNotFound:
        return
    if old is None or old.kind != "dir":
        return
    owner = {"uid": old.uid, "gid": old.gid} if owner_settable() else {}
    new.set_meta(b"", mode=old.mode & 0o7777, **owner)


def _publish(engine: "SnapshotEngine", tree: Path, state: Tree, new_root: list[int | None] | None) -> str | None:
    """Puts the staged tree at tree (or finishes doing so); the publish mode used, None if it was there."""
    with Dir.open(tree.parent) as parent, state.subtree(rj.STAGING) as staging:
        name = os.fsencode(tree.name)
        if pub.same(parent.stat_at(name), new_root):
            return None
        if not pub.same(staging.lstat(ROOT), new_root):
            raise errors.IntegrityError(f"{os.fsdecode(state.path)}: the staged tree of the restore journal is "
                                        f"gone; the restore cannot be finished", path=str(tree))
        return pub.publish(parent, name, staging.root, ROOT, engine.publish_mode)


def _in_place(engine: "SnapshotEngine", tree: Path, state_dir: Path, state: Tree, snap_id: str, target: Manifest,
              live: Manifest, changes: tuple[list[Entry], list[Entry], list[Entry]], progress: Progress,
              cancel: Cancel | None, task: str | None) -> RestoreResult:
    remove, write, remode = changes
    owners = mat.Owners.for_manifest(target)
    plan = rj.plan(target, remove, write, remode, owners)
    written = mat.Written()
    for e in plan.skipped:
        written.skip(e)
    total = sum(e.size for _, e in plan.staged if e.kind == "file")
    _clear_staging(state)
    state.mkdir(rj.STAGING, 0o700)
    try:
        with state.subtree(rj.STAGING) as staging:
            staging.mkdir(rj.TRASH, 0o700)
            with flushing(staging.root):
                _stage(engine, staging, plan.staged, owners, written, lambda f, b: progress("restore", b, total),
                       cancel)
            faults.point("restore.staged", mode="in-place")
            _sync(staging, [name for name, e in plan.staged if e.kind == "file"])
            rj.commit(state, rj.Journal("in-place", snap_id, target.root_hex, task, ops=plan.ops, dirs=plan.dirs))
    except BaseException:
        if rj.load(state) is None:
            _clear_staging(state)
        raise
    applied = _apply(tree, state)
    done_ns = engine.clock()
    _finish(engine, state_dir, state, snap_id, target.root_hex, target, applied.stats, done_ns, live)
    unchanged = len(target) - len(write) - len(remode)
    return RestoreResult(snap_id, "in-place", written.files, written.bytes, applied.removed, unchanged,
                         written.skipped, sum(1 for e in write if e.kind == "file" and e.link),
                         repaired=applied.repaired)


def _stage(engine: "SnapshotEngine", staging: Tree, staged: list[tuple[bytes, Entry]], owners: mat.Owners,
           written: mat.Written, progress: mat.Progress, cancel: Cancel | None) -> None:
    """Writes the new files and links into staging under their staged names."""
    files = [(name, e) for name, e in staged if e.kind == "file"]
    scratch = mat.Written()
    with mat.ObjectWriter(engine.store, owners, cancel) as writer:
        mat.write_files(writer, staging.root, files, engine.threads, scratch, progress)
    written.files, written.bytes = scratch.files, scratch.bytes
    for name, e in staged:
        if e.kind == "symlink":
            staging.symlink(name, e.link)
            uid, gid = owners.of(e)
            staging.set_meta(name, mtime_ns=e.mtime_ns, uid=uid, gid=gid)
            written.symlinks += 1


def _apply(tree: Path, state: Tree) -> rj.Applied:
    """Applies the committed in-place journal to tree."""
    journal = rj.load(state)
    assert journal is not None
    with Tree.open(tree) as root, state.subtree(rj.STAGING) as staging:
        return rj.apply(root.root, staging.root, journal)


def _finish(engine: "SnapshotEngine", state_dir: Path, state: Tree, snap_id: str, root_hex: str,
            target: Manifest | None, stats: dict[bytes, mat.Stat], done_ns: int, live: Manifest | None) -> None:
    """Records the restored tree (its stat cache and head), then drops the journal and staging."""
    if target is not None:
        # In place, untouched files keep the rows the live scan vouched for: the cache is only
        # as fresh as that scan.  A staged tree was private until published: its stats are exact.
        scan_start = min(done_ns, live._table.scan_start_ns) if live is not None else done_ns
        engine._save_live(state_dir, mat.with_stat_cache(target, stats, scan_start, live))
    else:
        engine.forget_live(state_dir)  # the next scan reads every file
    engine._set_head(state_dir, snap_id, root_hex)
    rj.remove(state)
    _clear_staging(state)


def recover(engine: "SnapshotEngine", tree: Path, state_dir: Path) -> str | None:
    """Finishes or undoes a restore a crash interrupted: "rolled forward", "rolled back" or None (nothing)."""
    if not pending(state_dir):
        return None
    with Tree.open(state_dir) as state:
        journal = rj.load(state)
        if journal is None:
            rj.remove(state)  # a journal torn before its commit: never committed
            _clear_staging(state)
            return "rolled back"
        target = _target(engine, journal)
        root_hex = journal.root or (target.root_hex if target is not None else "")
        if journal.mode == "full":
            if _publish_done(engine, tree, state, journal) is False:
                rj.remove(state)
                _clear_staging(state)
                return "rolled back"
            _finish(engine, state_dir, state, journal.snapshot, root_hex, target, {}, engine.clock(), None)
        else:
            applied = _apply(tree, state)
            _finish(engine, state_dir, state, journal.snapshot, root_hex, target, applied.stats, engine.clock(),
                    engine.live_manifest(state_dir))
    return "rolled forward"


def _publish_done(engine: "SnapshotEngine", tree: Path, state: Tree, journal: rj.Journal) -> bool:
    """Completes a full restore's publish; False when its staged tree is gone (nothing to publish)."""
    with Dir.open(tree.parent) as parent, state.subtree(rj.STAGING) as staging:
        return pub.complete(parent, os.fsencode(tree.name), staging.root, ROOT, journal.new_root, engine.publish_mode)


def _target(engine: "SnapshotEngine", journal: rj.Journal) -> Manifest | None:
    """The journal's target manifest, or None when it cannot be read (then the stat cache is dropped)."""
    try:
        return engine.manifest(journal.snapshot)
    except errors.BodegaError:
        return None


def extract(engine: "SnapshotEngine", snap_id: str, rel: bytes, dest: Path) -> mat.Written:
    """Writes one path of the snapshot (a file, a link or a directory tree) to dest, which must not exist.

    dest's parent is the directory the user named (links on the way to it are theirs to
    follow); everything below it is created by handle, never through a link.
    """
    m = engine.manifest(snap_id)
    e = m.get(rel) if rel else None
    if rel and e is None:
        raise errors.SnapshotPathNotFound(f"{os.fsdecode(rel)}: not in snapshot {snap_id}")
    parent_path = Path(os.path.realpath(dest.parent)) if str(dest.parent) else Path(".")
    name = os.fsencode(dest.name)
    if not name or name in (b".", b".."):
        raise errors.InvalidInput(f"not a destination name: {dest}")
    try:
        parent = Tree.open(parent_path)
    except errors.PathNotFound:
        raise errors.PathNotFound(2, f"{dest}: its directory {dest.parent} does not exist",
                                  str(dest.parent)) from None
    except errors.NotADirectory:
        raise errors.NotADirectory(20, f"{dest}: {dest.parent} is not a directory", str(dest.parent)) from None
    with parent:
        if parent.lstat(name) is not None:
            raise errors.PathExists(17, f"{dest} exists already", str(dest))
        owners = mat.Owners.for_manifest(m)
        with engine.store.shared():
            if e is not None and e.kind == "file":
                w = mat.Written()
                with mat.ObjectWriter(engine.store, owners) as writer:
                    mat.write_files(writer, parent.root, [(name, e)], 1, w)
                return w
            if e is not None and e.kind == "symlink":
                parent.symlink(name, e.link)
                parent.set_meta(name, mtime_ns=e.mtime_ns)
                return mat.Written(symlinks=1)
            if e is not None and e.kind != "dir":
                w = mat.Written()
                w.skip(e)
                return w
            parent.mkdir(name, 0o755)
            try:
                with parent.subtree(name) as out:
                    w = mat.write_tree(engine.store, m, out, threads=engine.threads, prefix=rel)
                    if e is not None:
                        out.set_meta(b"", **owners.meta(e))
                return w
            except BaseException:
                parent.remove_tree(name)
                raise

