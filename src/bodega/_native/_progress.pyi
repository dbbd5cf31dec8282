from typing import Callable, NamedTuple

class Progress(NamedTuple):
    """How far a native operation is: counts of files and bytes (totals 0 when unknown)."""

    files_done: int
    files_total: int
    bytes_done: int
    bytes_total: int

ProgressCallback = Callable[[Progress], object]

class ProgressRelay:
    """The bd_progress of one native call, calling `callback(Progress)` now and then."""

    def __init__(self, callback: ProgressCallback | None = None) -> None: ...

class ProgressBridge:
    """Owns the bd_progress of one native call and carries fn's exception back out."""

    def __init__(self, fn: Callable[[int, int], object] | None = None) -> None: ...
