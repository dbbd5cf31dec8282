"""Snapshots over JSON: list, take, show, browse, restore, forget."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from bodega.api.auth import actor
from bodega.api.routes.common import ERRORS, dicts, queued
from bodega.services import Bodega

router = APIRouter(prefix="/api/containers/{container}/snapshots", tags=["snapshots"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]
Ref = Annotated[str, Field(min_length=1, max_length=200)]


class NewSnapshot(BaseModel):
    """A snapshot to take."""

    model_config = ConfigDict(extra="forbid")
    label: str = Field(default="", max_length=200)
    kind: Literal["auto", "full", "delta"] = "auto"


@router.get("")
async def list_snapshots(b: Actor, container: Ref) -> list[dict[str, Any]]:
    """A container's snapshots, oldest first (base_snapshot_id links a delta to its base)."""
    return dicts(b.snapshots.list(container))


@router.post("", status_code=202)
def take_snapshot(request: Request, b: Actor, container: Ref, body: NewSnapshot) -> JSONResponse:
    """Queues a snapshot.create task (full or delta by policy unless kind says)."""
    return queued(request, b.snapshots.create(container, label=body.label, kind=body.kind, detach=True))


@router.get("/{snapshot}")
def show_snapshot(b: Actor, container: Ref, snapshot: Ref) -> dict[str, Any]:
    """A snapshot's catalogue row and its store header."""
    return b.snapshots.show(container, snapshot).to_dict()


@router.get("/{snapshot}/entries")
def list_entries(b: Actor, container: Ref, snapshot: Ref,
                 path: Annotated[str, Query(max_length=4096)] = "") -> list[dict[str, Any]]:
    """The entries of a snapshot at path (one level), read from its manifest."""
    return [e.to_json() for e in b.snapshots.ls(container, snapshot, path)]


@router.post("/{snapshot}/restore", status_code=202)
def restore_snapshot(request: Request, b: Actor, container: Ref, snapshot: Ref) -> JSONResponse:
    """Queues a snapshot.restore task: the container's tree becomes the snapshot's, atomically."""
    return queued(request, b.snapshots.restore(container, snapshot, detach=True))


@router.delete("/{snapshot}")
def forget_snapshot(b: Actor, container: Ref, snapshot: Ref) -> dict[str, Any]:
    """Forgets a snapshot (deltas on it are rebased first); `bodega gc` frees the space."""
    return b.snapshots.forget(container, ids=[snapshot])
