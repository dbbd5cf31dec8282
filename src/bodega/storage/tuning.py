"""The engine's tunables and the home's tuning file (`$BODEGA_HOME/tuning.json`), which
`bodega tune` writes with the figures that chose each value.

Each tunable is None until tuned or set by hand: the engine then keeps its built-in default
(the constants of the modules that use it).  Hand-set values (`bodega setting set tune.NAME N`)
win over tuned ones: `Tuning.over` lays them on top.
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

from bodega import errors
from bodega.storage.atomic_file import write_file_atomic

FILE_NAME = "tuning.json"
FORMAT = "bodega-tuning"
VERSION = 1


@dataclass(frozen=True)
class Knob:
    """What one tunable means, its bounds and the engine's default for it."""

    help: str
    low: int
    high: int
    default: int


def _cpus() -> int:
    return os.cpu_count() or 2


KNOBS: dict[str, Knob] = {
    "hash_threads": Knob("threads reading, hashing and storing files (snapshot, diff, restore scans)", 1, 64,
                         max(2, min(8, _cpus()))),
    "clone_threads": Knob("threads cloning files (container clone, app install from a directory)", 1, 16,
                          min(_cpus(), 16)),
    "zstd_level": Knob("zstd level of the objects packed into the store", 1, 19, 3),
    "pack_max": Knob("bytes in a store pack before the next one starts", 1 << 20, 1 << 30, 32 << 20),
    "batch_files": Knob("small files read, hashed and stored together in one native batch", 16, 4096,
                        1024),
}


@dataclass(frozen=True)
class Tuning:
    """The values commands run with; None keeps the engine's built-in default."""

    hash_threads: int | None = None
    clone_threads: int | None = None
    zstd_level: int | None = None
    pack_max: int | None = None
    batch_files: int | None = None

    def effective(self, name: str) -> int:
        """The value used for name: its own, else the built-in default."""
        value = getattr(self, name)
        return KNOBS[name].default if value is None else value

    def over(self, base: "Tuning") -> "Tuning":
        """base with this tuning's values (those not None) laid on top."""
        return replace(base, **{k: v for k, v in asdict(self).items() if v is not None})

    def to_dict(self) -> dict[str, int | None]:
        """A JSON-ready dict."""
        return asdict(self)


NAMES = tuple(f.name for f in fields(Tuning))


def check_value(name: str, value: Any) -> int:
    """value as name's whole number within its bounds, or InvalidInput."""
    knob = KNOBS[name]
    if isinstance(value, bool) or not isinstance(value, int) or not knob.low <= value <= knob.high:
        raise errors.InvalidInput(f"{name} is a whole number from {knob.low} to {knob.high}, not {value!r}")
    return value


def path(home_root: Path) -> Path:
    """The tuning file of a home."""
    return home_root / FILE_NAME


def load_record(home_root: Path) -> dict[str, Any] | None:
    """The tuning file's whole record (values and figures), or None when the home was never tuned."""
    p = path(home_root)
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as e:
        raise errors.os_error(e, "read tuning", p) from None
    try:
        record = json.loads(data)
        if not isinstance(record, dict) or record.get("format") != FORMAT or not isinstance(record.get("values"), dict):
            raise ValueError("not a bodega tuning file")
        if record.get("version") != VERSION:
            raise ValueError(f"version {record.get('version')!r}, this bodega reads {VERSION}")
        for name, value in record["values"].items():
            if name not in KNOBS:
                raise ValueError(f"unknown tunable {name!r}")
            if value is not None:
                check_value(name, value)
    except (ValueError, errors.InvalidInput) as e:
        raise errors.InvalidSettings(f"{p} is damaged ({e}): run `bodega tune` again or remove it") from None
    return record


def load(home_root: Path) -> Tuning:
    """The tuned values of a home (all None when it was never tuned)."""
    record = load_record(home_root)
    return Tuning(**record["values"]) if record else Tuning()


def save(home_root: Path, tuning: Tuning, figures: dict[str, Any]) -> dict[str, Any]:
    """Writes the tuned values and the figures that chose them, atomically; the record written."""
    record = {"format": FORMAT, "version": VERSION, "values": tuning.to_dict(), **figures}
    write_file_atomic(path(home_root), (json.dumps(record, indent=2, sort_keys=True) + "\n").encode())
    return record
