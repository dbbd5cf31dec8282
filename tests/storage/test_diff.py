"""bodega.manifest.diff: manifest vs manifest and live tree vs manifest, every kind of change,
renames by content, text like `git status --short` and JSON."""
from __future__ import annotations

import json
import os
import random
import shutil
import sys
from pathlib import Path

import pytest

import bodega
from bodega import errors

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from manifest_trees import Opens, later, make_tree  # noqa: E402
from reference import manifest_ref as ref  # noqa: E402

mf = bodega.manifest


def expected_changes(old: list[dict], new: list[dict]) -> dict[bytes, set[str]]:
    """The oracle: per path, the change names docs/format.md's rules give (no renames)."""
    a = {e["path"]: e for e in old}
    b = {e["path"]: e for e in new}
    out: dict[bytes, set[str]] = {}
    for p in a.keys() - b.keys():
        out[p] = {"deleted"}
    for p in b.keys() - a.keys():
        out[p] = {"added"}
    for p in a.keys() & b.keys():
        x, y = a[p], b[p]
        if x["kind"] != y["kind"]:
            out[p] = {"type-changed"}
            continue
        what = set()
        if x["hash"] != y["hash"]:
            what.add("modified")
        if x["mode"] != y["mode"]:
            what.add("mode-changed")
        if x["link"] != y["link"]:
            what.add("link-changed")
        if what:
            out[p] = what
    return out


def change_every_way(root: Path) -> None:
    (root / "a.txt").write_bytes(b"changed\n")                  # M
    os.chmod(root / "run.sh", 0o700)                             # mode only
    (root / "sp ace").write_bytes(b"SPACE")
    os.chmod(root / "sp ace", 0o600)                             # content and mode
    os.unlink(root / "link")
    os.symlink("run.sh", root / "link")                          # L
    shutil.rmtree(root / "a" / "b" / "c")                        # D (dir and file)
    (root / "new").mkdir()
    (root / "new" / "n.txt").write_bytes(b"n")                   # A
    os.unlink(root / "a-b" / "x")
    (root / "a-b" / "x").mkdir()                                 # T
    os.utime(root / "empty", ns=(5, 5))                          # mtime only: no change
    os.rename(root / "a" / "one.bin", root / "moved.bin")        # R
    os.rename(root / "new\nline", root / "renamed\nline")
    os.chmod(root / "renamed\nline", 0o640)                      # R with a mode change


@pytest.fixture
def tree(tmp_path) -> Path:
    return make_tree(tmp_path / "tree")


def test_manifest_vs_manifest_matches_the_oracle(tree):
    old_ref, old = ref.entries(tree), mf.build(tree)
    change_every_way(tree)
    new_ref, new = ref.entries(tree), mf.build(tree)
    d = mf.diff(old, new, renames=False)
    got = {c.path: set(c.changes) for c in d}
    assert got == expected_changes(old_ref, new_ref)
    assert [c.path for c in d] == sorted(c.path for c in d)


def test_renames_pair_equal_content(tree):
    old = mf.build(tree)
    change_every_way(tree)
    d = mf.diff(old, mf.build(tree))
    by_path = {c.path: c for c in d}
    assert by_path[b"moved.bin"].changes == ("renamed",)
    assert by_path[b"moved.bin"].old_path == b"a/one.bin"
    assert by_path[b"renamed\nline"].changes == ("renamed", "mode-changed")
    assert b"a/one.bin" not in by_path and b"new\nline" not in by_path
    assert by_path[b"new/n.txt"].changes == ("added",)


def test_empty_files_are_not_renames(tree):
    old = mf.build(tree)
    os.rename(tree / "empty", tree / "empty2")
    d = mf.diff(old, mf.build(tree))
    assert {(c.path, c.changes) for c in d} == {(b"empty", ("deleted",)), (b"empty2", ("added",))}


def test_text_is_like_git_status_short(tree):
    old = mf.build(tree)
    change_every_way(tree)
    text = mf.diff(old, mf.build(tree)).to_text().splitlines()
    assert "M  a.txt" in text
    assert " M run.sh" in text
    assert "MM sp ace" in text
    assert "L  link" in text
    assert "D  a/b/c/" in text and "D  a/b/c/deep.txt" in text
    assert "A  new/" in text and "A  new/n.txt" in text
    assert "T  a-b/x/" in text
    assert "R  a/one.bin -> moved.bin" in text
    assert 'RM "new\\nline" -> "renamed\\nline"' in text
    assert not any(line.endswith(" empty") for line in text)


def test_json_keeps_names_that_are_not_utf8(tree):
    old = mf.build(tree)
    with open(os.path.join(os.fsencode(tree), b"latin\xe9"), "wb") as f:
        f.write(b"other bytes")
    out = mf.diff(old, mf.build(tree)).to_json()
    json.dumps(out)  # encodable
    (change,) = out["changes"]
    assert change["path_hex"] == b"latin\xe9".hex() and "path" not in change
    assert change["changes"] == ["modified"]
    assert change["old"]["hash"] != change["new"]["hash"]
    assert out["counts"]["modified"] == 1 and not out["identical"]


