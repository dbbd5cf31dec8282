"""Every mutating endpoint, API and panel, refuses a viewer and leaves the catalogue unchanged.

The route table is enumerated from the app: an endpoint added without a case here fails
test_every_mutating_endpoint_has_a_viewer_case.
"""
from __future__ import annotations

from contextlib import closing
from typing import Any

import pytest

from served import as_user, audit_count, catalogue_state, login, mutating_routes

# Endpoints that act only on the caller's own sign-in or second factor: a viewer may use them
# (they take no user or container to act on, which test_self_service_routes_name_no_target checks).
SELF_SERVICE = {
    ("POST", "/api/auth/login"): "signs the caller in",
    ("POST", "/api/auth/logout"): "signs the caller out",
    ("POST", "/api/auth/mfa"): "verifies the caller's own second factor",
    ("POST", "/api/me/mfa/enrol"): "enrols the caller's own second factor",
    ("POST", "/api/me/mfa/confirm"): "confirms the caller's own enrolment",
    ("DELETE", "/api/me/mfa"): "removes the caller's own second factor",
    ("POST", "/api/me/mfa/recovery-codes"): "renews the caller's own recovery codes",
    ("POST", "/login"): "the sign-in form",
    ("POST", "/login/mfa"): "the second-factor form",
    ("POST", "/logout"): "signs the caller out",
    ("POST", "/account/mfa/begin"): "enrols the caller's own second factor",
    ("POST", "/account/mfa/confirm"): "confirms the caller's own enrolment",
    ("POST", "/account/mfa/recovery-codes"): "renews the caller's own recovery codes",
}

OTHER = "eve@example.org"

# (method, route) -> (url, json body or None, form data or None, expected status).
# {c}: op's container shared with the viewer as viewer; {s}: its snapshot; {t}: a queued task on it;
# {tok}/{sess}: another user's token and session (404: the viewer cannot even see them).
CASES: dict[tuple[str, str], tuple[str, Any, Any, int]] = {
    ("POST", "/api/containers"): ("/api/containers", {"name": "mine"}, None, 403),
    ("DELETE", "/api/containers/{container}"): ("/api/containers/{c}", None, None, 403),
    ("PATCH", "/api/containers/{container}"): ("/api/containers/{c}", {"description": "x"}, None, 403),
    ("POST", "/api/containers/{container}/archive"): ("/api/containers/{c}/archive", None, None, 403),
    ("POST", "/api/containers/{container}/unarchive"): ("/api/containers/{c}/unarchive", None, None, 403),
    ("POST", "/api/containers/{container}/clone"): ("/api/containers/{c}/clone", {"name": "copy"}, None, 403),
    ("PUT", "/api/containers/{container}/shares/{email}"): ("/api/containers/{c}/shares/" + OTHER,
                                                            {"role": "viewer"}, None, 403),
    ("DELETE", "/api/containers/{container}/shares/{email}"): ("/api/containers/{c}/shares/vic@example.org",
                                                               None, None, 403),
    ("POST", "/api/containers/{container}/snapshots"): ("/api/containers/{c}/snapshots", {}, None, 403),
    ("DELETE", "/api/containers/{container}/snapshots/{snapshot}"): ("/api/containers/{c}/snapshots/{s}",
                                                                     None, None, 403),
    ("POST", "/api/containers/{container}/snapshots/{snapshot}/restore"): (
        "/api/containers/{c}/snapshots/{s}/restore", None, None, 403),
    ("POST", "/api/tasks/{task}/cancel"): ("/api/tasks/{t}/cancel", None, None, 403),
    ("PUT", "/api/settings/{key}"): ("/api/settings/auth.require_mfa", {"value": True}, None, 403),
    ("POST", "/api/users"): ("/api/users", {"email": "x@example.org", "role": "owner"}, None, 403),
    ("PATCH", "/api/users/{email}"): ("/api/users/vic@example.org", {"role": "owner"}, None, 403),
    ("PUT", "/api/users/{email}/password"): (f"/api/users/{OTHER}/password", {"password": "hijacked-pw"}, None, 403),
    ("DELETE", "/api/users/{email}/mfa"): (f"/api/users/{OTHER}/mfa", None, None, 403),
    ("POST", "/api/tokens"): ("/api/tokens", {"user": OTHER}, None, 403),
    ("DELETE", "/api/tokens/{token}"): ("/api/tokens/{tok}", None, None, 404),
    ("DELETE", "/api/sessions/{session}"): ("/api/sessions/{sess}", None, None, 404),
    ("POST", "/containers"): ("/containers", None, {"name": "mine"}, 403),
    ("POST", "/containers/{container}/clone"): ("/containers/{c}/clone", None, {"name": "copy"}, 403),
    ("POST", "/containers/{container}/delete"): ("/containers/{c}/delete", None, {}, 403),
    ("POST", "/containers/{container}/share"): ("/containers/{c}/share", None, {"email": OTHER}, 403),
    ("POST", "/containers/{container}/unshare"): ("/containers/{c}/unshare", None, {"email": "vic@example.org"},
                                                  403),
    ("POST", "/containers/{container}/snapshots"): ("/containers/{c}/snapshots", None, {"label": "x"}, 403),
    ("POST", "/containers/{container}/snapshots/{snapshot}/forget"): ("/containers/{c}/snapshots/{s}/forget",
                                                                      None, {}, 403),
    ("POST", "/containers/{container}/snapshots/{snapshot}/restore"): ("/containers/{c}/snapshots/{s}/restore",
                                                                       None, {}, 403),
    ("POST", "/tasks/{task}/cancel"): ("/tasks/{t}/cancel", None, {}, 403),
    ("POST", "/settings/{key}"): ("/settings/auth.require_mfa", None, {"value": "true"}, 403),
    ("POST", "/users"): ("/users", None, {"email": "x@example.org", "role": "owner"}, 403),
    ("POST", "/users/{email}/role"): ("/users/vic@example.org/role", None, {"role": "owner"}, 403),
    ("POST", "/users/{email}/disable"): (f"/users/{OTHER}/disable", None, {}, 403),
    ("POST", "/users/{email}/enable"): (f"/users/{OTHER}/enable", None, {}, 403),
    ("POST", "/users/{email}/password"): (f"/users/{OTHER}/password", None, {"password": "hijacked-pw"}, 403),
    ("POST", "/users/{email}/mfa/disable"): (f"/users/{OTHER}/mfa/disable", None, {}, 403),
    ("POST", "/tokens"): ("/tokens", None, {"user": OTHER}, 403),
    ("POST", "/tokens/{token}/revoke"): ("/tokens/{tok}/revoke", None, {}, 404),
    ("POST", "/sessions/{session}/revoke"): ("/sessions/{sess}/revoke", None, {}, 404),
}


