"""`bodega snapshot ...` and `bodega diff`: snapshots of a container, restore, browse, retention."""
from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from bodega import errors
from bodega.cli.container import container_argument
from bodega.cli.error_list import exit_status
from bodega.cli.options import COUNT, detach_option, home_option, json_option, open_bodega, wait_option
from bodega.cli.output import TaskProgress, emit, human_bytes, local_time, short_id, table

COMMON = (errors.ContainerNotFound, errors.SnapshotNotFound, errors.AmbiguousReference, errors.ContainerBusy,
          errors.DatabaseLocked)
TRIGGERS = ["manual", "system", "pre-install", "post-install"]


def _row(s: Any) -> dict[str, Any]:
    return {"id": short_id(s.id), "type": s.type.value, "base": short_id(s.base_snapshot_id),
            "trigger": s.trigger.value, "added": human_bytes(s.size_bytes), "created": local_time(s.created_at),
            "label": s.label}


def _describe(d: dict[str, Any]) -> str:
    store = d.get("store") or {}
    fields = [("id", d["id"]), ("container", d["container_id"]), ("label", d["label"]), ("type", d["type"]),
              ("base", d["base_snapshot_id"] or "-"), ("trigger", d["trigger"]), ("created", d["created_at"]),
              ("root", d["checksum_manifest"]), ("added", f"{human_bytes(d['size_bytes'])} ({d['size_bytes']} bytes)")]
    if store:
        fields += [("files", store["files"]), ("tree bytes", human_bytes(store["bytes"])),
                   ("files read", store["files_read"])]
    else:
        fields.append(("store", "MISSING from the store (run `bodega verify`)"))
    return "\n".join(f"{k + ':':<12}{v}" for k, v in fields)


@click.group("snapshot")
def snapshot() -> None:
    """Take, list, restore, browse and forget snapshots of a container.

    A snapshot is named by its id or a unique prefix of it (4+ hex digits).  Snapshots are
    checked (BLAKE3) and deduplicated in one store shared by every container.
    """


@snapshot.command("create", epilog=exit_status(*COMMON, errors.WrongStatus, errors.DeltaBaseMismatch,
                                                 errors.ChangedWhileReading, errors.NoSpace))
@container_argument()
@click.option("-m", "--label", default="", help="A label for the snapshot.")
@click.option("--full", "kind", flag_value="full", help="A full snapshot.")
@click.option("--delta", "kind", flag_value="delta", help="A delta on the container's current base.")
@click.option("--trigger", type=click.Choice(TRIGGERS), default="manual", help="Why it is taken (default manual).")
@detach_option
@wait_option
@json_option
@home_option
def create(container: str, label: str, kind: str | None, trigger: str, detach: bool, wait: bool, as_json: bool,
           home: str | None) -> None:
    """Take a snapshot of CONTAINER (full or delta, by policy unless --full/--delta).

    \b
    Examples:
      bodega snapshot create dev -m "before update"
      bodega snapshot create dev --full
    """
    with open_bodega(home) as b, TaskProgress(f"snapshot {container}", as_json) as bar:
        result = b.snapshots.create(container, label=label, kind=kind or "auto", trigger=trigger, detach=detach,
                                    wait=wait, progress=None if detach else bar.update)
    if detach:
        emit(result.to_dict(), as_json, lambda t: f"queued task {t['id']} (snapshot.create)")
    else:
        emit(result.to_dict(), as_json, lambda d: f"snapshot {d['id']} ({d['type']}) of {container}: "
                                                  f"added {human_bytes(d['size_bytes'])}")


@snapshot.command("list", epilog=exit_status(*COMMON))
@container_argument()
@json_option
@home_option
def list_(container: str, as_json: bool, home: str | None) -> None:
    """List CONTAINER's snapshots, oldest first."""
    with open_bodega(home) as b:
        found = b.snapshots.list(container)
    emit([s.to_dict() for s in found], as_json,
         lambda _: table([_row(s) for s in found], ["id", "type", "base", "trigger", "added", "created", "label"])
         if found else "no snapshots")


