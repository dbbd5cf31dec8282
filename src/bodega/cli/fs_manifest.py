"""`bodega fs manifest`, `bodega fs diff`, `bodega fs verify`: checksum manifests of trees.

cli/fs.py attaches FS_COMMANDS to the `fs` group.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Callable

import click

from bodega.cli.options import json_option
from bodega.cli.output import ProgressBar, emit, human_bytes, write_output
from bodega.errors import InvalidInput, TreeMismatch

FORMATS = ("binary", "json", "b3sum", "mtree")


def _progress(label: str, as_json: bool) -> tuple[ProgressBar, Callable[[Any], None]]:
    """A progress bar and the callback that feeds it (bytes read of the bytes to read)."""
    bar = ProgressBar(label, enabled=not as_json)

    def update(p: Any) -> None:
        bar.update(p.bytes_done, p.bytes_total, f"{p.files_done}/{p.files_total} files")

    return bar, update


@click.command("manifest")
@click.argument("path", type=click.Path(file_okay=False, exists=True, path_type=str))
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=str),
              help="Write the manifest to FILE (default, or -: standard output); a device or fifo is "
                   "written through, a symbolic link refused.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="binary", show_default=True,
              help="binary: bodega's own (docs/format.md); json; b3sum: check lines for "
                   "`b3sum --check` run in PATH; mtree: a BSD mtree spec for bsdtar.")
@click.option("--previous", type=click.Path(dir_okay=False, exists=True, path_type=str),
              help="An earlier binary manifest of PATH: files it vouches for are not read again.")
@click.option("--no-stat-cache", is_flag=True,
              help="Leave the host-local stat cache out of a binary manifest.")
@json_option
def manifest_cmd(path: str, output: str | None, fmt: str, previous: str | None,
                 no_stat_cache: bool, as_json: bool) -> None:
    """Write the BLAKE3 manifest of the tree below PATH."""
    from bodega.storage import manifest as mf
    from bodega.storage import manifest_export as export

    if output == "-":
        output = None
    if fmt == "binary" and output is None and sys.stdout.isatty():
        raise InvalidInput("a binary manifest is not for a terminal: give -o FILE or redirect")
    if as_json and output is None:
        raise InvalidInput("--json prints a summary: give -o FILE for the manifest itself")
    bar, update = _progress("hashing", as_json)
    try:
        m = mf.build(path, mf.load(previous) if previous else None, progress=update)
    finally:
        bar.close()
    skipped: list[bytes] = []
    if fmt == "binary":
        data = m.to_bytes(stat_cache=not no_stat_cache)
    elif fmt == "json":
        import json

        data = (json.dumps(export.to_json(m), indent=1) + "\n").encode()
    elif fmt == "b3sum":
        text, skipped = export.to_b3sum(m)
        data = text.encode("utf-8")
    else:
        data = export.to_mtree(m).encode("ascii")
    write_output(data, output)
    for p in skipped:
        click.echo(f"bodega: warning: b3sum cannot name {os.fsdecode(p)!r} (not UTF-8): left out",
                   err=True)
    if output is not None:
        summary = {"root": m.root_hex, "entries": len(m), "files_read": m.files_read,
                   "file_bytes": m.total_file_bytes(), "output": output, "format": fmt,
                   "left_out": [p.hex() for p in skipped]}
        emit(summary, as_json, lambda s: f"{s['root']}  {s['entries']} entries, "
             f"{human_bytes(s['file_bytes'])} in files, {s['files_read']} files read -> {s['output']}")


@click.command("diff")
@click.argument("old", type=click.Path(exists=True, path_type=str))
@click.argument("new", type=click.Path(exists=True, path_type=str))
@click.option("--no-renames", is_flag=True, help="Show renamed files as deleted and added.")
@json_option
def diff_cmd(old: str, new: str, no_renames: bool, as_json: bool) -> None:
    """Show what changed from OLD to NEW, each a tree or a manifest file.

    \b
    One line per change, like `git status --short`:
      A added   D deleted   M modified   T type changed   L link target changed
      R renamed (old -> new)   second column M: mode or attributes changed
    """
    from bodega.storage import manifest as mf

    bar, update = _progress("reading", as_json)
    try:
        d = mf.diff(old, new, renames=not no_renames, progress=update)
    finally:
        bar.close()
    emit(d.to_json(), as_json, lambda _: d.to_text())


@click.command("verify")
@click.argument("path", type=click.Path(file_okay=False, exists=True, path_type=str))
@click.argument("manifest", type=click.Path(dir_okay=False, exists=True, path_type=str))
@json_option
def verify_cmd(path: str, manifest: str, as_json: bool) -> None:
    """Read every file below PATH again and check the tree against MANIFEST."""
    from bodega.storage import manifest as mf

    expected = mf.load(manifest)
    bar, update = _progress("verifying", as_json)
    try:
        d = mf.verify(path, expected, progress=update)
    finally:
        bar.close()
    result = {"ok": not d, "root": expected.root_hex, **d.to_json()}
    emit(result, as_json, lambda r: d.to_text() if d else f"ok  {r['root']}  {len(expected)} entries")
    if d:
        raise TreeMismatch(f"{path} does not match {manifest}: {len(d)} difference(s)")


FS_COMMANDS = [manifest_cmd, diff_cmd, verify_cmd]
