"""The manifest table of bd_manifest.h (cffi back end): a tree read into one (scan, racy-rule
reuse, hashing of the suspects), sections in and out, root hash, diff, delta and apply."""
from __future__ import annotations

import errno
import operator
import os
import time
from array import array
from typing import TYPE_CHECKING, Callable

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressRelay

_UNSET = bytes(32)  # the hash of a file not read yet
from bodega._native.cffi_backend._status import job_error, new_error, raise_status

if TYPE_CHECKING:
    from bodega._native.values import Progress

KINDS = ("deleted", "file", "dir", "symlink", "reparse", "special")
ROW_BYTES = lib.BD_MF_ROW_BYTES
_NO_INDEX = int(ffi.cast("size_t", -1))


def _section(data: object) -> object:
    """A C view of a section (bytes-like), never NULL."""
    return ffi.from_buffer(data) if len(memoryview(data)) else ffi.from_buffer(b"\0")


def _problem(pr: object) -> tuple[int, int | None, bool, str]:
    return (pr.offset, None if pr.entry == 2 ** 64 - 1 else pr.entry, bool(pr.in_cache), ffi.string(pr.what).decode())


def check_sections(table: bytes, cache: bytes | None, n: int, delta: bool,
                   owners: bool = False) -> tuple[int, int | None, bool, str] | None:
    """None when the sections follow docs/format.md; else (offset, entry|None, in_cache, what)."""
    tlen = len(memoryview(table))
    cp, clen = (ffi.NULL, 0) if cache is None else (_section(cache), len(memoryview(cache)))
    pr = ffi.new("bd_mf_problem *")
    if lib.bd_mf_check_sections(_section(table), tlen, cp, clen, n, bool(delta), bool(owners), pr):
        return None
    return _problem(pr)


def _wrap(m: object) -> Table:
    t = Table.__new__(Table)
    t._m = ffi.gc(m, lib.bd_mf_free)
    return t


