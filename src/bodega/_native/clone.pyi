import os
from typing import Callable, Literal, NamedTuple, Sequence

# One definition of the returned classes, shared by both bindings.
from bodega._native.values import CloneFileResult as CloneFileResult, CloneProgress as CloneProgress
from bodega._native.values import CloneTreeResult as CloneTreeResult, FsInfo as FsInfo

_Path = str | bytes | os.PathLike[str] | os.PathLike[bytes]
_Mode = Literal["auto", "require", "never"]

METHODS: tuple[str, ...]

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
