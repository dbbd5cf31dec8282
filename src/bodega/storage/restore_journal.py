"""The restore journal: what a committed restore still has to do, replayable after a crash.

A restore stages everything new under `state/restore/` (files and links with their metadata,
named s0, s1...), then commits this journal (`state/restore.journal`, written whole, flushed,
renamed into place); from then on the restore is rolled forward, by its own process or, after
a crash, by recovery.  Two modes:

- in place: steps applied to the live tree, each relative to the tree's root handle, each
  component of each path opened without following a link:

      ["rm", PATH, T]            the entry at PATH moves to trash/T (done once trash/T exists)
      ["mkdir", PATH]            a directory at PATH (done when one is there)
      ["mv", S, PATH]            staged S moves to PATH, over a file or link there (done once S is gone)
      ["ln", PATH, FIRST]        PATH becomes another name of FIRST's file (done when it is)
      ["meta", PATH, KIND, MODE, MTIME, UID, GID]
                                 the target's metadata on PATH when PATH is a KIND (deepest first)

  Every step can run again: replaying any prefix of the steps, twice, changes nothing more.
  A link or file found where a step needs a directory was put there by someone else: it
  moves to trash (the link itself) and a directory takes its place, with the target's
  metadata (the journal's `dirs` has it for every directory a step's path goes through).
  Nothing outside the tree is reached, whatever is swapped in when.
- full: the new tree, staged whole at `state/restore/root`, replaces the live one (see
  publish.py); the journal names it by file id.

PATH values are hex bytes.  Journals of version 1 (bodega before this format) are read too.
"""
from __future__ import annotations

import json
import os
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Iterator

from bodega import errors
from bodega.storage import faults
from bodega.storage.manifest import Entry, Manifest
from bodega.storage.materialize import Owners
from bodega.storage.tree import Dir, Stat, Tree, split

FORMAT = "bodega-restore-journal"
VERSION = 2
NAME = b"restore.journal"
STAGING = b"restore"
TRASH = b"trash"
Op = list[Any]


@dataclass
class Journal:
    """A committed restore: its target and what is left to do."""

    mode: str                        # "in-place" or "full"
    snapshot: str
    root: str                        # the target's root hash (hex)
    task: str | None = None          # the task that committed it
    ops: list[Op] = field(default_factory=list)
    new_root: list[int | None] | None = None  # full: (file_id, file_id_hi, volume_id) of the staged tree
    dirs: dict[str, list[Any]] = field(default_factory=dict)  # in place: PATH -> [MODE, MTIME, UID, GID]

    def to_bytes(self) -> bytes:
        """The journal file's content."""
        doc = {"format": FORMAT, "version": VERSION, "mode": self.mode, "snapshot": self.snapshot,
               "root": self.root, "task": self.task}
        if self.mode == "full":
            doc["new_root"] = self.new_root
        else:
            doc["ops"] = self.ops
            doc["dirs"] = self.dirs
        return json.dumps(doc).encode()

    @classmethod
    def from_bytes(cls, data: bytes, where: str) -> "Journal":
        """A journal read back (version 2, or 1: bodega before this format)."""
        try:
            doc = json.loads(data)
            if doc.get("format") != FORMAT:
                return _legacy(doc)
            if doc.get("version") != VERSION:
                raise errors.ManifestVersionUnsupported(
                    f"restore journal {where} has version {doc.get('version')!r}: this bodega reads {VERSION}")
            return cls(doc["mode"], doc["snapshot"], doc["root"], doc.get("task"), doc.get("ops") or [],
                       doc.get("new_root"), doc.get("dirs") or {})
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise errors.IntegrityError(f"restore journal {where} is damaged ({e}): how far that restore got is "
                                        f"unknown; remove the file, then restore a snapshot again", path=where) from None


