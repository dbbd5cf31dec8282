# scan.pyx: a tree scanned into the compact C table of bd_scan.h, with Entry objects made
# only when an entry is asked for.
import os

from cpython.bytes cimport PyBytes_FromStringAndSize

from bodega import errors

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, BD_OK, bd_scan, bd_scan_entry, bd_scan_tree,
    bd_scan_free, bd_scan_count, bd_scan_entries, bd_scan_arena, bd_scan_volume_id,
    bd_scan_nbytes, BD_SCAN_NO_PARENT, BD_SCAN_MAX_THREADS, BD_KIND_FILE, BD_KIND_DIR,
    BD_KIND_SYMLINK, BD_KIND_REPARSE, BD_KIND_SPECIAL,
)
from bodega._native._progress cimport ProgressBridge
from bodega._native._status cimport raise_status


from bodega._native.values import Kind

_KINDS = {k.value: k for k in Kind}


cdef class Entry:
    """One scanned entry: a view on the Scan's C table (keeps the Scan alive)."""

    cdef Scan _scan
    cdef const bd_scan_entry *_e
    cdef readonly Py_ssize_t index

    def __init__(self):
        raise TypeError("Entry objects come from a Scan")

    @property
    def path(self) -> bytes:
        """Relative path, '/'-joined bytes."""
        return PyBytes_FromStringAndSize(self._scan._arena + self._e.path_off, self._e.path_len)

    @property
    def path_str(self) -> str:
        """Relative path decoded as UTF-8 (undecodable bytes as surrogates)."""
        return self.path.decode("utf-8", "surrogateescape")

    @property
    def name(self) -> str:
        """Last path component, decoded like path_str."""
        cdef const char *start = self._scan._arena + self._e.path_off
        cdef Py_ssize_t skip = self._e.path_len
        while skip > 0 and start[skip - 1] != b"/":
            skip -= 1
        return PyBytes_FromStringAndSize(start + skip, self._e.path_len - skip).decode(
            "utf-8", "surrogateescape")

    @property
    def kind(self):
        """A Kind."""
        return _KINDS[self._e.kind]

    @property
    def mode(self) -> int:
        """POSIX st_mode (type and permission bits)."""
        return self._e.mode

    @property
    def size(self) -> int:
        """Size in bytes (a symlink's target length on POSIX)."""
        return self._e.size

    @property
    def alloc_size(self) -> int:
        """Bytes allocated on disk."""
        return self._e.alloc_size

    @property
    def mtime_ns(self) -> int:
        """Modification time, ns since the Unix epoch."""
        return self._e.mtime_ns

    @property
    def ctime_ns(self) -> int:
        """Status change time, ns since the Unix epoch."""
        return self._e.ctime_ns

    @property
    def file_id(self) -> int:
        """Inode number (the full 128-bit file id on Windows)."""
        return (<object>self._e.file_id_hi << 64) | self._e.file_id

    @property
    def volume_id(self) -> int:
        """st_dev / volume serial number."""
        return bd_scan_volume_id(self._scan._s, self._e.volume)

    @property
    def nlink(self) -> int:
        """Number of hard links."""
        return self._e.nlink

    @property
    def attrs(self) -> int:
        """Windows FILE_ATTRIBUTE_* bits (0 on POSIX)."""
        return self._e.attrs

    @property
    def reparse_tag(self) -> int:
        """Windows reparse tag (0 elsewhere)."""
        return self._e.reparse_tag

    @property
    def link_target(self):
        """The link's target as bytes, None for anything but a link."""
        if self._e.kind != BD_KIND_SYMLINK and self._e.link_len == 0:
            return None
        return PyBytes_FromStringAndSize(
            self._scan._arena + self._e.path_off + self._e.path_len, self._e.link_len)

    @property
    def parent(self):
        """Index of the parent directory's entry, None at the top level."""
        return None if self._e.parent == BD_SCAN_NO_PARENT else self._e.parent

    def __repr__(self) -> str:
        return f"<Entry {self.path!r} {self.kind.name.lower()} size={self.size}>"


cdef class Scan:
    """The entries below a root, sorted by path bytes: a read-only sequence of Entry."""

    cdef bd_scan *_s
    cdef const bd_scan_entry *_entries
    cdef const char *_arena
    cdef Py_ssize_t _n
    cdef readonly object root

    def __init__(self):
        raise TypeError("use bodega._native.scan.scan(path)")

    def __dealloc__(self):
        bd_scan_free(self._s)

    @property
    def nbytes(self) -> int:
        """Bytes of memory the C table holds."""
        return bd_scan_nbytes(self._s)

    def __len__(self) -> int:
        return self._n

    cdef Entry _entry(self, Py_ssize_t i):
        cdef Entry entry = Entry.__new__(Entry)
        entry._scan = self
        entry._e = &self._entries[i]
        entry.index = i
        return entry

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [self._entry(i) for i in range(*index.indices(self._n))]
        cdef Py_ssize_t i = index
        if i < 0:
            i += self._n
        if i < 0 or i >= self._n:
            raise IndexError("scan index out of range")
        return self._entry(i)

    def __iter__(self):
        cdef Py_ssize_t i
        for i in range(self._n):
            yield self._entry(i)

    def __repr__(self) -> str:
        return f"<Scan {os.fsdecode(self.root)!r}: {self._n} entries, {self.nbytes} bytes>"


def scan(path, *, progress=None, int threads=0):
    """Scans the tree below the directory path, never following a link."""
    cdef bytes root = os.fsencode(path)
    if b"\0" in root:
        raise errors.InvalidInput(f"path contains a NUL byte: {path!r}")
    if threads < 0 or threads > BD_SCAN_MAX_THREADS:
        raise errors.InvalidInput(f"threads must be 0 (one per CPU) to {BD_SCAN_MAX_THREADS}, not {threads}")
    cdef ProgressBridge bridge = ProgressBridge(progress)
    cdef const char *c_root = root
    cdef unsigned c_threads = <unsigned>threads
    cdef bd_scan *s = NULL
    cdef bd_error err
    cdef bd_status rc
    bd_error_clear(&err)
    with nogil:
        rc = bd_scan_tree(c_root, c_threads, &bridge.c, &s, &err)
    if rc != BD_OK:
        bridge.reraise()
        raise_status(&err, src=root)
    cdef Scan result = Scan.__new__(Scan)
    result._s = s
    result._entries = bd_scan_entries(s)
    result._arena = bd_scan_arena(s)
    result._n = bd_scan_count(s)
    result.root = path
    return result
