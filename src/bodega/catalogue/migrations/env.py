"""Alembic environment for the catalogue: bodega passes its own connection in config.attributes."""
from __future__ import annotations

from alembic import context

from bodega.catalogue.models import Base

config = context.config


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=True,  # SQLite has almost no ALTER: alter by copy-and-move
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"), target_metadata=Base.metadata,
                      render_as_batch=True, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    _run(config.attributes["connection"])
else:
    # Run by the plain `alembic` command: open the catalogue the way bodega does.
    from bodega.catalogue.db import Catalogue
    from bodega.home import Home

    catalogue = Catalogue.for_home(Home.at())
    try:
        with catalogue.engine.connect() as conn:
            _run(conn)
    finally:
        catalogue.close()
