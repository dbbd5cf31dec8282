"""Users and roles: who acts, whether their role allows it, and managing users (owners only)."""
from __future__ import annotations

import getpass
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import ApiToken, AuthSession, EventLevel, EventSource, Role, User, utcnow
from bodega.services.credentials import hash_password, validate_password
from bodega.services.id_prefix import find_by_id

if TYPE_CHECKING:
    from bodega.services import Bodega

ROLE_RANK = {Role.VIEWER: 0, Role.OPERATOR: 1, Role.OWNER: 2}
# What UserInfo.of_columns reads, for hot paths that select columns rather than entities.
USER_COLUMNS = (User.id, User.email, User.display_name, User.role, User.disabled, User.password_hash,
                User.totp_enabled, User.recovery_codes)
DISPLAY_NAME_MAX = 200
_EMAIL_OF = sa.select(User.email).where(User.id == sa.bindparam("user_id"))  # built once: on hot read paths


def email_of(s: Session, user_id: uuid.UUID) -> str | None:
    """The email of a user by id (None when there is no such user)."""
    return s.scalar(_EMAIL_OF, {"user_id": user_id})


@dataclass(frozen=True)
class UserInfo:
    """A user."""

    id: uuid.UUID
    email: str
    display_name: str
    role: Role
    disabled: bool = False
    has_password: bool = False
    mfa_enabled: bool = False
    recovery_codes_left: int = 0

    @classmethod
    def of(cls, row: User) -> "UserInfo":
        """The UserInfo of a row."""
        return cls(row.id, row.email, row.display_name, row.role, row.disabled, row.password_hash is not None,
                   row.totp_enabled, len(row.recovery_codes or []))

    @classmethod
    def of_columns(cls, values: Any) -> "UserInfo":
        """The UserInfo of a row of USER_COLUMNS."""
        user_id, email, name, role, disabled, password_hash, totp_enabled, codes = values
        return cls(user_id, email, name, role, disabled, password_hash is not None, totp_enabled, len(codes or []))

    def at_least(self, role: Role) -> bool:
        """Whether this user's role is role or above."""
        return ROLE_RANK[self.role] >= ROLE_RANK[role]

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"id": str(self.id), "email": self.email, "display_name": self.display_name, "role": self.role.value,
                "disabled": self.disabled, "has_password": self.has_password, "mfa_enabled": self.mfa_enabled,
                "recovery_codes_left": self.recovery_codes_left}


def _a(role: Role) -> str:
    """'an owner', 'an operator', 'a viewer'."""
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"


def local_email() -> str:
    """The email that stands for the local OS user: <login>@localhost."""
    return f"{getpass.getuser()}@localhost".lower()


def normalize_email(email: Any) -> str:
    """email stripped and lower-cased, if it looks like an address; InvalidInput otherwise."""
    if not isinstance(email, str):
        raise errors.InvalidInput(f"{email!r} is not an email address")
    email = email.strip().lower()
    local, at, domain = email.partition("@")
    if not at or not local or not domain or len(email) > 320 or any(c.isspace() or not c.isprintable() for c in email):
        raise errors.InvalidInput(f"{email!r} is not an email address")
    return email


def parse_role(role: Any) -> Role:
    """A Role from its name; InvalidInput naming the roles otherwise."""
    try:
        return Role(role)
    except ValueError:
        raise errors.InvalidInput(f"role is owner, operator or viewer, not {role!r}") from None


