"""Create the catalogue: every entity of the seed, with named constraints and indexes.

Revision ID: 0001
Revises: (none)
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


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('display_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.Enum('owner', 'operator', 'viewer', name='role', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    op.create_table('auth_sessions',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('mfa_state', sa.Enum('none', 'pending', 'verified', name='mfa_state', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('client_info', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_auth_sessions_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_auth_sessions'))
    )
    op.create_index(op.f('ix_auth_sessions_expires_at'), 'auth_sessions', ['expires_at'], unique=False)
    op.create_index(op.f('ix_auth_sessions_user_id'), 'auth_sessions', ['user_id'], unique=False)
    op.create_table('containers',
    sa.Column('owner_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('creating', 'ready', 'running', 'error', 'archived', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('platform', sa.Enum('windows-x64', 'windows-arm64', 'linux-x64', name='platform', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('storage_path', sa.Text(), nullable=False),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('settings', sa.JSON(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('length(name) BETWEEN 1 AND 64', name=op.f('ck_containers_name_length')),
    sa.CheckConstraint('size_bytes >= 0', name=op.f('ck_containers_size_bytes_not_negative')),
    sa.ForeignKeyConstraint(['owner_id'], ['users.id'], name=op.f('fk_containers_owner_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_containers')),
    sa.UniqueConstraint('owner_id', 'name', name=op.f('uq_containers_owner_id_name'))
    )
    op.create_table('app_instances',
    sa.Column('container_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('version', sa.String(length=100), nullable=False),
    sa.Column('vendor', sa.String(length=200), nullable=False),
    sa.Column('install_source', sa.Text(), nullable=False),
    sa.Column('install_path', sa.Text(), nullable=False),
    sa.Column('entry_points', sa.JSON(), nullable=False),
    sa.Column('status', sa.Enum('installing', 'ready', 'failed', 'disabled', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("status <> 'ready' OR json_array_length(entry_points) > 0", name=op.f('ck_app_instances_ready_has_entry_point')),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_app_instances_container_id_containers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_instances'))
    )
    op.create_index(op.f('ix_app_instances_container_id'), 'app_instances', ['container_id'], unique=False)
    op.create_table('container_tags',
    sa.Column('container_id', sa.Uuid(), nullable=False),
    sa.Column('tag', sa.String(length=64), nullable=False),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_container_tags_container_id_containers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('container_id', 'tag', name=op.f('pk_container_tags'))
    )
    op.create_index(op.f('ix_container_tags_tag'), 'container_tags', ['tag'], unique=False)
    op.create_table('snapshots',
    sa.Column('container_id', sa.Uuid(), nullable=False),
    sa.Column('label', sa.String(length=200), nullable=False),
    sa.Column('type', sa.Enum('full', 'delta', name='type', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('base_snapshot_id', sa.Uuid(), nullable=True),
    sa.Column('size_bytes', sa.BigInteger(), nullable=False),
    sa.Column('checksum_manifest', sa.String(length=128), nullable=False),
    sa.Column('trigger', sa.Enum('system', 'manual', 'pre-install', 'post-install', name='trigger', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("type <> 'delta' OR base_snapshot_id IS NOT NULL", name=op.f('ck_snapshots_delta_has_base')),
    sa.CheckConstraint('base_snapshot_id IS NULL OR base_snapshot_id <> id', name=op.f('ck_snapshots_base_not_self')),
    sa.CheckConstraint('size_bytes >= 0', name=op.f('ck_snapshots_size_bytes_not_negative')),
    sa.ForeignKeyConstraint(['base_snapshot_id', 'container_id'], ['snapshots.id', 'snapshots.container_id'], name=op.f('fk_snapshots_base_snapshot_id_snapshots')),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_snapshots_container_id_containers'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_snapshots')),
    sa.UniqueConstraint('id', 'container_id', name=op.f('uq_snapshots_id_container_id'))
    )
    op.create_index(op.f('ix_snapshots_base_snapshot_id'), 'snapshots', ['base_snapshot_id'], unique=False)
    op.create_index('ix_snapshots_container_id_created_at', 'snapshots', ['container_id', 'created_at'], unique=False)
    op.create_table('tasks',
    sa.Column('type', sa.String(length=64), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'succeeded', 'failed', 'cancelled', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('progress', sa.Integer(), nullable=False),
    sa.Column('container_id', sa.Uuid(), nullable=True),
    sa.Column('app_instance_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payload', sa.JSON(), nullable=False),
    sa.Column('result', sa.JSON(), nullable=False),
    sa.Column('owner_host', sa.String(length=255), nullable=True),
    sa.Column('owner_pid', sa.Integer(), nullable=True),
    sa.Column('heartbeat_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('cancel_requested', sa.Boolean(), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('progress BETWEEN 0 AND 100', name=op.f('ck_tasks_progress_range')),
    sa.ForeignKeyConstraint(['app_instance_id'], ['app_instances.id'], name=op.f('fk_tasks_app_instance_id_app_instances'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_tasks_container_id_containers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_tasks_user_id_users'), ondelete='RESTRICT'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_tasks')),
    sa.UniqueConstraint('id', 'type', name=op.f('uq_tasks_id_type'))
    )
    op.create_index(op.f('ix_tasks_app_instance_id'), 'tasks', ['app_instance_id'], unique=False)
    op.create_index('ix_tasks_container_id_created_at', 'tasks', ['container_id', 'created_at'], unique=False)
    op.create_index('ix_tasks_status_created_at', 'tasks', ['status', 'created_at'], unique=False)
    op.create_index(op.f('ix_tasks_user_id'), 'tasks', ['user_id'], unique=False)
    op.create_table('container_locks',
    sa.Column('container_id', sa.Uuid(), nullable=False),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('acquired_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_container_locks_container_id_containers'), ondelete='RESTRICT'),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_container_locks_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('container_id', name=op.f('pk_container_locks'))
    )
    op.create_index(op.f('ix_container_locks_task_id'), 'container_locks', ['task_id'], unique=False)
    op.create_table('event_logs',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('timestamp', sa.DateTime(timezone=True), nullable=False),
    sa.Column('source', sa.Enum('agent', 'driver', 'user', 'app', name='source', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('level', sa.Enum('info', 'warning', 'error', 'audit', name='level', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('message', sa.Text(), nullable=False),
    sa.Column('context', sa.JSON(), nullable=False),
    sa.Column('tags', sa.JSON(), nullable=False),
    sa.Column('container_id', sa.Uuid(), nullable=True),
    sa.Column('task_id', sa.Uuid(), nullable=True),
    sa.Column('user_id', sa.Uuid(), nullable=True),
    sa.ForeignKeyConstraint(['task_id'], ['tasks.id'], name=op.f('fk_event_logs_task_id_tasks'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_event_logs_user_id_users'), ondelete='SET NULL'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_event_logs')),
    sa.UniqueConstraint('seq', name=op.f('uq_event_logs_seq'))
    )
    op.create_index('ix_event_logs_container_id_seq', 'event_logs', ['container_id', 'seq'], unique=False)
    op.create_index('ix_event_logs_task_id_seq', 'event_logs', ['task_id', 'seq'], unique=False)
    op.create_index(op.f('ix_event_logs_timestamp'), 'event_logs', ['timestamp'], unique=False)
    op.create_table('export_packages',
    sa.Column('container_id', sa.Uuid(), nullable=True),
    sa.Column('task_id', sa.Uuid(), nullable=False),
    sa.Column('task_type', sa.String(length=64), nullable=False),
    sa.Column('format', sa.Enum('zip', '7z', name='format', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('location', sa.Text(), nullable=False),
    sa.Column('status', sa.Enum('queued', 'running', 'succeeded', 'failed', 'cancelled', name='status', native_enum=False, create_constraint=True), nullable=False),
    sa.Column('integrity_hash', sa.String(length=128), nullable=True),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("task_type = 'export'", name=op.f('ck_export_packages_made_by_export_task')),
    sa.ForeignKeyConstraint(['container_id'], ['containers.id'], name=op.f('fk_export_packages_container_id_containers'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['task_id', 'task_type'], ['tasks.id', 'tasks.type'], name=op.f('fk_export_packages_task_id_tasks'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_export_packages'))
    )
    op.create_index(op.f('ix_export_packages_container_id'), 'export_packages', ['container_id'], unique=False)
    op.create_index(op.f('ix_export_packages_task_id'), 'export_packages', ['task_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_export_packages_task_id'), table_name='export_packages')
    op.drop_index(op.f('ix_export_packages_container_id'), table_name='export_packages')
    op.drop_table('export_packages')
    op.drop_index(op.f('ix_event_logs_timestamp'), table_name='event_logs')
    op.drop_index('ix_event_logs_task_id_seq', table_name='event_logs')
    op.drop_index('ix_event_logs_container_id_seq', table_name='event_logs')
    op.drop_table('event_logs')
    op.drop_index(op.f('ix_container_locks_task_id'), table_name='container_locks')
    op.drop_table('container_locks')
    op.drop_index(op.f('ix_tasks_user_id'), table_name='tasks')
    op.drop_index('ix_tasks_status_created_at', table_name='tasks')
    op.drop_index('ix_tasks_container_id_created_at', table_name='tasks')
    op.drop_index(op.f('ix_tasks_app_instance_id'), table_name='tasks')
    op.drop_table('tasks')
    op.drop_index('ix_snapshots_container_id_created_at', table_name='snapshots')
    op.drop_index(op.f('ix_snapshots_base_snapshot_id'), table_name='snapshots')
    op.drop_table('snapshots')
    op.drop_index(op.f('ix_container_tags_tag'), table_name='container_tags')
    op.drop_table('container_tags')
    op.drop_index(op.f('ix_app_instances_container_id'), table_name='app_instances')
    op.drop_table('app_instances')
    op.drop_table('containers')
    op.drop_index(op.f('ix_auth_sessions_user_id'), table_name='auth_sessions')
    op.drop_index(op.f('ix_auth_sessions_expires_at'), table_name='auth_sessions')
    op.drop_table('auth_sessions')
    op.drop_table('users')
