"""Signing in and out over JSON: password, second factor, enrolment, and who am I."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from bodega.api.auth import SESSION_COOKIE, actor, authenticate
from bodega.api.routes.common import ERRORS
from bodega.services import Bodega

router = APIRouter(prefix="/api/auth", tags=["auth"], responses=ERRORS)


class Login(BaseModel):
    """Email and password."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(max_length=320)
    password: str = Field(max_length=1024)


class Code(BaseModel):
    """A TOTP code (6 digits) or a recovery code."""

    model_config = ConfigDict(extra="forbid")
    code: str = Field(max_length=64)


def set_session_cookie(request: Request, response: Response, token: str) -> None:
    """The session cookie: HttpOnly, SameSite=Strict, Secure when the server says so."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="strict", path="/",
                        secure=bool(request.app.state.secure_cookies))


def client(request: Request) -> dict[str, str | None]:
    """The caller's address and user agent."""
    return {"address": request.client.host if request.client else None,
            "agent": request.headers.get("user-agent")}


@router.post("/login")
def login(request: Request, response: Response, body: Login) -> dict[str, Any]:
    """Signs in with email and password; sets the session cookie. `needs` says if a code (mfa) or an enrolment is due."""
    signed = request.app.state.bodega.sessions.login(body.email, body.password, **client(request))
    set_session_cookie(request, response, signed.token)
    return {"session": signed.session.to_dict(), "csrf_token": signed.csrf_token, "needs": signed.needs}


@router.post("/mfa")
def verify_mfa(request: Request, body: Code) -> dict[str, Any]:
    """Completes sign-in with a TOTP or recovery code (each works once)."""
    authenticate(request, allow_pending=True)
    token = request.cookies.get(SESSION_COOKIE, "")
    return request.app.state.bodega.sessions.verify_mfa(token, body.code).to_dict()


@router.post("/logout", status_code=204)
def logout(request: Request) -> Response:
    """Ends the session of the cookie."""
    authenticate(request, allow_pending=True)
    request.app.state.bodega.sessions.logout(request.cookies.get(SESSION_COOKIE, ""))
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


me_router = APIRouter(prefix="/api/me", tags=["me"], responses=ERRORS)


@me_router.get("")
def me(request: Request) -> dict[str, Any]:
    """The signed-in user, their session (if any) and what sign-in still needs."""
    auth = authenticate(request, allow_pending=True)
    return {"user": auth.user.to_dict(), "session": auth.session.to_dict() if auth.session else None,
            "needs": auth.needs, "csrf_token": auth.csrf_token}


def pending_actor(request: Request) -> Bodega:
    """The services as the caller, whose session may still wait for a second factor (to enrol one)."""
    auth = authenticate(request, allow_pending=True)
    return request.app.state.bodega.acting_as(auth.user)


@me_router.post("/mfa/enrol")
def mfa_enrol(b: Annotated[Bodega, Depends(pending_actor)]) -> dict[str, Any]:
    """Starts TOTP enrolment: the secret and otpauth URI for an authenticator app."""
    return b.mfa.begin(b.user.email).to_dict()


@me_router.post("/mfa/confirm")
def mfa_confirm(request: Request, b: Annotated[Bodega, Depends(pending_actor)], body: Code) -> dict[str, Any]:
    """Enables TOTP with a first code; returns the recovery codes (shown once)."""
    codes = b.mfa.confirm(b.user.email, body.code)
    auth = request.state.auth
    if auth.session is not None:
        b.sessions.enrolled(auth.session.id)
    return {"recovery_codes": codes}


@me_router.delete("/mfa")
def mfa_disable(b: Annotated[Bodega, Depends(actor)]) -> dict[str, Any]:
    """Removes your second factor."""
    return b.mfa.disable(b.user.email).to_dict()


@me_router.post("/mfa/recovery-codes")
def recovery_codes(b: Annotated[Bodega, Depends(actor)]) -> dict[str, Any]:
    """Replaces your recovery codes (shown once)."""
    return {"recovery_codes": b.mfa.new_recovery_codes(b.user.email)}

