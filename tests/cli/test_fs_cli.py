"""`bodega fs clone`: a summary for people, JSON for scripts, one clear line per error."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bodega import errors
from treefacts import all_shared, facts, make_sample_tree

from subprocesses import SRC  # the bodega this run imports: installed in CI, src/ in a checkout


def bodega(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bodega", *args], capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=str(SRC)), stdin=subprocess.DEVNULL)


def test_clone_prints_a_summary(cow_dir):
    make_sample_tree(cow_dir / "src")
    done = bodega("fs", "clone", str(cow_dir / "src"), str(cow_dir / "dst"))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("cloned 5 files, 5 directories, 4 symlinks, 2 hardlinks in ")
    assert lines[0].endswith(" MB/s)")
    assert lines[1] == "3.0 MiB: 3.0 MiB cloned, 0 B copied (clone)"
    assert done.stderr == ""  # no bar when stderr is not a terminal
    assert facts(cow_dir / "dst") == facts(cow_dir / "src")
    assert all_shared(cow_dir / "dst" / "a" / "b" / "data.bin")


def test_clone_json_on_a_volume_without_clone(ext4_dir):
    make_sample_tree(ext4_dir / "src")
    os.mkfifo(ext4_dir / "src" / "pipe")
    done = bodega("fs", "clone", "--json", "--threads", "1", str(ext4_dir / "src"), str(ext4_dir / "dst"))
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert (out["files"], out["dirs"], out["threads"]) == (5, 5, 1)
    assert out["bytes_cloned"] == 0 and out["bytes_copied"] == out["bytes"] > 3 << 20
    assert out["methods"] == ["kernel_copy"] and out["specials"] == [str(ext4_dir / "src" / "pipe")]
    assert out["seconds"] > 0


def test_never_mode_from_the_command_line(cow_dir):
    make_sample_tree(cow_dir / "src")
    done = bodega("fs", "clone", "--json", "--mode", "never", str(cow_dir / "src"), str(cow_dir / "dst"))
    assert json.loads(done.stdout)["methods"] == ["user_copy"]


@pytest.mark.parametrize("case,error", [
    ("exists", errors.PathExists),
    ("missing", errors.PathNotFound),
    ("require", errors.NotSupported),
    ("link", errors.UnsafePath),
])
def test_errors_print_one_line_and_exit_with_their_code(tmp_path, case, error):
    make_sample_tree(tmp_path / "src")
    src, dst, extra = tmp_path / "src", tmp_path / "dst", []
    if case == "exists":
        dst.mkdir()
    elif case == "missing":
        src = tmp_path / "nope"
    elif case == "require":
        extra = ["--mode", "require"]
    elif case == "link":
        os.symlink(src, tmp_path / "link")
        src = tmp_path / "link"
    done = bodega("fs", "clone", *extra, str(src), str(dst))
    assert done.returncode == error.exit_code
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("bodega: error: ")
    assert str(dst if case == "exists" else src) in lines[0] or case == "require"
    assert not [n for n in os.listdir(tmp_path) if n.startswith(".bodega-staging-")]
    if case != "exists":
        assert not dst.exists()


def test_error_as_json(tmp_path):
    done = bodega("fs", "clone", "--json", str(tmp_path / "nope"), str(tmp_path / "dst"))
    assert done.returncode == errors.PathNotFound.exit_code
    err = json.loads(done.stderr)["error"]
    assert err["type"] == "PathNotFound" and err["path"] == str(tmp_path / "nope")


def test_bad_mode_is_a_usage_error(tmp_path):
    done = bodega("fs", "clone", "--mode", "fast", str(tmp_path), str(tmp_path / "d"))
    assert done.returncode == 2 and "Invalid value for '--mode'" in done.stderr
