"""Restores killed (SIGKILL) at every step, then the next command: the tree is the one before
or the one after, never half; nothing outside the tree changes; a restore rolled forward ends
succeeded; recovery at open leaves a live restore alone and never races another recovery."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

import bodega
import restore_trees
from bodega.storage import faults
from bodega.storage import manifest as mf
from subprocesses import bodega_cli, child_env, python_child


@dataclass
class World:
    """A home with container dev at S1, snapshots s1 and s2 (and s0, a tree far from S2)."""

    home: Path
    root: Path
    state: Path
    outside: Path
    s0: str
    s1: str
    s2: str

    def root_hex(self) -> str:
        return mf.build(self.root).root_hex

    def snapshot_root(self, snap: str) -> str:
        with bodega.open(self.home) as b:
            return b.snapshots.get("dev", snap).checksum_manifest

    def restore(self, snap: str) -> None:
        with bodega.open(self.home) as b:
            b.snapshots.restore("dev", snap)

    def last_restore(self):
        with bodega.open(self.home) as b:
            return b.tasks.list(type="snapshot.restore", limit=1)[0]


@pytest.fixture
def world(home, tmp_path) -> World:
    outside = restore_trees.outside(tmp_path)
    with bodega.open(home) as b:
        c = b.containers.create("dev")
        root = Path(c.storage_path) / "root"
        (root / "only").write_bytes(b"a tree far from S2")
        s0 = b.snapshots.create("dev")
        (root / "only").unlink()
        restore_trees.s1(root)
        (root / "bulk").mkdir()
        for i in range(80):  # so that S1 -> S2 is a small change: restored in place
            (root / "bulk" / f"b{i}").write_bytes(b"%d" % i * 50)
        s1 = b.snapshots.create("dev")
        restore_trees.s2(root, outside)
        s2 = b.snapshots.create("dev")
        b.snapshots.restore("dev", str(s1.id))
    w = World(home, root, root.parent / "state", outside, str(s0.id), str(s1.id), str(s2.id))
    assert w.root_hex() == w.snapshot_root(w.s1)
    return w


def _hits(w: World, point: str, snap: str, **env: str) -> int:
    """How often a restore to snap reaches point (counted in this process), then back to S1."""
    count = [0]
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        with faults.hooked(point, lambda **info: count.__setitem__(0, count[0] + 1)):
            w.restore(snap)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    w.restore(w.s1)
    return count[0]


def _killed_at(w: World, tmp_path: Path, point: str, k: int, snap: str, **env: str) -> None:
    """Runs `bodega snapshot restore dev snap` killed by SIGKILL at the kth hit of point."""
    log = tmp_path / f"{point}-{k}.log"
    done = bodega_cli(w.home, "snapshot", "restore", "dev", snap, BODEGA_FAULT=f"{point}:{k}",
                      BODEGA_FAULT_LOG=str(log), **env)
    assert done.returncode == -signal.SIGKILL, (k, done.returncode, done.stderr)
    assert log.read_text().startswith(f"{point} {k} "), k  # it died there, mid-restore


def _next_command(w: World) -> None:
    """Any command: here `container list`, in a new process, which recovers first."""
    listed = bodega_cli(w.home, "container", "list")
    assert listed.returncode == 0 and "Traceback" not in listed.stderr, listed.stderr
    assert "dev" in listed.stdout


@pytest.mark.slow
def test_sigkill_at_each_journal_step_then_any_command(world, tmp_path):
    w = world
    before = restore_trees.sentinel(w.outside)
    s2_root = w.snapshot_root(w.s2)
    n = _hits(w, "restore.step", w.s2)
    assert n >= 15  # every kind of step: rm, mkdir, mv, ln, meta
    for k in range(1, n + 1):
        _killed_at(w, tmp_path, "restore.step", k, w.s2)
        assert (w.state / "restore.journal").exists()  # past the commit point, not finished
        _next_command(w)
        assert restore_trees.sentinel(w.outside) == before, k  # item 1: nothing outside went
        assert w.root_hex() == s2_root, k  # rolled forward: the tree after, never half
        task = w.last_restore()
        assert task.status.value == "succeeded" and task.result["recovered"] == "rolled forward", k
        assert not (w.state / "restore").exists() and not (w.state / "restore.journal").exists()
        w.restore(w.s1)


@pytest.mark.slow
def test_sigkill_before_the_commit_point_rolls_back(world, tmp_path):
    w = world
    before = restore_trees.sentinel(w.outside)
    s1_root = w.root_hex()
    for snap in (w.s2, w.s0):  # in place, then a full restore
        _killed_at(w, tmp_path, "restore.staged", 1, snap)
        assert (w.state / "restore").exists() and not (w.state / "restore.journal").exists()
        _next_command(w)
        assert w.root_hex() == s1_root and restore_trees.sentinel(w.outside) == before
        task = w.last_restore()
        assert task.status.value == "failed" and task.result["reason"] == "interrupted"
        assert not (w.state / "restore").exists()


@pytest.mark.slow
@pytest.mark.parametrize("publish", ["rename", "exchange"])
def test_sigkill_at_each_publish_step(world, tmp_path, publish):
    """A full restore's publish: RENAME_EXCHANGE, or the journaled two-rename forced here
    (BODEGA_PUBLISH=rename), as where the filesystem or the system has no exchange."""
    w = world
    w.restore(w.s0)
    before = restore_trees.sentinel(w.outside)
    s2_root = w.snapshot_root(w.s2)
    s0_root = w.root_hex()
    n = _hits(w, "publish.step", w.s2, BODEGA_PUBLISH=publish)
    w.restore(w.s0)
    assert n == (3 if publish == "rename" else 2)
    for k in range(1, n + 1):
        _killed_at(w, tmp_path, "publish.step", k, w.s2, BODEGA_PUBLISH=publish)
        assert (w.state / "restore.journal").exists()
        if publish == "rename" and k == 2:
            assert not w.root.exists()  # between the two renames: the moment recovery finishes
        elif os.path.isdir(w.root):
            assert w.root_hex() in (s0_root, s2_root)
        _next_command(w)
        assert w.root_hex() == s2_root and restore_trees.sentinel(w.outside) == before, k
        task = w.last_restore()
        assert task.status.value == "succeeded" and task.result["recovered"] == "rolled forward", k
        assert not (w.state / "restore").exists()
        w.restore(w.s0)


def _fifo_gate(tmp_path: Path) -> Path:
    gate = tmp_path / "gate"
    gate.mkdir()
    os.mkfifo(gate / "reached")
    os.mkfifo(gate / "release")
    return gate


def _wait_reached(gate: Path, children: list[subprocess.Popen], timeout: float = 120) -> int:
    """The pid a child wrote into the gate's fifo (it is held there now); fails if all exit first."""
    fd = os.open(gate / "reached", os.O_RDONLY | os.O_NONBLOCK)
    try:
        deadline = time.monotonic() + timeout
        data = b""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 0.5)
            if ready:
                data += os.read(fd, 64)
                if data.endswith(b"\n"):
                    return int(data)
            if all(c.poll() is not None for c in children):
                break
        pytest.fail("no process reached the gate: " + "; ".join(c.communicate()[1][-500:] for c in children))
    finally:
        os.close(fd)


