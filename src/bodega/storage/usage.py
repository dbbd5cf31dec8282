"""How much a tree uses: apparent bytes (file sizes) and allocated bytes (on disk)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bodega._native.scan import Kind, scan


@dataclass(frozen=True)
class TreeUsage:
    """Files, directories and bytes of a tree; hardlinked files count once."""

    files: int
    dirs: int
    apparent_bytes: int
    allocated_bytes: int


def measure_tree(root: Path) -> TreeUsage:
    """Scans root without following links and sums its sizes (a missing root measures zero)."""
    try:
        entries = scan(root)
    except FileNotFoundError:
        return TreeUsage(0, 0, 0, 0)
    files = dirs = apparent = allocated = 0
    seen: set[tuple[int, int]] = set()
    for entry in entries:
        if entry.kind == Kind.DIR:
            dirs += 1
            continue
        if entry.nlink > 1:
            key = (entry.volume_id, entry.file_id)
            if key in seen:
                continue
            seen.add(key)
        files += 1
        apparent += entry.size
        # the native scan reads it per platform: st_blocks * 512, or Windows' allocation size
        allocated += entry.alloc_size
    return TreeUsage(files, dirs, apparent, allocated)
