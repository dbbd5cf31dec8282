"""The ASGI app: the JSON API, the panel and its static files, behind the guard (headers, body cap)."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from bodega import __version__
from bodega.api import errors as api_errors
from bodega.api.guard import Guard, max_body
from bodega.api.routes import (
    catalogue_reads, containers, events, session_auth, sessions, settings, snapshots, tasks, tokens, users,
)

if TYPE_CHECKING:
    from bodega.services import Bodega

STATIC = Path(__file__).resolve().parent.parent / "panel" / "static"


def create_app(bodega: "Bodega", *, secure_cookies: bool = False, wake: Callable[[], None] | None = None) -> FastAPI:
    """The app over an open Bodega (acting per request as the signed-in user); wake tells agents of new tasks."""
    from bodega.panel.pages import router as panel_router

    app = FastAPI(title="bodega", version=__version__, docs_url=None, redoc_url=None, openapi_url="/openapi.json",
                  description="App containers: copy-on-write clones, checked snapshots, tasks and events. "
                              "Sign in at /api/auth/login (cookie; mutations send X-CSRF-Token) or send "
                              "`Authorization: Bearer TOKEN`.")
    app.state.bodega = bodega
    app.state.wake = wake
    app.state.secure_cookies = secure_cookies
    api_errors.install(app)
    for module in (session_auth, containers, snapshots, tasks, events, catalogue_reads, users, sessions, tokens,
                   settings):
        app.include_router(module.router)
    app.include_router(session_auth.me_router)
    app.include_router(panel_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    app.add_middleware(Guard, limit=max_body())
    return app
