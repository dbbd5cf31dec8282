"""The store's pack index (storage/pack_index.py): lookups through it equal parsing every pack;
a stale or damaged index is never trusted; a crash while publishing one leaves a usable store."""
from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bodega import errors
from bodega.storage import pack_index
from bodega.storage import store as store_module
from bodega.storage.pack import read_index
from bodega.storage.packs import LocalPacks
from bodega.storage.store import REINDEX_AFTER, ObjectStore
from damage import flip_bit

PER_PACK = 40


def add_packs(store: ObjectStore, n: int, start: int = 0) -> list[bytes]:
    """n more packs of PER_PACK small objects each (one writer session per pack); their hashes."""
    digests = []
    for p in range(start, start + n):
        with store.writer() as w:
            digests += [w.put_bytes(f"pack {p} object {i}\n".encode() * 3) for i in range(PER_PACK)]
    return digests


def parsed(root: Path) -> dict[bytes, object]:
    """Every packed object's entry, by parsing each pack's own index (the first pack by name wins)."""
    out: dict[bytes, object] = {}
    for pack in sorted((root / "packs").glob("*.pack")):
        for digest, entry in read_index(pack).items():
            out.setdefault(digest, entry)
    return out


def counting_pack_reads(monkeypatch) -> list[str]:
    """Records the packs whose own index is parsed."""
    read: list[str] = []
    real = LocalPacks.index
    monkeypatch.setattr(LocalPacks, "index", lambda self, name: read.append(name) or real(self, name))
    return read


@pytest.fixture
def packed(tmp_path) -> tuple[ObjectStore, list[bytes]]:
    store = ObjectStore(tmp_path / "store")
    return store, add_packs(store, 2 * REINDEX_AFTER + 3)


def test_lookups_through_the_index_equal_parsing_every_pack(packed, monkeypatch):
    store, digests = packed
    root = store.root
    assert (root / pack_index.FILE_NAME).is_file()  # published by the writers' refreshes
    read = counting_pack_reads(monkeypatch)
    fresh = ObjectStore(root)
    assert len(read) < REINDEX_AFTER  # one file, plus the packs it does not cover yet
    truth = parsed(root)
    assert len(truth) == len(set(digests))
    assert {d: fresh.locate(d) for d in truth} == truth
    assert fresh.pack_entries() == truth
    assert all(fresh.read(d) for d in digests[::7])
    with pytest.raises(errors.ObjectMissing):
        fresh.locate(b"\x00" * 32)
    assert not fresh.has(b"\xff" * 32) and fresh.has(digests[0])


def test_a_pack_removed_since_makes_the_index_stale_and_never_trusted(packed, monkeypatch):
    store, digests = packed
    table = pack_index.load(store.root)
    victim = sorted(table.covers)[0]
    gone = set(read_index(store.pack_path(victim)))
    store.packs.remove([victim])  # as gc does
    read = counting_pack_reads(monkeypatch)
    fresh = ObjectStore(store.root)
    assert victim not in read and len(read) == len(list((store.root / "packs").glob("*.pack")))  # all read again
    truth = parsed(store.root)
    for digest in gone - set(truth):
        with pytest.raises(errors.ObjectMissing):
            fresh.locate(digest)  # never an entry in a pack that is gone
    assert {d: fresh.locate(d).pack for d in truth} == {d: e.pack for d, e in truth.items()}
    assert victim not in pack_index.load(store.root).covers  # and a current one published


def test_an_index_naming_packs_this_store_lacks_is_not_trusted(tmp_path, packed):
    store, _ = packed
    other = ObjectStore(tmp_path / "other")
    add_packs(other, REINDEX_AFTER, start=100)
    foreign = (other.root / pack_index.FILE_NAME).read_bytes()
    (store.root / pack_index.FILE_NAME).write_bytes(foreign)
    fresh = ObjectStore(store.root)
    assert fresh.pack_entries().keys() == parsed(store.root).keys()


