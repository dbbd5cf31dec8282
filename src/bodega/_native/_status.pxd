from bodega._native.bd cimport bd_error

cdef int raise_status(const bd_error *e, object src=*, object dst=*) except -1
