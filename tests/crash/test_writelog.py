"""The write-log filesystem of the power-loss sweep: what a cut keeps and what it drops."""
from __future__ import annotations

import os

import pytest

from bodega._native.tree import Dir
from conftest import need
from crash import writelog


@pytest.fixture
def mount_dir(tmp_path):
    """A directory with one file written before the mount (durable: it was on the disk)."""
    reason = writelog.missing()
    if reason:
        need(reason)
    home = tmp_path / "home"
    home.mkdir()
    (home / "old").write_bytes(b"on the disk")
    return home


def _write(path, data: bytes, sync: bool) -> None:
    with open(path, "wb") as f:
        f.write(data)
        if sync:
            f.flush()
            os.fsync(f.fileno())


def test_a_cut_drops_data_not_synced_and_keeps_names(mount_dir):
    with writelog.mounted(mount_dir) as mount:
        assert os.path.ismount(mount_dir)
        _write(mount_dir / "new.tmp", b"never synced", sync=False)
        os.rename(mount_dir / "new.tmp", mount_dir / "new")  # published before its data was durable
        _write(mount_dir / "synced", b"synced", sync=True)
        with open(mount_dir / "synced", "ab") as f:
            f.write(b" and more")
        _write(mount_dir / "old", b"rewritten", sync=False)
        os.mkdir(mount_dir / "d")
        _write(mount_dir / "d" / "kept", b"kept", sync=True)
        assert (mount_dir / "new").read_bytes() == b"never synced"  # until the cut, reads see every write
        mount.cut()
    assert not os.path.ismount(mount_dir)
    assert {p.name: p.read_bytes() for p in mount_dir.rglob("*") if p.is_file()} == {
        "new": b"", "synced": b"synced", "old": b"on the disk", "kept": b"kept"}


def test_without_a_cut_every_write_stays(mount_dir):
    with writelog.mounted(mount_dir):
        _write(mount_dir / "new", b"not synced", sync=False)
    assert (mount_dir / "new").read_bytes() == b"not synced"


def test_an_exchange_passes_through(mount_dir):
    """renameat2's flags reach the backing directory (mfusepy alone drops them)."""
    with writelog.mounted(mount_dir):
        _write(mount_dir / "a", b"A", sync=True)
        _write(mount_dir / "b", b"B", sync=True)
        with Dir.open(mount_dir) as d:
            d.rename_at("a", d, "b", exchange=True)
        assert (mount_dir / "a").read_bytes() == b"B"
    assert [(mount_dir / n).read_bytes() for n in ("a", "b")] == [b"B", b"A"]


def test_bodega_flushes_file_by_file_on_fuse(mount_dir):
    """syncfs flushes nothing on a FUSE volume (the kernel passes it to virtiofs only): the
    volume flush says it cannot there, so its callers sync each file."""
    with writelog.mounted(mount_dir) as mount:
        _write(mount_dir / "f", b"data", sync=False)
        with Dir.open(mount_dir) as d:
            assert d.sync_volume() is False
            d.sync_at("f")
        mount.cut()
    assert (mount_dir / "f").read_bytes() == b"data"
