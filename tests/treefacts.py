"""What tests compare about trees on disk: every entry's facts, shared extents (FIEMAP)."""
from __future__ import annotations

import array
import fcntl
import hashlib
import os
import stat
import struct
from pathlib import Path

FS_IOC_FIEMAP = 0xC020660B          # _IOWR('f', 11, struct fiemap)
FIEMAP_FLAG_SYNC = 0x1
FIEMAP_EXTENT_SHARED = 0x2000
_FIEMAP_HEAD = struct.Struct("=QQIIII")          # start, length, flags, mapped, count, reserved
_FIEMAP_EXTENT = struct.Struct("=QQQQQIIII")     # logical, physical, length, 2 reserved, flags, 3 reserved


def extents(path: str | os.PathLike, max_extents: int = 512) -> list[tuple[int, int, int, int]]:
    """The file's extents from FIEMAP: (logical, physical, length, flags)."""
    buf = bytearray(_FIEMAP_HEAD.size + max_extents * _FIEMAP_EXTENT.size)
    _FIEMAP_HEAD.pack_into(buf, 0, 0, 0xFFFFFFFFFFFFFFFF, FIEMAP_FLAG_SYNC, 0, max_extents, 0)
    with open(path, "rb") as f:
        fcntl.ioctl(f.fileno(), FS_IOC_FIEMAP, buf)
    mapped = _FIEMAP_HEAD.unpack_from(buf, 0)[3]
    out = []
    for i in range(mapped):
        logical, physical, length, _, _, flags, *_ = _FIEMAP_EXTENT.unpack_from(
            buf, _FIEMAP_HEAD.size + i * _FIEMAP_EXTENT.size)
        out.append((logical, physical, length, flags))
    return out


def all_shared(path: str | os.PathLike) -> bool:
    """True when the file has data and every extent of it is shared copy-on-write."""
    ext = extents(path)
    return bool(ext) and all(flags & FIEMAP_EXTENT_SHARED for *_, flags in ext)


def none_shared(path: str | os.PathLike) -> bool:
    """True when no extent of the file is shared."""
    return not any(flags & FIEMAP_EXTENT_SHARED for *_, flags in extents(path))


def xattrs(path: str | os.PathLike) -> dict[str, bytes]:
    """The user./trusted. extended attributes of path (not following a link)."""
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return {}
    return {n: os.getxattr(path, n, follow_symlinks=False) for n in names
            if not n.startswith("security.")}


def facts(root: str | os.PathLike) -> dict[bytes, tuple]:
    """Every entry below root (relative path bytes) with what a clone must keep: kind, mode,
    mtime ns, owner, size, content digest or link target, xattrs; plus hardlink groups as a
    group number shared by the names of one inode."""
    base = os.fsencode(root)
    out: dict[bytes, tuple] = {}
    groups: dict[tuple[int, int], int] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, base)
            st = os.lstat(path)
            if stat.S_ISLNK(st.st_mode):
                what = os.readlink(path)
            elif stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    what = hashlib.blake2b(f.read()).hexdigest()
            else:
                what = None
            group = None
            if stat.S_ISREG(st.st_mode) and st.st_nlink > 1:
                group = groups.setdefault((st.st_dev, st.st_ino), len(groups))
            mtime = None if stat.S_ISDIR(st.st_mode) and rel == b"." else st.st_mtime_ns
            out[rel] = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode) else 0,
                        mtime, st.st_uid, st.st_gid, st.st_size if not stat.S_ISDIR(st.st_mode) else 0,
                        what, tuple(sorted(xattrs(path).items())), group)
    return out


def root_facts(root: str | os.PathLike) -> tuple:
    """The root directory's own mode, mtime and xattrs."""
    st = os.lstat(root)
    return stat.S_IMODE(st.st_mode), st.st_mtime_ns, tuple(sorted(xattrs(root).items()))


def make_sample_tree(root: Path, big: int = 3 << 20) -> None:
    """A small tree with every kind a clone must keep: nested dirs, odd modes and times,
    xattrs, symlinks (relative, absolute, dangling, to a dir), hardlinks, empty and big files,
    a non-UTF-8 name."""
    (root / "a" / "b" / "c").mkdir(parents=True)
    (root / "empty-dir").mkdir()
    (root / "a" / "f.txt").write_text("hello\n")
    (root / "a" / "b" / "data.bin").write_bytes(os.urandom(big))
    (root / "a" / "b" / "c" / "deep").write_bytes(b"deep" * 1000)
    (root / "empty").touch()
    (root / os.fsdecode(b"caf\xe9-latin1")).write_bytes(b"not utf-8 name")
    os.chmod(root / "a" / "f.txt", 0o640)
    os.chmod(root / "a" / "b" / "c" / "deep", 0o4755)
    os.chmod(root / "empty-dir", 0o711)
    os.setxattr(root / "a" / "f.txt", "user.origin", b"test")
    os.setxattr(root / "a" / "b", "user.dirattr", b"\x00\x01binary")
    os.symlink("../a/f.txt", root / "a" / "b" / "rel-link")
    os.symlink("/etc", root / "etc-link")
    os.symlink("does/not/exist", root / "dangling")
    os.symlink("a/b", root / "dir-link")
    os.link(root / "a" / "f.txt", root / "a" / "b" / "c" / "hard")
    os.link(root / "a" / "f.txt", root / "hard-top")
    if os.geteuid() == 0:
        os.chown(root / "a" / "b" / "data.bin", 1234, 5678)
        os.lchown(root / "dangling", 4321, 8765)
    # Times last, deepest first, since writing an entry changes its directory's mtime.
    for i, p in enumerate(sorted(root.rglob("*"), key=lambda p: -len(p.parts))):
        os.utime(p, ns=(1_600_000_000_000_000_000 + i, 1_500_000_000_123_456_789 + i * 1000), follow_symlinks=False)
    os.utime(root, ns=(1, 1_400_000_000_987_654_321))
