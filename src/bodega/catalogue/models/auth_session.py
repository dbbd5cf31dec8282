"""AuthSession: a user's sign-in session for the panel and the API."""
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
    """A sign-in session of a user.

    The browser holds a random token; the catalogue keeps only its SHA-256 (token_hash), so a
    copy of the catalogue signs nobody in.  csrf_token is the value every form and mutating
    request of the session must echo.
    """

    __tablename__ = "auth_sessions"

    user_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    mfa_state: Mapped[MfaState] = mapped_column(enum_column_type(MfaState, "mfa_state"), default=MfaState.NONE)
    client_info: Mapped[dict[str, Any]] = mapped_column(default=dict)
    token_hash: Mapped[str | None] = mapped_column(sa.String(64), unique=True, default=None)
    csrf_token: Mapped[str] = mapped_column(sa.String(64), default="", server_default="")
    last_seen_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
