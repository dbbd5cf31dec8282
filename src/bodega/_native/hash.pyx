# hash.pyx: BLAKE3 (bodega's content hash) over bytes, one file, and many files, without the GIL.
import os

from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from cpython.bytearray cimport PyByteArray_FromStringAndSize
from cpython.pythread cimport (
    PyThread_type_lock, PyThread_allocate_lock, PyThread_free_lock, PyThread_acquire_lock,
    PyThread_release_lock, WAIT_LOCK, NOWAIT_LOCK,
)
from libc.stdint cimport uint8_t
from libc.stdlib cimport malloc, free
from libc.string cimport memcpy

from bodega import errors
from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, BD_OK, BD_PATH_SRC, BD_ERR_PATH_MAX, bd_dir, bd_dir_open,
    bd_dir_close, bd_stat, bd_blake3, bd_blake3_init, bd_blake3_init_keyed, bd_blake3_init_derive_key,
    bd_blake3_update, bd_blake3_finalize, bd_blake3_impl, bd_blake3_impl_available,
    bd_blake3_impl_current, bd_blake3_impl_name, bd_blake3_use, BD_BLAKE3_IMPL_COUNT, bd_hash_file,
    bd_hash_job, bd_hash_files, bd_blake3_hash_messages,
)
from bodega._native._status cimport job_error, raise_status
from bodega._native._progress cimport ProgressRelay, raise_failure
from bodega._native._batch cimport batch_path, open_dir, thread_count

DIGEST_SIZE = 32
GIL_RELEASE_MIN = 2048  # below this, releasing the GIL costs more than the hashing

from bodega._native.values import FileHash


cdef class Blake3:
    """A BLAKE3 hash object shaped like hashlib's (plus keyed and key-derivation modes)."""

    cdef bd_blake3 state
    cdef PyThread_type_lock lock

    name = "blake3"
    digest_size = DIGEST_SIZE
    block_size = 64

    def __cinit__(self, *args, **kwargs):
        self.lock = PyThread_allocate_lock()
        if self.lock == NULL:
            raise MemoryError("cannot allocate a lock")

    def __init__(self, data=b"", /, *, key=None, derive_key_context=None):
        cdef const unsigned char[::1] key_view
        if key is not None and derive_key_context is not None:
            raise errors.InvalidInput("a BLAKE3 hash takes key or derive_key_context, not both")
        if key is not None:
            key_view = key
            if key_view.shape[0] != 32:
                raise errors.InvalidInput(f"a BLAKE3 key has 32 bytes, not {key_view.shape[0]}")
            bd_blake3_init_keyed(&self.state, &key_view[0])
        elif derive_key_context is not None:
            context = derive_key_context.encode() if isinstance(derive_key_context, str) else bytes(derive_key_context)
            bd_blake3_init_derive_key(&self.state, context, len(context))
        else:
            bd_blake3_init(&self.state)
        if data is not None:
            self.update(data)

    def __dealloc__(self):
        if self.lock != NULL:
            PyThread_free_lock(self.lock)

    cdef void _acquire(self):
        if not PyThread_acquire_lock(self.lock, NOWAIT_LOCK):
            with nogil:
                PyThread_acquire_lock(self.lock, WAIT_LOCK)

    def update(self, data, /):
        """Adds data (any contiguous buffer) to the hash."""
        cdef Py_buffer view
        if isinstance(data, str):
            raise TypeError("Strings must be encoded before hashing")
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        self._acquire()
        try:
            if view.len >= GIL_RELEASE_MIN:
                with nogil:
                    bd_blake3_update(&self.state, view.buf, <size_t>view.len)
            else:
                bd_blake3_update(&self.state, view.buf, <size_t>view.len)
        finally:
            PyThread_release_lock(self.lock)
            PyBuffer_Release(&view)
        return None

    def digest(self, length=DIGEST_SIZE):
        """The hash (length bytes: BLAKE3 extends its output to any length)."""
        if length < 0:
            raise errors.InvalidInput(f"digest length must not be negative, not {length}")
        out = bytearray(length)
        cdef unsigned char[::1] view = out
        self._acquire()
        try:
            if length:
                bd_blake3_finalize(&self.state, &view[0], <size_t>length)
        finally:
            PyThread_release_lock(self.lock)
        return bytes(out)

    def hexdigest(self, length=DIGEST_SIZE):
        """The hash as lowercase hex."""
        return self.digest(length).hex()

    def copy(self):
        """An independent copy of this hash in its current state."""
        cdef Blake3 other = Blake3.__new__(Blake3)
        self._acquire()
        try:
            other.state = self.state
        finally:
            PyThread_release_lock(self.lock)
        return other


