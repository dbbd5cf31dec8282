"""BLAKE3 (bodega's content hash) over bytes, one file, and many files (cffi back end)."""
from __future__ import annotations

import os
import threading
from typing import Iterable

from bodega import errors
from bodega._native.cffi_backend._batch import batch_path, open_dir, thread_count
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._progress import ProgressCallback, ProgressRelay, raise_failure
from bodega._native.cffi_backend._status import job_error, new_error, raise_status
from bodega._native.values import FileHash

DIGEST_SIZE = 32
GIL_RELEASE_MIN = 2048  # below this, releasing the GIL costs more than the hashing



def _buffer(data: object) -> object:
    """A C view of any contiguous buffer (str refused, as hashlib does)."""
    if isinstance(data, str):
        raise TypeError("Strings must be encoded before hashing")
    return ffi.from_buffer(data)


class Blake3:
    """A BLAKE3 hash object shaped like hashlib's (plus keyed and key-derivation modes)."""

    name = "blake3"
    digest_size = DIGEST_SIZE
    block_size = 64

    def __init__(self, data: object = b"", /, *, key: object = None, derive_key_context: object = None) -> None:
        self._state = ffi.new("bd_blake3 *")
        self._lock = threading.Lock()
        if key is not None and derive_key_context is not None:
            raise errors.InvalidInput("a BLAKE3 hash takes key or derive_key_context, not both")
        if key is not None:
            key_view = memoryview(key).cast("B")
            if key_view.nbytes != 32:
                raise errors.InvalidInput(f"a BLAKE3 key has 32 bytes, not {key_view.nbytes}")
            lib.bd_blake3_init_keyed(self._state, ffi.from_buffer(key_view))
        elif derive_key_context is not None:
            context = derive_key_context.encode() if isinstance(derive_key_context, str) else bytes(derive_key_context)
            lib.bd_blake3_init_derive_key(self._state, context, len(context))
        else:
            lib.bd_blake3_init(self._state)
        if data is not None:
            self.update(data)

    def update(self, data: object, /) -> None:
        """Adds data (any contiguous buffer) to the hash."""
        view = _buffer(data)
        with self._lock:
            lib.bd_blake3_update(self._state, view, len(view))

    def digest(self, length: int = DIGEST_SIZE) -> bytes:
        """The hash (length bytes: BLAKE3 extends its output to any length)."""
        if length < 0:
            raise errors.InvalidInput(f"digest length must not be negative, not {length}")
        out = ffi.new("uint8_t[]", length or 1)
        with self._lock:
            if length:
                lib.bd_blake3_finalize(self._state, out, length)
        return ffi.buffer(out, length)[:]

    def hexdigest(self, length: int = DIGEST_SIZE) -> str:
        """The hash as lowercase hex."""
        return self.digest(length).hex()

    def copy(self) -> Blake3:
        """An independent copy of this hash in its current state."""
        other = Blake3.__new__(Blake3)
        other._state = ffi.new("bd_blake3 *")
        other._lock = threading.Lock()
        with self._lock:
            other._state[0] = self._state[0]
        return other


def _impl_names() -> list[str]:
    return [ffi.string(lib.bd_blake3_impl_name(i)).decode() for i in range(lib.BD_BLAKE3_IMPL_COUNT)]


def hash_many(messages: list) -> list[bytes]:
    """The BLAKE3 digest of each of messages (bytes-like), in order, in one call without the
    GIL: small messages are hashed together, side by side in the SIMD lanes."""
    n = len(messages)
    views = [_buffer(m) for m in messages]
    ptrs = ffi.new("const uint8_t *[]", [ffi.cast("const uint8_t *", v) for v in views] or 1)
    lens = ffi.new("size_t[]", [len(v) for v in views] or 1)
    out = ffi.new("uint8_t[]", 32 * n or 1)
    lib.bd_blake3_hash_messages(ptrs, lens, n, out)
    raw = ffi.buffer(out, 32 * n)[:]
    return [raw[i * 32:(i + 1) * 32] for i in range(n)]


def implementations() -> list[str]:
    """Names of the BLAKE3 back ends this build and CPU can run, slowest first."""
    return [name for i, name in enumerate(_impl_names()) if lib.bd_blake3_impl_available(i)]


def implementation() -> str:
    """Name of the BLAKE3 back end in use."""
    return ffi.string(lib.bd_blake3_impl_name(lib.bd_blake3_impl_current())).decode()


def use_implementation(name: str) -> None:
    """Makes the whole process hash with the named back end (tests and benchmarks)."""
    names = _impl_names()
    if name not in names:
        raise errors.InvalidInput(f"unknown BLAKE3 back end {name!r}; known: {', '.join(names)}")
    e = new_error()
    if lib.bd_blake3_use(names.index(name), e) != lib.BD_OK:
        raise_status(e)


def split_file_path(path: str | bytes | os.PathLike) -> tuple[bytes, bytes]:
    """(parent directory, file name) of a file path, as bytes; InvalidInput when it names no file."""
    raw = os.fsencode(path)
    parent, name = os.path.split(raw.rstrip(b"/") or raw)
    if not name or name in (b".", b".."):
        raise errors.InvalidInput(f"not a file path: {os.fsdecode(raw)!r}")
    return parent or b".", name


