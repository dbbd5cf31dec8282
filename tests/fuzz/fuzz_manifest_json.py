"""Coverage-guided fuzzing of bodega's JSON metadata decoders with atheris: a payload's
bodega-app.json (what an app install reads) and a container's manifest.json (what
`bodega container recover` rebuilds catalogue rows from).

    PYTHONPATH=src python tests/fuzz/fuzz_manifest_json.py -runs=100000

The first byte picks the decoder (even: bodega-app.json, odd: manifest.json), the rest is the
file.  Each accepted input goes on through what bodega does with it next: an app's entry points
are validated and its fields stored as JSON text (UTF-8, as the catalogue and manifest.json
hold them); a manifest.json gives the container's id, name, tags and columns and a row for
each app instance and snapshot.  A bodega error is the decoder refusing bad input; anything
else escaping is a finding.
"""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run, scratch_file  # noqa: E402
from seeds import APP_JSON, container_manifest  # noqa: E402

import jsonschema  # noqa: F401,E402  (not instrumented, like sqlalchemy: a fast start; the decoders are bodega's)
import sqlalchemy  # noqa: F401,E402

with atheris.instrument_imports():
    import dataclasses
    import json
    import uuid
    from pathlib import Path

    from bodega import errors
    from bodega.services import containers
    from bodega.services.apps import validate_entry_points
    from bodega.storage.app_manifest import parse_app_manifest
    from bodega.storage.container_manifest import read_manifest

CONTAINER_DIR = Path(scratch_file("container"))
CONTAINER_DIR.mkdir()
FAKE_ID = uuid.UUID(int=1)


def app_json(data: bytes) -> None:
    try:
        meta = parse_app_manifest(data)
        if meta.entry_points:
            validate_entry_points(meta.entry_points)
    except errors.BodegaError:
        return
    # stored as the catalogue and manifest.json store it: strict JSON in UTF-8
    json.dumps(dataclasses.asdict(meta), ensure_ascii=False, allow_nan=False).encode()


def manifest_json(data: bytes) -> None:
    (CONTAINER_DIR / "manifest.json").write_bytes(data)
    try:
        manifest = read_manifest(CONTAINER_DIR)
        # as recover() and its task read it
        uuid.UUID(manifest["container_id"])
        containers.validate_name(manifest["container"]["name"])
        containers.validate_tags(manifest["container"]["tags"])
        containers.manifest_fields(manifest)
        for app in manifest.get("app_instances", []):
            containers.app_row(FAKE_ID, app)
        for snap in manifest.get("snapshots", []):
            containers.snapshot_row(FAKE_ID, snap)
    except errors.BodegaError:
        return


def one_input(data: bytes) -> None:
    if data:
        (manifest_json if data[0] & 1 else app_json)(data[1:])


if __name__ == "__main__":
    run(one_input, {"app.json": b"\x00" + json.dumps(APP_JSON).encode(),  # with \\u escapes and a float to mutate
                    "manifest.json": b"\x01" + container_manifest()})
