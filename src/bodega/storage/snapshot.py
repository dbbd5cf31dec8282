"""The snapshot engine: snapshots of a tree into the object store, and back.

A snapshot is one file, `store/snapshots/<id>.snap`: a JSON header line (id, type, base,
root, sizes) then its manifest (docs/format.md; a delta against its base's full manifest, or
full).  Those files are the store's gc roots.  Beside each tree the engine keeps a state
directory: `live.manifest` (the tree's last full manifest with its stat cache, so a scan
reads only suspects), `head.json` (the snapshot the tree was last snapshotted as or restored
to: the next delta's base, so snapshots form a tree, not a line) and, during a restore,
`restore/` (staging) and `restore.journal` (restore.py).
"""
from __future__ import annotations

import gc
import json
import os
import random
import threading
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import partial
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterable, Iterator, Mapping

from bodega import errors
from bodega.storage import manifest as mf
from bodega.storage import materialize as mat
from bodega.storage import volume
from bodega.storage.manifest import Entry, HashedFile, Manifest
from bodega.storage.journal import Journals
from bodega.storage.live_manifest import live_manifest_path
from bodega.storage.new_file import remove_quietly
from bodega.storage.publish import mode_from_env as publish_mode_from_env
from bodega.storage.restore import RestoreResult
from bodega.storage.restore import extract as restore_extract
from bodega.storage.restore import recover as restore_recover
from bodega.storage.restore import restore as restore_run
from bodega.storage.store import Damage, FileToStore, GcReport, ObjectStore, Put, StoreWriter

# Files stored in one native batch (at most 16 MiB of them).  Each batch costs its own calls,
# thread wake-ups (futex calls 18.5k -> 7.6k) and directory opens: 1024 took 7% less CPU than
# 256 for a first snapshot of the 100k-file tree on XFS (4.46 -> 4.14 s, 11 alternated pairs).
BATCH_FILES = 1024
# ... yet a few files are cut into at least two batches per worker (down to this many files
# each), so a snapshot of few changed files still keeps every core busy.
SPREAD_FILES = 256
CLONE_WAITERS = 2         # store workers beyond one per core where batches hash clones (they wait on the device)
FULL_EVERY = 8            # a full snapshot after this many deltas in a chain
DELTA_MAX_FRACTION = 0.5  # a delta listing more than this share of the tree is stored full
Progress = Callable[[str, int, int], object]  # (phase, done, total)
Cancel = Callable[[], bool]


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot as the store knows it (its header)."""

    id: str
    type: str                 # "full" or "delta"
    base: str | None
    root: str                 # hex root hash of the tree
    files: int
    bytes: int                # size of the tree's files
    added_bytes: int          # bytes this snapshot added to the store
    created_ns: int
    writer: str = ""          # "pid@host" of the process that wrote it
    files_read: int = 0       # files read to take it (the rest were vouched for by the stat cache)

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class VerifyReport:
    """What verify found: damaged objects with the snapshots and files that need them."""

    snapshots: int = 0
    objects_checked: int = 0
    bytes_read: int = 0
    damage: list[dict] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is damaged."""
        return not self.damage

    def to_dict(self) -> dict:
        """A JSON-ready dict."""
        return {"ok": self.ok, **self.__dict__}


def _no_progress(phase: str, done: int, total: int) -> None:
    return None


