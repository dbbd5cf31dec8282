"""Packs kept in a remote object store (S3), with a bounded local cache of recently used ones.

Remote layout (docs/store.md, "Remote stores"):

    packs/<name>.pack    the pack, byte for byte as in a local store
    packs/<name>.idx     its index object: magic BODEGAIX | pack size (u64 LE) | BLAKE3 of the
                         pack (32 B) | the pack's index rows and trailer, as at its end

A pack is written and sealed locally (PackWriter), then uploaded (in parts when large), then
its index object: a pack is published by its index object, which exists only once the pack
is whole in the store, so readers (which list index objects) never see half a pack.  The
writer waits for its uploads (settle) before it writes the snapshot that names them.

Reads fetch a whole pack once into the cache (one request per pack, checked against the
BLAKE3 its index object names: a cut or damaged transfer is fetched again, then refused
clearly) and read records from the local copy.  The cache keeps packs up to a byte budget
($BODEGA_STORE_CACHE_MB, default 2048), dropping the least recently used ones that nobody
reads at the moment; index objects are kept (64 bytes per object).
"""
from __future__ import annotations

import os
import secrets
import struct
import threading
import time
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from bodega import errors
from bodega._native.hash import hash_file
from bodega.storage.pack import PackEntry, index_of_tail, read_tail
from bodega.storage.remote import Remote, TransferDamaged, env_number
from bodega.storage.tree import File, open_file

INDEX_MAGIC = b"BODEGAIX"
INDEX_HEAD = struct.Struct("<8sQ32s")
DEFAULT_CACHE_MB = 2048
UPLOADERS = 2  # packs uploaded at once, while the writer fills the next one


def cache_budget() -> int:
    """Bytes of packs the local cache keeps: $BODEGA_STORE_CACHE_MB MiB, default 2048."""
    return int(env_number("BODEGA_STORE_CACHE_MB", DEFAULT_CACHE_MB) * (1 << 20))


def index_object(pack: Path, tail: bytes) -> bytes:
    """The index object of a sealed pack whose index rows and trailer are tail."""
    return INDEX_HEAD.pack(INDEX_MAGIC, pack.stat().st_size, hash_file(pack)) + tail


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return time.time()


@dataclass
class _Cached:
    """A pack this process has open in the cache."""

    fd: File
    size: int
    readers: int = 0


