"""Users: roles, passwords (argon2id, rehashed when parameters change), disable, the last owner kept."""
from __future__ import annotations

import pytest
from argon2 import PasswordHasher

import bodega
from bodega import errors
from bodega.services import credentials


def test_add_user_hashes_the_password_with_argon2id(b):
    ana = b.users.create("Ana@Example.org", "Ana", "operator", password="correct horse")
    assert ana.email == "ana@example.org" and ana.role.value == "operator" and ana.has_password
    with b.catalogue.session_scope(write=False) as s:
        stored = b.users.row(s, "ana@example.org").password_hash
    assert stored.startswith("$argon2id$") and "correct horse" not in stored
    assert credentials.check_password(stored, "correct horse")
    assert not credentials.check_password(stored, "wrong horse")


@pytest.mark.parametrize("email", ["", "nobody", "a b@c", "@x", "x@", "a\x00@b"])
def test_bad_emails_are_invalid_input_and_add_nobody(b, email):
    before = b.users.list()
    with pytest.raises(errors.InvalidInput):
        b.users.create(email, role="viewer")
    assert b.users.list() == before


@pytest.mark.parametrize("password", ["short", "x" * 1025, "line\nbreak"])
def test_bad_passwords_are_refused(b, password):
    with pytest.raises(errors.InvalidInput, match="password"):
        b.users.create("ana@example.org", role="viewer", password=password)
    with pytest.raises(errors.UserNotFound):
        b.users.get("ana@example.org")


def test_unknown_role_is_invalid_input(b):
    with pytest.raises(errors.InvalidInput, match="owner, operator or viewer"):
        b.users.create("ana@example.org", role="admin")


def test_set_role_and_the_last_owner_stays(b):
    b.users.create("ana@example.org", role="viewer")
    assert b.users.set_role("ana@example.org", "operator").role.value == "operator"
    with pytest.raises(errors.Conflict, match="last owner"):
        b.users.set_role(b.user.email, "viewer")
    with pytest.raises(errors.Conflict, match="last enabled owner"):
        b.users.set_disabled(b.user.email, True)
    audits = [e.message for e in b.events.list(levels=["audit"])]
    assert any("role of ana@example.org: viewer -> operator" in m for m in audits)


def test_only_owners_manage_users(home, b):
    b.users.create("op@example.org", role="operator", password="password1")
    with bodega.open(home, user="op@example.org") as op:
        with pytest.raises(errors.Forbidden):
            op.users.create("x@example.org", role="viewer")
        with pytest.raises(errors.Forbidden):
            op.users.set_role("op@example.org", "owner")
        with pytest.raises(errors.Forbidden):
            op.users.list()
        with pytest.raises(errors.Forbidden):
            op.users.set_password(b.user.email, "stolen-password")
        op.users.set_password("op@example.org", "password2")  # their own: allowed
    assert [u.email for u in b.users.list()] == sorted([b.user.email, "op@example.org"])


def test_a_password_made_with_old_parameters_is_rehashed_at_sign_in(b, monkeypatch):
    b.users.create("ana@example.org", role="viewer", password="password1")
    with b.catalogue.session_scope(write=False) as s:
        old = b.users.row(s, "ana@example.org").password_hash
    monkeypatch.setattr(credentials, "_hasher", PasswordHasher(time_cost=2, memory_cost=2048, parallelism=1))
    b.sessions.login("ana@example.org", "password1", address="127.0.0.1")
    with b.catalogue.session_scope(write=False) as s:
        new = b.users.row(s, "ana@example.org").password_hash
    assert new != old and "m=2048,t=2,p=1" in new and "m=1024,t=1,p=1" in old
    assert credentials.check_password(new, "password1")
