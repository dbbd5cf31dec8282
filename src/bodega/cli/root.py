"""The root click group of `bodega`: loads a command's module when it runs, and is the one error boundary.

Whatever ends a command early is reported here, as one line on stderr (or one JSON object
with --json) and its documented exit code: a BodegaError (its exit code), a usage error (2),
a cancel or Ctrl-C (Cancelled, 13).  Anything else is a bug and shows its traceback (exit 1).

Importing click is most of what a command pays at start-up before it works, so the console
script (`bodega.cli.launch`) imports this module only for a command line that is not exactly
`--version` or `--help` (those it answers from cli/top_help.py).
"""
from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any, Sequence

import click

from bodega import __version__
from bodega.cli import COMMANDS, ROOT_HELP
from bodega.cli.output import one_line
from bodega.cli.top_help import short_help
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
    """The root group: loads a command's module on first use, and turns every way a command
    can fail into one line and its exit code."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(COMMANDS) | set(self.commands))

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # From the table, as click would from the commands themselves, without loading one.
        rows = [(name, COMMANDS[name].help) for name in sorted(COMMANDS)]
        limit = formatter.width - 6 - max(len(name) for name, _ in rows)
        with formatter.section("Commands"):
            formatter.write_dl([(name, short_help(text, limit)) for name, text in rows])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands and cmd_name in COMMANDS:
            defining, *extending = COMMANDS[cmd_name].modules
            for command in importlib.import_module(defining).COMMANDS:
                if command.name == cmd_name:
                    self.add_command(command)
            for module in extending:
                importlib.import_module(module)
        return self.commands.get(cmd_name)

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


@click.group(cls=BodegaGroup, help=ROOT_HELP, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="bodega")
def main() -> None:
    """The root group (its help is ROOT_HELP: `bodega --help` renders it without click too)."""
