"""Writing a package: the plan (what goes in) to a zip or 7z file through a sink.

The plan is made from manifests alone (no tree walk, no staging copy): the metadata members,
the tree under root/ (full packages), and the objects the exported snapshots need beyond
the tree (or, in a delta, beyond its base), each once.  Bytes come from the live tree or the
store through a ContentSource, checked against their hashes as they are read.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from bodega import errors
from bodega._native.hash import Blake3
from bodega.storage.archive.entry import DIR, FILE, SYMLINK, ArchiveEntry, Cancel, ContentSource
from bodega.storage.archive.sevenzip_writer import SevenZipWriter
from bodega.storage.archive.sink import Sink
from bodega.storage.archive.zip_writer import ZipWriter
from bodega.storage.manifest import Manifest
from bodega.storage.package import layout
from bodega.storage.package.sources import RoutedSource, StoreSource, TreeSource

ENTRY_OVERHEAD = 256   # bytes of headers per member, at most, in either format
FORMATS = ("zip", "7z")


@dataclass
class ExportPlan:
    """What a package holds: its description, metadata and the manifests of what it carries."""

    info: layout.PackageInfo
    container_manifest: bytes
    tree_manifest: Manifest                 # the exported state's full manifest
    with_tree: bool                         # full packages carry the tree under root/
    snapshots: dict[str, Manifest] = field(default_factory=dict)
    objects: dict[bytes, int] = field(default_factory=dict)  # digest -> size, beyond the tree (or base)
    mtime_ns: int = 0

    @classmethod
    def make(cls, info: layout.PackageInfo, container_manifest: bytes, tree: Manifest, *, with_tree: bool,
             snapshots: dict[str, Manifest], base: Manifest | None, mtime_ns: int) -> "ExportPlan":
        """The plan: objects are every file content the snapshots (and, in a delta, the tree) need
        that the receiver will not have from root/ or from its base."""
        have: set[bytes] = set()
        if with_tree:
            have |= {e.hash for e in tree if e.kind == FILE}  # type: ignore[misc]
        if base is not None:
            have |= {e.hash for e in base if e.kind == FILE}  # type: ignore[misc]
        objects: dict[bytes, int] = {}
        wanted = list(snapshots.values()) + ([] if with_tree else [tree])
        for m in wanted:
            for e in m:
                if e.kind == FILE and e.hash not in have and e.hash not in objects:
                    objects[e.hash] = e.size  # type: ignore[index]
        info.objects = len(objects)
        info.files = sum(1 for e in tree if e.kind == FILE)
        info.bytes = tree.total_file_bytes()
        info.skipped = [e.path_str for e in tree if e.kind not in (FILE, DIR, SYMLINK)]
        return cls(info, container_manifest, tree, with_tree, snapshots, objects, mtime_ns)

    def metadata(self) -> dict[bytes, bytes]:
        """The metadata members and their bytes, in order."""
        out = {layout.INFO: self.info.to_bytes(), layout.CONTAINER_MANIFEST: self.container_manifest,
               layout.TREE_MANIFEST: self.tree_manifest.to_bytes(stat_cache=False)}
        for sid, m in self.snapshots.items():
            out[layout.snapshot_member(sid)] = m.to_bytes(stat_cache=False)
        return out

    def content_bytes(self) -> int:
        """Bytes of file content the package carries."""
        tree = self.tree_manifest.total_file_bytes() if self.with_tree else 0
        return tree + sum(self.objects.values())

    def estimate(self) -> int:
        """An upper bound of the package's size: everything stored, plus headers."""
        members = len(self.tree_manifest) + len(self.objects) + len(self.snapshots) + 4
        meta = sum(len(m.to_bytes(stat_cache=False)) for m in self.snapshots.values()) + len(self.container_manifest)
        return self.content_bytes() + meta + 2 * len(self.tree_manifest.to_bytes(stat_cache=False)) \
            + members * ENTRY_OVERHEAD + 65536


class MemorySource:
    """Metadata members, held in memory."""

    def __init__(self, members: dict[bytes, bytes]) -> None:
        self.members = members

    def read_many(self, entries: list[ArchiveEntry]) -> list[bytes | memoryview]:
        """The members' bytes."""
        return [self.members[e.name] for e in entries]

    def stream(self, entry: ArchiveEntry, sink: Callable[[bytes | memoryview], object]) -> None:
        """A member's bytes in one piece."""
        sink(self.members[entry.name])


def _meta_entries(plan: ExportPlan, meta: dict[bytes, bytes]) -> list[ArchiveEntry]:
    return [ArchiveEntry(name, FILE, 0o100644, 0, len(data), plan.mtime_ns, Blake3(data).digest(), None)
            for name, data in meta.items()]


def _entries(plan: ExportPlan) -> Iterator[ArchiveEntry]:
    if plan.with_tree:
        yield ArchiveEntry(layout.ROOT.rstrip(b"/"), DIR, 0o040755, 0, 0, plan.mtime_ns, None, None)
        for e in plan.tree_manifest:
            if e.kind in (FILE, DIR, SYMLINK):
                yield ArchiveEntry(layout.ROOT + e.path, e.kind, e.mode, e.attrs, e.size, e.mtime_ns, e.hash, e.link)
    for digest, size in plan.objects.items():
        yield ArchiveEntry(layout.object_member(digest), FILE, 0o100644, 0, size, plan.mtime_ns, digest, None)


@dataclass
class WriteResult:
    """What writing a package did."""

    location: str
    format: str
    bytes: int
    members: int
    integrity_hash: str
    stats: dict


def write_package(sink: Sink, fmt: str, plan: ExportPlan, *, tree_source: TreeSource | StoreSource,
                  store_source: StoreSource, threads: int = 0,
                  progress: Callable[[int, int], object] | None = None, cancel: Cancel | None = None) -> WriteResult:
    """Writes the plan as a fmt package to sink; the caller commits or aborts the sink.

    progress(bytes_done, bytes_total) counts file content.
    """
    if fmt not in FORMATS:
        raise errors.InvalidInput(f"package format is zip or 7z, not {fmt!r}")
    threads = threads or max(1, min(8, os.cpu_count() or 2))
    meta = plan.metadata()
    source: ContentSource = RoutedSource({layout.META: MemorySource(meta), layout.OBJECTS: store_source,
                                          layout.ROOT: tree_source})
    total = plan.content_bytes() + sum(len(v) for v in meta.values())
    report = (lambda done: progress(done, total)) if progress is not None else None
    writer: ZipWriter | SevenZipWriter = ZipWriter(sink, threads=threads) if fmt == "zip" \
        else SevenZipWriter(sink, threads=threads)
    # The metadata in a call of its own: its members come first whatever order a writer's folders need.
    writer.write_entries(_meta_entries(plan, meta), source, report, cancel)
    writer.write_entries(_entries(plan), source, report, cancel)
    stats = writer.finish()
    digest = sink.hash()
    return WriteResult(sink.location, fmt, sink.tell(), stats.entries, digest, dict(stats.__dict__))