class Table:
    """A manifest's entries as the C column table (docs/format.md)."""

    __slots__ = ("_m",)

    def __init__(self) -> None:
        raise TypeError("Tables come from build(), Table.from_sections() or another Table")

    @staticmethod
    def from_sections(table: bytes, cache: bytes | None, n: int, delta: bool, scan_start_ns: int = 0,
                      racy_window_ns: int = 0, owners: bool = False) -> Table:
        """A Table from sections that check_sections accepted (call it first: only the
        lengths are checked again here)."""
        tlen = len(memoryview(table))
        cp, clen = (ffi.NULL, 0) if cache is None else (_section(cache), len(memoryview(cache)))
        out = ffi.new("bd_mf **")
        e = new_error()
        if lib.bd_mf_from_sections(_section(table), tlen, cp, clen, n, bool(delta), bool(owners), scan_start_ns,
                                   racy_window_ns, out, e) != lib.BD_OK:
            raise_status(e)
        return _wrap(out[0])

    def __len__(self) -> int:
        return self._m.n

    @property
    def delta(self) -> bool:
        """True for a delta."""
        return bool(self._m.delta)

    @property
    def owners(self) -> bool:
        """True when the entries' uid and gid were recorded."""
        return bool(self._m.owners)

    @property
    def has_cache(self) -> bool:
        """True when the table carries a stat cache."""
        return self._m.cache != ffi.NULL

    @property
    def scan_start_ns(self) -> int:
        return self._m.scan_start_ns

    @property
    def racy_window_ns(self) -> int:
        return self._m.racy_window_ns

    @property
    def nbytes(self) -> int:
        """Bytes of memory the table holds."""
        m = self._m
        return m.table_len + m.cache_len + 16 * (m.n + 1)

    @property
    def table_len(self) -> int:
        """Bytes of the table section."""
        return self._m.table_len

    @property
    def text_bytes(self) -> int:
        """Bytes of its paths and link targets."""
        return self._m.table_len - ROW_BYTES * self._m.n

    def table_section(self) -> bytes:
        """The table section as stored."""
        return ffi.buffer(self._m.table, self._m.table_len)[:]

    def cache_section(self) -> bytes | None:
        """The stat cache section as stored, or None."""
        if self._m.cache == ffi.NULL:
            return None
        return ffi.buffer(self._m.cache, self._m.cache_len)[:]

    def root(self) -> bytes:
        """The root hash (32 bytes) of a full table."""
        if self._m.delta:
            raise errors.InternalError("the root hash of a delta's own entries means nothing")
        out = ffi.new("uint8_t[32]")
        lib.bd_mf_root(self._m, out)
        return ffi.buffer(out, 32)[:]

    def find(self, path: bytes) -> int:
        """Index of the entry with this path, or -1."""
        if not isinstance(path, bytes):
            raise TypeError(f"path must be bytes, not {type(path).__name__}")
        i = lib.bd_mf_find(self._m, path, len(path))
        return -1 if i == _NO_INDEX else i

    def _path(self, i: int) -> bytes:
        m = self._m
        return ffi.unpack(m.paths + m.path_off[i], m.path_len[i])

    def _check(self, i: object) -> int:
        i = operator.index(i)
        if i < 0 or i >= self._m.n:
            raise IndexError("manifest index out of range")
        return i

    def path(self, i: int) -> bytes:
        """The path of entry i."""
        return self._path(self._check(i))

    def row(self, i: int) -> tuple:
        """(path, kind, mode, attrs, size, mtime_ns, hash|None, link|None, flags, uid, gid) of
        entry i; a file's link is the first name of its hard links."""
        i = self._check(i)
        m = self._m
        k = m.kind[i]
        h = ffi.buffer(m.hash + 32 * i, 32)[:] if k == 1 else None
        link = (ffi.unpack(m.links + m.link_off[i], m.link_len[i])
                if k == 3 or ((k == 4 or k == 1) and m.link_len[i]) else None)
        return (self._path(i), KINDS[k], m.mode[i], m.attrs[i], m.size[i], m.mtime_ns[i], h,
                link, m.flags[i], m.uid[i], m.gid[i])

    def rows(self) -> list:
        """row(i) for every entry."""
        return [self.row(i) for i in range(self._m.n)]

    def set_content(self, i: int, digest: bytes, size: int) -> None:
        """Sets file entry i's hash and size: its content as read by someone else (the store,
        from its own copy of the file).  Its stats stay the scan's."""
        i = self._check(i)
        if not isinstance(digest, bytes):
            raise TypeError(f"digest must be bytes, not {type(digest).__name__}")
        if size < 0 or size >= 2 ** 64:
            raise OverflowError("size out of range")
        if self._m.kind[i] != 1 or len(digest) != 32:
            raise errors.InternalError(f"set_content needs a file entry and a 32-byte hash (entry {i})")
        ffi.memmove(self._m.hash + 32 * i, digest, 32)
        self._m.size[i] = size

    def set_contents(self, paths: list, digests: bytes, sizes: list) -> int:
        """set_content for many file entries named by path (digests: their 32-byte hashes
        back to back); the position in paths of the first path not in the table, else -1."""
        if not isinstance(paths, list) or not isinstance(sizes, list):
            raise TypeError("paths and sizes must be lists")
        view = memoryview(digests)
        if view.nbytes != 32 * len(paths) or len(sizes) != len(paths):
            raise errors.InternalError("set_contents needs one 32-byte hash and one size per path")
        m = self._m
        for k, path in enumerate(paths):
            i = self.find(path)
            if i < 0:
                return k
            if m.kind[i] != 1:
                raise errors.InternalError(f"set_contents needs file entries (entry {i})")
            if sizes[k] < 0 or sizes[k] >= 2 ** 64:
                raise OverflowError("size out of range")
            ffi.memmove(m.hash + 32 * i, view[32 * k:32 * k + 32], 32)
            m.size[i] = sizes[k]
        return -1

    def path_sizes(self, indices: object, row: type = tuple) -> list:
        """(path, size) of the entries at indices, in order, each a row: a tuple, or a class of
        two-item tuples (a NamedTuple)."""
        if not issubclass(row, tuple):
            raise TypeError("path_sizes makes tuples or plain tuple subclasses")
        out = []
        for i in indices:
            i = self._check(i)
            out.append(tuple.__new__(row, (self._path(i), self._m.size[i])))
        return out

    def link_hashes(self) -> None:
        """Gives every hard link its first name's hash and metadata (after set_content)."""
        lib.bd_mf_link_hashes(self._m)

    def stat_cache(self, i: int) -> tuple[int, int, int] | None:
        """(ctime_ns, file_id, volume_id) of entry i, or None without a cache."""
        i = self._check(i)
        m = self._m
        if m.cache == ffi.NULL:
            return None
        return (m.ctime_ns[i], (m.file_id_hi[i] << 64) | m.file_id[i], m.volume_id[i])

    def merged_cache(self, stats: dict, fallback: Table | None = None) -> bytes:
        """A stat cache section for this full table's entries: stats[path] (a tree.Stat)
        where given, else fallback's row for the same path, kind and hash, else ctime -1
        (which never matches, so the next scan reads that file)."""
        if stats is not None and not isinstance(stats, dict):
            raise TypeError(f"stats must be a dict, not {type(stats).__name__}")
        m = self._m
        n = m.n
        known = {}
        if fallback is not None and fallback._m.cache != ffi.NULL:
            f = fallback._m
            for j in range(f.n):
                known[fallback._path(j)] = j
        ctime, ino, ino_hi, dev = array("q", [-1]) * n, array("Q", [0]) * n, array("Q", [0]) * n, array("Q", [0]) * n
        for i in range(n):
            path = self._path(i)
            st = stats.get(path) if stats else None
            if st is not None:
                ctime[i], ino[i], ino_hi[i], dev[i] = st.ctime_ns, st.file_id, st.file_id_hi, st.volume_id
                continue
            j = known.get(path)
            if j is None or f.kind[j] != m.kind[i]:
                continue
            if m.kind[i] == 1 and ffi.buffer(f.hash + 32 * j, 32)[:] != ffi.buffer(m.hash + 32 * i, 32)[:]:
                continue
            ctime[i], ino[i], ino_hi[i], dev[i] = f.ctime_ns[j], f.file_id[j], f.file_id_hi[j], f.volume_id[j]
        return ctime.tobytes() + ino.tobytes() + ino_hi.tobytes() + dev.tobytes()

    def hashed_files(self, known_only: bool = False) -> list:
        """(path, size, hash) of every regular file but hard links after their first name (the
        same content: see link_hashes); known_only: only those whose hash is set (not zero)."""
        m = self._m
        rows = [(self._path(i), m.size[i], ffi.buffer(m.hash + 32 * i, 32)[:])
                for i in range(m.n) if m.kind[i] == 1 and m.link_len[i] == 0]
        return [r for r in rows if r[2] != _UNSET] if known_only else rows

    def file_bytes(self) -> int:
        """Total size of the regular files."""
        m = self._m
        return sum(m.size[i] for i in range(m.n) if m.kind[i] == 1)

    def file_count(self) -> int:
        """How many regular files (hard links each counted)."""
        m = self._m
        return sum(1 for i in range(m.n) if m.kind[i] == 1)

    def diff(self, new: Table) -> list:
        """[(old_index|None, new_index|None, what bits)] from self to new, in path order."""
        new = _table(new)
        out = ffi.new("bd_mf_change **")
        count = ffi.new("size_t *")
        e = new_error()
        if lib.bd_mf_diff(self._m, new._m, out, count, e) != lib.BD_OK:
            raise_status(e)
        ch = out[0]
        try:
            none = lib.BD_MF_NONE
            return [(None if ch[i].old_index == none else ch[i].old_index,
                     None if ch[i].new_index == none else ch[i].new_index, ch[i].what) for i in range(count[0])]
        finally:
            lib.bd_mf_changes_free(ch)

    def delta_to(self, cur: Table) -> Table:
        """The delta from self (the base) to cur."""
        return _merge(self, _table(cur), lib.bd_mf_delta)

    def apply(self, delta: Table) -> Table:
        """self (full) with delta applied."""
        return _merge(self, _table(delta), lib.bd_mf_apply)

    def same_table(self, other: Table) -> bool:
        """True when both table sections are byte for byte equal."""
        a, b = self._m, _table(other)._m
        return (a.table_len == b.table_len and a.n == b.n and
                ffi.buffer(a.table, a.table_len)[:] == ffi.buffer(b.table, b.table_len)[:])


