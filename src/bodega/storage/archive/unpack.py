"""unpack(): an archive's members written into a Tree, every member checked first.

Order of work: with a listing up front (zip, 7z), every name, kind, link, duplicate and the
declared sizes are checked before the first byte is written; a tar stream is checked member
by member as it arrives.  While writing, the bytes actually produced are counted against
the size cap and the expansion ratio (a zip bomb's declared sizes can lie), and at the end
every symlink is checked again against the whole set of links (a later link could make an
earlier one escape).  Directories are created private and given their modes last.
Set-uid and set-gid bits are dropped: an archive cannot plant a set-id program.
Small files whose bytes the reader already holds (a tar stream's) are checked one by one and
written in batches by one native call each (Dir.write_files), without the GIL.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from bodega import errors
from bodega.storage.archive.member import DIR, FILE, HARDLINK, SPECIAL, SYMLINK, Member
from bodega.storage.archive.member_path import normalize, refuse, resolve_inside, shown
from bodega.storage.archive.reader import Archive
from bodega.storage.archive.sniff import ZIP
from bodega.storage.tree import Tree, write_at

CHUNK = 1 << 20
SETID = 0o6000
BATCH_FILES, BATCH_BYTES = 1024, 16 << 20  # small files written by one native call


class _Dirs:
    """Open handles of the directories being filled, so a file is created from its parent's
    handle instead of walking from the root again (archives list a directory's files together)."""

    KEEP = 64

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.open: dict[bytes, Tree] = {}

    def write(self, path: bytes, data: Any, mode: int, mtime_ns: int | None) -> None:
        parent, _, name = path.rpartition(b"/")
        if not parent:
            write_at(self.tree.root, name, data, mode=mode, mtime_ns=mtime_ns)
            return
        sub = self.open.get(parent)
        if sub is None:
            if len(self.open) >= self.KEEP:
                self.close()
            sub = self.open[parent] = self.tree.subtree(parent)
        write_at(sub.root, name, data, mode=mode, mtime_ns=mtime_ns)

    def close(self) -> None:
        for sub in self.open.values():
            sub.close()
        self.open.clear()


@dataclass(frozen=True)
class UnpackLimits:
    """Caps that stop a hostile or broken archive before it fills the disk.

    max_bytes: uncompressed bytes in all; max_ratio: output bytes per archive byte, checked
    once the output passes ratio_floor (small archives of very compressible text pass).
    """

    max_bytes: int = 64 << 30
    max_members: int = 2_000_000
    max_ratio: float = 200.0
    ratio_floor: int = 64 << 20
    max_path: int = 4096
    max_depth: int = 256


@dataclass
class UnpackReport:
    """What unpack wrote."""

    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    hardlinks: int = 0
    bytes: int = 0
    setid_dropped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"files": self.files, "dirs": self.dirs, "symlinks": self.symlinks, "hardlinks": self.hardlinks,
                "bytes": self.bytes, "setid_dropped": list(self.setid_dropped)}


class _Checker:
    """The state of the checks over one archive: what was seen, what it weighs."""

    def __init__(self, archive: Archive, limits: UnpackLimits, case_insensitive: bool) -> None:
        self.archive, self.limits, self.fold = archive, limits, case_insensitive
        self.backslash = archive.format == ZIP  # zip's spec says '/'; a '\' comes from a Windows tool
        self.kinds: dict[bytes, str] = {}
        self.keys: dict[bytes, bytes] = {}  # duplicate key (folded when asked) -> path
        self.links: dict[bytes, bytes] = {}
        self.count = 0

    def refuse(self, m: Member, reason: str) -> errors.UnsafeArchive:
        return refuse(m.shown, reason, self.archive.path)

    def path_of(self, m: Member) -> bytes:
        """The member's checked relative path (b"" for the root)."""
        try:
            return normalize(m.name, backslash_is_separator=self.backslash, max_path=self.limits.max_path,
                             max_depth=self.limits.max_depth)
        except errors.UnsafeArchive as e:
            raise self.refuse(m, e.reason or "unsafe name") from None

    def admit(self, m: Member) -> bytes:
        """Checks one member against itself and those before it; returns its path."""
        self.count += 1
        if self.count > self.limits.max_members:
            raise self.refuse(m, f"more than {self.limits.max_members} members")
        if m.kind == SPECIAL:
            raise self.refuse(m, f"a {m.detail or 'special file'}: device files, fifos and sockets are refused")
        path = self.path_of(m)
        if not path:
            if m.kind == DIR:
                return path
            raise self.refuse(m, "names the unpack root itself")
        parts = path.split(b"/")
        for i in range(1, len(parts)):
            above = self.kinds.get(b"/".join(parts[:i]))
            if above is not None and above != DIR:
                raise self.refuse(m, f"goes through {shown(b'/'.join(parts[:i]))!r}, which is a {above}")
        key = path.lower() if self.fold else path
        earlier = self.keys.get(key)
        if earlier is not None and not (m.kind == DIR and self.kinds.get(earlier) == DIR):
            same = "" if earlier == path else f" (as {shown(earlier)!r} once case is folded)"
            raise self.refuse(m, f"a duplicate member{same}")
        if m.kind == SYMLINK:
            if m.link is None or not m.link:
                raise self.refuse(m, "a symlink without a target")
            if b"\x00" in m.link or not resolve_inside(path, m.link, self.links):
                raise self.refuse(m, f"a symlink pointing outside ({shown(m.link)!r})")
            self.links[path] = m.link
        elif m.kind == HARDLINK:
            target = self._hardlink_target(m)
            if self.kinds.get(target) != FILE:
                raise self.refuse(m, f"a hard link to {shown(m.link or b'')!r}, which is not a file earlier in "
                                     "the archive (it would point outside)")
        self.keys[key] = path
        self.kinds[path] = DIR if m.kind == DIR else m.kind
        return path

    def _hardlink_target(self, m: Member) -> bytes:
        try:
            return normalize(m.link or b"", backslash_is_separator=self.backslash, max_path=self.limits.max_path,
                             max_depth=self.limits.max_depth)
        except errors.UnsafeArchive as e:
            raise self.refuse(m, f"a hard link whose target has {e.reason}") from None

    def recheck_links(self) -> None:
        """Every symlink again, now that every link of the archive is known."""
        links = dict(self.links)
        for path, target in self.links.items():
            del links[path]  # the others (a copy of the rest per link made this quadratic)
            inside = resolve_inside(path, target, links)
            links[path] = target
            if not inside:
                raise refuse(shown(path), f"a symlink pointing outside ({shown(target)!r}) through the "
                                          "archive's other links", self.archive.path)

    def weigh(self, m: Member, total: int) -> None:
        """Raises when total output bytes pass the size cap or the expansion ratio."""
        lim = self.limits
        if total > lim.max_bytes:
            raise self.refuse(m, f"the archive unpacks to more than {lim.max_bytes} bytes (zip bomb cap)")
        if total > lim.ratio_floor and total > lim.max_ratio * max(1, self.archive.size):
            raise self.refuse(m, f"the archive expands more than {lim.max_ratio:g} times its "
                                 f"{self.archive.size} bytes (zip bomb ratio)")


