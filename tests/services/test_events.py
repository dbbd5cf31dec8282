"""The event log: audit of every mutation, state changes, cursor, filters, follow."""
from __future__ import annotations

import json
import queue
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from bodega import errors
from bodega.catalogue.models import EventLevel, EventLog, utcnow
from bodega.services.events import parse_since

from subprocesses import child_env, python_child


def test_every_mutation_is_audited_with_the_acting_user(b):
    b.containers.create("dev")
    b.containers.tag("dev", add=["x"])
    b.containers.edit("dev", description="d")
    b.containers.archive("dev")
    b.containers.unarchive("dev")
    b.containers.clone("dev", "dev2")
    b.containers.delete("dev2")
    audit = b.events.list(levels=["audit"])
    assert [e.message.split(": ", 1)[1].split()[:2] for e in audit] == [
        ["container", verb] for verb in ("create", "tag", "edit", "archive", "unarchive", "clone", "delete")]
    assert all(e.user_id == b.user.id and e.source.value == "user" for e in audit)
    assert all(e.message.startswith(b.user.email + ": ") for e in audit)
    assert len(audit) == len(b.tasks.list())  # one audit per task


def test_state_changes_are_logged(b):
    c = b.containers.create("dev")
    b.containers.archive("dev")
    b.containers.delete("dev")
    messages = [e.message for e in b.events.list(container_id=c.id)]
    for expected in ("container dev creating", "container dev creating -> ready", "container dev ready -> archived",
                     "container dev deleted"):
        assert expected in messages
    assert any(m.endswith("container.delete succeeded") for m in messages)


def test_a_failed_task_is_an_error_event(b):
    import os

    c = b.containers.create("dev")
    (Path(c.storage_path) / "root").rename(Path(c.storage_path) / "elsewhere")
    with pytest.raises(errors.PathNotFound):
        b.containers.clone("dev", "dev2")
    [failed] = b.events.list(levels=["error"])
    assert "container.clone failed" in failed.message and "root" in failed.message
    assert failed.context["status"] == "failed"


def test_seq_is_a_gapless_cursor_and_after_resumes_exactly(b):
    b.containers.create("a")
    cursor = b.events.cursor()
    b.containers.create("b")
    b.containers.tag("b", add=["t"])
    everything = b.events.list(after=0, limit=None)
    assert [e.seq for e in everything] == list(range(1, len(everything) + 1))
    later = b.events.list(after=cursor, limit=None)
    assert later == [e for e in everything if e.seq > cursor]
    assert all("container a" not in e.message for e in later)


def test_filters_by_container_level_and_time(b):
    a = b.containers.create("a")
    b.containers.create("b")
    assert {e.container_id for e in b.events.list(container_id=a.id)} == {a.id}
    assert {e.level for e in b.events.list(levels=["audit", "error"])} == {EventLevel.AUDIT}
    with b.catalogue.session_scope() as s:
        s.query(EventLog).filter(EventLog.container_id == a.id).update({"timestamp": utcnow() - timedelta(days=2)})
    recent = b.events.list(since=parse_since("1d"))
    assert recent and all(e.container_id != a.id for e in recent)


def test_latest_returns_the_last_events_in_order(b):
    for i in range(5):
        b.containers.create(f"c{i}")
    latest = b.events.list(limit=3)
    assert [e.seq for e in latest] == [b.events.cursor() - 2, b.events.cursor() - 1, b.events.cursor()]


@pytest.mark.parametrize("text", ["10m", "2h", "3d", "1w", "2024-05-01T12:00", "2024-05-01T12:00:00+02:00"])
def test_since_understands_durations_and_times(text):
    when = parse_since(text)
    assert when.tzinfo is not None and when <= utcnow()


@pytest.mark.parametrize("text", ["yesterday", "10 parsecs", "-5m", ""])
def test_since_refuses_what_it_cannot_read(text):
    with pytest.raises(errors.InvalidInput, match="--since"):
        parse_since(text)


def test_follow_yields_events_committed_by_another_thread(b):
    stop = threading.Event()
    seen: list = []
    start = b.events.cursor()

    def reader():
        for ev in b.events.follow(after=start, stop=stop, poll=0.05):
            seen.append(ev)
            if "dev creating -> ready" in ev.message:
                stop.set()

    t = threading.Thread(target=reader)
    t.start()
    b.containers.create("dev")
    t.join(30)
    assert not t.is_alive()
    assert any("container create dev" in e.message for e in seen)
    assert [e.seq for e in seen] == sorted(e.seq for e in seen)


GATED_CLONE = r"""
import pathlib, sys, time, bodega
gate = pathlib.Path(sys.argv[1])
with bodega.open() as b:
    def progress(percent):
        while percent >= 50 and not gate.exists():  # halfway, wait for the test
            time.sleep(0.02)
    b.containers.clone("src", "dst", progress=progress)
"""


def test_events_follow_shows_a_tasks_progress_and_end_live_from_another_process(b, home, tmp_path):
    src = b.containers.create("src")
    for i in range(300):
        (Path(src.storage_path) / "root" / f"f{i}").write_text(str(i))
    cursor = b.events.cursor()  # the follower resumes here, so it misses nothing however late it starts
    follower = subprocess.Popen([sys.executable, "-m", "bodega", "events", "--follow", "--json", "--after", str(cursor)],
                                env=child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in follower.stdout], daemon=True).start()

    def next_event(predicate, what):
        while True:
            try:
                ev = json.loads(lines.get(timeout=60))
            except queue.Empty:
                raise AssertionError(f"`bodega events --follow` printed no {what}") from None
            if predicate(ev):
                return ev

    try:
        gate = tmp_path / "gate"
        cloner = python_child(home, GATED_CLONE, str(gate))
        is_clone = lambda ev: ev["context"].get("task_type") == "container.clone"  # noqa: E731
        running = next_event(lambda ev: is_clone(ev) and ev["context"].get("status") == "running", "running event")
        progress = next_event(lambda ev: is_clone(ev) and "progress" in ev["context"], "progress event")
        assert cloner.poll() is None  # seen live: the clone is still waiting halfway
        assert 0 < progress["context"]["progress"] < 50 and progress["seq"] > running["seq"]
        gate.touch()
        end = next_event(lambda ev: is_clone(ev) and ev["context"].get("status") == "succeeded", "end of the task")
        assert end["context"]["task_id"] == progress["context"]["task_id"] == running["context"]["task_id"]
        assert cloner.wait(60) == 0, cloner.stderr.read()
    finally:
        follower.terminate()
        follower.wait(30)
