"""Snapshots of trees that are written to meanwhile (issue 10, item 14): whatever a writer
does, every stored object is named by the hash of its bytes, so `verify --read-data` finds
nothing and a restore gives back exactly the bytes the snapshot recorded.

The writer that fools every stat is a shared map whose page is already dirty: writing into
it again moves neither mtime nor ctime (the kernel updates them when a clean page is first
written), yet a clone or a read takes the new bytes."""
from __future__ import annotations

import mmap
import os
import random
from pathlib import Path

import blake3

from bodega.storage import chunking, volume
from bodega.storage import manifest as mf
from bodega.storage.snapshot import SnapshotEngine
from bodega.storage.store import ObjectStore
from manifest_trees import later

PAGE = mmap.PAGESIZE


def _stats(path: Path) -> tuple[int, int, int]:
    st = os.stat(path)
    return st.st_size, st.st_mtime_ns, st.st_ctime_ns


class DirtyMap:
    """A file mapped shared, one page (the first, or the last) dirtied now: its times move
    once, here."""

    def __init__(self, path: Path, size: int, seed: int, last_page: bool = False) -> None:
        self.rng = random.Random(seed)
        path.write_bytes(self.rng.randbytes(size))
        self.fd = os.open(path, os.O_RDWR)
        self.map = mmap.mmap(self.fd, size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        self.page = size - PAGE if last_page else 0
        self.write()

    def write(self) -> bytes:
        """New bytes into that page, through the map; returns the file's content now."""
        self.map[self.page:self.page + PAGE] = self.rng.randbytes(PAGE)
        return bytes(self.map)

    def close(self) -> None:
        self.map.close()
        os.close(self.fd)


def test_a_write_through_a_dirty_shared_map_between_scan_and_clone_never_misnames_an_object(cow_dir, monkeypatch):
    tree = cow_dir / "tree"
    (tree / "d").mkdir(parents=True)
    for i in range(5):
        (tree / "d" / f"f{i}").write_bytes(os.urandom(40_000 + i))
    mapped = DirtyMap(tree / "mapped.bin", 64 << 10, seed=1)  # cloned: above clone_min
    try:
        before = _stats(tree / "mapped.bin")
        seen: list[bytes] = []
        clone_files = volume.clone_files

        def write_then_clone(root, relpaths, dest_dir, names):
            # The scan is over; the store clones now.  The write lands in between.
            if b"mapped.bin" in relpaths and not seen:
                seen.append(mapped.write())
                assert _stats(tree / "mapped.bin") == before  # no stat can tell
            return clone_files(root, relpaths, dest_dir, names)

        monkeypatch.setattr(volume, "clone_files", write_then_clone)
        # the scans run after the map's last change left their racy window: the stat cache trusts it
        eng = SnapshotEngine(ObjectStore(cow_dir / "store"), clock=later)
        assert eng.store.cow
        info = eng.create(tree, cow_dir / "state", "s1")
        assert seen and _stats(tree / "mapped.bin") == before

        report = eng.verify(["s1"], read_data=1.0)
        assert report.ok and report.objects_checked >= 6, report.damage
        entry = eng.manifest("s1").get("mapped.bin")
        assert entry.hash == blake3.blake3(seen[0]).digest()  # the bytes the clone holds
        eng.restore(cow_dir / "out", cow_dir / "state-out", "s1")
        assert (cow_dir / "out" / "mapped.bin").read_bytes() == seen[0]
        for i in range(5):
            assert (cow_dir / "out" / "d" / f"f{i}").read_bytes() == (tree / "d" / f"f{i}").read_bytes()
        assert mf.build(cow_dir / "out").root_hex == info.root

        # The next snapshot: the stat cache vouches for the file (its stats never moved), and
        # the content it vouches for is the content stored.
        second = eng.create(tree, cow_dir / "state", "s2", base="s1")
        assert second.files_read == 0
        assert second.root == info.root and eng.verify(["s2"], read_data=1.0).ok
    finally:
        mapped.close()


def test_a_write_through_a_dirty_shared_map_while_a_large_file_is_chunked_never_misnames_it(tmp_path, monkeypatch):
    # No clone here (ext4): a large file is read and cut into chunks a few MiB at a time, and
    # the write lands in its last chunk, not read yet, after the first chunk was stored.
    monkeypatch.setattr(chunking, "READ_SIZE", 1 << 20)
    size = 12 << 20  # more than one read of the chunker's buffer (its largest chunk, and 1 MiB)
    mapped = DirtyMap(tmp_path / "large.bin", size, seed=2, last_page=True)
    try:
        before = _stats(tmp_path / "large.bin")
        chunks = chunking.chunks
        seen: list[bytes] = []

        def write_after_first_chunk(f, size):
            for n, piece in enumerate(chunks(f, size)):
                yield piece
                if n == 0:
                    seen.append(mapped.write())

        monkeypatch.setattr(chunking, "chunks", write_after_first_chunk)
        store = ObjectStore(tmp_path / "store")
        with store.writer() as w:
            put = w.put_file(tmp_path / "large.bin")
        assert seen and _stats(tmp_path / "large.bin") == before
        assert put.stored_as == "chunks"
        assert store.check(put.digest) is None  # the recipe's chunks make up its name
        data = store.read(put.digest)
        assert blake3.blake3(data).digest() == put.digest and len(data) == put.size == size
        assert data == seen[0]  # the write, read after it landed, is in what was stored
    finally:
        mapped.close()


def test_a_file_changed_between_scan_and_store_is_recorded_as_stored_and_its_twin_still_stored(tmp_path, monkeypatch):
    # Two equal files: the scan names both by one hash and the store reads one of them, which
    # has changed meanwhile.  The manifest records what was stored, and the twin is stored too.
    from bodega.storage import store as store_module

    tree = tmp_path / "tree"
    tree.mkdir()
    same = b"the same bytes\n" * 100
    (tree / "a.txt").write_bytes(same)
    (tree / "b.txt").write_bytes(same)
    read_files = store_module.read_files
    changed: list[bytes] = []

    def change_then_read(base, relpaths, caps, **kw):
        if not changed:
            changed.append(b"changed after the scan\n")
            (tree / relpaths[0].decode()).write_bytes(changed[0])
        return read_files(base, relpaths, caps, **kw)

    monkeypatch.setattr(store_module, "read_files", change_then_read)
    eng = SnapshotEngine(ObjectStore(tmp_path / "store"))
    eng.create(tree, tmp_path / "state", "s1")
    assert changed
    m = eng.manifest("s1")
    hashes = {e.path: e.hash for e in m if e.kind == "file"}
    assert sorted(hashes.values()) == sorted([blake3.blake3(same).digest(), blake3.blake3(changed[0]).digest()])
    assert eng.verify(["s1"], read_data=1.0).ok
    eng.restore(tmp_path / "out", tmp_path / "state-out", "s1")
    assert sorted(p.read_bytes() for p in (tmp_path / "out").iterdir()) == sorted([same, changed[0]])
