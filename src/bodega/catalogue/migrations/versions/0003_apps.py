"""Apps: the provenance hash of an app's source, and app_runs (entry-point health).

Revision ID: 0003_apps
Revises: 0005_users_auth
"""
# Rules for catalogue migrations:
# - small and reversible: every upgrade() has a working downgrade();
# - compatible with the previous release's code where possible (add, then use, then drop later);
# - SQLite has almost no ALTER: change tables inside `with op.batch_alter_table(...)`;
# - name every constraint (the naming convention in catalogue/models/base.py does it for you);
# - bump SCHEMA_REVISION in catalogue/db.py to the new head.
from __future__ import annotations

from alembic import op
import sqlalchemy as sa


revision = '0003_apps'
down_revision = '0005_users_auth'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('app_runs',
    sa.Column('app_instance_id', sa.Uuid(), nullable=False),
    sa.Column('container_id', sa.Uuid(), nullable=False),
    sa.Column('entry', sa.String(length=200), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('owner_host', sa.String(length=255), nullable=False),
    sa.Column('owner_pid', sa.Integer(), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('exit_code', sa.Integer(), nullable=True),
    sa.Column('signal', sa.Integer(), nullable=False),
    sa.Column('crashed', sa.Boolean(), nullable=False),
    sa.Column('timed_out', sa.Boolean(), nullable=False),
    sa.Column('memory_killed', sa.Boolean(), nullable=False),
    sa.Column('seconds', sa.Double(), nullable=False),
    sa.Column('peak_memory', sa.BigInteger(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['app_instance_id'], ['app_instances.id'], name=op.f('fk_app_runs_app_instance_id_app_instances'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_app_runs_container_id_containers'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_app_runs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_runs'))
    )
    with op.batch_alter_table('app_runs', schema=None) as batch_op:
        batch_op.create_index('ix_app_runs_app_instance_id_created_at', ['app_instance_id', 'created_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_app_runs_container_id'), ['container_id'], unique=False)
    with op.batch_alter_table('app_instances', schema=None) as batch_op:
        batch_op.add_column(sa.Column('source_hash', sa.String(length=64), nullable=False, server_default=''))


def downgrade() -> None:
    with op.batch_alter_table('app_instances', schema=None) as batch_op:
        batch_op.drop_column('source_hash')

    with op.batch_alter_table('app_runs', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_app_runs_container_id'))
        batch_op.drop_index('ix_app_runs_app_instance_id_created_at')

    op.drop_table('app_runs')
