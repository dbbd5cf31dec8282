"""The object store: file contents named by their BLAKE3-256, stored once for every container.

On a copy-on-write volume a file's object is a clone of the file; elsewhere objects are
zstd-compressed blobs in pack files, large files as content-defined chunks.  Every object
is checked against its hash whenever it is read.  The on-disk format is docs/store.md.

A store may keep its packs and snapshot files in a remote object store shared by many
hosts (S3: remote_packs.py, remote_snapshots.py); its directory then holds the staging,
the journals and a bounded cache, and its lock spans the hosts (fleet_lock).
"""
from __future__ import annotations

import errno
import json
import os
import secrets
import stat
import struct
import threading
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, ContextManager, Iterable, Iterator, NamedTuple, Protocol, Sequence

import zstandard

from bodega import errors
from bodega._native.hash import Blake3, hash_file, hash_files_report, hash_many, read_files
from bodega.storage import chunking, pack_index, volume
from bodega.storage.new_file import new_file, remove_quietly, removed_on_failure
from bodega.storage.pack import BLOB, HEADER, RAW, RECIPE, ROW, TRAILER, ZSTD, PackEntry, PackWriter, read_record
from bodega.storage.packs import LocalPacks, Packs
from bodega.storage.remote import Remote
from bodega.storage.tree import File, Stat, open_file, remove_path

FORMAT = "bodega-store"
VERSION = 1
RECIPE_ROW = struct.Struct("<32sQ")
STREAM_PIECE = 8 << 20
# Reads in flight when a batch of fresh clones is hashed: a clone is not in the page cache
# (its file's pages are not its own), so its reads wait on the device; measured on XFS, 8
# readers hash cold clones about as fast as 1 hashes the source's cached pages (4x faster
# than 1 reader).  The native batch spreads even a few clones over them, and each clone's
# reads were asked for when it was made (bd_clone_files), so they overlap the clone pass.
CLONE_READERS = 8
# Packs read outside the published pack index before a new one is published: opening a
# store reads at most this many pack indexes besides the one file, and a snapshot (a pack
# or a few) does not rewrite the whole index every time.
REINDEX_AFTER = 8
# A batch of records read from a pack in one pread when they lie at most RUN_GAP bytes apart,
# RUN_MAX bytes at most: a restore reads records about in the order a snapshot wrote them.
RUN_GAP = 64 << 10
RUN_MAX = 8 << 20

DEFAULTS = {
    "zstd_level": 3,
    # Blobs shorter than clone_min (small files, packed on every volume) are compressed at
    # zstd's fastest non-negative level, restic's default: measured (docs/store.md) 13% (the
    # generated tree) to 35% (a copy of /usr/lib) less compression time than level 3, for
    # 0.7% to 2.4% more bytes.  Larger blobs and chunks keep level 3: at level 1 for every
    # object the store on ext4 would outgrow borg's at zstd,3.
    "zstd_level_small": 1,
    "clone_min": 16 << 10,
    "chunk_min": 1 << 20,
    "pack_max": 32 << 20,
    "chunker": chunking.NAME,
}


def parse_digest(text: str | bytes) -> bytes:
    """The 32-byte digest named by 64 hex digits."""
    if isinstance(text, bytes) and len(text) == 32:
        return text
    try:
        raw = bytes.fromhex(text.decode() if isinstance(text, bytes) else text)
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise errors.InvalidInput(f"not an object hash (64 hex digits): {text!r}")
    return raw


@contextmanager
def _os_errors(op: str, path: str | os.PathLike[str] | None = None) -> Iterator[None]:
    """OSErrors raised in the body become bodega's StorageErrors (errors.os_error), naming op and path."""
    try:
        yield
    except errors.BodegaError:
        raise  # translated already (and never its own cause)
    except OSError as e:
        raise errors.os_error(e, op, path) from e


class Put(NamedTuple):
    """A file put in the store: the hash and length of the bytes stored, and the bytes it added
    (a tuple: a first snapshot makes one per file, and a frozen dataclass costs twice as much)."""

    digest: bytes
    added_bytes: int
    stored_as: str  # "clone", "blob", "chunks" or "known"
    size: int


class FileToStore(Protocol):
    """A file below a tree to put in the store (a manifest's HashedFile or UnreadFile)."""

    @property
    def path(self) -> bytes: ...

    @property
    def size(self) -> int: ...


@dataclass
class Damage:
    """One damaged or missing object (or pack) found by check()."""

    digest: bytes | None
    where: str
    problem: str

    def to_dict(self) -> dict[str, str | None]:
        """A JSON-ready dict."""
        return {"object": self.digest.hex() if self.digest else None, "where": self.where, "problem": self.problem}


@dataclass
class GcReport:
    """What gc removed (or would remove, with dry_run), and what it could not for want of space."""

    objects_removed: int = 0
    bytes_freed: int = 0
    packs_removed: int = 0
    packs_rewritten: int = 0
    staging_removed: int = 0
    objects_kept: int = 0
    dry_run: bool = False
    packs_not_rewritten: int = 0  # partly dead packs left as they were: no space to rewrite them
    bytes_not_freed: int = 0      # the dead bytes those packs still hold
    space_needed: int = 0         # free bytes that rewriting each of them in turn needs

    def to_dict(self) -> dict[str, int | bool]:
        """A JSON-ready dict."""
        return dict(self.__dict__)

    def shortfall(self) -> errors.NoSpace | None:
        """The NoSpace error that says what could not be freed, or None when everything was."""
        if not self.packs_not_rewritten:
            return None
        return errors.NoSpace(errno.ENOSPC, (
            f"freed {self.bytes_freed} bytes, but no space is left to rewrite {self.packs_not_rewritten} "
            f"pack(s) holding {self.bytes_not_freed} more bytes nothing needs: that needs {self.space_needed} "
            "bytes free"), None, "gc")


# A lock over every host sharing a remote store: (exclusive, timeout) -> a context manager.
FleetLock = Callable[[bool, "float | None"], ContextManager[object]]


def _needed_by(file: str | None) -> str:
    """' (needed by FILE)' for an error about an object, when the file that needs it is known."""
    return f" (needed by {file})" if file else ""


def _loose_rel(digest: bytes) -> str:
    """Where a loose object lives relative to the objects directory: "hh/<hash>"."""
    h = digest.hex()
    return f"{h[:2]}/{h}"


def _record_end(entry: PackEntry) -> int:
    return entry.offset + entry.stored_len


