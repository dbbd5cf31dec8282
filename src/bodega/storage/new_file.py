"""Creating a file that must not exist yet, and removing it again if filling it fails."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from bodega import errors
from bodega._native.tree import Dir, File


def remove_quietly(path: str | bytes | os.PathLike) -> None:
    """Removes path if it is there; a path already gone is not an error."""
    try:
        os.unlink(path)
    except OSError:
        pass


@contextmanager
def removed_on_failure(dest: str | bytes | os.PathLike, op: str) -> Iterator[None]:
    """Removes dest when the body fails; an OSError becomes a StorageError naming dest and op."""
    try:
        yield
    except BaseException as e:
        remove_quietly(dest)
        if isinstance(e, OSError) and not isinstance(e, errors.BodegaError):
            raise errors.os_error(e, op, os.fsdecode(dest)) from e
        raise


@contextmanager
def new_file(dest: str | bytes | os.PathLike, op: str) -> Iterator[File]:
    """Creates dest (exclusive, never through a link; owner-only until the caller sets its mode)
    and yields it open for writing.

    When the body fails dest is removed, and an OSError becomes a StorageError naming dest and op.
    """
    path = Path(os.fsdecode(dest))
    try:
        with Dir.open(path.parent) as d:
            f = d.create_at(path.name)
    except OSError as e:
        raise errors.os_error(e, op, os.fsdecode(dest)) from e
    try:
        with removed_on_failure(dest, op):
            yield f
    finally:
        f.close()
