"""Restore and extract keep what a tree is: owners with their set-id bits (or neither), the
root's mode, hard links as links; special files they cannot create are reported."""
from __future__ import annotations

import os
import socket
import stat
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage import manifest as mf
from bodega.storage import manifest_file
from bodega.storage import materialize as mat
from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore
from bodega.storage.tree import owner_settable
from conftest import need
from damage import flip_bit


def engine_at(base: Path) -> SnapshotEngine:
    return SnapshotEngine(ObjectStore(base / "store"))


@pytest.fixture(params=["ext4", "xfs"])
def where(request, ext4_dir):
    """ext4 (packed objects) and XFS (cloned objects)."""
    return ext4_dir if request.param == "ext4" else request.getfixturevalue("cow_dir")


def _setid_tree(root: Path) -> Path:
    (root / "bin").mkdir(parents=True)
    (root / "bin" / "su-like").write_bytes(b"#!/bin/sh\n")
    (root / "bin" / "plain").write_bytes(b"plain")
    os.chown(root / "bin" / "su-like", 1234, 1235)
    os.chmod(root / "bin" / "su-like", 0o4755)
    os.chmod(root / "bin", 0o2755)
    return root


def _as_version_1(eng: SnapshotEngine, snap_id: str) -> None:
    """Rewrites a stored snapshot as bodega before format 2 wrote it: no owners recorded."""
    path = eng.path(snap_id)
    head, _, body = path.read_bytes().partition(b"\n")
    m = mf.loads(body)
    n = len(m)
    table = m._table.table_section()
    v1 = table[:16 * n] + table[24 * n:]
    data = bytearray(manifest_file.encode(manifest_file.Sections(n, False, m.root, None, v1, None, 0, 0)))
    data[8:10] = (1).to_bytes(2, "little")
    import zlib
    data[140:144] = zlib.crc32(bytes(data[:140])).to_bytes(4, "little")
    path.write_bytes(head + b"\n" + bytes(data))
    eng._full_cache.clear()


def test_restore_gives_owners_back_with_their_set_id_bits(where):
    if not owner_settable():
        need("giving files any owner needs root")
    tree = _setid_tree(where / "tree")
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    for mode in ("full", "in-place"):
        out = where / f"out-{mode}"
        if mode == "in-place":
            eng.restore(out, where / "state-out", "s1")  # a first full restore, then one in place
            os.chown(out / "bin" / "su-like", 0, 0)
            os.chmod(out / "bin" / "su-like", 0o755)
        r = eng.restore(out, where / "state-out", "s1", in_place=mode == "in-place")
        assert r.mode == mode
        st = os.lstat(out / "bin" / "su-like")
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 1235, 0o4755), mode
        assert stat.S_IMODE(os.lstat(out / "bin").st_mode) == 0o2755


def test_without_recorded_owners_set_id_bits_are_dropped(where):
    tree = _setid_tree(where / "tree")
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    _as_version_1(eng, "s1")  # a snapshot of an older bodega: nobody knows whose bits they were
    assert not eng.manifest("s1").has_owners
    eng.restore(where / "out", where / "state-out", "s1")
    st = os.lstat(where / "out" / "bin" / "su-like")
    assert stat.S_IMODE(st.st_mode) == 0o755 and st.st_uid == os.geteuid()
    assert stat.S_IMODE(os.lstat(where / "out" / "bin").st_mode) == 0o755
    w = eng.extract("s1", "bin", where / "extracted")
    assert w.files == 2
    assert stat.S_IMODE(os.lstat(where / "extracted" / "su-like").st_mode) == 0o755


def test_a_full_restore_keeps_the_root_mode(where):
    tree = where / "tree"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f").write_bytes(b"x")
    os.chmod(tree, 0o751)
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    (tree / "d" / "f").unlink()
    (tree / "d").rmdir()
    (tree / "other").write_bytes(b"y" * 10)
    ino = tree.stat().st_ino
    r = eng.restore(tree, where / "state", "s1", in_place=False)
    assert r.mode == "full" and tree.stat().st_ino != ino
    assert stat.S_IMODE(tree.stat().st_mode) == 0o751
    assert mf.build(tree).root_hex == eng.info("s1").root


