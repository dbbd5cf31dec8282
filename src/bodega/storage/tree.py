"""A directory tree written and read by handle: a link anywhere in a path is never followed.

Every write into a container tree or a destination goes through a Tree.  Paths are bytes
relative to the tree's root, '/'-separated, without '..', empty or '.' components (b"" is the
root itself where an operation allows it); each component is opened from its parent's handle
without following a link, so a link (or junction) in a path raises UnsafePath naming it,
whatever was swapped in when.  Nothing existing is overwritten unless the call says so.

    with Tree.open(path) as t:
        t.makedirs(b"a/b")
        t.write_file(b"a/b/f", b"data", mode=0o644)
        with t.create(b"a/g", mode=0o600) as f:
            f.write(b"...")
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from typing import Iterable, Iterator

from bodega import errors
from bodega._native.tree import Dir, File, Stat, owner_settable

__all__ = ["Tree", "Dir", "Stat", "File", "owner_settable", "split", "descend", "DirChain", "write_at", "remove_quietly", "open_file", "remove_path"]

def split(rel: bytes | str) -> list[bytes]:
    """The components of a relative tree path (b"" gives []); InvalidInput when malformed."""
    raw = rel if isinstance(rel, bytes) else os.fsencode(rel)
    if not raw:
        return []
    parts = raw.split(b"/")
    for p in parts:
        if p in (b"", b".", b"..") or b"\0" in p or b"\\" in p:
            raise errors.InvalidInput(f"not a relative path of plain names: {os.fsdecode(raw)!r}")
    return parts


class Tree:
    """An open directory and the entries below it, reached only through no-follow handles."""

    def __init__(self, root: Dir) -> None:
        self._root: Dir | None = root

    # ---- opening and closing ------------------------------------------------------------

    @classmethod
    def open(cls, path: str | bytes | os.PathLike) -> "Tree":
        """The tree at path: its last component must be a real directory, never a link."""
        return cls(Dir.open(path))

    @property
    def root(self) -> Dir:
        """The root's handle."""
        if self._root is None:
            raise errors.InternalError("a tree used after close")
        return self._root

    @property
    def path(self) -> bytes:
        """The path the root was opened as (for messages)."""
        return self.root.path

    def close(self) -> None:
        """Releases the root's handle."""
        if self._root is not None:
            self._root.close()
            self._root = None

    def __enter__(self) -> "Tree":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ---- walking ------------------------------------------------------------------------

    def _dir(self, parts: list[bytes]) -> "contextmanager[Dir]":
        """The directory at parts, opened component by component without following a link."""
        return descend(self.root, parts)

    @contextmanager
    def _parent(self, rel: bytes | str) -> Iterator[tuple[Dir, bytes]]:
        """(the parent directory's handle, the last name) of a path that is not the root."""
        parts = split(rel)
        if not parts:
            raise errors.InvalidInput("this operation needs a path below the tree's root")
        with self._dir(parts[:-1]) as d:
            yield d, parts[-1]

    def subtree(self, rel: bytes | str) -> "Tree":
        """A Tree rooted at the directory rel below the root (opened without following a link);
        close it after use."""
        parts = split(rel)
        if not parts:
            raise errors.InvalidInput("a subtree needs a path below the tree's root")
        d = self.root
        for i, p in enumerate(parts):
            try:
                nxt = d.open_at(p)
            finally:
                if i:
                    d.close()
            d = nxt
        return Tree(d)

    # ---- reading ------------------------------------------------------------------------

    def lstat(self, rel: bytes | str) -> Stat | None:
        """The entry's metadata (a link's own), None when it does not exist; b"" is the root.

        A link (or a non-directory) on the way raises UnsafePath / NotADirectory.
        """
        parts = split(rel)
        if not parts:
            return self.root.stat()
        try:
            with self._dir(parts[:-1]) as d:
                return d.stat_at(parts[-1])
        except errors.PathNotFound:
            return None

    def readlink(self, rel: bytes | str) -> bytes:
        """The target of the link rel."""
        with self._parent(rel) as (d, name):
            return d.readlink_at(name)

    def listdir(self, rel: bytes | str = b"") -> list[tuple[bytes, Stat]]:
        """(name, Stat) of every entry of the directory rel, in no particular order."""
        with self._dir(split(rel)) as d:
            return d.list()

    def open_read(self, rel: bytes | str) -> File:
        """The regular file rel opened for reading (UnsafePath for a link); close it after use."""
        with self._parent(rel) as (d, name):
            return d.open_read_at(name)

    def read_bytes(self, rel: bytes | str) -> bytes:
        """The whole content of the regular file rel."""
        with self.open_read(rel) as f:
            return f.read()

    # ---- creating -----------------------------------------------------------------------

    def mkdir(self, rel: bytes | str, mode: int = 0o755) -> None:
        """Creates the directory rel (exclusive; its parent must exist) with mode (the umask applies)."""
        with self._parent(rel) as (d, name):
            d.mkdir_at(name, mode)

    def makedirs(self, rel: bytes | str, mode: int = 0o755) -> None:
        """Creates rel and its missing parents; an existing directory is fine, a link on the way is not."""
        d = self.root
        opened: list[Dir] = []
        try:
            for p in split(rel):
                try:
                    d = d.open_at(p)
                except errors.PathNotFound:
                    try:
                        d.mkdir_at(p, mode)
                    except errors.PathExists:
                        pass  # made meanwhile: opened just below, never followed if a link
                    d = d.open_at(p)
                opened.append(d)
        finally:
            for o in opened:
                o.close()

    def write_file(self, rel: bytes | str, data: bytes | bytearray | memoryview | Iterable[bytes], *,
                   mode: int = 0o644, mtime_ns: int | None = None, uid: int | None = None,
                   gid: int | None = None, sync: bool = False) -> Stat:
        """Creates the file rel (exclusive) holding data (bytes, or an iterable of bytes pieces).

        The mode is set exactly (whatever the umask) after writing; owner (when given and
        settable) before the mode, so set-id bits survive.  On failure the file is removed.
        Returns its stat after all of that.
        """
        with self._parent(rel) as (d, name):
            return write_at(d, name, data, mode=mode, mtime_ns=mtime_ns, uid=uid, gid=gid, sync=sync)

    @contextmanager
    def create(self, rel: bytes | str, mode: int = 0o600, mtime_ns: int | None = None) -> Iterator[File]:
        """A new file rel (exclusive) to write into; given its mode (and mtime) when the block ends.

        When the block raises, the file is removed.
        """
        with self._parent(rel) as (d, name):
            f = d.create_at(name)
            try:
                with f:
                    yield f
                    f.set_meta(mode=mode, mtime_ns=mtime_ns)
            except BaseException:
                remove_quietly(d, name)
                raise

    def symlink(self, rel: bytes | str, target: bytes | str, *, is_dir: bool = False) -> None:
        """Creates the link rel -> target (exclusive); the link is never followed afterwards."""
        with self._parent(rel) as (d, name):
            d.symlink_at(name, target, is_dir)

    def hardlink(self, src: bytes | str, dst: bytes | str) -> None:
        """Creates dst as another name of the file src, both inside the tree (exclusive)."""
        with self._parent(src) as (sd, sname), self._parent(dst) as (dd, dname):
            sd.hardlink_at(sname, dd, dname)

    # ---- changing -----------------------------------------------------------------------

    def rename(self, src: bytes | str, dst: bytes | str, *, noreplace: bool = False,
               exchange: bool = False) -> None:
        """Renames src to dst inside the tree (noreplace: never over an existing dst; exchange:
        swap both atomically, NotSupported where the system or filesystem cannot)."""
        self.move(src, self, dst, noreplace=noreplace, exchange=exchange)

    def move(self, src: bytes | str, other: "Tree", dst: bytes | str, *, noreplace: bool = False,
             exchange: bool = False) -> None:
        """Renames src of this tree to dst of other (on the same volume), the entries themselves."""
        with self._parent(src) as (sd, sname), other._parent(dst) as (dd, dname):
            sd.rename_at(sname, dd, dname, noreplace=noreplace, exchange=exchange)

    def set_meta(self, rel: bytes | str, *, mode: int | None = None, mtime_ns: int | None = None,
                 uid: int | None = None, gid: int | None = None) -> None:
        """Sets mode, mtime and owner (each when given) on the entry itself, never through a link;
        b"" is the root."""
        parts = split(rel)
        if not parts:
            self.root.set_meta(mode=mode, mtime_ns=mtime_ns, uid=uid, gid=gid)
            return
        with self._dir(parts[:-1]) as d:
            d.set_meta_at(parts[-1], mode=mode, mtime_ns=mtime_ns, uid=uid, gid=gid)

    def remove(self, rel: bytes | str) -> None:
        """Removes a file, a link (never its target) or an empty directory."""
        with self._parent(rel) as (d, name):
            st = d.stat_at(name)
            if st is None:
                raise errors.PathNotFound(2, "No such file or directory", os.fsdecode(d.path + b"/" + name))
            d.unlink_at(name, st.kind == "dir")

    def remove_tree(self, rel: bytes | str) -> None:
        """Removes rel and everything below it; links are removed, never followed.  An entry
        that cannot be removed raises its error, naming it."""
        with self._parent(rel) as (d, name):
            d.remove_tree_at(name)

    def sync(self, rel: bytes | str = b"") -> None:
        """Flushes the directory rel's entries to stable storage (makes renames into it durable)."""
        with self._dir(split(rel)) as d:
            d.sync()


