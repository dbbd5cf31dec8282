"""Writing a snapshot's entries out of the store into a tree, by handle, never through a link.

Every file's bytes are checked against their hash as they are written: a packed blob once
decoded, a loose object on a copy-on-write volume hashed from the very handle its clone is
made from and found unchanged after the clone (so the clone holds the bytes hashed, and the
clone, whose pages are never cached, is not read back).  Each entry gets its manifest mode
and mtime, and its owner when the restore can give owners (root, owners recorded in the
manifest): otherwise set-id bits are dropped, so a restore never makes a file set-id for an
owner it did not choose.  The stat taken after writing is kept, so the restored tree's stat
cache comes for free (no second scan, no re-hashing).
"""
from __future__ import annotations

import os
import stat as statmod
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from bodega import errors
from bodega.storage.manifest import Entry, Manifest
from bodega.storage.store import ObjectStore
from bodega.storage.tree import Dir, DirChain, Stat, Tree, owner_settable, remove_quietly, split, write_at

BATCH = 256  # files per native write call (and per progress report)
RACY_WINDOW_NS = 2_000_000_000  # the widest window docs/format.md allows: safe on any volume
SET_ID = statmod.S_ISUID | statmod.S_ISGID
Progress = Callable[[int, int], object]  # (files done, bytes done)
Cancel = Callable[[], bool]


@dataclass
class Written:
    """What a materialization wrote: counts, what it skipped, and each entry's stat."""

    files: int = 0
    bytes: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    removed: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"path", "kind"}: fifos, sockets...
    stats: dict[bytes, Stat] = field(default_factory=dict)

    def skip(self, e: Entry) -> None:
        """Records an entry that a restore cannot create (a fifo, socket, device or reparse point)."""
        self.skipped.append({"path": e.path_str, "kind": special_kind(e)})


def special_kind(e: Entry) -> str:
    """What a special entry is: fifo, socket, char-device, block-device, reparse."""
    if e.kind == "reparse":
        return "reparse"
    return {statmod.S_IFIFO: "fifo", statmod.S_IFSOCK: "socket", statmod.S_IFCHR: "char-device",
            statmod.S_IFBLK: "block-device"}.get(statmod.S_IFMT(e.mode), "special")


@dataclass(frozen=True)
class Owners:
    """Whether a restore gives entries their recorded owners (and so keeps set-id bits)."""

    restore: bool

    @classmethod
    def for_manifest(cls, m: Manifest) -> "Owners":
        """Owners are restored when this process can set any owner and the manifest recorded them."""
        return cls(owner_settable() and m.has_owners)

    def mode(self, e: Entry) -> int:
        """The permission bits to give e: set-id bits only with the owner they were for."""
        return e.mode & (0o7777 if self.restore else 0o7777 & ~SET_ID)

    def of(self, e: Entry) -> tuple[int | None, int | None]:
        """(uid, gid) to give e, or (None, None) to leave the owner as created."""
        return (e.uid, e.gid) if self.restore else (None, None)

    def meta(self, e: Entry) -> dict[str, Any]:
        """set_meta's keyword arguments for e (mode and mtime, the owner when restored)."""
        uid, gid = self.of(e)
        return {"mode": self.mode(e), "mtime_ns": e.mtime_ns, "uid": uid, "gid": gid}


