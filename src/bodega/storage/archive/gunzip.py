"""A gzip stream decoded a large piece at a time (gzip.GzipFile decodes 8 KiB per call)."""
from __future__ import annotations

import zlib
from typing import BinaryIO

IN = 1 << 20  # compressed bytes read at a time


class Gunzip:
    """The data of the gzip members in raw, one after another as `gzip -d` reads them; zlib
    checks each member's header, CRC and length.  Damage raises zlib.error, a cut-short
    stream EOFError (what the gzip module raises)."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._d = zlib.decompressobj(wbits=31)
        self._started = False  # the current member has had input
        self._ended = False

    def _next_member(self) -> bool:
        """Starts the member after the one that ended; False at the end of the stream (zero
        padding after the last member is allowed, as gzip allows it)."""
        rest = self._d.unused_data
        while not rest.strip(b"\0"):
            rest = self._raw.read(IN)
            if not rest:
                return False
        self._d = zlib.decompressobj(wbits=31)
        self._pending = rest.lstrip(b"\0")
        return True

    def read(self, n: int = -1) -> bytes:
        """Up to n decoded bytes (n > 0; -1: a large piece); b"" at the end."""
        n = IN if n < 0 else n
        while not self._ended:
            d = self._d
            if d.eof:
                if not self._next_member():
                    self._ended = True
                    break
                data = self._d.decompress(self._pending, n)
                self._pending = b""
            elif d.unconsumed_tail:
                data = d.decompress(d.unconsumed_tail, n)
            else:
                chunk = self._raw.read(IN)
                if not chunk:
                    raise EOFError("Compressed file ended before the end-of-stream marker was reached")
                data = d.decompress(chunk, n)
            if data:
                return data
        return b""
