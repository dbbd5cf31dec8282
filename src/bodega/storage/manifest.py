"""Checksum manifests of directory trees: build, load, save, diff, verify, deltas.

`bodega.manifest` is this module.  A Manifest lists every entry below a root with its kind,
mode, size, mtime, BLAKE3 content hash and link target (docs/format.md); its root hash
names the tree's content on any host.  The columns live in the native table; this module
adds the file format, the API and the entry objects.
"""
from __future__ import annotations

import operator
import os
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Iterator, NamedTuple, TypeVar, Union

from bodega._native import manifest as _native
from bodega.errors import BodegaError, DeltaBaseMismatch, InvalidInput, ManifestCorrupt, os_error
from bodega.storage import manifest_file
from bodega.storage.atomic_file import write_file_atomic

if TYPE_CHECKING:
    from bodega._native._progress import Progress
    from bodega.storage.manifest_diff import Diff

T = TypeVar("T")
_path_of = operator.itemgetter(0)  # a file row's path (UnreadFile, HashedFile)
PathLike = Union[str, bytes, "os.PathLike[str]", "os.PathLike[bytes]"]
ProgressCallback = Callable[["Progress"], object]
WallClock = Callable[[], int]
"""The wall clock in ns that stamps a scan.  File times are wall-clock times and the racy rule
compares the two, so a test passes a clock that has moved on instead of waiting."""

__all__ = ["Draft", "Entry", "HashedFile", "Manifest", "UnreadFile", "WallClock", "build", "build_copy",
           "build_draft", "load", "loads", "diff", "verify"]


