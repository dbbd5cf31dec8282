"""Machine-wide settings over JSON (owners change them)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS
from bodega.services import Bodega

router = APIRouter(prefix="/api/settings", tags=["settings"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]


class SettingValue(BaseModel):
    """A setting's new value."""

    model_config = ConfigDict(extra="forbid")
    value: bool | int


@router.get("")
async def list_settings(b: Actor) -> list[dict[str, Any]]:
    """Every setting with its value and default."""
    return b.settings.list()


@router.put("/{key}")
def set_setting(b: Actor, key: Annotated[str, Field(min_length=1, max_length=64)], body: SettingValue) -> dict[str, Any]:
    """Changes a setting (owners only)."""
    return {"key": key, "value": b.settings.set(key, body.value)}
