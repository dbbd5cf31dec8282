"""Copy-on-write clones of files and trees, and what a volume can do (bd_clone.h), for cffi."""
from __future__ import annotations

import os
import time
from typing import Callable, Sequence

from bodega import errors
from bodega._native.arguments import path_arg
from bodega._native.cffi_backend._batch import batch_path, open_dir, thread_count
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressBridge, ProgressRelay
from bodega._native.cffi_backend._status import job_error, new_error, raise_status
from bodega._native.values import (  # noqa: F401  (part of this module's API)
    METHODS, CloneFileResult, CloneProgress, CloneTreeResult, ClonedFile, FsInfo,
)


_MODES = {"auto": lib.BD_CLONE_AUTO, "require": lib.BD_CLONE_REQUIRE, "never": lib.BD_CLONE_NEVER}


def features() -> frozenset[str]:
    """The native capabilities of this build on this machine (e.g. "ficlone", "statx")."""
    return frozenset(ffi.string(lib.bd_platform_features()).decode().split())


def _mode_flags(mode: object) -> int:
    if mode not in _MODES:
        raise errors.InvalidInput(f"mode must be one of {', '.join(_MODES)}, not {mode!r}")
    return _MODES[mode]


class _TreeBridge(ProgressBridge):
    """A bridge whose checkpoints give the caller CloneProgress."""

    def checkpoint(self, p: object) -> None:
        self.fn(CloneProgress(p.files_done, p.files_total, p.bytes_done, p.bytes_total, p.bytes_cloned,
                              p.bytes_copied))


def clone_file(src: object, dst: object, *, mode: str = "auto") -> CloneFileResult:
    """Clones the file src to the new path dst (data, mode, mtime, owner, xattrs)."""
    s, d = path_arg(src, "source"), path_arg(dst, "destination")
    flags = _mode_flags(mode)
    e = new_error()
    r = ffi.new("bd_copy_result *")
    bridge = ProgressBridge(None)
    rc = lib.bd_clone_file(s, d, flags, bridge.c, r, e)
    bridge.reraise()
    if rc != lib.BD_OK:
        raise_status(e)
    return CloneFileResult(METHODS[r.method], r.bytes_cloned, r.bytes_copied)


def clone_tree(src: object, dst: object, *, progress: Callable[[CloneProgress], object] | None = None,
               threads: int | None = None, mode: str = "auto") -> CloneTreeResult:
    """Clones the directory tree src to the new path dst, all or nothing."""
    s, d = path_arg(src, "source"), path_arg(dst, "destination")
    flags = _mode_flags(mode)
    nthreads = 0
    if threads is not None:
        if not isinstance(threads, int) or not 1 <= threads <= lib.BD_CLONE_MAX_THREADS:
            raise errors.InvalidInput(f"threads must be an integer from 1 to {lib.BD_CLONE_MAX_THREADS}")
        nthreads = threads
    if progress is not None and not callable(progress):
        raise errors.InvalidInput(f"progress must be callable, not {type(progress).__name__}")
    bridge = _TreeBridge(progress) if progress is not None else ProgressBridge(None)
    e = new_error()
    st = ffi.new("bd_clone_stats *")
    start = time.monotonic_ns()
    rc = lib.bd_clone_tree(s, d, flags, nthreads, bridge.c, st, e)
    seconds = (time.monotonic_ns() - start) / 1e9
    bridge.reraise()
    if rc != lib.BD_OK:
        raise_status(e, s, d)
    try:
        specials = []
        if st.special_paths != ffi.NULL:
            for rel in ffi.unpack(st.special_paths, st.special_paths_len - 1).split(b"\0"):
                specials.append(os.fsdecode(os.path.join(s, rel)))
        methods = [METHODS[m] for m in range(1, len(METHODS)) if st.methods & (1 << m)]
        return CloneTreeResult(st.files, st.dirs, st.symlinks, st.hardlinks, specials, st.bytes,
                               st.bytes_cloned, st.bytes_copied, methods, st.threads, seconds)
    finally:
        lib.bd_clone_stats_free(st)


def fs_info(path: object) -> FsInfo:
    """Describes the volume of the directory path, with a trial clone inside it."""
    p = path_arg(path, "path")
    e = new_error()
    info = ffi.new("bd_fs_info *")
    if lib.bd_probe_cow(p, info, e) != lib.BD_OK:
        raise_status(e)
    return FsInfo(os.fsdecode(p), ffi.string(info.fs_name).decode("utf-8", "replace"), info.volume_id,
                  info.block_size, info.bytes_total, info.bytes_free, bool(info.flags & lib.BD_FS_CLONE))


def probe_cow(path: object) -> bool:
    """True when the volume of the directory path can clone files copy-on-write."""
    return fs_info(path).can_clone


def clone_files(src_root: object, relpaths: Sequence, dst_dir: object, names: Sequence, *,
                threads: int | None = None) -> list[ClonedFile]:
    """Clones many files under src_root into new files of dst_dir: data only, copy-on-write or not at all.

    One ClonedFile per path, in order; a file that could not be cloned carries its error
    (NotSupported where the volume cannot clone it) and leaves no file behind.
    """
    nthreads = thread_count(threads)
    paths = [batch_path(p) for p in relpaths]
    dests = [os.fsencode(name) for name in names]
    if len(dests) != len(paths):
        raise errors.InvalidInput("clone_files needs one destination name per path")
    for d in dests:
        if not d or b"/" in d or d in (b".", b".."):
            raise errors.InvalidInput(f"not a plain file name: {os.fsdecode(d)!r}")
    n = len(paths)
    jobs = ffi.new("bd_clone_job[]", n or 1)
    src_raw, dst_raw = os.fsencode(src_root), os.fsencode(dst_dir)
    keep_alive = [(ffi.from_buffer(p), ffi.from_buffer(d)) for p, d in zip(paths, dests)]
    for i, (p, d) in enumerate(keep_alive):
        jobs[i].path, jobs[i].path_len = p, len(paths[i])
        jobs[i].dst_name, jobs[i].dst_len = d, len(dests[i])
    relay = ProgressRelay(None)
    src = dst = ffi.NULL
    try:
        src = open_dir(src_raw, relay)
        dst = open_dir(dst_raw, relay)
        e = new_error()
        if lib.bd_clone_files(src, dst, jobs, n, nthreads, ffi.NULL, e) != lib.BD_OK:
            raise_status(e, src_raw)
        out = []
        for i in range(n):
            job = jobs[i]
            if job.status == lib.BD_OK:
                out.append(ClonedFile(paths[i], job.st.size, job.st.mtime_ns, job.st.ctime_ns, job.st.file_id, None))
            else:
                out.append(ClonedFile(paths[i], None, None, None, None,
                                      job_error(job.status, job.sys_errno, job.op, paths[i], src_raw)))
        return out
    finally:
        if src != ffi.NULL:
            lib.bd_dir_close(src)
        if dst != ffi.NULL:
            lib.bd_dir_close(dst)