class SnapshotEngine:
    """Creates, restores, browses, verifies and forgets snapshots in one store."""

    def __init__(self, store: ObjectStore, *, threads: int | None = None, full_every: int = FULL_EVERY,
                 publish: str | None = None, clock: mf.WallClock = time.time_ns, hash_threads: int = 0,
                 batch_files: int = BATCH_FILES) -> None:
        self.store = store
        self.clock = clock  # stamps the scans and restores the racy rule judges (tests move it)
        # How a full restore publishes its tree: auto (exchange where possible), exchange or rename.
        self.publish_mode = publish or publish_mode_from_env()
        self.dir = store.root / "snapshots"
        try:
            self.dir.mkdir(exist_ok=True)
        except OSError as e:
            raise errors.os_error(e, "create store", self.dir) from e
        self.journals = Journals(store.root)
        # One worker per core: measured best (more queue on the GIL and on directory locks).
        self.threads = threads or max(2, min(8, os.cpu_count() or 2))
        self.hash_threads = hash_threads  # of a manifest's scan and reads (0: the native core's, one per CPU)
        self.batch_files = batch_files  # small files stored together in one native batch
        self.full_every = full_every
        self._full_cache: dict[str, Manifest] = {}
        self._lock = threading.Lock()

    # --- snapshot files -------------------------------------------------------------------

    def path(self, snap_id: str) -> Path:
        """The snapshot's file."""
        if not snap_id or "/" in snap_id or snap_id.startswith("."):
            raise errors.InvalidInput(f"not a snapshot id: {snap_id!r}")
        return self.dir / f"{snap_id}.snap"

    def exists(self, snap_id: str) -> bool:
        """True when the store has the snapshot."""
        return self.path(snap_id).exists() or self.store.fetch_snapshot(snap_id)

    def _read(self, snap_id: str) -> tuple[SnapshotInfo, bytes]:
        try:
            data = self.path(snap_id).read_bytes()
        except FileNotFoundError:
            if not self.store.fetch_snapshot(snap_id):  # another host's, newer than the mirror
                raise errors.SnapshotNotFound(f"snapshot {snap_id} is not in the store") from None
            data = self.path(snap_id).read_bytes()
        head, sep, body = data.partition(b"\n")
        try:
            info = SnapshotInfo(**json.loads(head))
        except (ValueError, TypeError) as e:
            raise errors.ManifestCorrupt(f"snapshot file {self.path(snap_id)} has a damaged header: {e}") from e
        return info, body

    def info(self, snap_id: str) -> SnapshotInfo:
        """A snapshot's header."""
        path = self.path(snap_id)
        if not path.exists():
            self.store.fetch_snapshot(snap_id)  # another host's, newer than the mirror
        try:
            with open(path, "rb") as f:
                head = f.readline()
        except FileNotFoundError:
            raise errors.SnapshotNotFound(f"snapshot {snap_id} is not in the store") from None
        try:
            return SnapshotInfo(**json.loads(head))
        except (ValueError, TypeError) as e:
            raise errors.ManifestCorrupt(f"snapshot file {path} has a damaged header: {e}") from e

    def ids(self) -> list[str]:
        """Every snapshot in the store."""
        return sorted(p.name[:-5] for p in self.dir.iterdir() if p.name.endswith(".snap"))

    def stored_manifest(self, snap_id: str) -> Manifest:
        """The manifest as stored (a delta for a delta snapshot)."""
        info, body = self._read(snap_id)
        try:
            return mf.loads(body)
        except errors.BodegaError as e:
            e.args = (f"snapshot {snap_id}: {e.args[0]}",) if e.args else e.args
            raise

    def manifest(self, snap_id: str) -> Manifest:
        """The snapshot's full manifest (a delta applied to its base's, recursively)."""
        with self._lock:
            cached = self._full_cache.get(snap_id)
        if cached is not None:
            return cached
        chain: list[tuple[SnapshotInfo, Manifest]] = []
        sid: str | None = snap_id
        while sid is not None:
            with self._lock:
                cached = self._full_cache.get(sid)
            if cached is not None:
                break
            info = self.info(sid)
            chain.append((info, self.stored_manifest(sid)))
            if len(chain) > 10_000:
                raise errors.ManifestCorrupt(f"snapshot {snap_id}: its chain of bases loops")
            sid = info.base if info.type == "delta" else None
        full = cached
        for info, m in reversed(chain):
            full = m if info.type == "full" else full.apply(m)  # type: ignore[union-attr]
            with self._lock:
                self._full_cache[info.id] = full
                if len(self._full_cache) > 16:
                    self._full_cache.pop(next(iter(self._full_cache)))
        assert full is not None
        return full

    def chain_length(self, snap_id: str) -> int:
        """Deltas between the snapshot and its full ancestor (0 for a full one)."""
        n, info = 0, self.info(snap_id)
        while info.type == "delta" and info.base:
            n += 1
            info = self.info(info.base)
        return n

    def _write_snap(self, info: SnapshotInfo, manifest: Manifest) -> None:
        """Writes a snapshot file durably and atomically (a rewrite replaces it whole); the
        caller holds the store lock (gc empties the staging)."""
        self.publish({info.id: self._stage_snap(info, manifest).name})

    def _stage_snap(self, info: SnapshotInfo, manifest: Manifest, table_frames: list[bytes] | None = None) -> Path:
        """A snapshot file written durably into the store's staging (publish() renames it in);
        table_frames: the manifest's table_frames(), when made already."""
        data = (json.dumps(info.to_dict(), sort_keys=True).encode() + b"\n"
                + manifest.to_bytes(stat_cache=False, table_frames=table_frames))
        tmp = self.store.tmp / f"{os.getpid()}-{info.id}-{os.urandom(4).hex()}.snap"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise errors.os_error(e, "write snapshot", self.path(info.id)) from e
        return tmp

    def publish(self, staged: dict[str, str]) -> None:
        """Renames staged snapshot files (snapshot id -> name in the store's staging) into place.

        Idempotent: a staged file already renamed is skipped, so a journal can replay it.
        """
        for sid, name in staged.items():
            try:
                self.store.publish_snapshot(sid, self.store.tmp / name, self.path(sid))
            except FileNotFoundError:
                continue
            except OSError as e:
                raise errors.os_error(e, "publish snapshot", self.path(sid)) from e
            with self._lock:
                self._full_cache.pop(sid, None)
        if staged:
            volume.fsync_path(self.dir)

    def delete(self, ids: Iterable[str]) -> None:
        """Removes snapshot files (those already gone are skipped); their deltas must be rebased first."""
        ids = list(ids)
        self.store.remove_snapshots(ids)
        for sid in ids:
            try:
                self.path(sid).unlink(missing_ok=True)
            except OSError as e:
                raise errors.os_error(e, "remove snapshot", self.path(sid)) from e
            with self._lock:
                self._full_cache.pop(sid, None)
        volume.fsync_path(self.dir)

    def discard(self, staged: Iterable[str]) -> None:
        """Removes staged snapshot files that will not be published."""
        for name in staged:
            remove_quietly(self.store.tmp / name)

    # --- the tree's state -----------------------------------------------------------------

    @staticmethod
    def head(state_dir: Path) -> str | None:
        """The snapshot the tree came from (last snapshotted as or restored to), if known."""
        try:
            return json.loads((state_dir / "head.json").read_text())["snapshot"]
        except (FileNotFoundError, NotADirectoryError, ValueError, KeyError, TypeError):
            return None  # never recorded, or not by this bodega: unknown

    @staticmethod
    def _set_head(state_dir: Path, snap_id: str, root: str) -> None:
        from bodega.storage.atomic_file import write_file_atomic

        write_file_atomic(state_dir / "head.json", json.dumps({"snapshot": snap_id, "root": root}).encode())

    @staticmethod
    def live_manifest_path(state_dir: Path) -> Path:
        """Where the tree's last full manifest with its stat cache is kept."""
        return live_manifest_path(state_dir)

    @staticmethod
    def live_manifest(state_dir: Path) -> Manifest | None:
        """The tree's last full manifest with its stat cache (None when missing or unreadable)."""
        try:
            m = mf.load(SnapshotEngine.live_manifest_path(state_dir))
        except errors.BodegaError:
            return None
        return m if not m.is_delta and m.has_stat_cache else None

    @staticmethod
    def _save_live(state_dir: Path, m: Manifest, table_frames: list[bytes] | None = None) -> None:
        m.save(SnapshotEngine.live_manifest_path(state_dir), stat_cache=True, table_frames=table_frames)

    @staticmethod
    def forget_live(state_dir: Path) -> None:
        """Drops the tree's stat cache: the next scan reads every file."""
        live_manifest_path(state_dir).unlink(missing_ok=True)

    # --- create ---------------------------------------------------------------------------

    def create(self, tree: Path, state_dir: Path, snap_id: str, *, base: str | None = None,
               kind: str = "auto", progress: Progress = _no_progress, cancel: Cancel | None = None,
               writer_tag: str = "", manifest: Manifest | None = None) -> SnapshotInfo:
        """Snapshots tree as snap_id: scan with the stat cache, store new content, write the snapshot.

        kind: "auto" (delta on base unless the chain is long or the delta big), "full" or
        "delta" (needs base).  manifest: the tree's full manifest with its stat cache, built
        already (a clone's, by manifest.build_copy): used instead of a scan.  On return the
        snapshot file is durable and head.json names it; publishing it in the catalogue is
        the caller's.
        """
        if kind not in ("auto", "full", "delta"):
            raise errors.InvalidInput(f"snapshot kind is auto, full or delta, not {kind!r}")
        if kind == "delta" and base is None:
            raise errors.InvalidInput("a delta snapshot needs a base snapshot")
        if self.exists(snap_id):
            raise errors.Conflict(f"snapshot {snap_id} exists already")
        if manifest is not None and (manifest.is_delta or not manifest.has_stat_cache):
            raise errors.InvalidInput("a snapshot's given manifest must be full, with its stat cache")
        if not tree.is_dir() or tree.is_symlink():
            raise errors.NotADirectory(None, f"not a directory: {tree}")
        try:
            state_dir.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise errors.os_error(e, "create state", state_dir) from e
        base_full = self.manifest(base) if base is not None else None
        # The scan and the store make a few objects per file that live until the end and hold
        # no cycle, yet the collector would walk them again and again (3% of a first snapshot).
        with _collector_paused(), self.store.writer() as w, ThreadPoolExecutor(max_workers=4) as saver:
            progress("scan", 0, 0)
            # The objects are made durable (the last pack and the directories synced: I/O
            # waits) as soon as every file is stored, while this thread finishes the manifest
            # and describes the snapshot and the others encode it: made durable after all that,
            # they began 22 ms after the last batch at 100k files, and ended last.  The snapshot
            # is still published only after them.
            commits: list[Future[None]] = []
            m, added = self._scan_and_store(tree, state_dir, w, progress, cancel, manifest,
                                            stored=lambda: commits.append(saver.submit(w.commit_objects)))
            committed = commits[0]
            # The tree's stat cache is written while the objects and the snapshot are made
            # durable: it names the tree's content, whichever snapshot holds it (a scan checks
            # that the store has what it vouches for).  Its root is computed first, here.
            root_hex = m.root_hex
            # A full snapshot's file and the live manifest hold the same table: it is
            # compressed once for both (writing the two took twice the CPU: 50 ms more at 100k files).
            frames = saver.submit(m.table_frames)
            live_saved = saver.submit(lambda: self._save_live(state_dir, m, frames.result()))
            stype = "full"
            stored = m
            if base_full is not None and kind != "full":
                delta = m.delta_from(base_full)
                long_chain = self.chain_length(base) + 1 > self.full_every  # type: ignore[arg-type]
                big = len(delta) > DELTA_MAX_FRACTION * max(1, len(m))
                if kind == "delta" or not (long_chain or big):
                    stype, stored = "delta", delta
            info = SnapshotInfo(snap_id, stype, base if stype == "delta" else None, root_hex,
                                m.file_count(), m.total_file_bytes(), added,
                                mat.now_ns(), writer_tag, m.files_read)
            # The snapshot file is written and synced into the staging while the objects are
            # made durable; it is renamed into place only after them (still under the lock,
            # so gc cannot run between the two): a crash before leaves it unpublished.
            staging = saver.submit(lambda: self._stage_snap(info, stored, frames.result() if stored is m else None))
            try:
                committed.result()
            except BaseException:
                _discard_staged(staging, self.discard)
                raise
            self.publish({info.id: staging.result().name})
            live_saved.result()
        with self._lock:
            self._full_cache[snap_id] = m
        self._set_head(state_dir, snap_id, root_hex)
        progress("done", 1, 1)
        return info

    def adopt(self, snap_id: str, manifest: Manifest, objects: Iterable[Path] = (), *,
              writer_tag: str = "") -> SnapshotInfo:
        """Writes a full snapshot of a manifest (an import's), storing the given object files
        (each named by the hex hash of its bytes, checked) first; every file the manifest lists
        must then be in the store."""
        if manifest.is_delta:
            raise errors.InvalidInput("an adopted snapshot's manifest must be full")
        if self.exists(snap_id):
            raise errors.Conflict(f"snapshot {snap_id} exists already")
        added = 0
        with self.store.writer() as w:
            for path in objects:
                data = path.read_bytes()
                before = w.added_bytes
                if w.put_bytes(data).hex() != path.name:
                    raise errors.ObjectCorrupt(f"{path}: its bytes do not match the hash it is named by")
                added += w.added_bytes - before
            missing = [e.path_str for e in manifest if e.kind == "file" and not w.has(e.hash)]  # type: ignore[arg-type]
            if missing:
                raise errors.ObjectMissing(f"snapshot {snap_id} needs contents the store lacks: "
                                           f"{', '.join(missing[:5])}" + (" ..." if len(missing) > 5 else ""))
            w.commit_objects()
            info = SnapshotInfo(snap_id, "full", None, manifest.root_hex, manifest.file_count(),
                                manifest.total_file_bytes(), added, mat.now_ns(), writer_tag, 0)
            self._write_snap(info, manifest)
        with self._lock:
            self._full_cache[snap_id] = manifest
        return info

    def _scan_and_store(self, tree: Path, state_dir: Path, w: StoreWriter, progress: Progress,
                        cancel: Cancel | None, built: Manifest | None,
                        stored: Callable[[], object]) -> tuple[Manifest, int]:
        """The tree's manifest (built, else a scan hashing only suspects) with every file's
        content in the store, each file named by the hash of the bytes stored; stored() is
        called once they all are, before the manifest is finished.

        The scan reads no file: every suspect (a file the live manifest does not vouch for) is
        read once, by the store, and the bytes it stored give the file's hash: a small file is
        hashed and compressed from one read, a large one cloned (on a volume that clones) and
        the clone hashed, or chunked as it is read.  A file that changed between the scan and
        the store is recorded as stored.
        """
        if built is not None:
            draft = mf.Draft.of(built)
        else:
            draft = mf.build_draft(tree, self.live_manifest(state_dir), unread_min=1, clock=self.clock,
                                   threads=self.hash_threads,
                                   progress=lambda p: progress("scan", p.files_done, p.files_total))
        files: list[FileToStore] = list(draft.unread)
        unread = len(files)  # files[:unread] have no hash yet; those after, the draft's (HashedFile)
        added = 0
        # Every hash the draft vouches for is looked up once; after a round, only the hashes
        # whose stored bytes turned out different (a file changed while read) can be missing.
        suspects: set[bytes] | None = None
        for round in range(4):
            todo: dict[bytes, HashedFile] = {}
            rows = draft.hashed_rows()
            absent = w.missing({digest for _, _, digest in rows} if suspects is None else suspects)
            if absent:
                for row in rows:
                    if row[2] in absent and row[2] not in todo:
                        todo[row[2]] = HashedFile._make(row)
            files += todo.values()
            if not files:
                stored()
                return draft.manifest(), added
            if round == 3:
                break
            # Each stored batch's hashes are set in the draft while the workers store the next
            # ones (all at the end: 70 ms serial at 100k files).
            suspects = set()
            record = partial(_record_batch, draft, unread, suspects)
            added += self._store_files(tree, files, w, progress, cancel, record)
            files, unread = [], 0
            if not suspects:
                stored()  # before this scan's objects (one or more per file) are let go
                return draft.manifest(), added
        # Files whose hash others share kept changing before they were stored.
        changed = [os.fsdecode(f.path) for f in files]
        raise errors.ChangedWhileReading(
            f"files keep changing while the snapshot is taken: {', '.join(changed[:5])}", path=changed[0])

    def _store_files(self, tree: Path, files: list[FileToStore], w: StoreWriter, progress: Progress,
                     cancel: Cancel | None, record: Callable[[int, list[FileToStore], list[Put]], None]) -> int:
        """Puts files in the store on worker threads, in batches; the bytes added.  Each batch's
        Puts (one per file) go to record(index of its first file, batch, Puts), in order."""
        total = sum(map(_size_of, files))

        def batch(part: list[FileToStore]) -> list[Put]:
            if cancel is not None and cancel():
                raise errors.Cancelled("snapshot cancelled")
            return w.put_files(tree, part)

        added = done = stored = 0  # bytes added, files and bytes stored
        # Each batch reads its small files natively without the GIL.  On a volume that clones,
        # a batch also waits on the device while it hashes its clones (cold pages, CPU idle):
        # extra workers keep the cores busy meanwhile.
        workers = self.threads + (CLONE_WAITERS if self.store.cow else 0)
        with ThreadPoolExecutor(max_workers=workers) as pool:
            # Each batch is handed to the workers as soon as it is cut, so they start on the
            # first while the rest are cut (all at once first: 20 ms idle at 100k files).
            most = _batch_files(len(files), self.batch_files, self.threads)
            running = deque((part, pool.submit(batch, part)) for part in _batches(files, most))
            try:
                while running:
                    # Each batch is let go once recorded: its Puts (one object per file) are
                    # freed while the workers store the next ones, not all at the end.
                    part, got = running.popleft()
                    puts = got.result()
                    record(done, part, puts)
                    added += sum(map(_added_of, puts))
                    done += len(part)
                    stored += sum(map(_size_of, part))
                    progress("store", stored, total)
            except BaseException:
                for _, got in running:
                    got.cancel()  # the batches not started yet are not stored for nothing
                raise
        return added

    # --- restore --------------------------------------------------------------------------

    def restore(self, tree: Path, state_dir: Path, snap_id: str, *, in_place: bool | None = None,
                progress: Progress = _no_progress, cancel: Cancel | None = None,
                task: str | None = None) -> RestoreResult:
        """Makes tree the snapshot's tree: old tree or new, never half (after a crash: recover()).

        Onto a tree close to the target only the changed entries are written (staged, then a
        journal applies them: in_place=None decides by the share changed); otherwise the whole
        tree is written into staging and published atomically.  Newer snapshots are untouched;
        head.json then names snap_id, so the next snapshot's base is the one restored.  task:
        the id recorded in the journal (who committed it).
        """
        with _collector_paused():  # a restore makes an object per entry and few cycles
            return restore_run(self, tree, state_dir, snap_id, in_place=in_place, progress=progress, cancel=cancel,
                               task=task)

    def recover(self, tree: Path, state_dir: Path) -> str | None:
        """Finishes or undoes a restore a crash interrupted; returns what it did (None: nothing)."""
        return restore_recover(self, tree, state_dir)

    # --- browse ---------------------------------------------------------------------------

    def ls(self, snap_id: str, path: str = "") -> list[Entry]:
        """The entry at path and, for a directory, the entries directly in it."""
        m = self.manifest(snap_id)
        prefix = _rel(path)
        if prefix:
            top = m.get(prefix)
            if top is None:
                raise errors.SnapshotPathNotFound(f"{path}: not in snapshot {snap_id}")
            if top.kind != "dir":
                return [top]
        depth = prefix.count(b"/") + 1 if prefix else 0
        start = prefix + b"/" if prefix else b""
        return [e for e in m if e.path.startswith(start) and e.path.count(b"/") == depth]

    def cat(self, snap_id: str, path: str, sink: Callable[[bytes], object]) -> int:
        """Streams one file of the snapshot (checked against its hash) to sink."""
        e = self.manifest(snap_id).get(_rel(path))
        if e is None:
            raise errors.SnapshotPathNotFound(f"{path}: not in snapshot {snap_id}")
        if e.kind != "file":
            raise errors.InvalidInput(f"{path} is a {e.kind} in snapshot {snap_id}, not a file")
        with self.store.shared():
            return self.store.write_to(e.hash, sink, file=e.path_str)

    def extract(self, snap_id: str, path: str, dest: Path) -> mat.Written:
        """Writes one path of the snapshot (a file, a link or a directory tree) to dest (new)."""
        return restore_extract(self, snap_id, _rel(path), dest)

    # --- verify and repair ----------------------------------------------------------------

    def verify(self, snap_ids: Iterable[str], *, read_data: float = 0.0, seed: int | None = None,
               progress: Progress = _no_progress) -> VerifyReport:
        """Checks the snapshots' manifests and objects (read_data: the share of objects read and hashed)."""
        report = VerifyReport()
        users: dict[bytes, list[tuple[str, str]]] = {}
        for sid in snap_ids:
            report.snapshots += 1
            try:
                m = self.manifest(sid)
            except errors.BodegaError as e:
                report.damage.append({"snapshot": sid, "object": None, "files": [], "problem": str(e)})
                continue
            for e in m:
                if e.kind == "file":
                    users.setdefault(e.hash, []).append((sid, e.path_str))
        digests = sorted(users)
        rng = random.Random(seed)
        read = set(digests) if read_data >= 1 else {d for d in digests if rng.random() < read_data}
        with self.store.shared():
            self.store.refresh(every_pack=True)  # each pack's own index, checked (not the store's pack index)
            if read:
                self.store.drop_cache()  # a remote store's packs are read from the store, not a local copy
            for name, err in self.store.damaged_packs.items():
                report.damage.append({"snapshot": None, "object": None, "files": [],
                                      "problem": f"pack {name}: {err}"})
            for i, d in enumerate(digests):
                damage: Damage | None = self.store.check(d, read_data=d in read)
                report.objects_checked += 1
                if d in read and damage is None:
                    report.bytes_read += self.store.object_size(d)
                if damage is not None:
                    report.damage.append({"snapshot": sorted({s for s, _ in users[d]}), "object": d.hex(),
                                          "files": [f"{s}:{p}" for s, p in users[d]][:20],
                                          "problem": damage.problem})
                if i % 1024 == 0:
                    progress("verify", i, len(digests))
        return report

    def repair(self, report: VerifyReport, trees: Iterable[tuple[Path, Path]]) -> list[str]:
        """Rewrites damaged objects from live files with the same hash; returns the objects repaired."""
        wanted = {bytes.fromhex(d["object"]) for d in report.damage if d.get("object")}
        repaired: list[str] = []
        for tree, state_dir in trees:
            if not wanted:
                break
            live = self.live_manifest(state_dir)
            if live is None:
                continue
            for e in live:
                if e.kind == "file" and e.hash in wanted:
                    src = Path(os.fsdecode(os.fsencode(tree) + b"/" + e.path))
                    if self.store.repair(e.hash, src):
                        wanted.discard(e.hash)
                        repaired.append(e.hash.hex())
        return repaired

    # --- forget and gc --------------------------------------------------------------------

    def children(self) -> dict[str, list[str]]:
        """base id -> ids of the deltas on it."""
        out: dict[str, list[str]] = {}
        for sid in self.ids():
            info = self.info(sid)
            if info.type == "delta" and info.base:
                out.setdefault(info.base, []).append(sid)
        return out

    def plan_forget(self, remove: Iterable[str], among: Iterable[str] | None = None,
                    known: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
        """child id -> its new base (None: becomes full) for every snapshot of among (default:
        every one) that is kept and whose base goes.

        A snapshot's base is its header's; where the header cannot be read, known's (the
        catalogue's), else it has none.  Whether such a child can be rebased, stage_rebase says.
        """
        gone = set(remove)

        def base_of(sid: str) -> str | None:
            try:
                info = self.info(sid)
            except (errors.ManifestCorrupt, errors.SnapshotNotFound):
                return (known or {}).get(sid)
            return info.base if info.type == "delta" else None

        plan: dict[str, str | None] = {}
        for sid in (self.ids() if among is None else among):
            base = None if sid in gone else base_of(sid)
            if base is None or base not in gone:
                continue
            seen: set[str] = set()
            while base is not None and base in gone and base not in seen:
                seen.add(base)
                base = base_of(base)
            plan[sid] = None if base in gone else base  # a loop of bases: the child becomes full
        return plan

    def stage_rebase(self, snap_id: str, new_base: str | None) -> str:
        """snap_id re-encoded as a delta on new_base (or full), written to the store's staging:
        same tree, same root.  Returns the staged name for publish(); call it under the store lock."""
        info = self.info(snap_id)
        full = self.manifest(snap_id)
        if new_base is None:
            stored, stype = full, "full"
        else:
            stored, stype = full.delta_from(self.manifest(new_base)), "delta"
        new = SnapshotInfo(**{**info.to_dict(), "type": stype, "base": new_base})
        return self._stage_snap(new, stored).name

    def rebase(self, snap_id: str, new_base: str | None) -> SnapshotInfo:
        """Rewrites a snapshot as a delta on new_base (or full) in place; call it under the store lock."""
        self.publish({snap_id: self.stage_rebase(snap_id, new_base)})
        return self.info(snap_id)

    def remove(self, snap_id: str) -> None:
        """Deletes a snapshot's file (rebase its deltas first: see plan_forget)."""
        kids = [c for c in self.children().get(snap_id, [])]
        if kids:
            raise errors.SnapshotInUse(f"snapshot {snap_id} is the base of {', '.join(kids)}: rebase them first")
        self.delete([snap_id])

    def forget_files(self, ids: Iterable[str]) -> None:
        """Removes snapshot files no catalogue row publishes, rebasing the deltas on them first
        (gc: the caller holds the store lock exclusively)."""
        ids = list(ids)
        for child, base in self.plan_forget(ids).items():
            self.rebase(child, base)
        self.delete(ids)

    def live_objects(self, leaving: Iterable[str] = ()) -> Iterator[bytes]:
        """Every file hash a stored snapshot (but those leaving) needs: the union of their manifests."""
        skip = set(leaving)
        for sid in self.ids():
            if sid in skip:
                continue
            try:
                m = self.stored_manifest(sid)
            except errors.ManifestCorrupt as e:
                raise errors.ManifestCorrupt(f"{e}; gc cannot tell which objects snapshot {sid} needs: "
                                             f"forget it first") from e
            for e in m:
                if e.kind == "file" and e.hash is not None:
                    yield e.hash

    def gc(self, *, dry_run: bool = False, timeout: float | None = None,
           unpublished: Callable[[], Iterable[str]] | None = None) -> GcReport:
        """Removes objects no snapshot needs, under the exclusive store lock (waits for writers).

        unpublished(), called under that lock, names snapshot files no catalogue row publishes:
        they go first (their deltas rebased), and the objects only they needed with them.
        """
        def roots() -> set[bytes]:
            leaving = list(unpublished()) if unpublished is not None else []
            if not dry_run:
                self.forget_files(leaving)
            return set(self.live_objects(leaving))

        return self.store.gc(roots, dry_run=dry_run, timeout=timeout)


_paused = 0  # stores running with the cyclic garbage collector paused
_paused_lock = threading.Lock()
_paused_enabled = False  # whether the collector ran before the first of them paused it


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pauses Python's cyclic garbage collector for the block (across threads: it runs again
    once the last block of those that overlap ends, if it ran before the first)."""
    global _paused, _paused_enabled
    with _paused_lock:
        if _paused == 0:
            _paused_enabled = gc.isenabled()
            gc.disable()
        _paused += 1
    try:
        yield
    finally:
        with _paused_lock:
            _paused -= 1
            if _paused == 0 and _paused_enabled:
                gc.enable()


_path_of = attrgetter("path")
_size_of = attrgetter("size")
_digest_of = attrgetter("digest")
_added_of = attrgetter("added_bytes")


def _record_batch(draft: mf.Draft, unread: int, suspects: set[bytes], start: int, part: list[FileToStore],
                  puts: list[Put]) -> None:
    """Sets the hashes of a stored batch (files[start:], the first unread of them without a
    hash) in the draft; the old hashes of files that changed since the scan read them go to
    suspects."""
    fresh = min(max(unread - start, 0), len(part))  # part[:fresh] were unread
    # gathered by C-level maps, not a Python loop per file
    paths: list[bytes] = list(map(_path_of, part[:fresh]))
    digests: list[bytes] = list(map(_digest_of, puts[:fresh]))
    sizes: list[int] = list(map(_size_of, puts[:fresh]))
    for f, put in zip(part[fresh:], puts[fresh:]):
        if f.digest != put.digest:  # type: ignore[attr-defined]  (a HashedFile: changed since read)
            paths.append(f.path)
            digests.append(put.digest)
            sizes.append(put.size)
            suspects.add(f.digest)  # type: ignore[attr-defined]
    if paths:
        draft.set_contents(paths, digests, sizes)


def _discard_staged(staging: Future[Path], discard: Callable[[Iterable[str]], None]) -> None:
    """Removes a staged snapshot file once its writer is done (nothing when writing it failed)."""
    try:
        staged = staging.result()
    except BaseException:
        return  # its own failure: _stage_snap left nothing behind
    discard([staged.name])


def _batch_files(files: int, batch_files: int, workers: int) -> int:
    """Files per batch for a store of files: batch_files, or fewer (not under SPREAD_FILES)
    where that gives each worker at least two batches."""
    share = -(-files // (2 * workers))
    return min(batch_files, max(SPREAD_FILES, share))


def _batches(files: list[FileToStore], most_files: int = BATCH_FILES,
             most_bytes: int = 16 << 20) -> Iterator[list[FileToStore]]:
    """files cut into batches of at most most_files files or (beyond one file) most_bytes bytes."""
    part: list[FileToStore] = []
    size = 0
    for f in files:
        if part and (len(part) == most_files or size + f.size > most_bytes):
            yield part
            part, size = [], 0
        part.append(f)
        size += f.size
    if part:
        yield part


def _rel(path: str | bytes) -> bytes:
    raw = os.fsencode(path).strip(b"/")
    parts = [p for p in raw.split(b"/") if p not in (b"", b".")]
    if b".." in parts:
        raise errors.InvalidInput(f"a snapshot path cannot contain '..': {os.fsdecode(path)!r}")
    return b"/".join(parts)

