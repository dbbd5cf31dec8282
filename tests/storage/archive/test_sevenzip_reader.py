"""bodega's own 7z reader: packages and `7z -m0=Deflate|Copy` archives read with the members py7zr
gives, other methods left to py7zr, damaged data refused in one line naming the member."""
from __future__ import annotations

import os
import re
import subprocess
import threading

import pytest

from bodega import errors
from bodega.storage.archive import open_archive, sevenzip_folders
from bodega.storage.archive.entry import ArchiveEntry
from bodega.storage.archive.member import FILE, SYMLINK
from bodega.storage.archive.sevenzip_py7zr import Py7zrArchive
from bodega.storage.archive.sevenzip_reader import SevenZipArchive
from bodega.storage.archive.sevenzip_writer import SevenZipWriter
from bodega.storage.archive.sink import FileSink

from .test_writers import make_tree, seven_zip, write


def members(archive) -> list[tuple]:
    """Every member read whole: name, kind, mode, size, link, detail, data, mtime."""
    out = []
    with archive as a:
        for m in a:
            with m.open() as f:
                data = f.read() if m.kind == FILE else b""
            out.append((m.name, m.kind, m.mode, m.size, m.link, m.detail, data, m.mtime_ns))
    return out


def assert_same(ours: list[tuple], py7zr: list[tuple]) -> None:
    """The same members; mtimes within 10 µs (py7zr's go through a float of seconds)."""
    assert [m[:-1] for m in ours] == [m[:-1] for m in py7zr]
    for a, b in zip(ours, py7zr):
        assert (a[-1] is None) == (b[-1] is None) and abs((a[-1] or 0) - (b[-1] or 0)) < 10_000, (a, b)


@pytest.fixture
def package(tmp_path):
    """A 7z written by bodega's writer from a tree of every kind of entry, and the tree."""
    root = tmp_path / "tree"
    make_tree(root)
    out = tmp_path / "p.7z"
    write("7z", root, out)
    return out, root


def test_a_bodega_package_is_read_by_the_own_reader_as_py7zr_reads_it(package):
    path, root = package
    archive = open_archive(path)
    assert isinstance(archive, SevenZipArchive)
    ours = members(archive)
    assert_same(ours, members(Py7zrArchive(str(path))))
    by_name = {m[0]: m for m in ours}
    assert by_name[b"root/lib/blob.bin"][6] == (root / "lib/blob.bin").read_bytes()
    link = by_name[b"root/lib/deep/up"]
    assert (link[1], link[4]) == (SYMLINK, b"../../bin/app")
    assert by_name[b"root/lib/zero"][1:4] == (FILE, 0o644, 0)
    assert by_name[b"root/bin/app"][2] == 0o755


def test_small_files_come_with_their_bytes(package):
    """What makes the import fast: unpack writes members that carry data in native batches."""
    with open_archive(package[0]) as a:
        files = [m for m in a if m.kind == FILE]
    assert files and all(m.data is not None for m in files)


def test_a_folder_too_big_to_decode_whole_is_streamed(package, monkeypatch):
    monkeypatch.setattr(sevenzip_folders, "WHOLE", 50_000)
    monkeypatch.setattr(sevenzip_folders, "PIECE", 20_000)
    path, _ = package
    assert_same(members(open_archive(path)), members(Py7zrArchive(str(path))))
    with open_archive(path) as a:
        streamed = [m.name for m in a if m.kind == FILE and m.data is None]
    assert b"root/lib/blob.bin" in streamed


@pytest.mark.parametrize("method", ["Deflate", "Copy", "LZMA2"])
def test_7z_archives_by_7zip_take_the_own_reader_unless_their_method_needs_py7zr(tmp_path, method):
    src = tmp_path / "src"
    make_tree(src)
    out = tmp_path / "t.7z"
    subprocess.run([seven_zip(), "a", "-snl", f"-m0={method}", str(out), "."], cwd=src, check=True,
                   capture_output=True)
    archive = open_archive(out)
    assert isinstance(archive, Py7zrArchive if method == "LZMA2" else SevenZipArchive)
    ours = members(archive)
    assert_same(ours, members(Py7zrArchive(str(out))))
    assert (b"lib/deep/up", SYMLINK) in {(m[0], m[1]) for m in ours}


def test_stopping_after_the_first_member_stops_the_thread(package):
    with open_archive(package[0]) as a:
        for _ in a:
            break
    assert not [t for t in threading.enumerate() if t.name == "bodega-7z-inflate"]


def _flip(path, at: int) -> None:
    raw = bytearray(path.read_bytes())
    raw[at] ^= 0x40
    path.write_bytes(bytes(raw))


@pytest.mark.parametrize("whole", [True, False])
def test_a_flipped_byte_in_a_stored_folder_is_a_crc_error_naming_the_member(package, monkeypatch, whole):
    if not whole:
        monkeypatch.setattr(sevenzip_folders, "WHOLE", 50_000)
    path, root = package
    blob = (root / "lib/blob.bin").read_bytes()  # random: stored (Copy)
    _flip(path, path.read_bytes().index(blob[1000:1100]) + 50)
    with pytest.raises(errors.ArchiveCorrupt, match=r"member 'root/lib/blob.bin'.*CRC mismatch"):
        members(open_archive(path))


def test_a_flipped_byte_in_a_deflate_folder_names_the_member_it_lands_in(tmp_path):
    out = tmp_path / "d.7z"
    files = [(b"a.txt", b"alpha line\n" * 2000), (b"b.txt", bytes(range(256)) * 300), (b"c.txt", b"gamma\n" * 3000)]
    sink = FileSink(out)
    w = SevenZipWriter(sink, threads=1)
    entries = [ArchiveEntry(name, "file", 0o644, 0, len(data), 0, None, None) for name, data in files]

    class Source:
        def read_many(self, es):
            return [dict(files)[e.name] for e in es]

    w.write_entries(entries, Source())
    w.finish()
    sink.commit()
    packed = out.read_bytes()
    _flip(out, 32 + len(packed[32:]) // 8)  # early in the one solid Deflate folder
    with pytest.raises(errors.ArchiveCorrupt, match=r"member '(a|b)\.txt'"):
        members(open_archive(out))


def test_a_truncated_package_is_one_clear_error(package):
    path, _ = package
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) * 2 // 3])
    with pytest.raises(errors.ArchiveCorrupt, match=f"{re.escape(str(path))}: damaged 7z header.*past the end"):
        open_archive(path)


def test_a_flipped_byte_in_the_encoded_header_is_refused(package):
    path, _ = package
    _flip(path, os.path.getsize(path) - 3)  # the kEncodedHeader block at the end: its CRC fails
    with pytest.raises(errors.ArchiveCorrupt, match="damaged 7z header.*CRC does not match"):
        open_archive(path)
