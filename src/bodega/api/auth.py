"""Who a request comes from: a bearer API token, or a session cookie whose mutations carry the CSRF token."""
from __future__ import annotations

from typing import TYPE_CHECKING

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from bodega import errors
from bodega.services.credentials import same

if TYPE_CHECKING:
    from bodega.services import Bodega
    from bodega.services.sessions import Authenticated

SESSION_COOKIE = "bodega_session"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def authenticate(request: Request, *, allow_pending: bool = False, csrf: str | None = None,
                 touch: bool = True) -> "Authenticated":
    """The caller of request; for a cookie session's mutations, the CSRF token (header or form field) must match.

    touch=False leaves recording the use (a catalogue write, when touch_due) to the caller.
    """
    app_bodega: "Bodega" = request.app.state.bodega
    header = request.headers.get("authorization")
    if header is not None:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise errors.NotAuthenticated("send `Authorization: Bearer TOKEN` (see `bodega token create`)")
        auth = app_bodega.tokens.authenticate(token.strip(), touch=touch)
    else:
        token = request.cookies.get(SESSION_COOKIE)
        if not token:
            raise errors.NotAuthenticated("not signed in")
        auth = app_bodega.sessions.authenticate(token, allow_pending=allow_pending, touch=touch)
        request.state.user = auth.user
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER) or csrf or ""
            if not sent or not auth.csrf_token or not same(sent, auth.csrf_token):
                raise errors.CsrfRejected()
    request.state.user = auth.user
    request.state.auth = auth
    return auth


async def actor(request: Request) -> "Bodega":
    """The services, acting as the caller (a FastAPI dependency).

    It runs on the event loop, not in a worker thread: checking a caller is one indexed read,
    cheaper than the thread handoff, and on a busy server the handoffs' wait for the GIL was the
    tail of the read latency.  The rare write that records a use may wait for the catalogue's
    lock, so it goes to a worker thread.
    """
    auth = authenticate(request, touch=False)
    if auth.touch_due:
        services = request.app.state.bodega
        await run_in_threadpool(services.sessions.touch if auth.session else services.tokens.touch, auth)
    return request.app.state.bodega.acting_as(auth.user)


def wake_agents(request: Request) -> None:
    """Tells the server's agents a task was queued, so they claim it now rather than at their next poll."""
    wake = getattr(request.app.state, "wake", None)
    if wake is not None:
        wake()