def _preflight(archive: Archive, checker: _Checker, listing: list[Member]) -> None:
    """Checks a listing whole before anything is written (symlinks without targets yet: later)."""
    dry = _Checker(archive, checker.limits, checker.fold)
    declared = 0
    for m in listing:
        if m.kind == SYMLINK and m.link is None:
            m = Member(name=m.name, kind=FILE, mode=m.mode, size=0)  # its target arrives with its data
        dry.admit(m)
        declared += m.size
        dry.weigh(m, declared)
    dry.recheck_links()


def unpack(archive: Archive, tree: Tree, into: bytes = b"", limits: UnpackLimits = UnpackLimits(), *,
           progress: Callable[[int, int], object] | None = None, cancel: Callable[[], bool] | None = None,
           case_insensitive: bool = False, on_file: Callable[[bytes, bytes], object] | None = None,
           progress_interval: float = 0.1) -> UnpackReport:
    """Writes archive's members under into (a relative path in tree) after checking each.

    progress(members_done, bytes_done) is called at most every progress_interval seconds (0:
    after every member written); cancel() returning True stops
    with errors.Cancelled; on_file(path, head) sees each file's path (relative to into) and
    first chunk (up to 1 MiB) as it is written, and may raise to stop.  Nothing existing is
    overwritten (the Tree creates exclusively).
    On any error what was written so far stays: unpack into a fresh directory and remove it,
    or roll the tree back, on failure.
    """
    checker = _Checker(archive, limits, case_insensitive)
    listing = archive.listing
    if listing is not None:
        _preflight(archive, checker, listing)
    if into:
        tree.makedirs(into.rstrip(b"/"), mode=0o700)
    unpacker = _Unpacker(archive, tree, into.rstrip(b"/") + b"/" if into else b"", checker, progress_interval)
    return unpacker.run(progress, cancel, on_file)


