"""A decoder read ahead by a thread, so decompressing overlaps writing the members."""
from __future__ import annotations

import queue
import threading
from typing import BinaryIO

PIECE = 4 << 20  # decoded bytes per piece
AHEAD = 3        # pieces decoded ahead at most (bounded memory)


class Prefetch:
    """read(n) from a decoded stream that a worker thread keeps AHEAD pieces ahead of; the
    decoder's errors are raised by read, in order, as if it had been read directly.  zlib,
    lzma, bz2 and zstandard release the GIL while they decode."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._q: queue.Queue[bytes | BaseException] = queue.Queue(AHEAD)
        self._stop = threading.Event()
        self._piece, self._at, self._ended = b"", 0, False
        self._thread = threading.Thread(target=self._work, name="bodega-archive-decode", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while not self._stop.is_set():
            try:
                piece: bytes | BaseException = self._stream.read(PIECE)
            except BaseException as exc:  # handed to the reader, raised there
                piece = exc
            while not self._stop.is_set():
                try:
                    self._q.put(piece, timeout=0.1)
                    break
                except queue.Full:
                    continue
            if not isinstance(piece, bytes) or not piece:
                return

    def read(self, n: int = -1) -> bytes:
        """Up to n decoded bytes (a piece with -1); b"" at the end."""
        if self._at >= len(self._piece):
            if self._ended:
                return b""
            got = self._q.get()
            if isinstance(got, BaseException):
                self._ended = True
                raise got
            if not got:
                self._ended = True
                return b""
            self._piece, self._at = got, 0
        end = len(self._piece) if n < 0 else self._at + n
        out = self._piece[self._at:end]
        self._at += len(out)
        return out

    def close(self) -> None:
        """Stops the worker (waiting for the piece it is decoding)."""
        self._stop.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._thread.join()
