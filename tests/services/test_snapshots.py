"""Seed rule 3: a delta snapshot needs a valid base of the same container."""
from __future__ import annotations

import uuid

import pytest

from bodega import errors
from bodega.catalogue.models import Snapshot, SnapshotTrigger, SnapshotType


@pytest.fixture
def two(b):
    return b.containers.create("dev"), b.containers.create("other")


def test_a_delta_on_a_base_of_the_same_container_is_recorded(b, two):
    full = b.snapshots.record("dev", type="full", checksum_manifest="a" * 64, label="first", size_bytes=10)
    delta = b.snapshots.record("dev", type="delta", base_snapshot_id=full.id, checksum_manifest="b" * 64,
                               trigger="pre-install")
    assert (delta.type, delta.base_snapshot_id, delta.trigger) == (SnapshotType.DELTA, full.id, SnapshotTrigger.PRE_INSTALL)
    assert [s.id for s in b.snapshots.list("dev")] == [full.id, delta.id]


def test_a_delta_without_base_is_refused(b, two):
    with pytest.raises(errors.DeltaBaseMismatch, match="needs a base"):
        b.snapshots.record("dev", type="delta", checksum_manifest="b" * 64)
    assert b.snapshots.list("dev") == []


def test_a_delta_on_a_missing_base_is_refused(b, two):
    with pytest.raises(errors.DeltaBaseMismatch, match="does not exist"):
        b.snapshots.record("dev", type="delta", base_snapshot_id=uuid.uuid4(), checksum_manifest="b" * 64)


def test_a_delta_on_another_containers_base_is_refused(b, two):
    theirs = b.snapshots.record("other", type="full", checksum_manifest="a" * 64)
    with pytest.raises(errors.DeltaBaseMismatch, match="another container"):
        b.snapshots.record("dev", type="delta", base_snapshot_id=theirs.id, checksum_manifest="b" * 64)
    assert b.snapshots.list("dev") == []


def test_the_database_refuses_what_the_service_would(b, two):
    dev, other = two
    theirs = b.snapshots.record("other", type="full", checksum_manifest="a" * 64)
    rows = [
        Snapshot(id=uuid.uuid4(), container_id=dev.id, type=SnapshotType.DELTA, base_snapshot_id=None,
                 checksum_manifest="c", trigger=SnapshotTrigger.MANUAL),
        Snapshot(id=uuid.uuid4(), container_id=dev.id, type=SnapshotType.DELTA, base_snapshot_id=theirs.id,
                 checksum_manifest="c", trigger=SnapshotTrigger.MANUAL),
    ]
    for row in rows:
        with pytest.raises(errors.DeltaBaseMismatch), b.catalogue.session_scope() as s:
            s.add(row)


def test_snapshots_reach_the_manifest_and_go_with_their_container(b, two):
    import json
    from pathlib import Path

    full = b.snapshots.record("dev", type="full", checksum_manifest="a" * 64)
    b.snapshots.record("dev", type="delta", base_snapshot_id=full.id, checksum_manifest="b" * 64)
    manifest = json.loads((Path(two[0].storage_path) / "manifest.json").read_text())
    assert [(s["type"], s["checksum_manifest"]) for s in manifest["snapshots"]] == [("full", "a" * 64), ("delta", "b" * 64)]
    b.containers.delete("dev")  # its snapshot chain goes with it
    with b.catalogue.session_scope(write=False) as s:
        assert s.query(Snapshot).filter_by(container_id=two[0].id).count() == 0


def test_bad_snapshot_input_is_refused(b, two):
    with pytest.raises(ValueError):
        b.snapshots.record("dev", type="partial", checksum_manifest="a")
    with pytest.raises(errors.InvalidInput):
        b.snapshots.record("dev", type="full", checksum_manifest="")
    with pytest.raises(errors.InvalidInput):
        b.snapshots.record("dev", type="full", checksum_manifest="a", size_bytes=-1)
