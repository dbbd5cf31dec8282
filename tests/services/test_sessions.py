"""Sessions: sign-in, second factor, expiry, idle timeout, revocation, throttling, audit events."""
from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import utcnow

PASSWORD = "correct horse"


@pytest.fixture
def ana(b):
    return b.users.create("ana@example.org", "Ana", "operator", password=PASSWORD)


def audits(b):
    return [e.message for e in b.events.list(levels=["audit"], limit=None)]


def test_sign_in_gives_a_session_the_token_authenticates(b, ana):
    signed = b.sessions.login("ana@example.org", PASSWORD, address="10.0.0.7", agent="pytest")
    assert signed.needs is None and signed.token.startswith("bds_")
    auth = b.sessions.authenticate(signed.token)
    assert auth.user.email == "ana@example.org" and auth.csrf_token == signed.csrf_token
    assert auth.session.client_info == {"address": "10.0.0.7", "agent": "pytest"}
    with b.catalogue.session_scope(write=False) as s:  # only the token's hash is kept
        from bodega.catalogue.models import AuthSession
        assert signed.token not in str([r.token_hash for r in s.query(AuthSession)])
    assert any("ana@example.org: signed in from 10.0.0.7" in m for m in audits(b))


@pytest.mark.parametrize("email,password,reason", [
    ("ana@example.org", "wrong horse", "wrong password"),
    ("nobody@example.org", PASSWORD, "unknown user"),
    ("not an email", PASSWORD, "not an email address"),
])
def test_failed_sign_ins_are_refused_and_audited(b, ana, email, password, reason):
    with pytest.raises(errors.LoginFailed):
        b.sessions.login(email, password, address="10.0.0.9")
    assert b.sessions.list(include_ended=True) == []
    assert any(f"from 10.0.0.9: {reason}" in m for m in audits(b))


def test_a_disabled_user_cannot_sign_in_and_loses_sessions(b, ana):
    signed = b.sessions.login("ana@example.org", PASSWORD)
    b.users.set_disabled("ana@example.org", True)
    with pytest.raises(errors.NotAuthenticated, match="revoked"):
        b.sessions.authenticate(signed.token)
    with pytest.raises(errors.LoginFailed, match="disabled"):
        b.sessions.login("ana@example.org", PASSWORD)
    assert any("account disabled" in m for m in audits(b))


def test_expired_idle_and_revoked_sessions_are_refused(b, ana):
    now = utcnow()
    expired = b.sessions.login("ana@example.org", PASSWORD, now=now - timedelta(hours=13))
    with pytest.raises(errors.NotAuthenticated, match="expired"):
        b.sessions.authenticate(expired.token, now=now)
    idle = b.sessions.login("ana@example.org", PASSWORD, now=now)
    b.sessions.authenticate(idle.token, now=now + timedelta(minutes=29))  # within the idle timeout: touched
    b.sessions.authenticate(idle.token, now=now + timedelta(minutes=58))  # 29 min after the last touch
    with pytest.raises(errors.NotAuthenticated, match="idle"):
        b.sessions.authenticate(idle.token, now=now + timedelta(minutes=89))
    revoked = b.sessions.login("ana@example.org", PASSWORD)
    b.sessions.revoke(str(revoked.session.id)[:8])
    with pytest.raises(errors.NotAuthenticated, match="revoked"):
        b.sessions.authenticate(revoked.token)
    with pytest.raises(errors.NotAuthenticated):
        b.sessions.authenticate("bds_forged")
    assert any("revoke session" in m for m in audits(b))


def test_logout_ends_the_session(b, ana):
    signed = b.sessions.login("ana@example.org", PASSWORD)
    b.sessions.logout(signed.token)
    with pytest.raises(errors.NotAuthenticated):
        b.sessions.authenticate(signed.token)
    assert any("ana@example.org: signed out" in m for m in audits(b))


