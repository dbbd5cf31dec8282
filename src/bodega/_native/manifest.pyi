import os
from typing import Callable

from bodega._native._progress import Progress
from bodega._native.tree import Stat
from bodega.errors import BodegaError

KINDS: tuple[str, ...]
ROW_BYTES: int

def check_sections(
    table: bytes, cache: bytes | None, n: int, delta: bool, owners: bool = False
) -> tuple[int, int | None, bool, str] | None:
    """None when the sections follow docs/format.md; else (offset, entry|None, in_cache, what)."""

class Table:
    """A manifest's entries as the C column table (docs/format.md)."""

    @staticmethod
    def from_sections(
        table: bytes, cache: bytes | None, n: int, delta: bool, scan_start_ns: int = 0,
        racy_window_ns: int = 0, owners: bool = False,
    ) -> Table:
        """A Table from sections that check_sections accepted."""
    def __len__(self) -> int: ...
    @property
    def delta(self) -> bool: ...
    @property
    def owners(self) -> bool: ...
    @property
    def has_cache(self) -> bool: ...
    @property
    def scan_start_ns(self) -> int: ...
    @property
    def racy_window_ns(self) -> int: ...
    @property
    def nbytes(self) -> int: ...
    def table_section(self) -> bytes: ...
    def cache_section(self) -> bytes | None: ...
    def root(self) -> bytes: ...
    def find(self, path: bytes) -> int: ...
    def path(self, i: int) -> bytes: ...
    def row(self, i: int) -> tuple[bytes, str, int, int, int, int, bytes | None, bytes | None, int, int, int]: ...
    def rows(self) -> list[tuple[bytes, str, int, int, int, int, bytes | None, bytes | None, int, int, int]]: ...
    def set_content(self, i: int, digest: bytes, size: int) -> None: ...
    def link_hashes(self) -> None: ...
    def stat_cache(self, i: int) -> tuple[int, int, int] | None: ...
    def merged_cache(self, stats: dict[bytes, Stat], fallback: Table | None = None) -> bytes: ...
    def hashed_files(self) -> list[tuple[bytes, int, bytes]]: ...
    def file_bytes(self) -> int: ...
    def file_count(self) -> int: ...
    def diff(self, new: Table) -> list[tuple[int | None, int | None, int]]: ...
    def delta_to(self, cur: Table) -> Table: ...
    def apply(self, delta: Table) -> Table: ...
    def same_table(self, other: Table) -> bool: ...

def scan_tree(
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes], *, threads: int = 0, start_ns: int | None = None
) -> Table:
    """The tree below path as a full table with a stat cache, every hash still zero, stamped
    with start_ns (the wall clock in ns before the scan began; now when None)."""

def read_suspects(
    table: Table,
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    previous: Table | None = None,
    *,
    threads: int = 0,
    progress: Callable[[Progress], object] | None = None,
    leave_min: int = 0,
) -> tuple[int, list[BodegaError], list[int]]:
    """Fills table's hashes, reading only the files previous does not vouch for (and, with
    leave_min, smaller than that)."""

def read_copy_suspects(
    table: Table,
    path: str | bytes | os.PathLike[str] | os.PathLike[bytes],
    source: Table,
    source_previous: Table | None,
    *,
    threads: int = 0,
    progress: Callable[[Progress], object] | None = None,
) -> tuple[int, list[BodegaError], list[int]]:
    """Fills the hashes of a copy's table from source's vouched files, reading the others."""
