"""Start-up stays constant: `--version` and `--help` load no catalogue, service or native
code, nor click, and a command loads only its own module (bench/bench_startup.py times it)."""
from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bodega.cli import COMMANDS

# Heavy layers no start-up path may reach before a command needs them.
HEAVY = ("sqlalchemy", "alembic", "zstandard", "bodega.services", "bodega.catalogue", "bodega.storage",
         "bodega._native")

# Runs the CLI as the console script does (pyproject's [project.scripts]), then prints the
# modules it imported.
PROBE = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.__stderr__.write('MODULES ' + ' '.join(sorted(sys.modules)) + '\\n'))\n"
    "sys.argv[0] = 'bodega'\n"
    "from bodega.cli import launch\n"
    "launch()\n"
)


def imported_by(*args: str, home: str | None = None) -> set[str]:
    """The modules `bodega ARGS` imports."""
    env = dict(os.environ)
    if home is not None:
        env["BODEGA_HOME"] = home
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    line = next(x for x in done.stderr.splitlines() if x.startswith("MODULES "))
    return set(line.split()[1:])


def heavy(modules: set[str]) -> list[str]:
    return sorted(m for m in modules if any(m == h or m.startswith(h + ".") for h in HEAVY))


def test_help_lists_every_command_without_loading_one():
    modules = imported_by("--help")
    assert sorted(modules & {m for c in COMMANDS.values() for m in c.modules}) == []
    done = subprocess.run([sys.executable, "-m", "bodega", "--help"], capture_output=True, text=True)
    listed = [line.split()[0] for line in done.stdout.split("Commands:")[1].splitlines() if line.strip()]
    assert listed == sorted(COMMANDS)


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["container", "--help"], ["errors"]])
def test_start_up_loads_no_heavy_layer(args):
    modules = imported_by(*args)
    assert "bodega.cli" in modules  # the probe ran the CLI
    assert heavy(modules) == []


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_load_no_click(args):
    """The console script answers them from the table (cli/top_help.py): click, the root group
    and the error tree are what a real command pays for."""
    modules = imported_by(*args)
    assert "bodega.cli.top_help" in modules  # the probe saw the quick answer
    assert loaded(modules, ("click", "bodega.cli.root", "bodega.errors", "bodega.cli.output")) == []


def test_any_other_command_line_loads_click():
    modules = imported_by("-h", "-h")  # not exactly one -h: click answers it
    assert "click" in modules and "bodega.cli.root" in modules


def test_version_loads_no_command_module():
    modules = imported_by("--version")
    assert sorted(modules & {m for c in COMMANDS.values() for m in c.modules}) == []


def test_a_command_loads_only_its_module(tmp_path):
    modules = imported_by("errors")
    command_modules = {m for c in COMMANDS.values() for m in c.modules}
    commands = sorted(m for m in modules if m.startswith("bodega.cli.") and m in command_modules)
    assert commands == ["bodega.cli.error_list"]
    # and a command that opens a home does load the catalogue: the probe can see a heavy layer
    assert "sqlalchemy" in imported_by("container", "list", home=str(tmp_path / "home"))


# What a listing that reads the catalogue file directly must not load (services/container_listing.py).
ORM = ("sqlalchemy", "alembic", "zstandard", "bodega.catalogue.models", "bodega.catalogue.db",
       "bodega.services.containers", "bodega.services.tasks", "bodega.services.snapshots", "bodega.services.users",
       "bodega.storage.store")


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in modules if any(m == n or m.startswith(n + ".") for n in names))


def test_container_list_on_an_existing_home_loads_no_orm_and_no_service(tmp_path):
    home = str(tmp_path / "home")
    first = imported_by("container", "list", home=home)  # creates the home: that opens it
    assert "sqlalchemy.orm" in first
    later = imported_by("container", "list", "--json", "--all-users", home=home)
    assert "bodega.services.container_listing" in later  # the probe saw the listing run
    assert loaded(later, ORM) == []


def test_every_command_module_is_in_the_table():
    """A module of bodega/cli with a COMMANDS list must be in the table, or its commands vanish."""
    import bodega.cli

    listed = {m for c in COMMANDS.values() for m in c.modules}
    folder = Path(bodega.cli.__file__).parent
    having = {f"bodega.cli.{p.stem}" for p in folder.glob("*.py")
              if p.stem != "__init__" and "\nCOMMANDS" in p.read_text()}
    assert having - listed == set()


def test_every_command_is_in_the_table():
    for module_name in sorted({c.modules[0] for c in COMMANDS.values()}):
        module = importlib.import_module(module_name)
        for command in module.COMMANDS:
            assert command.name in COMMANDS and COMMANDS[command.name].modules[0] == module_name, command.name
    for name, listed in COMMANDS.items():
        (command,) = [c for c in importlib.import_module(listed.modules[0]).COMMANDS if c.name == name]
        assert listed.help == command.get_short_help_str(limit=10**6), name  # what --help lists is its own


def test_a_group_gets_the_subcommands_other_modules_add(tmp_path):
    modules = imported_by("container", "--help")
    assert "bodega.cli.share" in modules
    done = subprocess.run([sys.executable, "-m", "bodega", "container", "--help"], capture_output=True, text=True)
    assert "share" in done.stdout.split("Commands:")[1]


def test_diff_on_an_existing_home_loads_no_orm_and_no_service(tmp_path):
    """`bodega diff C` reads the catalogue file directly when it can (services/snapshot_diff.py)."""
    import bodega

    home = tmp_path / "home"
    with bodega.open(home) as b:
        root = Path(b.containers.create("dev").storage_path) / "root"
        (root / "f").write_text("x")
        b.snapshots.create("dev")
    (root / "g").write_text("y")
    modules = imported_by("diff", "dev", home=str(home))
    assert "bodega.services.snapshot_diff" in modules and "bodega.storage.manifest" in modules  # it diffed
    assert loaded(modules, tuple(n for n in ORM if n != "zstandard")) == []  # (manifest files are zstd frames)
    assert loaded(modules, ("concurrent.futures", "logging")) == []  # the manifest loads on a plain thread
