"""The kill-point sweep: an operation killed at every one of its write-type steps.

An operation is registered once (`register`, in tests/crash/operations.py) with a function
that builds a home where it can run and returns its command line.  The sweep then:

1. builds that home in each worker and keeps a copy of it (the template);
2. runs the command once to the end from a fresh copy with every step logged
   (BODEGA_FAULT_STEP=trace): the number of lines is the number of kill points N, and the
   home afterwards is the "after" state;
3. for every k in 1..N (or, with a limit, that many k spread evenly over 1..N), from a fresh copy: runs the command with BODEGA_FAULT_STEP=kill@k
   (SIGKILL before step k), proves the kill landed there (exit by SIGKILL and the log's line
   "k ..."), runs the next command (`container list`: the next start recovers), then checks
   the invariants (`violations`); then runs `gc`, which must succeed and empty the store's
   tmp/ (a crash may leave staged objects there: docs/store.md, gc removes them) and every
   snapshot file no catalogue row publishes (written before a crash, never committed).

The same sweep with an injected error instead of the kill (ENOSPC, EIO or EACCES at step k;
several: the points take them in turn): the command must fail cleanly (the error's documented
exit code and one line, or succeed when the step was one it may lose, such as a cleanup), and
then the same invariants must hold.

The power-loss sweep (fault "power") runs the command on a write-log filesystem mounted over
the home (tests/crash/writelog.py), kills it at step k, cuts the power (every write not yet
fsynced is lost), then checks the same invariants on what the disk holds; and once more after
the command finished, when the home must be as the command left it.

The commands run in processes forked from a worker that imported bodega once (a forkserver
preloads it), so a point costs the operation, not an interpreter start.  Heartbeats and
progress events, which commit on a timer, are turned off in the forked commands (an
injected clock: the count of steps is the same in every run).
"""
from __future__ import annotations

import os
import shutil
import subprocess
import traceback
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from multiprocessing import get_context
from pathlib import Path
from typing import Callable, Iterator

from bodega import errors
from crash import writelog

NEXT_COMMAND = ["container", "list"]
EXIT_CODES = {"ENOSPC": errors.NoSpace.exit_code, "EIO": errors.StorageError.exit_code,  # of an injected error
              "EACCES": errors.AccessDenied.exit_code}
STORE_STAGING = "store/tmp/"  # left by a crash for gc to remove (docs/store.md, "Writing")


@dataclass(frozen=True)
class Operation:
    """A command swept at every kill point: prepare(home) builds the home and returns its argv."""

    name: str
    prepare: Callable[[Path], list[str]]
    min_points: int = 0  # the sweep fails with fewer (a tree too small to sweep anything)


OPERATIONS: dict[str, Operation] = {}


def register(name: str, prepare: Callable[[Path], list[str]], min_points: int = 0) -> None:
    """Adds an operation to the sweep (one line per operation in tests/crash/operations.py)."""
    OPERATIONS[name] = Operation(name, prepare, min_points)


@dataclass
class State:
    """What the invariants compare: container trees by name, snapshot ids, leftovers."""

    trees: dict[str, str]          # container name -> root hash of its tree
    snapshots: set[str]
    leftovers: list[str]           # staging and journal entries


@dataclass
class PartResult:
    """One worker's share of a sweep."""

    points: int                    # N, as this worker's trace counted it
    swept: list[int] = field(default_factory=list)
    landed: int = 0
    violations: list[str] = field(default_factory=list)


# ---- running a command in a forked process ---------------------------------------------------

