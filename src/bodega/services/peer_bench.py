"""`bodega bench`: bodega against the tools already on the machine, on a generated tree or a
user's tree, each group's contenders taking turns round after round (storage/timing.py).

Groups and their peers: clone (`cp -a --reflink=auto`), hash (`b3sum`), status (`git status`,
`rsync -an`), snapshot (`restic backup`, `borg create`), zip (`zip -r`), 7z (`7z a`).  Beside
them the floors, what any tool doing the job must at least do: a walk with a stat of every
entry (`find -printf`), and a read of every file (`cat`).  A tool not on PATH is listed as
skipped, and so is a group none of whose peers is found.  Ratios are bodega's median over the
other's: below 1, bodega is faster.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bodega import errors

FILES = 2000
ROUNDS = 3
PEER_ENV = {"RESTIC_PASSWORD": "bodega-bench", "BORG_PASSPHRASE": "", "BORG_UNKNOWN_UNENCRYPTED_REPO_ACCESS_IS_OK": "yes",
            "BORG_RELOCATED_REPO_ACCESS_IS_OK": "yes", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
# The peers by the name a user passes to --peer, with the programs each needs.
PEERS: dict[str, tuple[str, ...]] = {
    "cp": ("cp",), "b3sum": ("b3sum", "xargs"), "git": ("git",), "rsync": ("rsync", "cp"), "restic": ("restic",),
    "borg": ("borg",), "zip": ("zip",), "7z": ("7z",),
}
FLOORS: dict[str, tuple[str, ...]] = {"walk": ("find",), "read": ("xargs", "cat")}


@dataclass
class Contender:
    """One timed command of a group: bodega's, a peer's or a floor."""

    name: str
    kind: str  # "bodega", "peer" or "floor"
    run: Callable[[], object]
    reset: Callable[[], object] = lambda: None  # after each run, untimed: what the next one needs


@dataclass
class Row:
    """One contender's figures."""

    group: str
    tool: str
    kind: str
    median_s: float
    spread: float
    rounds_s: list[float]
    ratio: float | None  # bodega's median over this one's (None for bodega itself)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return dict(self.__dict__)


@dataclass
class Report:
    """What `bodega bench` measured and what it skipped."""

    tree: str
    generated: bool
    files: int
    bytes: int
    rounds: int
    rows: list[Row] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {"tree": self.tree, "generated": self.generated, "files": self.files, "bytes": self.bytes,
                "rounds": self.rounds, "rows": [r.to_dict() for r in self.rows], "skipped": self.skipped}


def _run(argv: list[str], *, stdin: bytes | None = None, cwd: Path | None = None) -> None:
    """Runs a peer's command, its output discarded; a failure is a clear error with its stderr."""
    done = subprocess.run(argv, input=stdin, cwd=cwd, env={**os.environ, **PEER_ENV}, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE)
    if done.returncode != 0:
        tail = done.stderr.decode(errors="replace").strip().splitlines()[-1:] or [""]
        raise errors.StorageError(None, f"bench: {' '.join(argv[:3])} exited {done.returncode}: {tail[0][:300]}")