def test_a_directory_swapped_for_a_link_before_its_meta_is_set_stops_the_restore(where, monkeypatch):
    from bodega.storage import materialize as mat

    tree, outside = where / "tree", where / "outside"
    (tree / "d").mkdir(parents=True)
    (tree / "d" / "f").write_bytes(b"x")
    os.chmod(tree / "d", 0o777)
    outside.mkdir()
    os.chmod(outside, 0o700)
    os.utime(outside, ns=(1, 1_000_000_000))
    eng = engine_at(where)
    eng.create(tree, where / "state", "s1")
    (tree / "d" / "f").write_bytes(b"changed")
    swapped = []
    write_files = mat.write_files

    def write_files_then_swap(writer, root, *args, **kw):
        write_files(writer, root, *args, **kw)
        staged = Path(os.fsdecode(root.path))
        os.rename(staged / "d", staged / "d-away")
        os.symlink(outside, staged / "d")
        swapped.append(staged)

    monkeypatch.setattr(mat, "write_files", write_files_then_swap)
    with pytest.raises(errors.UnsafePath):
        eng.restore(tree, where / "state", "s1", in_place=False)
    assert swapped  # the swap happened between the files and the finishing pass
    assert stat.S_IMODE(outside.stat().st_mode) == 0o700 and outside.stat().st_mtime_ns == 1_000_000_000
    assert (tree / "d" / "f").read_bytes() == b"changed"  # the live tree is untouched
    assert not swapped[0].exists()  # the staging is gone


def _hardlinked(root: Path) -> Path:
    (root / "a").mkdir(parents=True)
    (root / "a" / "one").write_bytes(b"shared bytes" * 1000)
    os.link(root / "a" / "one", root / "two")
    os.link(root / "a" / "one", root / "a" / "three")
    (root / "lone").write_bytes(b"lone")
    (root / "big").write_bytes(os.urandom(2 << 20))  # large: on XFS the store reads it, not the scan
    os.link(root / "big", root / "a" / "big-too")
    return root


def _same_inode(*paths: Path) -> bool:
    ids = {(os.lstat(p).st_dev, os.lstat(p).st_ino) for p in paths}
    return len(ids) == 1 and os.lstat(paths[0]).st_nlink == len(paths)


def test_hard_links_come_back_as_links(where):
    tree = _hardlinked(where / "tree")
    eng = engine_at(where)
    info = eng.create(tree, where / "state", "s1")
    eng._full_cache.clear()
    m = eng.manifest("s1")  # read back from the store
    assert m.get("a/three").link == b"a/one" and m.get("two").link == b"a/one"
    assert m.get("a/big-too").link is None and m.get("big").link == b"a/big-too"  # the first in path order
    assert m.get("a/big-too").hash == m.get("big").hash == __import__("blake3").blake3(
        (tree / "big").read_bytes()).digest()
    r = eng.restore(where / "out", where / "state-out", "s1")
    out = where / "out"
    assert r.hardlinks == 3 and _same_inode(out / "a" / "one", out / "a" / "three", out / "two")
    assert _same_inode(out / "big", out / "a" / "big-too")
    assert mf.build(out).root_hex == info.root
    # In place: the links were broken (a copy at one name), the restore links them again.
    (out / "two").unlink()
    (out / "two").write_bytes(b"shared bytes" * 1000)
    r = eng.restore(out, where / "state-out", "s1", in_place=True)
    assert r.mode == "in-place" and _same_inode(out / "a" / "one", out / "a" / "three", out / "two")
    eng.extract("s1", "a", where / "part")
    assert _same_inode(where / "part" / "one", where / "part" / "three")


