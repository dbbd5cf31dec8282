"""A plain-Python oracle for docs/format.md: entries of a tree by os.lstat, the table section
and the root hash, written from the spec and never from bodega's code."""
from __future__ import annotations

import os
import stat
import struct

import blake3

KINDS = {stat.S_IFREG: 1, stat.S_IFDIR: 2, stat.S_IFLNK: 3}
ROOT_DOMAIN = b"bodega.manifest.root.v1\0"


def _utf8(b: bytes) -> bool:
    try:
        b.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def entries(root) -> list[dict]:
    """Every entry below root, sorted by path bytes, as docs/format.md (version 2) describes it:
    owners recorded, and each file but the first (in path order) of one inode linking that first."""
    base = os.fsencode(root)
    out = []

    def walk(rel: bytes) -> None:
        for name in os.listdir(os.path.join(base, rel) if rel else base):
            path = rel + b"/" + name if rel else name
            full = os.path.join(base, path)
            st = os.lstat(full)
            kind = KINDS.get(stat.S_IFMT(st.st_mode), 5)
            e = {"path": path, "kind": kind, "mode": st.st_mode, "attrs": 0, "size": 0,
                 "mtime_ns": st.st_mtime_ns, "hash": bytes(32), "link": b"", "uid": st.st_uid,
                 "gid": st.st_gid, "inode": (st.st_dev, st.st_ino) if st.st_nlink > 1 else None}
            if kind == 1:
                e["size"] = st.st_size
                with open(full, "rb") as f:
                    e["hash"] = blake3.blake3(f.read()).digest()
            elif kind == 3:
                e["link"] = os.readlink(full)
                e["size"] = len(e["link"])
                e["mode"] = stat.S_IFLNK
            out.append(e)
            if kind == 2:
                walk(path)

    walk(b"")
    out.sort(key=lambda e: e["path"])
    first: dict[tuple[int, int], bytes] = {}
    for e in out:
        if e["kind"] == 1 and e["inode"] is not None:
            if e["inode"] in first:
                e["link"] = first[e["inode"]]
            else:
                first[e["inode"]] = e["path"]
    return out


def table_section(es: list[dict]) -> bytes:
    """The table section (docs/format.md, "Sections") of the entries es."""
    n = len(es)
    cols = [
        struct.pack(f"<{n}Q", *(e["size"] for e in es)),
        struct.pack(f"<{n}q", *(e["mtime_ns"] for e in es)),
        struct.pack(f"<{n}I", *(e.get("uid", 0) for e in es)),
        struct.pack(f"<{n}I", *(e.get("gid", 0) for e in es)),
        struct.pack(f"<{n}I", *(e["mode"] for e in es)),
        struct.pack(f"<{n}I", *(e["attrs"] for e in es)),
        struct.pack(f"<{n}I", *(len(e["path"]) for e in es)),
        struct.pack(f"<{n}I", *(len(e["link"]) for e in es)),
        bytes(e["kind"] for e in es),
        b"".join(e["hash"] for e in es),
        b"".join(e["path"] for e in es),
        b"".join(e["link"] for e in es),
        bytes((0 if _utf8(e["path"]) else 1) | (0 if _utf8(e["link"]) else 2) for e in es),
    ]
    return b"".join(cols)


def root_hash(es: list[dict]) -> bytes:
    """The root hash, computed entry by entry from its definition (owners left out)."""
    n = len(es)
    h = blake3.blake3(ROOT_DOMAIN + struct.pack("<Q", n))
    h.update(struct.pack(f"<{n}I", *(e["mode"] for e in es)))
    h.update(struct.pack(f"<{n}I", *(e["attrs"] for e in es)))
    h.update(struct.pack(f"<{n}I", *(len(e["path"]) for e in es)))
    h.update(struct.pack(f"<{n}I", *(len(e["link"]) for e in es)))
    h.update(bytes(e["kind"] for e in es))
    for e in es:
        h.update(e["hash"])
    for e in es:
        h.update(e["path"])
    for e in es:
        h.update(e["link"])
    return h.digest()
