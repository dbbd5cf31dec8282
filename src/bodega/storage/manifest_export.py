"""A manifest as text other tools read: `b3sum --check` lines, BSD mtree, JSON
(docs/format.md, "Text exports")."""
from __future__ import annotations

import stat
from typing import Any

from bodega.storage.manifest import Manifest

FORMAT_NAME = "bodega-manifest"


def to_b3sum(m: Manifest) -> tuple[str, list[bytes]]:
    """(check lines for `b3sum --check` run in the tree's root, paths left out because
    b3sum cannot name them: not UTF-8)."""
    lines, skipped = [], []
    for e in m:
        if e.kind != "file":
            continue
        if not e.path_is_utf8:
            skipped.append(e.path)
            continue
        name = e.path.decode("utf-8")
        if "\\" in name or "\n" in name:
            # b3sum's escaping: the line starts with a backslash, the name escapes \ and newlines
            name = name.replace("\\", "\\\\").replace("\n", "\\n")
            lines.append(f"\\{e.hash.hex()}  {name}\n")
        else:
            lines.append(f"{e.hash.hex()}  {name}\n")
    return "".join(lines), skipped


# Bytes an mtree name keeps as they are: printable ASCII but for space and the characters
# mtree and its globbing give meaning to.
_MTREE_PLAIN = frozenset(range(0x21, 0x7F)) - set(b"#\\=*?[")
_MTREE_TYPES = {stat.S_IFIFO: "fifo", stat.S_IFSOCK: "socket", stat.S_IFCHR: "char",
                stat.S_IFBLK: "block"}


def mtree_escape(raw: bytes) -> str:
    """raw with every byte outside the plain set as a 3-digit octal escape (vis(3) style)."""
    return "".join(chr(b) if b in _MTREE_PLAIN else f"\\{b:03o}" for b in raw)


def to_mtree(m: Manifest) -> str:
    """The manifest as a BSD mtree spec (full paths), readable by libarchive and mtree."""
    out = ["#mtree\n"]
    for e in m:
        if e.kind == "file":
            kw = f"type=file mode={e.mode & 0o7777:04o} size={e.size}"
        elif e.kind == "dir":
            kw = f"type=dir mode={e.mode & 0o7777:04o}"
        elif e.kind == "symlink":
            kw = f"type=link mode=0777 link={mtree_escape(e.link or b'')}"
        elif e.kind == "special" and stat.S_IFMT(e.mode) in _MTREE_TYPES:
            kw = f"type={_MTREE_TYPES[stat.S_IFMT(e.mode)]} mode={e.mode & 0o7777:04o}"
        else:
            continue  # a Windows reparse point that is not a link has no mtree type
        secs, nsecs = divmod(e.mtime_ns, 1_000_000_000)
        out.append(f"./{mtree_escape(e.path)} {kw} time={secs}.{nsecs:09d}\n")
    return "".join(out)


def to_json(m: Manifest) -> dict[str, Any]:
    """The manifest as JSON-ready data (the stat cache is host-local and left out)."""
    entries = [e.to_json() for e in m]
    if m.has_owners:
        for d, e in zip(entries, m):
            d["uid"], d["gid"] = e.uid, e.gid
    return {"format": FORMAT_NAME, "version": 2, "root": m.root_hex, "delta": m.is_delta,
            "base_root": m.base_root.hex() if m.base_root is not None else None,
            "entries": entries}
