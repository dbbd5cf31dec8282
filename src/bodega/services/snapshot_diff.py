"""Diffing a container for a command that starts, diffs and ends: `bodega diff CONTAINER`.

`bodega.open(home).snapshots.diff(...)` loads SQLAlchemy's ORM and every service before it
compares anything.  The common question, the live tree against the newest snapshot, needs
three facts from the catalogue: where the container is, its newest snapshot's manifest root
and whether the hashing threads were set by hand.  When the home needs nothing done at open
(services/direct_read.py), those are read straight from the catalogue file, under the same
rules for naming a container, and the tree is compared with the live manifest the last
snapshot or restore saved beside it.  Anything else (OLD or NEW given, a reference that does
not name exactly one container you may see, no snapshot, a live manifest that is not the
newest snapshot's, so that the store must be read) opens the home the ordinary way, which
gives the answer or the error.  tests/services/test_snapshot_diff.py holds both paths equal.
"""
from __future__ import annotations

import os
import unicodedata
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from bodega.catalogue.sqlite_reader import ContainerPlace, SqliteReader, UserRow
from bodega.home import Home
from bodega.services.container_state import state_dir
from bodega.services.direct_read import read_directly
from bodega.services.id_prefix import id_digits, looks_like_id
from bodega.services.text_input import is_text
from bodega.storage.live_manifest import live_manifest_path

if TYPE_CHECKING:
    from bodega.storage.manifest_diff import Diff

HASH_THREADS_SETTING = "tune.hash_threads"


class LiveSide(NamedTuple):
    """What the catalogue says a live diff needs."""

    container_dir: Path
    newest_root: str        # the newest snapshot's manifest root (hex)
    threads_by_hand: bool   # tune.hash_threads is set: only the settings service reads it


def diff(home: str | os.PathLike[str] | None, container: str, old: str | None = None,
         new: str | None = None) -> Diff:
    """What changed in container, as `bodega.open(home).snapshots.diff(container, old, new)` gives it."""
    if old is None and new is None:
        found = live_diff(Home.at(home), container)
        if found is not None:
            return found
    from bodega.services import open as open_home

    with open_home(home) as b:
        return b.snapshots.diff(container, old, new)


def live_diff(home: Home, container: str) -> Diff | None:
    """The live tree of container against its newest snapshot, without opening the home (None:
    only opening it can answer)."""
    side = read_directly(home, lambda reader, me: _live_side(reader, me, container))
    if side is None or side.threads_by_hand:
        return None
    from bodega.storage import manifest as mf
    from bodega.storage import tuning
    from bodega.storage.manifest_diff import Diff

    threads = tuning.load(home.root).hash_threads or 0
    state = state_dir(side.container_dir)
    tree = side.container_dir / "root"
    live, previous = mf.build_beside(tree, live_manifest_path(state), threads=threads)
    if previous is None or previous.root.hex() != side.newest_root:
        return None  # the newest snapshot's manifest is in the store, which opening the home opens
    return Diff.of_tree(previous, live, tree, threads)


def _live_side(reader: SqliteReader, me: UserRow, ref: str) -> LiveSide | None:
    place = _container(reader, me, ref)
    newest = reader.newest_snapshot(place.key) if place is not None else None
    if place is None or newest is None:
        return None
    return LiveSide(Path(place.storage_path), newest[1], reader.is_set(HASH_THREADS_SETTING))


def _container(reader: SqliteReader, me: UserRow, ref: str) -> ContainerPlace | None:
    """The one container ref names for me, as ContainerService.resolve finds it (None: not
    exactly one, and resolving it says why)."""
    if looks_like_id(ref):  # an id or a prefix of one, among all containers, then may I see it
        keys = reader.container_keys(id_digits(ref))
        found = reader.visible_containers(me, key=keys[0]) if len(keys) == 1 else []
    elif is_text(ref):  # a name: mine first, then those shared with me
        name = unicodedata.normalize("NFC", ref)
        found = reader.visible_containers(me, name=name, own=True) or reader.visible_containers(me, name=name)
    else:
        found = []
    return found[0] if len(found) == 1 else None
