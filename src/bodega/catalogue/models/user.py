"""User: a person who owns containers and starts tasks, with a role."""
from __future__ import annotations

import enum

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from bodega.catalogue.models.base import Entity, enum_column_type


class Role(str, enum.Enum):
    """What a user may do: viewers read, operators operate containers, owners also manage users."""

    OWNER = "owner"
    OPERATOR = "operator"
    VIEWER = "viewer"


class User(Entity):
    """A user of this bodega."""

    __tablename__ = "users"

    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    display_name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[Role] = mapped_column(enum_column_type(Role, "role"))
