"""The members of a tar stream, read from buffers the caller fills (cffi back end of tar.pyx).

read() takes what is whole in a buffer and says how much it used; names are raw bytes, and
a damaged header is errors.ArchiveCorrupt.  Nothing here judges a name: unpack does.
"""
from __future__ import annotations

from bodega import errors
from bodega._native.cffi_backend._bd import ffi, lib
from bodega._native.cffi_backend._status import new_error, raise_status

_BATCH = 4096


class TarReader:
    """The state of one tar stream between buffers (extended headers waiting for their member)."""

    def __init__(self) -> None:
        self._t = ffi.gc(ffi.new("bd_tar *"), lib.bd_tar_free)
        self._out = ffi.new("bd_tar_member[]", _BATCH)

    @property
    def ended(self) -> bool:
        """True once the end-of-archive block was read."""
        return bool(self._t.ended)

    def read(self, buf: object, eof: bool, max_whole: int) -> tuple[list, int, int]:
        """(members, used, need) from buf: members as (type, name, link, mode, mtime_ns, size,
        data_off, data_whole); used: bytes consumed; need: bytes the next member needs from
        used (0: none).  A file larger than max_whole comes without its data (data_whole
        False): the caller reads size bytes and the padding to 512 before calling again."""
        view = ffi.from_buffer("unsigned char[]", buf)
        count, used, need = ffi.new("size_t *"), ffi.new("size_t *"), ffi.new("size_t *")
        e = new_error()
        rc = lib.bd_tar_read(self._t, view if len(view) else ffi.NULL, len(view), bool(eof), max_whole, self._out,
                             _BATCH, count, used, need, e)
        if rc != lib.BD_OK:
            if rc == lib.BD_E_CORRUPT:
                name = ffi.string(e.path).decode("utf-8", "backslashreplace") if e.path[0] != b"\0" else None
                raise errors.ArchiveCorrupt(ffi.string(e.op).decode(), member=name)
            raise_status(e)
        names = ffi.buffer(self._t.names, self._t.names_len)[:] if count[0] else b""
        members = []
        for i in range(count[0]):
            m = self._out[i]
            # a C char is bytes to cffi, an int to Cython: the type goes out as its code, as from tar.pyx
            members.append((ord(m.type), names[m.name_off:m.name_off + m.name_len],
                            names[m.link_off:m.link_off + m.link_len], m.mode, m.mtime_ns, m.size, m.data_off,
                            bool(m.data_whole)))
        return members, used[0], need[0]
