"""The snapshot engine: create (full/delta by policy), restore (swap or in place), browse,
verify/repair, forget with rebase, gc, crash recovery; on ext4 and on XFS."""
from __future__ import annotations

import io
import os
import random
import shutil
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage import faults, pack
from bodega.storage import manifest as mf
from bodega.storage.remote import open_remote, store_url
from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore
from damage import flip_bit, flip_stored_bit
from manifest_trees import later


def make_tree(root: Path, files: int = 60, seed: int = 0) -> Path:
    rng = random.Random(seed)
    root.mkdir()
    for d in range(6):
        (root / f"d{d}" / "sub").mkdir(parents=True)
    for i in range(files):
        size = rng.choice([0, 10, 500, 3000, 40_000, 200_000])
        (root / f"d{i % 6}" / ("sub" if i % 2 else "") / f"f{i}.bin").write_bytes(rng.randbytes(size))
    (root / "big.bin").write_bytes(rng.randbytes(3 << 20))
    (root / "link").symlink_to("d0/f0.bin")
    (root / "dangling").symlink_to("../outside")
    os.chmod(root / "d1" / "sub" / "f1.bin", 0o755)
    return root


def root_of(tree: Path) -> bytes:
    return mf.build(tree).root


def engine_at(base: Path, **kw) -> SnapshotEngine:
    """An engine over the store at base/store (kept in S3 when the test's where is "s3")."""
    url = store_url()
    return SnapshotEngine(ObjectStore(base / "store", remote=open_remote(url) if url else None), **kw)


@pytest.fixture(params=["ext4", "xfs", "s3"])
def where(request, ext4_dir):
    """Each test runs on ext4 (compressed packs), on XFS (clones) and with its store in S3."""
    if request.param == "ext4":
        return ext4_dir
    if request.param == "s3":
        request.getfixturevalue("s3_store")
        return ext4_dir
    return request.getfixturevalue("cow_dir")


def test_create_then_restore_gives_the_same_tree(where, request):
    tree = make_tree(where / "tree")
    eng = engine_at(where)
    info = eng.create(tree, where / "state", "s1")
    assert info.type == "full" and info.base is None and info.root == root_of(tree).hex()
    assert eng.store.cow is (request.node.callspec.params["where"] == "xfs")  # clones on XFS only
    result = eng.restore(where / "out", where / "state-out", "s1")
    assert result.mode == "full"
    assert root_of(where / "out") == root_of(tree)
    assert os.readlink(where / "out" / "dangling") == "../outside"
    assert (where / "out" / "d1" / "sub" / "f1.bin").stat().st_mode & 0o777 == 0o755
    assert (where / "out" / "big.bin").stat().st_mtime_ns == (tree / "big.bin").stat().st_mtime_ns


def test_a_tree_whose_only_new_content_is_empty_files(ext4_dir):
    """Found by the soak (tests/soak): the empty files were compressed as one batch, and
    zstandard refuses a batch of nothing but empty sources (exit 1, ValueError)."""
    tree = ext4_dir / "tree"
    tree.mkdir()
    (tree / "empty").write_bytes(b"")
    (tree / "also-empty").write_bytes(b"")
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    eng.restore(ext4_dir / "out", ext4_dir / "state-out", "s1")
    assert root_of(ext4_dir / "out") == root_of(tree)
    assert eng.store.encode_many([b"", b""]) == [(b"", pack.RAW), (b"", pack.RAW)]


def test_restore_gives_files_their_exact_modes_whatever_the_umask(where):
    # A file more open than the umask allows (0o666 under 022) came back as 0o644.
    tree = where / "tree"
    tree.mkdir()
    modes = {"shared": 0o666, "exec": 0o777, "private": 0o600, "big": 0o664, "chunked": 0o666}
    sizes = {"big": 64 << 10, "chunked": 3 << 20}
    for name, mode in modes.items():
        (tree / name).write_bytes(os.urandom(sizes.get(name, 100)))
        os.chmod(tree / name, mode)
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    old = os.umask(0o022)
    try:
        eng.restore(where / "out", where / "state-out", "s1")
    finally:
        os.umask(old)
    assert {n: (where / "out" / n).stat().st_mode & 0o7777 for n in modes} == modes


