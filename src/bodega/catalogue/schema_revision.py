"""The Alembic head this code expects; tests/catalogue/test_migrations.py keeps it honest.

Knowing it here lets every command check the schema with one SELECT instead of loading
Alembic's script directory, and lets light readers check it without SQLAlchemy.
"""
SCHEMA_REVISION = "0006_scaleout"
