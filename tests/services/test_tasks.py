"""The task engine: in-process and agent runs, one task per container, cancel, wait, crash recovery."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import uuid
from datetime import timedelta
from pathlib import Path

import pytest

import bodega
from bodega import errors
from bodega.catalogue.models import ContainerStatus, Task, TaskStatus, utcnow
from bodega.services.tasks import TaskKind, stale_after

from subprocesses import bodega_cli, bodega_json, child_env, python_child, wait_for


class Hold:
    """A task (type test.hold) that holds a container until released, checking for cancel meanwhile."""

    def __init__(self, b, container_id: uuid.UUID) -> None:
        self.started, self.release = threading.Event(), threading.Event()
        self.error: BaseException | None = None
        self.task_id: uuid.UUID | None = None

        def run(ctx):
            self.task_id = ctx.task_id
            self.started.set()
            while not self.release.wait(0.02):
                ctx.checkpoint()

        def submit():
            try:
                b.tasks.submit("test.hold", {}, "hold", prepare=lambda s, t: setattr(t, "container_id", container_id))
            except BaseException as e:  # noqa: BLE001 (reported to the test)
                self.error = e

        b.tasks.register(TaskKind("test.hold", run))
        self.thread = threading.Thread(target=submit)
        self.thread.start()
        assert self.started.wait(30)

    def end(self) -> None:
        self.release.set()
        self.thread.join(30)


def test_an_inline_task_records_its_whole_life(b):
    c = b.containers.create("dev")
    [task] = b.tasks.list()
    assert (task.type, task.status, task.progress, task.container_id) == ("container.create", TaskStatus.SUCCEEDED, 100, c.id)
    assert task.started_at <= task.finished_at and task.created_at <= task.started_at
    assert (task.owner_host, task.owner_pid, task.user_email) == (b.host, os.getpid(), b.user.email)
    assert task.payload["name"] == "dev" and task.result["container_id"] == str(c.id)
    assert task.result["log"] == [f"created an empty tree at {Path(c.storage_path) / 'root'}"]
    messages = [e.message for e in b.events.list(task_id=task.id)]
    assert set(messages[:2]) == {f"{b.user.email}: container create dev", "container dev creating"}
    assert [m for m in messages if m.startswith("task ")] == [
        f"task {str(task.id)[:8]} container.create running", f"task {str(task.id)[:8]} container.create succeeded"]


def test_an_unknown_task_type_is_refused(b):
    with pytest.raises(errors.InvalidInput, match="unknown task type"):
        b.tasks.submit("container.teleport", {}, "teleport")


def test_a_detached_task_waits_for_an_agent(b):
    task = b.containers.create("dev", detach=True)
    assert task.status == TaskStatus.QUEUED
    assert b.containers.get("dev").status == ContainerStatus.CREATING
    assert b.tasks.run_agent(until_idle=True) == 1
    done = b.tasks.wait(task.id)
    assert done.status == TaskStatus.SUCCEEDED and done.started_at is not None
    assert b.containers.get("dev").status == ContainerStatus.READY
    assert b.tasks.run_agent(until_idle=True) == 0


def test_a_stop_asked_before_the_agent_starts_is_honoured_once(b):
    task = b.containers.create("dev", detach=True)
    b.tasks.stop_agent()  # a SIGTERM, or the end of a server's pipe, before run_agent began
    assert b.tasks.run_agent(until_idle=True) == 0
    assert b.tasks.get(task.id).status == TaskStatus.QUEUED
    assert b.tasks.run_agent(until_idle=True) == 1  # that stop is spent: the next run works


def test_two_agents_never_run_the_same_task(b, home):
    queued = [b.containers.create(f"c{i}", detach=True).id for i in range(16)]
    agents = [subprocess.Popen([sys.executable, "-m", "bodega", "agent", "--until-idle", "--poll", "0.05"],
                               env=child_env(home), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    for agent in agents:
        _, err = agent.communicate(timeout=120)
        assert agent.returncode == 0, err
    runners = set()
    for task_id in queued:
        task = b.tasks.get(task_id)
        assert task.status == TaskStatus.SUCCEEDED
        runners.add(task.owner_pid)
        started = [e for e in b.events.list(task_id=task_id) if e.context.get("status") == "running"]
        assert len(started) == 1, f"task {task_id} was started {len(started)} times"
    assert runners <= {a.pid for a in agents}
    assert len(b.containers.list(status="ready")) == 16


def test_a_busy_container_refuses_a_second_task_and_cannot_be_deleted(b):
    c = b.containers.create("dev")
    hold = Hold(b, c.id)
    try:
        with pytest.raises(errors.ContainerBusy, match=f"task {hold.task_id} \\(test.hold\\) is running"):
            b.containers.tag("dev", add=["x"])
        with pytest.raises(errors.ContainerBusy):  # seed rule 1
            b.containers.delete("dev")
        with pytest.raises(errors.ContainerBusy):
            b.containers.clone("dev", "dev2")
        assert b.containers.list()[0].name == "dev"
        assert [t.status for t in b.tasks.list(type="container.tag")] == []  # a refused task leaves no row
    finally:
        hold.end()
    assert hold.error is None
    b.containers.delete("dev")
    assert b.containers.list() == []


def test_wait_runs_the_second_task_once_the_container_is_free(b):
    b.containers.create("dev")
    hold = Hold(b, b.containers.get("dev").id)
    result = {}
    waiter = threading.Thread(target=lambda: result.setdefault("c", b.containers.tag("dev", add=["x"], wait=True)))
    waiter.start()
    waiter.join(0.5)
    assert waiter.is_alive() and "c" not in result  # it cannot have run while the container is held
    hold.end()
    waiter.join(30)
    assert result["c"].tags == ["x"]


def test_cancel_a_queued_task_discards_what_it_was_to_create(b):
    task = b.containers.create("dev", detach=True)
    cancelled = b.tasks.cancel(str(task.id)[:8])
    assert cancelled.status == TaskStatus.CANCELLED
    assert b.containers.list() == [] and list(b.home.containers.iterdir()) == []
    assert b.tasks.run_agent(until_idle=True) == 0
    with pytest.raises(errors.WrongStatus, match="already cancelled"):
        b.tasks.cancel(task.id)
    audit = [e for e in b.events.list(task_id=task.id) if e.level.value == "audit"]
    assert [e.message for e in audit][-1].startswith(f"{b.user.email}: cancel task")


def test_cancel_a_running_task_stops_it_at_a_checkpoint(b):
    c = b.containers.create("dev")
    hold = Hold(b, c.id)
    assert b.tasks.cancel(hold.task_id).status == TaskStatus.RUNNING  # requested, not yet stopped
    hold.thread.join(30)
    assert isinstance(hold.error, errors.Cancelled)
    task = b.tasks.get(hold.task_id)
    assert task.status == TaskStatus.CANCELLED and task.error["type"] == "Cancelled"
    assert b.containers.tag("dev", add=["free"]).tags == ["free"]  # the lock is gone


SLOW_CLONE = r"""
import pathlib, sys, bodega
marker = pathlib.Path(sys.argv[1])
with bodega.open() as b:
    def progress(percent):
        if not marker.exists():  # a slow volume: the clone stalls at its start until the test lets it go
            marker.write_text(str(percent))
            sys.stdin.readline()
    b.containers.clone("src", "dst", progress=progress)
