"""The `bodega` command: the root group, its table of commands and the one error boundary.

Every command is wiring over the Python API.  A BodegaError ends the command with one
line on stderr (or a JSON object with --json) and its documented exit code; anything else
is a bug and shows its traceback (exit 1).

Start-up stays constant: a command's module is imported only when that command runs (or
when --help lists them all), and command modules import the services they use inside
their functions, so `--version` and `--help` load neither SQLAlchemy nor the native core
(tests/cli/test_startup.py; bench/bench_startup.py times it).
"""
from __future__ import annotations

import importlib
import sys
from typing import Any

import click

from bodega import __version__
from bodega.errors import BodegaError


# Each top-level command -> the module that defines it (in its COMMANDS list), then any
# modules that add subcommands to it.  A new command group is one line here.
COMMANDS: dict[str, tuple[str, ...]] = {
    "agent": ("bodega.cli.tasks",),
    "container": ("bodega.cli.container", "bodega.cli.share"),
    "demo": ("bodega.cli.demo",),
    "diff": ("bodega.cli.snapshot",),
    "doctor": ("bodega.cli.doctor",),
    "du": ("bodega.cli.container",),
    "errors": ("bodega.cli.error_list",),
    "events": ("bodega.cli.events",),
    "fs": ("bodega.cli.fs",),
    "gc": ("bodega.cli.verify",),
    "serve": ("bodega.cli.serve",),
    "session": ("bodega.cli.session",),
    "setting": ("bodega.cli.setting",),
    "snapshot": ("bodega.cli.snapshot",),
    "task": ("bodega.cli.tasks",),
    "tasks": ("bodega.cli.tasks",),
    "token": ("bodega.cli.token",),
    "user": ("bodega.cli.user",),
    "verify": ("bodega.cli.verify",),
}


class BodegaGroup(click.Group):
    """A click group that loads a command's module on first use and turns BodegaError into
    one clear line and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            defining, *extending = COMMANDS[cmd_name]
            for command in importlib.import_module(defining).COMMANDS:
                if command.name == cmd_name:
                    self.add_command(command)
            for module in extending:
                importlib.import_module(module)
        return self.commands.get(cmd_name)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except BodegaError as exc:
            as_json = "--json" in sys.argv[1:]
            if exc.bug:
                import traceback

                traceback.print_exc()
            if as_json:
                import json

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
      BODEGA_MAX_BODY        bytes a request body to `bodega serve` may have (1048576)

    \b
    SHELL COMPLETION
      eval "$(_BODEGA_COMPLETE=bash_source bodega)"   # in ~/.bashrc (zsh_source, fish_source likewise)
    """
