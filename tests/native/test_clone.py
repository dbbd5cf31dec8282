"""bodega._native.clone: files and trees cloned copy-on-write on XFS, copied elsewhere,
identical either way."""
from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest

from bodega import errors
from bodega._native import clone
from treefacts import all_shared, facts, make_sample_tree, none_shared, root_facts

MiB = 1 << 20


def write_sparse(path: Path, size: int = 64 * MiB) -> bytes:
    """A file that is mostly a hole: 4 KiB of data at 1 MiB and 8 KiB at the end."""
    head, tail = os.urandom(4096), os.urandom(8192)
    with open(path, "wb") as f:
        f.seek(MiB)
        f.write(head)
        f.seek(size - len(tail))
        f.write(tail)
    return head + tail


def test_features_name_the_linux_calls():
    assert {"ficlone", "copy_file_range", "statx", "renameat2"} <= clone.features()


# --- copy-on-write on XFS ---------------------------------------------------------------

def test_clone_file_shares_extents_and_space(cow_dir):
    src = cow_dir / "big"
    src.write_bytes(os.urandom(48 * MiB))
    os.sync()
    free_before = shutil.disk_usage(cow_dir).free
    r = clone.clone_file(src, cow_dir / "copy")
    os.sync()
    assert (r.method, r.bytes_cloned, r.bytes_copied) == ("clone", 48 * MiB, 0)
    assert (cow_dir / "copy").read_bytes() == src.read_bytes()
    assert all_shared(cow_dir / "copy") and all_shared(src)
    # A copy would take 48 MiB; a clone takes a few metadata blocks.
    assert free_before - shutil.disk_usage(cow_dir).free < 2 * MiB


def _batch_tree(root: Path) -> None:
    (root / "a" / "b").mkdir(parents=True)
    (root / "a" / "b" / "one").write_bytes(os.urandom(96 << 10))
    (root / "two").write_bytes(os.urandom(40 << 10))
    os.chmod(root / "two", 0o4750)


def test_clone_files_shares_extents_and_reports_the_source_stats(cow_dir):
    src, out = cow_dir / "src", cow_dir / "out"
    _batch_tree(src)
    out.mkdir()
    got = clone.clone_files(src, [b"a/b/one", "two"], out, ["o1", "o2"])
    assert [g.error for g in got] == [None, None]
    for g, rel, name in zip(got, ["a/b/one", "two"], ["o1", "o2"]):
        st = os.lstat(src / rel)
        assert (g.size, g.mtime_ns, g.ctime_ns, g.file_id) == (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)
        assert (out / name).read_bytes() == (src / rel).read_bytes()
        assert all_shared(out / name)
    # data only: a set-uid source does not make a set-uid clone
    assert stat.S_IMODE(os.lstat(out / "o2").st_mode) & 0o6000 == 0


def test_clone_files_gives_each_failure_its_own_error_and_leaves_nothing(cow_dir):
    src, out = cow_dir / "src", cow_dir / "out"
    _batch_tree(src)
    out.mkdir()
    (src / "linked").symlink_to(src / "a")
    got = clone.clone_files(src, ["missing", "linked/b/one", "a", "two"], out, ["o1", "o2", "o3", "o4"])
    assert isinstance(got[0].error, errors.PathNotFound) and got[0].error.filename.endswith("src/missing")
    assert got[1].error is not None  # a link in the path is never followed
    assert isinstance(got[2].error, errors.IsADirectory)
    assert got[3].error is None
    assert sorted(os.listdir(out)) == ["o4"]


def test_clone_files_where_the_volume_cannot_clone_copies_nothing(plain_dir):
    src, out = plain_dir / "src", plain_dir / "out"
    _batch_tree(src)
    out.mkdir()
    got = clone.clone_files(src, ["a/b/one", "two"], out, ["o1", "o2"])
    assert all(isinstance(g.error, errors.NotSupported) for g in got)
    assert os.listdir(out) == []


@pytest.mark.parametrize("paths, names, message", [
    (["../x"], ["o"], "relative path"), (["/etc/passwd"], ["o"], "relative path"), (["x"], ["a/b"], "file name"),
    (["x"], [".."], "file name"), (["x", "y"], ["o"], "one destination name"),
])
def test_clone_files_bad_arguments(tmp_path, paths, names, message):
    with pytest.raises(errors.InvalidInput, match=message):
        clone.clone_files(tmp_path, paths, tmp_path, names)


