"""The one translation point from bodega's errors to HTTP status codes, and the audit of refused requests."""
from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from bodega import errors

# Most specific first: the first class an error is an instance of decides its status.
STATUS: list[tuple[type[errors.BodegaError], int]] = [
    (errors.TooManyAttempts, 429),
    (errors.RequestTooLarge, 413),
    (errors.CsrfRejected, 403),
    (errors.LoginFailed, 401),
    (errors.NotAuthenticated, 401),
    (errors.MfaRequired, 401),
    (errors.MfaCodeInvalid, 401),
    (errors.Forbidden, 403),
    (errors.NotFound, 404),
    (errors.DatabaseLocked, 503),
    (errors.NoSpace, 507),
    (errors.MissingDependency, 501),
    (errors.NotSupported, 501),
    (errors.InvalidInput, 400),
    (errors.Conflict, 409),
    (errors.Cancelled, 409),
    (errors.TaskFailed, 409),
    (errors.WaitTimeout, 504),
    (errors.IntegrityError, 409),
    (errors.UnsafePath, 400),
    (errors.StorageError, 500),
    (errors.CatalogueError, 503),
]


def status_of(exc: errors.BodegaError) -> int:
    """The HTTP status for a bodega error (500 for a bug)."""
    if exc.bug:
        return 500
    for cls, status in STATUS:
        if isinstance(exc, cls):
            return status
    return 400


def error_body(exc: errors.BodegaError) -> dict[str, Any]:
    """The JSON body of an error response."""
    return {"error": exc.to_dict()}


def audit_refusal(request: Request, status: int, exc: errors.BodegaError) -> None:
    """Records a refused request (every 4xx but conflicts) as an audit event naming who and from where."""
    if not 400 <= status < 500 or status == 409:
        return
    if isinstance(exc, (errors.LoginFailed, errors.TooManyAttempts)):
        return  # the sessions service audited the refused sign-in itself, with its reason
    bodega = getattr(request.app.state, "bodega", None)
    if bodega is None:
        return
    who = getattr(request.state, "user", None)
    address = request.client.host if request.client else "unknown"
    message = (f"{who.email if who else 'anonymous'}: refused {request.method} {request.url.path} "
               f"from {address}: {status} {type(exc).__name__}: {exc}")
    try:
        bodega.events.audit(message[:2000], user_id=who.id if who else None,
                            context={"status": status, "error": type(exc).__name__, "method": request.method,
                                     "path": request.url.path[:500], "address": address})
    except errors.BodegaError:
        pass  # a locked catalogue must not turn a refusal into a server error


def respond(request: Request, exc: errors.BodegaError) -> Response:
    """The response for an error: JSON under /api/, a page or a redirect to sign-in for the panel."""
    status = status_of(exc)
    audit_refusal(request, status, exc)
    if not request.url.path.startswith("/api/") and request.url.path != "/openapi.json":
        from bodega.panel.pages import error_page

        return error_page(request, status, exc)
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, errors.TooManyAttempts) else None
    if status == 401:
        headers = {**(headers or {}), "WWW-Authenticate": 'Bearer realm="bodega"'}
    return JSONResponse(error_body(exc), status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    """Makes bodega's errors, validation errors and HTTP errors answer through respond()."""

    @app.exception_handler(errors.BodegaError)
    async def bodega_error(request: Request, exc: errors.BodegaError) -> Response:
        from starlette.concurrency import run_in_threadpool

        return await run_in_threadpool(respond, request, exc)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> Response:
        from starlette.concurrency import run_in_threadpool

        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"{where}: {first.get('msg', 'invalid')}" if where else str(first.get("msg", "invalid request"))
        return await run_in_threadpool(respond, request, errors.InvalidInput(f"invalid request: {message}"))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        from starlette.concurrency import run_in_threadpool

        if isinstance(exc.__cause__, errors.BodegaError):  # e.g. RequestTooLarge while FastAPI read the body
            return await run_in_threadpool(respond, request, exc.__cause__)
        cls: type[errors.BodegaError] = {404: errors.NotFound, 405: errors.InvalidInput, 401: errors.NotAuthenticated,
                                         403: errors.Forbidden, 413: errors.RequestTooLarge}.get(exc.status_code,
                                                                                                   errors.InvalidInput)
        error = cls(str(exc.detail) if exc.detail else None)
        response = await run_in_threadpool(respond, request, error)
        if exc.status_code == 405:
            response.status_code = 405
        return response
