"""CPU time (user + sys, every thread) of a live diff after 1% changed, beside the kernel floor
of a scan (bench/floor/scan_floor.c on 2 threads) and bodega's scan alone, rounds alternated.

CPU time first, so that it can be read on a shared machine (wall time beside it); bench_diff.py
has the wall-time figures against rsync and git.  The diff's parts are timed too: its walk
alone (scan_tree, as the diff runs it), the manifest's load alone, and the diff against a
manifest already loaded: diff - diff(loaded) is what the load adds beside the walk, and
diff(loaded) - walk what the pairing, the suspects and the result add.  The tree, its saved
manifest and the 1% change are made once by --setup; any bodega (another venv's python) can
then be measured on them:

    python bench/diff_cpu.py --setup /var/tmp/bodega-diffcpu --files 20000
    python bench/diff_cpu.py /var/tmp/bodega-diffcpu [--rounds 9]
"""
from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bodega
from bodega._native.manifest import scan_tree
from bodega.storage.manifest_file import expected_size
from bodega.storage.sample_tree import generate

FLOOR = Path(__file__).resolve().parent / "floor" / "scan_floor.c"
FLOOR_ROUNDS = 3  # per measured run of the floor, so that its process start-up is shared


def setup(base: Path, files: int) -> None:
    """The tree, its manifest, then 1% of its files replaced (past the racy window)."""
    base.mkdir(parents=True)
    tree = base / "tree"
    generate(str(tree), files, 0, 1.0)
    time.sleep(1.1)  # past the racy window: the manifest vouches for the files it read
    bodega.manifest.build(tree).save(base / "tree.bgm")
    regular = sorted(p for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
    for p in random.Random(3).sample(regular, max(1, len(regular) // 100)):
        tmp = p.with_name(p.name + ".bench-tmp")
        tmp.write_bytes(p.read_bytes() + b"changed\n")
        os.replace(tmp, p)


def cpu_self(fn) -> tuple[float, float]:
    """(CPU seconds, wall seconds) fn takes in this process, all threads."""
    a = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    fn()
    wall = time.perf_counter() - start
    b = resource.getrusage(resource.RUSAGE_SELF)
    return (b.ru_utime - a.ru_utime) + (b.ru_stime - a.ru_stime), wall


def cpu_floor(exe: Path, tree: Path) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of one floor scan (a child running FLOOR_ROUNDS of them;
    the wall time includes a share of its start-up)."""
    start = time.perf_counter()
    pid = os.posix_spawn(str(exe), [str(exe), str(tree), "2", str(FLOOR_ROUNDS)], os.environ,
                         file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
    _, status, ru = os.wait4(pid, 0)
    wall = time.perf_counter() - start
    if status != 0:
        raise SystemExit(f"scan_floor failed: status {status}")
    return (ru.ru_utime + ru.ru_stime) / FLOOR_ROUNDS, wall / FLOOR_ROUNDS


def main() -> int:
    """The command line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("base", type=Path)
    ap.add_argument("--setup", action="store_true", help="make the tree, manifest and change")
    ap.add_argument("--files", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=9)
    args = ap.parse_args()
    if args.setup:
        setup(args.base, args.files)
    tree, manifest = args.base / "tree", args.base / "tree.bgm"
    with tempfile.TemporaryDirectory() as tmp:
        exe = Path(tmp) / "scan_floor"
        subprocess.run(["cc", "-O2", "-pthread", "-o", str(exe), str(FLOOR)], check=True)
        changed = len(bodega.manifest.diff(manifest, tree))
        suspects = bodega.manifest.build(tree, bodega.manifest.load(manifest)).files_read
        loaded = bodega.manifest.load(manifest, check_root=False)  # as the diff loads it
        entries, text_bytes = expected_size(manifest)  # the walk's size hint, as the diff gives it
        contenders = {
            "kernel floor (getdents64 + fstatat, 2 threads)": lambda: cpu_floor(exe, tree),
            "bodega.fs.scan": lambda: cpu_self(lambda: bodega.fs.scan(tree)),
            "  the diff's walk alone (scan_tree)": lambda: cpu_self(
                lambda: scan_tree(tree, expect_entries=entries, expect_bytes=text_bytes)),
            "  the manifest's load alone": lambda: cpu_self(
                lambda: bodega.manifest.load(manifest, check_root=False)),
            "  the diff against the loaded manifest": lambda: cpu_self(lambda: bodega.manifest.diff(loaded, tree)),
            "bodega.manifest.diff (1% changed)": lambda: cpu_self(lambda: bodega.manifest.diff(manifest, tree)),
        }
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in contenders}
        for _ in range(args.rounds):
            for name, fn in contenders.items():
                times[name].append(fn())
    medians = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v))
               for k, v in times.items()}
    floor = next(iter(medians.values()))[0]
    print(f"{bodega.__file__}: {len(bodega.fs.scan(tree))} entries, {changed} changes, {suspects} files read, "
          f"median CPU (and wall) of {args.rounds} rounds")
    for name, (s, wall) in medians.items():
        print(f"  {name:48s} {s * 1000:8.1f} ms  {s / floor:5.2f}x floor   wall {wall * 1000:8.1f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
