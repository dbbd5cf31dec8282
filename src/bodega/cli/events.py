"""`bodega events`: the event log, filtered, and followed live."""
from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import COUNT, home_option, json_option, open_bodega
from bodega.cli.output import local_time

if TYPE_CHECKING:
    from bodega.services.events import EventInfo


def show(ev: "EventInfo", as_json: bool) -> None:
    """Prints one event: a JSON line, or a line for people."""
    if as_json:
        click.echo(json.dumps(ev.to_dict(), sort_keys=True))
    else:
        click.echo(f"{ev.seq:>7} {local_time(ev.timestamp)} {ev.level.value:<7} {ev.source.value:<5} {ev.message}")


@click.command("events", epilog=exit_status(errors.ContainerNotFound, errors.TaskNotFound, errors.InvalidInput))
@click.option("--container", "-c", help="Only events of this container (name or id; ids of deleted ones work).")
@click.option("--task", "task_id", help="Only events of this task.")
@click.option("--level", "levels", multiple=True, type=click.Choice(["info", "warning", "error", "audit"]),
              help="Only events of this level (repeatable).")
@click.option("--since", help="Only events since a time: 10m, 2h, 3d, or 2024-05-01T12:00.")
@click.option("--after", type=COUNT, metavar="SEQ", help="Only events after this cursor (the first column).")
@click.option("--limit", "-n", type=COUNT,
              help="At most this many (default: the latest 20, or all with --since/--after).")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new events as they happen (Ctrl-C stops).")
@json_option
@home_option
def events(container: str | None, task_id: str | None, levels: tuple[str, ...], since: str | None,
           after: int | None, limit: int | None, follow: bool, as_json: bool, home: str | None) -> None:
    """Show the event log: every state change, and every mutation with who did it (level audit).

    The first column (`seq` in JSON lines) is a cursor: `--after SEQ` resumes exactly
    where an earlier call stopped, so nothing is missed between calls.

    \b
    Examples:
      bodega events --follow
      bodega events --container dev --level audit --since 1d --json
    """
    from bodega.services.events import parse_since

    when = parse_since(since) if since else None
    if limit is None and after is None and when is None:
        limit = 20
    with open_bodega(home) as b:
        container_id = b.containers.resolve_id(container) if container else None
        task = b.tasks.get(task_id).id if task_id else None
        upto = b.events.cursor()
        for ev in b.events.list(after=after, since=when, container_id=container_id, task_id=task,
                                levels=levels, limit=limit, upto=upto):
            show(ev, as_json)
        if follow:
            try:
                for ev in b.events.follow(after=upto, container_id=container_id, task_id=task, levels=levels):
                    show(ev, as_json)
            except KeyboardInterrupt:
                pass


COMMANDS = [events]
