"""An app started inside a container's isolation, and what the host offers (bd_process.h), for cffi."""
from __future__ import annotations

import dataclasses
import os
from typing import Any, Callable

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import Progress, ProgressRelay, raise_failure
from bodega._native.cffi_backend._status import new_error, status_name

_BY = {lib.BD_BY_NONE: "none", lib.BD_BY_CGROUP_V1: "cgroup-v1", lib.BD_BY_CGROUP_V2: "cgroup-v2",
       lib.BD_BY_RLIMIT: "rlimit", lib.BD_BY_JOB: "job-object"}
_NETWORK = {"none": lib.BD_NET_NONE, "host": lib.BD_NET_HOST}


@dataclasses.dataclass(frozen=True)
class Bind:
    """A host path the app sees at target (read-only unless read_only is False)."""

    source: str
    target: str
    read_only: bool = True


@dataclasses.dataclass(frozen=True)
class ProcessSpec:
    """What to run and how it is isolated (the same spec on every platform).

    argv, cwd: as the app sees them (see Isolation.root_view); env: the app's whole
    environment; root: the container root on the host, the app's writable world;
    network: "none" (no network at all) or "host"; memory_limit in bytes, cpu_limit in
    cores, time_limit in seconds (0: none).
    """

    argv: tuple
    env: dict
    cwd: str
    root: str
    binds: tuple = ()
    network: str = "none"
    memory_limit: int = 0
    cpu_limit: float = 0.0
    time_limit: float = 0.0
    sandbox_tool: str | None = None
    cgroup_root: str | None = None


@dataclasses.dataclass(frozen=True)
class ProcessResult:
    """How the app ended."""

    exit_code: int         # the app's exit status (128+N when signal N ended it)
    signal: int            # the signal that ended it, 0 when it exited
    timed_out: bool        # killed at its time limit
    memory_killed: bool    # stopped by the memory limit, as far as the mechanism tells
    peak_memory: int       # bytes, 0 when unknown
    seconds: float
    memory_by: str         # how the memory limit was applied: cgroup-v1, cgroup-v2, rlimit, job-object, none
    cpu_by: str

    @property
    def crashed(self) -> bool:
        """Ended by a signal, a limit or its time limit rather than by exiting."""
        return bool(self.signal or self.timed_out or self.memory_killed)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self) | {"crashed": self.crashed}


@dataclasses.dataclass(frozen=True)
class Isolation:
    """What this host offers: the sandbox tool, where the app sees the root, how limits apply."""

    tool: str              # bubblewrap's path ("" when missing; always "" on Windows)
    root_view: str | None  # where the app sees the container root; None: at its host path
    binds: bool
    network_none: bool
    memory_by: str
    cpu_by: str

    @property
    def available(self) -> bool:
        """Whether apps can be started isolated here."""
        return bool(self.tool) or self.root_view is None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dataclasses.asdict(self) | {"available": self.available}


ROOT_VIEW = ffi.string(lib.BD_ROOT_VIEW).decode()


def _arg(value: object, what: str) -> bytes:
    if isinstance(value, str):
        value = os.fsencode(value)
    if not isinstance(value, bytes) or b"\0" in value:
        raise errors.InvalidInput(f"{what} must be text without NUL bytes, not {value!r}")
    return value


def _c_string(value: bytes | None) -> object:
    return ffi.new("char[]", value) if value is not None else ffi.NULL


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one that ended unreaped counts as ended)."""
    if not isinstance(pid, int) or pid < 0:
        raise errors.InvalidInput(f"a process id is a number >= 0, not {pid!r}")
    if pid > 0xFFFFFFFF:
        return False
    return bool(lib.bd_process_alive(pid))


def isolation(sandbox_tool: str | None = None, cgroup_root: str | None = None) -> Isolation:
    """Probes the host's isolation: sandbox tool, root view, binds, network, limit mechanisms."""
    tool = _arg(sandbox_tool, "sandbox_tool") if sandbox_tool is not None else None
    cg = _arg(cgroup_root, "cgroup_root") if cgroup_root is not None else None
    iso = ffi.new("bd_isolation *")
    e = new_error()
    rc = lib.bd_isolation_probe(_c_string(tool), _c_string(cg), iso, e)
    if rc != lib.BD_OK:
        raise errors.InternalError(f"bd_isolation_probe: {status_name(rc)}")
    return Isolation(os.fsdecode(ffi.string(iso.tool)),
                     ffi.string(iso.root_view).decode() if iso.root_view != ffi.NULL else None,
                     bool(iso.binds), bool(iso.network_none), _BY.get(iso.memory_by, "none"),
                     _BY.get(iso.cpu_by, "none"))


def run(spec: ProcessSpec, progress: Callable[[Progress], object] | None = None) -> ProcessResult:
    """Runs spec to its end with stdio passed through; progress(Progress) is called now and then
    (raising in it, or Ctrl-C, stops the app: errors.Cancelled).  Returns a ProcessResult."""
    if not isinstance(spec, ProcessSpec):
        raise errors.InvalidInput("run() takes a ProcessSpec")
    if spec.network not in _NETWORK:
        raise errors.InvalidInput(f"network is 'none' or 'host', not {spec.network!r}")
    if not spec.argv:
        raise errors.InvalidInput("a process needs a program to run")
    argv = [_arg(a, "an argument") for a in spec.argv]
    env = [_arg(f"{k}={v}", "an environment variable") for k, v in spec.env.items()]
    binds = [(_arg(b.source, "a bind source"), _arg(b.target, "a bind target"), bool(b.read_only))
             for b in spec.binds]
    cwd = _arg(spec.cwd, "cwd")
    root = _arg(spec.root, "root")
    tool = _arg(spec.sandbox_tool, "sandbox_tool") if spec.sandbox_tool else None
    cg = _arg(spec.cgroup_root, "cgroup_root") if spec.cgroup_root else None
    relay = ProgressRelay(progress)
    keep = []  # every C string the spec points into, alive for the call

    def c_str(value: bytes | None) -> object:
        keep.append(_c_string(value))
        return keep[-1]

    c_argv = ffi.new("const char *[]", [c_str(a) for a in argv] + [ffi.NULL])
    c_env = ffi.new("const char *[]", [c_str(a) for a in env] + [ffi.NULL])
    c_binds = ffi.new("bd_bind[]", len(binds) + 1)
    for i, (src, dst, ro) in enumerate(binds):
        c_binds[i].source, c_binds[i].target, c_binds[i].read_only = c_str(src), c_str(dst), ro
    c = ffi.new("bd_process_spec *")
    c.argv, c.env, c.cwd, c.root = c_argv, c_env, c_str(cwd), c_str(root)
    c.binds, c.n_binds = c_binds, len(binds)
    c.network = _NETWORK[spec.network]
    c.memory_limit = int(spec.memory_limit)
    c.cpu_millicores = int(round(float(spec.cpu_limit) * 1000))
    c.time_limit_ms = int(round(float(spec.time_limit) * 1000))
    c.sandbox_tool, c.cgroup_root = c_str(tool), c_str(cg)
    r = ffi.new("bd_process_result *")
    e = new_error()
    if lib.bd_process_run(c, relay.c, r, e) != lib.BD_OK:
        raise_failure(e, relay, None)
    relay.reraise()
    return ProcessResult(r.exit_code, r.signal, bool(r.timed_out), bool(r.memory_killed), r.peak_memory,
                         r.wall_ms / 1000.0, _BY.get(r.memory_by, "none"), _BY.get(r.cpu_by, "none"))
