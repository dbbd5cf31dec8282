"""An app's footprint: what its install transactions added, changed and removed, from the
manifests of their pre- and post-install snapshots (no tree walk).

Transactions compose in order: a path added by the install and changed by an update stays
"added"; a path the install changed and an update removed becomes "removed"; a path added and
later removed leaves the footprint.  Each entry keeps the manifest entry the app left
(`after`) and the one it found (`before`, from the first transaction that touched it, with
that transaction's pre-install snapshot), which is what uninstall compares and restores.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bodega.storage.manifest import Entry, Manifest
from bodega.storage.manifest_diff import Diff, quote_path

ADDED, CHANGED, REMOVED = "added", "changed", "removed"


@dataclass(frozen=True)
class FootprintEntry:
    """One path the app's installs touched."""

    path: bytes
    change: str                # added, changed or removed
    before: Entry | None       # what was there before the app (None when added)
    after: Entry | None        # what the app left (None when removed)
    before_snapshot: str | None  # the pre-install snapshot that holds `before`

    @property
    def kind(self) -> str:
        """file, dir, symlink, ... of what the app left (or removed)."""
        return (self.after or self.before).kind  # type: ignore[union-attr]

    @property
    def bytes(self) -> int:
        """Bytes of the file the app left (or removed); 0 for directories and links."""
        e = self.after or self.before
        return e.size if e is not None and e.kind == "file" else 0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out: dict[str, Any] = {"change": self.change, "kind": self.kind, "bytes": self.bytes,
                               "shown": quote_path(self.path, self.kind == "dir")}
        try:
            out["path"] = self.path.decode("utf-8")
        except UnicodeDecodeError:
            out["path_hex"] = self.path.hex()
        e = self.after or self.before
        if e is not None and e.hash is not None:
            out["hash"] = e.hash.hex()
        return out


@dataclass(frozen=True)
class Footprint:
    """Every path an app's installs touched, in path order."""

    entries: list[FootprintEntry]

    def counts(self) -> dict[str, int]:
        """Paths and bytes per change."""
        out: dict[str, int] = {ADDED: 0, CHANGED: 0, REMOVED: 0, "bytes_added": 0, "bytes_changed": 0,
                               "bytes_removed": 0}
        for e in self.entries:
            out[e.change] += 1
            out[f"bytes_{e.change}"] += e.bytes
        return out

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"counts": self.counts(), "entries": [e.to_dict() for e in self.entries]}

    def to_text(self) -> str:
        """One `X bytes path` line per entry: A added, M changed, D removed."""
        letter = {ADDED: "A", CHANGED: "M", REMOVED: "D"}
        return "\n".join(f"{letter[e.change]} {e.bytes:>12} {quote_path(e.path, e.kind == 'dir')}"
                         for e in self.entries)


def transaction_changes(pre: Manifest, post: Manifest) -> list[tuple[bytes, Entry | None, Entry | None]]:
    """(path, before, after) for every path one install transaction changed."""
    return [(c.path, c.old, c.new) for c in Diff.of(pre, post, renames=False)]


def compose(transactions: Iterable[tuple[str, Manifest, Manifest]]) -> Footprint:
    """The footprint of (pre_snapshot_id, pre, post) transactions, oldest first."""
    state: dict[bytes, FootprintEntry] = {}
    for pre_id, pre, post in transactions:
        for path, before, after in transaction_changes(pre, post):
            earlier = state.get(path)
            if earlier is None:
                change = ADDED if before is None else REMOVED if after is None else CHANGED
                state[path] = FootprintEntry(path, change, before, after, pre_id if before is not None else None)
                continue
            first_before = earlier.before
            if first_before is None and after is None:
                del state[path]  # added, then removed: the app left nothing there
                continue
            change = ADDED if first_before is None else REMOVED if after is None else CHANGED
            state[path] = FootprintEntry(path, change, first_before, after, earlier.before_snapshot)
    return Footprint([state[p] for p in sorted(state)])
