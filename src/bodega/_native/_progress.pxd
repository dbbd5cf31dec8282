from bodega._native.bd cimport bd_error, bd_progress

cdef class ProgressRelay:
    cdef bd_progress c
    cdef object callback
    cdef object error
    cdef int reraise(self) except -1

cdef int raise_failure(bd_error *e, ProgressRelay relay, object base) except -1


cdef class ProgressBridge:
    cdef bd_progress c
    cdef object fn
    cdef object exc
    cdef int reraise(self) except -1