def _table(value: object) -> Table:
    """value, which must be a Table (as Cython's typed arguments check)."""
    if not isinstance(value, Table):
        raise TypeError(f"Argument must be a Table, not {type(value).__name__}")
    return value


class RawTable:
    """A table being loaded in place: its sections written into view() (the table section from
    0, the stat cache section from cache_offset), checked, then made a Table with no copy."""

    __slots__ = ("_m", "_checked", "_args", "cache_offset")

    def __init__(self, table_len: int, cache_len: int | None) -> None:
        out = ffi.new("bd_mf **")
        e = new_error()
        if lib.bd_mf_alloc_raw(table_len, cache_len or 0, cache_len is not None, out, e) != lib.BD_OK:
            raise_status(e)
        self._m = ffi.gc(out[0], lib.bd_mf_free)
        m = self._m
        self.cache_offset = m.table_len if m.cache == ffi.NULL else int(ffi.cast("uintptr_t", m.cache)) - int(
            ffi.cast("uintptr_t", m.table))
        self._checked = False
        self._args = (0, False, False)

    def view(self) -> memoryview:
        """The sections' memory, writable (release it before table(): it does not keep this
        raw table alive)."""
        m = self._live()
        self._checked = False  # what is written through it must be checked again
        end = self.cache_offset + m.cache_len if m.cache != ffi.NULL else m.table_len
        return memoryview(ffi.buffer(m.table, end))

    def _live(self) -> object:
        if self._m is None:
            raise errors.InternalError("this raw table is a Table now")
        return self._m

    def check(self, n: int, delta: bool, owners: bool = False) -> tuple[int, int | None, bool, str] | None:
        """check_sections on the sections as written: None when they are valid, and table()
        may be called; else (offset, entry|None, in_cache, what)."""
        m = self._live()
        pr = ffi.new("bd_mf_problem *")
        self._checked = bool(lib.bd_mf_check_sections(m.table, m.table_len, m.cache, m.cache_len, n, bool(delta),
                                                      bool(owners), pr))
        self._args = (n, bool(delta), bool(owners))
        return None if self._checked else _problem(pr)

    def table(self, scan_start_ns: int = 0, racy_window_ns: int = 0) -> Table:
        """The Table these sections make (taking their memory), once check() passed and every
        view is released."""
        m = self._live()
        if not self._checked:
            raise errors.InternalError("a raw table becomes a Table once checked, its views released")
        e = new_error()
        n, delta, owners = self._args
        if lib.bd_mf_from_raw(m, n, delta, owners, scan_start_ns, racy_window_ns, e) != lib.BD_OK:
            raise_status(e)
        t = Table.__new__(Table)
        t._m, self._m = m, None
        return t


