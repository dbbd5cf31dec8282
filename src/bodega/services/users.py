"""Users and roles: who acts, and whether their role allows it."""
from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bodega import errors
from bodega.catalogue.models import EventLevel, EventSource, Role, User

if TYPE_CHECKING:
    from bodega.services import Bodega

ROLE_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.OWNER: 2}


@dataclass(frozen=True)
class UserInfo:
    """A user."""

    id: uuid.UUID
    email: str
    display_name: str
    role: Role

    @classmethod
    def of(cls, row: User) -> "UserInfo":
        """The UserInfo of a row."""
        return cls(row.id, row.email, row.display_name, row.role)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "email": self.email, "display_name": self.display_name, "role": self.role.value}


def local_email() -> str:
    """The email that stands for the local OS user: <login>@localhost."""
    return f"{getpass.getuser()}@localhost"


class UserService:
    """The acting user and the users of this bodega."""

    def __init__(self, bodega: "Bodega", email: str | None) -> None:
        self._b = bodega
        self.current = self._local_user() if email is None else self.get(email)

    def _local_user(self) -> UserInfo:
        """The local OS user, created as an owner on first use (they own the home's files anyway)."""
        email = local_email()
        with self._b.catalogue.session_scope(write=False) as s:
            row = s.scalar(sa.select(User).where(User.email == email))
            if row is not None:
                return UserInfo.of(row)
        try:
            with self._b.catalogue.session_scope() as s:
                row = s.scalar(sa.select(User).where(User.email == email))
                if row is None:
                    row = User(id=uuid.uuid4(), email=email, display_name=getpass.getuser(), role=Role.OWNER)
                    s.add(row)
                    s.flush()
                    self._b.events.record(s, f"user {email} created (local user, role owner)", source=EventSource.AGENT,
                                          user_id=row.id)
                return UserInfo.of(row)
        except errors.NameTaken:  # another process created it at the same moment
            return self.get(email)

    def require(self, role: Role) -> UserInfo:
        """The acting user, if their role is at least role; Forbidden otherwise."""
        if ROLE_RANK[self.current.role] < ROLE_RANK[role]:
            raise errors.Forbidden(f"{self.current.email} is a {self.current.role.value}: this needs a {role.value}")
        return self.current

    def get(self, email: str) -> UserInfo:
        """A user by email."""
        with self._b.catalogue.session_scope(write=False) as s:
            row = s.scalar(sa.select(User).where(User.email == email))
            if row is None:
                raise errors.UserNotFound(f"no user {email!r}")
            return UserInfo.of(row)

    def list(self) -> list[UserInfo]:
        """Every user, by email."""
        with self._b.catalogue.session_scope(write=False) as s:
            return [UserInfo.of(u) for u in s.scalars(sa.select(User).order_by(User.email))]

    def create(self, email: str, display_name: str, role: Role | str) -> UserInfo:
        """Adds a user (owners only)."""
        me = self.require(Role.OWNER)
        role = Role(role)
        email = email.strip()
        if "@" not in email or len(email) > 320 or any(c.isspace() for c in email):
            raise errors.InvalidInput(f"{email!r} is not an email address")
        with self._b.catalogue.session_scope() as s:
            if s.scalar(sa.select(User.id).where(User.email == email)) is not None:
                raise errors.NameTaken(f"a user {email} exists already")
            row = User(id=uuid.uuid4(), email=email, display_name=display_name or email, role=role)
            s.add(row)
            s.flush()
            self._b.events.record(s, f"{me.email}: create user {email} ({role.value})", level=EventLevel.AUDIT,
                                  source=EventSource.USER, user_id=me.id)
            return UserInfo.of(row)