def test_second_snapshot_is_a_delta_storing_only_the_change(where):
    tree = make_tree(where / "tree")
    eng = engine_at(where)
    first = eng.create(tree, where / "state", "s1")
    (tree / "d2" / "f2.bin").write_bytes(b"new content" * 100)
    (tree / "added.txt").write_text("added")
    os.unlink(tree / "d3" / "sub" / "f3.bin")
    second = eng.create(tree, where / "state", "s2", base="s1")
    assert second.type == "delta" and second.base == "s1"
    assert 0 < second.added_bytes < 5000 < first.added_bytes
    assert len(eng.stored_manifest("s2")) < 10  # only the changes (and their parent dirs)
    assert eng.manifest("s2").root.hex() == second.root == root_of(tree).hex()
    assert eng.manifest("s1").root.hex() == first.root


def test_an_unchanged_tree_is_read_from_the_stat_cache(ext4_dir):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir, clock=later)  # the scans run after the files left their racy window
    first = eng.create(tree, ext4_dir / "state", "s1")
    assert first.files_read > 50
    second = eng.create(tree, ext4_dir / "state", "s2", base="s1")
    assert second.files_read == 0 and second.added_bytes == 0 and second.root == first.root


def test_a_given_manifest_replaces_the_scan_and_only_missing_content_is_stored(where):
    from bodega.storage import fs

    tree = make_tree(where / "tree")
    eng = engine_at(where, clock=later)  # the scans run after the files left their racy window
    eng.create(tree, where / "state", "s1")
    copy = where / "copy"
    fs.clone_tree(tree, copy)
    (copy / "added.bin").write_bytes(b"only in the copy" * 100)
    built = mf.build_copy(copy, tree, eng.live_manifest(where / "state"))
    info = eng.create(copy, where / "state-copy", "c1", manifest=built)
    assert info.files_read == 1 and info.added_bytes > 0 and info.root == root_of(copy).hex()
    live = eng.live_manifest(where / "state-copy")
    assert live == built and live.to_bytes() == built.to_bytes()  # the copy's stat cache kept
    eng.restore(where / "out", where / "state-out", "c1")
    assert root_of(where / "out") == root_of(copy)
    with pytest.raises(errors.InvalidInput, match="stat cache"):
        eng.create(copy, where / "state-copy", "c2", manifest=mf.loads(built.to_bytes(stat_cache=False)))


def test_policy_full_every_n_deltas_and_forced_kinds(ext4_dir):
    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir, full_every=2)
    kinds = []
    base = None
    for i in range(5):
        (tree / "counter").write_text(str(i))
        info = eng.create(tree, ext4_dir / "state", f"s{i}", base=base)
        kinds.append(info.type)
        base = info.id
    assert kinds == ["full", "delta", "delta", "full", "delta"]
    assert eng.create(tree, ext4_dir / "state", "forced", base=base, kind="full").type == "full"
    with pytest.raises(errors.InvalidInput, match="needs a base"):
        eng.create(tree, ext4_dir / "state", "x", kind="delta")
    with pytest.raises(errors.InvalidInput, match="auto, full or delta"):
        eng.create(tree, ext4_dir / "state", "x", base=base, kind="sideways")
    with pytest.raises(errors.Conflict, match="exists already"):
        eng.create(tree, ext4_dir / "state", "s1")
    with pytest.raises(errors.SnapshotNotFound):
        eng.create(tree, ext4_dir / "state", "y", base="nope")


def test_a_big_delta_is_stored_full(ext4_dir):
    tree = make_tree(ext4_dir / "tree", files=20)
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    for p in tree.rglob("*.bin"):
        if not p.is_symlink():
            p.write_bytes(b"rewritten " + os.fsencode(p.name))
    assert eng.create(tree, ext4_dir / "state", "s2", base="s1").type == "full"


def test_restore_onto_a_close_tree_touches_only_changed_files(where):
    tree = make_tree(where / "tree")
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    before = {p: p.lstat() for p in tree.rglob("*")}
    (tree / "d2" / "f2.bin").write_bytes(b"broken by an update")
    (tree / "junk.txt").write_text("left by the update")
    os.unlink(tree / "d4" / "f4.bin")
    os.chmod(tree / "d1" / "sub" / "f1.bin", 0o600)
    result = eng.restore(tree, where / "state", "s1")
    assert result.mode == "in-place"
    assert result.files_written == 2 and result.removed == 1  # f2 and f4 written, junk removed
    assert root_of(tree) == bytes.fromhex(eng.info("s1").root)
    untouched = [p for p in before if p.name not in ("f2.bin", "f4.bin", "f1.bin") and p.is_file()]
    assert untouched
    for p in untouched:
        st = p.lstat()
        assert (st.st_ino, st.st_ctime_ns) == (before[p].st_ino, before[p].st_ctime_ns), p
    assert not (where / "state" / "restore").exists() and not (where / "state" / "restore.journal").exists()


