"""Export and import end to end: packages checked, deltas, hostile and damaged packages refused."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from bodega import errors
from bodega._native.hash import hash_file
from bodega.catalogue.models import TaskStatus
from bodega.storage import manifest as mf
from tests.storage.archive import hostile
from tests.storage.archive.hostile import Entry
from tests.storage.archive.test_writers import make_tree


def root_of(b, name: str) -> Path:
    return Path(b.containers.get(name).storage_path) / "root"


@pytest.fixture
def dev(b):
    """A container 'dev' with a varied tree and one snapshot 'one'."""
    b.containers.create("dev")
    root = root_of(b, "dev")
    root.rmdir()
    make_tree(root)
    # Hard links, as packages install them: one inode, three names (the manifest names the first).
    os.link(root / "bin/app", root / "bin/app.real")
    os.link(root / "bin/app", root / "lib/deep/app-again")
    b.snapshots.create("dev", label="one")
    return root


def nothing_left(b, before: set[str]) -> None:
    """No new container, no staging left under tmp/."""
    assert {c.name for c in b.containers.list()} == before
    assert [p for p in b.home.tmp.iterdir() if p.is_dir()] == []


def forge(b, tmp_path, member: str, change) -> Path:
    """dev exported as a zip, then re-zipped with one member's bytes changed (every CRC right)."""
    out = tmp_path / "dev.zip"
    b.exports.export("dev", location=str(out))
    forged = tmp_path / "forged.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(forged, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            dst.writestr(info, change(data) if info.filename == member else data)
    return forged


@pytest.mark.parametrize("fmt", ["zip", "7z"])
def test_export_verify_import_gives_the_same_tree(b, dev, tmp_path, fmt):
    out = tmp_path / f"dev.{fmt}"
    task = b.exports.export("dev", format=fmt, location=str(out))
    [row] = b.exports.list()
    assert row.status == TaskStatus.SUCCEEDED and row.location == str(out)
    assert row.integrity_hash == hash_file(out).hex() == task.result["integrity_hash"]
    report = b.exports.verify(out)
    assert report["ok"] and report["integrity_checked"] and report["root"] == mf.build(dev).root_hex
    done = b.imports.import_package(out, name="copy")
    copy = root_of(b, "copy")
    assert mf.build(copy).root == mf.build(dev).root
    assert len(b.snapshots.diff("copy")) == 0
    assert done.result["kind"] == "full" and done.result["hardlinks"] == 2
    inodes = {os.stat(copy / p).st_ino for p in ("bin/app", "bin/app.real", "lib/deep/app-again")}
    assert len(inodes) == 1 and os.stat(copy / "bin/app").st_nlink == 3  # one inode again, not three copies


def test_with_snapshots_carries_each_content_once(b, dev, tmp_path):
    (dev / "lib/extra.txt").write_bytes(b"only in the live tree\n")
    (dev / "lib/blob.bin").unlink()  # now only snapshot 'one' has it
    b.snapshots.create("dev", label="two")
    out = tmp_path / "all.zip"
    b.exports.export("dev", location=str(out), with_snapshots=True)
    names = zipfile.ZipFile(out).namelist()
    objects = [n for n in names if n.startswith(".bodega/objects/")]
    assert len(objects) == 1  # blob.bin: every other content is under root/
    b.imports.import_package(out, name="copy")
    theirs = {s.checksum_manifest for s in b.snapshots.list("copy")}
    assert theirs == {s.checksum_manifest for s in b.snapshots.list("dev")}
    assert b.snapshots.verify("copy", read_data=1.0)["ok"]


def test_a_delta_reproduces_the_tree_on_the_holder_and_is_refused_elsewhere(b, dev, tmp_path):
    one = b.snapshots.list("dev")[0]
    full = tmp_path / "one.zip"
    b.exports.export("dev", snapshot=str(one.id), location=str(full))
    b.imports.import_package(full, name="mirror")
    (dev / "lib/new.txt").write_bytes(b"new content\n" * 100)
    (dev / "lib/zero").unlink()
    b.snapshots.create("dev", label="two")
    delta = tmp_path / "delta.zip"
    b.exports.export("dev", since=str(one.id), location=str(delta))
    names = zipfile.ZipFile(delta).namelist()
    assert not any(n.startswith("root/") for n in names) and len([n for n in names if "objects/" in n]) == 1
    b.imports.import_package(delta, into="mirror")
    assert mf.build(root_of(b, "mirror")).root == mf.build(dev).root
    b.containers.create("stranger")
    with pytest.raises(errors.DeltaBaseMissing, match=str(one.id)):
        b.imports.import_package(delta, into="stranger")


def test_export_refuses_an_existing_target_and_a_streamed_7z(b, dev, tmp_path):
    target = tmp_path / "there.zip"
    target.write_bytes(b"keep me")
    with pytest.raises(errors.PathExists):
        b.exports.export("dev", location=str(target))
    assert target.read_bytes() == b"keep me"
    with pytest.raises(errors.NotSupported):
        b.exports.export("dev", format="7z", location="-")


def test_a_cancelled_export_leaves_nothing(b, dev, tmp_path):
    where = tmp_path / "out"
    where.mkdir()
    out = where / "c.zip"

    def cancel_midway(percent: int) -> None:
        if percent > 2:
            raise errors.Cancelled("stop")

    with pytest.raises(errors.Cancelled):
        b.exports.export("dev", location=str(out), progress=cancel_midway)
    assert list(where.iterdir()) == []
    assert b.exports.list()[0].status == TaskStatus.CANCELLED