def _legacy(doc: dict[str, Any]) -> Journal:
    """A version-1 journal as version 2.  Its removals were unconditional and listed every entry
    of a removed directory; only the topmost are kept (they move to trash whole), and one at a
    path that a later step fills is skipped once that step is seen done (staged file gone, or
    the directory made), so replaying it never removes what it already put there."""
    if doc.get("mode") == "full":
        return Journal("full", doc["snapshot"], "", new_root=[doc["new_root_ino"], None, None])
    ops: list[Op] = []
    fills: dict[str, list[Any]] = {}
    for op in doc["ops"]:
        if op[0] == "mv":
            fills[op[2]] = ["staged", os.path.basename(bytes.fromhex(op[1])).hex()]
        elif op[0] == "mkdir":
            fills[op[1]] = ["dir"]
    gone = {bytes.fromhex(op[1]) for op in doc["ops"] if op[0] == "rm"}
    for i, op in enumerate(doc["ops"]):
        if op[0] == "rm":
            if any(a in gone for a in _ancestors(bytes.fromhex(op[1]))):
                continue  # removed with its directory (which moves to trash whole)
            ops.append(["rm", op[1], f"legacy-{i}", fills.get(op[1])])
        elif op[0] == "mkdir":
            ops.append(["mkdir", op[1]])
        elif op[0] == "mv":
            ops.append(["mv", os.path.basename(bytes.fromhex(op[1])).hex(), op[2]])
        elif op[0] == "chmod":
            ops.append(["meta", op[1], None, op[2], op[3], None, None])
    return Journal("in-place", doc["snapshot"], "", ops=ops)


# --- writing and reading the journal -------------------------------------------------------

def commit(state: Tree, journal: Journal) -> None:
    """Writes the journal durably, renamed into place whole: the restore's commit point."""
    tmp = NAME + b".tmp"
    if state.lstat(tmp) is not None:
        state.remove(tmp)  # a torn one from a crash: never committed
    state.write_file(tmp, journal.to_bytes(), mode=0o600, sync=True)
    state.rename(tmp, NAME)
    state.sync()


def load(state: Tree) -> Journal | None:
    """The committed journal, if there is one."""
    if state.lstat(NAME) is None:
        return None
    return Journal.from_bytes(state.read_bytes(NAME), os.fsdecode(state.path + b"/" + NAME))


def remove(state: Tree) -> None:
    """Removes the journal (after the restore finished), durably."""
    for name in (NAME, NAME + b".tmp"):
        if state.lstat(name) is not None:
            state.remove(name)
    state.sync()


# --- planning an in-place restore -------------------------------------------------------------

@dataclass
class Plan:
    """An in-place restore's steps, and what must be staged before they can run."""

    ops: list[Op]
    staged: list[tuple[bytes, Entry]]   # (staged name, file or link entry)
    skipped: list[Entry]                # specials the restore cannot create
    dirs: dict[str, list[Any]]          # the journal's dirs


def plan(target: Manifest, remove: list[Entry], write: list[Entry], remode: list[Entry], owners: Owners) -> Plan:
    """The steps that turn the live tree into target, given what differs (materialize.plan_changes)."""
    gone = {e.path for e in remove}
    tops = sorted(p for p in gone if not any(a in gone for a in _ancestors(p)))
    ops: list[Op] = [["rm", p.hex(), f"t{i}"] for i, p in enumerate(tops)]
    staged: list[tuple[bytes, Entry]] = []
    skipped: list[Entry] = []
    moves: list[Op] = []
    links: list[Op] = []
    metas: dict[bytes, Entry] = {e.path: e for e in remode}
    for e in sorted(write, key=lambda e: e.path):
        if e.kind == "dir":
            ops.append(["mkdir", e.path.hex()])
            metas[e.path] = e
        elif e.kind == "file" and e.link:
            links.append(["ln", e.path.hex(), e.link.hex()])
        elif e.kind in ("file", "symlink"):
            name = b"s%d" % len(staged)
            staged.append((name, e))
            moves.append(["mv", name.hex(), e.path.hex()])
        else:
            skipped.append(e)
    ops += moves + links
    for p in sorted(metas, reverse=True):  # deepest first: a meta step inside would move an mtime
        ops.append(_meta_op(metas[p], owners))
    # The metadata of every directory a step goes through: a directory made in place of a link
    # someone swapped in gets it at once.
    dirs: dict[str, list[Any]] = {}
    for p in [*tops, *(e.path for e in write), *(e.path for e in remode)]:
        for a in _ancestors(p):
            if a.hex() not in dirs:
                e = target.get(a)
                if e is not None and e.kind == "dir":
                    dirs[a.hex()] = _meta_op(e, owners)[3:]
    return Plan(ops, staged, skipped, dirs)