def _merge(a: Table, b: Table, fn: Callable) -> Table:
    """fn(a, b): bd_mf_apply or bd_mf_delta."""
    out = ffi.new("bd_mf **")
    e = new_error()
    if fn(a._m, b._m, out, e) != lib.BD_OK:
        raise_status(e)
    return _wrap(out[0])


def _job_error(job: object, root: bytes) -> BaseException:
    """The BodegaError for a job that failed (a vanished file counts as changed)."""
    code = job.status
    if code == lib.BD_E_IO and job.sys_errno == errno.ENOENT:
        code = lib.BD_E_CHANGED
    op = job.op if job.op != ffi.NULL else b"hash"
    return job_error(code, job.sys_errno, op, ffi.unpack(job.path, job.path_len), root)


def _hash(m: object, d: object, idx: object, k: int, jobs: object, threads: int, relay: ProgressRelay,
          root: bytes) -> None:
    e = new_error()
    if lib.bd_mf_hash_files(m, d, idx, k, jobs, threads, relay.c, e) != lib.BD_OK:
        relay.reraise()
        raise_status(e, src=root)


def _root_of(path: object, threads: object) -> tuple[bytes, int]:
    """path as bytes and threads as an int, with the arguments checked."""
    root = os.fsencode(path)
    threads = operator.index(threads)
    if b"\0" in root:
        raise errors.InvalidInput(f"path contains a NUL byte: {path!r}")
    if threads < 0 or threads > lib.BD_SCAN_MAX_THREADS:
        raise errors.InvalidInput(f"threads must be 0 (one per CPU) to {lib.BD_SCAN_MAX_THREADS}, not {threads}")
    return root, threads


def scan_tree(path: object, *, threads: int = 0, start_ns: int | None = None, expect_entries: int = 0,
              expect_bytes: int = 0) -> Table:
    """The tree below path as a full table with a stat cache, every hash still zero, stamped
    with start_ns (the wall clock in ns before the scan began; now when None).  expect_entries
    and expect_bytes (of paths and links), when known (the tree's last manifest), size its
    buffers at once: only a hint."""
    root, threads = _root_of(path, threads)
    # wall clock, as file times are: the racy rule compares them
    start_ns = time.time_ns() if start_ns is None else start_ns
    out = ffi.new("bd_mf **")
    e = new_error()
    relay = ProgressRelay(None)  # Ctrl-C
    rc = lib.bd_mf_scan_tree(root, threads, expect_entries, expect_bytes, start_ns, relay.c, out, e)
    if rc != lib.BD_OK:
        relay.reraise()
        raise_status(e, src=root)
    return _wrap(out[0])