def test_a_flipped_byte_is_named_by_verify_and_refused_by_import(b, dev, tmp_path):
    out = tmp_path / "dev.zip"
    b.exports.export("dev", location=str(out))
    z = zipfile.ZipFile(out)
    info = z.getinfo("root/lib/deep/er/text.txt")
    z.close()
    data = bytearray(out.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 10] ^= 0x40
    out.write_bytes(bytes(data))
    with pytest.raises((errors.PackageDamaged, errors.ArchiveCorrupt)) as caught:
        b.exports.verify(out)
    assert "root/lib/deep/er/text.txt" in str(caught.value)
    before = {c.name for c in b.containers.list()}
    with pytest.raises((errors.PackageDamaged, errors.ArchiveCorrupt)):
        b.imports.import_package(out, name="copy")
    nothing_left(b, before)


def test_a_truncated_package_is_refused(b, dev, tmp_path):
    out = tmp_path / "dev.7z"
    b.exports.export("dev", format="7z", location=str(out))
    out.write_bytes(out.read_bytes()[: out.stat().st_size // 2])
    before = {c.name for c in b.containers.list()}
    with pytest.raises(errors.ArchiveCorrupt):
        b.imports.import_package(out, name="copy")
    nothing_left(b, before)


def test_a_tree_that_does_not_match_its_manifest_is_refused(b, dev, tmp_path):
    """A package re-zipped with one file changed: every CRC is right, the BLAKE3 check is not."""
    forged = forge(b, tmp_path, "root/bin/app", lambda data: b"#!/bin/sh\nrm -rf ~\n")
    with pytest.raises(errors.PackageDamaged, match="root/bin/app"):
        b.exports.verify(forged)
    before = {c.name for c in b.containers.list()}
    with pytest.raises(errors.PackageDamaged):
        b.imports.import_package(forged, name="copy")
    nothing_left(b, before)


def test_a_hard_link_copy_that_differs_from_its_first_name_is_refused(b, dev, tmp_path):
    """A package carries each name of a hard link as a copy: a copy whose bytes are not the first
    name's is named (the link replacing it would otherwise hide the damage)."""
    forged = forge(b, tmp_path, "root/bin/app.real", lambda data: data.replace(b"echo hi", b"echo ho"))
    before = {c.name for c in b.containers.list()}
    with pytest.raises(errors.PackageDamaged, match="root/bin/app.real.*hard link"):
        b.imports.import_package(forged, name="copy")
    nothing_left(b, before)


HOSTILE = {
    "path traversal": ("zip", [Entry("a.txt", data=b"x"), Entry("../escaped.txt", data=b"pwned")]),
    "absolute path": ("zip", [Entry("/tmp/escaped-abs.txt", data=b"pwned")]),
    "symlink escape": ("zip", [Entry("link", kind="symlink", link="../../.."), Entry("link/escaped.txt", data=b"x")]),
    "hardlink escape": ("tar", [Entry("h", kind="hardlink", link="../../etc/passwd")]),
    "duplicate names": ("zip", [Entry("same.txt", data=b"one"), Entry("same.txt", data=b"two")]),
    "device file": ("tar", [Entry("dev-null", kind="chr")]),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_archives_are_refused_and_nothing_is_written_outside(b, tmp_path, case):
    fmt, entries = HOSTILE[case]
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_bytes(b"keep")
    path = hostile.write(work, fmt, entries)
    before = {c.name for c in b.containers.list()}
    with pytest.raises(errors.UnsafeArchive) as caught:
        b.imports.import_package(path, name="evil")
    assert caught.value.member and caught.value.reason
    nothing_left(b, before)
    assert sorted(p.name for p in outside.iterdir()) == ["keep.txt"]
    assert not (tmp_path / "escaped.txt").exists() and not Path("/tmp/escaped-abs.txt").exists()


def test_a_zip_bomb_is_refused(b, tmp_path):
    path = hostile.write(tmp_path, "zip", [Entry("bomb", data=b"\0" * (80 << 20))])
    assert path.stat().st_size < 200_000
    before = {c.name for c in b.containers.list()}
    with pytest.raises(errors.UnsafeArchive, match="bomb"):
        b.imports.import_package(path, name="bomb")
    nothing_left(b, before)


def test_a_plain_archive_becomes_a_container(b, tmp_path):
    path = hostile.write(tmp_path, "zip", [Entry("app/", kind="dir", mode=0o755),
                                           Entry("app/run.sh", data=b"echo hi\n", mode=0o755)], name="portable")
    done = b.imports.import_package(path)
    assert done.result["kind"] == "plain" and done.result["container_name"] == "portable"
    assert (root_of(b, "portable") / "app/run.sh").read_bytes() == b"echo hi\n"
    assert len(b.snapshots.list("portable")) == 1


def test_a_package_for_another_platform_is_refused_before_unpacking(b, dev, tmp_path):
    forged = forge(b, tmp_path, ".bodega/package.json",
                   lambda data: data.replace(b'"platform": "linux-x64"', b'"platform": "windows-x64"'))
    with pytest.raises(errors.PlatformMismatch, match="windows-x64"):
        b.imports.import_package(forged, name="win")
    nothing_left(b, {c.name for c in b.containers.list()})
