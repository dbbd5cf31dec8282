"""`bodega container ...` and `bodega du`: the container lifecycle on the command line."""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import detach_option, home_option, json_option, open_bodega, wait_option
from bodega.cli.output import TaskProgress, emit, human_bytes, local_time, short_id, table

if TYPE_CHECKING:
    from bodega.services.containers import ContainerInfo
    from bodega.services.tasks import TaskInfo

COMMON_ERRORS = (errors.ContainerNotFound, errors.AmbiguousReference, errors.ContainerBusy, errors.WrongStatus,
                 errors.DatabaseLocked, errors.Forbidden)


def complete_container(ctx: click.Context, param: click.Parameter, incomplete: str) -> list[str]:
    """Shell completion: your container names (read as `container list` reads them: at every Tab)."""
    from bodega.services.container_listing import list_containers

    try:
        return [c.name for c in list_containers(ctx.params.get("home")) if c.name.startswith(incomplete)]
    except Exception:  # completion must never print a traceback into the shell
        return []


def container_argument(name: str = "container") -> Any:
    """A container given by name, id or unique id prefix."""
    return click.argument(name, shell_complete=complete_container)


def read_settings(text: str | None) -> dict[str, Any] | None:
    """--settings: JSON text, or @FILE holding it."""
    if text is None:
        return None
    from bodega.services.container_settings import parse_settings, read_settings_file

    return read_settings_file(text[1:]) if text.startswith("@") else parse_settings(text)


def row(c: "ContainerInfo") -> dict[str, Any]:
    """A container as a table row."""
    return {"name": c.name, "id": short_id(c.id), "status": c.status.value, "platform": c.platform.value,
            "size": human_bytes(c.size_bytes), "tags": ",".join(c.tags), "owner": c.owner_email}


def describe(c: "ContainerInfo") -> str:
    """A container for people, one field per line."""
    import json

    fields = [("name", c.name), ("id", c.id), ("status", c.status.value), ("platform", c.platform.value),
              ("owner", c.owner_email), ("description", c.description), ("tags", ", ".join(c.tags)),
              ("size", f"{human_bytes(c.size_bytes)} ({c.size_bytes} bytes)"), ("path", c.storage_path),
              ("settings", json.dumps(c.settings, sort_keys=True)), ("created", local_time(c.created_at)),
              ("updated", local_time(c.updated_at))]
    return "\n".join(f"{k + ':':<13}{v}" for k, v in fields)


def emit_container_or_task(result: "ContainerInfo | TaskInfo | None", as_json: bool) -> None:
    """Prints what a mutation returned: the container, or the queued task (with --detach)."""
    from bodega.services.tasks import TaskInfo

    if isinstance(result, TaskInfo):
        emit(result.to_dict(), as_json, lambda t: f"queued task {t['id']} ({t['type']}); "
                                                  f"`bodega agent` runs it, `bodega task wait {short_id(t['id'])}` waits")
    elif result is not None:
        emit(result.to_dict(), as_json, lambda _: describe(result))


@click.group("container")
def container() -> None:
    """Create, list, change, clone and delete containers.

    A container is named by its name (unique among yours), its id, or a unique prefix of its id.
    Every change runs as a task (see `bodega tasks`) and is logged (see `bodega events`).
    """


@container.command("create", epilog=exit_status(errors.InvalidName, errors.NameTaken, errors.InvalidSettings,
                                                  errors.DatabaseLocked, errors.Forbidden))
@click.argument("name")
@click.option("--description", "-d", default="", help="What the container is for.")
@click.option("--tag", "-t", "tags", multiple=True, help="A tag (repeatable).")
@click.option("--settings", "settings_text", metavar="JSON|@FILE",
              help='Settings, e.g. \'{"cpu_limit": 2, "memory_limit_mb": 4096, "compat_flags": ["disable_hw_accel"]}\'.')
@detach_option
@json_option
@home_option
def create(name: str, description: str, tags: tuple[str, ...], settings_text: str | None, detach: bool,
           as_json: bool, home: str | None) -> None:
    """Create an empty container NAME for this host's platform.

    \b
    Examples:
      bodega container create dev --tag work
      bodega container create lab --settings '{"network": {"default": "deny"}}'
    """
    settings = read_settings(settings_text)
    with open_bodega(home) as b, TaskProgress(f"create {name}", as_json) as bar:
        if detach:
            result: Any = b.containers.create(name, description=description, tags=tags, settings=settings, detach=True)
        else:
            result = b.containers.create(name, description=description, tags=tags, settings=settings,
                                         progress=bar.update)
    emit_container_or_task(result, as_json)


