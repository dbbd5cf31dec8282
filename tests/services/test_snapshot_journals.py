"""The catalogue and the store change together (issue 10, items 4, 15 and 16): a forget deletes
rows children first and changes the store only after the catalogue commits, a journal finishes
the job after a crash, gc never collects what a running task has staged or not published yet,
and opening a home reads no snapshot file and no pack, only the journals."""
from __future__ import annotations

import os
import signal
import uuid
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import SnapshotType
from bodega.storage import manifest as mf
from bodega.storage.retention import Policy
from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore
from subprocesses import python_child


def _chain(b, n: int) -> tuple[Path, list[str]]:
    """A container with n snapshots, each a delta on the one before (the first full)."""
    b.containers.create("dev")
    root = Path(b.containers.get("dev").storage_path) / "root"
    ids = []
    for i in range(n):
        (root / f"f{i}.txt").write_text(f"file {i}\n" * (100 + i))
        ids.append(str(b.snapshots.create("dev", kind="delta" if ids else "full").id))
    return root, ids


def _agree(b) -> None:
    """Every row's type and base are its store header's, and the store holds no other snapshot."""
    rows = b.snapshots.list("dev")
    for row in rows:
        info = b.snapshots.engine.info(str(row.id))
        assert (info.type, info.base) == (row.type.value, str(row.base_snapshot_id) if row.base_snapshot_id else None)
    assert set(b.snapshots.engine.ids()) == {str(r.id) for r in rows}
    assert not os.listdir(b.home.store / "tmp") and not os.listdir(b.home.store / "journal")
    assert b.snapshots.verify(read_data=1.0)["ok"]


def test_forget_of_chained_deltas_given_parents_first_deletes_children_first(b):
    root, ids = _chain(b, 5)  # full <- d1 <- d2 <- d3 <- d4
    roots = {s.id: s.checksum_manifest for s in b.snapshots.list("dev")}
    plan = b.snapshots.forget("dev", ids=ids[1:4])  # each a base of the next: parents first
    assert plan["rebased"] == {ids[4]: ids[0]}
    kept = b.snapshots.list("dev")
    assert [str(s.id) for s in kept] == [ids[0], ids[4]]
    assert kept[1].type == SnapshotType.DELTA and str(kept[1].base_snapshot_id) == ids[0]
    _agree(b)
    assert b.snapshots.engine.manifest(ids[4]).root_hex == roots[uuid.UUID(ids[4])]
    # Later rules keep working on that container.
    b.snapshots.forget("dev", Policy(last=1))
    (last,) = b.snapshots.list("dev")
    assert str(last.id) == ids[4] and last.type == SnapshotType.FULL and last.base_snapshot_id is None
    _agree(b)
    b.snapshots.restore("dev", ids[4])
    assert mf.build(root).root_hex == roots[uuid.UUID(ids[4])]


def test_forget_whose_catalogue_transaction_fails_leaves_the_store_as_it_was(b, monkeypatch):
    _, ids = _chain(b, 3)
    snaps = b.home.store / "snapshots"
    before = {p.name: p.read_bytes() for p in snaps.iterdir()}

    def fail(*_args, **_kw):
        raise errors.DatabaseLocked("the catalogue is locked (injected)")

    monkeypatch.setattr(b.containers, "sync_manifest", fail)  # inside the forget's transaction
    with pytest.raises(errors.DatabaseLocked):
        b.snapshots.forget("dev", ids=[ids[1]])
    monkeypatch.undo()
    assert {p.name: p.read_bytes() for p in snaps.iterdir()} == before  # the child was not rebased
    assert len(b.snapshots.list("dev")) == 3
    _agree(b)


KILL_AT = r"""
import os, signal, sys
import bodega
from bodega.storage.snapshot import SnapshotEngine
point = sys.argv[1]
def die(*args, **kw):
    os.kill(os.getpid(), signal.SIGKILL)
if point == "after-commit":
    SnapshotEngine.publish = die  # the catalogue has committed; the store has not changed yet
else:
    SnapshotEngine.stage_rebase = die  # nothing committed
with bodega.open() as b:
    b.snapshots.forget("dev", ids=sys.argv[2:])
"""


@pytest.mark.parametrize("point", ["after-commit", "while-staging"])
def test_a_forget_killed_mid_way_is_completed_by_the_next_open(home, point):
    with bodega.open(home) as b:
        _, ids = _chain(b, 4)
    child = python_child(home, KILL_AT, point, ids[1], ids[2])
    child.communicate()
    assert child.returncode == -signal.SIGKILL
    journal = home / "store" / "journal"
    if point == "after-commit":
        assert len(os.listdir(journal)) == 1  # the kill landed between the commit and the store
    with bodega.open(home) as b:
        left = [str(s.id) for s in b.snapshots.list("dev")]
        assert left == ([ids[0], ids[3]] if point == "after-commit" else ids)
        if point == "while-staging":
            b.snapshots.gc()  # nothing was journaled: the staging dies with the kill, gc sweeps it
        _agree(b)


def test_gc_cannot_run_while_a_forget_has_staged_files(b, monkeypatch):
    _, ids = _chain(b, 3)
    refused: list[Exception] = []
    real_replace = os.replace

    def replace(src, dst, *args, **kw):
        # The forget's staged file is in store/tmp and about to be renamed in: gc now.
        if not refused and os.fspath(dst).endswith(".snap") and "/store/tmp/" in os.fspath(src):
            with bodega.open(b.home.root) as other:
                try:
                    other.snapshots.gc(timeout=0)
                except errors.StoreBusy as e:
                    refused.append(e)
                else:
                    refused.append(AssertionError("gc ran while a forget had staged files"))
        return real_replace(src, dst, *args, **kw)

    monkeypatch.setattr(os, "replace", replace)
    b.snapshots.forget("dev", ids=[ids[1]])
    monkeypatch.undo()
    assert refused and isinstance(refused[0], errors.StoreBusy), refused
    _agree(b)
    assert b.snapshots.gc()["orphan_snapshots"] == []
    _agree(b)


def test_gc_leaves_the_snapshot_a_running_create_has_not_published_yet(b, monkeypatch):
    _chain(b, 1)
    ran: list[dict] = []
    real_publish = type(b.snapshots)._publish

    def publish(self, ctx, *args, **kw):
        with bodega.open(b.home.root) as other:
            ran.append(other.snapshots.gc(timeout=0))  # the create holds no store lock now
        return real_publish(self, ctx, *args, **kw)

    monkeypatch.setattr(type(b.snapshots), "_publish", publish)
    second = b.snapshots.create("dev")
    monkeypatch.undo()
    assert ran and ran[0]["orphan_snapshots"] == []
    assert b.snapshots.engine.exists(str(second.id))
    _agree(b)


def test_opening_a_home_reads_no_snapshot_file_and_no_pack(home, monkeypatch):
    with bodega.open(home) as b:
        _chain(b, 2)

    def refuse(*_args, **_kw):
        raise AssertionError("opening a home read the store")

    for cls, name in ((ObjectStore, "__init__"), (SnapshotEngine, "ids"), (SnapshotEngine, "info"),
                      (SnapshotEngine, "stored_manifest")):
        monkeypatch.setattr(cls, name, refuse)
    with bodega.open(home) as b:
        assert [c.name for c in b.containers.list()] == ["dev"] and len(b.snapshots.list("dev")) == 2
