"""Hard links made one inode again in an unpacked package tree.

Zip and 7z have no hard link member that unzip, 7z and py7zr read (7-Zip stores hard links
as links only in WIM and tar), so a package carries every name of a hard-linked file as a
copy of its own; the tree manifest says which names are one inode (a file's link is the
first name of its group, docs/format.md).  Import unpacks the copies, then relink() checks
each copy's bytes against the hash the manifest records and replaces it with a hard link to
the first name, through the no-follow Tree: the tree's root hash (hard links included) is
then the package's.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bodega import errors
from bodega._native.hash import hash_files_report
from bodega.storage.manifest import Manifest
from bodega.storage.package import layout
from bodega.storage.tree import Tree


def relink(root: Path, tree: Manifest, where: str, *, cancel: Callable[[], bool] | None = None) -> int:
    """Replaces each hard-linked copy under root by a link to its group's first name; how many."""
    pairs = [(e.path, e.link) for e in tree if e.kind == "file" and e.link]
    if not pairs:
        return 0

    def damaged(path: bytes, why: str) -> errors.PackageDamaged:
        member = (layout.ROOT + path).decode("utf-8", "backslashreplace")
        return errors.PackageDamaged(f"{where}: member {member!r}: {why}", member=member, path=where)

    expected = {e.path: e.hash for e in tree if e.kind == "file" and e.link}
    for (path, first), got in zip(pairs, hash_files_report(root, [p for p, _ in pairs])):
        if got.error is not None:
            raise damaged(path, f"cannot be read back ({got.error})")
        if got.digest != expected[path]:
            raise damaged(path, f"its bytes are not those of {os.fsdecode(first)!r}, of which the manifest "
                                "says it is a hard link")
    with Tree.open(root) as t:
        for path, first in pairs:
            if cancel is not None and cancel():
                raise errors.Cancelled("import cancelled")
            st = t.lstat(first)
            if st is None or st.kind != "file":
                raise damaged(path, f"a hard link of {os.fsdecode(first)!r}, which the package does not hold "
                                    "as a file")
            t.remove(path)
            t.hardlink(first, path)
    return len(pairs)
