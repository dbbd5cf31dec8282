"""Tasks over JSON: list, show, cancel."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts
from bodega.services import Bodega

router = APIRouter(prefix="/api/tasks", tags=["tasks"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]
Ref = Annotated[str, Field(min_length=1, max_length=200)]


@router.get("")
async def list_tasks(b: Actor,
               status: Literal["queued", "running", "succeeded", "failed", "cancelled"] | None = None,
               container: Annotated[str | None, Query(max_length=200)] = None,
               type: Annotated[str | None, Query(max_length=64)] = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 50) -> list[dict[str, Any]]:
    """Tasks you may see, newest first."""
    container_id = b.containers.get(container).id if container else None
    return dicts(b.tasks.list(status=status, container_id=container_id, type=type, limit=limit))


@router.get("/{task}")
async def get_task(b: Actor, task: Ref) -> dict[str, Any]:
    """A task by id or unique id prefix: status, progress 0-100, result."""
    return b.tasks.get(task).to_dict()


@router.post("/{task}/cancel")
def cancel_task(b: Actor, task: Ref) -> dict[str, Any]:
    """Cancels a queued task, or asks a running one to stop at its next checkpoint."""
    return b.tasks.cancel(task).to_dict()