def _meta_op(e: Entry, owners: Owners) -> Op:
    uid, gid = owners.of(e)
    return ["meta", e.path.hex(), e.kind, owners.mode(e), e.mtime_ns, uid, gid]


def _ancestors(path: bytes) -> Iterator[bytes]:
    parts = path.split(b"/")
    for i in range(1, len(parts)):
        yield b"/".join(parts[:i])


# --- applying ---------------------------------------------------------------------------------

@dataclass
class Applied:
    """What applying a journal did."""

    removed: int = 0
    repaired: list[str] = field(default_factory=list)  # paths where a directory replaced something else
    stats: dict[bytes, Stat] = field(default_factory=dict)


def apply(root: Dir, staging: Dir, journal: Journal) -> Applied:
    """Carries out an in-place journal's steps (again: each is idempotent) on the tree at root."""
    if staging.stat_at(TRASH) is None:  # a version-1 journal's staging had none
        staging.mkdir_at(TRASH, 0o700)
    with staging.open_at(TRASH) as trash:
        steps = _Steps(root, staging, trash, journal.dirs)
        for i, op in enumerate(journal.ops):
            faults.point("restore.step", index=i, op=op)
            getattr(steps, op[0])(*op[1:])
        faults.point("restore.step", index=len(journal.ops), op=None)
    return steps.done


