"""AuthSession: a user's login session for the panel."""
from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, enum_column_type


class MfaState(str, enum.Enum):
    """Where a session is in multi-factor authentication."""

    NONE = "none"
    PENDING = "pending"
    VERIFIED = "verified"


class AuthSession(Entity):
    """A login session of a user."""

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    mfa_state: Mapped[MfaState] = mapped_column(enum_column_type(MfaState, "mfa_state"), default=MfaState.NONE)
    client_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
