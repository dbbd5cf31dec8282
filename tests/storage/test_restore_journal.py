"""The in-place restore journal: a crash at any step, recovery replaying any prefix of the
steps twice, or a link swapped in at any step never reaches outside the tree and always ends
with the tree restored."""
from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from bodega.storage import faults
from bodega.storage import manifest as mf
from bodega.storage import restore_journal as rj
from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore
from bodega.storage.tree import Tree
import restore_trees
from treefacts import facts, root_facts


class Crash(BaseException):
    """The process dying at a fault point: nothing after it runs."""


@pytest.fixture
def setup(ext4_dir):
    """(engine, outside sentinel, a function making a fresh tree at S1 with its state dir)."""
    outside = restore_trees.outside(ext4_dir)
    eng = SnapshotEngine(ObjectStore(ext4_dir / "store"))
    tree = ext4_dir / "origin"
    restore_trees.s1(tree)
    eng.create(tree, ext4_dir / "origin-state", "s1")
    restore_trees.s2(tree, outside)
    eng.create(tree, ext4_dir / "origin-state", "s2")
    count = [0]

    def fresh() -> tuple[Path, Path]:
        count[0] += 1
        t, s = ext4_dir / f"t{count[0]}", ext4_dir / f"s{count[0]}"
        eng.restore(t, s, "s1")
        assert mf.build(t).root_hex == eng.info("s1").root
        return t, s

    return eng, outside, fresh


def _steps(eng: SnapshotEngine, fresh) -> list:
    """The steps of the S1 -> S2 restore (a dry run)."""
    tree, state = fresh()
    ops: list = []
    with faults.hooked("restore.step", lambda index, op: ops.append(op)):
        eng.restore(tree, state, "s2", in_place=True)
    assert ops[-1] is None and mf.build(tree).root_hex == eng.info("s2").root
    return ops[:-1]


def _crash_at(k: int):
    hits = [0]

    def hook(index: int, op) -> None:
        hits[0] += 1
        if hits[0] == k + 1:
            raise Crash(index)
    return hook


def test_the_plan_covers_every_kind_of_step(setup):
    eng, outside, fresh = setup
    kinds = {op[0] for op in _steps(eng, fresh)}
    assert kinds == {"rm", "mkdir", "mv", "ln", "meta"}


def test_a_crash_at_any_step_then_replays_crashing_again_end_restored(setup):
    eng, outside, fresh = setup
    before = facts(outside), root_facts(outside)
    n = len(_steps(eng, fresh))
    target = eng.info("s2").root
    for k in range(n + 1):  # n + 1: after the last step, before the journal is dropped
        for j in sorted({0, k // 2, k}):
            tree, state = fresh()
            with faults.hooked("restore.step", _crash_at(k)), pytest.raises(Crash):
                eng.restore(tree, state, "s2", in_place=True)
            assert (state / "restore.journal").exists()
            # Recovery itself dies after replaying j steps: the first k steps ran twice.
            with faults.hooked("restore.step", _crash_at(j)), pytest.raises(Crash):
                eng.recover(tree, state)
            assert eng.recover(tree, state) == "rolled forward", (k, j)
            assert mf.build(tree).root_hex == target, (k, j)
            assert (facts(outside), root_facts(outside)) == before, (k, j)
            assert not (state / "restore").exists() and not (state / "restore.journal").exists()
            assert os.path.islink(tree / "link") and (tree / "keep" / "h2").stat().st_ino == (
                tree / "keep" / "u1").stat().st_ino


def _swap(tree: Path, outside: Path, taken: Path, swaps: list):
    """A hook swapping, at its first hit, the directory the step goes through (or the step's
    own directory at the top) for a link to outside; the real directory is taken away."""
    def hook(index: int, op) -> None:
        if swaps or op is None:
            return
        path = bytes.fromhex(op[1] if op[0] != "mv" else op[2])
        parent = path.rpartition(b"/")[0]
        victim = tree / os.fsdecode(parent or path)
        if not victim.is_dir() or victim.is_symlink():
            swaps.append(None)  # nothing to swap at this step
            return
        os.rename(victim, taken)
        os.symlink(outside, victim)
        swaps.append(os.fsencode(victim.relative_to(tree)))
    return hook


def test_a_link_swapped_in_at_any_step_is_never_followed(setup):
    eng, outside, fresh = setup
    before = facts(outside), root_facts(outside)
    n = len(_steps(eng, fresh))
    target = eng.manifest("s2")
    swapped = 0
    for k in range(n):
        tree, state = fresh()
        swaps: list = []
        taken = tree.parent / f"taken-{k}"  # the same volume: the swap is a rename
        with faults.hooked("restore.step", lambda index, op: index == k and _swap(tree, outside, taken, swaps)(
                index=index, op=op)):
            eng.restore(tree, state, "s2", in_place=True)
        assert (facts(outside), root_facts(outside)) == before, k
        if swaps == [None]:
            continue
        assert len(swaps) == 1 and taken.exists(), k  # the swap happened
        swapped += 1
        victim = swaps[0]
        got = mf.build(tree)
        for e in got:  # what the tree holds is the target's, links included
            want = target.get(e.path)
            assert want is not None and (e.kind, e.mode, e.hash, e.link) == (want.kind, want.mode, want.hash, want.link), \
                (k, e.path)
        missing = [e.path for e in target if got.get(e.path) is None]
        # What is missing is only what the "attacker" took away with the real directory.
        assert all(p.startswith(victim + b"/") for p in missing), (k, victim, missing)
    assert swapped >= n // 2


def test_journal_round_trip_and_damage(ext4_dir):
    j = rj.Journal("in-place", "s2", "ab" * 32, "task-1", ops=[["mkdir", b"a".hex()], ["rm", b"b".hex(), "t0"]])
    assert rj.Journal.from_bytes(j.to_bytes(), "x") == j
    with Tree.open(ext4_dir) as t:
        rj.commit(t, j)
        assert rj.load(t) == j
        (ext4_dir / "restore.journal").write_bytes(b'{"format": "bodega-restore-journal", "version": 2, "mo')
        with pytest.raises(Exception) as info:
            rj.load(t)
        assert "damaged" in str(info.value)
        rj.remove(t)
        assert rj.load(t) is None


def test_a_version_1_journal_is_replayed_without_undoing_its_own_steps(ext4_dir):
    """A journal of bodega before this format: its removals were unconditional.  Replayed after
    its process had already put the new link in place, the link stays."""
    outside = restore_trees.outside(ext4_dir)
    tree, state = ext4_dir / "tree", ext4_dir / "state"
    restore_trees.s1(tree)
    staging = state / "restore"
    staging.mkdir(parents=True)
    # The old process removed link/ and moved its staged symlink in, then died.
    shutil.rmtree(tree / "link")
    os.symlink(outside, tree / "link")
    ops = [["rm", (b"link/" + n).hex()] for n in (b"c", b"b", b"a")] + [["rm", b"link".hex()]]
    ops.append(["mv", os.fsencode(staging / "0").hex(), b"link".hex()])
    (state / "restore.journal").write_text(json.dumps({"snapshot": "s2", "tree": str(tree), "ops": ops}))
    eng = SnapshotEngine(ObjectStore(ext4_dir / "store"))
    before = facts(outside)
    assert eng.recover(tree, state) == "rolled forward"
    assert os.path.islink(tree / "link") and facts(outside) == before
