"""The schema is built by Alembic migrations, and the models agree with them."""
from __future__ import annotations

import sqlalchemy as sa
from alembic import command
from alembic.script import ScriptDirectory

from bodega.catalogue.db import MIGRATIONS, SCHEMA_REVISION, Catalogue
from bodega.catalogue.models import Base

import pytest
from bodega import errors


@pytest.fixture
def catalogue(tmp_path):
    c = Catalogue(f"sqlite:///{tmp_path / 'bodega.db'}")
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
