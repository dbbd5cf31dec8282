"""Where a store's pack files live: its own packs/ directory (here), or a remote object store
with a bounded local cache (remote_packs.py).  ObjectStore asks only this of either."""
from __future__ import annotations

import os
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import ContextManager, Iterator, Protocol

from bodega import errors
from bodega.storage import volume
from bodega.storage.pack import PackEntry, read_index
from bodega.storage.tree import File, open_file


class Packs(Protocol):
    """The pack files of a store: listed, indexed, read, added and removed."""

    def names(self) -> set[str]:
        """The packs published now (one listing)."""
        ...

    def index(self, name: str) -> dict[bytes, PackEntry]:
        """A published pack's objects (PackCorrupt when its index is damaged)."""
        ...

    def lease(self, name: str) -> ContextManager[File]:
        """The pack open for reading (File.pread), valid inside the with block."""
        ...

    def add(self, name: str, staged: Path) -> "Future[None] | None":
        """Publishes a finished pack staged in the store's tmp/ (perhaps in the background)."""
        ...

    def settle(self, added: "list[Future[None] | None]") -> None:
        """Waits until the packs add() returned these for are durable and published; raises the
        first failure."""
        ...

    def remove(self, names: list[str]) -> None:
        """Unpublishes and deletes packs (gc, repair: under the exclusive store lock)."""
        ...

    def drop(self, names: set[str]) -> None:
        """Forgets what is kept open or cached of packs that are gone."""
        ...

    def where(self, name: str) -> str:
        """The pack's location, for messages."""
        ...

    def close(self) -> None:
        """Closes what is kept open."""
        ...


class LocalPacks:
    """Packs in a directory: packs/<name>.pack."""

    def __init__(self, directory: Path) -> None:
        self.dir = directory
        self._fds: dict[str, File] = {}

    def path(self, name: str) -> Path:
        """Where a pack lives."""
        return self.dir / f"{name}.pack"

    def names(self) -> set[str]:
        """The pack files in the directory."""
        try:
            return {p[:-5] for p in os.listdir(self.dir) if p.endswith(".pack")}
        except OSError as e:
            raise errors.os_error(e, "list packs", self.dir) from e

    def index(self, name: str) -> dict[bytes, PackEntry]:
        """The pack's index, read from its end."""
        return read_index(self.path(name))

    @contextmanager
    def lease(self, name: str) -> Iterator[File]:
        """The pack kept open for the store's life (pread is thread-safe), never through a link."""
        fd = self._fds.get(name)
        if fd is None:
            fd = open_file(self.path(name))
            kept = self._fds.setdefault(name, fd)
            if kept is not fd:  # another thread opened it first
                fd.close()
                fd = kept
        yield fd

    def add(self, name: str, staged: Path) -> None:
        """Renames the finished pack into the directory (settle() makes the rename durable)."""
        os.rename(staged, self.path(name))
        return None

    def settle(self, added: "list[Future[None] | None]") -> None:
        """Makes the renames of added packs durable."""
        if added:
            volume.fsync_path(self.dir)

    def remove(self, names: list[str]) -> None:
        """Deletes pack files (durably)."""
        self.drop(set(names))
        for name in names:
            self.path(name).unlink(missing_ok=True)
        if names:
            volume.fsync_path(self.dir)

    def drop(self, names: set[str]) -> None:
        """Closes the descriptors of packs that are gone."""
        for name in names & set(self._fds):
            self._fds.pop(name).close()

    def where(self, name: str) -> str:
        """The pack file's path."""
        return str(self.path(name))

    def close(self) -> None:
        """Closes every descriptor kept open."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            fd.close()
