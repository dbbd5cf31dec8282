"""Reading a package: its description, manifests and members, every byte checked by hash.

read_package() walks an open archive once, in member order: the metadata first (package.json,
the container's manifest.json, the tree and snapshot manifests, each checked: a manifest
file's own checksums and root, and its root against package.json), then every member of the
tree and every object, hashed as it is read and compared with what the manifests say.  A
member that does not match names itself in PackageDamaged; a member the manifests do not
list, or one they list that is missing, is reported too.  Writing (import) is the caller's:
it gets each tree member with its checked entry and data stream.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import BinaryIO

from bodega import errors
from bodega._native.hash import Blake3
from bodega.storage import manifest as mf
from bodega.storage.archive import DIR, FILE, SYMLINK, Archive, Member
from bodega.storage.manifest import Entry, Manifest
from bodega.storage.package import layout

META_MAX = 256 << 20   # a metadata member larger than this is not read into memory
READ_PIECE = 1 << 20


@dataclass
class PackageContents:
    """A package's checked metadata."""

    info: layout.PackageInfo
    container_manifest: bytes
    tree: Manifest
    snapshots: dict[str, Manifest] = field(default_factory=dict)


@dataclass
class ReadReport:
    """What reading a package checked."""

    members: int = 0
    files: int = 0
    objects: int = 0
    bytes: int = 0
    objects_present: set[bytes] = field(default_factory=set)

    def to_dict(self) -> dict[str, int]:
        """A JSON-ready dict."""
        return {"members": self.members, "files": self.files, "objects": self.objects, "bytes": self.bytes}


def _damaged(archive: Archive, member: str, why: str) -> errors.PackageDamaged:
    return errors.PackageDamaged(f"{archive.path}: member {member!r}: {why}", member=member, path=archive.path)


def _read_meta(archive: Archive, m: Member) -> bytes:
    if m.size > META_MAX:
        raise errors.PackageInvalid(f"{archive.path}: member {m.shown!r} is {m.size} bytes: too large for metadata")
    with m.open() as f:
        return f.read(META_MAX + 1)


def _manifest(archive: Archive, m: Member, data: bytes, root: str) -> Manifest:
    try:
        manifest = mf.loads(data)
    except errors.BodegaError as e:
        raise _damaged(archive, m.shown, str(e)) from None
    if manifest.is_delta or manifest.root_hex != root:
        raise _damaged(archive, m.shown, f"its root {manifest.root_hex[:16]} is not the {root[:16]} "
                                         "package.json names")
    return manifest


def hash_stream(stream: BinaryIO, each: Callable[[bytes], object] | None = None) -> tuple[bytes, int]:
    """BLAKE3 and length of a stream, each piece passed to each() too."""
    h = Blake3()
    n = 0
    while piece := stream.read(READ_PIECE):
        h.update(piece)
        n += len(piece)
        if each is not None:
            each(piece)
    return h.digest(), n


TreeWriter = Callable[[Entry, Member | None], object]  # (manifest entry, member): write it (import)


def read_package(archive: Archive, *, on_metadata: Callable[[PackageContents], object] | None = None,
                 on_tree: Callable[[Entry, Member], object] | None = None,
                 on_object: Callable[[bytes, Member], object] | None = None,
                 cancel: Callable[[], bool] | None = None) -> tuple[PackageContents, ReadReport]:
    """Walks archive checking every member; the callbacks consume tree members and objects.

    on_tree(entry, member) and on_object(digest, member) must read the member's data through
    read_checked(); without them the data is only hashed (verify).
    """
    report = ReadReport()
    contents: PackageContents | None = None
    meta: dict[bytes, bytes] = {}
    seen: set[bytes] = set()
    for m in archive:
        if cancel is not None and cancel():
            raise errors.Cancelled("package reading cancelled")
        report.members += 1
        name = m.name.rstrip(b"/") if m.kind == DIR else m.name
        if name in seen:
            raise _damaged(archive, m.shown, "a duplicate member")
        seen.add(name)
        if contents is None:
            if not name.startswith(layout.META) or m.kind != FILE or name.startswith(layout.OBJECTS):
                contents = _contents(archive, meta)
                if on_metadata is not None:
                    on_metadata(contents)
            else:
                meta[name] = _read_meta(archive, m)
                continue
        if name == layout.ROOT.rstrip(b"/") and m.kind == DIR:
            continue
        if name.startswith(layout.ROOT):
            _tree_member(archive, contents, m, name[len(layout.ROOT):], report, on_tree)
        elif name.startswith(layout.OBJECTS) and m.kind == FILE:
            _object_member(archive, m, name[len(layout.OBJECTS):], report, on_object)
        else:
            raise _damaged(archive, m.shown, "not part of a bodega package's layout")
    if contents is None:
        contents = _contents(archive, meta)
        if on_metadata is not None:
            on_metadata(contents)
    _check_complete(archive, contents, report, seen)
    return contents, report