class _Unpacker:
    """One unpack: the members written in archive order, directories given their modes last."""

    def __init__(self, archive: Archive, tree: Tree, prefix: bytes, checker: _Checker, interval: float) -> None:
        self.archive, self.tree, self.prefix, self.checker = archive, tree, prefix, checker
        self.report = UnpackReport()
        self.made: set[bytes] = set()
        self.dir_meta: dict[bytes, tuple[int, int | None]] = {}
        self.dirs = _Dirs(tree)
        self.interval, self.last = interval, 0.0
        self.pending: list[tuple[bytes, bytes, int, int]] = []  # small files checked, not yet written
        self.pending_bytes = 0
        self.progress: Callable[[int, int], object] | None = None
        self.cancel: Callable[[], bool] | None = None

    def run(self, progress: Callable[[int, int], object] | None, cancel: Callable[[], bool] | None,
            on_file: Callable[[bytes, bytes], object] | None) -> UnpackReport:
        self.progress, self.cancel = progress, cancel
        try:
            for m in self.archive:
                if cancel is not None and cancel():
                    raise errors.Cancelled("unpack cancelled")
                self._member(m, on_file)
                if not self.pending:
                    self._tell()
            self._flush()
        finally:
            self.dirs.close()
        self.checker.recheck_links()
        for path in sorted(self.dir_meta, key=lambda p: p.count(b"/"), reverse=True):  # deepest first
            mode, mtime_ns = self.dir_meta[path]
            self.tree.set_meta(self.prefix + path, mode=mode, mtime_ns=mtime_ns)
        return self.report

    def _done(self) -> tuple[int, int]:
        """Members and bytes written so far."""
        r = self.report
        return r.files + r.dirs + r.symlinks + r.hardlinks - len(self.pending), r.bytes - self.pending_bytes

    def _tell(self) -> None:
        """Calls progress when the interval has passed."""
        if self.progress is not None:
            now = time.monotonic()
            if now - self.last >= self.interval:
                self.last = now
                self.progress(*self._done())

    def _flush(self) -> None:
        """Writes the pending small files in one native call (progress and cancel inside it)."""
        if not self.pending:
            return
        members, done_bytes = self._done()

        def tick(files: int, nbytes: int) -> None:
            if self.progress is not None:
                self.progress(members + files, done_bytes + nbytes)
            if self.cancel is not None and self.cancel():
                raise errors.Cancelled("unpack cancelled")

        pending, self.pending, self.pending_bytes = self.pending, [], 0
        hook = tick if self.progress is not None or self.cancel is not None else None
        self.tree.root.write_files(pending, hook, int(self.interval * 1e9))
        self.last = time.monotonic()

    def _parent_ready(self, path: bytes) -> None:
        parent = path.rpartition(b"/")[0]
        if parent and parent not in self.made:
            self.tree.makedirs(self.prefix + parent, mode=0o700)
            walk = parent
            while walk and walk not in self.made:
                self.made.add(walk)
                self.dir_meta.setdefault(walk, (0o755, None))
                walk = walk.rpartition(b"/")[0]

    def _member(self, m: Member, on_file: Callable[[bytes, bytes], object] | None) -> None:
        path = self.checker.admit(m)
        report, prefix = self.report, self.prefix
        small = m.kind == FILE and m.data is not None and m.mtime_ns is not None
        if m.kind == HARDLINK:
            self._flush()  # its target may be a file still pending
        mode = m.mode & 0o7777
        if mode & SETID:
            report.setid_dropped.append(shown(path))
            mode &= ~SETID
        if m.kind == DIR:
            if path:
                self._parent_ready(path)
                if path not in self.made:
                    self.tree.makedirs(prefix + path, mode=0o700)
                    self.made.add(path)
                    report.dirs += 1
                self.dir_meta[path] = (mode, m.mtime_ns)
            return
        self._parent_ready(path)
        if small:
            assert m.data is not None and m.mtime_ns is not None
            data = m.data
            if on_file is not None:
                on_file(path, data[:CHUNK])
            self.checker.weigh(m, report.bytes + len(data))
            self.pending.append((prefix + path, data, mode, m.mtime_ns))
            self.pending_bytes += len(data)
            report.bytes += len(data)
            report.files += 1
            if len(self.pending) >= BATCH_FILES or self.pending_bytes >= BATCH_BYTES:
                self._flush()
        elif m.kind == FILE:
            first = (lambda head: on_file(path, head)) if on_file else None
            report.bytes += _write(self.dirs, prefix + path, m, mode, self.checker, report, first)
            report.files += 1
        elif m.kind == SYMLINK:
            assert m.link is not None
            self.tree.symlink(prefix + path, m.link, is_dir=self.checker.kinds.get(_lexical(path, m.link)) == DIR)
            report.symlinks += 1
        elif m.kind == HARDLINK:
            self.tree.hardlink(prefix + self.checker._hardlink_target(m), prefix + path)
            report.hardlinks += 1


def _lexical(path: bytes, target: bytes) -> bytes:
    """Where a relative link target lands, lexically (for the Windows directory-link flag)."""
    here = path.split(b"/")[:-1]
    for part in target.split(b"/"):
        if part in (b"", b"."):
            continue
        if part == b"..":
            if here:
                here.pop()
        else:
            here.append(part)
    return b"/".join(here)


def _write(dirs: _Dirs, path: bytes, m: Member, mode: int, checker: _Checker, report: UnpackReport,
           first: Callable[[bytes], object] | None) -> int:
    """Writes one file member, counting its bytes against the caps as they come (a small one in
    one piece, a large one streamed)."""
    written = 0
    with m.open() as stream:
        head = stream.read(CHUNK)
        if first is not None:
            first(head)
        written = len(head)
        checker.weigh(m, report.bytes + written)
        if len(head) < CHUNK:
            tail = stream.read(1)  # the end, or a member larger than it said: stream the rest
            if not tail:
                dirs.write(path, head, mode, m.mtime_ns)
                return written
            head += tail
            written += len(tail)

        def chunks() -> Iterator[bytes]:
            nonlocal written
            yield head
            while True:
                data = stream.read(CHUNK)
                if not data:
                    return
                written += len(data)
                checker.weigh(m, report.bytes + written)
                yield data

        dirs.write(path, chunks(), mode, m.mtime_ns)
    return written
