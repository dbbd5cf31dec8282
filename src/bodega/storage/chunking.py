"""Where a large file is cut into content-defined chunks for the store (native FastCDC)."""
from __future__ import annotations

from typing import Iterator

from bodega._native import chunk as _chunk
from bodega._native.tree import File

NAME = _chunk.chunker_id()
READ_SIZE = _chunk.MAX_SIZE  # bytes read at a time, after what is left uncut of the last read


def cuts(data: memoryview) -> list[tuple[int, int]]:
    """(offset, length) of each chunk of data, in order (the store's chunker: docs/store.md)."""
    chunker = _chunk.Chunker()
    return chunker.update(data) + chunker.finish()


def chunks(f: File, size: int) -> Iterator[memoryview]:
    """The chunks of the first size bytes of the open file f, in order (the store's chunker),
    each a view of the bytes as read, valid until the next is taken: a writer of the file
    meanwhile changes none of them."""
    # One buffer, read into directly: the chunks cut from it, what is left moved to its start.
    # It holds a whole chunk and more, so each read completes one at least.
    buf = memoryview(bytearray(_chunk.MAX_SIZE + READ_SIZE))
    held = offset = 0  # buf[:held]: bytes read (the file's from offset - held on) not cut yet
    at_end = size <= 0
    while not at_end:
        want = min(len(buf) - held, size - offset)
        got = f.pread_into(buf[held:held + want], offset)
        offset, held = offset + got, held + got
        at_end = got < want or offset >= size  # shorter than it was: the caller's stat check sees it
        chunker = _chunk.Chunker()  # each read starts at a cut, where a chunk's search starts anyway
        done = 0
        for start, length in chunker.update(buf[:held]) + (chunker.finish() if at_end else []):
            done = start + length
            yield buf[start:done]
        buf[:held - done] = buf[done:held]
        held -= done
