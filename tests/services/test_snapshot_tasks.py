"""Snapshot tasks over a real home: create/restore/forget publish in the catalogue, clone's
initial snapshot (rule 2), verify/repair, gc and its reconcile, one task per container."""
from __future__ import annotations

import os
import threading
import time
import uuid
from pathlib import Path

import blake3
import pytest

from bodega import errors
from bodega.catalogue.models import SnapshotTrigger, SnapshotType
from bodega.storage import manifest as mf
from bodega.storage.retention import Policy
from damage import flip_bit, flip_stored_bit
from manifest_trees import just_written, later


def root_of(b, name: str) -> Path:
    return Path(b.containers.get(name).storage_path) / "root"


@pytest.fixture
def dev(b):
    b.containers.create("dev")
    root = root_of(b, "dev")
    (root / "app").mkdir(parents=True, exist_ok=True)
    for i in range(20):
        (root / "app" / f"f{i}.txt").write_text(f"file {i} " * (i * 50 + 1))
    (root / "app" / "big.bin").write_bytes(bytes(range(256)) * 8000)
    return root


def test_create_publishes_full_then_delta_on_the_head(b, dev):
    first = b.snapshots.create("dev", label="first")
    assert first.type == SnapshotType.FULL and first.label == "first" and first.trigger == SnapshotTrigger.MANUAL
    assert first.checksum_manifest == mf.build(dev).root_hex and first.size_bytes > 0
    (dev / "app" / "f1.txt").write_text("changed")
    second = b.snapshots.create("dev", label="second")
    assert second.type == SnapshotType.DELTA and second.base_snapshot_id == first.id
    assert 0 < second.size_bytes < first.size_bytes
    assert [s.id for s in b.snapshots.list("dev")] == [first.id, second.id]
    assert b.snapshots.show("dev", str(second.id)[:8]).store["root"] == second.checksum_manifest


def test_restore_is_non_destructive_and_moves_the_base(b, dev):
    first = b.snapshots.create("dev")
    (dev / "app" / "f1.txt").write_text("broken by an update")
    (dev / "junk").write_text("junk")
    second = b.snapshots.create("dev")
    task = b.snapshots.restore("dev", str(first.id))
    assert task.result["mode"] in ("in-place", "full")
    assert mf.build(dev).root_hex == first.checksum_manifest
    assert {s.id for s in b.snapshots.list("dev")} == {first.id, second.id}
    (dev / "new").write_text("after restore")
    third = b.snapshots.create("dev")
    assert third.base_snapshot_id == first.id  # a tree of snapshots, not a line


def test_clone_takes_the_clones_initial_snapshot(b, dev):
    b.snapshots.create("dev")
    b.containers.clone("dev", "dev2")
    (snap,) = b.snapshots.list("dev2")
    assert snap.type == SnapshotType.FULL and snap.trigger == SnapshotTrigger.SYSTEM
    assert snap.checksum_manifest == mf.build(dev).root_hex
    assert snap.size_bytes == 0  # everything was in the store already


def _clone_with_snapshot(b, name: str):
    """Clones dev as name; (the clone's initial snapshot, files it read, the clone's tree)."""
    b.containers.clone("dev", name)
    task = next(t for t in b.tasks.list(type="container.clone") if t.result.get("path", "").endswith(
        str(b.containers.get(name).id)))
    (snap,) = b.snapshots.list(name)
    return snap, task.result["initial_snapshot_files_read"], root_of(b, name)


def test_a_clone_of_an_unchanged_snapshotted_source_reads_no_file(b, dev):
    b.snapshots.engine.clock = later  # the source's files out of its snapshot's racy window
    b.snapshots.create("dev")
    snap, files_read, tree = _clone_with_snapshot(b, "dev2")
    assert files_read == 0 and snap.size_bytes == 0
    assert snap.checksum_manifest == mf.build(tree).root_hex
    live = mf.load(b.home.container_dir(b.containers.get("dev2").id) / "state" / "live.manifest")
    table = live._table
    assert table.stat_cache(table.find(b"app/f1.txt"))[1] == os.stat(tree / "app" / "f1.txt").st_ino


def test_a_clone_reads_the_source_files_changed_since_its_snapshot(b, dev):
    # fresh.txt in the snapshot's racy window, the other files out of it
    b.snapshots.engine.clock = just_written(dev, dev / "app" / "fresh.txt", b"written just before the snapshot")
    b.snapshots.create("dev")
    b.snapshots.engine.clock = time.time_ns
    f = dev / "app" / "f1.txt"
    old = os.stat(f)
    f.write_text(f.read_text().upper())  # same size ...
    os.utime(f, ns=(old.st_atime_ns, old.st_mtime_ns))  # ... same mtime: only the ctime tells
    (dev / "app" / "new.txt").write_text("new")
    snap, files_read, tree = _clone_with_snapshot(b, "dev2")
    assert snap.checksum_manifest == mf.build(tree).root_hex
    assert files_read == 3  # f1.txt, new.txt and fresh.txt
    m = b.snapshots.engine.manifest(str(snap.id))
    assert m.get("app/f1.txt").hash == blake3.blake3(f.read_bytes()).digest()


def test_a_clone_of_a_source_without_snapshots_reads_every_file(b, dev):
    snap, files_read, tree = _clone_with_snapshot(b, "dev2")
    assert files_read == 21 and snap.checksum_manifest == mf.build(tree).root_hex


