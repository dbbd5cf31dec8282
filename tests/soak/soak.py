"""The soak: N processes run mixed bodega commands, as users run them (`python -m bodega`), on
their containers in one home for a bounded time, and some of those commands are SIGKILLed.

Each worker owns one container (w0, w1, ...) and is the only one to write into it, so what
each of its snapshots must hold is known: the worker hashes the tree itself (tree_digest, an
independent hash: not bodega's manifest) just before `snapshot create`, and a snapshot is
acknowledged when the command exits 0 and prints its id.  The operations: writing files into
the container (as its apps do), snapshot create, restore, forget, container clone and delete
of the clone, container create and delete of a scratch one, gc, verify, diff.  Commands that
write are killed at random: the worker waits until the command has begun its writes (its
first write-type step in its BODEGA_FAULT_STEP=trace log), then a random share of the
command's usual time, then sends SIGKILL; a kill *landed mid-command* when the command died
of it with steps logged.  After a kill the worker runs the next command (which recovers),
waits until no task of its container is running, and checks what it can: a killed restore
left the tree before or after, a killed clone or delete left the clone whole or gone.

At the end: the next command, then every invariant of tests/crash/sweep.py (directories and
rows agree, the catalogue's snapshots are in the store, `verify --read-data` clean, no task
running, no staging; gc leaves nothing unpublished), every acknowledged snapshot present
(unless a killed forget may have taken it) and restoring bit-exact to the hash taken when it
was made, every other snapshot one a killed create may have made of a hashed tree, every
container and clone holding the tree its worker last saw, and the newest snapshot of each
container restored in place by the CLI.

    python bench/soak.py                       # 8 processes, 5 minutes
    python bench/soak.py --processes 3 --seconds 15
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from multiprocessing import get_context
from pathlib import Path

import bodega
from bodega import errors

SRC = str(Path(bodega.__file__).resolve().parent.parent)  # children run this bodega
KILLABLE = {"snapshot create", "snapshot restore", "snapshot forget", "container clone", "container delete",
            "container create", "gc"}
MAX_FILES = 40


def tree_digest(root: Path) -> str:
    """A hash of the tree at root: every entry's path, type, permission bits, content or target.

    Independent of bodega (its own walk and SHA-256), so a restore is checked against it and
    not against bodega's manifest of itself."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(root)).encode("utf-8", "surrogateescape")
            h.update(b"%s\0%o\0" % (rel, st.st_mode))
            if stat.S_ISLNK(st.st_mode):
                h.update(os.readlink(path).encode("utf-8", "surrogateescape"))
            elif stat.S_ISREG(st.st_mode):
                h.update(hashlib.sha256(path.read_bytes()).digest())
            h.update(b"\n")
        dirnames[:] = [d for d in dirnames if not (Path(dirpath) / d).is_symlink()]
    return h.hexdigest()


@dataclass
class Outcome:
    """One command's end: exit code (-9 when killed), output, whether a kill landed mid-command."""

    code: int
    out: str
    err: str
    killed: bool = False     # SIGKILL sent while it ran
    landed: bool = False     # and it died of it after its first write-type step


@dataclass
class Journal:
    """What a worker did and what it expects: written to a JSON file for the final check."""

    worker: int
    operations: dict[str, int] = field(default_factory=dict)
    refused: dict[str, int] = field(default_factory=dict)      # "command: exit N" -> count
    kills: int = 0
    landed: int = 0
    violations: list[str] = field(default_factory=list)
    snapshots: dict[str, str] = field(default_factory=dict)    # acknowledged id -> tree digest
    maybe_forgotten: list[str] = field(default_factory=list)   # a killed forget named them
    maybe_made: list[str] = field(default_factory=list)        # digests a killed create may have taken
    clones: dict[str, str] = field(default_factory=dict)       # clone name -> digest it must hold
    maybe_clones: dict[str, str] = field(default_factory=dict)  # a killed clone or delete: whole or gone
    scratch: list[str] = field(default_factory=list)           # scratch containers that may exist
    tree: str = ""                                             # the tree the worker last saw


