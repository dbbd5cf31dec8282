"""unpack(): hostile members refused by name and reason, nothing written outside the tree."""
from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage.archive import UnpackLimits, open_archive, unpack
from bodega.storage.tree import Tree

from .hostile import FORMATS, Entry, write, write_tar, write_zip


@pytest.fixture
def box(tmp_path):
    """(root, outside): the tree to unpack into and a sibling directory that must stay untouched."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    (outside / "sentinel").write_bytes(b"keep me")
    return root, outside


def _listing(d: Path) -> dict[str, bytes | str]:
    out: dict[str, bytes | str] = {}
    for dirpath, dirnames, filenames in os.walk(d):
        for n in dirnames + filenames:
            p = Path(dirpath, n)
            rel = str(p.relative_to(d))
            out[rel] = f"-> {os.readlink(p)}" if p.is_symlink() else ("dir" if p.is_dir() else p.read_bytes())
    return out


def _unpack(path, root, **kw):
    with open_archive(path) as a, Tree.open(root) as t:
        return unpack(a, t, **kw)


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_good_archive_lands_whole_with_modes(tmp_path, box, fmt):
    root, _ = box
    entries = [Entry("bin", "dir", mode=0o750), Entry("bin/tool", data=b"\x7fELF...", mode=0o755),
               Entry("share/doc/README", data=b"read me\n")]
    report = _unpack(write(tmp_path, fmt, entries), root, into=b"apps/x")
    assert _listing(root / "apps/x") == {"bin": "dir", "bin/tool": b"\x7fELF...", "share": "dir",
                                         "share/doc": "dir", "share/doc/README": b"read me\n"}
    assert (report.files, report.bytes) == (2, len(b"\x7fELF...") + 8)
    if fmt != "7z":
        assert (root / "apps/x/bin/tool").stat().st_mode & 0o777 == 0o755
        assert (root / "apps/x/bin").stat().st_mode & 0o777 == 0o750


HOSTILE = {
    "dotdot": ([Entry("../escaped", data=b"x")], "traversal"),
    "dotdot-deep": ([Entry("a/../../escaped", data=b"x")], "traversal"),
    "absolute": ([Entry("/tmp/escaped-abs", data=b"x")], "absolute"),
    "drive": ([Entry("C:/escaped", data=b"x")], "drive letter"),
    "symlink-out": ([Entry("l", "symlink", link="../outside")], "pointing outside"),
    "symlink-abs": ([Entry("l", "symlink", link="/etc/passwd")], "pointing outside"),
    "symlink-then-write": ([Entry("d", "dir"), Entry("d/l", "symlink", link="."), Entry("d/l/f", data=b"x")],
                           "which is a symlink"),
    "duplicate": ([Entry("f", data=b"1"), Entry("f", data=b"2")], "duplicate"),
}


@pytest.mark.filterwarnings("ignore:Duplicate name")
@pytest.mark.parametrize("fmt", ["zip", "tar", "tar.gz"])
@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_naming_member_and_reason(tmp_path, box, fmt, case):
    root, outside = box
    entries, reason = HOSTILE[case]
    path = write(tmp_path, fmt, entries)
    with pytest.raises(errors.UnsafeArchive, match=reason) as info:
        _unpack(path, root)
    assert info.value.member is not None and info.value.exit_code == 84
    assert _listing(outside) == {"sentinel": b"keep me"}
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/escaped-abs").exists()


def test_a_zip_is_checked_whole_before_anything_is_written(tmp_path, box):
    root, _ = box
    path = write_zip(tmp_path / "z.zip", [Entry("fine", data=b"1"), Entry("../evil", data=b"2")])
    with pytest.raises(errors.UnsafeArchive, match="traversal"):
        _unpack(path, root)
    assert _listing(root) == {}


@pytest.mark.parametrize("kind", ["chr", "fifo"])
def test_device_files_and_fifos_are_refused(tmp_path, box, kind):
    root, _ = box
    path = write_tar(tmp_path / "d.tar", [Entry("dev/null2", kind)])
    with pytest.raises(errors.UnsafeArchive, match="device|fifo"):
        _unpack(path, root)
    assert _listing(root) == {}


def test_a_hardlink_to_something_outside_or_not_earlier_is_refused(tmp_path, box):
    root, outside = box
    for link in ("../outside/sentinel", "/etc/passwd", "later"):
        path = write_tar(tmp_path / "h.tar", [Entry("h", "hardlink", link=link), Entry("later", data=b"1")])
        with pytest.raises(errors.UnsafeArchive, match="hard link"):
            _unpack(path, root)
    assert (outside / "sentinel").stat().st_nlink == 1


def test_a_hardlink_to_an_earlier_file_is_a_link(tmp_path, box):
    root, _ = box
    _unpack(write_tar(tmp_path / "h.tar", [Entry("f", data=b"same"), Entry("h", "hardlink", link="f")]), root)
    assert (root / "f").stat().st_ino == (root / "h").stat().st_ino


def test_a_link_made_to_escape_by_a_later_link_is_caught(tmp_path, box):
    root, _ = box
    # x -> d/a/.. looks inside until d/a turns out to be a link to the root.
    path = write_tar(tmp_path / "c.tar", [Entry("d", "dir"), Entry("x", "symlink", link="d/a/.."),
                                          Entry("d/a", "symlink", link="..")])
    with pytest.raises(errors.UnsafeArchive, match="pointing outside"):
        _unpack(path, root)


def test_an_inside_relative_link_is_kept(tmp_path, box):
    root, _ = box
    _unpack(write_tar(tmp_path / "ok.tar", [Entry("lib/real.so", data=b"so"),
                                            Entry("lib/link.so", "symlink", link="real.so")]), root)
    assert os.readlink(root / "lib/link.so") == "real.so"


def test_case_folded_duplicates_are_refused_when_asked(tmp_path, box):
    root, _ = box
    path = write_zip(tmp_path / "c.zip", [Entry("Read.me", data=b"1"), Entry("READ.ME", data=b"2")])
    _unpack(path, root, into=b"sensitive")
    with pytest.raises(errors.UnsafeArchive, match="case is folded"):
        _unpack(path, root, into=b"folded", case_insensitive=True)


def test_a_zip_bomb_is_stopped_by_its_ratio(tmp_path, box):
    root, _ = box
    path = tmp_path / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("zeros", b"\0" * (32 << 20))
    assert path.stat().st_size < 64 << 10
    with pytest.raises(errors.UnsafeArchive, match="ratio"):
        _unpack(path, root, limits=UnpackLimits(max_ratio=100, ratio_floor=1 << 20))
    assert sum(f.stat().st_size for f in root.rglob("*") if f.is_file()) == 0  # zip: refused up front


def test_a_tar_bomb_is_stopped_while_writing_by_the_byte_cap(tmp_path, box):
    root, _ = box
    path = write_tar(tmp_path / "bomb.tar.xz", [Entry("zeros", data=b"\0" * (8 << 20))], "xz")
    with pytest.raises(errors.UnsafeArchive, match="more than 4194304 bytes"):
        _unpack(path, root, limits=UnpackLimits(max_bytes=4 << 20))
    assert not (root / "zeros").exists()  # the Tree removes a file whose writing failed


def test_setid_bits_are_dropped_and_reported(tmp_path, box):
    root, _ = box
    report = _unpack(write_tar(tmp_path / "s.tar", [Entry("su", data=b"x", mode=0o4755)]), root)
    assert (root / "su").stat().st_mode & 0o7777 == 0o755
    assert report.setid_dropped == ["su"]


def test_nothing_existing_is_overwritten(tmp_path, box):
    root, _ = box
    (root / "f").write_bytes(b"mine")
    with pytest.raises(errors.PathExists):
        _unpack(write_tar(tmp_path / "o.tar", [Entry("f", data=b"theirs")]), root)
    assert (root / "f").read_bytes() == b"mine"


def test_cancel_stops_between_members(tmp_path, box):
    root, _ = box
    path = write_tar(tmp_path / "many.tar", [Entry(f"f{i}", data=b"x") for i in range(10)])
    seen = []
    with pytest.raises(errors.Cancelled):
        _unpack(path, root, progress=lambda n, b: seen.append(n), cancel=lambda: len(seen) >= 3,
                progress_interval=0)  # progress after every member (the default throttles it)
    assert len(list(root.iterdir())) == 3
    assert seen == [1, 2, 3]