class UserService:
    """The acting user and the users of this bodega."""

    def __init__(self, bodega: "Bodega", user: "str | UserInfo | None") -> None:
        self._b = bodega
        if isinstance(user, UserInfo):
            self.current = user
        else:
            self.current = self._local_user() if user is None else self.get(user)

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

    # --- checks ---------------------------------------------------------------------------

    def require(self, role: Role) -> UserInfo:
        """The acting user, if their role is at least role; Forbidden otherwise."""
        if not self.current.at_least(role):
            raise errors.Forbidden(f"{self.current.email} is {_a(self.current.role)}: this needs {_a(role)}")
        return self.current

    def require_self_or_owner(self, email: str) -> UserInfo:
        """The acting user, if they are the user email or an owner; Forbidden otherwise."""
        if self.current.email != email and not self.current.at_least(Role.OWNER):
            raise errors.Forbidden(f"{self.current.email} can change only their own account: this needs an owner")
        return self.current

    def row(self, s: Session, email: str) -> User:
        """A user's row by email, in session s."""
        row = s.scalar(sa.select(User).where(User.email == normalize_email(email)))
        if row is None:
            raise errors.UserNotFound(f"no user {email!r}")
        return row

    def own_row(self, s: Session, model: Any, ref: str | uuid.UUID, noun: str) -> Any:
        """A row of model (which has a user_id) by id or unique id prefix: yours, or anyone's for an owner.

        NotFound otherwise, so that others' rows are not even confirmed to exist.
        """
        row = find_by_id(s, model, ref, noun)
        if row is None or (row.user_id != self.current.id and not self.current.at_least(Role.OWNER)):
            raise errors.NotFound(f"no {noun} {ref!r}")
        return row

    def scoped(self, q: Any, user_id_column: Any, email: str | None) -> Any:
        """q limited to one user's rows (yourself, or anyone for an owner), else to yours unless you are an owner."""
        if email is not None:
            email = normalize_email(email)
            self.require_self_or_owner(email)
            return q.where(user_id_column == sa.select(User.id).where(User.email == email).scalar_subquery())
        if not self.current.at_least(Role.OWNER):
            return q.where(user_id_column == self.current.id)
        return q

    def audit(self, s: Session, message: str, **context: Any) -> None:
        """Records an audit event by the acting user in session s."""
        me = self.current
        self._b.events.record(s, f"{me.email}: {message}", level=EventLevel.AUDIT, source=EventSource.USER,
                              user_id=me.id, context=context)

    # --- reading --------------------------------------------------------------------------

    def get(self, email: str) -> UserInfo:
        """A user by email."""
        with self._b.catalogue.session_scope(write=False) as s:
            return UserInfo.of(self.row(s, email))

    def show(self, email: str) -> UserInfo:
        """A user by email: yourself, or anyone for an owner."""
        email = normalize_email(email)
        self.require_self_or_owner(email)
        return self.get(email)

    def list(self) -> list[UserInfo]:
        """Every user, by email (owners only)."""
        self.require(Role.OWNER)
        with self._b.catalogue.session_scope(write=False) as s:
            return [UserInfo.of(u) for u in s.scalars(sa.select(User).order_by(User.email))]

    # --- managing -------------------------------------------------------------------------

    def create(self, email: str, display_name: str = "", role: Role | str = Role.VIEWER,
               password: str | None = None) -> UserInfo:
        """Adds a user (owners only); without a password they cannot sign in until `passwd`."""
        self.require(Role.OWNER)
        role, email = parse_role(role), normalize_email(email)
        display_name = (display_name or "").strip()
        if len(display_name) > DISPLAY_NAME_MAX or not display_name.isprintable():
            raise errors.InvalidInput(f"a display name is printable text of at most {DISPLAY_NAME_MAX} characters")
        hashed = hash_password(validate_password(password)) if password is not None else None
        with self._b.catalogue.session_scope() as s:
            self._b.catalogue.serialize(s, f"user {email}")
            if s.scalar(sa.select(User.id).where(User.email == email)) is not None:
                raise errors.NameTaken(f"a user {email} exists already")
            row = User(id=uuid.uuid4(), email=email, display_name=display_name or email, role=role,
                       password_hash=hashed)
            s.add(row)
            s.flush()
            self.audit(s, f"create user {email} ({role.value})", target=email, role=role.value)
            return UserInfo.of(row)

    def _enabled_owners(self, s: Session) -> int:
        return int(s.scalar(sa.select(sa.func.count()).select_from(User)
                            .where(User.role == Role.OWNER, User.disabled.is_(False))) or 0)

    def set_role(self, email: str, role: Role | str) -> UserInfo:
        """Changes a user's role (owners only); the last enabled owner stays an owner."""
        self.require(Role.OWNER)
        role = parse_role(role)
        with self._b.catalogue.session_scope() as s:
            row = self.row(s, email)
            if row.role == role:
                return UserInfo.of(row)
            if row.role == Role.OWNER and not row.disabled and self._enabled_owners(s) <= 1:
                raise errors.Conflict(f"{row.email} is the last owner: make someone else an owner first")
            old, row.role = row.role, role
            self.audit(s, f"role of {row.email}: {old.value} -> {role.value}", target=row.email,
                       role=role.value, previous=old.value)
            return UserInfo.of(row)

    def set_disabled(self, email: str, disabled: bool) -> UserInfo:
        """Disables (no sign-in, sessions and tokens refused) or enables a user (owners only)."""
        self.require(Role.OWNER)
        with self._b.catalogue.session_scope() as s:
            row = self.row(s, email)
            if row.disabled == disabled:
                return UserInfo.of(row)
            if disabled and row.role == Role.OWNER and self._enabled_owners(s) <= 1:
                raise errors.Conflict(f"{row.email} is the last enabled owner: it cannot be disabled")
            row.disabled = disabled
            if disabled:  # their sessions end now; tokens stay listed but are refused while disabled
                s.execute(sa.update(AuthSession).where(AuthSession.user_id == row.id,
                                                       AuthSession.revoked_at.is_(None)).values(revoked_at=utcnow()))
            self.audit(s, f"{'disable' if disabled else 'enable'} user {row.email}", target=row.email)
            return UserInfo.of(row)

    def set_password(self, email: str, password: str, *, keep_session: uuid.UUID | None = None) -> UserInfo:
        """Sets a user's password (yourself, or anyone for an owner); their other sessions end."""
        email = normalize_email(email)
        self.require_self_or_owner(email)
        hashed = hash_password(validate_password(password))
        with self._b.catalogue.session_scope() as s:
            row = self.row(s, email)
            row.password_hash = hashed
            q = sa.update(AuthSession).where(AuthSession.user_id == row.id, AuthSession.revoked_at.is_(None))
            if keep_session is not None:
                q = q.where(AuthSession.id != keep_session)
            s.execute(q.values(revoked_at=utcnow()))
            self.audit(s, f"set the password of {row.email}", target=row.email)
            return UserInfo.of(row)

    def tokens_and_sessions(self, email: str) -> dict[str, int]:
        """How many live sessions and API tokens a user has (yourself, or anyone for an owner)."""
        email = normalize_email(email)
        self.require_self_or_owner(email)
        now = utcnow()
        with self._b.catalogue.session_scope(write=False) as s:
            row = self.row(s, email)
            sessions = s.scalar(sa.select(sa.func.count()).select_from(AuthSession).where(
                AuthSession.user_id == row.id, AuthSession.revoked_at.is_(None), AuthSession.expires_at > now))
            tokens = s.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(
                ApiToken.user_id == row.id, ApiToken.revoked_at.is_(None)))
        return {"sessions": int(sessions or 0), "tokens": int(tokens or 0)}
