"""Coverage-guided fuzzing of the HTTP API and panel with atheris: the ASGI app driven in
process (no server, no socket) with fuzzed methods, paths, query strings, headers and bodies.

    PYTHONPATH=src python tests/fuzz/fuzz_http.py -runs=100000

The app runs over a throwaway home with a container "dev" that has a snapshot, an owner, an
API token and a signed-in panel session.  Each input is one request: a method, a route of the
app with its parameters filled (a real name or id, or fuzzed text) or a fuzzed path, a query
string, an Authorization header (the token, a session cookie with its CSRF token, nothing, or
fuzzed), a content type, one extra header and a body (fuzzed bytes or JSON).  An answer below
500 is the app handling the request (a 4xx is it refusing bad input); a 5xx or an exception
escaping the app is a finding.  /api/events/stream, endless by design, is left out.
"""
from __future__ import annotations

import os
import sys

import atheris

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import run, scratch_file  # noqa: E402

import anyio  # noqa: F401,E402  (the frameworks are not instrumented: a fast start, bodega's code guides)
import fastapi  # noqa: F401,E402
import pydantic  # noqa: F401,E402
import sqlalchemy  # noqa: F401,E402
import starlette  # noqa: F401,E402

with atheris.instrument_imports():
    import asyncio
    import json
    import logging
    import re
    from pathlib import Path
    from urllib.parse import quote

    import bodega
    from bodega.api.app import create_app
    from bodega.panel import pages  # noqa: F401  (these are loaded lazily, by create_app and bodega.open:
    from bodega.services import (  # noqa: F401    imported here, they are instrumented too)
        apps, container_listing, containers, events, exports, sessions, settings, shares, snapshots, tasks,
        tokens, users,
    )

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
ENDLESS = re.compile(r"^/+api/+events/+stream")
HEADER_NAMES = [b"cookie", b"x-csrf-token", b"content-length", b"accept", b"host", b"origin", b"range",
                b"if-none-match", b"x-forwarded-for", b"content-encoding", b"transfer-encoding"]
PASSWORD = "correct horse battery"


class Site:
    """The app over a throwaway home, and the real values a request may name."""

    def __init__(self) -> None:
        home = Path(scratch_file("home"))
        self.bodega = bodega.open(home)
        b = self.bodega
        b.users.create("owner@example.org", role="owner", password=PASSWORD)
        owner = b.acting_as(b.users.get("owner@example.org"))
        owner.containers.create("dev")
        snap = owner.snapshots.create("dev")
        self.token = owner.tokens.create(name="fuzz").token
        self.app = create_app(b)
        self.loop = asyncio.new_event_loop()
        self.values = {"container": ["dev"], "snapshot": [str(snap.id)], "email": ["owner@example.org"],
                       "key": ["auth.session_hours"], "task": [], "token": [], "session": []}
        self.routes = sorted({(r.path, m) for r in routes(self.app) for m in (getattr(r, "methods", None) or ("GET",))
                              if not ENDLESS.match(r.path)})
        status, headers, body = self.call("POST", "/api/auth/login", b"", [(b"content-type", b"application/json")],
                                          json.dumps({"email": "owner@example.org", "password": PASSWORD}).encode())
        assert status == 200, (status, body)
        self.cookie = next(v for k, v in headers if k == b"set-cookie").split(b";")[0]
        self.csrf = json.loads(body)["csrf_token"].encode()

    def call(self, method: str, path: str, query: bytes, headers: list[tuple[bytes, bytes]],
             body: bytes) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        """The app's answer to one request: status, headers, body."""
        scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
                 "scheme": "http", "path": path, "raw_path": quote(path).encode(),
                 "root_path": "", "query_string": query, "headers": headers,
                 "client": ("127.0.0.1", 50000), "server": ("127.0.0.1", 8470)}
        sent = False
        out: dict = {"status": None, "headers": [], "body": b""}

        async def receive() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            if message["type"] == "http.response.start":
                out["status"], out["headers"] = message["status"], list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                out["body"] += message.get("body", b"")

        self.loop.run_until_complete(asyncio.wait_for(self.app(scope, receive, send), 30))
        return out["status"], out["headers"], out["body"]


SITE: Site | None = None


def routes(app):
    """Every route of an app, through included routers."""
    for route in app.routes:
        inner = getattr(route, "original_router", None)
        yield from routes(inner) if inner is not None else (route,)


def text(fdp: atheris.FuzzedDataProvider, limit: int) -> str:
    return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, limit))


def header_value(fdp: atheris.FuzzedDataProvider, limit: int) -> bytes:
    """Bytes a server passes on as a header value (no CR, LF or NUL: h11 and httptools refuse those)."""
    return bytes(b for b in fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, limit)) if b not in (0, 10, 13))


def one_input(data: bytes) -> None:
    site = SITE
    assert site is not None
    fdp = atheris.FuzzedDataProvider(data)
    if fdp.ConsumeIntInRange(0, 7) == 0:
        method, path = fdp.PickValueInList(METHODS), "/" + text(fdp, 200)
    else:
        template, method = fdp.PickValueInList(site.routes)
        if fdp.ConsumeBool():
            method = fdp.PickValueInList(METHODS)

        def fill(m: re.Match) -> str:
            known = site.values.get(m.group(1).split(":")[0], [])
            value = fdp.PickValueInList(known) if known and fdp.ConsumeBool() else text(fdp, 80)
            return quote(value, safe="") if fdp.ConsumeBool() else value

        path = re.sub(r"\{([^}]*)\}", fill, template)
    if ENDLESS.match(path.replace("//", "/")):
        return
    # as a server passes them on: uvicorn refuses raw bytes outside ASCII in the target (400),
    # so they come percent-encoded ('%' itself kept: malformed escapes reach the app)
    query = quote(text(fdp, 120), safe="=&;+%/?:@!$'()*,").encode()
    headers: list[tuple[bytes, bytes]] = []
    auth = fdp.ConsumeIntInRange(0, 3)
    if auth == 0:
        headers.append((b"authorization", b"Bearer " + site.token.encode()))
    elif auth == 1:
        headers += [(b"cookie", site.cookie), (b"x-csrf-token", site.csrf)]
    elif auth == 2:
        headers.append((b"authorization", header_value(fdp, 80)))
    kind = fdp.ConsumeIntInRange(0, 3)
    headers.append((b"content-type", [b"application/json", b"application/x-www-form-urlencoded",
                                      b"multipart/form-data; boundary=x", header_value(fdp, 40)][kind]))
    if fdp.ConsumeBool():
        headers.append((fdp.PickValueInList(HEADER_NAMES), header_value(fdp, 60)))
    if fdp.ConsumeBool():
        body = fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 2000))
    else:
        try:
            body = json.dumps(json.loads(fdp.ConsumeUnicodeNoSurrogates(400))).encode()
        except ValueError:
            body = b"{}"
    status, _, answer = site.call(method, path, query, headers, body)
    assert status is not None and status < 500, (method, path, query, headers, body[:200], status, answer[:500])


if __name__ == "__main__":
    logging.disable(logging.WARNING)  # the multipart parser logs each malformed body it refuses
    SITE = Site()
    run(one_input, {"containers": b"\x01" * 8, "snapshot": b"\x05\x03" * 20, "raw": b"\x00api/containers/dev"})
