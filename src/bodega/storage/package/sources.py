"""Where a package's file bytes come from: a live tree or the object store, checked by hash.

Every byte a package carries is checked against the BLAKE3 hash its manifest names before
the writer gets it (a big file: its pieces are written as they come and the export fails
after the last one if they do not match).  That is what makes a read through a path safe:
a file swapped for a link, or changed, mid-export cannot put bytes the manifest does not
vouch for in the package.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from bodega import errors
from bodega._native.hash import Blake3, read_files
from bodega.storage.archive.entry import PIECE, ArchiveEntry
from bodega.storage.store import ObjectStore


class TreeSource:
    """File entries read from a directory tree: archive name minus prefix is the tree path."""

    def __init__(self, root: Path, prefix: bytes,
                 path_of: Callable[[ArchiveEntry], bytes] | None = None) -> None:
        self.root = root
        self.prefix = prefix
        self._path_of = path_of  # the tree path of an entry named otherwise (a delta's objects)

    def _rel(self, e: ArchiveEntry) -> bytes:
        return self._path_of(e) if self._path_of is not None else e.name[len(self.prefix):]

    def read_many(self, entries: list[ArchiveEntry]) -> list[bytes | memoryview]:
        """The files' bytes, read natively (no link followed) and hashed in one batch."""
        results = read_files(self.root, [self._rel(e) for e in entries], [e.size for e in entries], threads=1)
        out: list[bytes | memoryview] = []
        for e, (fh, data) in zip(entries, results):
            if fh.error is not None:
                raise fh.error
            if fh.digest != e.hash or data is None:
                raise errors.ChangedWhileReading(
                    f"{self._rel(e).decode('utf-8', 'backslashreplace')} changed since its manifest was taken: "
                    "take the export again (or export a snapshot)", path=os.fsdecode(self._rel(e)))
            out.append(data)
        return out

    def stream(self, entry: ArchiveEntry, sink: Callable[[bytes | memoryview], object]) -> None:
        """A big file in pieces, its hash checked at the end."""
        rel = self._rel(entry)
        path = os.path.join(os.fsencode(self.root), rel)
        whole = Blake3()
        try:
            with open(path, "rb", buffering=0) as f:
                while piece := f.read(PIECE):
                    whole.update(piece)
                    sink(piece)
        except OSError as e:
            raise errors.os_error(e, "export", os.fsdecode(path)) from None
        if whole.digest() != entry.hash:
            raise errors.ChangedWhileReading(
                f"{rel.decode('utf-8', 'backslashreplace')} changed since its manifest was taken", path=os.fsdecode(rel))


class StoreSource:
    """File entries read from the object store by hash (each object checked as it is read)."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store

    def read_many(self, entries: list[ArchiveEntry]) -> list[bytes | memoryview]:
        """The objects' bytes."""
        return [self.store.read(e.hash, file=e.shown) for e in entries]  # type: ignore[arg-type]

    def stream(self, entry: ArchiveEntry, sink: Callable[[bytes | memoryview], object]) -> None:
        """A big object in pieces."""
        self.store.write_to(entry.hash, sink, file=entry.shown)  # type: ignore[arg-type]


class RoutedSource:
    """Each entry read from the source registered for the longest prefix of its name."""

    def __init__(self, routes: dict[bytes, TreeSource | StoreSource]) -> None:
        self.routes = sorted(routes.items(), key=lambda kv: len(kv[0]), reverse=True)

    def _for(self, e: ArchiveEntry) -> TreeSource | StoreSource:
        for prefix, source in self.routes:
            if e.name.startswith(prefix):
                return source
        raise errors.InternalError(f"no source for package member {e.shown}")

    def read_many(self, entries: list[ArchiveEntry]) -> list[bytes | memoryview]:
        """The entries' bytes, each group read from its source in one call."""
        groups: dict[int, list[int]] = {}
        sources = [self._for(e) for e in entries]
        for i, s in enumerate(sources):
            groups.setdefault(id(s), []).append(i)
        out: list[bytes | memoryview] = [b""] * len(entries)
        for idx in groups.values():
            for i, data in zip(idx, sources[idx[0]].read_many([entries[i] for i in idx])):
                out[i] = data
        return out

    def stream(self, entry: ArchiveEntry, sink: Callable[[bytes | memoryview], object]) -> None:
        """A big file from its source."""
        self._for(entry).stream(entry, sink)
