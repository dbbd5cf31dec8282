# tree.pyx: directories and files by handle, one name at a time, never through a link.
"""The handle-relative operations of bd_platform.h (and bd_remove.h) for bodega.storage.tree.

A Dir is an open directory handle; every operation names one entry of it (a single path
component, bytes) and none follows a link: a link where a directory is opened raises
UnsafePath, and creation is exclusive.  Every call runs without the GIL.
"""
import os

from bodega import errors

from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE, PyBUF_WRITABLE
from libc.stdint cimport uint8_t, uint32_t, uint64_t, int64_t
from libc.errno cimport ENOENT, EEXIST, EINVAL
from libc.string cimport memset, memcpy
from libc.stdlib cimport malloc, free

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_error_set_path, bd_status, BD_OK, BD_PATH_DST, bd_stat, bd_dir, bd_file,
    bd_dir_open, bd_dir_close, bd_dir_open_at, bd_dir_stat, bd_dir_list, bd_dir_create_at, bd_dir_sync,
    bd_stat_at, bd_link_read_at, bd_link_create_at, bd_hardlink_at, bd_rename_at, bd_unlink_at,
    bd_file_open_read, bd_file_pread, bd_file_stat, bd_file_close, bd_file_create_at, bd_file_write,
    bd_file_sync, bd_meta_set_at, bd_file_set_meta, bd_dir_set_meta, bd_owner_settable, bd_remove_tree, bd_hash_file,
    bd_file_clone_at, bd_copy_result, BD_LINK_DIR, BD_RENAME_NOREPLACE, BD_RENAME_EXCHANGE, BD_META_MODE,
    BD_META_TIMES, BD_META_OWNER, BD_CLONE_AUTO, BD_CLONE_REQUIRE, BD_CLONE_NEVER, BD_E_IO, BD_E_NOTSUP,
    bd_volume_sync, bd_file_lock, bd_file_sync_at, bd_file_create_mode_at, bd_file_open_write_at,
    bd_new_file, bd_files_write, bd_new_clone, bd_clones_write, bd_new_dir, bd_dirs_create, bd_dirs_finish,
)
from bodega._native._progress cimport ProgressBridge
from bodega._native._status cimport raise_status, job_error
from bodega._native.bd cimport bd_fault_share
from bodega._native.fault cimport process_plan

bd_fault_share(process_plan())  # count steps in the process's one plan (bd_fault.h)

KINDS = ("none", "file", "dir", "symlink", "reparse", "special")
from bodega._native.values import METHODS, Stat
_CLONE_MODES = {"auto": BD_CLONE_AUTO, "require": BD_CLONE_REQUIRE, "never": BD_CLONE_NEVER}
READ_PIECE = 1 << 20
cdef size_t LINK_CAP = 65536



cdef object _stat(const bd_stat *st):
    return Stat(KINDS[st.kind] if st.kind < 6 else "special", st.mode, st.size, st.mtime_ns, st.ctime_ns,
                st.nlink, st.uid, st.gid, st.file_id, st.file_id_hi, st.volume_id, st.attrs)


cdef bytes _name(object name):
    """One path component as bytes: not empty, '.' or '..', no '/', '\\' or NUL."""
    cdef bytes raw = name if type(name) is bytes else os.fsencode(name)
    if not raw or raw in (b".", b"..") or b"/" in raw or b"\0" in raw or b"\\" in raw:
        raise errors.InvalidInput(f"not a plain entry name: {os.fsdecode(raw)!r}")
    return raw


cdef int _fail(bd_error *e, bytes where, bytes name) except -1:
    """Raises e's error naming where/name (name: the entry the call was about, may be empty)."""
    if name:
        bd_error_set_path(e, BD_PATH_DST, name, len(name))
    else:
        bd_error_set_path(e, BD_PATH_DST, "", 0)
    raise_status(e, None, where)
    return -1


cdef bint _missing(const bd_error *e) noexcept:
    return e.code == BD_E_IO and e.sys_errno == ENOENT


