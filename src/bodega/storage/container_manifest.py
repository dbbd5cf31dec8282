"""A container's manifest.json: its catalogue rows in a portable file inside the container.

The catalogue is the source of truth; manifest.json is rewritten in step with it and holds
enough to rebuild the container's rows in an empty catalogue (`bodega container recover`):
    {"schema_version": 1, "container_id": "...",
     "container": {"name", "description", "status", "platform", "owner", "tags", "settings",
                   "created_at", "updated_at"},
     "app_instances": [{"id", "name", "version", "vendor", "install_source", "source_hash", "path",
                        "entry_points", "status", "created_at", "updated_at"}, ...],
     "snapshots": [{"id", "label", "type", "base_snapshot_id", "size_bytes",
                    "checksum_manifest", "trigger", "created_at"}, ...],
     "runtime": {"env": {...}, "mounts": [...]}, "compat_flags": [...]}
"""
from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

from bodega.errors import ContainerManifestInvalid, os_error
from bodega.storage import strict_json
from bodega.storage.atomic_file import write_file_atomic

FILE_NAME = "manifest.json"
SCHEMA_VERSION = 1
MAX_BYTES = 64 << 20  # a manifest.json lists every snapshot: far more than any settings text


def write_manifest(container_dir: Path, manifest: dict[str, Any]) -> None:
    """Writes container_dir/manifest.json atomically."""
    data = json.dumps(manifest, indent=2, sort_keys=True, ensure_ascii=False).encode() + b"\n"
    write_file_atomic(container_dir / FILE_NAME, data)


def read_manifest(container_dir: Path) -> dict[str, Any]:
    """Reads and checks container_dir/manifest.json; ContainerManifestInvalid says what is wrong."""
    path = container_dir / FILE_NAME
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ContainerManifestInvalid(f"{path}: no manifest.json: not a bodega container directory",
                                       path=str(path)) from None
    except OSError as e:  # unreadable is not invalid: the error of its errno (AccessDenied, IsADirectory...)
        raise os_error(e, "read container manifest", path) from None
    manifest = strict_json.loads(data, str(path), ContainerManifestInvalid, max_bytes=MAX_BYTES)

    def bad(why: str) -> ContainerManifestInvalid:
        return ContainerManifestInvalid(f"{path}: {why}", path=str(path))

    if not isinstance(manifest, dict):
        raise bad("not a JSON object")
    if manifest.get("schema_version") != SCHEMA_VERSION:
        raise bad(f"schema_version {manifest.get('schema_version')!r} is not {SCHEMA_VERSION}")
    try:
        uuid.UUID(str(manifest.get("container_id")))
    except ValueError:
        raise bad(f"container_id {manifest.get('container_id')!r} is not a UUID") from None
    container = manifest.get("container")
    if not isinstance(container, dict):
        raise bad("no 'container' object")
    for key, kind in (("name", str), ("platform", str), ("status", str), ("tags", list), ("settings", dict)):
        if not isinstance(container.get(key), kind):
            raise bad(f"container.{key} is missing or not a {kind.__name__}")
    for key in ("app_instances", "snapshots"):
        if not isinstance(manifest.get(key, []), list) or not all(isinstance(x, dict) for x in manifest.get(key, [])):
            raise bad(f"{key} is not a list of objects")
    return manifest
