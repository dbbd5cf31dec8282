"""`bodega app ...` and `bodega run`: apps installed in containers, and running them isolated."""
from __future__ import annotations

import sys
from typing import Any

import click

from bodega import errors
from bodega.cli.container import container_argument
from bodega.cli.error_list import exit_status
from bodega.cli.options import detach_option, home_option, json_option, open_bodega, wait_option
from bodega.cli.output import TaskProgress, emit, human_bytes, short_id, table

INSTALL_ERRORS = (errors.UnsafeArchive, errors.ArchiveCorrupt, errors.InstallFailed, errors.PlatformMismatch,
                  errors.IsolationUnavailable, errors.NameTaken, errors.EntryPointRequired, errors.ContainerNotFound,
                  errors.ContainerBusy, errors.WrongStatus, errors.InvalidInput, errors.Cancelled)
RUN_ERRORS = (errors.AppNotFound, errors.AmbiguousReference, errors.IsolationUnavailable, errors.WrongStatus,
              errors.ContainerBusy, errors.ContainerNotFound)


def _describe(d: dict[str, Any]) -> str:
    lines = [f"{k + ':':<15}{v}" for k, v in (
        ("name", d["name"]), ("id", d["id"]), ("status", d["status"]), ("version", d["version"] or "-"),
        ("vendor", d["vendor"] or "-"), ("path", d["path"] or "(the container root)"),
        ("source", d["install_source"]), ("source blake3", d["source_hash"] or "-"))]
    for ep in d["entry_points"]:
        args = " ".join((ep.get("options") or {}).get("args", []))
        lines.append(f"{'entry':<15}{ep['name']} = {ep['command']}" + (f" {args}" if args else ""))
    for h in d.get("health", []):
        last = "never run" if h["last_run_at"] is None else (
            f"last exit {h['last_exit_code']}, by {h['last_run_by']} at {h['last_run_at'][:19]}, "
            f"{h['last_run_seconds']} s")
        lines.append(f"{'health':<15}{h['entry']}: {h['runs']} runs, {h['crashes']} crashes, {last}"
                     + (f", {h['running']} running" if h["running"] else ""))
    for t in d.get("tasks", []):
        snaps = f" {short_id(t['pre_snapshot_id'])} -> {short_id(t['post_snapshot_id'])}" if t["post_snapshot_id"] \
            else ""
        lines.append(f"{'task':<15}{short_id(t['id'])} {t['type']} {t['status']}{snaps}"
                     + (f": {t['error']}" if t["error"] else ""))
    return "\n".join(lines)


def _emit_app(result: Any, as_json: bool) -> None:
    from bodega.services.tasks import TaskInfo

    if isinstance(result, TaskInfo):
        emit(result.to_dict(), as_json, lambda t: f"queued task {t['id']} ({t['type']}); `bodega agent` runs it")
    else:
        emit(result.to_dict(), as_json, _describe)


@click.group("app")
def app() -> None:
    """Install, update, uninstall and inspect the apps of a container.

    Every install is a transaction between a pre-install and a post-install snapshot: a
    failure, a cancel or a crash restores the pre-install snapshot, and the difference between
    the two is the app's footprint.
    """


def _install_options(f: Any) -> Any:
    for opt in reversed([
        click.option("--entry", "entries", multiple=True, metavar="NAME=COMMAND",
                     help="An entry point, COMMAND relative to the app's path (repeatable)."),
        click.option("--version", "version", help="The app's version (default: from bodega-app.json)."),
        click.option("--time-limit", type=click.FloatRange(min=1, max=7 * 24 * 3600),
                     help="Seconds an installer may run before it is killed (default 1800)."),
        detach_option, wait_option, json_option, home_option,
    ]):
        f = opt(f)
    return f


@app.command("install", epilog=exit_status(*INSTALL_ERRORS))
@container_argument()
@click.argument("source", type=click.Path(exists=True, path_type=str))
@click.argument("installer_args", nargs=-1, type=click.UNPROCESSED)
@click.option("--name", help="The app's name (default: from bodega-app.json, else the source's name).")
@click.option("--vendor", help="The app's vendor.")
@click.option("--path", "install_path", metavar="DIR",
              help="Where in the container (default: apps/NAME for an archive or directory, the root for an installer).")
