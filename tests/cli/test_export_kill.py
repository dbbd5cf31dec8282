"""SIGKILL during export and during import: nothing at the target, no container half published.

Each kill is proven to land mid-operation by a gate, not a sleep: the export writes to a pipe
nobody reads (it blocks once the pipe is full, with its task running and its temporary file
partly written); the import reads a package from a stdin fed only half of it.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import bodega
from tests.subprocesses import bodega_cli, child_env, python_child, wait_for


def _running(home: Path, task_type: str) -> dict | None:
    with bodega.open(home) as b:
        found = [t for t in b.tasks.list(type=task_type) if t.status.value == "running"]
    return found[0].to_dict() if found else None


def _container_with_data(home: Path) -> Path:
    with bodega.open(home) as b:
        c = b.containers.create("dev")
    root = Path(c.storage_path) / "root"
    for i in range(8):
        (root / f"blob{i}").write_bytes(os.urandom(1 << 20))
    return root


def test_sigkill_during_an_export_leaves_nothing_and_is_reported(tmp_path):
    home = tmp_path / "home"
    _container_with_data(home)
    read_end, write_end = os.pipe()
    proc = subprocess.Popen([sys.executable, "-m", "bodega", "export", "dev", "-o", "-"], env=child_env(home),
                            stdout=write_end, stderr=subprocess.PIPE)
    os.close(write_end)
    try:
        first = os.read(read_end, 4)  # the gate: the package has begun (and the pipe fills behind it)
        assert first == b"PK\x03\x04"
        # the task row is running while the export blocks on the full pipe
        task = wait_for(lambda: _running(home, "export"), what="the export task running")
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        os.close(read_end)
    done = bodega_cli(home, "task", "show", task["id"], "--json")
    shown = json.loads(done.stdout)
    assert shown["status"] == "failed" and "interrupted" in shown["result"]["error"]["message"]
    with bodega.open(home) as b:
        assert [p.status.value for p in b.exports.list()] == ["failed"]


GATED_EXPORT = """
import sys, threading, bodega
def gate(percent):
    if percent > 2:                      # the package is partly written under its temporary name
        print("gate", flush=True)
        threading.Event().wait()         # held here until the test kills this process
with bodega.open() as b:
    b.exports.export("dev", location=sys.argv[1], progress=gate)
"""


def test_sigkill_during_an_export_to_a_file_leaves_nothing_at_the_target(tmp_path):
    """The kill lands while the temporary file is written; the next command removes it."""
    home = tmp_path / "home"
    _container_with_data(home)
    out = tmp_path / "out"
    out.mkdir()
    proc = python_child(home, GATED_EXPORT, str(out / "dev.zip"))
    assert proc.stdout is not None and proc.stdout.readline().strip() == "gate"
    assert [p.name.startswith(".bodega-partial-") for p in out.iterdir()] == [True]
    task = _running(home, "export")
    assert task is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (out / "dev.zip").exists()
    bodega_cli(home, "tasks")  # the next command: the task is declared interrupted, its temporary file removed
    assert list(out.iterdir()) == []
    with bodega.open(home) as b:
        assert b.tasks.get(task["id"]).status.value == "failed"
        assert [p.status.value for p in b.exports.list()] == ["failed"]


def test_sigkill_during_an_import_publishes_nothing(tmp_path):
    home = tmp_path / "home"
    _container_with_data(home)
    package = tmp_path / "dev.zip"
    assert bodega_cli(home, "export", "dev", "-o", str(package)).returncode == 0
    data = package.read_bytes()
    proc = subprocess.Popen([sys.executable, "-m", "bodega", "import", "-", "--name", "copy"], env=child_env(home),
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdin is not None
    proc.stdin.write(data[: len(data) // 2])  # the gate: half the package, the import waits for the rest
    proc.stdin.flush()
    task = wait_for(lambda: _running(home, "import"), what="the import task running")
    staging = home / "tmp" / task["id"]
    wait_for(lambda: (staging / "stdin.package").exists(), what="the import reading stdin")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdin.close()
    done = bodega_cli(home, "task", "show", task["id"], "--json")
    assert json.loads(done.stdout)["status"] == "failed"
    with bodega.open(home) as b:
        assert [c.name for c in b.containers.list()] == ["dev"]
    assert not staging.exists()
    assert sorted(p.name for p in (home / "containers").iterdir()) == [str(c) for c in _ids(home)]


def _ids(home: Path) -> list[str]:
    with bodega.open(home) as b:
        return sorted(str(c.id) for c in b.containers.list())