class Entry(NamedTuple):
    """One entry of a manifest."""

    path: bytes          # relative, '/'-separated
    kind: str            # file, dir, symlink, reparse, special ("deleted" in deltas)
    mode: int            # st_mode: type and permission bits
    attrs: int           # Windows attributes kept (READONLY, HIDDEN, SYSTEM); 0 on POSIX
    size: int
    mtime_ns: int
    hash: bytes | None   # BLAKE3-256 of a file's bytes
    link: bytes | None   # a link's target; for a file, the first name of its hard links (if any)
    flags: int           # 1: path not UTF-8, 2: link not UTF-8
    uid: int = 0         # the owner, when the manifest records owners (Manifest.has_owners)
    gid: int = 0

    @property
    def path_str(self) -> str:
        """The path as str (bytes that are not UTF-8 as surrogate escapes)."""
        return self.path.decode("utf-8", "surrogateescape")

    @property
    def path_is_utf8(self) -> bool:
        """False when the name's bytes are not UTF-8 (kept as they are)."""
        return not self.flags & 1

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (docs/format.md, "json")."""
        out: dict[str, Any] = {"kind": self.kind, "mode": f"{self.mode:o}", "size": self.size,
                               "mtime_ns": self.mtime_ns,
                               "hash": self.hash.hex() if self.hash is not None else None}
        out.update(bytes_field("path", self.path))
        if self.link is not None and self.kind == "file":
            out["link"] = None
            out.update(bytes_field("hardlink", self.link))
        elif self.link is not None:
            out.update(bytes_field("link", self.link))
        else:
            out["link"] = None
        if self.attrs:
            out["attrs"] = self.attrs
        return out


class HashedFile(NamedTuple):
    """A regular file of a manifest and its content hash."""

    path: bytes
    size: int
    digest: bytes


class UnreadFile(NamedTuple):
    """A regular file build_draft() left unread: its hash comes from whoever reads it next."""

    path: bytes
    size: int


def bytes_field(name: str, value: bytes) -> dict[str, str]:
    """{name: text} for UTF-8 bytes, else {name_hex: hex}: JSON keeps every name losslessly."""
    try:
        return {name: value.decode("utf-8")}
    except UnicodeDecodeError:
        return {f"{name}_hex": value.hex()}


class Manifest:
    """A full or delta manifest: a sorted, read-only sequence of Entry with a root hash."""

    def __init__(self, table: _native.Table, root: bytes | None = None, base_root: bytes | None = None,
                 files_read: int = 0) -> None:
        self._table = table
        self._root = root  # None: a full manifest's own, computed when first asked for
        self._claimed: tuple[bytes, str] | None = None  # a file's root, checked on first use
        self.base_root = base_root
        self.files_read = files_read  # files read to build it (the rest came from the stat cache)

    @property
    def root(self) -> bytes:
        """The root hash (of a full manifest: its entries' hash tree, computed once, on first use,
        so that a diff of a live tree pays for no root it does not show).  For a file loaded
        with check_root=False: ManifestCorrupt when its header's root is not its entries'."""
        if self._root is None:
            got = self._table.root()
            if self._claimed is not None:
                _check_root(got, *self._claimed)
            self._root = got
        return self._root

    # ---- the entries ------------------------------------------------------------------

    @property
    def root_hex(self) -> str:
        """The root hash in hex."""
        return self.root.hex()

    @property
    def is_delta(self) -> bool:
        """True for a delta (changes against the manifest whose root is base_root)."""
        return self._table.delta

    @property
    def has_owners(self) -> bool:
        """True when the entries' uid and gid were recorded (format version 2, on POSIX)."""
        return self._table.owners

    @property
    def has_stat_cache(self) -> bool:
        """True when the host-local stat cache is present."""
        return self._table.has_cache

    @property
    def nbytes(self) -> int:
        """Bytes of memory the entries take."""
        return self._table.nbytes

    def __len__(self) -> int:
        return len(self._table)

    def __getitem__(self, i: int) -> Entry:
        if i < 0:
            i += len(self._table)
        return Entry._make(self._table.row(i))

    def __iter__(self) -> Iterator[Entry]:
        row = self._table.row
        for i in range(len(self._table)):
            yield Entry._make(row(i))

    def get(self, path: PathLike) -> Entry | None:
        """The entry at path (relative, '/'-separated), or None."""
        i = self._table.find(os.fsencode(path))
        return None if i < 0 else self[i]

    def hashed_files(self) -> list[HashedFile]:
        """Every regular file and its hash, hard links once (by their first name; for a full manifest)."""
        _full(self, "hashed_files")
        return [HashedFile._make(row) for row in self._table.hashed_files()]

    def total_file_bytes(self) -> int:
        """The size of all regular files together."""
        return self._table.file_bytes()

    def file_count(self) -> int:
        """How many regular files (each hard link counted)."""
        return self._table.file_count()

    def __eq__(self, other: object) -> bool:
        """Equal entries (stat caches aside) and equal roots."""
        if not isinstance(other, Manifest):
            return NotImplemented
        return (self.root == other.root and self.base_root == other.base_root
                and self._table.same_table(other._table))

    def __repr__(self) -> str:
        kind = "delta" if self.is_delta else "manifest"
        return f"<{kind} {self.root_hex[:16]} {len(self)} entries>"

    # ---- bytes and files --------------------------------------------------------------

    def to_bytes(self, stat_cache: bool = True, table_frames: list[bytes] | None = None) -> bytes:
        """The binary file (docs/format.md); stat_cache=False leaves the host-local part out.
        table_frames: this manifest's table_frames(), when made already (shared by two files)."""
        t = self._table
        cache = t.cache_section() if stat_cache else None
        table = t.table_len if table_frames is not None else t.table_section()  # no copy when compressed already
        return manifest_file.encode(manifest_file.Sections(
            len(t), t.delta, self.root, self.base_root, table, cache,
            t.scan_start_ns, t.racy_window_ns, t.owners), table_frames)

    def table_frames(self) -> list[bytes]:
        """The table's compressed blocks, as to_bytes writes them with or without the stat cache."""
        return manifest_file.compress_section(self._table.table_section())

    def save(self, path: PathLike, stat_cache: bool = True, table_frames: list[bytes] | None = None) -> None:
        """Writes the binary file atomically (a temporary file renamed over path)."""
        write_file_atomic(Path(os.fsdecode(path)), self.to_bytes(stat_cache, table_frames))

    # ---- deltas -----------------------------------------------------------------------

    def delta_from(self, base: Manifest) -> Manifest:
        """The delta that turns base into this manifest."""
        _full(base, "the base of a delta")
        _full(self, "a delta's new state")
        return Manifest(base._table.delta_to(self._table), self.root, base.root)

    def apply(self, delta: Manifest) -> Manifest:
        """This full manifest with delta applied: the full manifest of the delta's new state."""
        _full(self, "the base a delta applies to")
        if not delta.is_delta:
            raise InvalidInput("apply needs a delta manifest")
        if delta.base_root != self.root:
            raise DeltaBaseMismatch(
                f"this delta applies to the manifest {delta.base_root.hex()[:16]}, "
                f"not to {self.root_hex[:16]}")
        table = self._table.apply(delta._table)
        got = table.root()
        if got != delta.root:
            raise ManifestCorrupt(f"the delta's result has root {got.hex()[:16]}, "
                                  f"the delta says {delta.root.hex()[:16]}")
        return Manifest(table, got)


