"""Apps and export packages over JSON (reads; their tasks arrive with the apps and export features)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts
from bodega.services import Bodega

router = APIRouter(tags=["apps", "exports"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]


@router.get("/api/containers/{container}/apps")
async def list_apps(b: Actor, container: Annotated[str, Field(min_length=1, max_length=200)]) -> list[dict[str, Any]]:
    """A container's apps and their entry points."""
    return dicts(b.apps.list(container))


@router.get("/api/exports")
async def list_exports(b: Actor, container: Annotated[str | None, Query(max_length=200)] = None) -> list[dict[str, Any]]:
    """Export packages, newest first."""
    container_id = b.containers.get(container).id if container else None
    return dicts(b.exports.list(container_id=container_id))
