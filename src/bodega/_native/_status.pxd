from bodega._native.bd cimport bd_error, bd_status

cdef int raise_status(const bd_error *e, object src=*, object dst=*) except -1
cdef object job_error(bd_status status, int sys_errno, const char *op, const char *path, size_t path_len,
                      object root)