class Bench:
    """One run of `bodega bench`: a scratch directory, the tree, the groups."""

    def __init__(self, tree: Path, scratch: Path, rounds: int, peers: set[str],
                 progress: Callable[[int, int, str], None]) -> None:
        self.tree = tree
        self.scratch = scratch
        self.rounds = rounds
        self.peers = peers
        self.progress = progress
        self.skipped: list[dict[str, str]] = []
        self._file_list: bytes | None = None

    def found(self, name: str, needs: tuple[str, ...], what: str) -> bool:
        """True when every program name needs is on PATH; else it is listed as skipped."""
        missing = [p for p in needs if shutil.which(p) is None]
        if missing:
            self.skipped.append({"tool": name, "kind": what, "reason": f"{', '.join(missing)} not found on PATH"})
        return not missing

    def file_list(self) -> bytes:
        """Every regular file of the tree, NUL-separated (for xargs -0)."""
        if self._file_list is None:
            names = []
            for parent, dirs, files in os.walk(self.tree):
                dirs.sort()
                names += [os.path.join(parent, n) for n in sorted(files)
                          if os.path.isfile(os.path.join(parent, n)) and not os.path.islink(os.path.join(parent, n))]
            self._file_list = b"".join(os.fsencode(n) + b"\0" for n in names)
        return self._file_list

    def _scratch(self, name: str) -> Path:
        return self.scratch / name

    # --- the groups -----------------------------------------------------------------------

    def clone(self) -> tuple[list[Contender], list[Contender]]:
        from bodega.storage import fs
        from bodega.storage.tree import remove_path

        ours, theirs = self._scratch("clone-bodega"), self._scratch("clone-cp")
        peers = [Contender("cp -a --reflink=auto", "peer",
                           lambda: _run(["cp", "-a", "--reflink=auto", str(self.tree), str(theirs)]),
                           lambda: remove_path(theirs))] if "cp" in self.peers else []
        return [Contender("bodega fs clone", "bodega", lambda: fs.clone_tree(self.tree, ours),
                          lambda: remove_path(ours))], peers

    def hash(self) -> tuple[list[Contender], list[Contender]]:
        from bodega.storage import manifest as mf

        peers = [Contender("b3sum", "peer", lambda: _run(["xargs", "-0", "b3sum"], stdin=self.file_list()))] \
            if "b3sum" in self.peers else []
        return [Contender("bodega fs manifest", "bodega", lambda: mf.build(self.tree))], peers

    def status(self) -> tuple[list[Contender], list[Contender]]:
        from bodega.storage import manifest as mf

        previous = mf.build(self.tree)  # with its stat cache: what `bodega diff` starts from
        peers = []
        if "git" in self.peers:
            git = ["git", "--git-dir", str(self._scratch("git")), "--work-tree", str(self.tree)]
            _run([*git, "init", "-q"])
            _run([*git, "add", "-A"])
            _run([*git, "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "bench",
                  "--allow-empty"])
            peers.append(Contender("git status", "peer", lambda: _run([*git, "status", "--porcelain"])))
        if "rsync" in self.peers:
            copy = self._scratch("rsync-copy")
            _run(["cp", "-a", "--reflink=auto", str(self.tree), str(copy)])
            peers.append(Contender("rsync -an", "peer",
                                   lambda: _run(["rsync", "-an", "--delete", f"{self.tree}/", f"{copy}/"])))
        return [Contender("bodega diff", "bodega", lambda: mf.build(self.tree, previous))], peers

    def snapshot(self) -> tuple[list[Contender], list[Contender]]:
        from bodega.storage.snapshot import SnapshotEngine
        from bodega.storage.store import ObjectStore
        from bodega.storage.tree import remove_path

        store, state = self._scratch("store"), self._scratch("state")

        def ours() -> None:
            SnapshotEngine(ObjectStore(store)).create(self.tree, state, uuid.uuid4().hex, kind="full")

        def fresh(*paths: Path) -> Callable[[], None]:
            return lambda: [remove_path(p) for p in paths]

        peers = []
        if "restic" in self.peers:
            repo = self._scratch("restic")
            init = ["restic", "init", "--repo", str(repo)]
            peers.append(Contender("restic backup", "peer",
                                   lambda: _run(["restic", "backup", "--repo", str(repo), "--quiet", str(self.tree)]),
                                   lambda: (remove_path(repo), _run(init))))
            _run(init)
        if "borg" in self.peers:
            repo_b = self._scratch("borg")
            init_b = ["borg", "init", "--encryption", "none", str(repo_b)]
            peers.append(Contender("borg create", "peer",
                                   lambda: _run(["borg", "create", "--compression", "zstd,3", f"{repo_b}::bench",
                                                 str(self.tree)]),
                                   lambda: (remove_path(repo_b), _run(init_b))))
            _run(init_b)
        return [Contender("bodega snapshot", "bodega", ours, fresh(store, state))], peers

    def archive(self, fmt: str) -> tuple[list[Contender], list[Contender]]:
        from bodega.storage.tree import remove_path

        b = self._home()
        ours, theirs = self._scratch(f"bodega.{fmt}"), self._scratch(f"peer.{fmt}")
        argv = (["zip", "-q", "-r", "-y", str(theirs), "."] if fmt == "zip"
                else ["7z", "a", "-bd", "-bso0", "-bsp0", "-snl", str(theirs), "."])
        peers = [Contender(f"{argv[0]} {'-r' if fmt == 'zip' else 'a'}", "peer", lambda: _run(argv, cwd=self.tree),
                           lambda: remove_path(theirs))] if fmt in self.peers else []
        return [Contender(f"bodega export --format {fmt}", "bodega",
                          lambda: b.exports.export("bench", format=fmt, location=str(ours)),
                          lambda: remove_path(ours))], peers

    def _home(self) -> Any:
        """A scratch home holding the tree as container "bench" (opened once, closed by run())."""
        if getattr(self, "_bodega", None) is None:
            from bodega.services import open as open_home
            from bodega.storage import fs

            self._bodega = open_home(self._scratch("home"))
            c = self._bodega.containers.create("bench")
            root = Path(c.storage_path) / "root"
            root.rmdir()
            fs.clone_tree(self.tree, root)
        return self._bodega

    def floors(self, group: str) -> list[Contender]:
        """The floors shown beside a group: a walk (stat of every entry), a read of every file."""
        out = []
        if group == "status" and self.found("walk", FLOORS["walk"], "floor"):
            out.append(Contender("floor: walk (find -printf %s)", "floor",
                                 lambda: _run(["find", str(self.tree), "-printf", "%s\n"])))
        if group in ("hash", "snapshot", "zip", "7z") and self.found("read", FLOORS["read"], "floor"):
            out.append(Contender("floor: read (cat)", "floor", lambda: _run(["xargs", "-0", "cat"],
                                                                            stdin=self.file_list())))
        return out

    # --- the run --------------------------------------------------------------------------

    def run(self) -> list[Row]:
        """Times every group whose peers are found; the rows, bodega's first in each group."""
        from bodega.storage.timing import interleaved

        groups = {"clone": ("cp",), "hash": ("b3sum",), "status": ("git", "rsync"), "snapshot": ("restic", "borg"),
                  "zip": ("zip",), "7z": ("7z",)}
        available = {name for name, needs in PEERS.items() if name in self.peers and self.found(name, needs, "peer")}
        self.peers = available
        planned = [g for g, peers in groups.items() if set(peers) & available]
        for g, peers in groups.items():
            if g not in planned:
                self.skipped.append({"tool": g, "kind": "group", "reason": "none of its peers found or chosen: "
                                     + ", ".join(peers)})
        rows: list[Row] = []
        done = 0
        try:
            for g in planned:
                ours, theirs = self.archive(g) if g in ("zip", "7z") else getattr(self, g)()
                contenders = ours + theirs + self.floors(g)
                by_name = {c.name: c for c in contenders}
                total = len(planned) * self.rounds

                def after(name: str, by_name: dict[str, Contender] = by_name) -> None:
                    by_name[name].reset()

                timings = interleaved({c.name: c.run for c in contenders}, self.rounds, after_each=after)
                done += self.rounds
                self.progress(done, total, g)
                base = timings[ours[0].name].median
                for c in contenders:
                    t = timings[c.name]
                    rows.append(Row(g, c.name, c.kind, t.median, t.spread, list(t.seconds),
                                    None if c.kind == "bodega" else (base / t.median if t.median > 0 else None)))
        finally:
            if getattr(self, "_bodega", None) is not None:
                self._bodega.close()
        return rows


