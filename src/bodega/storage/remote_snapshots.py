"""Snapshot files of a remote store, mirrored in the local store's snapshots/ directory.

The remote holds `snapshots/<id>.snap`; the snapshot engine reads the local mirror.  A
snapshot is uploaded before it appears in the mirror (so a host never lists a snapshot the
store lacks) and removed from the store before the mirror; pull() brings the mirror in step
with the store's listing: files other hosts added or rewrote (a forget rebases deltas in
place: their entity tag changes) are fetched, files the store no longer has are removed.
Each file's entity tag is kept in `.remote.json`; the mirror changes under the lock file
`.lock`, so the processes of one host never interleave their changes to it.
"""
from __future__ import annotations

import json
import os
import secrets
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from bodega import errors
from bodega.storage import volume
from bodega.storage.remote import Remote

PREFIX = "snapshots/"
SUFFIX = ".snap"


class SnapshotMirror:
    """A store's snapshot files: in a remote, and mirrored in directory."""

    def __init__(self, remote: Remote, directory: Path) -> None:
        self.remote = remote
        self.dir = directory  # arriving files are staged in it as .<pid>-<random>.part (never listed)
        self._tags = directory / ".remote.json"

    @contextmanager
    def _locked(self, timeout: float | None = None) -> Iterator[dict[str, str]]:
        """The mirror's entity tags, under its lock; written back when the block ends."""
        self.dir.mkdir(parents=True, exist_ok=True)
        with volume.open_lock_file(self.dir / ".lock") as f:  # closing the file releases the lock
            volume.lock_file(f, True, timeout, what=f"snapshot mirror {self.dir}")
            try:
                tags = json.loads(self._tags.read_text())
            except (FileNotFoundError, ValueError):
                tags = {}
            before = dict(tags)
            yield tags
            if tags != before:
                staged = self._part()
                staged.write_text(json.dumps(tags, sort_keys=True))
                os.replace(staged, self._tags)

    def _part(self) -> Path:
        return self.dir / f".{os.getpid()}-{secrets.token_hex(8)}.part"

    def _key(self, sid: str) -> str:
        return f"{PREFIX}{sid}{SUFFIX}"

    def _path(self, sid: str) -> Path:
        return self.dir / f"{sid}{SUFFIX}"

    def pull(self, wait: bool = True) -> None:
        """Brings the mirror in step with the store (one listing; fetches what changed).

        wait=False gives up when another process of this host is changing the mirror (then
        it is as fresh as that process makes it, and a snapshot it lacks is fetched when
        read); gc waits, under the exclusive store lock, which no publisher holds.
        """
        listing = {k[len(PREFIX):-len(SUFFIX)]: o.etag for k, o in self.remote.list(PREFIX).items()
                   if k.endswith(SUFFIX)}
        try:
            with self._locked(None if wait else 0) as tags:
                self._apply(listing, tags)
        except errors.StoreBusy:
            if wait:
                raise

    def _apply(self, listing: dict[str, str], tags: dict[str, str]) -> None:
        """Makes the mirror the listing's (id -> entity tag)."""
        local = {p.name[:-len(SUFFIX)] for p in self.dir.iterdir() if p.name.endswith(SUFFIX)}
        for sid in sorted(local - set(listing)):
            self._path(sid).unlink(missing_ok=True)
            tags.pop(sid, None)
        for sid, etag in sorted(listing.items()):
            if sid not in local or tags.get(sid) != etag:
                self._download(sid, tags)

    def _download(self, sid: str, tags: dict[str, str]) -> bool:
        staged = self._part()
        try:
            tags[sid] = self.remote.get_to(self._key(sid), staged)
        except errors.NotFound:
            tags.pop(sid, None)
            return False
        os.replace(staged, self._path(sid))
        return True

    def fetch(self, sid: str) -> bool:
        """Fetches one snapshot file the mirror lacks; False when the store has none."""
        with self._locked() as tags:
            return self._path(sid).exists() or self._download(sid, tags)

    def publish(self, sid: str, staged: Path, final: Path) -> None:
        """Uploads a staged snapshot file, then renames it into the mirror (FileNotFoundError when
        it is not staged: published already)."""
        with self._locked() as tags:
            if not staged.exists():
                raise FileNotFoundError(staged)
            tags[sid] = self.remote.put_file(self._key(sid), staged)
            os.replace(staged, final)

    def remove(self, sids: Iterable[str]) -> None:
        """Removes snapshot files from the store, then from the mirror."""
        sids = list(sids)
        if not sids:
            return
        with self._locked() as tags:
            self.remote.delete([self._key(sid) for sid in sids])
            for sid in sids:
                self._path(sid).unlink(missing_ok=True)
                tags.pop(sid, None)
