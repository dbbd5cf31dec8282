"""bodega: app containers on a workstation, with copy-on-write clones and checked snapshots."""
from bodega._version import __version__
from bodega.errors import BodegaError

__all__ = ["__version__", "BodegaError"]


def __getattr__(name: str):
    # Submodules load on first use, so `import bodega` stays light.
    if name == "manifest":
        from bodega.storage import manifest

        return manifest
    raise AttributeError(f"module 'bodega' has no attribute {name!r}")
