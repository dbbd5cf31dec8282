"""A delta's foreign key to its base is checked at commit (DEFERRABLE INITIALLY DEFERRED).

Forgetting a chain of deltas deletes several snapshots that are each other's bases in one
transaction; checked row by row, the order of the deletes decided whether it failed (issue
10, item 15).  Checked at commit, the transaction as a whole must leave no delta without its
base, whatever the order.

Revision ID: 0002_forget_order
Revises: 0001
"""
from __future__ import annotations

from alembic import op

revision = '0002_forget_order'
down_revision = '0001'
branch_labels = None
depends_on = None

FK = 'fk_snapshots_base_snapshot_id_snapshots'
COLUMNS = (['base_snapshot_id', 'container_id'], ['id', 'container_id'])


def _recreate() -> str:
    # SQLite cannot alter a foreign key: the table is copied; PostgreSQL alters it in place
    # (a copy would drop the unique key the foreign key itself depends on).
    return 'always' if op.get_context().dialect.name == 'sqlite' else 'auto'


def upgrade() -> None:
    with op.batch_alter_table('snapshots', recreate=_recreate()) as batch_op:
        batch_op.drop_constraint(FK, type_='foreignkey')
        batch_op.create_foreign_key(FK, 'snapshots', *COLUMNS, deferrable=True, initially='DEFERRED')


def downgrade() -> None:
    with op.batch_alter_table('snapshots', recreate=_recreate()) as batch_op:
        batch_op.drop_constraint(FK, type_='foreignkey')
        batch_op.create_foreign_key(FK, 'snapshots', *COLUMNS)