def hash_many(messages):
    """The BLAKE3 digest of each of messages (bytes-like), in order, in one call without the
    GIL: small messages are hashed together, side by side in the SIMD lanes."""
    cdef Py_ssize_t n = len(messages), i, held = 0
    cdef Py_buffer *views = <Py_buffer *>malloc(max(n, 1) * sizeof(Py_buffer))
    cdef const uint8_t **ptrs = <const uint8_t **>malloc(max(n, 1) * sizeof(uint8_t *))
    cdef size_t *lens = <size_t *>malloc(max(n, 1) * sizeof(size_t))
    cdef bytearray out = bytearray(DIGEST_SIZE * n)
    cdef uint8_t *o = <uint8_t *>(<char *>out) if n else NULL
    try:
        if views == NULL or ptrs == NULL or lens == NULL:
            raise MemoryError()
        for i in range(n):
            if isinstance(messages[i], str):
                raise TypeError("Strings must be encoded before hashing")
            PyObject_GetBuffer(messages[i], &views[i], PyBUF_SIMPLE)
            held += 1
            ptrs[i] = <const uint8_t *>views[i].buf
            lens[i] = <size_t>views[i].len
        with nogil:
            bd_blake3_hash_messages(ptrs, lens, n, o)
        return [bytes(out[i * DIGEST_SIZE:(i + 1) * DIGEST_SIZE]) for i in range(n)]
    finally:
        for i in range(held):
            PyBuffer_Release(&views[i])
        free(lens)
        free(ptrs)
        free(views)


def implementations():
    """Names of the BLAKE3 back ends this build and CPU can run, slowest first."""
    return [bd_blake3_impl_name(<bd_blake3_impl>i).decode() for i in range(BD_BLAKE3_IMPL_COUNT)
            if bd_blake3_impl_available(<bd_blake3_impl>i)]


def implementation():
    """Name of the BLAKE3 back end in use."""
    return bd_blake3_impl_name(bd_blake3_impl_current()).decode()


def use_implementation(name):
    """Makes the whole process hash with the named back end (tests and benchmarks)."""
    cdef bd_error e
    names = [bd_blake3_impl_name(<bd_blake3_impl>i).decode() for i in range(BD_BLAKE3_IMPL_COUNT)]
    if name not in names:
        raise errors.InvalidInput(f"unknown BLAKE3 back end {name!r}; known: {', '.join(names)}")
    bd_error_clear(&e)
    if bd_blake3_use(<bd_blake3_impl>names.index(name), &e) != BD_OK:
        raise_status(&e)


def split_file_path(path):
    """(parent directory, file name) of a file path, as bytes; InvalidInput when it names no file."""
    raw = os.fsencode(path)
    parent, name = os.path.split(raw.rstrip(b"/") or raw)
    if not name or name in (b".", b".."):
        raise errors.InvalidInput(f"not a file path: {os.fsdecode(raw)!r}")
    return parent or b".", name


def hash_file(path, *, threads=None, progress=None):
    """The BLAKE3-256 digest of a regular file (never through a link), large files over all cores."""
    cdef bd_error e
    cdef bd_dir *d = NULL
    cdef bd_status rc
    cdef unsigned char out[32]
    cdef unsigned nthreads = thread_count(threads)
    cdef ProgressRelay relay = ProgressRelay(progress)
    parent, name = split_file_path(path)
    cdef const char *c_name = name
    cdef size_t name_len = len(name)
    bd_error_clear(&e)
    d = open_dir(parent, relay)
    try:
        with nogil:
            rc = bd_hash_file(d, c_name, name_len, nthreads, out, NULL, &relay.c, &e)
    finally:
        bd_dir_close(d)
    if rc != BD_OK:
        raise_failure(&e, relay, parent)
    return (<char *>out)[:32]


cdef object _job_error(const bd_hash_job *job, object root):
    """The BodegaError for a failed job, naming root/path."""
    return job_error(job.status, job.sys_errno, job.op, job.path, job.path_len, root)


