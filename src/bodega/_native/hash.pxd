from bodega._native.bd cimport bd_dir
from bodega._native._progress cimport ProgressRelay

cdef bd_dir *open_dir(bytes path, ProgressRelay relay) except NULL
