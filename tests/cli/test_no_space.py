"""Out of space (issue 10, item 17), on a small real ext4 loop filesystem filled to the brim:
`snapshot create`, `gc` and `container clone` each end in one line and NoSpace's exit code,
publish nothing half made, and work again once there is room; gc on a full volume still
frees what needs no space and says what it could not free and the space that would take.

The catalogue lives elsewhere ($BODEGA_DATABASE_URL), so that the volume under test is the
one that fills up, not the database's."""
from __future__ import annotations

import os
import random
from pathlib import Path

import pytest

import bodega
import loopfs
from bodega import errors
from bodega.storage import manifest as mf
from conftest import need
from subprocesses import bodega_cli


@pytest.fixture
def small(tmp_path, monkeypatch):
    """(home on a fresh 64 MiB ext4 loop filesystem, environment for children)."""
    reason = loopfs.can_mount()
    if reason:
        need(reason)
    lm = loopfs.mount("ext4", 64)
    db = f"sqlite:///{tmp_path / 'bodega.db'}"
    monkeypatch.setenv("BODEGA_DATABASE_URL", db)
    yield lm.path / "home", {"BODEGA_DATABASE_URL": db}
    loopfs.unmount(lm)


def _random_files(d: Path, n: int, size: int, seed: int) -> None:
    rng = random.Random(seed)
    d.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        (d / f"f{i}.bin").write_bytes(rng.randbytes(size))  # incompressible


class Filler:
    """Fills a volume: data blocks up to the last one, then (inodes=True) every free inode."""

    def __init__(self, volume: Path, inodes: bool = False) -> None:
        self.dir = volume / "filler"
        self.dir.mkdir()
        loopfs.fill(self.dir / "data")
        n = 0
        while inodes:
            try:
                (self.dir / f"i{n}").touch()
            except OSError:
                break
            n += 1
        assert os.statvfs(volume).f_bavail * os.statvfs(volume).f_frsize < (1 << 16)

    def remove(self) -> None:
        for p in self.dir.iterdir():
            p.unlink()


def _fails_in_one_line(done, what: str) -> None:
    assert done.returncode == errors.NoSpace.exit_code, (what, done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, (what, done.stderr)
    assert "no space" in lines[0].lower(), lines


def _whole(b) -> None:
    """Nothing half published: no staging or journal left, and every published snapshot whole."""
    store = b.home.store
    assert os.listdir(store / "tmp") == [] and not list((store / "journal").glob("*"))
    assert b.snapshots.verify(read_data=1.0)["ok"]
    assert set(b.snapshots.engine.ids()) == {str(s.id) for c in b.containers.list() for s in b.snapshots.list(c.id)}


def test_snapshot_create_on_a_full_volume(small):
    home, env = small
    with bodega.open(home) as b:
        b.containers.create("dev")
        root = Path(b.containers.get("dev").storage_path) / "root"
        _random_files(root / "a", 20, 50_000, seed=1)
        b.snapshots.create("dev")
        _random_files(root / "b", 40, 100_000, seed=2)  # more than a pack's write buffer
        before = mf.build(root).root_hex
    filler = Filler(home.parent)
    _fails_in_one_line(bodega_cli(home, "snapshot", "create", "dev", **env), "snapshot create")
    with bodega.open(home) as b:
        assert len(b.snapshots.list("dev")) == 1 and mf.build(root).root_hex == before
        _whole(b)
        filler.remove()
        assert b.snapshots.create("dev").checksum_manifest == before
        _whole(b)


def test_gc_on_a_full_volume_frees_what_needs_no_space_and_says_what_is_left(small):
    home, env = small
    with bodega.open(home) as b:
        b.containers.create("dev")
        root = Path(b.containers.get("dev").storage_path) / "root"
        _random_files(root / "x", 4, 250_000, seed=3)           # pack 1: only x
        first = b.snapshots.create("dev")
        _random_files(root / "keep", 24, 250_000, seed=4)       # pack 2: keep and drop
        _random_files(root / "drop", 24, 250_000, seed=5)
        second = b.snapshots.create("dev")
        for d in ("x", "drop"):
            for p in (root / d).iterdir():
                p.unlink()
        b.snapshots.create("dev", kind="full")
        b.snapshots.forget("dev", ids=[str(first.id), str(second.id)])
        packs = {p.name: p.stat().st_size for p in (home / "store" / "packs").iterdir()}
        assert len(packs) == 2
    filler = Filler(home.parent)
    done = bodega_cli(home, "gc", **env)
    _fails_in_one_line(done, "gc")
    assert "rewrite 1 pack(s)" in done.stderr and "bytes free" in done.stderr
    left = {p.name: p.stat().st_size for p in (home / "store" / "packs").iterdir()}
    small_pack, big_pack = sorted(packs, key=packs.get)
    assert left == {big_pack: packs[big_pack]}  # the wholly dead pack went; the other is whole
    needed = int(done.stderr.split(" needs ")[1].split()[0])
    assert 24 * 250_000 < needed < packs[big_pack]
    with bodega.open(home) as b:
        _whole(b)
        filler.remove()
        report = b.snapshots.gc()
        assert report["packs_rewritten"] == 1 and report["bytes_freed"] >= 24 * 250_000
        assert report["packs_not_rewritten"] == 0
        _whole(b)
        b.snapshots.restore("dev", str(b.snapshots.list("dev")[0].id))


def test_container_clone_on_a_full_volume(small):
    home, env = small
    with bodega.open(home) as b:
        b.containers.create("dev")
        root = Path(b.containers.get("dev").storage_path) / "root"
        _random_files(root, 10, 10_000, seed=6)
        b.snapshots.create("dev")
        dirs = sorted(os.listdir(b.home.containers))
    filler = Filler(home.parent, inodes=True)  # not even a directory can be made
    _fails_in_one_line(bodega_cli(home, "container", "clone", "dev", "copy", **env), "container clone")
    with bodega.open(home) as b:
        assert [c.name for c in b.containers.list()] == ["dev"]
        assert sorted(os.listdir(b.home.containers)) == dirs
        assert [p for p in b.home.tmp.iterdir() if p.is_dir()] == []
        (failed,) = [t for t in b.tasks.list() if t.type == "container.clone"]
        assert failed.status.value == "failed"
        _whole(b)
        filler.remove()
        b.containers.clone("dev", "copy")
        assert mf.build(Path(b.containers.get("copy").storage_path) / "root").root == mf.build(root).root
        _whole(b)
