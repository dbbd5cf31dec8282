# manifest.pyx: the manifest table of bd_manifest.h: a tree read into one (scan, racy-rule
# reuse, hashing of the suspects), sections in and out, root hash, diff, delta and apply.
import os
import time

from cpython.buffer cimport PyBuffer_FillInfo
from cpython.object cimport PyObject, PyTypeObject
from cpython.ref cimport Py_DECREF, Py_INCREF
from cpython.tuple cimport PyTuple_SET_ITEM
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING
from libc.errno cimport ENOENT
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcmp, memcpy, memset

from bodega import errors

cdef extern from "Python.h":
    PyObject *PyType_GenericAlloc(PyTypeObject *t, Py_ssize_t nitems)

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, bd_fail_n, BD_OK, BD_E_IO, BD_E_CHANGED,
    BD_E_CANCELLED, BD_PATH_SRC, bd_dir, bd_dir_open, bd_dir_close, bd_hash_job,
    BD_SCAN_MAX_THREADS,
    bd_mf, bd_mf_problem, bd_mf_change, bd_mf_free, bd_mf_check_sections, bd_mf_from_sections,
    bd_mf_alloc_raw, bd_mf_from_raw,
    bd_mf_scan_tree, bd_mf_reuse, bd_mf_reuse_copy, bd_mf_diff_unneeded, bd_mf_hash_files, bd_mf_root, bd_mf_find, bd_mf_diff,
    bd_mf_changes_free, bd_mf_delta, bd_mf_apply, bd_mf_link_hashes, BD_MF_NONE, BD_MF_ROW_BYTES,
)
from bodega._native._progress cimport ProgressRelay
from bodega._native._status cimport job_error, raise_status

KINDS = ("deleted", "file", "dir", "symlink", "reparse", "special")
ROW_BYTES = BD_MF_ROW_BYTES


cdef object _problem(int ok, bd_mf_problem *pr):
    if ok:
        return None
    return (pr.offset, None if pr.entry == <uint64_t>-1 else pr.entry, bool(pr.in_cache),
            pr.what.decode())


def check_sections(const uint8_t[::1] table, cache, uint64_t n, bint delta, bint owners=False):
    """None when the sections follow docs/format.md; else (offset, entry|None, in_cache, what)."""
    cdef const uint8_t[::1] c
    cdef const uint8_t *cp = NULL
    cdef size_t clen = 0
    cdef bd_mf_problem pr
    cdef const uint8_t *tp = &table[0] if table.shape[0] else <const uint8_t *>b""
    if cache is not None:
        c = cache
        cp = &c[0] if c.shape[0] else <const uint8_t *>b""
        clen = c.shape[0]
    cdef int ok
    with nogil:
        ok = bd_mf_check_sections(tp, table.shape[0], cp, clen, n, delta, owners, &pr)
    return _problem(ok, &pr)


