"""Valid inputs the fuzzers start from: small archives of every format bodega reads, and real
bodega export packages (zip and 7z) made by a throwaway home."""
from __future__ import annotations

import io
import os
import tarfile
import tempfile
import zipfile
from pathlib import Path

import zstandard

FILES = {"app/readme.txt": b"hello\n" * 40, "app/bin/tool": bytes(range(256)) * 8, "app/empty": b""}


def archives() -> dict[str, bytes]:
    """A zip (deflated and stored members, a directory, a symlink), a tar in each compression, a 7z."""
    out = {}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr(zipfile.ZipInfo("app/"), b"")
        for i, (name, data) in enumerate(FILES.items()):
            z.writestr(name, data, compress_type=zipfile.ZIP_DEFLATED if i % 2 else zipfile.ZIP_STORED)
        link = zipfile.ZipInfo("app/link")
        link.external_attr = 0o120777 << 16
        z.writestr(link, b"readme.txt")
    out["zip"] = buf.getvalue()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, data in FILES.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("app/link")
        link.type, link.linkname = tarfile.SYMTYPE, "readme.txt"
        t.addfile(link)
        hard = tarfile.TarInfo("app/hard")
        hard.type, hard.linkname = tarfile.LNKTYPE, "app/readme.txt"
        t.addfile(hard)
    out["tar"] = raw.getvalue()
    for mode in ("gz", "xz", "bz2"):
        b = io.BytesIO()
        with tarfile.open(fileobj=b, mode=f"w:{mode}") as t, tarfile.open(fileobj=io.BytesIO(out["tar"])) as src:
            for m in src.getmembers():
                t.addfile(m, src.extractfile(m) if m.isfile() else None)
        out[f"tar.{mode}"] = b.getvalue()
    out["tar.zst"] = zstandard.ZstdCompressor().compress(out["tar"])
    out["7z"] = _sevenzip()
    out["7z.deflate"] = _bodega_sevenzip()
    out["7z.plain-header"] = _plain_header(out["7z.deflate"])
    return out


def _plain_header(raw: bytes) -> bytes:
    """A 7z whose header is behind kEncodedHeader rewritten with the header plain (the fuzzer's
    mutations of a plain header reach the parser; of a deflated one, mostly the inflater)."""
    import struct
    import zlib

    from bodega.storage.archive.sevenzip_format import SIGNATURE
    from bodega.storage.archive.sevenzip_header import plain_header, read_header

    with tempfile.TemporaryDirectory(prefix="bodega-fuzz-") as tmp:
        path = Path(tmp) / "a.7z"
        path.write_bytes(raw)
        with open(path, "rb") as f:
            plain, _ = plain_header(f, str(path), len(raw))
            folders = read_header(f, str(path), len(raw)).folders
    end = max((folder.offset + folder.packed for folder in folders), default=32)  # the files' data
    tail = struct.pack("<QQI", end - 32, len(plain), zlib.crc32(plain))
    return SIGNATURE + struct.pack("<I", zlib.crc32(tail)) + tail + raw[32:end] + plain


def _bodega_sevenzip() -> bytes:
    """A 7z of FILES and a symlink by bodega's writer (Deflate and Copy folders, an encoded header)."""
    from bodega.storage.archive.entry import ArchiveEntry
    from bodega.storage.archive.sevenzip_writer import SevenZipWriter
    from bodega.storage.archive.sink import FileSink

    data = {name.encode(): content for name, content in FILES.items()}

    class Source:
        def read_many(self, entries):
            return [data[e.name] for e in entries]

    entries = [ArchiveEntry(b"app", "dir", 0o755, 0, 0, 0, None, None)]
    entries += [ArchiveEntry(name, "file", 0o644, 0, len(content), 0, None, None) for name, content in data.items()]
    entries.append(ArchiveEntry(b"app/link", "symlink", 0o777, 0, 0, 0, None, b"readme.txt"))
    with tempfile.TemporaryDirectory(prefix="bodega-fuzz-") as tmp:
        target = Path(tmp) / "a.7z"
        sink = FileSink(target)
        writer = SevenZipWriter(sink, threads=1)
        writer.write_entries(entries, Source())  # type: ignore[arg-type]
        writer.finish()
        sink.commit()
        return target.read_bytes()


def _sevenzip() -> bytes:
    """A 7z (by py7zr) of FILES."""
    import py7zr

    with tempfile.TemporaryDirectory(prefix="bodega-fuzz-") as tmp:
        src, target = Path(tmp) / "src", Path(tmp) / "a.7z"
        for name, data in FILES.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(data)
        with py7zr.SevenZipFile(target, "w") as z:
            z.writeall(src / "app", "app")
        return target.read_bytes()


def packages() -> dict[str, bytes]:
    """bodega export packages of a small container, zip and 7z (a home made and thrown away)."""
    import bodega

    out = {}
    with tempfile.TemporaryDirectory(prefix="bodega-fuzz-home-") as home:
        with bodega.open(Path(home)) as b:
            c = b.containers.create("dev")
            root = Path(c.storage_path) / "root"
            for name, data in FILES.items():
                (root / name).parent.mkdir(parents=True, exist_ok=True)
                (root / name).write_bytes(data)
            os.symlink("readme.txt", root / "app" / "link")
            b.snapshots.create("dev")
            for fmt in ("zip", "7z"):
                target = Path(home) / f"dev.{fmt}"
                b.exports.export("dev", format=fmt, location=str(target), with_snapshots=True)
                out[f"package.{fmt}"] = target.read_bytes()
    return out


APP_JSON = {"name": "VLC", "version": "3.0.20", "vendor": "VideoLAN \u00e9", "platform": "linux-x64",
            "entry_points": [{"name": "vlc", "command": "bin/vlc --intf qt", "icon": "share/vlc.png",
                              "args": ["--fullscreen"]},
                             {"name": "cvlc", "command": "bin/cvlc", "options": {"args": ["-q"], "level": 1.5}}]}


def container_manifest() -> bytes:
    """A real container manifest.json (tags, settings, an app instance, a full and a delta snapshot)."""
    import bodega

    with tempfile.TemporaryDirectory(prefix="bodega-fuzz-home-") as home:
        with bodega.open(Path(home)) as b:
            c = b.containers.create("dev", description="fuzz seed", tags=["media"],
                                    settings={"cpu_limit": 2, "env": {"LANG": "C"},
                                              "network": {"default": "deny", "rules": [{"action": "allow",
                                                                                        "host": "example.org"}]}})
            root = Path(c.storage_path) / "root"
            (root / "app").mkdir()
            (root / "app" / "readme.txt").write_bytes(FILES["app/readme.txt"])
            b.apps.record("dev", "VLC", version="3.0.20", install_path="app",
                          entry_points=APP_JSON["entry_points"][1:], status="ready")
            b.snapshots.create("dev", kind="full")
            (root / "app" / "more.txt").write_bytes(b"more\n")
            b.snapshots.create("dev", kind="delta")
            return (Path(c.storage_path) / "manifest.json").read_bytes()