def test_restore_far_from_the_tree_swaps_a_staged_tree_in(where):
    tree = make_tree(where / "tree", seed=1)
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    for p in list(tree.iterdir()):
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p)
    (tree / "other").mkdir()
    ino = tree.stat().st_ino
    result = eng.restore(tree, where / "state", "s1")
    assert result.mode == "full"
    assert tree.stat().st_ino != ino
    assert root_of(tree) == bytes.fromhex(eng.info("s1").root)
    assert list((where / "state").iterdir()) != [] and not (where / "state" / "restore").exists()


def test_restore_is_non_destructive_and_the_next_base_is_the_restored_one(ext4_dir):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir)
    state = ext4_dir / "state"
    eng.create(tree, state, "s1")
    (tree / "v2").write_text("two")
    eng.create(tree, state, "s2", base=eng.head(state))
    eng.restore(tree, state, "s1")
    assert eng.head(state) == "s1" and set(eng.ids()) == {"s1", "s2"}
    assert not (tree / "v2").exists()
    (tree / "v3").write_text("three")
    s3 = eng.create(tree, state, "s3", base=eng.head(state))
    assert s3.base == "s1"  # a snapshot tree: s2 and s3 are siblings
    eng.restore(tree, state, "s2")
    assert (tree / "v2").read_text() == "two" and not (tree / "v3").exists()


def test_after_an_in_place_restore_only_the_restored_files_are_read_again(ext4_dir):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir, clock=later)  # each scan and restore a racy window after what came before
    state = ext4_dir / "state"
    eng.create(tree, state, "s1")
    (tree / "d0" / "f0.bin").write_text("changed")
    eng.restore(tree, state, "s1")
    again = eng.create(tree, state, "s2", base="s1")
    assert again.files_read == 1 and again.root == eng.info("s1").root


def test_a_fully_restored_tree_has_a_stat_cache(ext4_dir):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    eng.restore(ext4_dir / "out", ext4_dir / "state-out", "s1")
    live = eng.live_manifest(ext4_dir / "state-out")
    assert live is not None and live.root.hex() == eng.info("s1").root
    for e in live:
        if e.kind == "file":
            st = (ext4_dir / "out" / e.path_str).lstat()
            assert live._table.stat_cache(live._table.find(e.path))[:2] == (st.st_ctime_ns, st.st_ino)


def test_a_cancelled_full_restore_leaves_nothing(ext4_dir):
    from bodega.storage.materialize import BATCH

    tree = make_tree(ext4_dir / "tree", files=2 * BATCH + 10)
    eng = engine_at(ext4_dir, threads=1)
    eng.create(tree, ext4_dir / "state", "s1")
    asked: list[int] = []

    def cancel() -> bool:
        asked.append(1)
        return len(asked) > 1  # after the first batch was written

    with pytest.raises(errors.Cancelled):
        eng.restore(ext4_dir / "out", ext4_dir / "state-out", "s1", cancel=cancel)
    assert len(asked) >= 2  # asked again after a batch was written: cancelled mid-restore
    assert not (ext4_dir / "out").exists() and not (ext4_dir / "state-out" / "restore").exists()


def test_ls_cat_extract(where):
    tree = make_tree(where / "tree")
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    names = [e.path for e in eng.ls("s1", "d0")]
    assert b"d0/sub" in names and b"d0/f0.bin" in names and all(n.count(b"/") == 1 for n in names)
    assert [e.path for e in eng.ls("s1", "/big.bin")] == [b"big.bin"]
    out = io.BytesIO()
    assert eng.cat("s1", "big.bin", out.write) == 3 << 20
    assert out.getvalue() == (tree / "big.bin").read_bytes()
    eng.extract("s1", "d1", where / "x")
    assert mf.build(where / "x").root == mf.build(tree / "d1").root
    eng.extract("s1", "d1/sub/f1.bin", where / "one")
    assert (where / "one").read_bytes() == (tree / "d1" / "sub" / "f1.bin").read_bytes()
    with pytest.raises(errors.SnapshotPathNotFound):
        eng.ls("s1", "nope")
    with pytest.raises(errors.InvalidInput, match="not a file"):
        eng.cat("s1", "d0", out.write)
    with pytest.raises(errors.InvalidInput, match=r"\.\."):
        eng.cat("s1", "../etc/passwd", out.write)
    with pytest.raises(errors.PathExists):
        eng.extract("s1", "d1", where / "x")


