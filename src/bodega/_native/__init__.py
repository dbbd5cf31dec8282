"""The compiled core of bodega: the only package that calls C.

Two back ends bind the same C core with the same Python API: Cython (the modules in this
package) and cffi (`cffi_backend`, API mode).  BODEGA_BACKEND=cython|cffi picks one; the
default is Cython on CPython and cffi on PyPy.  With cffi, this package serves the cffi
modules under its own names, so `from bodega._native.scan import scan` means the chosen one.
Importing it also publishes `features`, the native capabilities of this build, and
`BACKEND`, the back end in use (both shown by `bodega doctor`).
"""
from __future__ import annotations

import importlib
import os
import platform
import sys

from bodega import errors

# The modules each back end provides, under the same names.
MODULES = ("_status", "_progress", "_batch", "fault", "hash", "chunk", "clone", "scan", "manifest", "tree", "process", "tar")
BACKENDS = ("cython", "cffi")


def default_backend() -> str:
    """The back end used when BODEGA_BACKEND is not set: Cython on CPython, cffi elsewhere (PyPy)."""
    return "cython" if platform.python_implementation() == "CPython" else "cffi"


def chosen_backend() -> str:
    """The back end BODEGA_BACKEND names (InvalidInput naming the choices when it names none)."""
    name = os.environ.get("BODEGA_BACKEND", "").strip().lower() or default_backend()
    if name not in BACKENDS:
        raise errors.InvalidInput(f"BODEGA_BACKEND must be one of {', '.join(BACKENDS)}, not {name!r}")
    return name


BACKEND: str = chosen_backend()
PLATFORM = "win32" if sys.platform == "win32" else "posix"

try:
    if BACKEND == "cffi":
        for _name in MODULES:
            _module = importlib.import_module(f"bodega._native.cffi_backend.{_name}")
            sys.modules[f"{__name__}.{_name}"] = _module
            globals()[_name] = _module
    else:
        from bodega._native import _status  # noqa: F401  (the C -> Python error translation)
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        f"bodega's native core ({BACKEND} back end) is not built; install with `pip install .` "
        "(needs a C compiler and the Python headers)"
    ) from exc

from bodega._native.clone import features as _features  # noqa: E402

features: frozenset[str] = _features()
