"""`bodega verify` and `bodega gc`: check the store and snapshots, and free what nothing needs."""
from __future__ import annotations

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import Seconds, home_option, json_option, open_bodega
from bodega.cli.output import emit, human_bytes, one_line


def _share(text: str | None) -> float:
    """'10%' or '0.1' -> 0.1."""
    if text is None:
        return 0.0
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        raise errors.InvalidInput(f"--read-data-subset takes a share like 10% or 0.1, not {text!r}") from None
    if not 0 < value <= 1:
        raise errors.InvalidInput(f"--read-data-subset must be above 0 and at most 100%, not {text!r}")
    return value


def _needer(snap_and_path: str) -> str:
    """'SNAP:PATH' with the path quoted like diff's (names are bytes; JSON keeps them surrogate-escaped)."""
    from bodega.storage.manifest_diff import quote_path

    snap, _, path = snap_and_path.partition(":")
    return f"{snap}:{quote_path(path.encode('utf-8', 'surrogateescape'), False)}"


def _damage_lines(damage: list[dict], word: str) -> list[str]:
    lines = []
    for d in damage:
        what = f"{d['object']} " if d["object"] else ""
        lines.append(f"{word} {what}{one_line(d['problem'])}")
        lines += [f"  needed by {_needer(f)}" for f in d["files"]]
    return lines


def healthy(r: dict) -> bool:
    """True when no damage is left: none found, or all of it repaired."""
    return r["after_repair"]["ok"] if "after_repair" in r else r["ok"]


def _report_text(r: dict) -> str:
    lines = [f"{r['snapshots']} snapshots, {r['objects_checked']} objects checked, "
             f"{human_bytes(r['bytes_read'])} read"]
    lines += _damage_lines(r["damage"], "DAMAGED")
    if "after_repair" in r:
        lines.append(f"repaired {len(r['repaired'])} object(s) from live copies")
        left = r["after_repair"]["damage"]
        if left:
            lines.append(f"{len(left)} damage(s) left after repair:")
            lines += _damage_lines(left, "STILL DAMAGED")
        else:
            lines.append("all damage repaired")
    lines.append("ok" if healthy(r) else "verify FAILED")
    return "\n".join(lines)


@click.command("verify", epilog=exit_status(errors.VerifyFailed, errors.ContainerNotFound, errors.StoreBusy))
@click.argument("container", required=False)
@click.option("--read-data", is_flag=True, help="Read every object and check its hash (slow).")
@click.option("--read-data-subset", metavar="SHARE", help="Read and check a random share of objects, e.g. 10%.")
@click.option("--repair", is_flag=True, help="Rewrite damaged objects from live container files with the same hash.")
@json_option
@home_option
def verify(container: str | None, read_data: bool, read_data_subset: str | None, repair: bool, as_json: bool,
           home: str | None) -> None:
    """Check snapshot manifests and stored objects (of CONTAINER, or all); name what is damaged."""
    if read_data and read_data_subset:
        raise errors.InvalidInput("give --read-data or --read-data-subset, not both")
    share = 1.0 if read_data else _share(read_data_subset)
    with open_bodega(home) as b:
        report = b.snapshots.verify(container, read_data=share, repair=repair)
    emit(report, as_json, _report_text)
    if not healthy(report):
        left = report["after_repair"]["damage"] if "after_repair" in report else report["damage"]
        raise errors.VerifyFailed(f"verify found damage: {len(left)} problem(s)"
                                  + (" left after repair" if "after_repair" in report else ""))


@click.command("gc", epilog=exit_status(errors.StoreBusy))
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--timeout", type=Seconds(forever=True), default=None, help="Seconds to wait for running snapshot tasks (default: for ever).")
@json_option
@home_option
def gc(dry_run: bool, timeout: float | None, as_json: bool, home: str | None) -> None:
    """Remove stored objects no snapshot needs (waits for snapshot tasks that are writing)."""
    with open_bodega(home) as b:
        r = b.snapshots.gc(dry_run=dry_run, timeout=timeout)
    verb = "would remove" if dry_run else "removed"
    emit(r, as_json, lambda r: f"{verb} {r['objects_removed']} objects ({human_bytes(r['bytes_freed'])}), "
                               f"{r['packs_removed']} packs, rewrote {r['packs_rewritten']}, "
                               f"{len(r['orphan_snapshots'])} unpublished snapshot(s); kept {r['objects_kept']}")


COMMANDS = [verify, gc]
