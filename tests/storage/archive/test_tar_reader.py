"""The native tar reader: every header format, large members streamed, damage refused, and
the batched writes of small files checked like any member."""
from __future__ import annotations

import gzip
import io
import os
import shutil
import subprocess
import tarfile
import threading
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage.archive import open_archive, unpack
from bodega.storage.archive.tar_reader import MAX_WHOLE
from bodega.storage.tree import Tree
from conftest import need

from .hostile import Entry, write_tar

LONG = "deep/" * 30 + "a-name-longer-than-one-hundred-bytes-" * 3 + ".txt"


def _tar(path: Path, fmt: int, members: list[tuple[str, bytes]]) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 1_700_000_000, 0o640
            tf.addfile(info, io.BytesIO(data))
    path.write_bytes(buf.getvalue())
    return path


def _read(path: Path) -> list[tuple[bytes, str, int, int | None, bytes]]:
    with open_archive(path) as a:
        return [(m.name, m.kind, m.mode, m.mtime_ns, m.open().read()) for m in a]


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT, tarfile.USTAR_FORMAT])
def test_long_names_in_every_header_format_read_as_tarfile_reads_them(tmp_path, fmt):
    # USTAR keeps a long name in its prefix field (up to 155 + 100 bytes); GNU in an 'L'
    # member; pax in a path record.
    long = LONG if fmt != tarfile.USTAR_FORMAT else "p" * 120 + "/" + "n" * 90
    path = _tar(tmp_path / "t.tar", fmt, [(long, b"long"), ("short", b"s" * 700)])
    with tarfile.open(path) as tf:  # the reference: Python's own reader
        want = [(i.name.encode(), "file", i.mode, i.mtime * 10**9, tf.extractfile(i).read()) for i in tf]
    assert _read(path) == want
    assert want[0][0] == long.encode()


def test_a_large_member_is_streamed_whole_between_small_ones(tmp_path):
    big = os.urandom(MAX_WHOLE * 3 + 77)
    path = write_tar(tmp_path / "b.tar.gz", [Entry("a", data=b"1"), Entry("big", data=big),
                                             Entry("z", data=b"2")], "gz")
    root = tmp_path / "root"
    root.mkdir()
    with open_archive(path) as a, Tree.open(root) as t:
        report = unpack(a, t)
    assert (root / "big").read_bytes() == big
    assert ((root / "a").read_bytes(), (root / "z").read_bytes()) == (b"1", b"2")
    assert (report.files, report.bytes) == (3, len(big) + 2)


def test_an_archive_made_by_bsdtar_unpacks_as_bsdtar_unpacks_it(tmp_path):
    if shutil.which("bsdtar") is None:
        need("bsdtar is not installed (apt-get install libarchive-tools)")
    src = tmp_path / "src"
    (src / "bin").mkdir(parents=True)
    (src / "bin/tool").write_bytes(b"#!/bin/sh\necho hi\n")
    (src / "bin/tool").chmod(0o755)
    (src / "lib" / ("x" * 120)).mkdir(parents=True)
    (src / "lib" / ("x" * 120) / "data.bin").write_bytes(os.urandom(3000))
    os.symlink("bin/tool", src / "run")
    archive = tmp_path / "a.tar.gz"
    subprocess.run(["bsdtar", "-czf", str(archive), "-C", str(src), "."], check=True)
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    subprocess.run(["bsdtar", "-xf", str(archive), "-C", str(theirs)], check=True)
    with open_archive(archive) as a, Tree.open(ours) as t:
        unpack(a, t)

    def facts(d: Path) -> dict[str, object]:
        out: dict[str, object] = {}
        for p in sorted(d.rglob("*")):
            st = p.lstat()
            body = os.readlink(p) if p.is_symlink() else (None if p.is_dir() else p.read_bytes())
            # a link's own time is not kept (as before the native reader); a directory's changes as it fills
            out[str(p.relative_to(d))] = (st.st_mode, body, st.st_mtime_ns if p.is_file() and not p.is_symlink() else None)
        return out

    assert facts(ours) == facts(theirs)


def test_a_damaged_header_after_good_members_is_corrupt_naming_where(tmp_path):
    path = write_tar(tmp_path / "d.tar", [Entry("first", data=b"1"), Entry("second", data=b"2")])
    raw = bytearray(path.read_bytes())
    second = raw.index(b"second", 1024)  # the second member's own header (after first's pax block)
    raw[second - second % 512 + 120] ^= 0x01  # inside its mtime field: the checksum breaks
    path.write_bytes(bytes(raw))
    with pytest.raises(errors.ArchiveCorrupt, match=r"after first.*bad checksum"):
        _read(path)


