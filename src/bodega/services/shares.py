"""Container shares and who may see or operate a container.

A user sees the containers they own and those shared with them; owners see all.  On a
container, its owning user and owners may do anything their role allows; a share lets another
user read it (viewer) or also operate it (operator: snapshot, restore, clone, install, run,
export, cancel), never more than their own role.  Deleting a container, forgetting its
snapshots and sharing it stay with its owning user and owners.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import Container, ContainerShare, Role, Task, User
from bodega.services.users import ROLE_RANK, normalize_email

if TYPE_CHECKING:
    from bodega.services import Bodega

# Task types only a container's owning user (or an owner) may run on it.
OWNING_USER_TASKS = frozenset({"container.delete", "snapshot.forget"})

# The containers the user in bind parameter "me" owns or has been given a share of, for the
# statements that list (built once: see the read paths of containers, tasks and events).
VISIBLE_TO_ME = sa.or_(Container.owner_id == sa.bindparam("me"), Container.id.in_(
    sa.select(ContainerShare.container_id).where(ContainerShare.user_id == sa.bindparam("me"))))
VISIBLE_IDS_TO_ME = sa.select(Container.id).where(VISIBLE_TO_ME).scalar_subquery()


@dataclass(frozen=True)
class ShareInfo:
    """One user's share of a container."""

    container_id: uuid.UUID
    container_name: str
    email: str
    role: Role
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"container_id": str(self.container_id), "container": self.container_name, "user": self.email,
                "role": self.role.value, "created_at": self.created_at.isoformat()}


class ShareService:
    """Shares containers with users and answers what the acting user may see and do."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    # --- what the acting user may see and do ----------------------------------------------

    def visible(self) -> Any:
        """A SQL condition on Container: the containers the acting user may see."""
        me = self._b.users.current
        if me.at_least(Role.OWNER):
            return sa.true()
        shared = sa.select(ContainerShare.container_id).where(ContainerShare.user_id == me.id)
        return sa.or_(Container.owner_id == me.id, Container.id.in_(shared))

    def sees_all(self) -> bool:
        """Whether the acting user may see every container (an owner)."""
        return self._b.users.current.at_least(Role.OWNER)

    def visible_ids(self) -> Any:
        """A subquery of the ids of the containers the acting user may see (None: all of them)."""
        if self._b.users.current.at_least(Role.OWNER):
            return None
        return sa.select(Container.id).where(self.visible()).scalar_subquery()

    def role_on(self, s: Session, container: Container) -> Role | None:
        """The acting user's role on a container (None: they may not see it)."""
        me = self._b.users.current
        if me.at_least(Role.OWNER) or container.owner_id == me.id:
            return me.role
        share = s.get(ContainerShare, (container.id, me.id))
        if share is None:
            return None
        return share.role if ROLE_RANK[share.role] < ROLE_RANK[me.role] else me.role

    def can_see(self, s: Session, container: Container) -> bool:
        """Whether the acting user may see the container."""
        return self.role_on(s, container) is not None

    def require_task(self, s: Session, task: Task) -> None:
        """Forbidden unless the acting user may run task on its container."""
        if task.container_id is None:
            return
        container = s.get(Container, task.container_id)
        if container is None:
            return
        me = self._b.users.current
        if task.type in OWNING_USER_TASKS:
            if container.owner_id != me.id and not me.at_least(Role.OWNER):
                raise errors.Forbidden(f"only the user who owns container {container.name} (or an owner) may "
                                       f"run {task.type} on it")
            return
        role = self.role_on(s, container)
        if role is None:
            raise errors.ContainerNotFound(f"no container {container.name!r}")
        if ROLE_RANK[role] < ROLE_RANK[Role.OPERATOR]:
            raise errors.Forbidden(f"{me.email} may only view container {container.name}: {task.type} needs "
                                   "an operator share")

    # --- managing shares ------------------------------------------------------------------

    def _own_container(self, s: Session, ref: str | uuid.UUID) -> Container:
        row = self._b.containers.resolve(s, ref)
        me = self._b.users.current
        if row.owner_id != me.id and not me.at_least(Role.OWNER):
            raise errors.Forbidden(f"only the user who owns container {row.name} (or an owner) may share it")
        return row

    def share(self, container: str | uuid.UUID, email: str, role: Role | str = Role.VIEWER) -> ShareInfo:
        """Lets a user see (viewer) or operate (operator) a container; replaces an earlier share."""
        self._b.users.require(Role.OPERATOR)
        try:
            role = Role(role)
        except ValueError:
            role = None  # type: ignore[assignment]
        if role not in (Role.VIEWER, Role.OPERATOR):
            raise errors.InvalidInput("a share's role is viewer or operator")
        email = normalize_email(email)
        with self._b.catalogue.session_scope() as s:
            row = self._own_container(s, container)
            user = self._b.users.row(s, email)
            if user.id == row.owner_id:
                raise errors.InvalidInput(f"{email} owns container {row.name} already")
            share = s.get(ContainerShare, (row.id, user.id))
            if share is None:
                share = ContainerShare(container_id=row.id, user_id=user.id, role=role)
                s.add(share)
            else:
                share.role = role
            s.flush()
            self._b.users.audit(s, f"share container {row.name} with {email} as {role.value}", target=email,
                                container_id=str(row.id), role=role.value)
            return ShareInfo(row.id, row.name, email, role, share.created_at)

    def unshare(self, container: str | uuid.UUID, email: str) -> None:
        """Stops sharing a container with a user."""
        self._b.users.require(Role.OPERATOR)
        email = normalize_email(email)
        with self._b.catalogue.session_scope() as s:
            row = self._own_container(s, container)
            user = self._b.users.row(s, email)
            share = s.get(ContainerShare, (row.id, user.id))
            if share is None:
                raise errors.NotFound(f"container {row.name} is not shared with {email}")
            s.delete(share)
            self._b.users.audit(s, f"unshare container {row.name} with {email}", target=email,
                                container_id=str(row.id))

    def list(self, container: str | uuid.UUID) -> list[ShareInfo]:
        """Who a container is shared with."""
        with self._b.catalogue.session_scope(write=False) as s:
            row = self._b.containers.resolve(s, container)
            return [ShareInfo(row.id, row.name, email, share.role, share.created_at) for share, email in s.execute(
                sa.select(ContainerShare, User.email).join(User, User.id == ContainerShare.user_id)
                .where(ContainerShare.container_id == row.id).order_by(User.email))]
