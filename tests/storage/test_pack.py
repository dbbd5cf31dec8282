"""Pack indexes as a store reads them when it opens: every row checked, the first row of a hash kept."""
from __future__ import annotations

from pathlib import Path

import pytest

from bodega import errors
from bodega.storage.pack import BLOB, HEADER, RAW, ROW, ZSTD, PackEntry, PackWriter, read_index
from bodega.storage.store import ObjectStore


def write_pack(path: Path, records: list[tuple[bytes, bytes, int]]) -> None:
    """A pack at path holding (digest, stored bytes, codec) records, in that order."""
    w = PackWriter(path)
    for digest, stored, codec in records:
        w.add(digest, stored, len(stored), BLOB, codec)
    w.finish()


def test_every_row_is_read_with_its_place(tmp_path):
    a, b = b"a" * 32, b"b" * 32
    write_pack(tmp_path / "p.pack", [(a, b"first", RAW), (b, b"second!", ZSTD)])
    rows = read_index(tmp_path / "p.pack")
    assert rows == {a: PackEntry("p", HEADER.size, 5, 5, BLOB, RAW),
                    b: PackEntry("p", HEADER.size + 5, 7, 7, BLOB, ZSTD)}
    assert rows[b].offset == HEADER.size + 5 and rows[b].codec == ZSTD


def test_a_hash_listed_twice_keeps_its_first_row(tmp_path):
    a = b"a" * 32
    write_pack(tmp_path / "p.pack", [(a, b"one", RAW), (a, b"two!", RAW)])
    assert read_index(tmp_path / "p.pack")[a].stored_len == 3


@pytest.mark.parametrize("field, value, what", [
    ("kind", 7, "index row 1 is invalid"),
    ("codec", 9, "index row 1 is invalid"),
    ("offset", 3, "index row 1 is invalid"),          # inside the header
    ("stored", 1 << 20, "index row 1 is invalid"),    # runs into the index
])
def test_an_invalid_row_names_its_place(tmp_path, field, value, what):
    """A row whose checksum is right but whose values cannot be: the pack is refused, naming the row."""
    path = tmp_path / "p.pack"
    write_pack(path, [(b"a" * 32, b"one", RAW), (b"b" * 32, b"two", RAW)])
    w = PackWriter(tmp_path / "q.pack")  # the same records, row 1 changed, written through PackWriter
    w.add(b"a" * 32, b"one", 3, BLOB, RAW)
    w.add(b"b" * 32, b"two", 3, BLOB, RAW)
    digest, offset, stored, raw, kind, codec = w.rows[1]
    changed = {"kind": (digest, offset, stored, raw, value, codec), "codec": (digest, offset, stored, raw, kind, value),
               "offset": (digest, value, stored, raw, kind, codec), "stored": (digest, offset, value, raw, kind, codec)}
    w.rows[1] = changed[field]
    w.finish()
    with pytest.raises(errors.PackCorrupt) as exc:
        read_index(tmp_path / "q.pack")
    index_offset = HEADER.size + 6
    assert what in str(exc.value) and f"byte {index_offset + ROW.size}" in str(exc.value)
    assert read_index(path)  # the unchanged pack reads


def test_a_store_keeps_the_entry_of_the_first_pack_holding_an_object(tmp_path):
    store = ObjectStore(tmp_path / "store")
    a, b = b"a" * 32, b"b" * 32
    write_pack(store.packs_dir / "p1.pack", [(a, b"in p1", RAW)])
    write_pack(store.packs_dir / "p2.pack", [(b, b"only in p2", RAW), (a, b"a in p2", RAW)])
    store.refresh()
    entries = store.pack_entries()
    assert entries[a] == PackEntry("p1", HEADER.size, 5, 5, BLOB, RAW)
    assert entries[b].pack == "p2"
    assert ObjectStore(tmp_path / "store").pack_entries() == entries


def test_a_pack_that_cannot_be_read_keeps_its_errno(tmp_path):
    """Once the message was "Success" (errno 0 for an OSError without one); now errors.os_error's."""
    with pytest.raises(errors.PathNotFound) as info:
        read_index(tmp_path / "gone.pack")
    assert str(info.value) == f"read pack: {tmp_path / 'gone.pack'}: No such file or directory"
    (tmp_path / "dir.pack").mkdir()
    with pytest.raises(errors.IsADirectory) as info:
        read_index(tmp_path / "dir.pack")
    assert info.value.exit_code == 36
