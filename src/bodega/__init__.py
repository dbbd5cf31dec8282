"""bodega: app containers on a workstation, with copy-on-write clones and checked snapshots.

`bodega.fs` (bodega.storage.fs) clones and scans trees.  It is imported on first use, so
`import bodega` stays light.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bodega._version import __version__
from bodega.errors import BodegaError

if TYPE_CHECKING:
    from bodega.storage import fs, manifest

__all__ = ["__version__", "BodegaError", "fs", "manifest"]

_LAZY_MODULES = {"fs": "bodega.storage.fs", "manifest": "bodega.storage.manifest"}


def __getattr__(name: str) -> Any:
    # The native core loads only when someone asks for it.
    if name in _LAZY_MODULES:
        module = importlib.import_module(_LAZY_MODULES[name])
        globals()[name] = module
        return module
    raise AttributeError(f"module 'bodega' has no attribute {name!r}")