def test_a_flipped_bit_is_found_by_restore_and_verify_and_repaired_from_the_live_tree(where):
    tree = make_tree(where / "tree")
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    digest = mf.build(tree).get(b"big.bin").hash
    loc = eng.store.locate(digest)
    if isinstance(loc, Path):
        flip_bit(loc, 1000)
    else:  # chunked: damage the first chunk
        chunk = eng.store.recipe(digest)[0][0]
        e = eng.store.locate(chunk)
        flip_stored_bit(eng.store, e, e.offset + e.stored_len // 2)
    assert eng.verify(["s1"]).ok  # without reading data every object is present
    report = eng.verify(["s1"], read_data=1.0)
    assert not report.ok
    (d,) = report.damage
    assert d["files"] == ["s1:big.bin"] and d["object"] == digest.hex()
    with pytest.raises(errors.ObjectCorrupt, match="big.bin"):
        eng.restore(where / "out", where / "state-out", "s1")
    assert not (where / "out").exists()  # nothing half-restored
    assert eng.repair(report, [(tree, where / "state")]) == [digest.hex()]
    assert eng.verify(["s1"], read_data=1.0).ok
    eng.restore(where / "out", where / "state-out", "s1")
    assert root_of(where / "out") == root_of(tree)


def test_verify_subset_reads_about_that_share(ext4_dir):
    tree = make_tree(ext4_dir / "tree", files=200)
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    full = eng.verify(["s1"], read_data=1.0)
    part = eng.verify(["s1"], read_data=0.1, seed=1)
    assert 0 < part.bytes_read < full.bytes_read


def test_a_damaged_snapshot_file_is_reported(ext4_dir):
    tree = make_tree(ext4_dir / "tree", files=5)
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    flip_bit(eng.path("s1"), eng.path("s1").stat().st_size - 20)
    eng._full_cache.clear()
    report = eng.verify(["s1"])
    assert not report.ok and "s1" in report.damage[0]["problem"]


def test_forget_rebases_deltas_and_gc_frees_what_only_forgotten_snapshots_used(ext4_dir):
    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir)
    state = ext4_dir / "state"
    eng.create(tree, state, "s1")
    (tree / "only-in-s2").write_bytes(os.urandom(50_000))
    eng.create(tree, state, "s2", base="s1")
    os.unlink(tree / "only-in-s2")
    (tree / "in-s3").write_text("three")
    eng.create(tree, state, "s3", base="s2")
    roots = {s: eng.info(s).root for s in eng.ids()}
    with pytest.raises(errors.SnapshotInUse):
        eng.remove("s2")
    plan = eng.plan_forget(["s2"])
    assert plan == {"s3": "s1"}
    for child, base in plan.items():
        eng.rebase(child, base)
    eng.remove("s2")
    eng._full_cache.clear()
    assert eng.info("s3").base == "s1" and eng.manifest("s3").root.hex() == roots["s3"]
    report = eng.gc()
    assert report.objects_removed == 1  # the content only s2 had
    assert eng.verify(eng.ids(), read_data=1.0).ok
    assert eng.plan_forget(["s1"]) == {"s3": None}
    eng.rebase("s3", None)
    eng.remove("s1")
    eng._full_cache.clear()
    assert eng.info("s3").type == "full" and eng.manifest("s3").root.hex() == roots["s3"]
    eng.gc()
    eng.restore(ext4_dir / "out", ext4_dir / "st2", "s3")
    assert root_of(ext4_dir / "out") == root_of(tree)


def test_gc_waits_while_a_snapshot_is_being_written(ext4_dir):
    tree = make_tree(ext4_dir / "tree", files=5)
    eng = engine_at(ext4_dir)
    seen = []

    def progress(phase, done, total):
        if phase == "store" and not seen:
            with pytest.raises(errors.StoreBusy):
                SnapshotEngine(ObjectStore(ext4_dir / "store")).gc(timeout=0.1)
            seen.append(phase)

    eng.create(tree, ext4_dir / "state", "s1", progress=progress)
    assert seen == ["store"]
    assert eng.gc(timeout=1).objects_removed == 0


class Crash(BaseException):
    """Stands for the process dying at a fault point (nothing after it runs)."""


def _crash(**info) -> None:
    raise Crash(info)


def test_recover_rolls_an_interrupted_in_place_restore_forward(ext4_dir):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir)
    state = ext4_dir / "state"
    eng.create(tree, state, "s1")
    (tree / "d0" / "f0.bin").write_text("changed")
    (tree / "extra").write_text("extra")
    # The restore got as far as its journal (the commit point), then the process died.
    with faults.hooked("restore.step", _crash), pytest.raises(Crash):
        eng.restore(tree, state, "s1")
    assert (tree / "extra").exists() and (state / "restore.journal").exists()
    assert eng.recover(tree, state) == "rolled forward"
    assert root_of(tree) == bytes.fromhex(eng.info("s1").root) and eng.head(state) == "s1"
    assert eng.recover(tree, state) is None


