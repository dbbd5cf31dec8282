"""The schema is built by Alembic migrations, and the models agree with them."""
from __future__ import annotations

import uuid

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from bodega.catalogue.db import MIGRATIONS, SCHEMA_REVISION, Catalogue
from bodega.catalogue.models import Base

import pytest
from bodega import errors


@pytest.fixture
def catalogue(catalogue_url):
    c = Catalogue(catalogue_url)
    yield c
    c.close()


def tables(c: Catalogue) -> set[str]:
    with c.engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names()) - {"alembic_version"}


def test_upgrade_head_builds_every_model_table(catalogue):
    catalogue.ensure_schema()
    assert tables(catalogue) == set(Base.metadata.tables)
    assert catalogue.revision() == SCHEMA_REVISION


def test_models_and_migrations_agree(catalogue):
    # `alembic check`: autogenerate against the migrated database finds nothing to do.
    catalogue.upgrade()
    with catalogue.engine.connect() as conn:
        command.check(catalogue.alembic_config(conn))


def test_check_notices_a_model_without_migration(catalogue):
    # The same check must be able to fail: a table the migrations never made is a difference.
    catalogue.upgrade()
    with catalogue.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE container_tags")
    with catalogue.engine.connect() as conn, pytest.raises(Exception, match="container_tags"):
        command.check(catalogue.alembic_config(conn))


def test_downgrade_to_base_and_back(catalogue):
    catalogue.upgrade()
    catalogue.downgrade("base")
    assert tables(catalogue) == set()
    catalogue.upgrade()
    assert tables(catalogue) == set(Base.metadata.tables)


def test_schema_revision_is_the_migrations_head():
    assert ScriptDirectory(str(MIGRATIONS)).get_current_head() == SCHEMA_REVISION


def test_a_newer_schema_is_refused(catalogue):
    catalogue.upgrade()
    with catalogue.engine.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = 'ffff_from_the_future'")
    with pytest.raises(errors.CatalogueError, match="newer than this bodega"):
        catalogue.ensure_schema()


def test_every_constraint_and_index_is_named_by_the_convention():
    prefixes = {sa.PrimaryKeyConstraint: "pk_", sa.UniqueConstraint: "uq_", sa.CheckConstraint: "ck_",
                sa.ForeignKeyConstraint: "fk_"}
    for table in Base.metadata.tables.values():
        for constraint in table.constraints:
            prefix = prefixes[type(constraint)]
            assert str(constraint.name).startswith(prefix + table.name), (table.name, constraint.name)
        for index in table.indexes:
            assert str(index.name).startswith("ix_" + table.name), index.name


def test_the_migrations_ship_with_the_package():
    # pyproject's package-data globs must match every migration file, or a wheel would lack it.
    import tomllib
    from fnmatch import fnmatch
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["bodega"]
    package = root / "src" / "bodega"
    files = [p.relative_to(package).as_posix() for p in (package / "catalogue" / "migrations").rglob("*")
             if p.is_file() and "__pycache__" not in p.parts]
    assert "catalogue/migrations/versions/0001_create_catalogue.py" in files
    for f in files:
        assert any(fnmatch(f, pat) for pat in patterns), f"{f} would not be in a wheel"
    assert (MIGRATIONS / "versions" / "0001_create_catalogue.py").is_file()  # and this bodega has them


def _chain_of_deltas(c: Catalogue) -> list[uuid.UUID]:
    """A user, a container and three snapshots: a full one and two deltas, each on the one before."""
    from bodega.catalogue.models import Snapshot, SnapshotTrigger, SnapshotType

    ids = [uuid.uuid4() for _ in range(3)]
    user_id, box_id = uuid.uuid4(), uuid.uuid4()
    with c.session_scope() as s:
        # The users and containers tables as 0001 made them (later migrations add columns the models have).
        s.execute(sa.text("INSERT INTO users (id, email, display_name, role, created_at) "
                          "VALUES (:id, 'u@example.org', 'u', 'owner', CURRENT_TIMESTAMP)"), {"id": user_id.hex})
        s.execute(sa.text("INSERT INTO containers (id, owner_id, name, description, status, platform, storage_path, "
                          "size_bytes, settings, created_at, updated_at) VALUES (:id, :owner, 'dev', '', 'ready', "
                          "'linux-x64', '/nowhere', 0, '{}', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP)"),
                  {"id": box_id.hex, "owner": user_id.hex})
        for i, sid in enumerate(ids):
            s.add(Snapshot(id=sid, container_id=box_id, type=SnapshotType.DELTA if i else SnapshotType.FULL,
                           base_snapshot_id=ids[i - 1] if i else None, checksum_manifest="00",
                           trigger=SnapshotTrigger.MANUAL))
            s.flush()
    return ids


def _delete(c: Catalogue, *ids: uuid.UUID) -> None:
    with c.engine.begin() as conn:  # one transaction, in this order
        for sid in ids:
            conn.execute(sa.text("DELETE FROM snapshots WHERE id = :id"), {"id": sid.hex})


def test_forget_order_checks_a_deltas_base_at_commit_and_keeps_the_rows(catalogue):
    # 0002_forget_order (issue 10, item 15): deleting a chain parents first fails at 0001,
    # works once the check waits for the commit, and a delta left without its base still fails.
    catalogue.upgrade("0001")
    ids = _chain_of_deltas(catalogue)
    with pytest.raises(sa.exc.IntegrityError):
        _delete(catalogue, ids[1], ids[2])
    catalogue.upgrade("0002_forget_order")
    assert catalogue.revision() == "0002_forget_order"
    with catalogue.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM snapshots").scalar() == 3  # the copy kept them
    assert _base_key_deferred(catalogue)
    with pytest.raises(sa.exc.IntegrityError):
        _delete(catalogue, ids[1])  # ids[2] would be left without its base
    _delete(catalogue, ids[1], ids[2])
    catalogue.downgrade("0001")
    with catalogue.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM snapshots").scalar() == 1
    assert not _base_key_deferred(catalogue)


def _base_key_deferred(c: Catalogue) -> bool:
    """Whether the delta's key to its base is checked at commit (DEFERRABLE INITIALLY DEFERRED)."""
    with c.engine.connect() as conn:
        if c.dialect == "sqlite":
            ddl = conn.exec_driver_sql("SELECT sql FROM sqlite_master WHERE name = 'snapshots'").scalar()
            return "DEFERRABLE INITIALLY DEFERRED" in ddl
        return bool(conn.exec_driver_sql("SELECT condeferrable AND condeferred FROM pg_constraint WHERE "
                                         "conname = 'fk_snapshots_base_snapshot_id_snapshots'").scalar())
