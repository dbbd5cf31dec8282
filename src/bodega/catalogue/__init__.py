"""The catalogue: SQLAlchemy models, Alembic migrations and the database session."""