@pytest.fixture(params=["xfs", "btrfs"])
def reflink_dir(request) -> Path:
    """A fresh directory on each filesystem that clones: XFS (reflink=1) and btrfs."""
    if request.param == "xfs":
        return request.getfixturevalue("cow_dir")
    d = request.getfixturevalue("btrfs_mount") / f"t-{os.getpid()}-{request.node.name}"
    d.mkdir()
    request.addfinalizer(lambda: shutil.rmtree(d, ignore_errors=True))
    return d


def test_clone_tree_on_a_reflink_volume_is_identical_and_shares_extents(reflink_dir):
    cow_dir = reflink_dir
    assert clone.probe_cow(cow_dir) is True
    make_sample_tree(cow_dir / "src")
    r = clone.clone_tree(cow_dir / "src", cow_dir / "dst")
    assert facts(cow_dir / "dst") == facts(cow_dir / "src")
    assert root_facts(cow_dir / "dst") == root_facts(cow_dir / "src")
    assert all_shared(cow_dir / "dst" / "a" / "b" / "data.bin")
    assert r.methods == ["clone"] and r.bytes_copied == 0 and r.bytes_cloned == r.bytes
    assert (r.files, r.dirs, r.symlinks, r.hardlinks) == (5, 5, 4, 2)
    assert os.readlink(cow_dir / "dst" / "etc-link") == "/etc"
    hard = os.stat(cow_dir / "dst" / "hard-top")
    assert hard.st_nlink == 3 and hard.st_ino == os.stat(cow_dir / "dst" / "a" / "f.txt").st_ino


@pytest.mark.parametrize("threads", [1, 2, 4])
def test_thread_counts_give_the_same_tree(cow_dir, threads):
    make_sample_tree(cow_dir / "src", big=64 * 1024)
    for i in range(40):  # enough files for the queue to be shared
        (cow_dir / "src" / "a" / f"n{i}").write_bytes(os.urandom(i * 100))
    r = clone.clone_tree(cow_dir / "src", cow_dir / "dst", threads=threads)
    assert r.threads == threads
    assert facts(cow_dir / "dst") == facts(cow_dir / "src")


def test_never_mode_copies_every_byte_on_xfs(cow_dir):
    (cow_dir / "f").write_bytes(os.urandom(3 * MiB + 5))
    r = clone.clone_file(cow_dir / "f", cow_dir / "g", mode="never")
    assert (r.method, r.bytes_cloned, r.bytes_copied) == ("user_copy", 0, 3 * MiB + 5)
    assert (cow_dir / "g").read_bytes() == (cow_dir / "f").read_bytes()
    assert none_shared(cow_dir / "g")


def test_clone_across_filesystems_falls_back_to_copy(cow_dir, ext4_dir):
    make_sample_tree(cow_dir / "src")
    r = clone.clone_tree(cow_dir / "src", ext4_dir / "dst")
    assert r.bytes_cloned == 0 and r.bytes_copied == r.bytes
    assert "clone" not in r.methods
    assert facts(ext4_dir / "dst") == facts(cow_dir / "src")


def test_require_across_filesystems_fails_and_leaves_nothing(cow_dir, ext4_dir):
    make_sample_tree(cow_dir / "src")
    with pytest.raises(errors.CrossDevice):
        clone.clone_tree(cow_dir / "src", ext4_dir / "dst", mode="require")
    assert os.listdir(ext4_dir) == []


# --- the fallback on filesystems without clone ------------------------------------------

@pytest.fixture(params=["ext4", "tmpfs"])
def plain_dir(request) -> Path:
    return request.getfixturevalue(f"{request.param}_dir")


def test_fallback_copies_and_keeps_metadata(plain_dir):
    make_sample_tree(plain_dir / "src")
    r = clone.clone_tree(plain_dir / "src", plain_dir / "dst")
    assert r.methods == ["kernel_copy"]  # copy_file_range works on ext4 and tmpfs
    assert r.bytes_cloned == 0 and r.bytes_copied == r.bytes
    assert facts(plain_dir / "dst") == facts(plain_dir / "src")
    assert root_facts(plain_dir / "dst") == root_facts(plain_dir / "src")


