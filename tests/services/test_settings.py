"""Settings: typed, bounded, owners only, every change audited."""
from __future__ import annotations

import pytest

import bodega
from bodega import errors


def test_defaults_set_and_audit(b):
    assert b.settings.get("auth.require_mfa") is False
    assert b.settings.set("auth.require_mfa", "on") is True
    assert b.settings.get("auth.require_mfa") is True
    assert b.settings.set("auth.idle_minutes", "5") == 5
    assert any("setting auth.idle_minutes = 5" in e.message for e in b.events.list(levels=["audit"]))


@pytest.mark.parametrize("key,value", [("auth.idle_minutes", "0"), ("auth.idle_minutes", "many"),
                                       ("auth.require_mfa", "maybe"), ("no.such", "1"),
                                       ("auth.session_hours", True)])
def test_bad_values_change_nothing(b, key, value):
    before = b.settings.list()
    with pytest.raises(errors.InvalidInput):
        b.settings.set(key, value)
    assert b.settings.list() == before


def test_only_owners_change_settings(home, b):
    b.users.create("op@example.org", role="operator")
    with bodega.open(home, user="op@example.org") as op:
        with pytest.raises(errors.Forbidden):
            op.settings.set("auth.require_mfa", True)
    assert b.settings.get("auth.require_mfa") is False
