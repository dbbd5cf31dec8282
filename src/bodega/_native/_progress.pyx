# _progress.pyx: a bd_progress whose checkpoints call back into Python and honour Ctrl-C.

from cpython.exc cimport PyErr_CheckSignals

from bodega._native.bd cimport bd_error, bd_progress, bd_progress_init, BD_PATH_AS_GIVEN, BD_PATH_SRC
from bodega._native._status cimport raise_status

from bodega._native.values import Progress


cdef int _relay(const bd_progress *p, void *ctx) noexcept with gil:
    """Called by C at checkpoints on the calling thread: nonzero asks C to cancel."""
    relay = <ProgressRelay>ctx
    try:
        PyErr_CheckSignals()  # Ctrl-C during a long native call cancels it
        if relay.callback is not None:
            relay.callback(Progress(p.files_done, p.files_total, p.bytes_done, p.bytes_total))
    except BaseException as exc:  # re-raised by reraise() once C has stopped
        relay.error = exc
        return 1
    return 0


cdef class ProgressRelay:
    """The bd_progress of one native call, calling `callback(Progress)` now and then."""

    def __cinit__(self, callback=None):
        if callback is not None and not callable(callback):
            raise TypeError("progress must be a callable taking a Progress")
        bd_progress_init(&self.c)
        self.c.fn = _relay
        self.c.ctx = <void *>self
        self.callback = callback
        self.error = None

    cdef int reraise(self) except -1:
        """Raises what the callback (or Ctrl-C) raised during the call, if anything."""
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return 0


cdef int raise_failure(bd_error *e, ProgressRelay relay, object base) except -1:
    """Raises for a failed native call: what the progress callback raised, else e's error.

    base: the directory a bare file name in e was relative to (None when e's path is whole).
    """
    relay.reraise()
    if base is not None and e.path_base == BD_PATH_AS_GIVEN and e.path[0] != 0:
        e.path_base = BD_PATH_SRC
    raise_status(e, base)
    return -1


# Merge of the scan and hash branches: the scan's ProgressBridge, kept until the lead picks one.
cdef int _trampoline(const bd_progress *p, void *ctx) noexcept with gil:
    """Called by C at checkpoints: runs fn(files_done, bytes_done); nonzero cancels."""
    cdef ProgressBridge bridge = <ProgressBridge>ctx
    try:
        PyErr_CheckSignals()  # a long native call still honours Ctrl-C
        if bridge.fn is not None:
            bridge.fn(p.files_done, p.bytes_done)
    except BaseException as exc:
        # Kept to be re-raised once the C call has unwound, which the nonzero return asks for.
        bridge.exc = exc
        return 1
    return 0


cdef class ProgressBridge:
    """Owns the bd_progress of one native call and carries fn's exception back out."""

    def __cinit__(self, fn=None):
        if fn is not None and not callable(fn):
            from bodega.errors import InvalidInput
            raise InvalidInput(f"progress must be callable, not {type(fn).__name__}")
        bd_progress_init(&self.c)
        self.c.fn = _trampoline
        self.c.ctx = <void *>self
        self.fn = fn
        self.exc = None

    cdef int reraise(self) except -1:
        """Raises the exception the callback raised, if it did."""
        if self.exc is not None:
            exc, self.exc = self.exc, None
            raise exc
        return 0