def test_fifos_and_sockets_are_reported_not_lost_silently(where):
    tree = where / "tree"
    tree.mkdir()
    (tree / "f").write_bytes(b"f")
    os.mkfifo(tree / "pipe")
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(tree / "sock"))
        eng = engine_at(where)
        eng.create(tree, where / "state", "s1")
    r = eng.restore(where / "out", where / "state-out", "s1")
    assert sorted((x["path"], x["kind"]) for x in r.skipped_specials) == [("pipe", "fifo"), ("sock", "socket")]
    assert r.to_dict()["skipped_specials"] == r.skipped_specials
    assert sorted(os.listdir(where / "out")) == ["f"]
    w = eng.extract("s1", "", where / "ex")
    assert sorted(x["kind"] for x in w.skipped) == ["fifo", "socket"]


@pytest.mark.parametrize("case", ["missing parent", "parent is a file", "exists", "exists as a link"])
def test_extract_to_a_bad_destination_is_a_clear_error(ext4_dir, case):
    tree = _hardlinked(ext4_dir / "tree")
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    (ext4_dir / "file").write_bytes(b"x")
    (ext4_dir / "there").mkdir()
    os.symlink(ext4_dir / "there", ext4_dir / "link")
    dest, error = {
        "missing parent": (ext4_dir / "missing" / "dest", errors.PathNotFound),
        "parent is a file": (ext4_dir / "file" / "dest", errors.NotADirectory),
        "exists": (ext4_dir / "there", errors.PathExists),
        "exists as a link": (ext4_dir / "link", errors.PathExists),
    }[case]
    for path in ("", "a", "two"):
        with pytest.raises(error) as info:
            eng.extract("s1", path, dest)
        assert str(dest) in str(info.value) and "\n" not in str(info.value)
    assert os.listdir(ext4_dir / "there") == []


def test_recovery_removes_a_journal_torn_before_its_commit(ext4_dir):
    # A crash while the journal was being written (before its rename) left restore.journal.tmp
    # for ever: recovery rolled back the staging and kept the torn file (found by tests/crash).
    tree = ext4_dir / "tree"
    tree.mkdir()
    (tree / "f").write_bytes(b"data")
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    state = ext4_dir / "state"
    (state / "restore").mkdir()
    (state / "restore.journal.tmp").write_bytes(b'{"format": "bodega-restore-jou')
    assert eng.recover(tree, state) == "rolled back"
    assert [n for n in os.listdir(state) if n.startswith("restore")] == []
    assert (tree / "f").read_bytes() == b"data"


def _loose_tree(root: Path) -> Path:
    """Files a copy-on-write store keeps loose (16 KiB to 1 MiB), in two directories, and a small one."""
    for i in range(6):
        d = root / f"d{i % 2}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.bin").write_bytes(bytes([i + 1]) * (20_000 + 30_000 * i) + os.urandom(64))
        os.chmod(d / f"f{i}.bin", 0o640 if i % 2 else 0o755)
    (root / "small").write_bytes(b"small")
    return root


def test_loose_objects_are_cloned_in_one_batch_each_checked_against_its_hash(cow_dir, monkeypatch):
    tree = _loose_tree(cow_dir / "tree")
    eng = engine_at(cow_dir)
    eng.create(tree, cow_dir / "state", "s1")
    target = eng.manifest("s1")
    assert all(isinstance(eng.store.locate(e.hash), Path) for e in target if e.path.endswith(b".bin"))

    def one_by_one(*args: object) -> None:
        raise AssertionError("a loose object was cloned on its own")

    monkeypatch.setattr(mat.ObjectWriter, "_clone_loose", one_by_one)
    eng.restore(cow_dir / "out", cow_dir / "state-out", "s1")
    assert mf.build(cow_dir / "out").root == target.root  # bytes, modes and mtimes
    # A bit flipped in one loose object: the batch finds it, names the file, publishes nothing.
    damaged = target.get(b"d1/f3.bin")
    flip_bit(eng.store.loose_path(damaged.hash), 30_000)
    with pytest.raises(errors.ObjectCorrupt, match="d1/f3.bin") as info:
        eng.restore(cow_dir / "again", cow_dir / "state-again", "s1")
    assert info.value.details["object"] == damaged.hash.hex()
    assert not (cow_dir / "again").exists()