cdef class Table:
    """A manifest's entries as the C column table (docs/format.md)."""

    cdef bd_mf *m

    def __init__(self):
        raise TypeError("Tables come from build(), Table.from_sections() or another Table")

    def __dealloc__(self):
        bd_mf_free(self.m)

    @staticmethod
    cdef Table wrap(bd_mf *m):
        cdef Table t = Table.__new__(Table)
        t.m = m
        return t

    @staticmethod
    def from_sections(const uint8_t[::1] table, cache, size_t n, bint delta,
                      int64_t scan_start_ns=0, int64_t racy_window_ns=0, bint owners=False):
        """A Table from sections that check_sections accepted (call it first: only the
        lengths are checked again here)."""
        cdef const uint8_t[::1] c
        cdef const uint8_t *cp = NULL
        cdef size_t clen = 0
        cdef const uint8_t *tp = &table[0] if table.shape[0] else <const uint8_t *>b""
        if cache is not None:
            c = cache
            cp = &c[0] if c.shape[0] else <const uint8_t *>b""
            clen = c.shape[0]
        cdef bd_mf *m = NULL
        cdef bd_error err
        bd_error_clear(&err)
        cdef bd_status rc
        with nogil:
            rc = bd_mf_from_sections(tp, table.shape[0], cp, clen, n, delta, owners, scan_start_ns,
                                     racy_window_ns, &m, &err)
        if rc != BD_OK:
            raise_status(&err)
        return Table.wrap(m)

    def __len__(self) -> int:
        return self.m.n

    @property
    def delta(self) -> bool:
        """True for a delta."""
        return bool(self.m.delta)

    @property
    def owners(self) -> bool:
        """True when the entries' uid and gid were recorded."""
        return bool(self.m.owners)

    @property
    def has_cache(self) -> bool:
        """True when the table carries a stat cache."""
        return self.m.cache != NULL

    @property
    def scan_start_ns(self) -> int:
        return self.m.scan_start_ns

    @property
    def racy_window_ns(self) -> int:
        return self.m.racy_window_ns

    @property
    def nbytes(self) -> int:
        """Bytes of memory the table holds."""
        return self.m.table_len + self.m.cache_len + 16 * (self.m.n + 1)

    @property
    def table_len(self) -> int:
        """Bytes of the table section."""
        return self.m.table_len

    @property
    def text_bytes(self) -> int:
        """Bytes of its paths and link targets."""
        return self.m.table_len - BD_MF_ROW_BYTES * self.m.n

    def table_section(self) -> bytes:
        """The table section as stored."""
        return PyBytes_FromStringAndSize(<const char *>self.m.table, self.m.table_len)

    def cache_section(self):
        """The stat cache section as stored, or None."""
        if self.m.cache == NULL:
            return None
        return PyBytes_FromStringAndSize(<const char *>self.m.cache, self.m.cache_len)

    def root(self) -> bytes:
        """The root hash (32 bytes) of a full table."""
        if self.m.delta:
            raise errors.InternalError("the root hash of a delta's own entries means nothing")
        cdef uint8_t out[32]
        with nogil:
            bd_mf_root(self.m, out)
        return (<char *>out)[:32]

    def find(self, bytes path) -> int:
        """Index of the entry with this path, or -1."""
        cdef size_t i = bd_mf_find(self.m, path, len(path))
        return -1 if i == <size_t>-1 else <Py_ssize_t>i

    cdef bytes _path(self, size_t i):
        return PyBytes_FromStringAndSize(self.m.paths + self.m.path_off[i], self.m.path_len[i])

    def path(self, Py_ssize_t i) -> bytes:
        """The path of entry i."""
        self._check(i)
        return self._path(i)

    cdef int _check(self, Py_ssize_t i) except -1:
        if i < 0 or <size_t>i >= self.m.n:
            raise IndexError("manifest index out of range")
        return 0

    def row(self, Py_ssize_t i) -> tuple:
        """(path, kind, mode, attrs, size, mtime_ns, hash|None, link|None, flags, uid, gid) of
        entry i; a file's link is the first name of its hard links."""
        self._check(i)
        cdef bd_mf *m = self.m
        cdef uint8_t k = m.kind[i]
        cdef object h = PyBytes_FromStringAndSize(<const char *>m.hash + 32 * i, 32) if k == 1 else None
        cdef object link = (PyBytes_FromStringAndSize(m.links + m.link_off[i], m.link_len[i])
                            if k == 3 or ((k == 4 or k == 1) and m.link_len[i]) else None)
        return (self._path(i), KINDS[k], m.mode[i], m.attrs[i], m.size[i], m.mtime_ns[i], h,
                link, m.flags[i], m.uid[i], m.gid[i])

    def rows(self) -> list:
        """row(i) for every entry."""
        return [self.row(i) for i in range(self.m.n)]

    def set_content(self, Py_ssize_t i, bytes digest, uint64_t size) -> None:
        """Sets file entry i's hash and size: its content as read by someone else (the store,
        from its own copy of the file).  Its stats stay the scan's."""
        self._check(i)
        if self.m.kind[i] != 1 or len(digest) != 32:
            raise errors.InternalError(f"set_content needs a file entry and a 32-byte hash (entry {i})")
        memcpy(self.m.hash + 32 * i, <const char *>digest, 32)
        self.m.size[i] = size

    def set_contents(self, list paths, const uint8_t[::1] digests, list sizes) -> int:
        """set_content for many file entries named by path (digests: their 32-byte hashes
        back to back); the position in paths of the first path not in the table, else -1."""
        cdef Py_ssize_t k, n = len(paths)
        cdef size_t i
        cdef bytes path
        if digests.shape[0] != 32 * n or len(sizes) != n:
            raise errors.InternalError("set_contents needs one 32-byte hash and one size per path")
        for k in range(n):
            path = paths[k]
            i = bd_mf_find(self.m, path, len(path))
            if i == <size_t>-1:
                return k
            if self.m.kind[i] != 1:
                raise errors.InternalError(f"set_contents needs file entries (entry {i})")
            memcpy(self.m.hash + 32 * i, &digests[32 * k], 32)
            self.m.size[i] = <uint64_t>sizes[k]
        return -1

    def path_sizes(self, indices, type row=tuple) -> list:
        """(path, size) of the entries at indices, in order, each a row: a tuple, or a class of
        two-item tuples (a NamedTuple) made here in C (100k rows made by its _make took 35 ms,
        before a first snapshot's store could start)."""
        cdef Py_ssize_t i
        cdef PyTypeObject *t = <PyTypeObject *>row
        if not issubclass(row, tuple) or t.tp_basicsize != (<PyTypeObject *>tuple).tp_basicsize:
            raise TypeError("path_sizes makes tuples or plain tuple subclasses")
        cdef PyObject *raw
        cdef object path, size  # objects, not inferred C values: their references go to the row
        out = []
        for i in indices:
            self._check(i)
            raw = PyType_GenericAlloc(t, 2)  # tracked by the collector with its items unset: it visits none
            if raw == NULL:
                raise MemoryError()
            item = <object>raw
            Py_DECREF(item)  # <object> took a reference of its own
            path = self._path(i)
            size = self.m.size[i]
            Py_INCREF(path)
            PyTuple_SET_ITEM(item, 0, path)
            Py_INCREF(size)
            PyTuple_SET_ITEM(item, 1, size)
            out.append(item)
        return out

    def link_hashes(self) -> None:
        """Gives every hard link its first name's hash and metadata (after set_content)."""
        with nogil:
            bd_mf_link_hashes(self.m)

    def stat_cache(self, Py_ssize_t i):
        """(ctime_ns, file_id, volume_id) of entry i, or None without a cache."""
        self._check(i)
        if self.m.cache == NULL:
            return None
        return (self.m.ctime_ns[i], (<object>self.m.file_id_hi[i] << 64) | self.m.file_id[i],
                self.m.volume_id[i])

    def merged_cache(self, dict stats, Table fallback=None) -> bytes:
        """A stat cache section for this full table's entries: stats[path] (a tree.Stat)
        where given, else fallback's row for the same path, kind and hash, else ctime -1
        (which never matches, so the next scan reads that file)."""
        cdef bd_mf *m = self.m
        cdef bd_mf *f = fallback.m if fallback is not None and fallback.m.cache != NULL else NULL
        cdef size_t n = m.n, i, j = 0, li, lj
        cdef int c
        out = bytearray(32 * n)
        cdef unsigned char[::1] view = out
        cdef int64_t *ctime = <int64_t *>&view[0] if n else NULL
        cdef uint64_t *ino = <uint64_t *>(&view[0] + 8 * n) if n else NULL
        cdef uint64_t *ino_hi = <uint64_t *>(&view[0] + 16 * n) if n else NULL
        cdef uint64_t *dev = <uint64_t *>(&view[0] + 24 * n) if n else NULL
        for i in range(n):
            st = stats.get(self._path(i)) if stats else None
            if st is not None:
                ctime[i], ino[i], ino_hi[i], dev[i] = st.ctime_ns, st.file_id, st.file_id_hi, st.volume_id
                continue
            ctime[i], ino[i], ino_hi[i], dev[i] = -1, 0, 0, 0
            if f == NULL:
                continue
            li = m.path_len[i]
            while j < f.n:  # both sorted by path bytes: a merge walk
                lj = f.path_len[j]
                c = memcmp(f.paths + f.path_off[j], m.paths + m.path_off[i], lj if lj < li else li)
                if c > 0 or (c == 0 and lj >= li):
                    break
                j += 1
            if (j < f.n and f.path_len[j] == li and memcmp(f.paths + f.path_off[j], m.paths + m.path_off[i], li) == 0
                    and f.kind[j] == m.kind[i] and (m.kind[i] != 1 or memcmp(f.hash + 32 * j, m.hash + 32 * i, 32) == 0)):
                ctime[i], ino[i], ino_hi[i], dev[i] = f.ctime_ns[j], f.file_id[j], f.file_id_hi[j], f.volume_id[j]
        return bytes(out)

    def hashed_files(self, bint known_only=False) -> list:
        """(path, size, hash) of every regular file but hard links after their first name (the
        same content: see link_hashes); known_only: only those whose hash is set (not zero)."""
        cdef bd_mf *m = self.m
        cdef size_t i
        cdef uint8_t zero[32]
        memset(zero, 0, 32)
        out = []
        for i in range(m.n):
            if m.kind[i] == 1 and m.link_len[i] == 0:
                if known_only and memcmp(m.hash + 32 * i, zero, 32) == 0:
                    continue
                out.append((self._path(i), m.size[i], PyBytes_FromStringAndSize(<const char *>m.hash + 32 * i, 32)))
        return out

    def file_bytes(self) -> int:
        """Total size of the regular files."""
        cdef uint64_t total = 0
        cdef size_t i
        for i in range(self.m.n):
            if self.m.kind[i] == 1:
                total += self.m.size[i]
        return total

    def file_count(self) -> int:
        """How many regular files (hard links each counted)."""
        cdef size_t total = 0
        cdef size_t i
        for i in range(self.m.n):
            if self.m.kind[i] == 1:
                total += 1
        return total

    def diff(self, Table new) -> list:
        """[(old_index|None, new_index|None, what bits)] from self to new, in path order."""
        cdef bd_mf_change *ch = NULL
        cdef size_t count = 0, i
        cdef bd_error err
        cdef bd_status rc
        bd_error_clear(&err)
        with nogil:
            rc = bd_mf_diff(self.m, new.m, &ch, &count, &err)
        if rc != BD_OK:
            raise_status(&err)
        try:
            return [(None if ch[i].old_index == BD_MF_NONE else ch[i].old_index,
                     None if ch[i].new_index == BD_MF_NONE else ch[i].new_index,
                     ch[i].what) for i in range(count)]
        finally:
            bd_mf_changes_free(ch)

    def delta_to(self, Table cur) -> Table:
        """The delta from self (the base) to cur."""
        return _merge(self, cur, 0)

    def apply(self, Table delta) -> Table:
        """self (full) with delta applied."""
        return _merge(self, delta, 1)

    def same_table(self, Table other) -> bool:
        """True when both table sections are byte for byte equal."""
        return (self.m.table_len == other.m.table_len and self.m.n == other.m.n and
                memcmp(self.m.table, other.m.table, self.m.table_len) == 0)


