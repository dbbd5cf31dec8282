"""Sign-in sessions: password and second factor, expiry, idle timeout, revocation and throttling.

The browser holds a random session token; the catalogue keeps its SHA-256.  Every sign-in,
sign-out, failure, throttle and MFA step is an audit event naming the user and the address.
"""
from __future__ import annotations

import builtins
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import AuthSession, EventLevel, EventSource, LoginAttempt, MfaState, Role, User, utcnow
from bodega.services.credentials import check_password, hash_password, needs_rehash, new_token, token_digest
from bodega.services.users import USER_COLUMNS, UserInfo, email_of, normalize_email

if TYPE_CHECKING:
    from bodega.services import Bodega

SESSION_PREFIX = "bds_"
TOUCH_INTERVAL = timedelta(seconds=30)  # last_seen_at is written at most this often per session
KEEP_ATTEMPTS = timedelta(days=7)
KEEP_ENDED_SESSIONS = timedelta(days=30)
ADDRESS_MAX = 64
AGENT_MAX = 300
# A session and its user's columns, by token digest: built once, as it runs on every request a
# browser makes (building a statement, and its cache key, costs more than running it).
_BY_DIGEST = (sa.select(AuthSession, *USER_COLUMNS).join(User, User.id == AuthSession.user_id)
              .where(AuthSession.token_hash == sa.bindparam("digest")))


@dataclass(frozen=True)
class SessionInfo:
    """A sign-in session."""

    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    created_at: datetime
    expires_at: datetime
    last_seen_at: datetime | None
    revoked_at: datetime | None
    mfa_state: MfaState
    client_info: dict[str, Any]

    @classmethod
    def of(cls, row: AuthSession, email: str) -> "SessionInfo":
        """The SessionInfo of a row."""
        return cls(row.id, row.user_id, email, row.created_at, row.expires_at, row.last_seen_at, row.revoked_at,
                   row.mfa_state, dict(row.client_info or {}))

    def active(self, now: datetime | None = None) -> bool:
        """Not revoked and not expired."""
        return self.revoked_at is None and self.expires_at > (now or utcnow())

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        iso = lambda t: t.isoformat() if t else None  # noqa: E731
        return {"id": str(self.id), "user": self.email, "created_at": iso(self.created_at),
                "expires_at": iso(self.expires_at), "last_seen_at": iso(self.last_seen_at),
                "revoked_at": iso(self.revoked_at), "mfa_state": self.mfa_state.value,
                "address": self.client_info.get("address"), "agent": self.client_info.get("agent"),
                "active": self.active()}


@dataclass(frozen=True)
class SignIn:
    """A session just made by a password: its token (for the cookie), its CSRF token and what it still needs.

    needs is None (signed in), "mfa" (verify a TOTP or recovery code) or "enrol" (the policy
    requires a second factor this user has not enrolled yet).
    """

    token: str
    csrf_token: str
    session: SessionInfo
    needs: str | None


@dataclass(frozen=True)
class Authenticated:
    """Who a request comes from: the user, and their session (None when they used an API token)."""

    user: UserInfo
    session: SessionInfo | None = None
    csrf_token: str | None = None
    needs: str | None = None
    token_id: uuid.UUID | None = field(default=None)
    touch_due: bool = False  # its last use is recorded older than the touch interval (authenticate(touch=False))


def _client(address: str | None, agent: str | None) -> dict[str, str]:
    return {"address": (address or "unknown")[:ADDRESS_MAX], "agent": (agent or "")[:AGENT_MAX]}


