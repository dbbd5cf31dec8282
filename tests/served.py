"""A real bodega server for API and panel tests: uvicorn on a free loopback port, users of each role, HTTP clients."""
from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pyotp
import pytest
import sqlalchemy as sa

import bodega
from bodega.api.server import Server

PASSWORD = "correct horse battery"
USERS = {"owner@example.org": "owner", "op@example.org": "operator", "vic@example.org": "viewer",
         "eve@example.org": "operator"}
# Columns that reading touches (a session's last request, a token's last use): not a change.
TOUCHED = {"last_seen_at", "last_used_at"}
UNCOMPARED = {"event_logs", "event_sequence", "login_attempts", "alembic_version"}  # event_sequence: the events' counter


class Client(httpx.Client):
    """An httpx client that sends the session's CSRF token on every mutation, like the panel's forms."""

    csrf: str = ""

    def request(self, method: str, url: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        if method.upper() not in ("GET", "HEAD", "OPTIONS") and self.csrf:
            kwargs["headers"] = {"x-csrf-token": self.csrf, **(kwargs.get("headers") or {})}
        return super().request(method, url, **kwargs)


def _serve(home: Any, agents: int) -> Iterator[Server]:
    with bodega.open(home) as b:
        for email, role in USERS.items():
            b.users.create(email, role=role, password=PASSWORD)
    server = Server(str(home), host="127.0.0.1", port=0, agents=agents).start()
    yield server
    server.stop()


@pytest.fixture
def served(home) -> Iterator[Server]:
    """A server with one agent, and users owner@, op@, vic@ (viewer) and eve@ (operator), password PASSWORD."""
    yield from _serve(home, agents=1)


@pytest.fixture
def signin(served):
    """signin(email) -> a Client signed in as email (cookie session, CSRF header on mutations)."""
    clients = []

    def make(email: str, password: str = PASSWORD, code: str | None = None) -> Client:
        c = Client(base_url=served.url, timeout=30)
        clients.append(c)
        r = c.post("/api/auth/login", json={"email": email, "password": password})
        assert r.status_code == 200, r.text
        c.csrf = r.json()["csrf_token"]
        if code is not None:
            assert c.post("/api/auth/mfa", json={"code": code}).status_code == 200
        return c

    yield make
    for c in clients:
        c.close()


@pytest.fixture
def anonymous(served) -> Iterator[Client]:
    """A client with no session."""
    with Client(base_url=served.url, timeout=30) as c:
        yield c


def wait_task(client: httpx.Client, task_id: str, timeout: float = 60) -> dict[str, Any]:
    """Polls GET /api/tasks/{id} until the task has ended."""
    deadline = time.monotonic() + timeout
    while True:
        task = client.get(f"/api/tasks/{task_id}").json()
        if task["status"] in ("succeeded", "failed", "cancelled"):
            return task
        assert time.monotonic() < deadline, task
        time.sleep(0.05)


def catalogue_state(server: Server) -> dict[str, list[tuple]]:
    """Every catalogue row but events and sign-in attempts, without the columns reads touch."""
    engine = server.bodega.catalogue.engine
    out = {}
    with engine.connect() as conn:
        meta = sa.MetaData()
        meta.reflect(conn)
        for name, table in sorted(meta.tables.items()):
            if name in UNCOMPARED:
                continue
            cols = [c for c in table.columns if c.name not in TOUCHED]
            out[name] = sorted(tuple(str(v) for v in row) for row in conn.execute(sa.select(*cols)))
    return out


def audit_count(server: Server) -> int:
    """How many audit events the log holds."""
    return len(server.bodega.events.list(levels=["audit"], limit=None))


def enrol(server: Server, email: str) -> pyotp.TOTP:
    """Enrols email's TOTP through the services; returns the authenticator."""
    b = server.bodega.acting_as(server.bodega.users.get(email))
    enrolment = b.mfa.begin(email)
    totp = pyotp.TOTP(enrolment.secret)
    b.mfa.confirm(email, totp.now())
    return totp


def routes(app: Any) -> Iterator[Any]:
    """Every route of an app, through included routers."""
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        if inner is not None:
            yield from routes(inner)
        else:
            yield route


def mutating_routes(app: Any) -> set[tuple[str, str]]:
    """(method, path) of every route that may change something: POST, PUT, PATCH, DELETE."""
    return {(m, r.path) for r in routes(app) for m in (getattr(r, "methods", None) or ()) if m not in ("GET", "HEAD")}


@pytest.fixture
def idle_server(home) -> Iterator[Server]:
    """Like served, but without agents: detached tasks stay queued."""
    yield from _serve(home, agents=0)


def as_user(server: Server, email: str) -> Any:
    """The server's services acting as email."""
    return server.bodega.acting_as(server.bodega.users.get(email))


def login(server: Server, email: str, password: str = PASSWORD) -> Client:
    """A Client signed in as email (the caller closes it)."""
    c = Client(base_url=server.url, timeout=30)
    r = c.post("/api/auth/login", json={"email": email, "password": password})
    assert r.status_code == 200, r.text
    c.csrf = r.json()["csrf_token"]
    return c
