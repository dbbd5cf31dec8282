"""Writing a snapshot's entries out of the store: a whole tree into staging, or only the changes.

Every file's bytes are checked against their hash as they are written (ObjectStore.materialize).
Whatever is written gets its manifest mode and mtime, and its stat (taken after writing) is
kept, so the restored tree's stat cache comes for free (no second scan, no re-hashing).
"""
from __future__ import annotations

import json
import os
import shutil
import stat as statmod
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from bodega import errors
from bodega.storage import volume
from bodega.storage.manifest import Entry, Manifest
from bodega.storage.new_file import new_file, write_all
from bodega.storage.store import ObjectStore

BATCH = 128
RACY_WINDOW_NS = 2_000_000_000  # the widest window docs/format.md allows: safe on any volume
Progress = Callable[[int, int], object]  # (files done, bytes done)


@dataclass
class Written:
    """What a materialization wrote: counts and each file's stat (for the stat cache)."""

    files: int = 0
    bytes: int = 0
    dirs: int = 0
    symlinks: int = 0
    removed: int = 0
    skipped_specials: list[str] = field(default_factory=list)
    stats: dict[bytes, os.stat_result] = field(default_factory=dict)


def _join(root: bytes, rel: bytes) -> bytes:
    return root + b"/" + rel


def _chunks(items: list, n: int) -> Iterable[list]:
    for i in range(0, len(items), n):
        yield items[i:i + n]


