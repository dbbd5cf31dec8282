"""manifest.json: atomic writes and strict reads."""
from __future__ import annotations

import errno
import json

import pytest

from bodega import errors
from bodega.storage.atomic_file import write_file_atomic
from bodega.storage.container_manifest import read_manifest, write_manifest

GOOD = {"schema_version": 1, "container_id": "12345678-0000-4000-8000-000000000001",
        "container": {"name": "dev", "platform": "linux-x64", "status": "ready", "tags": [], "settings": {}},
        "app_instances": [], "snapshots": []}


def test_write_then_read(tmp_path):
    write_manifest(tmp_path, GOOD)
    assert read_manifest(tmp_path) == GOOD
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]  # no temp file left


def test_an_atomic_write_replaces_whole_or_not_at_all(tmp_path):
    target = tmp_path / "f"
    write_file_atomic(target, b"old")
    write_file_atomic(target, b"new" * 1000)
    assert target.read_bytes() == b"new" * 1000
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]  # the temp file was renamed, not left


def test_a_failed_write_names_the_file(tmp_path):
    with pytest.raises(errors.PathNotFound) as info:
        write_file_atomic(tmp_path / "missing-dir" / "f", b"x")
    assert "missing-dir" in str(info.value)


@pytest.mark.parametrize("change, why", [
    ({"schema_version": 2}, "schema_version"),
    ({"container_id": 7}, "not a UUID"),
    ({"container": []}, "'container'"),
    ({"container": {**GOOD["container"], "tags": "x"}}, "container.tags"),
    ({"snapshots": [1]}, "snapshots"),
])
def test_bad_manifests_are_refused(tmp_path, change, why):
    (tmp_path / "manifest.json").write_text(json.dumps({**GOOD, **change}))
    with pytest.raises(errors.ContainerManifestInvalid, match=why):
        read_manifest(tmp_path)


def test_a_manifest_that_cannot_be_read_is_the_error_of_its_errno_not_invalid(tmp_path):
    """Unreadable is not invalid: errors.os_error's class (here EISDIR), the path and operation named."""
    (tmp_path / "manifest.json").mkdir()
    with pytest.raises(errors.IsADirectory) as info:
        read_manifest(tmp_path)
    assert info.value.errno == errno.EISDIR and info.value.filename == str(tmp_path / "manifest.json")
    assert str(info.value).startswith(f"read container manifest: {tmp_path / 'manifest.json'}: ")
