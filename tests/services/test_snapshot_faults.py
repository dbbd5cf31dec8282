"""Faults: no space in the middle of a snapshot or a restore (a small loop filesystem that
fills up), and SIGKILL at random points (after a random number of the child's
write-type steps, read from its trace) of create, restore, forget and gc; afterwards the
catalogue and the store agree, verify passes and the container is before or after."""
from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

import pytest

import bodega
import loopfs
from bodega import errors
from bodega.storage.retention import Policy
from bodega.storage import manifest as mf
from conftest import need
from subprocesses import python_child


@pytest.fixture
def small_home():
    """A bodega home on a fresh 64 MiB ext4 loop filesystem."""
    reason = loopfs.can_mount()
    if reason:
        need(reason)
    lm = loopfs.mount("ext4", 64)
    yield lm.path / "home"
    loopfs.unmount(lm)


def _fill(path: Path, mib: int, seed: int) -> None:
    rng = random.Random(seed)
    path.mkdir(parents=True, exist_ok=True)
    for i in range(mib):
        (path / f"blob{i}.bin").write_bytes(rng.randbytes(1 << 20))  # incompressible


def _consistent(b, container: str) -> None:
    """Every catalogued snapshot is in the store and whole; no store snapshot lacks a row."""
    report = b.snapshots.verify(read_data=1.0)
    assert report["ok"], report["damage"]
    rows = {str(s.id) for s in b.snapshots.list(container)}
    assert set(b.snapshots.engine.ids()) == rows


def test_no_space_during_a_snapshot_publishes_nothing_and_loses_nothing(small_home):
    with bodega.open(small_home) as b:
        b.containers.create("dev")
        root = Path(b.containers.get("dev").storage_path) / "root"
        _fill(root / "data", 36, seed=1)  # the store cannot hold a second copy on 64 MiB
        before = mf.build(root).root
        with pytest.raises(errors.NoSpace):
            b.snapshots.create("dev")
        assert b.snapshots.list("dev") == [] and b.snapshots.engine.ids() == []
        assert mf.build(root).root == before
        assert os.listdir(b.home.store / "tmp") == []
        (failed,) = [t for t in b.tasks.list() if t.type == "snapshot.create"]
        assert failed.status.value == "failed"
        _consistent(b, "dev")
        for p in list((root / "data").iterdir())[:30]:  # make room: now it fits
            p.unlink()
        snap = b.snapshots.create("dev")
        assert snap.checksum_manifest == mf.build(root).root_hex
        _consistent(b, "dev")


def test_no_space_during_a_restore_leaves_the_tree_as_it_was(small_home):
    with bodega.open(small_home) as b:
        b.containers.create("dev")
        root = Path(b.containers.get("dev").storage_path) / "root"
        _fill(root / "old", 12, seed=2)
        first = b.snapshots.create("dev")
        for p in (root / "old").iterdir():
            p.unlink()
        _fill(root / "new", 12, seed=3)
        b.snapshots.create("dev")  # the store now holds old and new: 24 MiB
        filler = small_home.parent / "filler"
        with open(filler, "wb") as f:  # leave less room than the restore needs to stage
            try:
                while True:
                    f.write(b"\0" * (1 << 20))
            except OSError:
                pass
        os.truncate(filler, max(0, filler.stat().st_size - (6 << 20)))
        before = mf.build(root).root
        with pytest.raises(errors.NoSpace):
            b.snapshots.restore("dev", str(first.id))
        assert mf.build(root).root == before
        state = root.parent / "state"
        assert not (state / "restore").exists() and not (state / "restore.journal").exists()
        filler.unlink()
        b.snapshots.restore("dev", str(first.id))
        assert mf.build(root).root_hex == first.checksum_manifest
        _consistent(b, "dev")


CHILD = r"""
import sys, bodega
from bodega.storage.retention import Policy
op = sys.argv[1]
with bodega.open() as b:
    if op == "create":
        b.snapshots.create("dev")
    elif op == "restore":
        b.snapshots.restore("dev", sys.argv[2])
    elif op == "forget":
        b.snapshots.forget("dev", Policy(last=1))
    elif op == "gc":
        b.snapshots.gc()
    print("done", flush=True)
"""


def _kill_after_steps(child, log: Path, steps: int) -> bool:
    """SIGKILLs child once its trace (log) shows steps write-type steps taken; True when the kill
    landed mid-operation (the child had begun, was killed and never reported the operation done)."""
    while child.poll() is None:
        if log.exists() and log.stat().st_size and len(log.read_bytes().splitlines()) >= steps:
            child.send_signal(signal.SIGKILL)
            break
        time.sleep(0.002)  # polling the child's progress, not waiting out a window
    out, _ = child.communicate()
    return child.returncode == -signal.SIGKILL and "done" not in out and log.exists()


def _tree(root: Path, seed: int, files: int = 400) -> None:
    rng = random.Random(seed)
    for i in range(files):
        d = root / f"d{i % 20}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"f{i}").write_bytes(rng.randbytes(rng.choice([100, 3000, 30_000, 120_000])))


@pytest.mark.slow
@pytest.mark.parametrize("op", ["create", "restore", "forget", "gc"])
def test_sigkill_at_random_points(home, tmp_path, op):
    rng = random.Random(op)
    with bodega.open(home) as b:
        b.containers.create("dev")
        root = Path(b.containers.get("dev").storage_path) / "root"
        _tree(root, 1)
        first = b.snapshots.create("dev")
        for p in list(root.rglob("f1*")):
            p.unlink()
        _tree(root / "more", 2, files=150)
        b.snapshots.create("dev")
    landed = 0
    for round in range(4):
        with bodega.open(home) as b:
            before = mf.build(root).root_hex
            ids_before = {str(s.id) for s in b.snapshots.list("dev")}
            if op == "restore":
                target = str(first.id) if round % 2 == 0 else str(b.snapshots.list("dev")[-1].id)
                after = b.snapshots.get("dev", target).checksum_manifest
            else:
                target, after = "", before
                if op in ("forget", "gc"):  # something to forget and collect: this round's data
                    shutil.rmtree(root / f"r{round - 1}", ignore_errors=True)  # replaces the last's
                    _tree(root / f"r{round}", 10 + round, files=60)
                    b.snapshots.create("dev")
                    before = after = mf.build(root).root_hex
                if op == "gc":  # what gc collects: without a forget it has nothing to do
                    b.snapshots.forget("dev", Policy(last=1))
        log = tmp_path / f"{op}-{round}.steps"
        child = python_child(home, CHILD, op, target, BODEGA_FAULT_STEP="trace", BODEGA_FAULT_LOG=str(log))
        landed += _kill_after_steps(child, log, rng.randint(8, 24))  # opening the home takes 5
        with bodega.open(home) as b:  # the next start: recovery runs here
            assert mf.build(root).root_hex in (before, after), f"{op} round {round}: the container is half"
            _consistent(b, "dev")
            if op == "create":
                assert {str(s.id) for s in b.snapshots.list("dev")} >= ids_before
            assert not [t for t in b.tasks.list() if t.status.value == "running"]
            b.snapshots.create("dev")  # and it still works
            _consistent(b, "dev")
    assert landed > 0, f"{op}: no kill landed while the operation was running"
