"""The JSON API over real HTTP: sign-in, containers, snapshot tasks (202), progress, SSE, users and tokens."""
from __future__ import annotations

import json
import time

import httpx

from served import PASSWORD, enrol, wait_task  # type: ignore[import-not-found]


def test_sign_in_sets_a_strict_httponly_cookie_and_security_headers(served, anonymous):
    r = anonymous.post("/api/auth/login", json={"email": "op@example.org", "password": PASSWORD})
    assert r.status_code == 200 and r.json()["needs"] is None
    cookie = r.headers["set-cookie"].lower()
    assert "bodega_session=bds_" in cookie and "httponly" in cookie and "samesite=strict" in cookie
    csp = r.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp and "frame-ancestors 'none'" in csp
    assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
    me = anonymous.get("/api/me").json()
    assert me["user"]["email"] == "op@example.org" and me["user"]["role"] == "operator"


def test_container_snapshot_restore_round_trip(served, signin):
    op = signin("op@example.org")
    r = op.post("/api/containers", json={"name": "dev", "tags": ["work"]})
    assert r.status_code == 202 and r.headers["location"] == f"/api/tasks/{r.json()['id']}"
    assert wait_task(op, r.json()["id"])["status"] == "succeeded"
    root = served.home.container_dir(__import__("uuid").UUID(op.get("/api/containers/dev").json()["id"])) / "root"
    (root / "a.txt").write_text("one")
    r = op.post("/api/containers/dev/snapshots", json={"label": "first"})
    assert r.status_code == 202 and r.json()["type"] == "snapshot.create"
    task = wait_task(op, r.json()["id"])
    assert task["status"] == "succeeded" and task["progress"] == 100
    snap = op.get("/api/containers/dev/snapshots").json()[0]
    assert snap["label"] == "first" and snap["id"] == task["result"]["snapshot_id"]
    assert [e["path"] for e in op.get(f"/api/containers/dev/snapshots/{snap['id']}/entries").json()] == ["a.txt"]
    (root / "a.txt").write_text("two")
    diff = op.get("/api/containers/dev/diff").json()
    assert [c["status"] for c in diff["changes"]] == ["M "]
    r = op.post(f"/api/containers/dev/snapshots/{snap['id'][:8]}/restore")
    assert r.status_code == 202 and wait_task(op, r.json()["id"])["status"] == "succeeded"
    assert (root / "a.txt").read_text() == "one"
    assert op.get("/api/containers/dev").json()["tags"] == ["work"]
    r = op.patch("/api/containers/dev", json={"add_tags": ["nightly"], "description": "d"})
    assert r.status_code == 200 and r.json()["tags"] == ["nightly", "work"] and r.json()["description"] == "d"


def test_clone_and_delete_are_tasks(served, signin):
    op = signin("op@example.org")
    wait_task(op, op.post("/api/containers", json={"name": "dev"}).json()["id"])
    r = op.post("/api/containers/dev/clone", json={"name": "dev2"})
    assert r.status_code == 202 and wait_task(op, r.json()["id"])["status"] == "succeeded"
    assert sorted(c["name"] for c in op.get("/api/containers").json()) == ["dev", "dev2"]
    r = op.delete("/api/containers/dev2")
    assert r.status_code == 202 and wait_task(op, r.json()["id"])["status"] == "succeeded"
    assert [c["name"] for c in op.get("/api/containers").json()] == ["dev"]


def test_events_stream_resumes_after_last_event_id(served, signin):
    op = signin("op@example.org")
    wait_task(op, op.post("/api/containers", json={"name": "dev"}).json()["id"])
    seqs = [e["seq"] for e in op.get("/api/events", params={"limit": 1000}).json()]
    middle = seqs[len(seqs) // 2]

    def first_ids(headers: dict[str, str], params: dict[str, str], n: int) -> list[int]:
        ids = []
        with op.stream("GET", "/api/events/stream", headers=headers, params=params) as r:
            assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
            for line in r.iter_lines():
                if line.startswith("id: "):
                    ids.append(int(line[4:]))
                    if len(ids) == n:
                        break
        return ids

    later = [s for s in seqs if s > middle]
    assert first_ids({"Last-Event-ID": str(middle)}, {}, len(later)) == later
    assert first_ids({}, {"after": "0"}, 3) == seqs[:3]


def test_a_queued_task_is_seen_live_on_the_stream(served, signin):
    op = signin("op@example.org")
    wait_task(op, op.post("/api/containers", json={"name": "dev"}).json()["id"])
    cursor = op.get("/api/events", params={"limit": 1}).json()[-1]["seq"]
    task = op.post("/api/containers/dev/snapshots", json={}).json()
    statuses = []
    with op.stream("GET", "/api/events/stream", params={"after": str(cursor), "task": task["id"]}) as r:
        for line in r.iter_lines():
            if line.startswith("data: "):
                ctx = json.loads(line[6:])["context"]
                statuses.append(ctx.get("status"))
                if ctx.get("status") == "succeeded":
                    break
    assert statuses[-1] == "succeeded" and "running" in statuses


def test_users_tokens_and_sessions(served, signin, anonymous):
    owner = signin("owner@example.org")
    r = owner.post("/api/users", json={"email": "new@example.org", "role": "viewer", "password": "password12"})
    assert r.status_code == 201
    assert owner.patch("/api/users/new@example.org", json={"role": "operator"}).json()["role"] == "operator"
    made = owner.post("/api/tokens", json={"user": "new@example.org", "name": "ci"})
    assert made.status_code == 201
    token = made.json()["token"]
    bearer = httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"})
    assert bearer.get("/api/me").json()["user"]["email"] == "new@example.org"
    r = bearer.post("/api/containers", json={"name": "scripted"})  # a bearer token needs no CSRF token
    assert r.status_code == 202
    assert owner.delete(f"/api/tokens/{made.json()['id']}").status_code == 200
    assert bearer.get("/api/me").status_code == 401
    sessions = owner.get("/api/sessions").json()
    assert {s["user"] for s in sessions} >= {"owner@example.org"}
    op = signin("op@example.org")
    mine = [s for s in owner.get("/api/sessions", params={"user": "op@example.org"}).json()][0]
    assert owner.delete(f"/api/sessions/{mine['id']}").status_code == 200
    assert op.get("/api/me").status_code == 401


def test_totp_sign_in_over_http(served, anonymous):
    totp = enrol(served, "op@example.org")
    r = anonymous.post("/api/auth/login", json={"email": "op@example.org", "password": PASSWORD})
    assert r.json()["needs"] == "mfa"
    anonymous.csrf = r.json()["csrf_token"]
    assert anonymous.get("/api/containers").status_code == 401
    code = totp.at(time.time() + 30)
    assert anonymous.post("/api/auth/mfa", json={"code": code}).status_code == 200
    assert anonymous.get("/api/containers").status_code == 200


def test_openapi_document_lists_the_api(served, anonymous):
    doc = anonymous.get("/openapi.json").json()
    paths = doc["paths"]
    for path in ("/api/containers", "/api/containers/{container}/snapshots", "/api/tasks/{task}",
                 "/api/events/stream", "/api/users", "/api/sessions", "/api/tokens", "/api/auth/login"):
        assert path in paths
    assert not any(p.startswith("/containers") or p == "/login" for p in paths)  # the panel is not API
