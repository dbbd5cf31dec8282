from bodega._native.bd cimport bd_progress

cdef class ProgressRelay:
    cdef bd_progress c
    cdef object callback
    cdef object error
    cdef int reraise(self) except -1
