"""The panel's pages and form actions: each renders a template or calls one service and redirects back."""
from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote, urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from bodega import errors
from bodega.api.auth import SESSION_COOKIE, authenticate, wake_agents
from bodega.api.routes.session_auth import client, set_session_cookie
from bodega.services import Bodega
from bodega.services.credentials import new_token, same

TEMPLATES = Jinja2Templates(directory=str(Path(__file__).resolve().parent / "templates"))
LOGIN_CSRF_COOKIE = "bodega_login_csrf"
router = APIRouter(include_in_schema=False)
Text = Annotated[str, Form(max_length=4096)]
NOTICES = {
    "queued": "Task queued: its progress shows below.", "shared": "Shared.", "unshared": "No longer shared.",
    "forgot": "Snapshot forgotten.", "cancel": "Cancel requested.", "user": "User saved.",
    "revoked": "Revoked.", "password": "Password set.", "mfa-off": "Second factor removed.",
    "settings": "Setting saved.", "deleted": "Container deletion queued.",
}


# --- rendering ----------------------------------------------------------------------------

def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A page rendered with the signed-in user, their CSRF token and the notice named by ?ok=."""
    auth = getattr(request.state, "auth", None)
    context.setdefault("me", auth.user if auth else None)
    context.setdefault("csrf", auth.csrf_token if auth else "")
    context.setdefault("notice", NOTICES.get(request.query_params.get("ok", "")))
    return TEMPLATES.TemplateResponse(request, template, context, status_code=status)


def error_page(request: Request, status: int, exc: errors.BodegaError) -> Response:
    """How the panel shows an error: sign-in pages for 401, an error page otherwise."""
    if isinstance(exc, errors.MfaRequired):
        auth = _pending(request)
        target = "/login/mfa" if auth is not None and auth.needs == "mfa" else "/account/mfa"
        return RedirectResponse(target, status_code=303)
    if status == 401 and request.method == "GET":
        return RedirectResponse(f"/login?next={quote(request.url.path)}", status_code=303)
    return page(request, "error.html", status=status, status_code=status, message=str(exc),
                kind=type(exc).__name__)


def _pending(request: Request) -> Any:
    try:
        return authenticate(request, allow_pending=True)
    except errors.BodegaError:
        return None


def back(url: str, notice: str = "") -> RedirectResponse:
    """A 303 redirect to url (after a form), with a notice."""
    sep = "&" if "?" in url else "?"
    return RedirectResponse(f"{url}{sep}ok={notice}" if notice else url, status_code=303)


def safe_next(target: str | None) -> str:
    """A local path to go to after sign-in (never another site)."""
    if not target or not target.startswith("/") or target.startswith("//") or urlsplit(target).netloc:
        return "/"
    return target


# --- who is asking ------------------------------------------------------------------------

def reader(request: Request) -> Bodega:
    """The services as the signed-in user (pages)."""
    return request.app.state.bodega.acting_as(authenticate(request).user)


def actor(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Bodega:
    """The services as the signed-in user, for a form whose CSRF field must match the session's."""
    return request.app.state.bodega.acting_as(authenticate(request, csrf=csrf).user)


def pending_actor(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Bodega:
    """Like actor, for a session that still has to enrol a second factor."""
    return request.app.state.bodega.acting_as(authenticate(request, allow_pending=True, csrf=csrf).user)


Reader = Annotated[Bodega, Depends(reader)]
Actor = Annotated[Bodega, Depends(actor)]
PendingActor = Annotated[Bodega, Depends(pending_actor)]


# --- signing in ---------------------------------------------------------------------------

@router.get("/login")
def login_form(request: Request, next: str = "/") -> Response:
    token = new_token("")
    response = page(request, "login.html", next=safe_next(next), login_csrf=token)
    response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                        secure=bool(request.app.state.secure_cookies))
    return response


@router.post("/login")
def login(request: Request, email: Annotated[str, Form(max_length=320)], password: Annotated[str, Form(max_length=1024)],
          login_csrf: Annotated[str, Form(max_length=200)] = "", next: Text = "/") -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not same(login_csrf, expected):
        raise errors.CsrfRejected("the sign-in form expired: reload the page and try again")
    try:
        signed = request.app.state.bodega.sessions.login(email, password, **client(request))
    except (errors.LoginFailed, errors.TooManyAttempts) as e:
        from bodega.api.errors import audit_refusal, status_of

        audit_refusal(request, status_of(e), e)
        token = new_token("")
        response = page(request, "login.html", status=status_of(e), next=safe_next(next), login_csrf=token,
                        error=str(e), email=email)
        response.set_cookie(LOGIN_CSRF_COOKIE, token, httponly=True, samesite="strict", path="/login",
                            secure=bool(request.app.state.secure_cookies))
        return response
    target = {"mfa": "/login/mfa", "enrol": "/account/mfa"}.get(signed.needs or "", safe_next(next))
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, signed.token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/login")
    return response


@router.get("/login/mfa")
def mfa_form(request: Request) -> Response:
    auth = authenticate(request, allow_pending=True)
    if auth.needs != "mfa":
        return RedirectResponse("/", status_code=303)
    return page(request, "mfa.html")