def hash_file(path: str | bytes | os.PathLike, *, threads: int | None = None,
              progress: ProgressCallback | None = None) -> bytes:
    """The BLAKE3-256 digest of a regular file (never through a link), large files over all cores."""
    nthreads = thread_count(threads)
    relay = ProgressRelay(progress)
    parent, name = split_file_path(path)
    out = ffi.new("uint8_t[32]")
    e = new_error()
    d = open_dir(parent, relay)
    try:
        rc = lib.bd_hash_file(d, name, len(name), nthreads, out, ffi.NULL, relay.c, e)
    finally:
        lib.bd_dir_close(d)
    if rc != lib.BD_OK:
        raise_failure(e, relay, parent)
    return ffi.buffer(out, 32)[:]


def _job_error(job: object, root: bytes) -> BaseException:
    """The BodegaError for a failed job, naming root/path."""
    return job_error(job.status, job.sys_errno, job.op, ffi.unpack(job.path, job.path_len), root)


def _hash_batch(root: object, relpaths: Iterable, threads: int | None, progress: ProgressCallback | None,
                report: bool, caps: Iterable[int] | None = None, drop_cached: bool = False) -> list:
    """Runs bd_hash_files: one FileHash per path (report), else the digests, raising the first error.

    With caps (bytes per path), the files of at most that size are kept as well: the result
    is then (FileHash, memoryview of the bytes or None) per path.  drop_cached: each file's
    pages leave the page cache once it is hashed.
    """
    nthreads = thread_count(threads)
    relay = ProgressRelay(progress)
    paths = [batch_path(p) for p in relpaths]
    n = len(paths)
    jobs = ffi.new("bd_hash_job[]", n or 1)
    root_raw = os.fsencode(root)
    offsets: list[int] = []
    kept = None
    if caps is not None:
        caps = list(caps)
        if len(caps) != n:
            raise errors.InvalidInput("read_files needs one cap per path")
        total = 0
        for cap in caps:
            if cap < 0:
                raise errors.InvalidInput("a cap is a size in bytes, not negative")
            offsets.append(total)
            total += cap
        kept = bytearray(total or 1)
        arena = ffi.from_buffer(kept)
    keep_alive = [ffi.from_buffer(p) for p in paths]  # C points into these for the call
    for i in range(n):
        jobs[i].path = keep_alive[i]
        jobs[i].path_len = len(paths[i])
        jobs[i].drop_cached = drop_cached
        if caps is not None:
            jobs[i].keep = arena + offsets[i]
            jobs[i].keep_cap = caps[i]
    e = new_error()
    d = open_dir(root_raw, relay)
    try:
        rc = lib.bd_hash_files(d, jobs, n, nthreads, relay.c, e)
    finally:
        lib.bd_dir_close(d)
    if rc != lib.BD_OK:
        raise_failure(e, relay, root_raw)
    if not report:
        for i in range(n):
            if jobs[i].status != lib.BD_OK:
                raise _job_error(jobs[i], root_raw)
        return [ffi.buffer(jobs[i].hash, 32)[:] for i in range(n)]
    out = []
    for i in range(n):
        job = jobs[i]
        if job.status == lib.BD_OK:
            st = job.st
            out.append(FileHash(paths[i], ffi.buffer(job.hash, 32)[:], st.size, st.mode, st.mtime_ns, st.ctime_ns,
                                st.file_id, st.volume_id, None))
        else:
            out.append(FileHash(paths[i], None, None, None, None, None, None, None, _job_error(job, root_raw)))
    if caps is None:
        return out
    view = memoryview(kept)
    return [(fh, view[offsets[i]:offsets[i] + fh.size] if jobs[i].status == lib.BD_OK and jobs[i].kept else None)
            for i, fh in enumerate(out)]


def hash_files_report(root: object, relpaths: Iterable, *, threads: int | None = None,
                      progress: ProgressCallback | None = None, drop_cached: bool = False) -> list[FileHash]:
    """Hashes many files under root on all cores; each result carries its digest or its error.

    drop_cached: the files' pages leave the page cache once hashed (files read once, such
    as a store's fresh clones, then push out nothing a user reads).
    """
    return _hash_batch(root, relpaths, threads, progress, True, None, drop_cached)


def read_files(root: object, relpaths: Iterable, caps: Iterable[int], *, threads: int | None = None,
               progress: ProgressCallback | None = None) -> list:
    """Hashes many files under root and keeps the bytes of those no larger than their cap.

    One (FileHash, memoryview or None) per path: the bytes are those the digest was taken
    from, in one shared buffer.
    """
    return _hash_batch(root, relpaths, threads, progress, True, caps)


def hash_files(root: object, relpaths: Iterable, *, threads: int | None = None,
               progress: ProgressCallback | None = None) -> list[bytes]:
    """The digests of many files under root, in order; raises the first file's error."""
    return _hash_batch(root, relpaths, threads, progress, False)


def _use_from_environment() -> None:
    """Honours BODEGA_BLAKE3_IMPL, so benchmarks and tests can pin a back end."""
    name = os.environ.get("BODEGA_BLAKE3_IMPL")
    if name:
        use_implementation(name)


_use_from_environment()
