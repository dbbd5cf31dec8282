"""Catalogue reads run on the server's event loop (no worker-thread handoff: on a busy server the
handoffs' wait for the GIL was the tail of the read latency); the rare write recording a use of
a token or a session goes to a worker thread, since it may wait for the catalogue's lock."""
from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

from bodega.services.containers import ContainerService
from bodega.services.events import EventService
from bodega.services.sessions import SessionService
from bodega.services.snapshots import SnapshotService
from bodega.services.tasks import TaskService
from bodega.services.tokens import TokenService

LOOP_THREAD = "bodega-serve"  # Server.start() runs uvicorn's event loop in this thread


def _recording(monkeypatch: pytest.MonkeyPatch, cls: type, name: str, seen: dict[str, str]) -> None:
    original = getattr(cls, name)

    def record(*args: Any, **kwargs: Any) -> Any:
        seen[f"{cls.__name__}.{name}"] = threading.current_thread().name
        return original(*args, **kwargs)

    monkeypatch.setattr(cls, name, record)


def test_reads_run_on_the_event_loop_and_recording_a_use_in_a_worker(served, signin, monkeypatch):
    owner = signin("owner@example.org")
    assert owner.post("/api/containers", json={"name": "dev"}).status_code == 202
    token = owner.post("/api/tokens", json={"name": "script"}).json()["token"]
    seen: dict[str, str] = {}
    for cls, name in [(ContainerService, "list"), (ContainerService, "get"), (SnapshotService, "list"),
                      (TaskService, "list"), (EventService, "list"), (TokenService, "authenticate"),
                      (TokenService, "touch"), (SessionService, "authenticate")]:
        _recording(monkeypatch, cls, name, seen)
    with httpx.Client(base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=30) as bearer:
        for path in ["/api/containers", "/api/containers/dev", "/api/containers/dev/snapshots",
                     "/api/tasks?limit=5", "/api/events?limit=5"]:
            assert bearer.get(path).status_code == 200, path
    assert owner.get("/api/containers").status_code == 200
    reads = {k: v for k, v in seen.items() if not k.endswith(".touch")}
    assert reads == {k: LOOP_THREAD for k in reads} and len(reads) == 7, seen
    # The token had never been used: its first use is recorded, off the loop.
    assert seen["TokenService.touch"] not in ("", LOOP_THREAD)
    assert served.bodega.tokens.list(email="owner@example.org")[0].last_used_at is not None


def test_the_server_keeps_what_start_up_loaded_out_of_the_collector(served):
    import gc

    # Frozen objects are never walked by a collection: a full one no longer pauses requests
    # for the framework's ~100k objects.
    assert gc.get_freeze_count() > 50_000
