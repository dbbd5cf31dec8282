"""Sign-in sessions over JSON: list and revoke (yours; everyone's for an owner)."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts
from bodega.services import Bodega

router = APIRouter(prefix="/api/sessions", tags=["sessions"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]


@router.get("")
async def list_sessions(b: Actor, user: Annotated[str | None, Query(max_length=320)] = None,
                  include_ended: bool = False) -> list[dict[str, Any]]:
    """Sessions, newest first."""
    return dicts(b.sessions.list(email=user, include_ended=include_ended))


@router.delete("/{session}")
def revoke_session(b: Actor, session: Annotated[str, Field(min_length=1, max_length=200)]) -> dict[str, Any]:
    """Ends a session now."""
    return b.sessions.revoke(session).to_dict()