def _copy_suspects(m: object, source: object, source_previous: object, idx: object) -> int:
    """The copy rule: source's files that source_previous vouches for (the racy rule) lend
    their hashes to m's; writes the other files of m to idx and returns their count."""
    src_idx = ffi.new("uint32_t[]", source.n + 1)
    vouched = ffi.new("uint8_t[]", source.n + 1)
    ffi.memmove(vouched, b"\1" * source.n, source.n)
    for j in range(lib.bd_mf_reuse(source, source_previous, src_idx)):
        vouched[src_idx[j]] = 0
    return lib.bd_mf_reuse_copy(m, source, vouched, idx)


def _read_suspects(table: Table, path: object, previous: Table | None, source: Table | None, threads: int,
                   progress: Callable[[Progress], object] | None, leave_min: int = 0,
                   diff_only: bool = False) -> tuple:
    """Reads the files of table that previous does not vouch for (or, with source, that the
    copy rule does not vouch for), except those of leave_min bytes or more (when leave_min is
    not 0) and, with diff_only, those a diff against previous tells without their bytes:
    (files read, failures, indexes of the suspects left unread)."""
    table = _table(table)
    previous = _table(previous) if previous is not None else None
    source = _table(source) if source is not None else None
    if leave_min < 0:
        raise OverflowError("can't convert negative value to uint64_t")
    root, threads = _root_of(path, threads)
    if table._m.delta or (previous is not None and previous._m.delta) or (source is not None and source._m.delta):
        raise errors.InternalError("read_suspects works on full tables")
    m = table._m
    prev = previous._m if previous is not None else ffi.NULL
    idx = ffi.new("uint32_t[]", m.n + 1)
    failures: list = []
    unread: list = []
    d = ffi.NULL
    try:
        k = _copy_suspects(m, source._m, prev, idx) if source is not None else lib.bd_mf_reuse(m, prev, idx)
        if diff_only:
            again = lib.bd_mf_diff_unneeded(m, prev, idx, k)
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
        total_bytes = sum(m.size[idx[j]] for j in range(k))
        if k:
            jobs = ffi.new("bd_hash_job[]", k)
            out = ffi.new("bd_dir **")
            e = new_error()
            if lib.bd_dir_open(root, out, e) != lib.BD_OK:
                raise_status(e, src=root)
            d = out[0]
            relay = ProgressRelay(progress)
            relay.c.bytes_total = total_bytes
            _hash(m, d, idx, k, jobs, threads, relay, root)
            # A file that changed while read gets one more read: live trees are written to.
            again = 0
            for j in range(k):
                if jobs[j].status == lib.BD_E_CHANGED:
                    idx[again] = idx[j]
                    again += 1
                elif jobs[j].status != lib.BD_OK:
                    failures.append(_job_error(jobs[j], root))
            if again:
                _hash(m, d, idx, again, jobs, threads, ProgressRelay(None), root)
                failures += [_job_error(jobs[j], root) for j in range(again) if jobs[j].status != lib.BD_OK]
        lib.bd_mf_link_hashes(m)  # hard links take their first name's hash
        return k, failures, unread
    finally:
        if d != ffi.NULL:
            lib.bd_dir_close(d)


def read_suspects(table: Table, path: object, previous: Table | None = None, *, threads: int = 0,
                  progress: Callable[[Progress], object] | None = None, leave_min: int = 0,
                  diff_only: bool = False) -> tuple:
    """Fills table's hashes: those previous (a full table with a stat cache, read from the same
    tree) vouches for by the racy-git rule are taken from it, every other file below path is
    read, once more when it changed while read; with leave_min, files of that size or more
    are left unread (their hash stays zero: the caller sets it, see Table.set_content), and
    with diff_only so are the files whose change a diff against previous tells without their
    bytes (bd_mf_diff_unneeded: of another size, or added and of no deleted file's size).
    Returns (files read, the error of each file that could not be read, the indexes of the
    files left unread).  progress(Progress) is called now and then while reading."""
    return _read_suspects(table, path, previous, None, threads, progress, leave_min, diff_only)


def read_copy_suspects(table: Table, path: object, source: Table, source_previous: Table | None, *,
                       threads: int = 0, progress: Callable[[Progress], object] | None = None) -> tuple:
    """Fills the hashes of table, the scan of a copy (a clone) of source's tree made after
    source_previous was read: a file keeps the hash of source's file at its path when
    source_previous vouches for that file by the racy-git rule (source scanned after the copy)
    and size and mtime match; every other file below path is read.  Returns what
    read_suspects returns, none left unread (every file is read when source_previous is None)."""
    return _read_suspects(table, path, source_previous, source, threads, progress)
