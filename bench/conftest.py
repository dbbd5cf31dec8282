"""Benchmark fixtures: the generated tree on XFS (reflink) and on ext4, peer tools, ratios.

`BODEGA_BENCH_FILES` sizes the tree (default 100000 files, about 1.2 GiB); each tree is
generated once per session and removed at its end.  Beside the generated tree, a real tree
the generator did not make: a copy of `BODEGA_BENCH_REAL_TREE` (default /usr/lib) on the
same volume.  `BODEGA_BENCH_TREES` picks them (default "generated,real").  Every benchmark
records its median with `ratios.record(group, tool, seconds)`; the summary prints each tool
against bodega.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))                  # treegen
sys.path.insert(0, str(HERE.parent / "tests"))  # loopfs

import loopfs  # noqa: E402
import treegen  # noqa: E402

BENCH_FILES = int(os.environ.get("BODEGA_BENCH_FILES", "100000"))
TREES = [t for t in os.environ.get("BODEGA_BENCH_TREES", "generated,real").split(",") if t]
REAL_SOURCE = Path(os.environ.get("BODEGA_BENCH_REAL_TREE", "/usr/lib"))
BENCH_SEED = 0
ROUNDS = int(os.environ.get("BODEGA_BENCH_ROUNDS", "5"))  # rounds per contender, alternated
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(reason: str) -> None:
    """Skips a benchmark whose environment is missing, except in CI, where it fails."""
    if IN_CI:
        pytest.fail(f"CI=true and this benchmark cannot run: {reason}")
    pytest.skip(reason)


def run_peer(argv: list[str], stdout=subprocess.DEVNULL) -> None:
    """Runs a peer tool (find, cp, ...), failing with its stderr when it fails."""
    done = subprocess.run(argv, stdout=stdout, stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {done.returncode}: {done.stderr.strip()}")


def fs_type(path: Path) -> str:
    """The filesystem type of path as `stat -f` names it (ext2/ext3 covers ext4)."""
    return subprocess.run(["stat", "-f", "-c", "%T", str(path)], capture_output=True, text=True,
                          check=True).stdout.strip()


class Ratios:
    """Medians per (group, tool), printed at the end as ratios to bodega."""

    def __init__(self) -> None:
        self.medians: dict[str, dict[str, float]] = {}
        self.notes: list[str] = []

    def record(self, group: str, tool: str, seconds: float) -> None:
        self.medians.setdefault(group, {})[tool] = seconds

    def note(self, line: str) -> None:
        self.notes.append(line)

    def lines(self) -> list[str]:
        out = []
        for group, tools in self.medians.items():
            ours = tools.get("bodega")
            parts = []
            for tool, s in tools.items():
                ratio = f" (bodega/{tool} = {ours / s:.2f}x)" if ours and tool != "bodega" else ""
                parts.append(f"{tool} {s * 1000:.0f} ms{ratio}")
            out.append(f"{group}: " + ", ".join(parts))
        return out + self.notes


RATIOS = Ratios()


@pytest.fixture(scope="session")
def ratios() -> Ratios:
    return RATIOS


def pytest_terminal_summary(terminalreporter):
    lines = RATIOS.lines()
    if lines:
        terminalreporter.section(f"bodega vs peers (medians of {ROUNDS}, {BENCH_FILES} files)")
        for line in lines:
            terminalreporter.write_line(line)


def _image_mib(files: int) -> int:
    # The tree (~12 KiB of data and a 4 KiB block per file), room for a full copy of it
    # (shutil.copytree and the ext4-style fallback do not share extents), a round's restored
    # trees (restic's are full copies), and slack; and the same for the real tree.
    # The image file is sparse: only what is written takes space.
    generated = files * 16 * 6 // 1024 if "generated" in TREES else 0
    real = _real_mib() * 6 if "real" in TREES else 0
    return max(1024, generated + real + 1024)


def tree_mib(kind: str) -> int:
    """About how many MiB the tree of kind ("generated" or "real") takes on a volume."""
    return BENCH_FILES * 16 // 1024 if kind == "generated" else _real_mib()


def _real_mib() -> int:
    """The real tree's size in MiB (du)."""
    if not REAL_SOURCE.is_dir():
        return 0
    out = subprocess.run(["du", "-s", "-m", str(REAL_SOURCE)], capture_output=True, text=True).stdout
    return int(out.split()[0]) if out else 0


