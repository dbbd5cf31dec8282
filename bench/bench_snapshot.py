"""Snapshots: bodega vs `restic backup` (and the store size vs borg), same tree, one run.

Acceptance (issue 5): the first snapshot is at least 5x faster than `restic backup` (repository
on the same volume); on ext4 the store is no larger than borg's with `--compression zstd,3`;
the snapshot after 1% of files changed is at least 5x faster than restic's second backup.
"""
from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pytest

from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore

from conftest import ROUNDS
from measure import settle
from snapshot_peers import (OnePercentChange, borg_create, disk_usage, remove, restic_backup, restic_init)


def _fs(tree: Path) -> str:
    return "xfs" if tree.parent.name == "mnt" else "ext4"


def _scratch(tree: Path) -> Path:
    """A fresh directory on the tree's volume (the repository lives beside the tree, like ours)."""
    return Path(tempfile.mkdtemp(prefix="snap-", dir=tree.parent))


def _median(xs: list[float]) -> float:
    return sorted(xs)[len(xs) // 2]


def _bodega_first(tree: Path, base: Path) -> tuple[float, SnapshotEngine]:
    engine = SnapshotEngine(ObjectStore(base / "store"))
    settle()
    start = time.perf_counter()
    engine.create(tree, base / "state", "first")
    return time.perf_counter() - start, engine


def test_first_snapshot(bench_tree, ratios):
    """bodega's first snapshot vs restic's first backup, fresh store/repository each round."""
    group = f"first snapshot ({_fs(bench_tree)})"
    ours, theirs = [], []
    for _ in range(ROUNDS):
        base = _scratch(bench_tree)
        try:
            seconds, engine = _bodega_first(bench_tree, base)
            ours.append(seconds)
            engine.store.close()
            restic_init(base / "restic")
            settle()
            start = time.perf_counter()
            restic_backup(base / "restic", bench_tree)
            theirs.append(time.perf_counter() - start)
            if _fs(bench_tree) == "ext4" and len(ours) == 1:
                borg_create(base / "borg", bench_tree)
                sizes = {"bodega": disk_usage(base / "store"), "restic": disk_usage(base / "restic"),
                         "borg zstd,3": disk_usage(base / "borg")}
                ratios.note("store size (ext4): " + ", ".join(f"{k} {v / 2**20:.0f} MiB" for k, v in sizes.items()))
                assert sizes["bodega"] <= sizes["borg zstd,3"], sizes
        finally:
            remove(base)
    ratios.record(group, "bodega", _median(ours))
    ratios.record(group, "restic", _median(theirs))
    assert _median(ours) * 5 <= _median(theirs), (ours, theirs)


def test_snapshot_after_one_percent_changed(bench_tree, ratios):
    """The second snapshot after 1% of files changed vs restic's second backup."""
    group = f"snapshot after 1% changed ({_fs(bench_tree)})"
    base = _scratch(bench_tree)
    change = OnePercentChange(bench_tree)
    ours, theirs = [], []
    try:
        time.sleep(2.1)  # the first snapshot's scan out of the racy window of the tree's writes
        _, engine = _bodega_first(bench_tree, base)
        restic_init(base / "restic")
        restic_backup(base / "restic", bench_tree)
        head = "first"
        for i in range(ROUNDS):
            change.apply()
            settle()
            start = time.perf_counter()
            info = engine.create(bench_tree, base / "state", f"s{i}", base=head)
            ours.append(time.perf_counter() - start)
            head = info.id
            settle()
            start = time.perf_counter()
            restic_backup(base / "restic", bench_tree)
            theirs.append(time.perf_counter() - start)
            assert info.files_read >= len(change.files)
        ratios.note(f"{group}: bodega read {info.files_read} files of {info.files}")
    finally:
        change.undo()
        remove(base)
    ratios.record(group, "bodega", _median(ours))
    ratios.record(group, "restic", _median(theirs))
    assert _median(ours) * 5 <= _median(theirs), (ours, theirs)


@pytest.mark.parametrize("fs", ["xfs"])
def test_container_clone_vs_cp_reflink(fs, xfs_tree, ratios):
    """`bodega container clone` vs `cp -a --reflink=always` plus a snapshot of an unchanged tree."""
    import subprocess

    import bodega

    home = _scratch(xfs_tree)
    try:
        with bodega.open(home / "home") as b:
            b.containers.create("src")
            root = Path(b.containers.get("src").storage_path) / "root"
            root.rmdir()
            subprocess.run(["cp", "-a", "--reflink=always", str(xfs_tree), str(root)], check=True)
            b.snapshots.create("src")
            clones, cps, unchanged = [], [], []
            for i in range(ROUNDS):
                settle()
                start = time.perf_counter()
                b.containers.clone("src", f"c{i}")
                clones.append(time.perf_counter() - start)
                settle()
                start = time.perf_counter()
                subprocess.run(["cp", "-a", "--reflink=always", str(root), str(home / f"cp{i}")], check=True)
                cps.append(time.perf_counter() - start)
                settle()
                start = time.perf_counter()
                b.snapshots.create("src")
                unchanged.append(time.perf_counter() - start)
        group = "container clone (xfs)"
        ratios.record(group, "bodega", _median(clones))
        ratios.record(group, "cp --reflink + unchanged snapshot", _median(cps) + _median(unchanged))
        assert _median(clones) <= _median(cps) + _median(unchanged), (clones, cps, unchanged)
    finally:
        remove(home)