@pytest.mark.parametrize("mode,method", [("auto", "kernel_copy"), ("never", "user_copy")])
def test_sparse_file_stays_sparse(plain_dir, mode, method):
    data = write_sparse(plain_dir / "sparse")
    r = clone.clone_file(plain_dir / "sparse", plain_dir / "copy", mode=mode)
    assert r.method == method
    assert r.bytes_copied == len(data)  # only the data segments, never the holes
    st = os.stat(plain_dir / "copy")
    assert st.st_size == 64 * MiB
    assert st.st_blocks * 512 <= 256 * 1024
    assert (plain_dir / "copy").read_bytes() == (plain_dir / "sparse").read_bytes()


def test_require_fails_where_the_volume_cannot_clone(plain_dir):
    (plain_dir / "f").write_bytes(b"x" * 10000)
    with pytest.raises(errors.NotSupported):
        clone.clone_file(plain_dir / "f", plain_dir / "g", mode="require")
    assert not (plain_dir / "g").exists()


def test_empty_file_needs_no_data(plain_dir):
    (plain_dir / "e").touch()
    os.chmod(plain_dir / "e", 0o600)
    r = clone.clone_file(plain_dir / "e", plain_dir / "f")
    assert (r.method, r.bytes_cloned, r.bytes_copied) == ("none", 0, 0)
    assert stat.S_IMODE(os.stat(plain_dir / "f").st_mode) == 0o600


# --- volumes ----------------------------------------------------------------------------

def test_fs_info_and_probe(cow_dir, ext4_dir, tmpfs_dir):
    xfs = clone.fs_info(cow_dir)
    assert (xfs.fs_name, xfs.can_clone) == ("xfs", True)
    assert xfs.volume_id == os.stat(cow_dir).st_dev and xfs.bytes_total >= xfs.bytes_free > 0
    assert (clone.fs_info(ext4_dir).fs_name, clone.probe_cow(ext4_dir)) == ("ext4", False)
    assert (clone.fs_info(tmpfs_dir).fs_name, clone.probe_cow(tmpfs_dir)) == ("tmpfs", False)
    # The trial leaves nothing behind.
    assert os.listdir(cow_dir) == [] and os.listdir(ext4_dir) == []


def test_fs_info_of_a_missing_directory(tmp_path):
    with pytest.raises(errors.PathNotFound) as exc:
        clone.fs_info(tmp_path / "missing")
    assert exc.value.filename == str(tmp_path / "missing")


# --- bad arguments ----------------------------------------------------------------------

@pytest.mark.parametrize("kwargs,message", [
    ({"mode": "fast"}, "mode must be one of auto, require, never"),
    ({"threads": 0}, "threads must be an integer from 1 to 16"),
    ({"threads": "2"}, "threads must be an integer"),
    ({"progress": 3}, "progress must be callable"),
])
def test_bad_arguments(tmp_path, kwargs, message):
    (tmp_path / "s").mkdir()
    with pytest.raises(errors.InvalidInput, match=message):
        clone.clone_tree(tmp_path / "s", tmp_path / "d", **kwargs)
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("path", ["", "a\0b", 3])
def test_bad_paths(tmp_path, path):
    with pytest.raises(errors.InvalidInput):
        clone.clone_tree(path, tmp_path / "d")


def test_clone_file_refuses_links_and_directories(tmp_path):
    (tmp_path / "f").write_text("x")
    os.symlink("f", tmp_path / "link")
    (tmp_path / "d").mkdir()
    with pytest.raises(errors.UnsafePath):
        clone.clone_file(tmp_path / "link", tmp_path / "out")
    with pytest.raises(errors.IsADirectory):
        clone.clone_file(tmp_path / "d", tmp_path / "out")
    with pytest.raises(errors.PathExists) as exc:
        clone.clone_file(tmp_path / "f", tmp_path / "d")
    assert exc.value.filename == str(tmp_path / "d")
    assert not (tmp_path / "out").exists()