cdef class RawTable:
    """A table being loaded in place: its sections written into view() (the table section from
    0, the stat cache section from cache_offset), checked, then made a Table with no copy."""

    cdef bd_mf *m
    cdef Py_ssize_t exports
    cdef bint checked
    cdef size_t n
    cdef bint delta, owners
    cdef readonly Py_ssize_t cache_offset

    def __cinit__(self, size_t table_len, cache_len):
        cdef bd_error err
        bd_error_clear(&err)
        if bd_mf_alloc_raw(table_len, cache_len or 0, cache_len is not None, &self.m, &err) != BD_OK:
            raise_status(&err)
        self.cache_offset = self.m.cache - self.m.table if self.m.cache != NULL else self.m.table_len

    def __dealloc__(self):
        bd_mf_free(self.m)

    def __getbuffer__(self, Py_buffer *buffer, int flags):
        if self.m == NULL:
            raise errors.InternalError("this raw table is a Table now")
        cdef Py_ssize_t end = self.cache_offset + self.m.cache_len if self.m.cache != NULL else self.m.table_len
        PyBuffer_FillInfo(buffer, self, self.m.table, end, 0, flags)
        self.exports += 1
        self.checked = False  # what is written through it must be checked again

    def __releasebuffer__(self, Py_buffer *buffer):
        self.exports -= 1

    def view(self) -> memoryview:
        """The sections' memory, writable (release it before table())."""
        return memoryview(self)

    def check(self, uint64_t n, bint delta, bint owners=False):
        """check_sections on the sections as written: None when they are valid, and table()
        may be called; else (offset, entry|None, in_cache, what)."""
        if self.m == NULL or self.exports:
            raise errors.InternalError("a raw table is checked before it becomes a Table, its views released")
        cdef bd_mf_problem pr
        cdef int ok
        with nogil:
            ok = bd_mf_check_sections(self.m.table, self.m.table_len, self.m.cache, self.m.cache_len,
                                      n, delta, owners, &pr)
        self.checked = ok
        self.n, self.delta, self.owners = n, delta, owners  # what from_raw is given
        return _problem(ok, &pr)

    def table(self, int64_t scan_start_ns=0, int64_t racy_window_ns=0) -> Table:
        """The Table these sections make (taking their memory), once check() passed and every
        view is released."""
        if self.m == NULL or not self.checked or self.exports:
            raise errors.InternalError("a raw table becomes a Table once checked, its views released")
        cdef bd_error err
        bd_error_clear(&err)
        cdef bd_status rc
        with nogil:
            rc = bd_mf_from_raw(self.m, self.n, self.delta, self.owners, scan_start_ns, racy_window_ns, &err)
        if rc != BD_OK:
            raise_status(&err)
        cdef Table t = Table.wrap(self.m)
        self.m = NULL
        return t


