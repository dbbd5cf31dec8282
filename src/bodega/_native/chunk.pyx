# chunk.pyx: FastCDC content-defined chunking of streams and files, without the GIL.

from cpython.buffer cimport PyBUF_SIMPLE, PyObject_GetBuffer, PyBuffer_Release
from libc.stdint cimport uint8_t
from libc.stdlib cimport free, realloc

from bodega import errors
from bodega._native.bd cimport (
    bd_error, bd_error_clear, bd_status, BD_OK, bd_dir, bd_dir_close, bd_chunk_params, bd_chunk_params_check,
    bd_chunker, bd_chunker_init, bd_chunker_find, bd_chunk, bd_chunk_file, BD_CHUNK_GEAR_VERSION, BD_CHUNK_MIN_DEFAULT, BD_CHUNK_AVG_DEFAULT,
    BD_CHUNK_MAX_DEFAULT, BD_CHUNK_LEVEL_DEFAULT,
)
from bodega._native._progress cimport ProgressRelay, raise_failure
from bodega._native.hash import split_file_path
from bodega._native._batch cimport open_dir

GEAR_VERSION = BD_CHUNK_GEAR_VERSION
MIN_SIZE = BD_CHUNK_MIN_DEFAULT
AVG_SIZE = BD_CHUNK_AVG_DEFAULT
MAX_SIZE = BD_CHUNK_MAX_DEFAULT
LEVEL = BD_CHUNK_LEVEL_DEFAULT

from bodega._native.values import Chunk, ChunkedFile


cdef bd_chunk_params _params(min_size, avg_size, max_size, level) except *:
    """C chunk parameters, checked (InvalidInput naming the rule that is broken)."""
    cdef bd_chunk_params p
    cdef bd_error e
    for name, value in (("min_size", min_size), ("avg_size", avg_size), ("max_size", max_size), ("level", level)):
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 2 ** 32:
            raise errors.InvalidInput(f"chunk {name} must be an integer from 0 to 2**32-1, not {value!r}")
    p.min_size, p.avg_size, p.max_size, p.level = min_size, avg_size, max_size, level
    bd_error_clear(&e)
    if bd_chunk_params_check(&p, &e) != BD_OK:
        raise errors.InvalidInput(f"{e.op.decode()} (min {min_size}, avg {avg_size}, max {max_size}, level {level})")
    return p


def chunker_id(*, min_size=MIN_SIZE, avg_size=AVG_SIZE, max_size=MAX_SIZE, level=LEVEL):
    """The name a store records with chunks: every parameter the cut points depend on."""
    _params(min_size, avg_size, max_size, level)
    return f"fastcdc2020/gear-v{GEAR_VERSION}/{min_size}-{avg_size}-{max_size}/nc{level}"


cdef struct cut_list:
    size_t *lengths
    size_t n
    size_t cap


cdef int _push_cut(cut_list *cuts, size_t length) noexcept nogil:
    """Appends a chunk length; -1 when out of memory."""
    cdef size_t *grown
    if cuts.n == cuts.cap:
        cuts.cap = cuts.cap * 2 if cuts.cap else 64
        grown = <size_t *>realloc(cuts.lengths, cuts.cap * sizeof(size_t))
        if grown == NULL:
            return -1
        cuts.lengths = grown
    cuts.lengths[cuts.n] = length
    cuts.n += 1
    return 0


cdef size_t _cut_all(bd_chunker *c, const uint8_t *data, size_t length, int at_end, cut_list *cuts) noexcept nogil:
    """Cuts data into chunks until it needs more; returns the bytes consumed (-1: no memory)."""
    cdef size_t done = 0, cut
    while True:
        cut = bd_chunker_find(c, data + done, length - done, at_end)
        if cut == 0:
            return done
        if _push_cut(cuts, cut) < 0:
            return <size_t>-1
        done += cut


