"""The counted write-type steps (storage/faults.py over native bd_fault.h): one count for the
native core and the Python layers, injected errors that name the path, and a real kill that
logs where it landed."""
from __future__ import annotations

import os
import signal

import pytest

from bodega import errors
from bodega.storage import faults
from bodega.storage.tree import Tree
from subprocesses import python_child


def _lines(log) -> list[str]:
    return log.read_text().splitlines()


def test_native_and_python_steps_share_one_count(tmp_path):
    log = tmp_path / "steps.log"
    (tmp_path / "t").mkdir()
    with Tree.open(tmp_path / "t") as t, faults.stepping("trace", log):
        t.write_file("native", b"abc")                     # native: create, write, meta
        (tmp_path / "py").write_bytes(b"x")                # Python: create (audited open)
        os.rename(tmp_path / "py", tmp_path / "py2")       # Python: rename
        t.rename("native", "native2")                      # native: rename
        faults.step("commit", "catalogue")                 # a catalogue commit
        counted = faults.step_count()
    kinds = [line.split()[1] for line in _lines(log)]
    numbers = [int(line.split()[0]) for line in _lines(log)]
    assert numbers == list(range(1, counted + 1))          # one count, no gaps, no repeats
    assert kinds[0] == "create" and "write" in kinds and kinds[-3:] == ["rename", "rename", "commit"]
    assert kinds.count("create") == 2
    assert faults.step_count() == 0                        # disarmed after the block


@pytest.mark.parametrize("plan, error", [("ENOSPC@write:1", errors.NoSpace), ("EIO@create:1", errors.StorageError),
                                         ("EACCES@create:1", errors.AccessDenied)])
def test_an_injected_native_error_names_the_path_and_leaves_nothing(tmp_path, plan, error):
    (tmp_path / "t").mkdir()
    with Tree.open(tmp_path / "t") as t, faults.stepping(plan):
        with pytest.raises(error) as info:
            t.write_file("sub-file", b"data")
    assert "sub-file" in str(info.value) and "injected" in str(info.value)
    assert os.listdir(tmp_path / "t") == []                # the half-made file was removed


def test_an_injected_python_error_is_a_storage_error_naming_the_path(tmp_path):
    with faults.stepping("ENOSPC@create:1"), pytest.raises(errors.NoSpace) as info:
        (tmp_path / "f").write_bytes(b"x")
    assert str(tmp_path / "f") in str(info.value)
    assert not (tmp_path / "f").exists()


def test_a_plan_that_is_not_one_is_refused():
    for bad in ("kill", "kill@0", "EPERM@1", "kill@move:1"):
        with pytest.raises(ValueError):
            with faults.stepping(bad):
                pass


def test_kill_at_a_step_kills_there_and_logs_it(tmp_path, home):
    """The child dies by SIGKILL before its third step: the first two are done, the third is not."""
    log = tmp_path / "kill.log"
    code = (f"import os\nfrom bodega.storage import faults\n"
            f"for name in 'abcde':\n    open(os.path.join({str(tmp_path)!r}, name), 'wb').close()\n")
    child = python_child(home, code, BODEGA_FAULT_STEP="kill@3", BODEGA_FAULT_LOG=str(log))
    child.communicate(timeout=60)
    assert child.returncode == -signal.SIGKILL
    assert _lines(log) == [f"3 create {tmp_path / 'c'}"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name != "kill.log") == ["a", "b"]