class ObjectStore:
    """A store directory: objects in, verified objects out, gc of what no snapshot needs.

    remote: where packs and snapshot files are kept, shared by many hosts (None: here);
    fleet_lock: the store lock across those hosts (taken before this host's own).
    """

    def __init__(self, root: str | os.PathLike[str], *, zstd_level: int | None = None,
                 lock_timeout: float | None = None, remote: Remote | None = None,
                 fleet_lock: FleetLock | None = None, pack_max: int | None = None) -> None:
        self.root = Path(root).absolute()
        self.objects_dir = self.root / "objects"
        self._objects_str = os.fspath(self.objects_dir)
        self.packs_dir = self.root / "packs"
        self.tmp = self.root / "tmp"
        self.lock_timeout = lock_timeout
        self.remote = remote
        self._fleet_lock = fleet_lock
        try:
            for d in (self.root, self.objects_dir, self.packs_dir, self.tmp):
                d.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise errors.os_error(e, "create store", e.filename) from e
        self.packs: Packs = LocalPacks(self.packs_dir)
        self.mirror = None
        if remote is not None:
            from bodega.storage.remote_packs import RemotePacks
            from bodega.storage.remote_snapshots import SnapshotMirror

            self.packs = RemotePacks(remote, self.packs_dir)
            self.mirror = SnapshotMirror(remote, self.root / "snapshots")
        self.config = self._load_config()
        if zstd_level is not None:
            if not -7 <= zstd_level <= 22:
                raise errors.InvalidInput(f"zstd level must be between -7 and 22, not {zstd_level}")
            self.config["zstd_level"] = self.config["zstd_level_small"] = zstd_level  # every packed object
        if pack_max is not None:  # this process's packs only: a pack's size is in its own index
            if pack_max < 1:
                raise errors.InvalidInput(f"pack size must be at least 1 byte, not {pack_max}")
            self.config["pack_max"] = pack_max
        # Objects of a remote store are all packed: a clone lives on one host only.
        self.cow = remote is None and volume.can_clone(self.tmp)
        self._table = pack_index.EMPTY  # the published pack index, when it was current at refresh
        self._index: dict[bytes, PackEntry] = {}  # entries of the packs the table does not cover
        self._packs: set[str] = set()
        self.damaged_packs: dict[str, errors.BodegaError] = {}
        self._mutex = threading.Lock()
        self._local = threading.local()
        self.refresh()

    # --- configuration and index ----------------------------------------------------------

    def _load_config(self) -> dict:
        if self.remote is not None:
            return self._check_config(self._remote_config(), self.remote.url)
        path = self.root / "config.json"
        if not path.exists():
            config = {"format": FORMAT, "version": VERSION, **DEFAULTS}
            with self.shared(), _os_errors("create store", path):  # staging: gc empties tmp/ only when no one holds it
                staged = self._staging(".json")
                try:
                    staged.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
                    volume.fsync_path(staged)
                    os.link(staged, path)  # never replaces a config another process wrote first
                except FileExistsError:
                    pass
                finally:
                    staged.unlink(missing_ok=True)
                volume.fsync_path(self.root)
        with _os_errors("read store configuration", path):
            text = path.read_bytes()
        try:
            config = json.loads(text)
        except ValueError as e:
            raise errors.StoreFormatUnsupported(f"{path} is not a bodega store configuration: {e}") from e
        return self._check_config(config, str(self.root))

    def _remote_config(self) -> object:
        """The remote store's config.json, written with the defaults by its first user."""
        assert self.remote is not None
        try:
            data = self.remote.get("config.json")
        except errors.NotFound:
            # Two first users write the same defaults: whichever lands, the parameters agree.
            data = (json.dumps({"format": FORMAT, "version": VERSION, **DEFAULTS}, indent=2, sort_keys=True)
                    + "\n").encode()
            self.remote.put("config.json", data)
        try:
            return json.loads(data)
        except ValueError as e:
            raise errors.StoreFormatUnsupported(f"{self.remote.url}config.json is not a bodega store "
                                                f"configuration: {e}") from e

    @staticmethod
    def _check_config(config: object, where: str) -> dict:
        if not isinstance(config, dict) or config.get("format") != FORMAT:
            raise errors.StoreFormatUnsupported(f"{where} is not a bodega store")
        if config.get("version") != VERSION:
            raise errors.StoreFormatUnsupported(
                f"store {where} has version {config.get('version')}; this bodega reads version {VERSION}")
        return {**DEFAULTS, **config}

    def refresh(self, exact: bool = False, *, every_pack: bool = False) -> None:
        """Brings the pack index in step with the packs (those other processes or hosts added or gc
        removed) and, for a remote store, the snapshot files' mirror with the store (exact: wait
        for this host's other processes to finish changing it; gc needs every snapshot).

        The first refresh starts from the published pack index (storage/pack_index.py) when
        every pack it covers is still there, and reads only the packs it does not cover;
        every_pack reads and checks every pack's own index instead (verify, gc, repair).  Once
        REINDEX_AFTER packs are outside the published index, a new one is published.
        """
        names = self.packs.names()
        if self.mirror is not None:
            self.mirror.pull(wait=exact)
        with self._mutex:
            if every_pack:
                self._table, self._index, self._packs = pack_index.EMPTY, {}, set()
            elif not self._packs:
                table = pack_index.load(self.root)
                if table is not None and table.covers <= names:
                    self._table, self._packs = table, set(table.covers)
            gone = self._packs - names
            self.packs.drop(gone)
            if gone & self._table.covers:  # stale now (gc, repair): every pack is read again
                self._table, self._index, self._packs = pack_index.EMPTY, {}, set()
            elif gone:
                self._index = {d: e for d, e in self._index.items() if e.pack not in gone}
                self._packs -= gone
            table = self._table
            for name in sorted(names - self._packs):
                try:
                    rows = self.packs.index(name)
                except (errors.PackCorrupt, errors.StorageError) as e:
                    self.damaged_packs[name] = e
                    continue
                self.damaged_packs.pop(name, None)
                index = self._index
                # the first pack's entry stays
                index.update({d: e for d, e in rows.items() if d not in index and d not in table})
                self._packs.add(name)
            self.damaged_packs.update(getattr(self.packs, "damaged", {}))
            if len(self._packs) - len(table.covers) >= REINDEX_AFTER:
                self._publish_table()

    def learn_pack(self, name: str, entries: dict[bytes, PackEntry]) -> None:
        """Indexes a pack this process just published from the entries of the rows it wrote
        (pack_entries), so the next refresh does not read it back."""
        with self._mutex:
            if name in self._packs:
                return
            index, table = self._index, self._table
            if len(table):  # the first pack's entry stays
                absent = table.missing(set(entries))
                if len(absent) < len(entries):
                    entries = {d: e for d, e in entries.items() if d in absent}
            # The entries already indexed put back after a bulk update, rather than a filter
            # testing each entry: set and dict operations in C, measured 1.4x faster.
            kept = {d: index[d] for d in entries.keys() & index.keys()}
            index.update(entries)
            index.update(kept)
            self._packs.add(name)

    def _publish_table(self) -> None:
        """Publishes a pack index covering every pack read so far (under _mutex); a store this
        process cannot write keeps reading the packs, as without one."""
        table = self._table.merged(self._packs, self._index.items())
        try:
            pack_index.publish(self.root, table)
        except errors.BodegaError:
            return
        self._table, self._index = table, {}

    def _entry(self, digest: bytes) -> PackEntry | None:
        """A packed object's entry, or None."""
        entry = self._index.get(digest)
        return entry if entry is not None else self._table.get(digest)

    def _packed(self, digest: bytes) -> bool:
        """Whether an object is packed (a lookup that builds no entry)."""
        return digest in self._index or digest in self._table

    def _unpacked(self, digests: set[bytes]) -> set[bytes]:
        """The digests no pack holds."""
        return self._table.missing(digests.difference(self._index))

    def _reload(self) -> None:
        """Forgets the index and the open packs and reads every pack again (after gc or repair rewrote packs)."""
        self.close()
        self.refresh(exact=True, every_pack=True)

    def _staging(self, suffix: str) -> Path:
        return self.tmp / f"{os.getpid()}-{secrets.token_hex(8)}{suffix}"

    def loose_path(self, digest: bytes) -> Path:
        """Where a loose object lives."""
        return Path(self._loose_str(digest))

    def _loose_str(self, digest: bytes) -> str:
        return f"{self._objects_str}/{_loose_rel(digest)}"

    def pack_path(self, name: str) -> Path:
        """Where a pack lives (for a remote store: its local copy)."""
        return self.packs_dir / f"{name}.pack"

    # --- locking --------------------------------------------------------------------------

    @contextmanager
    def _locked(self, exclusive: bool, timeout: float | None) -> Iterator[object]:
        """Holds the lock; yields the lock across hosts' holder (None without one)."""
        fleet = nullcontext() if self._fleet_lock is None else self._fleet_lock(exclusive, timeout)
        with fleet as holder:  # every host's first, then this host's: always in this order
            with _os_errors("lock store", self.root / "lock"):
                f = volume.open_lock_file(self.root / "lock")
            with f:  # closing the file releases the lock
                volume.lock_file(f, exclusive, timeout, what=f"store {self.root}")
                yield holder

    def shared(self, timeout: float | None = None) -> "contextmanager[None]":
        """Holds the store lock shared (writers, readers): gc waits until it is released."""
        return self._locked(False, self.lock_timeout if timeout is None else timeout)

    def exclusive(self, timeout: float | None = None) -> "contextmanager[None]":
        """Holds the store lock exclusively (gc, pack repair): no reader or writer runs meanwhile."""
        return self._locked(True, self.lock_timeout if timeout is None else timeout)

    # --- lookup ---------------------------------------------------------------------------

    def has(self, digest: bytes) -> bool:
        """True when the store holds the object (in a pack or loose)."""
        if self._entry(digest) is not None:
            return True
        return os.path.exists(self._loose_str(digest))

    def locate(self, digest: bytes, *, file: str | None = None) -> PackEntry | Path:
        """Where the object is: its pack entry or its loose file (ObjectMissing, naming where it
        looked and the file that needs it, when nowhere)."""
        entry = self._entry(digest)
        if entry is not None:
            return entry
        path = self.loose_path(digest)
        if os.path.exists(path):
            return path
        self.refresh()
        entry = self._entry(digest)
        if entry is None:
            raise errors.ObjectMissing(
                f"object {digest.hex()}{_needed_by(file)} is missing from the store: in none of the "
                f"{len(self._packs)} packs in {self.packs_dir} and not loose at {path}",
                object=digest.hex(), path=file)
        return entry

    def loose_names(self, digests: Sequence[bytes]) -> list[bytes | None]:
        """For each digest no pack holds, where its loose object would be, relative to
        objects_dir (b"hh/<hash>"; whether it is there, the read or clone that opens it finds
        out, and locate() then says where else to look); None for each packed one.  No file is
        looked at: a restore asks this of every file at once."""
        unpacked = self._unpacked(set(digests))
        out: list[bytes | None] = []
        for digest in digests:
            out.append(_loose_rel(digest).encode() if digest in unpacked else None)
        return out

    def pack_entries(self) -> dict[bytes, PackEntry]:
        """Every packed object and its entry (one per hash)."""
        with self._mutex:
            return {**dict(self._table.items()), **self._index}

    def loose_objects(self) -> Iterator[bytes]:
        """The hashes of every loose object."""
        for sub in sorted(os.listdir(self.objects_dir)):
            d = self.objects_dir / sub
            if len(sub) != 2 or not d.is_dir():
                continue
            for name in os.listdir(d):
                if len(name) == 64:
                    try:
                        yield bytes.fromhex(name)
                    except ValueError:
                        continue

    def object_size(self, digest: bytes) -> int:
        """The length of an object's content (for a recipe, the file it describes)."""
        where = self.locate(digest)
        if isinstance(where, Path):
            return where.stat().st_size
        if where.kind == RECIPE:
            return sum(length for _, length in self.recipe(digest))
        return where.raw_len

    # --- writing --------------------------------------------------------------------------

    def writer(self) -> "StoreWriter":
        """A write session (holds the store lock shared until commit or abort)."""
        return StoreWriter(self)

    def _compressor(self, level: int) -> zstandard.ZstdCompressor:
        """This thread's compressor at level (a compressor is not shared across threads)."""
        made = getattr(self._local, "compressors", None)
        if made is None:
            made = self._local.compressors = {}
        c = made.get(level)
        if c is None:
            c = made[level] = zstandard.ZstdCompressor(level=level)
        return c

    def _decompressor(self) -> zstandard.ZstdDecompressor:
        """This thread's decompressor (any level's frames)."""
        d = getattr(self._local, "decompressor", None)
        if d is None:
            d = self._local.decompressor = zstandard.ZstdDecompressor()
        return d

    def _level(self, length: int) -> int:
        """The zstd level of a blob of length bytes: zstd_level_small below clone_min."""
        cfg = self.config
        return cfg["zstd_level_small"] if length < cfg["clone_min"] else cfg["zstd_level"]

    def encode(self, data: bytes | memoryview) -> tuple[bytes | memoryview, int]:
        """The stored form of a blob and its codec: zstd when that is smaller, else raw."""
        packed = self._compressor(self._level(len(data))).compress(data)
        return (packed, ZSTD) if len(packed) < len(data) else (data, RAW)

    def encode_many(self, blobs: Sequence[bytes | memoryview]) -> list[tuple[bytes | memoryview, int]]:
        """encode for many blobs at once: one native call per level compresses them, without the GIL."""
        cfg = self.config
        small, large, cut = cfg["zstd_level_small"], cfg["zstd_level"], cfg["clone_min"]
        by_level: dict[int, Sequence[int]] = {large: range(len(blobs))}
        if small != large:
            by_level = {small: [i for i, b in enumerate(blobs) if len(b) < cut]}
            if len(by_level[small]) < len(blobs):
                by_level[large] = [i for i, b in enumerate(blobs) if len(b) >= cut]
        out: list[tuple[bytes | memoryview, int]] = [None] * len(blobs)  # type: ignore[list-item]
        for level, which in by_level.items():
            compressor = self._compressor(level)
            some = [blobs[i] for i in which]
            # zstandard refuses a batch whose elements are all empty (a snapshot whose only new
            # content is empty files): those are encoded one by one
            if not any(len(b) for b in some) or not hasattr(compressor, "multi_compress_to_buffer"):
                packed = [compressor.compress(b) for b in some]  # (the cffi back end lacks it too)
            else:
                packed = compressor.multi_compress_to_buffer(some, threads=1)
            for i, p, b in zip(which, packed, some):
                out[i] = (p, ZSTD) if len(p) < len(b) else (b, RAW)
        return out

    # --- reading --------------------------------------------------------------------------

    def _damaged(self, digest: bytes, where: str, problem: str, file: str | None) -> errors.ObjectCorrupt:
        needed = _needed_by(file)
        return errors.ObjectCorrupt(f"object {digest.hex()} in {where} {problem}{needed}",
                                    object=digest.hex(), where=where, path=file)

    def _where(self, entry: PackEntry) -> str:
        return f"pack {self.packs.where(entry.pack)} at byte {entry.offset}"

    def close(self) -> None:
        """Closes the packs kept open for reading (a remote store's uploads end first)."""
        self.packs.close()

    def drop_cache(self) -> None:
        """For a remote store, forgets the local copies of packs: the next reads fetch them again."""
        drop = getattr(self.packs, "drop_cache", None)
        if drop is not None:
            drop()

    # --- snapshot files (written by the snapshot engine; a remote store keeps them too) ----

    def publish_snapshot(self, sid: str, staged: Path, final: Path) -> None:
        """Renames a staged snapshot file into place (after uploading it to a remote store)."""
        if self.mirror is not None:
            self.mirror.publish(sid, staged, final)
        else:
            os.replace(staged, final)

    def remove_snapshots(self, sids: Iterable[str]) -> None:
        """Removes snapshot files from a remote store (the engine then removes the local ones)."""
        if self.mirror is not None:
            self.mirror.remove(sids)

    def fetch_snapshot(self, sid: str) -> bool:
        """For a remote store, fetches a snapshot file the mirror lacks; False when there is none."""
        return self.mirror is not None and self.mirror.fetch(sid)

    def _decode_record(self, digest: bytes, entry: PackEntry, f: File | None, file: str | None) -> bytes:
        try:
            if f is None:
                with self.packs.lease(entry.pack) as fd:
                    stored = read_record(fd, entry)
            else:
                stored = read_record(f, entry)
        except errors.PackCorrupt as e:
            raise self._damaged(digest, self._where(entry), f"is unreadable: {e}", file) from e
        except OSError as e:
            if e.errno == errno.ENOENT:
                raise errors.ObjectMissing(f"object {digest.hex()}{_needed_by(file)} is missing from the store: "
                                           f"its pack {self.packs.where(entry.pack)} is gone",
                                           object=digest.hex(), pack=self.packs.where(entry.pack),
                                           path=file) from e
            raise errors.os_error(e, "read", self.packs.where(entry.pack)) from e
        if entry.codec == RAW:
            data = stored
        else:
            try:
                data = self._decompressor().decompress(stored, max_output_size=entry.raw_len)
            except zstandard.ZstdError as e:
                raise self._damaged(digest, self._where(entry), f"does not decompress ({e})", file) from e
        if len(data) != entry.raw_len:
            raise self._damaged(digest, self._where(entry), f"has {len(data)} bytes, not {entry.raw_len}", file)
        return data

    def recipe(self, digest: bytes, *, file: str | None = None) -> list[tuple[bytes, int]]:
        """The chunks (hash, length) of a chunked file's recipe."""
        entry = self.locate(digest, file=file)
        if isinstance(entry, Path) or entry.kind != RECIPE:
            raise errors.InvalidInput(f"object {digest.hex()} is not a chunked file")
        table = self._decode_record(digest, entry, None, file)
        if len(table) % RECIPE_ROW.size:
            raise self._damaged(digest, self._where(entry), "is not a chunk table", file)
        return list(RECIPE_ROW.iter_unpack(table))

    def packed_blob(self, digest: bytes, *, file: str | None = None) -> bytes | None:
        """A packed blob's content, checked against its hash; None for any other object."""
        entry = self._entry(digest)
        if entry is None or entry.kind != BLOB:
            return None
        return self._checked_blob(digest, entry, file)

    def packed_blobs(self, wanted: Sequence[tuple[bytes, str | None]]) -> list[bytes | memoryview | None]:
        """packed_blob for many (digest, file needing it) at once: the records of a pack that lie
        together read in one go, the compressed ones decoded in one call without the GIL."""
        records: dict[int, PackEntry] = {}
        for i, (digest, _) in enumerate(wanted):
            entry = self._entry(digest)
            if entry is not None and entry.kind == BLOB:
                records[i] = entry
        try:
            decoded = self._decode_many(records, self._read_together(records))
        except (errors.BodegaError, OSError, zstandard.ZstdError):
            decoded = {}  # each record again on its own, for the error naming the object and the file
        out: list[bytes | memoryview | None] = [None] * len(wanted)
        got = list(decoded)
        digests = dict(zip(got, hash_many([decoded[i] for i in got])))  # small ones side by side
        for i, entry in records.items():
            digest, file = wanted[i]
            data = decoded.get(i)
            if data is not None and len(data) == entry.raw_len and digests[i] == digest:
                out[i] = data
            else:
                out[i] = self._checked_blob(digest, entry, file)  # raises what is wrong with it
        return out

    def _read_together(self, records: dict[int, PackEntry]) -> dict[int, memoryview]:
        """The stored bytes of each record, one pread per run of records close together in a pack."""
        by_pack: dict[str, list[tuple[int, PackEntry]]] = {}
        for i, entry in records.items():
            by_pack.setdefault(entry.pack, []).append((i, entry))
        stored: dict[int, memoryview] = {}
        for pack, items in by_pack.items():
            items.sort(key=lambda item: item[1].offset)
            with self.packs.lease(pack) as f:
                start = 0
                while start < len(items):
                    first = items[start][1].offset
                    end, stop = _record_end(items[start][1]), start + 1
                    while (stop < len(items) and items[stop][1].offset - end <= RUN_GAP
                           and _record_end(items[stop][1]) - first <= RUN_MAX):
                        end = max(end, _record_end(items[stop][1]))
                        stop += 1
                    buf = memoryview(f.pread(end - first, first))
                    if len(buf) != end - first:
                        raise errors.PackCorrupt(f"pack {pack} is truncated at byte {first + len(buf)}")
                    for i, entry in items[start:stop]:
                        stored[i] = buf[entry.offset - first:entry.offset - first + entry.stored_len]
                    start = stop
        return stored

    def _decode_many(self, records: dict[int, PackEntry],
                     stored: dict[int, memoryview]) -> dict[int, bytes | memoryview]:
        """Each stored record decoded: the zstd ones in one call where the binding has it."""
        decoded: dict[int, bytes | memoryview] = {i: stored[i] for i, e in records.items() if e.codec == RAW}
        packed = [i for i, e in records.items() if e.codec != RAW]
        dctx = self._decompressor()
        if len(packed) > 1 and hasattr(dctx, "multi_decompress_to_buffer"):
            sizes = struct.pack(f"={len(packed)}Q", *(records[i].raw_len for i in packed))
            many = dctx.multi_decompress_to_buffer([stored[i] for i in packed], decompressed_sizes=sizes, threads=1)
            decoded.update(zip(packed, many))
        else:
            for i in packed:
                decoded[i] = dctx.decompress(stored[i], max_output_size=records[i].raw_len)
        return decoded

    def _checked_blob(self, digest: bytes, entry: PackEntry, file: str | None) -> bytes:
        data = self._decode_record(digest, entry, None, file)
        if Blake3(data).digest() != digest:
            raise self._damaged(digest, self._where(entry), "does not match its hash", file)
        return data

    def read(self, digest: bytes, *, file: str | None = None) -> bytes:
        """An object's content, checked against its hash (for small files: cat, verify)."""
        chunks: list[bytes] = []
        self.write_to(digest, chunks.append, file=file)
        return b"".join(chunks)

    def write_to(self, digest: bytes, sink: Callable[[bytes], object], *, file: str | None = None) -> int:
        """Streams an object's content to sink, checked against its hash; returns its length.

        A large object's pieces reach sink before the whole is checked: a caller that must
        not keep damaged bytes writes to staging and drops it when this raises.
        """
        where = self.locate(digest, file=file)
        if isinstance(where, Path):
            return self._stream_loose(digest, where, sink, file)
        if where.kind == BLOB:
            data = self._checked_blob(digest, where, file)
            sink(data)
            return len(data)
        whole = Blake3()
        total = 0
        for chunk, length in self.recipe(digest, file=file):
            centry = self.locate(chunk, file=file)
            if isinstance(centry, Path):
                data = Path(centry).read_bytes()
            else:
                data = self._decode_record(chunk, centry, None, file)
            if len(data) != length or Blake3(data).digest() != chunk:
                raise self._damaged(chunk, self._where(centry) if isinstance(centry, PackEntry) else str(centry),
                                    f"(chunk at byte {total} of object {digest.hex()}) does not match its hash",
                                    file)
            whole.update(data)
            sink(data)
            total += length
        if whole.digest() != digest:
            raise self._damaged(digest, self._where(where), "does not match its hash (chunks assembled)", file)
        return total

    def _stream_loose(self, digest: bytes, path: Path, sink: Callable[[bytes], object], file: str | None) -> int:
        whole = Blake3()
        total = 0
        try:
            with open(path, "rb", buffering=0) as f:
                while piece := f.read(STREAM_PIECE):
                    whole.update(piece)
                    sink(piece)
                    total += len(piece)
        except OSError as e:
            raise errors.os_error(e, "read", path) from e
        if whole.digest() != digest:
            raise self._damaged(digest, str(path), "does not match its hash", file)
        return total

    def materialize(self, digest: bytes, dest: str | os.PathLike[str], *, file: str | None = None,
                    mode: int = 0o600) -> int:
        """Creates dest (which must not exist) with an object's content, checked; returns its size.

        A loose object on a copy-on-write volume is cloned, then the clone is hashed; anything
        else is decoded and written.  On failure dest is removed.
        """
        where = self.locate(digest, file=file)
        if isinstance(where, Path):
            try:
                volume.clone_file(where, dest)
            except volume.CANNOT_CLONE:
                pass
            except OSError as e:
                raise errors.os_error(e, "restore", dest) from e
            else:
                with removed_on_failure(dest, "restore"):
                    if hash_file(dest) != digest:
                        raise self._damaged(digest, str(where), "does not match its hash", file)
                    os.chmod(dest, mode)
                    return os.stat(dest).st_size
        with new_file(dest, "restore") as f:
            size = self.write_to(digest, f.write, file=file)
            f.set_meta(mode=mode)  # exact, whatever the umask; after writing, which would clear set-id bits
            return size

    # --- verification ---------------------------------------------------------------------

    def check(self, digest: bytes, *, read_data: bool = True) -> Damage | None:
        """None when the object is present (and, with read_data, matches its hash), else the damage."""
        try:
            where = self.locate(digest)
            if not read_data:
                if isinstance(where, PackEntry) and where.kind == RECIPE:
                    for chunk, _ in self.recipe(digest):
                        self.locate(chunk)
                return None
            self.write_to(digest, lambda _piece: None)
        except errors.ObjectMissing as e:
            return Damage(digest, "store", str(e))
        except errors.ObjectCorrupt as e:
            return Damage(digest, str(e.details.get("where", "store")), str(e))
        return None

    def closure(self, digests: Iterable[bytes]) -> set[bytes]:
        """The objects digests need: themselves plus the chunks of chunked files."""
        out: set[bytes] = set()
        for d in digests:
            if d in out:
                continue
            out.add(d)
            entry = self._entry(d)
            if entry is not None and entry.kind == RECIPE and not os.path.exists(self.loose_path(d)):
                out.update(chunk for chunk, _ in self.recipe(d))
        return out

    # --- repair ---------------------------------------------------------------------------

    def repair(self, digest: bytes, source: Path) -> bool:
        """Rewrites a damaged object from a live file with the same content; False when it differs.

        The good copy is stored first; then the damaged record is dropped (its pack rewritten
        without it) or the damaged loose object replaced, under the exclusive lock.
        """
        try:
            if hash_file(source) != digest:
                return False
        except errors.BodegaError:
            return False
        with self.exclusive():
            self.refresh()
            bad = self.check(digest)
            if bad is None:
                return True
            where = self.locate(digest)
            bad_chunks = set()
            if isinstance(where, PackEntry) and where.kind == RECIPE:
                try:
                    bad_chunks = {c for c, _ in self.recipe(digest) if self.check(c) is not None}
                except errors.ObjectCorrupt:
                    pass
            dropped = {digest} | bad_chunks
            w = StoreWriter(self, locked=False, force=dropped)
            try:
                put = w.put_file(source)
                w.commit()
            except BaseException:
                w.abort()
                raise
            new_packs = set(w.published_packs)
            if isinstance(where, Path) and put.stored_as != "clone":
                os.unlink(where)  # the good copy is in a pack now (a clone replaced it in place)
            for name in sorted({e.pack for d in dropped if (e := self._index_any(d, exclude=new_packs))}):
                self._rewrite_pack(name, drop=dropped, dry_run=False)
            self._reload()
            return self.check(digest) is None

    def _index_any(self, digest: bytes, exclude: set[str]) -> PackEntry | None:
        for name in sorted(self._packs - exclude):
            try:
                rows = self.packs.index(name)
            except errors.BodegaError:
                continue
            if digest in rows:
                return rows[digest]
        return None

    # --- garbage collection ---------------------------------------------------------------

    def gc(self, live: Iterable[bytes] | Callable[[], Iterable[bytes]], *, dry_run: bool = False,
           timeout: float | None = None) -> GcReport:
        """Removes every object that live does not need (file hashes of the kept snapshots).

        live may be a function: it is then called under the exclusive lock, so that no
        snapshot can be written between reading the roots and sweeping.  A pack whose index
        is damaged is never removed (it may hold live objects).  What needs no space goes
        first (dead loose objects, wholly dead packs, staging), then the partly dead packs
        are rewritten, smallest first; those that find no space are counted in the report
        (GcReport.shortfall), and left whole.
        """
        report = GcReport(dry_run=dry_run)
        with self.exclusive(timeout):
            self._reload()
            needed = self.closure(live() if callable(live) else live)
            report.objects_kept = len(needed)
            try:
                with _os_errors("gc", self.root):
                    kept = self._sweep_loose(needed, report)
                    partly = self._sweep_packs(needed, kept, report)
                    self._sweep_staging(report)
                    self._sweep_uploads(report)
                    self._rewrite_packs(partly, report)
            finally:
                self._reload()
        return report

    def _sweep_loose(self, needed: set[bytes], report: GcReport) -> set[bytes]:
        """Removes dead loose objects; returns the live ones (kept here, so not in packs)."""
        kept: set[bytes] = set()
        for digest in list(self.loose_objects()):
            path = self.loose_path(digest)
            if digest in needed:
                kept.add(digest)
                continue
            report.objects_removed += 1
            report.bytes_freed += path.stat().st_size
            if not report.dry_run:
                path.unlink()
        return kept

    def _sweep_packs(self, needed: set[bytes], kept: set[bytes],
                     report: GcReport) -> list[tuple[str, set[bytes], int]]:
        """Removes wholly dead packs; returns the partly dead ones: (name, dead objects, bytes to rewrite)."""
        partly = []
        dead_packs = []
        for name in sorted(self._packs):
            rows = self.packs.index(name)
            keep = {d for d in rows if d in needed and d not in kept}
            kept |= keep
            dead = {d for d in rows if d not in keep}
            if not dead:
                continue
            report.objects_removed += len(dead)
            report.bytes_freed += sum(rows[d].stored_len for d in dead)
            if keep:  # rewriting it needs room for a pack of what it keeps
                partly.append((name, dead, HEADER.size + TRAILER.size
                               + sum(rows[d].stored_len + ROW.size for d in keep)))
                continue
            report.packs_removed += 1
            dead_packs.append(name)
        if not report.dry_run:
            self.packs.remove(dead_packs)
        return partly

    def _sweep_staging(self, report: GcReport) -> None:
        """Empties tmp/: under the exclusive lock no writer is staging anything."""
        for entry in os.listdir(self.tmp):
            report.staging_removed += 1
            if not report.dry_run:
                p = self.tmp / entry
                remove_path(p)  # a link is removed, never followed

    def _sweep_uploads(self, report: GcReport) -> None:
        """A remote store: removes packs whose upload never finished (no index object) and
        abandons unfinished multipart uploads (under the exclusive lock, no host uploads)."""
        if self.remote is None:
            return
        unpublished = self.packs.unpublished()  # type: ignore[attr-defined]
        report.staging_removed += len(unpublished)
        if not report.dry_run:
            self.packs.remove(unpublished)
            report.staging_removed += self.remote.abort_uploads("packs/")

    def _rewrite_packs(self, partly: list[tuple[str, set[bytes], int]], report: GcReport) -> None:
        """Rewrites partly dead packs, smallest first, until one finds no space."""
        left = sorted(partly, key=lambda p: p[2])
        while left:
            name, dead, _ = left[0]
            try:
                self._rewrite_pack(name, drop=dead, dry_run=report.dry_run)
            except errors.NoSpace:
                break
            left.pop(0)
            report.packs_rewritten += 1
        for name, dead, size in left:
            rows = self.packs.index(name)
            report.packs_not_rewritten += 1
            report.objects_removed -= len(dead)
            report.bytes_not_freed += sum(rows[d].stored_len for d in dead)
            report.space_needed = max(report.space_needed, size)
        report.bytes_freed -= report.bytes_not_freed

    def _rewrite_pack(self, name: str, drop: set[bytes], dry_run: bool) -> None:
        """Replaces a pack by one without the records in drop (or just removes it when nothing is left).

        The new pack is durable before the old one goes; out of space, the staged one is
        removed and the old one stays (NoSpace).
        """
        rows = self.packs.index(name)
        keep = [(d, e) for d, e in sorted(rows.items(), key=lambda de: de[1].offset) if d not in drop]
        if dry_run:
            return
        if keep:
            staged = self._staging(".pack")
            with _os_errors("rewrite pack", self.packs.where(name)):
                try:
                    writer = PackWriter(staged)
                except BaseException:
                    staged.unlink(missing_ok=True)
                    raise
                try:
                    with self.packs.lease(name) as fd:
                        for d, e in keep:
                            writer.add(d, read_record(fd, e), e.raw_len, e.kind, e.codec)
                    writer.finish()
                    added = self.packs.add(secrets.token_hex(16), staged)
                except BaseException:
                    writer.abort()
                    raise
                self.packs.settle([added])
        self.packs.remove([name])


