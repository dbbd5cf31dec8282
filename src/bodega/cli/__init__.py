"""The `bodega` command: its entry point, its help and its table of commands, without click.

Start-up stays constant.  `bodega --version` and `bodega --help` are answered here without
importing click (cli/top_help.py renders the help from this table exactly as click does;
tests/cli/test_top_help.py holds the two equal); any other command line goes to the click
root group (cli/root.py, the one error boundary), which imports a command's module only
when that command runs, and command modules import the services they use inside their
functions, so `--help` of a group loads neither SQLAlchemy nor the native core
(tests/cli/test_startup.py; bench/bench_startup.py times it).

`bodega.cli.main` is the root click group (for click's test runner and for walking the
command tree); it is imported on first use.  The console script is `launch`.
"""
from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from bodega.cli.root import BodegaGroup, main


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


# The root group's help (cli/root.py gives it to click; cli/top_help.py renders it without click).
ROOT_HELP = """bodega: app containers with copy-on-write clones and checked snapshots.

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
  eval "$(_BODEGA_COMPLETE=bash_source bodega)"   # in ~/.bashrc (zsh_source, fish_source likewise)"""

# The root group's options as its help lists them (click adds them: --version, then help).
ROOT_OPTIONS = (("--version", "Show the version and exit."), ("-h, --help", "Show this message and exit."))


def launch() -> None:
    """The `bodega` console script: runs the command line in sys.argv and exits with its status."""
    from bodega.cli.top_help import print_text, quick_answer

    text = quick_answer(sys.argv[1:])
    if text is not None:
        sys.exit(print_text(text))
    from bodega.cli.root import main as root

    root()


def __getattr__(name: str) -> Any:
    # The click root group loads only when asked for: the console script answers
    # --version and --help without it.
    if name in ("main", "BodegaGroup"):
        from bodega.cli import root

        return getattr(root, name)
    raise AttributeError(f"module 'bodega.cli' has no attribute {name!r}")