def _hash_batch(root, relpaths, threads, progress, bint report, caps=None, bint drop_cached=False):
    """Runs bd_hash_files: one FileHash per path (report), else the digests, raising the first error.

    With caps (bytes per path), the files of at most that size are kept as well: the result
    is then (FileHash, memoryview of the bytes or None) per path.  drop_cached: each file's
    pages leave the page cache once it is hashed.
    """
    cdef bd_error e
    cdef bd_dir *d = NULL
    cdef bd_status rc
    cdef unsigned nthreads = thread_count(threads)
    cdef ProgressRelay relay = ProgressRelay(progress)
    paths = [batch_path(p) for p in relpaths]
    cdef size_t n = len(paths)
    cdef bd_hash_job *jobs = <bd_hash_job *>malloc((n if n else 1) * sizeof(bd_hash_job))
    if jobs == NULL:
        raise MemoryError("cannot allocate the hash jobs")
    cdef bytes root_raw = os.fsencode(root)
    cdef size_t i
    cdef Py_ssize_t cap, total = 0
    cdef unsigned char[::1] arena
    offsets = []
    if caps is not None:
        caps = list(caps)
        if <size_t>len(caps) != n:
            raise errors.InvalidInput("read_files needs one cap per path")
        for cap in caps:
            if cap < 0:
                raise errors.InvalidInput("a cap is a size in bytes, not negative")
            offsets.append(total)
            total += cap
        # Not zero-filled: each file's bytes are written before the view of them is handed out,
        # and no view reaches past them (a batch's memset was 1.4% of a first snapshot's instructions).
        kept = PyByteArray_FromStringAndSize(NULL, total if total else 1)
        arena = kept
    try:
        for i in range(n):
            jobs[i].path = <bytes>paths[i]
            jobs[i].path_len = len(<bytes>paths[i])
            jobs[i].keep = NULL
            jobs[i].keep_cap = 0
            jobs[i].drop_cached = drop_cached
            if caps is not None:
                jobs[i].keep = &arena[0] + <Py_ssize_t>offsets[i]
                jobs[i].keep_cap = <size_t>caps[i]
        bd_error_clear(&e)
        d = open_dir(root_raw, relay)
        try:
            with nogil:
                rc = bd_hash_files(d, jobs, n, nthreads, &relay.c, &e)
        finally:
            bd_dir_close(d)
        if rc != BD_OK:
            raise_failure(&e, relay, root_raw)
        if not report:
            for i in range(n):
                if jobs[i].status != BD_OK:
                    raise _job_error(&jobs[i], root_raw)
            return [(<char *>jobs[i].hash)[:32] for i in range(n)]
        out = []
        for i in range(n):
            if jobs[i].status == BD_OK:
                st = &jobs[i].st
                out.append(FileHash(paths[i], (<char *>jobs[i].hash)[:32], st.size, st.mode, st.mtime_ns, st.ctime_ns,
                                    st.file_id, st.volume_id, None))
            else:
                out.append(FileHash(paths[i], None, None, None, None, None, None, None,
                                    _job_error(&jobs[i], root_raw)))
        if caps is None:
            return out
        view = memoryview(kept)
        return [(fh, view[offsets[i]:offsets[i] + fh.size] if jobs[i].status == BD_OK and jobs[i].kept else None)
                for i, fh in enumerate(out)]
    finally:
        free(jobs)


def hash_files_report(root, relpaths, *, threads=None, progress=None, drop_cached=False):
    """Hashes many files under root on all cores; each result carries its digest or its error.

    drop_cached: the files' pages leave the page cache once hashed (files read once, such
    as a store's fresh clones, then push out nothing a user reads).
    """
    return _hash_batch(root, relpaths, threads, progress, True, None, drop_cached)


def read_files(root, relpaths, caps, *, threads=None, progress=None):
    """Hashes many files under root and keeps the bytes of those no larger than their cap.

    One (FileHash, memoryview or None) per path: the bytes are those the digest was taken
    from, in one shared buffer.
    """
    return _hash_batch(root, relpaths, threads, progress, True, caps)


def hash_files(root, relpaths, *, threads=None, progress=None):
    """The digests of many files under root, in order; raises the first file's error."""
    return _hash_batch(root, relpaths, threads, progress, False)


def _use_from_environment():
    """Honours BODEGA_BLAKE3_IMPL, so benchmarks and tests can pin a back end."""
    name = os.environ.get("BODEGA_BLAKE3_IMPL")
    if name:
        use_implementation(name)


_use_from_environment()
