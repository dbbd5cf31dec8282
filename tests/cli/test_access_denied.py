"""A container file or directory its user cannot read (EACCES, issue 16): snapshot create and
container clone end in one line with AccessDenied's exit code, naming the entry, and lose
nothing: no snapshot, no clone, no staging, no task left running, the tree as it was; once
the entry is readable again both succeed.  Run as an unprivileged user (root reads anything)."""
from __future__ import annotations

import json
import os
import pwd
from pathlib import Path

import pytest
from click.testing import CliRunner

from bodega import errors
from bodega.cli import main
from reference import manifest_ref as ref
from unprivileged import as_unprivileged, public_dir


def _cli(home: Path, *args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(main, [*args, "--home", str(home)])
    return r.exit_code, r.stdout, r.stderr


@pytest.fixture
def nobody_home():
    """A home directory the unprivileged user owns, after a warm-up run here (the modules the
    commands import lazily are loaded before the child drops privileges)."""
    with public_dir("eacces") as d:
        warm = d / "warm-up"
        assert _cli(warm, "container", "create", "w")[0] == 0
        assert _cli(warm, "snapshot", "create", "w")[0] == 0
        assert _cli(warm, "container", "clone", "w", "w2")[0] == 0
        for reading in (("container", "show", "w"), ("snapshot", "list", "w"), ("container", "list"), ("tasks",)):
            assert _cli(warm, *reading, "--json")[0] == 0
        home = d / "home"
        # The catalogue is made here: its migration scripts live in the installed package,
        # which nobody may not be able to read (CI installs into root's private Python).
        assert _cli(home, "container", "list")[0] == 0
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            for p in [home, *home.rglob("*")]:
                os.lchown(p, nobody.pw_uid, nobody.pw_gid)
        yield home


@pytest.mark.parametrize("what", ["file", "directory"])
def test_an_unreadable_entry_fails_snapshot_and_clone_in_one_line_and_loses_nothing(nobody_home, what):
    home = nobody_home

    def run() -> dict:
        out: dict = {}
        assert _cli(home, "container", "create", "dev")[0] == 0
        code, shown, _ = _cli(home, "container", "show", "dev", "--json")
        root = Path(json.loads(shown)["storage_path"]) / "root"
        (root / "app" / "locked").mkdir(parents=True)
        (root / "app" / "readme.txt").write_text("hello\n")
        (root / "app" / "locked" / "data.bin").write_bytes(os.urandom(50_000))
        before = ref.entries(root)
        locked = root / "app" / ("locked" if what == "directory" else "readme.txt")
        locked.chmod(0)
        out["snapshot"] = _cli(home, "snapshot", "create", "dev")
        out["clone"] = _cli(home, "container", "clone", "dev", "dev2")
        out["snapshots"] = json.loads(_cli(home, "snapshot", "list", "dev", "--json")[1])
        out["containers"] = [c["name"] for c in json.loads(_cli(home, "container", "list", "--json")[1])]
        out["tasks"] = [(t["type"], t["status"]) for t in json.loads(_cli(home, "tasks", "--json")[1])]
        out["container_dirs"] = len(list((home / "containers").iterdir()))
        out["staging"] = sorted(p.name for p in (home / "tmp").iterdir()) if (home / "tmp").exists() else []
        locked.chmod(0o755 if what == "directory" else 0o644)
        out["unchanged"] = ref.entries(root) == before
        out["after"] = (_cli(home, "snapshot", "create", "dev")[0], _cli(home, "container", "clone", "dev", "dev2")[0])
        out["locked"] = str(locked)
        return out

    out = as_unprivileged(run)
    for op in ("snapshot", "clone"):
        code, _, err = out[op]
        print(f"{what}, {op}: exit {code}: {err.strip()}")
        assert code == errors.AccessDenied.exit_code, (op, err)
        assert err.startswith("bodega: error: ") and err.count("\n") == 1, (op, err)
        assert out["locked"] in err and "Permission denied" in err, (op, err)
    assert out["snapshots"] == [] and out["containers"] == ["dev"] and out["container_dirs"] == 1
    assert out["staging"] == []
    assert all(status == "failed" for kind, status in out["tasks"] if kind != "container.create"), out["tasks"]
    assert out["unchanged"]
    assert out["after"] == (0, 0)  # readable again: both work