@dataclass
class StoreWriter:
    """A write session: puts files and bytes, then commit() makes them durable (or abort())."""

    store: ObjectStore
    locked: bool = True
    force: set[bytes] = field(default_factory=set)  # re-store these even when present (repair)

    def __post_init__(self) -> None:
        self._lock_cm = self.store.shared() if self.locked else None
        self._fleet = self._lock_cm.__enter__() if self._lock_cm is not None else None
        self.store.refresh()
        self._mutex = threading.Lock()
        self._pack: PackWriter | None = None
        self._pending: set[bytes] = set()
        self._subdirs: set[str] = set()  # objects/xx directories known to exist
        self._loose_listed: set[bytes] | None = None
        self.loose_written: dict[bytes, str] = {}  # loose objects renamed in, not synced yet
        self.published_packs: list[str] = []
        self._sealed: list[tuple[str, dict[bytes, PackEntry]]] = []  # packs published, not yet indexed
        self._added: list[object] = []  # what publishing each pack returned (uploads in flight)
        self.added_bytes = 0
        self.added_objects = 0
        self._closed = False

    def __enter__(self) -> "StoreWriter":
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is None:
            self.commit()
        else:
            self.abort()

    def has(self, digest: bytes) -> bool:
        """True when the object is in the store or was put in this session."""
        return self._known(digest)

    def missing(self, digests: Iterable[bytes]) -> set[bytes]:
        """The digests that are neither in the store nor put in this session (one bulk lookup)."""
        if self.force:
            return {d for d in digests if not self._known(d)}
        left = self.store._unpacked(set(digests).difference(self._pending))
        return left.difference(self._loose()) if left else left

    def _known(self, digest: bytes) -> bool:
        if digest in self.force:
            return digest in self._pending
        return digest in self._pending or self.store._packed(digest) or digest in self._loose()

    def _loose(self) -> set[bytes]:
        """The loose objects, listed once per session rather than one stat per lookup.

        The session holds the store lock (shared, or exclusive for repair), so gc, the only
        remover, cannot run meanwhile; an object another writer adds is at worst stored twice.
        """
        if self._loose_listed is None:
            with self._mutex:
                if self._loose_listed is None:
                    self._loose_listed = set(self.store.loose_objects())
        return self._loose_listed

    # --- puts -----------------------------------------------------------------------------

    def put_bytes(self, data: bytes | memoryview, kind: int = BLOB) -> bytes:
        """Stores a blob (or a recipe table, with kind=RECIPE under its file's hash) and returns its hash."""
        digest = Blake3(data).digest()
        with _os_errors("store", self.store.packs_dir):
            self._add_blob(digest, data)
        return digest

    def _add_blob(self, digest: bytes, data: bytes | memoryview, kind: int = BLOB) -> int:
        if self._known(digest):
            return 0
        stored, codec = (data, RAW) if kind == RECIPE else self.store.encode(data)
        return self._append(digest, stored, codec, len(data), kind)

    def _add_blobs(self, items: Sequence[tuple[bytes, bytes | memoryview]]) -> list[int]:
        """_add_blob for many blobs, compressed together; the stored bytes each added (0: known)."""
        digests = [digest for digest, _ in items]
        absent = self.missing(digests)  # one bulk lookup for the batch
        fresh = [i for i, digest in enumerate(digests) if digest in absent]
        encoded = self.store.encode_many([items[i][1] for i in fresh])
        added = [0] * len(items)
        records = [(items[i][0], stored, codec, len(items[i][1])) for i, (stored, codec) in zip(fresh, encoded)]
        for i, size in zip(fresh, self._append_blobs(records)):
            added[i] = size
        return added

    def _append_blobs(self, records: Sequence[tuple[bytes, bytes | memoryview, int, int]]) -> list[int]:
        """Appends blob records (digest, stored, codec, raw length) under one hold of the mutex;
        the stored size of each (0: another thread appended it first).  A pack that fills is
        finished outside the mutex, so its fsync never stalls the other workers' appends."""
        out: list[int] = []
        full: list[PackWriter] = []
        pack_max = self.store.config["pack_max"]
        with self._mutex:
            pending = self._pending
            take: list[tuple[bytes, bytes | memoryview, int, int, int]] = []  # for the open pack
            offset = self._pack.offset if self._pack is not None else HEADER.size
            for digest, stored, codec, raw_len in records:
                if digest in pending:
                    out.append(0)
                    continue
                pending.add(digest)
                out.append(len(stored))
                take.append((digest, stored, raw_len, BLOB, codec))
                offset += len(stored)
                if offset >= pack_max:  # this pack is full with this record
                    full.append(self._add_to_pack(take))
                    self._pack, take, offset = None, [], HEADER.size
            if take:
                self._add_to_pack(take)
            self.added_bytes += sum(out)
            self.added_objects += sum(1 for n in out if n)
        for i, pack in enumerate(full):
            try:
                self._seal(pack)
            except BaseException:
                for rest in full[i + 1:]:
                    rest.abort()
                raise
        return out

    def _add_to_pack(self, records: Sequence[tuple[bytes, bytes | memoryview, int, int, int]]) -> PackWriter:
        """Appends records to the open pack, opening one first when there is none (caller holds the mutex)."""
        if self._pack is None:
            self._pack = PackWriter(self.store._staging(".pack"))
        self._pack.add_many(records)
        return self._pack

    def _append(self, digest: bytes, stored: bytes | memoryview, codec: int, raw_len: int, kind: int) -> int:
        """Appends one record to this writer's pack (unless another thread just did); its stored size."""
        with self._mutex:
            if digest in self._pending:
                return 0
            if self._pack is None:
                self._pack = PackWriter(self.store._staging(".pack"))
            self._pack.add(digest, stored, raw_len, kind, codec)
            self._pending.add(digest)
            self.added_bytes += len(stored)
            self.added_objects += 1
            if self._pack.offset >= self.store.config["pack_max"]:
                self._publish_pack()
        return len(stored)

    def _publish_pack(self) -> None:
        """Finishes the current pack and renames it into packs/ (caller holds the mutex)."""
        pack, self._pack = self._pack, None
        if pack is None or not len(pack):
            if pack is not None:
                pack.abort()
            return
        self._seal(pack, locked=True)

    def _seal(self, pack: PackWriter, locked: bool = False) -> None:
        """Makes a full pack durable and publishes it (locked: the caller holds the mutex)."""
        try:
            pack.finish()
            name = secrets.token_hex(16)
            added = self.store.packs.add(name, pack.path)
        except BaseException:
            pack.abort()
            raise
        entries = pack_entries(name, pack.rows)  # made by the thread that sealed it, not at commit
        with nullcontext() if locked else self._mutex:
            self._added.append(added)
            self.published_packs.append(name)
            self._sealed.append((name, entries))

    def put_file(self, path: str | os.PathLike[str]) -> Put:
        """Stores a regular file (never through a link) and returns its hash as read."""
        path = os.fspath(path)
        cfg = self.store.config
        if self.store.cow:
            try:
                st = os.lstat(path)
            except OSError as e:
                raise errors.os_error(e, "stat", path) from e
            if stat.S_ISREG(st.st_mode) and st.st_size >= cfg["clone_min"]:
                with _os_errors("store", path):
                    put = self._put_clone(path)
                if put is not None:
                    return put
        with _os_errors("store", path), _open_regular(path) as f:
            st = f.stat()
            for _attempt in (1, 2):
                put = self._put_small(f, st.size) if st.size < cfg["chunk_min"] else self._put_chunked(f, st.size)
                after = f.stat()
                if _same_content_stat(st, after):
                    return put
                st = after
            raise errors.ChangedWhileReading(f"{path} changed while it was being stored", path=str(path))

    def _put_small(self, f: File, size: int) -> Put:
        data = _read_all(f, size)  # a copy: hashed and stored from the same bytes
        digest = Blake3(data).digest()
        added = self._add_blob(digest, data)
        return Put(digest, added, "blob" if added else "known", len(data))

    def _put_chunked(self, f: File, size: int) -> Put:
        # Each chunk is a copy of the file's bytes as read: it is hashed and stored from that
        # copy, and the file's name is the hash of those copies, whatever a writer does meanwhile.
        whole = Blake3()
        rows = []
        added = length = 0
        for piece in chunking.chunks(f, size):
            chunk = Blake3(piece).digest()
            whole.update(piece)
            added += self._add_blob(chunk, piece)
            rows.append(RECIPE_ROW.pack(chunk, len(piece)))
            length += len(piece)
        digest = whole.digest()
        added += self._add_blob(digest, b"".join(rows), RECIPE)
        return Put(digest, added, "chunks" if added else "known", length)

    def _put_clone(self, path: str) -> Put | None:
        """A loose object cloned from the file (a frozen copy, hashed); None where the volume cannot clone."""
        staged = self.store._staging(".obj")
        try:
            volume.clone_file(path, staged)
        except volume.CANNOT_CLONE:
            return None
        with removed_on_failure(staged, "store"):
            return self._adopt_clone(staged, hash_file(staged), os.lstat(staged).st_size)

    def _put_clones(self, base: str, files: Sequence[FileToStore]) -> list[Put | None]:
        """Loose objects cloned from many files below base in one native batch; None where one cannot clone.

        Each clone is hashed (one native batch): a clone is a frozen copy that no writer of
        the file reaches, so its object is named by exactly the bytes it holds.  The file's
        stats vouch for nothing here: a write through a shared map moves none of them.
        """
        stem = self.store._staging("").name  # one random name for the batch, a number per clone
        names = [f"{stem}-{i}.obj" for i in range(len(files))]
        results = volume.clone_files(base, [f.path for f in files], self.store.tmp, names)
        staged = [name for name, got in zip(names, results) if got.error is None]
        adopted = 0  # staged[:adopted] are objects now
        try:
            for got in results:
                if got.error is not None and not isinstance(got.error, volume.CANNOT_CLONE):
                    raise got.error
            # A clone's pages are its own, read once here: left in the cache, a first snapshot
            # would cache the tree's large files twice, pushing out what users read, the tree
            # included (docs/store.md, "Writing": 5.0-10.7 s against 4.4-5.5 s on /usr/lib).
            hashed = iter(hash_files_report(self.store.tmp, staged, threads=CLONE_READERS, drop_cached=True))
            out: list[Put | None] = []
            tmp = os.fspath(self.store.tmp) + "/"
            for name, got in zip(names, results):
                if got.error is not None:
                    out.append(None)
                    continue
                h = next(hashed)
                if h.error is not None:
                    raise h.error
                out.append(self._adopt_clone(tmp + name, h.digest, h.size))
                adopted += 1
        except BaseException:
            for name in staged[adopted:]:
                remove_quietly(self.store.tmp / name)  # the clones not adopted yet
            raise
        return out

    def _adopt_clone(self, staged: str | Path, digest: bytes, size: int) -> Put:
        """Renames a staged clone, hashed, into the objects (or drops it when the object is there)."""
        if self._known(digest):
            os.unlink(staged)
            return Put(digest, 0, "known", size)
        dest = self.store._loose_str(digest)
        sub = dest[:dest.rindex("/")]  # objects/xx
        if sub not in self._subdirs:
            os.makedirs(sub, exist_ok=True)
            self._subdirs.add(sub)
        os.rename(staged, dest)
        with self._mutex:
            self._pending.add(digest)
            self.loose_written[digest] = dest
            self.added_bytes += size
            self.added_objects += 1
        return Put(digest, size, "clone", size)

    def put_files(self, root: str | os.PathLike[str], files: Sequence[FileToStore]) -> list[Put]:
        """Stores many regular files below root (never through a link): one Put per file, in order.

        Small files are read and hashed in one native batch, without the GIL.  Each Put names
        the bytes stored: a file that changed after its manifest was made has another digest.
        """
        with _os_errors("store", self.store.root):
            return self._put_files(os.fspath(root).rstrip("/") + "/", files)

    def _put_files(self, base: str, files: Sequence[FileToStore]) -> list[Put]:
        cfg = self.store.config
        out: list[Put | None] = [None] * len(files)
        whole: list[int] = []  # files read whole in the batch
        big = [i for i, f in enumerate(files) if f.size >= cfg["clone_min"]] if self.store.cow else []
        if big:
            for i, put in zip(big, self._put_clones(base, [files[i] for i in big])):
                out[i] = put
        for i, f in enumerate(files):
            if out[i] is None:
                if f.size < cfg["chunk_min"]:
                    whole.append(i)
                else:
                    out[i] = self.put_file(base + os.fsdecode(f.path))
        if whole:
            kept = read_files(base, [files[i].path for i in whole], [files[i].size for i in whole], threads=1)
            blobs: list[tuple[int, bytes, memoryview]] = []
            for i, (read, data) in zip(whole, kept):
                if read.error is not None:
                    raise read.error
                if data is None:  # larger than its manifest said: stored on its own
                    out[i] = self.put_file(base + os.fsdecode(files[i].path))
                else:
                    blobs.append((i, read.digest, data))
            for (i, digest, data), added in zip(blobs, self._add_blobs([(d, data) for _, d, data in blobs])):
                out[i] = Put(digest, added, "blob" if added else "known", len(data))
        return out  # type: ignore[return-value]

    # --- end of session -------------------------------------------------------------------

    def commit(self) -> None:
        """Makes everything put durable (commit_objects), then releases the store lock."""
        if self._closed:
            return
        self.commit_objects()
        self._release()

    def commit_objects(self) -> None:
        """Makes everything put so far durable (packs fsynced and renamed, clones synced); keeps the lock."""
        try:
            with self._mutex:
                self._publish_pack()
            added, self._added = self._added, []
            self.store.packs.settle(added)  # type: ignore[arg-type]
            if self._fleet is not None and not self._fleet.still_held():  # type: ignore[attr-defined]
                # The catalogue server dropped the lock (a restart): gc on another host may
                # have run meanwhile, so what this session found stored cannot be trusted.
                raise errors.StoreBusy("the store lock across hosts was lost (the catalogue server restarted?): "
                                       "nothing is published; try again")
            if self.loose_written and not volume.sync_files(list(self.loose_written.values()), self.store.objects_dir):
                # flushed one by one: their directories' entries (the renames) too
                for d in sorted({os.path.dirname(p) for p in self.loose_written.values()}):
                    volume.fsync_path(Path(d))
            sealed, self._sealed = self._sealed, []
            for name, entries in sealed:
                self.store.learn_pack(name, entries)
            self.store.refresh()
        except OSError as e:
            self.abort()
            raise errors.os_error(e, "commit", self.store.root) from e
        except BaseException:
            self.abort()
            raise
        self.loose_written.clear()

    def abort(self) -> None:
        """Drops the unfinished pack; objects already renamed stay for gc."""
        if self._closed:
            return
        try:
            with self._mutex:
                if self._pack is not None:
                    self._pack.abort()
                    self._pack = None
        finally:
            self._release()

    def _release(self) -> None:
        self._closed = True
        if self._lock_cm is not None:
            self._lock_cm.__exit__(None, None, None)
            self._lock_cm = None


