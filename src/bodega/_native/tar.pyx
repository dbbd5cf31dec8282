# tar.pyx: tar headers read by the native core (bd_tar.h), a buffer at a time.
"""The members of a tar stream, read from buffers the caller fills (bodega.storage.archive.tar_reader).

read() takes what is whole in a buffer and says how much it used; names are raw bytes, and
a damaged header is errors.ArchiveCorrupt.  Nothing here judges a name: unpack does.
"""
from libc.stdlib cimport malloc, free
from libc.string cimport memset

from bodega import errors

from bodega._native.bd cimport bd_error, bd_error_clear, bd_status, BD_OK, BD_E_CORRUPT, bd_tar, bd_tar_member, \
    bd_tar_read, bd_tar_free
from bodega._native._status cimport raise_status

cdef size_t BATCH = 4096


cdef class TarReader:
    """The state of one tar stream between buffers (extended headers waiting for their member)."""

    cdef bd_tar t
    cdef bd_tar_member *out

    def __cinit__(self):
        memset(&self.t, 0, sizeof(bd_tar))
        self.out = <bd_tar_member *>malloc(BATCH * sizeof(bd_tar_member))
        if self.out == NULL:
            raise MemoryError()

    def __dealloc__(self):
        bd_tar_free(&self.t)
        free(self.out)

    @property
    def ended(self):
        """True once the end-of-archive block was read."""
        return bool(self.t.ended)

    def read(self, const unsigned char[::1] buf, bint eof, size_t max_whole):
        """(members, used, need) from buf: members as (type, name, link, mode, mtime_ns, size,
        data_off, data_whole); used: bytes consumed; need: bytes the next member needs from
        used (0: none).  A file larger than max_whole comes without its data (data_whole
        False): the caller reads size bytes and the padding to 512 before calling again."""
        cdef size_t count = 0, used = 0, need = 0, i
        cdef size_t n = buf.shape[0]
        cdef const unsigned char *p = &buf[0] if n else NULL
        cdef bd_error e
        cdef bd_status rc
        cdef bd_tar_member *m
        bd_error_clear(&e)
        with nogil:
            rc = bd_tar_read(&self.t, p, n, eof, max_whole, self.out, BATCH, &count, &used, &need, &e)
        if rc != BD_OK:
            if rc == BD_E_CORRUPT:
                name = e.path.decode("utf-8", "backslashreplace") if e.path[0] else None
                raise errors.ArchiveCorrupt(e.op.decode(), member=name)
            raise_status(&e)
        names = self.t.names[:self.t.names_len] if count else b""
        members = []
        for i in range(count):
            m = &self.out[i]
            # the type flag's byte as 0..255 (a C char may be signed: a hostile 0xE9 is not -23)
            members.append((<unsigned char>m.type, names[m.name_off:m.name_off + m.name_len],
                            names[m.link_off:m.link_off + m.link_len], m.mode, m.mtime_ns, m.size, m.data_off,
                            bool(m.data_whole)))
        return members, used, need