class Worker:
    """One process of the soak: its container, its random choices, its journal."""

    def __init__(self, index: int, home: Path, seed: int, kill_share: float, scratch: Path) -> None:
        self.name = f"w{index}"
        self.home = home
        self.rng = random.Random(seed * 1000 + index)
        self.kill_share = kill_share
        self.scratch = scratch
        self.trace = scratch / "trace.log"
        self.journal = Journal(index)
        self.usual: dict[str, float] = {}  # command -> usual seconds after its first step (moving average)
        self.root = Path(json.loads(self.cli("container", "show", self.name, "--json").out)["storage_path"]) / "root"
        self.counter = 0

    # ---- running commands --------------------------------------------------------------------

    def cli(self, *args: str, kill: bool = False) -> Outcome:
        """Runs `python -m bodega ARGS`; with kill, SIGKILLs it at a random moment of its writes."""
        env = dict(os.environ, BODEGA_HOME=str(self.home), PYTHONPATH=os.pathsep.join(
            p for p in (SRC, os.environ.get("PYTHONPATH")) if p))
        command = " ".join(args[:2])
        if kill:
            self.trace.unlink(missing_ok=True)
            env.update(BODEGA_FAULT_STEP="trace", BODEGA_FAULT_LOG=str(self.trace))
        out, err = self.scratch / "out", self.scratch / "err"
        with open(out, "w") as fo, open(err, "w") as fe:
            proc = subprocess.Popen([sys.executable, "-m", "bodega", *args], env=env, stdout=fo, stderr=fe,
                                    stdin=subprocess.DEVNULL)
            killed = False
            if kill:
                while proc.poll() is None and not (self.trace.exists() and self.trace.stat().st_size):
                    time.sleep(0.002)  # the gate: the command has begun writing
                first = time.monotonic()
                try:  # a random time into the command, from how long it usually takes
                    proc.wait(timeout=self.rng.uniform(0, 1.3) * self.usual.get(command, 0.3))
                except subprocess.TimeoutExpired:
                    proc.send_signal(signal.SIGKILL)
                    killed = True
                    proc.wait()
                if not killed:
                    took = time.monotonic() - first
                    self.usual[command] = 0.7 * self.usual.get(command, took) + 0.3 * took
            else:
                proc.wait()
        result = Outcome(proc.returncode, out.read_text(errors="replace"), err.read_text(errors="replace"), killed)
        if killed:
            self.journal.kills += 1
            result.landed = proc.returncode == -signal.SIGKILL and self.trace.exists() \
                and self.trace.stat().st_size > 0
            self.journal.landed += result.landed
        self.journal.operations[command] = self.journal.operations.get(command, 0) + 1
        if result.code not in (0, -signal.SIGKILL):
            self._refused(command, result)
        return result

    def _refused(self, command: str, r: Outcome) -> None:
        """A command that exited with an error: a documented one (busy, locked) is counted; a bug,
        a traceback or more than one line is a violation."""
        text = r.err.strip()
        if r.code == 1 or "Traceback" in text or len(text.splitlines()) > 1:
            self.journal.violations.append(f"{self.name}: {command} exited {r.code}: {text[-4000:]}")
        key = f"{command}: exit {r.code}"
        self.journal.refused[key] = self.journal.refused.get(key, 0) + 1

    def settle(self) -> None:
        """After a kill: the next command (it recovers), then until no task of the container runs."""
        for _ in range(200):
            r = self.cli("tasks", "--container", self.name, "--status", "running", "--json")
            if r.code == 0 and not json.loads(r.out):
                return
            time.sleep(0.05)
        self.journal.violations.append(f"{self.name}: a task of the container is still running after a kill")

    # ---- the operations ----------------------------------------------------------------------

    def write(self) -> None:
        """Changes a few files of the container, as an app would."""
        files = [p for p in self.root.rglob("*") if p.is_file() and not p.is_symlink()]
        for _ in range(self.rng.randint(1, 4)):
            what = self.rng.random()
            if files and what < 0.2:
                victim = self.rng.choice(files)
                victim.unlink()
                files.remove(victim)
            elif files and what < 0.3:
                self.rng.choice(files).chmod(self.rng.choice((0o644, 0o755, 0o600)))
            elif what < 0.35:
                link = self.root / f"link{self.rng.randint(0, 5)}"
                if not link.is_symlink() and not link.exists():
                    link.symlink_to(f"target{self.rng.randint(0, 9)}")
            elif len(files) < MAX_FILES:
                d = self.root / f"d{self.rng.randint(0, 3)}"
                d.mkdir(exist_ok=True)
                path = d / f"f{self.rng.randint(0, 30)}"
                size = self.rng.choice((0, 100, 4096, 65536, 300_000))
                data = self.rng.randbytes(size) if self.rng.random() < 0.5 else b"bodega " * (size // 7)
                path.write_bytes(data)
                files.append(path)
        self.journal.operations["write files"] = self.journal.operations.get("write files", 0) + 1

    def kill_now(self) -> bool:
        """Whether to kill this writing command (at random)."""
        return self.rng.random() < self.kill_share

    def snapshot_create(self, kind: str | None = None, kill: bool | None = None) -> None:
        digest = tree_digest(self.root)
        kind = kind or self.rng.choice(("--full", "--delta", "--auto"))
        r = self.cli("snapshot", "create", self.name, "--json", *([kind] if kind != "--auto" else []),
                     kill=self.kill_now() if kill is None else kill)
        if r.code == 0:
            self.journal.snapshots[json.loads(r.out)["id"]] = digest
        elif r.killed:
            self.journal.maybe_made.append(digest)
            self.settle()

    def snapshot_restore(self) -> None:
        known = [s for s in self.journal.snapshots if s not in self.journal.maybe_forgotten]
        if not known:
            return
        snap = self.rng.choice(known)
        before = tree_digest(self.root)
        r = self.cli("snapshot", "restore", self.name, snap, "--json", kill=self.kill_now())
        if r.killed:
            self.settle()
        now = tree_digest(self.root)
        allowed = {self.journal.snapshots[snap]} | ({before} if r.code != 0 else set())
        if now not in allowed:
            self.journal.violations.append(f"{self.name}: restore of {snap} (exit {r.code}) left a tree that is "
                                           "neither the one before nor the snapshot's")

    def snapshot_forget(self) -> None:
        known = [s for s in self.journal.snapshots if s not in self.journal.maybe_forgotten]
        if len(known) < 3:
            return
        snap = self.rng.choice(known)
        r = self.cli("snapshot", "forget", self.name, snap, "--json", kill=self.kill_now())
        if r.code == 0:
            del self.journal.snapshots[snap]
        elif r.killed:
            self.journal.maybe_forgotten.append(snap)
            self.settle()

    def clone(self) -> None:
        if self.journal.clones or self.journal.maybe_clones:
            return self.delete_clone()
        self.counter += 1
        name = f"{self.name}-c{self.counter}"
        digest = tree_digest(self.root)
        r = self.cli("container", "clone", self.name, name, "--json", kill=self.kill_now())
        if r.code == 0:
            self.journal.clones[name] = digest
            self._check_clone(name, digest, must_exist=True)
        elif r.killed:
            self.journal.maybe_clones[name] = digest
            self.settle()
            self._check_clone(name, digest, must_exist=False)

    def delete_clone(self) -> None:
        name, digest = next(iter({**self.journal.clones, **self.journal.maybe_clones}.items()))
        r = self.cli("container", "delete", name, "--yes", "--json", kill=self.kill_now())
        if r.code == 0 or (r.code == errors.ContainerNotFound.exit_code and name in self.journal.maybe_clones):
            self.journal.clones.pop(name, None)
            self.journal.maybe_clones.pop(name, None)
        elif r.killed:
            self.journal.clones.pop(name, None)
            self.journal.maybe_clones[name] = digest
            self.settle()
            self._check_clone(name, digest, must_exist=False)

    def _check_clone(self, name: str, digest: str, must_exist: bool) -> None:
        r = self.cli("container", "show", name, "--json")
        if r.code != 0:
            if must_exist:
                self.journal.violations.append(f"{self.name}: clone {name} acknowledged, then not found")
            else:
                self.journal.maybe_clones.pop(name, None)
            return
        if tree_digest(Path(json.loads(r.out)["storage_path"]) / "root") != digest:
            self.journal.violations.append(f"{self.name}: clone {name} does not hold its source's tree")

    def scratch_container(self) -> None:
        if self.journal.scratch:
            name = self.journal.scratch[0]
            r = self.cli("container", "delete", name, "--yes", "--json", kill=self.kill_now())
            gone = r.code in (0, errors.ContainerNotFound.exit_code)
        else:
            self.counter += 1
            name = f"{self.name}-s{self.counter}"
            self.journal.scratch.append(name)
            r = self.cli("container", "create", name, "--json", kill=self.kill_now())
            gone = False
        if r.killed:
            self.settle()
        if gone:
            self.journal.scratch.remove(name)

    def gc(self) -> None:
        if self.cli("gc", "--json", kill=self.kill_now()).killed:
            self.settle()

    def verify(self) -> None:
        self.cli("verify", self.name, "--json")

    def diff(self) -> None:
        self.cli("diff", self.name, "--json")

    OPERATIONS = [("write", 30), ("snapshot_create", 20), ("snapshot_restore", 8), ("snapshot_forget", 6),
                  ("clone", 8), ("scratch_container", 4), ("gc", 3), ("verify", 2), ("diff", 4)]

    def run(self, seconds: float) -> Journal:
        """Random operations until seconds have passed; the journal, with the tree last seen."""
        names, weights = zip(*self.OPERATIONS)
        end = time.monotonic() + seconds
        self.write()  # a first snapshot, so that restore and forget have one to work on
        self.snapshot_create("--full", kill=False)
        self.write()  # and a first kill, so that a short run has some too
        self.snapshot_create(kill=True)
        while time.monotonic() < end:
            getattr(self, self.rng.choices(names, weights)[0])()
        self.journal.tree = tree_digest(self.root)
        return self.journal


def _worker_main(index: int, home: str, seconds: float, seed: int, kill_share: float, out: str) -> None:
    scratch = Path(out).parent / f"w{index}"
    scratch.mkdir(parents=True, exist_ok=True)
    try:
        journal = Worker(index, Path(home), seed, kill_share, scratch).run(seconds)
    except Exception as e:  # the soak reports it as a violation rather than a silent worker
        journal = Journal(index, violations=[f"w{index}: the worker failed: {e!r}"])
    Path(out).write_text(json.dumps(asdict(journal)))


# ---- the final check ------------------------------------------------------------------------

def final_check(home: Path, journals: list[Journal], scratch: Path) -> tuple[int, list[str]]:
    """(snapshots checked, violations) once every worker stopped."""
    from crash.sweep import after_gc, home_violations, run_command

    from bodega.services import pending_restores

    found: list[str] = []
    if run_command(home, ["container", "list"], output=scratch / "next.txt") != 0:
        found.append(f"the next command failed: {(scratch / 'next.txt').read_text()[-800:]}")
    # the restore markers' directory stays once a restore made it (a marker in it would be listed)
    found += home_violations(home, [f"tmp/{pending_restores.DIRECTORY}"])
    if run_command(home, ["gc"], output=scratch / "gc.txt") != 0:
        found.append(f"gc failed: {(scratch / 'gc.txt').read_text()[-800:]}")
    else:
        found += after_gc(home)
    checked = 0
    with bodega.open(home) as b:
        engine = b.snapshots.engine
        for j in journals:
            name = f"w{j.worker}"
            present = {str(s.id) for s in b.snapshots.list(name)}
            lost = set(j.snapshots) - set(j.maybe_forgotten) - present
            if lost:
                found.append(f"{name}: acknowledged snapshots lost: {sorted(lost)}")
            for snap in sorted(present):
                where = Path(tempfile.mkdtemp(prefix="restore-", dir=scratch))
                engine.restore(where / "root", where / "state", snap)
                got = tree_digest(where / "root")
                shutil.rmtree(where)
                checked += 1
                want = j.snapshots.get(snap)
                if want is None and got not in j.maybe_made:
                    found.append(f"{name}: snapshot {snap} was never acknowledged and holds no tree a killed "
                                 "create hashed")
                elif want is not None and got != want:
                    found.append(f"{name}: snapshot {snap} restores to another tree than it was taken of")
            if j.tree and tree_digest(Path(b.containers.get(name).storage_path) / "root") != j.tree:
                found.append(f"{name}: the container's tree is not the one its worker last saw")
            for clone, digest in {**j.clones, **j.maybe_clones}.items():
                try:
                    c = b.containers.get(clone)
                except errors.ContainerNotFound:
                    if clone in j.clones:
                        found.append(f"{name}: clone {clone} is gone")
                    continue
                if tree_digest(Path(c.storage_path) / "root") != digest:
                    found.append(f"{name}: clone {clone} does not hold its source's tree")
    for j in journals:  # the product's own restore path, in place, for the newest snapshot
        newest = [s for s in j.snapshots if s not in j.maybe_forgotten]
        if not newest:
            continue
        code = run_command(home, ["snapshot", "restore", f"w{j.worker}", newest[-1]], output=scratch / "restore.txt")
        with bodega.open(home) as b:
            now = tree_digest(Path(b.containers.get(f"w{j.worker}").storage_path) / "root")
        if code != 0 or now != j.snapshots[newest[-1]]:
            found.append(f"w{j.worker}: `snapshot restore` of {newest[-1]} exited {code} and left another tree: "
                         f"{(scratch / 'restore.txt').read_text()[-400:]}")
    return checked, found


@dataclass
class Summary:
    """The soak's figures."""

    processes: int
    seconds: float
    operations: int
    kills: int
    landed: int
    snapshots_checked: int
    refused: dict[str, int]
    violations: list[str]

    def line(self) -> str:
        """One line: operations, kills, snapshots checked, violations."""
        return (f"soak: {self.processes} processes, {self.seconds:.0f} s: {self.operations} operations, "
                f"{self.kills} kills ({self.landed} landed mid-command), {self.snapshots_checked} snapshots "
                f"checked, {len(self.violations)} violations")


def soak(home: Path, processes: int = 8, seconds: float = 300, seed: int = 0, kill_share: float = 0.3) -> Summary:
    """Runs the soak in home (a fresh directory) and checks it; its Summary."""
    home.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="bodega-soak-"))
    with bodega.open(home) as b:
        for i in range(processes):
            b.containers.create(f"w{i}")
    ctx = get_context("fork")  # the workers use the standard library only: they run bodega as commands
    outs = [scratch / f"w{i}.json" for i in range(processes)]
    workers = [ctx.Process(target=_worker_main, args=(i, str(home), seconds, seed, kill_share, str(outs[i])))
               for i in range(processes)]
    started = time.monotonic()
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    took = time.monotonic() - started
    journals = []
    for i, out in enumerate(outs):
        journals.append(Journal(**json.loads(out.read_text())) if out.exists()
                        else Journal(i, violations=[f"w{i}: the worker died (exit {workers[i].exitcode})"]))
    checked, found = final_check(home, journals, scratch)
    refused: dict[str, int] = {}
    for j in journals:
        for k, n in j.refused.items():
            refused[k] = refused.get(k, 0) + n
    shutil.rmtree(scratch, ignore_errors=True)
    return Summary(processes, took, sum(sum(j.operations.values()) for j in journals), sum(j.kills for j in journals),
                   sum(j.landed for j in journals), checked, refused,
                   [v for j in journals for v in j.violations] + found)


def main(argv: list[str] | None = None) -> int:
    """The soak's command line: prints its summary line; exit 1 on any violation."""
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--processes", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=300)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--kill-share", type=float, default=0.3, help="share of writing commands killed")
    parser.add_argument("--home", type=Path, help="a fresh directory (default: a temporary one, removed)")
    args = parser.parse_args(argv)
    home = args.home or Path(tempfile.mkdtemp(prefix="bodega-soak-home-")) / "home"
    summary = soak(home, args.processes, args.seconds, args.seed, args.kill_share)
    print(f"seed {args.seed}; refused (documented errors): {json.dumps(summary.refused, sort_keys=True)}")
    for v in summary.violations:
        print(f"VIOLATION {v}")
    print(summary.line())
    if args.home is None:
        shutil.rmtree(home.parent, ignore_errors=True)
    return 1 if summary.violations else 0
