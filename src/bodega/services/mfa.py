"""The second factor: TOTP enrolment and verification (each code accepted once) and recovery codes."""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from bodega import errors
from bodega.catalogue.models import User
from bodega.services.credentials import same, token_digest
from bodega.services.users import UserInfo, normalize_email

if TYPE_CHECKING:
    from bodega.services import Bodega

ISSUER = "bodega"
STEP = 30  # seconds per TOTP code (RFC 6238)
WINDOW = 1  # steps of clock drift accepted either side
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread


def _pyotp() -> Any:
    try:
        import pyotp
    except ImportError:
        raise errors.MissingDependency("TOTP needs pyotp: pip install pyotp") from None
    return pyotp


def new_recovery_code() -> str:
    """A recovery code like 'k7wq-m3nx-p2ta' (about 62 bits)."""
    raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(12))
    return "-".join(raw[i:i + 4] for i in range(0, 12, 4))


def _normal_recovery(code: str) -> str:
    return "".join(c for c in code.lower() if c.isalnum())


@dataclass(frozen=True)
class Enrolment:
    """A TOTP secret being enrolled: the otpauth URI an authenticator app reads (also as a QR code)."""

    email: str
    secret: str
    uri: str

    def qr_svg(self) -> str:
        """The URI as an SVG QR code (for the panel)."""
        try:
            import segno
        except ImportError:
            raise errors.MissingDependency("QR codes need segno: pip install segno") from None
        return str(segno.make(self.uri, error="m").svg_inline(scale=5, dark="#111", light="#fff"))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"email": self.email, "secret": self.secret, "uri": self.uri}


class MfaService:
    """TOTP for a user: enrol, confirm, verify, disable; recovery codes."""

    def __init__(self, bodega: "Bodega") -> None:
        self._b = bodega

    def begin(self, email: str) -> Enrolment:
        """Starts (or restarts) enrolment: a new secret, not used until confirm() sees a code from it."""
        email = normalize_email(email)
        self._b.users.require_self_or_owner(email)
        pyotp = _pyotp()
        secret = pyotp.random_base32()
        with self._b.catalogue.session_scope() as s:
            row = self._b.users.row(s, email)
            if row.totp_enabled:
                raise errors.Conflict(f"{email} has a second factor already: disable it first to enrol a new one")
            row.totp_secret = secret
            self._b.users.audit(s, f"begin MFA enrolment of {email}", target=email)
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)
        return Enrolment(email, secret, uri)

    def confirm(self, email: str, code: str, *, now: float | None = None) -> list[str]:
        """Enables TOTP once a code from the new secret checks; returns fresh recovery codes (shown once)."""
        email = normalize_email(email)
        self._b.users.require_self_or_owner(email)
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        with self._b.catalogue.session_scope() as s:
            row = self._b.users.row(s, email)
            if row.totp_enabled:
                raise errors.Conflict(f"{email} has a second factor already")
            if row.totp_secret is None:
                raise errors.WrongStatus(f"{email} has no enrolment in progress: begin one first")
            step = self._matching_step(row, code, now)
            if step is None:
                raise errors.MfaCodeInvalid("that code does not match the new secret: check the device's clock")
            row.totp_enabled, row.totp_last_step = True, step
            row.recovery_codes = [token_digest(_normal_recovery(c)) for c in codes]
            self._b.users.audit(s, f"enable MFA for {email}", target=email)
        return codes

    def disable(self, email: str) -> UserInfo:
        """Removes a user's second factor and recovery codes."""
        email = normalize_email(email)
        self._b.users.require_self_or_owner(email)
        with self._b.catalogue.session_scope() as s:
            row = self._b.users.row(s, email)
            row.totp_secret, row.totp_enabled, row.totp_last_step, row.recovery_codes = None, False, None, []
            self._b.users.audit(s, f"disable MFA for {email}", target=email)
            return UserInfo.of(row)

    def new_recovery_codes(self, email: str) -> list[str]:
        """Replaces a user's recovery codes (shown once)."""
        email = normalize_email(email)
        self._b.users.require_self_or_owner(email)
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        with self._b.catalogue.session_scope() as s:
            row = self._b.users.row(s, email)
            if not row.totp_enabled:
                raise errors.WrongStatus(f"{email} has no second factor: recovery codes come with one")
            row.recovery_codes = [token_digest(_normal_recovery(c)) for c in codes]
            self._b.users.audit(s, f"new recovery codes for {email}", target=email)
        return codes

    def check(self, s: Session, row: User, code: str, *, now: float | None = None) -> str:
        """Checks a TOTP or recovery code for row in session s, spending it; returns 'totp' or 'recovery'.

        MfaCodeInvalid when it is wrong or was used before (the caller records the failure).
        """
        if not row.totp_enabled:
            raise errors.WrongStatus(f"{row.email} has no second factor")
        code = (code or "").strip()
        step = self._matching_step(row, code, now)
        if step is not None:
            row.totp_last_step = step
            return "totp"
        digest = token_digest(_normal_recovery(code)) if len(_normal_recovery(code)) == 12 else None
        for stored in list(row.recovery_codes or []):
            if digest is not None and same(stored, digest):
                row.recovery_codes = [c for c in row.recovery_codes if c != stored]
                return "recovery"
        raise errors.MfaCodeInvalid()

    def _matching_step(self, row: User, code: str, now: float | None) -> int | None:
        """The time step whose code is `code`, if it is newer than the last one accepted (no replays)."""
        code = (code or "").replace(" ", "")
        if row.totp_secret is None or len(code) != 6 or not code.isdigit():
            return None
        totp = _pyotp().TOTP(row.totp_secret)
        current = int((time.time() if now is None else now) // STEP)
        for step in range(current - WINDOW, current + WINDOW + 1):
            if (row.totp_last_step is None or step > row.totp_last_step) and same(totp.generate_otp(step), code):
                return step
        return None
