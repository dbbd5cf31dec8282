"""The home's object store: its own directory, or a remote store ($BODEGA_STORE_URL) that the
hosts sharing a catalogue server share too, locked across them by the catalogue."""
from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import TYPE_CHECKING, Any

from bodega import errors
from bodega.storage.remote import open_remote, store_url
from bodega.storage.store import ObjectStore

if TYPE_CHECKING:
    from bodega.services import Bodega


def open_store(bodega: "Bodega") -> ObjectStore:
    """The store of bodega's home, remote when $BODEGA_STORE_URL names one."""
    url = store_url()
    t = bodega.tuning
    if url is None:
        return ObjectStore(bodega.home.store, zstd_level=t.zstd_level, pack_max=t.pack_max)
    remote = open_remote(url)
    fleet = FleetLock(bodega, f"bodega store {remote.url}") if bodega.catalogue.shared else None
    return ObjectStore(bodega.home.store, remote=remote, fleet_lock=fleet, zstd_level=t.zstd_level, pack_max=t.pack_max)


class FleetLock:
    """The store lock across hosts: an advisory lock of the catalogue server, shared by writers
    and readers, exclusive for gc.  A process takes the shared lock once, whatever the number
    of its threads holding it: a second acquisition queued behind a waiting gc would wait for
    the first, which waits for it."""

    def __init__(self, bodega: "Bodega", name: str) -> None:
        self._catalogue = bodega.catalogue
        self._name = name
        self._mutex = threading.Lock()
        self._shared: AbstractContextManager[Any] | None = None
        self._holders = 0
        self.holder: Any = None  # the lock's holder while held: still_held() asks the server

    def __call__(self, exclusive: bool, timeout: float | None) -> AbstractContextManager[object]:
        return self._exclusive(timeout) if exclusive else self._shared_lock(timeout)

    def _enter(self, shared: bool, timeout: float | None) -> tuple[AbstractContextManager[Any], Any]:
        cm = self._catalogue.advisory_lock(self._name, shared=shared, timeout=timeout)
        try:
            return cm, cm.__enter__()
        except errors.DatabaseLocked:
            kind = "shared" if shared else "exclusively"
            raise errors.StoreBusy(f"the store is in use on another host: cannot lock it {kind} "
                                   f"(waited {timeout or 0:g} s)") from None

    @contextmanager
    def _exclusive(self, timeout: float | None) -> Iterator[object]:
        cm, holder = self._enter(False, timeout)
        try:
            yield holder
        finally:
            cm.__exit__(None, None, None)

    @contextmanager
    def _shared_lock(self, timeout: float | None) -> Iterator[object]:
        with self._mutex:
            if self._holders == 0:
                self._shared, self.holder = self._enter(True, timeout)
            self._holders += 1
        try:
            yield self.holder
        finally:
            with self._mutex:
                self._holders -= 1
                if self._holders == 0 and self._shared is not None:
                    shared, self._shared, self.holder = self._shared, None, None
                    shared.__exit__(None, None, None)
