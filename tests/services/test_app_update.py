"""Updates as one more transaction, and the small mutations: disable, enable, set-entry."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bodega import errors
from bodega.catalogue.models import AppStatus, TaskStatus

from .real_apps import tar_of


def _v(tmp_path, version: str, files: dict[str, bytes]) -> Path:
    meta = {"name": "tool", "version": version, "entry_points": [{"name": "tool", "command": "bin/tool"}]}
    return tar_of(tmp_path, {"bodega-app.json": json.dumps(meta).encode(), **files}, name=f"tool-{version}.tar.gz")


def test_an_update_is_one_more_transaction_with_its_own_footprint(b, tmp_path):
    c = b.containers.create("dev")
    root = Path(c.storage_path) / "root"
    b.apps.install("dev", _v(tmp_path, "1.0", {"bin/tool": b"#!/bin/sh\necho 1\n", "lib/old.so": b"old",
                                               "conf": b"x=1\n"}))
    (root / "apps/tool/conf").write_text("x=2  # edited by the user\n")
    app = b.apps.update("dev", "tool", _v(tmp_path, "2.0", {"bin/tool": b"#!/bin/sh\necho 2\n",
                                                            "lib/new.so": b"new", "conf": b"x=1\ny=1\n"}))
    assert (app.version, app.status) == ("2.0", AppStatus.READY)
    tool = root / "apps/tool"
    assert (tool / "bin/tool").read_bytes() == b"#!/bin/sh\necho 2\n"
    assert not (tool / "lib/old.so").exists() and (tool / "lib/new.so").read_bytes() == b"new"
    assert (tool / "conf").read_text() == "x=2  # edited by the user\n"  # kept
    assert (tool / "conf.bodega-new").read_bytes() == b"x=1\ny=1\n"
    details = b.apps.show("dev", "tool")
    assert [t["type"] for t in details.tasks] == ["app.install", "app.update"]
    assert all(t["status"] == "succeeded" and t["post_snapshot_id"] for t in details.tasks)
    paths = {e.path.decode(): e.change for e in b.apps.footprint("dev", "tool").entries}
    assert "apps/tool/lib/old.so" not in paths and paths["apps/tool/lib/new.so"] == "added"
    assert [s.trigger.value for s in b.snapshots.list("dev")] == ["pre-install", "post-install"] * 2


def test_a_failed_update_rolls_back_to_the_old_version(b, tmp_path):
    from bodega.storage import manifest as mf

    c = b.containers.create("dev")
    root = Path(c.storage_path) / "root"
    b.apps.install("dev", _v(tmp_path, "1.0", {"bin/tool": b"#!/bin/sh\necho 1\n"}))
    before = mf.build(root).root_hex
    broken = tar_of(tmp_path, {"bin/other": b"x", "evil": b"y"}, name="broken.tar.gz")
    with pytest.raises(errors.InstallFailed, match="bin/missing is not in the container"):
        b.apps.update("dev", "tool", broken, entries=["tool=bin/missing"])
    assert mf.build(root).root_hex == before
    app = b.apps.get("dev", "tool")
    assert (app.version, app.status) == ("1.0", AppStatus.READY)
    assert b.tasks.list(type="app.update")[0].status == TaskStatus.FAILED


def test_disable_enable_and_set_entry(b, tmp_path):
    b.containers.create("dev")
    b.apps.install("dev", _v(tmp_path, "1.0", {"bin/tool": b"#!/bin/sh\n", "bin/aux": b"#!/bin/sh\n"}))
    assert b.apps.disable("dev", "tool").status == AppStatus.DISABLED
    with pytest.raises(errors.WrongStatus, match="disabled"):
        b.apps.run("dev", "tool")
    assert b.apps.enable("dev", "tool").status == AppStatus.READY
    app = b.apps.set_entry("dev", "tool", "aux=bin/aux --verbose")
    assert [e["name"] for e in app.entry_points] == ["tool", "aux"]
    with pytest.raises(errors.InvalidInput, match="outside the container"):
        b.apps.set_entry("dev", "tool", "bad=/etc/passwd")
    app = b.apps.set_entry("dev", "tool", remove="aux")
    assert [e["name"] for e in app.entry_points] == ["tool"]
    with pytest.raises(errors.EntryPointRequired):
        b.apps.set_entry("dev", "tool", remove="tool")
    with pytest.raises(errors.AppNotFound):
        b.apps.disable("dev", "nope")
    events = [e.message for e in b.events.list(limit=None) if e.level.value == "audit"]
    assert any("app disable dev tool" in m for m in events)


def test_manifest_json_lists_the_apps_and_a_clone_keeps_their_provenance(b, tmp_path):
    c = b.containers.create("dev")
    app = b.apps.install("dev", _v(tmp_path, "1.0", {"bin/tool": b"#!/bin/sh\n"}))
    manifest = json.loads((Path(c.storage_path) / "manifest.json").read_text())
    [listed] = manifest["app_instances"]
    assert (listed["name"], listed["status"], listed["source_hash"]) == ("tool", "ready", app.source_hash)
    b.containers.clone("dev", "dev2")
    [copy] = b.apps.list("dev2")
    assert (copy.name, copy.source_hash, copy.entry_points) == ("tool", app.source_hash, app.entry_points)
