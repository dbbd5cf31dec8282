"""`bodega snapshot ...`, `bodega diff`, `bodega verify`, `bodega gc` end to end."""
from __future__ import annotations

import json
from pathlib import Path

from bodega import errors
from damage import flip_bit


def tree_of(run) -> Path:
    run("container", "create", "dev")
    path = Path(json.loads(run("container", "show", "dev", "--json").output)["storage_path"]) / "root"
    (path / "app").mkdir(parents=True, exist_ok=True)
    (path / "app" / "bin").write_bytes(b"\x7fELF" + bytes(range(256)) * 40)
    (path / "readme").write_text("hello\n")
    return path


def test_create_list_diff_restore_cat(run, tmp_path):
    root = tree_of(run)
    first = json.loads(run("snapshot", "create", "dev", "-m", "first", "--json").output)
    assert first["type"] == "full" and first["label"] == "first"
    (root / "readme").write_text("changed\n")
    assert run("diff", "dev").output.strip() == "M  readme"
    assert json.loads(run("diff", "dev", "--json").output)["counts"]["modified"] == 1
    second = json.loads(run("snapshot", "create", "dev", "--json").output)
    assert second["type"] == "delta" and second["base_snapshot_id"] == first["id"]
    listed = json.loads(run("snapshot", "list", "dev", "--json").output)
    assert [s["id"] for s in listed] == [first["id"], second["id"]]
    assert run("snapshot", "cat", "dev", first["id"][:8], "readme").output == "hello\n"
    assert "app" in run("snapshot", "ls", "dev", first["id"]).output
    run("snapshot", "restore", "dev", first["id"][:8])
    assert (root / "readme").read_text() == "hello\n"
    run("snapshot", "extract", "dev", second["id"], "app", str(tmp_path / "out"))
    assert (tmp_path / "out" / "bin").read_bytes() == (root / "app" / "bin").read_bytes()
    shown = json.loads(run("snapshot", "show", "dev", second["id"], "--json").output)
    assert shown["store"]["root"] == second["checksum_manifest"]


def test_verify_fails_with_its_exit_code_on_damage_and_repair_heals(run):
    root = tree_of(run)
    run("snapshot", "create", "dev")
    run("verify", "--read-data")
    home = Path(json.loads(run("container", "show", "dev", "--json").output)["storage_path"]).parents[1]
    pack = next((home / "store" / "packs").iterdir())
    flip_bit(pack, 40)  # inside the first record
    out = run("verify", "dev", "--read-data", code=errors.VerifyFailed.exit_code).output
    assert "DAMAGED" in out and "needed by" in out
    run("verify", "--read-data", "--repair")
    run("verify", "--read-data")
    assert root.exists()


def test_forget_and_gc(run):
    root = tree_of(run)
    run("snapshot", "create", "dev")
    (root / "extra").write_bytes(b"x" * 5000)
    run("snapshot", "create", "dev")
    (root / "extra").unlink()
    run("snapshot", "create", "dev")
    plan = json.loads(run("snapshot", "forget", "dev", "--keep-last", "1", "--dry-run", "--json").output)
    assert len(plan["forget"]) == 2 and plan["dry_run"]
    run("snapshot", "forget", "dev", "--keep-last", "1", "--keep-trigger", "pre-install=30d")
    assert len(json.loads(run("snapshot", "list", "dev", "--json").output)) == 1
    assert json.loads(run("gc", "--dry-run", "--json").output)["objects_removed"] == 1
    assert json.loads(run("gc", "--json").output)["objects_removed"] == 1
    run("verify", "--read-data")


def test_bad_input_exit_codes(run):
    tree_of(run)
    run("snapshot", "create", "dev")
    run("verify", "--read-data-subset", "150%", code=errors.InvalidInput.exit_code)
    run("verify", "--read-data-subset", "ten", code=errors.InvalidInput.exit_code)
    run("snapshot", "forget", "dev", code=errors.RetentionInvalid.exit_code)
    run("snapshot", "forget", "dev", "--keep-trigger", "install=3", code=errors.RetentionInvalid.exit_code)
    run("snapshot", "forget", "dev", "--keep-within", "3 days", code=errors.RetentionInvalid.exit_code)
    run("snapshot", "show", "dev", "abcdef12", code=errors.SnapshotNotFound.exit_code)
    snap = json.loads(run("snapshot", "list", "dev", "--json").output)[0]["id"]
    run("snapshot", "cat", "dev", snap, "nope", code=errors.SnapshotPathNotFound.exit_code)
    run("snapshot", "create", "nope", code=errors.ContainerNotFound.exit_code)


def test_extract_to_a_bad_destination_is_one_line_and_its_exit_code(run, tmp_path):
    tree_of(run)
    snap = json.loads(run("snapshot", "create", "dev", "--json").output)["id"]
    (tmp_path / "file").write_bytes(b"x")
    for dest, error in ((tmp_path / "missing" / "out", errors.PathNotFound),
                        (tmp_path / "file" / "out", errors.NotADirectory),
                        (tmp_path / "file", errors.PathExists)):
        for path in ("/", "app", "readme"):
            out = run("snapshot", "extract", "dev", snap, path, str(dest), code=error.exit_code).output
            lines = out.strip().splitlines()
            assert len(lines) == 1 and str(dest) in lines[0] and "Traceback" not in out, out


def test_restore_reports_the_special_files_it_skips(run, tmp_path):
    import os

    root = tree_of(run)
    os.mkfifo(root / "pipe")
    snap = json.loads(run("snapshot", "create", "dev", "--json").output)["id"]
    (root / "pipe").unlink()
    (root / "readme").write_text("changed\n")
    out = run("snapshot", "restore", "dev", snap).output
    assert "skipped 1 special files it cannot create: pipe (fifo)" in out
    result = json.loads(run("snapshot", "restore", "dev", snap, "--json").output)
    assert result["skipped_specials"] == [{"path": "pipe", "kind": "fifo"}]
    tasks = json.loads(run("tasks", "--json").output)
    restored = [t for t in tasks if t["type"] == "snapshot.restore"][0]
    assert restored["result"]["skipped_specials"] == [{"path": "pipe", "kind": "fifo"}]