class RemotePacks:
    """The packs of a remote store, published by index objects, read through a local cache."""

    def __init__(self, remote: Remote, cache_dir: Path, budget: int | None = None) -> None:
        self.remote = remote
        # <name>.pack (cached or uploading), <name>.idx (published), .<pid>-<random>.part (arriving:
        # beside the cache, not in the store's tmp/, which gc empties without knowing of fetches).
        self.dir = cache_dir
        self.budget = cache_budget() if budget is None else budget
        self._meta: dict[str, tuple[int, bytes]] = {}  # name -> (pack size, BLAKE3) from its index object
        self._open: OrderedDict[str, _Cached] = OrderedDict()  # least recently used first
        self._mutex = threading.Lock()
        self._fetching: dict[str, threading.Lock] = {}
        self._uploading: set[str] = set()
        self._uploader: ThreadPoolExecutor | None = None
        self.damaged: dict[str, errors.BodegaError] = {}  # published packs whose remote copy is wrong

    def _key(self, name: str, ext: str) -> str:
        return f"packs/{name}.{ext}"

    def where(self, name: str) -> str:
        """The pack's URL."""
        return f"{self.remote.url}{self._key(name, 'pack')}"

    # --- listing and indexes --------------------------------------------------------------

    def names(self) -> set[str]:
        """The published packs (one listing); local copies of packs gone from the store are dropped."""
        listing = self.remote.list("packs/")
        sizes = {k[len("packs/"):-5]: o.size for k, o in listing.items() if k.endswith(".pack")}
        published = {k[len("packs/"):-4] for k in listing if k.endswith(".idx")}
        self.damaged = {n: errors.ObjectMissing(f"pack {self.where(n)} is missing (its index object is there)")
                        for n in published - set(sizes)}
        for name in published & set(sizes):
            meta = self._meta.get(name)
            if meta is not None and meta[0] != sizes[name]:
                self.damaged[name] = errors.PackCorrupt(
                    f"pack {self.where(name)} has {sizes[name]} bytes; its index object says {meta[0]}")
        self._prune(published)
        return published - set(self.damaged)

    def _prune(self, published: set[str]) -> None:
        """Removes local copies of packs no longer published (gc removed them)."""
        try:
            entries = os.listdir(self.dir)
        except OSError as e:
            raise errors.os_error(e, "list the pack cache", self.dir) from e
        for p in entries:  # what fetches that died left (a fetch lasts seconds, not an hour)
            if p.endswith(".part") and time.time() - _mtime(self.dir / p) > 3600:
                (self.dir / p).unlink(missing_ok=True)
        gone = {p[:-4] for p in entries if p.endswith(".idx")} - published
        if gone:
            self.drop(gone)
            for name in gone:
                (self.dir / f"{name}.pack").unlink(missing_ok=True)
                (self.dir / f"{name}.idx").unlink(missing_ok=True)

    def index(self, name: str) -> dict[bytes, PackEntry]:
        """A published pack's objects, from its index object (fetched once, then kept locally)."""
        local = self.dir / f"{name}.idx"
        try:
            data = local.read_bytes()
        except FileNotFoundError:
            data = None
        if data is None:
            data = self.remote.get(self._key(name, "idx"))
            entries = self._parse(name, data)  # only a good index object is kept
            self._write(local, data)
            return entries
        return self._parse(name, data)

    def _part(self) -> Path:
        return self.dir / f".{os.getpid()}-{secrets.token_hex(8)}.part"

    def _write(self, path: Path, data: bytes) -> None:
        """Writes a small file whole or not at all."""
        staged = self._part()
        staged.write_bytes(data)
        os.replace(staged, path)

    def _parse(self, name: str, data: bytes) -> dict[bytes, PackEntry]:
        where = f"{self.remote.url}{self._key(name, 'idx')}"
        if len(data) < INDEX_HEAD.size or data[:8] != INDEX_MAGIC:
            raise errors.PackCorrupt(f"index object {where} is damaged: not a bodega pack index", path=where)
        _, size, digest = INDEX_HEAD.unpack_from(data)
        entries = index_of_tail(name, where, size, data[INDEX_HEAD.size:])
        self._meta[name] = (size, digest)
        return entries

    # --- reading --------------------------------------------------------------------------

    @contextmanager
    def lease(self, name: str) -> Iterator[File]:
        """A descriptor of the pack's local copy (fetched first when the cache lacks it)."""
        cached = self._acquire(name)
        try:
            yield cached.fd
        finally:
            with self._mutex:
                cached.readers -= 1

    def _acquire(self, name: str) -> _Cached:
        if name in self.damaged:
            raise self.damaged[name]  # missing: not fetched again and again
        with self._mutex:
            cached = self._open.get(name)
            if cached is not None:
                cached.readers += 1
                self._open.move_to_end(name)
                return cached
            fetching = self._fetching.setdefault(name, threading.Lock())
        with fetching:  # one fetch per pack, whatever the number of readers waiting for it
            with self._mutex:
                cached = self._open.get(name)
                if cached is not None:
                    cached.readers += 1
                    return cached
            path = self.dir / f"{name}.pack"
            if not path.exists():
                try:
                    self._fetch(name, path)
                except errors.ObjectMissing as e:
                    self.damaged[name] = e
                    raise
            f = open_file(path)
            cached = _Cached(f, f.stat().size, readers=1)
            with self._mutex:
                self._open[name] = cached
                self._fetching.pop(name, None)
            self._make_room()
            return cached

    def _fetch(self, name: str, path: Path) -> None:
        """Downloads a pack into the cache, checked against the size and hash its index object names.

        A pack that still does not match after every try is damaged in the store: it is then
        taken as it is, and each object read from it is checked against its own hash, so the
        damage is found where it is (verify names those objects; repair rewrites them).
        """
        if name not in self._meta:
            self.index(name)
        size, digest = self._meta[name]
        self._make_room(size)
        staged = self._part()

        def check(got: Path) -> None:
            if got.stat().st_size != size or hash_file(got) != digest:
                raise TransferDamaged(errors.PackCorrupt(
                    f"pack {self.where(name)} does not match its hash (its index object's)", path=self.where(name)))

        try:
            try:
                self.remote.get_to(self._key(name, "pack"), staged, check)
            except errors.PackCorrupt:
                self.remote.get_to(self._key(name, "pack"), staged)
        except errors.NotFound:
            raise errors.ObjectMissing(f"pack {self.where(name)} is gone from the store") from None
        os.replace(staged, path)

    def _make_room(self, incoming: int = 0) -> None:
        """Drops the least recently used local copies nobody reads until the cache fits its budget."""
        with self._mutex:
            total = incoming + sum(c.size for c in self._open.values())
            for name in list(self._open):
                if total <= self.budget:
                    break
                cached = self._open[name]
                if cached.readers or name in self._uploading:
                    continue
                del self._open[name]
                cached.fd.close()
                (self.dir / f"{name}.pack").unlink(missing_ok=True)
                total -= cached.size

    def drop_cache(self) -> None:
        """Forgets every local copy nobody reads (the next reads fetch the packs again: verify)."""
        budget, self.budget = self.budget, 0
        try:
            self._make_room()
            for p in os.listdir(self.dir):
                name = p[:-5]
                if p.endswith(".pack") and name not in self._open and name not in self._uploading:
                    (self.dir / p).unlink(missing_ok=True)
        finally:
            self.budget = budget

    # --- writing --------------------------------------------------------------------------

    def add(self, name: str, staged: Path) -> "Future[None]":
        """Moves a sealed pack into the cache and uploads it in the background: the pack, then
        its index object (which publishes it)."""
        path = self.dir / f"{name}.pack"
        os.rename(staged, path)
        with self._mutex:
            self._uploading.add(name)
            if self._uploader is None:
                self._uploader = ThreadPoolExecutor(UPLOADERS, thread_name_prefix="bodega-upload")
        return self._uploader.submit(self._upload, name, path)

    def _upload(self, name: str, path: Path) -> None:
        try:
            index = index_object(path, read_tail(path))
            self.remote.put_file(self._key(name, "pack"), path)
            self.remote.put(self._key(name, "idx"), index)
            self._parse(name, index)
            self._write(self.dir / f"{name}.idx", index)
        except BaseException:
            path.unlink(missing_ok=True)  # never published: a later gc removes what reached the store
            raise
        finally:
            with self._mutex:
                self._uploading.discard(name)

    def settle(self, added: "list[Future[None] | None]") -> None:
        """Waits for these uploads; the first failure is raised once all have ended."""
        failure: BaseException | None = None
        for future in added:
            if future is None:
                continue
            try:
                future.result()
            except BaseException as e:  # noqa: BLE001 - every upload ends before the first error is raised
                failure = failure or e
        if failure is not None:
            raise failure
        self._make_room()

    def remove(self, names: list[str]) -> None:
        """Unpublishes packs (index objects first), deletes them, then their local copies."""
        if not names:
            return
        self.remote.delete([self._key(n, "idx") for n in names])
        self.remote.delete([self._key(n, "pack") for n in names])
        self.drop(set(names))
        for name in names:
            (self.dir / f"{name}.pack").unlink(missing_ok=True)
            (self.dir / f"{name}.idx").unlink(missing_ok=True)

    def unpublished(self) -> list[str]:
        """Pack objects without an index object: uploads a writer never finished (gc removes them)."""
        listing = self.remote.list("packs/")
        published = {k[:-4] for k in listing if k.endswith(".idx")}
        return [k[len("packs/"):-5] for k in listing if k.endswith(".pack") and k[:-5] not in published]

    def drop(self, names: set[str]) -> None:
        """Closes the local copies of packs that are gone."""
        with self._mutex:
            for name in names & set(self._open):
                self._open.pop(name).fd.close()
            for name in names:
                self._meta.pop(name, None)

    def close(self) -> None:
        """Waits for uploads in flight and closes every local copy kept open."""
        if self._uploader is not None:
            self._uploader.shutdown(wait=True)
            self._uploader = None
        with self._mutex:
            opened, self._open = self._open, OrderedDict()
        for cached in opened.values():
            cached.fd.close()
