"""The `bodega` command: the root group, its table of commands and the one error boundary.

Every command is wiring over the Python API.  Whatever ends a command early is reported
here, as one line on stderr (or one JSON object with --json) and its documented exit code:
a BodegaError (its exit code), a usage error (2), a cancel or Ctrl-C (Cancelled, 13).
Anything else is a bug and shows its traceback (exit 1).

Start-up stays constant: a command's module is imported only when that command runs (or
when --help lists them all), and command modules import the services they use inside
their functions, so `--version` and `--help` load neither SQLAlchemy nor the native core
(tests/cli/test_startup.py; bench/bench_startup.py times it).
"""
from __future__ import annotations

import importlib
import json
import sys
import traceback
from typing import Any, NamedTuple, Sequence

import click
from click.utils import make_default_short_help

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


class Listed(NamedTuple):
    """A top-level command as the root group knows it before loading it."""

    help: str                 # its one-line help (tests/cli/test_startup.py keeps it the command's own)
    modules: tuple[str, ...]  # the module defining it (in its COMMANDS list), then modules adding subcommands


# Every top-level command: `bodega --help` lists them from here, and a command's modules are
# imported only when it runs.  A new command group is one line here.
COMMANDS: dict[str, Listed] = {
    "agent": Listed("Run queued tasks (from --detach) one at a time until stopped.", ("bodega.cli.tasks",)),
    "app": Listed("Install, update, uninstall and inspect the apps of a container.", ("bodega.cli.app",)),
    "bench": Listed("Time bodega against the peer tools found on this machine (cp --reflink, b3sum, git status, "
                    "rsync, restic, borg, zip, 7z), on a generated tree or PATH.", ("bodega.cli.bench",)),
    "container": Listed("Create, list, change, clone and delete containers.",
                        ("bodega.cli.container", "bodega.cli.share")),
    "demo": Listed("Show what bodega does, on a sample app in a fresh home (SQLite catalogue).",
                   ("bodega.cli.demo",)),
    "diff": Listed("What changed in CONTAINER: live tree vs the newest snapshot, vs OLD, or OLD vs NEW (like "
                   "git status).", ("bodega.cli.snapshot",)),
    "doctor": Listed("Show the platform, the native build and whether the home can clone copy-on-write.",
                     ("bodega.cli.doctor",)),
    "du": Listed("Show the disk usage of containers: apparent bytes (file sizes) and allocated bytes (on "
                 "disk).", ("bodega.cli.container",)),
    "errors": Listed("List every error bodega can end with, its exit code and its message.",
                     ("bodega.cli.error_list",)),
    "events": Listed("Show the event log: every state change, and every mutation with who did it (level "
                     "audit).", ("bodega.cli.events",)),
    "export": Listed("Export a container to a zip or 7z package; verify and list packages.", ("bodega.cli.export",)),
    "fs": Listed("Work on directory trees directly (no container involved).", ("bodega.cli.fs",)),
    "gc": Listed("Remove stored objects no snapshot needs (waits for snapshot tasks that are writing).",
                 ("bodega.cli.verify",)),
    "import": Listed("Import a package (or any zip/7z of a directory) as a new container; a delta onto its "
                     "base's holder.", ("bodega.cli.export",)),
    "run": Listed("Run an entry point of an app in CONTAINER, isolated: the container root is its writable world, "
                  "the host's system directories are read-only, the host's home is not there, and the network, "
                  "limits, env and mounts follow the container's settings.", ("bodega.cli.app",)),
    "serve": Listed("Serve the JSON API (/api/, OpenAPI at /openapi.json) and the web panel (/).",
                    ("bodega.cli.serve",)),
    "session": Listed("List and revoke sign-in sessions (yours; everyone's for an owner).",
                      ("bodega.cli.session",)),
    "setting": Listed("Show and change machine-wide settings (owners change them).", ("bodega.cli.setting",)),
    "snapshot": Listed("Take, list, restore, browse and forget snapshots of a container.",
                       ("bodega.cli.snapshot",)),
    "task": Listed("Show, cancel or wait for one task (named by its id or a unique prefix of it).",
                   ("bodega.cli.tasks",)),
    "tasks": Listed("List tasks, newest first.", ("bodega.cli.tasks",)),
    "token": Listed("API tokens: `Authorization: Bearer TOKEN` on requests to `bodega serve`.",
                    ("bodega.cli.token",)),
    "tune": Listed("Measure threads, zstd level, pack and batch sizes on the volume holding PATH (default: the "
                   "home) and record them.", ("bodega.cli.tune",)),
    "user": Listed("Add users, change their role, password and second factor, disable them.", ("bodega.cli.user",)),
    "verify": Listed("Check snapshot manifests and stored objects (of CONTAINER, or all); name what is "
                     "damaged.", ("bodega.cli.verify",)),
}


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
            formatter.write_dl([(name, make_default_short_help(text, limit)) for name, text in rows])

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
