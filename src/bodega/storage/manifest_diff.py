"""The difference between two manifests: what was added, deleted, modified, retyped,
re-moded, re-linked or renamed, as text like `git status --short` or as JSON.

Status codes, two columns like git's:

    A   added                    D   deleted
    M   content modified         T   type changed (file <-> dir <-> link ...)
    L   link target changed      R   renamed (a deleted and an added file of equal content)
        (for a file: which file it is a hard link of)
    .M  (second column) mode, attributes or owner changed, e.g. "MM", "RM", " M"
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Callable

from bodega.storage.manifest import Draft, Entry, Manifest, PathLike, bytes_field

ADDED, DELETED, MODIFIED, TYPE, MODE, LINK, OWNER = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20, 0x40
NAMES = {ADDED: "added", DELETED: "deleted", MODIFIED: "modified", TYPE: "type-changed",
         MODE: "mode-changed", LINK: "link-changed", OWNER: "owner-changed"}
LETTER = ((ADDED, "A"), (DELETED, "D"), (TYPE, "T"), (MODIFIED, "M"), (LINK, "L"))


@dataclass(frozen=True)
class Change:
    """One changed path (for a rename, the new path; old_path the old one)."""

    path: bytes
    changes: tuple[str, ...]     # "added", "deleted", "modified", "type-changed", "mode-changed",
                                 # "link-changed", "owner-changed", "renamed"
    old: Entry | None
    new: Entry | None
    old_path: bytes | None = None

    @property
    def status(self) -> str:
        """The two-column code, e.g. "M ", " M", "RM"."""
        first = "R" if "renamed" in self.changes else " "
        for bit, letter in LETTER:
            if NAMES[bit] in self.changes:
                first = letter
                break
        return first + ("M" if "mode-changed" in self.changes or "owner-changed" in self.changes else " ")

    def line(self) -> str:
        """`XY path` (renames: `R  old -> new`); directories end in '/'."""
        shown = quote_path(self.path, self._is_dir())
        if self.old_path is not None:
            shown = f"{quote_path(self.old_path, False)} -> {shown}"
        return f"{self.status} {shown}"

    def _is_dir(self) -> bool:
        e = self.new or self.old
        return e is not None and e.kind == "dir"

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {"status": self.status, "changes": list(self.changes)}
        out.update(bytes_field("path", self.path))
        if self.old_path is not None:
            out.update(bytes_field("old_path", self.old_path))
        out["old"] = self.old.to_json() if self.old is not None else None
        out["new"] = self.new.to_json() if self.new is not None else None
        return out


_PLAIN = {i for i in range(0x20, 0x7F)} - {ord('"'), ord("\\")}


def quote_path(path: bytes, is_dir: bool) -> str:
    """path as text; like git, a name with control bytes, quotes, backslashes or bytes that
    are not UTF-8 is shown "quoted" with C escapes."""
    suffix = "/" if is_dir else ""
    try:
        text = path.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None and all(ord(c) >= 0x80 or ord(c) in _PLAIN for c in text):
        return text + suffix
    out = []
    for b in path:
        if b in _PLAIN:
            out.append(chr(b))
        elif b in (0x22, 0x5C):
            out.append("\\" + chr(b))
        elif b == 0x0A:
            out.append("\\n")
        elif b == 0x09:
            out.append("\\t")
        else:
            out.append(f"\\{b:03o}")
    return '"' + "".join(out) + suffix + '"'


# The change names of every combination of bits, made once: a diff names each change.
_NAMES_OF = [tuple(name for bit, name in NAMES.items() if what & bit) for what in range(2 * max(NAMES))]


UNREAD_HASH = bytes(32)  # a file left unread (Draft.partial); no BLAKE3 digest is all zeros


class Diff:
    """The changes from an old to a new manifest, in path order.

    Made of a live tree (of_tree), the files whose change shows by their stat are read only
    when something shows their hashes: the changes' entries, either side, the roots, the JSON.
    The text, the counts and the length need no hash.
    """

    def __init__(self, old: Manifest, new: Manifest, changes: list[Change],
                 read_rest: Callable[[], None] | None = None) -> None:
        self._old, self._new, self._changes = old, new, changes
        self._read_rest = read_rest

    @property
    def old(self) -> Manifest:
        """The old side."""
        self._settle()
        return self._old

    @property
    def new(self) -> Manifest:
        """The new side."""
        self._settle()
        return self._new

    @property
    def changes(self) -> list[Change]:
        """The changes, in path order."""
        self._settle()
        return self._changes

    def _settle(self) -> None:
        """Reads the files left unread, then gives their changes' entries the hashes read."""
        if self._read_rest is None:
            return
        self._read_rest()  # when it fails, the next look tries again: no zero hash is ever shown
        self._read_rest = None
        self._changes = [replace(c, old=_reread(self._old, c.old), new=_reread(self._new, c.new))
                         if _unread(c.old) or _unread(c.new) else c for c in self._changes]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Diff):
            return NotImplemented
        return (self.old, self.new, self.changes) == (other.old, other.new, other.changes)

    def __repr__(self) -> str:
        return f"Diff(old={self.old!r}, new={self.new!r}, changes={self.changes!r})"

    @property
    def old_root(self) -> bytes:
        """The old manifest's root hash."""
        return self.old.root

    @property
    def new_root(self) -> bytes:
        """The new manifest's root hash (computed when first asked for, for a live tree)."""
        return self.new.root

    @classmethod
    def of(cls, old: Manifest, new: Manifest, renames: bool = True) -> Diff:
        """Compares two full manifests (the entry comparison runs in the native core)."""
        raw = old._table.diff(new._table)
        old_row, new_row, entry, names = old._table.row, new._table.row, Entry._make, _NAMES_OF
        changes = [Change(new._table.path(ni) if ni is not None else old._table.path(oi), names[what],
                          entry(old_row(oi)) if oi is not None else None,
                          entry(new_row(ni)) if ni is not None else None)
                   for oi, ni, what in raw]
        if renames:
            changes = _pair_renames(changes)
        return cls(old, new, changes)

    @classmethod
    def of_tree(cls, old: Manifest, draft: Draft, path: PathLike, threads: int = 0,
                renames: bool = True) -> Diff:
        """Compares old with the draft of the tree at path made against it (build_beside): the
        files it left unread, whose change their stat shows, are read when first shown."""
        d = cls.of(old, draft.partial(), renames)
        if draft.unread:
            d._read_rest = lambda: draft.read_unread(path, threads)
        return d

    def __len__(self) -> int:
        return len(self._changes)

    def __bool__(self) -> bool:
        return bool(self._changes)

    def __iter__(self):
        return iter(self.changes)

    def counts(self) -> dict[str, int]:
        """How many changes of each kind (a modified file whose mode changed counts twice)."""
        out = {name: 0 for name in (*NAMES.values(), "renamed")}
        for c in self._changes:
            for name in c.changes:
                out[name] += 1
        return out

    def to_text(self) -> str:
        """One `XY path` line per change, like `git status --short`."""
        return "\n".join(c.line() for c in self._changes)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"old_root": self.old_root.hex(), "new_root": self.new_root.hex(),
                "identical": self.old_root == self.new_root, "counts": self.counts(),
                "changes": [c.to_json() for c in self.changes]}


def _unread(e: Entry | None) -> bool:
    return e is not None and e.hash == UNREAD_HASH and e.kind == "file"


def _reread(side: Manifest, e: Entry | None) -> Entry | None:
    return side.get(e.path) if _unread(e) else e


def _pair_renames(changes: list[Change]) -> list[Change]:
    """Pairs deleted and added files of equal content (not empty ones) as renames, in path
    order within each content, like git."""
    gone: dict[bytes, list[int]] = {}
    for i, c in enumerate(changes):
        if c.changes == ("deleted",) and c.old.kind == "file" and c.old.size:
            gone.setdefault(c.old.hash, []).append(i)
    if not gone:
        return changes
    drop: set[int] = set()
    for i, c in enumerate(changes):
        if c.changes == ("added",) and c.new.kind == "file" and c.new.size:
            candidates = gone.get(c.new.hash)
            if candidates:
                j = candidates.pop(0)
                drop.add(j)
                old = changes[j].old
                what = ("renamed",) + (("mode-changed",) if (old.mode, old.attrs) != (c.new.mode, c.new.attrs) else ())
                changes[i] = Change(c.path, what, old, c.new, old_path=old.path)
    return [c for i, c in enumerate(changes) if i not in drop]
