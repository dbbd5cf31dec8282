"""A bd_progress whose checkpoints call back into Python and honour Ctrl-C, for cffi."""
from __future__ import annotations

from typing import Callable

from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._status import raise_status
from bodega._native.values import Progress


ProgressCallback = Callable[[Progress], object]


@ffi.def_extern(name="bd_cffi_progress")
def _checkpoint(p: object, ctx: object) -> int:
    """Called by C at checkpoints on the calling thread: nonzero asks C to cancel."""
    relay = ffi.from_handle(ctx)
    try:  # running Python here runs pending signal handlers: Ctrl-C raises inside the try
        relay.checkpoint(p)
    except BaseException as exc:  # re-raised by reraise() once C has stopped
        relay.error = exc
        return 1
    return 0


class ProgressRelay:
    """The bd_progress of one native call, calling `callback(Progress)` now and then."""

    def __init__(self, callback: ProgressCallback | None = None) -> None:
        if callback is not None and not callable(callback):
            raise TypeError("progress must be a callable taking a Progress")
        self.callback = callback
        self.error: BaseException | None = None
        self.c = ffi.new("bd_progress *")
        lib.bd_progress_init(self.c)
        self._handle = ffi.new_handle(self)
        self.c.fn = lib.bd_cffi_progress
        self.c.ctx = self._handle

    def checkpoint(self, p: object) -> None:
        """One checkpoint: the callback with the counters."""
        if self.callback is not None:
            self.callback(Progress(p.files_done, p.files_total, p.bytes_done, p.bytes_total))

    def reraise(self) -> None:
        """Raises what the callback (or Ctrl-C) raised during the call, if anything."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error


def raise_failure(e: object, relay: ProgressRelay, base: object) -> None:
    """Raises for a failed native call: what the progress callback raised, else e's error.

    base: the directory a bare file name in e was relative to (None when e's path is whole).
    """
    relay.reraise()
    if base is not None and e.path_base == lib.BD_PATH_AS_GIVEN and e.path[0] != b"\0":
        e.path_base = lib.BD_PATH_SRC
    raise_status(e, base)


class ProgressBridge(ProgressRelay):
    """Owns the bd_progress of one native call and carries fn's exception back out."""

    def __init__(self, fn: Callable[[int, int], object] | None = None) -> None:
        if fn is not None and not callable(fn):
            from bodega.errors import InvalidInput
            raise InvalidInput(f"progress must be callable, not {type(fn).__name__}")
        super().__init__(None)
        self.fn = fn

    def checkpoint(self, p: object) -> None:
        """One checkpoint: fn(files_done, bytes_done)."""
        if self.fn is not None:
            self.fn(p.files_done, p.bytes_done)
