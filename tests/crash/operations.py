"""The operations the kill-point sweep runs (tests/crash/sweep.py): one `register` line each.

Each prepare function builds, in a fresh home, the situation its command runs in, and
returns the command's argv.  The trees are small but mix packed files (under clone_min),
cloned ones (above it, on a volume that clones), directories, links and modes, and the
store's packs are kept small (pack_max), so an operation has many write-type steps.
"""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

from crash.sweep import register

PACK_MAX = 24 << 10  # several packs per snapshot: each is its own create, sync and rename


def tree(root: Path, seed: int, files: int = 24, dirs: int = 4) -> None:
    """Writes a mixed tree under root: small and large files, nested directories, a link."""
    rng = random.Random(seed)
    for i in range(files):
        d = root / f"d{i % dirs}" / ("sub" if i % 3 == 0 else "")
        d.mkdir(parents=True, exist_ok=True)
        size = rng.choice([200, 3000, 9000, 20_000, 40_000])  # clone_min is 16 KiB
        (d / f"f{seed}-{i}").write_bytes(rng.randbytes(size))
        if i % 5 == 0:
            os.chmod(d / f"f{seed}-{i}", 0o600)
    link = root / f"link{seed}"
    if not link.exists() and not link.is_symlink():
        link.symlink_to(f"d0/f{seed}-0")


def _home_with(home: Path, seed: int = 1):
    """A home holding container dev with a tree, and small packs."""
    import bodega

    b = bodega.open(home)
    b.containers.create("dev")
    config = home / "store" / "config.json"
    if not config.exists():
        b.snapshots.engine.store  # noqa: B018  (the store is made on first use)
    cfg = json.loads(config.read_text())
    config.write_text(json.dumps(cfg | {"pack_max": PACK_MAX}))
    tree(root_of(b, "dev"), seed)
    return b


def root_of(b, name: str) -> Path:
    """The tree of container name."""
    return Path(b.containers.get(name).storage_path) / "root"


def _change(root: Path, seed: int, share: int) -> None:
    """Removes every share-th file, rewrites others, adds a few: a new version of the tree."""
    files = sorted(p for p in root.rglob("f*") if p.is_file() and not p.is_symlink())
    for i, p in enumerate(files):
        if i % share == 0:
            p.unlink()
        elif i % share == 1:
            p.write_bytes(random.Random(seed * 1000 + i).randbytes(p.stat().st_size or 100))
    tree(root / f"new{seed}", seed, files=4, dirs=2)


def snapshot_create(home: Path) -> list[str]:
    """A delta snapshot of a changed tree (a full one before it)."""
    with _home_with(home) as b:
        b.snapshots.create("dev")
        _change(root_of(b, "dev"), 2, share=3)
    return ["snapshot", "create", "dev", "-m", "swept"]


def _two_snapshots(home: Path, share: int) -> tuple[str, str]:
    with _home_with(home) as b:
        first = b.snapshots.create("dev")
        _change(root_of(b, "dev"), 2, share)
        second = b.snapshots.create("dev")
        return str(first.id), str(second.id)


def snapshot_restore_full(home: Path) -> list[str]:
    """Restore to a snapshot far from the tree: staged whole, then published by an exchange."""
    first, _ = _two_snapshots(home, share=2)
    return ["snapshot", "restore", "dev", first]


def snapshot_restore_in_place(home: Path) -> list[str]:
    """Restore to a snapshot close to the tree: the journaled steps applied in place."""
    import bodega

    first, _ = _two_snapshots(home, share=12)
    with bodega.open(home) as b:  # and a change nothing snapshotted, which the restore undoes
        (root_of(b, "dev") / "d1" / "unsaved").write_bytes(b"work in progress")
    return ["snapshot", "restore", "dev", first]


def container_clone(home: Path) -> list[str]:
    """A clone of a container with a snapshot: the tree cloned, then the clone's first snapshot."""
    with _home_with(home) as b:
        b.snapshots.create("dev")
    return ["container", "clone", "dev", "dev2"]


def _history(home: Path):
    """dev with four snapshots, each a delta on the one before."""
    b = _home_with(home)
    for i in range(4):
        if i:
            _change(root_of(b, "dev"), 10 + i, share=5)
        b.snapshots.create("dev")
    return b


def snapshot_forget(home: Path) -> list[str]:
    """Forget all but the newest: its chain of deltas rebased onto nothing (a full snapshot)."""
    with _history(home):
        pass
    return ["snapshot", "forget", "dev", "--keep-last", "1"]


def gc(home: Path) -> list[str]:
    """gc after a forget: dead objects in packs and loose, packs rewritten."""
    from bodega.storage.retention import Policy

    with _history(home) as b:
        b.snapshots.forget("dev", Policy(last=1))
    return ["gc"]


def container_delete(home: Path) -> list[str]:
    """Delete a container (a clone, so the store keeps what the other still needs)."""
    with _home_with(home) as b:
        b.snapshots.create("dev")
        b.containers.clone("dev", "dev2")
        _change(root_of(b, "dev2"), 3, share=4)
        b.snapshots.create("dev2")
    return ["container", "delete", "dev2", "--yes"]


register("snapshot create", snapshot_create, min_points=51)
register("snapshot restore (full)", snapshot_restore_full, min_points=51)
register("snapshot restore (in place)", snapshot_restore_in_place, min_points=51)
register("container clone", container_clone, min_points=51)
register("snapshot forget", snapshot_forget)
register("gc", gc)
register("container delete", container_delete)
