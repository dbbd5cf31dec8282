"""bodega: app containers on a workstation, with copy-on-write clones and checked snapshots."""
from bodega._version import __version__
from bodega.errors import BodegaError

__all__ = ["__version__", "BodegaError"]