@_install_options
def install(container: str, source: str, installer_args: tuple[str, ...], name: str | None, vendor: str | None,
            install_path: str | None, entries: tuple[str, ...], version: str | None, time_limit: float | None,
            detach: bool, wait: bool, as_json: bool, home: str | None) -> None:
    """Install an app into CONTAINER from SOURCE: a directory, an archive (zip, 7z, tar,
    tar.gz/.xz/.zst) or an installer run in the container's isolation with the container root
    as its prefix ($BODEGA_PREFIX).  Arguments after `--` go to the installer.

    \b
    Examples:
      bodega app install dev ./vlc-3.0.20.zip --entry vlc=bin/vlc
      bodega app install dev ./setup.sh --entry tool=bin/tool -- --prefix-from-env
    """
    with open_bodega(home) as b, TaskProgress(f"install {source}", as_json) as bar:
        result = b.apps.install(container, source, name=name, version=version, vendor=vendor, entries=entries,
                                path=install_path, args=installer_args, time_limit=time_limit, detach=detach,
                                wait=wait, progress=None if detach else bar.update)
    _emit_app(result, as_json)


@app.command("update", epilog=exit_status(*INSTALL_ERRORS, errors.AppNotFound))
@container_argument()
@click.argument("app_ref", metavar="APP")
@click.argument("source", type=click.Path(exists=True, path_type=str))
@click.argument("installer_args", nargs=-1, type=click.UNPROCESSED)
@_install_options
def update(container: str, app_ref: str, source: str, installer_args: tuple[str, ...], entries: tuple[str, ...],
           version: str | None, time_limit: float | None, detach: bool, wait: bool, as_json: bool,
           home: str | None) -> None:
    """Install a new version of APP from SOURCE over the old one, as one more transaction.

    Files of the old version that you changed are kept (a new file of the same name lands
    beside it as NAME.bodega-new); entry points stay unless given or shipped anew.
    """
    with open_bodega(home) as b, TaskProgress(f"update {app_ref}", as_json) as bar:
        result = b.apps.update(container, app_ref, source, version=version, entries=entries, args=installer_args,
                               time_limit=time_limit, detach=detach, wait=wait,
                               progress=None if detach else bar.update)
    _emit_app(result, as_json)


@app.command("uninstall", epilog=exit_status(errors.AppNotFound, errors.ContainerBusy, errors.WrongStatus,
                                             errors.SnapshotNotFound, errors.Cancelled))
@container_argument()
@click.argument("app_ref", metavar="APP")
@detach_option
@wait_option
@json_option
@home_option
def uninstall(container: str, app_ref: str, detach: bool, wait: bool, as_json: bool, home: str | None) -> None:
    """Remove exactly what APP's installs added (and put back what they changed or removed),
    between a pre- and a post-uninstall snapshot; files you changed since are kept and listed."""
    with open_bodega(home) as b, TaskProgress(f"uninstall {app_ref}", as_json) as bar:
        task = b.apps.uninstall(container, app_ref, detach=detach, wait=wait,
                                progress=None if detach else bar.update)
    kept = task.result.get("kept", [])
    emit(task.to_dict(), as_json, lambda t: (f"queued task {t['id']}" if detach else
                                             f"uninstalled {app_ref}" + (f"; kept {len(kept)} path(s) you changed: "
                                                                         + ", ".join(kept[:10]) if kept else "")))


@app.command("list", epilog=exit_status(errors.ContainerNotFound))
@container_argument()
@json_option
@home_option
def list_apps(container: str, as_json: bool, home: str | None) -> None:
    """List the apps of CONTAINER."""
    with open_bodega(home) as b:
        apps = [a.to_dict() for a in b.apps.list(container)]
    emit(apps, as_json, lambda rows: table([{
        "name": a["name"], "id": short_id(a["id"]), "status": a["status"], "version": a["version"],
        "path": a["path"], "entries": ",".join(e["name"] for e in a["entry_points"])} for a in rows],
        ["name", "id", "status", "version", "path", "entries"]) if rows else "no apps")


@app.command("show", epilog=exit_status(errors.AppNotFound, errors.ContainerNotFound))
@container_argument()
@click.argument("app_ref", metavar="APP")
@json_option
@home_option
def show(container: str, app_ref: str, as_json: bool, home: str | None) -> None:
    """Show APP: provenance, entry points and their health, and its install/update tasks."""
    with open_bodega(home) as b:
        details = b.apps.show(container, app_ref).to_dict()
    emit(details, as_json, _describe)