class ObjectWriter:
    """Writes store objects as new files of directories (by handle), each checked against its hash."""

    def __init__(self, store: ObjectStore, owners: Owners, cancel: Cancel | None = None) -> None:
        self.store = store
        self.owners = owners
        self.cancel = cancel
        self._loose: dict[Path, Dir] = {}
        self._lock = threading.Lock()
        self._clone = True  # False once the volume refused: copy from then on
        self._clone_many = True  # False once a batch clone was refused: file by file from then on

    def close(self) -> None:
        """Closes the store directories it opened."""
        for d in self._loose.values():
            d.close()
        self._loose.clear()

    def __enter__(self) -> "ObjectWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _loose_dir(self, path: Path) -> Dir:
        with self._lock:
            d = self._loose.get(path)
            if d is None:
                d = self._loose[path] = Dir.open(path)
            return d

    def write(self, d: Dir, name: bytes, e: Entry) -> tuple[Stat, int]:
        """Creates name in d (exclusive) with e's content, mode, mtime (and owner); (its stat, bytes)."""
        if self.cancel is not None and self.cancel():
            raise errors.Cancelled("restore cancelled")
        meta = self.owners.meta(e)
        data = self.store.packed_blob(e.hash, file=e.path_str)
        if data is not None:
            return write_at(d, name, data, **meta), len(data)
        where = self.store.locate(e.hash, file=e.path_str)
        if isinstance(where, Path) and self._clone:
            got = self._clone_loose(d, name, e, where, meta)
            if got is not None:
                return got
        f = d.create_at(name)
        try:
            with f:
                size = self.store.write_to(e.hash, f.write, file=e.path_str)
                f.set_meta(**meta)
                return f.stat(), size
        except BaseException:
            remove_quietly(d, name)
            raise

    def _clone_loose(self, d: Dir, name: bytes, e: Entry, where: Path,
                     meta: dict[str, Any]) -> tuple[Stat, int] | None:
        """A loose object cloned into d, then hashed (the clone is what gets checked); None when
        the volume cannot clone (nothing is left behind then)."""
        try:
            d.clone_from(self._loose_dir(where.parent), where.name, name, mode="require")
        except (errors.NotSupported, errors.CrossDevice):
            self._clone = False
            return None
        try:
            digest, _ = d.hash_at(name)
            if digest != e.hash:
                raise _corrupt(e, where)
            d.set_meta_at(name, **meta)
            st = d.stat_at(name)
            assert st is not None
            return st, st.size
        except BaseException:
            remove_quietly(d, name)
            raise

    def write_many(self, root: Dir, items: list[tuple[bytes, Entry]]) -> list[tuple[bytes, Stat, int]]:
        """Creates each (path below root, entry) file like write; (entry path, its stat, bytes) each.

        The packed small files are read, decoded and checked together, then written by one
        native call; the loose objects cloned and checked by another; the others (chunked
        files, loose objects where the volume cannot clone) one by one.
        """
        if self.cancel is not None and self.cancel():
            raise errors.Cancelled("restore cancelled")
        blobs = self.store.packed_blobs([(e.hash, e.path_str) for _, e in items])
        packed, out, rest = [], [], []
        for (rel, e), data in zip(items, blobs):
            if data is None:
                rest.append((rel, e))
            else:
                packed.append((rel, e))
                out.append((rel, data, self.owners.mode(e), e.mtime_ns, *self.owners.of(e)))
        stats = root.write_files(out) if out else []
        done = [(e.path, st, st.size) for (_, e), st in zip(packed, stats)]
        if rest and self._clone and self._clone_many:
            rest = self._clone_loose_many(root, rest, done)
        with DirChain(root) as chain:
            for rel, e in rest:
                parent, name = _parent_and_name(rel)
                st, n = self.write(chain.get(split(parent)), name, e)
                done.append((e.path, st, n))
        return done

    def _clone_loose_many(self, root: Dir, items: list[tuple[bytes, Entry]],
                          done: list[tuple[bytes, Stat, int]]) -> list[tuple[bytes, Entry]]:
        """The loose objects of items cloned below root in one native call, each source hashed
        from the handle its clone is made from (its pages are usually cached; the clone's are
        not); their results added to done.  Returns the items left to write one by one: those
        a pack holds, and those not loose after all (write() finds them or says they are missing)."""
        loose, clones, rest = [], [], []
        for (rel, e), name in zip(items, self.store.loose_names([e.hash for _, e in items])):
            if name is None:
                rest.append((rel, e))
            else:
                loose.append((rel, e))
                clones.append((rel, name, e.hash, self.owners.mode(e), e.mtime_ns, *self.owners.of(e)))
        if not loose:
            return rest
        got = root.write_clones(self._loose_dir(self.store.objects_dir), clones)
        for (rel, e), st in zip(loose, got):
            if isinstance(st, Stat):
                done.append((e.path, st, st.size))
            elif isinstance(st, (errors.NotSupported, errors.CrossDevice)):
                self._clone_many = False  # file by file: bd_file_clone_at knows every way to clone
                rest.append((rel, e))
            elif isinstance(st, errors.PathNotFound):
                rest.append((rel, e))  # packed meanwhile, or missing: write() looks again and says which
            elif isinstance(st, errors.IntegrityError):
                raise _corrupt(e, self.store.loose_path(e.hash))
            else:
                raise st
        return rest


