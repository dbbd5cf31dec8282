import os
from collections.abc import Buffer
from typing import NamedTuple

from bodega._native._progress import ProgressCallback

GEAR_VERSION: int
MIN_SIZE: int
AVG_SIZE: int
MAX_SIZE: int
LEVEL: int

class Chunk(NamedTuple):
    """One chunk of a file: where it is and the BLAKE3-256 of its bytes."""

    offset: int
    length: int
    digest: bytes

class ChunkedFile(NamedTuple):
    """A file cut into chunks: its own BLAKE3-256, its size and its chunks in order."""

    digest: bytes
    size: int
    chunks: list[Chunk]

def chunker_id(*, min_size: int = ..., avg_size: int = ..., max_size: int = ..., level: int = ...) -> str: ...

class Chunker:
    """Finds FastCDC cut points in a stream fed in pieces of any size."""

    def __init__(self, *, min_size: int = ..., avg_size: int = ..., max_size: int = ..., level: int = ...) -> None: ...
    @property
    def id(self) -> str: ...
    def update(self, data: Buffer, /) -> list[tuple[int, int]]: ...
    def finish(self) -> list[tuple[int, int]]: ...

def chunk_file(path: str | bytes | os.PathLike[str], *, min_size: int = ..., avg_size: int = ...,
               max_size: int = ..., level: int = ..., progress: ProgressCallback | None = None) -> ChunkedFile: ...
