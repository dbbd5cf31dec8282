"""The atomic writer replaces only regular files: devices and fifos are written through, links refused."""
from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage.atomic_file import write_file_atomic
from conftest import need


def test_a_regular_file_is_replaced_whole_and_no_temp_file_stays(tmp_path):
    target = tmp_path / "out"
    target.write_bytes(b"old")
    inode = target.stat().st_ino
    write_file_atomic(target, b"new" * 1000, through_special=True)
    assert target.read_bytes() == b"new" * 1000 and target.stat().st_ino != inode  # renamed over, not rewritten
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


@pytest.mark.parametrize("through_special", [False, True])
def test_a_symlink_at_the_target_is_refused_and_nothing_changes(tmp_path, through_special):
    outside = tmp_path / "outside"
    outside.write_bytes(b"precious")
    link = tmp_path / "out"
    link.symlink_to(outside)
    with pytest.raises(errors.UnsafePath, match="symbolic link"):
        write_file_atomic(link, b"x", through_special=through_special)
    assert link.is_symlink() and os.readlink(link) == str(outside) and outside.read_bytes() == b"precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "outside"]


def test_a_dangling_symlink_is_refused_too(tmp_path):
    link = tmp_path / "out"
    link.symlink_to(tmp_path / "would-be-created")
    with pytest.raises(errors.UnsafePath):
        write_file_atomic(link, b"x", through_special=True)
    assert not (tmp_path / "would-be-created").exists()


def test_dev_null_is_written_through_and_stays_a_device():
    write_file_atomic(Path("/dev/null"), b"x" * 100_000, through_special=True)
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_dev_full_is_no_space_and_stays_a_device():
    if not Path("/dev/full").exists():
        need("/dev/full is missing")
    with pytest.raises(errors.NoSpace, match="/dev/full"):
        write_file_atomic(Path("/dev/full"), b"x", through_special=True)
    assert stat.S_ISCHR(os.lstat("/dev/full").st_mode)


def test_a_char_device_made_here_is_written_through_not_replaced(tmp_path):
    if os.geteuid() != 0:
        need("mknod of a character device needs root")
    dev = tmp_path / "null-here"
    os.mknod(dev, stat.S_IFCHR | 0o600, os.makedev(1, 3))  # the null device's numbers on Linux
    write_file_atomic(dev, b"data", through_special=True)
    st = os.lstat(dev)
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == os.makedev(1, 3)
    assert [p.name for p in tmp_path.iterdir()] == ["null-here"]


def test_a_fifo_is_written_through_to_its_reader(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    write_file_atomic(fifo, b"through the pipe" * 10_000, through_special=True)
    reader.join(timeout=60)
    assert got == [b"through the pipe" * 10_000]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_internal_writes_refuse_special_files_instead_of_blocking(tmp_path):
    fifo = tmp_path / "manifest.json"
    os.mkfifo(fifo)
    with pytest.raises(errors.SpecialFile, match="not replaced"):
        write_file_atomic(fifo, b"{}")
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_a_directory_at_the_target_is_is_a_directory(tmp_path):
    with pytest.raises(errors.IsADirectory):
        write_file_atomic(tmp_path, b"x", through_special=True)


def test_a_target_under_a_file_is_not_a_directory(tmp_path):
    f = tmp_path / "f"
    f.write_bytes(b"x")
    with pytest.raises(errors.NotADirectory):
        write_file_atomic(f / "out", b"x", through_special=True)
    assert f.read_bytes() == b"x"