"""


@pytest.fixture
def source(b):
    """A container `src` with 300 files to clone slowly."""
    c = b.containers.create("src")
    for i in range(300):
        (Path(c.storage_path) / "root" / f"f{i}").write_text(str(i))
    return c


def start_slow_clone(home, tmp_path):
    marker = tmp_path / "progress"
    child = python_child(home, SLOW_CLONE, str(marker), gated=True)
    wait_for(lambda: marker.exists() or child.poll() is not None, what="the clone to start")
    assert child.poll() is None, child.communicate()
    with bodega.open(home) as other:
        task = other.tasks.list(type="container.clone", status="running")[0]
    assert (home / "tmp" / str(task.id)).is_dir()
    return child, task


def test_a_task_killed_by_sigkill_is_marked_interrupted_by_the_next_command(b, home, tmp_path, source):
    child, task = start_slow_clone(home, tmp_path)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert b.tasks.get(task.id).status == TaskStatus.RUNNING  # nothing noticed yet

    tasks = bodega_json(home, "tasks")  # the next command
    [clone] = [t for t in tasks if t["id"] == str(task.id)]
    assert clone["status"] == "failed"
    assert clone["result"]["reason"] == "interrupted"
    assert clone["result"]["error"]["type"] == "TaskInterrupted"
    assert not (home / "tmp" / str(task.id)).exists()
    names = [c["name"] for c in bodega_json(home, "container", "list")]
    assert names == ["src"]  # the half-made clone is gone
    assert sorted(p.name for p in (home / "containers").iterdir()) == [str(source.id)]
    assert bodega_cli(home, "container", "tag", "src", "usable").returncode == 0
    assert bodega_json(home, "container", "clone", "src", "dst")["status"] == "ready"


def test_a_task_whose_heartbeat_stops_is_interrupted_and_its_process_gives_up(b, home, tmp_path, source):
    child, task = start_slow_clone(home, tmp_path)
    child.send_signal(signal.SIGSTOP)  # alive, but silent
    try:
        with bodega.open(home) as fresh:  # its pid lives and its heartbeat is fresh: left alone
            assert fresh.tasks.get(task.id).status == TaskStatus.RUNNING
            # the clock moved on past the stale period: the silent heartbeat is too old now
            fresh.tasks.clock = lambda: utcnow() + timedelta(seconds=stale_after() + 1)
            fresh.tasks.recover()
            recovered = fresh.tasks.get(task.id)
        assert recovered.status == TaskStatus.FAILED and recovered.result["reason"] == "interrupted"
    finally:
        child.send_signal(signal.SIGCONT)
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0 and "TaskInterrupted" in err
    assert b.tasks.get(task.id).status == TaskStatus.FAILED  # the woken process did not overwrite it
    assert [c.name for c in b.containers.list()] == ["src"]
    assert list((home / "tmp").iterdir()) == []


def _heartbeat_at(b, task_id):
    with b.catalogue.session_scope(write=False) as s:
        return s.get(Task, task_id).heartbeat_at


def _beats(b, task_id, n: int) -> None:
    """Waits for n more heartbeats of the task: its process has read its row since (a beat that
    began before a change to the row may end after it, so the second is the first to see it)."""
    for _ in range(n):
        last = _heartbeat_at(b, task_id)
        wait_for(lambda: _heartbeat_at(b, task_id) != last, what="the task's next heartbeat")


def test_cancel_from_another_process_stops_a_running_clone(b, home, tmp_path, source):
    child, task = start_slow_clone(home, tmp_path)
    done = bodega_cli(home, "task", "cancel", str(task.id)[:8])
    assert done.returncode == 0, done.stderr
    _beats(b, task.id, 2)  # the stalled clone's process has seen the request
    _, err = child.communicate(timeout=60)
    assert child.returncode != 0 and "Cancelled" in err
    assert b.tasks.get(task.id).status == TaskStatus.CANCELLED
    assert [c.name for c in b.containers.list()] == ["src"]
    assert list((home / "tmp").iterdir()) == []


def test_wait_returns_the_end_and_raise_for_status_gives_the_tasks_error(b):
    b.containers.create("dev")
    task = b.containers.clone("dev", "dev2", detach=True)
    with pytest.raises(errors.WaitTimeout):
        b.tasks.wait(task.id, timeout=0.1)
    storage = Path(b.containers.get("dev").storage_path)
    (storage / "root").rename(storage / "elsewhere")  # the clone will fail
    b.tasks.run_agent(until_idle=True)
    done = b.tasks.wait(task.id, timeout=10)
    assert done.status == TaskStatus.FAILED
    with pytest.raises(errors.TaskFailed, match="root"):  # a storage error keeps its words
        done.raise_for_status()


@pytest.mark.parametrize("ref", ["zz", "123", str(uuid.uuid4())])
def test_unknown_tasks_are_task_not_found(b, ref):
    with pytest.raises(errors.TaskNotFound):
        b.tasks.get(ref)


def test_a_long_task_keeps_its_heartbeat_fresh(b):
    c = b.containers.create("dev")
    hold = Hold(b, c.id)
    try:
        first = b.tasks.get(hold.task_id)
        with b.catalogue.session_scope(write=False) as s:
            started = s.get(Task, hold.task_id).heartbeat_at
        wait_for(lambda: _heartbeat(b, hold.task_id) > started, timeout=10, what="a heartbeat")
        assert first.status == TaskStatus.RUNNING
    finally:
        hold.end()


def _heartbeat(b, task_id):
    with b.catalogue.session_scope(write=False) as s:
        return s.get(Task, task_id).heartbeat_at


def test_staging_of_tasks_that_ended_long_ago_is_swept_at_open(home, b):
    b.containers.create("old")
    b.containers.create("new")
    old, new = b.tasks.list()[1], b.tasks.list()[0]
    for t in (old, new):
        (home / "tmp" / str(t.id) / "leftover").mkdir(parents=True)
    (home / "tmp" / "not-a-task").mkdir()
    with b.catalogue.session_scope() as s:
        s.get(Task, old.id).finished_at = utcnow() - timedelta(hours=1)
    with bodega.open(home):
        pass
    assert sorted(p.name for p in (home / "tmp").iterdir()) == sorted([str(new.id), "not-a-task"])


def test_a_task_failing_while_its_heartbeat_sees_it_end_reports_its_own_error(b, monkeypatch):
    """The heartbeat thread sees the task failed (ended by this very process) while its staging is
    still being removed: the caller gets the task's own error, not "marked interrupted by another
    process" (issue 12: a refused 100k-file import was reported so)."""
    from bodega.services import tasks as tasks_module

    monkeypatch.setattr(tasks_module, "HEARTBEAT_INTERVAL", 0.01)
    c = b.containers.create("dev")

    def run(ctx):
        (ctx.staging / "unpacked").mkdir()
        raise errors.PackageDamaged("the unpacked tree is not the package's", member="root/x")

    b.tasks.register(TaskKind("test.refused", run))
    removing = b.tasks._remove_dirs
    noticed = []

    def slow_cleanup(dirs, task_id):  # a big staging takes a while to remove: the heartbeat beats meanwhile
        noticed.append(b.tasks._live[task_id].lost.wait(30))
        return removing(dirs, task_id)

    monkeypatch.setattr(b.tasks, "_remove_dirs", slow_cleanup)
    with pytest.raises(errors.PackageDamaged, match="not the package's"):
        b.tasks.submit("test.refused", {}, "refused", prepare=lambda s, t: setattr(t, "container_id", c.id))
    assert noticed == [True]  # the heartbeat did see the task end before the error was reported
    [task] = [t for t in b.tasks.list() if t.type == "test.refused"]
    assert task.status == TaskStatus.FAILED and task.result["error"]["type"] == "PackageDamaged"