def test_recover_rolls_back_a_restore_that_had_not_committed(ext4_dir):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir)
    state = ext4_dir / "state"
    eng.create(tree, state, "s1")
    before = root_of(tree)
    (state / "restore" / "root").mkdir(parents=True)
    (state / "restore" / "root" / "half").write_text("half written")
    assert eng.recover(tree, state) == "rolled back"
    assert not (state / "restore").exists() and root_of(tree) == before


@pytest.mark.parametrize("publish", ["exchange", "rename"])
def test_recover_finishes_a_full_restore_published_before_the_crash(ext4_dir, publish):
    tree = make_tree(ext4_dir / "tree")
    eng = engine_at(ext4_dir, publish=publish)
    state = ext4_dir / "state"
    eng.create(tree, state, "s1")
    shutil.rmtree(tree / "d0")  # the old tree differs
    (tree / "other").mkdir()
    last = "exchanged" if publish == "exchange" else "renamed"
    with faults.hooked("publish.step", lambda step: step == last and _crash()), pytest.raises(Crash):
        eng.restore(tree, state, "s1", in_place=False)
    assert root_of(tree) == bytes.fromhex(eng.info("s1").root) and (state / "restore.journal").exists()
    assert eng.recover(tree, state) == "rolled forward"
    assert root_of(tree) == bytes.fromhex(eng.info("s1").root) and not (state / "restore").exists()


def test_snapshot_of_a_missing_tree_is_refused(ext4_dir):
    eng = engine_at(ext4_dir)
    with pytest.raises(errors.NotADirectory):
        eng.create(ext4_dir / "missing", ext4_dir / "state", "s1")
    with pytest.raises(errors.SnapshotNotFound):
        eng.restore(ext4_dir / "out", ext4_dir / "state", "nope")
    with pytest.raises(errors.InvalidInput):
        eng.info("../x")


def test_a_file_changed_while_stored_leaves_the_files_of_its_old_content_stored(ext4_dir, monkeypatch):
    from bodega.storage.store import StoreWriter

    tree = ext4_dir / "tree"
    tree.mkdir()
    for name in ("a.txt", "b.txt"):
        (tree / name).write_bytes(b"the same content\n" * 20)
    (tree / "c.txt").write_bytes(b"other content\n")
    eng = engine_at(ext4_dir, clock=later)
    eng.create(tree, ext4_dir / "state", "s1")
    eng.remove("s1")
    eng._full_cache.clear()
    assert eng.gc().objects_removed >= 2  # the live manifest still vouches for content the store lost
    real, rounds = StoreWriter.put_files, []

    def changing_the_first_of_the_pair(self, root, files):
        rounds.append(sorted(f.path for f in files))
        pair = [f.path for f in files if f.path in (b"a.txt", b"b.txt")]
        if len(rounds) == 1 and pair:  # the shared content is put once, by one of the two names
            (tree / os.fsdecode(pair[0])).write_bytes(b"changed while it was read\n")
        return real(self, root, files)

    monkeypatch.setattr(StoreWriter, "put_files", changing_the_first_of_the_pair)
    eng.create(tree, ext4_dir / "state", "s2")
    assert len(rounds) == 2 and rounds[1] in ([b"a.txt"], [b"b.txt"])  # the other name, in a second round
    eng.restore(ext4_dir / "out", ext4_dir / "st2", "s2")
    assert root_of(ext4_dir / "out") == root_of(tree)


def test_the_garbage_collector_is_paused_while_a_snapshot_stores_and_runs_again_after(ext4_dir, monkeypatch):
    import gc

    from bodega.storage import snapshot as snapshot_module

    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir)
    seen: list[bool] = []
    store_files = SnapshotEngine._store_files
    monkeypatch.setattr(SnapshotEngine, "_store_files", lambda self, *a: (seen.append(gc.isenabled()), store_files(self, *a))[1])
    assert gc.isenabled()
    eng.create(tree, ext4_dir / "state", "s1")
    assert seen == [False] and gc.isenabled()
    # a failing snapshot resumes it too; one that starts with the collector off leaves it off
    with pytest.raises(errors.Conflict):
        eng.create(tree, ext4_dir / "state", "s1")
    assert gc.isenabled()
    gc.disable()
    try:
        (tree / "new.txt").write_bytes(b"new")
        eng.create(tree, ext4_dir / "state", "s2", base="s1")
        assert seen == [False, False] and not gc.isenabled()
    finally:
        gc.enable()
    # overlapping snapshots (threads): the collector runs again when the last one ends
    with snapshot_module._collector_paused():
        with snapshot_module._collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()


