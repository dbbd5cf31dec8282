"""`bodega export ...` and `bodega import`: packages of a container, checked end to end."""
from __future__ import annotations

from typing import Any

import click

from bodega import errors
from bodega.cli.container import container_argument
from bodega.cli.error_list import exit_status
from bodega.cli.options import detach_option, home_option, json_option, open_bodega, wait_option
from bodega.cli.output import TaskProgress, emit, human_bytes, local_time, short_id, table

COMMON = (errors.ContainerNotFound, errors.AmbiguousReference, errors.ContainerBusy, errors.DatabaseLocked,
          errors.Forbidden)
READ = (errors.PackageInvalid, errors.PackageDamaged, errors.ArchiveCorrupt, errors.PathNotFound)


class DefaultCommandGroup(click.Group):
    """A group whose first argument, when it names no subcommand, goes to its default command."""

    default = "create"

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if args and args[0] not in self.commands and args[0] not in ("-h", "--help"):
            args = [self.default, *args]
        return super().parse_args(ctx, args)


@click.group("export", cls=DefaultCommandGroup)
def export() -> None:
    """Export a container to a zip or 7z package; verify and list packages.

    \b
      bodega export dev --format 7z -o dev.7z       # the live tree (same as `export create`)
      bodega export dev --snapshot 3f2a -o -  | ssh host bodega import -
      bodega export dev --since 3f2a -o dev-delta.zip  # only what a holder of 3f2a lacks
      bodega export dev -o s3://bucket/exports/dev.zip # a streamed multipart upload
      bodega export verify dev.7z
      bodega export list
    The package format is in docs/export.md; `unzip` and `7z x -snld` extract its tree too.
    """


@export.command("create", epilog=exit_status(*COMMON, errors.WrongStatus, errors.SnapshotNotFound, errors.NoSpace,
                                               errors.PathExists, errors.ChangedWhileReading, errors.NotSupported,
                                               errors.StoreUnavailable))
@container_argument()
@click.option("--snapshot", "snapshot", metavar="SNAP", help="Export this snapshot's tree instead of the live one.")
@click.option("--with-snapshots", is_flag=True, help="Carry every snapshot too (contents stored once).")
@click.option("--since", metavar="SNAP", help="A delta: only what a receiver holding SNAP lacks.")
@click.option("--format", "fmt", type=click.Choice(["zip", "7z"]), default="zip", show_default=True)
@click.option("-o", "--output", "location", metavar="PATH|URL|-",
              help="Where to write it (a new file, file:// URL, s3://bucket/key, or - for stdout); "
                   "default $BODEGA_HOME/exports/.")
@detach_option
@wait_option
@json_option
@home_option
def create(container: str, snapshot: str | None, with_snapshots: bool, since: str | None, fmt: str,
           location: str | None, detach: bool, wait: bool, as_json: bool, home: str | None) -> None:
    """Export CONTAINER (its live tree, or --snapshot SNAP) as a package."""
    with open_bodega(home) as b, TaskProgress(f"export {container}", as_json or location == "-") as bar:
        task = b.exports.export(container, format=fmt, location=location, snapshot=snapshot,
                                with_snapshots=with_snapshots, since=since, detach=detach, wait=wait,
                                progress=None if detach else bar.update)
    if location == "-":
        if as_json:
            click.echo(_json_line(task.result), err=True)
        return
    emit(task.to_dict() if detach else task.result, as_json,
         lambda r: f"queued task {r['id']} (export)" if detach else
         f"exported {container} ({r['kind']}, {r['format']}) to {r['location']}: {human_bytes(r['bytes'])}, "
         f"{r['members']} members\nroot {r['root']}\nblake3 {r['integrity_hash']}")


def _json_line(data: Any) -> str:
    import json

    return json.dumps(data, sort_keys=True, default=str)


@export.command("verify", epilog=exit_status(*READ, errors.InvalidInput, errors.StoreUnavailable))
@click.argument("path", metavar="FILE|s3://BUCKET/KEY")
@click.option("--hash", "expect_hash", metavar="BLAKE3", help="The package's BLAKE3 as the sender printed it.")
@json_option
@home_option
def verify(path: str, expect_hash: str | None, as_json: bool, home: str | None) -> None:
    """Check the package at PATH without importing it: every member against its hash, the manifests'
    root hashes, and the file's BLAKE3 against the one recorded when it was exported (or --hash)."""
    with open_bodega(home) as b:
        report = b.exports.verify(path, expect_hash=expect_hash)
    emit(report, as_json, lambda r: (
        f"package ok: {r['kind']} {r['format']} of {r['container'].get('name')}, {r['members']} members, "
        f"{r['files']} files, {r['objects']} objects, {human_bytes(r['bytes'])} checked\n"
        f"root   {r['root']}\nblake3 {r['integrity_hash']}"
        + ("" if r["integrity_checked"] else " (not recorded here: pass --hash to check it)")))


@export.command("list", epilog=exit_status(*COMMON))
@click.option("--container", "container", help="Only this container's packages.")
@json_option
@home_option
def list_(container: str | None, as_json: bool, home: str | None) -> None:
    """List the packages exports made, newest first."""
    with open_bodega(home) as b:
        cid = b.containers.resolve_id(container) if container else None
        found = b.exports.list(container_id=cid)
    emit([p.to_dict() for p in found], as_json, lambda _: table(
        [{"id": short_id(p.id), "status": p.status.value, "format": p.format.value, "created": local_time(p.created_at),
          "blake3": (p.integrity_hash or "")[:16], "location": p.location} for p in found],
        ["id", "status", "format", "created", "blake3", "location"]) if found else "no export packages")


@click.command("import", epilog=exit_status(*READ, errors.UnsafeArchive, errors.NameTaken, errors.DeltaBaseMissing,
                                            errors.UnsavedChanges, errors.NoSpace, errors.PlatformMismatch,
                                            errors.StoreUnavailable))
@click.argument("path", metavar="FILE|s3://BUCKET/KEY|-")
@click.option("--name", help="The new container's name (default: the package's, or the archive's file name).")
@click.option("--into", "into", metavar="CONTAINER", help="A delta: the container holding its base (found by default).")
@detach_option
@json_option
@home_option
def import_(path: str, name: str | None, into: str | None, detach: bool, as_json: bool, home: str | None) -> None:
    """Import a package (or any zip/7z of a directory) as a new container; a delta onto its base's holder.

    Everything is checked before anything becomes visible: member paths and links, sizes against
    caps, the manifests' root hashes over the unpacked tree; then the container and its
    snapshots are published in one transaction.  FILE - reads the package from stdin; an
    s3://bucket/key is fetched from S3 first.
    """
    with open_bodega(home) as b, TaskProgress("import", as_json) as bar:
        task = b.imports.import_package(path, name=name, into=into, detach=detach,
                                        progress=None if detach else bar.update)
    emit(task.to_dict() if detach else task.result, as_json,
         lambda r: f"queued task {r['id']} (import)" if detach else
         f"imported {r['kind']} package as container {r['container_name']} ({short_id(r['container_id'])}): "
         f"{r['files']} files, {len(r.get('snapshots', []))} snapshot(s)\nroot {r['root']}")


COMMANDS = [export, import_]
