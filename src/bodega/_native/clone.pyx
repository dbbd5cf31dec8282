# clone.pyx: copy-on-write clones of files and trees, and what a volume can do (bd_clone.h).
import os

from bodega import errors
from bodega._native.arguments import path_arg

from libc.stdint cimport uint32_t
from libc.stdlib cimport malloc, free

from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, BD_OK, bd_copy_result, bd_fs_info, bd_clone_stats,
    bd_clone_tree, bd_clone_stats_free, bd_clone_file, bd_probe_cow, bd_clone_job, bd_clone_files, bd_dir,
    bd_dir_close, bd_platform_features,
    bd_now_ns, BD_CLONE_AUTO, BD_CLONE_REQUIRE, BD_CLONE_NEVER, BD_FS_CLONE, BD_CLONE_MAX_THREADS,
)
from bodega._native._progress cimport ProgressBridge, ProgressRelay
from bodega._native._status cimport job_error, raise_status
from bodega._native.bd cimport bd_fault_share
from bodega._native.fault cimport process_plan

bd_fault_share(process_plan())  # count steps in the process's one plan (bd_fault.h)
from bodega._native._batch cimport batch_path, open_dir, thread_count

from bodega._native.values import (  # noqa: F401  (part of this module's API)
    METHODS, CloneFileResult, CloneProgress, CloneTreeResult, ClonedFile, FsInfo,
)

_MODES = {"auto": BD_CLONE_AUTO, "require": BD_CLONE_REQUIRE, "never": BD_CLONE_NEVER}


def features():
    """The native capabilities of this build on this machine (e.g. "ficlone", "statx")."""
    return frozenset(bd_platform_features().decode().split())