def test_a_damaged_index_is_ignored_and_replaced(packed):
    store, digests = packed
    path = store.root / pack_index.FILE_NAME
    flip_bit(path, path.stat().st_size // 2)
    assert pack_index.load(store.root) is None
    fresh = ObjectStore(store.root)
    assert fresh.pack_entries().keys() == parsed(store.root).keys()
    assert pack_index.load(store.root) is not None  # every pack was read: a good one published
    path.write_bytes(b"BDPKIDX1 short")
    assert pack_index.load(store.root) is None


CRASH_AT_PUBLISH = """
import os, signal, sys
from pathlib import Path
real = os.replace
def replace(src, dst):
    if Path(dst).name == "pack-index":  # the temp file is written and synced: die before the rename
        os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst)
os.replace = replace
from bodega.storage.store import ObjectStore
ObjectStore(sys.argv[1])
"""


def test_a_crash_while_publishing_leaves_the_previous_index_and_a_usable_store(tmp_path, monkeypatch):
    store = ObjectStore(tmp_path / "store")
    digests = add_packs(store, REINDEX_AFTER)
    before = (store.root / pack_index.FILE_NAME).read_bytes()
    with monkeypatch.context() as m:
        m.setattr(store_module, "REINDEX_AFTER", 10**6)  # these packs stay outside the index
        digests += add_packs(store, REINDEX_AFTER + 1, start=REINDEX_AFTER)
    assert (store.root / pack_index.FILE_NAME).read_bytes() == before
    done = subprocess.run([sys.executable, "-c", CRASH_AT_PUBLISH, str(store.root)], capture_output=True, text=True)
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert list(store.root.glob(".pack-index.*.tmp"))  # it died mid-publish: written, not renamed
    assert (store.root / pack_index.FILE_NAME).read_bytes() == before
    fresh = ObjectStore(store.root)
    assert fresh.pack_entries().keys() == parsed(store.root).keys()
    assert all(fresh.read(d) for d in digests[::5])
    assert len(pack_index.load(store.root).covers) == 2 * REINDEX_AFTER + 1  # this open published it


def test_the_index_file_round_trips_and_finds_every_row():
    entries = {bytes([i % 256, i // 256]) + bytes(30): ("p1" if i % 2 else "p2", i) for i in range(3000)}
    from bodega.storage.pack import PackEntry

    table = pack_index.EMPTY.merged(["p1", "p2", "p3"], ((d, PackEntry(p, o, 1, 2, 1, 0)) for d, (p, o) in entries.items()))
    again = pack_index.parse(table.to_bytes())
    assert again is not None and again.covers == {"p1", "p2", "p3"} and len(again) == 3000
    assert {d: (e.pack, e.offset) for d, e in again.items()} == entries
    assert all(again.get(d) == PackEntry(p, o, 1, 2, 1, 0) for d, (p, o) in entries.items())
    assert again.get(bytes(32)[:31] + b"\x01") is None and b"\x05" * 32 not in again


def test_missing_agrees_with_lookups_for_few_and_for_many_digests():
    from bodega.storage.pack import PackEntry

    held = [bytes([i % 256, i // 256, 7]) + bytes(29) for i in range(2000)]
    table = pack_index.EMPTY.merged(["p"], ((d, PackEntry("p", i, 1, 1, 1, 0)) for i, d in enumerate(held)))
    absent = [bytes([i % 256, i // 256, 9]) + bytes(29) for i in range(2000)]
    few = set(held[:3] + absent[:3])      # below the bulk threshold: one search each
    many = set(held[::2] + absent[::2])   # above it: a set difference
    for asked in (few, many):
        assert table.missing(asked) == {d for d in asked if d not in table}
        assert table.missing(asked) == asked & set(absent)


def test_a_writer_finds_missing_digests_among_packed_pending_and_loose_objects(packed):
    store, digests = packed
    with store.writer() as w:
        pending = w.put_bytes(b"put in this session\n")
        never = [bytes([n]) * 32 for n in range(5)]
        asked = set(digests) | {pending} | set(never)
        assert w.missing(asked) == set(never)
        assert w.missing(asked) == {d for d in asked if not w.has(d)}
