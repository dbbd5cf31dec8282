"""storage/sample_tree.py (and its command line, bench/treegen.py): the benchmark tree is deterministic, realistic in shape, and written as planned."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import zstandard

from bodega.storage import sample_tree as treegen

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_same_seed_same_tree_other_seed_other_tree():
    assert treegen.plan_tree(2000, seed=1) == treegen.plan_tree(2000, seed=1)
    assert treegen.plan_tree(2000, seed=1) != treegen.plan_tree(2000, seed=2)


@pytest.fixture(scope="module")
def full_plan() -> treegen.TreePlan:
    return treegen.plan_tree(100_000, seed=0)


def test_full_size_tree_has_the_advertised_shape(full_plan):
    sizes = [f.size for f in full_plan.files]
    assert len(sizes) == 100_000
    assert 0.45 < sum(s < 4096 for s in sizes) / len(sizes) < 0.55       # about half small
    assert max(sizes) > 10 << 20                                           # a long tail
    assert 1.0 * 2**30 < full_plan.total_bytes < 1.5 * 2**30
    assert 10_000 < len(full_plan.dirs) < 14_000
    assert len(full_plan.symlinks) > 100 and len(full_plan.hardlinks) > 0
    depth = max(d.count("/") for d in full_plan.dirs)
    assert depth >= 10  # node_modules nests


def test_full_size_tree_has_an_app_layout(full_plan):
    dirs = set(full_plan.dirs)
    for part in ("/bin", "/lib", "/LC_MESSAGES", "/node_modules", "/site-packages", "/share/icons"):
        assert any(d.endswith(part) for d in dirs), part


def test_scale_shrinks_sizes_only():
    small, full = treegen.plan_tree(3000, seed=3, scale=0.01), treegen.plan_tree(3000, seed=3)
    assert [f.path for f in small.files] == [f.path for f in full.files]
    assert small.total_bytes < full.total_bytes / 50


def test_written_tree_matches_its_plan(tmp_path):
    root = tmp_path / "t"
    plan = treegen.plan_tree(3000, seed=5, scale=0.05)
    treegen.write_tree(plan, root, seed=5)
    for spec in plan.files[::97]:
        st = (root / spec.path).stat()
        assert st.st_size == spec.size and (st.st_mode & 0o777) == spec.mode
    for path, existing in plan.hardlinks:
        assert (root / path).stat().st_ino == (root / existing).stat().st_ino
    for path, target in plan.symlinks:
        link = root / path
        assert os.readlink(link) == target and not os.path.isabs(target)
        resolved = os.path.normpath(os.path.join(os.path.dirname(link), target))
        assert resolved.startswith(str(root) + os.sep), f"{path} -> {target} leaves the tree"
    walked = sum(len(d) + len(f) for _, d, f in os.walk(root))
    assert walked == len(plan.dirs) + len(plan.files) + len(plan.hardlinks) + len(plan.symlinks)


def test_content_mixes_compressible_and_random(tmp_path):
    root = tmp_path / "t"
    plan = treegen.plan_tree(2000, seed=9)
    treegen.write_tree(plan, root, seed=9)
    ratio = {}
    for kind in (treegen.TEXT, treegen.RANDOM):
        data = b"".join((root / f.path).read_bytes() for f in plan.files if f.content == kind)[: 4 << 20]
        assert data.count(0) < len(data) / 10
        ratio[kind] = len(zstandard.ZstdCompressor(level=3).compress(data)) / len(data)
    assert ratio[treegen.TEXT] < 0.5 and ratio[treegen.RANDOM] > 0.95


def test_command_line(tmp_path):
    dest = tmp_path / "cli"
    run = [sys.executable, str(BENCH / "treegen.py"), str(dest), "--files", "300", "--seed", "4", "--scale", "0.01"]
    out = subprocess.run(run, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "300 files" in out.stdout
    assert sum(len(f) for _, _, f in os.walk(dest)) >= 300
    again = subprocess.run(run, capture_output=True, text=True)
    assert again.returncode == 2 and "exists already" in again.stderr
    bad = subprocess.run([*run[:2], str(tmp_path / "other"), "--files", "0"], capture_output=True, text=True)
    assert bad.returncode == 2 and "at least 1" in bad.stderr
