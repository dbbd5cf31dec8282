# _batch.pyx: what every batch binding needs: its thread count, its root's handle, its paths checked.
import os

from bodega import errors
from bodega._native.bd cimport bd_error, bd_error_clear, bd_status, BD_OK, bd_dir, bd_dir_open
from bodega._native._progress cimport ProgressRelay, raise_failure


cdef unsigned thread_count(threads) except? 0:
    """The C thread count for a `threads` argument (None: one per CPU)."""
    if threads is None:
        return 0
    if not isinstance(threads, int) or isinstance(threads, bool) or threads < 1:
        raise errors.InvalidInput(f"threads must be a positive integer or None, not {threads!r}")
    return min(threads, 1024)


cdef bd_dir *open_dir(bytes path, ProgressRelay relay) except NULL:
    """Opens a directory the caller named (its earlier components may be links), without the GIL."""
    cdef bd_error e
    cdef bd_dir *d = NULL
    cdef bd_status rc
    cdef const char *c_path = path
    bd_error_clear(&e)
    with nogil:
        rc = bd_dir_open(c_path, &d, &e)
    if rc != BD_OK:
        raise_failure(&e, relay, None)
    return d


cdef bint _plain_relative(const char *p, Py_ssize_t n) noexcept:
    """1 when p is '/'-separated names, none empty, '.' or '..', and no NUL (a C loop: 100k paths)."""
    cdef Py_ssize_t i, start = 0, size
    if n == 0:
        return 0
    for i in range(n + 1):
        if i < n and p[i] != b'/':
            if p[i] == 0:
                return 0
            continue
        size = i - start
        if size == 0 or (size == 1 and p[start] == b'.') or (size == 2 and p[start] == b'.' and p[start + 1] == b'.'):
            return 0
        start = i + 1
    return 1


cdef bytes batch_path(object path):
    """A batch path as bytes, checked: relative, '/'-separated, no empty, '.' or '..' part."""
    cdef bytes raw = path.encode("utf-8", "surrogateescape") if type(path) is str else os.fsencode(path)
    if not _plain_relative(raw, len(raw)):
        raise errors.InvalidInput(f"not a relative path of plain names: {os.fsdecode(raw)!r}")
    return raw