def test_discard_logs_by_name_what_the_native_remove_could_not_remove():
    """A cleanup never fails its task, and never hides what stayed (once shutil.rmtree(ignore_errors)):
    as nobody, a file in a root-owned directory cannot go, and the warning names it."""
    import logging

    from bodega.services import tasks
    from conftest import need
    from unprivileged import as_unprivileged, public_dir

    if os.geteuid() != 0:
        need("root, to make a directory that its child as nobody cannot empty")
    import pwd

    nobody = pwd.getpwnam("nobody").pw_uid
    with public_dir("discard") as d:
        staging = d / "staging"
        (staging / "mine").mkdir(parents=True)
        (staging / "mine" / "f").write_bytes(b"x")
        (staging / "roots").mkdir()
        (staging / "roots" / "kept").write_bytes(b"x")
        for p in (staging, staging / "mine", staging / "mine" / "f"):
            os.chown(p, nobody, -1)

        def discard_as_nobody() -> list[str]:
            said: list[str] = []
            handler = logging.Handler(logging.WARNING)
            handler.emit = lambda record: said.append(record.getMessage())
            tasks._log.addHandler(handler)
            tasks.discard(staging)
            return said

        said = as_unprivileged(discard_as_nobody)
        assert len(said) == 1 and said[0].startswith(f"could not remove {staging}: "), said
        assert f"unlink: {staging / 'roots' / 'kept'}: Permission denied" in said[0], said  # its full path
        assert (staging / "roots" / "kept").exists()