def test_every_mutating_endpoint_has_a_viewer_case(idle_server):
    routes = mutating_routes(idle_server.app)
    missing = routes - set(CASES) - set(SELF_SERVICE)
    assert not missing, f"mutating endpoints without a viewer-refused case: {sorted(missing)}"
    assert not (set(CASES) | set(SELF_SERVICE)) - routes, "cases for endpoints that no longer exist"


def test_self_service_routes_name_no_target():
    for _method, path in SELF_SERVICE:
        assert "{" not in path, path


@pytest.fixture
def world(idle_server):
    """op's container dev (snapshot, a queued task) shared with vic as viewer; eve's token and session."""
    op = as_user(idle_server, "op@example.org")
    op.containers.create("dev")
    snap = op.snapshots.create("dev", label="base")
    op.shares.share("dev", "vic@example.org", "viewer")
    queued = op.snapshots.create("dev", detach=True)  # no agent runs: it stays queued
    eve = as_user(idle_server, OTHER)
    token = eve.tokens.create(name="eve's")
    eve_session = login(idle_server, OTHER)
    session_id = eve_session.get("/api/me").json()["session"]["id"]
    ids = {"c": str(snap.container_id), "s": str(snap.id), "t": str(queued.id), "tok": str(token.info.id),
           "sess": session_id}
    yield ids
    eve_session.close()


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_a_viewer_is_refused_and_nothing_changes(idle_server, world, route):
    url, body, form, expected = CASES[route]
    url = url.format(**world)
    with closing(login(idle_server, "vic@example.org")) as vic:
        before, audits = catalogue_state(idle_server), audit_count(idle_server)
        r = vic.request(route[0], url, json=body, data=form)
        assert r.status_code == expected, (route, r.status_code, r.text[:300])
        assert catalogue_state(idle_server) == before
        assert audit_count(idle_server) > audits
        refusals = idle_server.bodega.events.list(levels=["audit"], limit=1)
        assert "vic@example.org: refused" in refusals[-1].message
