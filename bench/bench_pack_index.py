"""Time to first object lookup in a store of 100 packs: opening it through its pack index
(storage/pack_index.py: one file) against parsing every pack's own index (what every open
did before, and what verify and gc still do), in the same run, rounds alternated.

Issue 13: a command that needs objects parsed every pack index (179k objects in 105 packs:
0.85 s); the pack index makes it one file read.  Each side opens a fresh ObjectStore and
looks one object up; the peer is the same store with the pack index ignored.

    BODEGA_BENCH_PACK_OBJECTS=1790 PYTHONPATH=src python -m pytest bench/bench_pack_index.py -s
"""
from __future__ import annotations

import os
import random
import shutil
import statistics
import time
from pathlib import Path

import pytest

from bodega.storage import pack_index
from bodega.storage import store as store_module
from bodega.storage.store import ObjectStore

from conftest import ext4_base
from measure import settle

PACKS = 100
PER_PACK = int(os.environ.get("BODEGA_BENCH_PACK_OBJECTS", "1790"))  # 179k objects in 100 packs
ROUNDS = 9


@pytest.fixture(scope="module")
def store_root() -> Path:
    base = ext4_base("bodega-bench-packindex-")
    try:
        store = ObjectStore(base / "store")
        rng = random.Random(0)
        for p in range(PACKS):
            with store.writer() as w:
                for i in range(PER_PACK):
                    w.put_bytes(b"%d/%d " % (p, i) + rng.randbytes(24))
        store.close()
        yield base / "store"
    finally:
        shutil.rmtree(base, ignore_errors=True)


def first_lookup(root: Path, digest: bytes, through_index: bool) -> float:
    """Seconds to open the store and locate one object."""
    real_load, real_after = pack_index.load, store_module.REINDEX_AFTER
    if not through_index:  # as before the pack index: every pack's own index, nothing published
        pack_index.load = lambda _root: None
        store_module.REINDEX_AFTER = 10**9
    try:
        start = time.perf_counter()
        store = ObjectStore(root)
        store.locate(digest)
        took = time.perf_counter() - start
        store.close()
    finally:
        pack_index.load, store_module.REINDEX_AFTER = real_load, real_after
    return took


def test_first_lookup_through_the_pack_index(store_root, ratios):
    table = pack_index.load(store_root)
    assert table is not None and len(table.covers) >= PACKS - store_module.REINDEX_AFTER
    digest = next(d for i, (d, _) in enumerate(table.items()) if i == len(table) // 2)
    settle()
    times: dict[bool, list[float]] = {True: [], False: []}
    for r in range(ROUNDS):
        for side in ((True, False) if r % 2 else (False, True)):
            times[side].append(first_lookup(store_root, digest, side))
    after, before = statistics.median(times[True]), statistics.median(times[False])
    objects = len(ObjectStore(store_root).pack_entries())
    outside = PACKS - len(table.covers)
    ratios.note(f"first object lookup, {PACKS} packs ({outside} outside the pack index), {objects} objects "
                f"(median of {ROUNDS}, alternated):")
    ratios.note(f"  through the pack index   {after * 1000:8.1f} ms")
    ratios.note(f"  parsing every pack index {before * 1000:8.1f} ms   ({before / after:.1f}x slower)")
    assert after < before
