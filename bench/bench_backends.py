"""The two back ends of the native core side by side: Cython vs cffi on the same tree, one run.

Acceptance (issue 18): the cffi back end is no more than 10% slower than Cython on the scan and
the manifest of the generated tree.  Rounds alternate between the back ends, the order
reversed every round (warm page cache); each line prints both medians and the ratio
cffi / Cython (1.00 = as fast; above 1.10 fails the acceptance).  Also shown, for information: a rescan that trusts the stat cache (the
Python-side cost of each binding dominates), a batch hash, a chunked file and small hash
updates (the per-call cost).

    python bench/bench_backends.py [--files N] [--rounds R] [--json]
"""
from __future__ import annotations

import argparse
import importlib
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable

sys.path.insert(0, str(Path(__file__).parent))

import treegen  # noqa: E402
from measure import prepare  # noqa: E402

BACKENDS = {"cython": "bodega._native.", "cffi": "bodega._native.cffi_backend."}
ACCEPTED = ("scan", "manifest")  # the operations the 10% bound applies to
LIMIT = 1.10


def bindings(backend: str) -> dict[str, object]:
    """The back end's modules by name."""
    return {name: importlib.import_module(BACKENDS[backend] + name) for name in ("scan", "manifest", "hash", "chunk")}


def operations(m: dict[str, object], tree: Path, files: list[str], big: Path) -> dict[str, Callable[[], object]]:
    """Each timed operation for one back end's modules."""
    previous = m["manifest"].scan_tree(tree)
    m["manifest"].read_suspects(previous, tree)

    def manifest() -> None:
        table = m["manifest"].scan_tree(tree)
        m["manifest"].read_suspects(table, tree)

    def rescan() -> None:
        table = m["manifest"].scan_tree(tree)
        m["manifest"].read_suspects(table, tree, previous)

    def small_updates() -> None:
        h = m["hash"].Blake3()
        for _ in range(100_000):
            h.update(b"x" * 64)
        h.digest()

    return {
        "scan": lambda: len(m["scan"].scan(tree)),
        "manifest": manifest,
        "manifest rescan (stat cache)": rescan,
        "hash_files (batch)": lambda: m["hash"].hash_files(tree, files),
        "chunk_file (256 MiB)": lambda: m["chunk"].chunk_file(big),
        "Blake3.update x100k (64 B)": small_updates,
    }


def alternated_medians(contenders: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median wall time of each contender, the order reversed every round (ABBA): whichever
    runs second in a round (a warmer cache, a busier machine) is each back end in turn."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for r in range(rounds):
        for name in (list(contenders) if r % 2 == 0 else list(reversed(contenders))):
            prepare(cold=False)
            start = time.perf_counter()
            contenders[name]()
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=int(os.environ.get("BODEGA_BENCH_FILES", "100000")))
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    base = Path(tempfile.mkdtemp(prefix="bodega-bench-backends-", dir="/var/tmp"))
    try:
        tree = base / "tree"
        treegen.generate(tree, args.files, 0)
        files = sorted(str(p.relative_to(tree)) for p in tree.rglob("*") if p.is_file() and not p.is_symlink())
        big = base / "big.bin"
        piece = os.urandom(16 << 20)
        with open(big, "wb") as f:
            for _ in range(16):
                f.write(piece)
        ops = {b: operations(bindings(b), tree, files, big) for b in BACKENDS}
        results = []
        for name in ops["cython"]:
            medians = alternated_medians({b: ops[b][name] for b in BACKENDS}, args.rounds)
            ratio = medians["cffi"] / medians["cython"]
            results.append({"operation": name, "cython_s": medians["cython"], "cffi_s": medians["cffi"],
                            "ratio": ratio, "bound": LIMIT if name in ACCEPTED else None})
    finally:
        shutil.rmtree(base, ignore_errors=True)
    if args.json:
        print(json.dumps({"files": args.files, "rounds": args.rounds, "results": results}, indent=2))
    else:
        print(f"native back ends, {args.files} files, medians of {args.rounds} alternated rounds (warm)")
        print(f"{'operation':32} {'cython':>10} {'cffi':>10} {'cffi/cython':>12}")
        for r in results:
            verdict = "" if r["bound"] is None else ("  ok (<= 1.10)" if r["ratio"] <= LIMIT else "  SLOWER than 1.10")
            print(f"{r['operation']:32} {r['cython_s']:9.3f}s {r['cffi_s']:9.3f}s {r['ratio']:11.2f}x{verdict}")
    return 0 if all(r["ratio"] <= LIMIT for r in results if r["bound"]) else 1


if __name__ == "__main__":
    sys.exit(main())