@contextmanager
def descend(root: Dir, parts: list[bytes] | tuple[bytes, ...]) -> Iterator[Dir]:
    """The directory below root at parts (root itself for none), each component opened from
    its parent's handle without following a link; closed when the block ends (root never)."""
    d = root
    opened: list[Dir] = []
    try:
        for p in parts:
            d = d.open_at(p)
            opened.append(d)
        yield d
    finally:
        for o in opened:
            o.close()


class DirChain:
    """The directories of the last path walked below root, kept open so that the next path
    reuses their common prefix: for trees only this process writes (staging, a destination
    it just made), walked in path order.  Each component is opened without following a link."""

    def __init__(self, root: Dir) -> None:
        self.root = root
        self._parts: list[bytes] = []
        self._dirs: list[Dir] = []

    def get(self, parts: list[bytes]) -> Dir:
        """The directory at parts (root for none)."""
        k = 0
        while k < len(self._parts) and k < len(parts) and self._parts[k] == parts[k]:
            k += 1
        for d in self._dirs[k:]:
            d.close()
        del self._parts[k:], self._dirs[k:]
        d = self._dirs[-1] if self._dirs else self.root
        for p in parts[k:]:
            d = d.open_at(p)
            self._parts.append(p)
            self._dirs.append(d)
        return d

    def close(self) -> None:
        """Closes the directories it holds (never root)."""
        self.get([])

    def __enter__(self) -> "DirChain":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def write_at(d: Dir, name: bytes, data: bytes | bytearray | memoryview | Iterable[bytes], *, mode: int,
             mtime_ns: int | None = None, uid: int | None = None, gid: int | None = None,
             sync: bool = False) -> Stat:
    """Creates name in d (exclusive) holding data, then owner, mode and mtime; its stat after.

    On failure the file is removed.
    """
    if isinstance(data, (bytes, bytearray, memoryview)) and not sync:
        return d.write_file_at(name, data, mode=mode, mtime_ns=mtime_ns, uid=uid, gid=gid)  # one native call
    f = d.create_at(name)
    try:
        with f:
            if isinstance(data, (bytes, bytearray, memoryview)):
                f.write(data)
            else:
                for piece in data:
                    f.write(piece)
            f.set_meta(mode=mode, mtime_ns=mtime_ns, uid=uid, gid=gid)
            if sync:
                f.sync()
            return f.stat()
    except BaseException:
        remove_quietly(d, name)
        raise


def remove_quietly(d: Dir, name: bytes) -> None:
    """Removes a file this code created and failed to fill (it is gone already: fine)."""
    try:
        d.unlink_at(name)
    except errors.BodegaError:
        pass



def open_file(path: str | os.PathLike[str]) -> File:
    """The regular file at path open for reading (pread is thread-safe); its last component
    must not be a link (UnsafePath), earlier ones are the caller's to choose."""
    path = os.fspath(path)
    parent, name = os.path.split(path)
    with Dir.open(parent or ".") as d:
        return d.open_read_at(name)


def remove_path(path: str | os.PathLike[str]) -> None:
    """Removes path and, for a directory, everything below it, never following a link (a link
    at path is removed itself); a missing path is fine.  What cannot be removed raises its
    error naming the entry (the rest is removed)."""
    parent, name = os.path.split(os.path.normpath(os.fspath(path)))
    try:
        d = Dir.open(parent or ".")
    except errors.PathNotFound:
        return  # the parent is gone, and path with it
    with d:
        if d.stat_at(name) is None:
            return
        try:
            d.remove_tree_at(name)
        except errors.PathNotFound:
            if d.stat_at(name) is not None:
                raise  # something inside could not go, not path itself vanishing
