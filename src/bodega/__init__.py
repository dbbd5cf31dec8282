"""bodega: app containers on a workstation, with copy-on-write clones and checked snapshots.

`bodega.open(home=None) -> Bodega` opens a home and gives the typed services (see
bodega.services); `bodega.fs` clones and scans trees; `bodega.manifest` builds, diffs and
verifies checksum manifests.  Each is imported on first use, so `import bodega` stays light.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from bodega._version import __version__

if TYPE_CHECKING:
    from bodega.errors import BodegaError
    from bodega.services import Bodega, open
    from bodega.storage import fs, manifest

__all__ = ["__version__", "BodegaError", "Bodega", "open", "fs", "manifest"]

_LAZY_MODULES = {"fs": "bodega.storage.fs", "manifest": "bodega.storage.manifest"}


def __getattr__(name: str) -> Any:
    # The native core and SQLAlchemy load only when someone asks for them (and the error tree:
    # `bodega --version` needs none of it).
    if name == "BodegaError":
        from bodega.errors import BodegaError

        return BodegaError
    if name in _LAZY_MODULES:
        module = importlib.import_module(_LAZY_MODULES[name])
        globals()[name] = module
        return module
    if name in ("open", "Bodega"):
        from bodega import services

        return getattr(services, name)
    raise AttributeError(f"module 'bodega' has no attribute {name!r}")
