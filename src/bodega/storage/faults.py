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

Write-type steps are counted too, in one count per process shared with the native core
(bd_fault.h): every create, write, sync, rename, unlink, mkdir, link, clone and metadata
change of the native tree code, the Python layers' own file operations (seen through an
audit hook, and os.fsync, which Python does not audit), and each catalogue commit (`step`).
BODEGA_FAULT_STEP arms them: "trace" logs every step to BODEGA_FAULT_LOG; "kill@N" kills the
process with SIGKILL before its Nth step, after logging it; "EIO@N", "ENOSPC@N", "EACCES@N"
make the Nth step fail with that errno ("KIND:N" counts one kind only: "ENOSPC@write:2").
In the same process `stepping(plan)` arms them for a block.  Unarmed, nothing is hooked.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from bodega._native import fault as _steps

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


def step(kind: str, path: str | os.PathLike[str] | None) -> None:
    """A write-type step of kind ("commit", ...) the Python layers take on path: counted when armed."""
    if _steps.armed:
        _steps.step(kind, path)


# Python's audit events of write-type file operations, as step kinds (sys.addaudithook).
_AUDITED = {"os.rename": "rename", "os.remove": "unlink", "os.rmdir": "unlink", "os.mkdir": "mkdir",
            "os.link": "link", "os.symlink": "link", "os.truncate": "write", "os.chmod": "meta",
            "os.chown": "meta", "os.utime": "meta"}
_in_hook = threading.local()
_hook_installed = False
_plain_fsync = os.fsync


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _steps.armed or getattr(_in_hook, "on", False):
        return
    if event == "open":
        path, mode, flags = args
        writes = ("w" in mode or "x" in mode or "a" in mode or "+" in mode) if mode else bool(flags & 3)
        if not writes or isinstance(path, int):  # flags & 3: the access mode is not read-only
            return
        kind = "create"
    else:
        kind = _AUDITED.get(event)
        if kind is None:
            return
        path = args[0]
    _in_hook.on = True
    try:
        _steps.step(kind, path if not isinstance(path, int) else None)
    finally:
        _in_hook.on = False


def _counted_fsync(fd: Any) -> None:
    """os.fsync, counted as a sync step first (installed only while steps are armed)."""
    if _steps.armed:
        _steps.step("sync", f"fd {fd if isinstance(fd, int) else fd.fileno()}")
    _plain_fsync(fd)


def _hook_steps() -> None:
    """Installs the audit hook and the fsync wrapper, once, in a process whose steps are armed."""
    global _hook_installed
    if not _hook_installed:
        sys.addaudithook(_audit)
        os.fsync = _counted_fsync
        _hook_installed = True


def arm_steps(plan: str, log: str | os.PathLike[str] | None = None) -> None:
    """Arms this process's write-type steps with plan ("kill@7", "EIO@write:2", "trace"; "" disarms)."""
    _hook_steps()
    _steps.arm(plan, log)


@contextmanager
def stepping(plan: str, log: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """Arms the write-type steps with plan while the block runs (tests)."""
    arm_steps(plan, log)
    try:
        yield
    finally:
        _steps.arm("")


def step_count() -> int:
    """Write-type steps counted since the last arming."""
    return _steps.count()


if _steps.armed:
    _hook_steps()