def run_command(home: Path, argv: list[str], plan: str | None = None, log: Path | None = None,
                output: Path | None = None) -> int:
    """Runs `bodega ARGV` in a forked process (armed with plan); its exit code, -9 when killed."""
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        code = 1
        try:
            out = os.open(output or os.devnull, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            null = os.open(os.devnull, os.O_RDONLY)
            os.dup2(null, 0)
            os.dup2(out, 1)
            os.dup2(out, 2)
            os.environ["BODEGA_HOME"] = str(home)
            from bodega.services import tasks
            from bodega.storage import faults

            tasks.HEARTBEAT_INTERVAL = 1e9  # no commits on a timer: every run takes the same steps
            tasks.PROGRESS_EVENT_INTERVAL = 1e9
            # Nor on progress jumps: which counts a native call reports depends on its timer and
            # its threads (a restore's scan phase reported 10% in some runs and nothing in others).
            tasks.PROGRESS_EVENT_STEP = 1000
            tasks.STAGING_GRACE = timedelta(0)  # an injected clock: the grace has passed at the next start
            if plan:
                faults.arm_steps(plan, log)
            from bodega.cli import main

            main(args=argv, prog_name="bodega")
            code = 0
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def copy_home(src: Path, dst: Path) -> None:
    """dst becomes a copy of src (reflinked where the volume can), whatever was there before."""
    if dst.exists():
        shutil.rmtree(dst)
    subprocess.run(["cp", "-a", "--reflink=auto", str(src), str(dst)], check=True)


# ---- the invariants ---------------------------------------------------------------------------

def state_of(home: Path) -> State:
    """The trees, snapshot ids and leftovers of home, read through bodega (a start: it recovers)."""
    import bodega
    from bodega.storage import manifest as mf

    with bodega.open(home) as b:
        trees = {c.name: mf.build(Path(c.storage_path) / "root").root_hex for c in b.containers.list()}
        snapshots = {str(s.id) for c in b.containers.list() for s in b.snapshots.list(str(c.id))}
    return State(trees, snapshots, leftovers(home))


def leftovers(home: Path) -> list[str]:
    """Staging and journals: what a finished or recovered operation must not leave behind."""
    out = []
    for d in (home / "tmp", home / "store" / "tmp", home / "store" / "journal"):
        if d.is_dir():
            out += [str(p.relative_to(home)) for p in d.rglob("*")]
    for c in (home / "containers").glob("*/state"):
        out += [str(p.relative_to(home)) for p in c.iterdir() if p.name.startswith("restore")]
    return sorted(out)


def violations(home: Path, before: State, after: State) -> list[str]:
    """Every invariant the home breaks after a kill and the next command (empty: none)."""
    import bodega
    from bodega.storage import manifest as mf

    found: list[str] = []
    with bodega.open(home) as b:
        rows = {c.name: c for c in b.containers.list()}
        for name in set(before.trees) | set(after.trees):
            c = rows.get(name)
            now = mf.build(Path(c.storage_path) / "root").root_hex if c is not None else None
            if now not in (before.trees.get(name), after.trees.get(name)):
                found.append(f"container {name} is neither before nor after ({now})")
        ids = {str(s.id) for c in rows.values() for s in b.snapshots.list(str(c.id))}
        lost = (before.snapshots & after.snapshots) - ids
        if lost:
            found.append(f"snapshots lost: {sorted(lost)}")
        if len(ids - before.snapshots) > len(after.snapshots - before.snapshots):
            found.append(f"more new snapshots than the operation makes: {sorted(ids - before.snapshots)}")
    return found + home_violations(home, after.leftovers)


def home_violations(home: Path, allowed_leftovers: list[str] = ()) -> list[str]:
    """What no home may show once the next command ran, whatever happened before: directories
    and rows differ, snapshots missing from the store, damage `verify --read-data` finds, tasks
    left unfinished, staging or journals left (store staging aside: gc removes it)."""
    import bodega

    found: list[str] = []
    with bodega.open(home) as b:
        containers = b.containers.list()
        on_disk = {p.name for p in (home / "containers").iterdir()} if (home / "containers").is_dir() else set()
        if on_disk != {str(c.id) for c in containers}:
            found.append(f"container directories {sorted(on_disk)} and rows {sorted(str(c.id) for c in containers)} differ")
        ids = {str(s.id) for c in containers for s in b.snapshots.list(str(c.id))}
        stored = set(b.snapshots.engine.ids())
        if ids - stored:
            found.append(f"snapshots in the catalogue but not in the store: {sorted(ids - stored)}")
        report = b.snapshots.verify(read_data=1.0)
        if not report["ok"]:
            found.append(f"verify --read-data: {report['damage']}")
        unfinished = [f"{t.type} {t.status.value}" for t in b.tasks.list(limit=None) if not t.status.finished]
        if unfinished:
            found.append(f"tasks left unfinished: {unfinished}")
    left = [p for p in leftovers(home) if p not in allowed_leftovers and not p.startswith(STORE_STAGING)]
    if left:
        found.append(f"staging left: {len(left)} entries, {left[:3]}")
    return found


def after_gc(home: Path) -> list[str]:
    """What gc must have cleaned: store staging, and snapshot files no catalogue row publishes."""
    import bodega

    found = []
    if [p for p in leftovers(home) if p.startswith(STORE_STAGING)]:
        found.append(f"gc left staging: {leftovers(home)}")
    with bodega.open(home) as b:
        ids = {str(s.id) for c in b.containers.list() for s in b.snapshots.list(str(c.id))}
        unpublished = set(b.snapshots.engine.ids()) - ids
    if unpublished:
        found.append(f"snapshot files no row publishes, left by gc: {sorted(unpublished)}")
    return found


def durable(home: Path, before: State, after: State) -> list[str]:
    """How home differs from the state its finished command left (empty: not at all); new
    snapshots are counted (each run names its own)."""
    now = state_of(home)
    found = [f"container {name} is not as the command left it" for name in set(now.trees) | set(after.trees)
             if now.trees.get(name) != after.trees.get(name)]
    if (now.snapshots & before.snapshots != after.snapshots & before.snapshots
            or len(now.snapshots - before.snapshots) != len(after.snapshots - before.snapshots)):
        found.append(f"snapshots {sorted(now.snapshots)}, where the command left {sorted(after.snapshots)}")
    return found


def recovered(home: Path, before: State, after: State, out: Path) -> list[str]:
    """Runs the next command and gc after a fault; every invariant either breaks (empty: none)."""
    code = run_command(home, NEXT_COMMAND, output=out)
    problems = [] if code == 0 else [f"the next command failed ({code}): {out.read_text()[-500:]}"]
    try:
        problems += violations(home, before, after)
    except Exception as e:  # a check that cannot even run is a violation, named
        problems.append(f"checking failed: {e!r}")
    if run_command(home, ["gc"], output=out) != 0:
        problems.append(f"gc after the fault failed: {out.read_text()[-500:]}")
    else:
        problems += after_gc(home)
    return problems


@contextmanager
def powered(home: Path, fault: str, cut: bool = True) -> Iterator[None]:
    """With fault "power", home is a write-log filesystem while the block runs, its power cut
    at the end (cut: unsynced data dropped); other faults run on home itself."""
    if fault != "power":
        yield
        return
    with writelog.mounted(home) as mount:
        try:
            yield
        finally:
            if cut:
                mount.cut()


# ---- one worker's share -----------------------------------------------------------------------

def chosen(points: int, limit: int | None) -> list[int]:
    """The kill points swept of 1..points: all of them, or limit of them spread evenly (first and last kept)."""
    if limit is None or points <= limit:
        return list(range(1, points + 1))
    return sorted({1 + round(i * (points - 1) / (limit - 1)) for i in range(limit)})


def sweep_part(name: str, base: str, worker: int, workers: int, limit: int | None, fault: str) -> PartResult:
    """Builds the operation's home in base/w<worker>, traces it, and at every workers-th chosen point
    kills it (fault "kill"), kills it and cuts the power ("power"), or makes that step fail with
    an errno ("ENOSPC", "EIO", "EACCES"; "ENOSPC,EIO": the points take them in turn)."""
    from crash import operations  # noqa: F401  (registers every operation in this process)

    op = OPERATIONS[name]
    where = Path(base) / f"w{worker}"
    where.mkdir(parents=True, exist_ok=True)
    home, template = where / "home", where / "template"
    argv = op.prepare(home)
    copy_home(home, template)
    before = state_of(home)
    copy_home(template, home)
    trace = where / "trace.log"
    trace.unlink(missing_ok=True)
    out = where / "out.txt"
    with powered(home, fault, cut=False):
        code = run_command(home, argv, "trace", trace, out)
    if code != 0:
        raise AssertionError(f"{name}: the traced run failed ({code}): {out.read_text()[-2000:]}")
    after = state_of(home)
    steps = trace.read_text().splitlines()
    result = PartResult(points=len(steps))
    points = chosen(len(steps), limit)
    if fault == "power":
        points.append(len(steps) + 1)  # and a cut once the command has finished: it must be durable
    faults = fault.split(",")  # several errors: the chosen points take them in turn
    for i, k in list(enumerate(points))[worker::workers]:
        fault = faults[i % len(faults)]
        copy_home(template, home)
        log = where / "fault.log"
        log.unlink(missing_ok=True)
        with powered(home, fault):
            plan = None if k > len(steps) else f"{'kill' if fault == 'power' else fault}@{k}"
            code = run_command(home, argv, plan, log, out)
        result.swept.append(k)
        lines = log.read_text().splitlines() if log.exists() else []
        if k > len(steps):
            if code != 0 or lines:
                result.violations.append(f"point {k}: the whole run failed ({code}, log {lines}): {out.read_text()[-500:]}")
                continue
            lines = [f"{k} end of the command"]
        elif not (len(lines) == 1 and lines[0].split()[0] == str(k)):
            result.violations.append(f"point {k}: the {fault} did not land (exit {code}, log {lines}): "
                                     f"{out.read_text()[-500:]}")
            continue
        result.landed += 1
        said = out.read_text()
        if fault in ("kill", "power") and k <= len(steps) and code != -9:
            result.violations.append(f"point {k}: killed, yet exit {code}")
        elif fault not in ("kill", "power") and (code not in (0, EXIT_CODES[fault]) or "Traceback" in said
                                                 or (code != 0 and len(said.strip().splitlines()) > 1)):
            result.violations.append(f"point {k} ({lines[0]}): {fault} gave exit {code} (want 0 or "
                                     f"{EXIT_CODES[fault]}, one line): {said[-500:]}")
        problems = recovered(home, before, after, out)
        lines[0] += f" ({fault})" if len(faults) > 1 else ""
        if k > len(steps):
            problems += [f"the finished command's work was lost: {p}" for p in durable(home, before, after)]
        result.violations += [f"point {k} ({lines[0]}): {p}" for p in problems]
    return result


def sweep(name: str, base: Path, workers: int = 2, limit: int | None = None,
          fault: str = "kill") -> tuple[int, int, int, list[str]]:
    """Sweeps the write-type steps of the operation name (all, or limit spread evenly) with fault
    (a SIGKILL, a SIGKILL and a power cut, or injected errnos); (points, swept, landed, violations)."""
    ctx = get_context("forkserver")
    ctx.set_forkserver_preload(["bodega.cli.root", "crash.sweep", "crash.operations"])
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        parts = list(pool.map(sweep_part, [name] * workers, [str(base)] * workers, range(workers),
                              [workers] * workers, [limit] * workers, [fault] * workers))
    counts = {p.points for p in parts}
    found = [v for p in parts for v in p.violations]
    if len(counts) != 1:
        found.append(f"the workers' traces counted different numbers of steps: {sorted(counts)}")
    return max(counts), sum(len(p.swept) for p in parts), sum(p.landed for p in parts), found
