"""bodega.storage.chunking: a file read a buffer at a time is cut exactly as its whole bytes."""
from __future__ import annotations

import os
import random

import pytest

from bodega._native import chunk as native_chunk
from bodega.storage import chunking
from bodega.storage.tree import open_file

MAX = native_chunk.MAX_SIZE


def _data(size: int, seed: int) -> bytes:
    rng = random.Random(seed)
    text = b" ".join(rng.choice([b"alpha", b"beta", b"gamma"]) for _ in range(size // 5 + 1))
    return (rng.randbytes(size // 2) + text)[:size]  # random, then repetitive: short and long chunks


@pytest.mark.parametrize("size", [1, 5000, MAX - 1, MAX, MAX + 1, 3 * MAX + 12345])
@pytest.mark.parametrize("read_size", [1 << 20, MAX])
def test_the_chunks_of_a_file_read_in_pieces_are_those_of_its_whole_bytes(tmp_path, monkeypatch, size, read_size):
    monkeypatch.setattr(chunking, "READ_SIZE", read_size)
    data = _data(size, size)
    (tmp_path / "f").write_bytes(data)
    with open_file(tmp_path / "f") as f:
        got = [bytes(c) for c in chunking.chunks(f, size)]
    assert got == [data[o:o + n] for o, n in chunking.cuts(memoryview(data))]
    assert len(got) > 1 or size <= MAX


def test_a_file_shorter_than_said_gives_what_it_has(tmp_path):
    data = _data(MAX + 1000, 7)
    (tmp_path / "f").write_bytes(data)
    with open_file(tmp_path / "f") as f:
        assert b"".join(chunking.chunks(f, 10 * MAX)) == data  # the caller's stat check tells
        assert b"".join(chunking.chunks(f, 1000)) == data[:1000]  # and only size bytes are read
    os.truncate(tmp_path / "f", 0)
    with open_file(tmp_path / "f") as f:
        assert list(chunking.chunks(f, 5000)) == []
