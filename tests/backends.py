"""What a test does to the catalogue behind a home, whichever back end it is (SQLite, PostgreSQL)."""
from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def _postgres_url() -> str | None:
    url = os.environ.get("BODEGA_DATABASE_URL", "")
    return url if url.startswith("postgresql") else None


def _connect(url: str):
    import psycopg

    return psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://"))


def lose_catalogue(home: Path) -> None:
    """Destroys the home's catalogue: its SQLite file, or every table of its PostgreSQL database."""
    url = _postgres_url()
    if url is None:
        for f in home.glob("bodega.db*"):
            f.unlink()
        return
    with _connect(url) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@contextmanager
def write_lock_held(home: Path) -> Iterator[None]:
    """Another process in the middle of a long write: every writer of the catalogue waits."""
    url = _postgres_url()
    if url is None:
        holder = sqlite3.connect(home / "bodega.db", isolation_level=None)
        holder.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()
        return
    with _connect(url) as conn:  # the event counter: the last row every write transaction takes
        conn.execute("SELECT last FROM event_sequence FOR UPDATE")
        try:
            yield
        finally:
            conn.rollback()
