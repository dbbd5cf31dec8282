# fault.pyx: the process's one count of write-type steps (bd_fault.h), for tests that crash
# or fail bodega at a chosen step.
"""Counted write-type steps: the native core's and the Python layers' in one count.

Each compiled module holds its own copy of the core; the modules that write (tree, clone)
count in this module's plan (`process_plan`), so a step has one number in the process.
"""
import os

from bodega import errors

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, BD_OK, bd_step, bd_fault_plan, bd_fault_step, bd_fault_arm,
    bd_fault_count, bd_step_name, bd_fault_own_plan, BD_STEP_KINDS,
)

KINDS = tuple(bd_step_name(k).decode() for k in range(BD_STEP_KINDS))

# Whether any plan is armed (the environment, or arm()): callers skip step() when not.
armed = bool(os.environ.get("BODEGA_FAULT_STEP"))


cdef bd_fault_plan *process_plan() noexcept:
    return bd_fault_own_plan()


def arm(spec, log=None):
    """Arms the process's plan ("trace", "kill@N", "EIO@write:3", ... ; "" disarms); resets the count."""
    global armed
    cdef bytes s = os.fsencode(spec or "")
    cdef bytes l = os.fsencode(log) if log else b""
    if bd_fault_arm(s, l) != 0:
        raise ValueError(f"not a fault plan: {spec!r}")
    armed = bool(spec)


def count():
    """Write-type steps counted since the plan was armed."""
    return bd_fault_count()


def step(kind, path):
    """Counts one write-type step of kind on path; raises the planned StorageError, or dies, there."""
    cdef int k = KINDS.index(kind)
    cdef bytes raw = os.fsencode(path) if path is not None else b""
    cdef bd_error e
    bd_error_clear(&e)
    cdef bd_status rc = bd_fault_step(<bd_step>k, raw, len(raw), &e)
    if rc != BD_OK:
        raise errors.storage_error(e.sys_errno, os.fsdecode(raw) if raw else None, e.op.decode())
