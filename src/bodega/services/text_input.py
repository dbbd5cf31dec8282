"""Text people give (names, tags, labels, filters): it must be Unicode to be stored or searched.

A command line's bytes that are not UTF-8 reach Python as lone surrogates ("\\udcff"); the
catalogue cannot hold them, so they are refused where they come in, with the caller's error.
"""
from __future__ import annotations

from typing import Any

from bodega.errors import BodegaError, InvalidInput


def is_text(value: Any) -> bool:
    """True when value is a str that UTF-8 can encode (no lone surrogates)."""
    if not isinstance(value, str):
        return False
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def require_text(value: Any, what: str, error: type[BodegaError] = InvalidInput) -> str:
    """value if it is Unicode text; error saying what is not otherwise."""
    if not is_text(value):
        raise error(f"{what} {value!r} is not UTF-8 text" if isinstance(value, str) else f"{what} must be text")
    return value
