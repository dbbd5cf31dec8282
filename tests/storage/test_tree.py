"""The no-follow tree API: every operation by handle, a link anywhere in a path never followed,
creation exclusive, modes exact; and nothing outside the tree ever changes."""
from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage.tree import Tree, owner_settable, remove_path, split
import loopfs
from conftest import need
from treefacts import facts, root_facts


@pytest.fixture
def world(tmp_path):
    """(tree root, outside sentinel dir): the tree holds a/ and a link `a/out` to the sentinel."""
    outside = tmp_path / "outside"
    (outside / "x").mkdir(parents=True)
    (outside / "x" / "secret").write_bytes(b"keep me")
    (outside / "file").write_bytes(b"outside file")
    os.chmod(outside / "file", 0o644)
    root = tmp_path / "tree"
    (root / "a").mkdir(parents=True)
    (root / "a" / "f").write_bytes(b"inside")
    os.symlink(outside, root / "a" / "out")
    os.symlink(outside / "file", root / "a" / "flink")
    return root, outside


def sentinel(outside: Path) -> tuple:
    return facts(outside), root_facts(outside)


def test_create_write_read_and_exact_modes(tmp_path):
    old = os.umask(0o077)
    try:
        with Tree.open(tmp_path) as t:
            t.makedirs(b"a/b/c", mode=0o755)
            t.makedirs(b"a/b/c")  # existing: fine
            st = t.write_file(b"a/b/f", [b"hel", b"lo"], mode=0o644, mtime_ns=1_500_000_000_000_000_000)
            assert st.kind == "file" and st.size == 5 and stat.S_IMODE(st.mode) == 0o644
            assert st.mtime_ns == 1_500_000_000_000_000_000
            with t.create(b"a/g", mode=0o640, mtime_ns=1_400_000_000_000_000_000) as f:
                f.write(b"piece")
                f.sync()
            t.mkdir(b"a/d", 0o700)
            t.symlink(b"a/l", b"b/f")
            t.hardlink(b"a/b/f", b"a/h")
            assert t.read_bytes(b"a/h") == b"hello"
            assert t.readlink(b"a/l") == b"b/f"
            assert t.lstat(b"a/l").kind == "symlink" and t.lstat(b"a/missing") is None
            assert t.lstat(b"a/b/f").nlink == 2
            assert sorted(n for n, _ in t.listdir(b"a")) == [b"b", b"d", b"g", b"h", b"l"]
            t.set_meta(b"a/d", mode=0o751, mtime_ns=1_300_000_000_000_000_000)
            t.set_meta(b"", mode=0o705)
            t.sync(b"a")
        assert (tmp_path / "a" / "g").read_bytes() == b"piece"
        assert stat.S_IMODE(os.stat(tmp_path / "a" / "g").st_mode) == 0o640
        assert os.stat(tmp_path / "a" / "g").st_mtime_ns == 1_400_000_000_000_000_000
        assert stat.S_IMODE(os.stat(tmp_path / "a" / "b" / "c").st_mode) == 0o700  # makedirs: the umask applies
        assert stat.S_IMODE(os.stat(tmp_path / "a" / "d").st_mode) == 0o751
        assert os.stat(tmp_path / "a" / "d").st_mtime_ns == 1_300_000_000_000_000_000
        assert stat.S_IMODE(os.stat(tmp_path).st_mode) == 0o705
    finally:
        os.umask(old)
        os.chmod(tmp_path, 0o755)


def test_nothing_existing_is_overwritten(world):
    root, outside = world
    before = sentinel(outside)
    with Tree.open(root) as t:
        for call in (lambda: t.write_file(b"a/f", b"x"), lambda: t.write_file(b"a/flink", b"x"),
                     lambda: t.write_file(b"a/out", b"x"), lambda: t.mkdir(b"a/f"), lambda: t.symlink(b"a/f", b"y"),
                     lambda: t.hardlink(b"a/f", b"a/flink"), lambda: t.rename(b"a/f", b"a/flink", noreplace=True)):
            with pytest.raises(errors.PathExists):
                call()
        with pytest.raises(errors.PathExists):
            with t.create(b"a/flink") as f:
                f.write(b"never")
    assert (root / "a" / "f").read_bytes() == b"inside"
    assert sentinel(outside) == before


