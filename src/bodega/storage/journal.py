"""Journals of tasks that change the store and the catalogue together (docs/store.md, "Journals").

A task writes its journal (what it is changing in the store) before its catalogue
transaction and removes it once the store agrees with the catalogue; meanwhile it holds the
journal file's lock.  The lock goes with the process, so a journal whose lock can be taken
belongs to a task that stopped: whoever finds one completes it, forward when the catalogue
transaction committed, back when it did not.  Opening a home lists this directory only
(empty but for crashes): its cost does not grow with the store.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from bodega import errors
from bodega._native.tree import Dir, File
from bodega.storage import volume

DIRECTORY = "journal"  # in the store
SUFFIX = ".json"


@dataclass
class Journal:
    """One task's journal, locked by this process while it is open."""

    path: Path
    doc: dict[str, Any]
    _file: File

    def close(self, done: bool) -> None:
        """Releases the journal; done=True removes it first (the store agrees with the catalogue)."""
        try:
            if done:
                self.path.unlink(missing_ok=True)
                volume.fsync_path(self.path.parent)
        except OSError as e:
            raise errors.os_error(e, "remove journal", self.path) from e
        finally:
            self._file.close()  # releases the lock


class Journals:
    """The journal directory of a store (store_root/journal)."""

    def __init__(self, store_root: Path) -> None:
        self.dir = store_root / DIRECTORY

    def begin(self, name: str, doc: dict[str, Any]) -> Journal:
        """Writes and locks a new journal (durable before this returns); close(done=True) removes it."""
        path = self.dir / f"{name}{SUFFIX}"
        try:
            self.dir.mkdir(exist_ok=True)
            with Dir.open(self.dir) as d:
                f = d.create_at(path.name)  # exclusive, never through a link
        except OSError as e:
            raise errors.os_error(e, "write journal", path) from e
        try:
            # Locked before a byte is written: a reader never takes a journal being written
            # for an abandoned one.  One that is torn was abandoned before its task committed.
            volume.lock_file(f, True, 0, what=f"journal {path}")
            f.set_meta(mode=0o644)
            f.write(json.dumps(doc, sort_keys=True).encode())
            f.sync()
            volume.fsync_path(self.dir)
        except BaseException as e:
            path.unlink(missing_ok=True)
            f.close()
            if isinstance(e, OSError):
                raise errors.os_error(e, "write journal", path) from e
            raise
        return Journal(path, doc, f)

    def present(self) -> bool:
        """Whether any journal is there (its task running, or stopped and not yet completed)."""
        try:
            return any(n.endswith(SUFFIX) for n in os.listdir(self.dir))
        except FileNotFoundError:
            return False
        except OSError as e:
            raise errors.os_error(e, "list journals", self.dir) from e

    def abandoned(self) -> Iterator[Journal]:
        """The journals no live process holds, each locked by this one until the caller closes it.

        A journal too damaged to read comes with an empty doc: its task never committed.
        """
        try:
            names = sorted(n for n in os.listdir(self.dir) if n.endswith(SUFFIX))
        except FileNotFoundError:
            return
        except OSError as e:
            raise errors.os_error(e, "list journals", self.dir) from e
        for name in names:
            path = self.dir / name
            try:
                with Dir.open(self.dir) as d:
                    f = d.open_read_at(name)  # a lock needs no write access; never through a link
            except FileNotFoundError:
                continue  # its task finished meanwhile
            except OSError as e:
                raise errors.os_error(e, "open journal", path) from e
            try:
                if not f.lock(True):
                    f.close()
                    continue  # its task is running
                if f.stat().nlink == 0:
                    f.close()
                    continue  # removed by its task between our open and our lock
                raw = f.read()
            except OSError as e:
                f.close()
                raise errors.os_error(e, "read journal", path) from e
            try:
                doc = json.loads(raw)
            except ValueError:
                doc = {}
            yield Journal(path, doc if isinstance(doc, dict) else {}, f)
