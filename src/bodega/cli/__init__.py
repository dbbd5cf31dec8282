"""The `bodega` command: the root group and the one error boundary.

Every command is wiring over the Python API.  A BodegaError ends the command with one
line on stderr (or a JSON object with --json) and its documented exit code; anything else
is a bug and shows its traceback (exit 1).
"""
from __future__ import annotations

import json
import sys
import traceback
from typing import Any

import click

from bodega import __version__
from bodega.errors import BodegaError


class BodegaGroup(click.Group):
    """A click group that turns BodegaError into one clear line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BodegaError as exc:
            as_json = "--json" in sys.argv[1:]
            if exc.bug:
                traceback.print_exc()
            if as_json:
                click.echo(json.dumps({"error": exc.to_dict()}), err=True)
            else:
                click.echo(f"bodega: error: {exc}", err=True)
            ctx.exit(exc.exit_code)


@click.group(cls=BodegaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bodega")
def main() -> None:
    """bodega: app containers with copy-on-write clones and checked snapshots.

    \b
    EXIT STATUS
      0 ok, 1 internal error (a bug), 2 usage error, 3-99 errors (`bodega errors` lists them).

    \b
    ENVIRONMENT
      BODEGA_HOME            the home directory (or --home)
      BODEGA_DATABASE_URL    the catalogue's database (default: SQLite $BODEGA_HOME/bodega.db)
      BODEGA_BUSY_TIMEOUT    seconds to wait for a catalogue locked by another process (10)
      BODEGA_TASK_STALE_AFTER  seconds without heartbeat before a running task counts as interrupted (30)

    \b
    SHELL COMPLETION
      eval "$(_BODEGA_COMPLETE=bash_source bodega)"   # in ~/.bashrc (zsh_source, fish_source likewise)
    """


def _register() -> None:
    """Adds every command group; each lives in its own module."""
    from bodega.cli import container, demo, doctor, error_list, events, export, fs, snapshot, tasks, verify  # noqa: F401

    for module in (doctor, demo, fs, container, tasks, events, error_list, snapshot, export, verify):
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
