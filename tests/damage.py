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


def flip_stored_bit(store, entry, offset: int, bit: int = 4) -> None:
    """Flips one bit of a pack at offset where the store keeps it: its file, or its object in a
    remote store (whose local copy is then dropped)."""
    if store.remote is None:
        flip_bit(store.pack_path(entry.pack), offset, bit)
        return
    key = f"packs/{entry.pack}.pack"
    data = bytearray(store.remote.get(key))
    data[offset] ^= 1 << bit
    store.remote.put(key, bytes(data))
    store.drop_cache()
