"""Users over JSON (owners manage them; anyone reads themselves)."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field

from bodega import errors
from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts
from bodega.services import Bodega

router = APIRouter(prefix="/api/users", tags=["users"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]
Email = Annotated[str, Field(min_length=1, max_length=320)]
RoleName = Literal["owner", "operator", "viewer"]


class NewUser(BaseModel):
    """A user to add (without a password they cannot sign in until one is set)."""

    model_config = ConfigDict(extra="forbid")
    email: str = Field(min_length=3, max_length=320)
    role: RoleName = "viewer"
    display_name: str = Field(default="", max_length=200)
    password: str | None = Field(default=None, min_length=8, max_length=1024)


class UserChange(BaseModel):
    """A new role, or disabled/enabled."""

    model_config = ConfigDict(extra="forbid")
    role: RoleName | None = None
    disabled: bool | None = None


class NewPassword(BaseModel):
    """A new password."""

    model_config = ConfigDict(extra="forbid")
    password: str = Field(min_length=8, max_length=1024)


@router.get("")
async def list_users(b: Actor) -> list[dict[str, Any]]:
    """Every user (owners only)."""
    return dicts(b.users.list())


@router.post("", status_code=201)
def add_user(b: Actor, body: NewUser) -> dict[str, Any]:
    """Adds a user (owners only)."""
    return b.users.create(body.email, body.display_name, body.role, password=body.password).to_dict()


@router.get("/{email}")
async def get_user(b: Actor, email: Email) -> dict[str, Any]:
    """A user: yourself, or anyone for an owner."""
    return b.users.show(email).to_dict()


@router.patch("/{email}")
def change_user(b: Actor, email: Email, body: UserChange) -> dict[str, Any]:
    """Changes a user's role or disables/enables them (owners only)."""
    if body.role is None and body.disabled is None:
        raise errors.InvalidInput("nothing to change: give role or disabled")
    info = None
    if body.role is not None:
        info = b.users.set_role(email, body.role)
    if body.disabled is not None:
        info = b.users.set_disabled(email, body.disabled)
    assert info is not None
    return info.to_dict()


@router.put("/{email}/password")
def set_password(request: Request, b: Actor, email: Email, body: NewPassword) -> dict[str, Any]:
    """Sets a user's password (owners, or the user themselves); their other sessions end."""
    session = request.state.auth.session
    return b.users.set_password(email, body.password, keep_session=session.id if session else None).to_dict()


@router.delete("/{email}/mfa")
def remove_mfa(b: Actor, email: Email) -> dict[str, Any]:
    """Removes a user's second factor (a lost device): owners, or the user themselves."""
    return b.mfa.disable(email).to_dict()
