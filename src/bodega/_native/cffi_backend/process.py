"""An app started inside a container's isolation, and what the host offers (bd_process.h), for cffi."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Callable

from bodega import errors
from bodega._native.arguments import text_arg
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressRelay, raise_failure
from bodega._native.cffi_backend._status import new_error, raise_status, status_name
from bodega._native.values import Bind, Isolation, ProcessResult, ProcessSpec  # noqa: F401  (API)

if TYPE_CHECKING:
    from bodega._native.values import Progress

_BY = {lib.BD_BY_NONE: "none", lib.BD_BY_CGROUP_V1: "cgroup-v1", lib.BD_BY_CGROUP_V2: "cgroup-v2",
       lib.BD_BY_RLIMIT: "rlimit", lib.BD_BY_JOB: "job-object"}
_NETWORK = {"none": lib.BD_NET_NONE, "host": lib.BD_NET_HOST}


ROOT_VIEW = ffi.string(lib.BD_ROOT_VIEW).decode()


def _c_string(value: bytes | None) -> object:
    return ffi.new("char[]", value) if value is not None else ffi.NULL


def pid_alive(pid: int) -> bool:
    """Whether a process with this id runs on this machine (one that ended unreaped counts as ended)."""
    if not isinstance(pid, int) or pid < 0:
        raise errors.InvalidInput(f"a process id is a number >= 0, not {pid!r}")
    if pid > 0xFFFFFFFF:
        return False
    return bool(lib.bd_process_alive(pid))


def lower_priority() -> None:
    """Lowers this process's CPU priority to the background level (never raises it)."""
    e = new_error()
    if lib.bd_process_lower_priority(e) != lib.BD_OK:
        raise_status(e)


def isolation(sandbox_tool: str | None = None, cgroup_root: str | None = None) -> Isolation:
    """Probes the host's isolation: sandbox tool, root view, binds, network, limit mechanisms."""
    tool = text_arg(sandbox_tool, "sandbox_tool") if sandbox_tool is not None else None
    cg = text_arg(cgroup_root, "cgroup_root") if cgroup_root is not None else None
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
    argv = [text_arg(a, "an argument") for a in spec.argv]
    env = [text_arg(f"{k}={v}", "an environment variable") for k, v in spec.env.items()]
    binds = [(text_arg(b.source, "a bind source"), text_arg(b.target, "a bind target"), bool(b.read_only))
             for b in spec.binds]
    cwd = text_arg(spec.cwd, "cwd")
    root = text_arg(spec.root, "root")
    tool = text_arg(spec.sandbox_tool, "sandbox_tool") if spec.sandbox_tool else None
    cg = text_arg(spec.cgroup_root, "cgroup_root") if spec.cgroup_root else None
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
