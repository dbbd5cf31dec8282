"""The compiled core of bodega: the only package that calls C.

Importing it checks that the compiled modules are present and publishes `features`, the
set of native capabilities of this build (shown by `bodega doctor`).
"""
from __future__ import annotations

import sys

try:
    from bodega._native import _status  # noqa: F401  (the C -> Python error translation)
except ImportError as exc:  # pragma: no cover - only on a broken install
    raise ImportError(
        "bodega's native core is not built; install with `pip install .` "
        "(needs a C compiler and the Python headers)"
    ) from exc

PLATFORM = "win32" if sys.platform == "win32" else "posix"

from bodega._native.clone import features as _features  # noqa: E402

features: frozenset[str] = _features()
