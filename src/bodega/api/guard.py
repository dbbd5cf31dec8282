"""ASGI middleware: security headers on every response and a cap on request bodies."""
from __future__ import annotations

import os
from typing import Any

from bodega import errors

DEFAULT_MAX_BODY = 1 << 20  # bytes; $BODEGA_MAX_BODY overrides
DRAIN_MAX = 64 << 20  # a refused body up to this size is read and dropped; beyond, the connection is cut

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; "
       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'; connect-src 'self'")
HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
]


def max_body() -> int:
    """The largest request body accepted: $BODEGA_MAX_BODY bytes, else 1 MiB."""
    raw = os.environ.get("BODEGA_MAX_BODY")
    if not raw:
        return DEFAULT_MAX_BODY
    try:
        return max(1024, int(raw))
    except ValueError:
        raise errors.InvalidInput(f"BODEGA_MAX_BODY is a number of bytes, not {raw!r}") from None


class Guard:
    """Adds the security headers, marks non-static responses uncacheable, and refuses oversized bodies (413)."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        static = scope["path"].startswith("/static/")

        async def send_with_headers(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", [])) + HEADERS
                if not static:
                    headers.append((b"cache-control", b"no-store"))
                message = {**message, "headers": headers}
            await send(message)

        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.limit):
            await self._drain(receive, int(length) if length.isdigit() else 0)
            await self._refuse(scope, send_with_headers)
            return
        seen = 0

        async def counted_receive() -> dict[str, Any]:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise errors.RequestTooLarge(f"the request body is over {self.limit} bytes")
            return message

        await self.app(scope, counted_receive, send_with_headers)

    async def _drain(self, receive: Any, length: int) -> None:
        """Reads and drops a refused body that is not huge, so the client reads the 413 instead of a reset."""
        if length > DRAIN_MAX:
            return
        while True:
            message = await receive()
            if message["type"] != "http.request" or not message.get("more_body"):
                return

    async def _refuse(self, scope: dict[str, Any], send: Any) -> None:
        from starlette.concurrency import run_in_threadpool
        from starlette.requests import Request

        from bodega.api.errors import respond

        request = Request(scope)
        request.state.user = None
        response = await run_in_threadpool(
            respond, request, errors.RequestTooLarge(f"the request body is over {self.limit} bytes"))
        response.headers["connection"] = "close"

        async def no_body() -> dict[str, Any]:
            return {"type": "http.disconnect"}

        await response(scope, no_body, send)
