"""Flushing a volume in the background while a restore writes to it.

The kernel writes dirty pages back on its own only after about 30 s or once a tenth of the
memory is dirty, so a restore of a tree of small files would otherwise leave every byte it
wrote to the one flush before its journal's commit, with the disk idle until then.  A
thread that flushes the volume every fraction of a second while the files are written
overlaps that writing-back with the writing, and the flush before the commit finds little
left.  It changes nothing of what is durable when: that last flush still comes before the
commit.  A flush reports a writeback error once per open handle, and a handle opened later
may never see one an earlier flush saw, so an error of a background flush fails the block.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator, Protocol

from bodega._native import features

EVERY_S = 0.2  # seconds between two background flushes


class Flushable(Protocol):
    """What can flush its volume (a storage.tree.Dir)."""

    def sync_volume(self) -> bool: ...


@contextmanager
def flushing(d: Flushable, every_s: float | None = None) -> Iterator[None]:
    """Flushes d's volume every every_s seconds (default EVERY_S) on a thread while the block
    runs; raises, when the block ends, the first error a flush met.  Nothing where the system
    cannot flush a volume in one call (there each file is flushed before the commit)."""
    every_s = EVERY_S if every_s is None else every_s
    if "syncfs" not in features:
        yield
        return
    stop = threading.Event()
    failed: list[BaseException] = []

    def run() -> None:
        while not stop.wait(every_s):
            try:
                if not d.sync_volume():
                    return
            except BaseException as exc:  # noqa: BLE001 - raised in the block's thread, below
                failed.append(exc)
                return

    thread = threading.Thread(target=run, name="bodega-flusher", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
    if failed:
        raise failed[0]