def owner_settable():
    """True when this process may give entries any owner (POSIX root)."""
    return bool(bd_owner_settable())


cdef uint32_t _meta(bd_stat *st, mode, mtime_ns, uid, gid) except? 0xFFFFFFFF:
    """Fills st and returns the BD_META_* bits for the given (None: left alone) fields."""
    cdef uint32_t which = 0
    memset(st, 0, sizeof(bd_stat))
    if mode is not None:
        st.mode = <uint32_t>mode
        which |= BD_META_MODE
    if mtime_ns is not None:
        st.mtime_ns = <int64_t>mtime_ns
        which |= BD_META_TIMES
    if (uid is None) != (gid is None):
        raise errors.InvalidInput("an owner needs both uid and gid")
    if uid is not None:
        st.uid = <uint32_t>uid
        st.gid = <uint32_t>gid
        which |= BD_META_OWNER
    return which


cdef int _new_dir(bd_new_dir *d, object path, object mode, object mtime_ns, object uid, object gid) except -1:
    """Fills d for one directory of create_dirs or finish_dirs (path: bytes, kept alive by the caller)."""
    if type(path) is not bytes:
        raise TypeError("a directory's path is bytes")
    if not path or b"\0" in path:
        raise errors.InvalidInput(f"not a relative path: {os.fsdecode(path)!r}")
    if (uid is None) != (gid is None):
        raise errors.InvalidInput("an owner needs both uid and gid")
    d.path = <bytes>path
    d.path_len = len(path)
    d.mode = mode
    d.mtime_ns = mtime_ns
    d.owner = uid is not None
    d.uid = uid if uid is not None else 0
    d.gid = gid if gid is not None else 0
    return 0


