import os
from dataclasses import dataclass
from typing import Callable, Literal, NamedTuple, Sequence

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]
_Mode = Literal["auto", "require", "never"]

METHODS: tuple[str, ...]

@dataclass(frozen=True)
class CloneFileResult:
    method: str
    bytes_cloned: int
    bytes_copied: int

@dataclass(frozen=True)
class CloneTreeResult:
    files: int
    dirs: int
    symlinks: int
    hardlinks: int
    specials: list[str]
    bytes: int
    bytes_cloned: int
    bytes_copied: int
    methods: list[str]
    threads: int
    seconds: float

@dataclass(frozen=True)
class CloneProgress:
    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    bytes_cloned: int
    bytes_copied: int

@dataclass(frozen=True)
class FsInfo:
    path: str
    fs_name: str
    volume_id: int
    block_size: int
    bytes_total: int
    bytes_free: int
    can_clone: bool

class ClonedFile(NamedTuple):
    path: bytes
    size: int | None
    mtime_ns: int | None
    ctime_ns: int | None
    file_id: int | None
    error: Exception | None

def features() -> frozenset[str]: ...
def clone_file(src: _Path, dst: _Path, *, mode: _Mode = "auto") -> CloneFileResult: ...
def clone_tree(src: _Path, dst: _Path, *, progress: Callable[[CloneProgress], object] | None = None,
               threads: int | None = None, mode: _Mode = "auto") -> CloneTreeResult: ...
def fs_info(path: _Path) -> FsInfo: ...
def probe_cow(path: _Path) -> bool: ...
def clone_files(src_root: _Path, relpaths: Sequence[_Path], dst_dir: _Path, names: Sequence[_Path], *,
                threads: int | None = None) -> list[ClonedFile]: ...
