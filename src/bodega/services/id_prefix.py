"""Finding a row by its UUID or by a unique prefix of it, as people type ids on the command line.

A reference that reads as an id (`looks_like_id`: 4 to 32 hex digits, dashes allowed, any
case) is only ever looked up as an id; names that read as ids are refused (`refuse_id_like`),
so no name can shadow an id or an id prefix.  SQLAlchemy is imported only by the lookup: the
rest serves readers of the catalogue file (services/snapshot_diff.py) too.
"""
from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any, TypeVar

from bodega.errors import AmbiguousReference, InvalidName

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

MIN_PREFIX = 4
ID_DIGITS = 32
_HEX = frozenset("0123456789abcdef")
Row = TypeVar("Row")


def id_digits(ref: str) -> str:
    """ref as the hex digits an id lookup compares: no spaces around, no dashes, lower case."""
    return ref.strip().lower().replace("-", "")


def looks_like_id(ref: Any) -> bool:
    """True when ref reads as an id or an id prefix: 4 to 32 hex digits, dashes allowed, any case."""
    if isinstance(ref, uuid.UUID):
        return True
    if not isinstance(ref, str):
        return False
    digits = id_digits(ref)
    return MIN_PREFIX <= len(digits) <= ID_DIGITS and all(c in _HEX for c in digits)


def refuse_id_like(name: str, noun: str) -> None:
    """InvalidName when name reads as an id or id prefix, which it could then shadow."""
    if looks_like_id(name):
        raise InvalidName(f"{noun} name {name!r} reads as an id ({MIN_PREFIX} to {ID_DIGITS} hex digits, dashes "
                          f"allowed) and could be taken for another {noun}'s id: use a letter other than a-f in it")


def whole_id(ref: Any) -> uuid.UUID | None:
    """ref as a UUID when it is one, or the whole text of one (32 hex digits, dashed or not); else None."""
    if isinstance(ref, uuid.UUID):
        return ref
    if isinstance(ref, str) and len(ref.strip()) in (32, 36) and looks_like_id(ref):
        try:
            return uuid.UUID(ref.strip())
        except ValueError:
            return None
    return None


def find_by_id(s: Session, model: type[Row], ref: str | uuid.UUID, noun: str) -> Row | None:
    """The row of model whose id is ref or starts with it (4+ hex digits); None when there is none.

    AmbiguousReference when the prefix matches several rows.
    """
    import sqlalchemy as sa

    whole = whole_id(ref)
    if whole is not None:  # a key lookup rather than a prefix scan
        return s.get(model, whole)
    if not looks_like_id(ref):
        return None
    prefix = id_digits(ref)
    column = model.id  # type: ignore[attr-defined]
    # Compared without dashes: SQLite stores the 32 hex digits, PostgreSQL prints the dashed form.
    rows = s.scalars(sa.select(model).where(
        sa.func.replace(sa.cast(column, sa.String), "-", "").like(prefix + "%")).limit(2)).all()
    if len(rows) > 1:
        raise AmbiguousReference(f"{noun} id {ref!r} matches more than one {noun}: give more of it")
    return rows[0] if rows else None
