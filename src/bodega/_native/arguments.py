"""The checks both bindings make on their arguments before C sees them (one definition)."""
from __future__ import annotations

import os

from bodega import errors


def path_arg(path: object, what: str) -> bytes:
    """path as bytes for C: fs-encoded, no NUL, last component resolved when it is . or .."""
    try:
        raw = os.fsencode(os.fspath(path))
    except TypeError:
        raise errors.InvalidInput(f"{what} must be a path, not {type(path).__name__}") from None
    if not raw or b"\0" in raw:
        raise errors.InvalidInput(f"{what} is not a valid path: {os.fsdecode(raw)!r}")
    tail = os.path.basename(raw.rstrip(b"/" if os.sep == "/" else b"/\\"))
    if tail in (b"", b".", b".."):
        raw = os.path.realpath(raw)
    return raw


def text_arg(value: object, what: str) -> bytes:
    """A process argument (str or bytes) as bytes for C, without NUL bytes."""
    if isinstance(value, str):
        value = os.fsencode(value)
    if not isinstance(value, bytes) or b"\0" in value:
        raise errors.InvalidInput(f"{what} must be text without NUL bytes, not {value!r}")
    return value
