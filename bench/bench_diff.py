"""Change detection speed: re-manifest and live diff of the ~100k-file tree, unchanged and
after 1% of its files changed, vs `git status --porcelain` on a git repository of the same
tree and `rsync -an --itemize-changes` against a copy of it, one run.

Acceptance (issue 3): the live diff after 1% of files changed is faster than `git status
--porcelain` and at least 5x faster than `rsync -an --itemize-changes`.
"""
from __future__ import annotations

import os
import random
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

import bodega

from conftest import ROUNDS, run_peer

CHANGED_SHARE = 0.01
mf = bodega.manifest


class Setup:
    """The tree, its manifest (saved), a git repository of it, an rsync mirror of it."""

    def __init__(self, source: Path) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bodega-bench-diff-", dir="/var/tmp"))
        self.tree = self.base / "tree"
        run_peer(["cp", "-a", str(source), str(self.tree)])
        # The mirror shares the files' inodes; changes below replace files, never write in place.
        self.mirror = self.base / "mirror"
        run_peer(["cp", "-al", str(self.tree), str(self.mirror)])
        self.git_dir = self.base / "repo.git"
        self.git(["init", "-q"])
        self.git(["-c", "core.compression=0", "add", "-A"])
        self.git(["-c", "user.name=b", "-c", "user.email=b@b", "commit", "-q", "-m", "tree"])
        time.sleep(1.1)  # past the racy windows of bodega and git
        self.git(["status", "--porcelain"])  # refreshes git's index stat data
        self.manifest = self.base / "tree.bgm"
        mf.build(self.tree).save(self.manifest)
        self.changed: list[Path] = []

    def git(self, args: list[str]) -> None:
        run_peer(["git", f"--git-dir={self.git_dir}", f"--work-tree={self.tree}", *args])

    def change_one_percent(self) -> None:
        files = sorted(p for p in self.tree.rglob("*") if p.is_file() and not p.is_symlink())
        self.changed = random.Random(3).sample(files, max(1, int(len(files) * CHANGED_SHARE)))
        for p in self.changed:
            tmp = p.with_name(p.name + ".bench-tmp")
            tmp.write_bytes(p.read_bytes() + b"changed\n")
            os.replace(tmp, p)


@pytest.fixture(scope="module")
def setup(ext4_tree) -> Setup:
    s = Setup(ext4_tree)
    yield s
    shutil.rmtree(s.base, ignore_errors=True)


def peers(s: Setup) -> dict:
    return {
        "git status": lambda: s.git(["status", "--porcelain"]),
        "rsync": lambda: run_peer(["rsync", "-an", "--itemize-changes", f"{s.tree}/", f"{s.mirror}/"]),
    }


def bodega_live_diff(s: Setup) -> int:
    """The saved manifest loaded, the live tree compared with it (suspects read)."""
    return len(mf.diff(s.manifest, s.tree))


def bodega_remanifest(s: Setup) -> int:
    return mf.build(s.tree, mf.load(s.manifest)).files_read


def _measure(benchmark, ratios, group: str, fn) -> None:
    benchmark.group = group
    benchmark.pedantic(fn, rounds=ROUNDS, warmup_rounds=1, iterations=1)


@pytest.mark.parametrize("tool", ["bodega diff", "bodega re-manifest", "git status", "rsync"])
def test_unchanged_tree(benchmark, setup, ratios, tool):
    fns = {"bodega diff": lambda: bodega_live_diff(setup),
           "bodega re-manifest": lambda: bodega_remanifest(setup), **peers(setup)}
    _measure(benchmark, ratios, "live diff (unchanged)", fns[tool])
    ratios.record("unchanged tree", "bodega" if tool == "bodega diff" else tool,
                  benchmark.stats.stats.median)
    if tool == "bodega diff":
        assert bodega_live_diff(setup) == 0


@pytest.mark.parametrize("tool", ["bodega diff", "bodega re-manifest", "git status", "rsync"])
def test_one_percent_changed(benchmark, setup, ratios, tool):
    if not setup.changed:
        setup.change_one_percent()
    fns = {"bodega diff": lambda: bodega_live_diff(setup),
           "bodega re-manifest": lambda: bodega_remanifest(setup), **peers(setup)}
    _measure(benchmark, ratios, "live diff (1% changed)", fns[tool])
    ratios.record("1% of files changed", "bodega" if tool == "bodega diff" else tool,
                  benchmark.stats.stats.median)
    if tool == "bodega diff":
        assert bodega_live_diff(setup) == len(setup.changed)
    if tool == "bodega re-manifest":
        assert bodega_remanifest(setup) == len(setup.changed)