class SessionService:
    """Signs users in and out and checks their sessions."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    # --- policy ---------------------------------------------------------------------------

    def _needs(self, user: User, require_mfa: bool) -> str | None:
        if user.totp_enabled:
            return "mfa"
        if require_mfa and user.role in (Role.OPERATOR, Role.OWNER):
            return "enrol"
        return None

    def _throttled(self, s: Session, email: str, address: str, now: datetime, policy: dict[str, Any]) -> int:
        """Seconds to wait before email may try from address again (0: go ahead)."""
        window = timedelta(minutes=policy["auth.throttle_minutes"])
        since = now - window
        last_ok = s.scalar(sa.select(sa.func.max(LoginAttempt.created_at))
                           .where(LoginAttempt.email == email, LoginAttempt.succeeded.is_(True)))
        account_since = max(since, last_ok) if last_ok is not None else since
        waits = []
        for column, value, start, limit in (
            (LoginAttempt.email, email, account_since, policy["auth.max_failures"]),
            (LoginAttempt.address, address, since, policy["auth.max_failures_per_address"]),
        ):
            failures = s.scalars(sa.select(LoginAttempt.created_at).where(
                column == value, LoginAttempt.succeeded.is_(False), LoginAttempt.created_at > start)
                .order_by(LoginAttempt.created_at.desc()).limit(limit)).all()
            if len(failures) >= limit:
                waits.append(int((failures[-1] + window - now).total_seconds()) + 1)
        return max(waits, default=0)

    def _refuse(self, email: str, address: str, reason: str, error: errors.BodegaError,
                user_id: uuid.UUID | None = None, attempt: bool = True) -> errors.BodegaError:
        """Records a refused sign-in (an attempt that counts towards throttling, and an audit event)."""
        with self._b.catalogue.session_scope() as s:
            if attempt:
                s.add(LoginAttempt(id=uuid.uuid4(), email=email[:320], address=address, succeeded=False))
            self._b.events.record(s, f"sign-in refused for {email[:320]} from {address}: {reason}",
                                  level=EventLevel.AUDIT, source=EventSource.USER, user_id=user_id,
                                  context={"email": email[:320], "address": address, "reason": reason})
        return error

    def _check_throttle(self, email: str, address: str, now: datetime) -> None:
        policy = self._b.settings.values()
        with self._b.catalogue.session_scope(write=False) as s:
            wait = self._throttled(s, email, address, now, policy)
        if wait > 0:
            raise self._refuse(email, address, "throttled", errors.TooManyAttempts(
                f"too many failed sign-ins: try again in {wait} s", retry_after=wait), attempt=False)

    # --- signing in -----------------------------------------------------------------------

    def login(self, email: str, password: str, *, address: str | None = None, agent: str | None = None,
              now: datetime | None = None) -> SignIn:
        """Checks email and password and opens a session (which may still need a second factor)."""
        now = now or utcnow()
        client = _client(address, agent)
        try:
            email = normalize_email(email)
        except errors.InvalidInput:
            raise self._refuse(str(email), client["address"], "not an email address", errors.LoginFailed()) from None
        self._check_throttle(email, client["address"], now)
        with self._b.catalogue.session_scope(write=False) as s:
            found = s.execute(sa.select(User.id, User.password_hash, User.disabled)
                              .where(User.email == email)).one_or_none()
        user_id, stored, disabled = found if found is not None else (None, None, False)
        ok = check_password(stored, password if isinstance(password, str) else "")  # slow: outside transactions
        if user_id is None or not ok:
            reason = "unknown user" if user_id is None else "no password set" if stored is None else "wrong password"
            raise self._refuse(email, client["address"], reason, errors.LoginFailed(), user_id)
        if disabled:
            raise self._refuse(email, client["address"], "account disabled",
                               errors.LoginFailed(f"{email} is disabled: ask an owner"), user_id)
        rehashed = hash_password(password) if needs_rehash(stored or "") else None
        token, csrf = new_token(SESSION_PREFIX), new_token("")
        with self._b.catalogue.session_scope() as s:
            row_user = s.get(User, user_id)
            if row_user is None:
                raise errors.LoginFailed()  # deleted meanwhile
            if rehashed is not None:
                row_user.password_hash = rehashed
            policy = self._b.settings.values()
            needs = self._needs(row_user, policy["auth.require_mfa"])
            hours = policy["auth.session_hours"]
            row = AuthSession(id=uuid.uuid4(), user_id=user_id, token_hash=token_digest(token), csrf_token=csrf,
                              expires_at=now + timedelta(hours=hours), last_seen_at=now, created_at=now,
                              mfa_state=MfaState.PENDING if needs else MfaState.NONE, client_info=client)
            s.add(row)
            s.add(LoginAttempt(id=uuid.uuid4(), email=email, address=client["address"], succeeded=True, created_at=now))
            s.execute(sa.delete(LoginAttempt).where(LoginAttempt.created_at < now - KEEP_ATTEMPTS))
            s.execute(sa.delete(AuthSession).where(AuthSession.expires_at < now - KEEP_ENDED_SESSIONS))
            s.flush()
            step = {"mfa": ", second factor pending", "enrol": ", must enrol a second factor"}.get(needs or "", "")
            self._b.events.record(s, f"{email}: signed in from {client['address']}{step}"
                                  + (" (password rehashed)" if rehashed else ""),
                                  level=EventLevel.AUDIT, source=EventSource.USER, user_id=user_id,
                                  context={"session_id": str(row.id), "address": client["address"]})
            return SignIn(token, csrf, SessionInfo.of(row, email), needs)

    def verify_mfa(self, token: str, code: str, *, now: datetime | None = None) -> SessionInfo:
        """Completes a pending session's sign-in with a TOTP or recovery code (each accepted once)."""
        now = now or utcnow()
        auth = self.authenticate(token, now=now, allow_pending=True)
        assert auth.session is not None
        email, address = auth.user.email, auth.session.client_info.get("address", "unknown")
        if auth.needs != "mfa":
            raise errors.WrongStatus("this session needs no code" if auth.needs is None
                                     else "enrol a second factor first")
        self._check_throttle(email, address, now)
        try:
            with self._b.catalogue.session_scope() as s:
                user = s.get(User, auth.user.id)
                row = s.get(AuthSession, auth.session.id)
                assert user is not None and row is not None
                how = self._b.mfa.check(s, user, code, now=now.timestamp())
                row.mfa_state = MfaState.VERIFIED
                self._b.events.record(s, f"{email}: second factor verified ({how}) from {address}",
                                      level=EventLevel.AUDIT, source=EventSource.USER, user_id=user.id,
                                      context={"session_id": str(row.id), "address": address, "method": how})
                return SessionInfo.of(row, email)
        except errors.MfaCodeInvalid as e:
            raise self._refuse(email, address, "wrong or reused second-factor code", e, auth.user.id) from None

    def enrolled(self, session_id: uuid.UUID) -> SessionInfo:
        """Marks the acting user's session verified once they have enrolled a second factor in it."""
        me = self._b.users.current
        with self._b.catalogue.session_scope() as s:
            row = s.get(AuthSession, session_id)
            user = s.get(User, me.id)
            if row is None or user is None or row.user_id != me.id:
                raise errors.NotAuthenticated("no such session of yours")
            if not user.totp_enabled:
                raise errors.MfaRequired("enrol a second factor first")
            row.mfa_state = MfaState.VERIFIED
            return SessionInfo.of(row, me.email)

    def authenticate(self, token: str, *, now: datetime | None = None, allow_pending: bool = False,
                     touch: bool = True) -> Authenticated:
        """The user and session of a session token; NotAuthenticated or MfaRequired saying why not.

        touch=False leaves recording this use to touch() (a catalogue write), when touch_due says so.
        """
        now = now or utcnow()
        if not isinstance(token, str) or not token.startswith(SESSION_PREFIX):
            raise errors.NotAuthenticated("not signed in")
        with self._b.catalogue.session_scope(write=False) as s:
            policy = self._b.settings.values(s)
            found = s.execute(_BY_DIGEST, {"digest": token_digest(token)}).one_or_none()
            if found is None:
                raise errors.NotAuthenticated("not signed in: unknown session")
            row, who = found[0], UserInfo.of_columns(found[1:])
            info, csrf = SessionInfo.of(row, who.email), row.csrf_token
            needs = None
            if row.mfa_state == MfaState.PENDING:
                needs = "mfa" if who.mfa_enabled else "enrol" if policy["auth.require_mfa"] else None
        idle = timedelta(minutes=policy["auth.idle_minutes"])
        if info.revoked_at is not None:
            raise errors.NotAuthenticated("the session was revoked: sign in again")
        if info.expires_at <= now:
            raise errors.NotAuthenticated("the session expired: sign in again")
        if info.last_seen_at is not None and now - info.last_seen_at > idle:
            raise errors.NotAuthenticated(f"the session ended after {idle.total_seconds() / 60:g} minutes idle: "
                                          "sign in again")
        if who.disabled:
            raise errors.NotAuthenticated(f"{who.email} is disabled")
        if info.mfa_state == MfaState.PENDING and not allow_pending:
            raise errors.MfaRequired("enter your second-factor code" if needs == "mfa"
                                     else "the policy requires a second factor: enrol one")
        auth = Authenticated(who, info, csrf, needs,
                             touch_due=info.last_seen_at is None or now - info.last_seen_at > TOUCH_INTERVAL)
        if auth.touch_due and touch:
            self.touch(auth, now=now)
        return auth

    def touch(self, auth: Authenticated, *, now: datetime | None = None) -> None:
        """Records a use of auth's session now (what keeps it from ending idle)."""
        assert auth.session is not None
        with self._b.catalogue.session_scope() as s:
            s.execute(sa.update(AuthSession).where(AuthSession.id == auth.session.id)
                      .values(last_seen_at=now or utcnow()))

    def logout(self, token: str) -> None:
        """Ends the session of token (no error when it has ended already)."""
        if not isinstance(token, str) or not token:
            return
        with self._b.catalogue.session_scope() as s:
            found = s.execute(sa.select(AuthSession, User).join(User, User.id == AuthSession.user_id)
                              .where(AuthSession.token_hash == token_digest(token))).one_or_none()
            if found is None or found[0].revoked_at is not None:
                return
            row, user = found
            row.revoked_at = utcnow()
            self._b.events.record(s, f"{user.email}: signed out", level=EventLevel.AUDIT, source=EventSource.USER,
                                  user_id=user.id, context={"session_id": str(row.id)})

    # --- listing and revoking -------------------------------------------------------------

    def list(self, *, email: str | None = None, include_ended: bool = False) -> builtins.list[SessionInfo]:
        """Sessions, newest first: yours, or anyone's (or one user's) for an owner."""
        q = self._b.users.scoped(sa.select(AuthSession, User.email).join(User, User.id == AuthSession.user_id),
                                 AuthSession.user_id, email)
        if not include_ended:
            q = q.where(AuthSession.revoked_at.is_(None), AuthSession.expires_at > utcnow())
        with self._b.catalogue.session_scope(write=False) as s:
            return [SessionInfo.of(r, e) for r, e in s.execute(q.order_by(AuthSession.created_at.desc()))]

    def revoke(self, ref: str | uuid.UUID) -> SessionInfo:
        """Ends a session by id or unique id prefix: yours, or anyone's for an owner."""
        with self._b.catalogue.session_scope() as s:
            row = self._b.users.own_row(s, AuthSession, ref, "session")
            email = email_of(s, row.user_id) or ""
            if row.revoked_at is None:
                row.revoked_at = utcnow()
                self._b.users.audit(s, f"revoke session {str(row.id)[:8]} of {email}", target=email,
                                    session_id=str(row.id))
            return SessionInfo.of(row, email)