class Draft:
    """A full manifest being made: some files' hashes still to be set (set_content) from the
    bytes someone else read, e.g. the store from its own clone of each file; then manifest().

    A file's entry keeps the stats of the scan, taken before its content was read, so a write
    that moves its times after that makes the next scan read it again.
    """

    def __init__(self, table: _native.Table, unread: list[UnreadFile], files_read: int) -> None:
        self._table = table
        self.unread = unread
        self._missing = set(map(_path_of, unread))  # by a C-level map: half the time of a comprehension
        self.files_read = files_read + len(unread)

    @classmethod
    def of(cls, m: Manifest) -> "Draft":
        """A draft of a finished full manifest (which it takes over: its table is changed in place)."""
        _full(m, "a draft")
        return cls(m._table, [], m.files_read)

    def hashed_files(self) -> list[HashedFile]:
        """The files whose hash is known."""
        return [HashedFile._make(row) for row in self.hashed_rows()]

    def hashed_rows(self) -> list[tuple[bytes, int, bytes]]:
        """The files whose hash is known, as (path, size, digest) rows (no object per file)."""
        # A file not read yet has a zero hash: skipped natively (a first snapshot's draft
        # would otherwise make a row for every file, only to drop it here).
        rows = self._table.hashed_files(known_only=bool(self._missing))
        return [r for r in rows if r[0] not in self._missing] if self._missing else rows

    def set_content(self, path: bytes, digest: bytes, size: int) -> None:
        """Records a file's content as read elsewhere: its hash and size."""
        self.set_contents([path], [digest], [size])

    def set_contents(self, paths: list[bytes], digests: list[bytes], sizes: list[int]) -> None:
        """set_content for many files at once (one native call)."""
        bad = self._table.set_contents(paths, b"".join(digests), sizes)
        if bad >= 0:
            raise InvalidInput(f"{os.fsdecode(paths[bad])} is not in this manifest")
        self._missing.difference_update(paths)

    def read_unread(self, path: PathLike, threads: int = 0) -> None:
        """Reads the files still unread below path (the tree this draft was scanned from) and
        sets their hashes."""
        from bodega._native.hash import hash_files_report

        paths = [f.path for f in self.unread if f.path in self._missing]
        if not paths:
            return
        reports = hash_files_report(path, paths, threads=threads or None)
        failures = [r.error for r in reports if r.error is not None]
        if failures:
            raise _first_of(failures)
        self.set_contents(paths, [r.digest for r in reports], [r.size for r in reports])

    def partial(self) -> Manifest:
        """The manifest as it stands: the files still unread have a zero hash until
        read_unread (for a diff, which tells their change by their stat)."""
        return Manifest(self._table, files_read=self.files_read)

    def manifest(self) -> Manifest:
        """The finished manifest (every file's hash set)."""
        if self._missing:
            raise InvalidInput(f"{len(self._missing)} file(s) of the manifest were never read, "
                               f"e.g. {os.fsdecode(next(iter(self._missing)))}")
        self._table.link_hashes()  # hard links of a file read elsewhere take its hash now
        return Manifest(self._table, files_read=self.files_read)


def _full(m: Manifest, what: str) -> None:
    if m.is_delta:
        raise InvalidInput(f"{what} must be a full manifest, not a delta")


# ---- the API ---------------------------------------------------------------------------

def build(path: PathLike, previous: Manifest | None = None, *, threads: int = 0,
          progress: ProgressCallback | None = None, clock: WallClock = time.time_ns) -> Manifest:
    """The full manifest of the tree below path, with a stat cache.

    With previous (a full manifest of the same tree with its stat cache), files it vouches
    for by the racy-git rule are not read.  A file that vanishes or keeps changing while it
    is read raises ChangedWhileReading, one that cannot be read its StorageError, naming it.
    """
    return _complete(_scan(path, threads, clock, _expected(previous)), path, previous, threads, progress).manifest()


