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


def test_ls_quotes_names_like_diff_and_gives_path_hex_in_json(run):
    """Issue 10 item 11: ls printed names raw (a newline forged a line, escapes reached the
    terminal) and its JSON carried lone surrogates."""
    import os

    root = tree_of(run)
    raw = os.fsencode(root)
    for name in (b"a\nd 0644 1 forged", b"\x1b[2Jclear", b"\xff\xfe"):
        with open(raw + b"/" + name, "wb") as f:
            f.write(b"x")
    os.symlink(b"\x1b]0;title\x07", raw + b"/lnk")
    snap = json.loads(run("snapshot", "create", "dev", "--json").output)["id"]
    text = run("snapshot", "ls", "dev", snap).stdout
    lines = text.splitlines()
    assert len(lines) == 6 and "\x1b" not in text and "\x07" not in text
    assert 'f 0644            1 "a\\nd 0644 1 forged"' in lines
    assert 'f 0644            1 "\\033[2Jclear"' in lines and 'f 0644            1 "\\377\\376"' in lines
    assert any(line.startswith("l ") and line.endswith('lnk -> "\\033]0;title\\007"') for line in lines)
    assert any(line.startswith("d ") and line.endswith(" app/") for line in lines)
    listed = json.loads(run("snapshot", "ls", "dev", snap, "--json").stdout.encode("utf-8"))
    by_name = {e.get("path") or bytes.fromhex(e["path_hex"]).decode("latin-1"): e for e in listed}
    assert by_name["\xff\xfe"]["path_hex"] == "fffe" and "path" not in by_name["\xff\xfe"]
    assert by_name["a\nd 0644 1 forged"]["kind"] == "file"
    assert by_name["lnk"]["link"] == "\x1b]0;title\x07"
    assert not any("\udcff" in json.dumps(e, ensure_ascii=False) for e in listed)


def _home_of(run) -> Path:
    return Path(json.loads(run("container", "show", "dev", "--json").output)["storage_path"]).parents[1]


def test_repair_that_cannot_mend_everything_says_so_and_fails(run):
    """Issue 10 item 13: `verify --repair` printed "all damage repaired", then "verify FAILED", and exited 0."""
    tree_of(run)
    kept = json.loads(run("snapshot", "create", "dev", "--json").output)["id"]
    (_home_of(run) / "store" / "snapshots").joinpath(f"{kept}.snap").unlink()
    r = run("verify", "--read-data", "--repair", code=errors.VerifyFailed.exit_code)
    lines = r.stdout.splitlines()
    assert "all damage repaired" not in r.stdout and lines[-1] == "verify FAILED"
    assert f"STILL DAMAGED snapshot {kept} is in the catalogue but not in the store" in lines
    report = json.loads(run("verify", "--repair", "--json", code=errors.VerifyFailed.exit_code).stdout)
    assert report["ok"] is False and report["after_repair"]["ok"] is False


def test_repair_that_mends_everything_is_ok_and_exit_0(run):
    tree_of(run)
    run("snapshot", "create", "dev")
    flip_bit(next((_home_of(run) / "store" / "packs").iterdir()), 40)
    r = run("verify", "--read-data", "--repair")
    lines = r.stdout.splitlines()
    assert any(line.startswith("DAMAGED ") for line in lines)
    assert lines[-2:] == ["all damage repaired", "ok"] and "FAILED" not in r.stdout


def test_a_damaged_object_without_a_live_copy_stays_damaged_and_fails(run):
    root = tree_of(run)
    run("snapshot", "create", "dev")
    first_packs = sorted((_home_of(run) / "store" / "packs").iterdir())
    (root / "app" / "bin").write_bytes(b"another build")
    (root / "readme").write_text("another readme\n")
    run("snapshot", "create", "dev")  # the live manifest now vouches for other content
    flip_bit(first_packs[0], 40)  # an object only the first snapshot has
    r = run("verify", "--read-data", "--repair", code=errors.VerifyFailed.exit_code)
    assert "repaired 0 object(s)" in r.stdout and "STILL DAMAGED" in r.stdout and r.stdout.endswith("verify FAILED\n")


def test_cat_of_a_file_whose_object_is_gone_names_the_file_and_the_store(run):
    tree_of(run)
    snap = json.loads(run("snapshot", "create", "dev", "--json").output)["id"]
    packs = _home_of(run) / "store" / "packs"
    for pack in packs.iterdir():
        pack.unlink()
    r = run("snapshot", "cat", "dev", snap, "readme", code=errors.ObjectMissing.exit_code)
    assert "(needed by readme) is missing from the store" in r.stderr and str(packs) in r.stderr


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