cdef class Dir:
    """An open directory, opened without following a link; entries are named one component at a time."""

    cdef bd_dir *d
    cdef readonly bytes path  # for messages: the path it was opened as

    def __dealloc__(self):
        if self.d != NULL:
            bd_dir_close(self.d)
            self.d = NULL

    cdef bd_dir *_h(self) except NULL:
        if self.d == NULL:
            raise errors.InternalError(f"{os.fsdecode(self.path)}: directory handle used after close")
        return self.d

    cdef bytes _child(self, bytes name):
        return self.path + b"/" + name if self.path else name

    @staticmethod
    def open(path):
        """Opens the directory at path; its last component must be a real directory, never a link."""
        cdef bytes raw = os.fsencode(path)
        if not raw or b"\0" in raw:
            raise errors.InvalidInput(f"not a directory path: {os.fsdecode(raw)!r}")
        cdef const char *c = raw
        cdef bd_dir *out = NULL
        cdef bd_error e
        cdef bd_status rc
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_open(c, &out, &e)
        if rc != BD_OK:
            _fail(&e, raw, b"")
        d = Dir()
        d.d = out
        d.path = raw
        return d

    def open_at(self, name):
        """The child directory name, opened without following a link (UnsafePath for a link)."""
        cdef bytes n = _name(name)
        cdef bd_dir *h = self._h()
        cdef bd_dir *out = NULL
        cdef bd_error e
        cdef bd_status rc
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_open_at(h, c, ln, &out, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)
        d = Dir()
        d.d = out
        d.path = self._child(n)
        return d

    def close(self):
        """Closes the handle (again: no-op)."""
        if self.d != NULL:
            bd_dir_close(self.d)
            self.d = NULL

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def stat(self):
        """The directory's own metadata."""
        cdef bd_stat st
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_stat(h, &st, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")
        return _stat(&st)

    def stat_at(self, name):
        """The entry's metadata (a link's own), or None when there is no such entry."""
        cdef bytes n = _name(name)
        cdef bd_stat st
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_stat_at(h, c, ln, &st, &e)
        if rc != BD_OK:
            if _missing(&e):
                return None
            _fail(&e, self.path, n)
        return _stat(&st)

    def list(self):
        """Every entry as (name, Stat), in no particular order."""
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        out = []
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_list(h, _collect, <void *>out, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")
        return out

    def mkdir_at(self, name, mode=0o755):
        """Creates the child directory name (exclusive) with permission bits mode (the umask applies)."""
        cdef bytes n = _name(name)
        cdef uint32_t m = mode
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_create_at(h, c, ln, m, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)

    def symlink_at(self, name, target, is_dir=False):
        """Creates the link name -> target (exclusive); is_dir: a directory link on Windows."""
        cdef bytes n = _name(name)
        cdef bytes t = os.fsencode(target)
        if not t or b"\0" in t:
            raise errors.InvalidInput(f"not a link target: {os.fsdecode(t)!r}")
        cdef uint32_t flags = BD_LINK_DIR if is_dir else 0
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        cdef const char *ct = t
        cdef size_t lt = len(t)
        bd_error_clear(&e)
        with nogil:
            rc = bd_link_create_at(h, c, ln, ct, lt, flags, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)

    def readlink_at(self, name):
        """The target of the link name."""
        cdef bytes n = _name(name)
        cdef bytearray buf = bytearray(LINK_CAP)
        cdef char *b = buf
        cdef size_t got = 0
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_link_read_at(h, c, ln, b, LINK_CAP, &got, &e)
        if rc != BD_OK:
            if e.sys_errno == EINVAL:  # not a link
                raise errors.InvalidInput(f"{os.fsdecode(self._child(n))} is not a link")
            _fail(&e, self.path, n)
        return bytes(buf[:got])

    def hardlink_at(self, name, Dir dst, dst_name):
        """Creates dst/dst_name as another name of the file name here (exclusive, never through a link)."""
        cdef bytes a = _name(name), b = _name(dst_name)
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *hs = self._h()
        cdef bd_dir *hd = dst._h()
        cdef const char *ca = a
        cdef size_t la = len(a)
        cdef const char *cb = b
        cdef size_t lb = len(b)
        bd_error_clear(&e)
        with nogil:
            rc = bd_hardlink_at(hs, ca, la, hd, cb, lb, &e)
        if rc != BD_OK:
            if e.sys_errno == EEXIST:  # it names the destination
                _fail(&e, dst.path, b)
            _fail(&e, self.path, a)

    def rename_at(self, name, Dir dst, dst_name, *, noreplace=False, exchange=False):
        """Renames name here to dst/dst_name (the entries themselves, never a link's target).

        noreplace: fail with EEXIST when the destination exists; exchange: swap two existing
        entries atomically (NotSupported where the system or the filesystem cannot).
        """
        cdef bytes a = _name(name), b = _name(dst_name)
        if noreplace and exchange:
            raise errors.InvalidInput("a rename cannot both exchange and refuse to replace")
        cdef uint32_t flags = BD_RENAME_NOREPLACE if noreplace else BD_RENAME_EXCHANGE if exchange else 0
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *hs = self._h()
        cdef bd_dir *hd = dst._h()
        cdef const char *ca = a
        cdef size_t la = len(a)
        cdef const char *cb = b
        cdef size_t lb = len(b)
        bd_error_clear(&e)
        with nogil:
            rc = bd_rename_at(hs, ca, la, hd, cb, lb, flags, &e)
        if rc != BD_OK:
            if e.sys_errno == EEXIST:
                _fail(&e, dst.path, b)
            _fail(&e, self.path, a)

    def unlink_at(self, name, is_dir=False):
        """Removes name: a file or link, or an empty directory when is_dir."""
        cdef bytes n = _name(name)
        cdef int d = 1 if is_dir else 0
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_unlink_at(h, c, ln, d, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)

    def remove_tree_at(self, name):
        """Removes name and, for a directory, everything in it; links are removed, never followed."""
        cdef bytes n = _name(name)
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_remove_tree(h, c, ln, NULL, &e)
        if rc != BD_OK:
            raise_status(&e, None, self.path)  # e.path: the entry that could not go, from here

    def set_meta_at(self, name, *, mode=None, mtime_ns=None, uid=None, gid=None):
        """Sets the entry's permission bits, mtime and owner (each when given), never through a link."""
        cdef bytes n = _name(name)
        cdef bd_stat st
        cdef uint32_t which = _meta(&st, mode, mtime_ns, uid, gid)
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_meta_set_at(h, c, ln, &st, which, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)

    def set_meta(self, *, mode=None, mtime_ns=None, uid=None, gid=None):
        """Sets the directory's own permission bits, mtime and owner (each when given)."""
        cdef bd_stat st
        cdef uint32_t which = _meta(&st, mode, mtime_ns, uid, gid)
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_set_meta(h, &st, which, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")

    def sync(self):
        """Flushes the directory's entries (renames and creations in it) to stable storage."""
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_dir_sync(h, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")

    def sync_at(self, name):
        """Flushes the regular file name (written by another call) to stable storage, never through a link."""
        cdef bytes n = _name(name)
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_file_sync_at(h, c, ln, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)

    def sync_volume(self):
        """Flushes everything written on this directory's volume in one call; False where the
        system cannot (then flush file by file)."""
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_volume_sync(h, &e)
        if rc == BD_E_NOTSUP:
            return False
        if rc != BD_OK:
            _fail(&e, self.path, b"")
        return True

    def create_at(self, name):
        """A new regular file name, open for writing (exclusive, never through a link; owner-only)."""
        return self._file(name, 1)

    def write_file_at(self, name, data, *, mode, mtime_ns=None, uid=None, gid=None):
        """Creates name (exclusive, never through a link) holding data (bytes-like), then sets its
        owner, mode and mtime (each when given): its Stat after.  One call without the GIL for
        what create_at, write, set_meta and stat do in four (a restore makes one per small
        file); on failure the file is removed."""
        cdef bytes n = _name(name)
        cdef bd_stat st
        cdef uint32_t which = _meta(&st, mode, mtime_ns, uid, gid)
        cdef bd_stat after
        cdef Py_buffer view
        cdef bd_file *f = NULL
        cdef bd_error e
        cdef bd_error ignored
        cdef bd_status rc
        cdef int created = 0
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            bd_error_clear(&e)
            with nogil:
                rc = bd_file_create_at(h, c, ln, &f, &e)
                if rc == BD_OK:
                    created = 1
                    rc = bd_file_write(f, view.buf, <size_t>view.len, &e)
                if rc == BD_OK:
                    rc = bd_file_set_meta(f, &st, which, &e)
                if rc == BD_OK:
                    rc = bd_file_stat(f, &after, &e)
                if f != NULL:
                    bd_file_close(f)
                if rc != BD_OK and created:
                    bd_error_clear(&ignored)
                    bd_unlink_at(h, c, ln, 0, &ignored)
        finally:
            PyBuffer_Release(&view)
        if rc != BD_OK:
            _fail(&e, self.path, n)
        return _stat(&after)

    def write_files(self, files, progress=None, interval_ns=100_000_000):
        """Creates each (path, data, mode, mtime_ns[, uid, gid]) of files in order, one native
        call without the GIL: path relative to this directory ('/'-separated names whose parents
        exist), data any bytes-like, never through a link, exclusive, then the owner (uid and
        gid, when given and not None), mode and mtime set.  progress(files, bytes) is called at
        most every interval_ns (0: after every file) and may raise to stop; on failure the file
        being written is removed and those before it stay.  Returns each file's Stat after."""
        cdef Py_ssize_t n = len(files), i, held = 0
        cdef bd_new_file *c = <bd_new_file *>malloc(max(n, 1) * sizeof(bd_new_file))
        cdef bd_stat *after = <bd_stat *>malloc(max(n, 1) * sizeof(bd_stat))
        cdef Py_buffer *views = <Py_buffer *>malloc(max(n, 1) * sizeof(Py_buffer))
        cdef ProgressBridge bridge = ProgressBridge(progress)
        cdef bd_error e
        cdef bd_status rc
        cdef size_t done = 0
        cdef bd_dir *h = self._h()
        cdef bytes path
        try:
            if c == NULL or after == NULL or views == NULL:
                raise MemoryError()
            for i in range(n):
                item = files[i]
                if len(item) not in (4, 6):
                    raise TypeError("write_files takes (path, data, mode, mtime_ns[, uid, gid]) tuples")
                path = item[0]
                if not path or b"\0" in path:
                    raise errors.InvalidInput(f"not a relative path: {os.fsdecode(path)!r}")
                uid, gid = (item[4], item[5]) if len(item) == 6 else (None, None)
                if (uid is None) != (gid is None):
                    raise errors.InvalidInput("an owner needs both uid and gid")
                c[i].path = path
                c[i].path_len = len(path)
                c[i].mode = item[2]
                c[i].mtime_ns = item[3]
                c[i].owner = uid is not None
                c[i].uid = uid if uid is not None else 0
                c[i].gid = gid if gid is not None else 0
                PyObject_GetBuffer(item[1], &views[i], PyBUF_SIMPLE)
                held += 1
                c[i].data = views[i].buf
                c[i].size = <size_t>views[i].len
            bridge.c.interval_ns = interval_ns
            bd_error_clear(&e)
            with nogil:
                rc = bd_files_write(h, c, n, after, &bridge.c if progress is not None else NULL, &done, &e)
            if rc != BD_OK:
                bridge.reraise()
                raise_status(&e, None, self.path)
            out = []
            for i in range(<Py_ssize_t>done):
                out.append(_stat(&after[i]))
            return out
        finally:
            for i in range(held):
                PyBuffer_Release(&views[i])
            free(views)
            free(after)
            free(c)

    def write_clones(self, Dir src, files):
        """Creates each (path, source, hash, mode, mtime_ns, uid, gid) of files as a copy-on-write
        clone of source (relative to src), in one native call without the GIL: the source is
        hashed from the handle the clone is made from and must have hash (32 bytes), then the
        new file at path (relative to this directory, its parents existing) gets its owner (uid
        and gid, when not None), mode and mtime, never through a link.  Returns, in order, each
        file's Stat after, or the error that kept it from being written (nothing left at its
        path): IntegrityError when the source's hash differs, NotSupported or CrossDevice when
        the volume cannot clone it (the files after such a one are not tried)."""
        cdef Py_ssize_t n = len(files), i
        cdef bd_new_clone *c = <bd_new_clone *>malloc(max(n, 1) * sizeof(bd_new_clone))
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef bd_dir *hs = src._h()
        cdef bytes path, source, digest
        keep = []
        try:
            if c == NULL:
                raise MemoryError()
            for i in range(n):
                path, source, digest, mode, mtime_ns, uid, gid = files[i]
                for p in (path, source):
                    if not p or b"\0" in p:
                        raise errors.InvalidInput(f"not a relative path: {os.fsdecode(p)!r}")
                if len(digest) != 32:
                    raise errors.InvalidInput("a clone's hash has 32 bytes")
                if (uid is None) != (gid is None):
                    raise errors.InvalidInput("an owner needs both uid and gid")
                keep.append((path, source))
                c[i].path = path
                c[i].path_len = len(path)
                c[i].src = source
                c[i].src_len = len(source)
                memcpy(c[i].hash, <const char *>digest, 32)
                c[i].mode = mode
                c[i].mtime_ns = mtime_ns
                c[i].owner = uid is not None
                c[i].uid = uid if uid is not None else 0
                c[i].gid = gid if gid is not None else 0
            bd_error_clear(&e)
            with nogil:
                rc = bd_clones_write(hs, h, c, n, NULL, &e)
            if rc != BD_OK:
                raise_status(&e, src.path, self.path)
            out = []
            for i in range(n):
                if c[i].status == BD_OK:
                    out.append(_stat(&c[i].st))
                elif c[i].at_source:
                    out.append(job_error(c[i].status, c[i].sys_errno, c[i].op, c[i].src, c[i].src_len, src.path))
                else:
                    out.append(job_error(c[i].status, c[i].sys_errno, c[i].op, c[i].path, c[i].path_len, self.path))
            return out
        finally:
            free(c)

    def create_dirs(self, paths, mode=0o700, progress=None, interval_ns=100_000_000):
        """Creates each directory of paths in order (relative to this directory, '/'-separated
        names, a parent before its children), exclusive, with mode; one native call without
        the GIL, never through a link (many at once on one thread per CPU, a depth at a
        time).  progress(dirs, 0) is called at most every interval_ns and may raise to stop;
        on failure those created stay."""
        cdef Py_ssize_t n = len(paths), i
        cdef bd_new_dir *c = <bd_new_dir *>malloc(max(n, 1) * sizeof(bd_new_dir))
        cdef ProgressBridge bridge = ProgressBridge(progress)
        cdef bd_error e
        cdef bd_status rc
        cdef size_t done = 0
        cdef bd_dir *h = self._h()
        cdef uint32_t m = mode
        try:
            if c == NULL:
                raise MemoryError()
            for i in range(n):
                _new_dir(&c[i], paths[i], 0, 0, None, None)
            bridge.c.interval_ns = interval_ns
            bd_error_clear(&e)
            with nogil:
                rc = bd_dirs_create(h, c, n, m, &bridge.c if progress is not None else NULL, &done, &e)
            if rc != BD_OK:
                bridge.reraise()
                raise_status(&e, None, self.path)
        finally:
            free(c)

    def finish_dirs(self, dirs, progress=None, interval_ns=100_000_000):
        """Gives each (path, mode, mtime_ns[, uid, gid]) directory of dirs (as create_dirs took
        them, parents first) its owner (when uid and gid are given and not None), mode and
        mtime, in reverse order (each after its subdirectories), each opened itself without
        following a link (UnsafePath when a link took its place); one native call without the
        GIL.  progress(dirs, 0) as in create_dirs.  Returns each directory's Stat after, in
        the order of dirs."""
        cdef Py_ssize_t n = len(dirs), i
        cdef bd_new_dir *c = <bd_new_dir *>malloc(max(n, 1) * sizeof(bd_new_dir))
        cdef bd_stat *after = <bd_stat *>malloc(max(n, 1) * sizeof(bd_stat))
        cdef ProgressBridge bridge = ProgressBridge(progress)
        cdef bd_error e
        cdef bd_status rc
        cdef size_t done = 0
        cdef bd_dir *h = self._h()
        try:
            if c == NULL or after == NULL:
                raise MemoryError()
            for i in range(n):
                item = dirs[i]
                if len(item) not in (3, 5):
                    raise TypeError("finish_dirs takes (path, mode, mtime_ns[, uid, gid]) tuples")
                uid, gid = (item[3], item[4]) if len(item) == 5 else (None, None)
                _new_dir(&c[i], item[0], item[1], item[2], uid, gid)
            bridge.c.interval_ns = interval_ns
            bd_error_clear(&e)
            with nogil:
                rc = bd_dirs_finish(h, c, n, after, &bridge.c if progress is not None else NULL, &done, &e)
            if rc != BD_OK:
                bridge.reraise()
                raise_status(&e, None, self.path)
            return [_stat(&after[i]) for i in range(n)]
        finally:
            free(after)
            free(c)

    def open_read_at(self, name):
        """The regular file name opened for reading (UnsafePath for a link, SpecialFile for a fifo...)."""
        return self._file(name, 0)

    cdef File _file(self, name, int how, uint32_t mode=0):
        # how: 0 open for reading, 1 create (owner-only), 2 create under the umask, 3 open for writing
        cdef bytes n = _name(name)
        cdef bd_file *out = NULL
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            if how == 1:
                rc = bd_file_create_at(h, c, ln, &out, &e)
            elif how == 2:
                rc = bd_file_create_mode_at(h, c, ln, mode, &out, &e)
            elif how == 3:
                rc = bd_file_open_write_at(h, c, ln, &out, NULL, &e)
            else:
                rc = bd_file_open_read(h, c, ln, &out, NULL, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)
        f = File()
        f.f = out
        f.path = self._child(n)
        return f

    def create_mode_at(self, name, mode):
        """A new regular file name open for writing (exclusive, never through a link) with mode as
        open(2) gives it: the umask applies (Windows: created writable)."""
        return self._file(name, 2, mode & 0o7777)

    def open_write_at(self, name):
        """The existing file, device or fifo name open for writing: no create, no truncate, never
        through a link (a fifo's open waits for its reader).  Its stat() tells what was opened."""
        return self._file(name, 3)

    def hash_at(self, name):
        """(BLAKE3-256 digest, Stat) of the regular file name, read once, never through a link."""
        cdef bytes n = _name(name)
        cdef unsigned char out[32]
        cdef bd_stat st
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *h = self._h()
        cdef const char *c = n
        cdef size_t ln = len(n)
        bd_error_clear(&e)
        with nogil:
            rc = bd_hash_file(h, c, ln, 1, out, &st, NULL, &e)
        if rc != BD_OK:
            _fail(&e, self.path, n)
        return (<char *>out)[:32], _stat(&st)

    def clone_from(self, Dir src, src_name, name, *, mode="auto"):
        """Creates name here (exclusive) with the data of the file src/src_name: cloned
        copy-on-write where the volume can, else copied ("require": clone or NotSupported,
        "never": copy).  Data only.  Returns the method used ("clone", "kernel_copy", ...)."""
        cdef bytes a = _name(src_name), b = _name(name)
        if mode not in _CLONE_MODES:
            raise errors.InvalidInput(f"clone mode is one of {', '.join(_CLONE_MODES)}, not {mode!r}")
        cdef uint32_t flags = _CLONE_MODES[mode]
        cdef bd_copy_result r
        cdef bd_error e
        cdef bd_status rc
        cdef bd_dir *hs = src._h()
        cdef bd_dir *hd = self._h()
        cdef const char *ca = a
        cdef size_t la = len(a)
        cdef const char *cb = b
        cdef size_t lb = len(b)
        bd_error_clear(&e)
        with nogil:
            rc = bd_file_clone_at(hs, ca, la, hd, cb, lb, flags, NULL, &r, &e)
        if rc != BD_OK:
            if e.sys_errno == EEXIST:
                _fail(&e, self.path, b)
            _fail(&e, src.path, a)
        return METHODS[r.method] if r.method < 5 else "clone"


cdef int _collect(void *ctx, const char *name, size_t name_len, const bd_stat *st) noexcept with gil:
    try:
        (<list>ctx).append((name[:name_len], _stat(st)))
    except BaseException:
        return 1
    return 0


cdef class File:
    """An open regular file: created for writing (Dir.create_at) or opened for reading."""

    cdef bd_file *f
    cdef readonly bytes path  # for messages
    cdef uint64_t pos

    def __dealloc__(self):
        if self.f != NULL:
            bd_file_close(self.f)
            self.f = NULL

    cdef bd_file *_h(self) except NULL:
        if self.f == NULL:
            raise errors.InternalError(f"{os.fsdecode(self.path)}: file used after close")
        return self.f

    def write(self, data):
        """Writes all of data (any bytes-like object) at the file's position."""
        cdef Py_buffer view
        cdef bd_error e
        cdef bd_status rc
        cdef bd_file *h = self._h()
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        try:
            bd_error_clear(&e)
            with nogil:
                rc = bd_file_write(h, view.buf, <size_t>view.len, &e)
        finally:
            PyBuffer_Release(&view)
        if rc != BD_OK:
            _fail(&e, self.path, b"")

    def read(self, size=-1):
        """Up to size bytes from the file's position (all the rest for -1); b"" at the end."""
        cdef bd_file *h = self._h()
        cdef size_t want, got = 0
        cdef bd_error e
        cdef bd_status rc
        cdef char *b
        pieces = []
        cdef Py_ssize_t left = size
        while left != 0:
            want = READ_PIECE if left < 0 or left > READ_PIECE else <size_t>left
            buf = bytearray(want)
            b = buf
            bd_error_clear(&e)
            with nogil:
                rc = bd_file_pread(h, b, want, self.pos, &got, &e)
            if rc != BD_OK:
                _fail(&e, self.path, b"")
            if got == 0:
                break
            self.pos += got
            pieces.append(bytes(buf[:got]))
            if left > 0:
                left -= <Py_ssize_t>got
        return b"".join(pieces)

    def pread_into(self, buffer, offset):
        """Fills the writable buffer with the bytes at offset (fewer only at the end of the
        file); returns how many it read.  The position stays."""
        cdef bd_file *h = self._h()
        cdef Py_buffer view
        cdef size_t got = 0, done = 0, total
        cdef uint64_t at
        cdef bd_error e
        cdef bd_status rc = BD_OK
        if offset < 0:
            raise errors.InvalidInput(f"pread_into at {offset}: the offset must be >= 0")
        at = offset
        PyObject_GetBuffer(buffer, &view, PyBUF_SIMPLE | PyBUF_WRITABLE)
        try:
            total = <size_t>view.len
            while done < total:
                bd_error_clear(&e)
                with nogil:
                    rc = bd_file_pread(h, <char *>view.buf + done, total - done, at + done, &got, &e)
                if rc != BD_OK:
                    _fail(&e, self.path, b"")
                if got == 0:
                    break
                done += got
        finally:
            PyBuffer_Release(&view)
        return done

    def pread(self, size, offset):
        """Up to size bytes at offset (fewer only at the end of the file); the position stays."""
        cdef bd_file *h = self._h()
        cdef size_t want, got = 0
        cdef uint64_t at = offset
        cdef bd_error e
        cdef bd_status rc
        cdef char *b
        cdef size_t done = 0, total
        if size < 0 or offset < 0:
            raise errors.InvalidInput(f"pread of {size} bytes at {offset}: both must be >= 0")
        buf = bytearray(size)
        b = buf
        total = <size_t>size
        while done < total:
            want = total - done
            bd_error_clear(&e)
            with nogil:
                rc = bd_file_pread(h, b + done, want, at + done, &got, &e)
            if rc != BD_OK:
                _fail(&e, self.path, b"")
            if got == 0:
                break
            done += got
        del buf[done:]
        return bytes(buf)

    def lock(self, exclusive):
        """Tries to lock the whole file (exclusive or shared) without waiting: True when this
        file now holds it, False when another holder's lock conflicts.  Closing releases it."""
        cdef bd_file *h = self._h()
        cdef int taken = 0
        cdef int excl = 1 if exclusive else 0
        cdef bd_error e
        cdef bd_status rc
        bd_error_clear(&e)
        with nogil:
            rc = bd_file_lock(h, excl, &taken, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")
        return bool(taken)

    def sync(self):
        """Flushes the file's data and metadata to stable storage."""
        cdef bd_error e
        cdef bd_status rc
        cdef bd_file *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_file_sync(h, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")

    def stat(self):
        """The file's metadata, from the open handle."""
        cdef bd_stat st
        cdef bd_error e
        cdef bd_status rc
        cdef bd_file *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_file_stat(h, &st, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")
        return _stat(&st)

    def set_meta(self, *, mode=None, mtime_ns=None, uid=None, gid=None):
        """Sets the file's permission bits, mtime and owner (each when given; owner first)."""
        cdef bd_stat st
        cdef uint32_t which = _meta(&st, mode, mtime_ns, uid, gid)
        cdef bd_error e
        cdef bd_status rc
        cdef bd_file *h = self._h()
        bd_error_clear(&e)
        with nogil:
            rc = bd_file_set_meta(h, &st, which, &e)
        if rc != BD_OK:
            _fail(&e, self.path, b"")

    def set_times(self, mtime_ns):
        """Sets the file's mtime (ns since the epoch)."""
        self.set_meta(mtime_ns=mtime_ns)

    def close(self):
        """Closes the file (again: no-op)."""
        if self.f != NULL:
            bd_file_close(self.f)
            self.f = NULL

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
