"""Many hosts on one catalogue: the host of each container and event, and event numbers handed
out at commit from one counter row (gap-free and in commit order under concurrent writers).

Revision ID: 0006_scaleout
Revises: 0003_apps
"""
# Rules for catalogue migrations: see 0005_users_auth.
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0006_scaleout'
down_revision = '0003_apps'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('containers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))
        batch_op.create_index(batch_op.f('ix_containers_host'), ['host'], unique=False)

    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('host', sa.String(length=255), nullable=True))

    sequence = op.create_table('event_sequence',
    sa.Column('id', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('id = 1', name=op.f('ck_event_sequence_one_row')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_sequence'))
    )
    # The counter starts where the events written so far end.
    last = op.get_bind().execute(sa.text('SELECT coalesce(max(seq), 0) FROM event_logs')).scalar()
    op.bulk_insert(sequence, [{'id': 1, 'last': int(last or 0)}])


def downgrade() -> None:
    op.drop_table('event_sequence')
    with op.batch_alter_table('event_logs', schema=None) as batch_op:
        batch_op.drop_column('host')

    with op.batch_alter_table('containers', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_containers_host'))
        batch_op.drop_column('host')