cdef Table _merge(Table a, Table b, bint apply):
    """bd_mf_apply(a, b) when apply, else bd_mf_delta(a, b)."""
    cdef bd_mf *out = NULL
    cdef bd_error err
    cdef bd_status rc
    bd_error_clear(&err)
    with nogil:
        rc = bd_mf_apply(a.m, b.m, &out, &err) if apply else bd_mf_delta(a.m, b.m, &out, &err)
    if rc != BD_OK:
        raise_status(&err)
    return Table.wrap(out)


cdef object _job_error(bd_hash_job *job, bytes root):
    """The BodegaError for a job that failed (a vanished file counts as changed)."""
    cdef bd_status code = job.status
    if code == BD_E_IO and job.sys_errno == ENOENT:
        code = BD_E_CHANGED
    cdef const char *op = job.op
    if op == NULL:
        op = "hash"
    return job_error(code, job.sys_errno, op, job.path, job.path_len, root)


cdef int _hash(bd_mf *m, bd_dir *d, uint32_t *idx, size_t k, bd_hash_job *jobs, unsigned threads,
               ProgressRelay relay, bytes root) except -1:
    cdef bd_error err
    cdef bd_status rc
    bd_error_clear(&err)
    with nogil:
        rc = bd_mf_hash_files(m, d, idx, k, jobs, threads, &relay.c, &err)
    if rc != BD_OK:
        relay.reraise()
        raise_status(&err, src=root)
    return 0


