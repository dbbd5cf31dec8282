"""Running bodega in other processes: the CLI, and small Python programs using the API."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import bodega

# Children import the bodega this test run imports: the installed one in CI, src/ in a checkout.
SRC = str(Path(bodega.__file__).resolve().parent.parent)


def child_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a child bodega: this home, and this run's bodega first on the path."""
    env = dict(os.environ, BODEGA_HOME=str(home), **extra)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (SRC, env.get("PYTHONPATH")) if p)
    return env


def bodega_cli(home: Path, *args: str, timeout: float = 120, **extra: str) -> subprocess.CompletedProcess[str]:
    """Runs `bodega ARGS` in a new process and returns its exit code and output."""
    return subprocess.run([sys.executable, "-m", "bodega", *args], env=child_env(home, **extra),
                          capture_output=True, text=True, timeout=timeout)


def bodega_json(home: Path, *args: str, **extra: str) -> Any:
    """The JSON output of a successful `bodega ARGS --json`."""
    done = bodega_cli(home, *args, "--json", **extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def python_child(home: Path, code: str, *args: str, gated: bool = False, **extra: str) -> subprocess.Popen[str]:
    """Starts `python -c code args` with bodega importable and BODEGA_HOME=home.  gated: its
    stdin is a pipe, a gate the child can wait at (reading it) until the test writes a line
    or closes it (communicate() does)."""
    return subprocess.Popen([sys.executable, "-c", code, *args], env=child_env(home, **extra),
                            stdin=subprocess.PIPE if gated else None,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(predicate: Any, timeout: float = 60, what: str = "a condition") -> Any:
    """Polls predicate until it returns something true; fails the test after timeout seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")