def test_a_live_manifest_that_cannot_be_saved_fails_the_snapshot_before_its_head_moves(ext4_dir, monkeypatch):
    # The stat cache is written beside the snapshot file, on another thread: its failure is
    # still the snapshot's, and head.json keeps naming the last snapshot taken.
    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    (tree / "new.txt").write_bytes(b"new")

    def full_disk(state_dir, m, table_frames=None):
        raise errors.NoSpace(28, "no space left to save the live manifest")

    monkeypatch.setattr(SnapshotEngine, "_save_live", staticmethod(full_disk))
    with pytest.raises(errors.NoSpace, match="live manifest"):
        eng.create(tree, ext4_dir / "state", "s2", base="s1")
    assert SnapshotEngine.head(ext4_dir / "state") == "s1"


def test_the_snapshot_file_is_written_while_the_objects_are_made_durable(ext4_dir, monkeypatch):
    """The snapshot file is staged (written and synced) beside the objects' commit, and
    published only once that commit is done."""
    import threading

    from bodega.storage.store import StoreWriter

    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir)
    staged = threading.Event()
    seen_during_commit: list[object] = []
    stage_snap, commit_objects = SnapshotEngine._stage_snap, StoreWriter.commit_objects

    def staging(self, *a):
        path = stage_snap(self, *a)
        staged.set()
        return path

    def committing(self):
        # the staging runs on another thread meanwhile: wait for it (the old order staged
        # only after this returned, and timed out here)
        seen_during_commit.append(staged.wait(timeout=60))
        seen_during_commit.append(eng.path("s1").exists())
        return commit_objects(self)

    monkeypatch.setattr(SnapshotEngine, "_stage_snap", staging)
    monkeypatch.setattr(StoreWriter, "commit_objects", committing)
    info = eng.create(tree, ext4_dir / "state", "s1")
    # staged during the commit, published after it (the session's end commits once more: nothing left)
    assert seen_during_commit[:2] == [True, False]
    assert eng.info("s1") == info and eng.manifest("s1").root == root_of(tree)
    assert not [p for p in eng.store.tmp.iterdir() if p.name.endswith(".snap")]


def test_the_objects_are_made_durable_while_the_snapshot_is_described(ext4_dir, monkeypatch):
    """The objects' commit (I/O waits: the last pack and the directories synced) starts as
    soon as the store ends, while the snapshot's header is still being made; the snapshot
    is still published only after it."""
    import threading

    from bodega.storage.store import StoreWriter

    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir)
    committing = threading.Event()
    seen: list[bool] = []
    file_count, commit_objects = mf.Manifest.file_count, StoreWriter.commit_objects

    def counting(self):
        # the old order committed only after the header was made, and timed out here
        seen.append(committing.wait(timeout=20))
        return file_count(self)

    def commit(self):
        committing.set()
        seen.append(eng.path("s1").exists())
        return commit_objects(self)

    monkeypatch.setattr(mf.Manifest, "file_count", counting)
    monkeypatch.setattr(StoreWriter, "commit_objects", commit)
    info = eng.create(tree, ext4_dir / "state", "s1")
    assert True in seen[:2] and False in seen[:2]  # the commit began meanwhile, before the publish
    assert eng.info("s1") == info and info.files == 11 and eng.manifest("s1").root == root_of(tree)


def test_a_failed_commit_of_the_objects_publishes_no_snapshot_and_leaves_no_staged_file(ext4_dir, monkeypatch):
    from bodega.storage.store import StoreWriter

    tree = make_tree(ext4_dir / "tree", files=10)
    eng = engine_at(ext4_dir)

    def failing(self):
        raise errors.StoreBusy("commit failed (test)")

    monkeypatch.setattr(StoreWriter, "commit_objects", failing)
    with pytest.raises(errors.StoreBusy, match="commit failed"):
        eng.create(tree, ext4_dir / "state", "s1")
    assert eng.ids() == [] and not eng.exists("s1")
    assert not [p for p in eng.store.tmp.iterdir() if p.name.endswith(".snap")]
    assert SnapshotEngine.head(ext4_dir / "state") is None
    monkeypatch.undo()
    eng.create(tree, ext4_dir / "state", "s1")  # and the next try succeeds
    assert eng.manifest("s1").root == root_of(tree)