cdef bytes _root_of(path, int threads):
    """path as bytes, with the arguments checked."""
    cdef bytes root = os.fsencode(path)
    if b"\0" in root:
        raise errors.InvalidInput(f"path contains a NUL byte: {path!r}")
    if threads < 0 or threads > BD_SCAN_MAX_THREADS:
        raise errors.InvalidInput(f"threads must be 0 (one per CPU) to {BD_SCAN_MAX_THREADS}, not {threads}")
    return root


def scan_tree(path, *, int threads=0, start_ns=None, size_t expect_entries=0, size_t expect_bytes=0) -> Table:
    """The tree below path as a full table with a stat cache, every hash still zero, stamped
    with start_ns (the wall clock in ns before the scan began; now when None).  expect_entries
    and expect_bytes (of paths and links), when known (the tree's last manifest), size its
    buffers at once: only a hint."""
    cdef bytes root = _root_of(path, threads)
    cdef const char *c_root = root
    cdef unsigned c_threads = <unsigned>threads
    # wall clock, as file times are: the racy rule compares them
    cdef int64_t c_start_ns = time.time_ns() if start_ns is None else start_ns
    cdef bd_mf *m = NULL
    cdef bd_error err
    cdef bd_status rc
    cdef ProgressRelay relay = ProgressRelay(None)  # Ctrl-C
    bd_error_clear(&err)
    with nogil:
        rc = bd_mf_scan_tree(c_root, c_threads, expect_entries, expect_bytes, c_start_ns, &relay.c, &m, &err)
    if rc != BD_OK:
        relay.reraise()
        raise_status(&err, src=root)
    return Table.wrap(m)


cdef size_t _copy_suspects(bd_mf *m, bd_mf *source, const bd_mf *source_previous, uint32_t *idx) except? 0:
    """The copy rule: source's files that source_previous vouches for (the racy rule) lend
    their hashes to m's; writes the other files of m to idx and returns their count."""
    cdef uint32_t *src_idx = <uint32_t *>malloc((source.n + 1) * sizeof(uint32_t))
    cdef uint8_t *vouched = <uint8_t *>malloc(source.n + 1)
    cdef size_t j, k = 0
    try:
        if src_idx == NULL or vouched == NULL:
            raise MemoryError()
        with nogil:
            memset(vouched, 1, source.n)
            for j in range(bd_mf_reuse(source, source_previous, src_idx)):
                vouched[src_idx[j]] = 0
            k = bd_mf_reuse_copy(m, source, vouched, idx)
        return k
    finally:
        free(src_idx)
        free(vouched)