@snapshot.command("show", epilog=exit_status(*COMMON))
@container_argument()
@click.argument("snap")
@json_option
@home_option
def show(container: str, snap: str, as_json: bool, home: str | None) -> None:
    """Show one snapshot."""
    with open_bodega(home) as b:
        d = b.snapshots.show(container, snap).to_dict()
    emit(d, as_json, _describe)


@snapshot.command("restore", epilog=exit_status(*COMMON, errors.WrongStatus, errors.ObjectCorrupt,
                                                  errors.ObjectMissing, errors.NoSpace))
@container_argument()
@click.argument("snap")
@detach_option
@wait_option
@json_option
@home_option
def restore(container: str, snap: str, detach: bool, wait: bool, as_json: bool, home: str | None) -> None:
    """Make CONTAINER's tree the snapshot SNAP's: atomic, checked, newer snapshots stay."""
    with open_bodega(home) as b, TaskProgress(f"restore {container}", as_json) as bar:
        task = b.snapshots.restore(container, snap, detach=detach, wait=wait,
                                   progress=None if detach else bar.update)
    emit(task.to_dict() if detach else task.result, as_json,
         lambda r: f"queued task {r['id']}" if detach else
         f"restored {container} to {short_id(r['snapshot'])} ({r['mode']}): {r['files_written']} files written, "
         f"{r['removed']} removed, {r['unchanged']} untouched" + _skipped(r.get("skipped_specials") or []))


def _skipped(skipped: list[dict[str, str]]) -> str:
    """The special files a restore could not create, as an extra line (none: nothing)."""
    if not skipped:
        return ""
    from bodega.storage.manifest_diff import quote_path

    shown = ", ".join(f"{quote_path(os.fsencode(x['path']), False)} ({x['kind']})" for x in skipped[:5])
    more = f" and {len(skipped) - 5} more" if len(skipped) > 5 else ""
    return f"\nskipped {len(skipped)} special files it cannot create: {shown}{more}"


def _entry(e: Any) -> dict[str, Any]:
    """An entry as JSON: path and link as text, or path_hex/link_hex when they are not UTF-8 (as diff)."""
    from bodega.storage.manifest import bytes_field

    out: dict[str, Any] = {"kind": e.kind, "mode": f"{e.mode & 0o7777:04o}", "size": e.size,
                           "hash": e.hash.hex() if e.hash else None}
    out.update(bytes_field("path", e.path))
    out.update(bytes_field("link", e.link) if e.link is not None else {"link": None})
    return out


def _ls_line(e: Any) -> str:
    """An entry for people, names quoted like diff's so no name can forge a line or drive the terminal."""
    from bodega.storage.manifest_diff import quote_path

    kind = "l" if e.kind == "symlink" else e.kind[0]
    link = f" -> {quote_path(e.link, False)}" if e.link is not None else ""
    return f"{kind} {e.mode & 0o7777:04o} {e.size:>12} {quote_path(e.path, e.kind == 'dir')}{link}"


@snapshot.command("ls", epilog=exit_status(*COMMON, errors.SnapshotPathNotFound))
@container_argument()
@click.argument("snap")
@click.argument("path", default="")
@json_option
@home_option
def ls(container: str, snap: str, path: str, as_json: bool, home: str | None) -> None:
    """List PATH (default the root) in snapshot SNAP.

    Names that are not plain printable text are shown "quoted" with C escapes, as in `diff`;
    in JSON, a name that is not UTF-8 is given as path_hex (link_hex for a link's target).
    """
    with open_bodega(home) as b:
        entries = b.snapshots.ls(container, snap, path)
    emit([_entry(e) for e in entries], as_json, lambda _: "\n".join(_ls_line(e) for e in entries))


@snapshot.command("cat", epilog=exit_status(*COMMON, errors.SnapshotPathNotFound, errors.ObjectCorrupt))
@container_argument()
@click.argument("snap")
@click.argument("path")
@home_option
def cat(container: str, snap: str, path: str, home: str | None) -> None:
    """Write one file of snapshot SNAP to stdout (checked against its hash)."""
    out = sys.stdout.buffer
    with open_bodega(home) as b:
        b.snapshots.cat(container, snap, path, out.write)
    out.flush()


