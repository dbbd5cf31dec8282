"""FastCDC content-defined chunking of streams and files (cffi back end)."""
from __future__ import annotations

import os
import threading

from bodega import errors
from bodega._native.cffi_backend._batch import open_dir
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressCallback, ProgressRelay, raise_failure
from bodega._native.cffi_backend._status import new_error
from bodega._native.cffi_backend.hash import split_file_path
from bodega._native.values import Chunk, ChunkedFile

GEAR_VERSION = lib.BD_CHUNK_GEAR_VERSION
MIN_SIZE = lib.BD_CHUNK_MIN_DEFAULT
AVG_SIZE = lib.BD_CHUNK_AVG_DEFAULT
MAX_SIZE = lib.BD_CHUNK_MAX_DEFAULT
LEVEL = lib.BD_CHUNK_LEVEL_DEFAULT



def _params(min_size: object, avg_size: object, max_size: object, level: object) -> object:
    """C chunk parameters, checked (InvalidInput naming the rule that is broken)."""
    for name, value in (("min_size", min_size), ("avg_size", avg_size), ("max_size", max_size), ("level", level)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2 ** 32:
            raise errors.InvalidInput(f"chunk {name} must be an integer from 0 to 2**32-1, not {value!r}")
    p = ffi.new("bd_chunk_params *", {"min_size": min_size, "avg_size": avg_size, "max_size": max_size,
                                      "level": level})
    e = new_error()
    if lib.bd_chunk_params_check(p, e) != lib.BD_OK:
        raise errors.InvalidInput(
            f"{ffi.string(e.op).decode()} (min {min_size}, avg {avg_size}, max {max_size}, level {level})")
    return p


def chunker_id(*, min_size: int = MIN_SIZE, avg_size: int = AVG_SIZE, max_size: int = MAX_SIZE,
               level: int = LEVEL) -> str:
    """The name a store records with chunks: every parameter the cut points depend on."""
    _params(min_size, avg_size, max_size, level)
    return f"fastcdc2020/gear-v{GEAR_VERSION}/{min_size}-{avg_size}-{max_size}/nc{level}"


class Chunker:
    """Finds FastCDC cut points in a stream fed in pieces of any size."""

    def __init__(self, *, min_size: int = MIN_SIZE, avg_size: int = AVG_SIZE, max_size: int = MAX_SIZE,
                 level: int = LEVEL) -> None:
        p = _params(min_size, avg_size, max_size, level)
        self._c = ffi.new("bd_chunker *")
        lib.bd_chunker_init(self._c, p, ffi.NULL)
        self._pending = b""   # bytes after the last cut
        self._offset = 0      # stream offset of pending[0]
        self._busy = threading.Lock()

    @property
    def id(self) -> str:
        """The chunker's name with its parameters (see chunker_id)."""
        p = self._c.params
        return chunker_id(min_size=p.min_size, avg_size=p.avg_size, max_size=p.max_size, level=p.level)

    def _cut(self, data: object, at_end: int) -> list[tuple[int, int]]:
        if isinstance(data, str):
            raise TypeError("Strings must be encoded before chunking")
        if not self._busy.acquire(blocking=False):
            raise errors.InvalidInput("a Chunker was fed from two threads at once")
        try:
            if self._pending:
                data = self._pending + bytes(data)  # a cut needs the chunk's bytes in one piece
            view = ffi.from_buffer(data)
            length = len(view)
            done = 0
            out = []
            while True:
                cut = lib.bd_chunker_find(self._c, view + done, length - done, at_end)
                if cut == 0:
                    break
                out.append((self._offset, cut))
                self._offset += cut
                done += cut
            self._pending = bytes(memoryview(data)[done:]) if length > done else b""
            return out
        finally:
            self._busy.release()

    def update(self, data: object, /) -> list[tuple[int, int]]:
        """Adds data; returns the (offset, length) of each chunk it completed."""
        return self._cut(data, 0)

    def finish(self) -> list[tuple[int, int]]:
        """Ends the stream; returns the (offset, length) of the chunks left."""
        out = self._cut(b"", 1)
        self._offset = 0
        return out


def chunk_file(path: str | bytes | os.PathLike, *, min_size: int = MIN_SIZE, avg_size: int = AVG_SIZE,
               max_size: int = MAX_SIZE, level: int = LEVEL, progress: ProgressCallback | None = None) -> ChunkedFile:
    """Cuts a regular file (never through a link) into chunks in one read, hashing each and the file."""
    p = _params(min_size, avg_size, max_size, level)
    relay = ProgressRelay(progress)
    parent, name = split_file_path(path)
    chunks = ffi.new("bd_chunk_list *")
    digest = ffi.new("uint8_t[32]")
    e = new_error()
    d = open_dir(parent, relay)
    try:
        rc = lib.bd_chunk_file(d, name, len(name), p, lib.bd_chunk_collect, chunks, digest, ffi.NULL, relay.c, e)
        lib.bd_dir_close(d)
        if chunks.out_of_memory:
            raise MemoryError("cannot grow the list of chunks")
        if rc != lib.BD_OK:
            raise_failure(e, relay, parent)
        out = [Chunk(c.offset, c.length, ffi.buffer(c.hash, 32)[:]) for c in (chunks.items[i] for i in range(chunks.n))]
        return ChunkedFile(ffi.buffer(digest, 32)[:], sum(c.length for c in out), out)
    finally:
        lib.bd_chunk_list_free(chunks)