cdef tuple _read_suspects(Table table, path, Table previous, Table source, int threads, progress,
                          uint64_t leave_min=0, bint diff_only=False):
    """Reads the files of table that previous does not vouch for (or, with source, that the
    copy rule does not vouch for), except those of leave_min bytes or more (when leave_min is
    not 0) and, with diff_only, those a diff against previous tells without their bytes:
    (files read, failures, indexes of the suspects left unread)."""
    cdef bytes root = _root_of(path, threads)
    if table.m.delta or (previous is not None and previous.m.delta) or (source is not None and source.m.delta):
        raise errors.InternalError("read_suspects works on full tables")
    cdef const char *c_root = root
    cdef unsigned c_threads = <unsigned>threads
    cdef bd_mf *m = table.m
    cdef bd_dir *d = NULL
    cdef bd_error err
    cdef bd_status rc
    cdef ProgressRelay relay
    cdef uint32_t *idx = <uint32_t *>malloc((m.n + 1) * sizeof(uint32_t))
    cdef bd_hash_job *jobs = NULL
    cdef size_t k = 0, j, again
    cdef uint64_t total_bytes = 0
    failures = []
    unread = []
    bd_error_clear(&err)
    try:
        if idx == NULL:
            raise MemoryError()
        if source is not None:
            k = _copy_suspects(m, source.m, previous.m if previous is not None else NULL, idx)
        else:
            with nogil:
                k = bd_mf_reuse(m, previous.m if previous is not None else NULL, idx)
        if diff_only:
            with nogil:
                again = bd_mf_diff_unneeded(m, previous.m if previous is not None else NULL, idx, k)
            unread += [idx[j] for j in range(again, k)]
            k = again
        if leave_min:
            again = 0
            for j in range(k):
                if m.size[idx[j]] >= leave_min:
                    unread.append(idx[j])
                else:
                    idx[again] = idx[j]
                    again += 1
            k = again
        for j in range(k):
            total_bytes += m.size[idx[j]]
        if k:
            jobs = <bd_hash_job *>malloc(k * sizeof(bd_hash_job))
            if jobs == NULL:
                raise MemoryError()
            with nogil:
                rc = bd_dir_open(c_root, &d, &err)
            if rc != BD_OK:
                raise_status(&err, src=root)
            relay = ProgressRelay(progress)
            relay.c.bytes_total = total_bytes
            _hash(m, d, idx, k, jobs, c_threads, relay, root)
            # A file that changed while read gets one more read: live trees are written to.
            again = 0
            for j in range(k):
                if jobs[j].status == BD_E_CHANGED:
                    idx[again] = idx[j]
                    again += 1
                elif jobs[j].status != BD_OK:
                    failures.append(_job_error(&jobs[j], root))
            if again:
                _hash(m, d, idx, again, jobs, c_threads, ProgressRelay(None), root)
                failures += [_job_error(&jobs[j], root) for j in range(again) if jobs[j].status != BD_OK]
        with nogil:
            bd_mf_link_hashes(m)  # hard links take their first name's hash
        return k, failures, unread
    finally:
        if d != NULL:
            bd_dir_close(d)
        free(jobs)
        free(idx)


def read_suspects(Table table, path, Table previous=None, *, int threads=0, progress=None,
                  uint64_t leave_min=0, bint diff_only=False):
    """Fills table's hashes: those previous (a full table with a stat cache, read from the same
    tree) vouches for by the racy-git rule are taken from it, every other file below path is
    read, once more when it changed while read; with leave_min, files of that size or more
    are left unread (their hash stays zero: the caller sets it, see Table.set_content), and
    with diff_only so are the files whose change a diff against previous tells without their
    bytes (bd_mf_diff_unneeded: of another size, or added and of no deleted file's size).
    Returns (files read, the error of each file that could not be read, the indexes of the
    files left unread).  progress(Progress) is called now and then while reading."""
    return _read_suspects(table, path, previous, None, threads, progress, leave_min, diff_only)


def read_copy_suspects(Table table, path, Table source, Table source_previous, *, int threads=0,
                       progress=None):
    """Fills the hashes of table, the scan of a copy (a clone) of source's tree made after
    source_previous was read: a file keeps the hash of source's file at its path when
    source_previous vouches for that file by the racy-git rule (source scanned after the copy)
    and size and mtime match; every other file below path is read.  Returns what
    read_suspects returns, none left unread (every file is read when source_previous is None)."""
    return _read_suspects(table, path, source_previous, source, threads, progress)
