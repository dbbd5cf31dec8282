"""ContainerShare: a container its owner lets another user see (viewer) or operate (operator)."""
from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Base, enum_column_type, utcnow
from bodega.catalogue.models.user import Role


class ContainerShare(Base):
    """One user's access to another user's container."""

    __tablename__ = "container_shares"
    __table_args__ = (sa.CheckConstraint("role <> 'owner'", name="role_not_owner"),)

    container_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("containers.id", ondelete="CASCADE"), primary_key=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
                                               index=True)
    role: Mapped[Role] = mapped_column(enum_column_type(Role, "share_role"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
