"""The platform calls the Python layers reach only through bodega._native: whole-file locks,
positioned reads, durable files by name, process liveness."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from bodega import errors
from bodega._native.process import pid_alive
from bodega._native.tree import Dir


def test_lock_conflicts_between_two_opens_and_goes_with_close(tmp_path):
    (tmp_path / "lock").write_bytes(b"")
    with Dir.open(tmp_path) as d:
        a, b = d.open_read_at("lock"), d.open_read_at("lock")
        assert a.lock(False) and b.lock(False)  # shared with shared
        c = d.open_read_at("lock")
        assert c.lock(True) is False  # exclusive refused at once, not an error
        a.close()
        b.close()
        assert c.lock(True) is True
        assert d.open_read_at("lock").lock(False) is False
        c.close()


def test_lock_is_held_across_processes(tmp_path):
    (tmp_path / "lock").write_bytes(b"")
    code = ("import sys\nfrom bodega._native.tree import Dir\n"
            "f = Dir.open(sys.argv[1]).open_read_at('lock')\nassert f.lock(True)\n"
            "print('held', flush=True)\nsys.stdin.read()\n")
    child = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "held"
        with Dir.open(tmp_path) as d, d.open_read_at("lock") as f:
            assert f.lock(False) is False
            child.stdin.close()  # the child ends: its lock goes with it
            assert child.wait(timeout=60) == 0
            assert f.lock(True) is True
    finally:
        child.kill()
        child.wait()


def test_pread_reads_at_an_offset_without_moving(tmp_path):
    (tmp_path / "f").write_bytes(b"0123456789")
    with Dir.open(tmp_path) as d, d.open_read_at("f") as f:
        assert f.pread(3, 4) == b"456"
        assert f.pread(100, 8) == b"89"  # short only at the end
        assert f.pread(5, 10) == b"" and f.pread(0, 0) == b""
        assert f.read(2) == b"01"  # the position did not move
        with pytest.raises(errors.InvalidInput):
            f.pread(-1, 0)


def test_pread_into_fills_a_buffer_at_an_offset_without_moving(tmp_path):
    (tmp_path / "f").write_bytes(b"0123456789")
    buf = bytearray(4)
    with Dir.open(tmp_path) as d, d.open_read_at("f") as f:
        assert f.pread_into(buf, 3) == 4 and buf == b"3456"
        assert f.pread_into(memoryview(buf)[1:], 8) == 2 and buf == b"3896"  # short only at the end
        assert f.pread_into(buf, 10) == 0 and buf == b"3896"
        assert f.read(2) == b"01"  # the position did not move
        with pytest.raises(errors.InvalidInput):
            f.pread_into(buf, -1)
        with pytest.raises(BufferError):
            f.pread_into(b"read-only", 0)


def test_sync_at_flushes_a_file_and_refuses_a_link(tmp_path):
    (tmp_path / "f").write_bytes(b"data")
    os.symlink("f", tmp_path / "l")
    with Dir.open(tmp_path) as d:
        d.sync_at("f")
        with pytest.raises(errors.UnsafePath):
            d.sync_at("l")
        with pytest.raises(errors.PathNotFound):
            d.sync_at("missing")


def test_pid_alive_sees_a_zombie_as_dead():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    assert pid_alive(os.getpid())
    # wait for the end without reaping: the child stays a zombie, which kill(pid, 0) still finds
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)
    os.kill(child.pid, 0)
    assert not pid_alive(child.pid)
    child.wait()
    assert not pid_alive(0) and not pid_alive(1 << 40)
    with pytest.raises(errors.InvalidInput):
        pid_alive(-1)
