"""How much a tree uses: apparent bytes (file sizes) and allocated bytes (blocks on disk)."""
from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class TreeUsage:
    """Files, directories and bytes of a tree; hardlinked files count once."""

    files: int
    dirs: int
    apparent_bytes: int
    allocated_bytes: int


def measure_tree(root: Path) -> TreeUsage:
    """Walks root without following links and sums its sizes (a missing root measures zero)."""
    files = dirs = apparent = allocated = 0
    seen: set[tuple[int, int]] = set()
    stack = [os.fspath(root)]
    while stack:
        try:
            it = os.scandir(stack.pop())
        except FileNotFoundError:
            continue  # vanished while we walked
        with it:
            for entry in it:
                try:
                    st = entry.stat(follow_symlinks=False)
                except FileNotFoundError:
                    continue
                if stat.S_ISDIR(st.st_mode):
                    dirs += 1
                    stack.append(entry.path)
                    continue
                if st.st_nlink > 1:
                    key = (st.st_dev, st.st_ino)
                    if key in seen:
                        continue
                    seen.add(key)
                files += 1
                apparent += st.st_size
                # st_blocks is in 512-byte units on every POSIX system; Windows has no blocks.
                allocated += st.st_blocks * 512 if hasattr(st, "st_blocks") else st.st_size
    return TreeUsage(files, dirs, apparent, allocated)