def pack_entries(name: str, rows: Sequence[tuple[bytes, int, int, int, int, int]]) -> dict[bytes, PackEntry]:
    """The index entries of the pack named name from the rows written to it (digest, offset,
    stored and raw length, kind, codec), the first row of a digest winning."""
    make = PackEntry.__new__
    return {r[0]: make(PackEntry, name, r[1], r[2], r[3], r[4], r[5]) for r in reversed(rows)}


def _open_regular(path: str) -> File:
    """The regular file at path open for reading, never through a link (UnsafePath)."""
    try:
        f = open_file(path)
    except (errors.IsADirectory, errors.SpecialFile):
        raise errors.InvalidInput(f"{path} is not a regular file", path=str(path)) from None
    if f.stat().kind != "file":
        f.close()
        raise errors.InvalidInput(f"{path} is not a regular file", path=str(path))
    return f


def _same_content_stat(a: Stat, b: Stat) -> bool:
    return (a.size, a.mtime_ns, a.ctime_ns, a.file_id, a.file_id_hi) == (b.size, b.mtime_ns, b.ctime_ns,
                                                                       b.file_id, b.file_id_hi)


def _read_all(f: File, size_hint: int) -> bytes:
    """Every byte of a file from offset 0 (a file that grew meanwhile is read to its end)."""
    pieces, offset = [], 0
    while piece := f.pread(max(size_hint - offset, 1 << 16), offset):
        pieces.append(piece)
        offset += len(piece)
    return pieces[0] if len(pieces) == 1 else b"".join(pieces)
