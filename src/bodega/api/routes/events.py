"""The event log over JSON, and live as Server-Sent Events (Last-Event-ID resumes)."""
from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from bodega import errors
from bodega.api.auth import actor, authenticate
from bodega.api.routes.common import ERRORS, dicts
from bodega.services import Bodega

router = APIRouter(prefix="/api/events", tags=["events"], responses=ERRORS)
Actor = Annotated[Bodega, Depends(actor)]
Level = Literal["info", "warning", "error", "audit"]
POLL = 0.25  # seconds between looks at the log while a stream is idle
KEEPALIVE = 15.0  # seconds between comments that keep proxies from closing an idle stream
RECHECK = 30.0  # seconds between checks that the stream's session is still valid


def _filters(b: Bodega, container: str | None, task: str | None) -> dict[str, Any]:
    return {"container_id": b.containers.resolve_id(container) if container else None,
            "task_id": b.tasks.get(task).id if task else None}


@router.get("")
async def list_events(b: Actor, after: Annotated[int | None, Query(ge=0)] = None,
                container: Annotated[str | None, Query(max_length=200)] = None,
                task: Annotated[str | None, Query(max_length=200)] = None,
                level: Annotated[list[Level] | None, Query()] = None,
                limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[dict[str, Any]]:
    """Events you may see in seq order: after a cursor, or the latest `limit`."""
    return dicts(b.events.list(after=after, levels=level, limit=limit, **_filters(b, container, task)))


@router.get("/stream", response_class=StreamingResponse,
            responses={200: {"content": {"text/event-stream": {}}, "description": "events as they happen"}})
def stream_events(request: Request, b: Actor, after: Annotated[int | None, Query(ge=0)] = None,
                  container: Annotated[str | None, Query(max_length=200)] = None,
                  task: Annotated[str | None, Query(max_length=200)] = None,
                  level: Annotated[list[Level] | None, Query()] = None,
                  last_event_id: Annotated[str | None, Header(max_length=32)] = None) -> StreamingResponse:
    """Server-Sent Events: each event's `id` is its seq; Last-Event-ID (or after) resumes after it."""
    if last_event_id is not None:
        if not last_event_id.strip().isdigit():
            raise errors.InvalidInput("Last-Event-ID is an event's seq")
        after = int(last_event_id)
    filters = _filters(b, container, task)
    cursor = b.events.cursor() if after is None else after

    async def stream() -> AsyncIterator[str]:
        nonlocal cursor
        quiet_since = checked = time.monotonic()
        yield "retry: 2000\n\n"
        while not await request.is_disconnected():
            batch = await run_in_threadpool(b.events.list, after=cursor, levels=level, limit=200, **filters)
            for ev in batch:
                cursor = ev.seq
                yield f"id: {ev.seq}\nevent: {ev.level.value}\ndata: {json.dumps(ev.to_dict())}\n\n"
            now = time.monotonic()
            if batch:
                quiet_since = now
            elif now - quiet_since > KEEPALIVE:
                quiet_since = now
                yield ": keepalive\n\n"
            if now - checked > RECHECK:  # a revoked or expired session ends its streams too
                checked = now
                try:
                    await run_in_threadpool(authenticate, request)
                except errors.BodegaError:
                    return
            if len(batch) < 200:
                await asyncio.sleep(POLL)

    return StreamingResponse(stream(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
