"""BLAKE3 hashing against b3sum (and the `blake3` package) in the same run.

    PYTHONPATH=src python -m pytest bench/bench_hash.py -s

One 4 GiB file (acceptance: >= 0.9x b3sum's throughput with its default threads) and a
tree of ~100k small and medium files (acceptance: >= 1.5x faster than
`find -type f -print0 | xargs -0 b3sum`), page cache warm, medians of 5 rounds.  Data lives
in /var/tmp (BODEGA_BENCH_DIR overrides) and is kept between runs.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import blake3
import pytest
from measure import ROUNDS, interleaved_medians

from bodega._native import hash as bh

BENCH_DIR = Path(os.environ.get("BODEGA_BENCH_DIR", "/var/tmp"))
BIG_FILE_SIZE = 4 << 30
TREE_FILES = 100_000


def warm(paths) -> None:
    """Reads files once so the page cache holds them."""
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 24):
                pass


def report(title: str, rows: list[tuple[str, float]], unit_bytes: int, accept: tuple[str, float] | None = None) -> None:
    """Prints each contender's median, throughput and ratio to the first row (bodega)."""
    ours = rows[0][1]
    print(f"\n{title}")
    for name, seconds in rows:
        print(f"  {name:<44} {seconds:8.3f} s  {unit_bytes / seconds / 1e9:6.2f} GB/s  "
              f"time {seconds / ours:5.2f}x bodega's")
    if accept:
        peer, needed = accept
        ratio = dict(rows)[peer] / ours
        print(f"  acceptance: bodega >= {needed}x {peer}: {ratio:.2f}x -> {'PASS' if ratio >= needed else 'FAIL'}")


@pytest.fixture(scope="module")
def big_file() -> Path:
    """A 4 GiB file of random bytes."""
    path = BENCH_DIR / "bodega-bench-4g.bin"
    if not path.exists() or path.stat().st_size != BIG_FILE_SIZE:
        if shutil.disk_usage(BENCH_DIR).free < 2 * BIG_FILE_SIZE:
            pytest.skip(f"not enough space in {BENCH_DIR} for a 4 GiB file")
        tmp = path.with_suffix(".tmp")
        rng = random.Random(0)
        with open(tmp, "wb") as f:
            for _ in range(BIG_FILE_SIZE >> 26):
                f.write(rng.randbytes(1 << 26))
        tmp.rename(path)
    warm([path])
    return path


def make_tree(root: Path, count: int) -> list[str]:
    """~count files in 1000 directories two levels deep: mostly small, some medium."""
    rng = random.Random(42)
    names = []
    sizes = [0, 100, 500, 1000, 2000, 4000, 8000, 16000, 32000, 100_000, 500_000]
    weights = [2, 10, 15, 15, 15, 15, 10, 8, 5, 4, 1]
    blob = rng.randbytes(1 << 20)
    for i in range(count):
        d = f"d{i % 50:02}/e{(i // 50) % 20:02}"
        name = f"{d}/f{i:06}.dat"
        size = rng.choices(sizes, weights)[0]
        (root / d).mkdir(parents=True, exist_ok=True)
        start = rng.randrange(len(blob) - size + 1) if size < len(blob) else 0
        with open(root / name, "wb") as f:
            f.write(rng.randbytes(16) + blob[start:start + size])  # distinct contents
        names.append(name)
    return sorted(names)


@pytest.fixture(scope="module")
def tree() -> tuple[Path, list[str]]:
    """The ~100k-file tree and its sorted relative paths."""
    root = BENCH_DIR / f"bodega-bench-tree-{TREE_FILES}"
    marker = root / ".complete"
    if not marker.exists():
        shutil.rmtree(root, ignore_errors=True)
        root.mkdir(parents=True)
        make_tree(root, TREE_FILES)
        marker.write_text("ok")
    names = sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file() and p != marker)
    warm(root / n for n in names)
    return root, names


def b3sum(args: list[str], cwd: Path | None = None, shell: str | None = None) -> str:
    if shell:
        return subprocess.run(shell, shell=True, cwd=cwd, check=True, capture_output=True, text=True).stdout
    return subprocess.run(["b3sum", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


def test_one_4gib_file(benchmark, big_file):
    if not shutil.which("b3sum"):
        pytest.fail("b3sum is missing (apt-get install b3sum)")
    expected = b3sum([str(big_file)]).split()[0]
    assert bh.hash_file(big_file).hex() == expected
    ours_name = f"bodega hash_file ({bh.implementation()}, {os.cpu_count()} threads)"
    medians = interleaved_medians({
        ours_name: lambda: bh.hash_file(big_file),
        "b3sum (default threads, mmap)": lambda: b3sum([str(big_file)]),
        "blake3 package update_mmap(max_threads=AUTO)":
            lambda: blake3.blake3(max_threads=blake3.blake3.AUTO).update_mmap(big_file),
    })
    benchmark.pedantic(bh.hash_file, args=(big_file,), rounds=ROUNDS, iterations=1)
    ours = medians[ours_name]
    peer = medians["b3sum (default threads, mmap)"]
    package = medians["blake3 package update_mmap(max_threads=AUTO)"]
    report(f"one {BIG_FILE_SIZE >> 30} GiB file, page cache warm (runs taking turns)", list(medians.items()),
           BIG_FILE_SIZE, accept=("b3sum (default threads, mmap)", 0.9))
    benchmark.extra_info.update(b3sum_s=peer, blake3_package_s=package, ratio=peer / ours)


def test_many_small_files(benchmark, tree):
    root, names = tree
    total = sum(os.lstat(root / n).st_size for n in names)
    sample = names[:: len(names) // 50]
    digests = dict(zip(sample, bh.hash_files(root, sample)))
    check = b3sum(sample, cwd=root)
    for line in check.splitlines():
        digest, name = line.split(maxsplit=1)
        assert digests[name].hex() == digest
    shell = "find . -type f -print0 | xargs -0 b3sum > /dev/null"

    def listing() -> list[str]:
        out = []
        for dirpath, _dirs, files in os.walk(root):
            rel = os.path.relpath(dirpath, root)
            out += [f if rel == "." else f"{rel}/{f}" for f in files]
        return out

    def package_pool() -> None:
        def one(name: str) -> bytes:
            with open(root / name, "rb") as f:
                return blake3.blake3(f.read()).digest()
        with ThreadPoolExecutor(os.cpu_count()) as pool:
            list(pool.map(one, names, chunksize=64))
    medians = interleaved_medians({
        "bodega hash_files (paths given)": lambda: bh.hash_files(root, names),
        "find | xargs -0 b3sum": lambda: b3sum([], cwd=root, shell=shell),
        "bodega hash_files + os.walk listing": lambda: bh.hash_files(root, listing()),
        f"blake3 package, {os.cpu_count()} Python threads": package_pool,
    })
    benchmark.pedantic(bh.hash_files, args=(root, names), rounds=ROUNDS, iterations=1)
    ours = medians["bodega hash_files (paths given)"]
    peer = medians["find | xargs -0 b3sum"]
    with_listing = medians["bodega hash_files + os.walk listing"]
    package = medians[f"blake3 package, {os.cpu_count()} Python threads"]
    report(f"{len(names)} files, {total / 1e6:.0f} MB, page cache warm (runs taking turns)", list(medians.items()),
           total, accept=("find | xargs -0 b3sum", 1.5))
    benchmark.extra_info.update(b3sum_s=peer, with_listing_s=with_listing, blake3_package_s=package,
                                ratio=peer / ours)
