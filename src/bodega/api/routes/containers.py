"""Containers over JSON: list, create, show, change, clone, archive, delete, diff, shares."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts, queued
from bodega.services import Bodega

router = APIRouter(prefix="/api/containers", tags=["containers"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]
Ref = Annotated[str, Field(min_length=1, max_length=200)]


class NewContainer(BaseModel):
    """A container to create."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    description: str = Field(default="", max_length=4096)
    tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=64)
    settings: dict[str, Any] | None = None


class ContainerChange(BaseModel):
    """What to change in a container (anything left out stays)."""

    model_config = ConfigDict(extra="forbid")
    name: str | None = Field(default=None, min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=4096)
    settings: dict[str, Any] | None = None
    add_tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=64)
    remove_tags: list[Annotated[str, Field(min_length=1, max_length=64)]] = Field(default_factory=list, max_length=64)


class CloneRequest(BaseModel):
    """The clone's name (and description)."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=64)
    description: str | None = Field(default=None, max_length=4096)


class ShareRequest(BaseModel):
    """The role a share gives."""

    model_config = ConfigDict(extra="forbid")
    role: Literal["viewer", "operator"] = "viewer"


@router.get("")
async def list_containers(b: Actor, tag: Annotated[str | None, Query(max_length=64)] = None,
                    status: Literal["creating", "ready", "running", "error", "archived"] | None = None,
                    all_users: bool = False) -> list[dict[str, Any]]:
    """Your containers and those shared with you (all_users: every one you may see)."""
    return dicts(b.containers.list(tag=tag, status=status, all_users=all_users))


@router.post("", status_code=202)
def create_container(request: Request, b: Actor, body: NewContainer) -> JSONResponse:
    """Queues a container.create task for an empty container."""
    return queued(request, b.containers.create(body.name, description=body.description, tags=body.tags,
                                               settings=body.settings, detach=True))


@router.get("/{container}")
async def get_container(b: Actor, container: Ref) -> dict[str, Any]:
    """A container by name, id or unique id prefix."""
    return b.containers.get(container).to_dict()


@router.patch("/{container}")
def change_container(b: Actor, container: Ref, body: ContainerChange) -> dict[str, Any]:
    """Renames a container, replaces its description or settings, adds and removes tags."""
    info = None
    if body.name is not None or body.description is not None or body.settings is not None:
        info = b.containers.edit(container, name=body.name, description=body.description, settings=body.settings)
        container = str(info.id)
    if body.add_tags or body.remove_tags:
        info = b.containers.tag(container, add=body.add_tags, remove=body.remove_tags)
    if info is None:
        from bodega import errors

        raise errors.InvalidInput("nothing to change")
    return info.to_dict()


@router.delete("/{container}", status_code=202)
def delete_container(request: Request, b: Actor, container: Ref) -> JSONResponse:
    """Queues a container.delete task."""
    return queued(request, b.containers.delete(container, detach=True))


@router.post("/{container}/clone", status_code=202)
def clone_container(request: Request, b: Actor, container: Ref, body: CloneRequest) -> JSONResponse:
    """Queues a container.clone task (copy-on-write where the volume can)."""
    return queued(request, b.containers.clone(container, body.name, description=body.description, detach=True))


@router.post("/{container}/archive")
def archive_container(b: Actor, container: Ref) -> dict[str, Any]:
    """Archives a container: kept, frozen until unarchived."""
    return b.containers.archive(container).to_dict()


@router.post("/{container}/unarchive")
def unarchive_container(b: Actor, container: Ref) -> dict[str, Any]:
    """Makes an archived container ready again."""
    return b.containers.unarchive(container).to_dict()


@router.get("/{container}/diff")
def diff_container(b: Actor, container: Ref, old: Annotated[str | None, Query(max_length=64)] = None,
                   new: Annotated[str | None, Query(max_length=64)] = None) -> dict[str, Any]:
    """What changed: the live tree against the newest snapshot (or between snapshots old and new)."""
    return b.snapshots.diff(container, old, new).to_json()


@router.get("/{container}/shares")
async def list_shares(b: Actor, container: Ref) -> list[dict[str, Any]]:
    """Who the container is shared with."""
    return dicts(b.shares.list(container))


@router.put("/{container}/shares/{email}")
def share_container(b: Actor, container: Ref, email: Annotated[str, Field(max_length=320)],
                    body: ShareRequest) -> dict[str, Any]:
    """Shares the container with a user as viewer or operator."""
    return b.shares.share(container, email, body.role).to_dict()


@router.delete("/{container}/shares/{email}", status_code=204)
def unshare_container(b: Actor, container: Ref, email: Annotated[str, Field(max_length=320)]) -> None:
    """Stops sharing the container with a user."""
    b.shares.unshare(container, email)