@container.command("list", epilog=exit_status(errors.DatabaseLocked))
@click.option("--tag", "-t", help="Only containers with this tag.")
@click.option("--status", type=click.Choice(["creating", "ready", "running", "error", "archived"]),
              help="Only containers in this status.")
@click.option("--all-users", is_flag=True, help="Everyone's containers, not only yours.")
@json_option
@home_option
def list_(tag: str | None, status: str | None, all_users: bool, as_json: bool, home: str | None) -> None:
    """List containers."""
    from bodega.services.container_listing import list_containers

    found = list_containers(home, tag=tag, status=status, all_users=all_users)
    columns = ["name", "id", "status", "platform", "size", "tags"] + (["owner"] if all_users else [])
    emit([c.to_dict() for c in found], as_json,
         lambda _: table([row(c) for c in found], columns) if found else "no containers")


@container.command("show", epilog=exit_status(errors.ContainerNotFound, errors.AmbiguousReference))
@container_argument()
@json_option
@home_option
def show(container: str, as_json: bool, home: str | None) -> None:
    """Show a container."""
    with open_bodega(home) as b:
        c = b.containers.get(container)
    emit(c.to_dict(), as_json, lambda _: describe(c))


@container.command("edit", epilog=exit_status(*COMMON_ERRORS, errors.InvalidName, errors.NameTaken,
                                                errors.InvalidSettings))
@container_argument()
@click.option("--name", "new_name", help="A new name.")
@click.option("--description", "-d", help="A new description.")
@click.option("--settings", "settings_text", metavar="JSON|@FILE", help="New settings (replace the old ones).")
@wait_option
@json_option
@home_option
def edit(container: str, new_name: str | None, description: str | None, settings_text: str | None, wait: bool,
         as_json: bool, home: str | None) -> None:
    """Rename a container or change its description or settings."""
    settings = read_settings(settings_text)
    with open_bodega(home) as b:
        c = b.containers.edit(container, name=new_name, description=description, settings=settings, wait=wait)
    emit(c.to_dict(), as_json, lambda _: describe(c))


@container.command("tag", epilog=exit_status(*COMMON_ERRORS))
@container_argument()
@click.argument("tags", nargs=-1)
@click.option("--remove", "-r", "removed", multiple=True, help="A tag to remove (repeatable).")
@wait_option
@json_option
@home_option
def tag(container: str, tags: tuple[str, ...], removed: tuple[str, ...], wait: bool, as_json: bool,
        home: str | None) -> None:
    """Add TAGS to a container (and remove those given with --remove).

    \b
    Example:
      bodega container tag dev work nightly --remove old
    """
    with open_bodega(home) as b:
        c = b.containers.tag(container, add=tags, remove=removed, wait=wait)
    emit(c.to_dict(), as_json, lambda _: f"{c.name}: {', '.join(c.tags) or '(no tags)'}")


def status_command(verb: str, help: str) -> click.Command:
    """`bodega container archive|unarchive`: the same wiring, another status."""

    @container.command(verb, help=help, epilog=exit_status(*COMMON_ERRORS))
    @container_argument()
    @wait_option
    @json_option
    @home_option
    def command(container: str, wait: bool, as_json: bool, home: str | None) -> None:
        with open_bodega(home) as b:
            c = getattr(b.containers, verb)(container, wait=wait)
        emit(c.to_dict(), as_json, lambda _: f"{c.name}: {c.status.value}")

    return command


archive = status_command("archive", "Archive a container: kept, but frozen until unarchived.")
unarchive = status_command("unarchive", "Make an archived container ready again.")


@container.command("delete", epilog=exit_status(*COMMON_ERRORS))
@container_argument()
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@detach_option
@wait_option
@json_option
@home_option
def delete(container: str, yes: bool, detach: bool, wait: bool, as_json: bool, home: str | None) -> None:
    """Delete a container and its files (refused while another task runs on it)."""
    with open_bodega(home) as b:
        c = b.containers.get(container)
        if not yes and sys.stdin.isatty() and not click.confirm(f"Delete container {c.name} and all its files?"):
            raise click.Abort()
        task = b.containers.delete(container, detach=True) if detach else b.containers.delete(container, wait=wait)
    if task is not None:
        emit_container_or_task(task, as_json)
    else:
        emit({"deleted": str(c.id), "name": c.name}, as_json, lambda _: f"deleted {c.name}")