def test_forget_by_policy_rebases_and_gc_frees(b, dev):
    ids = []
    for i in range(3):
        (dev / "app" / f"v{i}").write_bytes(bytes([i]) * 50_000)
        ids.append(b.snapshots.create("dev").id)
    plan = b.snapshots.forget("dev", Policy(last=1), dry_run=True)
    assert plan["forget"] == sorted(str(i) for i in ids[:2]) and plan["keep"] == [str(ids[2])]
    assert len(b.snapshots.list("dev")) == 3  # dry run
    plan = b.snapshots.forget("dev", Policy(last=1))
    (kept,) = b.snapshots.list("dev")
    assert kept.id == ids[2] and kept.type == SnapshotType.FULL and kept.base_snapshot_id is None
    report = b.snapshots.gc()
    assert report["objects_removed"] == 0  # the kept snapshot still has v0, v1 and v2
    assert b.snapshots.verify("dev", read_data=1.0)["ok"]
    for i in range(3):
        (dev / "app" / f"v{i}").unlink()
    newest = b.snapshots.create("dev")
    b.snapshots.forget("dev", ids=[str(kept.id)])
    assert [s.id for s in b.snapshots.list("dev")] == [newest.id]
    assert b.snapshots.gc()["objects_removed"] == 3


def test_forget_needs_a_rule(b, dev):
    b.snapshots.create("dev")
    with pytest.raises(errors.RetentionInvalid):
        b.snapshots.forget("dev")
    with pytest.raises(errors.RetentionInvalid):
        b.snapshots.forget("dev", Policy())
    with pytest.raises(errors.SnapshotNotFound):
        b.snapshots.forget("dev", ids=[str(uuid.uuid4())])


def test_verify_names_damaged_files_and_repair_fixes_them(b, dev):
    snap = b.snapshots.create("dev")
    store = b.snapshots.engine.store
    digest = mf.build(dev).get(b"app/f7.txt").hash
    entry = store.locate(digest)
    if isinstance(entry, Path):
        flip_bit(entry, 10)
    else:
        flip_stored_bit(store, entry, entry.offset + entry.stored_len // 2)
    assert b.snapshots.verify("dev")["ok"]  # structure only
    report = b.snapshots.verify("dev", read_data=1.0)
    assert not report["ok"]
    assert any(f"{snap.id}:app/f7.txt" in d["files"] for d in report["damage"])
    fixed = b.snapshots.verify("dev", read_data=1.0, repair=True)
    assert digest.hex() in fixed["repaired"] and fixed["after_repair"]["ok"]


def test_diff_live_against_the_newest_and_between_snapshots(b, dev):
    first = b.snapshots.create("dev")
    assert not b.snapshots.diff("dev")
    (dev / "app" / "f2.txt").write_text("edited")
    (dev / "added").write_text("x")
    live = b.snapshots.diff("dev")
    assert {c.path for c in live} == {b"app/f2.txt", b"added"}
    second = b.snapshots.create("dev")
    assert {c.path for c in b.snapshots.diff("dev", str(first.id), str(second.id))} == {b"app/f2.txt", b"added"}


def test_diff_of_the_live_tree_reads_the_store_only_for_another_snapshot(b, dev, monkeypatch):
    """Against the snapshot the live manifest was saved for (same root), the live manifest is
    the old side: the store is not read.  Against an older snapshot, its manifest is."""
    first = b.snapshots.create("dev")
    (dev / "app" / "f2.txt").write_text("edited")
    b.snapshots.create("dev")
    (dev / "added").write_text("x")
    read = []
    engine = b.snapshots.engine
    real = engine.manifest
    monkeypatch.setattr(engine, "manifest", lambda sid: read.append(sid) or real(sid))
    assert {c.path for c in b.snapshots.diff("dev")} == {b"added"}
    assert read == []
    assert {c.path for c in b.snapshots.diff("dev", str(first.id))} == {b"app/f2.txt", b"added"}
    assert read == [str(first.id)]
    # a live manifest that does not load: the snapshot's manifest is read, the answer the same
    state = Path(b.containers.get("dev").storage_path) / "state"
    (state / "live.manifest").write_bytes(b"damaged")
    assert {c.path for c in b.snapshots.diff("dev")} == {b"added"}
    assert len(read) == 2


def test_gc_removes_a_snapshot_file_no_row_publishes(b, dev):
    b.snapshots.create("dev")
    eng = b.snapshots.engine
    c = b.containers.get("dev")
    (dev / "only-in-orphan").write_bytes(b"o" * 10_000)
    eng.create(dev, Path(c.storage_path) / "state", str(uuid.uuid4()), writer_tag="1@gone:deadbeef")
    assert len(eng.ids()) == 2
    report = b.snapshots.gc()
    assert len(report["orphan_snapshots"]) == 1 and len(eng.ids()) == 1
    assert report["objects_removed"] == 1


def test_two_snapshot_tasks_on_one_container_never_interleave(b, dev):
    started, release = threading.Event(), threading.Event()
    outcome = {}

    def slow(percent: int) -> None:
        started.set()
        release.wait(10)

    def first() -> None:
        outcome["first"] = b.snapshots.create("dev", progress=slow)

    t = threading.Thread(target=first)
    t.start()
    assert started.wait(10)
    try:
        with pytest.raises(errors.ContainerBusy, match="busy"):
            b.snapshots.create("dev")
    finally:
        release.set()
        t.join()
    assert outcome["first"].type == SnapshotType.FULL
    assert len(b.snapshots.list("dev")) == 1


def test_bad_input(b, dev):
    with pytest.raises(errors.InvalidInput, match="auto, full or delta"):
        b.snapshots.create("dev", kind="both")
    with pytest.raises(errors.DeltaBaseMismatch):
        b.snapshots.create("dev", kind="delta")
    with pytest.raises(errors.SnapshotNotFound):
        b.snapshots.restore("dev", "0123abcd")
    with pytest.raises(errors.ContainerNotFound):
        b.snapshots.create("nope")
    with pytest.raises(errors.InvalidInput):
        b.snapshots.verify(read_data=2.0)
