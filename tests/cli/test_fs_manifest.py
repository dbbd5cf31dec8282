"""`fs manifest`, `fs diff`, `fs verify` (attached here to a test group), and the exports read
by the real b3sum and bsdtar."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import blake3
import click
import pytest
from click.testing import CliRunner

import bodega
from bodega import errors
from bodega.cli import BodegaGroup
from bodega.cli.fs_manifest import FS_COMMANDS

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from conftest import need  # noqa: E402
from manifest_trees import later, make_tree  # noqa: E402

mf = bodega.manifest


@click.group(cls=BodegaGroup)
def fs() -> None:
    """The fs group as the lead will assemble it."""


for _command in FS_COMMANDS:
    fs.add_command(_command)


def run(*args: str, ok: bool = True):
    result = CliRunner().invoke(fs, [str(a) for a in args], catch_exceptions=False)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        need(f"{name} is not installed (apt: {'b3sum' if name == 'b3sum' else 'libarchive-tools'})")
    return path


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "tree")


def test_manifest_writes_a_loadable_binary_file(tree, tmp_path):
    out = tmp_path / "m.bgm"
    r = run("manifest", tree, "-o", out, "--json")
    summary = json.loads(r.output)
    m = mf.load(out)
    assert summary["root"] == m.root_hex == mf.build(tree).root_hex
    assert summary["entries"] == len(m) and m.has_stat_cache
    run("manifest", tree, "-o", out, "--no-stat-cache")
    assert not mf.load(out).has_stat_cache


def test_previous_manifest_skips_unchanged_files(tree, tmp_path):
    first = tmp_path / "first.bgm"
    mf.build(tree, clock=later).save(first)  # as if made a racy window after the files were written
    r = run("manifest", tree, "-o", tmp_path / "second.bgm", "--previous", first, "--json")
    assert json.loads(r.output)["files_read"] == 0


def test_json_format(tree, tmp_path):
    out = tmp_path / "m.json"
    run("manifest", tree, "--format", "json", "-o", out)
    data = json.loads(out.read_text())
    assert data["format"] == "bodega-manifest" and data["root"] == mf.build(tree).root_hex
    by_path = {e.get("path") or bytes.fromhex(e["path_hex"]): e for e in data["entries"]}
    assert by_path["link"]["link"] == "a.txt" and by_path["link"]["kind"] == "symlink"
    assert by_path["a.txt"]["hash"] == blake3.blake3(b"hello\n").hexdigest()
    assert by_path[b"latin\xe9"]["kind"] == "file"


def test_b3sum_check_accepts_the_tree_and_rejects_one_changed_byte(tree, tmp_path):
    b3sum = tool("b3sum")
    (tree / "carriage\rreturn").write_bytes(b"cr")  # b3sum escapes backslashes and newlines only
    sums = tmp_path / "sums.b3"
    r = CliRunner().invoke(fs, ["manifest", str(tree), "--format", "b3sum", "-o", str(sums)])
    assert r.exit_code == 0
    assert "latin" in r.output or "latin" in (r.stderr if hasattr(r, "stderr") else "")
    ok = subprocess.run([b3sum, "--check", str(sums)], cwd=tree, capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.count(": OK") == 12  # every file but the one b3sum cannot name
    with open(tree / "a" / "b" / "big.bin", "r+b") as f:
        f.seek(1 << 20)
        b = f.read(1)
        f.seek(1 << 20)
        f.write(bytes([b[0] ^ 0xFF]))
    bad = subprocess.run([b3sum, "--check", str(sums)], cwd=tree, capture_output=True, text=True)
    assert bad.returncode != 0
    assert "a/b/big.bin: FAILED" in bad.stdout
    assert bad.stdout.count(": OK") == 11


def test_mtree_is_read_by_bsdtar(tree, tmp_path):
    bsdtar = tool("bsdtar")
    spec = tmp_path / "spec.mtree"
    run("manifest", tree, "--format", "mtree", "-o", spec)
    out = tmp_path / "out.tar"
    made = subprocess.run([bsdtar, "-cf", str(out), f"@{spec}"], cwd=tree, capture_output=True)
    assert made.returncode == 0, made.stderr
    m = mf.build(tree)
    with tarfile.open(out) as tar:
        members = {os.fsencode(t.name.removeprefix("./")): t for t in tar.getmembers()}
        assert set(members) == {e.path for e in m}
        for e in m:
            t = members[e.path]
            if e.kind == "file":
                assert blake3.blake3(tar.extractfile(t).read()).digest() == e.hash
                assert t.mode == e.mode & 0o7777
            elif e.kind == "symlink":
                assert os.fsencode(t.linkname) == e.link
            else:
                assert t.isdir()
    listed = subprocess.run([bsdtar, "-tf", str(spec)], capture_output=True)
    assert listed.returncode == 0
    assert b"./new\\nline" in listed.stdout or b"./new\nline" in listed.stdout


def test_mtree_round_trip_through_bsdtar_keeps_the_root(tree, tmp_path):
    bsdtar = tool("bsdtar")
    spec = tmp_path / "spec.mtree"
    run("manifest", tree, "--format", "mtree", "-o", spec)
    out, dest = tmp_path / "out.tar", tmp_path / "dest"
    dest.mkdir()
    subprocess.run([bsdtar, "-cf", str(out), f"@{spec}"], cwd=tree, check=True, capture_output=True)
    subprocess.run([bsdtar, "-xpf", str(out)], cwd=dest, check=True, capture_output=True)
    assert mf.build(dest).root == mf.build(tree).root


def test_diff_text_and_json(tree, tmp_path):
    saved = tmp_path / "m.bgm"
    run("manifest", tree, "-o", saved)
    (tree / "a.txt").write_bytes(b"other\n")
    os.chmod(tree / "run.sh", 0o700)
    r = run("diff", saved, tree)
    assert r.output.splitlines() == ["M  a.txt", " M run.sh"]
    r = run("diff", saved, tree, "--json")
    data = json.loads(r.output)
    assert [(c["status"], c["path"]) for c in data["changes"]] == [("M ", "a.txt"), (" M", "run.sh")]


def test_verify_ok_then_mismatch_exit_code(tree, tmp_path):
    saved = tmp_path / "m.bgm"
    run("manifest", tree, "-o", saved)
    r = run("verify", tree, saved)
    assert r.output.startswith("ok  ")
    (tree / "empty").write_bytes(b"!")
    r = run("verify", tree, saved, ok=False)
    assert r.exit_code == errors.TreeMismatch.exit_code
    assert "M  empty" in r.output and "does not match" in r.output


def test_a_damaged_manifest_file_fails_with_its_offset(tree, tmp_path):
    saved = tmp_path / "m.bgm"
    run("manifest", tree, "-o", saved)
    data = bytearray(saved.read_bytes())
    data[200] ^= 4
    saved.write_bytes(bytes(data))
    r = run("verify", tree, saved, ok=False)
    assert r.exit_code == errors.ManifestCorrupt.exit_code
    assert "m.bgm" in r.output and "byte" in r.output and "checksum" in r.output
    saved.write_bytes(bytes(data[:100]))
    r = run("diff", saved, tree, ok=False)
    assert r.exit_code == errors.ManifestCorrupt.exit_code and "truncated" in r.output


def test_binary_to_a_terminal_is_refused_and_json_needs_a_file(tree):
    r = run("manifest", tree, "--json", ok=False)
    assert r.exit_code == 10 and "-o FILE" in r.output


# --- -o: devices and fifos written through, links refused (issue 10, item 8) -----------------

def test_output_to_dev_full_is_no_space_and_the_device_stays(tree, tmp_path):
    """The issue's scenario: as root, `-o /dev/full` exited 0 and replaced the node by a regular file.

    As root the test writes to a full device of its own (mknod 1,7 in a temp dir), so that a
    regression breaks no device of the machine.
    """
    import stat

    full = Path("/dev/full")
    if os.geteuid() == 0:
        full = tmp_path / "full"
        os.mknod(full, stat.S_IFCHR | 0o600, os.makedev(1, 7))
    r = run("manifest", tree, "-o", full, ok=False)
    assert r.exit_code == errors.NoSpace.exit_code and f"{full}: No space left on device" in r.stderr
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_output_to_dev_null_is_written_through(tree):
    import stat

    r = run("manifest", tree, "-o", "/dev/null", "--json")
    assert json.loads(r.stdout)["output"] == "/dev/null"
    assert stat.S_ISCHR(os.lstat("/dev/null").st_mode)


def test_output_dash_is_standard_output(tree):
    r = run("manifest", tree, "-o", "-", "--format", "b3sum")
    assert r.stdout == run("manifest", tree, "--format", "b3sum").stdout != ""


def test_output_to_a_symlink_is_refused_and_its_target_kept(tree, tmp_path):
    target = tmp_path / "precious"
    target.write_bytes(b"keep me")
    link = tmp_path / "out.bgm"
    link.symlink_to(target)
    r = run("manifest", tree, "-o", link, ok=False)
    assert r.exit_code == 14 and "symbolic link" in r.stderr
    assert link.is_symlink() and target.read_bytes() == b"keep me"