@pytest.mark.parametrize("op", [
    "makedirs", "mkdir", "write_file", "create", "symlink", "hardlink_src", "hardlink_dst", "rename_src",
    "rename_dst", "set_meta", "remove", "remove_tree", "lstat", "listdir", "open_read", "subtree", "readlink",
    "sync",
])
def test_a_link_in_a_path_is_never_followed(world, op):
    root, outside = world
    before = sentinel(outside)
    calls = {
        "makedirs": lambda t: t.makedirs(b"a/out/x/new"),
        "mkdir": lambda t: t.mkdir(b"a/out/new"),
        "write_file": lambda t: t.write_file(b"a/out/new", b"x"),
        "create": lambda t: t.create(b"a/out/new").__enter__(),
        "symlink": lambda t: t.symlink(b"a/out/new", b"x"),
        "hardlink_src": lambda t: t.hardlink(b"a/out/file", b"a/new"),
        "hardlink_dst": lambda t: t.hardlink(b"a/f", b"a/out/new"),
        "rename_src": lambda t: t.rename(b"a/out/file", b"a/stolen"),
        "rename_dst": lambda t: t.rename(b"a/f", b"a/out/planted"),
        "set_meta": lambda t: t.set_meta(b"a/out/file", mode=0o777),
        "remove": lambda t: t.remove(b"a/out/file"),
        "remove_tree": lambda t: t.remove_tree(b"a/out/x"),
        "lstat": lambda t: t.lstat(b"a/out/file"),
        "listdir": lambda t: t.listdir(b"a/out"),
        "open_read": lambda t: t.open_read(b"a/out/file"),
        "subtree": lambda t: t.subtree(b"a/out"),
        "readlink": lambda t: t.readlink(b"a/out/x"),
        "sync": lambda t: t.sync(b"a/out"),
    }
    with Tree.open(root) as t:
        with pytest.raises(errors.UnsafePath) as info:
            calls[op](t)
    assert "a/out" in str(info.value)
    assert sentinel(outside) == before
    assert (root / "a" / "f").read_bytes() == b"inside"


def test_the_last_component_link_is_the_link_itself(world):
    root, outside = world
    before = sentinel(outside)
    with Tree.open(root) as t:
        t.set_meta(b"a/flink", mode=0o600, mtime_ns=1_000_000_000)  # the link's own time; its mode left
        assert t.lstat(b"a/flink").mtime_ns == 1_000_000_000
        with pytest.raises(errors.UnsafePath):
            t.open_read(b"a/flink")
        t.remove(b"a/flink")
        t.remove_tree(b"a/out")
        assert t.lstat(b"a/flink") is None and t.lstat(b"a/out") is None
    assert sentinel(outside) == before


def test_remove_tree_never_enters_a_link_and_removes_read_only_dirs(world):
    root, outside = world
    before = sentinel(outside)
    (root / "a" / "ro" / "deep").mkdir(parents=True)
    (root / "a" / "ro" / "deep" / "f").write_bytes(b"x")
    os.symlink(outside / "x", root / "a" / "ro" / "deep" / "into-outside")
    os.chmod(root / "a" / "ro" / "deep", 0o500)
    with Tree.open(root) as t:
        t.remove_tree(b"a")
        assert t.listdir() == []
    assert sentinel(outside) == before


def test_a_failed_write_leaves_no_file(tmp_path):
    def pieces():
        yield b"first"
        raise errors.Cancelled("stop")

    with Tree.open(tmp_path) as t:
        with pytest.raises(errors.Cancelled):
            t.write_file(b"f", pieces())
        with pytest.raises(RuntimeError):
            with t.create(b"g") as f:
                f.write(b"half")
                raise RuntimeError("boom")
        assert t.lstat(b"f") is None and t.lstat(b"g") is None


