"""The background flush of a restore: the volume is written back while files are written, and
an error a background flush met fails the restore (a later flush may never report it)."""
from __future__ import annotations

import errno
import threading
from pathlib import Path

import pytest

from bodega import errors
from bodega._native import features
from bodega.storage import flusher
from bodega.storage import materialize as mat
from bodega.storage import restore
from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore
from bodega.storage.tree import Dir
from conftest import need


@pytest.fixture(autouse=True)
def _syncfs():
    if "syncfs" not in features:
        need("this system cannot flush a volume in one call (no background flush there)")


class FakeDir:
    """Counts its flushes; fails them with error when given one."""

    def __init__(self, error: BaseException | None = None) -> None:
        self.flushed = threading.Event()
        self.error = error

    def sync_volume(self) -> bool:
        self.flushed.set()
        if self.error is not None:
            raise self.error
        return True


def test_the_volume_is_flushed_while_the_block_runs():
    d = FakeDir()
    with flusher.flushing(d, every_s=0.01):
        assert d.flushed.wait(10)


def test_nothing_is_flushed_after_the_block():
    d = FakeDir()
    with flusher.flushing(d, every_s=3600):
        pass
    assert not d.flushed.wait(0.05)


def test_an_error_of_a_background_flush_fails_the_block():
    d = FakeDir(errors.storage_error(errno.EIO, "/vol", "syncfs"))
    with pytest.raises(errors.StorageError, match="syncfs"):
        with flusher.flushing(d, every_s=0.01):
            assert d.flushed.wait(10)


def test_the_block_s_own_error_wins():
    d = FakeDir(errors.storage_error(errno.EIO, "/vol", "syncfs"))
    with pytest.raises(KeyError):
        with flusher.flushing(d, every_s=0.01):
            assert d.flushed.wait(10)
            raise KeyError("the block's")


@pytest.mark.parametrize("in_place", [False, True])
def test_a_restore_flushes_its_volume_while_it_writes_its_files(ext4_dir, monkeypatch, in_place):
    """Both ways of restoring: the full one (the whole tree staged) and the one in place."""
    tree = ext4_dir / "tree"
    (tree / "d").mkdir(parents=True)
    for i in range(20):
        (tree / "d" / f"f{i}").write_bytes(b"x" * (100 + i))
    eng = SnapshotEngine(ObjectStore(ext4_dir / "store"))
    eng.create(tree, ext4_dir / "state", "s1")
    if in_place:
        (tree / "d" / "f0").write_bytes(b"changed")
    flushed_while_writing = []
    real_flushing, real_write_files = flusher.flushing, mat.write_files
    writing = threading.Event()
    flushed = threading.Event()

    class Watched:
        """The restore's directory, its flushes noted when they come while files are written."""

        def __init__(self, d: Dir) -> None:
            self.d = d

        def sync_volume(self) -> bool:
            if writing.is_set():
                flushed.set()
            return self.d.sync_volume()

    def write_files(*args, **kwargs):
        writing.set()
        try:
            real_write_files(*args, **kwargs)
            flushed_while_writing.append(flushed.wait(10))
        finally:
            writing.clear()

    monkeypatch.setattr(restore, "flushing", lambda d: real_flushing(Watched(d), every_s=0.001))
    monkeypatch.setattr(mat, "write_files", write_files)
    out = tree if in_place else ext4_dir / "out"
    result = eng.restore(out, ext4_dir / ("state" if in_place else "state-out"), "s1", in_place=in_place or None)
    assert result.mode == ("in-place" if in_place else "full")
    assert flushed_while_writing == [True]
    assert (out / "d" / "f0").read_bytes() == b"x" * 100