def write_files(store: ObjectStore, items: list[tuple[Entry, bytes]], threads: int, written: Written,
                progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> None:
    """Writes each (entry, destination) file from the store, in parallel, with its mode and mtime."""

    def one_batch(batch: list[tuple[Entry, bytes]]) -> list[tuple[bytes, os.stat_result, int]]:
        out = []
        for e, dest in batch:
            if cancel is not None and cancel():
                raise errors.Cancelled("restore cancelled")
            data = store.packed_blob(e.hash, file=e.path_str)
            if data is not None:
                out.append((e.path, write_small_file(dest, data, e.mode & 0o7777, e.mtime_ns), len(data)))
                continue
            size = store.materialize(e.hash, os.fsdecode(dest), file=e.path_str, mode=e.mode & 0o7777)
            os.utime(dest, ns=(e.mtime_ns, e.mtime_ns), follow_symlinks=False)
            out.append((e.path, os.lstat(dest), size))
        return out

    done = 0
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        for results in pool.map(one_batch, _chunks(items, BATCH)):
            for path, st, size in results:
                written.stats[path] = st
                written.files += 1
                written.bytes += size
            done += len(results)
            if progress is not None:
                progress(done, written.bytes)


def write_small_file(dest: bytes, data: bytes, mode: int, mtime_ns: int) -> os.stat_result:
    """Creates dest (which must not exist) holding data, with mode and mtime; its stat after.

    All on one descriptor: the path is looked up once.  On failure dest is removed.
    """
    with new_file(dest, "restore") as fd:
        write_all(fd, data)
        os.chmod(fd, mode)  # exact, whatever the umask; after writing, which would clear set-id bits
        os.utime(fd, ns=(mtime_ns, mtime_ns))
        return os.fstat(fd)


def write_tree(store: ObjectStore, manifest: Manifest, dest: Path, *, threads: int = 4,
               prefix: bytes = b"", progress: Progress | None = None,
               cancel: Callable[[], bool] | None = None) -> Written:
    """Creates dest (which must not exist) holding the manifest's entries (those under prefix)."""
    written = Written()
    root = os.fsencode(dest)
    os.mkdir(root, 0o700)
    dirs: list[tuple[Entry, bytes]] = []
    files: list[tuple[Entry, bytes]] = []
    for e in manifest:
        rel = e.path
        if prefix:
            if rel != prefix and not rel.startswith(prefix + b"/"):
                continue
            rel = rel[len(prefix) + 1:] if rel != prefix else b""
            if not rel:  # the prefix itself: dest is its copy
                if e.kind == "dir":
                    dirs.append((e, root))
                elif e.kind == "file":
                    raise errors.InvalidInput("extract a file with cat or to a directory path")
                continue
        path = _join(root, rel)
        if e.kind == "dir":
            os.mkdir(path, 0o700)
            dirs.append((e, path))
        elif e.kind == "file":
            files.append((e, path))
        elif e.kind == "symlink":
            os.symlink(e.link, path)
            os.utime(path, ns=(e.mtime_ns, e.mtime_ns), follow_symlinks=False)
            written.stats[e.path] = os.lstat(path)
            written.symlinks += 1
        else:
            written.skipped_specials.append(e.path_str)
    write_files(store, files, threads, written, progress, cancel)
    finish_dirs(dirs, written)
    return written


def finish_dirs(dirs: list[tuple[Entry, bytes]], written: Written) -> None:
    """Gives directories their mode and mtime, deepest first (writing inside changes a dir's mtime)."""
    for e, path in reversed(dirs):
        os.chmod(path, e.mode & 0o7777)
        os.utime(path, ns=(e.mtime_ns, e.mtime_ns), follow_symlinks=False)
        written.stats[e.path] = os.lstat(path)
        written.dirs += 1


def with_stat_cache(target: Manifest, stats: dict[bytes, os.stat_result], scan_start_ns: int,
                    fallback: Manifest | None = None) -> Manifest:
    """target with a stat cache: the stats we took after writing, else fallback's rows, else none.

    An entry without a row gets ctime -1, which never matches, so the next scan reads it.
    """
    from bodega._native import manifest as native

    prev = fallback._table if fallback is not None and fallback.has_stat_cache else None
    cache = target._table.merged_cache(stats, prev)
    table = native.Table.from_sections(target._table.table_section(), cache, len(target), False, scan_start_ns,
                                       RACY_WINDOW_NS)
    return Manifest(table, target.root)


# --- the journaled in-place restore -------------------------------------------------------

def plan_changes(live: Manifest, target: Manifest) -> tuple[list[Entry], list[Entry], list[Entry]]:
    """(paths to remove, entries to write, entries whose mode/mtime only changed) from live to target."""
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


def stage_and_journal(store: ObjectStore, tree: Path, staging: Path, journal: Path, snapshot: str,
                      remove: list[Entry], write: list[Entry], remode: list[Entry], *, threads: int,
                      progress: Progress | None = None, cancel: Callable[[], bool] | None = None) -> Written:
    """Writes every new file and link into staging, then the journal that applies them (durably)."""
    written = Written()
    staging.mkdir(parents=True, exist_ok=True)
    sroot = os.fsencode(staging)
    ops: list[list] = []
    # Removals first, deepest first, so a type change can put something else at the path.
    for e in sorted(remove, key=lambda e: e.path, reverse=True):
        ops.append(["rm", e.path.hex()])
    files: list[tuple[Entry, bytes]] = []
    dirs: list[Entry] = []
    for i, e in enumerate(write):
        staged = _join(sroot, b"%d" % i)
        if e.kind == "dir":
            ops.append(["mkdir", e.path.hex(), e.mode & 0o7777])
            dirs.append(e)
        elif e.kind == "file":
            files.append((e, staged))
            ops.append(["mv", staged.hex(), e.path.hex()])
        elif e.kind == "symlink":
            os.symlink(e.link, staged)
            os.utime(staged, ns=(e.mtime_ns, e.mtime_ns), follow_symlinks=False)
            ops.append(["mv", staged.hex(), e.path.hex()])
            written.symlinks += 1
        else:
            written.skipped_specials.append(e.path_str)
    write_files(store, files, threads, written, progress, cancel)
    for e in remode:
        ops.append(["chmod", e.path.hex(), e.mode & 0o7777, e.mtime_ns])
    for e in sorted(dirs, key=lambda e: e.path, reverse=True):
        ops.append(["chmod", e.path.hex(), e.mode & 0o7777, e.mtime_ns])
    staged_files = [Path(os.fsdecode(p)) for _, p in files]
    volume.sync_files(staged_files, staging)
    volume.fsync_path(staging)
    data = json.dumps({"snapshot": snapshot, "tree": str(tree), "ops": ops}).encode()
    tmp = journal.with_suffix(".tmp")
    tmp.write_bytes(data)
    volume.fsync_path(tmp)
    os.replace(tmp, journal)  # the commit point: from here the restore is rolled forward
    volume.fsync_path(journal.parent)
    return written


def apply_journal(journal: Path, tree: Path) -> tuple[str, int, dict[bytes, os.stat_result]]:
    """Carries out a restore journal (again: every step is idempotent); returns (snapshot, removed, stats)."""
    doc = json.loads(journal.read_bytes())
    root = os.fsencode(tree)
    removed = 0
    stats: dict[bytes, os.stat_result] = {}
    for op in doc["ops"]:
        kind, rel = op[0], bytes.fromhex(op[-1] if op[0] == "mv" else op[1])
        path = _join(root, rel)
        if kind == "rm":
            if os.path.lexists(path):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                removed += 1
        elif kind == "mkdir":
            if not os.path.isdir(path) or os.path.islink(path):
                os.mkdir(path, 0o700)
        elif kind == "mv":
            staged = bytes.fromhex(op[1])
            if os.path.lexists(staged):
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path)
                os.replace(staged, path)
            stats[rel] = os.lstat(path)
        elif kind == "chmod":
            if not os.path.islink(path):
                os.chmod(path, op[2])
            os.utime(path, ns=(op[3], op[3]), follow_symlinks=False)
            stats[rel] = os.lstat(path)
    return doc["snapshot"], removed, stats


def remove_tree(path: Path) -> None:
    """Removes a directory tree (links inside are removed, never followed); missing is fine."""
    if not os.path.lexists(path):
        return
    for dirpath, dirnames, _ in os.walk(path):
        for d in dirnames:  # a read-only directory could not be emptied
            p = os.path.join(dirpath, d)
            if not os.path.islink(p):
                os.chmod(p, statmod.S_IRWXU)
    shutil.rmtree(path)


def now_ns() -> int:
    """The wall clock in ns (file times are wall clock: the racy rule compares them)."""
    return time.time_ns()