def bench(scratch_parent: Path, path: str | os.PathLike[str] | None = None, *, files: int = FILES,
          rounds: int = ROUNDS, peers: list[str] | None = None,
          progress: Callable[[int, int, str], None] | None = None) -> Report:
    """Times bodega against the peers found, on the tree at path (default: a generated tree of files files)."""
    from bodega.storage import sample_tree
    from bodega.storage.fs import given_directory
    from bodega.storage.tree import remove_path

    if rounds < 1 or files < 1:
        raise errors.InvalidInput(f"rounds and files are at least 1, not {rounds} and {files}")
    unknown = sorted(set(peers or ()) - set(PEERS))
    if unknown:
        raise errors.InvalidInput(f"no peer {unknown[0]!r}: the peers are {', '.join(PEERS)}")
    tree = given_directory(path, "bench") if path is not None else None
    try:
        scratch_parent.mkdir(parents=True, exist_ok=True)
        scratch = Path(tempfile.mkdtemp(prefix="bench-", dir=scratch_parent))
    except OSError as e:
        raise errors.os_error(e, "create scratch directory", scratch_parent) from None
    try:
        generated = tree is None
        if tree is None:
            tree = scratch / "tree"
            stats = sample_tree.generate(tree, files, seed=0)
            count, size = stats.files, stats.bytes
        else:
            count = size = 0
            for parent, _, names in os.walk(tree):
                for n in names:
                    p = os.path.join(parent, n)
                    if os.path.isfile(p) and not os.path.islink(p):
                        count += 1
                        size += os.lstat(p).st_size
        run = Bench(tree, scratch, rounds, set(peers or PEERS), progress or (lambda done, total, what: None))
        rows = run.run()
        return Report(str(tree), generated, count, size, rounds, rows, run.skipped)
    finally:
        remove_path(scratch)