def test_a_large_object_corrupt_past_what_is_read_ahead_is_refused(cow_dir, monkeypatch):
    """More loose objects in one batch than the native core opens ahead, one of them larger
    than the bytes it asks for ahead: restored bit-exact; a bit flipped late in the large
    object (past what was asked for ahead) is still found, named, and nothing is published."""
    tree = cow_dir / "tree"
    for i in range(11):
        d = tree / f"d{i % 3}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}.bin").write_bytes(os.urandom(20_000 + 10_000 * i))
    (tree / "large.bin").write_bytes(os.urandom(6 << 20))
    eng = engine_at(cow_dir)
    eng.create(tree, cow_dir / "state", "s1")
    target = eng.manifest("s1")
    large = target.get(b"large.bin")
    assert isinstance(eng.store.locate(large.hash), Path)

    def one_by_one(*args: object) -> None:
        raise AssertionError("a loose object was cloned on its own")

    monkeypatch.setattr(mat.ObjectWriter, "_clone_loose", one_by_one)
    eng.restore(cow_dir / "out", cow_dir / "state-out", "s1")
    assert mf.build(cow_dir / "out").root == target.root
    flip_bit(eng.store.loose_path(large.hash), (5 << 20) + 12_345)
    with pytest.raises(errors.ObjectCorrupt, match="large.bin") as info:
        eng.restore(cow_dir / "again", cow_dir / "state-again", "s1")
    assert info.value.details["object"] == large.hash.hex()
    assert not (cow_dir / "again").exists()


def test_loose_objects_are_cloned_without_a_lookup_of_each(cow_dir, monkeypatch):
    """The batch asks the store where all its objects are at once (no stat of each loose
    object): a missing one is found by its clone, then named with the file that needs it."""
    tree = _loose_tree(cow_dir / "tree")
    eng = engine_at(cow_dir)
    eng.create(tree, cow_dir / "state", "s1")
    target = eng.manifest("s1")

    def locate(*args: object, **kwargs: object) -> None:
        raise AssertionError("a loose object was looked up on its own")

    with monkeypatch.context() as m:
        m.setattr(ObjectStore, "locate", locate)
        eng.restore(cow_dir / "out", cow_dir / "state-out", "s1")
    assert mf.build(cow_dir / "out").root == target.root
    gone = target.get(b"d1/f5.bin")
    os.remove(eng.store.loose_path(gone.hash))
    with pytest.raises(errors.ObjectMissing, match="d1/f5.bin") as info:
        eng.restore(cow_dir / "again", cow_dir / "state-again", "s1")
    assert info.value.details["object"] == gone.hash.hex()
    assert not (cow_dir / "again").exists()


def test_a_restore_runs_with_the_cyclic_collector_paused(ext4_dir, monkeypatch):
    """An object per entry: the collector would walk them all again and again, to free nothing."""
    import gc

    tree = ext4_dir / "tree"
    tree.mkdir()
    (tree / "f").write_bytes(b"f")
    eng = engine_at(ext4_dir)
    eng.create(tree, ext4_dir / "state", "s1")
    real, seen = mat.write_tree, []

    def write_tree(*args, **kwargs):
        seen.append(gc.isenabled())
        return real(*args, **kwargs)

    monkeypatch.setattr(mat, "write_tree", write_tree)
    assert gc.isenabled()
    eng.restore(ext4_dir / "out", ext4_dir / "state-out", "s1")
    assert seen == [False] and gc.isenabled()


def test_loose_objects_restored_to_another_volume_are_copied(cow_dir, ext4_dir, monkeypatch):
    """Loose objects of a store on XFS restored to ext4: the batch clone is refused (another
    volume), each file then goes the file-by-file way, which copies."""
    tree = _loose_tree(cow_dir / "tree")
    eng = engine_at(cow_dir)
    eng.create(tree, cow_dir / "state", "s1")
    batches = []
    real = mat.ObjectWriter._clone_loose_many

    def counted(self, *args):
        batches.append(self._clone_many)
        return real(self, *args)

    monkeypatch.setattr(mat.ObjectWriter, "_clone_loose_many", counted)
    eng.restore(ext4_dir / "out", ext4_dir / "state-out", "s1")
    assert mf.build(ext4_dir / "out").root == eng.manifest("s1").root
    assert batches == [True]  # tried once, then file by file