def test_live_tree_vs_manifest_reads_only_what_changed(tree, tmp_path):
    for i in range(300):
        (tree / "a" / f"f{i:03d}").write_bytes(os.urandom(random.randint(1, 3000)))
    saved = tmp_path / "m.bgm"
    mf.build(tree, clock=later).save(saved)
    old_ref = ref.entries(tree)
    picked = [f"a/f{i:03d}" for i in random.Random(1).sample(range(300), 6)]
    same_size, other_size = picked[:3], picked[3:]
    for p in same_size:  # only the bytes can tell whether these changed
        (tree / p).write_bytes(os.urandom((tree / p).stat().st_size))
    for p in other_size:  # their size tells
        (tree / p).write_bytes((tree / p).read_bytes() + b"grown")
    opens = Opens(tree)
    try:
        d = mf.diff(saved, tree)  # a manifest file and a tree: the tree uses its stat cache
        text, counts = d.to_text(), d.counts()
        assert opens.files() == {p.encode() for p in same_size}
        shown = {c.path: set(c.changes) for c in d}  # the entries are shown: the others are read now
        assert opens.files() == {p.encode() for p in other_size}
    finally:
        opens.close()
    assert shown == expected_changes(old_ref, ref.entries(tree))
    assert set(shown) == {p.encode() for p in picked}
    assert text == d.to_text() and counts["modified"] == 6
    full = mf.build(tree)
    assert {c.path: c.new.hash for c in d} == {p.encode(): full.get(p).hash for p in picked}
    assert d.new_root == full.root


def test_live_diff_is_the_diff_of_full_manifests(tree, tmp_path):
    """Whatever the live diff leaves unread, its text and JSON are those of two full manifests."""
    (tree / "h1").write_bytes(b"one inode, two names")
    os.link(tree / "h1", tree / "h2")
    (tree / "solo").write_bytes(b"soon a hard link's first name")
    saved = tmp_path / "m.bgm"
    old = mf.build(tree, clock=later)
    old.save(saved)
    change_every_way(tree)
    (tree / "a" / "b" / "big.bin").write_bytes(b"small now")    # size changed: never read for the text
    os.link(tree / "solo", tree / "solo2")                       # added name of an unchanged inode
    os.link(tree / "a.txt", tree / "0first")                     # a grown file's new first name
    (tree / "h2").unlink()
    (tree / "h2").write_bytes(b"one inode, two names, no more")
    for renames in (True, False):
        opens = Opens(tree)
        try:
            live = mf.diff(saved, tree, renames=renames)
            text = live.to_text()
            assert b"a/b/big.bin" not in opens.files()  # something was left unread
        finally:
            opens.close()
        full = mf.diff(old, mf.build(tree), renames=renames)
        assert text == full.to_text()
        assert len(live) == len(full) and live.counts() == full.counts()
        assert live.to_json() == full.to_json()


def test_unread_files_that_vanish_fail_when_shown(tree, tmp_path):
    saved = tmp_path / "m.bgm"
    mf.build(tree, clock=later).save(saved)
    (tree / "a" / "one.bin").write_bytes(b"shorter")
    d = mf.diff(saved, tree)
    assert d.to_text() == "M  a/one.bin"
    (tree / "a" / "one.bin").unlink()
    with pytest.raises(errors.BodegaError):
        d.to_json()
    with pytest.raises(errors.BodegaError):  # tried again, never shown with a zero hash
        list(d)
    (tree / "a" / "one.bin").write_bytes(b"shorter")
    assert [c.new.hash for c in d] == [mf.build(tree).get("a/one.bin").hash]


def test_tree_vs_tree_and_identical_sides(tree, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(tree, copy, symlinks=True)
    assert not mf.diff(tree, copy)
    (copy / "a.txt").write_bytes(b"x")
    d = mf.diff(tree, copy)
    assert [(c.path, c.changes) for c in d] == [(b"a.txt", ("modified",))]
    assert d.to_json()["old_root"] != d.to_json()["new_root"]


def test_verify_reads_everything_and_reports_bit_rot(tree):
    m = mf.build(tree, clock=later)  # a cache that vouches for every file: verify reads them anyway
    assert not mf.verify(tree, m)
    f = tree / "a" / "b" / "big.bin"
    st = os.stat(f)
    with open(f, "r+b") as fh:  # one byte flipped, size and mtime put back: only reading sees it
        fh.seek(12345)
        b = fh.read(1)
        fh.seek(12345)
        fh.write(bytes([b[0] ^ 1]))
    os.utime(f, ns=(st.st_atime_ns, st.st_mtime_ns))
    d = mf.verify(tree, m)
    assert [(c.path, c.changes) for c in d] == [(b"a/b/big.bin", ("modified",))]


def test_diff_refuses_a_delta_side(tree):
    base = mf.build(tree)
    (tree / "a.txt").write_bytes(b"z")
    delta = mf.build(tree).delta_from(base)
    with pytest.raises(errors.InvalidInput, match="delta"):
        mf.diff(base, delta)


def test_missing_side_is_named(tree, tmp_path):
    with pytest.raises(errors.PathNotFound, match="nope"):
        mf.diff(tree, tmp_path / "nope")


def test_a_damaged_manifest_against_a_tree_fails_on_the_callers_thread(tree, tmp_path):
    """The manifest loads on a thread while the tree is scanned: its error reaches the caller."""
    saved = tmp_path / "m.bgm"
    mf.build(tree).save(saved)
    data = bytearray(saved.read_bytes())
    data[-1] ^= 0xFF  # the last block's bytes: its checksum fails
    saved.write_bytes(bytes(data))
    with pytest.raises(errors.ManifestCorrupt):
        mf.diff(saved, tree)
