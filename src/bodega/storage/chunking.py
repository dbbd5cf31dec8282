"""Where a large file is cut into content-defined chunks for the store (native FastCDC)."""
from __future__ import annotations

from bodega._native import chunk as _chunk

NAME = _chunk.chunker_id()


def cuts(data: memoryview) -> list[tuple[int, int]]:
    """(offset, length) of each chunk of data, in order (the store's chunker: docs/store.md)."""
    chunker = _chunk.Chunker()
    return chunker.update(data) + chunker.finish()
