"""`bodega tasks`, `bodega task show|cancel|wait` and `bodega agent`."""
from __future__ import annotations

import signal
import sys
import threading
from typing import TYPE_CHECKING, Any

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import COUNT, Seconds, home_option, json_option, open_bodega
from bodega.cli.output import emit, local_time, short_id, table

if TYPE_CHECKING:
    from bodega.services.tasks import TaskInfo

TASK_STATUSES = ["queued", "running", "succeeded", "failed", "cancelled"]


def row(t: "TaskInfo") -> dict[str, Any]:
    """A task as a table row."""
    target = t.payload.get("container_name") or t.payload.get("name") or short_id(t.container_id)
    return {"id": short_id(t.id), "type": t.type, "status": t.status.value, "progress": f"{t.progress}%",
            "container": target, "user": t.user_email or "", "created": local_time(t.created_at)}


def describe(t: "TaskInfo") -> str:
    """A task for people, one field per line."""
    import json

    fields: list[tuple[str, Any]] = [
        ("id", t.id), ("type", t.type), ("status", t.status.value), ("progress", f"{t.progress}%"),
        ("container", t.container_id or ""), ("user", t.user_email or ""), ("created", local_time(t.created_at)),
        ("started", local_time(t.started_at)), ("finished", local_time(t.finished_at)),
        ("runner", f"{t.owner_host}:{t.owner_pid}" if t.owner_pid else ""),
        ("payload", json.dumps(t.payload, sort_keys=True)),
    ]
    if t.error:
        fields.append(("error", f"{t.error.get('type')}: {t.error.get('message')}"))
    if t.result.get("reason"):
        fields.append(("reason", t.result["reason"]))
    result = {k: v for k, v in t.result.items() if k not in ("error", "reason")}
    if result:
        fields.append(("result", json.dumps(result, sort_keys=True)))
    return "\n".join(f"{k + ':':<11}{v}" for k, v in fields)


@click.command("tasks", epilog=exit_status(errors.ContainerNotFound))
@click.option("--status", type=click.Choice(TASK_STATUSES), help="Only tasks in this status.")
@click.option("--container", "-c", help="Only tasks on this container (name or id).")
@click.option("--type", "type_", help="Only tasks of this type, e.g. container.clone.")
@click.option("--limit", "-n", type=COUNT, default=20, show_default=True, help="At most this many (newest first).")
@json_option
@home_option
def tasks(status: str | None, container: str | None, type_: str | None, limit: int, as_json: bool,
          home: str | None) -> None:
    """List tasks, newest first."""
    with open_bodega(home) as b:
        container_id = b.containers.resolve_id(container) if container else None
        found = b.tasks.list(status=status, container_id=container_id, type=type_, limit=limit)
    emit([t.to_dict() for t in found], as_json,
         lambda _: table([row(t) for t in found], ["id", "type", "status", "progress", "container", "user", "created"])
         if found else "no tasks")


@click.group("task")
def task() -> None:
    """Show, cancel or wait for one task (named by its id or a unique prefix of it)."""


@task.command("show", epilog=exit_status(errors.TaskNotFound, errors.AmbiguousReference))
@click.argument("task_id")
@json_option
@home_option
def show(task_id: str, as_json: bool, home: str | None) -> None:
    """Show a task."""
    with open_bodega(home) as b:
        t = b.tasks.get(task_id)
    emit(t.to_dict(), as_json, lambda _: describe(t))


@task.command("cancel", epilog=exit_status(errors.TaskNotFound, errors.WrongStatus, errors.Forbidden))
@click.argument("task_id")
@json_option
@home_option
def cancel(task_id: str, as_json: bool, home: str | None) -> None:
    """Cancel a task: a queued one at once, a running one at its next checkpoint."""
    with open_bodega(home) as b:
        t = b.tasks.cancel(task_id)
    emit(t.to_dict(), as_json, lambda _: f"task {short_id(t.id)}: "
                                         f"{'cancelled' if t.status.finished else 'cancel requested'}")


@task.command("wait", epilog=exit_status(errors.TaskNotFound, errors.WaitTimeout, errors.TaskFailed,
                                          errors.TaskInterrupted, errors.Cancelled))
@click.argument("task_id")
@click.option("--timeout", type=Seconds(forever=True), help="Give up after this many seconds.")
@json_option
@home_option
def wait(task_id: str, timeout: float | None, as_json: bool, home: str | None) -> None:
    """Wait for a task to end; exit with its error's exit code if it did not succeed."""
    with open_bodega(home) as b:
        t = b.tasks.wait(task_id, timeout=timeout)
    emit(t.to_dict(), as_json, lambda _: describe(t))
    t.raise_for_status()


@click.command("agent")
@click.option("--until-idle", is_flag=True, help="Exit when no queued task is left to run.")
@click.option("--poll", type=Seconds(), default=1.0, show_default=True, help="Seconds between looks at the queue.")
@click.option("--low-priority", is_flag=True,
              help="Run at background CPU priority, so interactive work (a server's requests) goes first.")
@click.option("--wake-on-stdin", is_flag=True, hidden=True,
              help="Started by `bodega serve`: a line on stdin means a task was queued; end of input stops the agent.")
@home_option
def agent(until_idle: bool, poll: float, low_priority: bool, wake_on_stdin: bool, home: str | None) -> None:
    """Run queued tasks (from --detach) one at a time until stopped.

    Several agents may run on one home: each task is claimed by exactly one.  SIGTERM or
    Ctrl-C cancels the running task at its next checkpoint and stops the agent.
    """
    if low_priority:
        from bodega._native import process

        process.lower_priority()
    with open_bodega(home) as b:
        previous = signal.signal(signal.SIGTERM, lambda *_: b.tasks.stop_agent())
        wake = _follow_stdin(b) if wake_on_stdin else None
        try:
            done = b.tasks.run_agent(until_idle=until_idle, poll=poll, wake=wake)
        finally:
            signal.signal(signal.SIGTERM, previous)
    if not wake_on_stdin:  # a server's agents stop with it, quietly
        click.echo(f"agent ran {done} task(s)", err=True)


def _follow_stdin(b: Any) -> threading.Event:
    """The wake event of an agent that `bodega serve` started: set by each line on stdin; at the end
    of input (the server stopped, or died) the agent stops.  Ctrl-C is the server's to handle."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    wake = threading.Event()

    def follow() -> None:
        for _ in sys.stdin.buffer:
            wake.set()
        b.tasks.stop_agent()

    threading.Thread(target=follow, name="bodega-agent-stdin", daemon=True).start()
    return wake


COMMANDS = [tasks, task, agent]
