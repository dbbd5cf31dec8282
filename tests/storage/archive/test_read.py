"""open_archive: formats by their magic bytes, members with kinds, modes, links and data."""
from __future__ import annotations

import os

import pytest

from bodega import errors
from bodega.storage.archive import open_archive, sniff

from .hostile import FORMATS, Entry, write, write_tar, write_zip

SAMPLE = [Entry("app", "dir", mode=0o755), Entry("app/run", data=b"#!/bin/sh\necho hi\n", mode=0o755),
          Entry("app/data.bin", data=os.urandom(300_000)), Entry("app/empty")]


def _read(path):
    with open_archive(path) as a:
        out = []
        for m in a:
            with m.open() as f:
                out.append((m.name, m.kind, m.mode & 0o777, f.read(), m.link))
        return a.format, out


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_read_by_its_magic_with_its_data(tmp_path, fmt):
    path = write(tmp_path, fmt, SAMPLE)
    assert sniff(path) == fmt
    got_fmt, members = _read(path)
    assert got_fmt == fmt
    files = {name: (kind, data) for name, kind, _, data, _ in members}
    assert files[b"app/run"] == ("file", b"#!/bin/sh\necho hi\n")
    assert files[b"app/data.bin"] == ("file", SAMPLE[2].data)
    assert files[b"app/empty"] == ("file", b"")
    assert files[b"app/" if fmt == "zip" else b"app"][0] == "dir"
    if fmt != "7z":  # py7zr records no mode for what writestr adds
        assert {n: m for n, _, m, _, _ in members}[b"app/run"] == 0o755


@pytest.mark.parametrize("fmt", ["zip", "tar", "tar.xz"])
def test_links_and_specials_are_described(tmp_path, fmt):
    entries = [Entry("f", data=b"x"), Entry("l", "symlink", link="f")]
    if fmt != "zip":
        entries += [Entry("h", "hardlink", link="f"), Entry("dev", "chr")]
    with open_archive(write(tmp_path, fmt, entries)) as a:
        members = {m.name: m for m in a}
    assert (members[b"l"].kind, members[b"l"].link) == ("symlink", b"f")
    if fmt != "zip":
        assert (members[b"h"].kind, members[b"h"].link) == ("hardlink", b"f")
        assert (members[b"dev"].kind, members[b"dev"].detail) == ("special", "character device")


def test_7z_symlinks_come_with_their_target(tmp_path):
    import shutil
    import subprocess

    seven = shutil.which("7zz") or shutil.which("7z")
    if seven is None:
        from conftest import need
        need("7-Zip (Debian 7zip) is not installed")
    src = tmp_path / "src"
    src.mkdir()
    (src / "f").write_bytes(b"data")
    (src / "l").symlink_to("f")
    subprocess.run([seven, "a", "-snl", str(tmp_path / "t.7z"), "f", "l"], cwd=src, check=True,
                   capture_output=True)
    with open_archive(tmp_path / "t.7z") as a:
        members = {m.name: (m.kind, m.link) for m in a}
    assert members == {b"f": ("file", None), b"l": ("symlink", b"f")}


def test_a_zip_listing_is_known_before_iterating_and_a_tar_stream_is_not(tmp_path):
    with open_archive(write(tmp_path, "zip", SAMPLE)) as z:
        assert [m.name for m in z.listing] == [b"app/", b"app/run", b"app/data.bin", b"app/empty"]
    with open_archive(write(tmp_path, "tar.gz", SAMPLE)) as t:
        assert t.listing is None


def test_a_file_that_is_no_archive_is_refused_by_content_not_name(tmp_path):
    fake = tmp_path / "app.zip"
    fake.write_bytes(b"#!/bin/sh\necho I am a script\n" * 40)
    assert sniff(fake) is None
    with pytest.raises(errors.ArchiveCorrupt, match="not an archive"):
        open_archive(fake)


def test_gzip_that_is_not_a_tar_is_refused(tmp_path):
    import gzip

    p = tmp_path / "x.tar.gz"
    p.write_bytes(gzip.compress(b"plain text, not a tar" * 100))
    with pytest.raises(errors.ArchiveCorrupt, match="not a tar"):
        open_archive(p)


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.xz", "tar.zst", "7z"])
def test_a_truncated_archive_is_corrupt_not_a_traceback(tmp_path, fmt):
    path = write(tmp_path, fmt, SAMPLE)
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) * 2 // 3])
    with pytest.raises(errors.ArchiveCorrupt):
        _read(path)


@pytest.mark.parametrize("fmt", ["zip", "tar.gz", "tar.xz", "tar.zst", "7z"])
def test_a_flipped_byte_in_the_data_is_corrupt_and_names_the_member(tmp_path, fmt):
    path = write(tmp_path, fmt, [Entry("big.bin", data=os.urandom(200_000))])
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2] ^= 0x40
    path.write_bytes(bytes(raw))
    with pytest.raises(errors.ArchiveCorrupt) as info:
        _read(path)
    if fmt in ("zip", "7z"):
        assert "big.bin" in str(info.value)


def test_a_zip_whose_directory_points_before_its_start_is_corrupt_not_an_oserror(tmp_path):
    # Found by tests/fuzz/fuzz_archive.py: an end record claiming a later central directory
    # makes zipfile place members at negative offsets, and seeking there raised EINVAL.
    path = write_zip(tmp_path / "z.zip", [Entry("a.txt", data=b"a" * 100), Entry("b.txt", data=b"b")])
    raw = bytearray(path.read_bytes())
    end = raw.rindex(b"PK\x05\x06")
    directory_at = int.from_bytes(raw[end + 16:end + 20], "little")
    raw[end + 16:end + 20] = (directory_at + 1000).to_bytes(4, "little")
    path.write_bytes(bytes(raw))
    with pytest.raises(errors.ArchiveCorrupt, match="a.txt"):
        _read(path)


def test_a_zip_needing_a_newer_zip_version_is_refused_in_one_line(tmp_path):
    # Found by tests/fuzz/fuzz_archive.py: zipfile raised NotImplementedError while listing.
    path = write_zip(tmp_path / "z.zip", [Entry("a.txt", data=b"a")])
    raw = bytearray(path.read_bytes())
    directory = raw.index(b"PK\x01\x02")
    raw[directory + 6:directory + 8] = (139).to_bytes(2, "little")  # "version needed": 13.9
    path.write_bytes(bytes(raw))
    with pytest.raises(errors.NotSupported, match="version 13.9"):
        _read(path)


def test_a_zip_name_keeps_its_raw_bytes(tmp_path):
    path = write_zip(tmp_path / "n.zip", [Entry("caf\u00e9.txt", data=b"1")])
    with open_archive(path) as a:
        assert [m.name for m in a] == ["caf\u00e9.txt".encode()]


def test_a_tar_name_that_is_not_utf8_keeps_its_bytes(tmp_path):
    path = write_tar(tmp_path / "n.tar", [Entry(b"bad\xffname", data=b"1")])
    with open_archive(path) as a:
        assert [m.name for m in a] == [b"bad\xffname"]
