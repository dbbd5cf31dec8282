"""The catalogue database: SQLite settings, timestamps, and SQLAlchemy errors as BodegaErrors."""
from __future__ import annotations

import sqlite3
import uuid
from datetime import datetime, timezone

import pytest
import sqlalchemy as sa

from bodega import errors
from bodega.catalogue.db import Catalogue, busy_timeout, database_url
from bodega.catalogue.models import Container, ContainerLock, ContainerStatus, Platform, Role, Task, TaskStatus, User
from bodega.home import Home


@pytest.fixture
def catalogue(catalogue_url):
    """A migrated catalogue on this test's back end (SQLite, or PostgreSQL for [fleet])."""
    c = Catalogue(catalogue_url, timeout=0.3)
    c.ensure_schema()
    yield c
    c.close()


@pytest.fixture
def sqlite_catalogue(tmp_path):
    """A migrated SQLite catalogue (for what only SQLite has: pragmas, its file)."""
    c = Catalogue(f"sqlite:///{tmp_path / 'bodega.db'}", timeout=0.3)
    c.ensure_schema()
    yield c
    c.close()


def add_user(c: Catalogue, email: str = "a@x") -> uuid.UUID:
    with c.session_scope() as s:
        u = User(id=uuid.uuid4(), email=email, display_name="A", role=Role.OWNER)
        s.add(u)
    return u.id


def add_container(c: Catalogue, owner: uuid.UUID, name: str = "dev") -> uuid.UUID:
    with c.session_scope() as s:
        row = Container(id=uuid.uuid4(), owner_id=owner, name=name, status=ContainerStatus.READY,
                        platform=Platform.LINUX_X64, storage_path="/nowhere")
        s.add(row)
    return row.id


def test_sqlite_runs_in_wal_with_foreign_keys_busy_timeout_and_full_sync(sqlite_catalogue):
    with sqlite_catalogue.engine.connect() as conn:
        pragma = lambda name: conn.exec_driver_sql(f"PRAGMA {name}").scalar()  # noqa: E731
        assert pragma("journal_mode") == "wal"
        assert pragma("foreign_keys") == 1
        assert pragma("synchronous") == 2  # FULL: a commit is durable when it returns (the power-loss sweep)
        assert pragma("busy_timeout") == 300


def test_database_url_defaults_to_the_home_and_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.delenv("BODEGA_DATABASE_URL", raising=False)
    assert database_url(Home.at(tmp_path)) == f"sqlite:///{tmp_path / 'bodega.db'}"
    monkeypatch.setenv("BODEGA_DATABASE_URL", "sqlite:////elsewhere/x.db")
    assert database_url(Home.at(tmp_path)) == "sqlite:////elsewhere/x.db"


@pytest.mark.parametrize("value", ["soon", "-1"])
def test_a_bad_busy_timeout_is_a_clear_error(monkeypatch, value):
    monkeypatch.setenv("BODEGA_BUSY_TIMEOUT", value)
    with pytest.raises(errors.InvalidInput, match="BODEGA_BUSY_TIMEOUT"):
        busy_timeout()


def test_timestamps_come_back_in_utc_and_naive_ones_are_refused(catalogue):
    owner = add_user(catalogue)
    with catalogue.session_scope(write=False) as s:
        created = s.get(User, owner).created_at
    assert created.tzinfo is not None and created.utcoffset().total_seconds() == 0
    with pytest.raises(errors.InternalError, match="naive datetime"), catalogue.session_scope() as s:
        s.get(User, owner).created_at = datetime(2024, 1, 1)  # naive: a bug in the caller
    with catalogue.session_scope() as s:
        s.get(User, owner).created_at = datetime(2024, 1, 1, 12, tzinfo=timezone.utc)
    with catalogue.session_scope(write=False) as s:
        assert s.get(User, owner).created_at == datetime(2024, 1, 1, 12, tzinfo=timezone.utc)


def test_a_duplicate_name_for_one_owner_is_name_taken(catalogue):
    owner = add_user(catalogue)
    add_container(catalogue, owner)
    with pytest.raises(errors.NameTaken) as info:
        add_container(catalogue, owner)
    assert info.value.details["constraint"] == "uq_containers_owner_id_name"


def test_the_same_name_is_free_for_another_owner(catalogue):
    add_container(catalogue, add_user(catalogue, "a@x"))
    add_container(catalogue, add_user(catalogue, "b@x"))
    with catalogue.session_scope(write=False) as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Container)) == 2


def test_a_container_holding_a_task_lock_cannot_be_deleted(catalogue):
    # Seed rule 1, enforced by the database itself (container_locks -> containers is RESTRICT).
    owner = add_user(catalogue)
    cid = add_container(catalogue, owner)
    with catalogue.session_scope() as s:
        task = Task(id=uuid.uuid4(), type="test.hold", status=TaskStatus.RUNNING, container_id=cid)
        s.add(task)
        s.flush()
        s.add(ContainerLock(container_id=cid, task_id=task.id))
    with pytest.raises(errors.ContainerBusy), catalogue.session_scope() as s:
        s.execute(sa.delete(Container).where(Container.id == cid))
    with catalogue.session_scope() as s:
        s.execute(sa.delete(ContainerLock))
        s.execute(sa.delete(Container).where(Container.id == cid))


def test_a_second_lock_on_a_container_is_container_busy(catalogue):
    cid = add_container(catalogue, add_user(catalogue))
    with catalogue.session_scope() as s:
        t1 = Task(id=uuid.uuid4(), type="a", status=TaskStatus.RUNNING)
        t2 = Task(id=uuid.uuid4(), type="b", status=TaskStatus.RUNNING)
        s.add_all([t1, t2])
        s.flush()
        s.add(ContainerLock(container_id=cid, task_id=t1.id))
    with pytest.raises(errors.ContainerBusy), catalogue.session_scope() as s:
        s.add(ContainerLock(container_id=cid, task_id=t2.id))


def test_a_write_waits_out_the_busy_timeout_then_fails_clearly(sqlite_catalogue, tmp_path):
    catalogue = sqlite_catalogue
    holder = sqlite3.connect(tmp_path / "bodega.db", isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(errors.DatabaseLocked, match="locked by another process"):
            add_user(catalogue)
        with catalogue.session_scope(write=False) as s:  # readers never wait for writers (WAL)
            assert s.scalar(sa.select(sa.func.count()).select_from(User)) == 0
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    add_user(catalogue)


def test_an_unusable_database_is_a_catalogue_error(tmp_path):
    (tmp_path / "bodega.db").write_bytes(b"this is not a database" * 100)
    c = Catalogue(f"sqlite:///{tmp_path / 'bodega.db'}")
    try:
        with pytest.raises(errors.CatalogueError, match="cannot use the catalogue"):
            c.ensure_schema()
    finally:
        c.close()


def test_a_full_database_is_no_space(sqlite_catalogue):
    # SQLite's answer when the disk (here: its page limit) is full is NoSpace, not a traceback.
    from sqlalchemy import event

    catalogue = sqlite_catalogue
    catalogue.ensure_schema()
    catalogue.close()

    @event.listens_for(catalogue.engine, "connect")
    def _cap(dbapi_connection, _record):
        pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
        dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    with pytest.raises(errors.NoSpace, match="no space left to write the catalogue"):
        for _ in range(1000):
            with catalogue.session_scope() as s:
                s.add(User(email=f"{uuid.uuid4()}@example.org", display_name="x" * 150, role=Role.VIEWER))
