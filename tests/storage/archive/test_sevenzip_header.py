"""The 7z header parser on hand-made headers: a valid one read, hostile and damaged ones each
refused with one ArchiveCorrupt naming the archive, methods it does not read left to py7zr."""
from __future__ import annotations

import re
import struct
import zlib

import pytest

from bodega import errors
from bodega.storage.archive import open_archive
from bodega.storage.archive.member import FILE
from bodega.storage.archive.sevenzip_format import (
    COPY, DEFLATE, K_CRC, K_END, K_FILES_INFO, K_FOLDER, K_HEADER, K_MAIN_STREAMS, K_NAME, K_PACK_INFO, K_SIZE,
    K_SUBSTREAMS, K_UNPACK_INFO, K_UNPACK_SIZE, SIGNATURE, number,
)
from bodega.storage.archive.sevenzip_header import NeedsPy7zr
from bodega.storage.archive.sevenzip_reader import SevenZipArchive


def sevenzip(header: bytes, packed: bytes) -> bytes:
    """A 7z file: the signature header (CRCs right), the packed data, the plain header."""
    tail = struct.pack("<QQI", len(packed), len(header), zlib.crc32(header))
    return SIGNATURE + struct.pack("<I", zlib.crc32(tail)) + tail + packed + header


def one_file(data: bytes = b"hello 7z", *, coder: bytes = COPY, files: int = 1, folders: int = 1,
             packed: int | None = None, unpacked: int | None = None, crc: int | None = None,
             names: tuple[str, ...] = ("a",)) -> bytes:
    """A 7z of one file in one folder, each field overridable with a lie."""
    payload = data if coder == COPY else zlib.compress(data)[2:-4]  # raw deflate
    h = bytes([K_HEADER, K_MAIN_STREAMS, K_PACK_INFO]) + number(0) + number(1)
    h += bytes([K_SIZE]) + number(len(payload) if packed is None else packed) + bytes([K_END])
    h += bytes([K_UNPACK_INFO, K_FOLDER]) + number(folders) + b"\x00" + b"\x01" + bytes([len(coder)]) + coder
    h += bytes([K_UNPACK_SIZE]) + number(len(data) if unpacked is None else unpacked) + bytes([K_END])
    h += bytes([K_SUBSTREAMS, K_CRC, 1]) + struct.pack("<I", zlib.crc32(data) if crc is None else crc)
    h += bytes([K_END, K_END])
    text = b"".join(n.encode("utf-16-le") + b"\x00\x00" for n in names)
    h += bytes([K_FILES_INFO]) + number(files) + bytes([K_NAME]) + number(len(text) + 1) + b"\x00" + text
    h += bytes([K_END, K_END])
    return sevenzip(h, payload)


def read(path) -> list[tuple[bytes, str, bytes]]:
    with SevenZipArchive(str(path)) as a:
        out = []
        for m in a:
            with m.open() as f:
                out.append((m.name, m.kind, f.read()))
        return out


@pytest.mark.parametrize("coder", [COPY, DEFLATE])
def test_a_hand_made_header_is_read(tmp_path, coder):
    path = tmp_path / "ok.7z"
    path.write_bytes(one_file(coder=coder))
    assert read(path) == [(b"a", FILE, b"hello 7z")]


@pytest.mark.parametrize("lie, match", [
    (dict(files=1 << 40), "files in a header"),
    (dict(folders=1 << 50), "folders in a header"),
    (dict(packed=1 << 40), "past the header's start"),
    (dict(unpacked=1 << 40), "stored folder"),
    (dict(names=("a", "b")), "2 names for 1 files"),
    (dict(names=()), "0 names for 1 files"),
])
def test_a_header_that_lies_is_one_clear_error(tmp_path, lie, match):
    path = tmp_path / "bad.7z"
    path.write_bytes(one_file(**lie))
    with pytest.raises(errors.ArchiveCorrupt, match=f"^{re.escape(str(path))}: damaged 7z header .*{match}"):
        read(path)


def test_a_deflate_folder_claiming_an_absurd_size_is_refused_while_reading_not_allocated(tmp_path):
    path = tmp_path / "huge.7z"
    path.write_bytes(one_file(coder=DEFLATE, unpacked=1 << 60))
    with SevenZipArchive(str(path)) as a:
        assert [m.size for m in a.listing] == [1 << 60]  # unpack's caps refuse this before reading
        with pytest.raises(errors.ArchiveCorrupt, match=r"member 'a': damaged or truncated \(the data ends early\)"):
            for m in a:
                with m.open() as f:
                    while f.read(1 << 20):
                        pass


def test_a_wrong_crc_names_the_member(tmp_path):
    path = tmp_path / "crc.7z"
    path.write_bytes(one_file(crc=1234))
    with pytest.raises(errors.ArchiveCorrupt, match=r"member 'a'.*CRC mismatch"):
        read(path)


@pytest.mark.parametrize("at, match", [(10, "signature header's CRC"), (-2, "header's CRC")])
def test_a_damaged_header_crc_is_refused(tmp_path, at, match):
    raw = bytearray(one_file())
    raw[at] ^= 1
    path = tmp_path / "crc.7z"
    path.write_bytes(bytes(raw))
    with pytest.raises(errors.ArchiveCorrupt, match=match):
        read(path)


def test_a_header_cut_short_is_refused(tmp_path):
    good = one_file()
    header = good[32 + len(b"hello 7z"):]
    path = tmp_path / "short.7z"
    path.write_bytes(sevenzip(header[:-6], b"hello 7z"))
    with pytest.raises(errors.ArchiveCorrupt, match="ends early"):
        read(path)


def with_version(data: bytes, major: int) -> bytes:
    return data[:6] + bytes([major]) + data[7:]


@pytest.mark.parametrize("offset", [2**63 - 2, 2**64 - 1, 1 << 40])
def test_a_later_version_whose_header_lies_past_the_end_is_refused_before_py7zr(tmp_path, offset):
    # found by fuzz_archive: py7zr seeked there and raised OSError(EINVAL), which escaped
    good = one_file()
    _, length, crc = struct.unpack_from("<QQI", good, 12)
    tail = struct.pack("<QQI", offset, length, crc)
    path = tmp_path / "far.7z"
    path.write_bytes(with_version(SIGNATURE + struct.pack("<I", zlib.crc32(tail)) + tail + good[32:], 64))
    with pytest.raises(errors.ArchiveCorrupt, match="past the end"):
        SevenZipArchive(str(path))
    with pytest.raises(errors.ArchiveCorrupt, match="past the end"):
        open_archive(str(path)).close()


def test_a_later_version_with_a_sound_start_header_is_left_to_py7zr(tmp_path):
    path = tmp_path / "v64.7z"
    path.write_bytes(with_version(one_file(), 64))
    with pytest.raises(NeedsPy7zr, match="version 64"):
        SevenZipArchive(str(path))


def test_a_method_it_does_not_read_is_left_to_py7zr(tmp_path):
    path = tmp_path / "lzma2.7z"
    path.write_bytes(one_file(coder=b"\x21"))
    with pytest.raises(NeedsPy7zr, match="coder 21"):
        SevenZipArchive(str(path))
