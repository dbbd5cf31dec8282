"""Coverage-guided fuzzing of the settings decoders with atheris: a container's settings (JSON
text checked against SETTINGS_SCHEMA, what `bodega container create/edit --settings` and the
API read) and a machine-wide setting's value (`bodega setting set KEY VALUE`).

    PYTHONPATH=src python tests/fuzz/fuzz_settings.py -runs=100000

The first byte picks the decoder (even: container settings JSON; odd: KEY NUL VALUE, the
command-line words as Python decodes them, surrogate escapes and all).  Accepted container
settings must be stored as UTF-8 JSON (the catalogue, manifest.json) and read back the same;
an accepted value must be of its setting's type.  A bodega error is the decoder refusing bad
input; anything else escaping is a finding.
"""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run  # noqa: E402

import sqlalchemy  # noqa: F401,E402  (not instrumented: a faster start)

with atheris.instrument_imports():
    import json

    import jsonschema  # noqa: F401  (validate_settings imports it when called; instrumented: its checks are the decoder's)

    from bodega import errors
    from bodega.services.container_settings import parse_settings
    from bodega.services.settings import SETTINGS, parse_value

SEED_SETTINGS = {"cpu_limit": 1.5, "memory_limit_mb": 2048, "compat_flags": ["force_32bit_path"],
                 "env": {"LANG": "C.UTF-8"}, "mounts": [{"source": "/srv/data", "target": "/data", "read_only": True}],
                 "network": {"default": "deny", "rules": [{"action": "allow", "host": "example.org", "port": 443}]}}


def container_settings(data: bytes) -> None:
    try:
        settings = parse_settings(data)
    except errors.BodegaError:
        return
    stored = json.dumps(settings, ensure_ascii=False).encode()  # as the catalogue and manifest.json hold them
    assert parse_settings(stored) == settings, (settings, stored)


def machine_setting(data: bytes) -> None:
    key, _, value = data.partition(b"\0")
    key_text, value_text = os.fsdecode(key), os.fsdecode(value)  # as sys.argv gives them
    try:
        parsed = parse_value(key_text, value_text)
    except errors.BodegaError:
        return
    spec = SETTINGS[key_text]
    assert type(parsed) is spec.type, (key_text, value_text, parsed)
    assert spec.type is bool or spec.low <= parsed <= spec.high, (key_text, parsed)


def one_input(data: bytes) -> None:
    if data:
        (machine_setting if data[0] & 1 else container_settings)(data[1:])


if __name__ == "__main__":
    seeds = {"container": b"\x00" + json.dumps(SEED_SETTINGS).encode()}
    for i, (key, spec) in enumerate(SETTINGS.items()):
        seeds[f"setting-{i}"] = b"\x01" + key.encode() + b"\0" + str(spec.default).lower().encode()
    run(one_input, seeds)
