"""The layout of an export package (docs/export.md): member names and package.json.

    .bodega/package.json              what the package holds (this module's PackageInfo)
    .bodega/manifest.json             the container's manifest.json
    .bodega/tree.manifest             the exported tree's full manifest (docs/format.md)
    .bodega/snapshots/<id>.manifest   each exported snapshot's full manifest
    root/...                          the tree itself (full packages): what unzip and 7z x extract
    .bodega/objects/<hex>             contents snapshots need that root/ lacks (deduplicated);
                                      in a delta, every content the base lacks

Members are written in that order, metadata first, so a reader streaming the package knows
what to expect before the first byte of the tree.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from bodega import errors

FORMAT = "bodega-package"
VERSION = 1
META = b".bodega/"
INFO = b".bodega/package.json"
CONTAINER_MANIFEST = b".bodega/manifest.json"
TREE_MANIFEST = b".bodega/tree.manifest"
SNAPSHOTS = b".bodega/snapshots/"
OBJECTS = b".bodega/objects/"
ROOT = b"root/"
SYMLINK_POLICY = ("symlinks are stored as links, never followed: the member's data is the link target and its "
                  "Unix mode says S_IFLNK (zip: external attributes; 7z: attributes with 0x8000); targets are kept "
                  "as they are, relative targets climbing with ../ included")
_HEX64 = re.compile(r"^[0-9a-f]{64}$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def snapshot_member(snapshot_id: str) -> bytes:
    """The member holding a snapshot's manifest."""
    return SNAPSHOTS + snapshot_id.encode() + b".manifest"


def object_member(digest: bytes) -> bytes:
    """The member holding one object's bytes."""
    return OBJECTS + digest.hex().encode()


@dataclass
class SnapshotRef:
    """An exported snapshot: its catalogue fields and the root of its tree."""

    id: str
    root: str
    label: str = ""
    type: str = "full"
    base_snapshot_id: str | None = None
    trigger: str = "system"
    created_at: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class PackageInfo:
    """package.json: what a package holds and what its receiver needs."""

    kind: str                         # "full" or "delta"
    container: dict[str, Any]         # id, name, platform
    tree_root: str                    # root hash of the exported tree (the new state, for a delta)
    tree_snapshot: str | None         # the snapshot the tree is, if it is one
    files: int = 0
    bytes: int = 0
    snapshots: list[SnapshotRef] = field(default_factory=list)
    base: SnapshotRef | None = None   # a delta's base: the receiver must hold it
    objects: int = 0
    skipped: list[str] = field(default_factory=list)
    created_at: str = ""
    bodega_version: str = ""
    symlinks: str = SYMLINK_POLICY

    def to_bytes(self) -> bytes:
        """package.json's bytes."""
        doc = {"format": FORMAT, "version": VERSION, "kind": self.kind, "container": self.container,
               "tree": {"root": self.tree_root, "snapshot_id": self.tree_snapshot, "files": self.files,
                        "bytes": self.bytes},
               "snapshots": [s.to_dict() for s in self.snapshots],
               "base": self.base.to_dict() if self.base else None, "objects": self.objects,
               "skipped": self.skipped, "created_at": self.created_at, "bodega_version": self.bodega_version,
               "symlinks": self.symlinks}
        return json.dumps(doc, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"

    @classmethod
    def parse(cls, data: bytes, where: str) -> "PackageInfo":
        """package.json checked; PackageInvalid saying what is wrong."""
        def bad(why: str) -> errors.PackageInvalid:
            return errors.PackageInvalid(f"{where}: .bodega/package.json: {why}")

        try:
            doc = json.loads(data)
        except ValueError as e:
            raise bad(f"not JSON ({e})") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise bad("not a bodega package description")
        if doc.get("version") != VERSION:
            raise errors.PackageInvalid(f"{where}: package format version {doc.get('version')!r}; this bodega "
                                        f"reads version {VERSION}")
        try:
            tree, container = doc["tree"], doc["container"]
            if doc["kind"] not in ("full", "delta") or not isinstance(container, dict):
                raise ValueError("kind or container")
            snaps = [_snapshot(s) for s in doc.get("snapshots", [])]
            base = _snapshot(doc["base"]) if doc.get("base") else None
            if (doc["kind"] == "delta") != (base is not None):
                raise ValueError("a delta names its base, a full package none")
            if not _HEX64.match(str(tree["root"])):
                raise ValueError("tree.root is not a hash")
            tree_snapshot = tree.get("snapshot_id")
            if tree_snapshot is not None and not _UUID.match(str(tree_snapshot)):
                raise ValueError("tree.snapshot_id is not a snapshot id")
            return cls(kind=doc["kind"], container={k: str(v) for k, v in container.items() if v is not None},
                       tree_root=tree["root"], tree_snapshot=tree_snapshot, files=int(tree.get("files", 0)),
                       bytes=int(tree.get("bytes", 0)), snapshots=snaps, base=base, objects=int(doc.get("objects", 0)),
                       skipped=[str(p) for p in doc.get("skipped", [])], created_at=str(doc.get("created_at", "")),
                       bodega_version=str(doc.get("bodega_version", "")), symlinks=str(doc.get("symlinks", "")))
        except (KeyError, TypeError, ValueError) as e:
            raise bad(f"missing or invalid field ({e})") from None


def _snapshot(d: Any) -> SnapshotRef:
    if not isinstance(d, dict) or not _UUID.match(str(d.get("id"))) or not _HEX64.match(str(d.get("root"))):
        raise ValueError(f"bad snapshot {d!r}")
    base = d.get("base_snapshot_id")
    if base is not None and not _UUID.match(str(base)):
        raise ValueError(f"bad base in {d!r}")
    return SnapshotRef(id=str(d["id"]), root=str(d["root"]), label=str(d.get("label", ""))[:200],
                       type=str(d.get("type", "full")), base_snapshot_id=base,
                       trigger=str(d.get("trigger", "system")), created_at=d.get("created_at"))