def build_draft(path: PathLike, previous: Manifest | None = None, *, unread_min: int, threads: int = 0,
                progress: ProgressCallback | None = None, clock: WallClock = time.time_ns) -> Draft:
    """build(), except that files of unread_min bytes or more that previous does not vouch for
    are left unread: the caller reads each once (the store hashes its clone) and sets its hash."""
    return _complete(_scan(path, threads, clock, _expected(previous)), path, previous, threads, progress, unread_min)


def build_copy(path: PathLike, source_path: PathLike, source_manifest: Manifest | None, *,
               threads: int = 0, progress: ProgressCallback | None = None,
               clock: WallClock = time.time_ns) -> Manifest:
    """The full manifest of the tree below path, a copy (a clone) of the tree below source_path
    made after source_manifest (a full manifest of the source with its stat cache) was built.

    The copy holds the bytes source_manifest hashed wherever the source's file is unchanged
    since (the racy-git rule, the source scanned now): such a file of the copy with the same
    size and mtime takes its hash unread; every other file is read.  The stat cache is the
    copy's own.  Call it after the copy is made, never before: that order is what makes the
    reuse right.
    """
    prev = source_manifest._table if source_manifest is not None and not source_manifest.is_delta else None

    def scan_source() -> _native.Table | None:
        try:
            return _native.scan_tree(source_path, threads=threads)
        except BodegaError:
            return None  # the source cannot vouch for anything now: every file is read

    if prev is not None:  # both scans run mostly without the GIL
        table, source = _scan_while(path, scan_source, threads, clock)
    else:
        table, source = _scan(path, threads, clock), None
    if source is None:
        prev = None
    files_read, failures, _ = _native.read_copy_suspects(table, path, source, prev, threads=threads,
                                                         progress=progress)
    if failures:
        raise _first_of(failures)
    return Manifest(table, files_read=files_read)


def build_beside(path: PathLike, previous_file: PathLike, *, threads: int = 0,
                 progress: ProgressCallback | None = None,
                 clock: WallClock = time.time_ns) -> tuple[Draft, Manifest | None]:
    """build(path, previous) for a diff against previous, the full manifest with a stat cache
    in previous_file, loaded while the tree is scanned: (the tree's draft, previous, or None
    when the file is missing, unreadable, a delta or without a stat cache, and then every file
    is read).  The draft leaves unread the files whose change a diff against previous tells by
    their stat (Diff.of_tree reads them when their hashes are shown; Draft.read_unread)."""
    def load_previous() -> Manifest | None:
        try:
            m = load(previous_file)
        except BodegaError:
            return None
        return m if not m.is_delta and m.has_stat_cache else None

    table, previous = _scan_while(path, load_previous, threads, clock, manifest_file.expected_size(previous_file))
    return _complete(table, path, previous, threads, progress, diff_only=True), previous