cdef class Chunker:
    """Finds FastCDC cut points in a stream fed in pieces of any size."""

    cdef bd_chunker c
    cdef bytes pending        # bytes after the last cut
    cdef unsigned long long offset  # stream offset of pending[0]
    cdef bint busy            # a call is cutting without the GIL

    def __init__(self, *, min_size=MIN_SIZE, avg_size=AVG_SIZE, max_size=MAX_SIZE, level=LEVEL):
        cdef bd_chunk_params p = _params(min_size, avg_size, max_size, level)
        bd_chunker_init(&self.c, &p, NULL)
        self.pending = b""
        self.offset = 0

    @property
    def id(self):
        """The chunker's name with its parameters (see chunker_id)."""
        p = self.c.params
        return chunker_id(min_size=p.min_size, avg_size=p.avg_size, max_size=p.max_size, level=p.level)

    cdef list _cut(self, object data, int at_end):
        cdef Py_buffer view
        cdef cut_list cuts
        cdef size_t done
        cuts.lengths = NULL
        cuts.n = cuts.cap = 0
        if isinstance(data, str):
            raise TypeError("Strings must be encoded before chunking")
        if self.busy:
            raise errors.InvalidInput("a Chunker was fed from two threads at once")
        if self.pending:
            data = self.pending + bytes(data)  # a cut needs the chunk's bytes in one piece
        PyObject_GetBuffer(data, &view, PyBUF_SIMPLE)
        self.busy = True
        try:
            with nogil:
                done = _cut_all(&self.c, <const uint8_t *>view.buf, <size_t>view.len, at_end, &cuts)
            if done == <size_t>-1:
                raise MemoryError("cannot grow the list of chunks")
            out = []
            for i in range(cuts.n):
                out.append((self.offset, cuts.lengths[i]))
                self.offset += cuts.lengths[i]
            self.pending = bytes((<const char *>view.buf)[done:view.len]) if <size_t>view.len > done else b""
            return out
        finally:
            self.busy = False
            free(cuts.lengths)
            PyBuffer_Release(&view)

    def update(self, data, /):
        """Adds data; returns the (offset, length) of each chunk it completed."""
        return self._cut(data, 0)

    def finish(self):
        """Ends the stream; returns the (offset, length) of the chunks left."""
        out = self._cut(b"", 1)
        self.offset = 0
        return out


cdef struct chunk_list:
    bd_chunk *items
    size_t n
    size_t cap
    int out_of_memory


cdef int _collect(void *ctx, const bd_chunk *chunk, const uint8_t *data) noexcept nogil:
    """bd_chunk_fn that keeps every chunk (without the GIL)."""
    cdef chunk_list *chunks = <chunk_list *>ctx
    cdef bd_chunk *grown
    if chunks.n == chunks.cap:
        chunks.cap = chunks.cap * 2 if chunks.cap else 64
        grown = <bd_chunk *>realloc(chunks.items, chunks.cap * sizeof(bd_chunk))
        if grown == NULL:
            chunks.out_of_memory = 1
            return 1
        chunks.items = grown
    chunks.items[chunks.n] = chunk[0]
    chunks.n += 1
    return 0


def chunk_file(path, *, min_size=MIN_SIZE, avg_size=AVG_SIZE, max_size=MAX_SIZE, level=LEVEL, progress=None):
    """Cuts a regular file (never through a link) into chunks in one read, hashing each and the file."""
    cdef bd_chunk_params p = _params(min_size, avg_size, max_size, level)
    cdef bd_error e
    cdef bd_dir *d = NULL
    cdef bd_status rc
    cdef chunk_list chunks
    cdef unsigned char digest[32]
    cdef ProgressRelay relay = ProgressRelay(progress)
    parent, name = split_file_path(path)
    cdef const char *c_name = name
    cdef size_t name_len = len(name)
    chunks.items = NULL
    chunks.n = chunks.cap = 0
    chunks.out_of_memory = 0
    bd_error_clear(&e)
    d = open_dir(parent, relay)
    try:
        with nogil:
            rc = bd_chunk_file(d, c_name, name_len, &p, _collect, &chunks, digest, NULL, &relay.c, &e)
            bd_dir_close(d)
        if chunks.out_of_memory:
            raise MemoryError("cannot grow the list of chunks")
        if rc != BD_OK:
            raise_failure(&e, relay, parent)
        out = [Chunk(chunks.items[i].offset, chunks.items[i].length, (<char *>chunks.items[i].hash)[:32])
               for i in range(chunks.n)]
        return ChunkedFile((<char *>digest)[:32], sum(c.length for c in out), out)
    finally:
        free(chunks.items)
