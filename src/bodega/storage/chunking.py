"""Where a large file is cut into content-defined chunks for the store (native FastCDC)."""
from __future__ import annotations

from typing import Iterator

from bodega._native import chunk as _chunk
from bodega._native.tree import File

NAME = _chunk.chunker_id()
READ_SIZE = 2 * _chunk.MAX_SIZE  # bytes read at a time: a chunk spans at most two reads


def cuts(data: memoryview) -> list[tuple[int, int]]:
    """(offset, length) of each chunk of data, in order (the store's chunker: docs/store.md)."""
    chunker = _chunk.Chunker()
    return chunker.update(data) + chunker.finish()


def chunks(f: File, size: int) -> Iterator[memoryview]:
    """The chunks of the first size bytes of the open file f, in order (the store's chunker),
    each a view of the bytes as read: a writer of the file meanwhile changes none of them."""
    chunker = _chunk.Chunker()
    held, base, offset = b"", 0, 0  # held: the bytes read from offset base on, not yet cut
    while offset < size:
        data = f.pread(min(READ_SIZE, size - offset), offset)
        if not data:
            break  # shorter than it was: the caller's stat check sees it
        offset += len(data)
        held = held + data if held else data
        base, held = yield from _cut(held, base, chunker.update(data))
    yield from _cut(held, base, chunker.finish())


def _cut(held: bytes, base: int, cuts: list[tuple[int, int]]) -> Iterator[memoryview]:
    """Yields the chunks cuts names in held (which starts at offset base); returns (the new
    base, what is left of held)."""
    view = memoryview(held)
    end = 0
    for at, length in cuts:
        end = at - base + length
        yield view[at - base:end]
    return base + end, held[end:] if end else held
