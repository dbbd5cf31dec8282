"""`bodega verify` and `bodega gc`: check the store and snapshots, and free what nothing needs."""
from __future__ import annotations

import click

from bodega import errors
from bodega.cli.error_list import exit_status
from bodega.cli.options import home_option, json_option, open_bodega
from bodega.cli.output import emit, human_bytes


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


def _report_text(r: dict) -> str:
    lines = [f"{r['snapshots']} snapshots, {r['objects_checked']} objects checked, "
             f"{human_bytes(r['bytes_read'])} read"]
    for d in r["damage"]:
        lines.append(f"DAMAGED {d['object'] or ''} {d['problem']}")
        lines += [f"  needed by {f}" for f in d["files"]]
    if "repaired" in r:
        lines.append(f"repaired {len(r['repaired'])} object(s) from live copies")
        left = r["after_repair"]["damage"]
        lines.append("all damage repaired" if not left else f"{len(left)} damaged object(s) have no live copy")
    lines.append("ok" if r["ok"] else "verify FAILED")
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
    healed = repair and report.get("after_repair", {}).get("ok")
    if not report["ok"] and not healed:
        raise click.exceptions.Exit(errors.VerifyFailed.exit_code)


@click.command("gc", epilog=exit_status(errors.StoreBusy))
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--timeout", type=float, default=None, help="Seconds to wait for running snapshot tasks (default: for ever).")
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