def test_the_store_starts_on_the_first_batch_before_the_last_is_cut(ext4_dir, monkeypatch):
    """The workers take each batch as it is cut (not once every batch is), and the snapshot
    is the same as one stored batch after batch."""
    import threading

    from bodega.storage import snapshot as snapshot_module
    from bodega.storage.store import StoreWriter

    tree = make_tree(ext4_dir / "tree", files=40)
    first_stored = threading.Event()
    waited: list[bool] = []
    batches, put_files = snapshot_module._batches, StoreWriter.put_files

    def cutting(files, most_files=snapshot_module.BATCH_FILES, most_bytes=16 << 20):
        for i, part in enumerate(batches(files, most_files, most_bytes)):
            yield part
            if i == 0:  # the old code cut every batch before a worker took one: timed out here
                waited.append(first_stored.wait(timeout=60))

    def putting(self, root, files):
        got = put_files(self, root, files)
        first_stored.set()
        return got

    monkeypatch.setattr(snapshot_module, "_batches", cutting)
    monkeypatch.setattr(StoreWriter, "put_files", putting)
    eng = engine_at(ext4_dir / "a", batch_files=4)
    eng.create(tree, ext4_dir / "a" / "state", "s1")
    assert waited == [True]
    monkeypatch.undo()
    one_batch = engine_at(ext4_dir / "b", batch_files=10_000)
    one_batch.create(tree, ext4_dir / "b" / "state", "s1")
    assert list(eng.manifest("s1")) == list(one_batch.manifest("s1"))
    assert eng.manifest("s1").root == root_of(tree)
    report = eng.verify(["s1"], read_data=1.0)
    assert report.ok and report.objects_checked == len({e.hash for e in eng.manifest("s1") if e.kind == "file"})


def _small_tree(root: Path, files: int) -> Path:
    root.mkdir()
    for d in range(4):
        (root / f"d{d}").mkdir()
    for i in range(files):
        (root / f"d{i % 4}" / f"f{i}.txt").write_bytes(b"file %d\n" % i)
    return root


def _stored_batches(engine: SnapshotEngine, tree: Path, state: Path, monkeypatch) -> list[int]:
    """The number of files of each batch a first snapshot of tree stores."""
    from bodega.storage.store import StoreWriter

    sizes: list[int] = []
    put_files = StoreWriter.put_files

    def putting(self, root, files):
        sizes.append(len(files))
        return put_files(self, root, files)

    monkeypatch.setattr(StoreWriter, "put_files", putting)
    engine.create(tree, state, "s1")
    monkeypatch.undo()
    return sorted(sizes)


def test_a_store_of_many_files_is_cut_at_batch_files(ext4_dir, monkeypatch):
    """A first snapshot of many small files goes in batches of the default batch size (1024 files:
    fewer calls and thread wake-ups than 256), however many files there are beyond it."""
    tree = _small_tree(ext4_dir / "tree", 5000)
    eng = engine_at(ext4_dir / "a", threads=2)
    sizes = _stored_batches(eng, tree, ext4_dir / "a" / "state", monkeypatch)
    assert sum(sizes) == 5000 and max(sizes) == 1024 and len(sizes) == 5  # the old default cut 20 of 256
    assert eng.manifest("s1").root == root_of(tree)


def test_a_store_of_few_files_gives_each_worker_two_batches(ext4_dir, monkeypatch):
    """Fewer files than two batches per worker are cut finer (down to 256 a batch), so every
    core has work; never below what batch_files asks."""
    tree = _small_tree(ext4_dir / "tree", 2000)
    eng = engine_at(ext4_dir / "a", threads=2, batch_files=4096)  # the old code: one batch of 2000
    assert _stored_batches(eng, tree, ext4_dir / "a" / "state", monkeypatch) == [500, 500, 500, 500]
    fine = engine_at(ext4_dir / "b", threads=2, batch_files=100)
    assert _stored_batches(fine, tree, ext4_dir / "b" / "state", monkeypatch) == [100] * 20
    few = _small_tree(ext4_dir / "few", 300)  # 75 a worker's batch: batches of 256 instead
    eng2 = engine_at(ext4_dir / "c", threads=2)
    assert _stored_batches(eng2, few, ext4_dir / "c" / "state", monkeypatch) == [44, 256]
    assert eng.manifest("s1").root == root_of(tree) and eng2.manifest("s1").root == root_of(few)


