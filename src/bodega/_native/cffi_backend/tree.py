"""The handle-relative operations of bd_platform.h (and bd_remove.h) for bodega.storage.tree (cffi).

A Dir is an open directory handle; every operation names one entry of it (a single path
component, bytes) and none follows a link: a link where a directory is opened raises
UnsafePath, and creation is exclusive.  Every call runs without the GIL.
"""
from __future__ import annotations

import errno
import os
from typing import NoReturn

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressBridge
from bodega._native.cffi_backend._status import fail, job_error, new_error
from bodega._native.values import METHODS, Stat

KINDS = ("none", "file", "dir", "symlink", "reparse", "special")
_CLONE_MODES = {"auto": lib.BD_CLONE_AUTO, "require": lib.BD_CLONE_REQUIRE, "never": lib.BD_CLONE_NEVER}
READ_PIECE = 1 << 20
_LINK_CAP = 65536



def _stat(st: object) -> Stat:
    return Stat(KINDS[st.kind] if st.kind < 6 else "special", st.mode, st.size, st.mtime_ns, st.ctime_ns,
                st.nlink, st.uid, st.gid, st.file_id, st.file_id_hi, st.volume_id, st.attrs)


def _name(name: object) -> bytes:
    """One path component as bytes: not empty, '.' or '..', no '/', '\\' or NUL."""
    raw = name if type(name) is bytes else os.fsencode(name)
    if not raw or raw in (b".", b"..") or b"/" in raw or b"\0" in raw or b"\\" in raw:
        raise errors.InvalidInput(f"not a plain entry name: {os.fsdecode(raw)!r}")
    return raw


def _fail(e: object, where: bytes, name: bytes) -> NoReturn:
    """Raises e's error naming where/name (name: the entry the call was about, may be empty)."""
    lib.bd_error_set_path(e, lib.BD_PATH_DST, name, len(name))
    fail(e, None, where)


def _missing(e: object) -> bool:
    return e.code == lib.BD_E_IO and e.sys_errno == errno.ENOENT


def owner_settable() -> bool:
    """True when this process may give entries any owner (POSIX root)."""
    return bool(lib.bd_owner_settable())


def _meta(mode: int | None, mtime_ns: int | None, uid: int | None, gid: int | None) -> tuple[object, int]:
    """A bd_stat and the BD_META_* bits for the given (None: left alone) fields."""
    st = ffi.new("bd_stat *")
    which = 0
    if mode is not None:
        st.mode = mode & 0xFFFFFFFF
        which |= lib.BD_META_MODE
    if mtime_ns is not None:
        st.mtime_ns = mtime_ns
        which |= lib.BD_META_TIMES
    if (uid is None) != (gid is None):
        raise errors.InvalidInput("an owner needs both uid and gid")
    if uid is not None:
        st.uid = uid & 0xFFFFFFFF
        st.gid = gid & 0xFFFFFFFF
        which |= lib.BD_META_OWNER
    return st, which


@ffi.def_extern(name="bd_cffi_dir_entry")
def _dir_entry(ctx: object, name: object, name_len: int, st: object) -> int:
    """bd_dir_list's callback: appends (name, Stat) to the list behind ctx."""
    try:
        ffi.from_handle(ctx).append((ffi.unpack(name, name_len), _stat(st)))
    except BaseException:
        return 1
    return 0


def _new_dirs(items: list) -> tuple[object, list]:
    """The bd_new_dir array of (path, mode, mtime_ns, uid, gid) items, and what keeps its paths alive."""
    c = ffi.new("bd_new_dir[]", max(len(items), 1))
    keep = []
    for i, (path, mode, mtime_ns, uid, gid) in enumerate(items):
        if type(path) is not bytes:
            raise TypeError("a directory's path is bytes")
        if not path or b"\0" in path:
            raise errors.InvalidInput(f"not a relative path: {os.fsdecode(path)!r}")
        if (uid is None) != (gid is None):
            raise errors.InvalidInput("an owner needs both uid and gid")
        keep.append(ffi.from_buffer(path))
        c[i].path, c[i].path_len = keep[-1], len(path)
        c[i].mode, c[i].mtime_ns = mode, mtime_ns
        c[i].owner, c[i].uid, c[i].gid = uid is not None, uid or 0, gid or 0
    return c, keep


