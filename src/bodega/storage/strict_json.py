"""JSON from outside (settings, a container's manifest.json): read strictly, one clear error otherwise.

Python's json module accepts NaN and Infinity (which are not JSON), keeps the last of two
equal keys, and recurses once per level of nesting (a deeply nested array is a
RecursionError).  Here each of those is the caller's error class with a one-line reason, and
nothing nested deeper than MAX_DEPTH goes on to code that would walk it recursively.
"""
from __future__ import annotations

import json
import math
from typing import Any

from bodega.errors import BodegaError, os_error

MAX_DEPTH = 64
MAX_BYTES = 1 << 20  # a JSON input is small; a file larger than this is not one (or is /dev/zero)


class _Refused(ValueError):
    """Raised inside the parser's hooks; turned into the caller's error with its message."""


def _no_constants(name: str) -> Any:
    raise _Refused(f"{name} is not a JSON number")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _Refused(f"the key {key!r} is given twice")
        out[key] = value
    return out


def loads(data: str | bytes, what: str, error: type[BodegaError], max_bytes: int = MAX_BYTES) -> Any:
    """The value of JSON text data; error(message) naming what is wrong with it otherwise."""
    if len(data) > max_bytes:
        raise error(f"{what} is larger than {max_bytes} bytes: not a JSON input bodega reads")
    try:
        value = json.loads(data, parse_constant=_no_constants, object_pairs_hook=_unique_keys)
    except RecursionError:
        raise error(f"{what} is nested too deeply (at most {MAX_DEPTH} levels)") from None
    except _Refused as e:
        raise error(f"{what} is not valid JSON: {e}") from None
    except ValueError as e:  # JSONDecodeError, bytes that are not UTF-8, an integer too long to read
        raise error(f"{what} is not valid JSON: {e}") from None
    check_plain(value, what, error)
    return value


def read_file(path: str, what: str, error: type[BodegaError], max_bytes: int = MAX_BYTES) -> Any:
    """The JSON value in the file at path, read up to max_bytes (a device never ends, a fifo is read
    to its end); error(message) when it cannot be read or is not strict JSON."""
    try:
        with open(path, "rb") as f:
            data = f.read(max_bytes + 1)
    except OSError as e:
        raise os_error(e, f"read {what}", path) from None
    except ValueError as e:  # a NUL in the path
        raise error(f"cannot read {what} {path!r}: {e}") from None
    return loads(data, f"{what} {path}", error, max_bytes)


def check_plain(value: Any, what: str, error: type[BodegaError]) -> None:
    """error unless value is plain JSON data: at most MAX_DEPTH deep, finite numbers, Unicode text.

    Walks without recursion, so it also stops a structure that contains itself.
    """
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()  # depth: how many arrays and objects hold item
        if depth >= MAX_DEPTH and isinstance(item, (dict, list, tuple)):
            raise error(f"{what} is nested too deeply (at most {MAX_DEPTH} levels)")
        if isinstance(item, float) and not math.isfinite(item):
            raise error(f"{what}: {item} is not a JSON number")
        if isinstance(item, str):
            _check_text(item, what, error)
        elif isinstance(item, dict):
            for key, child in item.items():
                if not isinstance(key, str):
                    raise error(f"{what}: the key {key!r} is not text")
                _check_text(key, what, error)
                stack.append((child, depth + 1))
        elif isinstance(item, (list, tuple)):
            stack.extend((child, depth + 1) for child in item)


def _check_text(text: str, what: str, error: type[BodegaError]) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise error(f"{what}: {text[:40]!r} is not Unicode text (it holds a lone surrogate)") from None
