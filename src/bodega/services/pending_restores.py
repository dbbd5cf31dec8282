"""PendingRestores: the markers of restores in progress, which recovery at open looks at."""
from __future__ import annotations

import errno
import os
import uuid
from pathlib import Path

from bodega import errors
from bodega.home import Home
from bodega.storage.tree import Tree, remove_quietly

DIRECTORY = "restores"  # in the home's tmp/


class PendingRestores:
    """One small file per container with a restore in progress, naming its task: what recovery
    looks at when a home opens (a directory listing, whatever the number of containers)."""

    def __init__(self, where: Path) -> None:
        self.where = where

    @classmethod
    def of(cls, home: Home) -> "PendingRestores":
        """The markers of a home (in its staging directory)."""
        return cls(home.tmp / DIRECTORY)

    def mark(self, container_id: uuid.UUID, task_id: uuid.UUID) -> None:
        """Records, durably, that task restores container."""
        try:
            self.where.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise errors.os_error(e, "mkdir", self.where) from e
        with Tree.open(self.where) as t:
            name, tmp = str(container_id).encode(), f"{container_id}.tmp".encode()
            if t.lstat(tmp) is not None:
                t.remove(tmp)
            try:
                t.write_file(tmp, str(task_id).encode(), mode=0o600, sync=True)
                t.rename(tmp, name)
            except errors.BodegaError:
                remove_quietly(t.root, tmp)  # the restore fails here: nothing of its marker stays
                raise
            t.sync()

    def unmark(self, container_id: uuid.UUID) -> None:
        """Forgets container's marker."""
        if not self.where.is_dir():
            return
        with Tree.open(self.where) as t:
            for name in (str(container_id).encode(), f"{container_id}.tmp".encode()):  # and one torn by a crash
                if t.lstat(name) is not None:
                    t.remove(name)
                    t.sync()

    def task(self, container_id: uuid.UUID) -> str | None:
        """The task marked on container, if any."""
        path = self.where / str(container_id)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            return None
        except OSError as e:
            raise errors.os_error(e, "read marker", path) from e
        try:
            return data.decode().strip() or None
        except UnicodeDecodeError:  # a marker bodega did not write: as unreadable as a bad sector
            raise errors.storage_error(errno.EIO, str(path), "read marker") from None

    def all(self) -> list[tuple[uuid.UUID, str | None]]:
        """(container id, task id) of every marker."""
        try:
            names = os.listdir(self.where)
        except (FileNotFoundError, NotADirectoryError):
            return []
        except OSError as e:
            raise errors.os_error(e, "list", self.where) from e
        out = []
        for name in names:
            try:
                container_id = uuid.UUID(name)
            except ValueError:
                continue  # a .tmp left by a crash, or not ours
            out.append((container_id, self.task(container_id)))
        return out
