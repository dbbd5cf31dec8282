"""API tokens over JSON: create (shown once), list, revoke."""
from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts
from bodega.services import Bodega

router = APIRouter(prefix="/api/tokens", tags=["tokens"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]


class NewToken(BaseModel):
    """Whose token (default: yours) and what it is for."""

    model_config = ConfigDict(extra="forbid")
    user: str | None = Field(default=None, max_length=320)
    name: str = Field(default="", max_length=100)


@router.get("")
async def list_tokens(b: Actor, user: Annotated[str | None, Query(max_length=320)] = None,
                include_revoked: bool = False) -> list[dict[str, Any]]:
    """Tokens (never the tokens themselves), newest first."""
    return dicts(b.tokens.list(email=user, include_revoked=include_revoked))


@router.post("", status_code=201)
def create_token(b: Actor, body: NewToken) -> dict[str, Any]:
    """Creates a token; the response holds it, the only time it is shown."""
    return b.tokens.create(body.user, body.name).to_dict()


@router.delete("/{token}")
def revoke_token(b: Actor, token: Annotated[str, Field(min_length=1, max_length=200)]) -> dict[str, Any]:
    """Revokes a token by id."""
    return b.tokens.revoke(token).to_dict()
