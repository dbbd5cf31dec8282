# process.pyx: an app started inside a container's isolation, and what the host offers (bd_process.h).
from bodega._native.values import Bind, Isolation, ProcessResult, ProcessSpec  # noqa: F401  (API)
import os

from bodega import errors
from bodega._native.arguments import text_arg

from libc.stdint cimport uint32_t, uint64_t
from libc.stdlib cimport calloc, free

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, BD_OK, bd_bind, bd_process_spec, bd_process_result, bd_isolation,
    bd_process_run, bd_isolation_probe, bd_process_alive, bd_process_lower_priority, BD_NET_NONE, BD_NET_HOST, BD_BY_NONE, BD_BY_CGROUP_V1, BD_BY_CGROUP_V2,
    BD_BY_RLIMIT, BD_BY_JOB, BD_ROOT_VIEW,
)
from bodega._native._progress cimport ProgressRelay, raise_failure
from bodega._native._status cimport raise_status

_BY = {BD_BY_NONE: "none", BD_BY_CGROUP_V1: "cgroup-v1", BD_BY_CGROUP_V2: "cgroup-v2", BD_BY_RLIMIT: "rlimit",
       BD_BY_JOB: "job-object"}
_NETWORK = {"none": BD_NET_NONE, "host": BD_NET_HOST}


ROOT_VIEW = BD_ROOT_VIEW.decode()


def pid_alive(pid):
    """Whether a process with this id runs on this machine (one that ended unreaped counts as ended)."""
    if not isinstance(pid, int) or pid < 0:
        raise errors.InvalidInput(f"a process id is a number >= 0, not {pid!r}")
    if pid > 0xFFFFFFFF:
        return False
    return bool(bd_process_alive(pid))


def lower_priority():
    """Lowers this process's CPU priority to the background level (never raises it)."""
    cdef bd_error e
    bd_error_clear(&e)
    if bd_process_lower_priority(&e) != BD_OK:
        raise_status(&e)


def isolation(sandbox_tool=None, cgroup_root=None):
    """Probes the host's isolation: sandbox tool, root view, binds, network, limit mechanisms."""
    cdef bd_isolation iso
    cdef bd_error e
    cdef bytes tool = text_arg(sandbox_tool, "sandbox_tool") if sandbox_tool is not None else None
    cdef bytes cg = text_arg(cgroup_root, "cgroup_root") if cgroup_root is not None else None
    bd_error_clear(&e)
    cdef bd_status rc = bd_isolation_probe(<const char *>tool if tool is not None else NULL,
                                           <const char *>cg if cg is not None else NULL, &iso, &e)
    if rc != BD_OK:
        from bodega._native._status import status_name
        raise errors.InternalError(f"bd_isolation_probe: {status_name(rc)}")
    return Isolation(os.fsdecode(iso.tool), iso.root_view.decode() if iso.root_view != NULL else None,
                     bool(iso.binds), bool(iso.network_none), _BY.get(iso.memory_by, "none"),
                     _BY.get(iso.cpu_by, "none"))


def run(spec, progress=None):
    """Runs spec to its end with stdio passed through; progress(Progress) is called now and then
    (raising in it, or Ctrl-C, stops the app: errors.Cancelled).  Returns a ProcessResult."""
    if not isinstance(spec, ProcessSpec):
        raise errors.InvalidInput("run() takes a ProcessSpec")
    if spec.network not in _NETWORK:
        raise errors.InvalidInput(f"network is 'none' or 'host', not {spec.network!r}")
    if not spec.argv:
        raise errors.InvalidInput("a process needs a program to run")
    keep = []  # every bytes object whose buffer C points into
    argv = [text_arg(a, "an argument") for a in spec.argv]
    env = [text_arg(f"{k}={v}", "an environment variable") for k, v in spec.env.items()]
    binds = [(text_arg(b.source, "a bind source"), text_arg(b.target, "a bind target"), bool(b.read_only))
             for b in spec.binds]
    cdef bytes cwd = text_arg(spec.cwd, "cwd")
    cdef bytes root = text_arg(spec.root, "root")
    cdef bytes tool = text_arg(spec.sandbox_tool, "sandbox_tool") if spec.sandbox_tool else None
    cdef bytes cg = text_arg(spec.cgroup_root, "cgroup_root") if spec.cgroup_root else None
    cdef const char **c_argv = <const char **>calloc(len(argv) + 1, sizeof(char *))
    cdef const char **c_env = <const char **>calloc(len(env) + 1, sizeof(char *))
    cdef bd_bind *c_binds = <bd_bind *>calloc(len(binds) + 1, sizeof(bd_bind))
    cdef bd_process_spec c
    cdef bd_process_result r
    cdef bd_error e
    cdef bd_status rc
    cdef ProgressRelay relay = ProgressRelay(progress)
    try:
        if c_argv == NULL or c_env == NULL or c_binds == NULL:
            raise MemoryError()
        for i, a in enumerate(argv):
            c_argv[i] = a
        for i, a in enumerate(env):
            c_env[i] = a
        for i, (src, dst, ro) in enumerate(binds):
            c_binds[i].source = src
            c_binds[i].target = dst
            c_binds[i].read_only = ro
        c.argv = c_argv
        c.env = c_env
        c.cwd = cwd
        c.root = root
        c.binds = c_binds
        c.n_binds = len(binds)
        c.network = _NETWORK[spec.network]
        c.memory_limit = int(spec.memory_limit)
        c.cpu_millicores = <uint32_t>int(round(float(spec.cpu_limit) * 1000))
        c.time_limit_ms = <uint64_t>int(round(float(spec.time_limit) * 1000))
        c.sandbox_tool = <const char *>tool if tool is not None else NULL
        c.cgroup_root = <const char *>cg if cg is not None else NULL
        bd_error_clear(&e)
        with nogil:
            rc = bd_process_run(&c, &relay.c, &r, &e)
        if rc != BD_OK:
            raise_failure(&e, relay, None)
        relay.reraise()
        return ProcessResult(r.exit_code, r.signal, bool(r.timed_out), bool(r.memory_killed), r.peak_memory,
                             r.wall_ms / 1000.0, _BY.get(r.memory_by, "none"), _BY.get(r.cpu_by, "none"))
    finally:
        free(c_argv)
        free(c_env)
        free(c_binds)