def test_a_gnu_sparse_member_is_refused_as_unsupported(tmp_path):
    info = tarfile.TarInfo("holes")
    info.type = tarfile.GNUTYPE_SPARSE
    raw = info.tobuf(tarfile.GNU_FORMAT) + b"\0" * 1024
    path = tmp_path / "s.tar"
    path.write_bytes(raw)
    with pytest.raises(errors.ArchiveCorrupt, match="sparse") as exc:
        _read(path)
    assert exc.value.member == "holes"


@pytest.mark.parametrize("flag", [b"\xe9", b"\x80", b"\xff", b"Z"])
def test_an_unknown_type_flag_is_a_special_member_named_by_its_byte(tmp_path, flag):
    # found by fuzz_archive: a flag byte of 0x80 or more came out of the native reader as a
    # negative number, and naming it raised ValueError
    odd = tarfile.TarInfo("odd")
    odd.size = 10
    raw = bytearray(odd.tobuf(tarfile.USTAR_FORMAT))
    raw[156:157] = flag
    raw[148:156] = b"%06o\0 " % (sum(raw[:148]) + 8 * 32 + sum(raw[156:512]))  # the checksum again
    after = tarfile.TarInfo("after")
    after.size = 3
    path = tmp_path / "odd.tar"
    path.write_bytes(bytes(raw) + b"x" * 10 + b"\0" * 502 + after.tobuf(tarfile.USTAR_FORMAT) + b"abc"
                     + b"\0" * 509 + b"\0" * 1024)
    with open_archive(path) as a:
        got = [(m.name, m.kind, m.detail, m.open().read() if m.kind == "file" else None) for m in a]
    assert got == [(b"odd", "special", f"tar type {flag!r}", None), (b"after", "file", "", b"abc")]


def test_gzip_members_one_after_another_and_zero_padding_read_whole(tmp_path):
    one = write_tar(tmp_path / "1.tar", [Entry("a", data=b"A" * 5000)]).read_bytes()
    cut = len(one) // 1024 * 512  # split the tar stream between two gzip members
    path = tmp_path / "two.tar.gz"
    path.write_bytes(gzip.compress(one[:cut]) + gzip.compress(one[cut:]) + b"\0" * 64)
    assert [(n, d) for n, _, _, _, d in _read(path)] == [(b"a", b"A" * 5000)]


def test_hostile_member_after_a_batch_of_small_files_is_refused_and_nothing_lands_outside(tmp_path):
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir()
    outside.mkdir()
    entries = [Entry(f"ok/{i}", data=b"x") for i in range(40)]
    for bad, reason in [("../outside/escaped", "traversal"), ("/abs", "absolute"), ("C:/w", "drive letter")]:
        path = write_tar(tmp_path / "h.tar.gz", entries + [Entry(bad, data=b"evil")], "gz")
        with open_archive(path) as a, Tree.open(root) as t:
            with pytest.raises(errors.UnsafeArchive, match=reason):
                unpack(a, t, into=b"x" + reason.split()[0].encode())
    assert list(outside.iterdir()) == []
    assert not Path("/abs").exists()


def test_a_file_through_a_symlink_made_after_pending_files_is_refused(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    entries = [Entry(f"f{i}", data=b"x") for i in range(5)] + [
        Entry("d", "symlink", link="."), Entry("d/f0x", data=b"y")]
    path = write_tar(tmp_path / "s.tar", entries)
    with open_archive(path) as a, Tree.open(root) as t:
        with pytest.raises(errors.UnsafeArchive, match="which is a symlink"):
            unpack(a, t)
    assert not (root / "f0x").exists()


def test_a_hard_link_to_a_file_still_pending_in_the_batch_links_it(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    path = write_tar(tmp_path / "h.tar", [Entry("f", data=b"same"), Entry("g", data=b"other"),
                                          Entry("h", "hardlink", link="f")])
    with open_archive(path) as a, Tree.open(root) as t:
        unpack(a, t)
    assert (root / "h").stat().st_ino == (root / "f").stat().st_ino


def test_an_existing_file_stops_the_batch_with_path_exists_and_keeps_it(tmp_path):
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "sub/taken").write_bytes(b"mine")
    path = write_tar(tmp_path / "o.tar", [Entry("sub/a", data=b"1"), Entry("sub/taken", data=b"theirs")])
    with open_archive(path) as a, Tree.open(root) as t:
        with pytest.raises(errors.PathExists, match="sub/taken"):
            unpack(a, t)
    assert (root / "sub/taken").read_bytes() == b"mine"


def test_closing_an_archive_mid_stream_stops_its_decoder_thread(tmp_path):
    path = write_tar(tmp_path / "m.tar.gz", [Entry(f"f{i}", data=bytes(65536)) for i in range(400)], "gz")
    before = {t.ident for t in threading.enumerate()}
    with open_archive(path) as a:
        it = iter(a)
        next(it)
        workers = [t for t in threading.enumerate() if t.ident not in before]
        assert [t.name for t in workers] == ["bodega-archive-decode"]
    assert not workers[0].is_alive()
