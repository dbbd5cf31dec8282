"""User: a person who owns containers and starts tasks, with a role, a password and a second factor."""
from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, enum_column_type
from bodega.catalogue.values import Role  # noqa: F401 (re-exported)



class User(Entity):
    """A user of this bodega.

    password_hash is an argon2id hash (None: this user cannot sign in with a password).
    totp_secret is set at enrolment and counts only once totp_enabled; totp_last_step is the
    last TOTP time step accepted, so a code is never accepted twice.  recovery_codes holds
    the hashes of the unused recovery codes.
    """

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_column_type(Role, "role"))
    password_hash: Mapped[str | None] = mapped_column(sa.String(255), default=None)
    disabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64), default=None)
    totp_enabled: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger, default=None)
    recovery_codes: Mapped[list[Any]] = mapped_column(default=list, server_default="[]")
