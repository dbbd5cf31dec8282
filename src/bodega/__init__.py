"""bodega: app containers on a workstation, with copy-on-write clones and checked snapshots.

`bodega.open(home=None) -> Bodega` opens a home and gives the typed services (see
bodega.services).  It is imported on first use, so `import bodega` stays light.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from bodega._version import __version__
from bodega.errors import BodegaError

if TYPE_CHECKING:
    from bodega.services import Bodega, open

__all__ = ["__version__", "BodegaError", "Bodega", "open"]


def __getattr__(name: str) -> Any:
    # The services pull in SQLAlchemy; submodules load on first use so `import bodega` stays light.
    if name in ("open", "Bodega"):
        from bodega import services

        return getattr(services, name)
    if name == "manifest":
        from bodega.storage import manifest

        return manifest
    raise AttributeError(f"module 'bodega' has no attribute {name!r}")
