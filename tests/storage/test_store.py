"""The object store on ext4 (compressed packs, chunks) and on XFS (clones), with damage and gc."""
from __future__ import annotations

import json
import os
import random
import subprocess
import threading
from contextlib import contextmanager
from pathlib import Path

import blake3
import pytest
import zstandard

from bodega import errors
from bodega.storage import volume
from bodega.storage.pack import RECIPE, read_index
from bodega.storage.store import ObjectStore, parse_digest
from damage import flip_bit


def text(n: int, seed: int = 0) -> bytes:
    rng = random.Random(seed)
    words = [b"alpha", b"beta", b"gamma", b"delta", b"return", b"value", b"\n"]
    out = bytearray()
    while len(out) < n:
        out += rng.choice(words) + b" "
    return bytes(out[:n])


def noise(n: int, seed: int = 0) -> bytes:
    return random.Random(seed).randbytes(n)


def put(store: ObjectStore, path: Path, data: bytes):
    path.write_bytes(data)
    with store.writer() as w:
        return w.put_file(path)


# --- ext4: packs, compression, chunks --------------------------------------------------------

def test_small_file_roundtrip_in_a_compressed_pack(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    assert not store.cow
    data = text(50_000)
    p = put(store, ext4_dir / "a.txt", data)
    assert p.digest == blake3.blake3(data).digest()
    assert store.read(p.digest) == data
    assert list(store.loose_objects()) == []
    packs = list(store.packs_dir.iterdir())
    assert len(packs) == 1
    assert packs[0].stat().st_size < len(data) // 2  # text compresses


def test_incompressible_data_is_stored_raw_and_reads_back(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    data = noise(100_000)
    p = put(store, ext4_dir / "r.bin", data)
    assert store.read(p.digest) == data
    (entry,) = read_index(next(store.packs_dir.iterdir())).values()
    assert entry.codec == 0 and entry.stored_len == len(data)


def test_equal_content_is_stored_once(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    data = text(10_000, seed=3)
    first = put(store, ext4_dir / "a", data)
    second = put(store, ext4_dir / "b", data)
    assert first.digest == second.digest
    assert first.added_bytes > 0 and second.added_bytes == 0
    assert len(store.pack_entries()) == 1


def test_many_small_files_make_one_pack_not_one_file_each(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    src = ext4_dir / "src"
    src.mkdir()
    with store.writer() as w:
        digests = []
        for i in range(1000):
            (src / f"f{i}").write_bytes(text(200 + i, seed=i))
            digests.append(w.put_file(src / f"f{i}").digest)
    assert len(list(store.packs_dir.iterdir())) == 1
    assert len(os.listdir(store.tmp)) == 0
    fresh = ObjectStore(ext4_dir / "store")  # another process's view: from disk
    assert all(fresh.read(d) == (src / f"f{i}").read_bytes() for i, d in enumerate(digests))


def test_small_edit_to_a_big_file_stores_a_small_delta(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    data = bytearray(noise(24 << 20, seed=1))
    first = put(store, ext4_dir / "big", bytes(data))
    assert first.stored_as == "chunks"
    assert store.locate(first.digest).kind == RECIPE
    data[10 << 20:(10 << 20) + 100] = b"x" * 100  # 100 bytes in the middle
    second = put(store, ext4_dir / "big", bytes(data))
    assert second.digest != first.digest
    assert second.added_bytes < 9 << 20  # at most two 4 MiB chunks and the recipe, not 24 MiB
    assert first.added_bytes > 24 << 20
    assert store.read(second.digest) == bytes(data)
    assert store.object_size(second.digest) == len(data)


def test_empty_file(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    p = put(store, ext4_dir / "empty", b"")
    assert p.digest == blake3.blake3(b"").digest()
    assert store.read(p.digest) == b""


def test_zstd_level_is_tunable_and_checked(ext4_dir):
    data = text(200_000, seed=9)
    sizes = []
    for level in (1, 19):
        store = ObjectStore(ext4_dir / f"store{level}", zstd_level=level)
        put(store, ext4_dir / f"f{level}", data)
        sizes.append(next(store.packs_dir.iterdir()).stat().st_size)
    assert sizes[1] < sizes[0]
    with pytest.raises(errors.InvalidInput, match="zstd level"):
        ObjectStore(ext4_dir / "s", zstd_level=99)


def _stored_len(store: ObjectStore, digest: bytes) -> int:
    return store.locate(digest).stored_len


def _zstd_len(data: bytes, level: int) -> int:
    return len(zstandard.ZstdCompressor(level=level).compress(data))


def test_small_blobs_are_compressed_at_the_small_level_and_larger_ones_at_the_store_level(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    small, large = text(8000, seed=5), text(40_000, seed=5)
    assert len(small) < store.config["clone_min"] <= len(large)
    assert store.config["zstd_level_small"] != store.config["zstd_level"]
    assert _zstd_len(small, store.config["zstd_level_small"]) != _zstd_len(small, store.config["zstd_level"])
    with store.writer() as w:  # one blob alone, and a batch of both (the snapshot's path)
        alone = w.put_bytes(small[1:])
    batch = ext4_dir / "batch"
    batch.mkdir()
    (batch / "small").write_bytes(small)
    (batch / "large").write_bytes(large)
    with store.writer() as w:
        puts = w.put_files(batch, [_Listed(b"small", len(small)), _Listed(b"large", len(large))])
    assert _stored_len(store, alone) == _zstd_len(small[1:], store.config["zstd_level_small"])
    assert _stored_len(store, puts[0].digest) == _zstd_len(small, store.config["zstd_level_small"])
    assert _stored_len(store, puts[1].digest) == _zstd_len(large, store.config["zstd_level"])
    assert store.read(puts[0].digest) == small and store.read(puts[1].digest) == large


def test_a_level_given_to_the_store_compresses_every_blob_and_any_level_reads_back(ext4_dir):
    small, large = text(8000, seed=6), text(40_000, seed=6)
    at19 = ObjectStore(ext4_dir / "store", zstd_level=19)  # a tuned or hand-set level
    with at19.writer() as w:
        digest = w.put_bytes(small)
    batch = ext4_dir / "batch"
    batch.mkdir()
    (batch / "small").write_bytes(small[1:])
    (batch / "large").write_bytes(large)
    with at19.writer() as w:
        puts = w.put_files(batch, [_Listed(b"small", len(small) - 1), _Listed(b"large", len(large))])
    assert _stored_len(at19, digest) == _zstd_len(small, 19)
    assert _stored_len(at19, puts[0].digest) == _zstd_len(small[1:], 19)
    assert _stored_len(at19, puts[1].digest) == _zstd_len(large, 19)
    default = ObjectStore(ext4_dir / "store")  # read at the store's own levels
    assert [default.read(d) for d in (digest, puts[0].digest, puts[1].digest)] == [small, small[1:], large]


class _Listed:
    """A file to store, as a manifest lists it."""

    def __init__(self, path: bytes, size: int) -> None:
        self.path, self.size = path, size


def test_materialize_writes_a_new_file_and_refuses_an_existing_one(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    data = text(3000)
    p = put(store, ext4_dir / "a", data)
    store.materialize(p.digest, ext4_dir / "out", mode=0o640)
    assert (ext4_dir / "out").read_bytes() == data
    assert (ext4_dir / "out").stat().st_mode & 0o777 == 0o640
    with pytest.raises(errors.PathExists):
        store.materialize(p.digest, ext4_dir / "out")


# --- bad input -------------------------------------------------------------------------------

def test_put_refuses_links_and_non_files(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    (ext4_dir / "target").write_bytes(b"x")
    (ext4_dir / "link").symlink_to("target")
    with store.writer() as w:
        with pytest.raises(errors.UnsafePath, match="link"):
            w.put_file(ext4_dir / "link")
        with pytest.raises(errors.InvalidInput, match="not a regular file"):
            w.put_file(ext4_dir)
        with pytest.raises(errors.PathNotFound):
            w.put_file(ext4_dir / "missing")


def test_bad_object_names_and_missing_objects(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    with pytest.raises(errors.InvalidInput, match="64 hex"):
        parse_digest("abc")
    with pytest.raises(errors.InvalidInput):
        parse_digest("zz" * 32)
    with pytest.raises(errors.ObjectMissing, match="00" * 32):
        store.read(bytes(32))


def test_loose_names_say_where_each_unpacked_object_would_be_without_looking(cow_dir):
    store = ObjectStore(cow_dir / "store")
    small = put(store, cow_dir / "small.txt", text(100))  # packed
    big = put(store, cow_dir / "big.bin", noise(200_000, 1))  # loose on a copy-on-write volume
    absent = bytes(range(32))
    assert isinstance(store.locate(big.digest), Path)
    h = big.digest.hex().encode()
    assert store.loose_names([small.digest, big.digest, absent]) == [
        None, h[:2] + b"/" + h, absent.hex().encode()[:2] + b"/" + absent.hex().encode()]
    assert (store.objects_dir / os.fsdecode(h[:2] + b"/" + h)).is_file()


def test_unknown_store_version_is_refused(ext4_dir):
    ObjectStore(ext4_dir / "store")
    cfg = ext4_dir / "store" / "config.json"
    cfg.write_text(json.dumps({**json.loads(cfg.read_text()), "version": 9}))
    with pytest.raises(errors.StoreFormatUnsupported, match="version 9"):
        ObjectStore(ext4_dir / "store")
    cfg.write_text("not json")
    with pytest.raises(errors.StoreFormatUnsupported):
        ObjectStore(ext4_dir / "store")


# --- damage ------------------------------------------------------------------------------------

def test_a_flipped_bit_in_a_packed_object_is_detected_naming_object_and_file(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    data = noise(40_000)  # stored raw: the flipped bit survives decoding
    p = put(store, ext4_dir / "a", data)
    pack = next(store.packs_dir.iterdir())
    entry = store.locate(p.digest)
    flip_bit(pack, entry.offset + 1234)
    with pytest.raises(errors.ObjectCorrupt) as exc:
        store.materialize(p.digest, ext4_dir / "restored", file="apps/a")
    assert p.digest.hex() in str(exc.value) and "apps/a" in str(exc.value) and str(pack) in str(exc.value)
    assert not (ext4_dir / "restored").exists()
    damage = store.check(p.digest)
    assert damage is not None and p.digest.hex() in damage.problem
    assert store.check(p.digest, read_data=False) is None  # present, just damaged


def test_a_flipped_bit_in_a_compressed_object_is_detected(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    p = put(store, ext4_dir / "a", text(40_000))
    entry = store.locate(p.digest)
    flip_bit(store.pack_path(entry.pack), entry.offset + entry.stored_len // 2)
    with pytest.raises(errors.ObjectCorrupt, match=p.digest.hex()):
        store.read(p.digest)


def test_a_damaged_chunk_names_the_chunk_and_the_file(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    p = put(store, ext4_dir / "big", noise(6 << 20, seed=5))
    chunk, _ = store.recipe(p.digest)[1]
    entry = store.locate(chunk)
    flip_bit(store.pack_path(entry.pack), entry.offset + 10)
    with pytest.raises(errors.ObjectCorrupt) as exc:
        store.read(p.digest, file="lib/libbig.so")
    assert chunk.hex() in str(exc.value) and "lib/libbig.so" in str(exc.value)


def _many_blobs(tmp_path: Path) -> tuple[ObjectStore, dict[bytes, bytes]]:
    """A store holding text (compressed) and noise (raw) blobs in one pack, their digests to contents."""
    store = ObjectStore(tmp_path / "store")
    contents = [text(3000 + i, seed=i) if i % 3 else noise(2000 + i, seed=i) for i in range(12)]
    with store.writer() as w:
        for i, data in enumerate(contents):
            (tmp_path / f"f{i}").write_bytes(data)
            w.put_file(tmp_path / f"f{i}")
    return store, {blake3.blake3(data).digest(): data for data in contents}


class _CountingPacks:
    """The store's packs, counting the preads made through their leases."""

    def __init__(self, packs) -> None:
        self.packs, self.preads = packs, 0

    @contextmanager
    def lease(self, name: str):
        with self.packs.lease(name) as f:
            outer = self

            class Counted:
                def pread(self, size: int, offset: int) -> bytes:
                    outer.preads += 1
                    return f.pread(size, offset)
            yield Counted()

    def __getattr__(self, name: str):
        return getattr(self.packs, name)


def test_packed_blobs_reads_records_together_and_checks_each(tmp_path):
    store, contents = _many_blobs(tmp_path)
    big = put(store, tmp_path / "big", noise(6 << 20, seed=9))  # chunked: not a blob
    store.packs = counting = _CountingPacks(store.packs)
    wanted = [(d, f"file{i}") for i, d in enumerate(contents)] + [(big.digest, "big"), (b"\1" * 32, "nowhere")]
    got = store.packed_blobs(wanted)
    assert [bytes(g) for g in got[:-2]] == list(contents.values())
    assert got[-2:] == [None, None]
    assert counting.preads == 1  # twelve records side by side: one read


@pytest.mark.parametrize("which", [0, 1])  # raw (noise), compressed (text)
def test_packed_blobs_names_the_damaged_object_and_its_file(tmp_path, which):
    store, contents = _many_blobs(tmp_path)
    digest = list(contents)[which]
    entry = store.locate(digest)
    flip_bit(store.pack_path(entry.pack), entry.offset + entry.stored_len // 2)
    with pytest.raises(errors.ObjectCorrupt) as exc:
        store.packed_blobs([(d, f"apps/{i}") for i, d in enumerate(contents)])
    assert digest.hex() in str(exc.value) and f"apps/{which}" in str(exc.value)


def test_a_damaged_pack_index_is_reported_not_fatal(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    p = put(store, ext4_dir / "a", text(1000))
    q = put(store, ext4_dir / "b", text(1000, seed=2))
    pack = store.pack_path(store.locate(p.digest).pack)
    size = pack.stat().st_size
    flip_bit(pack, size - 40)  # inside the index
    fresh = ObjectStore(ext4_dir / "store")
    assert pack.stem in fresh.damaged_packs
    assert "index checksum" in str(fresh.damaged_packs[pack.stem])
    assert fresh.read(q.digest) == text(1000, seed=2)
    with pytest.raises(errors.ObjectMissing):
        fresh.read(p.digest)
    os.truncate(pack, 100)
    fresh = ObjectStore(ext4_dir / "store")
    assert "truncated" in str(fresh.damaged_packs[pack.stem]) or "trailer" in str(fresh.damaged_packs[pack.stem])


def test_repair_rewrites_a_damaged_object_from_a_live_copy(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    data = noise(30_000, seed=4)
    other = put(store, ext4_dir / "other", text(5000))
    p = put(store, ext4_dir / "a", data)
    entry = store.locate(p.digest)
    flip_bit(store.pack_path(entry.pack), entry.offset + 5)
    assert store.check(p.digest) is not None
    (ext4_dir / "wrong").write_bytes(b"not it")
    assert store.repair(p.digest, ext4_dir / "wrong") is False
    assert store.repair(p.digest, ext4_dir / "a") is True
    fresh = ObjectStore(ext4_dir / "store")
    assert fresh.check(p.digest) is None and fresh.read(p.digest) == data
    assert fresh.read(other.digest) == text(5000)


# --- gc and locking ----------------------------------------------------------------------------

def test_gc_removes_what_no_root_needs_and_keeps_the_rest(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    keep = put(store, ext4_dir / "keep", text(5000, seed=1))
    drop = put(store, ext4_dir / "drop", text(5000, seed=2))
    big = put(store, ext4_dir / "big", noise(5 << 20, seed=3))
    (store.tmp / "999999-dead.pack").write_bytes(b"left by a crash")
    dry = store.gc({keep.digest, big.digest}, dry_run=True)
    assert dry.objects_removed == 1 and dry.staging_removed == 1
    assert store.read(drop.digest)  # dry run changed nothing
    report = store.gc({keep.digest, big.digest})
    assert report.objects_removed == 1 and report.bytes_freed > 0
    assert not store.has(drop.digest)
    assert store.read(keep.digest) == text(5000, seed=1)
    assert store.read(big.digest) == noise(5 << 20, seed=3)  # chunks kept through the recipe
    assert os.listdir(store.tmp) == []
    again = store.gc(set())
    assert not store.has(keep.digest) and not store.has(big.digest)
    assert again.objects_removed >= 3
    assert list(store.packs_dir.iterdir()) == []


def test_gc_waits_for_a_running_writer(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    (ext4_dir / "a").write_bytes(b"x" * 100)
    w = store.writer()
    try:
        p = w.put_file(ext4_dir / "a")
        with pytest.raises(errors.StoreBusy, match="in use"):
            store.gc(set(), timeout=0.2)
    finally:
        w.commit()
    assert store.read(p.digest) == b"x" * 100  # the writer finished; its object survived
    assert store.gc({p.digest}, timeout=0.2).objects_removed == 0  # and now gc runs


def test_an_aborted_writer_publishes_nothing(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    (ext4_dir / "a").write_bytes(text(1000))
    with pytest.raises(RuntimeError):
        with store.writer() as w:
            d = w.put_file(ext4_dir / "a").digest
            raise RuntimeError("task failed")
    assert not ObjectStore(ext4_dir / "store").has(d)
    assert os.listdir(store.tmp) == []


def test_two_threads_storing_the_same_files(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    src = ext4_dir / "src"
    src.mkdir()
    for i in range(50):
        (src / f"f{i}").write_bytes(text(3000, seed=i))
    results: list[list[bytes]] = []

    def run() -> None:
        with store.writer() as w:
            results.append([w.put_file(src / f"f{i}").digest for i in range(50)])

    threads = [threading.Thread(target=run) for _ in range(2)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert results[0] == results[1]
    fresh = ObjectStore(ext4_dir / "store")
    assert all(fresh.read(d) == text(3000, seed=i) for i, d in enumerate(results[0]))


# --- XFS: clones -------------------------------------------------------------------------------

def _free(path: Path) -> int:
    os.sync()
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def test_on_xfs_a_big_file_is_a_clone_that_costs_no_space(cow_dir):
    store = ObjectStore(cow_dir / "store")
    assert store.cow
    data = noise(32 << 20, seed=7)
    (cow_dir / "big").write_bytes(data)
    before = _free(cow_dir)
    with store.writer() as w:
        p = w.put_file(cow_dir / "big")
    assert p.stored_as == "clone"
    assert store.loose_path(p.digest).read_bytes() == data
    assert before - _free(cow_dir) < 4 << 20  # a copy would take 32 MiB
    before = _free(cow_dir)
    store.materialize(p.digest, cow_dir / "restored")
    assert (cow_dir / "restored").read_bytes() == data
    assert before - _free(cow_dir) < 4 << 20


def test_on_xfs_small_files_are_packed(cow_dir):
    store = ObjectStore(cow_dir / "store")
    p = put(store, cow_dir / "small", text(2000))
    assert p.stored_as == "blob"
    assert list(store.loose_objects()) == []


def test_on_xfs_a_flipped_bit_in_a_clone_is_detected_on_restore(cow_dir):
    store = ObjectStore(cow_dir / "store")
    p = put(store, cow_dir / "big", noise(1 << 20, seed=8))
    flip_bit(store.loose_path(p.digest), 4096 * 3 + 7)
    with pytest.raises(errors.ObjectCorrupt) as exc:
        store.materialize(p.digest, cow_dir / "restored", file="bin/app")
    assert p.digest.hex() in str(exc.value) and "bin/app" in str(exc.value)
    assert not (cow_dir / "restored").exists()
    assert (cow_dir / "big").read_bytes() == noise(1 << 20, seed=8)  # the source was never touched
    assert store.repair(p.digest, cow_dir / "big")
    assert store.check(p.digest) is None


def test_clone_probe_is_false_on_ext4_and_true_on_xfs(ext4_dir, cow_dir):
    assert volume.can_clone(ext4_dir) is False
    assert volume.can_clone(cow_dir) is True


# --- put_files: many files at once, each named by the bytes stored --------------------------

def _cached_pages(path: Path) -> int:
    """How many of path's pages the page cache holds (util-linux's fincore)."""
    out = subprocess.run(["fincore", "--noheadings", "--raw", "--output", "PAGES", str(path)],
                         capture_output=True, text=True, check=True).stdout
    return int(out.split()[0])


def test_on_xfs_put_files_leaves_no_clone_in_the_page_cache(cow_dir):
    """A clone is read once, to hash it: its pages leave the cache, and the tree's stay
    (a first snapshot of a large tree would otherwise cache its large files twice)."""
    tree = cow_dir / "tree"
    tree.mkdir()
    contents = {b"big": noise(4 << 20, 3), b"mid": noise(200 << 10, 4)}
    for rel, data in contents.items():
        (tree / rel.decode()).write_bytes(data)
    os.sync()  # written back: a clean page can leave the cache
    files = _hashed(tree)  # reads the tree, into the cache
    store = ObjectStore(cow_dir / "store")
    with store.writer() as w:
        puts = w.put_files(tree, files)
    assert [p.stored_as for p in puts] == ["clone", "clone"]
    for f, p in zip(files, puts):
        assert p.digest == blake3.blake3(contents[f.path]).digest()
        assert _cached_pages(store.loose_path(p.digest)) == 0
        assert _cached_pages(tree / f.path.decode()) > 0


def _hashed(tree: Path, digest: bytes | None = None):
    """The tree's files as a manifest saw them, optionally with a digest the test chose."""
    from bodega.storage import manifest as mf

    files = mf.build(tree).hashed_files()
    return [f._replace(digest=digest or f.digest) for f in files]


def test_put_files_stores_each_file_and_reports_its_digest(tmp_path):
    tree = tmp_path / "tree"
    (tree / "d").mkdir(parents=True)
    contents = {b"a": text(100), b"d/b": noise(5000, 1), b"d/big": noise(3 << 20, 2), b"empty": b""}
    for rel, data in contents.items():
        (tree / rel.decode()).write_bytes(data)
    store = ObjectStore(tmp_path / "store")
    files = _hashed(tree)
    with store.writer() as w:
        puts = w.put_files(tree, files)
    assert [p.digest for p in puts] == [blake3.blake3(contents[f.path]).digest() for f in files]
    for f in files:
        assert store.read(f.digest) == contents[f.path]


def test_put_files_stores_equal_files_of_one_batch_once(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    for name in ("a", "b", "c"):
        (tree / name).write_bytes(text(3000, 5))
    store = ObjectStore(tmp_path / "store")
    with store.writer() as w:
        puts = w.put_files(tree, _hashed(tree))
    assert sorted(p.stored_as for p in puts) == ["blob", "known", "known"]
    assert sum(p.added_bytes for p in puts) == w.added_bytes > 0 and w.added_objects == 1


def test_encode_many_compresses_what_shrinks_and_keeps_the_rest_raw(tmp_path):
    from zstandard import ZstdDecompressor

    from bodega.storage.pack import RAW, ZSTD

    store = ObjectStore(tmp_path / "store")
    blobs = [b"", text(10000, 1), noise(5000, 2), memoryview(text(1500, 3))[7:]]
    many = store.encode_many(blobs)
    assert [codec for _, codec in many] == [RAW, ZSTD, RAW, ZSTD]
    for (stored, codec), blob in zip(many, blobs):
        back = ZstdDecompressor().decompress(bytes(stored)) if codec == ZSTD else bytes(stored)
        assert back == bytes(blob)
    assert len(many[1][0]) < len(blobs[1])


def test_put_files_reads_the_file_not_the_manifest(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_bytes(b"old")
    files = _hashed(tree)
    (tree / "f").write_bytes(b"new bytes")  # changed after its manifest was made
    store = ObjectStore(tmp_path / "store")
    with store.writer() as w:
        [p] = w.put_files(tree, files)
    assert p.digest == blake3.blake3(b"new bytes").digest() != files[0].digest


def test_put_files_names_a_file_that_vanished(tmp_path):
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "f").write_bytes(b"x")
    files = _hashed(tree)
    (tree / "f").unlink()
    with pytest.raises(errors.PathNotFound, match="f"):
        with ObjectStore(tmp_path / "store").writer() as w:
            w.put_files(tree, files)


def test_put_files_on_xfs_names_a_clone_by_its_own_bytes_never_by_the_manifest(cow_dir):
    # A digest the test chose: a clone is hashed all the same (issue 10, item 14).
    tree = cow_dir / "tree"
    tree.mkdir()
    data = noise(64 << 10, 3)
    (tree / "big").write_bytes(data)
    files = _hashed(tree, b"\x01" * 32)
    store = ObjectStore(cow_dir / "store")
    with store.writer() as w:
        [p] = w.put_files(tree, files)
    assert (p.stored_as, p.digest, p.size) == ("clone", blake3.blake3(data).digest(), len(data))
    assert store.read(p.digest) == data


def test_put_files_on_xfs_a_failing_file_leaves_no_staged_clone(cow_dir):
    tree = cow_dir / "tree"
    tree.mkdir()
    for name in ("a", "b", "c"):
        (tree / name).write_bytes(noise(64 << 10, ord(name)))
    files = _hashed(tree)
    (tree / "b").unlink()  # vanished after its manifest was made: the batch fails on it
    store = ObjectStore(cow_dir / "store")
    with pytest.raises(errors.PathNotFound, match="b"):
        with store.writer() as w:
            w.put_files(tree, files)
    assert os.listdir(store.tmp) == []  # "c" was cloned too, and its clone removed


def test_on_xfs_a_loose_object_from_an_earlier_session_is_known_without_storing_again(cow_dir):
    store = ObjectStore(cow_dir / "store")
    (cow_dir / "big").write_bytes(noise(64 << 10, 9))
    with store.writer() as w:
        first = w.put_file(cow_dir / "big")
    assert first.stored_as == "clone"
    (cow_dir / "copy").write_bytes((cow_dir / "big").read_bytes())
    with store.writer() as w:
        assert w.has(first.digest)
        again = w.put_file(cow_dir / "copy")
        assert not w.has(b"\x02" * 32)
    assert (again.stored_as, again.added_bytes, again.digest) == ("known", 0, first.digest)
    assert list(store.loose_objects()) == [first.digest]


def test_a_missing_object_names_where_it_looked_and_the_file_that_needs_it(ext4_dir):
    """Issue 10 item 13: ObjectMissing named neither the pack nor the file."""
    store = ObjectStore(ext4_dir / "store")
    with pytest.raises(errors.ObjectMissing) as info:
        store.read(bytes(32), file="app/bin/tool")
    message = str(info.value)
    assert "(needed by app/bin/tool)" in message and f"packs in {store.packs_dir}" in message
    assert f"not loose at {store.loose_path(bytes(32))}" in message
    assert info.value.to_dict()["path"] == "app/bin/tool"


def test_an_object_whose_pack_is_gone_names_the_pack_and_the_file(ext4_dir):
    store = ObjectStore(ext4_dir / "store")
    p = put(store, ext4_dir / "a.txt", text(5000))
    pack = next(store.packs_dir.iterdir())
    store.close()  # the index still lists the pack; its file goes
    pack.unlink()
    with pytest.raises(errors.ObjectMissing) as info:
        store.read(p.digest, file="docs/a.txt")
    assert f"its pack {pack} is gone" in str(info.value) and "(needed by docs/a.txt)" in str(info.value)


def test_packs_a_writer_sealed_are_indexed_from_its_rows_as_the_pack_file_says(tmp_path, monkeypatch):
    """put_files across many full packs: the commit indexes each from the rows written (it
    reads no pack back), and those entries equal the ones parsed from the pack files."""
    from bodega.storage import pack as pack_mod
    from bodega.storage.packs import LocalPacks

    store = ObjectStore(tmp_path / "store", pack_max=4096)
    src = tmp_path / "src"
    src.mkdir()
    names = [f"f{i}".encode() for i in range(60)]
    for i, n in enumerate(names):
        (src / n.decode()).write_bytes(noise(700 + i, seed=i))

    class Small:
        def __init__(self, path: bytes) -> None:
            self.path, self.size = path, (src / path.decode()).stat().st_size

    def no_read_back(self, name):
        raise AssertionError(f"pack {name} was read back at commit")

    with monkeypatch.context() as m:
        m.setattr(LocalPacks, "index", no_read_back)
        with store.writer() as w:
            puts = w.put_files(src, [Small(n) for n in names])
            assert len(w.published_packs) >= 5
    parsed = {}
    for p in store.packs_dir.iterdir():
        parsed.update(pack_mod.read_index(p))
    assert {p.digest for p in puts} == set(parsed)
    assert all(store.locate(d) == e for d, e in parsed.items())
    assert all(store.read(p.digest) == (src / n.decode()).read_bytes() for p, n in zip(puts, names))


def test_on_xfs_a_commit_after_one_flush_of_the_volume_syncs_no_directory_one_by_one(cow_dir, monkeypatch):
    # One volume flush makes the renames durable too; where there is none, the files and
    # then their objects/xx directories are flushed one by one.
    from bodega.storage import volume

    synced: list[str] = []
    real = volume.fsync_path
    monkeypatch.setattr(volume, "fsync_path", lambda p: (synced.append(os.fspath(p)), real(p)))
    tree = cow_dir / "tree"
    tree.mkdir()
    for i in range(20):
        (tree / f"f{i}").write_bytes(noise(20 << 10, i))
    store = ObjectStore(cow_dir / "store")
    files = _hashed(tree)
    synced.clear()  # (the store's configuration, written when it was made)
    with store.writer() as w:
        puts = w.put_files(tree, files)
    assert {p.stored_as for p in puts} == {"clone"} and synced == []

    flushed: list[str] = []  # a system without a volume flush: each file flushed on its own
    monkeypatch.setattr(volume, "sync_files", lambda paths, directory: flushed.extend(map(os.fspath, paths)) or False)
    for i in range(20):
        (tree / f"f{i}").write_bytes(noise(20 << 10, 100 + i))
    store2 = ObjectStore(cow_dir / "store2")
    files = _hashed(tree)
    synced.clear()
    with store2.writer() as w:
        puts = w.put_files(tree, files)
    dirs = {os.fspath(store2.loose_path(p.digest).parent) for p in puts}
    assert set(flushed) == {os.fspath(store2.loose_path(p.digest)) for p in puts}
    assert sorted(synced) == sorted(dirs)
