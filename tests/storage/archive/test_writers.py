"""The zip and 7z writers: ordinary tools accept what they write and extract the same tree."""
from __future__ import annotations

import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import py7zr
import pytest

from bodega import errors
from bodega.storage import manifest as mf
from bodega.storage.archive import entry as entry_mod
from bodega.storage.archive.entry import ArchiveEntry
from bodega.storage.archive.sevenzip_writer import SevenZipWriter
from bodega.storage.archive.sink import FileSink, StreamSink
from bodega.storage.archive.zip_writer import ZipWriter
from tests.conftest import need


def seven_zip() -> str:
    """Debian's 7-Zip command (7z from p7zip-full, else 7zz from 7zip)."""
    for name in ("7z", "7zz"):
        if shutil.which(name):
            return name
    need("7-Zip is not installed (apt-get install 7zip)")
    return ""


def tool(name: str) -> str:
    if shutil.which(name) is None:
        need(f"{name} is not installed")
    return name


def make_tree(root: Path) -> None:
    """Files (text, random, empty), nested and empty directories, odd modes, links climbing with ../."""
    (root / "bin").mkdir(parents=True)
    (root / "lib/deep/er").mkdir(parents=True)
    (root / "empty").mkdir()
    (root / "bin/app").write_bytes(b"#!/bin/sh\necho hi\n" * 200)
    (root / "bin/app").chmod(0o755)
    (root / "lib/blob.bin").write_bytes(os.urandom(300_000))
    (root / "lib/deep/er/text.txt").write_bytes(b"hello world\n" * 5000)
    (root / "lib/zero").write_bytes(b"")
    (root / "lib/ro.txt").write_bytes(b"read only\n")
    (root / "lib/ro.txt").chmod(0o444)
    (root / "Überblick.md").write_text("umlaut\n")
    (root / "lib/deep/up").symlink_to("../../bin/app")
    (root / "lib/here").symlink_to("blob.bin")
    (root / "lib/deep").chmod(0o750)


class DirSource:
    """Test source: files read from a directory by the entry's name minus 'root/'."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, e: ArchiveEntry) -> bytes:
        return os.path.join(os.fsencode(self.root), e.name[len(b"root/"):])

    def read_many(self, entries):
        return [open(self._path(e), "rb").read() for e in entries]

    def stream(self, e, sink):
        with open(self._path(e), "rb") as f:
            while piece := f.read(1000):
                sink(piece)


def entries_of(root: Path) -> tuple[mf.Manifest, list[ArchiveEntry]]:
    m = mf.build(root)
    return m, [ArchiveEntry(b"root/" + e.path, e.kind, e.mode, e.attrs, e.size, e.mtime_ns, e.hash, e.link) for e in m]


def write(kind: str, root: Path, out: Path, **kw) -> None:
    _, entries = entries_of(root)
    sink = FileSink(out)
    w = ZipWriter(sink, threads=2, **kw) if kind == "zip" else SevenZipWriter(sink, threads=2)
    w.write_entries(entries, DirSource(root))
    w.finish()
    sink.commit()


@pytest.fixture
def tree(tmp_path) -> Path:
    root = tmp_path / "tree"
    make_tree(root)
    return root


@pytest.mark.parametrize("kind", ["zip", "7z"])
def test_tools_accept_the_package_and_extract_the_same_tree(kind, tree, tmp_path):
    out = tmp_path / f"p.{kind}"
    write(kind, tree, out)
    sz = seven_zip()
    subprocess.run([sz, "t", str(out)], check=True, capture_output=True)
    listed = subprocess.run([tool("bsdtar"), "-tf", str(out)], check=True, capture_output=True).stdout.split()
    assert b"root/lib/deep/er/text.txt" in listed
    extracted = tmp_path / "x7"
    extracted.mkdir()
    subprocess.run([sz, "x", "-snld", str(out)], cwd=extracted, check=True, capture_output=True)
    assert mf.build(extracted / "root").root == mf.build(tree).root
    if kind == "zip":
        subprocess.run([tool("unzip"), "-tq", str(out)], check=True, capture_output=True)
        assert zipfile.ZipFile(out).testzip() is None
        unzipped = tmp_path / "xu"
        unzipped.mkdir()
        subprocess.run(["unzip", "-q", str(out)], cwd=unzipped, check=True)
        assert mf.build(unzipped / "root").root == mf.build(tree).root
    else:
        with py7zr.SevenZipFile(out) as z:
            assert z.testzip() is None
            assert "root/lib/deep/er/text.txt" in z.getnames()


def test_zip64_records_are_read_by_every_tool(tree, tmp_path):
    """The records past 4 GiB and 65,535 entries, forced on a small file: the tools read them."""
    out = tmp_path / "z64.zip"
    write("zip", tree, out, force_zip64=True)
    data = out.read_bytes()
    assert b"PK\x06\x06" in data and b"PK\x06\x07" in data  # ZIP64 end record and locator
    subprocess.run([tool("unzip"), "-tq", str(out)], check=True, capture_output=True)
    subprocess.run([seven_zip(), "t", str(out)], check=True, capture_output=True)
    assert zipfile.ZipFile(out).testzip() is None
    unzipped = tmp_path / "xu"
    unzipped.mkdir()
    subprocess.run(["unzip", "-q", str(out)], cwd=unzipped, check=True)
    assert mf.build(unzipped / "root").root == mf.build(tree).root


@pytest.mark.parametrize("kind", ["zip", "7z"])
def test_big_files_stream_in_pieces(kind, tree, tmp_path, monkeypatch):
    """Past BIG_FILE a file is deflated as it streams (zip: a ZIP64 data descriptor)."""
    monkeypatch.setattr(entry_mod, "BIG_FILE", 100_000)
    out = tmp_path / f"big.{kind}"
    write(kind, tree, out)
    if kind == "zip":
        info = zipfile.ZipFile(out).getinfo("root/lib/blob.bin")
        assert info.flag_bits & 0x08  # streamed: sizes in the data descriptor
        assert zipfile.ZipFile(out).testzip() is None
    subprocess.run([seven_zip(), "t", str(out)], check=True, capture_output=True)
    extracted = tmp_path / "x"
    extracted.mkdir()
    subprocess.run([seven_zip(), "x", "-snld", str(out)], cwd=extracted, check=True, capture_output=True)
    assert mf.build(extracted / "root").root == mf.build(tree).root


def test_data_that_does_not_shrink_is_stored(tree, tmp_path):
    out = tmp_path / "p.zip"
    write("zip", tree, out)
    z = zipfile.ZipFile(out)
    assert z.getinfo("root/lib/blob.bin").compress_type == zipfile.ZIP_STORED
    assert z.getinfo("root/lib/deep/er/text.txt").compress_type == zipfile.ZIP_DEFLATED
    link = z.getinfo("root/lib/deep/up")
    assert (link.external_attr >> 16) & 0o170000 == 0o120000 and z.read(link) == b"../../bin/app"


def test_a_7z_needs_a_seekable_target():
    with pytest.raises(errors.NotSupported, match="cannot be streamed"):
        SevenZipWriter(StreamSink(open(os.devnull, "wb")))


def test_a_file_sink_never_replaces_and_leaves_nothing_when_aborted(tmp_path):
    target = tmp_path / "p.zip"
    target.write_bytes(b"mine")
    with pytest.raises(errors.PathExists):
        FileSink(target)
    assert target.read_bytes() == b"mine"
    other = tmp_path / "q.zip"
    sink = FileSink(other)
    sink.write(b"partial")
    sink.abort()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p.zip"]