def copy_real_tree(dest: Path) -> Path:
    """A copy of the real tree at dest (what cannot be read is left out, as a user's copy would)."""
    if not REAL_SOURCE.is_dir():
        need(f"BODEGA_BENCH_REAL_TREE={REAL_SOURCE} is not a directory")
    subprocess.run(["cp", "-a", str(REAL_SOURCE), str(dest)], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    if not dest.is_dir():
        raise RuntimeError(f"could not copy {REAL_SOURCE} to {dest}")
    os.sync()
    return dest


# The benchmarks' loop devices read and write their images with direct I/O.  Otherwise every
# page written or read on a loop-mounted volume is cached twice, the volume's and the image
# file's, as on no disk: a restore of the generated tree (1.6 GB) then needed 3.2 GB of page
# cache, and with the cache full bodega's ext4 restore took 4.8-5.0 s with 250k pages
# reclaimed by kswapd, against 3.9-4.2 s and none with direct I/O (restic: 11.4 and 11.3 s).
# BODEGA_BENCH_LOOP_DIRECT_IO=0 measures with cached loop devices, to compare.
DIRECT_IO = os.environ.get("BODEGA_BENCH_LOOP_DIRECT_IO", "1") != "0"


@pytest.fixture(scope="session")
def bench_xfs() -> Path:
    """An XFS filesystem with reflink on a loop device, sized for BENCH_FILES (root only)."""
    reason = loopfs.can_mount()
    if reason:
        need(reason)
    lm = loopfs.mount("xfs", _image_mib(BENCH_FILES), direct_io=DIRECT_IO)
    yield lm.path
    loopfs.unmount(lm)


# Inode tables written by mkfs, not by the kernel's lazy-init thread while a benchmark is timed;
# an inode per 8 KiB: room for several copies of a tree of small files.
loopfs.MKFS["ext4-fresh"] = ["mkfs.ext4", "-q", "-F", "-i", "8192", "-E", "lazy_itable_init=0,lazy_journal_init=0"]
loopfs.APT_PACKAGE["ext4-fresh"] = "e2fsprogs"


@contextmanager
def fresh_ext4(size_mib: int) -> Iterator[Path]:
    """A freshly made ext4 volume on a loop device (root only), unmounted and removed afterwards.

    Not /var/tmp: the host's volume is aged by whatever ran before (other sessions' trees,
    packages), so its figures swing from run to run; a fresh volume is the same every run.
    """
    reason = loopfs.can_mount()
    if reason:
        need(reason)
    lm = loopfs.mount("ext4-fresh", size_mib, direct_io=DIRECT_IO)
    try:
        yield lm.path
    finally:
        loopfs.unmount(lm)


def make_tree(kind: str, volume: Path) -> Path:
    """The tree of kind ("generated" or "real") made on volume, written back."""
    if kind == "real":
        return copy_real_tree(volume / "real")
    treegen.generate(volume / "tree", BENCH_FILES, BENCH_SEED)
    os.sync()  # written back now, not during the first timings
    return volume / "tree"


@pytest.fixture(scope="session")
def xfs_tree(bench_xfs) -> Path:
    """The generated tree on XFS."""
    dest = bench_xfs / "tree"
    treegen.generate(dest, BENCH_FILES, BENCH_SEED)
    os.sync()  # written back now, not during the first timings
    return dest


def ext4_base(prefix: str) -> Path:
    """A fresh directory under /var/tmp, which must be ext4."""
    base = Path(tempfile.mkdtemp(prefix=prefix, dir="/var/tmp"))
    if fs_type(base) not in ("ext2/ext3", "ext4"):
        shutil.rmtree(base)
        need(f"/var/tmp is {fs_type(base)}, not ext4")
    return base


@pytest.fixture(scope="session")
def ext4_tree() -> Path:
    """The generated tree on ext4 (under /var/tmp)."""
    base = ext4_base("bodega-bench-")
    treegen.generate(base / "tree", BENCH_FILES, BENCH_SEED)
    os.sync()  # written back now, not during the first timings
    yield base / "tree"
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session")
def xfs_real_tree(bench_xfs) -> Path:
    """The real tree (a copy of BODEGA_BENCH_REAL_TREE) on XFS."""
    return copy_real_tree(bench_xfs / "real")


@pytest.fixture(scope="session")
def ext4_real_tree() -> Path:
    """The real tree on ext4 (under /var/tmp)."""
    base = ext4_base("bodega-bench-real-")
    yield copy_real_tree(base / "real")
    shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(params=["xfs", "ext4"])
def bench_fs(request) -> str:
    """The filesystem a benchmark runs on: XFS, then ext4."""
    return request.param


@pytest.fixture(params=TREES)
def tree_kind(request) -> str:
    """Which tree a benchmark runs on: the generated one, then the real one."""
    return request.param


def tree_on(request, fs: str, kind: str) -> Path:
    """The tree of kind ("generated" or "real") on fs ("xfs" or "ext4")."""
    return request.getfixturevalue(f"{fs}_tree" if kind == "generated" else f"{fs}_real_tree")


@pytest.fixture
def bench_tree(bench_fs, tree_kind, request) -> Path:
    """The generated or the real tree on bench_fs."""
    return tree_on(request, bench_fs, tree_kind)


@pytest.fixture
def xfs_scratch(bench_xfs) -> Path:
    """An empty directory on the benchmark XFS mount, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="scratch-", dir=bench_xfs))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def ext4_scratch(ext4_tree) -> Path:
    """An empty directory next to the ext4 tree, removed afterwards."""
    d = Path(tempfile.mkdtemp(prefix="scratch-", dir=ext4_tree.parent))
    yield d
    shutil.rmtree(d, ignore_errors=True)


def tree_fs(tree: Path) -> str:
    """"xfs" for a tree on an XFS volume, else "ext4"."""
    return "xfs" if fs_type(tree) == "xfs" else "ext4"


def where(tree: Path) -> str:
    """A benchmark tree's volume and kind, for group names: "xfs, generated", "ext4, real"."""
    return f"{tree_fs(tree)}, {'real' if tree.name == 'real' else 'generated'}"