def test_each_stored_batch_sets_its_hashes_in_the_draft_before_the_store_ends(ext4_dir, monkeypatch):
    """A batch's hashes go into the draft as soon as it is stored (not all once every batch
    is): the last batches wait here until the first batch's hashes are set."""
    import threading

    from bodega.storage.store import StoreWriter

    tree = make_tree(ext4_dir / "tree", files=40)
    set_once = threading.Event()
    waited: list[bool] = []
    calls = [0]
    lock = threading.Lock()
    set_contents, put_files = mf.Draft.set_contents, StoreWriter.put_files

    def setting(self, *a):
        set_contents(self, *a)
        set_once.set()

    def putting(self, root, files):
        with lock:
            calls[0] += 1
            late = calls[0] > 4
        if late:  # the old code set every hash after the last batch: timed out here
            waited.append(set_once.wait(timeout=60))
        return put_files(self, root, files)

    monkeypatch.setattr(mf.Draft, "set_contents", setting)
    monkeypatch.setattr(StoreWriter, "put_files", putting)
    eng = engine_at(ext4_dir / "a", batch_files=4)
    eng.create(tree, ext4_dir / "a" / "state", "s1")
    assert waited and all(waited)
    assert eng.manifest("s1").root == root_of(tree)


def test_batches_mixing_unread_files_and_files_the_store_lacks_give_the_trees_manifest(ext4_dir):
    """A tree whose stat cache vouches for files a new store lacks: those (hashed already) are
    stored after the unread ones, in batches that straddle the two kinds."""
    tree = make_tree(ext4_dir / "tree", files=30)
    first = engine_at(ext4_dir / "a", clock=later)  # its stat cache vouches for every file
    first.create(tree, ext4_dir / "state", "s1")
    for i in range(0, 30, 4):  # new and changed files: unread by the next scan
        (tree / f"d{i % 6}" / f"new{i}.txt").write_bytes(b"new %d" % i)
    (tree / "d0" / "f0.bin").write_bytes(b"changed")
    other = engine_at(ext4_dir / "b", batch_files=4, clock=later)  # a new store: it lacks the vouched-for files
    seen: list[list[bool]] = []  # per round, whether each file to store had a hash already
    store_files = other._store_files
    other._store_files = lambda tree, files, *a: (seen.append([hasattr(f, "digest") for f in files]),
                                                  store_files(tree, files, *a))[1]
    info = other.create(tree, ext4_dir / "state", "s2")
    unread = seen[0].index(True)  # the unread files come first, then those the store lacks
    assert unread % 4 and not any(seen[0][:unread]) and all(seen[0][unread:])  # a batch holds both kinds
    assert len(seen[0]) > 3 * 4
    assert other.info("s2").files_read < info.files  # some files were vouched for, not read
    assert info.root == root_of(tree).hex()
    report = other.verify(["s2"], read_data=1.0)
    assert report.ok and report.objects_checked == len({e.hash for e in other.manifest("s2") if e.kind == "file"})


def test_the_snapshot_file_and_the_live_manifest_share_one_compression_of_the_table(ext4_dir, monkeypatch):
    """A full snapshot's file and the tree's live manifest hold the same table: its blocks are
    compressed once, and both files are byte for byte what each would be on its own."""
    from bodega.storage import manifest_file

    tree = make_tree(ext4_dir / "tree", files=20)
    eng = engine_at(ext4_dir)
    compressed: list[int] = []
    compress = manifest_file._compress
    monkeypatch.setattr(manifest_file, "_compress", lambda piece: (compressed.append(len(piece)), compress(piece))[1])
    eng.create(tree, ext4_dir / "state", "s1")
    monkeypatch.undo()
    live = SnapshotEngine.live_manifest(ext4_dir / "state")
    table, cache = live._table.table_section(), live._table.cache_section()
    assert sorted(compressed) == sorted([len(table), len(cache)])  # the old code compressed the table twice
    assert SnapshotEngine.live_manifest_path(ext4_dir / "state").read_bytes() == live.to_bytes(stat_cache=True)
    head, _, body = eng.path("s1").read_bytes().partition(b"\n")
    assert body == live.to_bytes(stat_cache=False) and body == eng.manifest("s1").to_bytes(stat_cache=False)
    # a delta's file holds another table: only the live manifest takes the shared frames
    (tree / "new.txt").write_bytes(b"new")
    info = eng.create(tree, ext4_dir / "state", "s2", base="s1")
    assert info.type == "delta" and eng.manifest("s2").root == root_of(tree)
    assert SnapshotEngine.live_manifest(ext4_dir / "state").root == root_of(tree)
