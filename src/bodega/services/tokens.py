"""API tokens: bearer tokens for scripts, one user each, shown once and kept as their SHA-256."""
from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from bodega import errors
from bodega.catalogue.models import ApiToken, User, utcnow
from bodega.services.credentials import new_token, token_digest
from bodega.services.sessions import Authenticated
from bodega.services.users import USER_COLUMNS, UserInfo, email_of, normalize_email

if TYPE_CHECKING:
    from bodega.services import Bodega

TOKEN_PREFIX = "bdg_"
# A token's row and its user's columns, by digest: built once, as it runs on every request a script
# makes (building a statement, and its cache key, costs more than running it; the key is memoized).
_BY_DIGEST = (sa.select(ApiToken.id, ApiToken.revoked_at, ApiToken.last_used_at, *USER_COLUMNS)
              .join(User, User.id == ApiToken.user_id).where(ApiToken.token_hash == sa.bindparam("digest")))
TOUCH_INTERVAL = timedelta(minutes=5)  # last_used_at is informational: written at most this often
NAME_MAX = 100


@dataclass(frozen=True)
class TokenInfo:
    """An API token (never the token itself)."""

    id: uuid.UUID
    email: str
    name: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, row: ApiToken, email: str) -> "TokenInfo":
        """The TokenInfo of a row."""
        return cls(row.id, email, row.name, row.created_at, row.last_used_at, row.revoked_at)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {"id": str(self.id), "user": self.email, "name": self.name, "created_at": iso(self.created_at),
                "last_used_at": iso(self.last_used_at), "revoked_at": iso(self.revoked_at),
                "active": self.revoked_at is None}


@dataclass(frozen=True)
class NewToken:
    """A token just created: `token` is shown this once and never again."""

    token: str
    info: TokenInfo

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**self.info.to_dict(), "token": self.token}


class TokenService:
    """Creates, lists, revokes and checks API tokens."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def create(self, email: str | None = None, name: str = "") -> NewToken:
        """A new token for a user (yourself by default; anyone for an owner)."""
        email = normalize_email(email) if email is not None else self._b.users.current.email
        self._b.users.require_self_or_owner(email)
        if not isinstance(name, str) or len(name) > NAME_MAX or not name.isprintable():
            raise errors.InvalidInput(f"a token name is printable text of at most {NAME_MAX} characters")
        token = new_token(TOKEN_PREFIX)
        with self._b.catalogue.session_scope() as s:
            user = self._b.users.row(s, email)
            if user.disabled:
                raise errors.WrongStatus(f"{email} is disabled: enable them first")
            row = ApiToken(id=uuid.uuid4(), user_id=user.id, name=name, token_hash=token_digest(token))
            s.add(row)
            s.flush()
            self._b.users.audit(s, f"create API token {str(row.id)[:8]} for {email}", target=email,
                                token_id=str(row.id))
            return NewToken(token, TokenInfo.of(row, email))

    def list(self, *, email: str | None = None, include_revoked: bool = False) -> builtins.list[TokenInfo]:
        """Tokens, newest first: yours, or anyone's (or one user's) for an owner."""
        q = self._b.users.scoped(sa.select(ApiToken, User.email).join(User, User.id == ApiToken.user_id),
                                 ApiToken.user_id, email)
        if not include_revoked:
            q = q.where(ApiToken.revoked_at.is_(None))
        with self._b.catalogue.session_scope(write=False) as s:
            return [TokenInfo.of(r, e) for r, e in s.execute(q.order_by(ApiToken.created_at.desc()))]

    def revoke(self, ref: str | uuid.UUID) -> TokenInfo:
        """Revokes a token by id or unique id prefix: yours, or anyone's for an owner."""
        with self._b.catalogue.session_scope() as s:
            row = self._b.users.own_row(s, ApiToken, ref, "API token")
            email = email_of(s, row.user_id) or ""
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                self._b.users.audit(s, f"revoke API token {str(row.id)[:8]} of {email}", target=email,
                                    token_id=str(row.id))
            return TokenInfo.of(row, email)

    def authenticate(self, token: str, *, touch: bool = True) -> Authenticated:
        """The user of a bearer token; NotAuthenticated when it is unknown, revoked or its user disabled.

        touch=False leaves recording this use to touch() (a catalogue write), when touch_due says so.
        """
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise errors.NotAuthenticated("not an API token")
        now = utcnow()
        with self._b.catalogue.session_scope(write=False) as s:
            found = s.execute(_BY_DIGEST, {"digest": token_digest(token)}).one_or_none()
            if found is None:
                raise errors.NotAuthenticated("unknown API token")
            token_id, revoked, used = found[:3]
            who = UserInfo.of_columns(found[3:])
        if revoked is not None:
            raise errors.NotAuthenticated("the API token was revoked")
        if who.disabled:
            raise errors.NotAuthenticated(f"{who.email} is disabled")
        auth = Authenticated(who, token_id=token_id, touch_due=used is None or now - used > TOUCH_INTERVAL)
        if auth.touch_due and touch:
            self.touch(auth, now=now)
        return auth

    def touch(self, auth: Authenticated, *, now: datetime | None = None) -> None:
        """Records a use of auth's token now."""
        with self._b.catalogue.session_scope() as s:
            s.execute(sa.update(ApiToken).where(ApiToken.id == auth.token_id).values(last_used_at=now or utcnow()))
