# _progress.pyx: a bd_progress whose callback reaches a Python callable (and Ctrl-C).
from cpython.exc cimport PyErr_CheckSignals

from bodega._native.bd cimport bd_progress, bd_progress_init


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