def test_throttling_per_account_then_per_address(b, ana):
    b.settings.set("auth.max_failures", 3)
    b.settings.set("auth.max_failures_per_address", 5)
    for _ in range(3):
        with pytest.raises(errors.LoginFailed):
            b.sessions.login("ana@example.org", "wrong horse", address="10.0.0.1")
    with pytest.raises(errors.TooManyAttempts) as caught:  # even with the right password
        b.sessions.login("ana@example.org", PASSWORD, address="10.0.0.1")
    assert 0 < caught.value.retry_after <= 15 * 60
    assert any("throttled" in m for m in audits(b))
    # Another account from another address is not affected ...
    b.users.create("bo@example.org", role="viewer", password=PASSWORD)
    b.sessions.login("bo@example.org", PASSWORD, address="10.0.0.2")
    # ... but an address spraying many accounts is.
    for name in ("c", "d"):
        with pytest.raises(errors.LoginFailed):
            b.sessions.login(f"{name}@example.org", "x" * 8, address="10.0.0.1")
    with pytest.raises(errors.TooManyAttempts):
        b.sessions.login("bo@example.org", PASSWORD, address="10.0.0.1")


def test_totp_sign_in_and_a_replayed_code_is_refused(b, ana):
    enrol = b.mfa.begin("ana@example.org")
    totp = pyotp.TOTP(enrol.secret)
    now = utcnow()
    t0 = now.timestamp()
    codes = b.mfa.confirm("ana@example.org", totp.at(t0), now=t0)
    assert len(codes) == 10 and len(set(codes)) == 10
    signed = b.sessions.login("ana@example.org", PASSWORD, now=now)
    assert signed.needs == "mfa"
    with pytest.raises(errors.MfaRequired):
        b.sessions.authenticate(signed.token, now=now)
    with pytest.raises(errors.MfaCodeInvalid):  # the code used to confirm: a replay
        b.sessions.verify_mfa(signed.token, totp.at(t0), now=now)
    with pytest.raises(errors.MfaCodeInvalid):
        b.sessions.verify_mfa(signed.token, "000000", now=now)
    later = now + timedelta(seconds=30)
    code = totp.at(later.timestamp())
    b.sessions.verify_mfa(signed.token, code, now=later)
    assert b.sessions.authenticate(signed.token, now=later).user.email == "ana@example.org"
    again = b.sessions.login("ana@example.org", PASSWORD, now=later)
    with pytest.raises(errors.MfaCodeInvalid):  # the same code in another session: still a replay
        b.sessions.verify_mfa(again.token, code, now=later)
    assert any("wrong or reused second-factor code" in m for m in audits(b))
    assert any("second factor verified (totp)" in m for m in audits(b))


def test_a_recovery_code_works_once(b, ana):
    enrol = b.mfa.begin("ana@example.org")
    codes = b.mfa.confirm("ana@example.org", pyotp.TOTP(enrol.secret).now())
    first = b.sessions.login("ana@example.org", PASSWORD)
    b.sessions.verify_mfa(first.token, codes[0].upper())
    second = b.sessions.login("ana@example.org", PASSWORD)
    with pytest.raises(errors.MfaCodeInvalid):
        b.sessions.verify_mfa(second.token, codes[0])
    assert b.users.get("ana@example.org").recovery_codes_left == 9


def test_the_policy_can_require_mfa_for_operators(home, b, ana):
    b.settings.set("auth.require_mfa", True)
    b.users.create("vic@example.org", role="viewer", password=PASSWORD)
    assert b.sessions.login("vic@example.org", PASSWORD).needs is None
    signed = b.sessions.login("ana@example.org", PASSWORD)
    assert signed.needs == "enrol"
    with pytest.raises(errors.MfaRequired, match="enrol"):
        b.sessions.authenticate(signed.token)
    pending = b.sessions.authenticate(signed.token, allow_pending=True)
    with bodega.open(home, user="ana@example.org") as as_ana:
        enrol = as_ana.mfa.begin("ana@example.org")
        as_ana.mfa.confirm("ana@example.org", pyotp.TOTP(enrol.secret).now())
        as_ana.sessions.enrolled(pending.session.id)
    assert b.sessions.authenticate(signed.token).user.mfa_enabled


def test_sessions_are_listed_for_their_user_and_all_for_owners(home, b, ana):
    b.sessions.login("ana@example.org", PASSWORD)
    b.users.set_password(b.user.email, PASSWORD)
    b.sessions.login(b.user.email, PASSWORD)
    assert len(b.sessions.list()) == 2
    with bodega.open(home, user="ana@example.org") as as_ana:
        assert [s.email for s in as_ana.sessions.list()] == ["ana@example.org"]
        mine = b.sessions.list(email=b.user.email)[0]
        with pytest.raises(errors.NotFound):
            as_ana.sessions.revoke(str(mine.id))
    assert b.sessions.list(email=b.user.email)[0].active()
