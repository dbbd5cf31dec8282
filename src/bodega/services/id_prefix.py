"""Finding a row by its UUID or by a unique prefix of it, as people type ids on the command line."""
from __future__ import annotations

import uuid
from typing import TypeVar

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega.errors import AmbiguousReference

MIN_PREFIX = 4
Row = TypeVar("Row")


def find_by_id(s: Session, model: type[Row], ref: str | uuid.UUID, noun: str) -> Row | None:
    """The row of model whose id is ref or starts with it (4+ hex digits); None when there is none.

    AmbiguousReference when the prefix matches several rows.
    """
    if isinstance(ref, uuid.UUID):
        return s.get(model, ref)
    if len(ref.strip()) in (32, 36):  # a whole id: a key lookup rather than a prefix scan
        try:
            return s.get(model, uuid.UUID(ref.strip()))
        except ValueError:
            pass
    prefix = ref.strip().lower().replace("-", "")
    if len(prefix) < MIN_PREFIX or any(c not in "0123456789abcdef" for c in prefix):
        return None
    column = model.id  # type: ignore[attr-defined]
    # Compared without dashes: SQLite stores the 32 hex digits, PostgreSQL prints the dashed form.
    rows = s.scalars(sa.select(model).where(
        sa.func.replace(sa.cast(column, sa.String), "-", "").like(prefix + "%")).limit(2)).all()
    if len(rows) > 1:
        raise AmbiguousReference(f"{noun} id {ref!r} matches more than one {noun}: give more of it")
    return rows[0] if rows else None