@snapshot.command("extract", epilog=exit_status(*COMMON, errors.SnapshotPathNotFound, errors.PathExists))
@container_argument()
@click.argument("snap")
@click.argument("path")
@click.argument("dest", type=click.Path(path_type=Path))
@json_option
@home_option
def extract(container: str, snap: str, path: str, dest: Path, as_json: bool, home: str | None) -> None:
    """Write PATH of snapshot SNAP (a file or a whole directory) to DEST, which must not exist."""
    with open_bodega(home) as b:
        w = b.snapshots.extract(container, snap, path, dest)
    emit({"files": w.files, "bytes": w.bytes, "dest": str(dest), "hardlinks": w.hardlinks,
          "skipped_specials": w.skipped}, as_json,
         lambda d: f"extracted {d['files']} files ({human_bytes(d['bytes'])}) to {d['dest']}"
         + _skipped(d["skipped_specials"]))


@snapshot.command("forget", epilog=exit_status(*COMMON, errors.RetentionInvalid))
@container_argument()
@click.argument("snaps", nargs=-1)
@click.option("--keep-last", type=COUNT, default=0, help="Keep the N newest.")
@click.option("--keep-hourly", type=COUNT, default=0, help="Keep the newest of each of the last N hours.")
@click.option("--keep-daily", type=COUNT, default=0, help="Keep the newest of each of the last N days.")
@click.option("--keep-weekly", type=COUNT, default=0, help="Keep the newest of each of the last N weeks.")
@click.option("--keep-monthly", type=COUNT, default=0, help="Keep the newest of each of the last N months.")
@click.option("--keep-yearly", type=COUNT, default=0, help="Keep the newest of each of the last N years.")
@click.option("--keep-within", metavar="AGE", help="Keep all younger than AGE (12h, 30d, 4w, 6m, 1y).")
@click.option("--keep-trigger", "keep_trigger", multiple=True, metavar="TRIGGER=N|AGE",
              help="Keep snapshots of a trigger: the last N, or those younger than AGE (repeatable).")
@click.option("--dry-run", is_flag=True, help="Only say what would be forgotten.")
@wait_option
@json_option
@home_option
def forget(container: str, snaps: tuple[str, ...], keep_last: int, keep_hourly: int, keep_daily: int,
           keep_weekly: int, keep_monthly: int, keep_yearly: int, keep_within: str | None,
           keep_trigger: tuple[str, ...], dry_run: bool, wait: bool, as_json: bool, home: str | None) -> None:
    """Forget snapshots SNAPS, or those no --keep-* rule keeps; deltas on them are rebased.

    \b
    Examples:
      bodega snapshot forget dev --keep-last 10 --keep-trigger pre-install=30d
      bodega snapshot forget dev 3f2a9c01 --dry-run
    Then `bodega gc` frees the space.
    """
    from bodega.storage.retention import Policy, parse_duration, parse_trigger_rule

    policy = Policy(keep_last, keep_hourly, keep_daily, keep_weekly, keep_monthly, keep_yearly,
                    parse_duration(keep_within) if keep_within else None,
                    dict(parse_trigger_rule(r) for r in keep_trigger))
    with open_bodega(home) as b:
        plan = b.snapshots.forget(container, None if policy.is_empty() else policy, ids=snaps, dry_run=dry_run,
                                  wait=wait)
    verb = "would forget" if dry_run else "forgot"
    emit(plan, as_json, lambda p: f"{verb} {len(p['forget'])}: {', '.join(short_id(i) for i in p['forget']) or '-'}; "
                                  f"keeping {len(p['keep'])}")


@click.command("diff", epilog=exit_status(*COMMON))
@container_argument()
@click.argument("old", required=False)
@click.argument("new", required=False)
@json_option
@home_option
def diff(container: str, old: str | None, new: str | None, as_json: bool, home: str | None) -> None:
    """What changed in CONTAINER: live tree vs the newest snapshot, vs OLD, or OLD vs NEW (like git status)."""
    from bodega.services.snapshot_diff import diff as diff_container  # reads the catalogue file when it can

    d = diff_container(home, container, old, new)
    # The JSON (with both roots: a live tree's is hashed only then) is made only when asked for.
    emit(d.to_json() if as_json else d, as_json, lambda _: d.to_text() or "no changes")


COMMANDS = [snapshot, diff]
