"""Archives built member by member, hostile ones included, in every format bodega reads."""
from __future__ import annotations

import io
import lzma
import stat
import tarfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import zstandard


@dataclass
class Entry:
    """One member to write: kind file, dir, symlink, hardlink, chr, fifo."""

    name: str | bytes
    kind: str = "file"
    data: bytes = b""
    mode: int = 0o644
    link: str = ""


def _name(e: Entry) -> str:
    return e.name.decode("utf-8", "surrogateescape") if isinstance(e.name, bytes) else e.name


def write_tar(path: Path, entries: list[Entry], compression: str = "") -> Path:
    """A tar (compression: "", "gz", "xz", "bz2" or "zst") with exactly these members."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, encoding="utf-8",
                      errors="surrogateescape") as tf:
        for e in entries:
            info = tarfile.TarInfo(_name(e))
            info.mtime = int(time.time())
            info.mode = e.mode
            if e.kind == "file":
                info.size = len(e.data)
                tf.addfile(info, io.BytesIO(e.data))
                continue
            info.type = {"dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE,
                         "chr": tarfile.CHRTYPE, "fifo": tarfile.FIFOTYPE}[e.kind]
            info.linkname = e.link
            tf.addfile(info)
    raw = buf.getvalue()
    if compression == "gz":
        import gzip
        raw = gzip.compress(raw)
    elif compression == "xz":
        raw = lzma.compress(raw)
    elif compression == "bz2":
        import bz2
        raw = bz2.compress(raw)
    elif compression == "zst":
        raw = zstandard.ZstdCompressor(write_checksum=True).compress(raw)  # as the zstd tool writes
    path.write_bytes(raw)
    return path


def write_zip(path: Path, entries: list[Entry], compression: int = zipfile.ZIP_DEFLATED) -> Path:
    """A zip with exactly these members (Unix modes in the external attributes)."""
    with zipfile.ZipFile(path, "w", compression) as zf:
        for e in entries:
            info = zipfile.ZipInfo(_name(e), time.localtime()[:6])
            info.create_system = 3
            info.compress_type = compression
            if e.kind == "dir":
                info.external_attr = (stat.S_IFDIR | e.mode) << 16 | 0x10
                if not info.filename.endswith("/"):
                    info.filename += "/"
                zf.writestr(info, b"")
            elif e.kind == "symlink":
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, e.link.encode())
            elif e.kind == "chr":
                info.external_attr = (stat.S_IFCHR | 0o666) << 16
                zf.writestr(info, b"")
            else:
                info.external_attr = (stat.S_IFREG | e.mode) << 16
                zf.writestr(info, e.data)
    return path


def write_7z(path: Path, entries: list[Entry]) -> Path:
    """A 7z of files and dirs, each written from a real file so py7zr records its kind and mode."""
    import tempfile

    import py7zr

    with tempfile.TemporaryDirectory() as tmp, py7zr.SevenZipFile(path, "w") as z:
        for i, e in enumerate(entries):
            src = Path(tmp) / str(i)
            if e.kind == "file":
                src.write_bytes(e.data)
            elif e.kind == "dir":
                src.mkdir()
            else:
                raise ValueError(f"write_7z does not write {e.kind}")
            src.chmod(e.mode)
            z.write(src, _name(e))
    return path


FORMATS = ["zip", "tar", "tar.gz", "tar.xz", "tar.zst", "tar.bz2", "7z"]


def write(path_dir: Path, fmt: str, entries: list[Entry], name: str = "a") -> Path:
    """entries as an archive of format fmt (a name without a telling extension: bodega sniffs)."""
    path = path_dir / f"{name}.bin"
    if fmt == "zip":
        return write_zip(path, entries)
    if fmt == "7z":
        return write_7z(path, entries)
    return write_tar(path, entries, fmt.partition(".")[2])
