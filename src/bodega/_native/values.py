"""The plain values both bindings return: named tuples, data classes and enums.

Defined once, in Python, so that the Cython and the cffi back end hand out the very same
classes (an `isinstance` check or a pickle does not depend on the binding in use).
"""
from __future__ import annotations

import dataclasses
import enum
from collections import namedtuple
from typing import Any

# bd_copy_method, indexed by its value (bd_platform.h).
METHODS = ("none", "clone", "kernel_copy", "os_copy", "user_copy")


class Kind(enum.IntEnum):
    """What an entry is (bd_kind)."""

    FILE = 1
    DIR = 2
    SYMLINK = 3
    REPARSE = 4   # a Windows reparse point other than a symlink (junction, ...)
    SPECIAL = 5   # fifo, socket or device: listed, never opened


Progress = namedtuple("Progress", "files_done files_total bytes_done bytes_total")
Progress.__doc__ = "How far a native operation is: counts of files and bytes (totals 0 when unknown)."

Stat = namedtuple("Stat", "kind mode size mtime_ns ctime_ns nlink uid gid file_id file_id_hi volume_id attrs")
Stat.__doc__ = "An entry's metadata, read without following a link (kind: file, dir, symlink, reparse, special)."

FileHash = namedtuple("FileHash", "path digest size mode mtime_ns ctime_ns file_id volume_id error")
FileHash.__doc__ = "One file of a batch: its digest and metadata from the open handle, or the error that stopped it."

Chunk = namedtuple("Chunk", "offset length digest")
Chunk.__doc__ = "One chunk of a file: where it is and the BLAKE3-256 of its bytes."
ChunkedFile = namedtuple("ChunkedFile", "digest size chunks")
ChunkedFile.__doc__ = "A file cut into chunks: its own BLAKE3-256, its size and its chunks in order."

ClonedFile = namedtuple("ClonedFile", "path size mtime_ns ctime_ns file_id error")
ClonedFile.__doc__ = """One file of clone_files: the source's stat just after its clone, or the error."""


@dataclasses.dataclass(frozen=True)
class CloneFileResult:
    """How one file was cloned."""

    method: str          # "clone", "kernel_copy", "os_copy", "user_copy" or "none" (empty file)
    bytes_cloned: int    # shared copy-on-write
    bytes_copied: int    # physically written


@dataclasses.dataclass(frozen=True)
class CloneTreeResult:
    """What a tree clone did."""

    files: int
    dirs: int
    symlinks: int
    hardlinks: int       # extra names linked to a file cloned once
    specials: list[str]  # full source paths of the special files skipped (fifo, socket, device)
    bytes: int
    bytes_cloned: int
    bytes_copied: int
    methods: list[str]   # the copy methods used, e.g. ["clone"]
    threads: int
    seconds: float


@dataclasses.dataclass(frozen=True)
class CloneProgress:
    """Counters of a running tree clone; the totals are 0 until the source is fully listed."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int
    bytes_cloned: int
    bytes_copied: int


@dataclasses.dataclass(frozen=True)
class FsInfo:
    """A volume and whether it clones copy-on-write (proven by a trial clone)."""

    path: str
    fs_name: str
    volume_id: int
    block_size: int
    bytes_total: int
    bytes_free: int
    can_clone: bool


@dataclasses.dataclass(frozen=True)
class Bind:
    """A host path the app sees at target (read-only unless read_only is False)."""

    source: str
    target: str
    read_only: bool = True


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    """What to run and how it is isolated (the same spec on every platform).

    argv, cwd: as the app sees them (see Isolation.root_view); env: the app's whole
    environment; root: the container root on the host, the app's writable world;
    network: "none" (no network at all) or "host"; memory_limit in bytes, cpu_limit in
    cores, time_limit in seconds (0: none).
    """

    argv: tuple
    env: dict
    cwd: str
    root: str
    binds: tuple = ()
    network: str = "none"
    memory_limit: int = 0
    cpu_limit: float = 0.0
    time_limit: float = 0.0
    sandbox_tool: str | None = None
    cgroup_root: str | None = None


@dataclasses.dataclass(frozen=True)
class ProcessResult:
    """How the app ended."""

    exit_code: int         # the app's exit status (128+N when signal N ended it)
    signal: int            # the signal that ended it, 0 when it exited
    timed_out: bool        # killed at its time limit
    memory_killed: bool    # stopped by the memory limit, as far as the mechanism tells
    peak_memory: int       # bytes, 0 when unknown
    seconds: float
    memory_by: str         # how the memory limit was applied: cgroup-v1, cgroup-v2, rlimit, job-object, none
    cpu_by: str

    @property
    def crashed(self) -> bool:
        """Ended by a signal, a limit or its time limit rather than by exiting."""
        return bool(self.signal or self.timed_out or self.memory_killed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self) | {"crashed": self.crashed}


@dataclasses.dataclass(frozen=True)
class Isolation:
    """What this host offers: the sandbox tool, where the app sees the root, how limits apply."""

    tool: str              # bubblewrap's path ("" when missing; always "" on Windows)
    root_view: str | None  # where the app sees the container root; None: at its host path
    binds: bool
    network_none: bool
    memory_by: str
    cpu_by: str

    @property
    def available(self) -> bool:
        """Whether apps can be started isolated here."""
        return bool(self.tool) or self.root_view is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self) | {"available": self.available}
