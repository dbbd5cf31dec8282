"""API tokens: shown once, kept hashed, refused once revoked or when their user is disabled."""
from __future__ import annotations

import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import ApiToken


def test_create_authenticate_revoke(b):
    b.users.create("ana@example.org", role="operator")
    made = b.tokens.create("ana@example.org", name="ci")
    assert made.token.startswith("bdg_") and made.info.email == "ana@example.org"
    with b.catalogue.session_scope(write=False) as s:
        assert all(made.token not in r.token_hash for r in s.query(ApiToken))
    assert b.tokens.authenticate(made.token).user.email == "ana@example.org"
    b.tokens.revoke(str(made.info.id)[:8])
    with pytest.raises(errors.NotAuthenticated, match="revoked"):
        b.tokens.authenticate(made.token)
    assert b.tokens.list() == [] and len(b.tokens.list(include_revoked=True)) == 1
    messages = [e.message for e in b.events.list(levels=["audit"])]
    assert any("create API token" in m for m in messages) and any("revoke API token" in m for m in messages)


def test_tokens_of_a_disabled_user_are_refused(b):
    b.users.create("ana@example.org", role="operator")
    made = b.tokens.create("ana@example.org")
    b.users.set_disabled("ana@example.org", True)
    with pytest.raises(errors.NotAuthenticated, match="disabled"):
        b.tokens.authenticate(made.token)
    with pytest.raises(errors.WrongStatus):
        b.tokens.create("ana@example.org")


def test_non_owners_manage_only_their_own_tokens(home, b):
    b.users.create("ana@example.org", role="viewer")
    mine = b.tokens.create()
    with bodega.open(home, user="ana@example.org") as ana:
        theirs = ana.tokens.create(name="laptop")
        with pytest.raises(errors.Forbidden):
            ana.tokens.create(b.user.email)
        with pytest.raises(errors.NotFound):
            ana.tokens.revoke(str(mine.info.id))
        assert [t.id for t in ana.tokens.list()] == [theirs.info.id]
    assert {t.id for t in b.tokens.list()} == {mine.info.id, theirs.info.id}


@pytest.mark.parametrize("token", ["", "bdg_", "bdg_" + "A" * 43, "bds_x", "Bearer x", "x" * 5000])
def test_unknown_tokens_are_refused(b, token):
    with pytest.raises(errors.NotAuthenticated):
        b.tokens.authenticate(token)