class Dir:
    """An open directory, opened without following a link; entries are named one component at a time."""

    __slots__ = ("_d", "path", "__weakref__")

    def __init__(self) -> None:
        self._d = ffi.NULL
        self.path = b""  # for messages: the path it was opened as

    def __del__(self) -> None:
        self.close()

    def _h(self) -> object:
        if self._d == ffi.NULL:
            raise errors.InternalError(f"{os.fsdecode(self.path)}: directory handle used after close")
        return self._d

    def _child(self, name: bytes) -> bytes:
        return self.path + b"/" + name if self.path else name

    @staticmethod
    def open(path: str | bytes | os.PathLike) -> Dir:
        """Opens the directory at path; its last component must be a real directory, never a link."""
        raw = os.fsencode(path)
        if not raw or b"\0" in raw:
            raise errors.InvalidInput(f"not a directory path: {os.fsdecode(raw)!r}")
        out = ffi.new("bd_dir **")
        e = new_error()
        if lib.bd_dir_open(raw, out, e) != lib.BD_OK:
            _fail(e, raw, b"")
        d = Dir()
        d._d, d.path = out[0], raw
        return d

    def open_at(self, name: bytes | str) -> Dir:
        """The child directory name, opened without following a link (UnsafePath for a link)."""
        n = _name(name)
        out = ffi.new("bd_dir **")
        e = new_error()
        if lib.bd_dir_open_at(self._h(), n, len(n), out, e) != lib.BD_OK:
            _fail(e, self.path, n)
        d = Dir()
        d._d, d.path = out[0], self._child(n)
        return d

    def close(self) -> None:
        """Closes the handle (again: no-op)."""
        if self._d != ffi.NULL:
            lib.bd_dir_close(self._d)
            self._d = ffi.NULL

    def __enter__(self) -> Dir:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def stat(self) -> Stat:
        """The directory's own metadata."""
        st = ffi.new("bd_stat *")
        e = new_error()
        if lib.bd_dir_stat(self._h(), st, e) != lib.BD_OK:
            _fail(e, self.path, b"")
        return _stat(st)

    def stat_at(self, name: bytes | str) -> Stat | None:
        """The entry's metadata (a link's own), or None when there is no such entry."""
        n = _name(name)
        st = ffi.new("bd_stat *")
        e = new_error()
        if lib.bd_stat_at(self._h(), n, len(n), st, e) != lib.BD_OK:
            if _missing(e):
                return None
            _fail(e, self.path, n)
        return _stat(st)

    def list(self) -> list[tuple[bytes, Stat]]:
        """Every entry as (name, Stat), in no particular order."""
        out: list = []
        handle = ffi.new_handle(out)
        e = new_error()
        if lib.bd_dir_list(self._h(), lib.bd_cffi_dir_entry, handle, e) != lib.BD_OK:
            _fail(e, self.path, b"")
        return out

    def mkdir_at(self, name: bytes | str, mode: int = 0o755) -> None:
        """Creates the child directory name (exclusive) with permission bits mode (the umask applies)."""
        n = _name(name)
        e = new_error()
        if lib.bd_dir_create_at(self._h(), n, len(n), mode, e) != lib.BD_OK:
            _fail(e, self.path, n)

    def symlink_at(self, name: bytes | str, target: bytes | str, is_dir: bool = False) -> None:
        """Creates the link name -> target (exclusive); is_dir: a directory link on Windows."""
        n = _name(name)
        t = os.fsencode(target)
        if not t or b"\0" in t:
            raise errors.InvalidInput(f"not a link target: {os.fsdecode(t)!r}")
        e = new_error()
        flags = lib.BD_LINK_DIR if is_dir else 0
        if lib.bd_link_create_at(self._h(), n, len(n), t, len(t), flags, e) != lib.BD_OK:
            _fail(e, self.path, n)

    def readlink_at(self, name: bytes | str) -> bytes:
        """The target of the link name."""
        n = _name(name)
        buf = ffi.new("char[]", _LINK_CAP)
        got = ffi.new("size_t *")
        e = new_error()
        if lib.bd_link_read_at(self._h(), n, len(n), buf, _LINK_CAP, got, e) != lib.BD_OK:
            if e.sys_errno == errno.EINVAL:  # not a link
                raise errors.InvalidInput(f"{os.fsdecode(self._child(n))} is not a link")
            _fail(e, self.path, n)
        return ffi.unpack(buf, got[0])

    def hardlink_at(self, name: bytes | str, dst: Dir, dst_name: bytes | str) -> None:
        """Creates dst/dst_name as another name of the file name here (exclusive, never through a link)."""
        a, b = _name(name), _name(dst_name)
        dst = _dir(dst)
        e = new_error()
        if lib.bd_hardlink_at(self._h(), a, len(a), dst._h(), b, len(b), e) != lib.BD_OK:
            if e.sys_errno == errno.EEXIST:  # it names the destination
                _fail(e, dst.path, b)
            _fail(e, self.path, a)

    def rename_at(self, name: bytes | str, dst: Dir, dst_name: bytes | str, *, noreplace: bool = False,
                  exchange: bool = False) -> None:
        """Renames name here to dst/dst_name (the entries themselves, never a link's target).

        noreplace: fail with EEXIST when the destination exists; exchange: swap two existing
        entries atomically (NotSupported where the system or the filesystem cannot).
        """
        a, b = _name(name), _name(dst_name)
        dst = _dir(dst)
        if noreplace and exchange:
            raise errors.InvalidInput("a rename cannot both exchange and refuse to replace")
        flags = lib.BD_RENAME_NOREPLACE if noreplace else lib.BD_RENAME_EXCHANGE if exchange else 0
        e = new_error()
        if lib.bd_rename_at(self._h(), a, len(a), dst._h(), b, len(b), flags, e) != lib.BD_OK:
            if e.sys_errno == errno.EEXIST:
                _fail(e, dst.path, b)
            _fail(e, self.path, a)

    def unlink_at(self, name: bytes | str, is_dir: bool = False) -> None:
        """Removes name: a file or link, or an empty directory when is_dir."""
        n = _name(name)
        e = new_error()
        if lib.bd_unlink_at(self._h(), n, len(n), 1 if is_dir else 0, e) != lib.BD_OK:
            _fail(e, self.path, n)

    def remove_tree_at(self, name: bytes | str) -> None:
        """Removes name and, for a directory, everything in it; links are removed, never followed."""
        n = _name(name)
        e = new_error()
        if lib.bd_remove_tree(self._h(), n, len(n), ffi.NULL, e) != lib.BD_OK:
            fail(e, None, self.path)  # e.path: the entry that could not go, from here

    def set_meta_at(self, name: bytes | str, *, mode: int | None = None, mtime_ns: int | None = None,
                    uid: int | None = None, gid: int | None = None) -> None:
        """Sets the entry's permission bits, mtime and owner (each when given), never through a link."""
        n = _name(name)
        st, which = _meta(mode, mtime_ns, uid, gid)
        e = new_error()
        if lib.bd_meta_set_at(self._h(), n, len(n), st, which, e) != lib.BD_OK:
            _fail(e, self.path, n)

    def set_meta(self, *, mode: int | None = None, mtime_ns: int | None = None, uid: int | None = None,
                 gid: int | None = None) -> None:
        """Sets the directory's own permission bits, mtime and owner (each when given)."""
        st, which = _meta(mode, mtime_ns, uid, gid)
        e = new_error()
        if lib.bd_dir_set_meta(self._h(), st, which, e) != lib.BD_OK:
            _fail(e, self.path, b"")

    def sync(self) -> None:
        """Flushes the directory's entries (renames and creations in it) to stable storage."""
        e = new_error()
        if lib.bd_dir_sync(self._h(), e) != lib.BD_OK:
            _fail(e, self.path, b"")

    def sync_at(self, name: bytes | str) -> None:
        """Flushes the regular file name (written by another call) to stable storage, never through a link."""
        n = _name(name)
        e = new_error()
        if lib.bd_file_sync_at(self._h(), n, len(n), e) != lib.BD_OK:
            _fail(e, self.path, n)

    def sync_volume(self) -> bool:
        """Flushes everything written on this directory's volume in one call; False where the
        system cannot (then flush file by file)."""
        e = new_error()
        rc = lib.bd_volume_sync(self._h(), e)
        if rc == lib.BD_E_NOTSUP:
            return False
        if rc != lib.BD_OK:
            _fail(e, self.path, b"")
        return True

    def create_at(self, name: bytes | str) -> File:
        """A new regular file name, open for writing (exclusive, never through a link; owner-only)."""
        return self._file(name, 1)

    def write_file_at(self, name: bytes | str, data: object, *, mode: int, mtime_ns: int | None = None,
                      uid: int | None = None, gid: int | None = None) -> Stat:
        """Creates name (exclusive, never through a link) holding data (bytes-like), then sets its
        owner, mode and mtime (each when given): its Stat after.  What create_at, write,
        set_meta and stat do in four calls (a restore makes one per small file); on failure
        the file is removed."""
        n = _name(name)
        st, which = _meta(mode, mtime_ns, uid, gid)
        view = ffi.from_buffer(data)
        h = self._h()
        out = ffi.new("bd_file **")
        after = ffi.new("bd_stat *")
        e = new_error()
        rc = lib.bd_file_create_at(h, n, len(n), out, e)
        if rc == lib.BD_OK:
            f = out[0]
            rc = lib.bd_file_write(f, view, len(view), e)
            if rc == lib.BD_OK:
                rc = lib.bd_file_set_meta(f, st, which, e)
            if rc == lib.BD_OK:
                rc = lib.bd_file_stat(f, after, e)
            lib.bd_file_close(f)
            if rc != lib.BD_OK:
                lib.bd_unlink_at(h, n, len(n), 0, new_error())
        if rc != lib.BD_OK:
            _fail(e, self.path, n)
        return _stat(after)

    def write_files(self, files: list, progress: object = None, interval_ns: int = 100_000_000) -> list[Stat]:
        """Creates each (path, data, mode, mtime_ns[, uid, gid]) of files in order, one native
        call without the GIL: path relative to this directory ('/'-separated names whose parents
        exist), data any bytes-like, never through a link, exclusive, then the owner (uid and
        gid, when given and not None), mode and mtime set.  progress(files, bytes) is called at
        most every interval_ns (0: after every file) and may raise to stop; on failure the file
        being written is removed and those before it stay.  Returns each file's Stat after."""
        h = self._h()
        n = len(files)
        c = ffi.new("bd_new_file[]", max(n, 1))
        after = ffi.new("bd_stat[]", max(n, 1))
        bridge = ProgressBridge(progress)
        keep = []  # the buffers C points into, alive for the call
        for i in range(n):
            item = files[i]
            if len(item) not in (4, 6):
                raise TypeError("write_files takes (path, data, mode, mtime_ns[, uid, gid]) tuples")
            path, data, mode, mtime_ns = item[:4]
            uid, gid = item[4:] if len(item) == 6 else (None, None)
            if not isinstance(path, bytes):
                raise TypeError("write_files takes (path, data, mode, mtime_ns[, uid, gid]) tuples")
            if not path or b"\0" in path:
                raise errors.InvalidInput(f"not a relative path: {os.fsdecode(path)!r}")
            if (uid is None) != (gid is None):
                raise errors.InvalidInput("an owner needs both uid and gid")
            keep.append((ffi.from_buffer(path), ffi.from_buffer(data)))
            c[i].path, c[i].path_len = keep[-1][0], len(path)
            c[i].data, c[i].size = keep[-1][1], len(keep[-1][1])
            c[i].mode, c[i].mtime_ns = mode, mtime_ns
            c[i].owner, c[i].uid, c[i].gid = uid is not None, uid or 0, gid or 0
        bridge.c.interval_ns = interval_ns
        done = ffi.new("size_t *")
        e = new_error()
        rc = lib.bd_files_write(h, c, n, after, bridge.c if progress is not None else ffi.NULL, done, e)
        if rc != lib.BD_OK:
            bridge.reraise()
            fail(e, None, self.path)
        return [_stat(after[i]) for i in range(done[0])]

    def write_clones(self, src: "Dir", files: list) -> list[Stat | BaseException]:
        """Creates each (path, source, hash, mode, mtime_ns, uid, gid) of files as a copy-on-write
        clone of source (relative to src), in one native call without the GIL: the source is
        hashed from the handle the clone is made from and must have hash (32 bytes), then the
        new file at path (relative to this directory, its parents existing) gets its owner (uid
        and gid, when not None), mode and mtime, never through a link.  Returns, in order, each
        file's Stat after, or the error that kept it from being written (nothing left at its
        path): IntegrityError when the source's hash differs, NotSupported or CrossDevice when
        the volume cannot clone it (the files after such a one are not tried)."""
        h, hs = self._h(), src._h()
        n = len(files)
        c = ffi.new("bd_new_clone[]", max(n, 1))
        keep = []  # the buffers C points into, alive for the call
        for i in range(n):
            path, source, digest, mode, mtime_ns, uid, gid = files[i]
            for p in (path, source):
                if not p or b"\0" in p:
                    raise errors.InvalidInput(f"not a relative path: {os.fsdecode(p)!r}")
            if len(digest) != 32:
                raise errors.InvalidInput("a clone's hash has 32 bytes")
            if (uid is None) != (gid is None):
                raise errors.InvalidInput("an owner needs both uid and gid")
            keep.append((ffi.from_buffer(path), ffi.from_buffer(source)))
            c[i].path, c[i].path_len = keep[-1][0], len(path)
            c[i].src, c[i].src_len = keep[-1][1], len(source)
            ffi.memmove(c[i].hash, digest, 32)
            c[i].mode, c[i].mtime_ns = mode, mtime_ns
            c[i].owner, c[i].uid, c[i].gid = uid is not None, uid or 0, gid or 0
        e = new_error()
        if lib.bd_clones_write(hs, h, c, n, ffi.NULL, e) != lib.BD_OK:
            fail(e, src.path, self.path)
        out: list[Stat | BaseException] = []
        for i in range(n):
            f = c[i]
            if f.status == lib.BD_OK:
                out.append(_stat(f.st))
            elif f.at_source:
                out.append(job_error(f.status, f.sys_errno, f.op, files[i][1], src.path))
            else:
                out.append(job_error(f.status, f.sys_errno, f.op, files[i][0], self.path))
        return out

    def create_dirs(self, paths: list, mode: int = 0o700, progress: object = None,
                    interval_ns: int = 100_000_000) -> None:
        """Creates each directory of paths in order (relative to this directory, '/'-separated
        names, a parent before its children), exclusive, with mode; one native call without
        the GIL, never through a link.  progress(dirs, 0) is called at most every interval_ns
        and may raise to stop; on failure those before the failing one stay."""
        h = self._h()
        c, keep = _new_dirs([(p, 0, 0, None, None) for p in paths])
        bridge = ProgressBridge(progress)
        bridge.c.interval_ns = interval_ns
        done = ffi.new("size_t *")
        e = new_error()
        rc = lib.bd_dirs_create(h, c, len(paths), mode, bridge.c if progress is not None else ffi.NULL, done, e)
        if rc != lib.BD_OK:
            bridge.reraise()
            fail(e, None, self.path)

    def finish_dirs(self, dirs: list, progress: object = None, interval_ns: int = 100_000_000) -> list[Stat]:
        """Gives each (path, mode, mtime_ns[, uid, gid]) directory of dirs (as create_dirs took
        them, parents first) its owner (when uid and gid are given and not None), mode and
        mtime, in reverse order (each after its subdirectories), each opened itself without
        following a link (UnsafePath when a link took its place); one native call without the
        GIL.  progress(dirs, 0) as in create_dirs.  Returns each directory's Stat after, in
        the order of dirs."""
        h = self._h()
        items = []
        for item in dirs:
            if len(item) not in (3, 5):
                raise TypeError("finish_dirs takes (path, mode, mtime_ns[, uid, gid]) tuples")
            items.append((*item, None, None) if len(item) == 3 else tuple(item))
        c, keep = _new_dirs(items)
        n = len(items)
        after = ffi.new("bd_stat[]", max(n, 1))
        bridge = ProgressBridge(progress)
        bridge.c.interval_ns = interval_ns
        done = ffi.new("size_t *")
        e = new_error()
        rc = lib.bd_dirs_finish(h, c, n, after, bridge.c if progress is not None else ffi.NULL, done, e)
        if rc != lib.BD_OK:
            bridge.reraise()
            fail(e, None, self.path)
        return [_stat(after[i]) for i in range(n)]

    def open_read_at(self, name: bytes | str) -> File:
        """The regular file name opened for reading (UnsafePath for a link, SpecialFile for a fifo...)."""
        return self._file(name, 0)

    def _file(self, name: object, how: int, mode: int = 0) -> File:
        # how: 0 open for reading, 1 create (owner-only), 2 create under the umask, 3 open for writing
        n = _name(name)
        h = self._h()
        out = ffi.new("bd_file **")
        e = new_error()
        if how == 1:
            rc = lib.bd_file_create_at(h, n, len(n), out, e)
        elif how == 2:
            rc = lib.bd_file_create_mode_at(h, n, len(n), mode, out, e)
        elif how == 3:
            rc = lib.bd_file_open_write_at(h, n, len(n), out, ffi.NULL, e)
        else:
            rc = lib.bd_file_open_read(h, n, len(n), out, ffi.NULL, e)
        if rc != lib.BD_OK:
            _fail(e, self.path, n)
        f = File()
        f._f, f.path = out[0], self._child(n)
        return f

    def create_mode_at(self, name: bytes | str, mode: int) -> File:
        """A new regular file name open for writing (exclusive, never through a link) with mode as
        open(2) gives it: the umask applies (Windows: created writable)."""
        return self._file(name, 2, mode & 0o7777)

    def open_write_at(self, name: bytes | str) -> File:
        """The existing file, device or fifo name open for writing: no create, no truncate, never
        through a link (a fifo's open waits for its reader).  Its stat() tells what was opened."""
        return self._file(name, 3)

    def hash_at(self, name: bytes | str) -> tuple[bytes, Stat]:
        """(BLAKE3-256 digest, Stat) of the regular file name, read once, never through a link."""
        n = _name(name)
        out = ffi.new("uint8_t[32]")
        st = ffi.new("bd_stat *")
        e = new_error()
        if lib.bd_hash_file(self._h(), n, len(n), 1, out, st, ffi.NULL, e) != lib.BD_OK:
            _fail(e, self.path, n)
        return ffi.buffer(out, 32)[:], _stat(st)

    def clone_from(self, src: Dir, src_name: bytes | str, name: bytes | str, *, mode: str = "auto") -> str:
        """Creates name here (exclusive) with the data of the file src/src_name: cloned
        copy-on-write where the volume can, else copied ("require": clone or NotSupported,
        "never": copy).  Data only.  Returns the method used ("clone", "kernel_copy", ...)."""
        src = _dir(src)
        a, b = _name(src_name), _name(name)
        if mode not in _CLONE_MODES:
            raise errors.InvalidInput(f"clone mode is one of {', '.join(_CLONE_MODES)}, not {mode!r}")
        r = ffi.new("bd_copy_result *")
        e = new_error()
        if lib.bd_file_clone_at(src._h(), a, len(a), self._h(), b, len(b), _CLONE_MODES[mode], ffi.NULL, r,
                                e) != lib.BD_OK:
            if e.sys_errno == errno.EEXIST:
                _fail(e, self.path, b)
            _fail(e, src.path, a)
        return METHODS[r.method] if r.method < 5 else "clone"


