"""Running bodega as users do: the `bodega` command on a home whose container holds a copy of
a benchmark tree."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import bodega


def bodega_command() -> list[str]:
    """The console script beside this interpreter (as installed), else `python -m bodega`."""
    script = Path(sys.executable).with_name("bodega")
    return [str(script)] if script.exists() else [sys.executable, "-m", "bodega"]


def child_env(home: Path | None = None) -> dict[str, str]:
    """The environment of a command: this one, with BODEGA_HOME set and bytecode caching on.

    This machine sets PYTHONDONTWRITEBYTECODE; an installed bodega has its bytecode compiled,
    so the command runs with caching on (the first run writes the caches)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    if home is not None:
        env["BODEGA_HOME"] = str(home)
    return env


class CliHome:
    """A home at base/home with one container, "c", whose tree is a copy of tree."""

    CONTAINER = "c"

    def __init__(self, tree: Path, base: Path) -> None:
        self.home = base / "home"
        with bodega.open(self.home) as b:
            b.containers.create(self.CONTAINER)
            self.root = Path(b.containers.get(self.CONTAINER).storage_path) / "root"
        self.root.rmdir()
        subprocess.run(["cp", "-a", "--reflink=auto", str(tree), str(self.root)], check=True)

    def run(self, *args: str) -> str:
        """Runs `bodega ARGS` on this home; its stdout.  Fails with its stderr when it fails."""
        done = subprocess.run([*bodega_command(), *args], env=child_env(self.home), capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"bodega {' '.join(args)} exited {done.returncode}: {done.stderr.strip()[-500:]}")
        return done.stdout

    def snapshot(self) -> str:
        """`bodega snapshot create c`; the new snapshot's id."""
        import json

        return json.loads(self.run("snapshot", "create", self.CONTAINER, "--json"))["id"]
