"""Work read ahead by a thread, so decompressing overlaps writing the members."""
from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import BinaryIO, Generic, TypeVar

PIECE = 4 << 20  # decoded bytes per piece
AHEAD = 3        # pieces decoded ahead at most (bounded memory)

T = TypeVar("T")
_END = object()


class Ahead(Generic[T]):
    """The items of an iterator, made by a worker thread at most `ahead` items ahead of the
    reader; an exception the iterator raises is raised by next(), in order.  zlib, ISA-L,
    lzma, bz2 and zstandard release the GIL while they decode."""

    def __init__(self, items: Iterator[T], ahead: int, name: str) -> None:
        self._items = items
        self._q: queue.Queue[object] = queue.Queue(ahead)
        self._stop = threading.Event()
        self._ended = False
        self._thread = threading.Thread(target=self._work, name=name, daemon=True)
        self._thread.start()

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(_END)
        except BaseException as exc:  # handed to the reader, raised there
            self._put(exc)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()  # a generator's cleanup runs here, on its own thread

    def __iter__(self) -> "Ahead[T]":
        return self

    def __next__(self) -> T:
        if self._ended:
            raise StopIteration
        got = self._q.get()
        if got is _END or isinstance(got, BaseException):
            self._ended = True
            if got is _END:
                raise StopIteration
            raise got
        return got  # type: ignore[return-value]

    def close(self) -> None:
        """Stops the worker (waiting for the item it is making)."""
        self._stop.set()
        while True:
            try:
                self._q.get_nowait()
            except queue.Empty:
                break
        self._thread.join()


def _pieces(stream: BinaryIO) -> Iterator[bytes]:
    while True:
        piece = stream.read(PIECE)
        yield piece
        if not piece:
            return


class Prefetch:
    """read(n) from a decoded stream that a worker thread keeps AHEAD pieces ahead of; the
    decoder's errors are raised by read, in order, as if it had been read directly."""

    def __init__(self, stream: BinaryIO) -> None:
        self._ahead = Ahead(_pieces(stream), AHEAD, "bodega-archive-decode")
        self._piece, self._at, self._ended = b"", 0, False

    def read(self, n: int = -1) -> bytes:
        """Up to n decoded bytes (a piece with -1); b"" at the end."""
        if self._at >= len(self._piece):
            if self._ended:
                return b""
            try:
                got = next(self._ahead, b"")
            except BaseException:
                self._ended = True
                raise
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
        self._ahead.close()
