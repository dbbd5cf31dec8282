"""Container: an isolated app tree with a status, a platform, tags and settings."""
from __future__ import annotations

import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.associationproxy import AssociationProxy, association_proxy
from sqlalchemy.orm import Mapped, mapped_column, relationship

from bodega.catalogue.models.base import Base, Entity, UpdatedAt, enum_column_type
from bodega.catalogue.values import ContainerStatus, Platform  # noqa: F401 (re-exported)

NAME_MAX = 64
TAG_MAX = 64




class Container(Entity, UpdatedAt):
    """A container; its name is unique among its owner's containers."""

    __tablename__ = "containers"
    __table_args__ = (
        sa.UniqueConstraint("owner_id", "name"),
        sa.CheckConstraint(f"length(name) BETWEEN 1 AND {NAME_MAX}", name="name_length"),
        sa.CheckConstraint("size_bytes >= 0", name="size_bytes_not_negative"),
    )

    owner_id: Mapped[uuid.UUID] = mapped_column(sa.ForeignKey("users.id", ondelete="RESTRICT"))
    name: Mapped[str] = mapped_column(sa.String(NAME_MAX))
    description: Mapped[str] = mapped_column(sa.Text, default="")
    status: Mapped[ContainerStatus] = mapped_column(enum_column_type(ContainerStatus, "status"))
    platform: Mapped[Platform] = mapped_column(enum_column_type(Platform, "platform"))
    storage_path: Mapped[str] = mapped_column(sa.Text)
    # The host whose home holds the tree (its tasks run there); None: made before hosts were
    # recorded, by the only host there was.
    host: Mapped[str | None] = mapped_column(sa.String(255), index=True)
    size_bytes: Mapped[int] = mapped_column(sa.BigInteger, default=0)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)

    tag_rows: Mapped[list["ContainerTag"]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True, order_by="ContainerTag.tag", lazy="selectin"
    )
    tags: AssociationProxy[list[str]] = association_proxy("tag_rows", "tag", creator=lambda tag: ContainerTag(tag=tag))


class ContainerTag(Base):
    """One tag of a container (a table, so that listing by tag uses an index)."""

    __tablename__ = "container_tags"

    container_id: Mapped[uuid.UUID] = mapped_column(
        sa.ForeignKey("containers.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(sa.String(TAG_MAX), primary_key=True, index=True)
