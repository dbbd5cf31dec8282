"""The layout of a bodega home: where the catalogue, containers, store, exports and staging live.

    $BODEGA_HOME/
      bodega.db                     the catalogue (SQLite, unless BODEGA_DATABASE_URL says otherwise)
      containers/<id>/manifest.json a container's portable metadata
      containers/<id>/root/         a container's file tree
      store/                        content-addressed objects shared by every container
      exports/                      export packages
      tmp/<task-id>/                a task's staging, on the same volume as containers/ so renames work
      host-id                       the name this home goes by among the hosts sharing a catalogue
"""
from __future__ import annotations

import errno
import os
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path

from bodega import errors


def default_home() -> Path:
    """$BODEGA_HOME, else the platform's user data directory followed by `bodega`."""
    env = os.environ.get("BODEGA_HOME")
    if env:
        return Path(env).expanduser()
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or str(Path.home() / "AppData" / "Local")
        return Path(base) / "bodega"
    if sys.platform == "darwin":
        return Path.home() / "Library" / "Application Support" / "bodega"
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share") / "bodega"


@dataclass(frozen=True)
class Home:
    """A bodega home directory and the paths inside it."""

    root: Path

    @classmethod
    def at(cls, root: str | os.PathLike[str] | None = None) -> "Home":
        """The home at root (absolute), or the default home when root is None."""
        if root is None:
            return cls(default_home().absolute())
        text = os.fsdecode(root)
        if not text or "\0" in text:
            raise errors.InvalidInput(f"the home must be a directory's path, not {text!r}")
        try:
            text.encode("utf-8")  # the catalogue records paths under the home as text
        except UnicodeEncodeError:
            raise errors.InvalidInput(f"the home's path {text!r} is not UTF-8 text") from None
        return cls(Path(text).expanduser().absolute())

    @property
    def database(self) -> Path:
        """The SQLite catalogue file."""
        return self.root / "bodega.db"

    @property
    def containers(self) -> Path:
        """The directory holding one directory per container."""
        return self.root / "containers"

    @property
    def store(self) -> Path:
        """The content-addressed object store."""
        return self.root / "store"

    @property
    def exports(self) -> Path:
        """Where export packages are written."""
        return self.root / "exports"

    @property
    def tmp(self) -> Path:
        """Staging for tasks: one directory per task."""
        return self.root / "tmp"

    @property
    def host_file(self) -> Path:
        """The file naming this home's host (written at first use)."""
        return self.root / "host-id"

    def host_id(self) -> str:
        """The host this home is, among the hosts sharing a catalogue: $BODEGA_HOST_ID, else host-id.

        host-id is written once, with the machine's name: renaming the machine later does not
        make its containers another host's.  Two homes of one machine sharing a catalogue are
        two hosts only when one of them is given another id.
        """
        env = os.environ.get("BODEGA_HOST_ID")
        if env:
            return env.strip()
        try:
            return self.host_file.read_text().strip() or _machine_name()
        except FileNotFoundError:
            name = _machine_name()
            staged = self.root / f".host-id.{os.getpid()}"
            try:  # whole or not at all: a concurrent first open reads the name or no file
                staged.write_text(name + "\n")
                os.replace(staged, self.host_file)
            except OSError:
                pass  # a read-only home: the machine's name, unrecorded
            return name

    def container_dir(self, container_id: uuid.UUID) -> Path:
        """A container's directory (manifest.json and root/)."""
        return self.containers / str(container_id)

    def staging_dir(self, task_id: uuid.UUID) -> Path:
        """A task's staging directory."""
        return self.tmp / str(task_id)

    def create(self) -> None:
        """Creates the home and its directories where missing; a StorageError naming what is in the way."""
        for d in (self.root, self.containers, self.store, self.exports, self.tmp):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except FileExistsError:  # exist_ok forgives only a directory: something else is there
                raise errors.storage_error(errno.ENOTDIR, str(d), "cannot use the home") from None
            except OSError as e:
                raise errors.os_error(e, "cannot create the home", d) from None


def _machine_name() -> str:
    """This machine's network name."""
    import socket  # here, not at the top: a home's host id is read from its file but once

    return socket.gethostname()
