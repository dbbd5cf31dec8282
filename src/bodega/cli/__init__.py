"""The `bodega` command: the root group and the one error boundary.

Every command is wiring over the Python API.  Whatever ends a command early is reported
here, as one line on stderr (or one JSON object with --json) and its documented exit code:
a BodegaError (its exit code), a usage error (2), a cancel or Ctrl-C (Cancelled, 13).
Anything else is a bug and shows its traceback (exit 1).
"""
from __future__ import annotations

import json
import sys
import traceback
from typing import Any, Sequence

import click

from bodega import __version__
from bodega.cli.output import one_line
from bodega.errors import BodegaError, Cancelled

USAGE_EXIT = 2


def _report(error: dict[str, Any], as_json: bool) -> None:
    """Prints an error: one JSON object, or one line for people."""
    if as_json:
        click.echo(json.dumps({"error": error}), err=True)
    else:
        click.echo(f"bodega: error: {one_line(error['message'])}", err=True)


def _usage(exc: click.ClickException) -> dict[str, Any]:
    """A click usage error as bodega reports errors, with where to find help."""
    message = exc.format_message()
    ctx = getattr(exc, "ctx", None)
    if ctx is not None:
        message += f" (see '{ctx.command_path} -h')"
    code = exc.exit_code if exc.exit_code > 1 else USAGE_EXIT
    return {"type": "UsageError", "message": message, "exit_code": code}


class BodegaGroup(click.Group):
    """The root group: turns every way a command can fail into one line and its exit code."""

    def main(self, args: Sequence[str] | None = None, prog_name: str | None = None,  # type: ignore[override]
             complete_var: str | None = None, standalone_mode: bool = True, **extra: Any) -> Any:
        """Runs the command line (args, default sys.argv[1:]) and exits with its status."""
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        argv = list(sys.argv[1:] if args is None else args)
        as_json = "--json" in argv[:argv.index("--")] if "--" in argv else "--json" in argv
        try:
            if any("\0" in str(a) for a in argv):  # no real command line holds one; callers of main() might
                raise click.UsageError("an argument holds a NUL character")
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
            code = rv if isinstance(rv, int) else 0
        except BodegaError as exc:
            if exc.bug:
                traceback.print_exc()
            _report(exc.to_dict(), as_json)
            code = exc.exit_code
        except click.exceptions.NoArgsIsHelpError as exc:
            exc.show()  # `bodega group` alone: its help, as click shows it
            code = exc.exit_code
        except click.ClickException as exc:
            error = _usage(exc)
            _report(error, as_json)
            code = error["exit_code"]
        except click.exceptions.Abort:
            _report(Cancelled("cancelled").to_dict(), as_json)
            code = Cancelled.exit_code
        sys.exit(code)


@click.group(cls=BodegaGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bodega")
def main() -> None:
    """bodega: app containers with copy-on-write clones and checked snapshots.

    \b
    EXIT STATUS
      0 ok, 1 internal error (a bug), 2 usage error, 13 cancelled (Ctrl-C),
      3-99 errors (`bodega errors` lists them); every error is one line on stderr.

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


def _register() -> None:
    """Adds every command group; each lives in its own module."""
    from bodega.cli import (  # noqa: F401
        app, container, demo, doctor, error_list, events, export, fs, serve, session, setting, share, snapshot, tasks, token,
        user, verify,
    )

    for module in (doctor, demo, fs, container, app, share, tasks, events, error_list, snapshot, export, verify, user,
                   session, token, setting, serve):
        for command in getattr(module, "COMMANDS", ()):
            main.add_command(command)


_register()
