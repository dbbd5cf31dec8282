"""`bodega demo` runs the main job end to end on a fresh home and reports what really happened."""
from __future__ import annotations

import json
import os
from pathlib import Path

import bodega


def _steps(out: str) -> dict[str, dict]:
    return {s["step"]: s for s in json.loads(out)["steps"]}


def test_demo_reports_the_real_state_of_its_home(run, tmp_path):
    home = tmp_path / "demo-home"
    result = run("demo", "--home", str(home), "--files", "60", "--json")
    steps = _steps(result.stdout)
    diff = steps["diff against the snapshot"]["diff"]
    assert {c["path"] for c in diff["changes"]} >= {"bin/part00000.dat", "share/doc/NEWS"}
    assert steps["diff after restore"]["changes"] == 0
    assert steps["verify every snapshot (read data)"]["verify_ok"] is True
    assert steps["verify the package"]["package_ok"] is True
    assert steps["diff the import against 'app'"]["import_clean"] is True
    assert steps["install 'hello' (a transaction)"]["status"] == "ready"
    assert steps["run 'hello' isolated"]["exit_code"] == 0
    assert steps["run 'hello' isolated"]["wrote"] == "hello from /container/apps/hello"
    assert steps["footprint of 'hello'"]["footprint"]["added"] == 7  # apps, apps/hello, bin, share + 3 files
    assert steps["install a hostile archive"]["unchanged"] is True
    assert "traversal" in steps["install a hostile archive"]["refused"]
    # What the demo says is what the home holds.
    with bodega.open(home) as b:
        names = sorted(c.name for c in b.containers.list())
        assert names == ["app", "app-copy", "app-imported", "tools"]
        assert [a.name for a in b.apps.list("tools") if a.status.value == "ready"] == ["hello"]
        assert (Path(b.containers.get("tools").storage_path) / "root/home/hello.txt").exists()
        package = steps["export 'app' (zip package)"]
        assert [p.integrity_hash for p in b.exports.list()] == [package["integrity_hash"]]
        root = os.path.join(b.containers.get("app").storage_path, "root")
        assert not os.path.exists(os.path.join(root, "share/doc/NEWS"))  # restored to 'installed'
        assert len(b.snapshots.list("app")) == 2


def test_demo_refuses_a_home_that_is_not_empty(run, tmp_path):
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "bodega.db").write_text("x")
    result = run("demo", "--home", str(tmp_path / "used"), code=2)
    assert "not empty" in result.output