def _dir(value: object) -> Dir:
    """value, which must be a Dir (as Cython's typed arguments check)."""
    if not isinstance(value, Dir):
        raise TypeError(f"Argument must be a Dir, not {type(value).__name__}")
    return value


class File:
    """An open regular file: created for writing (Dir.create_at) or opened for reading."""

    __slots__ = ("_f", "path", "_pos", "__weakref__")

    def __init__(self) -> None:
        self._f = ffi.NULL
        self.path = b""  # for messages
        self._pos = 0

    def __del__(self) -> None:
        self.close()

    def _h(self) -> object:
        if self._f == ffi.NULL:
            raise errors.InternalError(f"{os.fsdecode(self.path)}: file used after close")
        return self._f

    def write(self, data: object) -> None:
        """Writes all of data (any bytes-like object) at the file's position."""
        h = self._h()
        view = ffi.from_buffer(data)
        e = new_error()
        if lib.bd_file_write(h, view, len(view), e) != lib.BD_OK:
            _fail(e, self.path, b"")

    def read(self, size: int = -1) -> bytes:
        """Up to size bytes from the file's position (all the rest for -1); b"" at the end."""
        h = self._h()
        got = ffi.new("size_t *")
        pieces = []
        left = size
        while left != 0:
            want = READ_PIECE if left < 0 or left > READ_PIECE else left
            buf = ffi.new("char[]", want)
            e = new_error()
            if lib.bd_file_pread(h, buf, want, self._pos, got, e) != lib.BD_OK:
                _fail(e, self.path, b"")
            if got[0] == 0:
                break
            self._pos += got[0]
            pieces.append(ffi.buffer(buf, got[0])[:])
            if left > 0:
                left -= got[0]
        return b"".join(pieces)

    def pread(self, size: int, offset: int) -> bytes:
        """Up to size bytes at offset (fewer only at the end of the file); the position stays."""
        h = self._h()
        if size < 0 or offset < 0:
            raise errors.InvalidInput(f"pread of {size} bytes at {offset}: both must be >= 0")
        buf = bytearray(size)
        view = ffi.from_buffer(buf)
        got = ffi.new("size_t *")
        done = 0
        while done < size:
            e = new_error()
            if lib.bd_file_pread(h, view + done, size - done, offset + done, got, e) != lib.BD_OK:
                _fail(e, self.path, b"")
            if got[0] == 0:
                break
            done += got[0]
        del view
        del buf[done:]
        return bytes(buf)

    def pread_into(self, buffer: object, offset: int) -> int:
        """Fills the writable buffer with the bytes at offset (fewer only at the end of the
        file); returns how many it read.  The position stays."""
        h = self._h()
        if offset < 0:
            raise errors.InvalidInput(f"pread_into at {offset}: the offset must be >= 0")
        view = ffi.from_buffer(buffer, require_writable=True)
        got = ffi.new("size_t *")
        done, total = 0, len(view)
        while done < total:
            e = new_error()
            if lib.bd_file_pread(h, view + done, total - done, offset + done, got, e) != lib.BD_OK:
                _fail(e, self.path, b"")
            if got[0] == 0:
                break
            done += got[0]
        return done

    def lock(self, exclusive: bool) -> bool:
        """Tries to lock the whole file (exclusive or shared) without waiting: True when this
        file now holds it, False when another holder's lock conflicts.  Closing releases it."""
        h = self._h()
        taken = ffi.new("int *")
        e = new_error()
        if lib.bd_file_lock(h, 1 if exclusive else 0, taken, e) != lib.BD_OK:
            _fail(e, self.path, b"")
        return bool(taken[0])

    def sync(self) -> None:
        """Flushes the file's data and metadata to stable storage."""
        e = new_error()
        if lib.bd_file_sync(self._h(), e) != lib.BD_OK:
            _fail(e, self.path, b"")

    def stat(self) -> Stat:
        """The file's metadata, from the open handle."""
        st = ffi.new("bd_stat *")
        e = new_error()
        if lib.bd_file_stat(self._h(), st, e) != lib.BD_OK:
            _fail(e, self.path, b"")
        return _stat(st)

    def set_meta(self, *, mode: int | None = None, mtime_ns: int | None = None, uid: int | None = None,
                 gid: int | None = None) -> None:
        """Sets the file's permission bits, mtime and owner (each when given; owner first)."""
        st, which = _meta(mode, mtime_ns, uid, gid)
        e = new_error()
        if lib.bd_file_set_meta(self._h(), st, which, e) != lib.BD_OK:
            _fail(e, self.path, b"")

    def set_times(self, mtime_ns: int) -> None:
        """Sets the file's mtime (ns since the epoch)."""
        self.set_meta(mtime_ns=mtime_ns)

    def close(self) -> None:
        """Closes the file (again: no-op)."""
        if self._f != ffi.NULL:
            lib.bd_file_close(self._f)
            self._f = ffi.NULL

    def __enter__(self) -> File:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