def _scan_while(path: PathLike, other: Callable[[], T], threads: int = 0,
                clock: WallClock = time.time_ns, expect: tuple[int, int] = (0, 0)) -> tuple[_native.Table, T]:
    """(the scan of path, other()), other running meanwhile: both mostly without the GIL;
    expect: the size hint of the scan (_scan).

    A plain thread: concurrent.futures would import logging, 7 ms of every `bodega diff`."""
    loaded: list[T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            loaded.append(other())
        except BaseException as exc:  # raised on the caller's thread, as a future would
            failed.append(exc)

    loader = threading.Thread(target=run, name="bodega-manifest-load")
    loader.start()
    try:
        table = _scan(path, threads, clock, expect)
    finally:
        loader.join()
    if failed:
        raise failed[0]
    return table, loaded[0]


def _scan(path: PathLike, threads: int, clock: WallClock, expect: tuple[int, int] = (0, 0)) -> _native.Table:
    """The scan of path, stamped with clock's time before it began; expect: the (entries,
    bytes of paths and links) its last manifest held, a hint that sizes the scan's buffers."""
    return _native.scan_tree(path, threads=threads, start_ns=clock(), expect_entries=expect[0],
                             expect_bytes=expect[1])


def _expected(m: Manifest | None) -> tuple[int, int]:
    """The size hint a manifest of a tree gives a scan of it (none for a delta)."""
    return (0, 0) if m is None or m.is_delta else (len(m._table), m._table.text_bytes)


def _complete(table: _native.Table, path: PathLike, previous: Manifest | None, threads: int,
              progress: ProgressCallback | None, unread_min: int = 0, diff_only: bool = False) -> Draft:
    """A scanned table made a draft: the suspects read (but those of unread_min bytes or more,
    when given, and with diff_only those a diff against previous tells by their stat), the
    rest taken from previous."""
    prev = previous._table if previous is not None and not previous.is_delta else None
    files_read, failures, unread = _native.read_suspects(table, path, prev, threads=threads, progress=progress,
                                                         leave_min=unread_min, diff_only=diff_only)
    if failures:
        raise _first_of(failures)
    return Draft(table, table.path_sizes(unread, UnreadFile), files_read)


def _first_of(failures: list[BodegaError]) -> BodegaError:
    """The first failure, carrying the others in its details (and a note)."""
    first = failures[0]
    if len(failures) > 1:
        first.details["failures"] = [str(f) for f in failures]
        first.add_note(f"{len(failures) - 1} more file(s) failed too: "
                       + "; ".join(str(f) for f in failures[1:4]))
    return first


def loads(data: bytes | bytearray | memoryview, *, check_root: bool = True) -> Manifest:
    """The manifest in data; ManifestCorrupt naming the offset when damaged.

    check_root=False leaves the root hash of a full manifest to be recomputed and checked
    against the header's when first used (shown, compared, written): a diff of a tree
    against the file shows none, and a tenth of a load's work goes.  Every other check is
    made now (docs/format.md, "Reading")."""
    return _loads(data, check_root, "")


def _loads(data: bytes | bytearray | memoryview, check_root: bool, source: str) -> Manifest:
    h = manifest_file.read_header(data)
    if h.version == manifest_file.VERSION:
        table = _load_in_place(data, h)
    else:  # version 1: its table is given the owner columns first, a copy
        s = manifest_file.decode(data)
        _raise_problem(_native.check_sections(s.table, s.cache, s.entries, s.delta, s.owners), h)
        table = _native.Table.from_sections(s.table, s.cache, s.entries, s.delta, s.scan_start_ns,
                                            s.racy_window_ns, s.owners)
    if h.delta:
        return Manifest(table, h.root, h.base_root)
    if check_root:
        _check_root(table.root(), h.root, "")
        return Manifest(table, h.root)
    m = Manifest(table)
    m._claimed = (h.root, source)
    return m


def _check_root(got: bytes, header_root: bytes, source: str) -> None:
    """ManifestCorrupt when a file's entries give another root than its header's."""
    if got != header_root:
        raise ManifestCorrupt(f"{source}manifest damaged: its entries give the root {got.hex()[:16]}, "
                              f"its header says {header_root.hex()[:16]}", offset=64)


def _load_in_place(data: bytes | bytearray | memoryview, h: manifest_file.Header) -> _native.Table:
    """The table of a current-version file, its blocks decompressed straight into the table's
    own memory: no zeroed buffers, no copy (a third of a load, and its page faults)."""
    raw = _native.RawTable(h.table_len, h.cache_len if h.has_cache else None)
    with raw.view() as view, view[:h.table_len] as table:
        if h.has_cache:
            with view[raw.cache_offset:raw.cache_offset + h.cache_len] as cache:
                manifest_file.read_sections(data, h, table, cache)
        else:
            manifest_file.read_sections(data, h, table, None)
    _raise_problem(raw.check(h.entries, h.delta, h.owners), h)
    return raw.table(h.scan_start_ns, h.racy_window_ns)


def _raise_problem(problem: tuple[int, int | None, bool, str] | None, h: manifest_file.Header) -> None:
    """ManifestCorrupt for what check_sections found, if anything."""
    if problem is None:
        return
    offset, entry, in_cache, what = problem
    if h.version == 1 and not in_cache:
        offset = manifest_file.v1_offset(offset, h.entries)
    section = "cache" if in_cache else "table"
    where = f" (entry {entry})" if entry is not None else ""
    raise ManifestCorrupt(f"manifest damaged: {section} section byte {offset}{where}: {what}",
                          offset=offset, section=section, entry=entry)


def _read_manifest_bytes(path: PathLike) -> bytes | bytearray:
    """The bytes of the file at path, or only its first ones when they are not a manifest's
    magic.  A regular file is read straight into one buffer of its size: a buffered read()
    and the join with the magic would copy a large manifest twice more, and fault in fresh
    pages for each copy, on the thread that loads beside a diff's scan."""
    magic = manifest_file.MAGIC
    with open(path, "rb", buffering=0) as f:
        head = f.read(len(magic))
        if head != magic:
            return head
        size = os.fstat(f.fileno()).st_size
        if size <= len(magic):  # a pipe, or a file that says nothing of its size
            return head + f.readall()
        data = bytearray(size)
        data[:len(magic)] = head
        with memoryview(data) as view:
            got = len(magic)
            while got < size:
                n = f.readinto(view[got:])
                if not n:
                    break
                got += n
        if got < size:  # shrank while read: what was there
            del data[got:]
        else:  # grew while read: the rest too, which the checks then judge
            data += f.readall()
        return data


def load(path: PathLike, *, check_root: bool = True) -> Manifest:
    """The manifest in the file at path (a pipe too; a device or file that is no manifest is
    refused after its first bytes, not read to its end); check_root as for loads()."""
    try:
        data = _read_manifest_bytes(path)
    except OSError as exc:
        raise os_error(exc, "open manifest", path) from None
    try:
        # A root checked later names the file itself: load's prefix is gone by then.
        return _loads(data, check_root, f"{os.fsdecode(path)}: ")
    except BodegaError as exc:
        exc.args = (f"{os.fsdecode(path)}: {exc.args[0]}",) if exc.args else exc.args
        raise


def diff(old: Manifest | PathLike, new: Manifest | PathLike, *, renames: bool = True,
         progress: ProgressCallback | None = None) -> "Diff":
    """What changed from old to new; each a Manifest, a tree (directory) or a manifest file.

    A tree compared with a manifest that has a stat cache reads only the suspect files.
    """
    from bodega.storage.manifest_diff import Diff

    sides: list[Manifest | None] = [m if isinstance(m, Manifest) else None for m in (old, new)]
    is_tree = [s is None and os.path.isdir(given) for s, given in zip(sides, (old, new))]
    if is_tree == [False, False]:
        sides = [s if s is not None else load(given) for s, given in zip(sides, (old, new))]
    elif is_tree == [True, True]:
        sides[0] = build(old, progress=progress)
        sides[1] = build(new, sides[0], progress=progress)
    else:
        # A tree and a manifest: the file loads while the tree is scanned (both mostly
        # without the GIL), then the manifest's stat cache spares the unchanged files, and
        # a new tree's files whose change shows by their stat are read only if shown.
        t, other = is_tree.index(True), is_tree.index(False)
        given = (old, new)
        known = sides[other]
        expect = _expected(known) if known is not None else manifest_file.expected_size(given[other])
        # The file's root is checked only if shown (the text of a diff shows none).
        def side() -> Manifest:
            return known if known is not None else load(given[other], check_root=False)

        table, sides[other] = _scan_while(given[t], side, expect=expect)
        draft = _complete(table, given[t], sides[other], 0, progress, diff_only=t == 1)
        if t == 1 and sides[0] is not None:
            _full(sides[0], "a diff's old side")
            return Diff.of_tree(sides[0], draft, new, renames=renames)
        sides[t] = draft.manifest()
    old_m, new_m = sides
    assert old_m is not None and new_m is not None
    _full(old_m, "a diff's old side")
    _full(new_m, "a diff's new side")
    return Diff.of(old_m, new_m, renames=renames)


def verify(path: PathLike, manifest: Manifest | PathLike, *,
           progress: ProgressCallback | None = None) -> "Diff":
    """Reads every file below path again and compares the tree with manifest.

    The stat cache is not trusted here: verification reads every byte.  An empty Diff means
    the tree matches.
    """
    from bodega.storage.manifest_diff import Diff

    expected = manifest if isinstance(manifest, Manifest) else load(manifest)
    _full(expected, "the manifest to verify against")
    return Diff.of(expected, build(path, progress=progress), renames=False)
