import os
from collections.abc import Buffer, Iterable
from typing import NamedTuple

from bodega._native._progress import ProgressCallback
from bodega.errors import BodegaError

DIGEST_SIZE: int
GIL_RELEASE_MIN: int

class FileHash(NamedTuple):
    """One file of a batch: its digest and metadata from the open handle, or the error that stopped it."""

    path: bytes
    digest: bytes | None
    size: int | None
    mode: int | None
    mtime_ns: int | None
    ctime_ns: int | None
    file_id: int | None
    volume_id: int | None
    error: BodegaError | None

class Blake3:
    """A BLAKE3 hash object shaped like hashlib's (plus keyed and key-derivation modes)."""

    name: str
    digest_size: int
    block_size: int
    def __init__(self, data: Buffer = b"", /, *, key: Buffer | None = None,
                 derive_key_context: str | bytes | None = None) -> None: ...
    def update(self, data: Buffer, /) -> None: ...
    def digest(self, length: int = 32) -> bytes: ...
    def hexdigest(self, length: int = 32) -> str: ...
    def copy(self) -> Blake3: ...

def split_file_path(path: str | bytes | os.PathLike[str]) -> tuple[bytes, bytes]: ...
def hash_many(messages: list[Buffer]) -> list[bytes]: ...
def implementations() -> list[str]: ...
def implementation() -> str: ...
def use_implementation(name: str) -> None: ...
def hash_file(path: str | bytes | os.PathLike[str], *, threads: int | None = None,
              progress: ProgressCallback | None = None) -> bytes: ...
def hash_files(root: str | bytes | os.PathLike[str], relpaths: Iterable[str | bytes], *,
               threads: int | None = None, progress: ProgressCallback | None = None) -> list[bytes]: ...
def read_files(root: str | bytes | os.PathLike[str], relpaths: Iterable[str | bytes], caps: Iterable[int], *,
               threads: int | None = None,
               progress: ProgressCallback | None = None) -> list[tuple[FileHash, memoryview | None]]: ...
def hash_files_report(root: str | bytes | os.PathLike[str], relpaths: Iterable[str | bytes], *,
                      threads: int | None = None, progress: ProgressCallback | None = None,
                      drop_cached: bool = False) -> list[FileHash]: ...