@router.post("/login/mfa")
def mfa(request: Request, code: Annotated[str, Form(max_length=64)],
        csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    authenticate(request, allow_pending=True, csrf=csrf)
    try:
        request.app.state.bodega.sessions.verify_mfa(request.cookies.get(SESSION_COOKIE, ""), code)
    except (errors.MfaCodeInvalid, errors.TooManyAttempts) as e:
        from bodega.api.errors import audit_refusal, status_of

        audit_refusal(request, status_of(e), e)
        return page(request, "mfa.html", status=status_of(e), error=str(e))
    return RedirectResponse("/", status_code=303)


@router.post("/logout")
def logout(request: Request, csrf: Annotated[str, Form(max_length=200)] = "") -> Response:
    authenticate(request, allow_pending=True, csrf=csrf)
    request.app.state.bodega.sessions.logout(request.cookies.get(SESSION_COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


# --- containers ---------------------------------------------------------------------------

@router.get("/")
def containers(request: Request, b: Reader) -> Response:
    return page(request, "containers.html", containers=b.containers.list(all_users=True))


@router.post("/containers")
def create_container(request: Request, b: Actor, name: Annotated[str, Form(max_length=200)],
                     description: Text = "", tags: Text = "") -> Response:
    task = b.containers.create(name, description=description, tags=[t for t in tags.replace(",", " ").split() if t],
                               detach=True)
    wake_agents(request)
    return back(f"/containers/{task.container_id}", "queued")


def _snapshot_tree(snaps: list[Any]) -> list[dict[str, Any]]:
    """Snapshots nested under their base (a delta's children follow it), oldest first."""
    nodes = {s.id: {"snap": s, "children": []} for s in snaps}
    roots = []
    for s in snaps:
        parent = nodes.get(s.base_snapshot_id) if s.base_snapshot_id else None
        (parent["children"] if parent else roots).append(nodes[s.id])
    return roots


@router.get("/containers/{container}")
def container_page(request: Request, b: Reader, container: str) -> Response:
    c = b.containers.get(container)
    snaps = b.snapshots.list(c.id)
    diff = None
    if snaps and c.status.value in ("ready", "running", "archived"):
        try:
            diff = b.snapshots.diff(c.id)
        except errors.BodegaError as e:
            diff = str(e)
    with b.catalogue.session_scope(write=False) as s:
        role = b.shares.role_on(s, b.containers.resolve(s, c.id))
    return page(request, "container.html", c=c, apps=b.apps.list(c.id), tree=_snapshot_tree(snaps),
                snapshots=snaps, diff=diff, tasks=b.tasks.list(container_id=c.id, limit=15),
                events=b.events.list(container_id=c.id, limit=30), cursor=b.events.cursor(),
                shares=b.shares.list(c.id), can_operate=role is not None and role.value != "viewer",
                owns=c.owner_email == b.user.email or b.user.role.value == "owner")


@router.post("/containers/{container}/snapshots")
def take_snapshot(request: Request, b: Actor, container: str, label: Text = "") -> Response:
    task = b.snapshots.create(container, label=label, detach=True)
    wake_agents(request)
    return back(f"/containers/{task.container_id}", "queued")


@router.post("/containers/{container}/snapshots/{snapshot}/restore")
def restore_snapshot(request: Request, b: Actor, container: str, snapshot: str) -> Response:
    task = b.snapshots.restore(container, snapshot, detach=True)
    wake_agents(request)
    return back(f"/containers/{task.container_id}", "queued")


@router.post("/containers/{container}/snapshots/{snapshot}/forget")
def forget_snapshot(b: Actor, container: str, snapshot: str) -> Response:
    c = b.containers.get(container)
    b.snapshots.forget(c.id, ids=[snapshot])
    return back(f"/containers/{c.id}", "forgot")


@router.post("/containers/{container}/clone")
def clone_container(request: Request, b: Actor, container: str, name: Annotated[str, Form(max_length=200)]) -> Response:
    task = b.containers.clone(container, name, detach=True)
    wake_agents(request)
    return back(f"/containers/{task.container_id}", "queued")


@router.post("/containers/{container}/delete")
def delete_container(request: Request, b: Actor, container: str) -> Response:
    b.containers.delete(container, detach=True)
    wake_agents(request)
    return back("/", "deleted")


@router.post("/containers/{container}/share")
def share_container(b: Actor, container: str, email: Annotated[str, Form(max_length=320)],
                    role: Annotated[str, Form(max_length=20)] = "viewer") -> Response:
    info = b.shares.share(container, email, role)
    return back(f"/containers/{info.container_id}", "shared")


@router.post("/containers/{container}/unshare")
def unshare_container(b: Actor, container: str, email: Annotated[str, Form(max_length=320)]) -> Response:
    c = b.containers.get(container)
    b.shares.unshare(c.id, email)
    return back(f"/containers/{c.id}", "unshared")


# --- tasks and events ---------------------------------------------------------------------

@router.get("/tasks")
def tasks_page(request: Request, b: Reader) -> Response:
    return page(request, "tasks.html", tasks=b.tasks.list(limit=100), cursor=b.events.cursor())


@router.post("/tasks/{task}/cancel")
def cancel_task(request: Request, b: Actor, task: str) -> Response:
    info = b.tasks.cancel(task)
    target = f"/containers/{info.container_id}" if info.container_id else "/tasks"
    return back(target, "cancel")


@router.get("/events")
def events_page(request: Request, b: Reader, level: str | None = None) -> Response:
    levels = [level] if level in ("info", "warning", "error", "audit") else None
    return page(request, "events.html", events=b.events.list(limit=200, levels=levels)[::-1], level=level)


# --- users, sessions, tokens, settings ----------------------------------------------------

@router.get("/users")
def users_page(request: Request, b: Reader) -> Response:
    return page(request, "users.html", users=b.users.list(), settings=b.settings.list())


@router.post("/users")
def add_user(b: Actor, email: Annotated[str, Form(max_length=320)], role: Annotated[str, Form(max_length=20)],
             display_name: Text = "", password: Annotated[str, Form(max_length=1024)] = "") -> Response:
    b.users.create(email, display_name, role, password=password or None)
    return back("/users", "user")


@router.post("/users/{email}/role")
def set_role(b: Actor, email: str, role: Annotated[str, Form(max_length=20)]) -> Response:
    b.users.set_role(email, role)
    return back("/users", "user")


@router.post("/users/{email}/disable")
def disable_user(b: Actor, email: str) -> Response:
    b.users.set_disabled(email, True)
    return back("/users", "user")


@router.post("/users/{email}/enable")
def enable_user(b: Actor, email: str) -> Response:
    b.users.set_disabled(email, False)
    return back("/users", "user")


@router.post("/users/{email}/password")
def set_password(request: Request, b: Actor, email: str, password: Annotated[str, Form(max_length=1024)]) -> Response:
    session = request.state.auth.session
    b.users.set_password(email, password, keep_session=session.id if session else None)
    return back("/users" if b.user.email != email else "/account", "password")


@router.post("/users/{email}/mfa/disable")
def remove_mfa(b: Actor, email: str) -> Response:
    b.mfa.disable(email)
    return back("/users" if b.user.email != email else "/account", "mfa-off")


@router.post("/settings/{key}")
def set_setting(b: Actor, key: str, value: Annotated[str, Form(max_length=20)]) -> Response:
    b.settings.set(key, value)
    return back("/users", "settings")


@router.get("/sessions")
def sessions_page(request: Request, b: Reader) -> Response:
    return page(request, "sessions.html", sessions=b.sessions.list(include_ended=False))


@router.post("/sessions/{session}/revoke")
def revoke_session(b: Actor, session: str) -> Response:
    b.sessions.revoke(session)
    return back("/sessions", "revoked")


@router.get("/tokens")
def tokens_page(request: Request, b: Reader) -> Response:
    users = b.users.list() if b.user.role.value == "owner" else []
    return page(request, "tokens.html", tokens=b.tokens.list(), users=users)


@router.post("/tokens")
def create_token(request: Request, b: Actor, name: Annotated[str, Form(max_length=100)] = "",
                 user: Annotated[str, Form(max_length=320)] = "") -> Response:
    made = b.tokens.create(user or None, name)
    return page(request, "secret.html", title="New API token", secrets=[made.token],
                note=f"The token of {made.info.email}. It is shown this once: copy it now.", back="/tokens")


@router.post("/tokens/{token}/revoke")
def revoke_token(b: Actor, token: str) -> Response:
    b.tokens.revoke(token)
    return back("/tokens", "revoked")


# --- your account -------------------------------------------------------------------------

@router.get("/account")
def account_page(request: Request, b: Reader) -> Response:
    return page(request, "account.html", user=b.users.get(b.user.email))


@router.get("/account/mfa")
def mfa_page(request: Request) -> Response:
    auth = authenticate(request, allow_pending=True)
    if auth.needs == "mfa":
        return RedirectResponse("/login/mfa", status_code=303)
    return page(request, "enrol.html", enrolment=None, required=auth.needs == "enrol")


@router.post("/account/mfa/begin")
def mfa_begin(request: Request, b: PendingActor) -> Response:
    enrolment = b.mfa.begin(b.user.email)
    return page(request, "enrol.html", enrolment=enrolment, qr=enrolment.qr_svg(),
                required=request.state.auth.needs == "enrol")


@router.post("/account/mfa/confirm")
def mfa_confirm(request: Request, b: PendingActor, code: Annotated[str, Form(max_length=64)]) -> Response:
    codes = b.mfa.confirm(b.user.email, code)
    session = request.state.auth.session
    if session is not None:
        b.sessions.enrolled(session.id)
    return page(request, "secret.html", title="Second factor enabled", secrets=codes, back="/",
                note="Recovery codes: each signs you in once if you lose your device. They are shown this once.")


@router.post("/account/mfa/recovery-codes")
def new_recovery_codes(request: Request, b: Actor) -> Response:
    codes = b.mfa.new_recovery_codes(b.user.email)
    return page(request, "secret.html", title="New recovery codes", secrets=codes, back="/account",
                note="The old codes no longer work. These are shown this once.")


