"""Where a large file is cut into content-defined chunks for the store (FastCDC)."""
from __future__ import annotations

import threading
from typing import Iterator

MIN_SIZE, AVG_SIZE, MAX_SIZE, LEVEL = 512 << 10, 1 << 20, 4 << 20, 2

try:  # the native chunker (bd_chunk.h)
    from bodega._native import chunk as _native
except ImportError:  # pragma: no cover - until the native chunker lands
    _native = None

if _native is not None and hasattr(_native, "cuts"):
    NAME = f"fastcdc2020/gear-v1/{MIN_SIZE}-{AVG_SIZE}-{MAX_SIZE}/nc{LEVEL}"

    def cuts(data: memoryview) -> Iterator[tuple[int, int]]:
        """(offset, length) of each chunk of data, in order."""
        return iter(_native.cuts(data, MIN_SIZE, AVG_SIZE, MAX_SIZE, LEVEL))
else:
    from pyfastcdc.cy import FastCDC as _FastCDC

    NAME = f"pyfastcdc/{MIN_SIZE}-{AVG_SIZE}-{MAX_SIZE}/nc{LEVEL}"
    _local = threading.local()  # a FastCDC object is not thread-safe

    def cuts(data: memoryview) -> Iterator[tuple[int, int]]:
        """(offset, length) of each chunk of data, in order."""
        cutter = getattr(_local, "cutter", None)
        if cutter is None:
            cutter = _local.cutter = _FastCDC(AVG_SIZE, min_size=MIN_SIZE, max_size=MAX_SIZE,
                                              normalized_chunking=LEVEL)
        for c in cutter.cut_buf(data):
            yield c.offset, c.length
