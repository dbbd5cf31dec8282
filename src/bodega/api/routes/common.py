"""What every router shares: the 202 response of a queued task and the JSON body of lists."""
from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from bodega.api.auth import wake_agents

ERRORS = {code: {"description": text} for code, text in [
    (400, "invalid input"), (401, "not signed in, or a second factor is needed"),
    (403, "your role, the container's share or the CSRF token does not allow this"), (404, "not found"),
    (409, "conflicts with the current state"), (413, "request body too large"), (429, "too many attempts"),
]}


def queued(request: Request, task: Any) -> JSONResponse:
    """202 Accepted with the queued task; its progress is at /api/tasks/{id} and on /api/events/stream."""
    wake_agents(request)
    return JSONResponse(task.to_dict(), status_code=202, headers={"Location": f"/api/tasks/{task.id}"})


def dicts(items: Any) -> list[dict[str, Any]]:
    """Each item's to_dict()."""
    return [i.to_dict() for i in items]
