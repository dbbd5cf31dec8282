from bodega._native.bd cimport bd_dir
from bodega._native._progress cimport ProgressRelay

cdef unsigned thread_count(threads) except? 0
cdef bd_dir *open_dir(bytes path, ProgressRelay relay) except NULL
cdef bytes batch_path(object path)