def _corrupt(e: Entry, where: Path) -> errors.ObjectCorrupt:
    """The error for a loose object whose bytes do not match its hash."""
    return errors.ObjectCorrupt(f"object {e.hash.hex()} in {where} does not match its hash (needed by {e.path_str})",
                                object=e.hash.hex(), where=str(where), path=e.path_str)


def _parent_and_name(rel: bytes) -> tuple[bytes, bytes]:
    parent, _, name = rel.rpartition(b"/")
    return parent, name


def write_files(writer: ObjectWriter, root: Dir, items: list[tuple[bytes, Entry]], threads: int,
                written: Written, progress: Progress | None = None) -> None:
    """Writes each (path below root, entry) file on worker threads, in batches in path order
    (each batch's directories opened once)."""
    ordered = sorted(items, key=lambda item: item[0].rpartition(b"/"))
    batches = [ordered[i:i + BATCH] for i in range(0, len(ordered), BATCH)]
    done = 0
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for results in pool.map(lambda batch: writer.write_many(root, batch), batches):
            for path, st, n in results:
                written.stats[path] = st
                written.files += 1
                written.bytes += n
            done += len(results)
            if progress is not None:
                progress(done, written.bytes)


def _below(manifest: Manifest, prefix: bytes) -> Iterator[tuple[bytes, Entry]]:
    """(path relative to prefix, entry) of every entry strictly below prefix (all for b"")."""
    if not prefix:
        for e in manifest:
            yield e.path, e
        return
    start = prefix + b"/"
    for e in manifest:
        if e.path.startswith(start):
            yield e.path[len(start):], e


def write_tree(store: ObjectStore, manifest: Manifest, dest: Tree, *, threads: int = 4, prefix: bytes = b"",
               progress: Progress | None = None, cancel: Cancel | None = None) -> Written:
    """Writes the manifest's entries below prefix into dest, an empty directory; the hard links
    of the manifest come back as links.  dest's own metadata is the caller's."""
    written = Written()
    owners = Owners.for_manifest(manifest)
    dirs: list[tuple[bytes, Entry]] = []
    files: list[tuple[bytes, Entry]] = []
    links: list[tuple[bytes, Entry]] = []
    hard: list[tuple[bytes, Entry]] = []
    for rel, e in _below(manifest, prefix):
        if e.kind == "dir":
            dirs.append((rel, e))
        elif e.kind == "file":
            (hard if e.link else files).append((rel, e))
        elif e.kind == "symlink":
            links.append((rel, e))
        else:
            written.skip(e)
    # A hard link whose first name is not written here (outside prefix) is a file of its own.
    firsts = {rel for rel, _ in files}
    alone = [(rel, e) for rel, e in hard if _relative(e.link, prefix) not in firsts]
    files += alone
    hard = [h for h in hard if h not in alone]
    # Sorted by path: a parent before its children.  Owner-only while filled; their modes last.
    dest.root.create_dirs([rel for rel, _ in dirs], 0o700, _cancel_check(cancel))
    with ObjectWriter(store, owners, cancel) as writer:
        write_files(writer, dest.root, files, threads, written, progress)
    with DirChain(dest.root) as chain:
        for rel, e in links:
            parent, name = _parent_and_name(rel)
            d = chain.get(split(parent))
            d.symlink_at(name, e.link)
            written.stats[e.path] = _set_and_stat(d, name, {"mtime_ns": e.mtime_ns, **_owner_kw(owners, e)})
            written.symlinks += 1
    for rel, e in hard:
        first = _relative(e.link, prefix)
        assert first is not None
        dest.hardlink(first, rel)
        written.stats[e.path] = _lstat(dest, rel)
        written.stats[e.link] = _lstat(dest, first)  # a new name changed its ctime
        written.hardlinks += 1
    finish_dirs(dest, dirs, owners, written, cancel)
    return written


