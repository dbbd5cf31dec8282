"""Named points where tests interrupt an operation midway: a gate, a swap, or a real crash.

Code that must survive a crash at every step calls `point(name, **info)` between steps.  It
costs a dict lookup unless a test armed it:

- in the same process, `hooked(name, fn)` runs fn(**info) at each hit (a test swaps a
  directory for a link there, or waits on a gate);
- in a child process, BODEGA_FAULT="name:N" kills the process with SIGKILL at the Nth hit
  (a real crash, no cleanup), after appending "name N info" to the file BODEGA_FAULT_LOG
  names, so the test can prove where the kill landed;
- in child processes, BODEGA_FAULT_GATE="name" with BODEGA_FAULT_GATE_DIR=D: the first of
  them to reach the point (it creates D/taken) writes its pid into the fifo D/reached, then
  waits until it reads a line from the fifo D/release.  The test holds it there while other
  processes run (a gate: no sleeps on either side).
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

_hooks: dict[str, Callable[..., None]] = {}
_counts: dict[str, int] = {}
_lock = threading.Lock()


def _armed() -> tuple[str, int] | None:
    spec = os.environ.get("BODEGA_FAULT", "")
    name, _, nth = spec.rpartition(":")
    return (name, int(nth)) if name and nth.isdigit() else None


_KILL = _armed()
_GATE = (os.environ["BODEGA_FAULT_GATE"], os.environ.get("BODEGA_FAULT_GATE_DIR", "")) \
    if os.environ.get("BODEGA_FAULT_GATE") else None


def _wait_at_gate(where: str) -> None:
    """The first process here (of all sharing the gate directory) tells the test and waits."""
    try:
        with open(os.path.join(where, "taken"), "x") as f:
            f.write(str(os.getpid()))
    except FileExistsError:
        return  # another process took the gate: this one goes on
    with open(os.path.join(where, "reached"), "w") as f:
        f.write(f"{os.getpid()}\n")
    with open(os.path.join(where, "release")) as f:
        f.readline()


def point(name: str, **info: Any) -> None:
    """A step boundary named name: runs the test's hook, or dies or waits here when armed to."""
    hook = _hooks.get(name)
    if hook is not None:
        hook(**info)
    if _GATE is not None and _GATE[0] == name:
        _wait_at_gate(_GATE[1])
    if _KILL is None or _KILL[0] != name:
        return
    with _lock:
        _counts[name] = n = _counts.get(name, 0) + 1
    if n == _KILL[1]:
        log = os.environ.get("BODEGA_FAULT_LOG")
        if log:
            with open(log, "a") as f:
                f.write(f"{name} {n} {info!r}\n")
        kill = getattr(signal, "SIGKILL", None)
        if kill is not None:
            os.kill(os.getpid(), kill)
        os._exit(137)  # where there is no SIGKILL: still no cleanup, no finally


@contextmanager
def hooked(name: str, fn: Callable[..., None]) -> Iterator[None]:
    """Runs fn(**info) at every hit of the point name while the block runs (tests)."""
    _hooks[name] = fn
    try:
        yield
    finally:
        _hooks.pop(name, None)
