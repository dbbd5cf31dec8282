"""`bodega fs`: trees on disk (clone, and the manifest commands of cli/fs_manifest.py)."""
from __future__ import annotations

from typing import Any

import click

from bodega.cli.options import json_option
from bodega.cli.output import ProgressBar, emit, human_bytes


@click.group()
def fs() -> None:
    """Work on directory trees directly (no container involved)."""


def _summary(r: dict[str, Any]) -> str:
    rate = r["bytes"] / r["seconds"] / 1e6 if r["seconds"] > 0 else 0.0
    lines = [
        f"cloned {r['files']} files, {r['dirs']} directories, {r['symlinks']} symlinks"
        + (f", {r['hardlinks']} hardlinks" if r["hardlinks"] else "")
        + f" in {r['seconds']:.2f} s ({rate:.0f} MB/s)",
        f"{human_bytes(r['bytes'])}: {human_bytes(r['bytes_cloned'])} cloned, "
        f"{human_bytes(r['bytes_copied'])} copied ({', '.join(r['methods']) or 'no data'})",
    ]
    if r["specials"]:
        shown = r["specials"][:5]
        more = f" and {len(r['specials']) - len(shown)} more" if len(r["specials"]) > len(shown) else ""
        lines.append(f"skipped {len(r['specials'])} special files (fifo, socket, device): "
                     + ", ".join(shown) + more)
    return "\n".join(lines)


@fs.command("clone")
@click.argument("src", type=click.Path(path_type=str))
@click.argument("dst", type=click.Path(path_type=str))
@click.option("--mode", type=click.Choice(["auto", "require", "never"]), default="auto", show_default=True,
              help="auto: clone where the volume can, else copy; require: fail unless every file "
                   "clones; never: always copy.")
@click.option("--threads", type=click.IntRange(1, 16), default=None, help="Threads (default: one per CPU).")
@json_option
def clone(src: str, dst: str, mode: str, threads: int | None, as_json: bool) -> None:
    """Clone the directory tree SRC to the new path DST, copy-on-write where possible."""
    import dataclasses

    from bodega import fs as bfs

    bar = ProgressBar("cloning", enabled=not as_json)

    def progress(p: bfs.CloneProgress) -> None:
        bar.update(p.bytes_done, p.bytes_total, f"{p.files_done} files")

    try:
        result = bfs.clone_tree(src, dst, progress=progress, threads=threads, mode=mode)
    finally:
        bar.close()
    emit(dataclasses.asdict(result), as_json, _summary)


def _attach_manifest_commands() -> None:
    from bodega.cli.fs_manifest import FS_COMMANDS

    for command in FS_COMMANDS:
        fs.add_command(command)


_attach_manifest_commands()

COMMANDS = [fs]