def _contents(archive: Archive, meta: dict[bytes, bytes]) -> PackageContents:
    if layout.INFO not in meta:
        raise errors.PackageInvalid(f"{archive.path}: no .bodega/package.json first: not a bodega package")
    info = layout.PackageInfo.parse(meta[layout.INFO], archive.path)
    for needed in (layout.CONTAINER_MANIFEST, layout.TREE_MANIFEST):
        if needed not in meta:
            raise errors.PackageInvalid(f"{archive.path}: member {needed.decode()} is missing")
    tree = _manifest(archive, Member(layout.TREE_MANIFEST, FILE, 0o644, 0), meta[layout.TREE_MANIFEST],
                     info.tree_root)
    snapshots = {}
    for ref in info.snapshots:
        member = layout.snapshot_member(ref.id)
        if member not in meta:
            raise errors.PackageInvalid(f"{archive.path}: member {member.decode()} is missing")
        snapshots[ref.id] = _manifest(archive, Member(member, FILE, 0o644, 0), meta[member], ref.root)
    return PackageContents(info, meta[layout.CONTAINER_MANIFEST], tree, snapshots)


def _tree_member(archive: Archive, contents: PackageContents, m: Member, path: bytes, report: ReadReport,
                 on_tree: Callable[[Entry, Member], object] | None) -> None:
    if contents.info.kind != "full":
        raise _damaged(archive, m.shown, "a delta package carries no tree")
    e = contents.tree.get(path)
    kind = {FILE: "file", DIR: "dir", SYMLINK: "symlink"}.get(m.kind)
    if e is None or e.kind != kind:
        raise _damaged(archive, m.shown, "not in the package's tree manifest" if e is None
                       else f"a {m.kind} where the manifest has a {e.kind}")
    if kind == "symlink" and m.link != e.link:
        raise _damaged(archive, m.shown, "its link target is not the manifest's")
    if kind == "file":
        report.files += 1
        report.bytes += e.size
        report.objects_present.add(e.hash)  # type: ignore[arg-type]
    if on_tree is not None:
        on_tree(e, m)
    elif kind == "file":
        read_checked(archive, m, e.hash, e.size)  # type: ignore[arg-type]


def _object_member(archive: Archive, m: Member, hexname: bytes, report: ReadReport,
                   on_object: Callable[[bytes, Member], object] | None) -> None:
    try:
        digest = bytes.fromhex(hexname.decode())
    except (UnicodeDecodeError, ValueError):
        digest = b""
    if len(digest) != 32:
        raise _damaged(archive, m.shown, "an object member whose name is not a hash")
    report.objects += 1
    report.bytes += m.size
    report.objects_present.add(digest)
    if on_object is not None:
        on_object(digest, m)
    else:
        read_checked(archive, m, digest, m.size)


def read_checked(archive: Archive, m: Member, digest: bytes, size: int,
                 each: Callable[[bytes], object] | None = None) -> int:
    """Reads a member's data (passing each piece to each) and checks its hash and size."""
    with m.open() as f:
        got, n = hash_stream(f, each)  # type: ignore[arg-type]
    if n != size or got != digest:
        raise _damaged(archive, m.shown, f"its {n} bytes do not match the BLAKE3 hash the manifest records "
                                         f"({digest.hex()[:16]}, {size} bytes)")
    return n


def _check_complete(archive: Archive, contents: PackageContents, report: ReadReport, seen: set[bytes]) -> None:
    """Every entry the tree manifest lists is a member (full packages); every object snapshots need is here."""
    if contents.info.kind == "full":
        for e in contents.tree:
            if e.kind in ("file", "dir", "symlink") and layout.ROOT + e.path not in seen:
                raise _damaged(archive, (layout.ROOT + e.path).decode("utf-8", "backslashreplace"),
                               "listed in the tree manifest but missing from the package")
    for sid, m in contents.snapshots.items():
        for e in m:
            if e.kind == "file" and e.hash not in report.objects_present:
                raise errors.PackageDamaged(
                    f"{archive.path}: snapshot {sid[:8]} needs the content of {e.path_str} "
                    f"({e.hash.hex()[:16]}), which the package does not carry", path=archive.path)  # type: ignore[union-attr]