@app.command("footprint", epilog=exit_status(errors.AppNotFound, errors.SnapshotNotFound))
@container_argument()
@click.argument("app_ref", metavar="APP")
@json_option
@home_option
def footprint(container: str, app_ref: str, as_json: bool, home: str | None) -> None:
    """What APP's installs added (A), changed (M) and removed (D), with bytes, from the
    manifests of their pre- and post-install snapshots."""
    with open_bodega(home) as b:
        fp = b.apps.footprint(container, app_ref)
    c = fp.counts()

    def text(_: Any) -> str:
        head = (f"{c['added']} added ({human_bytes(c['bytes_added'])}), {c['changed']} changed "
                f"({human_bytes(c['bytes_changed'])}), {c['removed']} removed ({human_bytes(c['bytes_removed'])})")
        return fp.to_text() + ("\n" if fp.entries else "") + head

    emit(fp.to_dict(), as_json, text)


@app.command("disable", epilog=exit_status(errors.AppNotFound, errors.WrongStatus))
@container_argument()
@click.argument("app_ref", metavar="APP")
@json_option
@home_option
def disable(container: str, app_ref: str, as_json: bool, home: str | None) -> None:
    """Stop APP from being run (its files stay)."""
    with open_bodega(home) as b:
        _emit_app(b.apps.disable(container, app_ref), as_json)


@app.command("enable", epilog=exit_status(errors.AppNotFound, errors.WrongStatus, errors.EntryPointRequired))
@container_argument()
@click.argument("app_ref", metavar="APP")
@json_option
@home_option
def enable(container: str, app_ref: str, as_json: bool, home: str | None) -> None:
    """Let a disabled APP run again."""
    with open_bodega(home) as b:
        _emit_app(b.apps.enable(container, app_ref), as_json)


@app.command("set-entry", epilog=exit_status(errors.AppNotFound, errors.InvalidInput))
@container_argument()
@click.argument("app_ref", metavar="APP")
@click.argument("entry", metavar="NAME=COMMAND")
@click.option("--icon", help="The entry's icon, relative to the app's path.")
@click.option("--arg", "args", multiple=True, help="A default argument (repeatable).")
@json_option
@home_option
def set_entry(container: str, app_ref: str, entry: str, icon: str | None, args: tuple[str, ...], as_json: bool,
              home: str | None) -> None:
    """Add or replace an entry point of APP: NAME=COMMAND, COMMAND relative to the app's path."""
    from bodega.services.apps import parse_entry

    spec = parse_entry(entry)
    if icon:
        spec["icon"] = icon
    if args:
        spec["options"] = {"args": list(args)}
    with open_bodega(home) as b:
        _emit_app(b.apps.set_entry(container, app_ref, spec), as_json)


@app.command("remove-entry", epilog=exit_status(errors.AppNotFound, errors.EntryPointRequired))
@container_argument()
@click.argument("app_ref", metavar="APP")
@click.argument("name")
@json_option
@home_option
def remove_entry(container: str, app_ref: str, name: str, as_json: bool, home: str | None) -> None:
    """Remove the entry point NAME of APP (a ready app keeps at least one)."""
    with open_bodega(home) as b:
        _emit_app(b.apps.set_entry(container, app_ref, remove=name), as_json)


@click.command("run", context_settings={"ignore_unknown_options": True},
               epilog=exit_status(*RUN_ERRORS) + "\n\nOtherwise bodega exits with the app's own status "
                                                 "(128+N when signal N ended it).")
@container_argument()
@click.argument("entry", metavar="[APP:]ENTRY")
@click.argument("args", nargs=-1, type=click.UNPROCESSED)
@home_option
def run(container: str, entry: str, args: tuple[str, ...], home: str | None) -> None:
    """Run an entry point of an app in CONTAINER, isolated: the container root is its
    writable world, the host's system directories are read-only, the host's home is not
    there, and the network, limits, env and mounts follow the container's settings.

    stdin, stdout and stderr are the app's; bodega exits with the app's status.

    \b
    Examples:
      bodega run dev vlc -- --fullscreen movie.mkv
      bodega run dev busybox:sh -- -c 'echo hi'
    """
    sys.stdout.flush()
    sys.stderr.flush()
    with open_bodega(home) as b:
        result = b.apps.run(container, entry, args)
    if result.timed_out or result.memory_killed:
        click.echo(f"bodega: {entry} " + ("timed out" if result.timed_out else "was stopped by the memory limit"),
                   err=True)
    sys.exit(result.exit_code)


COMMANDS = [app, run]