def _relative(path: bytes, prefix: bytes) -> bytes | None:
    if not prefix:
        return path
    return path[len(prefix) + 1:] if path.startswith(prefix + b"/") else None


def _owner_kw(owners: Owners, e: Entry) -> dict[str, int | None]:
    uid, gid = owners.of(e)
    return {"uid": uid, "gid": gid}


def _lstat(t: Tree, rel: bytes) -> Stat:
    st = t.lstat(rel)
    if st is None:
        raise errors.ChangedWhileReading(f"{os.fsdecode(t.path)}/{os.fsdecode(rel)} vanished while it was written",
                                         path=os.fsdecode(rel))
    return st


def finish_dirs(dest: Tree, dirs: list[tuple[bytes, Entry]], owners: Owners, written: Written,
                cancel: Cancel | None = None) -> None:
    """Gives directories (parents first) their mode, mtime (and owner) once everything inside
    them is written (writing inside changes a directory's mtime; setting a child's metadata
    does not), each after its subdirectories, in one native call."""
    items = [(rel, owners.mode(e), e.mtime_ns, *owners.of(e)) for rel, e in dirs]
    stats = dest.root.finish_dirs(items, _cancel_check(cancel))
    for (_, e), st in zip(dirs, stats):
        written.stats[e.path] = st
    written.dirs += len(dirs)


def _cancel_check(cancel: Cancel | None) -> Callable[[int, int], None] | None:
    """A native call's progress callback that stops it when cancel says so (None: never)."""
    if cancel is None:
        return None

    def check(done: int, size: int) -> None:
        if cancel():
            raise errors.Cancelled("restore cancelled")

    return check


def _set_and_stat(d: Dir, name: bytes, meta: dict[str, Any]) -> Stat:
    """Sets name's metadata in d, never through a link, and returns its stat after."""
    d.set_meta_at(name, **meta)
    st = d.stat_at(name)
    if st is None:
        raise errors.ChangedWhileReading(f"{os.fsdecode(d.path)}/{os.fsdecode(name)} vanished while it was "
                                         f"written", path=os.fsdecode(name))
    return st


def with_stat_cache(target: Manifest, stats: dict[bytes, Stat], scan_start_ns: int,
                    fallback: Manifest | None = None) -> Manifest:
    """target with a stat cache: the stats we took after writing, else fallback's rows, else none.

    An entry without a row gets ctime -1, which never matches, so the next scan reads it.
    """
    from bodega._native import manifest as native

    prev = fallback._table if fallback is not None and fallback.has_stat_cache else None
    cache = target._table.merged_cache(stats, prev)
    table = native.Table.from_sections(target._table.table_section(), cache, len(target), False, scan_start_ns,
                                       RACY_WINDOW_NS, target.has_owners)
    return Manifest(table, target.root)


def plan_changes(live: Manifest, target: Manifest) -> tuple[list[Entry], list[Entry], list[Entry]]:
    """(entries to remove, entries to write, entries whose metadata only changed) from live to target."""
    from bodega.storage.manifest_diff import Diff

    remove: list[Entry] = []
    write: list[Entry] = []
    remode: list[Entry] = []
    for c in Diff.of(live, target, renames=False):
        if c.new is None:
            remove.append(c.old)
        elif c.old is None:
            write.append(c.new)
        elif "type-changed" in c.changes:
            remove.append(c.old)
            write.append(c.new)
        elif "modified" in c.changes or "link-changed" in c.changes:
            write.append(c.new)
        else:
            remode.append(c.new)
    return remove, write, remode


def now_ns() -> int:
    """The wall clock in ns (file times are wall clock: the racy rule compares them)."""
    return time.time_ns()
