"""Start-up: `bodega --version`, `--help` and `container list` as a user runs them, beside the
interpreter's own floor, on homes whose store holds 1, 10 and 100 snapshots of the generated tree.

Acceptance (issue 13, item 1): flat in the store's size; `container list` under 0.3 s,
`--version` and `--help` under 0.1 s.  The floors printed beside them: `python -S -c pass`
(the bare interpreter), `python -c pass` (with site-packages: on this machine a sandbox .pth
imports certifi at every start) and `python -c "import sqlalchemy.orm"` (what any catalogue
command pays).  Each row gives the median wall time, the median CPU time (user + system, less
disturbed by other load) and the wall time above `python -c pass`.

Bytecode: the commands run with PYTHONDONTWRITEBYTECODE removed and once before timing, so
they load cached bytecode as an installed bodega does (this machine sets the variable).

    BODEGA_BENCH_TREES=generated PYTHONPATH=src python -m pytest bench/bench_startup.py -s

Beside them, `container list` through an opened home (the ORM path it took before it read
the catalogue file directly; forced by giving the catalogue as a URL) on the largest home,
and `bodega diff c` on the smallest, read directly and through an opened home.
"""
from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import bodega

from cli_home import bodega_command, child_env
from conftest import BENCH_FILES
from measure import settle
from snapshot_peers import OnePercentChange, remove

SNAPSHOTS = (1, 10, 100)
ROUNDS = int(os.environ.get("BODEGA_BENCH_STARTUP_ROUNDS", "15"))
TARGETS = {"bodega --version": 0.1, "bodega --help": 0.1, "bodega container list": 0.3}


def run_timed(argv: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall, cpu) seconds of one run of argv; fails when it fails."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode()[-500:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def make_home(tree: Path, base: Path, snapshots: int) -> Path:
    """A home with one container holding a copy of tree and `snapshots` snapshots of it, each
    after 1% of its files changed (so each adds objects and packs to the store)."""
    home = base / f"home-{snapshots}"
    with bodega.open(home) as b:
        b.containers.create("c")
        root = Path(b.containers.get("c").storage_path) / "root"
        root.rmdir()
        subprocess.run(["cp", "-a", "--reflink=auto", str(tree), str(root)], check=True)
        change = OnePercentChange(root)
        for i in range(snapshots):
            if i:
                change.apply()
            b.snapshots.create("c")
        assert len(b.snapshots.list("c")) == snapshots
    return home


@pytest.fixture(scope="module")
def homes(xfs_tree) -> dict[int, Path]:
    base = Path(tempfile.mkdtemp(prefix="startup-", dir=xfs_tree.parent))
    try:
        yield {n: make_home(xfs_tree, base, n) for n in SNAPSHOTS}
    finally:
        remove(base)


def test_start_up_is_flat_in_the_store(homes, ratios):
    py = sys.executable
    bodega_argv = bodega_command()
    plain = child_env()
    contenders: dict[str, tuple[list[str], dict[str, str]]] = {
        "python -S -c pass": ([py, "-S", "-c", "pass"], plain),
        "python -c pass": ([py, "-c", "pass"], plain),
        "python -c 'import sqlalchemy.orm'": ([py, "-c", "import sqlalchemy.orm"], plain),
        "bodega --version": ([*bodega_argv, "--version"], plain),
        "bodega --help": ([*bodega_argv, "--help"], plain),
    }
    for n, home in homes.items():
        contenders[f"bodega container list ({n} snapshot{'s' if n > 1 else ''})"] = (
            [*bodega_argv, "container", "list"], child_env(home))
    # The same listing through an opened home (ORM, every service, recovery check): what it cost
    # before it read the catalogue file directly.  A catalogue URL is what makes it open the home.
    largest = homes[SNAPSHOTS[-1]]
    contenders[f"  same, through an opened home ({SNAPSHOTS[-1]} snapshots)"] = (
        [*bodega_argv, "container", "list"],
        child_env(largest) | {"BODEGA_DATABASE_URL": f"sqlite:///{largest / 'bodega.db'}"})
    # `bodega diff c` on the smallest home (its tree unchanged since the snapshot: the scan is
    # small, the start-up and catalogue reads show), read directly and through an opened home.
    smallest = homes[SNAPSHOTS[0]]
    contenders["bodega diff c (1 snapshot)"] = ([*bodega_argv, "diff", "c"], child_env(smallest))
    contenders["  same diff, through an opened home"] = (
        [*bodega_argv, "diff", "c"],
        child_env(smallest) | {"BODEGA_DATABASE_URL": f"sqlite:///{smallest / 'bodega.db'}"})
    for argv, env in contenders.values():
        run_timed(argv, env)  # writes the bytecode caches
    settle()
    walls: dict[str, list[float]] = {name: [] for name in contenders}
    cpus: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(ROUNDS):
        for name, (argv, env) in contenders.items():
            wall, cpu = run_timed(argv, env)
            walls[name].append(wall)
            cpus[name].append(cpu)
    wall = {k: statistics.median(v) for k, v in walls.items()}
    cpu = {k: statistics.median(v) for k, v in cpus.items()}
    floor = wall["python -c pass"]

    ratios.note(f"start-up (medians of {ROUNDS} interleaved rounds; store of the {BENCH_FILES}-file tree):")
    ratios.note(f"  {'command':46} {'wall':>8} {'cpu':>8} {'above floor':>12} {'x floor':>8}  target")
    for name in contenders:
        target = next((t for prefix, t in TARGETS.items() if name.startswith(prefix)), None)
        verdict = (f"< {target:g} s: {'met' if wall[name] < target else 'NOT met'}" if target
                   else "(the path before)" if name.startswith("  same") else "(floor)" if name.startswith("python")
                   else "")
        ratios.note(f"  {name:46} {wall[name] * 1000:6.0f}ms {cpu[name] * 1000:6.0f}ms "
                    f"{(wall[name] - floor) * 1000:10.0f}ms {wall[name] / floor:7.2f}x  {verdict}")

    lists = [cpu[k] for k in contenders if k.startswith("bodega container list")]
    opened = next(k for k in contenders if k.startswith("  same"))
    direct = f"bodega container list ({SNAPSHOTS[-1]} snapshots)"
    ratios.note(f"  container list, {SNAPSHOTS[-1]} snapshots: read directly {wall[opened] / wall[direct]:.2f}x "
                "faster than through an opened home (wall)")
    diff_opened, diff_direct = wall["  same diff, through an opened home"], wall["bodega diff c (1 snapshot)"]
    ratios.note(f"  diff, 1 snapshot: read directly {diff_opened / diff_direct:.2f}x faster than through an opened "
                "home (wall)")
    ratios.note(f"  container list, 100 snapshots / 1 snapshot (cpu): {lists[-1] / lists[0]:.2f}x (flat: ~1.0)")
    # Flat: the largest store costs the listing no more than noise (CPU time: steadier than wall).
    assert lists[-1] <= lists[0] * 1.15 + 0.01, lists
