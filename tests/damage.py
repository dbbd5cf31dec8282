"""Damaging stored data on purpose: one flipped bit, as a failing disk or a stray write makes."""
from __future__ import annotations

import os
from pathlib import Path


def flip_bit(path: Path, offset: int, bit: int = 4) -> None:
    """Flips one bit of the byte at offset in path (made writable first: store objects are read-only)."""
    os.chmod(path, 0o644)
    with open(path, "r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ (1 << bit)]))