@container.command("clone", epilog=exit_status(*COMMON_ERRORS, errors.InvalidName, errors.NameTaken,
                                                 errors.SpecialFile, errors.Cancelled))
@container_argument("source")
@click.argument("name")
@click.option("--description", "-d", help="The clone's description (default: the source's).")
@detach_option
@wait_option
@json_option
@home_option
def clone(source: str, name: str, description: str | None, detach: bool, wait: bool, as_json: bool,
          home: str | None) -> None:
    """Clone container SOURCE into a new container NAME (copy-on-write where the volume can).

    \b
    Example:
      bodega container clone dev dev2
    """
    with open_bodega(home) as b, TaskProgress(f"clone {source} -> {name}", as_json) as bar:
        if detach:
            result: Any = b.containers.clone(source, name, description=description, detach=True)
        else:
            result = b.containers.clone(source, name, description=description, wait=wait, progress=bar.update)
    emit_container_or_task(result, as_json)


@container.command("recover", epilog=exit_status(errors.ContainerManifestInvalid, errors.ContainerExists,
                                                   errors.NameTaken, errors.CrossDevice, errors.PathNotFound,
                                                   errors.SnapshotNotFound))
@click.argument("path", required=False, type=click.Path(file_okay=False, path_type=str))
@click.option("--name", help="Recover under this name (one container only).")
@click.option("--host", "from_host", metavar="HOST",
              help="Move here every container the catalogue places on HOST (a host that is gone), each "
                   "restored from its newest snapshot in the shared store.")
@json_option
@home_option
def recover(path: str | None, name: str | None, from_host: str | None, as_json: bool, home: str | None) -> None:
    """Put containers back in the catalogue from their manifest.json, or move a lost host's here.

    PATH is a container directory (holding manifest.json) or a directory of them, such as
    the home's containers/ directory after the catalogue was lost.  A container directory
    outside the home is moved into its containers/ directory.  With --host (and no PATH), the
    containers of another host sharing this catalogue and store are rebuilt on this one.
    """
    if (path is None) == (from_host is None):
        raise errors.InvalidInput("give a container directory, or --host HOST (not both)")
    if from_host is not None and name is not None:
        raise errors.InvalidInput("--name works with one container directory, not with --host")
    with open_bodega(home) as b:
        found = b.containers.recover(path, name=name) if path is not None else b.containers.recover_host(from_host)
    verb = "recovered" if path is not None else f"moved here from {from_host}:"
    emit([c.to_dict() for c in found], as_json,
         lambda _: "\n".join(f"{verb} {c.name} ({short_id(c.id)})" for c in found) or "nothing to recover")


@click.command("du", epilog=exit_status(errors.ContainerNotFound, errors.AmbiguousReference))
@click.argument("containers", nargs=-1, shell_complete=complete_container)
@json_option
@home_option
def du(containers: tuple[str, ...], as_json: bool, home: str | None) -> None:
    """Show the disk usage of containers: apparent bytes (file sizes) and allocated bytes (on disk).

    Allocated bytes count shared copy-on-write extents in full for each container.
    """
    with open_bodega(home) as b:
        usages = b.containers.usage(containers)
    total = {k: sum(getattr(u.usage, k) for u in usages) for k in ("files", "dirs", "apparent_bytes", "allocated_bytes")}

    def text(_: Any) -> str:
        rows = [{"name": u.container.name, "id": short_id(u.container.id), "files": u.usage.files,
                 "apparent": human_bytes(u.usage.apparent_bytes), "allocated": human_bytes(u.usage.allocated_bytes)}
                for u in usages]
        rows.append({"name": "TOTAL", "files": total["files"], "apparent": human_bytes(total["apparent_bytes"]),
                     "allocated": human_bytes(total["allocated_bytes"])})
        return table(rows, ["name", "id", "files", "apparent", "allocated"])

    emit({"containers": [u.to_dict() for u in usages], "total": total}, as_json, text)


COMMANDS = [container, du]