def test_a_write_that_fails_after_its_file_was_created_leaves_no_file(tmp_path):
    """write_file of bytes is one native call (create, write, meta, stat): when the write fails
    (a full volume: the file is created, its data finds no room), the file is removed."""
    reason = loopfs.can_mount()
    if reason:
        need(reason)
    lm = loopfs.mount("ext4", 64)
    try:
        loopfs.fill(lm.path / "filler")
        with Tree.open(lm.path) as t:
            with pytest.raises(errors.NoSpace):
                t.write_file(b"f", b"x" * (4 << 20), mode=0o644)
            assert t.lstat(b"f") is None
    finally:
        loopfs.unmount(lm)


def test_rename_replace_noreplace_exchange_and_move(tmp_path):
    (tmp_path / "t1").mkdir()
    (tmp_path / "t2").mkdir()
    with Tree.open(tmp_path / "t1") as t, Tree.open(tmp_path / "t2") as u:
        t.write_file(b"a", b"A")
        t.write_file(b"b", b"B")
        t.mkdir(b"d")
        t.rename(b"a", b"b")
        assert t.read_bytes(b"b") == b"A" and t.lstat(b"a") is None
        t.rename(b"b", b"d", exchange=True)
        assert t.lstat(b"d").kind == "file" and t.lstat(b"b").kind == "dir"
        t.move(b"d", u, b"moved", noreplace=True)
        assert u.read_bytes(b"moved") == b"A"
        with pytest.raises(errors.InvalidInput):
            t.rename(b"b", b"x", noreplace=True, exchange=True)


@pytest.mark.parametrize("bad", [b"/abs", b"a/../b", b"a//b", b".", b"a/", b"..", b"a\0b", b"a\\b"])
def test_malformed_paths_are_refused(tmp_path, bad):
    with Tree.open(tmp_path) as t:
        with pytest.raises(errors.InvalidInput):
            t.write_file(bad, b"x")
    assert os.listdir(tmp_path) == []


def test_paths_and_roots(tmp_path):
    assert split(b"") == [] and split("a/b") == [b"a", b"b"]
    os.symlink(tmp_path, tmp_path.parent / f"{tmp_path.name}-link")
    with pytest.raises(errors.UnsafePath):
        Tree.open(tmp_path.parent / f"{tmp_path.name}-link")
    (tmp_path / "file").write_bytes(b"x")
    with pytest.raises(errors.NotADirectory):
        Tree.open(tmp_path / "file")
    with pytest.raises(errors.PathNotFound):
        Tree.open(tmp_path / "missing")
    with Tree.open(tmp_path) as t:
        with pytest.raises(errors.InvalidInput):
            t.remove(b"")
        with pytest.raises(errors.PathNotFound):
            t.remove(b"missing")
    with pytest.raises(errors.InternalError):
        t.lstat(b"file")  # closed


def test_owner_then_set_id_bits(tmp_path):
    with Tree.open(tmp_path) as t:
        st = t.write_file(b"f", b"x", mode=0o4755, uid=4242, gid=4243)
        t.write_file(b"g", b"x", mode=0o644)
        t.set_meta(b"g", uid=4242, gid=4243, mode=0o2755)
        g = t.lstat(b"g")
    if not owner_settable():
        assert st.uid == os.geteuid()  # not privileged: the owner is left as created
        return
    assert (st.uid, st.gid, stat.S_IMODE(st.mode)) == (4242, 4243, 0o4755)
    assert (g.uid, g.gid, stat.S_IMODE(g.mode)) == (4242, 4243, 0o2755)