class _Steps:
    """The journal's steps, on handles: root (the live tree), staging and its trash."""

    def __init__(self, root: Dir, staging: Dir, trash: Dir, dirs: dict[str, list[Any]]) -> None:
        self.root, self.staging, self.trash, self.dirs = root, staging, trash, dirs
        self.done = Applied()

    def _aside(self, d: Dir, name: bytes) -> None:
        """Moves the entry name of d (itself, never a link's target) into the trash."""
        d.rename_at(name, self.trash, b"x-" + uuid.uuid4().hex.encode(), noreplace=True)

    def _enter(self, d: Dir, name: bytes, path: bytes) -> Dir:
        """The directory name of d; a link or file there moves to trash and a directory replaces it."""
        for _ in range(3):
            try:
                return d.open_at(name)
            except (errors.UnsafePath, errors.NotADirectory, errors.PathNotFound):
                pass
            st = d.stat_at(name)
            if st is not None and st.kind == "dir":
                continue  # swapped back meanwhile: open it again
            if st is not None:
                self._aside(d, name)
            try:
                d.mkdir_at(name, 0o700)
            except errors.PathExists:
                continue
            meta = self.dirs.get(path.hex())
            if meta is not None:
                mode, mtime_ns, uid, gid = meta
                d.set_meta_at(name, mode=mode, mtime_ns=mtime_ns, uid=uid, gid=gid)
            self.done.repaired.append(os.fsdecode(path))
        raise errors.UnsafePath(f"{os.fsdecode(self.root.path)}/{os.fsdecode(path)}: keeps changing under the "
                                f"restore (a link or file where a directory belongs)", path=os.fsdecode(path))

    @contextmanager
    def _parent(self, parts: list[bytes]) -> Iterator[Dir]:
        d = self.root
        opened: list[Dir] = []
        try:
            for i, p in enumerate(parts[:-1]):
                d = self._enter(d, p, b"/".join(parts[:i + 1]))
                opened.append(d)
            yield d
        finally:
            for o in opened:
                o.close()

    def _note(self, d: Dir, name: bytes, path: bytes) -> None:
        st = d.stat_at(name)
        if st is not None:
            self.done.stats[path] = st

    def rm(self, path_hex: str, trash_name: str, guard: list[Any] | None = None) -> None:
        t = trash_name.encode()
        if self.trash.stat_at(t) is not None:
            return
        path = bytes.fromhex(path_hex)
        parts = split(path)
        if guard is not None and self._filled(parts, guard):
            return
        with self._parent(parts) as d:
            if d.stat_at(parts[-1]) is None:
                return
            d.rename_at(parts[-1], self.trash, t, noreplace=True)
            self.done.removed += 1

    def _filled(self, parts: list[bytes], guard: list[Any]) -> bool:
        """(version-1 journals) whether the step that fills this path already ran."""
        if guard[0] == "staged":
            return self.staging.stat_at(bytes.fromhex(guard[1])) is None
        with self._parent(parts) as d:
            st = d.stat_at(parts[-1])
        return st is not None and st.kind == "dir"

    def mkdir(self, path_hex: str) -> None:
        path = bytes.fromhex(path_hex)
        parts = split(path)
        with self._parent(parts) as d:
            st = d.stat_at(parts[-1])
            if st is not None and st.kind == "dir":
                return
            if st is not None:
                self._aside(d, parts[-1])
            d.mkdir_at(parts[-1], 0o700)  # owner-only until its meta step

    def mv(self, staged_hex: str, path_hex: str) -> None:
        staged = bytes.fromhex(staged_hex)
        if self.staging.stat_at(staged) is None:
            return
        path = bytes.fromhex(path_hex)
        parts = split(path)
        with self._parent(parts) as d:
            st = d.stat_at(parts[-1])
            if st is not None and st.kind == "dir":
                self._aside(d, parts[-1])
            self.staging.rename_at(staged, d, parts[-1])  # replaces a file or a link (itself) there
            self._note(d, parts[-1], path)

    def ln(self, path_hex: str, first_hex: str) -> None:
        path, first = bytes.fromhex(path_hex), bytes.fromhex(first_hex)
        parts, fparts = split(path), split(first)
        with self._parent(fparts) as fd, self._parent(parts) as d:
            fst = fd.stat_at(fparts[-1])
            if fst is None or fst.kind != "file":
                return  # its first name is not a file: nothing to link to
            st = d.stat_at(parts[-1])
            if st is not None and (st.file_id, st.file_id_hi, st.volume_id) == (fst.file_id, fst.file_id_hi,
                                                                                 fst.volume_id):
                self._note(d, parts[-1], path)
                return
            if st is not None:
                self._aside(d, parts[-1])
            fd.hardlink_at(fparts[-1], d, parts[-1])
            self._note(d, parts[-1], path)
            self._note(fd, fparts[-1], first)  # a new link changed its ctime

    def meta(self, path_hex: str, kind: str | None, mode: int, mtime_ns: int, uid: int | None,
             gid: int | None) -> None:
        path = bytes.fromhex(path_hex)
        parts = split(path)
        with self._parent(parts) as d:
            st = d.stat_at(parts[-1])
            if kind == "dir" and (st is None or st.kind != "dir"):
                self._enter(d, parts[-1], path).close()  # a directory belongs here: made again
                st = d.stat_at(parts[-1])
            if st is None or (kind is not None and st.kind != kind):
                return  # not the entry this step is for (someone changed it): left as it is
            d.set_meta_at(parts[-1], mode=None if st.kind == "symlink" else mode, mtime_ns=mtime_ns, uid=uid,
                          gid=gid)
            self._note(d, parts[-1], path)
