"""bodega-app.json: what a payload says about itself (name, version, vendor, platform, entry points).

    {"name": "VLC", "version": "3.0.20", "vendor": "VideoLAN", "platform": "linux-x64",
     "entry_points": [{"name": "vlc", "command": "bin/vlc", "icon": "share/vlc.png",
                       "args": ["--intf", "qt"]}]}

Every key is optional.  Entry points become {"name", "command", "icon", "options": {"args"}};
command is relative to the app's install path.  Options given on the command line win.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from bodega import errors
from bodega.storage import strict_json

FILE_NAME = "bodega-app.json"
MAX_BYTES = 1 << 20
PLATFORMS = ("linux-x64", "linux-arm64", "windows-x64", "windows-arm64")


@dataclass(frozen=True)
class AppManifest:
    """The fields of a bodega-app.json (empty when absent)."""

    name: str = ""
    version: str = ""
    vendor: str = ""
    platform: str = ""
    entry_points: list[dict[str, Any]] = field(default_factory=list)


def parse_app_manifest(data: bytes, where: str = FILE_NAME) -> AppManifest:
    """An AppManifest from the bytes of a bodega-app.json; InvalidInput naming the problem."""
    # strictly: what it holds goes into the catalogue and manifest.json, which hold UTF-8 JSON
    # (a lone surrogate or a NaN accepted here failed only when the install stored it)
    doc = strict_json.loads(data, where, errors.InvalidInput, max_bytes=MAX_BYTES)
    if not isinstance(doc, dict):
        raise errors.InvalidInput(f"{where}: not a JSON object")
    text = {}
    for key in ("name", "version", "vendor", "platform"):
        value = doc.get(key, "")
        if not isinstance(value, str) or len(value) > 200:
            raise errors.InvalidInput(f"{where}: {key} must be text of at most 200 characters")
        text[key] = value
    if text["platform"] and text["platform"] not in PLATFORMS:
        raise errors.InvalidInput(f"{where}: platform {text['platform']!r} is not one of {', '.join(PLATFORMS)}")
    raw = doc.get("entry_points", [])
    if not isinstance(raw, list):
        raise errors.InvalidInput(f"{where}: entry_points must be a list")
    entries = []
    for ep in raw:
        if not isinstance(ep, dict):
            raise errors.InvalidInput(f"{where}: entry point {ep!r} is not an object")
        args = ep.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise errors.InvalidInput(f"{where}: entry point {ep.get('name')!r}: args must be a list of text")
        out = {k: v for k, v in ep.items() if k in ("name", "command", "icon")}
        options = dict(ep.get("options", {})) if isinstance(ep.get("options", {}), dict) else None
        if options is None:
            raise errors.InvalidInput(f"{where}: entry point {ep.get('name')!r}: options must be an object")
        if args:
            options["args"] = args
        if options:
            out["options"] = options
        entries.append(out)
    return AppManifest(entry_points=entries, **text)