def test_remove_path_removes_a_tree_and_never_follows_a_link(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep").write_bytes(b"precious")
    staging = tmp_path / "staging"
    (staging / "a" / "b").mkdir(parents=True)
    (staging / "a" / "b" / "f").write_bytes(b"x")
    (staging / "a" / "out").symlink_to(outside)
    remove_path(staging)
    assert not staging.exists() and (outside / "keep").read_bytes() == b"precious"
    remove_path(staging)  # already gone: fine
    remove_path(tmp_path / "no" / "parent")
    link = tmp_path / "link"
    link.symlink_to(outside)
    remove_path(link)  # the link itself goes, its target stays
    assert not link.is_symlink() and (outside / "keep").read_bytes() == b"precious"



def test_write_files_writes_a_batch_never_through_a_link_and_stops_when_told(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "a/b").mkdir(parents=True)
    outside.mkdir()
    os.symlink(outside, root / "via")
    with Tree.open(root) as t:
        stats = t.root.write_files([(b"top", b"1", 0o600, 1_600_000_000_000_000_000),
                                    (b"a/b/deep", memoryview(b"deep"), 0o755, 1_600_000_000_000_000_000)])
        assert [(s.size, s.mtime_ns) for s in stats] == [(1, 1_600_000_000_000_000_000),
                                                         (4, 1_600_000_000_000_000_000)]
        assert stats[1].file_id == (root / "a/b/deep").stat().st_ino
        with pytest.raises(errors.UnsafePath):
            t.root.write_files([(b"via/escaped", b"x", 0o644, 0)])
        seen = []

        def stop(files, nbytes):
            seen.append((files, nbytes))
            raise errors.Cancelled("stop")

        with pytest.raises(errors.Cancelled):
            t.root.write_files([(b"one", b"11", 0o644, 0), (b"two", b"2", 0o644, 0)], stop, 0)
    assert (root / "a/b/deep").read_bytes() == b"deep"
    assert stat.S_IMODE((root / "top").stat().st_mode) == 0o600
    assert (root / "top").stat().st_mtime_ns == 1_600_000_000_000_000_000
    assert list(outside.iterdir()) == []
    assert seen == [(1, 2)] and (root / "one").exists() and not (root / "two").exists()


def test_create_and_finish_dirs_give_each_its_meta_never_through_a_link(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    os.chmod(outside, 0o755)
    os.utime(outside, ns=(1, 1_000_000_000))
    dirs = [(b"a", 0o500, 1_500_000_000_000_000_000), (b"a/b", 0o750, 1_600_000_000_000_000_000),
            (b"a/b/c", 0o700, 1_700_000_000_000_000_000), (b"z", 0o755, 1_400_000_000_000_000_000)]
    with Tree.open(root) as t:
        t.root.create_dirs([p for p, _, _ in dirs])
        assert stat.S_IMODE((root / "a/b").stat().st_mode) == 0o700  # owner-only until finished
        stats = t.root.finish_dirs(dirs)
        # each after its subdirectories: a read-only parent is set last, no mtime moves after
        assert [(stat.S_IMODE(s.mode), s.mtime_ns) for s in stats] == [(m, t_) for _, m, t_ in dirs]
        assert stats[1].file_id == (root / "a/b").stat().st_ino
        os.chmod(root / "a", 0o700)
        os.rename(root / "a/b", root / "a/moved")
        os.symlink(outside, root / "a/b")  # a directory swapped for a link before the finishing pass
        with pytest.raises(errors.UnsafePath):
            t.root.finish_dirs(dirs[:2])
        with pytest.raises(errors.UnsafePath):
            t.root.create_dirs([b"a/b/escaped"])
        seen = []

        def stop(done, nbytes):
            seen.append(done)
            raise errors.Cancelled("stop")

        with pytest.raises(errors.Cancelled):
            t.root.create_dirs([b"one", b"two"], 0o700, stop, 0)
    assert list(outside.iterdir()) == []
    assert stat.S_IMODE(outside.stat().st_mode) == 0o755 and outside.stat().st_mtime_ns == 1_000_000_000
    assert seen == [1] and (root / "one").is_dir() and not (root / "two").exists()
