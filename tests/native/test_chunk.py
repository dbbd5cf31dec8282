"""FastCDC in the native core: bit-identical cuts with the plain reference implementation,
chunk+hash of files in one read, locality of edits, and bad parameters."""
from __future__ import annotations

import os
import random

import blake3
import pytest

from bodega import errors
from bodega._native import chunk
from reference import fastcdc

KIB, MIB = 1024, 1024 * 1024


def random_bytes(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def cuts_in_pieces(data: bytes, rng: random.Random, **params) -> list[int]:
    """Chunk lengths from a Chunker fed data in random pieces."""
    c = chunk.Chunker(**params)
    out = []
    pos = 0
    while pos < len(data):
        step = rng.choice([1, 7, 64, 1000, 4096, 30000])
        out += c.update(data[pos:pos + step])
        pos += step
    out += c.finish()
    offsets = [o for o, _ in out]
    assert offsets == [sum(length for _, length in out[:i]) for i in range(len(out))]
    return [length for _, length in out]


@pytest.mark.parametrize("seed", range(25))
def test_cuts_match_the_reference_on_random_data(seed):
    rng = random.Random(seed)
    avg = rng.choice([64, 256, 1024, 4096])
    params = dict(min_size=rng.choice([64, avg // 2, avg]) if avg > 64 else 64, avg_size=avg,
                  max_size=avg * rng.choice([1, 2, 4, 8]), level=rng.choice([0, 1, 2, 3]))
    data = random_bytes(rng.randint(0, 200_000), seed)
    expected = fastcdc.cut_points(data, params["min_size"], avg, params["max_size"], params["level"])
    assert sum(expected) == len(data)
    one = chunk.Chunker(**params)
    assert [length for _, length in one.update(data) + one.finish()] == expected
    assert cuts_in_pieces(data, rng, **params) == expected


def test_cuts_with_the_defaults_match_the_reference():
    data = random_bytes(5 * MIB + 333, seed=99)
    expected = fastcdc.cut_points(data, chunk.MIN_SIZE, chunk.AVG_SIZE, chunk.MAX_SIZE, chunk.LEVEL)
    c = chunk.Chunker()
    assert [length for _, length in c.update(data) + c.finish()] == expected
    assert len(expected) > 2  # the data really was cut, not just ended


def test_cuts_on_low_entropy_data_hit_the_maximum():
    data = bytes(300_000)  # zeros: the gear hash of a constant run never meets the mask
    params = dict(min_size=1024, avg_size=4096, max_size=16384, level=2)
    expected = fastcdc.cut_points(data, 1024, 4096, 16384, 2)
    c = chunk.Chunker(**params)
    got = [length for _, length in c.update(data) + c.finish()]
    assert got == expected
    assert set(got[:-1]) == {16384}


def test_chunk_sizes_stay_within_bounds():
    data = random_bytes(3 * MIB, seed=5)
    c = chunk.Chunker(min_size=8 * KIB, avg_size=32 * KIB, max_size=128 * KIB, level=1)
    lengths = [length for _, length in c.update(data) + c.finish()]
    assert all(8 * KIB <= n <= 128 * KIB for n in lengths[:-1])
    assert 0 < lengths[-1] <= 128 * KIB
    # normalized chunking keeps the mean near min + avg
    mean = sum(lengths) / len(lengths)
    assert 20 * KIB < mean < 60 * KIB


def test_chunker_reuse_after_finish_and_empty_stream():
    c = chunk.Chunker(min_size=64, avg_size=256, max_size=1024)
    assert c.finish() == []
    data = random_bytes(10_000, seed=6)
    first = c.update(data) + c.finish()
    second = c.update(data) + c.finish()
    assert first == second and first[0][0] == 0


def test_chunker_refuses_text():
    with pytest.raises(TypeError, match="encoded"):
        chunk.Chunker().update("text")


@pytest.mark.parametrize("params, rule", [
    (dict(avg_size=3000), "power of two"),
    (dict(min_size=2 * MIB), "min <= avg <= max"),
    (dict(max_size=512 * KIB), "min <= avg <= max"),
    (dict(min_size=32, avg_size=64, max_size=256), "below 64"),
    (dict(avg_size=1 << 30, max_size=(1 << 30) + 1), "above 1 GiB"),
    (dict(level=4), "level above 3"),
    (dict(level=-1), "integer"),
    (dict(min_size=1.5), "integer"),
    (dict(avg_size=True), "integer"),
])
def test_bad_parameters_are_refused(params, rule, tmp_path):
    with pytest.raises(errors.InvalidInput, match=rule):
        chunk.Chunker(**params)
    (tmp_path / "f").write_bytes(b"x")
    with pytest.raises(errors.InvalidInput, match=rule):
        chunk.chunk_file(tmp_path / "f", **params)


def test_chunker_id_names_every_parameter():
    assert chunk.chunker_id() == "fastcdc2020/gear-v1/524288-1048576-4194304/nc2"
    assert chunk.Chunker(min_size=64, avg_size=128, max_size=512, level=0).id == "fastcdc2020/gear-v1/64-128-512/nc0"


# --- files ----------------------------------------------------------------------------------

SMALL = dict(min_size=16 * KIB, avg_size=64 * KIB, max_size=256 * KIB, level=2)


def test_chunk_file_cuts_and_hashes_in_one_read(tmp_path):
    data = random_bytes(3 * MIB + 17, seed=8)
    f = tmp_path / "f"
    f.write_bytes(data)
    result = chunk.chunk_file(f, **SMALL)
    assert result.digest == blake3.blake3(data).digest()
    assert result.size == len(data)
    assert [c.length for c in result.chunks] == fastcdc.cut_points(data, 16 * KIB, 64 * KIB, 256 * KIB, 2)
    for c in result.chunks:
        assert c.digest == blake3.blake3(data[c.offset:c.offset + c.length]).digest()


def test_chunk_file_with_defaults_and_an_empty_file(tmp_path):
    data = random_bytes(9 * MIB, seed=9)
    (tmp_path / "big").write_bytes(data)
    result = chunk.chunk_file(tmp_path / "big")
    c = chunk.Chunker()
    assert [(x.offset, x.length) for x in result.chunks] == c.update(data) + c.finish()
    (tmp_path / "empty").write_bytes(b"")
    empty = chunk.chunk_file(tmp_path / "empty")
    assert empty.chunks == [] and empty.digest == blake3.blake3(b"").digest() and empty.size == 0


def test_an_insertion_near_the_start_changes_only_the_chunks_around_it(tmp_path):
    data = random_bytes(48 * MIB, seed=10)
    (tmp_path / "old").write_bytes(data)
    (tmp_path / "new").write_bytes(data[:5000] + b"inserted bytes" * 10 + data[5000:])
    old = chunk.chunk_file(tmp_path / "old").chunks
    new = chunk.chunk_file(tmp_path / "new").chunks
    assert len(old) >= 20
    old_digests = {c.digest for c in old}
    changed = [i for i, c in enumerate(new) if c.digest not in old_digests]
    assert changed and changed == list(range(len(changed))), "only the leading chunks may change"
    assert len(changed) <= 2 and new[changed[-1]].offset < 8 * MIB
    kept = [c.digest for c in new[len(changed):]]
    replaced = len(old) - len(kept)
    assert 1 <= replaced <= 2
    assert kept == [c.digest for c in old[replaced:]]


def test_chunk_file_reports_a_file_changed_while_read(tmp_path):
    f = tmp_path / "growing"
    f.write_bytes(random_bytes(4 * MIB, seed=11))

    def grow(progress):
        with open(f, "ab") as out:
            out.write(b"x")
    with pytest.raises(errors.ChangedWhileReading, match="growing"):
        chunk.chunk_file(f, **SMALL, progress=grow)


def test_chunk_file_refuses_links_and_names_missing_files(tmp_path):
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(errors.UnsafePath):
        chunk.chunk_file(tmp_path / "link")
    with pytest.raises(errors.PathNotFound) as exc:
        chunk.chunk_file(tmp_path / "missing")
    assert exc.value.filename == str(tmp_path / "missing")
    with pytest.raises(errors.PathNotFound) as exc:
        chunk.chunk_file(tmp_path / "nodir" / "file")
    assert exc.value.filename == str(tmp_path / "nodir")


def test_gear_table_generator_matches_the_reference():
    import importlib.util
    from pathlib import Path

    tool = Path(__file__).resolve().parents[2] / "native" / "tools" / "gear_table.py"
    spec = importlib.util.spec_from_file_location("gear_table", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert module.gear_table() == fastcdc.GEAR
    header = (tool.parents[1] / "src" / "gear_table.h").read_text()
    assert all(f"0x{v:016x}ULL" in header for v in fastcdc.GEAR)