def _release(gate: Path) -> None:
    with open(gate / "release", "w") as f:
        f.write("go\n")


def _bodega(home: Path, *args: str, **env: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "bodega", *args], env=child_env(home, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
def test_three_commands_at_once_after_a_crash_recover_once(world, tmp_path):
    w = world
    before = restore_trees.sentinel(w.outside)
    n = _hits(w, "restore.step", w.s2)
    _killed_at(w, tmp_path, "restore.step", n // 2, w.s2)  # died mid-way: the tree is half
    crashed = w.last_restore()
    gate = _fifo_gate(tmp_path)
    env = {"BODEGA_FAULT_GATE": "restore.step", "BODEGA_FAULT_GATE_DIR": str(gate)}
    kids = {"list": _bodega(w.home, "container", "list", **env),
            "restore": _bodega(w.home, "snapshot", "restore", "dev", w.s1, "--wait", **env),
            "diff": _bodega(w.home, "diff", "dev", **env)}
    # One of them adopted the dead restore and is held inside its recovery, mid-journal.
    held = _wait_reached(gate, list(kids.values()))
    holder = next(name for name, p in kids.items() if p.pid == held)
    for name, p in kids.items():
        if name not in (holder, "restore"):
            out, err = p.communicate(timeout=120)  # the others ran meanwhile, and did not recover it too
            assert p.returncode == 0 and "Traceback" not in err, (name, err)
    assert (w.state / "restore.journal").exists()  # the recovery is still under way: the race is real
    assert kids["restore"].poll() is None  # it waits for the container, busy with the recovery
    assert restore_trees.sentinel(w.outside) == before
    _release(gate)
    for name, p in kids.items():
        out, err = p.communicate(timeout=300)
        assert p.returncode == 0 and "Traceback" not in err, (name, err)
    assert restore_trees.sentinel(w.outside) == before
    assert w.root_hex() == w.snapshot_root(w.s1)  # then the new restore ran
    with bodega.open(w.home) as b:
        t = b.tasks.get(crashed.id)
        adopted = [e for e in b.events.list(task_id=crashed.id) if "recovery adopted it" in e.message]
    assert t.status.value == "succeeded" and t.result["recovered"] == "rolled forward"
    assert len(adopted) == 1


GATED_RESTORE = r"""
import sys, bodega
reached, release = sys.argv[2], sys.argv[3]
held = []
def gate(percent):
    if percent > 20 and not held:  # writing the restore's files into staging
        held.append(percent)
        with open(reached, "w") as f:
            f.write("%d\n" % __import__("os").getpid())
        with open(release) as f:
            f.readline()
with bodega.open() as b:
    b.snapshots.restore("dev", sys.argv[1], progress=gate)
print("restored", flush=True)
"""


@pytest.mark.slow
def test_opening_the_home_leaves_a_live_restore_alone(world, tmp_path):
    """Issue 10, item 3: recovery at open took no lock and removed the staging of a restore
    running in another process."""
    w = world
    w.restore(w.s0)
    gate = _fifo_gate(tmp_path)
    child = python_child(w.home, GATED_RESTORE, w.s2, str(gate / "reached"), str(gate / "release"))
    _wait_reached(gate, [child])
    staged = sorted(p.name for p in (w.state / "restore").iterdir())
    assert staged  # held mid-staging
    with bodega.open(w.home) as b:  # another process opens the home: recovery runs here
        assert b.tasks.get(w.last_restore().id).status.value == "running"
    listed = bodega_cli(w.home, "container", "list")
    assert listed.returncode == 0
    assert sorted(p.name for p in (w.state / "restore").iterdir()) == staged  # untouched
    _release(gate)
    out, err = child.communicate(timeout=300)
    assert child.returncode == 0 and "restored" in out, err
    assert w.root_hex() == w.snapshot_root(w.s2)


def test_open_looks_at_markers_only(world):
    """Recovery at open reads the markers of restores in progress: a container's leftover
    staging without one is not looked at (no container directory is listed)."""
    w = world
    stale = w.state / "restore" / "root"
    stale.mkdir(parents=True)
    with bodega.open(w.home):
        pass
    assert stale.exists()
    w.restore(w.s2)  # the container's next restore cleans it up, under its lock
    assert not (w.state / "restore").exists()
    assert w.root_hex() == w.snapshot_root(w.s2)
    assert not list((w.home / "tmp" / "restores").iterdir())
    assert json.dumps(w.last_restore().result)  # JSON-ready
    assert uuid.UUID(w.last_restore().result["snapshot"]) == uuid.UUID(w.s2)


@pytest.mark.slow
def test_a_damaged_journal_never_locks_the_home(world, tmp_path):
    """Recovery's errors are bodega errors: the home opens, the task says what broke, and the
    container's next task fails with one line instead of guessing."""
    w = world
    before = restore_trees.sentinel(w.outside)
    _killed_at(w, tmp_path, "restore.step", 3, w.s2)
    journal = w.state / "restore.journal"
    journal.write_bytes(journal.read_bytes()[:40])  # damaged on disk
    _next_command(w)
    task = w.last_restore()
    assert task.status.value == "failed" and task.error["type"] == "IntegrityError"
    _next_command(w)
    with bodega.open(w.home) as b:  # recovery failed once, said why, and is not retried at every open
        recoveries = b.tasks.list(type="snapshot.recover")
    assert len(recoveries) == 1 and recoveries[0].status.value == "failed"
    again = bodega_cli(w.home, "snapshot", "restore", "dev", w.s1)
    assert again.returncode == 15 and "Traceback" not in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1 and "restore.journal" in again.stderr
    journal.unlink()  # what the message says to do
    assert bodega_cli(w.home, "snapshot", "restore", "dev", w.s1).returncode == 0
    assert w.root_hex() == w.snapshot_root(w.s1) and restore_trees.sentinel(w.outside) == before


def test_a_marker_torn_by_a_kill_is_removed_by_the_next_command(world, tmp_path):
    # A kill while the restore's marker was written (before its rename) left tmp/restores/ID.tmp
    # for ever (found by tests/crash): the adopted task now removes it with the marker.
    w = world
    trace = tmp_path / "trace.log"
    done = bodega_cli(w.home, "snapshot", "restore", "dev", w.s2, BODEGA_FAULT_STEP="trace",
                      BODEGA_FAULT_LOG=str(trace))
    assert done.returncode == 0, done.stderr
    steps = [line.split(" ", 2) for line in trace.read_text().splitlines()]
    # The marker is the restore's first file written through a .tmp (checked below: it is left torn).
    create = next(int(n) for n, kind, *name in steps if kind == "create" and name and name[0].endswith(".tmp"))
    w.restore(w.s1)
    log = tmp_path / "kill.log"
    done = bodega_cli(w.home, "snapshot", "restore", "dev", w.s2, BODEGA_FAULT_STEP=f"kill@{create + 1}",
                      BODEGA_FAULT_LOG=str(log))
    assert done.returncode == -signal.SIGKILL and log.read_text().split()[:2] == [str(create + 1), "write"]
    assert [p.suffix for p in (w.home / "tmp" / "restores").iterdir()] == [".tmp"]  # the torn marker
    _next_command(w)
    assert list((w.home / "tmp" / "restores").iterdir()) == []
    assert w.root_hex() == w.snapshot_root(w.s1)
