"""LoginAttempt: one sign-in attempt, kept for a while so that failures can be throttled."""
from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, utcnow


class LoginAttempt(Entity):
    """A sign-in attempt by email from an address, and whether it succeeded."""

    __tablename__ = "login_attempts"
    __table_args__ = (
        sa.Index("ix_login_attempts_email_created_at", "email", "created_at"),
        sa.Index("ix_login_attempts_address_created_at", "address", "created_at"),
    )

    created_at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    email: Mapped[str] = mapped_column(sa.String(320))
    address: Mapped[str] = mapped_column(sa.String(64))
    succeeded: Mapped[bool] = mapped_column(default=False)