cdef uint32_t _mode_flags(object mode) except? 0xFFFFFFFF:
    if mode not in _MODES:
        raise errors.InvalidInput(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
    return _MODES[mode]


cdef class _TreeReporter:
    """Turns the bridge's (files, bytes) calls into CloneProgress for the caller's callable."""

    cdef ProgressBridge bridge
    cdef object fn

    def __call__(self, files_done, bytes_done):
        c = &self.bridge.c
        self.fn(CloneProgress(files_done, c.files_total, bytes_done, c.bytes_total,
                              c.bytes_cloned, c.bytes_copied))


def clone_file(src, dst, *, mode="auto"):
    """Clones the file src to the new path dst (data, mode, mtime, owner, xattrs)."""
    cdef bytes s = path_arg(src, "source"), d = path_arg(dst, "destination")
    cdef uint32_t flags = _mode_flags(mode)
    cdef bd_error e
    cdef bd_copy_result r
    cdef bd_status rc
    cdef ProgressBridge bridge = ProgressBridge(None)
    cdef const char *cs = s
    cdef const char *cd = d
    bd_error_clear(&e)
    with nogil:
        rc = bd_clone_file(cs, cd, flags, &bridge.c, &r, &e)
    bridge.reraise()
    if rc != BD_OK:
        raise_status(&e)
    return CloneFileResult(METHODS[r.method], r.bytes_cloned, r.bytes_copied)


def clone_tree(src, dst, *, progress=None, threads=None, mode="auto"):
    """Clones the directory tree src to the new path dst, all or nothing."""
    cdef bytes s = path_arg(src, "source"), d = path_arg(dst, "destination")
    cdef uint32_t flags = _mode_flags(mode)
    cdef unsigned nthreads = 0
    if threads is not None:
        if not isinstance(threads, int) or not 1 <= threads <= BD_CLONE_MAX_THREADS:
            raise errors.InvalidInput(f"threads must be an integer from 1 to {BD_CLONE_MAX_THREADS}")
        nthreads = threads
    cdef _TreeReporter reporter = None
    if progress is not None:
        if not callable(progress):
            raise errors.InvalidInput(f"progress must be callable, not {type(progress).__name__}")
        reporter = _TreeReporter()
        reporter.fn = progress
    cdef ProgressBridge bridge = ProgressBridge(reporter)
    if reporter is not None:
        reporter.bridge = bridge
    cdef bd_error e
    cdef bd_clone_stats st
    cdef bd_status rc
    cdef const char *cs = s
    cdef const char *cd = d
    bd_error_clear(&e)
    start = bd_now_ns()
    with nogil:
        rc = bd_clone_tree(cs, cd, flags, nthreads, &bridge.c, &st, &e)
    seconds = (bd_now_ns() - start) / 1e9
    if reporter is not None:
        reporter.bridge = None  # no cycle left behind
    bridge.reraise()
    if rc != BD_OK:
        raise_status(&e, s, d)
    try:
        specials = []
        if st.special_paths != NULL:
            for rel in st.special_paths[:st.special_paths_len - 1].split(b"\0"):
                specials.append(os.fsdecode(os.path.join(s, rel)))
        methods = [METHODS[m] for m in range(1, len(METHODS)) if st.methods & (1u << m)]
        return CloneTreeResult(st.files, st.dirs, st.symlinks, st.hardlinks, specials, st.bytes,
                               st.bytes_cloned, st.bytes_copied, methods, st.threads, seconds)
    finally:
        bd_clone_stats_free(&st)


def fs_info(path):
    """Describes the volume of the directory path, with a trial clone inside it."""
    cdef bytes p = path_arg(path, "path")
    cdef bd_error e
    cdef bd_fs_info info
    cdef bd_status rc
    cdef const char *cp = p
    bd_error_clear(&e)
    with nogil:
        rc = bd_probe_cow(cp, &info, &e)
    if rc != BD_OK:
        raise_status(&e)
    return FsInfo(os.fsdecode(p), info.fs_name.decode("utf-8", "replace"), info.volume_id,
                  info.block_size, info.bytes_total, info.bytes_free, bool(info.flags & BD_FS_CLONE))


def probe_cow(path):
    """True when the volume of the directory path can clone files copy-on-write."""
    return fs_info(path).can_clone


def clone_files(src_root, relpaths, dst_dir, names, *, threads=None):
    """Clones many files under src_root into new files of dst_dir: data only, copy-on-write or not at all.

    One ClonedFile per path, in order; a file that could not be cloned carries its error
    (NotSupported where the volume cannot clone it) and leaves no file behind.
    """
    cdef unsigned nthreads = thread_count(threads)
    paths = [batch_path(p) for p in relpaths]
    dests = [os.fsencode(name) for name in names]
    if len(dests) != len(paths):
        raise errors.InvalidInput("clone_files needs one destination name per path")
    for d in dests:
        if not d or b"/" in d or d in (b".", b".."):
            raise errors.InvalidInput(f"not a plain file name: {os.fsdecode(d)!r}")
    cdef size_t n = len(paths), i
    cdef bd_clone_job *jobs = <bd_clone_job *>malloc((n if n else 1) * sizeof(bd_clone_job))
    if jobs == NULL:
        raise MemoryError("cannot allocate the clone jobs")
    cdef bytes src_raw = os.fsencode(src_root), dst_raw = os.fsencode(dst_dir)
    cdef ProgressRelay relay = ProgressRelay(None)
    cdef bd_dir *src = NULL
    cdef bd_dir *dst = NULL
    cdef bd_error e
    cdef bd_status rc
    try:
        for i in range(n):
            jobs[i].path = <bytes>paths[i]
            jobs[i].path_len = len(<bytes>paths[i])
            jobs[i].dst_name = <bytes>dests[i]
            jobs[i].dst_len = len(<bytes>dests[i])
        src = open_dir(src_raw, relay)
        dst = open_dir(dst_raw, relay)
        bd_error_clear(&e)
        with nogil:
            rc = bd_clone_files(src, dst, jobs, n, nthreads, NULL, &e)
        if rc != BD_OK:
            raise_status(&e, src_raw)
        out = []
        for i in range(n):
            if jobs[i].status == BD_OK:
                out.append(ClonedFile(paths[i], jobs[i].st.size, jobs[i].st.mtime_ns, jobs[i].st.ctime_ns,
                                      jobs[i].st.file_id, None))
            else:
                out.append(ClonedFile(paths[i], None, None, None, None,
                                      job_error(jobs[i].status, jobs[i].sys_errno, jobs[i].op, jobs[i].path,
                                                jobs[i].path_len, src_raw)))
        return out
    finally:
        if src != NULL:
            bd_dir_close(src)
        if dst != NULL:
            bd_dir_close(dst)
        free(jobs)
