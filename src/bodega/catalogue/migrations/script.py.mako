"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Create Date: ${create_date}
"""
# Rules for catalogue migrations:
# - small and reversible: every upgrade() has a working downgrade();
# - compatible with the previous release's code where possible (add, then use, then drop later);
# - SQLite has almost no ALTER: change tables inside `with op.batch_alter_table(...)`;
# - name every constraint (the naming convention in catalogue/models/base.py does it for you);
# - bump SCHEMA_REVISION in catalogue/schema_revision.py to the new head.
from __future__ import annotations

from alembic import op
import sqlalchemy as sa
${imports if imports else ""}

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}


def downgrade() -> None:
    ${downgrades if downgrades else "pass"}
