"""One damaged snapshot file, pack or manifest never locks a home (issue 10, item 4): every
command that does not need the damaged object works, `verify` names it with its exit code,
and `snapshot forget` removes the damaged snapshot."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from bodega import errors
from damage import flip_bit


def _home_with_chain(run, home: Path) -> tuple[Path, list[str]]:
    """A container with three snapshots: full, delta, delta (each adding a packed file)."""
    run("container", "create", "dev")
    root = Path(json.loads(run("container", "show", "dev", "--json").output)["storage_path"]) / "root"
    ids = []
    for i in range(3):
        (root / f"f{i}.txt").write_text(f"file {i}\n" * 300)
        ids.append(json.loads(run("snapshot", "create", "dev", "--json").output)["id"])
    return root, ids


def _snap_file(home: Path, sid: str) -> Path:
    return home / "store" / "snapshots" / f"{sid}.snap"


def _damage_header(home: Path, sid: str) -> None:
    path = _snap_file(home, sid)
    data = path.read_bytes()
    path.write_bytes(b"{not json" + data[9:])


def _damage_manifest(home: Path, sid: str) -> None:
    path = _snap_file(home, sid)
    header_end = path.read_bytes().index(b"\n")
    flip_bit(path, header_end + 80)  # inside the manifest's table


def _damage_pack(home: Path, _sid: str) -> None:
    for pack in (home / "store" / "packs").glob("*.pack"):
        flip_bit(pack, pack.stat().st_size - 10)  # the trailer: its index can no longer be trusted


@pytest.mark.parametrize("damage, names", [(_damage_header, "header"), (_damage_manifest, "manifest"),
                                           (_damage_pack, "pack")])
def test_a_damaged_object_is_reported_by_verify_and_forget_removes_its_snapshot(run, home, damage, names):
    root, ids = _home_with_chain(run, home)
    newest = ids[-1]
    damage(home, newest)

    listed = json.loads(run("container", "list", "--json").output)
    assert [c["name"] for c in listed] == ["dev"]
    assert len(json.loads(run("snapshot", "list", "dev", "--json").output)) == 3
    result = run("verify", code=errors.VerifyFailed.exit_code)
    assert "verify FAILED" in result.output
    assert (names == "pack" and "pack" in result.output) or newest in result.output

    run("snapshot", "forget", "dev", newest)
    assert [s["id"] for s in json.loads(run("snapshot", "list", "dev", "--json").output)] == ids[:2]
    assert not _snap_file(home, newest).exists()
    if names != "pack":
        assert "ok" in run("verify", "--read-data").output
        run("snapshot", "restore", "dev", ids[1])
        assert (root / "f1.txt").read_text() == "file 1\n" * 300 and not (root / "f2.txt").exists()


def test_a_damaged_base_is_forgotten_with_the_deltas_that_need_it(run, home):
    _, ids = _home_with_chain(run, home)
    _damage_header(home, ids[1])
    result = run("snapshot", "forget", "dev", ids[1], code=errors.SnapshotInUse.exit_code)
    assert ids[2] in result.stderr and "forget it too" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert len(json.loads(run("snapshot", "list", "dev", "--json").output)) == 3  # nothing changed
    assert _snap_file(home, ids[2]).exists() and not list((home / "store" / "tmp").iterdir())
    run("snapshot", "forget", "dev", ids[1], ids[2])
    assert [s["id"] for s in json.loads(run("snapshot", "list", "dev", "--json").output)] == ids[:1]
    assert "ok" in run("verify", "--read-data").output


def test_a_command_that_needs_the_damaged_snapshot_fails_in_one_line(run, home):
    _, ids = _home_with_chain(run, home)
    _damage_header(home, ids[2])
    result = run("snapshot", "ls", "dev", ids[2], code=errors.ManifestCorrupt.exit_code)
    assert len(result.stderr.strip().splitlines()) == 1 and ids[2] in result.stderr
    run("snapshot", "ls", "dev", ids[0])
