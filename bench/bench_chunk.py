"""FastCDC chunking against the `pyfastcdc` package in the same run, on one core.

    PYTHONPATH=src python -m pytest bench/bench_chunk.py -s

Acceptance: >= 1 GB/s on one core and >= 2x pyfastcdc.  Both cut the same 256 MiB of
random bytes held in memory (so only the chunker is timed), with the same min/avg/max and
normalization level; medians of 5 rounds.  A parameter sweep shows why the defaults are
512 KiB / 1 MiB / 4 MiB, and chunk_file shows the one-read chunk+hash of a file.
"""
from __future__ import annotations

import os
import random
import statistics
from pathlib import Path

import blake3
import pytest
from measure import ROUNDS, interleaved_medians, median_seconds

from bodega._native import chunk

SIZE = 256 << 20
KIB, MIB = 1 << 10, 1 << 20

pyfastcdc = pytest.importorskip("pyfastcdc", reason="pip install pyfastcdc")


@pytest.fixture(scope="module")
def data() -> bytes:
    rng = random.Random(1)
    return b"".join(rng.randbytes(1 << 24) for _ in range(SIZE >> 24))


def ours(data: bytes, min_size: int, avg_size: int, max_size: int, level: int) -> list[int]:
    c = chunk.Chunker(min_size=min_size, avg_size=avg_size, max_size=max_size, level=level)
    return [length for _, length in c.update(data) + c.finish()]


def theirs(data: bytes, min_size: int, avg_size: int, max_size: int, level: int) -> list[int]:
    cdc = pyfastcdc.FastCDC(avg_size=avg_size, min_size=min_size, max_size=max_size, normalized_chunking=level)
    return [c.length for c in cdc.cut_buf(data)]


PARAMS = [
    ("bodega default", 512 * KIB, 1 * MIB, 4 * MIB, 2),
    ("pyfastcdc-style 1 MiB (min avg/4)", 256 * KIB, 1 * MIB, 4 * MIB, 2),
    ("pyfastcdc default 16 KiB", 4 * KIB, 16 * KIB, 64 * KIB, 1),
]


@pytest.mark.parametrize("label, min_size, avg_size, max_size, level", PARAMS, ids=[p[0] for p in PARAMS])
def test_chunker_vs_pyfastcdc(benchmark, data, label, min_size, avg_size, max_size, level):
    args = (data, min_size, avg_size, max_size, level)
    medians = interleaved_medians({"ours": lambda: ours(*args), "theirs": lambda: theirs(*args)})
    result = benchmark.pedantic(ours, args=args, rounds=ROUNDS, iterations=1)
    mine, peer = medians["ours"], medians["theirs"]
    print(f"\nchunking {SIZE >> 20} MiB in memory, {label} ({min_size}/{avg_size}/{max_size}, level {level}), one core")
    print(f"  bodega Chunker     {mine:7.3f} s  {SIZE / mine / 1e9:6.2f} GB/s  {len(result)} chunks")
    print(f"  pyfastcdc cut_buf  {peer:7.3f} s  {SIZE / peer / 1e9:6.2f} GB/s")
    print(f"  bodega is {peer / mine:.2f}x pyfastcdc; acceptance >= 1 GB/s: "
          f"{'PASS' if SIZE / mine >= 1e9 else 'FAIL'}, >= 2x pyfastcdc: {'PASS' if peer / mine >= 2 else 'FAIL'}")
    benchmark.extra_info.update(pyfastcdc_s=peer, ratio=peer / mine, chunks=len(result))


def test_default_parameters_sweep(data):
    """Speed and size spread of candidate parameter sets (why 512 KiB / 1 MiB / 4 MiB)."""
    print(f"\nparameter sweep on {SIZE >> 20} MiB, one core")
    for min_size, avg_size, max_size in [(256 * KIB, MIB, 4 * MIB), (512 * KIB, MIB, 4 * MIB),
                                         (512 * KIB, MIB, 8 * MIB), (MIB, 2 * MIB, 8 * MIB),
                                         (128 * KIB, 512 * KIB, 2 * MIB)]:
        lengths = ours(data, min_size, avg_size, max_size, 2)
        seconds = median_seconds(lambda: ours(data, min_size, avg_size, max_size, 2), rounds=3)
        print(f"  {min_size >> 10:5} KiB / {avg_size >> 10:5} KiB / {max_size >> 10:5} KiB: "
              f"{SIZE / seconds / 1e9:6.2f} GB/s, mean {statistics.mean(lengths) / MIB:.2f} MiB, "
              f"stdev {statistics.pstdev(lengths) / MIB:.2f} MiB, max-size cuts {lengths.count(max_size)}")


def test_chunk_file_vs_pyfastcdc_plus_blake3(benchmark, tmp_path_factory, data):
    """One read that cuts and hashes (per chunk and whole file) against pyfastcdc + blake3."""
    path = Path(tmp_path_factory.mktemp("chunk")) / "file.bin"
    path.write_bytes(data)
    cdc = pyfastcdc.FastCDC(avg_size=MIB, min_size=512 * KIB, max_size=4 * MIB, normalized_chunking=2)

    def peer() -> list[bytes]:
        whole = blake3.blake3()
        out = []
        for c in cdc.cut_file(str(path)):
            out.append(blake3.blake3(c.data).digest())
            whole.update(c.data)
        whole.digest()
        return out
    medians = interleaved_medians({"ours": lambda: chunk.chunk_file(path), "theirs": peer})
    result = benchmark.pedantic(chunk.chunk_file, args=(path,), rounds=ROUNDS, iterations=1)
    mine, peer_s = medians["ours"], medians["theirs"]
    assert result.digest == blake3.blake3(data).digest()
    print(f"\nchunk + hash each chunk + hash the file, {SIZE >> 20} MiB file, page cache warm, one core")
    print(f"  bodega chunk_file            {mine:7.3f} s  {SIZE / mine / 1e9:6.2f} GB/s")
    print(f"  pyfastcdc cut_file + blake3  {peer_s:7.3f} s  {SIZE / peer_s / 1e9:6.2f} GB/s")
    print(f"  bodega is {peer_s / mine:.2f}x")
    os.unlink(path)
